/*
 * layer.c -- the registry of layer kinds, the table of the configuration
 * fields that model files store, and the public calls that read and set
 * a layer's options.
 *
 * Adding a layer kind: its own file with its layer_ops_t (forward,
 * backward, options, describe, rebuild), its SEQCLS_LAYER_* number and
 * constructor in include/seqcls.h, and one line in `registry` below.
 * Nothing else in the library lists kinds.
 */
#include "internal.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

static const layer_ops_t *const registry[LAYER_KIND_COUNT + 1] = {
    [SEQCLS_LAYER_EMBEDDING] = &seqcls__embedding_ops,
    [SEQCLS_LAYER_INPUT] = &seqcls__input_ops,
    [SEQCLS_LAYER_LSTM] = &seqcls__lstm_ops,
    [SEQCLS_LAYER_GRU] = &seqcls__gru_ops,
    [SEQCLS_LAYER_ATTENTION] = &seqcls__attention_ops,
    [SEQCLS_LAYER_POOLING] = &seqcls__pooling_ops,
    [SEQCLS_LAYER_DENSE] = &seqcls__dense_ops,
    [SEQCLS_LAYER_DROPOUT] = &seqcls__dropout_ops,
    [SEQCLS_LAYER_BATCHNORM] = &seqcls__batchnorm_ops,
    [SEQCLS_LAYER_OUTPUT] = &seqcls__output_ops,
    [SEQCLS_LAYER_POSITIONAL_ENCODING] = &seqcls__positional_ops,
    [SEQCLS_LAYER_TRANSFORMER_ENCODER] = &seqcls__transformer_ops,
    [SEQCLS_LAYER_EMBEDDING_BAG] = &seqcls__embedding_bag_ops,
    [SEQCLS_LAYER_CONV1D] = &seqcls__conv1d_ops,
    [SEQCLS_LAYER_FLATTEN] = &seqcls__flatten_ops,
};
/* A new SEQCLS_LAYER_* number must raise LAYER_KIND_COUNT (internal.h),
 * and the test of the registry (tests/test_internal_registry.c) fails on
 * an empty slot or a table whose `kind` is not its slot.  (Kinds 11-13
 * were a reserved gap while the transformer and the embedding bag were on
 * their branches; both are in now.) */
_Static_assert(SEQCLS_LAYER_FLATTEN == LAYER_KIND_COUNT,
               "the last SEQCLS_LAYER_* must be LAYER_KIND_COUNT");
_Static_assert(sizeof registry / sizeof registry[0] == LAYER_KIND_COUNT + 1,
               "one registry slot per layer kind");

const layer_ops_t *layer_kind(uint32_t kind)
{
    return kind >= 1 && kind <= LAYER_KIND_COUNT ? registry[kind] : NULL;
}

int layer_stream_forward(const layer_t *L, workspace_t *ws, const value_t *in, value_t *out,
                         void *state, int64_t steps, const run_ctx_t *ctx)
{
    (void)state;
    (void)steps;
    return L->ops->forward(L, ws, in, out, ctx);
}

/* ---- configuration fields ---- */

/* 1e-5f as its bits (an initialiser must be a constant expression). */
#define F32_1E_5_BITS 0x3727c5acu

/*
 * The one place where defaults live: model_begin_layer starts every layer
 * from them, the writer omits a field added after 1.0 that holds its
 * default, and the reader fills in a missing one with it.  CONF ids are
 * append-only (docs/file-format.md).
 */
const layer_field_t layer_fields[FIELD_COUNT] = {
    [FIELD_UNITS] = {1, FIELD_I32, offsetof(layer_t, units), "units", 0},
    [FIELD_VOCAB] = {2, FIELD_I32, offsetof(layer_t, vocab), "vocab", 0},
    [FIELD_PADDING_IDX] = {3, FIELD_I32, offsetof(layer_t, padding_idx), "padding_idx",
                           (uint32_t)-1},
    [FIELD_ACTIVATION] = {4, FIELD_I32, offsetof(layer_t, activation), "activation",
                          SEQCLS_ACT_NONE},
    [FIELD_KIND_ARG] = {5, FIELD_I32, offsetof(layer_t, kind_arg), "kind_arg", 0},
    [FIELD_FLAGS] = {6, FIELD_U32, offsetof(layer_t, flags), "flags", 0},
    [FIELD_FROZEN] = {7, FIELD_I32, offsetof(layer_t, frozen), "frozen", 0},
    [FIELD_REC_ACTIVATION] = {8, FIELD_I32, offsetof(layer_t, rec_activation),
                              "rec_activation", SEQCLS_ACT_SIGMOID},
    [FIELD_RATE] = {9, FIELD_F32, offsetof(layer_t, rate), "rate", 0},
    [FIELD_BN_MOMENTUM] = {10, FIELD_F32, offsetof(layer_t, bn_momentum), "bn_momentum", 0},
    [FIELD_BN_EPS] = {11, FIELD_F32, offsetof(layer_t, bn_eps), "bn_eps", 0},
    [FIELD_HEADS] = {12, FIELD_I32, offsetof(layer_t, heads), "heads", 0},
    [FIELD_FF_DIM] = {13, FIELD_I32, offsetof(layer_t, ff_dim), "ff_dim", 0},
    [FIELD_LN_EPS] = {14, FIELD_F32, offsetof(layer_t, ln_eps), "ln_eps", F32_1E_5_BITS},
    [FIELD_MAX_LEN] = {15, FIELD_I32, offsetof(layer_t, max_len), "max_len", 0},
    [FIELD_SCALE_INPUT] = {16, FIELD_I32, offsetof(layer_t, scale_input), "scale_input", 0},
    [FIELD_DILATION] = {17, FIELD_I32, offsetof(layer_t, dilation), "dilation", 1},
    [FIELD_REC_DROPOUT] = {18, FIELD_F32, offsetof(layer_t, rec_dropout), "rec_dropout", 0},
    [FIELD_KERNEL_SIZE] = {19, FIELD_I32, offsetof(layer_t, kernel_size), "kernel_size", 0},
};

_Static_assert(sizeof(int) == 4 && sizeof(unsigned) == 4 && sizeof(float) == 4,
               "layer fields are stored as 32-bit values");

uint32_t layer_field_get(const layer_t *L, int field)
{
    uint32_t v;
    memcpy(&v, (const char *)L + layer_fields[field].offset, 4);
    return v;
}

void layer_field_set(layer_t *L, int field, uint32_t bits)
{
    memcpy((char *)L + layer_fields[field].offset, &bits, 4);
}

const layer_option_t *layer_option(const layer_t *L, int option)
{
    const layer_option_t *o;
    for (o = L->ops->options; o && o->option; o++)
        if (o->option == option)
            return o;
    return NULL;
}

/* ---- the public calls ---- */

static int lookup(const seqcls_model_t *m, int layer, const char *func, layer_t **out)
{
    seqcls__clear_error();
    if (!m)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: model is NULL", func);
    if (layer < 0 || layer >= m->nlayers)
        return seqcls__fail(SEQCLS_E_RANGE, "%s: layer %d does not exist (the model has %d)",
                            func, layer, m->nlayers);
    *out = m->layers[layer];
    return SEQCLS_OK;
}

/* The option of L that a get/set call of `type` names, or a failure. */
static int find_option(const layer_t *L, int option, int is_float, const char *func,
                       const layer_option_t **out)
{
    const layer_option_t *o = layer_option(L, option);
    if (!o)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: option %d does not apply to layer %d (%s)",
                            func, option, L->index, L->ops->name);
    if ((layer_fields[o->field].type == FIELD_F32) != is_float)
        return seqcls__fail(SEQCLS_E_INVALID_ARG,
                            "%s: option %d of layer %d (%s) is %s option; use seqcls_layer_%s_%s",
                            func, option, L->index, L->ops->name,
                            is_float ? "an integer" : "a float", strstr(func, "get") ? "get" : "set",
                            is_float ? "int" : "float");
    *out = o;
    return SEQCLS_OK;
}

/* Layer `layer`'s option `option` of the type the call takes, checked
 * for a set call (settable) or a get call (`value` not NULL). */
static int option_of(const seqcls_model_t *m, int layer, int option, int is_float, int set,
                     const void *value, const char *func, layer_t **L, const layer_option_t **o)
{
    int rc = lookup(m, layer, func, L);
    if (rc == SEQCLS_OK && !set && !value)
        rc = seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: value is NULL", func);
    if (rc == SEQCLS_OK)
        rc = find_option(*L, option, is_float, func, o);
    if (rc == SEQCLS_OK && set && !(*o)->settable)
        rc = seqcls__fail(SEQCLS_E_INVALID_ARG,
                          "%s: option %d of layer %d (%s) is fixed by its constructor", func,
                          option, layer, (*L)->ops->name);
    return rc;
}

int seqcls_layer_set_int(seqcls_model_t *m, int layer, int option, int value)
{
    const char *func = "seqcls_layer_set_int";
    const layer_option_t *o = NULL;
    layer_t *L = NULL;
    int rc = option_of(m, layer, option, 0, 1, NULL, func, &L, &o);
    if (rc == SEQCLS_OK)
        rc = L->ops->set_int(m, L, option, value);
    if (rc == SEQCLS_OK)
        m->state = STATE_NONE;   /* the last forward no longer matches the layer */
    return rc;
}

int seqcls_layer_set_float(seqcls_model_t *m, int layer, int option, float value)
{
    const char *func = "seqcls_layer_set_float";
    const layer_option_t *o = NULL;
    layer_t *L = NULL;
    int rc = option_of(m, layer, option, 1, 1, NULL, func, &L, &o);
    if (rc == SEQCLS_OK && !isfinite(value))
        rc = seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: value is not finite", func);
    if (rc == SEQCLS_OK)
        rc = L->ops->set_float(m, L, option, value);
    if (rc == SEQCLS_OK)
        m->state = STATE_NONE;   /* the last forward no longer matches the layer */
    return rc;
}

/* Both getters copy the field's 32 bits: an int or a float as stored. */
static int get_option(const seqcls_model_t *m, int layer, int option, int is_float, void *value,
                      const char *func)
{
    const layer_option_t *o = NULL;
    layer_t *L = NULL;
    int rc = option_of(m, layer, option, is_float, 0, value, func, &L, &o);
    if (rc == SEQCLS_OK) {
        uint32_t bits = layer_field_get(L, o->field);
        memcpy(value, &bits, 4);
    }
    return rc;
}

int seqcls_layer_get_int(const seqcls_model_t *m, int layer, int option, int *value)
{
    return get_option(m, layer, option, 0, value, "seqcls_layer_get_int");
}

int seqcls_layer_get_float(const seqcls_model_t *m, int layer, int option, float *value)
{
    return get_option(m, layer, option, 1, value, "seqcls_layer_get_float");
}

int seqcls_layer_kind(const seqcls_model_t *m, int layer)
{
    layer_t *L = NULL;
    int rc = lookup(m, layer, "seqcls_layer_kind", &L);
    return rc ? rc : L->ops->kind;
}

int seqcls_layer_describe(const seqcls_model_t *m, int layer, char *buf, size_t cap)
{
    const char *func = "seqcls_layer_describe";
    char args[160] = "";
    layer_t *L = NULL;
    int rc = lookup(m, layer, func, &L);
    if (rc)
        return rc;
    if (!buf || cap == 0)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: buf is NULL or cap is 0", func);
    L->ops->describe(L, args, sizeof args);
    snprintf(buf, cap, "%s(%s) -> %s of %d", L->ops->name, args,
             L->out_kind == VAL_SEQ ? "sequence" : "vector", L->out_F);
    return SEQCLS_OK;
}
