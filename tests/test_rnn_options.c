/*
 * test_rnn_options.c -- the recurrent options of 1.1: the merge modes ave
 * and mul, seqcls_final_states, and recurrent dropout (refusals, save and
 * load, what training and inference do).  Gradients: test_grad_rnn.c;
 * PyTorch parity and the numpy reference of the masks:
 * tests/parity/test_rnn_parity.py.
 */
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"

START_TEST(merge_modes)
{
    seqcls_model_t *m = NULL, *back = NULL;
    char buf[160];
    void *saved = NULL;
    size_t n = 0;
    int l;
    OK(seqcls_model_create(&m, 1));
    OK(seqcls_add_input(m, 3, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "SEQCLS_MERGE_AVE needs SEQCLS_BIDIRECTIONAL",
          seqcls_add_lstm(m, 4, SEQCLS_MERGE_AVE, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "SEQCLS_MERGE_MUL needs SEQCLS_BIDIRECTIONAL",
          seqcls_add_gru(m, 4, SEQCLS_MERGE_MUL | SEQCLS_RETURN_SEQUENCES, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "more than one merge mode",
          seqcls_add_lstm(m, 4, SEQCLS_BIDIRECTIONAL | SEQCLS_MERGE_SUM | SEQCLS_MERGE_MUL, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "unknown flags 0x80",
          seqcls_add_lstm(m, 4, SEQCLS_BIDIRECTIONAL | 0x80u, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "unknown flags 0x10",   /* the transformer's flag, not theirs */
          seqcls_add_gru(m, 4, 0x10u, NULL));
    OK(seqcls_add_lstm(m, 4, SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES | SEQCLS_MERGE_AVE,
                       &l));
    OK(seqcls_layer_describe(m, l, buf, sizeof buf));
    ck_assert_str_eq(buf, "lstm(hidden=4, bidirectional, merge_ave, return_sequences) -> "
                          "sequence of 4");
    OK(seqcls_add_gru(m, 5, SEQCLS_BIDIRECTIONAL | SEQCLS_MERGE_MUL, &l));
    OK(seqcls_layer_describe(m, l, buf, sizeof buf));
    ck_assert_str_eq(buf, "gru(hidden=5, bidirectional, merge_mul) -> vector of 5");
    OK(seqcls_add_output(m, 2, NULL));
    OK(seqcls_model_save_buffer(m, &saved, &n));
    OK(seqcls_model_load_buffer(&back, saved, n));
    OK(seqcls_layer_describe(back, 2, buf, sizeof buf));
    ck_assert_str_eq(buf, "gru(hidden=5, bidirectional, merge_mul) -> vector of 5");
    seqcls_free(saved);
    seqcls_model_free(back);
    seqcls_model_free(m);
}
END_TEST

/* input(3) -> lstm/gru(4, flags) -> [pooling] -> output(2) */
static seqcls_model_t *rnn_model(int gru, unsigned flags, int *layer)
{
    seqcls_model_t *m = NULL;
    OK(seqcls_model_create(&m, 9));
    OK(seqcls_add_input(m, 3, NULL));
    OK(gru ? seqcls_add_gru(m, 4, flags, layer) : seqcls_add_lstm(m, 4, flags, layer));
    if (flags & SEQCLS_RETURN_SEQUENCES)
        OK(seqcls_add_pooling(m, SEQCLS_POOL_MEAN, NULL));
    OK(seqcls_add_output(m, 2, NULL));
    return m;
}

START_TEST(final_states_calls)
{
    static const int32_t len[4] = {5, 0, 2, 5};
    int l;
    seqcls_model_t *m = rnn_model(0, SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES |
                                         SEQCLS_MERGE_SUM, &l);
    seqcls_model_t *g = rnn_model(1, SEQCLS_BIDIRECTIONAL, NULL);
    seqcls_tensor_t *x = tu_tensor(SEQCLS_F32, 3, 4, 5, 3), *z = tu_tensor(SEQCLS_F32, 2, 4, 2, 0);
    seqcls_tensor_t *h = tu_tensor(SEQCLS_F32, 2, 4, 8, 0), *c = tu_tensor(SEQCLS_F32, 2, 4, 8, 0);
    seqcls_tensor_t *h2 = tu_tensor(SEQCLS_F32, 2, 4, 8, 0), *bad = tu_tensor(SEQCLS_F32, 2, 4, 4, 0);
    seqcls_tensor_t *p = tu_tensor(SEQCLS_F32, 2, 4, 2, 0);
    real_t *hv = seqcls_tensor_data(h), *cv = seqcls_tensor_data(c);
    int k;
    tu_fill_real(x, -1, 1, 3);
    FAILS(SEQCLS_E_INVALID_ARG, "model is NULL", seqcls_final_states(NULL, 1, h, c));
    FAILS(SEQCLS_E_STATE, "no seqcls_forward has run yet", seqcls_final_states(m, 1, h, c));
    OK(seqcls_forward(m, x, len, z, 0));
    FAILS(SEQCLS_E_RANGE, "layer 0 is not a recurrent layer", seqcls_final_states(m, 0, h, c));
    FAILS(SEQCLS_E_RANGE, "layer 7 is not a recurrent layer", seqcls_final_states(m, 7, h, c));
    FAILS(SEQCLS_E_RANGE, "layer -2", seqcls_final_states(m, -2, h, c));
    FAILS(SEQCLS_E_SHAPE, "h", seqcls_final_states(m, 1, bad, NULL));
    FAILS(SEQCLS_E_SHAPE, "c", seqcls_final_states(m, 1, NULL, bad));
    OK(seqcls_final_states(m, -1, h, c));   /* -1: the last recurrent layer */
    OK(seqcls_final_states(m, 1, NULL, NULL));
    /* a row of length 0 has zero states; others do not */
    for (k = 0; k < 8; k++) {
        ck_assert(hv[8 + k] == 0 && cv[8 + k] == 0);
        ck_assert(hv[k] != 0 && cv[k] != 0);
    }
    /* the merge does not touch them, and seqcls_predict keeps nothing */
    OK(seqcls_predict(m, x, NULL, p, NULL));
    OK(seqcls_final_states(m, 1, h2, NULL));
    ck_assert(!memcmp(seqcls_tensor_data(h2), hv, 32 * sizeof(real_t)));
    /* a training forward gives the same states (no dropout here) */
    OK(seqcls_forward(m, x, len, z, 1));
    OK(seqcls_final_states(m, 1, h2, c));
    ck_assert(!memcmp(seqcls_tensor_data(h2), hv, 32 * sizeof(real_t)));
    /* a changed option makes the last forward stale */
    OK(seqcls_layer_set_float(m, 1, SEQCLS_OPT_INPUT_DROPOUT, 0.1f));
    FAILS(SEQCLS_E_STATE, "no seqcls_forward", seqcls_final_states(m, 1, h, NULL));
    /* a GRU has no cell state */
    OK(seqcls_forward(g, x, len, z, 0));
    FAILS(SEQCLS_E_INVALID_ARG, "layer 1 (gru) has no cell state", seqcls_final_states(g, 1, h, c));
    OK(seqcls_final_states(g, 1, h, NULL));
    /* without return_sequences and merge, h is the layer's output */
    {
        seqcls_model_t *v = NULL;
        seqcls_tensor_t *zz = tu_tensor(SEQCLS_F32, 2, 4, 8, 0);
        OK(seqcls_model_create(&v, 9));
        OK(seqcls_add_input(v, 3, NULL));
        OK(seqcls_add_gru(v, 4, SEQCLS_BIDIRECTIONAL, NULL));
        OK(seqcls_add_output(v, 8, &l));
        {
            seqcls_tensor_t *w, *b;
            real_t *wv;
            OK(seqcls_param(v, seqcls_param_find(v, "2.output.weight"), &w, NULL));
            OK(seqcls_param(v, seqcls_param_find(v, "2.output.bias"), &b, NULL));
            wv = seqcls_tensor_data(w);
            memset(wv, 0, 64 * sizeof(real_t));
            memset(seqcls_tensor_data(b), 0, 8 * sizeof(real_t));
            for (k = 0; k < 8; k++)
                wv[k * 8 + k] = 1;
        }
        OK(seqcls_forward(v, x, len, zz, 0));
        OK(seqcls_final_states(v, -1, h, NULL));
        ck_assert(!memcmp(seqcls_tensor_data(zz), hv, 32 * sizeof(real_t)));
        seqcls_tensor_free(zz);
        seqcls_model_free(v);
    }
    {
        seqcls_model_t *none = NULL;
        OK(seqcls_model_create(&none, 1));
        OK(seqcls_add_input(none, 3, NULL));
        OK(seqcls_add_pooling(none, SEQCLS_POOL_MEAN, NULL));
        OK(seqcls_add_output(none, 2, NULL));
        OK(seqcls_forward(none, x, len, z, 0));
        FAILS(SEQCLS_E_RANGE, "no recurrent layer", seqcls_final_states(none, -1, h, NULL));
        seqcls_model_free(none);
    }
    seqcls_tensor_free(x);
    seqcls_tensor_free(z);
    seqcls_tensor_free(h);
    seqcls_tensor_free(c);
    seqcls_tensor_free(h2);
    seqcls_tensor_free(bad);
    seqcls_tensor_free(p);
    seqcls_model_free(m);
    seqcls_model_free(g);
}
END_TEST

START_TEST(recurrent_dropout_option)
{
    static const int32_t len[4] = {5, 1, 3, 5};
    int cell;
    for (cell = 0; cell < 3; cell++) {
        const unsigned flags = SEQCLS_BIDIRECTIONAL | (cell == 2 ? SEQCLS_GRU_RESET_BEFORE : 0);
        int l;
        seqcls_model_t *m = rnn_model(cell > 0, flags, &l), *plain = rnn_model(cell > 0, flags, NULL);
        seqcls_model_t *back = NULL;
        seqcls_tensor_t *x = tu_tensor(SEQCLS_F32, 3, 4, 5, 3);
        seqcls_tensor_t *z1 = tu_tensor(SEQCLS_F32, 2, 4, 2, 0), *z2 = tu_tensor(SEQCLS_F32, 2, 4, 2, 0);
        seqcls_tensor_t *h = tu_tensor(SEQCLS_F32, 2, 4, 8, 0), *h2 = tu_tensor(SEQCLS_F32, 2, 4, 8, 0);
        void *saved = NULL;
        size_t n = 0;
        float v = -1;
        char buf[160];
        tu_fill_real(x, -1, 1, 5);
        OK(seqcls_layer_get_float(m, l, SEQCLS_OPT_RECURRENT_DROPOUT, &v));
        ck_assert(v == 0);
        FAILS(SEQCLS_E_INVALID_ARG, "SEQCLS_OPT_RECURRENT_DROPOUT rate 1 is outside [0, 1)",
              seqcls_layer_set_float(m, l, SEQCLS_OPT_RECURRENT_DROPOUT, 1.0f));
        FAILS(SEQCLS_E_INVALID_ARG, "outside",
              seqcls_layer_set_float(m, l, SEQCLS_OPT_RECURRENT_DROPOUT, -0.1f));
        FAILS(SEQCLS_E_INVALID_ARG, "is a float option",
              seqcls_layer_set_int(m, l, SEQCLS_OPT_RECURRENT_DROPOUT, 0));
        OK(seqcls_layer_set_float(m, l, SEQCLS_OPT_RECURRENT_DROPOUT, 0.4f));
        OK(seqcls_layer_get_float(m, l, SEQCLS_OPT_RECURRENT_DROPOUT, &v));
        ck_assert(v == 0.4f);
        OK(seqcls_layer_describe(m, l, buf, sizeof buf));
        ck_assert_msg(strstr(buf, ", recurrent_dropout=0.4)") != NULL, "%s", buf);
        /* inference: no dropout, the same as the model without it */
        OK(seqcls_forward(m, x, len, z1, 0));
        OK(seqcls_forward(plain, x, len, z2, 0));
        ck_assert(!memcmp(seqcls_tensor_data(z1), seqcls_tensor_data(z2), 8 * sizeof(real_t)));
        /* training: the masks change the states of rows with more than one
         * step, never those of a row of length 1 (no h_{t-1} at its only step) */
        OK(seqcls_forward(plain, x, len, z2, 1));
        OK(seqcls_final_states(plain, l, h2, NULL));
        OK(seqcls_forward(m, x, len, z1, 1));
        OK(seqcls_final_states(m, l, h, NULL));
        ck_assert(memcmp(seqcls_tensor_data(h), seqcls_tensor_data(h2), 8 * sizeof(real_t)));
        ck_assert(!memcmp((real_t *)seqcls_tensor_data(h) + 8, (real_t *)seqcls_tensor_data(h2) + 8,
                          8 * sizeof(real_t)));
        /* saved and loaded (CONF id 18), with the same random state: the same masks */
        OK(seqcls_model_save_buffer(m, &saved, &n));
        OK(seqcls_model_load_buffer(&back, saved, n));
        OK(seqcls_layer_get_float(back, l, SEQCLS_OPT_RECURRENT_DROPOUT, &v));
        ck_assert(v == 0.4f);
        OK(seqcls_forward(m, x, len, z1, 1));
        OK(seqcls_forward(back, x, len, z2, 1));
        ck_assert(!memcmp(seqcls_tensor_data(z1), seqcls_tensor_data(z2), 8 * sizeof(real_t)));
        seqcls_free(saved);
        seqcls_model_free(back);
        seqcls_tensor_free(x);
        seqcls_tensor_free(z1);
        seqcls_tensor_free(z2);
        seqcls_tensor_free(h);
        seqcls_tensor_free(h2);
        seqcls_model_free(m);
        seqcls_model_free(plain);
    }
}
END_TEST

Suite *rnn_options_suite(void)
{
    Suite *s = suite_create("recurrent options (1.1)");
    TCase *tc = tcase_create("rnn options");
    tcase_add_test(tc, merge_modes);
    tcase_add_test(tc, final_states_calls);
    tcase_add_test(tc, recurrent_dropout_option);
    suite_add_tcase(s, tc);
    return s;
}
