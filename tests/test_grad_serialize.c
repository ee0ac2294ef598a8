/*
 * test_grad_serialize.c -- save and load in the double-precision build.
 * (Named test_grad_* only so that the Makefile builds it with the
 * gradient checks, in double.)  Files hold float32 whatever the build:
 * saving rounds, loading widens, and files of the float build load here.
 * This build links the static library, so it can also test the internal
 * calls (src/io.h) that other modules use to add OPTM/VOCB sections.
 */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../src/io.h"

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

START_TEST(extra_sections)
{
    seqcls_model_t *m = NULL, *m2 = NULL;
    seqcls_section_t ex[3] = {{{'O', 'P', 'T', 'M'}, "adam state", 10},
                              {{'z', 'z', 'z', 'z'}, NULL, 0},
                              {{'n', 'o', 't', 'e'}, "hello", 5}};
    const void *p = NULL;
    size_t n = 0, len = 0, flen = 0;
    void *buf = NULL;
    char path[] = "/tmp/seqcls-extra-XXXXXX";
    int fd;
    FILE *f;
    unsigned char *fbuf;

    OK(seqcls_model_create(&m, 1));
    OK(seqcls_add_input(m, 2, NULL));
    OK(seqcls_add_pooling(m, SEQCLS_POOL_MEAN, NULL));
    OK(seqcls_add_output(m, 2, NULL));
    OK(seqcls__model_save(m, ex, 3, NULL, &buf, &len, "test"));
    OK(seqcls_model_load_buffer(&m2, buf, len));   /* the model loader skips them */
    seqcls_model_free(m2);
    OK(seqcls__model_section(buf, len, "OPTM", &p, &n, "test"));
    ck_assert_uint_eq(n, 10);
    ck_assert(memcmp(p, "adam state", 10) == 0);
    OK(seqcls__model_section(buf, len, "zzzz", &p, &n, "test"));
    ck_assert_uint_eq(n, 0);
    OK(seqcls__model_section(buf, len, "note", &p, &n, "test"));
    ck_assert(n == 5 && memcmp(p, "hello", 5) == 0);
    FAILS(SEQCLS_E_RANGE, "no XTRA section", seqcls__model_section(buf, len, "XTRA", &p, &n, "test"));
    ((unsigned char *)buf)[len - 20] ^= 1;   /* the CRC of "note" */
    FAILS(SEQCLS_E_FORMAT, "note: CRC-32 mismatch", seqcls__model_section(buf, len, "OPTM", &p, &n, "test"));
    seqcls_free(buf);

    /* to a file */
    fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    OK(seqcls__model_save(m, ex, 2, path, NULL, NULL, "test"));
    f = fopen(path, "rb");
    fbuf = malloc(4096);
    flen = fread(fbuf, 1, 4096, f);
    fclose(f);
    unlink(path);
    OK(seqcls__model_section(fbuf, flen, "OPTM", &p, &n, "test"));
    ck_assert(n == 10 && memcmp(p, "adam state", 10) == 0);
    FAILS(SEQCLS_E_RANGE, "no note section", seqcls__model_section(fbuf, flen, "note", &p, &n, "test"));
    free(fbuf);

    /* the caller's mistakes */
    memcpy(ex[1].tag, "CONF", 4);
    FAILS(SEQCLS_E_INVALID_ARG, "model's own", seqcls__model_save(m, ex, 2, NULL, &buf, &len, "test"));
    memcpy(ex[1].tag, "OPTM", 4);
    FAILS(SEQCLS_E_INVALID_ARG, "given twice", seqcls__model_save(m, ex, 2, NULL, &buf, &len, "test"));
    memcpy(ex[1].tag, "V B ", 4);
    FAILS(SEQCLS_E_INVALID_ARG, "invalid section tag", seqcls__model_save(m, ex, 2, NULL, &buf, &len, "test"));
    memcpy(ex[1].tag, "VOCB", 4);
    ex[1].len = 3;
    FAILS(SEQCLS_E_INVALID_ARG, "no data", seqcls__model_save(m, ex, 2, NULL, &buf, &len, "test"));
    FAILS(SEQCLS_E_INVALID_ARG, "extra sections", seqcls__model_save(m, NULL, 1, NULL, &buf, &len, "test"));
    seqcls_model_free(m);
}
END_TEST

Suite *grad_serialize_suite(void)
{
    Suite *s = suite_create("save/load (double)");
    TCase *tc = tcase_create("serialize");
    tcase_add_test(tc, double_build_rounds_to_float32);
    tcase_add_test(tc, float_build_files_load);
    tcase_add_test(tc, extra_sections);
    suite_add_tcase(s, tc);
    return s;
}
