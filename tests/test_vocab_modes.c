/*
 * test_vocab_modes.c -- the vocabulary's options (1.1): character mode,
 * hashed out-of-vocabulary buckets, fastText's character n-grams
 * (seqcls_vocab_encode_subwords), and how the options are saved: the
 * standalone buffer's VOPT trailer and a model file's VOPT section, which
 * seqcls 1.0 must refuse and 1.1 must check.
 *
 * Expected hash values come from a reference of fastText's
 * Dictionary::hash and computeSubwords in Python (tests/parity/
 * test_fasttext_subwords.py checks the same ids against fastText itself).
 */
#include <stdio.h>
#include <stdlib.h>

#include "modelfile.h"
#include "testutil.h"

/* Built vocabulary over `text` in `mode`, with options set first. */
static seqcls_vocab_t *vocab_of(const char *text, int mode, int oov, int minn, int maxn,
                                int bucket)
{
    seqcls_vocab_t *v = NULL;
    OK(seqcls_vocab_create(&v));
    OK(seqcls_vocab_set_int(v, SEQCLS_VOCAB_TOKENS, mode));
    OK(seqcls_vocab_set_int(v, SEQCLS_VOCAB_OOV_BUCKETS, oov));
    OK(seqcls_vocab_set_int(v, SEQCLS_VOCAB_MAXN, maxn));
    OK(seqcls_vocab_set_int(v, SEQCLS_VOCAB_MINN, minn));
    OK(seqcls_vocab_set_int(v, SEQCLS_VOCAB_BUCKET, bucket));
    OK(seqcls_vocab_add_text(v, text, strlen(text)));
    OK(seqcls_vocab_build(v, 0, 0));
    return v;
}

/* The tokens of `text` under v, each in [brackets], from encode + token. */
static void tokens_are(const seqcls_vocab_t *v, const char *text, const char *want)
{
    int32_t ids[64], n = 0;
    char got[512] = "";
    int i;
    OK(seqcls_vocab_encode(v, text, strlen(text), ids, 64, &n));
    for (i = 0; i < n; i++) {
        const char *t = seqcls_vocab_token(v, ids[i]);
        strcat(got, "[");
        strcat(got, t ? t : "?");
        strcat(got, "]");
    }
    ck_assert_msg(strcmp(got, want) == 0, "tokens of \"%s\": %s, expected %s", text, got, want);
}

START_TEST(char_mode_tokens)
{
    const char *all = "Hi,  you\nA<br>B \xc3\x89t\xc3\xa9 hy\xc2\xadphen \xf0\x9f\x98\x80 x\xff"
                      "y don\xe2\x80\x99t";
    seqcls_vocab_t *v = vocab_of(all, SEQCLS_TOKENS_CHAR, 0, 0, 0, 2000000);
    tokens_are(v, "Hi,  you\n", "[h][i][,][ ][y][o][u]");
    /* whitespace runs (newlines, tabs, markup) are one space, none at the ends */
    tokens_are(v, "  \t\nA<br>B\r\n ", "[a][ ][b]");
    tokens_are(v, "A <br/> \n B", "[a][ ][b]");
    /* lower-casing as word mode; the soft hyphen dropped without a space */
    tokens_are(v, "\xc3\x89t\xc3\xa9 hy\xc2\xadphen",
               "[\xc3\xa9][t][\xc3\xa9][ ][h][y][p][h][e][n]");
    /* every code point is a token: emoji, U+FFFD for ill-formed bytes,
     * the typographic apostrophe kept as it is */
    tokens_are(v, "\xf0\x9f\x98\x80x\xffy", "[\xf0\x9f\x98\x80][x][\xef\xbf\xbd][y]");
    tokens_are(v, "don\xe2\x80\x99t", "[d][o][n][\xe2\x80\x99][t]");
    tokens_are(v, "", "");
    tokens_are(v, " \n\t ", "");
    seqcls_vocab_free(v);
}
END_TEST

START_TEST(char_mode_decode_and_spans)
{
    const char *text = "  Ab, \n\tc\xc3\xa9!  ";
    seqcls_vocab_t *v = vocab_of(text, SEQCLS_TOKENS_CHAR, 0, 0, 0, 2000000);
    int32_t ids[16], n = 0, starts[16], ends[16], m = 0;
    char buf[64];
    size_t len = 0;
    OK(seqcls_vocab_encode(v, text, strlen(text), ids, 16, &n));
    ck_assert_int_eq(n, 7);
    /* decode joins characters without separators */
    OK(seqcls_vocab_decode(v, ids, 16, buf, sizeof buf, &len));
    ck_assert_str_eq(buf, "ab, c\xc3\xa9!");
    ck_assert_uint_eq(len, strlen("ab, c\xc3\xa9!"));
    /* spans: one code point each, the whitespace run whole */
    OK(seqcls_vocab_tokenize(v, text, strlen(text), starts, ends, 16, &m));
    ck_assert_int_eq(m, n);
    ck_assert_int_eq(starts[0], 2);
    ck_assert_int_eq(ends[0], 3);
    ck_assert_int_eq(starts[3], 5);   /* " \n\t" */
    ck_assert_int_eq(ends[3], 8);
    ck_assert_int_eq(starts[5], 9);   /* the 2-byte U+00E9 */
    ck_assert_int_eq(ends[5], 11);
    ck_assert_int_eq(ends[6], 12);
    /* the 1.0 call stays in word mode */
    OK(seqcls_tokenize(text, strlen(text), starts, ends, 16, &m));
    ck_assert_int_eq(m, 3);   /* "ab", "c\xc3\xa9", "!" */
    seqcls_vocab_free(v);
}
END_TEST

START_TEST(word_mode_is_unchanged)
{
    /* the default vocabulary reads and saves exactly as seqcls 1.0 */
    seqcls_vocab_t *v = NULL;
    int32_t s1[16], e1[16], s2[16], e2[16], n1 = 0, n2 = 0, i;
    const char *text = "I <b>loved</b> it!! don't";
    int value = 0;
    OK(seqcls_vocab_create(&v));
    OK(seqcls_vocab_get_int(v, SEQCLS_VOCAB_TOKENS, &value));
    ck_assert_int_eq(value, SEQCLS_TOKENS_WORD);
    OK(seqcls_vocab_get_int(v, SEQCLS_VOCAB_BUCKET, &value));
    ck_assert_int_eq(value, 2000000);
    OK(seqcls_vocab_get_int(v, SEQCLS_VOCAB_OOV_BUCKETS, &value));
    ck_assert_int_eq(value, 0);
    OK(seqcls_vocab_get_int(v, SEQCLS_VOCAB_MINN, &value));
    ck_assert_int_eq(value, 0);
    OK(seqcls_vocab_get_int(v, SEQCLS_VOCAB_MAXN, &value));
    ck_assert_int_eq(value, 0);
    OK(seqcls_vocab_add_text(v, text, strlen(text)));
    OK(seqcls_vocab_build(v, 0, 0));
    tokens_are(v, text, "[i][loved][it][!][!][don't]");
    OK(seqcls_tokenize(text, strlen(text), s1, e1, 16, &n1));
    OK(seqcls_vocab_tokenize(v, text, strlen(text), s2, e2, 16, &n2));
    ck_assert_int_eq(n1, n2);
    for (i = 0; i < n1; i++) {
        ck_assert_int_eq(s1[i], s2[i]);
        ck_assert_int_eq(e1[i], e2[i]);
    }
    ck_assert_int_eq(seqcls_vocab_rows(v), seqcls_vocab_size(v));
    seqcls_vocab_free(v);
}
END_TEST

START_TEST(options_are_checked)
{
    seqcls_vocab_t *v = NULL;
    int value = 0;
    FAILS(SEQCLS_E_INVALID_ARG, "vocabulary is NULL", seqcls_vocab_set_int(NULL, 1, 1));
    FAILS(SEQCLS_E_INVALID_ARG, "vocabulary is NULL", seqcls_vocab_get_int(NULL, 1, &value));
    ck_assert_int_eq(seqcls_vocab_rows(NULL), 0);
    OK(seqcls_vocab_create(&v));
    FAILS(SEQCLS_E_INVALID_ARG, "value is NULL", seqcls_vocab_get_int(v, 1, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "unknown option 0", seqcls_vocab_set_int(v, 0, 1));
    FAILS(SEQCLS_E_INVALID_ARG, "unknown option 6", seqcls_vocab_set_int(v, 6, 1));
    FAILS(SEQCLS_E_INVALID_ARG, "unknown option 6", seqcls_vocab_get_int(v, 6, &value));
    FAILS(SEQCLS_E_INVALID_ARG, "SEQCLS_VOCAB_TOKENS 3", seqcls_vocab_set_int(v, SEQCLS_VOCAB_TOKENS, 3));
    FAILS(SEQCLS_E_INVALID_ARG, "SEQCLS_VOCAB_TOKENS 0", seqcls_vocab_set_int(v, SEQCLS_VOCAB_TOKENS, 0));
    FAILS(SEQCLS_E_INVALID_ARG, "outside [0, 16777216]",
          seqcls_vocab_set_int(v, SEQCLS_VOCAB_OOV_BUCKETS, -1));
    FAILS(SEQCLS_E_INVALID_ARG, "outside",
          seqcls_vocab_set_int(v, SEQCLS_VOCAB_OOV_BUCKETS, SEQCLS_VOCAB_MAX + 1));
    FAILS(SEQCLS_E_INVALID_ARG, "outside [0, 32]", seqcls_vocab_set_int(v, SEQCLS_VOCAB_MINN, 33));
    FAILS(SEQCLS_E_INVALID_ARG, "outside [0, 32]", seqcls_vocab_set_int(v, SEQCLS_VOCAB_MAXN, -1));
    FAILS(SEQCLS_E_INVALID_ARG, "outside", seqcls_vocab_set_int(v, SEQCLS_VOCAB_BUCKET, -1));
    FAILS(SEQCLS_E_INVALID_ARG, "outside",
          seqcls_vocab_set_int(v, SEQCLS_VOCAB_BUCKET, (1 << 30) + 1));
    OK(seqcls_vocab_set_int(v, SEQCLS_VOCAB_BUCKET, 1 << 30));
    ck_assert_int_eq(seqcls_vocab_rows(v), 0);   /* not built */
    /* the mode is fixed once a token was counted (the same value is fine) */
    OK(seqcls_vocab_set_int(v, SEQCLS_VOCAB_TOKENS, SEQCLS_TOKENS_CHAR));
    OK(seqcls_vocab_add_text(v, "", 0));
    OK(seqcls_vocab_set_int(v, SEQCLS_VOCAB_TOKENS, SEQCLS_TOKENS_WORD));
    OK(seqcls_vocab_add_text(v, "ab", 2));
    FAILS(SEQCLS_E_STATE, "cannot change after text was counted",
          seqcls_vocab_set_int(v, SEQCLS_VOCAB_TOKENS, SEQCLS_TOKENS_CHAR));
    OK(seqcls_vocab_set_int(v, SEQCLS_VOCAB_TOKENS, SEQCLS_TOKENS_WORD));
    /* the combination is checked by build, which then leaves it unbuilt */
    OK(seqcls_vocab_set_int(v, SEQCLS_VOCAB_MINN, 3));
    FAILS(SEQCLS_E_INVALID_ARG, "minn 3 is above maxn 0", seqcls_vocab_build(v, 0, 0));
    OK(seqcls_vocab_set_int(v, SEQCLS_VOCAB_MAXN, 2));
    FAILS(SEQCLS_E_INVALID_ARG, "minn 3 is above maxn 2", seqcls_vocab_build(v, 0, 0));
    OK(seqcls_vocab_set_int(v, SEQCLS_VOCAB_MAXN, 6));
    OK(seqcls_vocab_set_int(v, SEQCLS_VOCAB_BUCKET, 0));
    FAILS(SEQCLS_E_INVALID_ARG, "need bucket > 0", seqcls_vocab_build(v, 0, 0));
    ck_assert_int_eq(seqcls_vocab_size(v), 0);
    OK(seqcls_vocab_set_int(v, SEQCLS_VOCAB_BUCKET, 100));
    OK(seqcls_vocab_build(v, 0, 0));
    ck_assert_int_eq(seqcls_vocab_size(v), 3);
    ck_assert_int_eq(seqcls_vocab_rows(v), 103);
    /* built: options are fixed, still readable */
    FAILS(SEQCLS_E_STATE, "already built", seqcls_vocab_set_int(v, SEQCLS_VOCAB_MINN, 2));
    OK(seqcls_vocab_get_int(v, SEQCLS_VOCAB_MINN, &value));
    ck_assert_int_eq(value, 3);
    OK(seqcls_vocab_get_int(v, SEQCLS_VOCAB_BUCKET, &value));
    ck_assert_int_eq(value, 100);
    seqcls_vocab_free(v);
}
END_TEST

START_TEST(oov_buckets_hash_unknown_tokens)
{
    /* fastText's hash: "zebra" 1956222095, "cat" 108289031, "é" 1023043777,
     * "ß" 1325040919 (bytes >= 0x80 sign-extended) */
    seqcls_vocab_t *v = vocab_of("the dog the", SEQCLS_TOKENS_WORD, 7, 0, 0, 2000000);
    int32_t ids[8], n = 0;
    char buf[64];
    size_t len;
    const int size = 4;   /* <pad> <unk> the dog */
    ck_assert_int_eq(seqcls_vocab_size(v), size);
    ck_assert_int_eq(seqcls_vocab_rows(v), size + 7);
    const char *text = "the zebra cat \xc3\xa9 \xc3\x9f dog";
    OK(seqcls_vocab_encode(v, text, strlen(text), ids, 8, &n));
    ck_assert_int_eq(n, 6);
    ck_assert_int_eq(ids[0], 2);
    ck_assert_int_eq(ids[1], size + 1956222095u % 7);
    ck_assert_int_eq(ids[2], size + 108289031u % 7);
    ck_assert_int_eq(ids[3], size + 1023043777u % 7);
    ck_assert_int_eq(ids[4], size + 1325040919u % 7);
    ck_assert_int_eq(ids[5], 3);
    ck_assert_int_eq(ids[6], SEQCLS_PAD_ID);
    ck_assert_int_eq(seqcls_vocab_id(v, "zebra"), size + 1956222095u % 7);
    ck_assert_int_eq(seqcls_vocab_id(v, "dog"), 3);
    /* buckets decode as <unk>; they are not tokens */
    OK(seqcls_vocab_decode(v, ids, 8, buf, sizeof buf, &len));
    ck_assert_str_eq(buf, "the <unk> <unk> <unk> <unk> dog");
    ck_assert_ptr_null(seqcls_vocab_token(v, size));
    ids[0] = size + 7;
    FAILS(SEQCLS_E_RANGE, "outside [0, 11)", seqcls_vocab_decode(v, ids, 1, buf, sizeof buf, &len));
    seqcls_vocab_free(v);
}
END_TEST

START_TEST(subwords_are_fasttexts)
{
    /* minn 2, maxn 3, bucket 1000: "<ab>" gives <a <ab ab ab> b> (hash % 1000:
     * 750 508 946 756 561); "é": <é <é> é> (627 231 781) */
    seqcls_vocab_t *v = vocab_of("ab ab cd", SEQCLS_TOKENS_WORD, 0, 2, 3, 1000);
    const int size = 4, base = size;   /* <pad> <unk> ab cd; no oov buckets */
    int32_t ids[3 * 8];
    int n = -1, k;
    static const int32_t ab[] = {750, 508, 946, 756, 561}, e_acute[] = {627, 231, 781};
    ck_assert_int_eq(seqcls_vocab_rows(v), size + 1000);
    OK(seqcls_vocab_encode_subwords(v, "ab \xc3\xa9", 5, ids, 3, 8, &n));
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(ids[0], 2);
    for (k = 0; k < 5; k++)
        ck_assert_int_eq(ids[1 + k], base + ab[k]);
    ck_assert_int_eq(ids[6], -1);
    ck_assert_int_eq(ids[7], -1);
    ck_assert_int_eq(ids[8], SEQCLS_UNK_ID);   /* unknown: <unk>, then its n-grams */
    for (k = 0; k < 3; k++)
        ck_assert_int_eq(ids[9 + k], base + e_acute[k]);
    for (k = 12; k < 24; k++)
        ck_assert_int_eq(ids[k], -1);   /* unused slots and the padding row */
    /* more n-grams than slots: the first per_token - 1 are kept */
    OK(seqcls_vocab_encode_subwords(v, "ab", 2, ids, 1, 3, &n));
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(ids[0], 2);
    ck_assert_int_eq(ids[1], base + ab[0]);
    ck_assert_int_eq(ids[2], base + ab[1]);
    /* per_token 1: the token ids alone, as seqcls_vocab_encode */
    OK(seqcls_vocab_encode_subwords(v, "cd xy ab", 8, ids, 4, 1, NULL));
    ck_assert_int_eq(ids[0], 3);
    ck_assert_int_eq(ids[1], SEQCLS_UNK_ID);
    ck_assert_int_eq(ids[2], 2);
    ck_assert_int_eq(ids[3], -1);
    seqcls_vocab_free(v);
}
END_TEST

START_TEST(subwords_with_oov_buckets_and_short_ngrams)
{
    /* minn 1, maxn 4 on "naïve" (a 2-byte ï): 20 n-grams, hash % 1000 */
    static const int32_t naive[] = {655, 890, 692, 553, 112, 546, 404, 220, 750, 832,
                                    7,   15,  403, 570, 548, 505, 612, 654, 744, 490};
    seqcls_vocab_t *v = vocab_of("x", SEQCLS_TOKENS_WORD, 7, 1, 4, 1000);
    const int size = 3, base = size + 7;
    int32_t ids[32];
    int n = 0, k;
    ck_assert_int_eq(seqcls_vocab_rows(v), size + 7 + 1000);
    OK(seqcls_vocab_encode_subwords(v, "NA\xc3\x8fVE", 6, ids, 1, 32, &n));   /* lower-cased */
    ck_assert_int_eq(n, 1);
    /* unknown: its oov bucket first */
    ck_assert_int_eq(ids[0], seqcls_vocab_id(v, "na\xc3\xafve"));
    ck_assert_int_ge(ids[0], size);
    ck_assert_int_lt(ids[0], size + 7);
    for (k = 0; k < 20; k++)
        ck_assert_int_eq(ids[1 + k], base + naive[k]);
    for (k = 21; k < 32; k++)
        ck_assert_int_eq(ids[k], -1);
    seqcls_vocab_free(v);
}
END_TEST

START_TEST(subword_errors)
{
    seqcls_vocab_t *v = NULL;
    int32_t ids[4] = {7, 7, 7, 7};
    int n = 5;
    FAILS(SEQCLS_E_INVALID_ARG, "vocabulary is NULL",
          seqcls_vocab_encode_subwords(NULL, "a", 1, ids, 1, 1, &n));
    ck_assert_int_eq(n, 0);
    OK(seqcls_vocab_create(&v));
    FAILS(SEQCLS_E_STATE, "not built", seqcls_vocab_encode_subwords(v, "a", 1, ids, 1, 1, &n));
    OK(seqcls_vocab_build(v, 0, 0));
    FAILS(SEQCLS_E_INVALID_ARG, "maxlen -1", seqcls_vocab_encode_subwords(v, "a", 1, ids, -1, 1, &n));
    FAILS(SEQCLS_E_INVALID_ARG, "per_token 0", seqcls_vocab_encode_subwords(v, "a", 1, ids, 1, 0, &n));
    FAILS(SEQCLS_E_INVALID_ARG, "ids is NULL", seqcls_vocab_encode_subwords(v, "a", 1, NULL, 1, 1, &n));
    FAILS(SEQCLS_E_INVALID_ARG, "text is NULL", seqcls_vocab_encode_subwords(v, NULL, 1, ids, 1, 1, &n));
    FAILS(SEQCLS_E_RANGE, "too many",
          seqcls_vocab_encode_subwords(v, "a", 1, ids, 65536, 65536, &n));
    FAILS(SEQCLS_E_RANGE, "longer than",
          seqcls_vocab_encode_subwords(v, "a", (size_t)SEQCLS_TEXT_MAX + 1, ids, 1, 1, &n));
    ck_assert_int_eq(ids[0], 7);   /* untouched on error */
    OK(seqcls_vocab_encode_subwords(v, NULL, 0, NULL, 0, 1, &n));
    ck_assert_int_eq(n, 0);
    FAILS(SEQCLS_E_INVALID_ARG, "vocabulary is NULL",
          seqcls_vocab_tokenize(NULL, "a", 1, ids, ids, 1, ids));
    FAILS(SEQCLS_E_INVALID_ARG, "n_out is NULL", seqcls_vocab_tokenize(v, "a", 1, ids, ids, 1, NULL));
    seqcls_vocab_free(v);
}
END_TEST

/* ---- saving the options ---- */

static void save(const seqcls_vocab_t *v, unsigned char **buf, size_t *len)
{
    void *p = NULL;
    OK(seqcls_vocab_save_buffer(v, &p, len));
    *buf = p;
}

static void load_fails(const unsigned char *b, size_t n, int status, const char *needle)
{
    seqcls_vocab_t *w = (seqcls_vocab_t *)&n;
    FAILS(status, needle, seqcls_vocab_load_buffer(&w, b, n));
    ck_assert_ptr_null(w);
}

START_TEST(options_trailer_in_the_buffer)
{
    seqcls_vocab_t *v = vocab_of("a b c", SEQCLS_TOKENS_CHAR, 5, 2, 4, 1000);
    seqcls_vocab_t *plain = vocab_of("a b c", SEQCLS_TOKENS_CHAR, 0, 0, 0, 2000000), *w = NULL;
    unsigned char *b = NULL, *pb = NULL, *c;
    size_t n = 0, pn = 0, n2 = 0;
    int value;
    void *again = NULL;
    save(v, &b, &n);
    save(plain, &pb, &pn);
    /* 42 bytes of tokens (<pad> <unk> " " a b c); char mode alone is an
     * option too: the plain one has a trailer of one option */
    ck_assert_uint_eq(pn, 42 + 8 + 4 + 8);
    /* the tokens come first, exactly as a 1.0 buffer (which a 1.0 reader
     * refuses for the trailing bytes), then "VOPT", length, payload */
    ck_assert_uint_eq(n, 42 + 8 + 4 + 5 * 8);
    ck_assert_int_eq(memcmp(b, pb, pn - 20), 0);
    c = b + pn - 20;
    ck_assert_int_eq(memcmp(c, "VOPT", 4), 0);
    ck_assert_int_eq(c[4], 4 + 5 * 8);
    ck_assert_int_eq(c[8], 5);   /* five options, ids ascending */
    ck_assert_int_eq(c[12], SEQCLS_VOCAB_TOKENS);
    ck_assert_int_eq(c[16], SEQCLS_TOKENS_CHAR);
    ck_assert_int_eq(c[20], SEQCLS_VOCAB_OOV_BUCKETS);
    ck_assert_int_eq(c[24], 5);
    ck_assert_int_eq(c[44], SEQCLS_VOCAB_BUCKET);
    ck_assert_int_eq(c[48] | c[49] << 8, 1000);
    OK(seqcls_vocab_load_buffer(&w, b, n));
    OK(seqcls_vocab_get_int(w, SEQCLS_VOCAB_TOKENS, &value));
    ck_assert_int_eq(value, SEQCLS_TOKENS_CHAR);
    OK(seqcls_vocab_get_int(w, SEQCLS_VOCAB_MAXN, &value));
    ck_assert_int_eq(value, 4);
    ck_assert_int_eq(seqcls_vocab_rows(w), seqcls_vocab_rows(v));
    OK(seqcls_vocab_save_buffer(w, &again, &n2));
    ck_assert_uint_eq(n2, n);
    ck_assert_int_eq(memcmp(again, b, n), 0);
    seqcls_free(again);
    seqcls_vocab_free(w);

    /* damaged trailers */
    load_fails(b, n - 1, SEQCLS_E_FORMAT, "trailing bytes");
    c[4]++;
    load_fails(b, n, SEQCLS_E_FORMAT, "not a VOPT trailer");
    c[4]--;
    c[0] = 'v';
    load_fails(b, n, SEQCLS_E_FORMAT, "not a VOPT trailer");
    c[0] = 'V';
    c[8] = 4;   /* count disagrees with the length */
    load_fails(b, n, SEQCLS_E_FORMAT, "not a count");
    c[8] = 5;
    c[44] = 9;   /* an option this version does not know */
    load_fails(b, n, SEQCLS_E_VERSION, "option 9 is unknown");
    c[44] = SEQCLS_VOCAB_OOV_BUCKETS;   /* out of order / twice */
    load_fails(b, n, SEQCLS_E_FORMAT, "ids ascend");
    c[44] = SEQCLS_VOCAB_BUCKET;
    c[48] = 0x80, c[49] = 0x84, c[50] = 0x1e;   /* 2000000: its default is never written */
    load_fails(b, n, SEQCLS_E_FORMAT, "its default");
    c[48] = 0, c[49] = 0, c[50] = 0;   /* bucket 0 with n-grams */
    load_fails(b, n, SEQCLS_E_FORMAT, "need bucket > 0");
    c[48] = 0xe8, c[49] = 0x03;
    c[40] = 1;   /* maxn 1 < minn 2 */
    load_fails(b, n, SEQCLS_E_FORMAT, "minn 2 is above maxn 1");
    c[40] = 33;
    load_fails(b, n, SEQCLS_E_FORMAT, "out of its range");
    c[40] = 4;
    c[16] = 3;   /* no such mode */
    load_fails(b, n, SEQCLS_E_FORMAT, "SEQCLS_VOCAB_TOKENS 3");
    c[16] = SEQCLS_TOKENS_CHAR;
    OK(seqcls_vocab_load_buffer(&w, b, n));
    seqcls_vocab_free(w);
    seqcls_free(b);
    seqcls_free(pb);
    seqcls_vocab_free(v);
    seqcls_vocab_free(plain);
}
END_TEST

START_TEST(defaults_save_as_version_1)
{
    /* set to the defaults explicitly: no trailer, and a 1.0 buffer loads
     * with every option at its default */
    seqcls_vocab_t *v = vocab_of("one two two", SEQCLS_TOKENS_WORD, 0, 0, 0, 2000000), *w = NULL;
    unsigned char *b = NULL;
    size_t n = 0;
    int value = -1;
    save(v, &b, &n);
    ck_assert_uint_eq(n, 4 + 9 + 9 + 7 + 7);
    OK(seqcls_vocab_load_buffer(&w, b, n));
    OK(seqcls_vocab_get_int(w, SEQCLS_VOCAB_BUCKET, &value));
    ck_assert_int_eq(value, 2000000);
    ck_assert_int_eq(seqcls_vocab_rows(w), 4);
    seqcls_vocab_free(w);
    seqcls_free(b);
    seqcls_vocab_free(v);
}
END_TEST

/* A model whose vocabulary has options, saved: VOCB holds the tokens as
 * 1.0 has them and the required VOPT section the options. */
START_TEST(model_file_has_a_vopt_section)
{
    seqcls_vocab_t *v = vocab_of("ab cd", SEQCLS_TOKENS_CHAR, 3, 0, 0, 2000000), *plain = NULL;
    seqcls_model_t *m = NULL, *m2 = NULL;
    void *buf = NULL;
    unsigned char *b;
    size_t len = 0;
    uint32_t n = 0, nv = 0;
    size_t at, atv;
    int value = 0;
    OK(seqcls_model_create(&m, 1));
    OK(seqcls_add_embedding(m, seqcls_vocab_rows(v), 4, 0, NULL));
    OK(seqcls_add_pooling(m, SEQCLS_POOL_MEAN, NULL));
    OK(seqcls_add_output(m, 2, NULL));
    OK(seqcls_model_set_vocab(m, v));
    OK(seqcls_vocab_get_int(seqcls_model_vocab(m), SEQCLS_VOCAB_OOV_BUCKETS, &value));
    ck_assert_int_eq(value, 3);   /* the model's copy keeps the options */
    OK(seqcls_model_save_buffer(m, &buf, &len));
    b = buf;
    ck_assert_uint_ne(at = mf_section(b, len, "VOPT", &n), 0);
    ck_assert_uint_eq(n, 4 + 2 * 8);
    ck_assert_uint_ne(atv = mf_section(b, len, "VOCB", &nv), 0);
    {
        /* the VOCB payload is the vocabulary's tokens alone */
        void *tb = NULL;
        size_t tn = 0;
        OK(seqcls_vocab_load_buffer(&plain, b + atv, nv));
        OK(seqcls_vocab_get_int(plain, SEQCLS_VOCAB_TOKENS, &value));
        ck_assert_int_eq(value, SEQCLS_TOKENS_WORD);
        ck_assert_int_eq(seqcls_vocab_size(plain), seqcls_vocab_size(v));
        OK(seqcls_vocab_save_buffer(plain, &tb, &tn));
        ck_assert_uint_eq(tn, nv);
        seqcls_free(tb);
        seqcls_vocab_free(plain);
    }
    OK(seqcls_model_load_buffer(&m2, buf, len));
    OK(seqcls_vocab_get_int(seqcls_model_vocab(m2), SEQCLS_VOCAB_TOKENS, &value));
    ck_assert_int_eq(value, SEQCLS_TOKENS_CHAR);
    OK(seqcls_vocab_get_int(seqcls_model_vocab(m2), SEQCLS_VOCAB_OOV_BUCKETS, &value));
    ck_assert_int_eq(value, 3);
    seqcls_model_free(m2);
    m2 = NULL;

    /* an unknown option is a newer writer's */
    b[at + 4] = 9;
    mf_mend_crc(b, at, n);
    FAILS(SEQCLS_E_VERSION, "VOPT: vocabulary: option 9 is unknown",
          seqcls_model_load_buffer(&m2, buf, len));
    b[at + 4] = SEQCLS_VOCAB_TOKENS;
    b[at + 8] = 7;
    mf_mend_crc(b, at, n);
    FAILS(SEQCLS_E_FORMAT, "VOPT: vocabulary: SEQCLS_VOCAB_TOKENS 7",
          seqcls_model_load_buffer(&m2, buf, len));
    b[at + 8] = SEQCLS_TOKENS_CHAR;
    mf_mend_crc(b, at, n);
    OK(seqcls_model_load_buffer(&m2, buf, len));
    seqcls_model_free(m2);
    m2 = NULL;
    /* options without a vocabulary: VOCB renamed to an optional tag */
    b[atv - 12] = 'v';
    FAILS(SEQCLS_E_FORMAT, "VOPT: vocabulary options without a vocabulary",
          seqcls_model_load_buffer(&m2, buf, len));
    b[atv - 12] = 'V';
    /* a 1.0 reader knows no VOPT: an unknown required section is refused
     * with SEQCLS_E_VERSION; renamed to another upper-case tag, so does 1.1 */
    b[at - 12 + 3] = 'X';
    FAILS(SEQCLS_E_VERSION, "required section 'VOPX'", seqcls_model_load_buffer(&m2, buf, len));
    seqcls_free(buf);

    /* with the defaults there is no VOPT section */
    OK(seqcls_vocab_create(&plain));
    OK(seqcls_vocab_add_text(plain, "ab cd", 5));
    OK(seqcls_vocab_build(plain, 0, 0));
    OK(seqcls_model_set_vocab(m, plain));
    OK(seqcls_model_save_buffer(m, &buf, &len));
    ck_assert_uint_eq(mf_section(buf, len, "VOPT", &n), 0);
    ck_assert_uint_ne(mf_section(buf, len, "VOCB", &n), 0);
    seqcls_free(buf);
    seqcls_vocab_free(plain);
    seqcls_vocab_free(v);
    seqcls_model_free(m);
}
END_TEST

Suite *vocab_modes_suite(void)
{
    Suite *s = suite_create("vocab_modes");
    TCase *tc = tcase_create("vocab_modes");
    tcase_add_test(tc, char_mode_tokens);
    tcase_add_test(tc, char_mode_decode_and_spans);
    tcase_add_test(tc, word_mode_is_unchanged);
    tcase_add_test(tc, options_are_checked);
    tcase_add_test(tc, oov_buckets_hash_unknown_tokens);
    tcase_add_test(tc, subwords_are_fasttexts);
    tcase_add_test(tc, subwords_with_oov_buckets_and_short_ngrams);
    tcase_add_test(tc, subword_errors);
    tcase_add_test(tc, options_trailer_in_the_buffer);
    tcase_add_test(tc, defaults_save_as_version_1);
    tcase_add_test(tc, model_file_has_a_vopt_section);
    suite_add_tcase(s, tc);
    return s;
}
