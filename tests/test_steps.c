/*
 * test_steps.c -- per-step outputs (seqcls_add_output after a sequence):
 * shapes of logits, probabilities, dlogits and labels; the loss over valid
 * steps only; token-level training and evaluation; bad inputs.
 */
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"

#define B 4
#define T 5
#define V 12
#define C 3

static const int32_t lens[B] = {5, 2, 0, 3};

static seqcls_model_t *tagger(unsigned flags, int classes)
{
    seqcls_model_t *m = NULL;
    OK(seqcls_model_create(&m, 7));
    OK(seqcls_add_embedding(m, V, 6, 0, NULL));
    OK(seqcls_add_lstm(m, 5, flags | SEQCLS_RETURN_SEQUENCES, NULL));
    OK(seqcls_add_output(m, classes, NULL));
    return m;
}

START_TEST(shapes_and_introspection)
{
    seqcls_model_t *m = tagger(SEQCLS_BIDIRECTIONAL, C), *v = NULL;
    char buf[128];
    ck_assert_int_eq(seqcls_model_output_ndim(m), 3);
    ck_assert_int_eq(seqcls_model_output_width(m), C);
    OK(seqcls_layer_describe(m, 2, buf, sizeof buf));
    ck_assert_str_eq(buf, "output(classes=3, softmax, per step) -> sequence of 3");
    OK(seqcls_model_create(&v, 1));
    FAILS(SEQCLS_E_INVALID_ARG, "model is NULL", seqcls_model_output_ndim(NULL));
    FAILS(SEQCLS_E_STATE, "no output layer", seqcls_model_output_ndim(v));
    OK(seqcls_add_embedding(v, V, 4, 0, NULL));
    OK(seqcls_add_pooling(v, SEQCLS_POOL_MEAN, NULL));
    OK(seqcls_add_output(v, 2, NULL));
    ck_assert_int_eq(seqcls_model_output_ndim(v), 2);
    seqcls_model_free(v);
    seqcls_model_free(m);
}
END_TEST

START_TEST(forward_predict_loss_per_step)
{
    seqcls_model_t *m = tagger(SEQCLS_BIDIRECTIONAL, C);
    seqcls_tensor_t *ids = tu_tensor(SEQCLS_I32, 2, B, T, 0);
    seqcls_tensor_t *z = tu_tensor(SEQCLS_F32, 3, B, T, C), *p = tu_tensor(SEQCLS_F32, 3, B, T, C);
    seqcls_tensor_t *y = tu_tensor(SEQCLS_I32, 2, B, T, 0), *bad = tu_tensor(SEQCLS_F32, 2, B, C, 0);
    const real_t *zv = seqcls_tensor_data(z), *pv = seqcls_tensor_data(p);
    int32_t *yv = seqcls_tensor_data(y), *idv = seqcls_tensor_data(ids);
    double want = 0;
    float loss = -1;
    int b, t, k, count = 0;

    tu_fill_ids(ids, 1, V, 3);
    for (b = 0; b < B; b++)
        for (t = 0; t < T; t++) {
            yv[b * T + t] = t < lens[b] ? (b + t) % C : -100;   /* padding: ignored */
            if (t >= lens[b])
                idv[b * T + t] = 9999;   /* never read */
        }
    FAILS(SEQCLS_E_SHAPE, "logits", seqcls_forward(m, ids, lens, bad, 1));
    OK(seqcls_forward(m, ids, lens, z, 1));
    OK(seqcls_predict(m, ids, lens, p, NULL));
    FAILS(SEQCLS_E_SHAPE, "probs", seqcls_predict(m, ids, lens, bad, NULL));
    for (b = 0; b < B; b++)
        for (t = 0; t < T; t++) {
            const real_t *zr = zv + (b * T + t) * C, *pr = pv + (b * T + t) * C;
            double mx = zr[0], s = 0, ps = 0;
            if (t >= lens[b]) {
                for (k = 0; k < C; k++)
                    ck_assert(zr[k] == 0 && pr[k] == 0);
                continue;
            }
            for (k = 1; k < C; k++)
                mx = fmax(mx, zr[k]);
            for (k = 0; k < C; k++)
                s += exp(zr[k] - mx);
            for (k = 0; k < C; k++) {
                ck_assert(fabs(pr[k] - exp(zr[k] - mx) / s) < 1e-6);
                ps += pr[k];
            }
            ck_assert(fabs(ps - 1) < 1e-5);
            want += mx + log(s) - zr[yv[b * T + t]];
            count++;
        }
    want /= count;
    {
        seqcls_tensor_t *y1 = tu_tensor(SEQCLS_I32, 1, B, 0, 0);
        FAILS(SEQCLS_E_SHAPE, "labels", seqcls_loss_backward(m, y1, &loss));
        seqcls_tensor_free(y1);
    }
    yv[1 * T + 1] = C;   /* a valid step */
    FAILS(SEQCLS_E_RANGE, "labels[1, 1] = 3", seqcls_loss_backward(m, y, &loss));
    yv[1 * T + 1] = (1 + 1) % C;
    OK(seqcls_loss_backward(m, y, &loss));
    ck_assert_msg(fabs(loss - want) < 1e-5, "loss %g, want %g", (double)loss, want);
    seqcls_tensor_free(ids);
    seqcls_tensor_free(z);
    seqcls_tensor_free(p);
    seqcls_tensor_free(y);
    seqcls_tensor_free(bad);
    seqcls_model_free(m);
}
END_TEST

START_TEST(custom_dlogits_ignore_padding)
{
    seqcls_model_t *m = tagger(0, 1);
    seqcls_tensor_t *ids = tu_tensor(SEQCLS_I32, 2, B, T, 0);
    seqcls_tensor_t *d = tu_tensor(SEQCLS_F32, 3, B, T, 1), *d2 = tu_tensor(SEQCLS_F32, 2, B, 1, 0);
    real_t *dv = seqcls_tensor_data(d);
    int b, t;
    tu_fill_ids(ids, 1, V, 5);
    tu_fill_real(d, -1, 1, 6);
    OK(seqcls_forward(m, ids, lens, NULL, 1));
    FAILS(SEQCLS_E_SHAPE, "dlogits", seqcls_backward(m, d2));
    for (b = 0; b < B; b++)
        for (t = lens[b]; t < T; t++)
            dv[b * T + t] = (real_t)NAN;
    OK(seqcls_backward(m, d));
    dv[3 * T + 2] = (real_t)INFINITY;   /* valid step */
    FAILS(SEQCLS_E_NUMERIC, "dlogits", seqcls_backward(m, d));
    seqcls_tensor_free(ids);
    seqcls_tensor_free(d);
    seqcls_tensor_free(d2);
    seqcls_model_free(m);
}
END_TEST

/* A batch whose rows all have length 0: loss 0, no gradient. */
START_TEST(no_valid_step_gives_zero_loss)
{
    seqcls_model_t *m = tagger(0, C);
    seqcls_tensor_t *ids = tu_tensor(SEQCLS_I32, 2, 2, 3, 0), *y = tu_tensor(SEQCLS_I32, 2, 2, 3, 0);
    const int32_t zero[2] = {0, 0};
    float loss = -1;
    int i;
    OK(seqcls_zero_grad(m));
    OK(seqcls_forward(m, ids, zero, NULL, 1));
    OK(seqcls_loss_backward(m, y, &loss));
    ck_assert(loss == 0);
    for (i = 0; i < seqcls_param_count(m); i++) {
        seqcls_tensor_t *g = NULL;
        int64_t k;
        OK(seqcls_param(m, i, NULL, &g));
        for (k = 0; k < seqcls_tensor_numel(g); k++)
            ck_assert(((real_t *)seqcls_tensor_data(g))[k] == 0);
    }
    seqcls_tensor_free(ids);
    seqcls_tensor_free(y);
    seqcls_model_free(m);
}
END_TEST

/*
 * A tagging task that needs the right context (the backward direction):
 * the tag of a step is the next token (1 or 2), or 0 at a row's last step.
 * fit with per-step labels [N, T] and evaluate token by token.
 */
#define N 384
#define TT 10

static void make_task(seqcls_tensor_t *x, seqcls_tensor_t *y, int32_t *len, uint64_t seed)
{
    int32_t *xv = seqcls_tensor_data(x), *yv = seqcls_tensor_data(y);
    int n, t;
    for (n = 0; n < N; n++) {
        len[n] = 3 + (int32_t)(tu_next(&seed) % (TT - 2));
        for (t = 0; t < TT; t++)
            xv[n * TT + t] = t < len[n] ? 1 + (int32_t)(tu_next(&seed) % 2) : 0;
        for (t = 0; t < TT; t++)
            yv[n * TT + t] = t >= len[n] ? -1   /* padding: never read */
                             : t + 1 < len[n] ? xv[n * TT + t + 1] : 0;
    }
}

static int64_t epochs_seen;
static float last_acc;
static int on_epoch(void *user, int epoch, float loss, float acc, float vl, float va)
{
    (void)user;
    (void)epoch;
    (void)vl;
    (void)va;
    ck_assert(isfinite(loss));
    epochs_seen++;
    last_acc = acc;
    return 0;
}

START_TEST(fit_and_evaluate_tokens)
{
    seqcls_model_t *m = NULL;
    seqcls_optimizer_t *o = NULL;
    seqcls_fit_config_t *cfg = NULL;
    seqcls_metrics_t *mt = NULL;
    seqcls_tensor_t *x = tu_tensor(SEQCLS_I32, 2, N, TT, 0), *y = tu_tensor(SEQCLS_I32, 2, N, TT, 0);
    seqcls_tensor_t *vx = tu_tensor(SEQCLS_I32, 2, N, TT, 0), *vy = tu_tensor(SEQCLS_I32, 2, N, TT, 0);
    seqcls_tensor_t *y1 = tu_tensor(SEQCLS_I32, 1, N, 0, 0);
    int32_t len[N], vlen[N];
    int64_t tokens = 0, support = 0;
    int n, k;
    make_task(x, y, len, 1);
    make_task(vx, vy, vlen, 2);
    OK(seqcls_model_create(&m, 3));
    OK(seqcls_add_embedding(m, 3, 8, 0, NULL));
    OK(seqcls_add_lstm(m, 16, SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES, NULL));
    OK(seqcls_add_output(m, 3, NULL));
    OK(seqcls_optimizer_create(&o, SEQCLS_OPTIM_ADAM, 0.02f));
    OK(seqcls_fit_config_create(&cfg));
    OK(seqcls_fit_config_set_int(cfg, SEQCLS_FIT_EPOCHS, 10));
    OK(seqcls_fit_config_set_callbacks(cfg, NULL, on_epoch, NULL, NULL));
    FAILS(SEQCLS_E_SHAPE, "labels", seqcls_fit(m, o, x, len, y1, NULL, NULL, NULL, cfg));
    FAILS(SEQCLS_E_SHAPE, "labels", seqcls_evaluate(m, x, len, y1, 0, &mt));
    ((int32_t *)seqcls_tensor_data(y))[0] = 3;
    FAILS(SEQCLS_E_RANGE, "label of row 0 at step 0 is 3", seqcls_fit(m, o, x, len, y, NULL, NULL,
                                                                     NULL, cfg));
    ((int32_t *)seqcls_tensor_data(y))[0] = ((int32_t *)seqcls_tensor_data(x))[1];
    epochs_seen = 0;
    OK(seqcls_fit(m, o, x, len, y, vx, vlen, vy, cfg));
    ck_assert_int_eq(epochs_seen, 10);
    ck_assert_msg(last_acc > 0.9f, "training token accuracy %g", (double)last_acc);
    OK(seqcls_evaluate(m, vx, vlen, vy, 50, &mt));
    for (n = 0; n < N; n++)
        tokens += vlen[n];
    ck_assert_int_eq((int64_t)seqcls_metrics_get(mt, SEQCLS_METRIC_COUNT, 0), tokens);
    for (k = 0; k < 3; k++)
        support += (int64_t)seqcls_metrics_get(mt, SEQCLS_METRIC_SUPPORT, k);
    ck_assert_int_eq(support, tokens);
    printf("  tagger: token accuracy %.4f, F1 per class %.3f %.3f %.3f over %lld tokens\n",
           seqcls_metrics_get(mt, SEQCLS_METRIC_ACCURACY, 0),
           seqcls_metrics_get(mt, SEQCLS_METRIC_F1, 0), seqcls_metrics_get(mt, SEQCLS_METRIC_F1, 1),
           seqcls_metrics_get(mt, SEQCLS_METRIC_F1, 2), (long long)tokens);
    ck_assert(seqcls_metrics_get(mt, SEQCLS_METRIC_ACCURACY, 0) > 0.9);
    for (k = 0; k < 3; k++)
        ck_assert(seqcls_metrics_get(mt, SEQCLS_METRIC_F1, k) > 0.9);
    seqcls_metrics_free(mt);
    /* a validation split takes the labels of the last rows, [N, T] */
    OK(seqcls_fit_config_set_float(cfg, SEQCLS_FIT_VALID_SPLIT, 0.25f));
    OK(seqcls_fit_config_set_int(cfg, SEQCLS_FIT_EPOCHS, 1));
    OK(seqcls_fit(m, o, x, len, y, NULL, NULL, NULL, cfg));
    seqcls_fit_config_free(cfg);
    seqcls_optimizer_free(o);
    seqcls_tensor_free(x);
    seqcls_tensor_free(y);
    seqcls_tensor_free(vx);
    seqcls_tensor_free(vy);
    seqcls_tensor_free(y1);
    seqcls_model_free(m);
}
END_TEST

/* A callback that lengthens the caller's rows while seqcls_fit runs, over
 * steps whose labels were never checked (they are out of range): each
 * batch checks its labels again, so fit stops with SEQCLS_E_RANGE instead
 * of reading logits at a label's index. */
static int lengthen(void *user, int epoch, int batch, int batches, float loss, float acc)
{
    int32_t *lens = user;
    (void)epoch, (void)batches, (void)loss, (void)acc;
    lens[batch % B] = T;
    return 0;
}

START_TEST(labels_behind_lengths_changed_during_fit_are_checked)
{
    seqcls_model_t *m = tagger(0, C);
    seqcls_optimizer_t *o = NULL;
    seqcls_fit_config_t *c = NULL;
    seqcls_tensor_t *ids = tu_tensor(SEQCLS_I32, 2, B, T, 0), *y = tu_tensor(SEQCLS_I32, 2, B, T, 0);
    int32_t lens2[B] = {1, 1, 1, 1}, *yv = seqcls_tensor_data(y);
    int b, t;
    tu_fill_ids(ids, 1, V, 4);
    for (b = 0; b < B; b++)
        for (t = 0; t < T; t++)
            yv[b * T + t] = t < 1 ? 1 : 1000000;   /* padding: anything */
    OK(seqcls_optimizer_create(&o, SEQCLS_OPTIM_SGD, 0.1f));
    OK(seqcls_fit_config_create(&c));
    OK(seqcls_fit_config_set_int(c, SEQCLS_FIT_BATCH_SIZE, 1));
    OK(seqcls_fit_config_set_int(c, SEQCLS_FIT_EPOCHS, 2));
    OK(seqcls_fit_config_set_int(c, SEQCLS_FIT_SHUFFLE, 0));
    OK(seqcls_fit_config_set_callbacks(c, lengthen, NULL, NULL, lens2));
    FAILS(SEQCLS_E_RANGE, "is 1000000", seqcls_fit(m, o, ids, lens2, y, NULL, NULL, NULL, c));
    seqcls_fit_config_free(c);
    seqcls_optimizer_free(o);
    seqcls_tensor_free(ids);
    seqcls_tensor_free(y);
    seqcls_model_free(m);
}
END_TEST

/* C = 1 per step: each valid step is a binary decision, scored as classes 0 and 1. */
START_TEST(binary_per_step_evaluate)
{
    seqcls_model_t *m = tagger(0, 1);
    seqcls_metrics_t *mt = NULL;
    seqcls_tensor_t *ids = tu_tensor(SEQCLS_I32, 2, B, T, 0), *y = tu_tensor(SEQCLS_I32, 2, B, T, 0);
    int32_t *yv = seqcls_tensor_data(y);
    int b, t;
    tu_fill_ids(ids, 1, V, 8);
    for (b = 0; b < B; b++)
        for (t = 0; t < T; t++)
            yv[b * T + t] = t < lens[b] ? (t & 1) : 7;
    OK(seqcls_evaluate(m, ids, lens, y, 0, &mt));
    ck_assert_int_eq(seqcls_metrics_classes(mt), 2);
    ck_assert(seqcls_metrics_get(mt, SEQCLS_METRIC_COUNT, 0) == 10);   /* 5 + 2 + 0 + 3 */
    ck_assert(seqcls_metrics_get(mt, SEQCLS_METRIC_SUPPORT, 1) == 4);
    ck_assert(isfinite(seqcls_metrics_get(mt, SEQCLS_METRIC_LOSS, 0)));
    seqcls_metrics_free(mt);
    seqcls_tensor_free(ids);
    seqcls_tensor_free(y);
    seqcls_model_free(m);
}
END_TEST

/* Saved and loaded, a per-step model gives the same probabilities. */
START_TEST(save_load_per_step)
{
    seqcls_model_t *m = tagger(0, C), *l = NULL;
    seqcls_tensor_t *ids = tu_tensor(SEQCLS_I32, 2, B, T, 0);
    seqcls_tensor_t *p = tu_tensor(SEQCLS_F32, 3, B, T, C), *q = tu_tensor(SEQCLS_F32, 3, B, T, C);
    void *buf = NULL;
    size_t n = 0;
    tu_fill_ids(ids, 1, V, 9);
    OK(seqcls_model_save_buffer(m, &buf, &n));
    OK(seqcls_model_load_buffer(&l, buf, n));
    ck_assert_int_eq(seqcls_model_output_ndim(l), 3);
    OK(seqcls_predict(m, ids, lens, p, NULL));
    OK(seqcls_predict(l, ids, lens, q, NULL));
    ck_assert(memcmp(seqcls_tensor_data(p), seqcls_tensor_data(q), B * T * C * sizeof(real_t)) == 0);
    seqcls_free(buf);
    seqcls_tensor_free(ids);
    seqcls_tensor_free(p);
    seqcls_tensor_free(q);
    seqcls_model_free(m);
    seqcls_model_free(l);
}
END_TEST

Suite *steps_suite(void)
{
    Suite *s = suite_create("per-step outputs");
    TCase *tc = tcase_create("per step");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, shapes_and_introspection);
    tcase_add_test(tc, forward_predict_loss_per_step);
    tcase_add_test(tc, custom_dlogits_ignore_padding);
    tcase_add_test(tc, no_valid_step_gives_zero_loss);
    tcase_add_test(tc, fit_and_evaluate_tokens);
    tcase_add_test(tc, save_load_per_step);
    tcase_add_test(tc, labels_behind_lengths_changed_during_fit_are_checked);
    tcase_add_test(tc, binary_per_step_evaluate);
    suite_add_tcase(s, tc);
    return s;
}
