/*
 * test_loss.c -- the built-in losses against their definitions, and their
 * stability at extreme logits.
 */
#include "testutil.h"

/* input(1) -> last pooling -> output(C) whose logits are exactly `z`
 * (weights 0, bias = z), so the loss can be checked by hand. */
static seqcls_model_t *logit_model(int C, const double *z)
{
    seqcls_model_t *m = NULL;
    seqcls_tensor_t *w = NULL, *b = NULL;
    int c;
    OK(seqcls_model_create(&m, 1));
    OK(seqcls_add_input(m, 1, NULL));
    OK(seqcls_add_pooling(m, SEQCLS_POOL_LAST, NULL));
    OK(seqcls_add_output(m, C, NULL));
    OK(seqcls_param(m, 0, &w, NULL));
    OK(seqcls_param(m, 1, &b, NULL));
    memset(seqcls_tensor_data(w), 0, (size_t)C * sizeof(real_t));
    for (c = 0; c < C; c++)
        ((real_t *)seqcls_tensor_data(b))[c] = (real_t)z[c];
    return m;
}

static double run_loss(seqcls_model_t *m, int B, const int32_t *labels_in, real_t *dbias)
{
    seqcls_tensor_t *x = tu_tensor(SEQCLS_F32, 3, B, 1, 1);
    seqcls_tensor_t *y = tu_tensor(SEQCLS_I32, 1, B, 0, 0);
    seqcls_tensor_t *g = NULL;
    float loss = -1;
    int C;
    memcpy(seqcls_tensor_data(y), labels_in, (size_t)B * sizeof(int32_t));
    OK(seqcls_zero_grad(m));
    OK(seqcls_forward(m, x, NULL, NULL, 1));
    OK(seqcls_loss_backward(m, y, &loss));
    OK(seqcls_param(m, 1, NULL, &g));
    C = (int)seqcls_tensor_dim(g, 0);
    memcpy(dbias, seqcls_tensor_data(g), (size_t)C * sizeof(real_t));
    seqcls_tensor_free(x);
    seqcls_tensor_free(y);
    return loss;
}

START_TEST(binary_cross_entropy_from_logits)
{
    const double zs[5] = {0.0, 2.5, -3.0, 40.0, -1000.0};
    int i, y;
    for (i = 0; i < 5; i++)
        for (y = 0; y <= 1; y++) {
            seqcls_model_t *m = logit_model(1, &zs[i]);
            int32_t labels[1] = {y};
            real_t db[1];
            double p = 1 / (1 + exp(-zs[i]));
            /* -[y log p + (1-y) log(1-p)], written without rounding p */
            double want = y ? log1p(exp(-zs[i])) : zs[i] + log1p(exp(-zs[i]));
            double got = run_loss(m, 1, labels, db);
            if (zs[i] < -100)
                want = y ? -zs[i] : 0;
            ck_assert_msg(isfinite(got), "loss not finite at z=%g", zs[i]);
            ck_assert_double_eq_tol(got, want, 1e-5 * (1 + fabs(want)));
            ck_assert_double_eq_tol(db[0], p - y, 1e-6);
            seqcls_model_free(m);
        }
}
END_TEST

START_TEST(softmax_cross_entropy_from_logits)
{
    const double z[3] = {1.0, -2.0, 0.5}, huge[3] = {1000.0, -1000.0, 999.0};
    int y;
    for (y = 0; y < 3; y++) {
        seqcls_model_t *m = logit_model(3, z);
        int32_t labels[2] = {y, (y + 1) % 3};
        real_t db[3];
        double lse = log(exp(1.0) + exp(-2.0) + exp(0.5));
        double want = 0.5 * ((lse - z[labels[0]]) + (lse - z[labels[1]]));
        int c;
        ck_assert_double_eq_tol(run_loss(m, 2, labels, db), want, 1e-5);
        for (c = 0; c < 3; c++) {
            double p = exp(z[c] - lse);
            double d = 0.5 * ((p - (c == labels[0])) + (p - (c == labels[1])));
            ck_assert_double_eq_tol(db[c], d, 1e-6);
        }
        seqcls_model_free(m);
    }
    {
        seqcls_model_t *m = logit_model(3, huge);
        int32_t labels[1] = {1};
        real_t db[3];
        double got = run_loss(m, 1, labels, db);
        ck_assert(isfinite(got));
        ck_assert_double_eq_tol(got, 2000 + log1p(exp(-1.0)), 1e-2);
        ck_assert(isfinite(db[0]) && isfinite(db[1]) && isfinite(db[2]));
        seqcls_model_free(m);
    }
}
END_TEST

START_TEST(probabilities_at_extreme_logits)
{
    const double huge[3] = {1000.0, -1000.0, 999.0}, big[1] = {-800.0};
    seqcls_model_t *m = logit_model(3, huge), *b = logit_model(1, big);
    seqcls_tensor_t *x = tu_tensor(SEQCLS_F32, 3, 1, 1, 1);
    seqcls_tensor_t *p = tu_tensor(SEQCLS_F32, 2, 1, 3, 0), *p1 = tu_tensor(SEQCLS_F32, 2, 1, 1, 0);
    real_t *pd = seqcls_tensor_data(p);
    OK(seqcls_predict(m, x, NULL, p, NULL));
    ck_assert_double_eq_tol(pd[0] + pd[1] + pd[2], 1, 1e-6);
    ck_assert_double_eq_tol(pd[0], 1 / (1 + exp(-1.0)), 1e-6);
    OK(seqcls_predict(b, x, NULL, p1, NULL));
    ck_assert(((real_t *)seqcls_tensor_data(p1))[0] >= 0);
    ck_assert(((real_t *)seqcls_tensor_data(p1))[0] < 1e-30);
    seqcls_tensor_free(x);
    seqcls_tensor_free(p);
    seqcls_tensor_free(p1);
    seqcls_model_free(m);
    seqcls_model_free(b);
}
END_TEST

Suite *loss_suite(void)
{
    Suite *s = suite_create("loss");
    TCase *tc = tcase_create("loss");
    tcase_add_test(tc, binary_cross_entropy_from_logits);
    tcase_add_test(tc, softmax_cross_entropy_from_logits);
    tcase_add_test(tc, probabilities_at_extreme_logits);
    suite_add_tcase(s, tc);
    return s;
}
