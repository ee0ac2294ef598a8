/*
 * test_rnn.c -- the LSTM and GRU layers through the public API (float
 * build): construction errors, options, parameter names and shapes, and
 * the packed-sequence semantics: padding changes nothing, empty rows give
 * zeros, runs are deterministic, predict agrees with forward from many
 * threads.  Numerical agreement with PyTorch is in tests/parity.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"

START_TEST(construction_errors)
{
    seqcls_model_t *m = NULL;
    int idx = -1, pool;
    FAILS(SEQCLS_E_INVALID_ARG, "model is NULL", seqcls_add_lstm(NULL, 4, 0, NULL));
    OK(seqcls_model_create(&m, 1));
    FAILS(SEQCLS_E_STATE, "first layer", seqcls_add_lstm(m, 4, 0, NULL));
    OK(seqcls_add_input(m, 3, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "hidden", seqcls_add_lstm(m, 0, 0, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "hidden", seqcls_add_gru(m, -3, 0, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "hidden", seqcls_add_gru(m, (1 << 20) + 1, 0, NULL));
    FAILS(SEQCLS_E_NOMEM, "too large", seqcls_add_lstm(m, 1 << 20, 0, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "SEQCLS_MERGE_SUM needs SEQCLS_BIDIRECTIONAL",
          seqcls_add_lstm(m, 4, SEQCLS_MERGE_SUM, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "unknown flags",
          seqcls_add_lstm(m, 4, SEQCLS_GRU_RESET_BEFORE, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "unknown flags", seqcls_add_gru(m, 4, 0x100, NULL));
    ck_assert_int_eq(seqcls_param_count(m), 0);   /* nothing was left behind */
    ck_assert_int_eq(seqcls_layer_count(m), 1);
    OK(seqcls_add_lstm(m, 4, SEQCLS_RETURN_SEQUENCES, &idx));
    ck_assert_int_eq(idx, 1);
    OK(seqcls_add_pooling(m, SEQCLS_POOL_MEAN, &pool));
    FAILS(SEQCLS_E_STATE, "cannot take a vector", seqcls_add_gru(m, 4, 0, NULL));
    seqcls_model_free(m);
}
END_TEST

START_TEST(options)
{
    seqcls_model_t *m = NULL;
    int rnn, dense;
    OK(seqcls_model_create(&m, 1));
    OK(seqcls_add_input(m, 3, NULL));
    OK(seqcls_add_gru(m, 4, SEQCLS_RETURN_SEQUENCES, &rnn));
    OK(seqcls_add_dense(m, 2, SEQCLS_ACT_NONE, &dense));
    OK(seqcls_layer_set_int(m, rnn, SEQCLS_OPT_RECURRENT_ACTIVATION, SEQCLS_ACT_HARD_SIGMOID));
    OK(seqcls_layer_set_int(m, rnn, SEQCLS_OPT_RECURRENT_ACTIVATION, SEQCLS_ACT_RELU));
    OK(seqcls_layer_set_int(m, rnn, SEQCLS_OPT_RECURRENT_ACTIVATION, SEQCLS_ACT_SIGMOID));
    FAILS(SEQCLS_E_INVALID_ARG, "SEQCLS_OPT_RECURRENT_ACTIVATION",
          seqcls_layer_set_int(m, rnn, SEQCLS_OPT_RECURRENT_ACTIVATION, SEQCLS_ACT_TANH));
    FAILS(SEQCLS_E_INVALID_ARG, "SEQCLS_OPT_RECURRENT_ACTIVATION",
          seqcls_layer_set_int(m, rnn, SEQCLS_OPT_RECURRENT_ACTIVATION, 99));
    FAILS(SEQCLS_E_INVALID_ARG, "does not apply",
          seqcls_layer_set_int(m, rnn, SEQCLS_OPT_FREEZE, 1));
    OK(seqcls_layer_set_float(m, rnn, SEQCLS_OPT_INPUT_DROPOUT, 0.0f));
    OK(seqcls_layer_set_float(m, rnn, SEQCLS_OPT_INPUT_DROPOUT, 0.5f));
    FAILS(SEQCLS_E_INVALID_ARG, "outside [0, 1)",
          seqcls_layer_set_float(m, rnn, SEQCLS_OPT_INPUT_DROPOUT, 1.0f));
    FAILS(SEQCLS_E_INVALID_ARG, "outside [0, 1)",
          seqcls_layer_set_float(m, rnn, SEQCLS_OPT_INPUT_DROPOUT, -0.1f));
    FAILS(SEQCLS_E_INVALID_ARG, "not finite",
          seqcls_layer_set_float(m, rnn, SEQCLS_OPT_INPUT_DROPOUT, NAN));
    FAILS(SEQCLS_E_INVALID_ARG, "does not apply",
          seqcls_layer_set_float(m, rnn, SEQCLS_OPT_BN_MOMENTUM, 0.1f));
    /* recurrent options on other layers */
    FAILS(SEQCLS_E_INVALID_ARG, "(dense)",
          seqcls_layer_set_int(m, dense, SEQCLS_OPT_RECURRENT_ACTIVATION, SEQCLS_ACT_RELU));
    FAILS(SEQCLS_E_INVALID_ARG, "does not apply to layer 0 (input)",
          seqcls_layer_set_float(m, 0, SEQCLS_OPT_INPUT_DROPOUT, 0.2f));
    FAILS(SEQCLS_E_RANGE, "does not exist",
          seqcls_layer_set_int(m, 7, SEQCLS_OPT_RECURRENT_ACTIVATION, SEQCLS_ACT_RELU));
    seqcls_model_free(m);
}
END_TEST

static void expect_param(seqcls_model_t *m, int i, const char *name, int64_t d0, int64_t d1)
{
    seqcls_tensor_t *v = NULL, *g = NULL;
    ck_assert_str_eq(seqcls_param_name(m, i), name);
    ck_assert_int_eq(seqcls_param_find(m, name), i);
    OK(seqcls_param(m, i, &v, &g));
    ck_assert_int_eq(seqcls_tensor_ndim(v), d1 ? 2 : 1);
    ck_assert_int_eq(seqcls_tensor_dim(v, 0), d0);
    if (d1)
        ck_assert_int_eq(seqcls_tensor_dim(v, 1), d1);
    ck_assert_int_eq(seqcls_tensor_numel(g), seqcls_tensor_numel(v));
}

START_TEST(parameters_are_named_like_pytorch)
{
    seqcls_model_t *m = NULL;
    const int H = 5;
    OK(seqcls_model_create(&m, 3));
    OK(seqcls_add_input(m, 7, NULL));
    OK(seqcls_add_lstm(m, H, SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES, NULL));
    OK(seqcls_add_gru(m, 6, SEQCLS_GRU_RESET_BEFORE, NULL));
    ck_assert_int_eq(seqcls_param_count(m), 12);
    expect_param(m, 0, "1.lstm.weight_ih_l0", 4 * H, 7);
    expect_param(m, 1, "1.lstm.weight_hh_l0", 4 * H, H);
    expect_param(m, 2, "1.lstm.bias_ih_l0", 4 * H, 0);
    expect_param(m, 3, "1.lstm.bias_hh_l0", 4 * H, 0);
    expect_param(m, 4, "1.lstm.weight_ih_l0_reverse", 4 * H, 7);
    expect_param(m, 5, "1.lstm.weight_hh_l0_reverse", 4 * H, H);
    expect_param(m, 6, "1.lstm.bias_ih_l0_reverse", 4 * H, 0);
    expect_param(m, 7, "1.lstm.bias_hh_l0_reverse", 4 * H, 0);
    expect_param(m, 8, "2.gru.weight_ih_l0", 18, 2 * H);   /* takes the concatenation */
    expect_param(m, 9, "2.gru.weight_hh_l0", 18, 6);
    expect_param(m, 10, "2.gru.bias_ih_l0", 18, 0);
    expect_param(m, 11, "2.gru.bias_hh_l0", 18, 0);
    ck_assert_int_eq(seqcls_param_find(m, "2.gru.weight_ih_l0_reverse"), -1);
    seqcls_model_free(m);
}
END_TEST

START_TEST(initialisation_is_uniform_in_one_over_sqrt_hidden)
{
    seqcls_model_t *m = NULL;
    const int H = 16;
    double bound = 1.0 / 4.0, lo = 1, hi = -1;
    int i;
    OK(seqcls_model_create(&m, 4));
    OK(seqcls_add_input(m, 9, NULL));
    OK(seqcls_add_gru(m, H, SEQCLS_BIDIRECTIONAL, NULL));
    for (i = 0; i < seqcls_param_count(m); i++) {
        seqcls_tensor_t *v = NULL;
        const real_t *w;
        int64_t k;
        OK(seqcls_param(m, i, &v, NULL));
        w = seqcls_tensor_data(v);
        for (k = 0; k < seqcls_tensor_numel(v); k++) {
            ck_assert(w[k] >= -bound && w[k] <= bound);
            lo = fmin(lo, w[k]);
            hi = fmax(hi, w[k]);
        }
    }
    ck_assert(lo < -0.9 * bound && hi > 0.9 * bound);
    seqcls_model_free(m);
}
END_TEST

/* input(3) -> bi lstm (sequences) -> gru(flags2) [-> pooling] -> output(C) */
static seqcls_model_t *stacked_model(uint64_t seed, unsigned flags2, int C, float dropout)
{
    seqcls_model_t *m = NULL;
    int l1;
    OK(seqcls_model_create(&m, seed));
    OK(seqcls_add_input(m, 3, NULL));
    OK(seqcls_add_lstm(m, 4, SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES, &l1));
    if (dropout > 0)
        OK(seqcls_layer_set_float(m, l1, SEQCLS_OPT_INPUT_DROPOUT, dropout));
    OK(seqcls_add_gru(m, 5, flags2, NULL));
    if (flags2 & SEQCLS_RETURN_SEQUENCES)
        OK(seqcls_add_pooling(m, SEQCLS_POOL_MAX, NULL));
    OK(seqcls_add_output(m, C, NULL));
    return m;
}

static const int32_t lens[6] = {7, 0, 3, 1, 7, 5};

START_TEST(padding_changes_nothing)
{
    static const unsigned variants[3] = {
        SEQCLS_BIDIRECTIONAL, SEQCLS_BIDIRECTIONAL | SEQCLS_MERGE_SUM | SEQCLS_RETURN_SEQUENCES,
        SEQCLS_GRU_RESET_BEFORE | SEQCLS_RETURN_SEQUENCES};
    seqcls_model_t *m = stacked_model(5, variants[_i], 3, 0);
    seqcls_tensor_t *x = tu_tensor(SEQCLS_F32, 3, 6, 7, 3), *y1 = tu_tensor(SEQCLS_F32, 2, 6, 3, 0);
    seqcls_tensor_t *y2 = tu_tensor(SEQCLS_F32, 2, 6, 3, 0), *g = NULL;
    real_t *xd = seqcls_tensor_data(x), *g1;
    int b, t, k;
    tu_fill_real(x, -1, 1, 3);
    OK(seqcls_forward(m, x, lens, y1, 1));
    OK(seqcls_backward(m, y1));
    OK(seqcls_input_grad(m, &g));
    g1 = malloc(6 * 7 * 3 * sizeof *g1);
    memcpy(g1, seqcls_tensor_data(g), 6 * 7 * 3 * sizeof *g1);
    for (b = 0; b < 6; b++)
        for (t = lens[b]; t < 7; t++)
            for (k = 0; k < 3; k++) {
                ck_assert(g1[(b * 7 + t) * 3 + k] == 0);
                xd[(b * 7 + t) * 3 + k] = (real_t)(1e6 * (k + 1));
            }
    OK(seqcls_forward(m, x, lens, y2, 1));
    ck_assert_mem_eq(seqcls_tensor_data(y1), seqcls_tensor_data(y2), 6 * 3 * sizeof(real_t));
    OK(seqcls_backward(m, y1));
    OK(seqcls_input_grad(m, &g));
    ck_assert_mem_eq(g1, seqcls_tensor_data(g), 6 * 7 * 3 * sizeof *g1);
    free(g1);
    seqcls_tensor_free(x);
    seqcls_tensor_free(y1);
    seqcls_tensor_free(y2);
    seqcls_model_free(m);
}
END_TEST

/* A row of length 0 gives zero final states and zero sequences: with an
 * identity output layer the logits are the features themselves. */
START_TEST(empty_rows_give_zeros)
{
    static const unsigned variants[4] = {
        SEQCLS_BIDIRECTIONAL, SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES,
        SEQCLS_BIDIRECTIONAL | SEQCLS_MERGE_SUM, SEQCLS_RETURN_SEQUENCES};
    const unsigned flags = variants[_i % 4];
    const int D = (flags & SEQCLS_BIDIRECTIONAL) && !(flags & SEQCLS_MERGE_SUM) ? 8 : 4;
    static const int32_t lens0[4] = {0, 3, 0, 1}, all0[4] = {0, 0, 0, 0};
    seqcls_model_t *m = NULL;
    seqcls_tensor_t *x = tu_tensor(SEQCLS_F32, 3, 4, 3, 2), *y = tu_tensor(SEQCLS_F32, 2, 4, D, 0);
    seqcls_tensor_t *w = NULL, *bias = NULL;
    const real_t *yd = seqcls_tensor_data(y);
    char name[32];
    int out, k;
    OK(seqcls_model_create(&m, 6));
    OK(seqcls_add_input(m, 2, NULL));
    if (_i < 4)
        OK(seqcls_add_lstm(m, 4, flags, NULL));
    else
        OK(seqcls_add_gru(m, 4, flags, NULL));
    if (flags & SEQCLS_RETURN_SEQUENCES)
        OK(seqcls_add_pooling(m, SEQCLS_POOL_MEAN, NULL));
    OK(seqcls_add_output(m, D, &out));
    snprintf(name, sizeof name, "%d.output.weight", out);
    OK(seqcls_param(m, seqcls_param_find(m, name), &w, NULL));
    snprintf(name, sizeof name, "%d.output.bias", out);
    OK(seqcls_param(m, seqcls_param_find(m, name), &bias, NULL));
    memset(seqcls_tensor_data(w), 0, (size_t)D * D * sizeof(real_t));
    memset(seqcls_tensor_data(bias), 0, (size_t)D * sizeof(real_t));
    for (k = 0; k < D; k++)
        ((real_t *)seqcls_tensor_data(w))[k * D + k] = 1;
    tu_fill_real(x, -1, 1, 8);
    OK(seqcls_forward(m, x, lens0, y, 1));
    for (k = 0; k < D; k++) {
        ck_assert(yd[0 * D + k] == 0);
        ck_assert(yd[2 * D + k] == 0);
    }
    ck_assert(yd[1 * D] != 0);
    OK(seqcls_backward(m, y));
    OK(seqcls_forward(m, x, all0, y, 1));   /* a batch with no valid step at all */
    for (k = 0; k < 4 * D; k++)
        ck_assert(yd[k] == 0);
    OK(seqcls_backward(m, y));
    seqcls_tensor_free(x);
    seqcls_tensor_free(y);
    seqcls_model_free(m);
}
END_TEST

START_TEST(deterministic)
{
    seqcls_model_t *a = stacked_model(9, SEQCLS_BIDIRECTIONAL, 2, 0.3f);
    seqcls_model_t *b = stacked_model(9, SEQCLS_BIDIRECTIONAL, 2, 0.3f);
    seqcls_tensor_t *x = tu_tensor(SEQCLS_F32, 3, 6, 7, 3);
    seqcls_tensor_t *ya = tu_tensor(SEQCLS_F32, 2, 6, 2, 0);
    seqcls_tensor_t *yb = tu_tensor(SEQCLS_F32, 2, 6, 2, 0);
    seqcls_tensor_t *y0 = tu_tensor(SEQCLS_F32, 2, 6, 2, 0);
    int i;
    tu_fill_real(x, -1, 1, 10);
    for (i = 0; i < seqcls_param_count(a); i++) {
        seqcls_tensor_t *va, *vb;
        OK(seqcls_param(a, i, &va, NULL));
        OK(seqcls_param(b, i, &vb, NULL));
        ck_assert_mem_eq(seqcls_tensor_data(va), seqcls_tensor_data(vb),
                         (size_t)seqcls_tensor_numel(va) * sizeof(real_t));
    }
    /* training with input dropout: same seed, same masks, same numbers */
    OK(seqcls_forward(a, x, lens, ya, 1));
    OK(seqcls_forward(b, x, lens, yb, 1));
    ck_assert_mem_eq(seqcls_tensor_data(ya), seqcls_tensor_data(yb), 12 * sizeof(real_t));
    /* inference: no dropout, repeatable, and different from training */
    OK(seqcls_forward(a, x, lens, y0, 0));
    OK(seqcls_forward(a, x, lens, yb, 0));
    ck_assert_mem_eq(seqcls_tensor_data(y0), seqcls_tensor_data(yb), 12 * sizeof(real_t));
    ck_assert(memcmp(seqcls_tensor_data(y0), seqcls_tensor_data(ya), 12 * sizeof(real_t)) != 0);
    seqcls_tensor_free(x);
    seqcls_tensor_free(ya);
    seqcls_tensor_free(yb);
    seqcls_tensor_free(y0);
    seqcls_model_free(a);
    seqcls_model_free(b);
}
END_TEST

/* Inference computes each step's input projection inside the step and
 * keeps no gate values; without dropout it must give the training
 * forward's numbers exactly, at one thread and at two. */
START_TEST(inference_equals_training_forward)
{
    static const unsigned variants[3] = {
        SEQCLS_BIDIRECTIONAL, SEQCLS_BIDIRECTIONAL | SEQCLS_MERGE_SUM | SEQCLS_RETURN_SEQUENCES,
        SEQCLS_GRU_RESET_BEFORE | SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES};
    seqcls_model_t *m = stacked_model(4, variants[_i], 3, 0);
    seqcls_tensor_t *x = tu_tensor(SEQCLS_F32, 3, 6, 7, 3), *yt = tu_tensor(SEQCLS_F32, 2, 6, 3, 0);
    seqcls_tensor_t *yi = tu_tensor(SEQCLS_F32, 2, 6, 3, 0);
    const int threads = seqcls_get_num_threads();
    int n;
    tu_fill_real(x, -1, 1, 5);
    OK(seqcls_forward(m, x, lens, yt, 1));
    for (n = 1; n <= 2; n++) {
        OK(seqcls_set_num_threads(n));
        OK(seqcls_forward(m, x, lens, yi, 0));
        ck_assert_mem_eq(seqcls_tensor_data(yt), seqcls_tensor_data(yi), 18 * sizeof(real_t));
    }
    OK(seqcls_set_num_threads(threads));
    seqcls_tensor_free(x);
    seqcls_tensor_free(yt);
    seqcls_tensor_free(yi);
    seqcls_model_free(m);
}
END_TEST

/* seqcls_predict from several threads at once agrees with forward. */
typedef struct {
    const seqcls_model_t *m;
    const seqcls_tensor_t *x;
    seqcls_tensor_t *probs;
    int rc;
} predict_job_t;

static void *predict_job(void *arg)
{
    predict_job_t *j = arg;
    int r;
    for (r = 0; r < 20 && j->rc == SEQCLS_OK; r++)
        j->rc = seqcls_predict(j->m, j->x, lens, j->probs, NULL);
    return NULL;
}

START_TEST(predict_from_threads)
{
    seqcls_model_t *m = stacked_model(11, SEQCLS_BIDIRECTIONAL | SEQCLS_MERGE_SUM, 3, 0.2f);
    seqcls_tensor_t *x = tu_tensor(SEQCLS_F32, 3, 6, 7, 3), *y = tu_tensor(SEQCLS_F32, 2, 6, 3, 0);
    predict_job_t jobs[4];
    pthread_t th[4];
    const real_t *z;
    double want[18];
    int i, b, k;
    tu_fill_real(x, -1, 1, 12);
    OK(seqcls_forward(m, x, lens, y, 0));
    z = seqcls_tensor_data(y);
    for (b = 0; b < 6; b++) {
        double mx = z[b * 3], s = 0;
        for (k = 1; k < 3; k++)
            mx = fmax(mx, z[b * 3 + k]);
        for (k = 0; k < 3; k++)
            s += exp(z[b * 3 + k] - mx);
        for (k = 0; k < 3; k++)
            want[b * 3 + k] = exp(z[b * 3 + k] - mx) / s;
    }
    for (i = 0; i < 4; i++) {
        jobs[i].m = m;
        jobs[i].x = x;
        jobs[i].probs = tu_tensor(SEQCLS_F32, 2, 6, 3, 0);
        jobs[i].rc = SEQCLS_OK;
        ck_assert_int_eq(pthread_create(&th[i], NULL, predict_job, &jobs[i]), 0);
    }
    for (i = 0; i < 4; i++) {
        const real_t *p;
        pthread_join(th[i], NULL);
        OK(jobs[i].rc);
        p = seqcls_tensor_data(jobs[i].probs);
        for (k = 0; k < 18; k++)
            ck_assert_msg(fabs(p[k] - want[k]) < 1e-6, "thread %d prob %d: %g vs %g", i, k,
                          (double)p[k], want[k]);
        seqcls_tensor_free(jobs[i].probs);
    }
    seqcls_tensor_free(x);
    seqcls_tensor_free(y);
    seqcls_model_free(m);
}
END_TEST

Suite *rnn_suite(void)
{
    Suite *s = suite_create("rnn");
    TCase *tc = tcase_create("lstm/gru");
    tcase_add_test(tc, construction_errors);
    tcase_add_test(tc, options);
    tcase_add_test(tc, parameters_are_named_like_pytorch);
    tcase_add_test(tc, initialisation_is_uniform_in_one_over_sqrt_hidden);
    tcase_add_loop_test(tc, padding_changes_nothing, 0, 3);
    tcase_add_loop_test(tc, empty_rows_give_zeros, 0, 8);
    tcase_add_test(tc, deterministic);
    tcase_add_loop_test(tc, inference_equals_training_forward, 0, 3);
    tcase_add_test(tc, predict_from_threads);
    suite_add_tcase(s, tc);
    return s;
}
