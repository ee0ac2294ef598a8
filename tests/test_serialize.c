/*
 * test_serialize.c -- saving and loading models (docs/file-format.md):
 * exact round trips of every layer kind and option, files and atomic
 * replacement, and refusal of every corrupt, truncated, hostile or newer
 * input with the right status and a message naming the problem.
 */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"
#include "crc32_ref.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- building and comparing models ---- */

enum { B = 3, T = 5 };

/* Models that together use every layer kind and option of this build. */
static seqcls_model_t *build(int which)
{
    seqcls_model_t *m = NULL;
    int l;
    OK(seqcls_model_create(&m, 100 + (uint64_t)which));
    switch (which) {
    case 0: /* embedding with padding, pooling last, dense none/relu, dropout, binary output */
        OK(seqcls_add_embedding(m, 30, 6, 0, NULL));
        OK(seqcls_add_pooling(m, SEQCLS_POOL_LAST, NULL));
        OK(seqcls_add_dense(m, 5, SEQCLS_ACT_NONE, NULL));
        OK(seqcls_add_dense(m, 4, SEQCLS_ACT_RELU, NULL));
        OK(seqcls_add_dropout(m, 0.2f, NULL));
        OK(seqcls_add_output(m, 1, NULL));
        break;
    case 1: /* frozen embedding without padding; time-distributed dense with
             * every activation; dropout on a sequence; mean pooling; dense
             * vectors with every activation; three classes */
        OK(seqcls_add_embedding(m, 20, 4, -1, &l));
        OK(seqcls_layer_set_int(m, l, SEQCLS_OPT_FREEZE, 1));
        OK(seqcls_add_dense(m, 5, SEQCLS_ACT_TANH, NULL));
        OK(seqcls_add_dense(m, 3, SEQCLS_ACT_SIGMOID, NULL));
        OK(seqcls_add_dense(m, 3, SEQCLS_ACT_HARD_SIGMOID, NULL));
        OK(seqcls_add_dense(m, 3, SEQCLS_ACT_RELU, NULL));
        OK(seqcls_add_dense(m, 3, SEQCLS_ACT_NONE, NULL));
        OK(seqcls_add_dropout(m, 0.3f, NULL));
        OK(seqcls_add_pooling(m, SEQCLS_POOL_MEAN, NULL));
        OK(seqcls_add_dense(m, 4, SEQCLS_ACT_TANH, NULL));
        OK(seqcls_add_dense(m, 4, SEQCLS_ACT_SIGMOID, NULL));
        OK(seqcls_add_dense(m, 4, SEQCLS_ACT_HARD_SIGMOID, NULL));
        OK(seqcls_add_output(m, 3, NULL));
        break;
    case 2: /* float input, max pooling, two classes */
        OK(seqcls_add_input(m, 4, NULL));
        OK(seqcls_add_pooling(m, SEQCLS_POOL_MAX, NULL));
        OK(seqcls_add_output(m, 2, NULL));
        break;
    case 3: /* float input, time-distributed relu, dropout 0, last, five classes */
        OK(seqcls_add_input(m, 3, NULL));
        OK(seqcls_add_dense(m, 6, SEQCLS_ACT_RELU, NULL));
        OK(seqcls_add_dropout(m, 0.0f, NULL));
        OK(seqcls_add_pooling(m, SEQCLS_POOL_LAST, NULL));
        OK(seqcls_add_output(m, 5, NULL));
        break;
    default: /* small: for the exhaustive corruption tests */
        OK(seqcls_add_embedding(m, 4, 2, 1, NULL));
        OK(seqcls_add_pooling(m, SEQCLS_POOL_MEAN, NULL));
        OK(seqcls_add_output(m, 2, NULL));
        break;
    }
    return m;
}

static int uses_ids(int which) { return which != 2 && which != 3; }

static seqcls_tensor_t *make_input(const seqcls_model_t *m, int which)
{
    seqcls_tensor_t *in;
    (void)m;
    if (uses_ids(which)) {
        in = tu_tensor(SEQCLS_I32, 2, B, T, 0);
        tu_fill_ids(in, 0, which == 0 ? 30 : which == 1 ? 20 : 4, 7 + (uint64_t)which);
    } else {
        in = tu_tensor(SEQCLS_F32, 3, B, T, which == 2 ? 4 : 3);
        tu_fill_real(in, -2, 2, 9 + (uint64_t)which);
    }
    return in;
}

static const int32_t lengths[B] = {5, 2, 0};

static int classes(const seqcls_model_t *m)
{
    seqcls_tensor_t *v = NULL;
    int n = seqcls_param_count((seqcls_model_t *)m);
    OK(seqcls_param((seqcls_model_t *)m, n - 1, &v, NULL));   /* the output bias */
    return (int)seqcls_tensor_dim(v, 0);
}

/* One step of training, so weights and the random state move away from
 * their initial values. */
static void train_step(seqcls_model_t *m, const seqcls_tensor_t *in)
{
    seqcls_tensor_t *labels = tu_tensor(SEQCLS_I32, 1, B, 0, 0);
    seqcls_optimizer_t *o = NULL;
    int32_t *y = seqcls_tensor_data(labels);
    int b;
    for (b = 0; b < B; b++)
        y[b] = b % 2;
    OK(seqcls_forward(m, in, lengths, NULL, 1));
    OK(seqcls_loss_backward(m, labels, NULL));
    OK(seqcls_optimizer_create(&o, SEQCLS_OPTIM_ADAM, 0.05f));
    OK(seqcls_optimizer_step(o, m));
    seqcls_optimizer_free(o);
    seqcls_tensor_free(labels);
}

static seqcls_tensor_t *probs_of(const seqcls_model_t *m, const seqcls_tensor_t *in)
{
    seqcls_tensor_t *p = tu_tensor(SEQCLS_F32, 2, B, classes(m), 0);
    OK(seqcls_predict(m, in, lengths, p, NULL));
    return p;
}

static int same_tensor(const seqcls_tensor_t *a, const seqcls_tensor_t *b)
{
    return seqcls_tensor_numel(a) == seqcls_tensor_numel(b) &&
           memcmp(seqcls_tensor_data(a), seqcls_tensor_data(b),
                  (size_t)seqcls_tensor_numel(a) * sizeof(real_t)) == 0;
}

/* Everything observable about two models is identical, bit for bit. */
static void assert_same_model(seqcls_model_t *a, seqcls_model_t *b, const seqcls_tensor_t *in)
{
    seqcls_tensor_t *pa, *pb, *la, *lb;
    int i, C;
    ck_assert_int_eq(seqcls_layer_count(a), seqcls_layer_count(b));
    ck_assert_int_eq(seqcls_param_count(a), seqcls_param_count(b));
    for (i = 0; i < seqcls_param_count(a); i++) {
        seqcls_tensor_t *va = NULL, *vb = NULL;
        int d;
        ck_assert_str_eq(seqcls_param_name(a, i), seqcls_param_name(b, i));
        OK(seqcls_param(a, i, &va, NULL));
        OK(seqcls_param(b, i, &vb, NULL));
        ck_assert_int_eq(seqcls_tensor_ndim(va), seqcls_tensor_ndim(vb));
        for (d = 0; d < seqcls_tensor_ndim(va); d++)
            ck_assert_int_eq(seqcls_tensor_dim(va, d), seqcls_tensor_dim(vb, d));
        ck_assert_msg(same_tensor(va, vb), "parameter %s differs", seqcls_param_name(a, i));
    }
    pa = probs_of(a, in);
    pb = probs_of(b, in);
    ck_assert_msg(same_tensor(pa, pb), "predictions differ");
    /* Training forwards draw the same dropout masks: the random state
     * was saved too. */
    C = classes(a);
    la = tu_tensor(SEQCLS_F32, 2, B, C, 0);
    lb = tu_tensor(SEQCLS_F32, 2, B, C, 0);
    OK(seqcls_forward(a, in, lengths, la, 1));
    OK(seqcls_forward(b, in, lengths, lb, 1));
    ck_assert_msg(same_tensor(la, lb), "training forwards differ");
    seqcls_tensor_free(pa);
    seqcls_tensor_free(pb);
    seqcls_tensor_free(la);
    seqcls_tensor_free(lb);
}

/* ---- reading and patching saved bytes, as docs/file-format.md says ---- */

static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32(unsigned char *p, uint32_t v)
{
    int k;
    for (k = 0; k < 4; k++)
        p[k] = (unsigned char)(v >> (8 * k));
}

static uint64_t rd64(const unsigned char *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }

/* Offset of the payload of section `tag` (its length in *n), or 0. */
static size_t section(const unsigned char *buf, size_t len, const char *tag, size_t *n)
{
    size_t off = 12;
    while (off + 16 <= len) {
        uint64_t l = rd64(buf + off + 4);
        if (memcmp(buf + off, tag, 4) == 0) {
            *n = (size_t)l;
            return off + 12;
        }
        off += 16 + (size_t)l;
    }
    return 0;
}

/* Recompute every section's CRC after a deliberate change. */
static void fix_crcs(unsigned char *buf, size_t len)
{
    size_t off = 12;
    while (off + 16 <= len) {
        size_t l = (size_t)rd64(buf + off + 4);
        wr32(buf + off + 12 + l, crc32_ref(buf + off + 12, l));
        off += 16 + l;
    }
}

static size_t option_size(const unsigned char *p) { return rd32(p + 4) == 4 ? 16 : 12; }

/* Offset of layer `layer`'s record (its kind) in CONF. */
static size_t conf_layer(const unsigned char *buf, size_t len, int layer)
{
    size_t n, off = section(buf, len, "CONF", &n), k, cnt;
    int i;
    ck_assert(off != 0);
    cnt = rd32(buf + off);
    off += 4;
    for (k = 0; k < cnt; k++)
        off += option_size(buf + off);
    off += 4;   /* layer count */
    for (i = 0; i < layer; i++) {
        cnt = rd32(buf + off + 4);
        off += 8;
        for (k = 0; k < cnt; k++)
            off += option_size(buf + off);
    }
    return off;
}

/* Offset of option `id` (its id field) of layer `layer`. */
static size_t conf_option(const unsigned char *buf, size_t len, int layer, uint32_t id)
{
    size_t off = conf_layer(buf, len, layer), k, cnt = rd32(buf + off + 4);
    off += 8;
    for (k = 0; k < cnt; k++) {
        if (rd32(buf + off) == id)
            return off;
        off += option_size(buf + off);
    }
    ck_abort_msg("no option %u in layer %d", (unsigned)id, layer);
    return 0;
}

/* Offsets of parameter `index`'s record and of its data in PARM. */
static size_t parm_record(const unsigned char *buf, size_t len, int index, size_t *data)
{
    size_t n, off = section(buf, len, "PARM", &n), rec = 0;
    int i;
    ck_assert(off != 0);
    off += 4;
    for (i = 0; i <= index; i++) {
        uint32_t nl = rd32(buf + off), nd, d;
        size_t numel = 1;
        rec = off;
        off += 4 + nl + 8;
        nd = rd32(buf + off);
        off += 4;
        for (d = 0; d < nd; d++, off += 8)
            numel *= (size_t)rd64(buf + off);
        off = (off + 63) / 64 * 64;
        *data = off;
        off += numel * 4;
    }
    return rec;
}

/* Save model `which` into a buffer the test owns (malloc). */
static unsigned char *saved(int which, size_t *len)
{
    seqcls_model_t *m = build(which);
    void *buf = NULL;
    unsigned char *copy;
    OK(seqcls_model_save_buffer(m, &buf, len));
    copy = malloc(*len + 256);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, buf, *len);
    seqcls_free(buf);
    seqcls_model_free(m);
    return copy;
}

/* Load must fail with `status`, a message containing `needle`, and *out NULL. */
static void refused(const unsigned char *buf, size_t len, int status, const char *needle)
{
    seqcls_model_t *m = (seqcls_model_t *)buf;   /* must be reset to NULL */
    int rc = seqcls_model_load_buffer(&m, buf, len);
    ck_assert_msg(rc == status, "status %d, expected %d (%s)", rc, status, seqcls_last_error());
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(seqcls_last_error(), needle) != NULL, "message '%s' lacks '%s'",
                  seqcls_last_error(), needle);
    ck_assert_msg(strncmp(seqcls_last_error(), "seqcls_model_load_buffer: ", 26) == 0,
                  "message '%s' does not name the function", seqcls_last_error());
}

/* ---- round trips ---- */

START_TEST(round_trip_every_layer_kind)
{
    int which;
    for (which = 0; which < 5; which++) {
        seqcls_model_t *m = build(which), *m2 = NULL;
        seqcls_tensor_t *in = make_input(m, which);
        void *buf = NULL, *buf2 = NULL;
        size_t len = 0, len2 = 0;
        train_step(m, in);
        OK(seqcls_model_save_buffer(m, &buf, &len));
        ck_assert_uint_eq((uintptr_t)buf % 64, 0);
        ck_assert(memcmp(buf, "SQCL", 4) == 0);
        OK(seqcls_model_load_buffer(&m2, buf, len));
        /* Saving the loaded model gives the same bytes. */
        OK(seqcls_model_save_buffer(m2, &buf2, &len2));
        ck_assert_uint_eq(len, len2);
        ck_assert_msg(memcmp(buf, buf2, len) == 0, "model %d: re-saved bytes differ", which);
        assert_same_model(m, m2, in);
        seqcls_free(buf);
        seqcls_free(buf2);
        seqcls_tensor_free(in);
        seqcls_model_free(m);
        seqcls_model_free(m2);
    }
}
END_TEST

START_TEST(layout_is_little_endian_and_aligned)
{
    size_t len, n, data;
    unsigned char *buf = saved(0, &len);
    seqcls_model_t *m = build(0);
    seqcls_tensor_t *v = NULL;
    int i;
    ck_assert_uint_eq(rd32(buf + 4), 1);     /* version */
    ck_assert_uint_eq(rd32(buf + 8), 0);     /* flags */
    ck_assert(memcmp(buf + 12, "CONF", 4) == 0);
    ck_assert(section(buf, len, "PARM", &n) != 0);
    ck_assert(section(buf, len, "ENDF", &n) == len - 4);
    ck_assert_uint_eq(n, 0);
    /* Each parameter's data starts at a 64-byte file offset and is its
     * float32 values, little-endian. */
    for (i = 0; i < seqcls_param_count(m); i++) {
        const real_t *w;
        int64_t k;
        size_t rec = parm_record(buf, len, i, &data);
        ck_assert_uint_eq(data % 64, 0);
        ck_assert_uint_eq(rd32(buf + rec), strlen(seqcls_param_name(m, i)));
        ck_assert(memcmp(buf + rec + 4, seqcls_param_name(m, i), rd32(buf + rec)) == 0);
        OK(seqcls_param(m, i, &v, NULL));
        w = seqcls_tensor_data(v);
        for (k = 0; k < seqcls_tensor_numel(v); k++) {
            float f = (float)w[k];
            uint32_t bits;
            memcpy(&bits, &f, 4);
            ck_assert_uint_eq(rd32(buf + data + 4 * (size_t)k), bits);
        }
    }
    seqcls_model_free(m);
    free(buf);
}
END_TEST

START_TEST(larger_models_load)
{
    /* The allocation bound of loading must not refuse real models. */
    seqcls_model_t *m = NULL, *m2 = NULL;
    seqcls_tensor_t *in;
    void *buf = NULL;
    size_t len = 0;
    OK(seqcls_model_create(&m, 5));
    OK(seqcls_add_embedding(m, 20000, 32, 0, NULL));
    OK(seqcls_add_dense(m, 64, SEQCLS_ACT_RELU, NULL));
    OK(seqcls_add_pooling(m, SEQCLS_POOL_MAX, NULL));
    OK(seqcls_add_dense(m, 300, SEQCLS_ACT_TANH, NULL));
    OK(seqcls_add_output(m, 7, NULL));
    OK(seqcls_model_save_buffer(m, &buf, &len));
    OK(seqcls_model_load_buffer(&m2, buf, len));
    in = tu_tensor(SEQCLS_I32, 2, B, T, 0);
    tu_fill_ids(in, 0, 20000, 3);
    assert_same_model(m, m2, in);
    seqcls_tensor_free(in);
    seqcls_free(buf);
    seqcls_model_free(m);
    seqcls_model_free(m2);
}
END_TEST

static void patch_option(unsigned char *buf, size_t len, int layer, uint32_t id, uint32_t value);

/* Loads and saves in several threads at once: the load's allocation
 * budget is per thread, so a large model and small hostile files loading
 * side by side do not interfere. */
typedef struct {
    const void *buf;
    size_t len;
    int expect;              /* status each load must give */
    int failures;
} job_t;

static void *load_many(void *arg)
{
    job_t *j = arg;
    int i;
    for (i = 0; i < 20; i++) {
        seqcls_model_t *m = NULL;
        void *again = NULL;
        size_t n = 0;
        int rc = seqcls_model_load_buffer(&m, j->buf, j->len);
        if (rc != j->expect)
            j->failures++;
        if (rc == SEQCLS_OK) {
            if (seqcls_model_save_buffer(m, &again, &n) != SEQCLS_OK || n != j->len ||
                memcmp(again, j->buf, n) != 0)
                j->failures++;
            seqcls_free(again);
        }
        seqcls_model_free(m);
    }
    return NULL;
}

START_TEST(loading_in_threads)
{
    seqcls_model_t *big = NULL;
    void *bigbuf = NULL;
    size_t biglen = 0, len;
    unsigned char *small = saved(1, &len), *hostile = malloc(len);
    pthread_t th[4];
    job_t jobs[4];
    int i;
    OK(seqcls_model_create(&big, 5));
    OK(seqcls_add_embedding(big, 20000, 16, 0, NULL));
    OK(seqcls_add_pooling(big, SEQCLS_POOL_MAX, NULL));
    OK(seqcls_add_output(big, 2, NULL));
    OK(seqcls_model_save_buffer(big, &bigbuf, &biglen));
    memcpy(hostile, small, len);
    patch_option(hostile, len, 0, 2, 1u << 24);   /* a huge vocabulary */
    jobs[0] = (job_t){bigbuf, biglen, SEQCLS_OK, 0};
    jobs[1] = (job_t){small, len, SEQCLS_OK, 0};
    jobs[2] = (job_t){hostile, len, SEQCLS_E_FORMAT, 0};
    jobs[3] = (job_t){bigbuf, biglen, SEQCLS_OK, 0};
    for (i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, load_many, &jobs[i]), 0);
    for (i = 0; i < 4; i++) {
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
        ck_assert_msg(jobs[i].failures == 0, "thread %d: %d failures", i, jobs[i].failures);
    }
    seqcls_free(bigbuf);
    seqcls_model_free(big);
    free(small);
    free(hostile);
}
END_TEST

/* ---- files ---- */

static char tmpdir[256];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/seqcls-test-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

static void path_in_tmp(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", tmpdir, name);
}

/* Number of entries of the temporary directory (no temporary files left). */
static int entries(void)
{
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    int n = 0;
    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *p;
    long n;
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    p = malloc((size_t)n + 1);
    ck_assert_uint_eq(fread(p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return p;
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

START_TEST(save_and_load_files)
{
    char path[512];
    seqcls_model_t *m = build(1), *m2 = NULL, *m3 = build(2), *m4 = NULL;
    seqcls_tensor_t *in = make_input(m, 1), *in3 = make_input(m3, 2);
    struct stat st;
    make_tmpdir();
    path_in_tmp(path, sizeof path, "model.sqcl");
    train_step(m, in);
    OK(seqcls_model_save(m, path));
    ck_assert_int_eq(entries(), 1);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0644);
    OK(seqcls_model_load(&m2, path));
    assert_same_model(m, m2, in);
    /* Replacing an existing file keeps its permissions. */
    ck_assert_int_eq(chmod(path, 0600), 0);
    OK(seqcls_model_save(m3, path));
    ck_assert_int_eq(entries(), 1);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    OK(seqcls_model_load(&m4, path));
    assert_same_model(m3, m4, in3);
    /* The file and the buffer are the same bytes. */
    {
        void *buf = NULL;
        size_t len = 0, flen = 0;
        unsigned char *file = read_file(path, &flen);
        OK(seqcls_model_save_buffer(m4, &buf, &len));
        ck_assert_uint_eq(len, flen);
        ck_assert(memcmp(buf, file, len) == 0);
        seqcls_free(buf);
        free(file);
    }
    remove_tmpdir();
    seqcls_tensor_free(in);
    seqcls_tensor_free(in3);
    seqcls_model_free(m);
    seqcls_model_free(m2);
    seqcls_model_free(m3);
    seqcls_model_free(m4);
}
END_TEST

START_TEST(failed_save_leaves_the_old_file)
{
    char path[512], bad[1100];
    seqcls_model_t *small = build(4), *big = NULL, *m = (seqcls_model_t *)1;
    unsigned char *before, *after;
    size_t nb, na;
    struct rlimit old, lim;
    void (*old_handler)(int);
    int rc;

    make_tmpdir();
    path_in_tmp(path, sizeof path, "model.sqcl");
    OK(seqcls_model_save(small, path));
    before = read_file(path, &nb);

    /* A write that fails halfway (file-size limit: works as root too). */
    OK(seqcls_model_create(&big, 1));
    OK(seqcls_add_embedding(big, 2000, 16, 0, NULL));
    OK(seqcls_add_pooling(big, SEQCLS_POOL_MEAN, NULL));
    OK(seqcls_add_output(big, 2, NULL));
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 4096;
    old_handler = signal(SIGXFSZ, SIG_IGN);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    rc = seqcls_model_save(big, path);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, old_handler);
    ck_assert_int_eq(rc, SEQCLS_E_IO);
    ck_assert_msg(strstr(seqcls_last_error(), "seqcls_model_save: write") &&
                  strstr(seqcls_last_error(), strerror(EFBIG)) &&
                  strstr(seqcls_last_error(), "unchanged"),
                  "message: %s", seqcls_last_error());
    after = read_file(path, &na);
    ck_assert_uint_eq(na, nb);
    ck_assert(memcmp(before, after, nb) == 0);
    ck_assert_int_eq(entries(), 1);   /* the temporary file is gone */
    free(after);

    /* A read-only directory (not read-only to root, hence the limit above). */
    if (geteuid() != 0) {
        ck_assert_int_eq(chmod(tmpdir, 0555), 0);
        FAILS(SEQCLS_E_IO, strerror(EACCES), seqcls_model_save(big, path));
        ck_assert_int_eq(chmod(tmpdir, 0755), 0);
        after = read_file(path, &na);
        ck_assert(na == nb && memcmp(before, after, nb) == 0);
        free(after);
    }
    /* The target's directory is a regular file. */
    snprintf(bad, sizeof bad, "%s/model.sqcl", path);
    FAILS(SEQCLS_E_IO, strerror(ENOTDIR), seqcls_model_save(small, bad));
    ck_assert(strstr(seqcls_last_error(), "temporary") != NULL);
    /* The directory does not exist. */
    path_in_tmp(bad, sizeof bad, "missing/model.sqcl");
    FAILS(SEQCLS_E_IO, strerror(ENOENT), seqcls_model_save(small, bad));
    /* The target is a directory: the rename fails, nothing is left. */
    path_in_tmp(bad, sizeof bad, "adir");
    ck_assert_int_eq(mkdir(bad, 0755), 0);
    FAILS(SEQCLS_E_IO, "rename", seqcls_model_save(small, bad));
    ck_assert_int_eq(entries(), 2);
    after = read_file(path, &na);
    ck_assert(na == nb && memcmp(before, after, nb) == 0);
    free(after);

    /* Loading what is not a model file. */
    FAILS(SEQCLS_E_IO, "is a directory", seqcls_model_load(&m, bad));
    ck_assert_ptr_null(m);
    path_in_tmp(bad, sizeof bad, "nothing.sqcl");
    FAILS(SEQCLS_E_IO, strerror(ENOENT), seqcls_model_load(&m, bad));
    ck_assert(strstr(seqcls_last_error(), "nothing.sqcl") != NULL);
    FAILS(SEQCLS_E_IO, "not a regular file", seqcls_model_load(&m, "/dev/null"));
    path_in_tmp(bad, sizeof bad, "fifo");
    ck_assert_int_eq(mkfifo(bad, 0600), 0);
    FAILS(SEQCLS_E_IO, "not a regular file", seqcls_model_load(&m, bad));   /* no hang */
    /* A file whose size fstat does not tell (Linux's /proc). */
    if (access("/proc/self/status", R_OK) == 0)
        FAILS(SEQCLS_E_IO, "grew while being read", seqcls_model_load(&m, "/proc/self/status"));
    /* An absurd size (a sparse file, where the file system allows one). */
    path_in_tmp(bad, sizeof bad, "huge.sqcl");
    {
        FILE *f = fopen(bad, "wb");
        ck_assert_ptr_nonnull(f);
        if (ftruncate(fileno(f), ((off_t)1 << 38) + 1) == 0) {
            fclose(f);
            FAILS(SEQCLS_E_IO, "more than a model file may have", seqcls_model_load(&m, bad));
        } else {
            fclose(f);
        }
        unlink(bad);
    }
    path_in_tmp(bad, sizeof bad, "empty");
    write_file(bad, "", 0);
    FAILS(SEQCLS_E_FORMAT, "empty", seqcls_model_load(&m, bad));
    ck_assert(strstr(seqcls_last_error(), "seqcls_model_load: '") != NULL);
    write_file(bad, before, nb - 1);
    FAILS(SEQCLS_E_FORMAT, "truncated", seqcls_model_load(&m, bad));

    /* Parameters that cannot be stored are refused before any file is made. */
    {
        seqcls_tensor_t *v = NULL;
        OK(seqcls_param(small, 0, &v, NULL));
        ((real_t *)seqcls_tensor_data(v))[3] = (real_t)NAN;
        path_in_tmp(bad, sizeof bad, "nan.sqcl");
        FAILS(SEQCLS_E_NUMERIC, "0.embedding.weight element 3", seqcls_model_save(small, bad));
        ck_assert_int_eq(access(bad, F_OK), -1);
        {
            void *buf = (void *)1;
            size_t len = 1;
            FAILS(SEQCLS_E_NUMERIC, "not finite", seqcls_model_save_buffer(small, &buf, &len));
            ck_assert_ptr_null(buf);
            ck_assert_uint_eq(len, 0);
        }
    }
    free(before);
    remove_tmpdir();
    seqcls_model_free(small);
    seqcls_model_free(big);
}
END_TEST

START_TEST(null_arguments)
{
    seqcls_model_t *m = build(4), *out = (seqcls_model_t *)1;
    void *buf = (void *)1;
    size_t len = 1;
    unsigned char byte = 0;
    FAILS(SEQCLS_E_INVALID_ARG, "model is NULL", seqcls_model_save(NULL, "/tmp/x"));
    FAILS(SEQCLS_E_INVALID_ARG, "path is NULL", seqcls_model_save(m, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "path is empty", seqcls_model_save(m, ""));
    FAILS(SEQCLS_E_INVALID_ARG, "model is NULL", seqcls_model_save_buffer(NULL, &buf, &len));
    ck_assert_ptr_null(buf);
    ck_assert_uint_eq(len, 0);
    FAILS(SEQCLS_E_INVALID_ARG, "buf is NULL", seqcls_model_save_buffer(m, NULL, &len));
    FAILS(SEQCLS_E_INVALID_ARG, "len is NULL", seqcls_model_save_buffer(m, &buf, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "out is NULL", seqcls_model_load(NULL, "/tmp/x"));
    FAILS(SEQCLS_E_INVALID_ARG, "path is NULL", seqcls_model_load(&out, NULL));
    ck_assert_ptr_null(out);
    FAILS(SEQCLS_E_INVALID_ARG, "out is NULL", seqcls_model_load_buffer(NULL, &byte, 1));
    out = (seqcls_model_t *)1;
    FAILS(SEQCLS_E_INVALID_ARG, "buf is NULL", seqcls_model_load_buffer(&out, NULL, 0));
    ck_assert_ptr_null(out);
    seqcls_free(NULL);
    seqcls_model_free(m);
}
END_TEST

/* ---- damaged data ---- */

START_TEST(every_byte_flip_is_refused)
{
    static const unsigned char masks[] = {0x01, 0x20, 0x80, 0xff};
    size_t len, i, m;
    unsigned char *buf = saved(4, &len);
    int formats = 0, versions = 0;
    for (i = 0; i < len; i++)
        for (m = 0; m < sizeof masks; m++) {
            seqcls_model_t *out = NULL;
            int rc;
            buf[i] ^= masks[m];
            rc = seqcls_model_load_buffer(&out, buf, len);
            ck_assert_msg(rc == SEQCLS_E_FORMAT || rc == SEQCLS_E_VERSION,
                          "flip 0x%02x at byte %zu: status %d (%s)", masks[m], i, rc,
                          seqcls_last_error());
            ck_assert_ptr_null(out);
            ck_assert(seqcls_last_error()[0] != '\0');
            formats += rc == SEQCLS_E_FORMAT;
            versions += rc == SEQCLS_E_VERSION;
            buf[i] ^= masks[m];
        }
    ck_assert_int_gt(formats, 0);
    ck_assert_int_gt(versions, 0);
    free(buf);
}
END_TEST

START_TEST(every_truncation_is_refused)
{
    size_t len, n;
    unsigned char *buf = saved(4, &len);
    for (n = 0; n < len; n++) {
        seqcls_model_t *out = NULL;
        /* A copy of exactly n bytes, so that ASan/valgrind see overreads. */
        unsigned char *cut = malloc(n ? n : 1);
        int rc;
        memcpy(cut, buf, n);
        rc = seqcls_model_load_buffer(&out, cut, n);
        ck_assert_msg(rc == SEQCLS_E_FORMAT, "%zu of %zu bytes: status %d (%s)", n, len, rc,
                      seqcls_last_error());
        ck_assert_ptr_null(out);
        free(cut);
    }
    refused(buf, 0, SEQCLS_E_FORMAT, "empty");
    refused(buf, 3, SEQCLS_E_FORMAT, "SQCL");
    refused(buf, 11, SEQCLS_E_FORMAT, "truncated");
    refused(buf, len - 16, SEQCLS_E_FORMAT, "ENDF");
    refused(buf, len - 1, SEQCLS_E_FORMAT, "truncated");
    free(buf);
}
END_TEST

START_TEST(header_checks)
{
    size_t len;
    unsigned char *buf = saved(4, &len);
    buf[0] = 'X';
    refused(buf, len, SEQCLS_E_FORMAT, "not a seqcls model");
    buf[0] = 'S';
    wr32(buf + 4, 2);
    refused(buf, len, SEQCLS_E_VERSION, "format version 2 is newer");
    wr32(buf + 4, 0);
    refused(buf, len, SEQCLS_E_FORMAT, "version 0");
    wr32(buf + 4, 1);
    wr32(buf + 8, 4);
    refused(buf, len, SEQCLS_E_VERSION, "flags 0x4");
    wr32(buf + 8, 0);
    /* a flipped bit in the parameter data is caught by the CRC */
    buf[len - 30] ^= 0x10;
    refused(buf, len, SEQCLS_E_FORMAT, "PARM: CRC-32 mismatch");
    free(buf);
}
END_TEST

/* Insert a section before the end section. */
static unsigned char *with_section(const unsigned char *buf, size_t len, const char *tag,
                                   const void *payload, size_t n, size_t *out_len)
{
    unsigned char *out = malloc(len + n + 16);
    size_t at = len - 16;
    memcpy(out, buf, at);
    memcpy(out + at, tag, 4);
    wr32(out + at + 4, (uint32_t)n);
    wr32(out + at + 8, 0);
    memcpy(out + at + 12, payload, n);
    wr32(out + at + 12 + n, crc32_ref(payload, n));
    memcpy(out + at + 16 + n, buf + at, 16);
    *out_len = len + n + 16;
    return out;
}

START_TEST(sections_required_and_optional)
{
    size_t len, n, conf_n = 0;
    unsigned char *buf = saved(0, &len), *b;
    seqcls_model_t *ref = NULL, *m = NULL;
    seqcls_tensor_t *in;
    size_t conf = section(buf, len, "CONF", &conf_n);
    OK(seqcls_model_load_buffer(&ref, buf, len));
    in = make_input(ref, 0);

    /* Optional: lower-case unknown tags, and OPTM/VOCB (read by other calls). */
    b = with_section(buf, len, "zzzz", "future data", 11, &n);
    OK(seqcls_model_load_buffer(&m, b, n));
    assert_same_model(ref, m, in);
    seqcls_model_free(m);
    free(b);
    b = with_section(buf, len, "OPTM", "opaque", 6, &n);
    OK(seqcls_model_load_buffer(&m, b, n));
    seqcls_model_free(m);
    free(b);
    /* VOCB and LABL are read by the model loader (vocabulary, class names) */
    b = with_section(buf, len, "VOCB", "", 0, &n);
    refused(b, n, SEQCLS_E_FORMAT, "VOCB: vocabulary: 0 bytes cannot hold the 4-byte token count");
    free(b);
    b = with_section(buf, len, "LABL", "\1\0\0\0\3\0\0\0ab", 10, &n);
    refused(b, n, SEQCLS_E_FORMAT, "LABL: name 0 has an impossible length");
    free(b);
    b = with_section(buf, len, "LABL", "\1\0\0\0\2\0\0\0ab", 10, &n);
    OK(seqcls_model_load_buffer(&m, b, n));
    ck_assert_str_eq(seqcls_model_label(m, 0), "ab");
    seqcls_model_free(m);
    free(b);
    /* ... whose CRC is still checked */
    b = with_section(buf, len, "zzzz", "future data", 11, &n);
    b[len - 16 + 12] ^= 1;
    refused(b, n, SEQCLS_E_FORMAT, "zzzz: CRC-32 mismatch");
    free(b);

    /* Required: upper-case unknown tags. */
    b = with_section(buf, len, "XTRA", "?", 1, &n);
    refused(b, n, SEQCLS_E_VERSION, "required section 'XTRA'");
    free(b);
    /* Tags are letters and digits. */
    b = with_section(buf, len, "a b!", "", 0, &n);
    refused(b, n, SEQCLS_E_FORMAT, "no valid tag");
    free(b);
    /* Twice the same section. */
    b = with_section(buf, len, "CONF", buf + conf, conf_n, &n);
    refused(b, n, SEQCLS_E_FORMAT, "CONF: appears twice");
    free(b);
    b = with_section(buf, len, "VOCB", "", 0, &n);
    {
        size_t n2;
        unsigned char *b2 = with_section(b, n, "VOCB", "", 0, &n2);
        refused(b2, n2, SEQCLS_E_FORMAT, "VOCB: appears twice");
        free(b2);
    }
    free(b);
    /* A missing required section: rename CONF to an optional tag. */
    memcpy(buf + conf - 12, "conf", 4);
    refused(buf, len, SEQCLS_E_FORMAT, "no CONF section");
    memcpy(buf + conf - 12, "CONF", 4);
    /* Bytes after the end section. */
    b = malloc(len + 1);
    memcpy(b, buf, len);
    b[len] = 0;
    refused(b, len + 1, SEQCLS_E_FORMAT, "follow the end section");
    free(b);
    /* A non-empty end section. */
    b = with_section(buf, len, "ENDF", "x", 1, &n);
    refused(b, n, SEQCLS_E_FORMAT, "end section must be empty");
    free(b);
    /* A length past the end. */
    wr32(buf + conf - 8, 0xffffff00u);
    refused(buf, len, SEQCLS_E_FORMAT, "runs past the end");

    seqcls_tensor_free(in);
    seqcls_model_free(ref);
    free(buf);
}
END_TEST

/* ---- well-formed files that describe a wrong model (CRCs fixed up) ---- */

static void patch_option(unsigned char *buf, size_t len, int layer, uint32_t id, uint32_t value)
{
    wr32(buf + conf_option(buf, len, layer, id) + 8, value);
    fix_crcs(buf, len);
}

START_TEST(configuration_is_validated)
{
    size_t len;
    unsigned char *orig = saved(0, &len), *buf = malloc(len);
    float f;
    uint32_t bits;
    size_t at;
#define RESET() memcpy(buf, orig, len)

    /* model 0: 0 embedding(30, 6, pad 0), 1 pooling, 2 dense(5), 3 dense(4, relu),
     * 4 dropout(0.2), 5 output(1) */
    RESET();
    patch_option(buf, len, 2, 1, 7);   /* dense units 5 -> 7 */
    refused(buf, len, SEQCLS_E_FORMAT,
            "PARM: parameter 1 (2.dense.weight) shape [5, 6] does not match the model's [7, 6]");
    RESET();
    f = 1.5f;
    memcpy(&bits, &f, 4);
    patch_option(buf, len, 4, 9, bits);   /* dropout rate 1.5 */
    refused(buf, len, SEQCLS_E_FORMAT,
            "CONF: layer 4 (dropout) is invalid: seqcls_add_dropout: rate 1.5");
    RESET();
    patch_option(buf, len, 2, 2, 7);   /* a vocabulary on a dense layer */
    refused(buf, len, SEQCLS_E_FORMAT,
            "CONF: layer 2 (dense): option 2 (vocab) is 7 in the file but 0 in the rebuilt layer");
    RESET();
    patch_option(buf, len, 3, 4, 9);   /* unknown activation */
    refused(buf, len, SEQCLS_E_FORMAT, "layer 3 (dense) is invalid: seqcls_add_dense: unknown activation 9");
    RESET();
    patch_option(buf, len, 0, 3, 30);   /* padding index outside the vocabulary */
    refused(buf, len, SEQCLS_E_FORMAT, "padding_idx 30");
    RESET();
    patch_option(buf, len, 1, 5, 0);   /* pooling kind 0 */
    refused(buf, len, SEQCLS_E_FORMAT, "unknown pooling kind 0");
    RESET();
    patch_option(buf, len, 0, 7, 2);   /* freeze = 2 */
    refused(buf, len, SEQCLS_E_FORMAT, "SEQCLS_OPT_FREEZE");
    RESET();
    wr32(buf + conf_layer(buf, len, 3), 99);   /* layer kind 99 */
    fix_crcs(buf, len);
    refused(buf, len, SEQCLS_E_VERSION, "layer 3: layer kind 99 is unknown");
    RESET();
    wr32(buf + conf_layer(buf, len, 3), 0);
    fix_crcs(buf, len);
    refused(buf, len, SEQCLS_E_VERSION, "layer kind 0");
    RESET();
    wr32(buf + conf_layer(buf, len, 1), 1);   /* a second embedding */
    fix_crcs(buf, len);
    refused(buf, len, SEQCLS_E_FORMAT, "layer 1 (embedding) is invalid: seqcls_add_embedding");
    RESET();
    wr32(buf + conf_layer(buf, len, 5), 7);   /* output -> dense: no output layer */
    fix_crcs(buf, len);
    refused(buf, len, SEQCLS_E_FORMAT,
            "parameter 5 is named '5.output.weight' but the model's is '5.dense.weight'");
    RESET();
    /* an lstm layer: not loadable in a build without it, invalid after a
     * pooling layer in a build with it */
    {
        seqcls_model_t *out = NULL;
        int rc;
        wr32(buf + conf_layer(buf, len, 2), 3);
        fix_crcs(buf, len);
        rc = seqcls_model_load_buffer(&out, buf, len);
        ck_assert_msg(rc == SEQCLS_E_UNSUPPORTED || rc == SEQCLS_E_FORMAT, "%d %s", rc,
                      seqcls_last_error());
        ck_assert_ptr_null(out);
    }
    RESET();
    at = conf_option(buf, len, 2, 11);
    wr32(buf + at, 40);   /* an option id from the future */
    fix_crcs(buf, len);
    refused(buf, len, SEQCLS_E_VERSION, "layer 2 (dense): option 40 is unknown");
    RESET();
    wr32(buf + at, 10);   /* option 10 twice, 11 missing */
    fix_crcs(buf, len);
    refused(buf, len, SEQCLS_E_FORMAT, "option 10 (bn_momentum) appears twice");
    RESET();
    wr32(buf + at + 4, 1);   /* bn_eps as an integer */
    fix_crcs(buf, len);
    refused(buf, len, SEQCLS_E_FORMAT, "option 11 (bn_eps) has type 1, not 3");
    RESET();
    wr32(buf + at + 4, 77);   /* a value type from the future */
    fix_crcs(buf, len);
    refused(buf, len, SEQCLS_E_VERSION, "value type 77");
    RESET();
    {
        /* Layer 2 with only 10 options (11 missing): CONF loses 12 bytes,
         * and a 60-byte optional section after it keeps PARM's data at
         * the same, 64-byte aligned, offsets. */
        size_t n = 0, conf = section(orig, len, "CONF", &n), end;
        unsigned char *b = malloc(len + 64);
        end = conf + n + 4;
        memcpy(b, orig, at);
        memcpy(b + at, orig + at + 12, end - (at + 12));
        wr32(b + conf - 8, (uint32_t)(n - 12));
        wr32(b + conf_layer(orig, len, 2) + 4, 10);
        memcpy(b + end - 12, "fill", 4);
        wr32(b + end - 8, 60);
        wr32(b + end - 4, 0);
        memset(b + end, 0, 64);
        memcpy(b + end + 64, orig + end, len - end);
        fix_crcs(b, len + 64);
        refused(b, len + 64, SEQCLS_E_FORMAT, "layer 2 (dense): option 11 (bn_eps) is missing");
        free(b);
    }
    RESET();
    /* the model seed and random state */
    {
        size_t n = 0, conf = section(buf, len, "CONF", &n);
        wr32(buf + conf + 4, 9);   /* model option 1 -> 9 */
        fix_crcs(buf, len);
        refused(buf, len, SEQCLS_E_VERSION, "model option 9 is unknown");
        RESET();
        wr32(buf + conf + 4 + 16, 3);   /* rng word 0 -> id 3 twice */
        fix_crcs(buf, len);
        refused(buf, len, SEQCLS_E_FORMAT, "model option 3 appears twice");
        RESET();
        memset(buf + conf + 4 + 16 + 8, 0, 8);
        memset(buf + conf + 4 + 32 + 8, 0, 8);
        memset(buf + conf + 4 + 48 + 8, 0, 8);
        memset(buf + conf + 4 + 64 + 8, 0, 8);
        fix_crcs(buf, len);
        refused(buf, len, SEQCLS_E_FORMAT, "random state is all zero");
        RESET();
        wr32(buf + conf, 0xffffffffu);   /* model option count */
        fix_crcs(buf, len);
        refused(buf, len, SEQCLS_E_FORMAT, "model options is more than");
        RESET();
        wr32(buf + conf + 4 + 5 * 16 + 12, 5000);   /* layer count */
        fix_crcs(buf, len);
        refused(buf, len, SEQCLS_E_FORMAT, "layers cannot fit");
        RESET();
        wr32(buf + conf + 4 + 5 * 16 + 12, 5);   /* one layer fewer */
        fix_crcs(buf, len);
        refused(buf, len, SEQCLS_E_FORMAT, "bytes follow the last layer");
    }
    free(buf);
    free(orig);
#undef RESET
}
END_TEST

START_TEST(hostile_sizes_are_bounded)
{
    size_t len;
    unsigned char *orig = saved(0, &len), *buf = malloc(len);
    memcpy(buf, orig, len);
    /* An embedding of 2^24 x 6 floats (400 MB with gradients) described by
     * a file of a few hundred bytes is refused before it is allocated. */
    patch_option(buf, len, 0, 2, 1u << 24);
    refused(buf, len, SEQCLS_E_FORMAT,
            "layer 0 (embedding) needs more memory than the parameters in the file account for");
    memcpy(buf, orig, len);
    patch_option(buf, len, 0, 2, 1u << 30);   /* beyond what the constructor takes */
    patch_option(buf, len, 0, 1, 1u << 10);
    refused(buf, len, SEQCLS_E_FORMAT, "layer 0 (embedding) is invalid");
    memcpy(buf, orig, len);
    patch_option(buf, len, 3, 1, 1u << 20);   /* dense units */
    refused(buf, len, SEQCLS_E_FORMAT, "layer 3 (dense) needs more memory");
    free(buf);
    free(orig);
}
END_TEST

START_TEST(parameters_are_validated)
{
    size_t len, data, rec;
    unsigned char *orig = saved(0, &len), *buf = malloc(len);
    size_t n = 0, parm;
#define RESET() memcpy(buf, orig, len)
    RESET();
    rec = parm_record(buf, len, 2, &data);   /* 2.dense.bias [5] */
    wr32(buf + data + 8, 0x7fc00000u);
    fix_crcs(buf, len);
    refused(buf, len, SEQCLS_E_FORMAT, "PARM: parameter 2 (2.dense.bias) element 2 is NaN");
    RESET();
    wr32(buf + data, 0xff800000u);
    fix_crcs(buf, len);
    refused(buf, len, SEQCLS_E_FORMAT, "element 0 is infinite");
    RESET();
    buf[rec + 4 + 11] = 'z';   /* 2.dense.biaz */
    fix_crcs(buf, len);
    refused(buf, len, SEQCLS_E_FORMAT, "parameter 2 is named '2.dense.biaz' but the model's is '2.dense.bias'");
    RESET();
    buf[rec + 4 + 3] = ' ';
    fix_crcs(buf, len);
    refused(buf, len, SEQCLS_E_FORMAT, "not a printable character");
    RESET();
    wr32(buf + rec + 4 + 12 + 4, 0);   /* flags: not trainable */
    fix_crcs(buf, len);
    refused(buf, len, SEQCLS_E_FORMAT, "is not trainable in the file but trainable in the model");
    RESET();
    wr32(buf + rec + 4 + 12 + 4, 6);
    fix_crcs(buf, len);
    refused(buf, len, SEQCLS_E_FORMAT, "unknown flags 0x6");
    RESET();
    wr32(buf + rec + 4 + 12, 2);   /* dtype */
    fix_crcs(buf, len);
    refused(buf, len, SEQCLS_E_FORMAT, "dtype 2 is not 1");
    RESET();
    wr32(buf + rec + 4 + 12 + 8, 9);   /* ndim */
    fix_crcs(buf, len);
    refused(buf, len, SEQCLS_E_FORMAT, "ndim 9");
    RESET();
    wr32(buf + rec + 4 + 12 + 12, 1000000);   /* a dimension beyond the data */
    fix_crcs(buf, len);
    refused(buf, len, SEQCLS_E_FORMAT, "more than the section holds");
    RESET();
    wr32(buf + rec, 64);   /* name length */
    fix_crcs(buf, len);
    refused(buf, len, SEQCLS_E_FORMAT, "name length 64");
    RESET();
    buf[data - 1] = 1;   /* padding */
    fix_crcs(buf, len);
    refused(buf, len, SEQCLS_E_FORMAT, "padding before its data is not zero");
    RESET();
    parm = section(buf, len, "PARM", &n);
    wr32(buf + parm, 4);   /* 4 parameters listed, 5 present */
    fix_crcs(buf, len);
    refused(buf, len, SEQCLS_E_FORMAT, "bytes follow the last parameter");
    RESET();
    wr32(buf + parm, 0x7fffffffu);
    fix_crcs(buf, len);
    refused(buf, len, SEQCLS_E_FORMAT, "parameters cannot fit");
    RESET();
    /* A file with one parameter fewer: drop the last record (the output bias). */
    {
        size_t last = parm_record(buf, len, 6, &data), cut = parm + n - last;
        memmove(buf + last, buf + parm + n, len - (parm + n));
        wr32(buf + parm, 6);
        wr32(buf + parm - 8, (uint32_t)(n - cut));
        fix_crcs(buf, len - cut);
        refused(buf, len - cut, SEQCLS_E_FORMAT, "the file holds 6 parameters but the model CONF describes has 7");
    }
    free(buf);
    free(orig);
#undef RESET
}
END_TEST

/* ---- inputs kept from fuzzing, and saved files of earlier builds ---- */

static const char *source_dir(void)
{
    const char *d = getenv("SEQCLS_SOURCE_DIR");
    return d ? d : ".";
}

/* Load every file of `sub`; returns how many loaded. */
static int replay(const char *sub, int must_load, int *files)
{
    char path[1024];
    DIR *d;
    struct dirent *e;
    int loaded = 0;
    snprintf(path, sizeof path, "%s/%s", source_dir(), sub);
    d = opendir(path);
    ck_assert_msg(d != NULL, "cannot open %s (run from the source tree or set SEQCLS_SOURCE_DIR)",
                  path);
    *files = 0;
    while ((e = readdir(d)) != NULL) {
        seqcls_model_t *m = NULL;
        int rc;
        if (e->d_name[0] == '.' || strncmp(e->d_name, "README", 6) == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s/%s", source_dir(), sub, e->d_name);
        rc = seqcls_model_load(&m, path);
        ck_assert_msg(rc == SEQCLS_OK || (!must_load && (rc == SEQCLS_E_FORMAT ||
                                                         rc == SEQCLS_E_VERSION ||
                                                         rc == SEQCLS_E_UNSUPPORTED)),
                      "%s: status %d (%s)", path, rc, seqcls_last_error());
        if (rc == SEQCLS_OK) {
            void *buf = NULL;
            size_t len = 0;
            seqcls_model_t *m2 = NULL;
            OK(seqcls_model_save_buffer(m, &buf, &len));
            OK(seqcls_model_load_buffer(&m2, buf, len));
            seqcls_free(buf);
            seqcls_model_free(m2);
            loaded++;
        }
        (*files)++;
        seqcls_model_free(m);
    }
    closedir(d);
    return loaded;
}

START_TEST(fuzz_regressions_and_seed_corpus)
{
    int files = 0;
    replay("fuzz/regressions/load", 0, &files);
    /* The seeds are models saved by earlier builds: they must keep loading. */
    ck_assert_int_eq(replay("fuzz/corpus/load", 1, &files), files);
    ck_assert_int_gt(files, 3);
}
END_TEST

Suite *serialize_suite(void)
{
    Suite *s = suite_create("serialize");
    TCase *tc = tcase_create("serialize");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, round_trip_every_layer_kind);
    tcase_add_test(tc, layout_is_little_endian_and_aligned);
    tcase_add_test(tc, larger_models_load);
    tcase_add_test(tc, loading_in_threads);
    tcase_add_test(tc, save_and_load_files);
    tcase_add_test(tc, failed_save_leaves_the_old_file);
    tcase_add_test(tc, null_arguments);
    tcase_add_test(tc, every_byte_flip_is_refused);
    tcase_add_test(tc, every_truncation_is_refused);
    tcase_add_test(tc, header_checks);
    tcase_add_test(tc, sections_required_and_optional);
    tcase_add_test(tc, configuration_is_validated);
    tcase_add_test(tc, hostile_sizes_are_bounded);
    tcase_add_test(tc, parameters_are_validated);
    tcase_add_test(tc, fuzz_regressions_and_seed_corpus);
    suite_add_tcase(s, tc);
    return s;
}
