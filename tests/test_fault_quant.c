/*
 * test_fault_quant.c -- allocation failure at every allocation site of
 * seqcls_model_quantize and of what a quantised model does (predict,
 * save, load, streams): each must give SEQCLS_E_NOMEM with a message
 * naming the call, never a crash or a leak, and a failed quantisation
 * leaves the model as it was.  Test build (fault injection).
 */
#include <stdio.h>

#include "testutil.h"

void seqcls__fault_fail_after(long n);
long seqcls__fault_allocations(void);

#define B 4
#define T 6

static int scenario(int precision)
{
    seqcls_model_t *m = NULL, *r = NULL;
    seqcls_tensor_t *x = NULL, *p = NULL, *q = NULL;
    int64_t s_x[3] = {B, T, 3}, s_p[2] = {B, 2};
    int32_t lens[B] = {6, 1, 0, 4};
    void *buf = NULL;
    size_t n = 0;
    int rc, i;

    if ((rc = seqcls_model_create(&m, 3)) || (rc = seqcls_add_input(m, 3, NULL)) ||
        (rc = seqcls_add_lstm(m, 5, SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES, NULL)) ||
        (rc = seqcls_add_gru(m, 4, SEQCLS_RETURN_SEQUENCES | SEQCLS_GRU_RESET_BEFORE, NULL)) ||
        (rc = seqcls_add_dense(m, 3, SEQCLS_ACT_RELU, NULL)) ||
        (rc = seqcls_add_pooling(m, SEQCLS_POOL_MAX, NULL)) ||
        (rc = seqcls_add_output(m, 2, NULL)) ||
        (rc = seqcls_tensor_create(&x, SEQCLS_F32, 3, s_x)) ||
        (rc = seqcls_tensor_create(&p, SEQCLS_F32, 2, s_p)) ||
        (rc = seqcls_tensor_create(&q, SEQCLS_F32, 1, s_p + 1)))
        goto done;
    for (i = 0; i < B * T * 3; i++)
        ((real_t *)seqcls_tensor_data(x))[i] = (real_t)((i % 7) - 3) / 3;
    rc = seqcls_model_quantize(m, precision);
    if (rc) {
        /* a failed quantisation leaves a float32 model that still predicts */
        if (seqcls_model_precision(m) != SEQCLS_FP32)
            rc = -100;
        goto done;
    }
    if ((rc = seqcls_predict(m, x, lens, p, NULL)) ||
        (rc = seqcls_model_save_buffer(m, &buf, &n)) ||
        (rc = seqcls_model_load_buffer(&r, buf, n)) ||
        (rc = seqcls_predict(r, x, lens, p, NULL)))
        goto done;
done:
    seqcls_free(buf);
    seqcls_tensor_free(x);
    seqcls_tensor_free(p);
    seqcls_tensor_free(q);
    seqcls_model_free(m);
    seqcls_model_free(r);
    return rc;
}

static int stream_scenario(int precision)
{
    seqcls_model_t *m = NULL;
    seqcls_stream_t *st = NULL;
    seqcls_tensor_t *x = NULL, *q = NULL;
    int64_t s_x[2] = {T, 3}, s_q[1] = {2};
    int rc, i;
    if ((rc = seqcls_model_create(&m, 4)) || (rc = seqcls_add_input(m, 3, NULL)) ||
        (rc = seqcls_add_gru(m, 5, 0, NULL)) || (rc = seqcls_add_output(m, 2, NULL)) ||
        (rc = seqcls_tensor_create(&x, SEQCLS_F32, 2, s_x)) ||
        (rc = seqcls_tensor_create(&q, SEQCLS_F32, 1, s_q)) ||
        (rc = seqcls_model_quantize(m, precision)) || (rc = seqcls_stream_create(&st, m)))
        goto done;
    for (i = 0; i < T * 3; i++)
        ((real_t *)seqcls_tensor_data(x))[i] = (real_t)(i % 5) / 5;
    if ((rc = seqcls_stream_push(st, x, 2, q)) || (rc = seqcls_stream_push(st, x, T, q)))
        goto done;
done:
    seqcls_stream_free(st);
    seqcls_tensor_free(x);
    seqcls_tensor_free(q);
    seqcls_model_free(m);
    return rc;
}

static void every_failure(int (*fn)(int), int precision, const char *what)
{
    long total, k;
    seqcls__fault_fail_after(0);
    OK(fn(precision));
    total = seqcls__fault_allocations();
    ck_assert_int_gt(total, 10);
    for (k = 1; k <= total; k++) {
        int rc;
        seqcls__fault_fail_after(k);
        rc = fn(precision);
        ck_assert_msg(rc == SEQCLS_E_NOMEM, "%s, allocation %ld of %ld: status %d (%s)", what, k,
                      total, rc, seqcls_last_error());
        ck_assert_msg(strstr(seqcls_last_error(), "out of memory") != NULL &&
                          strncmp(seqcls_last_error(), "seqcls_", 7) == 0,
                      "%s, allocation %ld: message '%s'", what, k, seqcls_last_error());
    }
    seqcls__fault_fail_after(0);
    printf("  allocation failure (%s): %ld sites tried\n", what, total);
}

START_TEST(every_allocation_failure_of_quantised_models_is_reported)
{
    every_failure(scenario, SEQCLS_INT8, "int8 model");
    every_failure(scenario, SEQCLS_BF16, "bf16 model");
    every_failure(stream_scenario, SEQCLS_INT8, "int8 stream");
}
END_TEST

Suite *fault_quant_suite(void)
{
    Suite *s = suite_create("allocation failures, quantised models (double)");
    TCase *tc = tcase_create("fault quant");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, every_allocation_failure_of_quantised_models_is_reported);
    suite_add_tcase(s, tc);
    return s;
}
