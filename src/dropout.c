/*
 * dropout.c -- inverted dropout: in training each element is zeroed with
 * probability `rate` and the rest scaled by 1/(1-rate); at inference the
 * layer passes its input through untouched.
 */
#include "internal.h"

#include <math.h>
#include <stdio.h>

enum { WS_MASK = WS_PRIVATE };

static int dropout_forward(const layer_t *L, workspace_t *ws, const value_t *in, value_t *out,
                           const run_ctx_t *ctx)
{
    size_t n = seqcls__mul((size_t)in->B * in->T, (size_t)in->F), i;
    real *mask, *y;
    *out = *in;   /* passes lengths and final states on */
    if (!ctx->training || L->rate == 0)
        return SEQCLS_OK;
    mask = ws_get(ws, WS_MASK, n * sizeof(real));
    y = ws_get(ws, WS_OUT, n * sizeof(real));
    if (!mask || !y)
        return SEQCLS_E_NOMEM;
    /* row by row: with per-row keys (seqcls_fit), element t * F + f of a
     * row does not depend on the batch's padded length T */
    dropout_mask_rows(ctx, L->index, mask, in->B, n / (size_t)in->B, n / (size_t)in->B, L->rate);
    for (i = 0; i < n; i++)
        y[i] = in->x[i] * mask[i];
    out->x = y;
    return SEQCLS_OK;
}

static int dropout_backward(layer_t *L, workspace_t *ws, const value_t *in, const value_t *out,
                            const value_t *dout, value_t *din, const run_ctx_t *ctx)
{
    size_t n = (size_t)in->B * in->T * in->F, i;
    real *dx;
    (void)out;
    (void)ctx;
    *din = *dout;
    if (L->rate == 0)
        return SEQCLS_OK;
    dx = ws_get(ws, WS_DIN, n * sizeof(real));
    if (!dx)
        return SEQCLS_E_NOMEM;
    for (i = 0; i < n; i++)
        dx[i] = dout->x[i] * ((real *)ws->buf[WS_MASK])[i];
    din->x = dx;
    return SEQCLS_OK;
}

static void dropout_describe(const layer_t *L, char *buf, size_t cap)
{
    snprintf(buf, cap, "rate=%g", (double)L->rate);
}

static int dropout_rebuild(seqcls_model_t *m, const layer_t *c)
{
    return seqcls_add_dropout(m, c->rate, NULL);
}

static const layer_option_t dropout_options[] = {
    {SEQCLS_OPT_DROPOUT, FIELD_RATE, 0},
    {0, 0, 0},
};

const layer_ops_t seqcls__dropout_ops = {
    .kind = SEQCLS_LAYER_DROPOUT,
    .name = "dropout",
    .takes = (1u << VAL_SEQ) | (1u << VAL_VEC),
    .options = dropout_options,
    .forward = dropout_forward,
    .backward = dropout_backward,
    .describe = dropout_describe,
    .rebuild = dropout_rebuild,
    .stream_step = layer_stream_forward,   /* no state: every step on its own */
};

int seqcls_add_dropout(seqcls_model_t *m, float rate, int *layer)
{
    layer_t *L;
    int rc;
    if (m && !(rate >= 0 && rate < 1))
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "seqcls_add_dropout: rate %g is outside [0, 1)",
                            (double)rate);
    rc = model_begin_layer(m, "seqcls_add_dropout", &seqcls__dropout_ops, &L);
    if (rc)
        return rc;
    L->rate = rate;
    L->out_kind = L->in_kind;
    L->out_F = L->in_F;
    L->out_fin_F = m->layers[m->nlayers - 1]->out_fin_F;
    return model_commit_layer(m, L, SEQCLS_OK, layer);
}
