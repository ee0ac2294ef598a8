/*
 * test_checkpoint.c -- resuming training from a checkpoint equals not
 * stopping, bit for bit; broken or missing optimiser state is refused.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "modelfile.h"
#include "testutil.h"

#define N 160
#define T 8
#define V 20

static void data(seqcls_tensor_t **x, seqcls_tensor_t **y, int32_t *lens)
{
    uint64_t s = 3;
    int32_t *ids, *lab;
    int n, t;
    *x = tu_tensor(SEQCLS_I32, 2, N, T, 0);
    *y = tu_tensor(SEQCLS_I32, 1, N, 0, 0);
    ids = seqcls_tensor_data(*x);
    lab = seqcls_tensor_data(*y);
    for (n = 0; n < N; n++) {
        lens[n] = 1 + (int32_t)(tu_next(&s) % T);
        lab[n] = 0;
        for (t = 0; t < T; t++) {
            ids[n * T + t] = 1 + (int32_t)(tu_next(&s) % (V - 1));
            lab[n] |= t < lens[n] && ids[n * T + t] == 5;
        }
    }
}

static seqcls_model_t *build(void)
{
    seqcls_model_t *m = NULL;
    OK(seqcls_model_create(&m, 12));
    OK(seqcls_add_embedding(m, V, 6, 0, NULL));
    OK(seqcls_add_lstm(m, 5, SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES, NULL));
    OK(seqcls_add_attention(m, SEQCLS_ATTN_BAHDANAU, 4, NULL));
    OK(seqcls_add_dropout(m, 0.3f, NULL));
    OK(seqcls_add_output(m, 1, NULL));
    return m;
}

static void fit(seqcls_model_t *m, seqcls_optimizer_t *o, seqcls_tensor_t *x, int32_t *lens,
                seqcls_tensor_t *y, int from, int to)
{
    seqcls_fit_config_t *c = NULL;
    OK(seqcls_fit_config_create(&c));
    OK(seqcls_fit_config_set_int(c, SEQCLS_FIT_SEED, 4));
    OK(seqcls_fit_config_set_int(c, SEQCLS_FIT_BATCH_SIZE, 16));
    OK(seqcls_fit_config_set_int(c, SEQCLS_FIT_INITIAL_EPOCH, from));
    OK(seqcls_fit_config_set_int(c, SEQCLS_FIT_EPOCHS, to));
    OK(seqcls_fit(m, o, x, lens, y, NULL, NULL, NULL, c));
    seqcls_fit_config_free(c);
}

static const int kinds[4] = {SEQCLS_OPTIM_ADAM, SEQCLS_OPTIM_ADAMW, SEQCLS_OPTIM_SGD,
                             SEQCLS_OPTIM_RMSPROP};

START_TEST(resume_equals_uninterrupted)
{
    int k = _i;
    seqcls_model_t *whole = build(), *half = build(), *resumed = NULL;
    seqcls_optimizer_t *ow = NULL, *oh = NULL, *or = NULL;
    seqcls_tensor_t *x, *y;
    int32_t lens[N];
    char path[] = "/tmp/seqcls-ckpt-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    data(&x, &y, lens);
    OK(seqcls_optimizer_create(&ow, kinds[k], 0.01f));
    OK(seqcls_optimizer_create(&oh, kinds[k], 0.01f));
    OK(seqcls_optimizer_set_float(ow, SEQCLS_OPTIM_MOMENTUM, 0.5f));
    OK(seqcls_optimizer_set_float(oh, SEQCLS_OPTIM_MOMENTUM, 0.5f));
    fit(whole, ow, x, lens, y, 0, 4);
    fit(half, oh, x, lens, y, 0, 2);
    OK(seqcls_checkpoint_save(half, oh, path));
    seqcls_optimizer_free(oh);
    seqcls_model_free(half);
    OK(seqcls_checkpoint_load(&resumed, &or, path));
    fit(resumed, or, x, lens, y, 2, 4);
    ck_assert_int_eq(seqcls_optimizer_steps(or), seqcls_optimizer_steps(ow));
    tu_assert_same_params(whole, resumed);
    unlink(path);
    seqcls_optimizer_free(ow);
    seqcls_optimizer_free(or);
    seqcls_model_free(whole);
    seqcls_model_free(resumed);
    seqcls_tensor_free(x);
    seqcls_tensor_free(y);
}
END_TEST

START_TEST(checkpoint_errors)
{
    seqcls_model_t *m = build(), *other = build(), *back = NULL;
    seqcls_optimizer_t *o = NULL, *ob = NULL;
    seqcls_tensor_t *x, *y;
    int32_t lens[N];
    char path[] = "/tmp/seqcls-ckpt-XXXXXX";
    int fd = mkstemp(path);
    long size, i;
    unsigned char *bytes;
    FILE *f;
    ck_assert_int_ge(fd, 0);
    close(fd);
    data(&x, &y, lens);
    OK(seqcls_optimizer_create(&o, SEQCLS_OPTIM_ADAM, 0.01f));
    /* an optimizer never used: no state, still a valid checkpoint */
    OK(seqcls_checkpoint_save(m, o, path));
    OK(seqcls_checkpoint_load(&back, &ob, path));
    ck_assert_int_eq(seqcls_optimizer_steps(ob), 0);
    seqcls_model_free(back);
    seqcls_optimizer_free(ob);
    fit(m, o, x, lens, y, 0, 1);
    FAILS(SEQCLS_E_STATE, "another model", seqcls_checkpoint_save(other, o, path));
    FAILS(SEQCLS_E_INVALID_ARG, "optimizer is NULL", seqcls_checkpoint_save(m, NULL, path));
    FAILS(SEQCLS_E_INVALID_ARG, "o_out is NULL", seqcls_checkpoint_load(&back, NULL, path));
    /* a plain model file has no optimizer state */
    OK(seqcls_model_save(m, path));
    FAILS(SEQCLS_E_FORMAT, "without optimizer state", seqcls_checkpoint_load(&back, &ob, path));
    ck_assert_ptr_null(back);
    ck_assert_ptr_null(ob);
    /* every byte flip of the file is refused or loads a consistent pair */
    OK(seqcls_checkpoint_save(m, o, path));
    f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    rewind(f);
    bytes = malloc((size_t)size);
    ck_assert(fread(bytes, 1, (size_t)size, f) == (size_t)size);
    fclose(f);
    for (i = 0; i < size; i += 7) {
        int rc;
        bytes[i] ^= 0x5a;
        f = fopen(path, "wb");
        fwrite(bytes, 1, (size_t)size, f);
        fclose(f);
        rc = seqcls_checkpoint_load(&back, &ob, path);
        ck_assert_msg(rc == SEQCLS_E_FORMAT || rc == SEQCLS_E_VERSION,
                      "flip at %ld: status %d (%s)", i, rc, seqcls_last_error());
        ck_assert_ptr_null(back);
        bytes[i] ^= 0x5a;
    }
    free(bytes);
    unlink(path);
    seqcls_optimizer_free(o);
    seqcls_model_free(m);
    seqcls_model_free(other);
    seqcls_tensor_free(x);
    seqcls_tensor_free(y);
}
END_TEST

/* The OPTM section stays version 1 (what seqcls 1.0 reads) unless an
 * option of 1.1 is set; version 2 carries a count of options. */
static unsigned char *read_all(const char *path, long *size)
{
    FILE *f = fopen(path, "rb");
    unsigned char *b;
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    *size = ftell(f);
    rewind(f);
    b = malloc((size_t)*size);
    ck_assert(fread(b, 1, (size_t)*size, f) == (size_t)*size);
    fclose(f);
    return b;
}

static void write_all(const char *path, const unsigned char *b, long size)
{
    FILE *f = fopen(path, "wb");
    ck_assert(fwrite(b, 1, (size_t)size, f) == (size_t)size);
    fclose(f);
}

START_TEST(optm_versions)
{
    seqcls_model_t *m = build(), *back = NULL;
    seqcls_optimizer_t *o = NULL, *ob = NULL;
    seqcls_tensor_t *x, *y;
    int32_t lens[N];
    char path[] = "/tmp/seqcls-optm-XXXXXX";
    int fd = mkstemp(path);
    unsigned char *b;
    long size;
    size_t at;
    uint32_t n;
    ck_assert_int_ge(fd, 0);
    close(fd);
    data(&x, &y, lens);
    OK(seqcls_optimizer_create(&o, SEQCLS_OPTIM_SGD, 0.01f));
    OK(seqcls_optimizer_set_float(o, SEQCLS_OPTIM_CLIPNORM, 2.0f));
    fit(m, o, x, lens, y, 0, 1);
    OK(seqcls_checkpoint_save(m, o, path));
    b = read_all(path, &size);
    at = mf_section(b, (size_t)size, "OPTM", &n);
    ck_assert(at > 0 && b[at] == 1);   /* version 1 */
    free(b);
    OK(seqcls_optimizer_set_float(o, SEQCLS_OPTIM_CLIPNORM_PER_TENSOR, 0.25f));
    OK(seqcls_checkpoint_save(m, o, path));
    b = read_all(path, &size);
    at = mf_section(b, (size_t)size, "OPTM", &n);
    ck_assert(at > 0 && b[at] == 2 && b[at + 8] == 10);   /* version 2, 10 options */
    OK(seqcls_checkpoint_load(&back, &ob, path));
    /* resumed with the same clipping: the same next step as the original */
    fit(m, o, x, lens, y, 1, 2);
    fit(back, ob, x, lens, y, 1, 2);
    tu_assert_same_params(m, back);
    seqcls_model_free(back);
    seqcls_optimizer_free(ob);
    back = NULL;
    ob = NULL;
    /* more options than this version knows: a newer writer */
    b[at + 8] = 11;
    mf_mend_crc(b, at, n);
    write_all(path, b, size);
    FAILS(SEQCLS_E_VERSION, "11 optimizer options", seqcls_checkpoint_load(&back, &ob, path));
    /* fewer than version 1's */
    b[at + 8] = 8;
    mf_mend_crc(b, at, n);
    write_all(path, b, size);
    FAILS(SEQCLS_E_FORMAT, "8 optimizer options", seqcls_checkpoint_load(&back, &ob, path));
    /* a negative per-tensor clipnorm is refused as the setter refuses it */
    b[at + 8] = 10;
    {
        const double bad = -1;
        uint64_t bits;
        int k;
        memcpy(&bits, &bad, sizeof bits);
        for (k = 0; k < 8; k++)
            b[at + 12 + 9 * 8 + k] = (unsigned char)(bits >> (8 * k));
    }
    mf_mend_crc(b, at, n);
    write_all(path, b, size);
    FAILS(SEQCLS_E_FORMAT, "option 10 is -1", seqcls_checkpoint_load(&back, &ob, path));
    ck_assert_ptr_null(back);
    free(b);
    unlink(path);
    seqcls_optimizer_free(o);
    seqcls_model_free(m);
    seqcls_tensor_free(x);
    seqcls_tensor_free(y);
}
END_TEST

Suite *checkpoint_suite(void)
{
    Suite *s = suite_create("checkpoint");
    TCase *tc = tcase_create("checkpoint");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, resume_equals_uninterrupted, 0, 4);
    tcase_add_test(tc, checkpoint_errors);
    tcase_add_test(tc, optm_versions);
    suite_add_tcase(s, tc);
    return s;
}
