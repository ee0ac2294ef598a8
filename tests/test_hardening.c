/*
 * test_hardening.c -- the defects an outside adversarial run found in
 * 1.0 (issue 14) and the rest of their classes: non-finite results are
 * an error naming the layer, a training forward keeps its own copy of
 * the input, optimisers know their model by id, values a setter refuses
 * are refused in files too, a failed call changes nothing, and counts
 * that overflow 32 bits are refused before anything is read.
 */
#define _POSIX_C_SOURCE 200809L   /* mkstemp */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "modelfile.h"
#include "testutil.h"

#define B 4
#define T 5

static seqcls_model_t *small_model(uint64_t seed, int relu_units)
{
    seqcls_model_t *m = NULL;
    OK(seqcls_model_create(&m, seed));
    OK(seqcls_add_embedding(m, 12, 4, 0, NULL));
    OK(seqcls_add_pooling(m, SEQCLS_POOL_MEAN, NULL));
    OK(seqcls_add_dense(m, relu_units, SEQCLS_ACT_RELU, NULL));
    OK(seqcls_add_output(m, 3, NULL));
    return m;
}

static seqcls_tensor_t *ids_tensor(uint64_t seed)
{
    seqcls_tensor_t *t = tu_tensor(SEQCLS_I32, 2, B, T, 0);
    tu_fill_ids(t, 1, 12, seed);
    return t;
}

static void scale_param(seqcls_model_t *m, const char *name, float by)
{
    seqcls_tensor_t *v = NULL;
    int64_t k;
    OK(seqcls_param(m, seqcls_param_find(m, name), &v, NULL));
    for (k = 0; k < seqcls_tensor_numel(v); k++)
        ((real_t *)seqcls_tensor_data(v))[k] *= (real_t)by;
}

/* Item 1: finite but huge weights overflow; no call returns OK with NaN. */
START_TEST(non_finite_results_are_an_error_naming_the_layer)
{
    seqcls_model_t *m = small_model(1, 8), *back = NULL;
    seqcls_tensor_t *ids = ids_tensor(2), *p = tu_tensor(SEQCLS_F32, 2, B, 3, 0);
    seqcls_tensor_t *y = tu_tensor(SEQCLS_I32, 1, B, 0, 0);
    seqcls_metrics_t *mt = NULL;
    int32_t lens[B] = {5, 3, 1, 0};
    void *buf = NULL;
    size_t len = 0;
    memset(seqcls_tensor_data(y), 0, B * sizeof(int32_t));
    OK(seqcls_predict(m, ids, lens, p, NULL));
    scale_param(m, "0.embedding.weight", 1e30f);
    scale_param(m, "2.dense.weight", 1e30f);   /* 1e60 overflows float: inf, then NaN */
    FAILS(SEQCLS_E_NUMERIC, "the output of layer 2 (dense) is not finite",
          seqcls_predict(m, ids, lens, p, NULL));
    FAILS(SEQCLS_E_NUMERIC, "layer 2 (dense)", seqcls_forward(m, ids, lens, NULL, 0));
    FAILS(SEQCLS_E_NUMERIC, "layer 2 (dense)", seqcls_forward(m, ids, lens, NULL, 1));
    FAILS(SEQCLS_E_STATE, "no training forward", seqcls_loss_backward(m, y, NULL));
    FAILS(SEQCLS_E_NUMERIC, "layer 2 (dense)", seqcls_evaluate(m, ids, lens, y, 0, &mt));
    ck_assert_ptr_null(mt);
    /* such a model saves and loads (its weights are finite) and still refuses */
    OK(seqcls_model_save_buffer(m, &buf, &len));
    OK(seqcls_model_load_buffer(&back, buf, len));
    FAILS(SEQCLS_E_NUMERIC, "seqcls_predict: the output of layer 2",
          seqcls_predict(back, ids, lens, p, NULL));
    seqcls_free(buf);
    seqcls_model_free(back);
    seqcls_tensor_free(ids);
    seqcls_tensor_free(p);
    seqcls_tensor_free(y);
    seqcls_model_free(m);
}
END_TEST

/* Gradients of a training step on `ids`; ids may be changed by `meddle`
 * between the forward and the backward. */
static void step_grads(const int32_t *src, int meddle, real_t *out, size_t cap)
{
    seqcls_model_t *m = small_model(5, 6);
    seqcls_tensor_t *ids = tu_tensor(SEQCLS_I32, 2, B, T, 0);
    seqcls_tensor_t *y = tu_tensor(SEQCLS_I32, 1, B, 0, 0);
    int32_t lens[B] = {5, 3, 1, 4};
    size_t at = 0;
    int i;
    memcpy(seqcls_tensor_data(ids), src, B * T * sizeof(int32_t));
    for (i = 0; i < B; i++)
        ((int32_t *)seqcls_tensor_data(y))[i] = i % 3;
    OK(seqcls_zero_grad(m));
    OK(seqcls_forward(m, ids, lens, NULL, 1));
    if (meddle)
        for (i = 0; i < B * T; i++)
            ((int32_t *)seqcls_tensor_data(ids))[i] = 1000000000 + i;   /* far out of range */
    OK(seqcls_loss_backward(m, y, NULL));
    for (i = 0; i < seqcls_param_count(m); i++) {
        seqcls_tensor_t *g = NULL;
        OK(seqcls_param(m, i, NULL, &g));
        ck_assert_uint_le(at + (size_t)seqcls_tensor_numel(g), cap);
        memcpy(out + at, seqcls_tensor_data(g), (size_t)seqcls_tensor_numel(g) * sizeof(real_t));
        at += (size_t)seqcls_tensor_numel(g);
    }
    seqcls_tensor_free(ids);
    seqcls_tensor_free(y);
    seqcls_model_free(m);
}

/* Item 2: what backward needs is the model's own; the caller's ids can change. */
START_TEST(input_changed_before_backward_changes_nothing)
{
    int32_t src[B * T];
    static real_t a[4096], b[4096];
    seqcls_tensor_t *t = ids_tensor(9);
    memcpy(src, seqcls_tensor_data(t), sizeof src);
    seqcls_tensor_free(t);
    step_grads(src, 0, a, 4096);
    step_grads(src, 1, b, 4096);
    ck_assert(memcmp(a, b, sizeof a) == 0);
}
END_TEST

/* Item 3: an optimiser knows its model by id, not by address. */
START_TEST(optimizer_recognises_its_model_by_id)
{
    seqcls_model_t *a = small_model(1, 4), *b;
    seqcls_optimizer_t *o = NULL;
    int i;
    OK(seqcls_optimizer_create(&o, SEQCLS_OPTIM_ADAM, 0.01f));
    OK(seqcls_optimizer_step(o, a));
    seqcls_model_free(a);
    /* models of the same and of larger shapes, wherever they land */
    for (i = 0; i < 8; i++) {
        b = small_model(2, 4 + 40 * (i & 1));
        FAILS(SEQCLS_E_STATE, "another model", seqcls_optimizer_step(o, b));
        seqcls_model_free(b);
    }
    seqcls_optimizer_free(o);
}
END_TEST

/* Items 4 and 5: a value a setter refuses is refused in a file too. */
START_TEST(values_the_setters_refuse_are_refused_in_files)
{
    seqcls_model_t *m = NULL, *back = (seqcls_model_t *)1;
    seqcls_optimizer_t *o = NULL, *ob = (seqcls_optimizer_t *)1;
    seqcls_tensor_t *v = NULL, *ids = ids_tensor(3), *y = tu_tensor(SEQCLS_I32, 1, B, 0, 0);
    char path[] = "/tmp/seqcls-hard-XXXXXX";
    unsigned char *file;
    void *buf = NULL;
    size_t len = 0, at;
    uint32_t n = 0;
    FILE *f;
    int fd, l;

    /* batch norm's running variance below zero */
    OK(seqcls_model_create(&m, 4));
    OK(seqcls_add_embedding(m, 12, 4, 0, NULL));
    OK(seqcls_add_pooling(m, SEQCLS_POOL_MAX, NULL));
    OK(seqcls_add_batchnorm(m, &l));
    OK(seqcls_add_output(m, 3, NULL));
    OK(seqcls_param(m, seqcls_param_find(m, "2.batchnorm.running_var"), &v, NULL));
    ((real_t *)seqcls_tensor_data(v))[1] = -0.5f;
    OK(seqcls_model_save_buffer(m, &buf, &len));
    FAILS(SEQCLS_E_FORMAT, "running_var[1] = -0.5 is negative",
          seqcls_model_load_buffer(&back, buf, len));
    ck_assert_ptr_null(back);
    seqcls_free(buf);
    seqcls_model_free(m);

    /* optimiser settings: eps 0 by the setter; beta1 = 1 and a negative
     * second moment in a checkpoint */
    m = small_model(6, 4);
    memset(seqcls_tensor_data(y), 0, B * sizeof(int32_t));
    OK(seqcls_optimizer_create(&o, SEQCLS_OPTIM_ADAM, 0.01f));
    FAILS(SEQCLS_E_INVALID_ARG, "out of range", seqcls_optimizer_set_float(o, SEQCLS_OPTIM_EPS, 0));
    FAILS(SEQCLS_E_INVALID_ARG, "out of range",
          seqcls_optimizer_set_float(o, SEQCLS_OPTIM_BETA1, 1));
    OK(seqcls_forward(m, ids, NULL, NULL, 1));
    OK(seqcls_loss_backward(m, y, NULL));
    OK(seqcls_optimizer_step(o, m));
    fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    OK(seqcls_checkpoint_save(m, o, path));
    f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    len = (size_t)ftell(f);
    rewind(f);
    file = malloc(len);
    ck_assert_uint_eq(fread(file, 1, len, f), len);
    fclose(f);
    at = mf_section(file, len, "OPTM", &n);
    ck_assert_uint_gt(at, 0);
    {
        /* beta1, the second setting, as a double */
        const double one = 1.0;
        unsigned char saved[8], *p = file + at + 8 + 8;
        memcpy(saved, p, 8);
        memcpy(p, &one, 8);   /* little-endian hosts only, as the tests run */
        mf_mend_crc(file, at, n);
        OK(seqcls_model_load_buffer(&back, file, len));   /* the model itself is fine */
        seqcls_model_free(back);
        f = fopen(path, "wb");
        fwrite(file, 1, len, f);
        fclose(f);
        FAILS(SEQCLS_E_FORMAT, "OPTM: option 2 is 1", seqcls_checkpoint_load(&back, &ob, path));
        ck_assert_ptr_null(back);
        ck_assert_ptr_null(ob);
        memcpy(p, saved, 8);
    }
    {
        /* the last float of the state: the last parameter's second moment */
        const float neg = -1e-3f;
        memcpy(file + at + n - 4, &neg, 4);
        mf_mend_crc(file, at, n);
        f = fopen(path, "wb");
        fwrite(file, 1, len, f);
        fclose(f);
        FAILS(SEQCLS_E_FORMAT, "is negative", seqcls_checkpoint_load(&back, &ob, path));
    }
    unlink(path);
    free(file);
    seqcls_optimizer_free(o);
    seqcls_tensor_free(ids);
    seqcls_tensor_free(y);
    seqcls_model_free(m);
}
END_TEST

/* Item 6: labels that could not be loaded again are refused when set. */
START_TEST(labels_are_checked_when_set)
{
    seqcls_model_t *m = NULL;
    const char *two[2] = {"ham", "spam"}, *three[3] = {"a", "b", "c"};
    const char *bad[3] = {"a", "b\xff", "c"};
    OK(seqcls_model_create(&m, 1));
    OK(seqcls_add_embedding(m, 12, 4, 0, NULL));
    OK(seqcls_model_set_labels(m, 2, two));   /* no output layer yet: any count */
    OK(seqcls_add_pooling(m, SEQCLS_POOL_MEAN, NULL));
    OK(seqcls_add_output(m, 3, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "2 names for a model of 3 classes",
          seqcls_model_set_labels(m, 2, two));
    FAILS(SEQCLS_E_INVALID_ARG, "name 1 is not valid UTF-8", seqcls_model_set_labels(m, 3, bad));
    ck_assert_str_eq(seqcls_model_label(m, 1), "spam");   /* a failed call changes nothing */
    OK(seqcls_model_set_labels(m, 3, three));
    OK(seqcls_model_set_labels(m, 0, NULL));
    seqcls_model_free(m);
    OK(seqcls_model_create(&m, 1));
    OK(seqcls_add_input(m, 2, NULL));
    OK(seqcls_add_pooling(m, SEQCLS_POOL_MEAN, NULL));
    OK(seqcls_add_output(m, 1, NULL));
    OK(seqcls_model_set_labels(m, 2, two));   /* one logit: two classes */
    FAILS(SEQCLS_E_INVALID_ARG, "3 names for a model of 2 classes",
          seqcls_model_set_labels(m, 3, three));
    seqcls_model_free(m);
}
END_TEST

/* Item 7: a change after a training forward makes the backward refuse;
 * a call that fails changes nothing. */
START_TEST(stale_forwards_and_failed_calls)
{
    seqcls_model_t *m = NULL, *other = small_model(8, 4);
    seqcls_optimizer_t *o = NULL;
    seqcls_tensor_t *ids = ids_tensor(4), *y = tu_tensor(SEQCLS_I32, 1, B, 0, 0), *g = NULL;
    seqcls_tensor_t *bad = ids_tensor(4);
    float rows[4] = {1, 2, 3, 4};
    int l, k;
    memset(seqcls_tensor_data(y), 0, B * sizeof(int32_t));
    OK(seqcls_model_create(&m, 2));
    OK(seqcls_add_embedding(m, 12, 4, 0, NULL));
    OK(seqcls_add_gru(m, 3, 0, &l));
    OK(seqcls_add_output(m, 3, NULL));

    OK(seqcls_forward(m, ids, NULL, NULL, 1));
    OK(seqcls_layer_set_float(m, l, SEQCLS_OPT_INPUT_DROPOUT, 0.5f));
    FAILS(SEQCLS_E_STATE, "no training forward", seqcls_loss_backward(m, y, NULL));
    OK(seqcls_forward(m, ids, NULL, NULL, 1));
    OK(seqcls_embedding_set_rows(m, 0, 3, 1, 4, rows));
    FAILS(SEQCLS_E_STATE, "no training forward", seqcls_loss_backward(m, y, NULL));
    /* a refused option leaves the forward usable */
    OK(seqcls_forward(m, ids, NULL, NULL, 1));
    FAILS(SEQCLS_E_INVALID_ARG, "outside", seqcls_layer_set_float(m, l, SEQCLS_OPT_INPUT_DROPOUT, 2));
    /* so does a forward refused for its input */
    ((int32_t *)seqcls_tensor_data(bad))[3] = 99;
    FAILS(SEQCLS_E_RANGE, "token id 99", seqcls_forward(m, bad, NULL, NULL, 1));
    OK(seqcls_loss_backward(m, y, NULL));

    /* seqcls_fit with another model's optimiser: refused before the gradients are touched */
    OK(seqcls_optimizer_create(&o, SEQCLS_OPTIM_SGD, 0.1f));
    OK(seqcls_optimizer_step(o, other));
    OK(seqcls_param(m, 0, NULL, &g));
    for (k = 0; k < seqcls_tensor_numel(g); k++)
        ((real_t *)seqcls_tensor_data(g))[k] = (real_t)k;
    FAILS(SEQCLS_E_STATE, "another model",
          seqcls_fit(m, o, ids, NULL, y, NULL, NULL, NULL, NULL));
    for (k = 0; k < seqcls_tensor_numel(g); k++)
        ck_assert(((real_t *)seqcls_tensor_data(g))[k] == (real_t)k);
    OK(seqcls_loss_backward(m, y, NULL));   /* the training forward is still there */

    seqcls_optimizer_free(o);
    seqcls_tensor_free(ids);
    seqcls_tensor_free(bad);
    seqcls_tensor_free(y);
    seqcls_model_free(other);
    seqcls_model_free(m);
}
END_TEST

/* A callback that changes the caller's lengths and ids while seqcls_fit runs. */
static int meddle(void *user, int epoch, int batch, int batches, float loss, float acc)
{
    int32_t *lens = user;
    (void)epoch, (void)batches, (void)loss, (void)acc;
    lens[batch % B] = batch % 2 ? 1000000 : -7;
    return 0;
}

/* Item 2, the rest of the class: what fit and evaluate read again per batch. */
START_TEST(inputs_changed_during_fit_cannot_reach_memory)
{
    seqcls_model_t *m = small_model(3, 4);
    seqcls_optimizer_t *o = NULL;
    seqcls_fit_config_t *c = NULL;
    seqcls_tensor_t *ids = ids_tensor(6), *y = tu_tensor(SEQCLS_I32, 1, B, 0, 0);
    int32_t lens[B] = {5, 3, 2, 1};
    int rc;
    memset(seqcls_tensor_data(y), 0, B * sizeof(int32_t));
    OK(seqcls_optimizer_create(&o, SEQCLS_OPTIM_SGD, 0.1f));
    OK(seqcls_fit_config_create(&c));
    OK(seqcls_fit_config_set_int(c, SEQCLS_FIT_BATCH_SIZE, 1));
    OK(seqcls_fit_config_set_int(c, SEQCLS_FIT_EPOCHS, 3));
    OK(seqcls_fit_config_set_callbacks(c, meddle, NULL, NULL, lens));
    rc = seqcls_fit(m, o, ids, lens, y, NULL, NULL, NULL, c);
    ck_assert_int_eq(rc, SEQCLS_OK);   /* lengths kept within [0, T] batch by batch */
    seqcls_fit_config_free(c);
    seqcls_optimizer_free(o);
    seqcls_tensor_free(ids);
    seqcls_tensor_free(y);
    seqcls_model_free(m);
}
END_TEST

/* Item 9: B * T beyond 32 bits is refused before the data is read (the
 * tensor wraps a small buffer: any read would be out of bounds). */
START_TEST(counts_beyond_32_bits_are_refused)
{
    seqcls_model_t *m = small_model(1, 4);
    seqcls_tensor_t *x = NULL, *p = NULL;
    static int32_t small[16];
    int64_t shape[2] = {65536, 65536}, pshape[2] = {65536, 3};
    OK(seqcls_tensor_wrap(&x, SEQCLS_I32, 2, shape, small));
    OK(seqcls_tensor_create(&p, SEQCLS_F32, 2, pshape));
    FAILS(SEQCLS_E_SHAPE, "more than 2147483647 steps", seqcls_predict(m, x, NULL, p, NULL));
    FAILS(SEQCLS_E_SHAPE, "more than 2147483647 steps", seqcls_forward(m, x, NULL, NULL, 1));
    seqcls_tensor_free(x);
    shape[0] = 2;
    shape[1] = INT32_MAX;
    OK(seqcls_tensor_wrap(&x, SEQCLS_I32, 2, shape, small));
    FAILS(SEQCLS_E_SHAPE, "more than", seqcls_forward(m, x, NULL, NULL, 0));
    seqcls_tensor_free(x);
    seqcls_tensor_free(p);
    seqcls_model_free(m);
}
END_TEST

/* Item 12: messages: nothing left over from a success, no doubled words. */
START_TEST(messages_are_clean)
{
    seqcls_model_t *m = small_model(1, 4), *back = NULL;
    seqcls_optimizer_t *o = NULL;
    seqcls_tensor_t *ids = ids_tensor(1), *y = tu_tensor(SEQCLS_I32, 1, B, 0, 0);
    void *buf = NULL;
    size_t len = 0;
    OK(seqcls_model_save_buffer(m, &buf, &len));   /* no vocabulary, labels or metadata */
    OK(seqcls_model_load_buffer(&back, buf, len));
    ck_assert_str_eq(seqcls_last_error(), "");
    OK(seqcls_optimizer_create(&o, SEQCLS_OPTIM_SGD, 0.1f));
    FAILS(SEQCLS_E_INVALID_ARG, "seqcls_fit: training input is NULL",
          seqcls_fit(m, o, NULL, NULL, y, NULL, NULL, NULL, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "seqcls_fit: the labels of the training input are NULL",
          seqcls_fit(m, o, ids, NULL, NULL, NULL, NULL, NULL, NULL));
    seqcls_optimizer_free(o);
    seqcls_free(buf);
    seqcls_model_free(back);
    seqcls_tensor_free(ids);
    seqcls_tensor_free(y);
    seqcls_model_free(m);
}
END_TEST

Suite *hardening_suite(void)
{
    Suite *s = suite_create("hardening");
    TCase *tc = tcase_create("hardening");
    tcase_add_test(tc, non_finite_results_are_an_error_naming_the_layer);
    tcase_add_test(tc, input_changed_before_backward_changes_nothing);
    tcase_add_test(tc, inputs_changed_during_fit_cannot_reach_memory);
    tcase_add_test(tc, optimizer_recognises_its_model_by_id);
    tcase_add_test(tc, values_the_setters_refuse_are_refused_in_files);
    tcase_add_test(tc, labels_are_checked_when_set);
    tcase_add_test(tc, stale_forwards_and_failed_calls);
    tcase_add_test(tc, counts_beyond_32_bits_are_refused);
    tcase_add_test(tc, messages_are_clean);
    suite_add_tcase(s, tc);
    return s;
}
