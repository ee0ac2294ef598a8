/*
 * test_limits.c -- absurd sizes are refused before anything is
 * allocated, with a message; the model stays usable afterwards.
 */
#include <limits.h>

#include "testutil.h"

START_TEST(absurd_layer_sizes_are_refused)
{
    seqcls_model_t *m = NULL;
    int rc;
    OK(seqcls_model_create(&m, 1));
    FAILS(SEQCLS_E_NOMEM, "too large", seqcls_add_embedding(m, INT_MAX, INT_MAX, -1, NULL));
    FAILS(SEQCLS_E_NOMEM, "too large", seqcls_add_embedding(m, 1 << 30, 1 << 20, -1, NULL));
    OK(seqcls_add_embedding(m, 10, 4, 0, NULL));
    rc = seqcls_add_lstm(m, INT_MAX, SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES, NULL);
    ck_assert_msg(rc == SEQCLS_E_NOMEM || rc == SEQCLS_E_INVALID_ARG, "status %d", rc);
    ck_assert(seqcls_last_error()[0] != '\0');
    rc = seqcls_add_gru(m, 1 << 28, 0, NULL);
    ck_assert_msg(rc == SEQCLS_E_NOMEM || rc == SEQCLS_E_INVALID_ARG, "status %d", rc);
    FAILS(SEQCLS_E_INVALID_ARG, "units", seqcls_add_dense(m, INT_MAX, SEQCLS_ACT_NONE, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "units", seqcls_add_attention(m, SEQCLS_ATTN_LEARNED_QUERY, INT_MAX, NULL));
    ck_assert_int_eq(seqcls_layer_count(m), 1);
    ck_assert_int_eq(seqcls_param_count(m), 1);
    /* still usable */
    OK(seqcls_add_pooling(m, SEQCLS_POOL_MEAN, NULL));
    OK(seqcls_add_output(m, 2, NULL));
    seqcls_model_free(m);
}
END_TEST

START_TEST(absurd_tensors_and_vocabularies_are_refused)
{
    int64_t huge[3] = {INT64_MAX / 2, 4, 4}, over[2] = {(int64_t)1 << 31, (int64_t)1 << 31};
    seqcls_tensor_t *t = NULL;
    seqcls_vocab_t *v = NULL;
    FAILS(SEQCLS_E_NOMEM, "too large", seqcls_tensor_create(&t, SEQCLS_F32, 3, huge));
    FAILS(SEQCLS_E_NOMEM, "too large", seqcls_tensor_create(&t, SEQCLS_F32, 2, over));
    ck_assert_ptr_null(t);
    OK(seqcls_vocab_create(&v));
    OK(seqcls_vocab_add_text(v, "a b", 3));
    ck_assert_int_ne(seqcls_vocab_build(v, 1, INT_MAX), SEQCLS_OK);
    ck_assert(seqcls_last_error()[0] != '\0');
    ck_assert_int_ne(seqcls_vocab_add_text(v, "a", (size_t)1 << 40), SEQCLS_OK);
    seqcls_vocab_free(v);
}
END_TEST

Suite *limits_suite(void)
{
    Suite *s = suite_create("limits");
    TCase *tc = tcase_create("limits");
    tcase_add_test(tc, absurd_layer_sizes_are_refused);
    tcase_add_test(tc, absurd_tensors_and_vocabularies_are_refused);
    suite_add_tcase(s, tc);
    return s;
}
