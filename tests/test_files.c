/*
 * test_files.c -- the file system side of saving and loading (issue 14,
 * items 8 and 10; docs/file-format.md, "Saving to a file" and "Loading
 * a file"):
 *
 * - loading looks at the header and the section heads before it reads
 *   the file: a file of gigabytes that is not a model, or whose sections
 *   claim more than it holds, is refused at once, without reading it or
 *   allocating its size (measured in a child process with getrusage);
 *   a big file whose structure is right but whose data is damaged is
 *   refused without holding it in memory, and a sparse copy of a model
 *   (holes checked as zeros without being read) loads;
 * - a save killed with SIGKILL leaves nothing behind (O_TMPFILE), and the
 *   target is always the old or the new complete file;
 * - both save paths (O_TMPFILE + linkat, and the named temporary file
 *   that SEQCLS_SAVE_NO_TMPFILE=1 forces) save to a 250-byte file name,
 *   keep the permissions rules and clean up after every failure.
 */
#define _GNU_SOURCE 1
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- a temporary directory ---- */

static char dir[64];

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/seqcls-files-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

/* The names in dir other than . and .. (at most `max` copied to names). */
static int entries(char names[][300], int max)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (names && n < max)
            snprintf(names[n], 300, "%s", e->d_name);
        n++;
    }
    closedir(d);
    return n;
}

/* Remove dir and what is in it (files, and empty directories). */
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
        if (unlink(p) != 0)
            ck_assert_int_eq(rmdir(p), 0);
    }
    closedir(d);
    ck_assert_int_eq(rmdir(dir), 0);
}

static void in_dir(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", dir, name);
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

static unsigned char *read_bytes(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *p;
    long n;
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    ck_assert_int_eq(fseek(f, 0, SEEK_SET), 0);
    p = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(fread(p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return p;
}

/* Make `path` a file of `size` bytes that holds `data` at its start and
 * `tail` at its end, and nothing (a hole) in between: 0 if the file
 * system cannot make sparse files that big. */
static int sparse_file(const char *path, off_t size, const void *data, size_t n,
                       const void *tail, size_t ntail)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert_int_ge(fd, 0);
    if (ftruncate(fd, size) != 0) {
        close(fd);
        unlink(path);
        return 0;
    }
    if (n)
        ck_assert_int_eq(pwrite(fd, data, n, 0), (ssize_t)n);
    if (ntail)
        ck_assert_int_eq(pwrite(fd, tail, ntail, size - (off_t)ntail), (ssize_t)ntail);
    ck_assert_int_eq(close(fd), 0);
    return 1;
}

static void put_u32(unsigned char *p, uint32_t v)
{
    int i;
    for (i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
    int i;
    for (i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static seqcls_model_t *small_model(uint64_t seed)
{
    seqcls_model_t *m = NULL;
    OK(seqcls_model_create(&m, seed));
    OK(seqcls_add_embedding(m, 6, 3, 0, NULL));
    OK(seqcls_add_pooling(m, SEQCLS_POOL_MEAN, NULL));
    OK(seqcls_add_output(m, 2, NULL));
    return m;
}

static seqcls_model_t *big_model(int rows)
{
    seqcls_model_t *m = NULL;
    OK(seqcls_model_create(&m, 5));
    OK(seqcls_add_embedding(m, rows, 64, 0, NULL));
    OK(seqcls_add_pooling(m, SEQCLS_POOL_MEAN, NULL));
    OK(seqcls_add_output(m, 2, NULL));
    return m;
}

/* ---- loading: look before reading ---- */

/* What a load in a child process did: its status, the time it took and
 * the child's peak resident memory (KiB). */
typedef struct {
    int rc;
    double seconds;
    long maxrss_kb;
} probe_t;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A child process that has done its work waits for the parent to kill
 * it: no exit handlers run, and valgrind or ASan make no leak report
 * about what the parent's frames hold. */
static void wait_to_be_killed(void)
{
    for (;;)
        pause();
}

/* Load `path` (as a checkpoint if `checkpoint`) in a child process; with
 * path NULL the child does nothing (the baseline of its memory). */
static probe_t probe(const char *path, int checkpoint)
{
    probe_t r;
    struct rusage ru;
    int fds[2], status;
    pid_t pid;
    ck_assert_int_eq(pipe(fds), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        probe_t c;
        double t0 = now();
        memset(&c, 0, sizeof c);
        close(fds[0]);
        if (path) {
            seqcls_model_t *m = NULL;
            seqcls_optimizer_t *o = NULL;
            c.rc = checkpoint ? seqcls_checkpoint_load(&m, &o, path) : seqcls_model_load(&m, path);
            seqcls_optimizer_free(o);
            seqcls_model_free(m);
        }
        c.seconds = now() - t0;
        if (write(fds[1], &c, sizeof c) != (ssize_t)sizeof c)
            _exit(2);
        wait_to_be_killed();
    }
    close(fds[1]);
    ck_assert_int_eq(read(fds[0], &r, sizeof r), (ssize_t)sizeof r);
    close(fds[0]);
    kill(pid, SIGKILL);
    ck_assert_int_eq(wait4(pid, &status, 0, &ru), pid);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    r.maxrss_kb = ru.ru_maxrss;
    return r;
}

/* Loading `path` (model and checkpoint) fails with `status`, within
 * `seconds`, its peak memory at most `mb` MiB above a child that does
 * nothing. */
static void refused_lightly(const char *path, int status, const char *needle, double seconds,
                            long mb)
{
    probe_t base = probe(NULL, 0);
    int ck;
    for (ck = 0; ck < 2; ck++) {
        probe_t p = probe(path, ck);
        seqcls_model_t *m = (seqcls_model_t *)1;
        seqcls_optimizer_t *o = (seqcls_optimizer_t *)1;
        ck_assert_msg(p.rc == status, "%s: status %d, expected %d", path, p.rc, status);
        ck_assert_msg(p.seconds < seconds, "%s: refused in %.3f s", path, p.seconds);
        ck_assert_msg(p.maxrss_kb - base.maxrss_kb < mb * 1024,
                      "%s: %ld KiB of memory (a child doing nothing: %ld KiB)", path, p.maxrss_kb,
                      base.maxrss_kb);
        /* the same in this process, for the message */
        if (ck)
            FAILS(status, needle, seqcls_checkpoint_load(&m, &o, path));
        else
            FAILS(status, needle, seqcls_model_load(&m, path));
        ck_assert_ptr_null(m);
        ck_assert(strstr(seqcls_last_error(), ck ? "seqcls_checkpoint_load: '" :
                                                   "seqcls_model_load: '") != NULL);
    }
}

START_TEST(big_files_that_are_not_models_are_refused_at_once)
{
    const off_t gib8 = (off_t)8 << 30;
    char path[128];
    unsigned char head[64];
    seqcls_model_t *m = small_model(1);
    void *buf = NULL;
    size_t len = 0;

    make_dir();
    in_dir(path, sizeof path, "sparse");
    /* 8 GiB of nothing: the first bytes are not "SQCL". */
    if (!sparse_file(path, gib8, NULL, 0, NULL, 0)) {
        remove_dir();
        seqcls_model_free(m);
        return;   /* no sparse files here */
    }
    refused_lightly(path, SEQCLS_E_FORMAT, "not a seqcls model", 1.0, 16);
    /* Some other kind of file, 8 GiB long. */
    memcpy(head, "\x7f" "ELF\x02\x01\x01", 7);
    ck_assert(sparse_file(path, gib8, head, 7, NULL, 0));
    refused_lightly(path, SEQCLS_E_FORMAT, "not a seqcls model", 1.0, 16);
    /* A model header, then 8 GiB of zeros: no section tag. */
    memcpy(head, "SQCL\1\0\0\0\0\0\0\0", 12);
    ck_assert(sparse_file(path, gib8, head, 12, NULL, 0));
    refused_lightly(path, SEQCLS_E_FORMAT, "no valid tag", 1.0, 16);
    /* A newer format: refused as newer, at once. */
    head[4] = 2;
    ck_assert(sparse_file(path, gib8, head, 12, NULL, 0));
    refused_lightly(path, SEQCLS_E_VERSION, "newer", 1.0, 16);
    /* A complete model followed by 8 GiB of zeros. */
    OK(seqcls_model_save_buffer(m, &buf, &len));
    ck_assert(sparse_file(path, gib8, buf, len, NULL, 0));
    refused_lightly(path, SEQCLS_E_FORMAT, "follow the end section", 1.0, 16);
    /* A file shorter than a header is still told apart. */
    write_bytes(path, "SQCL\1\0", 6);
    refused_lightly(path, SEQCLS_E_FORMAT, "truncated: 6 bytes", 1.0, 16);
    write_bytes(path, "", 0);
    refused_lightly(path, SEQCLS_E_FORMAT, "empty", 1.0, 16);

    seqcls_free(buf);
    remove_dir();
    seqcls_model_free(m);
}
END_TEST

START_TEST(section_lengths_are_checked_before_reading)
{
    const off_t gib4 = (off_t)4 << 30;
    char path[128];
    seqcls_model_t *m = small_model(2);
    unsigned char *b, end[20], *bad;
    void *buf = NULL;
    size_t len = 0, parm;

    make_dir();
    in_dir(path, sizeof path, "m.sqcl");
    OK(seqcls_model_save_buffer(m, &buf, &len));
    b = buf;
    /* CONF starts at 12; PARM follows it. */
    ck_assert(memcmp(b + 12, "CONF", 4) == 0);
    parm = 12 + 12 + 4;
    {
        int i;
        for (i = 0; i < 8; i++)
            parm += (size_t)b[16 + i] << (8 * i);
    }
    ck_assert(memcmp(b + parm, "PARM", 4) == 0);

    /* A valid model that claims a PARM of 1 TiB, in a file of 1 KiB. */
    bad = malloc(len);
    memcpy(bad, b, len);
    put_u64(bad + parm + 4, (uint64_t)1 << 40);
    write_bytes(path, bad, len);
    refused_lightly(path, SEQCLS_E_FORMAT, "runs past the end", 1.0, 16);
    /* ... and one of 2^64 - 1 bytes. */
    put_u64(bad + parm + 4, UINT64_MAX);
    write_bytes(path, bad, len);
    refused_lightly(path, SEQCLS_E_FORMAT, "runs past the end", 1.0, 16);
    free(bad);
    /* An ENDF that is not empty (4 bytes, and its CRC). */
    bad = calloc(1, len + 4);
    memcpy(bad, b, len);
    put_u64(bad + len - 12, 4);
    write_bytes(path, bad, len + 4);
    refused_lightly(path, SEQCLS_E_FORMAT, "must be empty", 1.0, 16);
    free(bad);

    /* 4 GiB: a header, a CONF that fills the file, an ENDF at the end --
     * more than any configuration needs. */
    {
        unsigned char head[24];
        memcpy(head, "SQCL\1\0\0\0\0\0\0\0CONF", 16);
        put_u64(head + 16, (uint64_t)gib4 - 12 - 16 - 16);
        memset(end, 0, sizeof end);
        memcpy(end + 4, "ENDF", 4);   /* CONF's CRC, then an empty ENDF */
        if (sparse_file(path, gib4, head, sizeof head, end, sizeof end)) {
            refused_lightly(path, SEQCLS_E_FORMAT, "more than any configuration needs", 1.0, 16);
            /* A PARM that fills the file, and no ENDF after it. */
            memcpy(head + 12, "PARM", 4);
            memset(end, 0, sizeof end);
            ck_assert(sparse_file(path, gib4, head, sizeof head, end, sizeof end));
            refused_lightly(path, SEQCLS_E_FORMAT, "no valid tag", 1.0, 16);
        }
    }
    /* The sections of a complete model, the last one cut short. */
    write_bytes(path, b, len - 3);
    refused_lightly(path, SEQCLS_E_FORMAT, "truncated", 1.0, 16);
    /* The model itself loads, from a file and as a checkpoint-less file. */
    write_bytes(path, b, len);
    {
        seqcls_model_t *m2 = NULL;
        seqcls_optimizer_t *o = NULL;
        OK(seqcls_model_load(&m2, path));
        seqcls_model_free(m2);
        m2 = NULL;
        FAILS(SEQCLS_E_FORMAT, "without optimizer state", seqcls_checkpoint_load(&m2, &o, path));
    }
    seqcls_free(buf);
    remove_dir();
    seqcls_model_free(m);
}
END_TEST

/* A big file laid out as a model (header, a PARM filling it, ENDF) whose
 * data does not match its CRC: refused without being held in memory --
 * and, as it is sparse, without reading its 8 GiB of holes, where the
 * file system tells holes apart (SEEK_DATA); 80 MiB read otherwise. */
START_TEST(big_damaged_files_are_not_held_in_memory)
{
    char path[128];
    unsigned char head[24], end[20];
    off_t size = (off_t)8 << 30;
    int fd, holes;

    make_dir();
    in_dir(path, sizeof path, "damaged.sqcl");
    memcpy(head, "SQCL\1\0\0\0\0\0\0\0PARM", 16);
    put_u32(end, 0x12345678);   /* the CRC of PARM (that of zeros is something else) */
    memcpy(end + 4, "ENDF\0\0\0\0\0\0\0\0\0\0\0\0", 16);
    put_u64(head + 16, (uint64_t)size - 12 - 16 - 16);
    if (!sparse_file(path, size, head, sizeof head, end, sizeof end)) {
        remove_dir();
        return;
    }
    fd = open(path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    holes = lseek(fd, 1 << 20, SEEK_DATA) > (off_t)1 << 30;
    close(fd);
    if (!holes) {
        size = (off_t)80 << 20;
        put_u64(head + 16, (uint64_t)size - 12 - 16 - 16);
        ck_assert(sparse_file(path, size, head, sizeof head, end, sizeof end));
    }
    refused_lightly(path, SEQCLS_E_FORMAT, "PARM: CRC-32 mismatch", holes ? 1.0 : 60.0, 40);
    remove_dir();
}
END_TEST

/* Write `n` bytes to `path` leaving every 4 KiB block that is all zeros
 * as a hole: the number of holes. */
static int write_sparse(const char *path, const unsigned char *data, size_t n)
{
    static const unsigned char zeros[4096];
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644), holes = 0;
    size_t off;
    ck_assert_int_ge(fd, 0);
    for (off = 0; off < n; off += 4096) {
        size_t k = n - off < 4096 ? n - off : 4096;
        if (k == 4096 && memcmp(data + off, zeros, k) == 0) {
            holes++;
            continue;
        }
        ck_assert_int_eq(pwrite(fd, data + off, k, (off_t)off), (ssize_t)k);
    }
    ck_assert_int_eq(ftruncate(fd, (off_t)n), 0);
    ck_assert_int_eq(close(fd), 0);
    return holes;
}

/* Models above 1 MiB have their CRCs checked from the file first, holes
 * counted as zeros without being read: a sparse copy of a model loads,
 * and damage anywhere is refused. */
START_TEST(big_models_sparse_or_damaged)
{
    seqcls_model_t *m = big_model(9000), *l = NULL;
    seqcls_tensor_t *w = NULL;
    char path[128];
    void *buf = NULL, *buf2 = NULL;
    size_t len = 0, len2 = 0;
    unsigned char *bad;
    int64_t i, n;
    real_t *x;

    /* Zero stretches of the embedding of many lengths and alignments. */
    OK(seqcls_param(m, 0, &w, NULL));
    x = seqcls_tensor_data(w);
    n = seqcls_tensor_numel(w);
    for (i = 0; i < n; i++)
        if ((i / 1000) % 3 != 0 || (i > 200000 && i < 400000))
            x[i] = 0;
    OK(seqcls_model_save_buffer(m, &buf, &len));
    ck_assert_uint_gt(len, (size_t)2 << 20);
    make_dir();
    in_dir(path, sizeof path, "sparse.sqcl");
    ck_assert_int_gt(write_sparse(path, buf, len), 50);
    OK(seqcls_model_load(&l, path));
    OK(seqcls_model_save_buffer(l, &buf2, &len2));
    ck_assert(len2 == len && memcmp(buf, buf2, len) == 0);
    seqcls_model_free(l);
    seqcls_free(buf2);
    /* One byte changed: in a zero stretch (a hole in the sparse copy),
     * in data, and in the last bytes of PARM, each refused. */
    bad = malloc(len);
    for (i = 0; i < 3; i++) {
        size_t at = i == 0 ? 12 + 4 * (size_t)300000 : i == 1 ? len / 2 + 1 : len - 16 - 5;
        memcpy(bad, buf, len);
        bad[at] ^= 0x40;
        write_sparse(path, bad, len);
        l = (seqcls_model_t *)1;
        FAILS(SEQCLS_E_FORMAT, "CRC-32 mismatch", seqcls_model_load(&l, path));
        ck_assert_ptr_null(l);
    }
    free(bad);
    seqcls_free(buf);
    remove_dir();
    seqcls_model_free(m);
}
END_TEST

/* ---- saving ---- */

/* Whether saves in dir use O_TMPFILE (the kernel and file system allow it). */
static int tmpfile_works(void)
{
#ifdef O_TMPFILE
    int fd = open(dir, O_TMPFILE | O_RDWR, 0600);
    if (fd < 0)
        return 0;
    close(fd);
    return access("/proc/self/fd", X_OK) == 0;
#else
    return 0;
#endif
}

static void use_fallback(int on)
{
    if (on)
        ck_assert_int_eq(setenv("SEQCLS_SAVE_NO_TMPFILE", "1", 1), 0);
    else
        ck_assert_int_eq(unsetenv("SEQCLS_SAVE_NO_TMPFILE"), 0);
}

static mode_t mode_of(const char *path)
{
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    return st.st_mode & 07777;
}

START_TEST(both_save_paths_save_long_names_and_keep_permissions)
{
    seqcls_model_t *a = small_model(3), *b = small_model(4), *l = NULL;
    seqcls_optimizer_t *o = NULL, *lo = NULL;
    char name[256], path[400], names[4][300];
    void *ba = NULL, *bb = NULL;
    size_t na = 0, nb = 0, n;
    unsigned char *got;
    int fallback;
    mode_t old_umask;

    OK(seqcls_model_save_buffer(a, &ba, &na));
    OK(seqcls_model_save_buffer(b, &bb, &nb));
    OK(seqcls_optimizer_create(&o, SEQCLS_OPTIM_ADAM, 0.01f));
    make_dir();
    for (fallback = 0; fallback < 2; fallback++) {
        use_fallback(fallback);
        /* A 250-byte name (255 is NAME_MAX): new, then replaced. */
        memset(name, 'n', 245);
        memcpy(name + 245, ".sqcl", 6);
        ck_assert_uint_eq(strlen(name), 250);
        in_dir(path, sizeof path, name);
        old_umask = umask(077);
        OK(seqcls_model_save(a, path));
        umask(old_umask);
        ck_assert_int_eq(entries(names, 4), 1);
        ck_assert_str_eq(names[0], name);
        /* a new file is rw-r--r-- (exactly: the umask is not applied) */
        ck_assert_int_eq(mode_of(path), 0644);
        got = read_bytes(path, &n);
        ck_assert(n == na && memcmp(got, ba, n) == 0);
        free(got);
        /* replacing keeps the file's permissions */
        ck_assert_int_eq(chmod(path, 0600), 0);
        OK(seqcls_model_save(b, path));
        ck_assert_int_eq(entries(NULL, 0), 1);
        ck_assert_int_eq(mode_of(path), 0600);
        got = read_bytes(path, &n);
        ck_assert(n == nb && memcmp(got, bb, n) == 0);
        free(got);
        OK(seqcls_model_load(&l, path));
        seqcls_model_free(l);
        l = NULL;
        /* a checkpoint too */
        OK(seqcls_checkpoint_save(a, o, path));
        ck_assert_int_eq(entries(NULL, 0), 1);
        OK(seqcls_checkpoint_load(&l, &lo, path));
        seqcls_model_free(l);
        seqcls_optimizer_free(lo);
        l = NULL;
        lo = NULL;
        ck_assert_int_eq(unlink(path), 0);
        /* the longest name there is */
        memset(name, 'x', 255);
        name[255] = '\0';
        in_dir(path, sizeof path, name);
        OK(seqcls_model_save(a, path));
        OK(seqcls_model_save(b, path));
        ck_assert_int_eq(entries(NULL, 0), 1);
        ck_assert_int_eq(unlink(path), 0);
        /* a name relative to the working directory */
        {
            int cwd = open(".", O_RDONLY | O_DIRECTORY);
            ck_assert_int_ge(cwd, 0);
            ck_assert_int_eq(chdir(dir), 0);
            OK(seqcls_model_save(a, "rel.sqcl"));
            OK(seqcls_model_save(b, "rel.sqcl"));
            OK(seqcls_model_load(&l, "rel.sqcl"));
            ck_assert_int_eq(fchdir(cwd), 0);
            close(cwd);
            seqcls_model_free(l);
            l = NULL;
            ck_assert_int_eq(entries(names, 4), 1);
            ck_assert_str_eq(names[0], "rel.sqcl");
            in_dir(path, sizeof path, "rel.sqcl");
            ck_assert_int_eq(unlink(path), 0);
        }
        /* a symbolic link at the target is replaced, not followed */
        in_dir(path, sizeof path, "link.sqcl");
        ck_assert_int_eq(symlink("nowhere", path), 0);
        OK(seqcls_model_save(a, path));
        {
            struct stat st;
            ck_assert_int_eq(lstat(path, &st), 0);
            ck_assert(S_ISREG(st.st_mode));
        }
        ck_assert_int_eq(entries(NULL, 0), 1);
        ck_assert_int_eq(unlink(path), 0);
    }
    use_fallback(0);
    remove_dir();
    seqcls_free(ba);
    seqcls_free(bb);
    seqcls_optimizer_free(o);
    seqcls_model_free(a);
    seqcls_model_free(b);
}
END_TEST

START_TEST(failed_saves_leave_nothing_on_both_paths)
{
    seqcls_model_t *small = small_model(5), *big = big_model(2000);
    char path[400], bad[500];
    unsigned char *before, *after;
    size_t nb, na;
    int fallback;

    make_dir();
    in_dir(path, sizeof path, "model.sqcl");
    OK(seqcls_model_save(small, path));
    before = read_bytes(path, &nb);
    for (fallback = 0; fallback < 2; fallback++) {
        struct rlimit old, lim;
        void (*old_handler)(int);
        int rc;
        use_fallback(fallback);
        /* A write that fails halfway (file-size limit). */
        ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
        lim = old;
        lim.rlim_cur = 4096;
        old_handler = signal(SIGXFSZ, SIG_IGN);
        ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
        rc = seqcls_model_save(big, path);
        ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
        signal(SIGXFSZ, old_handler);
        ck_assert_int_eq(rc, SEQCLS_E_IO);
        ck_assert_msg(strstr(seqcls_last_error(), "write to the temporary file") &&
                      strstr(seqcls_last_error(), strerror(EFBIG)) &&
                      strstr(seqcls_last_error(), "unchanged"), "message: %s",
                      seqcls_last_error());
        if (fallback)
            ck_assert_msg(strstr(seqcls_last_error(), "/.sqcl-") != NULL, "message: %s",
                          seqcls_last_error());
        after = read_bytes(path, &na);
        ck_assert(na == nb && memcmp(before, after, nb) == 0);
        free(after);
        ck_assert_int_eq(entries(NULL, 0), 1);
        /* The target is a directory: nothing is left. */
        in_dir(bad, sizeof bad, "adir");
        ck_assert_int_eq(mkdir(bad, 0755), 0);
        FAILS(SEQCLS_E_IO, "rename", seqcls_model_save(small, bad));
        ck_assert_int_eq(entries(NULL, 0), 2);
        ck_assert_int_eq(rmdir(bad), 0);
        /* A name that ends in a slash. */
        in_dir(bad, sizeof bad, "x/");
        ck_assert_int_ne(seqcls_model_save(small, bad), SEQCLS_OK);
        ck_assert_int_eq(entries(NULL, 0), 1);
        /* The directory is missing, or is a file. */
        in_dir(bad, sizeof bad, "missing/model.sqcl");
        FAILS(SEQCLS_E_IO, strerror(ENOENT), seqcls_model_save(small, bad));
        snprintf(bad, sizeof bad, "%s/model.sqcl", path);
        FAILS(SEQCLS_E_IO, strerror(ENOTDIR), seqcls_model_save(small, bad));
        ck_assert_int_eq(entries(NULL, 0), 1);
        /* A read-only directory (not read-only to root). */
        if (geteuid() != 0) {
            ck_assert_int_eq(chmod(dir, 0555), 0);
            FAILS(SEQCLS_E_IO, strerror(EACCES), seqcls_model_save(small, path));
            ck_assert_int_eq(chmod(dir, 0700), 0);
            ck_assert_int_eq(entries(NULL, 0), 1);
        }
    }
    use_fallback(0);
    free(before);
    remove_dir();
    seqcls_model_free(small);
    seqcls_model_free(big);
}
END_TEST

/*
 * Saves killed with SIGKILL at 18 moments from the start to the end of a
 * 16 MiB save (and two left to finish) leave nothing in the directory but
 * the target, which is the old file or the complete new one.
 */
START_TEST(killed_saves_leave_nothing)
{
    seqcls_model_t *old = small_model(6), *big = big_model(65536), *l = NULL;
    char path[400], names[4][300];
    void *bold = NULL, *bnew = NULL;
    size_t nold = 0, nnew = 0;
    int i, olds = 0, news = 0, absent = 0;
    double save_time;

    make_dir();
    if (!tmpfile_works()) {
        remove_dir();
        seqcls_model_free(old);
        seqcls_model_free(big);
        return;   /* the named fallback leaves its file when killed */
    }
    OK(seqcls_model_save_buffer(old, &bold, &nold));
    OK(seqcls_model_save_buffer(big, &bnew, &nnew));
    in_dir(path, sizeof path, "target.sqcl");
    /* How long one save takes here. */
    {
        double t0 = now();
        OK(seqcls_model_save(big, path));
        save_time = now() - t0;
        ck_assert_int_eq(unlink(path), 0);
    }
    for (i = 0; i < 20; i++) {
        struct timespec wait;
        double delay = save_time * i / 17;
        unsigned char *got;
        size_t n;
        int status, fds[2];
        pid_t pid;
        if (i % 4 != 3)   /* mostly over an old file, sometimes to a new name */
            write_bytes(path, bold, nold);
        else
            ck_assert(unlink(path) == 0 || errno == ENOENT);
        ck_assert_int_eq(pipe(fds), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            char done = seqcls_model_save(big, path) == SEQCLS_OK;
            if (write(fds[1], &done, 1) != 1)
                _exit(2);
            wait_to_be_killed();
        }
        if (i < 18) {
            wait.tv_sec = (time_t)delay;
            wait.tv_nsec = (long)((delay - (double)wait.tv_sec) * 1e9);
            nanosleep(&wait, NULL);
        } else {   /* the last two are left to finish */
            char done = 0;
            ck_assert_int_eq(read(fds[0], &done, 1), 1);
            ck_assert_int_eq(done, 1);
        }
        kill(pid, SIGKILL);
        close(fds[0]);
        close(fds[1]);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        /* nothing but the target */
        n = (size_t)entries(names, 4);
        ck_assert_msg(n <= 1, "after kill %d: %zu files (%s, %s)", i, n, names[0], names[1]);
        if (n == 0) {
            ck_assert_int_eq(i % 4, 3);   /* only where there was no file */
            absent++;
            continue;
        }
        ck_assert_str_eq(names[0], "target.sqcl");
        got = read_bytes(path, &n);
        if (n == nold && memcmp(got, bold, n) == 0)
            olds++;
        else if (n == nnew && memcmp(got, bnew, n) == 0)
            news++;
        else
            ck_abort_msg("after kill %d: the target is neither the old nor the new file (%zu "
                         "bytes)", i, n);
        free(got);
        if (i == 19)
            ck_assert_int_eq(unlink(path), 0);
    }
    ck_assert_int_gt(news, 1);
    /* and what was saved loads */
    OK(seqcls_model_save(big, path));
    OK(seqcls_model_load(&l, path));
    seqcls_model_free(l);
    (void)olds;
    (void)absent;
    seqcls_free(bold);
    seqcls_free(bnew);
    remove_dir();
    seqcls_model_free(old);
    seqcls_model_free(big);
}
END_TEST

Suite *files_suite(void)
{
    Suite *s = suite_create("files");
    TCase *tc = tcase_create("files");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, big_files_that_are_not_models_are_refused_at_once);
    tcase_add_test(tc, section_lengths_are_checked_before_reading);
    tcase_add_test(tc, big_damaged_files_are_not_held_in_memory);
    tcase_add_test(tc, big_models_sparse_or_damaged);
    tcase_add_test(tc, both_save_paths_save_long_names_and_keep_permissions);
    tcase_add_test(tc, failed_saves_leave_nothing_on_both_paths);
    tcase_add_test(tc, killed_saves_leave_nothing);
    suite_add_tcase(s, tc);
    return s;
}
