/*
 * test_conv.c -- the conv1d and flatten layers (1.1): output lengths per
 * row, padding that never matters, options and their checks, save and
 * load, thread counts, the refusals; and a Kim-style CNN that learns.
 * (Gradients: test_grad.c; PyTorch parity: tests/parity/test_conv_parity.py.)
 */
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"

/* input(F) -> conv1d(U, k, flags) [-> set options] -> pooling -> output(U, identity) */
static seqcls_model_t *conv_model(int F, int U, int k, unsigned flags, int dilation, int act,
                                  int pool)
{
    seqcls_model_t *m = NULL;
    seqcls_tensor_t *w;
    int l, out, i;
    OK(seqcls_model_create(&m, 5));
    OK(seqcls_add_input(m, F, NULL));
    OK(seqcls_add_conv1d(m, U, k, flags, &l));
    OK(seqcls_layer_set_int(m, l, SEQCLS_OPT_DILATION, dilation));
    OK(seqcls_layer_set_int(m, l, SEQCLS_OPT_ACTIVATION, act));
    OK(seqcls_add_pooling(m, pool, NULL));
    OK(seqcls_add_output(m, U, &out));
    OK(seqcls_param(m, seqcls_param_find(m, "3.output.weight"), &w, NULL));
    memset(seqcls_tensor_data(w), 0, (size_t)U * U * sizeof(real_t));
    for (i = 0; i < U; i++)
        ((real_t *)seqcls_tensor_data(w))[i * U + i] = 1;
    OK(seqcls_param(m, seqcls_param_find(m, "3.output.bias"), &w, NULL));
    memset(seqcls_tensor_data(w), 0, (size_t)U * sizeof(real_t));
    return m;
}

static seqcls_tensor_t *logits_of(seqcls_model_t *m, const seqcls_tensor_t *x, const int32_t *len,
                                  int C)
{
    seqcls_tensor_t *z = tu_tensor(SEQCLS_F32, 2, seqcls_tensor_dim(x, 0), C, 0);
    OK(seqcls_forward(m, x, len, z, 0));
    return z;
}

START_TEST(rows_do_not_depend_on_the_padding_after_them)
{
    /* the same rows in a batch of T = 7 and of T = 12 with garbage after
     * their valid steps: identical results, bit for bit, for both
     * paddings, a dilation and every pooling */
    static const int32_t len[5] = {7, 0, 3, 1, 6};
    const int B = 5, F = 3, U = 4;
    unsigned flags;
    int pool, d;
    for (flags = 0; flags <= SEQCLS_PAD_SAME; flags++)
        for (d = 1; d <= 2; d++)
            for (pool = SEQCLS_POOL_LAST; pool <= SEQCLS_POOL_MAX; pool++) {
                seqcls_model_t *m = conv_model(F, U, 3, flags, d, SEQCLS_ACT_TANH, pool);
                seqcls_tensor_t *a = tu_tensor(SEQCLS_F32, 3, B, 7, F);
                seqcls_tensor_t *b = tu_tensor(SEQCLS_F32, 3, B, 12, F);
                seqcls_tensor_t *za, *zb;
                real_t *pa = seqcls_tensor_data(a), *pb = seqcls_tensor_data(b);
                int r, t;
                tu_fill_real(a, -1, 1, 3);
                tu_fill_real(b, 50, 60, 4);   /* garbage everywhere ... */
                for (r = 0; r < B; r++)       /* ... but at the valid steps */
                    for (t = 0; t < len[r]; t++)
                        memcpy(pb + ((size_t)r * 12 + t) * F, pa + ((size_t)r * 7 + t) * F,
                               F * sizeof(real_t));
                for (r = 0; r < B; r++)
                    for (t = len[r]; t < 7; t++)
                        pa[((size_t)r * 7 + t) * F] = -40;
                za = logits_of(m, a, len, U);
                zb = logits_of(m, b, len, U);
                ck_assert_msg(!memcmp(seqcls_tensor_data(za), seqcls_tensor_data(zb),
                                      (size_t)B * U * sizeof(real_t)),
                              "flags %u dilation %d pool %d: padding changed a result", flags, d,
                              pool);
                /* a row without output steps gives zeros (row 1: length 0;
                 * valid with span 2d: rows 3, and 2 when d = 2) */
                for (r = 0; r < B; r++) {
                    const int lout = flags ? len[r] : len[r] - 2 * d;
                    if (lout <= 0)
                        for (t = 0; t < U; t++)
                            ck_assert(((real_t *)seqcls_tensor_data(za))[r * U + t] == 0);
                }
                seqcls_tensor_free(za);
                seqcls_tensor_free(zb);
                seqcls_tensor_free(a);
                seqcls_tensor_free(b);
                seqcls_model_free(m);
            }
}
END_TEST

START_TEST(a_kernel_longer_than_the_batch)
{
    /* valid k = 5 over T = 2: every row has no output step; the output has
     * one padding step, pooling gives zeros, the backward passes nothing */
    static const int32_t len[2] = {2, 1};
    seqcls_model_t *m = conv_model(2, 3, 5, 0, 1, SEQCLS_ACT_NONE, SEQCLS_POOL_MEAN);
    seqcls_tensor_t *x = tu_tensor(SEQCLS_F32, 3, 2, 2, 2), *z = tu_tensor(SEQCLS_F32, 2, 2, 3, 0);
    seqcls_tensor_t *g = NULL;
    int i;
    tu_fill_real(x, -1, 1, 9);
    OK(seqcls_forward(m, x, len, z, 1));
    for (i = 0; i < 6; i++)
        ck_assert(((real_t *)seqcls_tensor_data(z))[i] == 0);
    tu_fill_real(z, -1, 1, 2);
    OK(seqcls_backward(m, z));
    OK(seqcls_input_grad(m, &g));
    for (i = 0; i < 8; i++)
        ck_assert(((real_t *)seqcls_tensor_data(g))[i] == 0);
    seqcls_tensor_free(x);
    seqcls_tensor_free(z);
    seqcls_model_free(m);
}
END_TEST

START_TEST(options_description_and_refusals)
{
    seqcls_model_t *m = NULL;
    char buf[256];
    int l, v;
    OK(seqcls_model_create(&m, 1));
    FAILS(SEQCLS_E_STATE, "first layer", seqcls_add_conv1d(m, 4, 3, 0, NULL));
    OK(seqcls_add_embedding(m, 20, 6, 0, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "filters (0)", seqcls_add_conv1d(m, 0, 3, 0, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "kernel_size (0)", seqcls_add_conv1d(m, 4, 0, 0, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "kernel_size (65537)", seqcls_add_conv1d(m, 4, 65537, 0, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "unknown flags 0x2", seqcls_add_conv1d(m, 4, 3, 0x3, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "model is NULL", seqcls_add_conv1d(NULL, 4, 3, 0, NULL));
    FAILS(SEQCLS_E_NOMEM, "too large", seqcls_add_conv1d(m, 1 << 24, 60000, 0, NULL));
    ck_assert_int_eq(seqcls_layer_count(m), 1);
    OK(seqcls_add_conv1d(m, 4, 4, SEQCLS_PAD_SAME, &l));
    ck_assert_int_eq(l, 1);
    ck_assert_int_eq(seqcls_layer_kind(m, l), SEQCLS_LAYER_CONV1D);
    OK(seqcls_layer_get_int(m, l, SEQCLS_OPT_UNITS, &v));
    ck_assert_int_eq(v, 4);
    OK(seqcls_layer_get_int(m, l, SEQCLS_OPT_FLAGS, &v));
    ck_assert_int_eq(v, SEQCLS_PAD_SAME);
    OK(seqcls_layer_get_int(m, l, SEQCLS_OPT_DILATION, &v));
    ck_assert_int_eq(v, 1);
    OK(seqcls_layer_get_int(m, l, SEQCLS_OPT_ACTIVATION, &v));
    ck_assert_int_eq(v, SEQCLS_ACT_NONE);
    FAILS(SEQCLS_E_INVALID_ARG, "dilation 0", seqcls_layer_set_int(m, l, SEQCLS_OPT_DILATION, 0));
    FAILS(SEQCLS_E_INVALID_ARG, "dilation 65537",
          seqcls_layer_set_int(m, l, SEQCLS_OPT_DILATION, 65537));
    FAILS(SEQCLS_E_INVALID_ARG, "takes SEQCLS_ACT_*",
          seqcls_layer_set_int(m, l, SEQCLS_OPT_ACTIVATION, 99));
    FAILS(SEQCLS_E_INVALID_ARG, "fixed by its constructor",
          seqcls_layer_set_int(m, l, SEQCLS_OPT_UNITS, 9));
    OK(seqcls_layer_set_int(m, l, SEQCLS_OPT_DILATION, 3));
    OK(seqcls_layer_set_int(m, l, SEQCLS_OPT_ACTIVATION, SEQCLS_ACT_RELU));
    OK(seqcls_layer_describe(m, l, buf, sizeof buf));
    ck_assert_str_eq(buf, "conv1d(filters=4, kernel=4, same, dilation=3, relu) -> sequence of 4");
    FAILS(SEQCLS_E_INVALID_ARG, "does not apply",
          seqcls_layer_set_float(m, l, SEQCLS_OPT_DROPOUT, 0.5f));
    OK(seqcls_add_conv1d(m, 5, 2, 0, NULL));
    /* the dilation of a convolution that layers follow stays as it is */
    FAILS(SEQCLS_E_STATE, "before adding the layers after it",
          seqcls_layer_set_int(m, l, SEQCLS_OPT_DILATION, 2));
    OK(seqcls_layer_set_int(m, l, SEQCLS_OPT_DILATION, 3));   /* unchanged: fine */
    OK(seqcls_layer_set_int(m, l, SEQCLS_OPT_ACTIVATION, SEQCLS_ACT_TANH));
    OK(seqcls_add_pooling(m, SEQCLS_POOL_MAX, NULL));
    FAILS(SEQCLS_E_STATE, "cannot take a vector", seqcls_add_conv1d(m, 4, 3, 0, NULL));
    OK(seqcls_layer_describe(m, 2, buf, sizeof buf));
    ck_assert_str_eq(buf, "conv1d(filters=5, kernel=2, valid, none) -> sequence of 5");
    seqcls_model_free(m);
}
END_TEST

/* a Kim-style model with every conv1d option set, and a flatten */
START_TEST(save_load_and_thread_counts)
{
    static const int32_t len[4] = {9, 4, 0, 7};
    seqcls_model_t *m = NULL, *back = NULL;
    seqcls_tensor_t *ids = tu_tensor(SEQCLS_I32, 2, 4, 9, 0);
    seqcls_tensor_t *p1 = tu_tensor(SEQCLS_F32, 2, 4, 3, 0), *p2 = tu_tensor(SEQCLS_F32, 2, 4, 3, 0);
    seqcls_tensor_t *g1 = NULL;
    void *buf = NULL;
    size_t n = 0, k;
    real_t *grad1;
    int l, v, i, threads = seqcls_get_num_threads();
    tu_fill_ids(ids, 1, 50, 4);
    OK(seqcls_model_create(&m, 3));
    OK(seqcls_add_embedding(m, 50, 40, 0, NULL));
    OK(seqcls_add_conv1d(m, 64, 3, SEQCLS_PAD_SAME, &l));
    OK(seqcls_layer_set_int(m, l, SEQCLS_OPT_ACTIVATION, SEQCLS_ACT_RELU));
    OK(seqcls_add_conv1d(m, 48, 2, 0, &l));
    OK(seqcls_layer_set_int(m, l, SEQCLS_OPT_DILATION, 2));
    OK(seqcls_add_pooling(m, SEQCLS_POOL_MAX, NULL));
    OK(seqcls_add_output(m, 3, NULL));
    OK(seqcls_model_save_buffer(m, &buf, &n));
    OK(seqcls_model_load_buffer(&back, buf, n));
    OK(seqcls_layer_get_int(back, 2, SEQCLS_OPT_DILATION, &v));
    ck_assert_int_eq(v, 2);
    OK(seqcls_layer_get_int(back, 1, SEQCLS_OPT_ACTIVATION, &v));
    ck_assert_int_eq(v, SEQCLS_ACT_RELU);
    OK(seqcls_predict(m, ids, len, p1, NULL));
    OK(seqcls_predict(back, ids, len, p2, NULL));
    ck_assert(!memcmp(seqcls_tensor_data(p1), seqcls_tensor_data(p2), 12 * sizeof(real_t)));

    /* one thread and two: the same outputs; the same weight gradients up
     * to rounding (each part sums its own blocks) */
    OK(seqcls_set_num_threads(1));
    OK(seqcls_forward(m, ids, len, p1, 1));
    OK(seqcls_zero_grad(m));
    OK(seqcls_backward(m, p1));
    OK(seqcls_param(m, seqcls_param_find(m, "1.conv1d.weight"), NULL, &g1));
    n = (size_t)seqcls_tensor_numel(g1);
    grad1 = malloc(n * sizeof *grad1);
    memcpy(grad1, seqcls_tensor_data(g1), n * sizeof *grad1);
    for (i = 2; i <= 3; i++) {
        OK(seqcls_set_num_threads(i));
        OK(seqcls_forward(m, ids, len, p2, 1));
        ck_assert(!memcmp(seqcls_tensor_data(p1), seqcls_tensor_data(p2), 12 * sizeof(real_t)));
        OK(seqcls_zero_grad(m));
        OK(seqcls_backward(m, p1));
        for (k = 0; k < n; k++)
            ck_assert(fabs(grad1[k] - ((real_t *)seqcls_tensor_data(g1))[k]) <=
                      1e-5 * (1 + fabs(grad1[k])));
    }
    OK(seqcls_set_num_threads(threads));
    free(grad1);
    seqcls_free(buf);
    seqcls_tensor_free(ids);
    seqcls_tensor_free(p1);
    seqcls_tensor_free(p2);
    seqcls_model_free(back);
    seqcls_model_free(m);
}
END_TEST

START_TEST(flatten_needs_fixed_full_rows)
{
    static const int32_t full[3] = {6, 6, 6}, ragged[3] = {6, 5, 6};
    seqcls_model_t *m = NULL, *back = NULL;
    seqcls_tensor_t *x = tu_tensor(SEQCLS_F32, 3, 3, 6, 2), *x7 = tu_tensor(SEQCLS_F32, 3, 3, 7, 2);
    seqcls_tensor_t *z = tu_tensor(SEQCLS_F32, 2, 3, 1, 0), *z2 = tu_tensor(SEQCLS_F32, 2, 3, 1, 0);
    char buf[128];
    void *saved = NULL;
    size_t n = 0;
    int l, v;
    tu_fill_real(x, -1, 1, 1);
    OK(seqcls_model_create(&m, 2));
    OK(seqcls_add_input(m, 2, NULL));
    OK(seqcls_add_lstm(m, 3, SEQCLS_RETURN_SEQUENCES, NULL));
    FAILS(SEQCLS_E_STATE, "the number of steps is not fixed", seqcls_add_flatten(m, NULL));
    OK(seqcls_add_attention(m, SEQCLS_ATTN_FEATURE_TIME, 6, NULL));
    OK(seqcls_add_conv1d(m, 4, 3, 0, NULL));   /* valid: 6 steps -> 4 */
    /* a second layer built for a number of steps must agree with the first */
    FAILS(SEQCLS_E_STATE, "built for 6 steps, but the model's input has 6 steps, which give 4",
          seqcls_add_attention(m, SEQCLS_ATTN_FEATURE_TIME, 6, NULL));
    OK(seqcls_add_flatten(m, &l));
    ck_assert_int_eq(seqcls_layer_kind(m, l), SEQCLS_LAYER_FLATTEN);
    OK(seqcls_layer_get_int(m, l, SEQCLS_OPT_UNITS, &v));
    ck_assert_int_eq(v, 4);
    OK(seqcls_layer_describe(m, l, buf, sizeof buf));
    ck_assert_str_eq(buf, "flatten(steps=4) -> vector of 16");
    FAILS(SEQCLS_E_STATE, "cannot take a vector", seqcls_add_flatten(m, NULL));
    OK(seqcls_add_output(m, 1, NULL));
    OK(seqcls_forward(m, x, full, z, 1));
    OK(seqcls_forward(m, x, NULL, z2, 1));
    ck_assert(!memcmp(seqcls_tensor_data(z), seqcls_tensor_data(z2), 3 * sizeof(real_t)));
    FAILS(SEQCLS_E_RANGE, "layer 4 (flatten) needs all 4 steps of every row, but row 1 has 3",
          seqcls_forward(m, x, ragged, z2, 0));
    FAILS(SEQCLS_E_SHAPE, "built for T = 6 steps", seqcls_forward(m, x7, NULL, z2, 0));
    OK(seqcls_model_save_buffer(m, &saved, &n));
    OK(seqcls_model_load_buffer(&back, saved, n));
    OK(seqcls_forward(back, x, NULL, z2, 0));
    OK(seqcls_forward(m, x, NULL, z, 0));
    ck_assert(!memcmp(seqcls_tensor_data(z), seqcls_tensor_data(z2), 3 * sizeof(real_t)));
    seqcls_free(saved);
    seqcls_model_free(back);
    seqcls_model_free(m);

    /* convolutions that leave no step */
    OK(seqcls_model_create(&m, 2));
    OK(seqcls_add_input(m, 2, NULL));
    OK(seqcls_add_attention(m, SEQCLS_ATTN_FEATURE_TIME, 3, NULL));
    OK(seqcls_add_conv1d(m, 4, 4, 0, NULL));
    FAILS(SEQCLS_E_STATE, "leave none of the 3 steps", seqcls_add_flatten(m, NULL));
    seqcls_model_free(m);
    seqcls_tensor_free(x);
    seqcls_tensor_free(x7);
    seqcls_tensor_free(z);
    seqcls_tensor_free(z2);
}
END_TEST

/* Kim's CNN learns a toy task: class 1 rows hold the bigram (7, 8). */
START_TEST(kim_cnn_learns_a_bigram)
{
    enum { N = 256, T = 12, V = 20 };
    seqcls_model_t *m = NULL;
    seqcls_optimizer_t *o = NULL;
    seqcls_fit_config_t *c = NULL;
    seqcls_metrics_t *mt = NULL;
    seqcls_tensor_t *x = tu_tensor(SEQCLS_I32, 2, N, T, 0), *y = tu_tensor(SEQCLS_I32, 1, N, 0, 0);
    int32_t len[N], *ids = seqcls_tensor_data(x), *lab = seqcls_tensor_data(y);
    uint64_t s = 11;
    int i, t, l;
    for (i = 0; i < N; i++) {
        len[i] = 3 + (int)(tu_next(&s) % (T - 2));
        lab[i] = i % 2;
        for (t = 0; t < T; t++)
            ids[i * T + t] = t < len[i] ? 1 + (int)(tu_next(&s) % 6) : 0;   /* 1..6: noise */
        if (lab[i]) {
            t = (int)(tu_next(&s) % (len[i] - 1));
            ids[i * T + t] = 7;
            ids[i * T + t + 1] = 8;
        } else {   /* 7 and 8 both appear, never as 7 8 */
            ids[i * T] = 8;
            ids[i * T + len[i] - 1] = 7;
        }
    }
    OK(seqcls_model_create(&m, 4));
    OK(seqcls_add_embedding(m, V, 8, 0, NULL));
    OK(seqcls_add_conv1d(m, 16, 2, 0, &l));
    OK(seqcls_layer_set_int(m, l, SEQCLS_OPT_ACTIVATION, SEQCLS_ACT_RELU));
    OK(seqcls_add_pooling(m, SEQCLS_POOL_MAX, NULL));
    OK(seqcls_add_dropout(m, 0.2f, NULL));
    OK(seqcls_add_output(m, 1, NULL));
    OK(seqcls_optimizer_create(&o, SEQCLS_OPTIM_ADAM, 0.01f));
    OK(seqcls_fit_config_create(&c));
    OK(seqcls_fit_config_set_int(c, SEQCLS_FIT_EPOCHS, 30));
    OK(seqcls_fit(m, o, x, len, y, NULL, NULL, NULL, c));
    OK(seqcls_evaluate(m, x, len, y, 0, &mt));
    ck_assert_msg(seqcls_metrics_get(mt, SEQCLS_METRIC_ACCURACY, 0) >= 0.98, "accuracy %g",
                  seqcls_metrics_get(mt, SEQCLS_METRIC_ACCURACY, 0));
    seqcls_metrics_free(mt);
    seqcls_fit_config_free(c);
    seqcls_optimizer_free(o);
    seqcls_tensor_free(x);
    seqcls_tensor_free(y);
    seqcls_model_free(m);
}
END_TEST

/* With the 1.1 per-step outputs and streams: a 'same' convolution can
 * feed a per-step output (a CNN tagger), a valid one cannot (its steps no
 * longer line up with the input's); a stream refuses a convolution. */
START_TEST(per_step_outputs_and_streams)
{
    static const int32_t len[3] = {5, 2, 0};
    seqcls_model_t *m = NULL;
    seqcls_stream_t *st = (seqcls_stream_t *)1;
    seqcls_tensor_t *ids = tu_tensor(SEQCLS_I32, 2, 3, 5, 0);
    seqcls_tensor_t *p = tu_tensor(SEQCLS_F32, 3, 3, 5, 4);
    const real_t *pv = seqcls_tensor_data(p);
    int l, b, t, k;
    tu_fill_ids(ids, 1, 9, 5);
    OK(seqcls_model_create(&m, 1));
    OK(seqcls_add_embedding(m, 9, 4, 0, NULL));
    OK(seqcls_add_conv1d(m, 6, 3, 0, &l));
    FAILS(SEQCLS_E_STATE, "cannot follow a valid convolution, whose output has 2 steps fewer",
          seqcls_add_output(m, 4, NULL));
    seqcls_model_free(m);
    OK(seqcls_model_create(&m, 1));
    OK(seqcls_add_embedding(m, 9, 4, 0, NULL));
    OK(seqcls_add_conv1d(m, 6, 3, SEQCLS_PAD_SAME, &l));
    OK(seqcls_add_output(m, 4, NULL));
    ck_assert_int_eq(seqcls_model_output_ndim(m), 3);
    OK(seqcls_predict(m, ids, len, p, NULL));
    for (b = 0; b < 3; b++)
        for (t = 0; t < 5; t++) {
            double sum = 0;
            for (k = 0; k < 4; k++)
                sum += pv[(b * 5 + t) * 4 + k];
            ck_assert(t < len[b] ? fabs(sum - 1) < 1e-5 : sum == 0);
        }
    FAILS(SEQCLS_E_UNSUPPORTED, "conv1d", seqcls_stream_create(&st, m));
    ck_assert_ptr_null(st);
    seqcls_tensor_free(ids);
    seqcls_tensor_free(p);
    seqcls_model_free(m);
}
END_TEST

Suite *conv_suite(void)
{
    Suite *s = suite_create("conv1d and flatten");
    TCase *tc = tcase_create("conv");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, rows_do_not_depend_on_the_padding_after_them);
    tcase_add_test(tc, a_kernel_longer_than_the_batch);
    tcase_add_test(tc, options_description_and_refusals);
    tcase_add_test(tc, save_load_and_thread_counts);
    tcase_add_test(tc, flatten_needs_fixed_full_rows);
    tcase_add_test(tc, kim_cnn_learns_a_bigram);
    tcase_add_test(tc, per_step_outputs_and_streams);
    suite_add_tcase(s, tc);
    return s;
}
