/*
 * test_attention.c -- attention weights are a masked distribution, the
 * API returns them, and batch norm switches between batch and running
 * statistics.  (Gradients: tests/test_grad.c.)
 */
#include "testutil.h"

#define B 4
#define T 5
#define F 3

static const int32_t lens[B] = {5, 2, 0, 1};

static seqcls_model_t *learned_query_model(void)
{
    seqcls_model_t *m = NULL;
    OK(seqcls_model_create(&m, 8));
    OK(seqcls_add_input(m, F, NULL));
    OK(seqcls_add_attention(m, SEQCLS_ATTN_LEARNED_QUERY, 4, NULL));
    OK(seqcls_add_output(m, 2, NULL));
    return m;
}

static void check_distribution(const real_t *w)
{
    int b, t;
    for (b = 0; b < B; b++) {
        double sum = 0;
        for (t = 0; t < T; t++) {
            ck_assert_msg(isfinite(w[b * T + t]) && w[b * T + t] >= 0, "w[%d,%d] = %g", b, t,
                          (double)w[b * T + t]);
            if (t >= lens[b])
                ck_assert_msg(w[b * T + t] == 0, "padding weight w[%d,%d] = %g", b, t,
                              (double)w[b * T + t]);
            sum += w[b * T + t];
        }
        ck_assert_double_eq_tol(sum, lens[b] ? 1.0 : 0.0, 1e-5);
    }
}

START_TEST(weights_are_a_masked_distribution)
{
    seqcls_model_t *m = learned_query_model();
    seqcls_tensor_t *x = tu_tensor(SEQCLS_F32, 3, B, T, F);
    seqcls_tensor_t *lg = tu_tensor(SEQCLS_F32, 2, B, 2, 0);
    seqcls_tensor_t *p = tu_tensor(SEQCLS_F32, 2, B, 2, 0);
    seqcls_tensor_t *att = tu_tensor(SEQCLS_F32, 2, B, T, 0);
    seqcls_tensor_t *w = NULL;
    tu_fill_real(x, -2, 2, 1);
    OK(seqcls_forward(m, x, lens, lg, 0));
    OK(seqcls_attention_weights(m, -1, &w));
    ck_assert_int_eq(seqcls_tensor_dim(w, 0), B);
    ck_assert_int_eq(seqcls_tensor_dim(w, 1), T);
    check_distribution(seqcls_tensor_data(w));
    OK(seqcls_attention_weights(m, 1, &w));
    /* predict returns the same weights */
    OK(seqcls_predict(m, x, lens, p, att));
    check_distribution(seqcls_tensor_data(att));
    ck_assert(memcmp(seqcls_tensor_data(att), seqcls_tensor_data(w), B * T * sizeof(real_t)) == 0);
    /* a zero-length row: zero context, so its logits are the output bias */
    {
        seqcls_tensor_t *bias = NULL;
        OK(seqcls_param(m, seqcls_param_find(m, "2.output.bias"), &bias, NULL));
        ck_assert(((real_t *)seqcls_tensor_data(lg))[2 * 2] == ((real_t *)seqcls_tensor_data(bias))[0]);
    }
    FAILS(SEQCLS_E_SHAPE, "attention has shape", seqcls_predict(m, x, lens, p, lg));
    FAILS(SEQCLS_E_RANGE, "layer 0 is not an attention layer", seqcls_attention_weights(m, 0, &w));
    FAILS(SEQCLS_E_INVALID_ARG, "weights is NULL", seqcls_attention_weights(m, 1, NULL));
    seqcls_tensor_free(x);
    seqcls_tensor_free(lg);
    seqcls_tensor_free(p);
    seqcls_tensor_free(att);
    seqcls_model_free(m);
}
END_TEST

START_TEST(huge_scores_do_not_overflow)
{
    seqcls_model_t *m = learned_query_model();
    seqcls_tensor_t *x = tu_tensor(SEQCLS_F32, 3, B, T, F);
    seqcls_tensor_t *p = tu_tensor(SEQCLS_F32, 2, B, 2, 0);
    seqcls_tensor_t *att = tu_tensor(SEQCLS_F32, 2, B, T, 0);
    seqcls_tensor_t *u = NULL;
    real_t *ud;
    int k;
    OK(seqcls_param(m, seqcls_param_find(m, "1.attention.query.weight"), &u, NULL));
    ud = seqcls_tensor_data(u);
    for (k = 0; k < 4; k++)
        ud[k] = (real_t)1e30;
    tu_fill_real(x, -2, 2, 2);
    OK(seqcls_predict(m, x, lens, p, att));
    check_distribution(seqcls_tensor_data(att));
    for (k = 0; k < B * 2; k++)
        ck_assert(isfinite(((real_t *)seqcls_tensor_data(p))[k]));
    seqcls_tensor_free(x);
    seqcls_tensor_free(p);
    seqcls_tensor_free(att);
    seqcls_model_free(m);
}
END_TEST

START_TEST(padding_changes_nothing)
{
    const int kinds[2] = {SEQCLS_ATTN_LEARNED_QUERY, SEQCLS_ATTN_FEATURE_TIME};
    int k;
    for (k = 0; k < 2; k++) {
        seqcls_model_t *m = NULL;
        seqcls_tensor_t *x = tu_tensor(SEQCLS_F32, 3, B, T, F);
        seqcls_tensor_t *p1 = tu_tensor(SEQCLS_F32, 2, B, 1, 0), *p2 = tu_tensor(SEQCLS_F32, 2, B, 1, 0);
        seqcls_tensor_t *a1 = tu_tensor(SEQCLS_F32, 2, B, T, 0), *a2 = tu_tensor(SEQCLS_F32, 2, B, T, 0);
        real_t *xd = seqcls_tensor_data(x);
        int b, t, f;
        OK(seqcls_model_create(&m, 4));
        OK(seqcls_add_input(m, F, NULL));
        OK(seqcls_add_attention(m, kinds[k], kinds[k] == SEQCLS_ATTN_FEATURE_TIME ? T : 4, NULL));
        if (kinds[k] == SEQCLS_ATTN_FEATURE_TIME)
            OK(seqcls_add_pooling(m, SEQCLS_POOL_MEAN, NULL));
        OK(seqcls_add_output(m, 1, NULL));
        tu_fill_real(x, -1, 1, 9);
        OK(seqcls_predict(m, x, lens, p1, a1));
        check_distribution(seqcls_tensor_data(a1));
        for (b = 0; b < B; b++)
            for (t = lens[b]; t < T; t++)
                for (f = 0; f < F; f++)
                    xd[(b * T + t) * F + f] = (real_t)(100 + t + f);
        OK(seqcls_predict(m, x, lens, p2, a2));
        ck_assert(memcmp(seqcls_tensor_data(p1), seqcls_tensor_data(p2), B * sizeof(real_t)) == 0);
        ck_assert(memcmp(seqcls_tensor_data(a1), seqcls_tensor_data(a2), B * T * sizeof(real_t)) == 0);
        seqcls_tensor_free(x);
        seqcls_tensor_free(p1);
        seqcls_tensor_free(p2);
        seqcls_tensor_free(a1);
        seqcls_tensor_free(a2);
        seqcls_model_free(m);
    }
}
END_TEST

START_TEST(attention_construction_errors)
{
    seqcls_model_t *m = NULL;
    seqcls_tensor_t *x = tu_tensor(SEQCLS_F32, 3, B, T + 1, F);
    seqcls_tensor_t *p = tu_tensor(SEQCLS_F32, 2, B, 1, 0);
    OK(seqcls_model_create(&m, 4));
    OK(seqcls_add_input(m, F, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "unknown attention kind", seqcls_add_attention(m, 42, 4, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "units", seqcls_add_attention(m, SEQCLS_ATTN_LEARNED_QUERY, 0, NULL));
    FAILS(SEQCLS_E_STATE, "needs a query", seqcls_add_attention(m, SEQCLS_ATTN_BAHDANAU, 4, NULL));
    FAILS(SEQCLS_E_STATE, "needs a query", seqcls_add_attention(m, SEQCLS_ATTN_DOT, 0, NULL));
    FAILS(SEQCLS_E_STATE, "needs a query", seqcls_add_attention(m, SEQCLS_ATTN_GENERAL, 0, NULL));
    ck_assert_int_eq(seqcls_param_count(m), 0);   /* failed layers leave nothing behind */
    OK(seqcls_add_attention(m, SEQCLS_ATTN_FEATURE_TIME, T, NULL));
    OK(seqcls_add_pooling(m, SEQCLS_POOL_MAX, NULL));
    OK(seqcls_add_output(m, 1, NULL));
    FAILS(SEQCLS_E_SHAPE, "built for T = 5 steps, the input has T = 6", seqcls_predict(m, x, NULL, p, NULL));
    seqcls_tensor_free(x);
    seqcls_tensor_free(p);
    seqcls_model_free(m);
}
END_TEST

START_TEST(batchnorm_statistics)
{
    seqcls_model_t *m = NULL;
    seqcls_tensor_t *x = tu_tensor(SEQCLS_F32, 3, 4, 1, 2);
    seqcls_tensor_t *lg = tu_tensor(SEQCLS_F32, 2, 4, 1, 0);
    seqcls_tensor_t *rm = NULL, *rv = NULL, *w = NULL, *bias = NULL;
    real_t *xd = seqcls_tensor_data(x), *out = seqcls_tensor_data(lg);
    const real_t vals[4] = {1, 3, 5, 7};   /* feature 0; mean 4, var 5 (unbiased 20/3) */
    int b;
    OK(seqcls_model_create(&m, 4));
    OK(seqcls_add_input(m, 2, NULL));
    OK(seqcls_add_pooling(m, SEQCLS_POOL_LAST, NULL));
    OK(seqcls_add_batchnorm(m, NULL));
    OK(seqcls_add_output(m, 1, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "outside [0, 1]", seqcls_layer_set_float(m, 2, SEQCLS_OPT_BN_MOMENTUM, 2));
    FAILS(SEQCLS_E_INVALID_ARG, "must be positive", seqcls_layer_set_float(m, 2, SEQCLS_OPT_BN_EPSILON, 0));
    FAILS(SEQCLS_E_INVALID_ARG, "does not apply", seqcls_layer_set_float(m, 2, SEQCLS_OPT_INPUT_DROPOUT, 0.1f));
    OK(seqcls_layer_set_float(m, 2, SEQCLS_OPT_BN_MOMENTUM, 0.5f));
    OK(seqcls_layer_set_float(m, 2, SEQCLS_OPT_BN_EPSILON, 1e-3f));
    ck_assert_str_eq(seqcls_param_name(m, 2), "2.batchnorm.running_mean");
    OK(seqcls_param(m, 2, &rm, NULL));
    OK(seqcls_param(m, 3, &rv, NULL));
    OK(seqcls_param(m, 4, &w, NULL));
    OK(seqcls_param(m, 5, &bias, NULL));
    ((real_t *)seqcls_tensor_data(w))[0] = 1;
    ((real_t *)seqcls_tensor_data(w))[1] = 0;
    ((real_t *)seqcls_tensor_data(bias))[0] = 0;
    for (b = 0; b < 4; b++)
        xd[b * 2] = vals[b];
    OK(seqcls_forward(m, x, NULL, lg, 1));
    /* training: normalised with the batch statistics */
    ck_assert_double_eq_tol(out[0], (1 - 4) / sqrt(5 + 1e-3), 1e-5);
    ck_assert_double_eq_tol(((real_t *)seqcls_tensor_data(rm))[0], 0.5 * 4, 1e-6);
    ck_assert_double_eq_tol(((real_t *)seqcls_tensor_data(rv))[0], 0.5 + 0.5 * 20.0 / 3, 1e-5);
    /* inference: the running statistics */
    OK(seqcls_forward(m, x, NULL, lg, 0));
    ck_assert_double_eq_tol(out[0], (1 - 2) / sqrt(0.5 + 10.0 / 3 + 1e-3), 1e-5);
    /* batch size 1 trains without NaN and leaves the running variance alone */
    {
        seqcls_tensor_t *x1 = tu_tensor(SEQCLS_F32, 3, 1, 1, 2), *l1 = tu_tensor(SEQCLS_F32, 2, 1, 1, 0);
        real_t before = ((real_t *)seqcls_tensor_data(rv))[0];
        OK(seqcls_forward(m, x1, NULL, l1, 1));
        ck_assert(isfinite(((real_t *)seqcls_tensor_data(l1))[0]));
        ck_assert(((real_t *)seqcls_tensor_data(rv))[0] == before);
        seqcls_tensor_free(x1);
        seqcls_tensor_free(l1);
    }
    seqcls_tensor_free(x);
    seqcls_tensor_free(lg);
    seqcls_model_free(m);
}
END_TEST

Suite *attention_suite(void)
{
    Suite *s = suite_create("attention");
    TCase *tc = tcase_create("attention");
    tcase_add_test(tc, weights_are_a_masked_distribution);
    tcase_add_test(tc, huge_scores_do_not_overflow);
    tcase_add_test(tc, padding_changes_nothing);
    tcase_add_test(tc, attention_construction_errors);
    tcase_add_test(tc, batchnorm_statistics);
    suite_add_tcase(s, tc);
    return s;
}
