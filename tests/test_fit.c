/*
 * test_fit.c -- the training loop (validation, best checkpoint, early
 * stopping, callbacks, schedule, determinism, errors) and evaluation
 * metrics.
 */
#include <stdlib.h>

#include "testutil.h"

#define N 400
#define T 10
#define V 20

/* Task: label 1 when token 3 occurs among the valid steps. */
static void make_data(seqcls_tensor_t **x, seqcls_tensor_t **y, int32_t *lens, uint64_t seed,
                      int flip)
{
    int32_t *ids, *lab;
    int n, t;
    *x = tu_tensor(SEQCLS_I32, 2, N, T, 0);
    *y = tu_tensor(SEQCLS_I32, 1, N, 0, 0);
    ids = seqcls_tensor_data(*x);
    lab = seqcls_tensor_data(*y);
    for (n = 0; n < N; n++) {
        lens[n] = 1 + (int32_t)(tu_next(&seed) % T);
        lab[n] = 0;
        for (t = 0; t < T; t++) {
            ids[n * T + t] = t < lens[n] ? 1 + (int32_t)(tu_next(&seed) % (V - 1)) : 0;
            if (t < lens[n] && ids[n * T + t] == 3)
                lab[n] = 1;
        }
        if (flip)
            lab[n] = 1 - lab[n];
    }
}

static seqcls_model_t *model(void)
{
    seqcls_model_t *m = NULL;
    OK(seqcls_model_create(&m, 5));
    OK(seqcls_add_embedding(m, V, 8, 0, NULL));
    OK(seqcls_add_pooling(m, SEQCLS_POOL_MAX, NULL));
    OK(seqcls_add_dense(m, 8, SEQCLS_ACT_RELU, NULL));
    OK(seqcls_add_output(m, 1, NULL));
    return m;
}

typedef struct {
    int batches, epochs, stop_at_batch;
    float val_loss[64];
} record_t;

static int on_batch(void *user, int epoch, int batch, int batches, float loss, float acc)
{
    record_t *r = user;
    (void)epoch;
    ck_assert_int_lt(batch, batches);
    ck_assert(isfinite(loss) && acc >= 0 && acc <= 1);
    r->batches++;
    return r->stop_at_batch && r->batches == r->stop_at_batch;
}

static int on_epoch(void *user, int epoch, float loss, float acc, float vloss, float vacc)
{
    record_t *r = user;
    ck_assert(isfinite(loss) && acc >= 0 && acc <= 1);
    (void)vacc;
    r->val_loss[epoch] = vloss;
    r->epochs++;
    return 0;
}

static float decay(void *user, int epoch, float lr0)
{
    (void)user;
    return lr0 / (1.0f + 0.1f * (float)epoch);
}

START_TEST(fit_learns_and_evaluates)
{
    seqcls_model_t *m = model();
    seqcls_optimizer_t *o = NULL;
    seqcls_fit_config_t *c = NULL;
    seqcls_tensor_t *x, *y, *tx, *ty;
    seqcls_metrics_t *mt = NULL;
    int32_t lens[N], tlens[N];
    record_t r = {0};
    int64_t total = 0;
    int i, j;
    make_data(&x, &y, lens, 1, 0);
    make_data(&tx, &ty, tlens, 2, 0);
    OK(seqcls_optimizer_create(&o, SEQCLS_OPTIM_ADAM, 0.02f));
    OK(seqcls_fit_config_create(&c));
    OK(seqcls_fit_config_set_int(c, SEQCLS_FIT_EPOCHS, 12));
    OK(seqcls_fit_config_set_int(c, SEQCLS_FIT_BATCH_SIZE, 32));
    OK(seqcls_fit_config_set_float(c, SEQCLS_FIT_VALID_SPLIT, 0.2f));
    OK(seqcls_fit_config_set_callbacks(c, on_batch, on_epoch, decay, &r));
    OK(seqcls_fit(m, o, x, lens, y, NULL, NULL, NULL, c));
    ck_assert_int_eq(r.epochs, 12);
    ck_assert_int_eq(r.batches, 12 * 10);   /* 320 training rows / 32 */
    OK(seqcls_evaluate(m, tx, tlens, ty, 0, &mt));
    ck_assert_msg(seqcls_metrics_get(mt, SEQCLS_METRIC_ACCURACY, 0) >= 0.95, "accuracy %g",
                  seqcls_metrics_get(mt, SEQCLS_METRIC_ACCURACY, 0));
    ck_assert_int_eq(seqcls_metrics_classes(mt), 2);
    for (i = 0; i < 2; i++)
        for (j = 0; j < 2; j++)
            total += seqcls_metrics_confusion(mt, i, j);
    ck_assert_int_eq(total, N);
    ck_assert_int_eq((int)seqcls_metrics_get(mt, SEQCLS_METRIC_COUNT, 0), N);
    ck_assert(seqcls_metrics_get(mt, SEQCLS_METRIC_F1, 1) > 0.9);
    ck_assert(isnan(seqcls_metrics_get(mt, SEQCLS_METRIC_F1, 2)));
    ck_assert(isnan(seqcls_metrics_get(mt, 99, 0)));
    ck_assert_int_eq(seqcls_metrics_confusion(mt, 2, 0), -1);
    seqcls_metrics_free(mt);
    seqcls_metrics_free(NULL);
    seqcls_fit_config_free(c);
    seqcls_optimizer_free(o);
    seqcls_tensor_free(x);
    seqcls_tensor_free(y);
    seqcls_tensor_free(tx);
    seqcls_tensor_free(ty);
    seqcls_model_free(m);
}
END_TEST

/* Validation labels are the opposite of the training labels, so
 * validation loss rises as training succeeds: early stopping must end the
 * run and the best (first) weights must come back. */
START_TEST(early_stopping_restores_the_best_weights)
{
    seqcls_model_t *m = model();
    seqcls_optimizer_t *o = NULL;
    seqcls_fit_config_t *c = NULL;
    seqcls_tensor_t *x, *y, *vx, *vy;
    seqcls_metrics_t *mt = NULL;
    int32_t lens[N], vlens[N];
    record_t r = {0};
    float best = INFINITY;
    int e;
    make_data(&x, &y, lens, 1, 0);
    make_data(&vx, &vy, vlens, 3, 1);
    OK(seqcls_optimizer_create(&o, SEQCLS_OPTIM_ADAM, 0.02f));
    OK(seqcls_fit_config_create(&c));
    OK(seqcls_fit_config_set_int(c, SEQCLS_FIT_EPOCHS, 30));
    OK(seqcls_fit_config_set_int(c, SEQCLS_FIT_PATIENCE, 2));
    OK(seqcls_fit_config_set_callbacks(c, NULL, on_epoch, NULL, &r));
    OK(seqcls_fit(m, o, x, lens, y, vx, vlens, vy, c));
    ck_assert_int_lt(r.epochs, 30);
    for (e = 0; e < r.epochs; e++)
        best = fminf(best, r.val_loss[e]);
    OK(seqcls_evaluate(m, vx, vlens, vy, 0, &mt));
    ck_assert_double_eq_tol(seqcls_metrics_get(mt, SEQCLS_METRIC_LOSS, 0), best, 1e-5);
    seqcls_metrics_free(mt);
    seqcls_fit_config_free(c);
    seqcls_optimizer_free(o);
    seqcls_tensor_free(x);
    seqcls_tensor_free(y);
    seqcls_tensor_free(vx);
    seqcls_tensor_free(vy);
    seqcls_model_free(m);
}
END_TEST

START_TEST(callback_stops_and_runs_are_reproducible)
{
    seqcls_model_t *a = model(), *b = model();
    seqcls_optimizer_t *oa = NULL, *ob = NULL;
    seqcls_fit_config_t *c = NULL;
    seqcls_tensor_t *x, *y;
    int32_t lens[N];
    record_t r = {0};
    make_data(&x, &y, lens, 4, 0);
    OK(seqcls_optimizer_create(&oa, SEQCLS_OPTIM_ADAM, 0.01f));
    OK(seqcls_optimizer_create(&ob, SEQCLS_OPTIM_ADAM, 0.01f));
    OK(seqcls_fit_config_create(&c));
    OK(seqcls_fit_config_set_int(c, SEQCLS_FIT_SEED, 77));
    r.stop_at_batch = 17;
    OK(seqcls_fit_config_set_callbacks(c, on_batch, NULL, NULL, &r));
    OK(seqcls_fit(a, oa, x, lens, y, NULL, NULL, NULL, c));
    ck_assert_int_eq(r.batches, 17);
    ck_assert_int_eq(seqcls_optimizer_steps(oa), 17);
    r.batches = 0;
    OK(seqcls_fit(b, ob, x, lens, y, NULL, NULL, NULL, c));
    tu_assert_same_params(a, b);
    seqcls_fit_config_free(c);
    seqcls_optimizer_free(oa);
    seqcls_optimizer_free(ob);
    seqcls_tensor_free(x);
    seqcls_tensor_free(y);
    seqcls_model_free(a);
    seqcls_model_free(b);
}
END_TEST

/* Two epochs, then two more from SEQCLS_FIT_INITIAL_EPOCH = 2, equal four
 * in one run, bit for bit (dropout included: its stream is the model's). */
START_TEST(resumed_fit_equals_uninterrupted)
{
    seqcls_model_t *a = NULL, *b = NULL;
    seqcls_optimizer_t *oa = NULL, *ob = NULL;
    seqcls_fit_config_t *c = NULL;
    seqcls_tensor_t *x, *y;
    int32_t lens[N];
    int k;
    make_data(&x, &y, lens, 6, 0);
    for (k = 0; k < 2; k++) {
        seqcls_model_t **m = k ? &b : &a;
        OK(seqcls_model_create(m, 9));
        OK(seqcls_add_embedding(*m, V, 8, 0, NULL));
        OK(seqcls_add_dropout(*m, 0.2f, NULL));
        OK(seqcls_add_pooling(*m, SEQCLS_POOL_MEAN, NULL));
        OK(seqcls_add_output(*m, 1, NULL));
    }
    OK(seqcls_optimizer_create(&oa, SEQCLS_OPTIM_ADAM, 0.01f));
    OK(seqcls_optimizer_create(&ob, SEQCLS_OPTIM_ADAM, 0.01f));
    OK(seqcls_fit_config_create(&c));
    OK(seqcls_fit_config_set_int(c, SEQCLS_FIT_SEED, 5));
    OK(seqcls_fit_config_set_int(c, SEQCLS_FIT_EPOCHS, 4));
    OK(seqcls_fit(a, oa, x, lens, y, NULL, NULL, NULL, c));
    OK(seqcls_fit_config_set_int(c, SEQCLS_FIT_EPOCHS, 2));
    OK(seqcls_fit(b, ob, x, lens, y, NULL, NULL, NULL, c));
    OK(seqcls_fit_config_set_int(c, SEQCLS_FIT_EPOCHS, 4));
    OK(seqcls_fit_config_set_int(c, SEQCLS_FIT_INITIAL_EPOCH, 2));
    OK(seqcls_fit(b, ob, x, lens, y, NULL, NULL, NULL, c));
    ck_assert_int_eq(seqcls_optimizer_steps(oa), seqcls_optimizer_steps(ob));
    tu_assert_same_params(a, b);
    seqcls_fit_config_free(c);
    seqcls_optimizer_free(oa);
    seqcls_optimizer_free(ob);
    seqcls_tensor_free(x);
    seqcls_tensor_free(y);
    seqcls_model_free(a);
    seqcls_model_free(b);
}
END_TEST

START_TEST(fit_refuses_bad_data_before_any_update)
{
    seqcls_model_t *m = model();
    seqcls_optimizer_t *o = NULL;
    seqcls_fit_config_t *c = NULL;
    seqcls_tensor_t *x, *y, *w = NULL;
    int32_t lens[N];
    int32_t *lab, *ids;
    real_t first;
    make_data(&x, &y, lens, 5, 0);
    lab = seqcls_tensor_data(y);
    ids = seqcls_tensor_data(x);
    OK(seqcls_param(m, 0, &w, NULL));
    first = ((real_t *)seqcls_tensor_data(w))[V];
    OK(seqcls_optimizer_create(&o, SEQCLS_OPTIM_SGD, 0.1f));
    OK(seqcls_fit_config_create(&c));
    lab[N - 1] = 2;
    FAILS(SEQCLS_E_RANGE, "label of row 399 is 2", seqcls_fit(m, o, x, lens, y, NULL, NULL, NULL, c));
    lab[N - 1] = 0;
    ids[(N - 1) * T] = V;
    FAILS(SEQCLS_E_RANGE, "token id 20 at [399, 0]", seqcls_fit(m, o, x, lens, y, NULL, NULL, NULL, c));
    ids[(N - 1) * T] = 1;
    lens[5] = T + 1;
    FAILS(SEQCLS_E_RANGE, "length of row 5 is 11", seqcls_fit(m, o, x, lens, y, NULL, NULL, NULL, c));
    lens[5] = 2;
    ck_assert(((real_t *)seqcls_tensor_data(w))[V] == first);
    ck_assert_int_eq(seqcls_optimizer_steps(o), 0);
    FAILS(SEQCLS_E_INVALID_ARG, "optimizer is NULL", seqcls_fit(m, NULL, x, lens, y, NULL, NULL, NULL, c));
    FAILS(SEQCLS_E_INVALID_ARG, "input is NULL", seqcls_fit(m, o, NULL, lens, y, NULL, NULL, NULL, c));
    FAILS(SEQCLS_E_INVALID_ARG, "the labels of the validation input are NULL", seqcls_fit(m, o, x, lens, y, x, lens, NULL, c));
    FAILS(SEQCLS_E_INVALID_ARG, "outside [0, 1)", seqcls_fit_config_set_float(c, SEQCLS_FIT_VALID_SPLIT, 1));
    FAILS(SEQCLS_E_INVALID_ARG, "unknown float", seqcls_fit_config_set_float(c, 99, 1));
    FAILS(SEQCLS_E_INVALID_ARG, "outside", seqcls_fit_config_set_int(c, SEQCLS_FIT_BATCH_SIZE, 0));
    FAILS(SEQCLS_E_INVALID_ARG, "unknown integer", seqcls_fit_config_set_int(c, 99, 0));
    OK(seqcls_fit_config_set_float(c, SEQCLS_FIT_VALID_SPLIT, 0.001f));
    FAILS(SEQCLS_E_INVALID_ARG, "leaves 0 of 400", seqcls_fit(m, o, x, lens, y, NULL, NULL, NULL, c));
    seqcls_fit_config_free(c);
    seqcls_optimizer_free(o);
    seqcls_tensor_free(x);
    seqcls_tensor_free(y);
    seqcls_model_free(m);
}
END_TEST

/* An input that makes the loss infinite stops training with
 * SEQCLS_E_NUMERIC and no update. */
START_TEST(fit_stops_on_a_non_finite_loss)
{
    seqcls_model_t *m = NULL;
    seqcls_optimizer_t *o = NULL;
    seqcls_tensor_t *x = tu_tensor(SEQCLS_F32, 3, 8, 2, 2), *y = tu_tensor(SEQCLS_I32, 1, 8, 0, 0);
    seqcls_tensor_t *w = NULL;
    real_t *xd = seqcls_tensor_data(x), before;
    int i;
    OK(seqcls_model_create(&m, 1));
    OK(seqcls_add_input(m, 2, NULL));
    OK(seqcls_add_pooling(m, SEQCLS_POOL_MEAN, NULL));
    OK(seqcls_add_dense(m, 4, SEQCLS_ACT_NONE, NULL));
    OK(seqcls_add_output(m, 3, NULL));
    for (i = 0; i < 32; i++)
        xd[i] = (real_t)3e38;
    OK(seqcls_param(m, 1, &w, NULL));
    before = ((real_t *)seqcls_tensor_data(w))[0];
    OK(seqcls_optimizer_create(&o, SEQCLS_OPTIM_ADAM, 0.1f));
    FAILS(SEQCLS_E_NUMERIC, "not finite", seqcls_fit(m, o, x, NULL, y, NULL, NULL, NULL, NULL));
    ck_assert(((real_t *)seqcls_tensor_data(w))[0] == before);
    seqcls_optimizer_free(o);
    seqcls_tensor_free(x);
    seqcls_tensor_free(y);
    seqcls_model_free(m);
}
END_TEST

/* Metrics against a hand-made confusion matrix: logits fixed by the bias. */
START_TEST(metrics_by_hand)
{
    seqcls_model_t *m = NULL;
    seqcls_tensor_t *x = tu_tensor(SEQCLS_F32, 3, 6, 1, 1), *y = tu_tensor(SEQCLS_I32, 1, 6, 0, 0);
    seqcls_tensor_t *w = NULL, *b = NULL;
    seqcls_metrics_t *mt = NULL;
    real_t *xd = seqcls_tensor_data(x), *wd, *bd;
    int32_t *yd = seqcls_tensor_data(y);
    /* x = class the model will predict (weights pick it); y = truth */
    const int pred[6] = {0, 0, 1, 2, 2, 2}, truth[6] = {0, 1, 1, 2, 2, 0};
    int i;
    OK(seqcls_model_create(&m, 1));
    OK(seqcls_add_input(m, 1, NULL));
    OK(seqcls_add_pooling(m, SEQCLS_POOL_LAST, NULL));
    OK(seqcls_add_output(m, 3, NULL));
    OK(seqcls_param(m, 0, &w, NULL));
    OK(seqcls_param(m, 1, &b, NULL));
    wd = seqcls_tensor_data(w);
    bd = seqcls_tensor_data(b);
    /* logit_c = w_c x + b_c peaks at c = x for x in {0, 1, 2} */
    for (i = 0; i < 3; i++) {
        wd[i] = (real_t)(2 * i);
        bd[i] = (real_t)(-i * i);
    }
    for (i = 0; i < 6; i++) {
        xd[i] = (real_t)pred[i];
        yd[i] = truth[i];
    }
    OK(seqcls_evaluate(m, x, NULL, y, 4, &mt));
    ck_assert_int_eq(seqcls_metrics_confusion(mt, 0, 0), 1);
    ck_assert_int_eq(seqcls_metrics_confusion(mt, 1, 0), 1);
    ck_assert_int_eq(seqcls_metrics_confusion(mt, 0, 2), 1);
    ck_assert_double_eq_tol(seqcls_metrics_get(mt, SEQCLS_METRIC_ACCURACY, 0), 4.0 / 6, 1e-12);
    ck_assert_double_eq_tol(seqcls_metrics_get(mt, SEQCLS_METRIC_PRECISION, 2), 2.0 / 3, 1e-12);
    ck_assert_double_eq_tol(seqcls_metrics_get(mt, SEQCLS_METRIC_RECALL, 0), 0.5, 1e-12);
    ck_assert_double_eq_tol(seqcls_metrics_get(mt, SEQCLS_METRIC_F1, 1), 2 * 1.0 * 0.5 / 1.5, 1e-12);
    ck_assert_double_eq_tol(seqcls_metrics_get(mt, SEQCLS_METRIC_MACRO_F1, 0),
                            (0.5 + 2.0 / 3 + 0.8) / 3, 1e-12);
    ck_assert_double_eq_tol(seqcls_metrics_get(mt, SEQCLS_METRIC_SUPPORT, 0), 2, 1e-12);
    ck_assert(seqcls_metrics_get(mt, SEQCLS_METRIC_LOSS, 0) > 0);
    seqcls_metrics_free(mt);
    FAILS(SEQCLS_E_INVALID_ARG, "out is NULL", seqcls_evaluate(m, x, NULL, y, 0, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "negative", seqcls_evaluate(m, x, NULL, y, -1, &mt));
    ck_assert_ptr_null(mt);
    seqcls_tensor_free(x);
    seqcls_tensor_free(y);
    seqcls_model_free(m);
}
END_TEST

Suite *fit_suite(void)
{
    Suite *s = suite_create("fit");
    TCase *tc = tcase_create("fit");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, fit_learns_and_evaluates);
    tcase_add_test(tc, early_stopping_restores_the_best_weights);
    tcase_add_test(tc, callback_stops_and_runs_are_reproducible);
    tcase_add_test(tc, resumed_fit_equals_uninterrupted);
    tcase_add_test(tc, fit_refuses_bad_data_before_any_update);
    tcase_add_test(tc, fit_stops_on_a_non_finite_loss);
    tcase_add_test(tc, metrics_by_hand);
    suite_add_tcase(s, tc);
    return s;
}
