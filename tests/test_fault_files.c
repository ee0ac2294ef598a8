/*
 * test_fault_files.c -- the file side of saving and loading, counted with
 * the fault-injection build's allocation counter (issue 14, items 8 and
 * 10): a file that is not a model, or whose sections claim more than it
 * holds, is refused without a single allocation; a big damaged file with
 * one chunk buffer; and allocation failure at every site of a file load
 * or save (both save paths) gives SEQCLS_E_NOMEM, leaves the old file as
 * it was and no temporary file behind.
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

void seqcls__fault_fail_after(long n);
long seqcls__fault_allocations(void);

static char dir[64];

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/seqcls-ffiles-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static int entries(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static void remove_dir(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[400];
    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        ck_assert_int_eq(unlink(p), 0);
    }
    closedir(d);
    ck_assert_int_eq(rmdir(dir), 0);
}

/* A file of `size` bytes with `head` at its start and `tail` at its end
 * (a hole between): 0 where sparse files that big cannot be made. */
static int sparse_file(const char *path, off_t size, const void *head, size_t nhead,
                       const void *tail, size_t ntail)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert_int_ge(fd, 0);
    if (ftruncate(fd, size) != 0) {
        close(fd);
        unlink(path);
        return 0;
    }
    if (nhead)
        ck_assert_int_eq(pwrite(fd, head, nhead, 0), (ssize_t)nhead);
    if (ntail)
        ck_assert_int_eq(pwrite(fd, tail, ntail, size - (off_t)ntail), (ssize_t)ntail);
    ck_assert_int_eq(close(fd), 0);
    return 1;
}

static void put_u64(unsigned char *p, uint64_t v)
{
    int i;
    for (i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Allocations made by loading `path` as a model and as a checkpoint (the
 * larger), which must fail with `status`. */
static long allocations_to_refuse(const char *path, int status)
{
    seqcls_model_t *m = NULL;
    seqcls_optimizer_t *o = NULL;
    long a, b;
    seqcls__fault_fail_after(0);
    ck_assert_int_eq(seqcls_model_load(&m, path), status);
    a = seqcls__fault_allocations();
    seqcls__fault_fail_after(0);
    ck_assert_int_eq(seqcls_checkpoint_load(&m, &o, path), status);
    b = seqcls__fault_allocations();
    ck_assert_ptr_null(m);
    ck_assert_ptr_null(o);
    return a > b ? a : b;
}

static seqcls_model_t *small_model(void)
{
    seqcls_model_t *m = NULL;
    OK(seqcls_model_create(&m, 8));
    OK(seqcls_add_embedding(m, 9, 3, 0, NULL));
    OK(seqcls_add_pooling(m, SEQCLS_POOL_MEAN, NULL));
    OK(seqcls_add_output(m, 2, NULL));
    return m;
}

START_TEST(refusals_allocate_nothing)
{
    char path[128];
    unsigned char head[24], tail[20];
    seqcls_model_t *m = small_model();
    void *buf = NULL;
    size_t len = 0;

    make_dir();
    snprintf(path, sizeof path, "%s/f", dir);
    /* 8 GiB that are not a model. */
    if (sparse_file(path, (off_t)8 << 30, NULL, 0, NULL, 0)) {
        ck_assert_int_eq(allocations_to_refuse(path, SEQCLS_E_FORMAT), 0);
        /* A model followed by 8 GiB of zeros. */
        OK(seqcls_model_save_buffer(m, &buf, &len));
        ck_assert(sparse_file(path, (off_t)8 << 30, buf, len, NULL, 0));
        ck_assert_int_eq(allocations_to_refuse(path, SEQCLS_E_FORMAT), 0);
        /* A section claiming 2^63 bytes. */
        memcpy(head, "SQCL\1\0\0\0\0\0\0\0PARM", 16);
        put_u64(head + 16, (uint64_t)1 << 63);
        ck_assert(sparse_file(path, (off_t)8 << 30, head, sizeof head, NULL, 0));
        ck_assert_int_eq(allocations_to_refuse(path, SEQCLS_E_FORMAT), 0);
    }
    /* A damaged 80 MiB file laid out as a model: one chunk buffer to
     * check its CRCs, not 80 MiB; and that one allocation may fail. */
    memcpy(head, "SQCL\1\0\0\0\0\0\0\0PARM", 16);
    put_u64(head + 16, ((uint64_t)80 << 20) - 12 - 16 - 16);
    memset(tail, 0, sizeof tail);
    tail[0] = 1;   /* PARM's CRC */
    memcpy(tail + 4, "ENDF", 4);
    if (sparse_file(path, (off_t)80 << 20, head, sizeof head, tail, sizeof tail)) {
        seqcls_model_t *out = (seqcls_model_t *)1;
        ck_assert_int_eq(allocations_to_refuse(path, SEQCLS_E_FORMAT), 1);
        seqcls__fault_fail_after(1);
        FAILS(SEQCLS_E_NOMEM, "out of memory", seqcls_model_load(&out, path));
        seqcls__fault_fail_after(0);
        ck_assert_ptr_null(out);
    }
    seqcls_free(buf);
    remove_dir();
    seqcls_model_free(m);
}
END_TEST

START_TEST(file_save_and_load_under_allocation_failure)
{
    seqcls_model_t *m = small_model(), *out;
    seqcls_optimizer_t *o = NULL, *oo;
    char path[128];
    long k, sites = 0;
    int rc, fallback, ck;

    OK(seqcls_optimizer_create(&o, SEQCLS_OPTIM_ADAM, 0.01f));
    make_dir();
    snprintf(path, sizeof path, "%s/model.sqcl", dir);
    for (fallback = 0; fallback < 2; fallback++) {
        if (fallback)
            setenv("SEQCLS_SAVE_NO_TMPFILE", "1", 1);
        for (ck = 0; ck < 2; ck++) {
            unlink(path);
            for (k = 1;; k++) {
                seqcls__fault_fail_after(k);
                rc = ck ? seqcls_checkpoint_save(m, o, path) : seqcls_model_save(m, path);
                seqcls__fault_fail_after(0);
                if (rc == SEQCLS_OK)
                    break;
                ck_assert_msg(rc == SEQCLS_E_NOMEM, "save, allocation %ld: status %d (%s)", k,
                              rc, seqcls_last_error());
                ck_assert_int_eq(entries(), 0);
                sites++;
            }
            ck_assert_int_eq(entries(), 1);
            for (k = 1;; k++) {
                out = (seqcls_model_t *)1;
                oo = (seqcls_optimizer_t *)1;
                seqcls__fault_fail_after(k);
                rc = ck ? seqcls_checkpoint_load(&out, &oo, path) : seqcls_model_load(&out, path);
                seqcls__fault_fail_after(0);
                if (rc == SEQCLS_OK) {
                    seqcls_model_free(out);
                    if (ck)
                        seqcls_optimizer_free(oo);
                    break;
                }
                ck_assert_msg(rc == SEQCLS_E_NOMEM, "load, allocation %ld: status %d (%s)", k,
                              rc, seqcls_last_error());
                ck_assert_ptr_null(out);
                sites++;
            }
        }
    }
    unsetenv("SEQCLS_SAVE_NO_TMPFILE");
    printf("  file save/load allocation failure: %ld sites, all SEQCLS_E_NOMEM\n", sites);
    remove_dir();
    seqcls_optimizer_free(o);
    seqcls_model_free(m);
}
END_TEST

Suite *fault_files_suite(void)
{
    Suite *s = suite_create("file save/load allocations");
    TCase *tc = tcase_create("fault");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, refusals_allocate_nothing);
    tcase_add_test(tc, file_save_and_load_under_allocation_failure);
    suite_add_tcase(s, tc);
    return s;
}
