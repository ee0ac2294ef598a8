/*
 * fuzz_extreme.c -- libFuzzer target (make fuzz-extreme): finite but
 * extreme weights and options through save, load, predict, evaluate and
 * fit.  The input picks one of a few models (every layer kind among
 * them), sets options at the edges of their ranges, and gives every
 * weight a finite float (any exponent: 1e-45 to 3e38).  What must hold:
 * the model saves and loads; a prediction either succeeds with finite
 * probabilities in [0, 1] (and finite attention), or fails with
 * SEQCLS_E_NUMERIC naming a layer; the loaded copy behaves the same, bit
 * for bit; evaluation and a short fit never crash and never report
 * success with a non-finite loss.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "seqcls.h"

#define B 3
#define T 4

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
    if (!cond)
        __builtin_trap();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    seqcls_set_num_threads(1);
    return 0;
}

/* One of the menu's models; options from byte o. */
static seqcls_model_t *build(int which, uint8_t o)
{
    static const float rates[4] = {0.0f, 0.5f, 0.999f, 1e-7f};
    static const float eps[4] = {1e-30f, 1e-5f, 1e30f, 3e38f};
    seqcls_model_t *m = NULL;
    int l;
    check(seqcls_model_create(&m, o) == SEQCLS_OK);
    if (which % 2 == 0)
        check(seqcls_add_embedding(m, 7, 3, (o & 1) ? 0 : -1, NULL) == SEQCLS_OK);
    else
        check(seqcls_add_input(m, 3, NULL) == SEQCLS_OK);
    switch (which % 8) {
    case 0:
    case 1:
        check(seqcls_add_lstm(m, 3, SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES, &l) == 0);
        check(seqcls_layer_set_int(m, l, SEQCLS_OPT_RECURRENT_ACTIVATION,
                                   (o & 2) ? SEQCLS_ACT_RELU : SEQCLS_ACT_HARD_SIGMOID) == 0);
        check(seqcls_layer_set_float(m, l, SEQCLS_OPT_INPUT_DROPOUT, rates[o >> 6]) == 0);
        check(seqcls_add_attention(m, SEQCLS_ATTN_BAHDANAU, 2, NULL) == SEQCLS_OK);
        break;
    case 2:
    case 3:
        check(seqcls_add_gru(m, 2, SEQCLS_RETURN_SEQUENCES | ((o & 4) ? SEQCLS_GRU_RESET_BEFORE : 0),
                             NULL) == SEQCLS_OK);
        check(seqcls_add_attention(m, (o & 8) ? SEQCLS_ATTN_GENERAL : SEQCLS_ATTN_DOT, 0, NULL) ==
              SEQCLS_OK);
        break;
    case 6:
    case 7:   /* 1.1 (issue 16): positions, an encoder layer, attention pooling */
        check(seqcls_add_positional_encoding(m, (o & 1) ? SEQCLS_POS_LEARNED : SEQCLS_POS_SINUSOIDAL,
                                             T, &l) == SEQCLS_OK);
        check(seqcls_layer_set_int(m, l, SEQCLS_OPT_SCALE_INPUT, (o >> 1) & 1) == SEQCLS_OK);
        check(seqcls_add_transformer_encoder(m, (o & 4) ? 3 : 1, 4, (o & 8) ? SEQCLS_NORM_FIRST : 0,
                                             &l) == SEQCLS_OK);
        check(seqcls_layer_set_int(m, l, SEQCLS_OPT_ACTIVATION,
                                   (o & 16) ? SEQCLS_ACT_GELU : SEQCLS_ACT_RELU) == SEQCLS_OK);
        check(seqcls_layer_set_float(m, l, SEQCLS_OPT_LN_EPSILON, eps[(o >> 5) & 3]) == SEQCLS_OK);
        check(seqcls_layer_set_float(m, l, SEQCLS_OPT_DROPOUT, rates[o >> 6]) == SEQCLS_OK);
        check(seqcls_add_attention(m, SEQCLS_ATTN_LEARNED_QUERY, 2, NULL) == SEQCLS_OK);
        break;
    default:
        check(seqcls_add_dense(m, 4, (o >> 4) % 5, NULL) == SEQCLS_OK);
        check(seqcls_add_attention(m, (o & 8) ? SEQCLS_ATTN_FEATURE_TIME
                                              : SEQCLS_ATTN_LEARNED_QUERY, (o & 8) ? T : 2, NULL) ==
              SEQCLS_OK);
        if (o & 8)
            check(seqcls_add_pooling(m, 1 + (o >> 6) % 3, NULL) == SEQCLS_OK);
        break;
    }
    check(seqcls_add_dropout(m, rates[(o >> 4) & 3], NULL) == SEQCLS_OK);
    check(seqcls_add_batchnorm(m, &l) == SEQCLS_OK);
    check(seqcls_layer_set_float(m, l, SEQCLS_OPT_BN_MOMENTUM, (o & 16) ? 1.0f : 0.0f) == 0);
    check(seqcls_layer_set_float(m, l, SEQCLS_OPT_BN_EPSILON, eps[(o >> 2) & 3]) == 0);
    check(seqcls_add_output(m, 1 + which % 3, NULL) == SEQCLS_OK);
    return m;
}

/* Every weight from the input: 3 bytes a value, any finite float with
 * the exponent and sign from the bytes; batch-norm variances kept >= 0. */
static void set_weights(seqcls_model_t *m, const uint8_t *d, size_t n)
{
    size_t at = 0;
    int i;
    for (i = 0; i < seqcls_param_count(m); i++) {
        seqcls_tensor_t *v = NULL;
        int64_t k;
        const int var = strstr(seqcls_param_name(m, i), "running_var") != NULL;
        check(seqcls_param(m, i, &v, NULL) == SEQCLS_OK);
        for (k = 0; k < seqcls_tensor_numel(v) && at + 3 <= n; k++, at += 3) {
            uint32_t bits = (uint32_t)d[at] << 24 | (uint32_t)d[at + 1] << 16 | d[at + 2];
            float f;
            if ((bits >> 23 & 0xff) == 0xff)
                bits &= ~(1u << 23);   /* an exponent of all ones would be Inf/NaN */
            memcpy(&f, &bits, 4);
            ((float *)seqcls_tensor_data(v))[k] = var ? fabsf(f) : f;
        }
    }
}

/* Predict a fixed batch: the status, and the probabilities into p. */
static int predict(const seqcls_model_t *m, const seqcls_tensor_t *x, const int32_t *lens,
                   seqcls_tensor_t *p, seqcls_tensor_t *att)
{
    int rc = seqcls_predict(m, x, lens, p, att);
    int64_t k;
    if (rc != SEQCLS_OK) {
        check(rc == SEQCLS_E_NUMERIC && strstr(seqcls_last_error(), "layer") != NULL);
        return rc;
    }
    for (k = 0; k < seqcls_tensor_numel(p); k++) {
        const float q = ((const float *)seqcls_tensor_data(p))[k];
        check(q >= 0 && q <= 1);
    }
    for (k = 0; k < seqcls_tensor_numel(att); k++)
        check(isfinite(((const float *)seqcls_tensor_data(att))[k]));
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    seqcls_model_t *m, *back = NULL;
    seqcls_tensor_t *x = NULL, *y = NULL, *p = NULL, *p2 = NULL, *att = NULL, *att2 = NULL;
    seqcls_optimizer_t *o = NULL;
    seqcls_fit_config_t *c = NULL;
    seqcls_metrics_t *mt = NULL;
    int32_t lens[B] = {T, 2, 0};
    int64_t sx[3] = {B, T, 3}, sy[1] = {B}, sp[2] = {B, 0}, sa[2] = {B, T};
    void *buf = NULL;
    size_t len = 0;
    int which, rc, i;

    if (size < 2)
        return 0;
    which = data[0];
    m = build(which, data[1]);
    set_weights(m, data + 2, size - 2);
    sp[1] = seqcls_model_output_width(m);
    check(seqcls_tensor_create(&x, which % 2 == 0 ? SEQCLS_I32 : SEQCLS_F32, which % 2 == 0 ? 2 : 3,
                               sx) == SEQCLS_OK);
    for (i = 0; i < B * T * (which % 2 == 0 ? 1 : 3); i++) {
        if (which % 2 == 0)
            ((int32_t *)seqcls_tensor_data(x))[i] = i % 7;
        else
            ((float *)seqcls_tensor_data(x))[i] = (float)(i % 5) - 2.0f;
    }
    check(seqcls_tensor_create(&y, SEQCLS_I32, 1, sy) == SEQCLS_OK);
    for (i = 0; i < B; i++)
        ((int32_t *)seqcls_tensor_data(y))[i] = i % 2;
    check(seqcls_tensor_create(&p, SEQCLS_F32, 2, sp) == SEQCLS_OK);
    check(seqcls_tensor_create(&p2, SEQCLS_F32, 2, sp) == SEQCLS_OK);
    check(seqcls_tensor_create(&att, SEQCLS_F32, 2, sa) == SEQCLS_OK);
    check(seqcls_tensor_create(&att2, SEQCLS_F32, 2, sa) == SEQCLS_OK);

    /* finite weights always save and load, and the copy behaves the same */
    check(seqcls_model_save_buffer(m, &buf, &len) == SEQCLS_OK);
    check(seqcls_model_load_buffer(&back, buf, len) == SEQCLS_OK);
    rc = predict(m, x, lens, p, att);
    check(predict(back, x, lens, p2, att2) == rc);
    if (rc == SEQCLS_OK)
        check(memcmp(seqcls_tensor_data(p), seqcls_tensor_data(p2),
                     (size_t)seqcls_tensor_numel(p) * sizeof(float)) == 0);

    /* evaluation and a short fit: any documented status, never a crash */
    rc = seqcls_evaluate(m, x, lens, y, 2, &mt);
    check(rc == SEQCLS_OK || rc == SEQCLS_E_NUMERIC);
    if (rc == SEQCLS_OK)
        check(isfinite(seqcls_metrics_get(mt, SEQCLS_METRIC_LOSS, -1)));
    check(seqcls_optimizer_create(&o, SEQCLS_OPTIM_ADAM, 1e-3f) == SEQCLS_OK);
    check(seqcls_fit_config_create(&c) == SEQCLS_OK);
    check(seqcls_fit_config_set_int(c, SEQCLS_FIT_EPOCHS, 1) == SEQCLS_OK);
    check(seqcls_fit_config_set_int(c, SEQCLS_FIT_BATCH_SIZE, 2) == SEQCLS_OK);
    rc = seqcls_fit(back, o, x, lens, y, NULL, NULL, NULL, c);
    check(rc == SEQCLS_OK || rc == SEQCLS_E_NUMERIC);
    (void)predict(back, x, lens, p2, att2);

    seqcls_metrics_free(mt);
    seqcls_fit_config_free(c);
    seqcls_optimizer_free(o);
    seqcls_free(buf);
    seqcls_tensor_free(x);
    seqcls_tensor_free(y);
    seqcls_tensor_free(p);
    seqcls_tensor_free(p2);
    seqcls_tensor_free(att);
    seqcls_tensor_free(att2);
    seqcls_model_free(back);
    seqcls_model_free(m);
    return 0;
}
