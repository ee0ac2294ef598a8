/*
 * test_fault_serialize.c -- allocation failure at every allocation site
 * of saving and loading: each must give SEQCLS_E_NOMEM (never
 * SEQCLS_E_FORMAT: the file is fine), leave *out NULL, and leak nothing.
 */
#include <stdio.h>

#include "testutil.h"

void seqcls__fault_fail_after(long n);
long seqcls__fault_allocations(void);

static seqcls_model_t *model(void)
{
    seqcls_model_t *m = NULL;
    OK(seqcls_model_create(&m, 3));
    OK(seqcls_add_embedding(m, 11, 4, 0, NULL));
    OK(seqcls_add_dense(m, 5, SEQCLS_ACT_TANH, NULL));
    OK(seqcls_add_attention(m, SEQCLS_ATTN_LEARNED_QUERY, 3, NULL));
    OK(seqcls_add_batchnorm(m, NULL));
    OK(seqcls_add_output(m, 3, NULL));
    return m;
}

START_TEST(load_and_save_under_allocation_failure)
{
    seqcls_model_t *m = model(), *out;
    void *buf = NULL, *b2;
    size_t len = 0, n2;
    long k, sites = 0;
    int rc;

    OK(seqcls_model_save_buffer(m, &buf, &len));
    for (k = 1;; k++) {
        out = (seqcls_model_t *)1;
        seqcls__fault_fail_after(k);
        rc = seqcls_model_load_buffer(&out, buf, len);
        seqcls__fault_fail_after(0);
        if (rc == SEQCLS_OK) {
            seqcls_model_free(out);
            break;
        }
        ck_assert_msg(rc == SEQCLS_E_NOMEM, "load, allocation %ld: status %d (%s)", k, rc,
                      seqcls_last_error());
        ck_assert_ptr_null(out);
        sites++;
    }
    for (k = 1;; k++) {
        seqcls__fault_fail_after(k);
        rc = seqcls_model_save_buffer(m, &b2, &n2);
        seqcls__fault_fail_after(0);
        if (rc == SEQCLS_OK) {
            seqcls_free(b2);
            break;
        }
        ck_assert_msg(rc == SEQCLS_E_NOMEM, "save, allocation %ld: status %d (%s)", k, rc,
                      seqcls_last_error());
        ck_assert_ptr_null(b2);
        sites++;
    }
    printf("  save/load allocation failure: %ld sites, all SEQCLS_E_NOMEM\n", sites);
    seqcls_free(buf);
    seqcls_model_free(m);
}
END_TEST

Suite *fault_serialize_suite(void)
{
    Suite *s = suite_create("save/load allocation failure");
    TCase *tc = tcase_create("fault");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, load_and_save_under_allocation_failure);
    suite_add_tcase(s, tc);
    return s;
}
