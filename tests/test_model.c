/*
 * test_model.c -- building models, the forward pass's semantics, and
 * every error path of construction, forward, backward and prediction.
 */
#include <stdio.h>

#include "testutil.h"

/* Embedding(V, D, pad 0) -> pooling(kind) -> dense(8, relu) -> output(C). */
static seqcls_model_t *small_model(int V, int D, int pool, int C)
{
    seqcls_model_t *m = NULL;
    OK(seqcls_model_create(&m, 42));
    OK(seqcls_add_embedding(m, V, D, 0, NULL));
    OK(seqcls_add_pooling(m, pool, NULL));
    OK(seqcls_add_dense(m, 8, SEQCLS_ACT_RELU, NULL));
    OK(seqcls_add_output(m, C, NULL));
    return m;
}

START_TEST(construction_order_is_enforced)
{
    seqcls_model_t *m = NULL;
    int idx = -1;
    OK(seqcls_model_create(&m, 1));
    FAILS(SEQCLS_E_STATE, "first layer", seqcls_add_dense(m, 4, SEQCLS_ACT_NONE, NULL));
    FAILS(SEQCLS_E_STATE, "first layer", seqcls_add_output(m, 2, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "vocab", seqcls_add_embedding(m, 0, 4, -1, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "padding_idx", seqcls_add_embedding(m, 10, 4, 10, NULL));
    FAILS(SEQCLS_E_NOMEM, "too large", seqcls_add_embedding(m, 1 << 30, 1 << 10, -1, NULL));
    OK(seqcls_add_embedding(m, 10, 4, 0, &idx));
    ck_assert_int_eq(idx, 0);
    FAILS(SEQCLS_E_STATE, "must be the first", seqcls_add_embedding(m, 10, 4, 0, NULL));
    FAILS(SEQCLS_E_STATE, "must be the first", seqcls_add_input(m, 3, NULL));
    FAILS(SEQCLS_E_STATE, "cannot take a sequence", seqcls_add_batchnorm(m, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "pooling kind", seqcls_add_pooling(m, 99, NULL));
    OK(seqcls_add_pooling(m, SEQCLS_POOL_MEAN, &idx));
    ck_assert_int_eq(idx, 1);
    FAILS(SEQCLS_E_STATE, "cannot take a vector", seqcls_add_pooling(m, SEQCLS_POOL_MEAN, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "units", seqcls_add_dense(m, 0, SEQCLS_ACT_NONE, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "activation", seqcls_add_dense(m, 3, 77, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "rate", seqcls_add_dropout(m, 1.0f, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "rate", seqcls_add_dropout(m, -0.1f, NULL));
    OK(seqcls_add_dropout(m, 0.5f, NULL));
    OK(seqcls_add_output(m, 3, &idx));
    ck_assert_int_eq(idx, 3);
    ck_assert_int_eq(seqcls_layer_count(m), 4);
    FAILS(SEQCLS_E_STATE, "follow the output", seqcls_add_dense(m, 2, SEQCLS_ACT_NONE, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "model is NULL", seqcls_add_dense(NULL, 2, SEQCLS_ACT_NONE, NULL));
    seqcls_model_free(m);
    seqcls_model_free(NULL);
}
END_TEST

START_TEST(parameters_are_named_like_pytorch)
{
    seqcls_model_t *m = small_model(20, 6, SEQCLS_POOL_MAX, 1);
    seqcls_tensor_t *v = NULL, *g = NULL;
    ck_assert_int_eq(seqcls_param_count(m), 5);
    ck_assert_str_eq(seqcls_param_name(m, 0), "0.embedding.weight");
    ck_assert_str_eq(seqcls_param_name(m, 1), "2.dense.weight");
    ck_assert_str_eq(seqcls_param_name(m, 2), "2.dense.bias");
    ck_assert_str_eq(seqcls_param_name(m, 3), "3.output.weight");
    ck_assert_str_eq(seqcls_param_name(m, 4), "3.output.bias");
    ck_assert_ptr_null(seqcls_param_name(m, 5));
    ck_assert_ptr_null(seqcls_param_name(m, -1));
    ck_assert_int_eq(seqcls_param_find(m, "2.dense.bias"), 2);
    ck_assert_int_eq(seqcls_param_find(m, "2.dense.nope"), -1);
    ck_assert_int_eq(seqcls_param_find(m, NULL), -1);
    OK(seqcls_param(m, 1, &v, &g));
    ck_assert_int_eq(seqcls_tensor_dim(v, 0), 8);   /* [out, in] as nn.Linear */
    ck_assert_int_eq(seqcls_tensor_dim(v, 1), 6);
    ck_assert_int_eq(seqcls_tensor_dim(g, 1), 6);
    FAILS(SEQCLS_E_RANGE, "index 9", seqcls_param(m, 9, &v, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "NULL", seqcls_param(NULL, 0, &v, NULL));
    /* the padding row starts at zero; initialisation follows the seed */
    OK(seqcls_param(m, 0, &v, NULL));
    {
        real_t *w = seqcls_tensor_data(v);
        int k;
        for (k = 0; k < 6; k++)
            ck_assert(w[k] == 0);
        ck_assert(w[6] != 0);
    }
    seqcls_model_free(m);
}
END_TEST

START_TEST(same_seed_same_model)
{
    seqcls_model_t *a = small_model(20, 6, SEQCLS_POOL_MEAN, 2);
    seqcls_model_t *b = small_model(20, 6, SEQCLS_POOL_MEAN, 2);
    tu_assert_same_params(a, b);
    seqcls_model_free(a);
    seqcls_model_free(b);
}
END_TEST

START_TEST(forward_errors_write_nothing)
{
    seqcls_model_t *m = small_model(10, 4, SEQCLS_POOL_MEAN, 2);
    seqcls_tensor_t *ids = tu_tensor(SEQCLS_I32, 2, 3, 5, 0);
    seqcls_tensor_t *logits = tu_tensor(SEQCLS_F32, 2, 3, 2, 0);
    seqcls_tensor_t *wrong = tu_tensor(SEQCLS_F32, 2, 3, 3, 0);
    seqcls_tensor_t *feats = tu_tensor(SEQCLS_F32, 3, 3, 5, 4);
    real_t *lg = seqcls_tensor_data(logits);
    int32_t *id = seqcls_tensor_data(ids);
    int32_t lens[3] = {5, 2, 0};
    int i;

    tu_fill_ids(ids, 1, 10, 7);
    for (i = 0; i < 6; i++)
        lg[i] = (real_t)123;
    FAILS(SEQCLS_E_INVALID_ARG, "model is NULL", seqcls_forward(NULL, ids, NULL, logits, 0));
    FAILS(SEQCLS_E_INVALID_ARG, "input is NULL", seqcls_forward(m, NULL, NULL, logits, 0));
    FAILS(SEQCLS_E_SHAPE, "must be SEQCLS_I32", seqcls_forward(m, feats, NULL, logits, 0));
    FAILS(SEQCLS_E_SHAPE, "logits has shape [3, 3], expected [3, 2]",
          seqcls_forward(m, ids, NULL, wrong, 0));
    id[7] = 10;   /* row 1, step 2: valid only when lengths are all T */
    FAILS(SEQCLS_E_RANGE, "token id 10 at [1, 2] is outside [0, 10)",
          seqcls_forward(m, ids, NULL, logits, 0));
    id[7] = -3;
    FAILS(SEQCLS_E_RANGE, "token id -3", seqcls_forward(m, ids, NULL, logits, 0));
    for (i = 0; i < 6; i++)
        ck_assert(lg[i] == 123);   /* nothing written */
    /* ...but ids at padding steps are never looked at */
    OK(seqcls_forward(m, ids, lens, logits, 0));
    lens[1] = 6;
    FAILS(SEQCLS_E_RANGE, "lengths[1] = 6", seqcls_forward(m, ids, lens, logits, 0));
    lens[1] = -1;
    FAILS(SEQCLS_E_RANGE, "lengths[1] = -1", seqcls_forward(m, ids, lens, logits, 0));

    seqcls_tensor_free(ids);
    seqcls_tensor_free(logits);
    seqcls_tensor_free(wrong);
    seqcls_tensor_free(feats);
    seqcls_model_free(m);
}
END_TEST

START_TEST(incomplete_models_and_call_order)
{
    seqcls_model_t *m = NULL;
    seqcls_tensor_t *ids = tu_tensor(SEQCLS_I32, 2, 2, 3, 0);
    seqcls_tensor_t *dl = tu_tensor(SEQCLS_F32, 2, 2, 1, 0);
    seqcls_tensor_t *labels = tu_tensor(SEQCLS_I32, 1, 2, 0, 0);
    seqcls_tensor_t *g = NULL, *w = NULL;
    OK(seqcls_model_create(&m, 3));
    FAILS(SEQCLS_E_STATE, "no layers", seqcls_forward(m, ids, NULL, NULL, 1));
    OK(seqcls_add_embedding(m, 5, 3, -1, NULL));
    OK(seqcls_add_pooling(m, SEQCLS_POOL_LAST, NULL));
    FAILS(SEQCLS_E_STATE, "no output layer", seqcls_forward(m, ids, NULL, NULL, 1));
    OK(seqcls_add_output(m, 1, NULL));
    FAILS(SEQCLS_E_STATE, "no training forward", seqcls_backward(m, dl));
    FAILS(SEQCLS_E_STATE, "no training forward", seqcls_loss_backward(m, labels, NULL));
    OK(seqcls_forward(m, ids, NULL, NULL, 0));
    FAILS(SEQCLS_E_STATE, "no training forward", seqcls_backward(m, dl));
    FAILS(SEQCLS_E_STATE, "input gradient", seqcls_input_grad(m, &g));
    OK(seqcls_forward(m, ids, NULL, NULL, 1));
    FAILS(SEQCLS_E_INVALID_ARG, "dlogits is NULL", seqcls_backward(m, NULL));
    FAILS(SEQCLS_E_SHAPE, "labels", seqcls_loss_backward(m, dl, NULL));
    ((real_t *)seqcls_tensor_data(dl))[1] = (real_t)NAN;
    FAILS(SEQCLS_E_NUMERIC, "dlogits[1] is not finite", seqcls_backward(m, dl));
    ((int32_t *)seqcls_tensor_data(labels))[0] = 2;
    FAILS(SEQCLS_E_RANGE, "labels[0] = 2 is outside [0, 2)", seqcls_loss_backward(m, labels, NULL));
    FAILS(SEQCLS_E_STATE, "input gradient", seqcls_input_grad(m, &g));   /* ids have none */
    FAILS(SEQCLS_E_RANGE, "no attention layer", seqcls_attention_weights(m, -1, &w));
    FAILS(SEQCLS_E_RANGE, "layer 1 is not an attention layer", seqcls_attention_weights(m, 1, &w));
    seqcls_tensor_free(ids);
    seqcls_tensor_free(dl);
    seqcls_tensor_free(labels);
    seqcls_model_free(m);
}
END_TEST

/* Long rows are checked a block at a time: every position is still found
 * and named exactly, and padding is still ignored. */
START_TEST(non_finite_found_anywhere_in_long_rows)
{
    enum { B = 2, T = 40, F = 3 };
    static const int32_t lens[B] = {37, 40};
    seqcls_model_t *m = NULL;
    seqcls_tensor_t *x = tu_tensor(SEQCLS_F32, 3, B, T, F), *p = tu_tensor(SEQCLS_F32, 2, B, 1, 0);
    real_t *xd = seqcls_tensor_data(x);
    int pos;
    OK(seqcls_model_create(&m, 3));
    OK(seqcls_add_input(m, F, NULL));
    OK(seqcls_add_pooling(m, SEQCLS_POOL_MEAN, NULL));
    OK(seqcls_add_output(m, 1, NULL));
    tu_fill_real(x, -1, 1, 6);
    for (pos = 0; pos < B * T * F; pos += 7) {
        const int b = pos / (T * F), t = pos / F % T, f = pos % F;
        const real_t keep = xd[pos];
        char want[64];
        xd[pos] = (real_t)(pos % 2 ? -INFINITY : NAN);
        if (t < lens[b]) {
            snprintf(want, sizeof want, "input[%d, %d, %d] is not finite", b, t, f);
            FAILS(SEQCLS_E_NUMERIC, want, seqcls_forward(m, x, lens, p, 0));
        } else {
            OK(seqcls_forward(m, x, lens, p, 0));
        }
        xd[pos] = keep;
    }
    seqcls_model_free(m);
    seqcls_tensor_free(x);
    seqcls_tensor_free(p);
}
END_TEST

START_TEST(nan_in_float_input_is_reported)
{
    seqcls_model_t *m = NULL;
    seqcls_tensor_t *x = tu_tensor(SEQCLS_F32, 3, 2, 4, 3);
    seqcls_tensor_t *p = tu_tensor(SEQCLS_F32, 2, 2, 1, 0);
    real_t *xd = seqcls_tensor_data(x);
    int32_t lens[2] = {4, 2};
    OK(seqcls_model_create(&m, 3));
    OK(seqcls_add_input(m, 3, NULL));
    OK(seqcls_add_pooling(m, SEQCLS_POOL_MAX, NULL));
    OK(seqcls_add_output(m, 1, NULL));
    tu_fill_real(x, -1, 1, 5);
    xd[(1 * 4 + 1) * 3 + 2] = (real_t)INFINITY;
    FAILS(SEQCLS_E_NUMERIC, "input[1, 1, 2] is not finite", seqcls_forward(m, x, lens, p, 0));
    FAILS(SEQCLS_E_NUMERIC, "not finite", seqcls_predict(m, x, lens, p, NULL));
    xd[(1 * 4 + 1) * 3 + 2] = 0;
    xd[(1 * 4 + 3) * 3 + 0] = (real_t)NAN;   /* a padding step: ignored */
    OK(seqcls_forward(m, x, lens, p, 0));
    ck_assert(isfinite(((real_t *)seqcls_tensor_data(p))[1]));
    {
        int64_t shape[3] = {2, 4, 5};
        seqcls_tensor_t *w = NULL;
        OK(seqcls_tensor_create(&w, SEQCLS_F32, 3, shape));
        FAILS(SEQCLS_E_SHAPE, "expected [*, *, 3]", seqcls_forward(m, w, lens, p, 0));
        seqcls_tensor_free(w);
    }
    seqcls_tensor_free(x);
    seqcls_tensor_free(p);
    seqcls_model_free(m);
}
END_TEST

/* Predict gives the probabilities of forward's logits; padding changes nothing. */
START_TEST(predict_matches_forward_and_ignores_padding)
{
    seqcls_model_t *m = small_model(30, 5, SEQCLS_POOL_MEAN, 3);
    seqcls_tensor_t *ids = tu_tensor(SEQCLS_I32, 2, 4, 6, 0);
    seqcls_tensor_t *logits = tu_tensor(SEQCLS_F32, 2, 4, 3, 0);
    seqcls_tensor_t *probs = tu_tensor(SEQCLS_F32, 2, 4, 3, 0);
    seqcls_tensor_t *probs2 = tu_tensor(SEQCLS_F32, 2, 4, 3, 0);
    real_t *lg = seqcls_tensor_data(logits), *pr = seqcls_tensor_data(probs);
    int32_t lens[4] = {6, 3, 1, 0};
    int b, c;
    tu_fill_ids(ids, 1, 30, 11);
    OK(seqcls_forward(m, ids, lens, logits, 0));
    OK(seqcls_predict(m, ids, lens, probs, NULL));
    for (b = 0; b < 4; b++) {
        double mx = lg[b * 3], s = 0;
        for (c = 1; c < 3; c++)
            mx = fmax(mx, lg[b * 3 + c]);
        for (c = 0; c < 3; c++)
            s += exp(lg[b * 3 + c] - mx);
        for (c = 0; c < 3; c++)
            ck_assert_double_eq_tol(pr[b * 3 + c], exp(lg[b * 3 + c] - mx) / s, 1e-6);
    }
    /* change the ids at padding steps: nothing moves */
    {
        int32_t *id = seqcls_tensor_data(ids);
        id[1 * 6 + 4] = 29;
        id[3 * 6 + 0] = 2;
        OK(seqcls_predict(m, ids, lens, probs2, NULL));
        ck_assert(memcmp(seqcls_tensor_data(probs2), pr, 12 * sizeof(real_t)) == 0);
    }
    FAILS(SEQCLS_E_SHAPE, "probs must be SEQCLS_F32", seqcls_predict(m, ids, lens, ids, NULL));
    FAILS(SEQCLS_E_INVALID_ARG, "probs is NULL", seqcls_predict(m, ids, lens, NULL, NULL));
    FAILS(SEQCLS_E_RANGE, "no attention layer", seqcls_predict(m, ids, lens, probs2, probs2));
    seqcls_tensor_free(ids);
    seqcls_tensor_free(logits);
    seqcls_tensor_free(probs);
    seqcls_tensor_free(probs2);
    seqcls_model_free(m);
}
END_TEST

/* Pooling: hand-computed last/mean/max over valid steps, zero for empty rows. */
START_TEST(pooling_semantics)
{
    const int kinds[3] = {SEQCLS_POOL_LAST, SEQCLS_POOL_MEAN, SEQCLS_POOL_MAX};
    int k;
    for (k = 0; k < 3; k++) {
        seqcls_model_t *m = NULL;
        seqcls_tensor_t *x = tu_tensor(SEQCLS_F32, 3, 2, 3, 1);
        seqcls_tensor_t *lg = tu_tensor(SEQCLS_F32, 2, 2, 1, 0);
        seqcls_tensor_t *w = NULL, *b = NULL;
        real_t *xd = seqcls_tensor_data(x), *out = seqcls_tensor_data(lg);
        int32_t lens[2] = {2, 0};
        double want;
        OK(seqcls_model_create(&m, 1));
        OK(seqcls_add_input(m, 1, NULL));
        OK(seqcls_add_pooling(m, kinds[k], NULL));
        OK(seqcls_add_output(m, 1, NULL));
        OK(seqcls_param(m, 0, &w, NULL));
        OK(seqcls_param(m, 1, &b, NULL));
        ((real_t *)seqcls_tensor_data(w))[0] = 1;
        ((real_t *)seqcls_tensor_data(b))[0] = 0;
        xd[0] = 3;
        xd[1] = -1;
        xd[2] = 100;   /* padding */
        OK(seqcls_forward(m, x, lens, lg, 0));
        want = kinds[k] == SEQCLS_POOL_LAST ? -1 : kinds[k] == SEQCLS_POOL_MEAN ? 1 : 3;
        ck_assert_double_eq_tol(out[0], want, 1e-6);
        ck_assert(out[1] == 0);
        seqcls_tensor_free(x);
        seqcls_tensor_free(lg);
        seqcls_model_free(m);
    }
}
END_TEST

START_TEST(dropout_scales_in_training_only)
{
    seqcls_model_t *m = NULL;
    seqcls_tensor_t *x = tu_tensor(SEQCLS_F32, 3, 1, 1, 2000);
    seqcls_tensor_t *lg = tu_tensor(SEQCLS_F32, 2, 1, 1, 0);
    seqcls_tensor_t *w = NULL, *b = NULL;
    real_t *wd, *xd = seqcls_tensor_data(x);
    int i;
    double a, c;
    OK(seqcls_model_create(&m, 9));
    OK(seqcls_add_input(m, 2000, NULL));
    OK(seqcls_add_pooling(m, SEQCLS_POOL_LAST, NULL));
    OK(seqcls_add_dropout(m, 0.25f, NULL));
    OK(seqcls_add_output(m, 1, NULL));
    OK(seqcls_param(m, 0, &w, NULL));
    OK(seqcls_param(m, 1, &b, NULL));
    wd = seqcls_tensor_data(w);
    ((real_t *)seqcls_tensor_data(b))[0] = 0;
    for (i = 0; i < 2000; i++) {
        wd[i] = 1;
        xd[i] = 1;
    }
    OK(seqcls_forward(m, x, NULL, lg, 0));
    a = ((real_t *)seqcls_tensor_data(lg))[0];
    ck_assert_double_eq_tol(a, 2000, 1e-3);
    OK(seqcls_forward(m, x, NULL, lg, 1));
    c = ((real_t *)seqcls_tensor_data(lg))[0];
    /* each kept element is 4/3; about 1500 of 2000 are kept */
    ck_assert(fabs(fmod(c, 4.0 / 3.0)) < 1e-2 || fabs(fmod(c, 4.0 / 3.0) - 4.0 / 3.0) < 1e-2);
    ck_assert(c > 2000 * 0.85 && c < 2000 * 1.15);
    ck_assert(c != a);
    seqcls_tensor_free(x);
    seqcls_tensor_free(lg);
    seqcls_model_free(m);
}
END_TEST

START_TEST(embedding_options)
{
    seqcls_model_t *m = small_model(10, 3, SEQCLS_POOL_MEAN, 1);
    float rows[6] = {1, 2, 3, 4, 5, 6}, bad[3] = {0, NAN, 0};
    seqcls_tensor_t *v = NULL;
    real_t *w;
    OK(seqcls_param(m, 0, &v, NULL));
    w = seqcls_tensor_data(v);
    OK(seqcls_embedding_set_rows(m, 0, 0, 2, 3, rows));
    ck_assert(w[0] == 0 && w[1] == 0 && w[2] == 0);   /* padding row kept zero */
    ck_assert(w[3] == 4 && w[5] == 6);
    FAILS(SEQCLS_E_RANGE, "outside", seqcls_embedding_set_rows(m, 0, 9, 2, 3, rows));
    FAILS(SEQCLS_E_SHAPE, "dim 4", seqcls_embedding_set_rows(m, 0, 0, 1, 4, rows));
    FAILS(SEQCLS_E_INVALID_ARG, "not an embedding", seqcls_embedding_set_rows(m, 2, 0, 1, 3, rows));
    FAILS(SEQCLS_E_NUMERIC, "data[0][1]", seqcls_embedding_set_rows(m, 0, 3, 1, 3, bad));
    FAILS(SEQCLS_E_INVALID_ARG, "data is NULL", seqcls_embedding_set_rows(m, 0, 3, 1, 3, NULL));
    OK(seqcls_layer_set_int(m, 0, SEQCLS_OPT_FREEZE, 1));
    FAILS(SEQCLS_E_INVALID_ARG, "takes 0 or 1", seqcls_layer_set_int(m, 0, SEQCLS_OPT_FREEZE, 2));
    FAILS(SEQCLS_E_INVALID_ARG, "does not apply", seqcls_layer_set_int(m, 0, 999, 1));
    FAILS(SEQCLS_E_INVALID_ARG, "option 1 does not apply to layer 2 (dense)",
          seqcls_layer_set_int(m, 2, SEQCLS_OPT_FREEZE, 1));
    FAILS(SEQCLS_E_INVALID_ARG, "option 5 does not apply to layer 2 (dense)",
          seqcls_layer_set_float(m, 2, SEQCLS_OPT_BN_EPSILON, 1));
    FAILS(SEQCLS_E_RANGE, "layer 7 does not exist", seqcls_layer_set_int(m, 7, SEQCLS_OPT_FREEZE, 1));
    seqcls_model_free(m);
}
END_TEST

/* A frozen embedding gets no gradient; the padding row never does. */
START_TEST(embedding_gradients_respect_freeze_and_padding)
{
    seqcls_model_t *m = small_model(10, 3, SEQCLS_POOL_MEAN, 1);
    seqcls_tensor_t *ids = tu_tensor(SEQCLS_I32, 2, 2, 4, 0);
    seqcls_tensor_t *labels = tu_tensor(SEQCLS_I32, 1, 2, 0, 0);
    seqcls_tensor_t *g = NULL;
    int32_t *id = seqcls_tensor_data(ids);
    real_t *gd;
    float loss = -1;
    int k, nz = 0;
    tu_fill_ids(ids, 0, 10, 3);
    id[0] = 0;   /* a padding id at a valid step */
    OK(seqcls_param(m, 0, NULL, &g));
    gd = seqcls_tensor_data(g);
    OK(seqcls_forward(m, ids, NULL, NULL, 1));
    OK(seqcls_loss_backward(m, labels, &loss));
    ck_assert(loss > 0);
    for (k = 0; k < 3; k++)
        ck_assert(gd[k] == 0);
    for (k = 3; k < 30; k++)
        nz += gd[k] != 0;
    ck_assert_int_gt(nz, 0);
    OK(seqcls_zero_grad(m));
    OK(seqcls_layer_set_int(m, 0, SEQCLS_OPT_FREEZE, 1));
    OK(seqcls_forward(m, ids, NULL, NULL, 1));
    OK(seqcls_loss_backward(m, labels, &loss));
    for (k = 0; k < 30; k++)
        ck_assert(gd[k] == 0);
    seqcls_tensor_free(ids);
    seqcls_tensor_free(labels);
    seqcls_model_free(m);
}
END_TEST

Suite *model_suite(void)
{
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("model");
    tcase_add_test(tc, construction_order_is_enforced);
    tcase_add_test(tc, parameters_are_named_like_pytorch);
    tcase_add_test(tc, same_seed_same_model);
    tcase_add_test(tc, forward_errors_write_nothing);
    tcase_add_test(tc, incomplete_models_and_call_order);
    tcase_add_test(tc, nan_in_float_input_is_reported);
    tcase_add_test(tc, non_finite_found_anywhere_in_long_rows);
    tcase_add_test(tc, predict_matches_forward_and_ignores_padding);
    tcase_add_test(tc, pooling_semantics);
    tcase_add_test(tc, dropout_scales_in_training_only);
    tcase_add_test(tc, embedding_options);
    tcase_add_test(tc, embedding_gradients_respect_freeze_and_padding);
    suite_add_tcase(s, tc);
    return s;
}
