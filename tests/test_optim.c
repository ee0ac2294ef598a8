/*
 * test_optim.c -- each optimiser's update against its textbook
 * definition (PyTorch's conventions), clipping, and its error paths.
 */
#include "testutil.h"

/* A model with 3 parameters in all: output weight [1, 2] and bias [1]. */
static seqcls_model_t *tiny_model(void)
{
    seqcls_model_t *m = NULL;
    OK(seqcls_model_create(&m, 5));
    OK(seqcls_add_input(m, 2, NULL));
    OK(seqcls_add_pooling(m, SEQCLS_POOL_LAST, NULL));
    OK(seqcls_add_output(m, 1, NULL));
    return m;
}

/* Point p[0..2] and g[0..2] at the model's values and gradients. */
static void bind(seqcls_model_t *m, real_t **p, real_t **g)
{
    seqcls_tensor_t *v, *d;
    int i;
    for (i = 0; i < 2; i++) {
        OK(seqcls_param(m, i, &v, &d));
        p[i] = seqcls_tensor_data(v);
        g[i] = seqcls_tensor_data(d);
    }
}

static void set3(real_t **x, double a, double b, double c)
{
    x[0][0] = (real_t)a;
    x[0][1] = (real_t)b;
    x[1][0] = (real_t)c;
}

static double get(real_t **x, int k) { return k < 2 ? x[0][k] : x[1][0]; }

static const double grads[3][3] = {{0.5, -1.0, 2.0}, {0.1, 0.3, -0.2}, {-1.5, 0.0, 0.7}};

START_TEST(adam_matches_definition)
{
    seqcls_model_t *m = tiny_model();
    seqcls_optimizer_t *o = NULL;
    real_t *p[2], *g[2];
    double ref[3] = {0.2, -0.4, 0.1}, m1[3] = {0}, m2[3] = {0};
    const double lr = 0.01, b1 = 0.8, b2 = 0.99, eps = 1e-6, wd = 0.1;
    int s, k;
    bind(m, p, g);
    set3(p, ref[0], ref[1], ref[2]);
    OK(seqcls_optimizer_create(&o, SEQCLS_OPTIM_ADAM, (float)lr));
    OK(seqcls_optimizer_set_float(o, SEQCLS_OPTIM_BETA1, (float)b1));
    OK(seqcls_optimizer_set_float(o, SEQCLS_OPTIM_BETA2, (float)b2));
    OK(seqcls_optimizer_set_float(o, SEQCLS_OPTIM_EPS, (float)eps));
    OK(seqcls_optimizer_set_float(o, SEQCLS_OPTIM_WEIGHT_DECAY, (float)wd));
    for (s = 0; s < 3; s++) {
        set3(g, grads[s][0], grads[s][1], grads[s][2]);
        OK(seqcls_optimizer_step(o, m));
        for (k = 0; k < 3; k++) {
            double gk = grads[s][k] + wd * ref[k];
            m1[k] = b1 * m1[k] + (1 - b1) * gk;
            m2[k] = b2 * m2[k] + (1 - b2) * gk * gk;
            ref[k] -= lr * (m1[k] / (1 - pow(b1, s + 1))) /
                      (sqrt(m2[k] / (1 - pow(b2, s + 1))) + eps);
            ck_assert_double_eq_tol(get(p, k), ref[k], 1e-6);
        }
    }
    ck_assert_int_eq(seqcls_optimizer_steps(o), 3);
    seqcls_optimizer_free(o);
    seqcls_model_free(m);
}
END_TEST

START_TEST(adamw_decouples_weight_decay)
{
    seqcls_model_t *m = tiny_model();
    seqcls_optimizer_t *o = NULL;
    real_t *p[2], *g[2];
    double ref[3] = {0.2, -0.4, 0.1};
    const double lr = 0.1, wd = 0.5;
    int k;
    bind(m, p, g);
    set3(p, ref[0], ref[1], ref[2]);
    OK(seqcls_optimizer_create(&o, SEQCLS_OPTIM_ADAMW, (float)lr));
    OK(seqcls_optimizer_set_float(o, SEQCLS_OPTIM_WEIGHT_DECAY, (float)wd));
    set3(g, grads[0][0], grads[0][1], grads[0][2]);
    OK(seqcls_optimizer_step(o, m));
    for (k = 0; k < 3; k++) {
        /* first Adam step moves by lr * sign(g) (up to eps) */
        double want = ref[k] * (1 - lr * wd) - lr * (grads[0][k] > 0 ? 1 : -1);
        ck_assert_double_eq_tol(get(p, k), want, 1e-6);
    }
    seqcls_optimizer_free(o);
    seqcls_model_free(m);
}
END_TEST

START_TEST(sgd_momentum_matches_definition)
{
    seqcls_model_t *m = tiny_model();
    seqcls_optimizer_t *o = NULL;
    real_t *p[2], *g[2];
    double ref[3] = {0.2, -0.4, 0.1}, buf[3] = {0};
    const double lr = 0.05, mom = 0.9;
    int s, k;
    bind(m, p, g);
    set3(p, ref[0], ref[1], ref[2]);
    OK(seqcls_optimizer_create(&o, SEQCLS_OPTIM_SGD, (float)lr));
    OK(seqcls_optimizer_set_float(o, SEQCLS_OPTIM_MOMENTUM, (float)mom));
    for (s = 0; s < 3; s++) {
        set3(g, grads[s][0], grads[s][1], grads[s][2]);
        OK(seqcls_optimizer_step(o, m));
        for (k = 0; k < 3; k++) {
            buf[k] = s == 0 ? grads[s][k] : mom * buf[k] + grads[s][k];
            ref[k] -= lr * buf[k];
            ck_assert_double_eq_tol(get(p, k), ref[k], 1e-6);
        }
    }
    seqcls_optimizer_free(o);
    seqcls_model_free(m);
}
END_TEST

START_TEST(rmsprop_matches_definition)
{
    seqcls_model_t *m = tiny_model();
    seqcls_optimizer_t *o = NULL;
    real_t *p[2], *g[2];
    double ref[3] = {0.2, -0.4, 0.1}, sq[3] = {0}, buf[3] = {0};
    const double lr = 0.01, rho = 0.9, mom = 0.5, eps = 1e-8;
    int s, k;
    bind(m, p, g);
    set3(p, ref[0], ref[1], ref[2]);
    OK(seqcls_optimizer_create(&o, SEQCLS_OPTIM_RMSPROP, (float)lr));
    OK(seqcls_optimizer_set_float(o, SEQCLS_OPTIM_RHO, (float)rho));
    OK(seqcls_optimizer_set_float(o, SEQCLS_OPTIM_MOMENTUM, (float)mom));
    for (s = 0; s < 3; s++) {
        set3(g, grads[s][0], grads[s][1], grads[s][2]);
        OK(seqcls_optimizer_step(o, m));
        for (k = 0; k < 3; k++) {
            sq[k] = rho * sq[k] + (1 - rho) * grads[s][k] * grads[s][k];
            buf[k] = mom * buf[k] + grads[s][k] / (sqrt(sq[k]) + eps);
            ref[k] -= lr * buf[k];
            ck_assert_double_eq_tol(get(p, k), ref[k], 1e-5);
        }
    }
    seqcls_optimizer_free(o);
    seqcls_model_free(m);
}
END_TEST

START_TEST(clipping_by_global_norm_and_value)
{
    seqcls_model_t *m = tiny_model();
    seqcls_optimizer_t *o = NULL;
    real_t *p[2], *g[2];
    bind(m, p, g);
    OK(seqcls_optimizer_create(&o, SEQCLS_OPTIM_SGD, 1.0f));
    OK(seqcls_optimizer_set_float(o, SEQCLS_OPTIM_CLIPNORM, 1.0f));
    set3(p, 0, 0, 0);
    set3(g, 3, 4, 0);   /* norm 5 -> scaled to norm 1 */
    OK(seqcls_optimizer_step(o, m));
    ck_assert_double_eq_tol(get(p, 0), -0.6, 1e-6);
    ck_assert_double_eq_tol(get(p, 1), -0.8, 1e-6);
    ck_assert_double_eq_tol(get(g, 0), 0.6, 1e-6);   /* clipped in place, like clip_grad_norm_ */
    set3(p, 0, 0, 0);
    set3(g, 0.3, 0.4, 0);   /* under the threshold: untouched */
    OK(seqcls_optimizer_step(o, m));
    ck_assert_double_eq_tol(get(p, 0), -0.3, 1e-6);
    OK(seqcls_optimizer_set_float(o, SEQCLS_OPTIM_CLIPNORM, 0));
    OK(seqcls_optimizer_set_float(o, SEQCLS_OPTIM_CLIPVALUE, 0.5f));
    set3(p, 0, 0, 0);
    set3(g, 3, -0.2, -7);
    OK(seqcls_optimizer_step(o, m));
    ck_assert_double_eq_tol(get(p, 0), -0.5, 1e-6);
    ck_assert_double_eq_tol(get(p, 1), 0.2, 1e-6);
    ck_assert_double_eq_tol(get(p, 2), 0.5, 1e-6);
    seqcls_optimizer_free(o);
    seqcls_model_free(m);
}
END_TEST

/* Keras' clipnorm (1.1): each tensor to its own norm, before the global
 * clipnorm and clipvalue */
START_TEST(clipping_per_tensor)
{
    seqcls_model_t *m = tiny_model();
    seqcls_optimizer_t *o = NULL;
    real_t *p[2], *g[2];
    bind(m, p, g);
    OK(seqcls_optimizer_create(&o, SEQCLS_OPTIM_SGD, 1.0f));
    FAILS(SEQCLS_E_INVALID_ARG, "out of range",
          seqcls_optimizer_set_float(o, SEQCLS_OPTIM_CLIPNORM_PER_TENSOR, -1.0f));
    FAILS(SEQCLS_E_INVALID_ARG, "unknown option 11", seqcls_optimizer_set_float(o, 11, 1.0f));
    OK(seqcls_optimizer_set_float(o, SEQCLS_OPTIM_CLIPNORM_PER_TENSOR, 1.0f));
    set3(p, 0, 0, 0);
    set3(g, 3, 4, 0.5);   /* weight: norm 5 -> 1; bias: norm 0.5, untouched */
    OK(seqcls_optimizer_step(o, m));
    ck_assert_double_eq_tol(get(p, 0), -0.6, 1e-6);
    ck_assert_double_eq_tol(get(p, 1), -0.8, 1e-6);
    ck_assert_double_eq_tol(get(p, 2), -0.5, 1e-6);
    ck_assert_double_eq_tol(get(g, 1), 0.8, 1e-6);   /* clipped in place */
    /* the global norm after: [0.6, 0.8, 0.5] has norm 1.1180, clipped to 0.5 */
    OK(seqcls_optimizer_set_float(o, SEQCLS_OPTIM_CLIPNORM, 0.5f));
    set3(p, 0, 0, 0);
    set3(g, 3, 4, 0.5);
    OK(seqcls_optimizer_step(o, m));
    ck_assert_double_eq_tol(get(p, 0), -0.6 * 0.5 / sqrt(1.25), 1e-6);
    ck_assert_double_eq_tol(get(p, 2), -0.5 * 0.5 / sqrt(1.25), 1e-6);
    /* then the elements */
    OK(seqcls_optimizer_set_float(o, SEQCLS_OPTIM_CLIPNORM, 0));
    OK(seqcls_optimizer_set_float(o, SEQCLS_OPTIM_CLIPVALUE, 0.7f));
    set3(p, 0, 0, 0);
    set3(g, -3, 4, 2);    /* weight -> [-0.6, 0.8] -> [-0.6, 0.7]; bias -> 1 -> 0.7 */
    OK(seqcls_optimizer_step(o, m));
    ck_assert_double_eq_tol(get(p, 0), 0.6, 1e-6);
    ck_assert_double_eq_tol(get(p, 1), -0.7, 1e-6);
    ck_assert_double_eq_tol(get(p, 2), -0.7, 1e-6);
    seqcls_optimizer_free(o);
    seqcls_model_free(m);
}
END_TEST

START_TEST(non_finite_gradient_updates_nothing)
{
    seqcls_model_t *m = tiny_model();
    seqcls_optimizer_t *o = NULL;
    real_t *p[2], *g[2];
    bind(m, p, g);
    OK(seqcls_optimizer_create(&o, SEQCLS_OPTIM_ADAM, 0.1f));
    set3(p, 1, 2, 3);
    set3(g, 0.1, 0.2, (double)NAN);
    FAILS(SEQCLS_E_NUMERIC, "2.output.bias", seqcls_optimizer_step(o, m));
    ck_assert(get(p, 0) == 1 && get(p, 1) == 2 && get(p, 2) == 3);
    ck_assert_int_eq(seqcls_optimizer_steps(o), 0);
    seqcls_optimizer_free(o);
    seqcls_model_free(m);
}
END_TEST

/* Large models are updated in chunks over the pool: every optimiser gives
 * the same parameters at 1 and 2 threads, bit for bit; and a non-finite
 * gradient deep in a large parameter is still found before any update. */
static seqcls_model_t *large_model(void)
{
    seqcls_model_t *m = NULL;
    OK(seqcls_model_create(&m, 8));
    OK(seqcls_add_embedding(m, 5000, 64, 0, NULL));   /* 320000 parameters */
    OK(seqcls_add_pooling(m, SEQCLS_POOL_MEAN, NULL));
    OK(seqcls_add_output(m, 2, NULL));
    return m;
}

START_TEST(large_models_update_the_same_at_any_thread_count)
{
    static const int kinds[3] = {SEQCLS_OPTIM_ADAM, SEQCLS_OPTIM_SGD, SEQCLS_OPTIM_RMSPROP};
    const int threads = seqcls_get_num_threads();
    seqcls_model_t *m[2];
    seqcls_tensor_t *x = tu_tensor(SEQCLS_I32, 2, 16, 40, 0), *y = tu_tensor(SEQCLS_I32, 1, 16, 0, 0);
    int32_t *lab = seqcls_tensor_data(y);
    int r, s, b;
    tu_fill_ids(x, 1, 5000, 4);
    for (b = 0; b < 16; b++)
        lab[b] = b % 2;
    for (r = 0; r < 2; r++) {
        seqcls_optimizer_t *o = NULL;
        m[r] = large_model();
        OK(seqcls_optimizer_create(&o, kinds[_i], 0.01f));
        if (kinds[_i] != SEQCLS_OPTIM_ADAM)
            OK(seqcls_optimizer_set_float(o, SEQCLS_OPTIM_MOMENTUM, 0.9f));
        OK(seqcls_set_num_threads(r + 1));
        for (s = 0; s < 3; s++) {
            OK(seqcls_zero_grad(m[r]));
            OK(seqcls_forward(m[r], x, NULL, NULL, 1));
            OK(seqcls_loss_backward(m[r], y, NULL));
            OK(seqcls_optimizer_step(o, m[r]));
        }
        seqcls_optimizer_free(o);
    }
    OK(seqcls_set_num_threads(threads));
    tu_assert_same_params(m[0], m[1]);
    {
        seqcls_optimizer_t *o = NULL;
        seqcls_tensor_t *g = NULL, *v = NULL;
        real_t before;
        OK(seqcls_optimizer_create(&o, kinds[_i], 0.01f));
        OK(seqcls_param(m[0], 0, &v, &g));
        ((real_t *)seqcls_tensor_data(g))[299999] = (real_t)NAN;
        before = ((real_t *)seqcls_tensor_data(v))[0];
        FAILS(SEQCLS_E_NUMERIC, "not finite at element 299999", seqcls_optimizer_step(o, m[0]));
        ck_assert(((real_t *)seqcls_tensor_data(v))[0] == before);
        seqcls_optimizer_free(o);
    }
    seqcls_model_free(m[0]);
    seqcls_model_free(m[1]);
    seqcls_tensor_free(x);
    seqcls_tensor_free(y);
}
END_TEST

START_TEST(optimizer_errors)
{
    seqcls_optimizer_t *o = (seqcls_optimizer_t *)&o;
    seqcls_model_t *a = tiny_model(), *b = tiny_model();
    FAILS(SEQCLS_E_INVALID_ARG, "unknown kind", seqcls_optimizer_create(&o, 99, 0.1f));
    ck_assert_ptr_null(o);
    FAILS(SEQCLS_E_INVALID_ARG, "lr", seqcls_optimizer_create(&o, SEQCLS_OPTIM_SGD, 0));
    FAILS(SEQCLS_E_INVALID_ARG, "lr", seqcls_optimizer_create(&o, SEQCLS_OPTIM_SGD, NAN));
    FAILS(SEQCLS_E_INVALID_ARG, "out is NULL", seqcls_optimizer_create(NULL, SEQCLS_OPTIM_SGD, 1));
    OK(seqcls_optimizer_create(&o, SEQCLS_OPTIM_ADAM, 0.1f));
    FAILS(SEQCLS_E_INVALID_ARG, "unknown option", seqcls_optimizer_set_float(o, 77, 1));
    FAILS(SEQCLS_E_INVALID_ARG, "out of range", seqcls_optimizer_set_float(o, SEQCLS_OPTIM_BETA1, 1));
    FAILS(SEQCLS_E_INVALID_ARG, "out of range", seqcls_optimizer_set_float(o, SEQCLS_OPTIM_LR, -1));
    FAILS(SEQCLS_E_INVALID_ARG, "not finite", seqcls_optimizer_set_float(o, SEQCLS_OPTIM_EPS, INFINITY));
    FAILS(SEQCLS_E_INVALID_ARG, "NULL", seqcls_optimizer_step(o, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "NULL", seqcls_optimizer_step(NULL, a));
    OK(seqcls_optimizer_step(o, a));
    FAILS(SEQCLS_E_STATE, "another model", seqcls_optimizer_step(o, b));
    seqcls_optimizer_free(o);
    seqcls_optimizer_free(NULL);
    seqcls_model_free(a);
    seqcls_model_free(b);
}
END_TEST

Suite *optim_suite(void)
{
    Suite *s = suite_create("optimizer");
    TCase *tc = tcase_create("optimizer");
    tcase_add_test(tc, adam_matches_definition);
    tcase_add_test(tc, adamw_decouples_weight_decay);
    tcase_add_test(tc, sgd_momentum_matches_definition);
    tcase_add_test(tc, rmsprop_matches_definition);
    tcase_add_test(tc, clipping_by_global_norm_and_value);
    tcase_add_test(tc, clipping_per_tensor);
    tcase_add_test(tc, non_finite_gradient_updates_nothing);
    tcase_add_test(tc, optimizer_errors);
    tcase_add_loop_test(tc, large_models_update_the_same_at_any_thread_count, 0, 3);
    suite_add_tcase(s, tc);
    return s;
}
