/*
 * flatten.c -- a sequence of a fixed number of steps [B, T, F] to a
 * vector [B, T*F] (Keras' Flatten), step after step.  T is the number of
 * steps an earlier layer fixes (the feature-time attention, built for T
 * steps, as in Keras' attention-after-LSTM example), less what valid
 * convolutions in between remove; every row must have all T steps.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

static int flatten_forward(const layer_t *L, workspace_t *ws, const value_t *in, value_t *out,
                           const run_ctx_t *ctx)
{
    const size_t n = (size_t)in->B * in->T * in->F;
    real *y;
    int b;
    for (b = 0; b < in->B; b++)
        if (in->len[b] != L->units)
            return seqcls__fail(SEQCLS_E_RANGE,
                                "%s: layer %d (flatten) needs all %d steps of every row, but row "
                                "%d has %d (flatten refuses ragged input: pass full lengths, or "
                                "pool instead)",
                                ctx->func, L->index, L->units, b, (int)in->len[b]);
    if (in->T != L->units)   /* model_check_input has checked the input's T */
        return seqcls__fail(SEQCLS_E_SHAPE, "%s: layer %d (flatten) is built for %d steps, not %d",
                            ctx->func, L->index, L->units, in->T);
    if (!(y = ws_get(ws, WS_OUT, n * sizeof(real))))
        return SEQCLS_E_NOMEM;
    memcpy(y, in->x, n * sizeof(real));
    memset(out, 0, sizeof *out);
    out->kind = VAL_VEC;
    out->B = in->B;
    out->T = 1;
    out->F = in->T * in->F;
    out->x = y;
    out->len = in->len;
    return SEQCLS_OK;
}

static int flatten_backward(layer_t *L, workspace_t *ws, const value_t *in, const value_t *out,
                            const value_t *dout, value_t *din, const run_ctx_t *ctx)
{
    const size_t n = (size_t)in->B * in->T * in->F;
    real *dx = ws_get(ws, WS_DIN, n * sizeof(real));
    (void)L;
    (void)out;
    (void)ctx;
    if (!dx)
        return SEQCLS_E_NOMEM;
    memcpy(dx, dout->x, n * sizeof(real));
    *din = *in;
    din->x = dx;
    din->fin = NULL;
    return SEQCLS_OK;
}

static int flatten_fixed_steps(const layer_t *L) { return L->units; }

static void flatten_describe(const layer_t *L, char *buf, size_t cap)
{
    snprintf(buf, cap, "steps=%d", L->units);
}

static int flatten_rebuild(seqcls_model_t *m, const layer_t *c)
{
    (void)c;   /* its steps come from the layers before it; the loader compares them */
    return seqcls_add_flatten(m, NULL);
}

static const layer_option_t flatten_options[] = {
    {SEQCLS_OPT_UNITS, FIELD_UNITS, 0},
    {0, 0, 0},
};

const layer_ops_t seqcls__flatten_ops = {
    .kind = SEQCLS_LAYER_FLATTEN,
    .name = "flatten",
    .takes = 1u << VAL_SEQ,
    .options = flatten_options,
    .forward = flatten_forward,
    .backward = flatten_backward,
    .fixed_steps = flatten_fixed_steps,
    .describe = flatten_describe,
    .rebuild = flatten_rebuild,
};

int seqcls_add_flatten(seqcls_model_t *m, int *layer)
{
    const char *func = "seqcls_add_flatten";
    int fixed, steps, rc;
    layer_t *L;
    rc = model_begin_layer(m, func, &seqcls__flatten_ops, &L);
    if (rc)
        return rc;
    fixed = model_fixed_steps(m);
    steps = fixed - model_steps_drop(m);
    if (!fixed)
        return model_commit_layer(
            m, L,
            seqcls__fail(SEQCLS_E_STATE,
                         "%s: the number of steps is not fixed: flatten needs an earlier layer "
                         "built for a fixed number of steps (SEQCLS_ATTN_FEATURE_TIME)",
                         func),
            NULL);
    if (steps < 1)
        return model_commit_layer(
            m, L,
            seqcls__fail(SEQCLS_E_STATE,
                         "%s: the valid convolutions before it leave none of the %d steps the "
                         "model takes",
                         func, fixed),
            NULL);
    if ((int64_t)steps * L->in_F > (1 << 24))
        return model_commit_layer(
            m, L,
            seqcls__fail(SEQCLS_E_INVALID_ARG,
                         "%s: %d steps of %d features make more than 2^24 outputs", func, steps,
                         L->in_F),
            NULL);
    L->units = steps;
    L->out_kind = VAL_VEC;
    L->out_F = steps * L->in_F;
    return model_commit_layer(m, L, SEQCLS_OK, layer);
}
