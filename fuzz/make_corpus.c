/*
 * make_corpus.c -- write the fuzzer's seed corpus: small real models of
 * every layer kind and option this build has (the files already in
 * fuzz/corpus/load were written by earlier versions: add new ones, keep
 * the old), saved with
 * seqcls_model_save, plus copies with extra OPTM, VOCB and optional
 * sections spliced in, and quantised copies (int8, bf16; 1.1).  Usage:
 * make_corpus DIR
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seqcls.h"
#include "../tests/crc32_ref.h"

#define CHECK(call)                                                            \
    do {                                                                       \
        if ((call) != SEQCLS_OK) {                                             \
            fprintf(stderr, "%s: %s\n", #call, seqcls_last_error());           \
            exit(1);                                                           \
        }                                                                      \
    } while (0)

static const char *dir;

static void write_file(const char *name, const void *data, size_t n)
{
    char path[1024];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

/* Save m as NAME.sqcl, and NAME-extra.sqcl with sections spliced in
 * before the end section (the last 16 bytes). */
static void save(seqcls_model_t *m, const char *name, int extra)   /* frees m */
{
    char path[512];
    void *buf;
    size_t len;
    snprintf(path, sizeof path, "%s/%s.sqcl", dir, name);
    CHECK(seqcls_model_save(m, path));
    CHECK(seqcls_model_save_buffer(m, &buf, &len));
    if (extra) {
        /* sections the model loader skips: OPTM is read by checkpoint
         * loading, lower-case tags are optional by definition */
        static const char *const tags[] = {"OPTM", "zzzz", "note"};
        unsigned char *out = malloc(len + 3 * 32);
        size_t n = len - 16, t;
        memcpy(out, buf, n);
        for (t = 0; t < 3; t++) {
            unsigned char *s = out + n;
            const char *payload = t == 2 ? "written by make_corpus" : "opaque";
            size_t pl = strlen(payload);
            uint32_t c = crc32_ref(payload, pl);
            memcpy(s, tags[t], 4);
            memset(s + 4, 0, 8);
            s[4] = (unsigned char)pl;
            memcpy(s + 12, payload, pl);
            s[12 + pl] = (unsigned char)c;
            s[13 + pl] = (unsigned char)(c >> 8);
            s[14 + pl] = (unsigned char)(c >> 16);
            s[15 + pl] = (unsigned char)(c >> 24);
            n += 16 + pl;
        }
        memcpy(out + n, (unsigned char *)buf + len - 16, 16);
        n += 16;
        snprintf(path, sizeof path, "%s-extra.sqcl", name);
        write_file(path, out, n);
        free(out);
    }
    seqcls_free(buf);
    seqcls_model_free(m);
}

/* A copy of m quantised (1.1), saved as `name`; m is kept. */
static void save_quantised(const seqcls_model_t *m, const char *name, int precision)
{
    void *buf = NULL;
    size_t len = 0;
    seqcls_model_t *q = NULL;
    CHECK(seqcls_model_save_buffer(m, &buf, &len));
    CHECK(seqcls_model_load_buffer(&q, buf, len));
    CHECK(seqcls_model_quantize(q, precision));
    save(q, name, 0);
    seqcls_free(buf);
}

int main(int argc, char **argv)
{
    seqcls_model_t *m;
    int l;
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    dir = argv[1];

    CHECK(seqcls_model_create(&m, 1));
    CHECK(seqcls_add_embedding(m, 6, 3, 0, NULL));
    CHECK(seqcls_add_pooling(m, SEQCLS_POOL_MEAN, NULL));
    CHECK(seqcls_add_output(m, 2, NULL));
    save(m, "emb-mean-out2", 1);

    CHECK(seqcls_model_create(&m, 2));
    CHECK(seqcls_add_embedding(m, 5, 2, -1, &l));
    CHECK(seqcls_layer_set_int(m, l, SEQCLS_OPT_FREEZE, 1));
    CHECK(seqcls_add_dense(m, 3, SEQCLS_ACT_TANH, NULL));
    CHECK(seqcls_add_pooling(m, SEQCLS_POOL_MAX, NULL));
    CHECK(seqcls_add_dropout(m, 0.25f, NULL));
    CHECK(seqcls_add_dense(m, 2, SEQCLS_ACT_RELU, NULL));
    CHECK(seqcls_add_output(m, 1, NULL));
    save(m, "emb-frozen-td-max-drop-out1", 0);

    CHECK(seqcls_model_create(&m, 3));
    CHECK(seqcls_add_input(m, 2, NULL));
    CHECK(seqcls_add_dense(m, 2, SEQCLS_ACT_HARD_SIGMOID, NULL));
    CHECK(seqcls_add_dropout(m, 0.5f, NULL));
    CHECK(seqcls_add_pooling(m, SEQCLS_POOL_LAST, NULL));
    CHECK(seqcls_add_dense(m, 2, SEQCLS_ACT_SIGMOID, NULL));
    CHECK(seqcls_add_output(m, 3, NULL));
    save(m, "input-td-last-out3", 1);

    CHECK(seqcls_model_create(&m, 4));
    CHECK(seqcls_add_input(m, 1, NULL));
    CHECK(seqcls_add_pooling(m, SEQCLS_POOL_LAST, NULL));
    CHECK(seqcls_add_dense(m, 1, SEQCLS_ACT_NONE, NULL));
    save(m, "no-output", 0);

    CHECK(seqcls_model_create(&m, 5));
    save(m, "empty", 0);

    /* the tutorial model, with a vocabulary and class names */
    {
        seqcls_vocab_t *v = NULL;
        const char *names[2] = {"ham", "spam"};
        CHECK(seqcls_vocab_create(&v));
        CHECK(seqcls_vocab_add_text(v, "win cash now, claim your <b>free</b> prize!", 43));
        CHECK(seqcls_vocab_build(v, 1, 0));
        CHECK(seqcls_model_create(&m, 6));
        CHECK(seqcls_add_embedding(m, seqcls_vocab_size(v), 3, 0, NULL));
        CHECK(seqcls_add_lstm(m, 2, SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES, NULL));
        CHECK(seqcls_add_attention(m, SEQCLS_ATTN_BAHDANAU, 2, NULL));
        CHECK(seqcls_add_batchnorm(m, NULL));
        CHECK(seqcls_add_output(m, 1, NULL));
        CHECK(seqcls_model_set_vocab(m, v));
        CHECK(seqcls_model_set_labels(m, 2, names));
        seqcls_vocab_free(v);
        /* quantised (1.1): a required QUNT section, PARM dtypes 8 and 16 */
        save_quantised(m, "bilstm-bahdanau-bn-vocab-labels-int8", SEQCLS_INT8);
        save_quantised(m, "bilstm-bahdanau-bn-vocab-labels-bf16", SEQCLS_BF16);
        save(m, "bilstm-bahdanau-bn-vocab-labels", 0);
    }

    CHECK(seqcls_model_create(&m, 7));
    CHECK(seqcls_add_input(m, 2, NULL));
    CHECK(seqcls_add_gru(m, 2, SEQCLS_GRU_RESET_BEFORE | SEQCLS_RETURN_SEQUENCES, &l));
    CHECK(seqcls_layer_set_int(m, l, SEQCLS_OPT_RECURRENT_ACTIVATION, SEQCLS_ACT_HARD_SIGMOID));
    CHECK(seqcls_layer_set_float(m, l, SEQCLS_OPT_INPUT_DROPOUT, 0.1f));
    CHECK(seqcls_add_attention(m, SEQCLS_ATTN_FEATURE_TIME, 4, NULL));
    CHECK(seqcls_add_attention(m, SEQCLS_ATTN_GENERAL, 0, NULL));
    CHECK(seqcls_add_output(m, 2, NULL));
    save_quantised(m, "gru-feature-time-general-int8", SEQCLS_INT8);
    save(m, "gru-feature-time-general", 1);

    /* fastText's classifier (1.1): an embedding bag over a character-mode
     * vocabulary with out-of-vocabulary buckets and n-grams (VOPT) */
    {
        seqcls_vocab_t *v = NULL;
        CHECK(seqcls_vocab_create(&v));
        CHECK(seqcls_vocab_set_int(v, SEQCLS_VOCAB_TOKENS, SEQCLS_TOKENS_CHAR));
        CHECK(seqcls_vocab_set_int(v, SEQCLS_VOCAB_OOV_BUCKETS, 2));
        CHECK(seqcls_vocab_set_int(v, SEQCLS_VOCAB_MINN, 1));
        CHECK(seqcls_vocab_set_int(v, SEQCLS_VOCAB_MAXN, 2));
        CHECK(seqcls_vocab_set_int(v, SEQCLS_VOCAB_BUCKET, 5));
        CHECK(seqcls_vocab_add_text(v, "ab ba", 5));
        CHECK(seqcls_vocab_build(v, 1, 0));
        CHECK(seqcls_model_create(&m, 8));
        CHECK(seqcls_add_embedding_bag(m, seqcls_vocab_rows(v), 2, 4, &l));
        CHECK(seqcls_layer_set_int(m, l, SEQCLS_OPT_FREEZE, 1));
        CHECK(seqcls_add_pooling(m, SEQCLS_POOL_MEAN, NULL));
        CHECK(seqcls_add_output(m, 2, NULL));
        CHECK(seqcls_model_set_vocab(m, v));
        seqcls_vocab_free(v);
        save(m, "bag-char-subwords", 0);
    }
    return 0;
}
