/*
 * test_grad_serialize.c -- save and load in the double-precision build.
 * (Named test_grad_* only so that the Makefile builds it with the
 * gradient checks, in double.)  Files hold float32 whatever the build:
 * saving rounds, loading widens, and files of the float build load here.
 */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>

START_TEST(double_build_rounds_to_float32)
{
    seqcls_model_t *m = NULL, *m2 = NULL;
    seqcls_tensor_t *in, *p1, *p2, *v = NULL, *v2 = NULL;
    void *buf = NULL;
    size_t len = 0;
    int i;
    int64_t k;
    ck_assert_uint_eq(sizeof(real_t), sizeof(double));
    OK(seqcls_model_create(&m, 3));
    OK(seqcls_add_embedding(m, 12, 5, 0, NULL));
    OK(seqcls_add_dense(m, 4, SEQCLS_ACT_TANH, NULL));
    OK(seqcls_add_pooling(m, SEQCLS_POOL_MEAN, NULL));
    OK(seqcls_add_output(m, 3, NULL));
    OK(seqcls_model_save_buffer(m, &buf, &len));
    OK(seqcls_model_load_buffer(&m2, buf, len));
    /* Round the original's parameters as the file did: then both models
     * are the same, bit for bit. */
    for (i = 0; i < seqcls_param_count(m); i++) {
        real_t *a, *b;
        OK(seqcls_param(m, i, &v, NULL));
        OK(seqcls_param(m2, i, &v2, NULL));
        a = seqcls_tensor_data(v);
        b = seqcls_tensor_data(v2);
        for (k = 0; k < seqcls_tensor_numel(v); k++) {
            ck_assert(b[k] == (double)(float)a[k]);
            a[k] = (double)(float)a[k];
        }
    }
    in = tu_tensor(SEQCLS_I32, 2, 2, 4, 0);
    tu_fill_ids(in, 0, 12, 1);
    p1 = tu_tensor(SEQCLS_F32, 2, 2, 3, 0);
    p2 = tu_tensor(SEQCLS_F32, 2, 2, 3, 0);
    OK(seqcls_predict(m, in, NULL, p1, NULL));
    OK(seqcls_predict(m2, in, NULL, p2, NULL));
    ck_assert(memcmp(seqcls_tensor_data(p1), seqcls_tensor_data(p2), 6 * sizeof(real_t)) == 0);
    /* Values beyond float32 cannot be saved. */
    ((real_t *)seqcls_tensor_data(v))[0] = 1e300;
    seqcls_free(buf);
    FAILS(SEQCLS_E_NUMERIC, "too large for float32", seqcls_model_save_buffer(m, &buf, &len));
    seqcls_tensor_free(in);
    seqcls_tensor_free(p1);
    seqcls_tensor_free(p2);
    seqcls_model_free(m);
    seqcls_model_free(m2);
}
END_TEST

START_TEST(float_build_files_load)
{
    const char *src = getenv("SEQCLS_SOURCE_DIR");
    char path[1024];
    DIR *d;
    struct dirent *e;
    int n = 0;
    snprintf(path, sizeof path, "%s/fuzz/corpus/load", src ? src : ".");
    d = opendir(path);
    ck_assert_msg(d != NULL, "cannot open %s", path);
    while ((e = readdir(d)) != NULL) {
        seqcls_model_t *m = NULL;
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/fuzz/corpus/load/%s", src ? src : ".", e->d_name);
        OK(seqcls_model_load(&m, path));
        seqcls_model_free(m);
        n++;
    }
    closedir(d);
    ck_assert_int_gt(n, 3);
}
END_TEST

Suite *grad_serialize_suite(void)
{
    Suite *s = suite_create("save/load (double)");
    TCase *tc = tcase_create("serialize");
    tcase_add_test(tc, double_build_rounds_to_float32);
    tcase_add_test(tc, float_build_files_load);
    suite_add_tcase(s, tc);
    return s;
}
