/*
 * dense.c -- y = act(x W^T + b) on vectors, or at every valid step of a
 * sequence (time-distributed).  W is [units, in] as in torch.nn.Linear.
 */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { WS_DZ = WS_PRIVATE, WS_QACT, WS_QSCALE };

/* Zero the rows of padding steps of a [B, T, F] buffer. */
static void zero_padding(const value_t *v, real *x, int F)
{
    int b;
    if (v->kind != VAL_SEQ)
        return;
    for (b = 0; b < v->B; b++)
        if (v->len[b] < v->T)
            memset(x + ((size_t)b * v->T + v->len[b]) * F, 0,
                   (size_t)(v->T - v->len[b]) * F * sizeof(real));
}

int dense_forward(const layer_t *L, workspace_t *ws, const value_t *in, value_t *out,
                  const run_ctx_t *ctx)
{
    const int rows = in->B * in->T, U = L->units, F = in->F;
    real *y = ws_get(ws, WS_OUT, seqcls__mul((size_t)rows, (size_t)U * sizeof(real)));
    int r;
    (void)ctx;
    if (!y)
        return SEQCLS_E_NOMEM;
    if (L->q) {
        /* quantised (seqcls_model_quantize): int8 or bfloat16 products */
        const qmat_t *w = quant_piece(L, 0, 0);
        unsigned char *act = ws_get(ws, WS_QACT, seqcls__mul((size_t)rows, qmat_act_bytes(w)));
        float *sa = ws_get(ws, WS_QSCALE, seqcls__mul((size_t)rows, sizeof(float)));
        if (!act || !sa)
            return SEQCLS_E_NOMEM;
        quant_matmul(w, rows, in->x, F, L->w[1], y, U, act, sa);
    } else {
        for (r = 0; r < rows; r++)
            memcpy(y + (size_t)r * U, L->w[1], (size_t)U * sizeof(real));
        blas_gemm(0, 1, rows, U, F, 1, in->x, F, L->w[0], F, 1, y, U);
    }
    act_forward(L->activation, y, (size_t)rows * U);
    zero_padding(in, y, U);
    *out = *in;
    out->F = U;
    out->x = y;
    return SEQCLS_OK;
}

int dense_backward(layer_t *L, workspace_t *ws, const value_t *in, const value_t *out,
                   const value_t *dout, value_t *din, const run_ctx_t *ctx)
{
    const int rows = in->B * in->T, U = L->units, F = in->F;
    const size_t n = (size_t)rows * U;
    real *dz = ws_get(ws, WS_DZ, n * sizeof(real));
    real *dx = ws_get(ws, WS_DIN, (size_t)rows * F * sizeof(real));
    int r, u;
    (void)ctx;
    if (!dz || !dx)
        return SEQCLS_E_NOMEM;
    memcpy(dz, dout->x, n * sizeof(real));
    act_backward(L->activation, out->x, dz, n);
    zero_padding(in, dz, U);
    /* dW += dz^T x, db += sum over rows of dz, dx = dz W */
    blas_gemm(1, 0, U, F, rows, 1, dz, U, in->x, F, 1, L->g[0], F);
    for (r = 0; r < rows; r++)
        for (u = 0; u < U; u++)
            L->g[1][u] += dz[(size_t)r * U + u];
    blas_gemm(0, 0, rows, F, U, 1, dz, U, L->w[0], F, 0, dx, F);
    *din = *dout;
    din->F = F;
    din->x = dx;
    return SEQCLS_OK;
}

void dense_init(rng_t *rng, layer_t *L, int fan_in)
{
    /* kaiming_uniform_(a = sqrt(5)) and the bias rule of nn.Linear both
     * reduce to U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
    double bound = 1.0 / sqrt((double)fan_in);
    rng_fill_uniform(rng, L->w[0], L->wn[0], -bound, bound);
    rng_fill_uniform(rng, L->w[1], L->wn[1], -bound, bound);
}

static void dense_describe(const layer_t *L, char *buf, size_t cap)
{
    snprintf(buf, cap, "units=%d, %s", L->units, act_name(L->activation));
}

static int dense_rebuild(seqcls_model_t *m, const layer_t *c)
{
    return seqcls_add_dense(m, c->units, c->activation, NULL);
}

static const layer_option_t dense_options[] = {
    {SEQCLS_OPT_UNITS, FIELD_UNITS, 0},
    {SEQCLS_OPT_ACTIVATION, FIELD_ACTIVATION, 0},
    {0, 0, 0},
};

const layer_ops_t seqcls__dense_ops = {
    .kind = SEQCLS_LAYER_DENSE,
    .name = "dense",
    .takes = (1u << VAL_SEQ) | (1u << VAL_VEC),
    .options = dense_options,
    .forward = dense_forward,
    .backward = dense_backward,
    .describe = dense_describe,
    .rebuild = dense_rebuild,
    .stream_step = layer_stream_forward,   /* no state: every step on its own */
    .quant = 1u,                           /* the weight */
};

/* Shared by the dense and output constructors. */
int dense_add(seqcls_model_t *m, const char *func, const layer_ops_t *ops, int units,
              int activation, int *layer)
{
    layer_t *L;
    int64_t shape[2];
    int rc;
    if (m && (units < 1 || units > (1 << 24)))
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: units (%d) must be in [1, 2^24]", func,
                            units);
    if (activation < SEQCLS_ACT_NONE || activation > SEQCLS_ACT_HARD_SIGMOID)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: unknown activation %d", func, activation);
    rc = model_begin_layer(m, func, ops, &L);
    if (rc)
        return rc;
    L->units = units;
    L->activation = activation;
    L->out_kind = L->in_kind;
    L->out_F = units;
    shape[0] = units;
    shape[1] = L->in_F;
    rc = model_add_param(m, L, "weight", 2, shape, 1);
    if (rc == SEQCLS_OK)
        rc = model_add_param(m, L, "bias", 1, shape, 1);
    if (rc == SEQCLS_OK)
        dense_init(&m->rng, L, L->in_F);
    return model_commit_layer(m, L, rc, layer);
}

int seqcls_add_dense(seqcls_model_t *m, int units, int activation, int *layer)
{
    return dense_add(m, "seqcls_add_dense", &seqcls__dense_ops, units, activation, layer);
}
