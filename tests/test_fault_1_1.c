/*
 * test_fault_1_1.c -- allocation failure at every allocation site of the
 * 1.1 sequence-model calls (conv1d, flatten, the ave/mul merges with
 * recurrent dropout, the final states, per-tensor clipping, a vocabulary
 * from a word index): each must give SEQCLS_E_NOMEM with a message naming
 * the call, never a crash or a leak.  Test build (fault injection).
 */
#include <stdio.h>

#include "testutil.h"

void seqcls__fault_fail_after(long n);
long seqcls__fault_allocations(void);

#define B 5
#define T 8

static int scenario(void)
{
    static const char *const words[6] = {"", "", "the", "cat", "sat", "mat"};
    seqcls_model_t *m = NULL, *r = NULL, *f = NULL;
    seqcls_optimizer_t *o = NULL;
    seqcls_tensor_t *ids = NULL, *y = NULL, *p = NULL, *x = NULL, *h = NULL, *c = NULL;
    seqcls_tensor_t *z = NULL;
    seqcls_vocab_t *v = NULL;
    int64_t s_ids[2] = {B, T}, s_y[1] = {B}, s_p[2] = {B, 2}, s_x[3] = {B, T, 3};
    int64_t s_h[2] = {B, 8}, s_z[2] = {B, 1};
    int32_t lens[B] = {8, 1, 0, 5, 8}, full[B] = {8, 8, 8, 8, 8}, enc[4], n;
    float loss;
    int rc, i, l;

    if ((rc = seqcls_vocab_from_list(&v, words, 6)) ||
        (rc = seqcls_vocab_encode_ex(v, "the cat sat on the mat", 22, enc, 4,
                                     SEQCLS_TRUNCATE_PRE, &n)))
        goto done;
    /* conv1d: same padding with an even kernel (gathered windows), then a
     * dilated valid one */
    if ((rc = seqcls_model_create(&m, 3)) || (rc = seqcls_add_embedding(m, 11, 4, 0, NULL)) ||
        (rc = seqcls_add_conv1d(m, 6, 2, SEQCLS_PAD_SAME, &l)) ||
        (rc = seqcls_layer_set_int(m, l, SEQCLS_OPT_ACTIVATION, SEQCLS_ACT_RELU)) ||
        (rc = seqcls_add_conv1d(m, 5, 3, 0, &l)) ||
        (rc = seqcls_layer_set_int(m, l, SEQCLS_OPT_DILATION, 2)) ||
        (rc = seqcls_add_pooling(m, SEQCLS_POOL_MAX, NULL)) ||
        (rc = seqcls_add_output(m, 2, NULL)) ||
        (rc = seqcls_tensor_create(&ids, SEQCLS_I32, 2, s_ids)) ||
        (rc = seqcls_tensor_create(&y, SEQCLS_I32, 1, s_y)) ||
        (rc = seqcls_tensor_create(&p, SEQCLS_F32, 2, s_p)))
        goto done;
    for (i = 0; i < B * T; i++)
        ((int32_t *)seqcls_tensor_data(ids))[i] = 1 + i % 10;
    for (i = 0; i < B; i++)
        ((int32_t *)seqcls_tensor_data(y))[i] = i % 2;
    if ((rc = seqcls_optimizer_create(&o, SEQCLS_OPTIM_ADAM, 0.01f)) ||
        (rc = seqcls_optimizer_set_float(o, SEQCLS_OPTIM_CLIPNORM_PER_TENSOR, 0.5f)) ||
        (rc = seqcls_forward(m, ids, lens, NULL, 1)) ||
        (rc = seqcls_loss_backward(m, y, &loss)) || (rc = seqcls_optimizer_step(o, m)) ||
        (rc = seqcls_predict(m, ids, lens, p, NULL)))
        goto done;
    /* recurrent: ave and mul merges, recurrent dropout, final states */
    if ((rc = seqcls_model_create(&r, 4)) || (rc = seqcls_add_input(r, 3, NULL)) ||
        (rc = seqcls_add_lstm(r, 4, SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES |
                                        SEQCLS_MERGE_AVE, &l)) ||
        (rc = seqcls_layer_set_float(r, l, SEQCLS_OPT_RECURRENT_DROPOUT, 0.3f)) ||
        (rc = seqcls_add_gru(r, 4, SEQCLS_BIDIRECTIONAL | SEQCLS_MERGE_MUL, &l)) ||
        (rc = seqcls_layer_set_float(r, l, SEQCLS_OPT_RECURRENT_DROPOUT, 0.2f)) ||
        (rc = seqcls_add_output(r, 2, NULL)) ||
        (rc = seqcls_tensor_create(&x, SEQCLS_F32, 3, s_x)) ||
        (rc = seqcls_tensor_create(&h, SEQCLS_F32, 2, s_h)) ||
        (rc = seqcls_tensor_create(&c, SEQCLS_F32, 2, s_h)) ||
        (rc = seqcls_forward(r, x, lens, NULL, 1)) || (rc = seqcls_loss_backward(r, y, &loss)) ||
        (rc = seqcls_final_states(r, 1, h, c)) || (rc = seqcls_final_states(r, -1, h, NULL)))
        goto done;
    /* flatten after the steps are fixed */
    if ((rc = seqcls_model_create(&f, 5)) || (rc = seqcls_add_input(f, 3, NULL)) ||
        (rc = seqcls_add_attention(f, SEQCLS_ATTN_FEATURE_TIME, T, NULL)) ||
        (rc = seqcls_add_conv1d(f, 2, 3, 0, NULL)) || (rc = seqcls_add_flatten(f, NULL)) ||
        (rc = seqcls_add_output(f, 1, NULL)) ||
        (rc = seqcls_tensor_create(&z, SEQCLS_F32, 2, s_z)) ||
        (rc = seqcls_forward(f, x, full, z, 1)) || (rc = seqcls_backward(f, z)))
        goto done;
done:
    seqcls_vocab_free(v);
    seqcls_optimizer_free(o);
    seqcls_tensor_free(ids);
    seqcls_tensor_free(y);
    seqcls_tensor_free(p);
    seqcls_tensor_free(x);
    seqcls_tensor_free(h);
    seqcls_tensor_free(c);
    seqcls_tensor_free(z);
    seqcls_model_free(m);
    seqcls_model_free(r);
    seqcls_model_free(f);
    return rc;
}

START_TEST(every_allocation_failure_of_the_1_1_calls_is_reported)
{
    long total, k;
    seqcls__fault_fail_after(0);
    OK(scenario());
    total = seqcls__fault_allocations();
    ck_assert_int_gt(total, 20);
    for (k = 1; k <= total; k++) {
        int rc;
        seqcls__fault_fail_after(k);
        rc = scenario();
        ck_assert_msg(rc == SEQCLS_E_NOMEM, "allocation %ld of %ld: status %d (%s)", k, total, rc,
                      seqcls_last_error());
        ck_assert_msg(strstr(seqcls_last_error(), "out of memory") != NULL &&
                          strncmp(seqcls_last_error(), "seqcls_", 7) == 0,
                      "allocation %ld: message '%s'", k, seqcls_last_error());
    }
    seqcls__fault_fail_after(0);
    printf("  allocation failure (1.1 calls): %ld sites tried\n", total);
}
END_TEST

Suite *fault_1_1_suite(void)
{
    Suite *s = suite_create("allocation failures, 1.1 calls (double)");
    TCase *tc = tcase_create("fault 1.1");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, every_allocation_failure_of_the_1_1_calls_is_reported);
    suite_add_tcase(s, tc);
    return s;
}
