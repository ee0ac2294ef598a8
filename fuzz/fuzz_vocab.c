/*
 * fuzz_vocab.c -- libFuzzer target for the text front end: tokenise,
 * build a vocabulary, encode, decode, serialise, and deserialise the raw
 * input as a vocabulary, checking invariants (make fuzz-vocab).
 *
 * The input is used three times: as text (split into documents at byte
 * 0x01) for a word-mode vocabulary, as text for a character-mode one
 * with hashed buckets and n-grams (options from the first bytes), and as
 * a serialised vocabulary.  Any invariant violation traps.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

static void check_vocab_tokens(const seqcls_vocab_t *v)
{
    int i, n = seqcls_vocab_size(v);
    for (i = 0; i < n; i++) {
        const char *t = seqcls_vocab_token(v, i);
        size_t tl;
        CHECK(t != NULL);
        tl = strlen(t);
        CHECK(tl >= 1 && tl <= SEQCLS_TOKEN_MAX);
        CHECK(vocab_utf8_valid((const unsigned char *)t, tl));
        CHECK(seqcls_vocab_id(v, t) == i);
    }
    CHECK(seqcls_vocab_token(v, n) == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    seqcls_vocab_t *v = NULL, *w = NULL;
    int32_t starts[64], ends[64], ids[64], n = 0, n2 = 0;
    int min_freq = size ? data[0] % 3 : 0;
    int max_size = size > 1 ? (data[1] % 5 == 0 ? 0 : 2 + data[1] % 20) : 0;
    size_t pos, doc, i;
    void *buf = NULL, *buf2 = NULL;
    size_t blen = 0, blen2 = 0, dlen = 0;
    char dec[64 * (SEQCLS_TOKEN_MAX + 1) + 1];
    int rc;

    /* spans are ordered, inside the text and non-empty */
    CHECK(seqcls_tokenize(text, size, starts, ends, 64, &n) == SEQCLS_OK);
    CHECK(n >= 0 && n <= 64);
    for (i = 0; i < (size_t)n; i++) {
        CHECK(starts[i] >= 0 && starts[i] < ends[i] && (size_t)ends[i] <= size);
        CHECK(i == 0 || ends[i - 1] <= starts[i]);
    }

    CHECK(seqcls_vocab_create(&v) == SEQCLS_OK);
    for (pos = 0, doc = 0; pos <= size; pos = doc + 1) {
        const void *p = pos < size ? memchr(text + pos, 1, size - pos) : NULL;
        doc = p ? (size_t)((const char *)p - text) : size;
        CHECK(seqcls_vocab_add_text(v, text + pos, doc - pos) == SEQCLS_OK);
    }
    CHECK(seqcls_vocab_build(v, min_freq, max_size) == SEQCLS_OK);
    CHECK(seqcls_vocab_add_text(v, "x", 1) == SEQCLS_E_STATE);
    CHECK(seqcls_vocab_size(v) >= 2);
    CHECK(max_size == 0 || seqcls_vocab_size(v) <= max_size);
    check_vocab_tokens(v);

    CHECK(seqcls_vocab_encode(v, text, size, ids, 64, &n2) == SEQCLS_OK);
    CHECK(n2 == n);
    for (i = 0; i < 64; i++)
        CHECK(ids[i] >= 0 && ids[i] < seqcls_vocab_size(v) && (i < (size_t)n2 || ids[i] == 0));
    for (i = 0; i < (size_t)n2; i++)
        CHECK(ids[i] != SEQCLS_PAD_ID);
    rc = seqcls_vocab_decode(v, ids, 64, dec, sizeof dec, &dlen);
    CHECK(rc == SEQCLS_OK && dlen < sizeof dec && strlen(dec) == dlen);
    CHECK(vocab_utf8_valid((const unsigned char *)dec, dlen));
    if (dlen > 0) {
        size_t need = 0;
        CHECK(seqcls_vocab_decode(v, ids, 64, dec, dlen, &need) == SEQCLS_E_RANGE);
        CHECK(need == dlen + 1 && dec[0] == '\0');
    }

    /* serialise -> deserialise -> serialise is the identity */
    CHECK(vocab_serialize(v, &buf, &blen) == SEQCLS_OK);
    CHECK(vocab_deserialize(&w, buf, blen) == SEQCLS_OK);
    CHECK(seqcls_vocab_size(w) == seqcls_vocab_size(v));
    CHECK(vocab_serialize(w, &buf2, &blen2) == SEQCLS_OK);
    CHECK(blen2 == blen && memcmp(buf, buf2, blen) == 0);
    seqcls__dealloc(buf);
    seqcls__dealloc(buf2);
    seqcls_vocab_free(w);
    seqcls_vocab_free(v);

    /* character mode, out-of-vocabulary buckets and n-grams */
    {
        const int oov = size > 2 ? data[2] % 4 : 0, maxn = size > 3 ? data[3] % 5 : 0;
        const int minn = maxn ? (size > 4 ? data[4] % (maxn + 1) : 1) : 0;
        int32_t sub[16 * 9], sn = 0, rows;
        int nt = 0;
        CHECK(seqcls_vocab_create(&v) == SEQCLS_OK);
        CHECK(seqcls_vocab_set_int(v, SEQCLS_VOCAB_TOKENS, SEQCLS_TOKENS_CHAR) == SEQCLS_OK);
        CHECK(seqcls_vocab_set_int(v, SEQCLS_VOCAB_OOV_BUCKETS, oov) == SEQCLS_OK);
        CHECK(seqcls_vocab_set_int(v, SEQCLS_VOCAB_MAXN, maxn) == SEQCLS_OK);
        CHECK(seqcls_vocab_set_int(v, SEQCLS_VOCAB_MINN, minn) == SEQCLS_OK);
        CHECK(seqcls_vocab_set_int(v, SEQCLS_VOCAB_BUCKET, 1 + (size > 5 ? data[5] : 0)) ==
              SEQCLS_OK);
        CHECK(seqcls_vocab_add_text(v, text, size / 2) == SEQCLS_OK);
        CHECK(seqcls_vocab_build(v, min_freq, max_size) == SEQCLS_OK);
        check_vocab_tokens(v);
        rows = seqcls_vocab_rows(v);
        CHECK(seqcls_vocab_tokenize(v, text, size, starts, ends, 64, &n) == SEQCLS_OK);
        for (i = 0; i < (size_t)n; i++)
            CHECK(starts[i] >= 0 && starts[i] < ends[i] && (size_t)ends[i] <= size &&
                  (i == 0 || ends[i - 1] <= starts[i]));
        CHECK(seqcls_vocab_encode(v, text, size, ids, 64, &sn) == SEQCLS_OK);
        CHECK(sn == (n < 64 ? n : 64));
        for (i = 0; i < (size_t)sn; i++)
            CHECK(ids[i] >= 1 && ids[i] < seqcls_vocab_size(v) + oov);
        rc = seqcls_vocab_decode(v, ids, sn, dec, sizeof dec, &dlen);
        CHECK(rc == SEQCLS_OK && strlen(dec) == dlen &&
              vocab_utf8_valid((const unsigned char *)dec, dlen));
        CHECK(seqcls_vocab_encode_subwords(v, text, size, sub, 16, 9, &nt) == SEQCLS_OK);
        CHECK(nt == (sn < 16 ? sn : 16));
        for (i = 0; i < 16 * 9; i++) {
            const int32_t id = sub[i];
            if (i / 9 >= (size_t)nt || (i % 9 && maxn == 0))
                CHECK(id == -1);
            else if (i % 9 == 0)
                CHECK(id == ids[i / 9]);
            else
                CHECK(id == -1 || (id >= seqcls_vocab_size(v) + oov && id < rows));
        }
        CHECK(vocab_serialize(v, &buf, &blen) == SEQCLS_OK);
        CHECK(vocab_deserialize(&w, buf, blen) == SEQCLS_OK);
        CHECK(seqcls_vocab_rows(w) == rows);
        CHECK(vocab_serialize(w, &buf2, &blen2) == SEQCLS_OK);
        CHECK(blen2 == blen && memcmp(buf, buf2, blen) == 0);
        seqcls__dealloc(buf);
        seqcls__dealloc(buf2);
        seqcls_vocab_free(w);
        seqcls_vocab_free(v);
    }

    /* the raw bytes as a serialised vocabulary: refused or exact */
    w = NULL;
    rc = vocab_deserialize(&w, data, size);
    CHECK(rc == SEQCLS_OK || rc == SEQCLS_E_FORMAT || rc == SEQCLS_E_VERSION);
    CHECK((rc == SEQCLS_OK) == (w != NULL));
    if (w) {
        check_vocab_tokens(w);
        CHECK(vocab_serialize(w, &buf, &blen) == SEQCLS_OK);
        CHECK(blen == size && memcmp(buf, data, size) == 0);
        seqcls__dealloc(buf);
        seqcls_vocab_free(w);
    }
    return 0;
}
