/*
 * test_stream.c -- streams (seqcls_stream_*): a sequence pushed in chunks
 * of random sizes gives what seqcls_predict gives for the whole sequence;
 * refusals, bad inputs, reset, independence; and seqcls_sample.
 */
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"

#define V 11
#define F 3
#define T 23
#define ROWS 6

/* The models that can stream: m -> (ids?, classes, per step?); ids 2:
 * bags of F ids a step (an embedding bag, -1 in some slots) */
typedef struct {
    const char *name;
    int ids, per_step;
} arch_t;

static const arch_t archs[] = {
    {"embedding-lstm(seq)-lstm-output", 1, 0},
    {"input-gru(seq)-pooling(mean)-dense-output", 0, 0},
    {"embedding-gru(reset before, seq)-pooling(max)-output(1)", 1, 0},
    {"embedding-lstm(seq)-dense-output per step", 1, 1},
    {"input-dense-pooling(last)-output", 0, 0},
    {"embedding-dropout-lstm(seq, hard sigmoid)-gru-dropout-output(1)", 1, 0},
    {"input-lstm(seq)-gru(seq)-output(1) per step", 0, 1},
    {"embedding-lstm(64, seq)-gru(48, seq)-dense(40)-output per step", 1, 1},
    {"embedding_bag-lstm(seq)-pooling(mean)-output", 2, 0},
    {"embedding_bag-gru(seq)-output per step", 2, 1},
};
#define NARCH ((int)(sizeof archs / sizeof archs[0]))

static seqcls_model_t *build(int which)
{
    seqcls_model_t *m = NULL;
    int l;
    OK(seqcls_model_create(&m, 40 + (uint64_t)which));
    switch (which) {
    case 0:
        OK(seqcls_add_embedding(m, V, 5, 0, NULL));
        OK(seqcls_add_lstm(m, 7, SEQCLS_RETURN_SEQUENCES, NULL));
        OK(seqcls_add_lstm(m, 6, 0, NULL));
        OK(seqcls_add_output(m, 3, NULL));
        break;
    case 1:
        OK(seqcls_add_input(m, F, NULL));
        OK(seqcls_add_gru(m, 8, SEQCLS_RETURN_SEQUENCES, NULL));
        OK(seqcls_add_pooling(m, SEQCLS_POOL_MEAN, NULL));
        OK(seqcls_add_dense(m, 5, SEQCLS_ACT_RELU, NULL));
        OK(seqcls_add_output(m, 4, NULL));
        break;
    case 2:
        OK(seqcls_add_embedding(m, V, 4, -1, NULL));
        OK(seqcls_add_gru(m, 6, SEQCLS_RETURN_SEQUENCES | SEQCLS_GRU_RESET_BEFORE, NULL));
        OK(seqcls_add_pooling(m, SEQCLS_POOL_MAX, NULL));
        OK(seqcls_add_output(m, 1, NULL));
        break;
    case 3:
        OK(seqcls_add_embedding(m, V, 5, 0, NULL));
        OK(seqcls_add_lstm(m, 9, SEQCLS_RETURN_SEQUENCES, NULL));
        OK(seqcls_add_dense(m, 6, SEQCLS_ACT_TANH, NULL));
        OK(seqcls_add_output(m, V, NULL));
        break;
    case 4:
        OK(seqcls_add_input(m, F, NULL));
        OK(seqcls_add_dense(m, 4, SEQCLS_ACT_SIGMOID, NULL));
        OK(seqcls_add_pooling(m, SEQCLS_POOL_LAST, NULL));
        OK(seqcls_add_output(m, 2, NULL));
        break;
    case 5:
        OK(seqcls_add_embedding(m, V, 5, 0, NULL));
        OK(seqcls_add_dropout(m, 0.5f, NULL));
        OK(seqcls_add_lstm(m, 6, SEQCLS_RETURN_SEQUENCES, &l));
        OK(seqcls_layer_set_int(m, l, SEQCLS_OPT_RECURRENT_ACTIVATION, SEQCLS_ACT_HARD_SIGMOID));
        OK(seqcls_add_gru(m, 5, 0, NULL));
        OK(seqcls_add_dropout(m, 0.3f, NULL));
        OK(seqcls_add_output(m, 1, NULL));
        break;
    case 6:
        OK(seqcls_add_input(m, F, NULL));
        OK(seqcls_add_lstm(m, 6, SEQCLS_RETURN_SEQUENCES, NULL));
        OK(seqcls_add_gru(m, 5, SEQCLS_RETURN_SEQUENCES, NULL));
        OK(seqcls_add_output(m, 1, NULL));
        break;
    case 8:
        OK(seqcls_add_embedding_bag(m, V, 5, F, NULL));
        OK(seqcls_add_lstm(m, 6, SEQCLS_RETURN_SEQUENCES, NULL));
        OK(seqcls_add_pooling(m, SEQCLS_POOL_MEAN, NULL));
        OK(seqcls_add_output(m, 3, NULL));
        break;
    case 9:
        OK(seqcls_add_embedding_bag(m, V, 4, F, NULL));
        OK(seqcls_add_gru(m, 5, SEQCLS_RETURN_SEQUENCES, NULL));
        OK(seqcls_add_output(m, V, NULL));
        break;
    case 7:   /* sizes where the kernels' blocks and vector widths matter */
        OK(seqcls_add_embedding(m, V, 32, 0, NULL));
        OK(seqcls_add_lstm(m, 64, SEQCLS_RETURN_SEQUENCES, NULL));
        OK(seqcls_add_gru(m, 48, SEQCLS_RETURN_SEQUENCES, NULL));
        OK(seqcls_add_dense(m, 40, SEQCLS_ACT_RELU, NULL));
        OK(seqcls_add_output(m, V, NULL));
        break;
    }
    return m;
}

/* The input of row r, as a one-row tensor [1, T(, F)] and as the stream's [T(, F)]. */
static void make_input(int ids, uint64_t seed, seqcls_tensor_t **batch, seqcls_tensor_t **steps)
{
    *batch = ids == 1 ? tu_tensor(SEQCLS_I32, 2, 1, T, 0)
                      : tu_tensor(ids ? SEQCLS_I32 : SEQCLS_F32, 3, 1, T, F);
    *steps = ids == 1 ? tu_tensor(SEQCLS_I32, 1, T, 0, 0)
                      : tu_tensor(ids ? SEQCLS_I32 : SEQCLS_F32, 2, T, F, 0);
    if (ids)
        tu_fill_ids(*batch, ids == 2 ? -1 : 0, V, seed);
    else
        tu_fill_real(*batch, -2, 2, seed);
    memcpy(seqcls_tensor_data(*steps), seqcls_tensor_data(*batch),
           (size_t)seqcls_tensor_numel(*batch) * 4);
}

/* A view of steps [t0, t0 + n) of a stream input. */
static seqcls_tensor_t *chunk(const seqcls_tensor_t *steps, int ids, int t0, int n)
{
    seqcls_tensor_t *c = NULL;
    int64_t shape[2] = {n, F};
    OK(seqcls_tensor_wrap(&c, ids ? SEQCLS_I32 : SEQCLS_F32, ids == 1 ? 1 : 2, shape,
                          (char *)seqcls_tensor_data(steps) + (size_t)t0 * (ids == 1 ? 1 : F) * 4));
    return c;
}

/* Push row `steps` in random chunks; compare with predict on each prefix
 * (one result per sequence) or on the whole (per step). */
static double chunked_vs_predict(seqcls_model_t *m, const arch_t *a, uint64_t seed)
{
    const int C = seqcls_model_output_width(m);
    seqcls_tensor_t *batch, *steps, *p, *sp;
    seqcls_stream_t *s = NULL;
    double worst = 0;
    int t = 0, k;
    make_input(a->ids, seed, &batch, &steps);
    p = a->per_step ? tu_tensor(SEQCLS_F32, 3, 1, T, C) : tu_tensor(SEQCLS_F32, 2, 1, C, 0);
    sp = a->per_step ? tu_tensor(SEQCLS_F32, 2, T, C, 0) : tu_tensor(SEQCLS_F32, 1, C, 0, 0);
    OK(seqcls_stream_create(&s, m));
    if (a->per_step)
        OK(seqcls_predict(m, batch, NULL, p, NULL));
    while (t < T) {
        int n = (int)(tu_next(&seed) % 6);   /* 0 to 5 steps */
        seqcls_tensor_t *c, *q = NULL;
        int64_t qs[2] = {n, C};
        if (n > T - t)
            n = T - t;
        qs[0] = n;
        c = chunk(steps, a->ids, t, n);
        if (a->per_step) {
            OK(seqcls_tensor_wrap(&q, SEQCLS_F32, 2, qs, (real_t *)seqcls_tensor_data(sp) + (size_t)t * C));
            OK(seqcls_stream_push(s, c, n, q));
        } else {
            int32_t len = t + n;
            OK(seqcls_stream_push(s, c, n, sp));
            OK(seqcls_predict(m, batch, &len, p, NULL));
            for (k = 0; k < C; k++)
                worst = fmax(worst, fabs((double)((real_t *)seqcls_tensor_data(sp))[k] -
                                         ((real_t *)seqcls_tensor_data(p))[k]));
        }
        seqcls_tensor_free(c);
        seqcls_tensor_free(q);
        t += n;
    }
    if (a->per_step)
        for (k = 0; k < T * C; k++)
            worst = fmax(worst, fabs((double)((real_t *)seqcls_tensor_data(sp))[k] -
                                     ((real_t *)seqcls_tensor_data(p))[k]));
    seqcls_stream_free(s);
    seqcls_tensor_free(batch);
    seqcls_tensor_free(steps);
    seqcls_tensor_free(p);
    seqcls_tensor_free(sp);
    return worst;
}

START_TEST(chunks_equal_predict)
{
    double all = 0;
    int a, r;
    for (a = 0; a < NARCH; a++) {
        seqcls_model_t *m = build(a);
        double worst = 0;
        for (r = 0; r < ROWS * 5; r++)
            worst = fmax(worst, chunked_vs_predict(m, &archs[a], 1000 * (uint64_t)a + (uint64_t)r));
        printf("  stream %-62s max |stream - predict| %.2g\n", archs[a].name, worst);
        ck_assert_msg(worst < 1e-6, "%s: streamed probabilities differ by %g", archs[a].name, worst);
        all = fmax(all, worst);
        seqcls_model_free(m);
    }
    printf("  streams: %d models x %d random chunkings, max difference %.2g\n", NARCH, ROWS * 5,
           all);
}
END_TEST

/* Before any step, and with n = 0, the probabilities are those of the
 * sequence so far (empty: predict with length 0). */
START_TEST(empty_pushes_and_reset)
{
    seqcls_model_t *m = build(0);
    seqcls_stream_t *s = NULL, *fresh = NULL;
    seqcls_tensor_t *batch, *steps, *p = tu_tensor(SEQCLS_F32, 2, 1, 3, 0);
    seqcls_tensor_t *q = tu_tensor(SEQCLS_F32, 1, 3, 0, 0), *q2 = tu_tensor(SEQCLS_F32, 1, 3, 0, 0);
    const int32_t zero = 0;
    make_input(1, 5, &batch, &steps);
    OK(seqcls_stream_create(&s, m));
    OK(seqcls_stream_push(s, steps, 0, q));
    OK(seqcls_predict(m, batch, &zero, p, NULL));
    ck_assert(memcmp(seqcls_tensor_data(p), seqcls_tensor_data(q), 3 * sizeof(real_t)) == 0);
    OK(seqcls_stream_push(s, steps, 9, q));
    OK(seqcls_stream_push(s, steps, 0, q2));
    ck_assert(memcmp(seqcls_tensor_data(q2), seqcls_tensor_data(q), 3 * sizeof(real_t)) == 0);
    /* after a reset, as a new stream */
    OK(seqcls_stream_reset(s));
    OK(seqcls_stream_create(&fresh, m));
    OK(seqcls_stream_push(s, steps, 7, q));
    OK(seqcls_stream_push(fresh, steps, 7, q2));
    ck_assert(memcmp(seqcls_tensor_data(q2), seqcls_tensor_data(q), 3 * sizeof(real_t)) == 0);
    /* probs may be NULL: the state still moves on */
    OK(seqcls_stream_push(s, steps, 2, NULL));
    OK(seqcls_stream_push(s, steps, 0, q));
    OK(seqcls_stream_push(fresh, steps, 2, q2));
    ck_assert(memcmp(seqcls_tensor_data(q2), seqcls_tensor_data(q), 3 * sizeof(real_t)) == 0);
    FAILS(SEQCLS_E_INVALID_ARG, "stream is NULL", seqcls_stream_reset(NULL));
    seqcls_stream_free(NULL);
    seqcls_stream_free(s);
    seqcls_stream_free(fresh);
    seqcls_tensor_free(batch);
    seqcls_tensor_free(steps);
    seqcls_tensor_free(p);
    seqcls_tensor_free(q);
    seqcls_tensor_free(q2);
    seqcls_model_free(m);
}
END_TEST

START_TEST(layers_that_need_the_whole_sequence_are_refused)
{
    seqcls_model_t *m = NULL;
    seqcls_stream_t *s = (seqcls_stream_t *)&m;
    FAILS(SEQCLS_E_INVALID_ARG, "out is NULL", seqcls_stream_create(NULL, m));
    FAILS(SEQCLS_E_INVALID_ARG, "model is NULL", seqcls_stream_create(&s, NULL));
    ck_assert_ptr_null(s);
    OK(seqcls_model_create(&m, 1));
    OK(seqcls_add_embedding(m, V, 4, 0, NULL));
    OK(seqcls_add_lstm(m, 4, SEQCLS_RETURN_SEQUENCES, NULL));
    FAILS(SEQCLS_E_STATE, "no output layer", seqcls_stream_create(&s, m));
    OK(seqcls_add_gru(m, 4, SEQCLS_BIDIRECTIONAL, NULL));
    OK(seqcls_add_output(m, 2, NULL));
    FAILS(SEQCLS_E_UNSUPPORTED, "layer 2 (gru) cannot run step by step: it is bidirectional",
          seqcls_stream_create(&s, m));
    seqcls_model_free(m);

    OK(seqcls_model_create(&m, 1));
    OK(seqcls_add_embedding(m, V, 4, 0, NULL));
    OK(seqcls_add_lstm(m, 4, SEQCLS_RETURN_SEQUENCES, NULL));
    OK(seqcls_add_attention(m, SEQCLS_ATTN_BAHDANAU, 3, NULL));
    OK(seqcls_add_output(m, 2, NULL));
    FAILS(SEQCLS_E_UNSUPPORTED, "layer 2 (attention) cannot run step by step",
          seqcls_stream_create(&s, m));
    seqcls_model_free(m);

    OK(seqcls_model_create(&m, 1));
    OK(seqcls_add_input(m, F, NULL));
    OK(seqcls_add_pooling(m, SEQCLS_POOL_MEAN, NULL));
    OK(seqcls_add_batchnorm(m, NULL));
    OK(seqcls_add_output(m, 2, NULL));
    FAILS(SEQCLS_E_UNSUPPORTED, "layer 2 (batchnorm) cannot run step by step",
          seqcls_stream_create(&s, m));
    ck_assert_ptr_null(s);
    seqcls_model_free(m);
}
END_TEST

START_TEST(bad_pushes_change_nothing)
{
    seqcls_model_t *m = build(0), *mf = build(1), *ms = build(3);
    seqcls_stream_t *s = NULL, *sf = NULL, *ss = NULL, *ref = NULL;
    seqcls_tensor_t *batch, *steps, *fb, *fsteps;
    seqcls_tensor_t *q = tu_tensor(SEQCLS_F32, 1, 3, 0, 0), *q2 = tu_tensor(SEQCLS_F32, 1, 3, 0, 0);
    seqcls_tensor_t *q4 = tu_tensor(SEQCLS_F32, 1, 4, 0, 0), *wide = tu_tensor(SEQCLS_F32, 2, 1, 3, 0);
    seqcls_tensor_t *ps = tu_tensor(SEQCLS_F32, 2, 4, V, 0);
    seqcls_tensor_t *f2 = tu_tensor(SEQCLS_F32, 2, T, F + 1, 0), *i2 = tu_tensor(SEQCLS_I32, 2, 1, T, 0);
    make_input(1, 6, &batch, &steps);
    make_input(0, 7, &fb, &fsteps);
    OK(seqcls_stream_create(&s, m));
    OK(seqcls_stream_create(&ref, m));
    OK(seqcls_stream_create(&sf, mf));
    OK(seqcls_stream_create(&ss, ms));
    OK(seqcls_stream_push(s, steps, 4, q));
    OK(seqcls_stream_push(ref, steps, 4, q2));
    FAILS(SEQCLS_E_INVALID_ARG, "stream is NULL", seqcls_stream_push(NULL, steps, 1, q));
    FAILS(SEQCLS_E_INVALID_ARG, "input is NULL", seqcls_stream_push(s, NULL, 1, q));
    FAILS(SEQCLS_E_INVALID_ARG, "negative", seqcls_stream_push(s, steps, -1, q));
    FAILS(SEQCLS_E_SHAPE, "fewer than n_steps", seqcls_stream_push(s, steps, T + 1, q));
    FAILS(SEQCLS_E_SHAPE, "input", seqcls_stream_push(s, i2, 1, q));        /* [1, T]: rank 2 */
    FAILS(SEQCLS_E_SHAPE, "input", seqcls_stream_push(s, fsteps, 1, q));    /* floats */
    FAILS(SEQCLS_E_SHAPE, "probs", seqcls_stream_push(s, steps, 1, q4));
    FAILS(SEQCLS_E_SHAPE, "probs", seqcls_stream_push(s, steps, 1, wide));
    ((int32_t *)seqcls_tensor_data(steps))[2] = V;
    FAILS(SEQCLS_E_RANGE, "token id 11", seqcls_stream_push(s, steps, 3, q));
    ((int32_t *)seqcls_tensor_data(steps))[2] = 1;
    /* nothing moved: s still equals ref */
    OK(seqcls_stream_push(s, steps, 5, q));
    OK(seqcls_stream_push(ref, steps, 5, q2));
    ck_assert(memcmp(seqcls_tensor_data(q2), seqcls_tensor_data(q), 3 * sizeof(real_t)) == 0);

    /* float input: width, and NaN */
    FAILS(SEQCLS_E_SHAPE, "input", seqcls_stream_push(sf, f2, 1, q4));
    ((real_t *)seqcls_tensor_data(fsteps))[4] = (real_t)NAN;
    FAILS(SEQCLS_E_NUMERIC, "not finite", seqcls_stream_push(sf, fsteps, 3, q4));
    OK(seqcls_stream_push(sf, fsteps, 1, q4));   /* the NaN is at step 1 */

    /* per step: probs [n, C] */
    FAILS(SEQCLS_E_SHAPE, "probs", seqcls_stream_push(ss, steps, 3, ps));
    OK(seqcls_stream_push(ss, steps, 4, ps));
    OK(seqcls_stream_push(ss, steps, 0, NULL));

    /* a layer whose output is not finite (here a bias changed to Inf): SEQCLS_E_NUMERIC
     * naming the layer, state unchanged */
    {
        seqcls_tensor_t *w = NULL;
        OK(seqcls_param(m, seqcls_param_find(m, "3.output.bias"), &w, NULL));
        ((real_t *)seqcls_tensor_data(w))[0] = (real_t)INFINITY;
        FAILS(SEQCLS_E_NUMERIC, "layer 3 (output)", seqcls_stream_push(s, steps, 1, q));
        ((real_t *)seqcls_tensor_data(w))[0] = 0;
        /* weights are read at each push: both streams see the new bias */
        OK(seqcls_stream_push(s, steps, 2, q));
        OK(seqcls_stream_push(ref, steps, 2, q2));
        ck_assert(memcmp(seqcls_tensor_data(q2), seqcls_tensor_data(q), 3 * sizeof(real_t)) == 0);
    }
    seqcls_stream_free(s);
    seqcls_stream_free(ref);
    seqcls_stream_free(sf);
    seqcls_stream_free(ss);
    seqcls_tensor_free(batch);
    seqcls_tensor_free(steps);
    seqcls_tensor_free(fb);
    seqcls_tensor_free(fsteps);
    seqcls_tensor_free(q);
    seqcls_tensor_free(q2);
    seqcls_tensor_free(q4);
    seqcls_tensor_free(wide);
    seqcls_tensor_free(ps);
    seqcls_tensor_free(f2);
    seqcls_tensor_free(i2);
    seqcls_model_free(m);
    seqcls_model_free(mf);
    seqcls_model_free(ms);
}
END_TEST

/* ---- seqcls_sample ---- */

START_TEST(sample_argmax_and_errors)
{
    const float p[4] = {0.1f, 0.4f, 0.4f, 0.1f}, bad[2] = {-0.1f, 1.1f}, zero[3] = {0, 0, 0};
    const float one[1] = {0.75f}, nan[2] = {NAN, 0.5f};
    uint64_t st = 1, st2;
    ck_assert_int_eq(seqcls_sample(p, 4, 0, NULL), 1);   /* the first of equal ones */
    ck_assert_int_eq(seqcls_sample(one, 1, 0, NULL), 1);
    FAILS(SEQCLS_E_INVALID_ARG, "probs is NULL", seqcls_sample(NULL, 4, 1, &st));
    FAILS(SEQCLS_E_INVALID_ARG, "n = 0", seqcls_sample(p, 0, 1, &st));
    FAILS(SEQCLS_E_INVALID_ARG, "temperature", seqcls_sample(p, 4, -1, &st));
    FAILS(SEQCLS_E_INVALID_ARG, "temperature", seqcls_sample(p, 4, INFINITY, &st));
    FAILS(SEQCLS_E_INVALID_ARG, "rng_state is NULL", seqcls_sample(p, 4, 1, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "probs[0]", seqcls_sample(bad, 2, 1, &st));
    FAILS(SEQCLS_E_INVALID_ARG, "probs[0]", seqcls_sample(nan, 2, 1, &st));
    FAILS(SEQCLS_E_INVALID_ARG, "above 1", seqcls_sample(bad + 1, 1, 1, &st));
    FAILS(SEQCLS_E_INVALID_ARG, "no probability", seqcls_sample(zero, 3, 1, &st));
    ck_assert(st == 1);   /* failures draw nothing */
    /* the same seed, the same draws; each draw one step of splitmix64 */
    st = st2 = 99;
    ck_assert_int_eq(seqcls_sample(p, 4, 1, &st), seqcls_sample(p, 4, 1, &st2));
    ck_assert(st == st2 && st == 99 + 0x9e3779b97f4a7c15ull);
}
END_TEST

/* Frequencies over many draws follow p^(1/T) renormalised. */
START_TEST(sample_follows_tempered_probabilities)
{
    const float p[5] = {0.05f, 0.15f, 0.5f, 0.3f, 0.0f};
    const float temps[3] = {1.0f, 0.5f, 2.0f};
    const int draws = 200000;
    int k, i, c;
    for (k = 0; k < 3; k++) {
        double want[5], sum = 0, worst = 0;
        int64_t count[5] = {0};
        uint64_t st = 12345 + (uint64_t)k;
        for (c = 0; c < 5; c++)
            sum += (want[c] = pow(p[c], 1.0 / temps[k]));
        for (i = 0; i < draws; i++) {
            c = seqcls_sample(p, 5, temps[k], &st);
            ck_assert(c >= 0 && c < 5);
            count[c]++;
        }
        ck_assert_int_eq(count[4], 0);
        for (c = 0; c < 5; c++) {
            /* 5 standard deviations of a binomial count */
            const double q = want[c] / sum, sd = sqrt(draws * q * (1 - q)) + 1;
            worst = fmax(worst, fabs((double)count[c] - draws * q) / sd);
        }
        ck_assert_msg(worst < 5, "temperature %g: a count is %.1f standard deviations off",
                      (double)temps[k], worst);
    }
    {   /* n = 1: Bernoulli(p) over the classes 0 and 1 */
        const float one[1] = {0.2f};
        uint64_t st = 7;
        int64_t ones = 0;
        for (i = 0; i < draws; i++)
            ones += seqcls_sample(one, 1, 1, &st);
        ck_assert(fabs((double)ones - 0.2 * draws) < 5 * sqrt(draws * 0.16));
    }
}
END_TEST

Suite *stream_suite(void)
{
    Suite *s = suite_create("streams");
    TCase *tc = tcase_create("streams");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, chunks_equal_predict);
    tcase_add_test(tc, empty_pushes_and_reset);
    tcase_add_test(tc, layers_that_need_the_whole_sequence_are_refused);
    tcase_add_test(tc, bad_pushes_change_nothing);
    tcase_add_test(tc, sample_argmax_and_errors);
    tcase_add_test(tc, sample_follows_tempered_probabilities);
    suite_add_tcase(s, tc);
    return s;
}
