/*
 * test_golden.c -- model files and checkpoints written by earlier
 * versions (tests/golden/<version>/, see tests/golden/README.md) still
 * load, describe themselves the same way and give the same outputs on
 * their fixed input; checkpoints resume with the same optimiser state.
 *
 * Every `<name>.expect` under tests/golden/<version>/ is checked against
 * the `<name>.sqcl` beside it.  Outputs are compared within ATOL + RTOL *
 * |expected|: the files were written on one machine's kernels (AVX-512,
 * AVX2 or portable, by SEQCLS_MAX_CPU_ISA and the CPU) and summation
 * orders differ between them by float rounding, about 1e-7 here; a
 * misread option, parameter or optimiser buffer moves them by far more.
 * Everything else (descriptions, names, shapes, labels, vocabulary,
 * encoded ids, step counts) must be equal.
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "golden/golden.h"

#define GOLDEN_ROOT "tests/golden"
#define ATOL 1e-5
#define RTOL 1e-5
#define MAX_FILES 512

/* The files of 1.0.0: none may ever go missing. */
static const char *const files_1_0_0[] = {
    "text_bilstm_bahdanau", "gru_sum_general",    "lstm_dot",       "input_gru_learned_bn",
    "input_lstm_feature_time", "lstm_sum_vector_bn", "gru_stack",  "mean_pool",
    "lstm_last_pool",       "ckpt_adam",          "ckpt_adamw",     "ckpt_sgd_momentum",
    "ckpt_sgd",             "ckpt_rmsprop_momentum", "ckpt_rmsprop",
};

/* Every tests/golden/<version>/<name>.expect, sorted; found when the suite is made. */
static char expect_paths[MAX_FILES][512];
static int nexpect;

static int by_name(const void *a, const void *b) { return strcmp(a, b); }

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && strcmp(s + n - k, suffix) == 0;
}

static void scan_golden(void)
{
    DIR *root = opendir(GOLDEN_ROOT), *d;
    struct dirent *v, *f;
    char dir[300];
    nexpect = 0;
    if (!root)
        return;
    while ((v = readdir(root)) != NULL) {
        if (v->d_name[0] == '.' || strlen(v->d_name) > 64)
            continue;
        snprintf(dir, sizeof dir, "%s/%.64s", GOLDEN_ROOT, v->d_name);
        if (!(d = opendir(dir)))
            continue;
        while ((f = readdir(d)) != NULL && nexpect < MAX_FILES)
            if (has_suffix(f->d_name, ".expect") && strlen(f->d_name) < 200)
                snprintf(expect_paths[nexpect++], sizeof expect_paths[0], "%.300s/%.200s", dir,
                         f->d_name);
        closedir(d);
    }
    closedir(root);
    qsort(expect_paths, (size_t)nexpect, sizeof expect_paths[0], by_name);
}

static int close_enough(double got, double want)
{
    return fabs(got - want) <= ATOL + RTOL * fabs(want);
}

static void assert_close(const char *path, const char *what, const float *got,
                         const float *want, int n)
{
    int i;
    for (i = 0; i < n; i++)
        ck_assert_msg(close_enough(got[i], want[i]), "%s: %s[%d] is %.9g, expected %.9g (diff %.3g)",
                      path, what, i, (double)got[i], (double)want[i],
                      fabs((double)got[i] - (double)want[i]));
}

/* seqcls_predict on the recorded input into probs (and att when the file has attention). */
static void predict(const seqcls_model_t *m, const seqcls_tensor_t *x, const golden_expect_t *e,
                    float *probs, float *att)
{
    int64_t pshape[2] = {e->B, e->C}, ashape[2] = {e->B, e->T};
    seqcls_tensor_t *p = NULL, *a = NULL;
    OK(seqcls_tensor_wrap(&p, SEQCLS_F32, 2, pshape, probs));
    if (e->has_attention)
        OK(seqcls_tensor_wrap(&a, SEQCLS_F32, 2, ashape, att));
    OK(seqcls_predict(m, x, e->lengths, p, a));
    seqcls_tensor_free(p);
    seqcls_tensor_free(a);
}

/* Layers, parameters, labels and vocabulary are those recorded. */
static void check_structure(const char *path, seqcls_model_t *m, const golden_expect_t *e)
{
    char desc[GOLDEN_LINE];
    int i, j;
    ck_assert_msg(seqcls_layer_count(m) == e->nlayers, "%s: %d layers, expected %d", path,
                  seqcls_layer_count(m), e->nlayers);
    for (i = 0; i < e->nlayers; i++) {
        OK(seqcls_layer_describe(m, i, desc, sizeof desc));
        ck_assert_msg(strcmp(desc, e->layers[i]) == 0, "%s: layer %d is '%s', expected '%s'",
                      path, i, desc, e->layers[i]);
    }
    ck_assert_msg(seqcls_param_count(m) == e->nparams, "%s: %d parameters, expected %d", path,
                  seqcls_param_count(m), e->nparams);
    for (i = 0; i < e->nparams; i++) {
        seqcls_tensor_t *t = NULL;
        const char *name = seqcls_param_name(m, i);
        ck_assert_msg(name && strcmp(name, e->param_names[i]) == 0,
                      "%s: parameter %d is '%s', expected '%s'", path, i, name ? name : "(null)",
                      e->param_names[i]);
        ck_assert_int_eq(seqcls_param_find(m, e->param_names[i]), i);
        OK(seqcls_param(m, i, &t, NULL));
        ck_assert_msg(seqcls_tensor_ndim(t) == e->param_ndim[i], "%s: %s has %d dimensions",
                      path, name, seqcls_tensor_ndim(t));
        for (j = 0; j < e->param_ndim[i]; j++)
            ck_assert_msg(seqcls_tensor_dim(t, j) == e->param_shape[i][j],
                          "%s: %s dimension %d is %lld, expected %lld", path, name, j,
                          (long long)seqcls_tensor_dim(t, j), (long long)e->param_shape[i][j]);
    }
    ck_assert_msg(seqcls_model_label_count(m) == (e->nlabels < 0 ? 0 : e->nlabels),
                  "%s: %d labels, expected %d", path, seqcls_model_label_count(m), e->nlabels);
    for (i = 0; i < e->nlabels; i++) {
        const char *label = seqcls_model_label(m, i);
        ck_assert_msg(label && strcmp(label, e->labels[i]) == 0, "%s: label %d is '%s', expected '%s'",
                      path, i, label ? label : "(null)", e->labels[i]);
    }
    if (e->vocab_size < 0) {
        ck_assert_msg(seqcls_model_vocab(m) == NULL, "%s: a vocabulary appeared", path);
    } else {
        const seqcls_vocab_t *v = seqcls_model_vocab(m);
        ck_assert_msg(v != NULL, "%s: the vocabulary is missing", path);
        ck_assert_int_eq(seqcls_vocab_size(v), e->vocab_size);
        for (i = 0; i < e->vocab_size; i++) {
            const char *tok = seqcls_vocab_token(v, i);
            ck_assert_msg(tok && strcmp(tok, e->tokens[i]) == 0, "%s: token %d is '%s', expected '%s'",
                          path, i, tok ? tok : "(null)", e->tokens[i]);
            ck_assert_int_eq(seqcls_vocab_id(v, e->tokens[i]), i);
        }
    }
}

/*
 * The recorded input is the one golden.h makes (for text: the model's
 * vocabulary encodes golden_texts[] to the recorded ids, and decodes them
 * back to the recorded strings).  Returns a tensor borrowing e's data.
 */
static seqcls_tensor_t *check_input(const char *path, const seqcls_model_t *m, golden_expect_t *e)
{
    int64_t shape[3] = {e->B, e->T, e->F};
    seqcls_tensor_t *x = NULL;
    int b;
    if (!strcmp(e->input_kind, "floats")) {
        static float want[GOLDEN_MAX_B * GOLDEN_MAX_T * GOLDEN_MAX_F];
        ck_assert_int_eq(e->ndata, e->B * e->T * e->F);
        golden_fill_floats(want, e->ndata, e->seed);
        ck_assert_msg(memcmp(want, e->floats, sizeof(float) * (size_t)e->ndata) == 0,
                      "%s: golden_fill_floats no longer makes the recorded input", path);
        OK(seqcls_tensor_wrap(&x, SEQCLS_F32, 3, shape, e->floats));
    } else {
        int32_t want[GOLDEN_MAX_B * GOLDEN_MAX_T], lens[GOLDEN_MAX_B];
        ck_assert_int_eq(e->ndata, e->B * e->T);
        if (!strcmp(e->input_kind, "text")) {
            const seqcls_vocab_t *v = seqcls_model_vocab(m);
            ck_assert_int_eq(e->B, GOLDEN_B);
            ck_assert_msg(v != NULL, "%s: text input but no vocabulary", path);
            for (b = 0; b < e->B; b++) {
                char text[GOLDEN_LINE];
                size_t len = 0;
                OK(seqcls_vocab_encode(v, golden_texts[b], strlen(golden_texts[b]),
                                       want + b * e->T, e->T, &lens[b]));
                ck_assert_msg(lens[b] == e->lengths[b], "%s: text %d encodes to %d tokens, expected %d",
                              path, b, lens[b], e->lengths[b]);
                OK(seqcls_vocab_decode(v, e->ids + b * e->T, e->T, text, sizeof text, &len));
                ck_assert_msg(strcmp(text, e->decoded[b]) == 0, "%s: row %d decodes to '%s', expected '%s'",
                              path, b, text, e->decoded[b]);
            }
        } else {
            golden_fill_ids(want, e->B, e->T, e->vocab, e->seed);
            ck_assert_int_eq(e->B, GOLDEN_B);
            ck_assert_msg(memcmp(e->lengths, golden_lengths, sizeof golden_lengths) == 0,
                          "%s: golden_lengths changed", path);
        }
        ck_assert_msg(memcmp(want, e->ids, sizeof(int32_t) * (size_t)e->ndata) == 0,
                      "%s: the input ids differ from the recorded ones", path);
        OK(seqcls_tensor_wrap(&x, SEQCLS_I32, 2, shape, e->ids));
    }
    return x;
}

/* The model saved and loaded again by this library predicts the same, bit for bit. */
static void check_resave(const char *path, const seqcls_model_t *m, const seqcls_tensor_t *x,
                         const golden_expect_t *e, const float *probs, const float *att)
{
    void *buf = NULL;
    size_t len = 0;
    seqcls_model_t *again = NULL;
    float probs2[GOLDEN_MAX_B * GOLDEN_MAX_C], att2[GOLDEN_MAX_B * GOLDEN_MAX_T];
    OK(seqcls_model_save_buffer(m, &buf, &len));
    OK(seqcls_model_load_buffer(&again, buf, len));
    seqcls_free(buf);
    predict(again, x, e, probs2, att2);
    ck_assert_msg(memcmp(probs, probs2, sizeof(float) * (size_t)(e->B * e->C)) == 0,
                  "%s: saved and loaded again, the model predicts differently", path);
    ck_assert_msg(!e->has_attention ||
                      memcmp(att, att2, sizeof(float) * (size_t)(e->B * e->T)) == 0,
                  "%s: saved and loaded again, the attention differs", path);
    seqcls_model_free(again);
}

/* One more training step from a checkpoint, then the same again from a
 * checkpoint this library wrote of the loaded one. */
static void check_step(const char *path, seqcls_model_t *m, seqcls_optimizer_t *o,
                       const seqcls_tensor_t *x, const golden_expect_t *e)
{
    int64_t yshape[1] = {e->B};
    int32_t want[GOLDEN_MAX_B];
    seqcls_tensor_t *y = NULL;
    float loss = 0, probs[GOLDEN_MAX_B * GOLDEN_MAX_C], att[GOLDEN_MAX_B * GOLDEN_MAX_T];

    golden_fill_labels(want, e->B, e->C, e->seed + 1);
    ck_assert_msg(memcmp(want, e->train_labels, sizeof(int32_t) * (size_t)e->B) == 0,
                  "%s: golden_fill_labels no longer makes the recorded labels", path);
    OK(seqcls_tensor_wrap(&y, SEQCLS_I32, 1, yshape, (void *)e->train_labels));
    OK(seqcls_zero_grad(m));
    OK(seqcls_forward(m, x, e->lengths, NULL, 1));
    OK(seqcls_loss_backward(m, y, &loss));
    ck_assert_msg(close_enough(loss, e->loss), "%s: loss of the next step is %.9g, expected %.9g",
                  path, (double)loss, (double)e->loss);
    OK(seqcls_optimizer_step(o, m));
    ck_assert_msg(seqcls_optimizer_steps(o) == e->step_steps, "%s: %lld steps after one more, expected %lld",
                  path, (long long)seqcls_optimizer_steps(o), (long long)e->step_steps);
    predict(m, x, e, probs, att);
    assert_close(path, "step_probs", probs, e->step_probs, e->B * e->C);
    if (e->has_attention)
        assert_close(path, "step_attention", att, e->step_attention, e->B * e->T);
    seqcls_tensor_free(y);
}

static void check_one(const char *path)
{
    golden_expect_t *e = calloc(1, sizeof *e);
    char err[1024], model_path[1024], dir[512], *slash;
    seqcls_model_t *m = NULL, *plain = NULL;
    seqcls_optimizer_t *o = NULL;
    seqcls_tensor_t *x;
    float probs[GOLDEN_MAX_B * GOLDEN_MAX_C], att[GOLDEN_MAX_B * GOLDEN_MAX_T];
    float probs2[GOLDEN_MAX_B * GOLDEN_MAX_C], att2[GOLDEN_MAX_B * GOLDEN_MAX_T];
    int checkpoint;

    ck_assert_ptr_nonnull(e);
    ck_assert_msg(golden_read(path, e, err, sizeof err) == 0, "%s", err);
    snprintf(dir, sizeof dir, "%s", path);
    slash = strrchr(dir, '/');
    ck_assert_ptr_nonnull(slash);
    *slash = '\0';
    snprintf(model_path, sizeof model_path, "%s/%s", dir, e->file);
    checkpoint = !strcmp(e->type, "checkpoint");
    ck_assert_msg(checkpoint || !strcmp(e->type, "model"), "%s: unknown type %s", path, e->type);
    ck_assert_msg(checkpoint == (e->steps >= 0), "%s: steps recorded for a %s", path, e->type);

    if (checkpoint)
        OK(seqcls_checkpoint_load(&m, &o, model_path));
    else
        OK(seqcls_model_load(&m, model_path));
    check_structure(path, m, e);
    x = check_input(path, m, e);
    predict(m, x, e, probs, att);
    assert_close(path, "probs", probs, e->probs, e->B * e->C);
    if (e->has_attention)
        assert_close(path, "attention", att, e->attention, e->B * e->T);
    check_resave(path, m, x, e, probs, att);

    if (checkpoint) {
        char tmp[] = "/tmp/seqcls-golden-XXXXXX";
        int fd;
        seqcls_model_t *m2 = NULL;
        seqcls_optimizer_t *o2 = NULL;
        ck_assert_msg(seqcls_optimizer_steps(o) == e->steps, "%s: %lld optimiser steps, expected %lld",
                      path, (long long)seqcls_optimizer_steps(o), (long long)e->steps);
        /* a checkpoint is also a model file */
        OK(seqcls_model_load(&plain, model_path));
        predict(plain, x, e, probs2, att2);
        ck_assert_msg(memcmp(probs, probs2, sizeof(float) * (size_t)(e->B * e->C)) == 0,
                      "%s: loaded as a model it predicts differently", path);
        seqcls_model_free(plain);
        /* written again by this library, it resumes the same way */
        fd = mkstemp(tmp);
        ck_assert_msg(fd >= 0, "mkstemp: %s", strerror(errno));
        close(fd);
        OK(seqcls_checkpoint_save(m, o, tmp));
        OK(seqcls_checkpoint_load(&m2, &o2, tmp));
        unlink(tmp);
        ck_assert_msg(seqcls_optimizer_steps(o2) == e->steps, "%s: re-saved, %lld steps", path,
                      (long long)seqcls_optimizer_steps(o2));
        check_step(path, m2, o2, x, e);
        seqcls_optimizer_free(o2);
        seqcls_model_free(m2);
        check_step(path, m, o, x, e);
    }
    seqcls_tensor_free(x);
    seqcls_optimizer_free(o);
    seqcls_model_free(m);
    free(e);
}

START_TEST(golden_file)
{
    ck_assert_int_lt(_i, nexpect);
    check_one(expect_paths[_i]);
}
END_TEST

/* The 1.0.0 set is complete, each .expect names the .sqcl beside it, and
 * no model file lacks its .expect. */
START_TEST(golden_files_present)
{
    size_t i;
    char path[512];
    struct stat st;
    DIR *root, *d;
    struct dirent *v, *f;
    ck_assert_msg(nexpect > 0, "no golden files under %s (the tests run from the repository root)",
                  GOLDEN_ROOT);
    for (i = 0; i < sizeof files_1_0_0 / sizeof files_1_0_0[0]; i++) {
        snprintf(path, sizeof path, "%s/1.0.0/%s.expect", GOLDEN_ROOT, files_1_0_0[i]);
        ck_assert_msg(stat(path, &st) == 0, "%s is missing", path);
        snprintf(path, sizeof path, "%s/1.0.0/%s.sqcl", GOLDEN_ROOT, files_1_0_0[i]);
        ck_assert_msg(stat(path, &st) == 0 && st.st_size > 0, "%s is missing", path);
    }
    root = opendir(GOLDEN_ROOT);
    ck_assert_ptr_nonnull(root);
    while ((v = readdir(root)) != NULL) {
        char dir[300];
        if (v->d_name[0] == '.' || strlen(v->d_name) > 64)
            continue;
        snprintf(dir, sizeof dir, "%s/%.64s", GOLDEN_ROOT, v->d_name);
        if (!(d = opendir(dir)))
            continue;
        while ((f = readdir(d)) != NULL) {
            size_t n = strlen(f->d_name);
            if (!has_suffix(f->d_name, ".sqcl") || n > 200)
                continue;
            snprintf(path, sizeof path, "%.300s/%.*s.expect", dir, (int)(n - 5), f->d_name);
            ck_assert_msg(stat(path, &st) == 0, "%s/%s has no .expect file", dir, f->d_name);
        }
        closedir(d);
    }
    closedir(root);
}
END_TEST

Suite *golden_suite(void)
{
    Suite *s = suite_create("golden");
    TCase *tc = tcase_create("golden");
    scan_golden();
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, golden_files_present);
    tcase_add_loop_test(tc, golden_file, 0, nexpect > 0 ? nexpect : 1);
    suite_add_tcase(s, tc);
    return s;
}
