/*
 * positional.c -- positions added to a sequence [B, T, d] at every valid
 * step, as a transformer needs them:
 *
 *   SEQCLS_POS_SINUSOIDAL  PE[p, 2i] = sin(p / 10000^(2i/d)),
 *                          PE[p, 2i+1] = cos(p / 10000^(2i/d))
 *                          ("Attention is all you need"; the PyTorch
 *                          tutorial's PositionalEncoding without dropout)
 *   SEQCLS_POS_LEARNED     a trained table "weight" [max_len, d]
 *                          (BERT's position embeddings)
 *
 * y[b, t] = s * x[b, t] + PE[t] for t < len[b], 0 beyond, where s is
 * sqrt(d) with SEQCLS_OPT_SCALE_INPUT and 1 otherwise.  The sinusoidal
 * table is computed when T first grows, for the T steps in use only, the
 * way the PyTorch tutorial's float table is (see sinusoid()).
 */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { WS_TABLE = WS_PRIVATE };   /* sinusoidal: PE [T, d] */

/* Positions beyond this are refused before allocating. */
#define MAX_POSITIONS (1 << 24)

static void sinusoid(real *pe, int T, int d)
{
    /* As the tutorial computes it in float32: div_term = exp(2i * c) with
     * c = -ln(10000) / d, angle = p * div_term, each rounded to `real`;
     * then sin and cos of that angle in double, rounded once.  (In double
     * throughout, the table differs from PyTorch's by up to 1.4e-5 at 256
     * positions; this way by half that, the rest being PyTorch's own
     * rounding of exp, sin and cos.) */
    const real c = (real)(-log(10000.0) / d);
    int p, i;
    for (i = 0; i < d; i += 2) {
        const real div = (real)exp((double)((real)i * c));
        for (p = 0; p < T; p++) {
            const double angle = (double)((real)p * div);
            pe[(size_t)p * d + i] = (real)sin(angle);
            if (i + 1 < d)
                pe[(size_t)p * d + i + 1] = (real)cos(angle);
        }
    }
}

/* The table for T steps: the learned parameter, or the sinusoid kept in
 * the workspace (ws_get keeps a slot's size when it does not grow, so a
 * slot of at least T rows holds T computed rows). */
static const real *table(const layer_t *L, workspace_t *ws, int T)
{
    const int d = L->units;
    const size_t bytes = (size_t)T * d * sizeof(real);
    real *pe;
    if (L->kind_arg == SEQCLS_POS_LEARNED)
        return L->w[0];
    if (ws->buf[WS_TABLE] && ws->cap[WS_TABLE] >= bytes)
        return ws->buf[WS_TABLE];
    pe = ws_get(ws, WS_TABLE, bytes);
    if (pe)
        sinusoid(pe, T, d);
    return pe;
}

static int positional_forward(const layer_t *L, workspace_t *ws, const value_t *in, value_t *out,
                              const run_ctx_t *ctx)
{
    const int B = in->B, T = in->T, d = in->F;
    const real s = L->scale_input ? (real)sqrt((double)d) : 1;
    const real *pe;
    real *y;
    int b;
    size_t k;
    if (T > L->max_len)
        return seqcls__fail(SEQCLS_E_SHAPE,
                            "%s: layer %d (positional encoding) takes at most %d steps, the input "
                            "has T = %d",
                            ctx->func, L->index, L->max_len, T);
    pe = table(L, ws, T);
    y = ws_get(ws, WS_OUT, seqcls__mul((size_t)B * T, (size_t)d * sizeof(real)));
    if (!pe || !y)
        return SEQCLS_E_NOMEM;
    for (b = 0; b < B; b++) {
        const size_t n = (size_t)in->len[b] * d, row = (size_t)b * T * d;
        for (k = 0; k < n; k++)
            y[row + k] = s * in->x[row + k] + pe[k];
        memset(y + row + n, 0, ((size_t)T * d - n) * sizeof(real));
    }
    *out = *in;
    out->x = y;
    return SEQCLS_OK;
}

static int positional_backward(layer_t *L, workspace_t *ws, const value_t *in,
                               const value_t *out, const value_t *dout, value_t *din,
                               const run_ctx_t *ctx)
{
    const int B = in->B, T = in->T, d = in->F;
    const real s = L->scale_input ? (real)sqrt((double)d) : 1;
    real *dx = ws_get(ws, WS_DIN, seqcls__mul((size_t)B * T, (size_t)d * sizeof(real)));
    int b;
    size_t k;
    (void)out;
    (void)ctx;
    if (!dx)
        return SEQCLS_E_NOMEM;
    for (b = 0; b < B; b++) {
        const size_t n = (size_t)in->len[b] * d, row = (size_t)b * T * d;
        for (k = 0; k < n; k++)
            dx[row + k] = s * dout->x[row + k];
        memset(dx + row + n, 0, ((size_t)T * d - n) * sizeof(real));
        /* the table's rows, in row order (the same sums at any thread count) */
        if (L->kind_arg == SEQCLS_POS_LEARNED)
            for (k = 0; k < n; k++)
                L->g[0][k] += dout->x[row + k];
    }
    *din = *dout;
    din->x = dx;
    return SEQCLS_OK;
}

/* Streams: a pushed step's position is the number of steps pushed before
 * it, so the layer keeps no state of its own; the table is made for all
 * max_len positions at once (a stream would otherwise grow it push after
 * push). */
static int positional_stream_step(const layer_t *L, workspace_t *ws, const value_t *in,
                                  value_t *out, void *state, int64_t steps, const run_ctx_t *ctx)
{
    const int n = in->T, d = in->F;
    const real s = L->scale_input ? (real)sqrt((double)d) : 1;
    const real *pe;
    real *y;
    size_t k;
    (void)state;
    if (steps + n > L->max_len)
        return seqcls__fail(SEQCLS_E_SHAPE,
                            "%s: layer %d (positional encoding) takes at most %d steps, the "
                            "stream would reach %lld",
                            ctx->func, L->index, L->max_len, (long long)(steps + n));
    pe = table(L, ws, L->max_len);
    y = ws_get(ws, WS_OUT, seqcls__mul((size_t)n, (size_t)d * sizeof(real)));
    if (!pe || !y)
        return SEQCLS_E_NOMEM;
    pe += (size_t)steps * d;
    for (k = 0; k < (size_t)n * d; k++)
        y[k] = s * in->x[k] + pe[k];
    *out = *in;
    out->x = y;
    return SEQCLS_OK;
}

/* SEQCLS_OPT_SCALE_INPUT, the one settable option. */
static int positional_set_int(seqcls_model_t *m, layer_t *L, int option, int value)
{
    (void)m;
    (void)option;
    if (value != 0 && value != 1)
        return seqcls__fail(SEQCLS_E_INVALID_ARG,
                            "seqcls_layer_set_int: SEQCLS_OPT_SCALE_INPUT takes 0 or 1, not %d",
                            value);
    L->scale_input = value;
    return SEQCLS_OK;
}

static void positional_describe(const layer_t *L, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s, max_len=%d%s",
             L->kind_arg == SEQCLS_POS_LEARNED ? "learned" : "sinusoidal", L->max_len,
             L->scale_input ? ", scale_input" : "");
}

static int positional_rebuild(seqcls_model_t *m, const layer_t *c)
{
    return seqcls_add_positional_encoding(m, c->kind_arg, c->max_len, NULL);
}

static const layer_option_t positional_options[] = {
    {SEQCLS_OPT_SCALE_INPUT, FIELD_SCALE_INPUT, 1},
    {SEQCLS_OPT_KIND, FIELD_KIND_ARG, 0},
    {SEQCLS_OPT_MAX_LEN, FIELD_MAX_LEN, 0},
    {SEQCLS_OPT_UNITS, FIELD_UNITS, 0},
    {0, 0, 0},
};

const layer_ops_t seqcls__positional_ops = {
    .kind = SEQCLS_LAYER_POSITIONAL_ENCODING,
    .name = "positional",
    .takes = 1u << VAL_SEQ,
    .options = positional_options,
    .forward = positional_forward,
    .backward = positional_backward,
    .set_int = positional_set_int,
    .describe = positional_describe,
    .rebuild = positional_rebuild,
    .stream_step = positional_stream_step,
};

int seqcls_add_positional_encoding(seqcls_model_t *m, int kind, int max_len, int *layer)
{
    const char *func = "seqcls_add_positional_encoding";
    layer_t *L;
    int rc = SEQCLS_OK;
    if (m && kind != SEQCLS_POS_SINUSOIDAL && kind != SEQCLS_POS_LEARNED)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: unknown positional encoding kind %d", func,
                            kind);
    if (m && (max_len < 1 || max_len > MAX_POSITIONS))
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: max_len (%d) must be in [1, 2^24]", func,
                            max_len);
    rc = model_begin_layer(m, func, &seqcls__positional_ops, &L);
    if (rc)
        return rc;
    L->kind_arg = kind;
    L->max_len = max_len;
    L->units = L->in_F;
    L->out_kind = VAL_SEQ;
    L->out_F = L->in_F;
    L->out_fin_F = m->layers[m->nlayers - 1]->out_fin_F;
    if ((int64_t)max_len * L->in_F > ((int64_t)1 << 32))
        rc = seqcls__fail(SEQCLS_E_NOMEM, "%s: a %d x %d table is too large", func, max_len,
                          L->in_F);
    else if (kind == SEQCLS_POS_LEARNED) {
        int64_t shape[2] = {max_len, L->in_F};
        rc = model_add_param(m, L, "weight", 2, shape, 1);
        if (rc == SEQCLS_OK)
            rng_fill_normal(&m->rng, L->w[0], L->wn[0]);
    }
    return model_commit_layer(m, L, rc, layer);
}
