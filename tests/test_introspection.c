/*
 * test_introspection.c -- the 1.1 calls that describe a model without
 * parsing text: a layer's kind, every option of every kind through
 * seqcls_layer_get_int / _float, the output width, and the key-value
 * metadata store, saved and loaded with the model.
 */
#include <stdio.h>
#include <stdlib.h>

#include "modelfile.h"
#include "testutil.h"

/* Every layer kind, every option at a value other than its default. */
static seqcls_model_t *every_kind(void)
{
    seqcls_model_t *m = NULL;
    int l;
    OK(seqcls_model_create(&m, 7));
    OK(seqcls_add_embedding(m, 30, 6, 2, &l));                            /* 0 */
    OK(seqcls_layer_set_int(m, l, SEQCLS_OPT_FREEZE, 1));
    OK(seqcls_add_gru(m, 5, SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES |
                                SEQCLS_GRU_RESET_BEFORE, &l));              /* 1 */
    OK(seqcls_layer_set_int(m, l, SEQCLS_OPT_RECURRENT_ACTIVATION, SEQCLS_ACT_HARD_SIGMOID));
    OK(seqcls_layer_set_float(m, l, SEQCLS_OPT_INPUT_DROPOUT, 0.25f));
    OK(seqcls_add_attention(m, SEQCLS_ATTN_BAHDANAU, 4, NULL));            /* 2 */
    OK(seqcls_add_dense(m, 7, SEQCLS_ACT_TANH, NULL));                      /* 3 */
    OK(seqcls_add_dropout(m, 0.125f, NULL));                                /* 4 */
    OK(seqcls_add_batchnorm(m, &l));                                        /* 5 */
    OK(seqcls_layer_set_float(m, l, SEQCLS_OPT_BN_MOMENTUM, 0.3f));
    OK(seqcls_layer_set_float(m, l, SEQCLS_OPT_BN_EPSILON, 1e-3f));
    OK(seqcls_add_output(m, 3, NULL));                                      /* 6 */
    return m;
}

static int get_int(const seqcls_model_t *m, int layer, int option)
{
    int v = -12345;
    OK(seqcls_layer_get_int(m, layer, option, &v));
    return v;
}

static float get_float(const seqcls_model_t *m, int layer, int option)
{
    float v = -1;
    OK(seqcls_layer_get_float(m, layer, option, &v));
    return v;
}

static void check_every_kind(const seqcls_model_t *m)
{
    static const int kinds[] = {SEQCLS_LAYER_EMBEDDING, SEQCLS_LAYER_GRU, SEQCLS_LAYER_ATTENTION,
                                SEQCLS_LAYER_DENSE,     SEQCLS_LAYER_DROPOUT,
                                SEQCLS_LAYER_BATCHNORM, SEQCLS_LAYER_OUTPUT};
    int i;
    ck_assert_int_eq(seqcls_layer_count(m), 7);
    for (i = 0; i < 7; i++)
        ck_assert_int_eq(seqcls_layer_kind(m, i), kinds[i]);
    ck_assert_int_eq(get_int(m, 0, SEQCLS_OPT_VOCAB), 30);
    ck_assert_int_eq(get_int(m, 0, SEQCLS_OPT_UNITS), 6);
    ck_assert_int_eq(get_int(m, 0, SEQCLS_OPT_PADDING_IDX), 2);
    ck_assert_int_eq(get_int(m, 0, SEQCLS_OPT_FREEZE), 1);
    ck_assert_int_eq(get_int(m, 1, SEQCLS_OPT_UNITS), 5);
    ck_assert_int_eq(get_int(m, 1, SEQCLS_OPT_FLAGS),
                     SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES | SEQCLS_GRU_RESET_BEFORE);
    ck_assert_int_eq(get_int(m, 1, SEQCLS_OPT_RECURRENT_ACTIVATION), SEQCLS_ACT_HARD_SIGMOID);
    ck_assert(get_float(m, 1, SEQCLS_OPT_INPUT_DROPOUT) == 0.25f);
    ck_assert_int_eq(get_int(m, 2, SEQCLS_OPT_KIND), SEQCLS_ATTN_BAHDANAU);
    ck_assert_int_eq(get_int(m, 2, SEQCLS_OPT_UNITS), 4);
    ck_assert_int_eq(get_int(m, 3, SEQCLS_OPT_UNITS), 7);
    ck_assert_int_eq(get_int(m, 3, SEQCLS_OPT_ACTIVATION), SEQCLS_ACT_TANH);
    ck_assert(get_float(m, 4, SEQCLS_OPT_DROPOUT) == 0.125f);
    ck_assert(get_float(m, 5, SEQCLS_OPT_BN_MOMENTUM) == 0.3f);
    ck_assert(get_float(m, 5, SEQCLS_OPT_BN_EPSILON) == 1e-3f);
    ck_assert_int_eq(get_int(m, 6, SEQCLS_OPT_UNITS), 3);
    ck_assert_int_eq(seqcls_model_output_width(m), 3);
}

START_TEST(every_option_of_every_kind_is_readable)
{
    seqcls_model_t *m = every_kind(), *back = NULL;
    void *buf = NULL;
    size_t len = 0;
    check_every_kind(m);
    /* and the same after a save and a load */
    OK(seqcls_model_save_buffer(m, &buf, &len));
    OK(seqcls_model_load_buffer(&back, buf, len));
    check_every_kind(back);
    seqcls_free(buf);
    seqcls_model_free(back);
    seqcls_model_free(m);
}
END_TEST

START_TEST(other_kinds_and_their_options)
{
    seqcls_model_t *m = NULL;
    OK(seqcls_model_create(&m, 1));
    FAILS(SEQCLS_E_STATE, "no output layer", seqcls_model_output_width(m));
    OK(seqcls_add_input(m, 9, NULL));
    OK(seqcls_add_lstm(m, 4, SEQCLS_RETURN_SEQUENCES, NULL));
    OK(seqcls_add_attention(m, SEQCLS_ATTN_DOT, 99, NULL));   /* dot takes no units */
    FAILS(SEQCLS_E_STATE, "no output layer", seqcls_model_output_width(m));
    OK(seqcls_add_output(m, 1, NULL));
    ck_assert_int_eq(seqcls_layer_kind(m, 0), SEQCLS_LAYER_INPUT);
    ck_assert_int_eq(seqcls_layer_kind(m, 1), SEQCLS_LAYER_LSTM);
    ck_assert_int_eq(get_int(m, 0, SEQCLS_OPT_UNITS), 9);
    ck_assert_int_eq(get_int(m, 1, SEQCLS_OPT_RECURRENT_ACTIVATION), SEQCLS_ACT_SIGMOID);
    ck_assert(get_float(m, 1, SEQCLS_OPT_INPUT_DROPOUT) == 0);
    ck_assert_int_eq(get_int(m, 2, SEQCLS_OPT_KIND), SEQCLS_ATTN_DOT);
    ck_assert_int_eq(get_int(m, 2, SEQCLS_OPT_UNITS), 0);
    ck_assert_int_eq(seqcls_model_output_width(m), 1);
    seqcls_model_free(m);

    OK(seqcls_model_create(&m, 1));
    OK(seqcls_add_embedding(m, 10, 3, -1, NULL));
    OK(seqcls_add_pooling(m, SEQCLS_POOL_MAX, NULL));
    OK(seqcls_add_output(m, 4, NULL));
    ck_assert_int_eq(seqcls_layer_kind(m, 1), SEQCLS_LAYER_POOLING);
    ck_assert_int_eq(get_int(m, 1, SEQCLS_OPT_KIND), SEQCLS_POOL_MAX);
    ck_assert_int_eq(get_int(m, 0, SEQCLS_OPT_PADDING_IDX), -1);
    ck_assert_int_eq(get_int(m, 0, SEQCLS_OPT_FREEZE), 0);
    seqcls_model_free(m);
}
END_TEST

START_TEST(bad_introspection_calls_are_refused)
{
    seqcls_model_t *m = every_kind();
    int v = 77;
    float f = 77;
    FAILS(SEQCLS_E_INVALID_ARG, "model is NULL", seqcls_layer_kind(NULL, 0));
    FAILS(SEQCLS_E_RANGE, "layer 7 does not exist", seqcls_layer_kind(m, 7));
    FAILS(SEQCLS_E_RANGE, "layer -1 does not exist", seqcls_layer_kind(m, -1));
    FAILS(SEQCLS_E_INVALID_ARG, "model is NULL", seqcls_model_output_width(NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "value is NULL",
          seqcls_layer_get_int(m, 0, SEQCLS_OPT_UNITS, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "value is NULL",
          seqcls_layer_get_float(m, 4, SEQCLS_OPT_DROPOUT, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "option 7 does not apply to layer 3 (dense)",
          seqcls_layer_get_int(m, 3, SEQCLS_OPT_VOCAB, &v));
    FAILS(SEQCLS_E_INVALID_ARG, "does not apply", seqcls_layer_get_int(m, 3, 999, &v));
    FAILS(SEQCLS_E_INVALID_ARG, "is a float option; use seqcls_layer_get_float",
          seqcls_layer_get_int(m, 4, SEQCLS_OPT_DROPOUT, &v));
    FAILS(SEQCLS_E_INVALID_ARG, "is an integer option; use seqcls_layer_get_int",
          seqcls_layer_get_float(m, 0, SEQCLS_OPT_UNITS, &f));
    FAILS(SEQCLS_E_RANGE, "does not exist", seqcls_layer_get_int(m, 9, SEQCLS_OPT_UNITS, &v));
    ck_assert_int_eq(v, 77);   /* untouched by the failures */
    ck_assert(f == 77);
    /* what the constructor fixed cannot be set afterwards */
    FAILS(SEQCLS_E_INVALID_ARG, "fixed by its constructor",
          seqcls_layer_set_int(m, 3, SEQCLS_OPT_UNITS, 9));
    FAILS(SEQCLS_E_INVALID_ARG, "fixed by its constructor",
          seqcls_layer_set_float(m, 4, SEQCLS_OPT_DROPOUT, 0.5f));
    FAILS(SEQCLS_E_INVALID_ARG, "is a float option; use seqcls_layer_set_float",
          seqcls_layer_set_int(m, 1, SEQCLS_OPT_INPUT_DROPOUT, 0));
    ck_assert_int_eq(get_int(m, 3, SEQCLS_OPT_UNITS), 7);
    seqcls_model_free(m);
}
END_TEST

START_TEST(metadata_store)
{
    seqcls_model_t *m = every_kind(), *back = NULL;
    char key[80], big[70000];
    void *buf = NULL;
    size_t len = 0;
    int i;

    ck_assert_int_eq(seqcls_model_meta_count(m), 0);
    ck_assert_ptr_null(seqcls_model_get_meta(m, "maxlen"));
    OK(seqcls_model_set_meta(m, "maxlen", "200"));
    OK(seqcls_model_set_meta(m, "tokens", "char"));
    OK(seqcls_model_set_meta(m, "note", "caf\xc3\xa9 \xe2\x9c\x93"));
    OK(seqcls_model_set_meta(m, "empty", ""));
    OK(seqcls_model_set_meta(m, "maxlen", "300"));   /* replaced, keeps its place */
    ck_assert_int_eq(seqcls_model_meta_count(m), 4);
    ck_assert_str_eq(seqcls_model_meta_key(m, 0), "maxlen");
    ck_assert_str_eq(seqcls_model_meta_key(m, 3), "empty");
    ck_assert_ptr_null(seqcls_model_meta_key(m, 4));
    ck_assert_ptr_null(seqcls_model_meta_key(m, -1));
    ck_assert_str_eq(seqcls_model_get_meta(m, "maxlen"), "300");
    ck_assert_str_eq(seqcls_model_get_meta(m, "empty"), "");
    OK(seqcls_model_set_meta(m, "note", NULL));        /* removed */
    OK(seqcls_model_set_meta(m, "absent", NULL));      /* removing nothing is fine */
    ck_assert_int_eq(seqcls_model_meta_count(m), 3);
    ck_assert_ptr_null(seqcls_model_get_meta(m, "note"));
    ck_assert_str_eq(seqcls_model_meta_key(m, 2), "empty");

    /* refusals change nothing */
    FAILS(SEQCLS_E_INVALID_ARG, "model is NULL", seqcls_model_set_meta(NULL, "a", "b"));
    FAILS(SEQCLS_E_INVALID_ARG, "key is NULL", seqcls_model_set_meta(m, NULL, "b"));
    FAILS(SEQCLS_E_INVALID_ARG, "is not 1 to 64", seqcls_model_set_meta(m, "", "b"));
    FAILS(SEQCLS_E_INVALID_ARG, "is not 1 to 64", seqcls_model_set_meta(m, "a b", "b"));
    FAILS(SEQCLS_E_INVALID_ARG, "is not 1 to 64", seqcls_model_set_meta(m, "caf\xc3\xa9", "b"));
    memset(key, 'k', 65);
    key[65] = '\0';
    FAILS(SEQCLS_E_INVALID_ARG, "is not 1 to 64", seqcls_model_set_meta(m, key, "b"));
    key[64] = '\0';
    OK(seqcls_model_set_meta(m, key, "64 bytes is the longest key"));
    FAILS(SEQCLS_E_INVALID_ARG, "not UTF-8", seqcls_model_set_meta(m, "bad", "\xff\xfe"));
    FAILS(SEQCLS_E_INVALID_ARG, "not UTF-8", seqcls_model_set_meta(m, "maxlen", "\xc3"));
    memset(big, 'v', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    FAILS(SEQCLS_E_INVALID_ARG, "at most 65536", seqcls_model_set_meta(m, "big", big));
    big[65536] = '\0';
    OK(seqcls_model_set_meta(m, "big", big));
    ck_assert_str_eq(seqcls_model_get_meta(m, "maxlen"), "300");
    ck_assert_int_eq(seqcls_model_meta_count(m), 5);
    for (i = 5; i < 256; i++) {
        snprintf(key, sizeof key, "k%d", i);
        OK(seqcls_model_set_meta(m, key, "x"));
    }
    FAILS(SEQCLS_E_INVALID_ARG, "already holds 256 keys", seqcls_model_set_meta(m, "one-more", "x"));
    OK(seqcls_model_set_meta(m, "k5", "replacing is fine when full"));

    /* saved and loaded with the model, in order */
    OK(seqcls_model_save_buffer(m, &buf, &len));
    OK(seqcls_model_load_buffer(&back, buf, len));
    ck_assert_int_eq(seqcls_model_meta_count(back), 256);
    for (i = 0; i < 256; i++) {
        ck_assert_str_eq(seqcls_model_meta_key(back, i), seqcls_model_meta_key(m, i));
        ck_assert_str_eq(seqcls_model_get_meta(back, seqcls_model_meta_key(m, i)),
                         seqcls_model_get_meta(m, seqcls_model_meta_key(m, i)));
    }
    ck_assert_str_eq(seqcls_last_error(), "");   /* a successful load leaves no message */
    seqcls_free(buf);
    seqcls_model_free(back);
    seqcls_model_free(m);
}
END_TEST

START_TEST(damaged_metadata_is_refused)
{
    seqcls_model_t *m = every_kind(), *back = (seqcls_model_t *)1;
    unsigned char *b;
    void *buf = NULL;
    size_t len = 0, at;
    uint32_t n = 0;
    OK(seqcls_model_set_meta(m, "maxlen", "300"));
    OK(seqcls_model_save_buffer(m, &buf, &len));
    b = buf;
    at = mf_section(b, len, "meta", &n);
    ck_assert_uint_gt(at, 0);
    ck_assert_uint_eq(n, 4 + 4 + 6 + 4 + 3);
    /* a key with a space: not loadable (the CRC mended, as a careless writer would) */
    b[at + 4 + 4 + 2] = ' ';
    mf_mend_crc(b, at, n);
    FAILS(SEQCLS_E_FORMAT, "meta: entry 0", seqcls_model_load_buffer(&back, buf, len));
    ck_assert_ptr_null(back);
    seqcls_free(buf);
    seqcls_model_free(m);
}
END_TEST

Suite *introspection_suite(void)
{
    Suite *s = suite_create("introspection");
    TCase *tc = tcase_create("introspection");
    tcase_add_test(tc, every_option_of_every_kind_is_readable);
    tcase_add_test(tc, other_kinds_and_their_options);
    tcase_add_test(tc, bad_introspection_calls_are_refused);
    tcase_add_test(tc, metadata_store);
    tcase_add_test(tc, damaged_metadata_is_refused);
    suite_add_tcase(s, tc);
    return s;
}
