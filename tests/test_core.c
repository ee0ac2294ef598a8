/*
 * test_core.c -- version, status strings, errors and tensors.
 */
#include "testutil.h"

START_TEST(version_matches_header)
{
    ck_assert_int_eq(seqcls_version(), SEQCLS_VERSION_NUMBER);
    ck_assert_str_eq(seqcls_version_string(), SEQCLS_VERSION_STRING);
    ck_assert_int_eq(seqcls_version() / 10000, SEQCLS_VERSION_MAJOR);
}
END_TEST

START_TEST(strerror_covers_every_code)
{
    int s;
    for (s = SEQCLS_E_COMM; s <= SEQCLS_OK; s++) {
        ck_assert_ptr_nonnull(seqcls_strerror(s));
        ck_assert_str_ne(seqcls_strerror(s), "unknown status code");
    }
    ck_assert_str_eq(seqcls_strerror(-1000), "unknown status code");
    ck_assert_str_eq(seqcls_strerror(7), "unknown status code");
}
END_TEST

START_TEST(last_error_is_never_null_and_clears)
{
    seqcls_model_t *m = NULL;
    ck_assert_ptr_nonnull(seqcls_last_error());
    FAILS(SEQCLS_E_INVALID_ARG, "out is NULL", seqcls_model_create(NULL, 1));
    OK(seqcls_model_create(&m, 1));
    ck_assert_str_eq(seqcls_last_error(), "");
    seqcls_model_free(m);
}
END_TEST

START_TEST(tensor_create_is_aligned_and_zeroed)
{
    int64_t shape[3] = {3, 5, 7};
    seqcls_tensor_t *t = NULL;
    real_t *p;
    int i;
    OK(seqcls_tensor_create(&t, SEQCLS_F32, 3, shape));
    ck_assert_int_eq(seqcls_tensor_ndim(t), 3);
    ck_assert_int_eq(seqcls_tensor_dim(t, 0), 3);
    ck_assert_int_eq(seqcls_tensor_dim(t, 2), 7);
    ck_assert_int_eq(seqcls_tensor_dim(t, -1), 7);
    ck_assert_int_eq(seqcls_tensor_dim(t, 3), -1);
    ck_assert_int_eq(seqcls_tensor_dim(t, -4), -1);
    ck_assert_int_eq(seqcls_tensor_numel(t), 105);
    ck_assert_int_eq(seqcls_tensor_dtype(t), SEQCLS_F32);
    p = seqcls_tensor_data(t);
    ck_assert_int_eq((int)((uintptr_t)p % 64), 0);
    for (i = 0; i < 105; i++)
        ck_assert(p[i] == 0);
    seqcls_tensor_free(t);

    OK(seqcls_tensor_create(&t, SEQCLS_I32, 1, shape));
    ck_assert_int_eq(seqcls_tensor_dtype(t), SEQCLS_I32);
    ck_assert_int_eq((int)((uintptr_t)seqcls_tensor_data(t) % 64), 0);
    seqcls_tensor_free(t);

    shape[0] = 0;
    OK(seqcls_tensor_create(&t, SEQCLS_F32, 2, shape));
    ck_assert_int_eq(seqcls_tensor_numel(t), 0);
    seqcls_tensor_free(t);
}
END_TEST

START_TEST(tensor_wrap_borrows)
{
    int32_t data[6] = {1, 2, 3, 4, 5, 6};
    int64_t shape[2] = {2, 3};
    seqcls_tensor_t *t = NULL;
    OK(seqcls_tensor_wrap(&t, SEQCLS_I32, 2, shape, data));
    ck_assert_ptr_eq(seqcls_tensor_data(t), data);
    data[4] = 42;
    ck_assert_int_eq(((int32_t *)seqcls_tensor_data(t))[4], 42);
    seqcls_tensor_free(t);
    ck_assert_int_eq(data[5], 6);   /* not freed, not changed */
}
END_TEST

START_TEST(tensor_errors)
{
    int64_t shape[2] = {2, 3}, bad[2] = {2, -1}, huge[2] = {(int64_t)1 << 40, 4};
    seqcls_tensor_t *t = (seqcls_tensor_t *)&shape;   /* must be reset to NULL */
    FAILS(SEQCLS_E_INVALID_ARG, "out is NULL", seqcls_tensor_create(NULL, SEQCLS_F32, 2, shape));
    FAILS(SEQCLS_E_INVALID_ARG, "dtype", seqcls_tensor_create(&t, 9, 2, shape));
    ck_assert_ptr_null(t);
    FAILS(SEQCLS_E_INVALID_ARG, "ndim", seqcls_tensor_create(&t, SEQCLS_F32, 0, shape));
    FAILS(SEQCLS_E_INVALID_ARG, "ndim", seqcls_tensor_create(&t, SEQCLS_F32, 9, shape));
    FAILS(SEQCLS_E_INVALID_ARG, "shape is NULL", seqcls_tensor_create(&t, SEQCLS_F32, 2, NULL));
    FAILS(SEQCLS_E_SHAPE, "negative", seqcls_tensor_create(&t, SEQCLS_F32, 2, bad));
    FAILS(SEQCLS_E_NOMEM, "too large", seqcls_tensor_create(&t, SEQCLS_F32, 2, huge));
    FAILS(SEQCLS_E_INVALID_ARG, "data is NULL", seqcls_tensor_wrap(&t, SEQCLS_F32, 2, shape, NULL));
    ck_assert_ptr_null(t);
    /* NULL tensors are harmless for the getters and free */
    seqcls_tensor_free(NULL);
    ck_assert_ptr_null(seqcls_tensor_data(NULL));
    ck_assert_int_eq(seqcls_tensor_ndim(NULL), 0);
    ck_assert_int_eq(seqcls_tensor_dim(NULL, 0), -1);
    ck_assert_int_eq(seqcls_tensor_numel(NULL), 0);
}
END_TEST

START_TEST(threads_setting)
{
    int before = seqcls_get_num_threads();
    ck_assert_int_ge(before, 1);
    OK(seqcls_set_num_threads(1));
    ck_assert_int_eq(seqcls_get_num_threads(), 1);
    FAILS(SEQCLS_E_INVALID_ARG, "n = -1", seqcls_set_num_threads(-1));
    OK(seqcls_set_num_threads(0));
    ck_assert_int_ge(seqcls_get_num_threads(), 1);
}
END_TEST

Suite *core_suite(void)
{
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, version_matches_header);
    tcase_add_test(tc, strerror_covers_every_code);
    tcase_add_test(tc, last_error_is_never_null_and_clears);
    tcase_add_test(tc, tensor_create_is_aligned_and_zeroed);
    tcase_add_test(tc, tensor_wrap_borrows);
    tcase_add_test(tc, tensor_errors);
    tcase_add_test(tc, threads_setting);
    suite_add_tcase(s, tc);
    return s;
}
