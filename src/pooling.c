/*
 * pooling.c -- a sequence [B, T, F] to a vector [B, F] over each row's
 * valid steps: the last one, the first one, their mean, or their
 * maximum.  A row of length 0 gives zeros and passes no gradient.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

enum { WS_ARGMAX = WS_PRIVATE };

static int pooling_forward(const layer_t *L, workspace_t *ws, const value_t *in, value_t *out,
                           const run_ctx_t *ctx)
{
    const int B = in->B, T = in->T, F = in->F;
    real *y = ws_zero(ws, WS_OUT, (size_t)B * F * sizeof(real));
    int32_t *arg = NULL;
    int b, t, f;
    (void)ctx;
    if (!y)
        return SEQCLS_E_NOMEM;
    if (L->kind_arg == SEQCLS_POOL_MAX && !(arg = ws_get(ws, WS_ARGMAX, (size_t)B * F * sizeof *arg)))
        return SEQCLS_E_NOMEM;
    for (b = 0; b < B; b++) {
        const int n = in->len[b];
        const real *x = in->x + (size_t)b * T * F;
        real *yb = y + (size_t)b * F;
        if (n == 0) {
            if (arg)
                memset(arg + (size_t)b * F, 0xff, (size_t)F * sizeof *arg);   /* -1: none */
            continue;
        }
        switch (L->kind_arg) {
        case SEQCLS_POOL_LAST:
            memcpy(yb, x + (size_t)(n - 1) * F, (size_t)F * sizeof(real));
            break;
        case SEQCLS_POOL_FIRST:
            memcpy(yb, x, (size_t)F * sizeof(real));
            break;
        case SEQCLS_POOL_MEAN:
            for (t = 0; t < n; t++)
                for (f = 0; f < F; f++)
                    yb[f] += x[(size_t)t * F + f];
            for (f = 0; f < F; f++)
                yb[f] /= (real)n;
            break;
        default: /* SEQCLS_POOL_MAX */
            for (f = 0; f < F; f++) {
                int best = 0;
                for (t = 1; t < n; t++)
                    if (x[(size_t)t * F + f] > x[(size_t)best * F + f])
                        best = t;
                yb[f] = x[(size_t)best * F + f];
                arg[(size_t)b * F + f] = best;
            }
            break;
        }
    }
    memset(out, 0, sizeof *out);
    out->kind = VAL_VEC;
    out->B = B;
    out->T = 1;
    out->F = F;
    out->x = y;
    out->len = in->len;
    return SEQCLS_OK;
}

static int pooling_backward(layer_t *L, workspace_t *ws, const value_t *in, const value_t *out,
                            const value_t *dout, value_t *din, const run_ctx_t *ctx)
{
    const int B = in->B, T = in->T, F = in->F;
    real *dx = ws_zero(ws, WS_DIN, (size_t)B * T * F * sizeof(real));
    const int32_t *arg = ws->buf[WS_ARGMAX];
    int b, t, f;
    (void)out;
    (void)ctx;
    if (!dx)
        return SEQCLS_E_NOMEM;
    for (b = 0; b < B; b++) {
        const int n = in->len[b];
        const real *d = dout->x + (size_t)b * F;
        real *g = dx + (size_t)b * T * F;
        if (n == 0)
            continue;
        switch (L->kind_arg) {
        case SEQCLS_POOL_LAST:
            memcpy(g + (size_t)(n - 1) * F, d, (size_t)F * sizeof(real));
            break;
        case SEQCLS_POOL_FIRST:
            memcpy(g, d, (size_t)F * sizeof(real));
            break;
        case SEQCLS_POOL_MEAN:
            for (t = 0; t < n; t++)
                for (f = 0; f < F; f++)
                    g[(size_t)t * F + f] = d[f] / (real)n;
            break;
        default:
            for (f = 0; f < F; f++)
                g[(size_t)arg[(size_t)b * F + f] * F + f] = d[f];
            break;
        }
    }
    *din = *in;
    din->x = dx;
    din->fin = NULL;
    return SEQCLS_OK;
}

/*
 * Streams: the pooled value kept as it runs, state [F] reals: the last
 * step, the first step, the sum of the steps (divided by their count on
 * output, as the forward does), or the maximum (the first of equal
 * values, as the forward's strict comparison keeps).  The arithmetic is the forward's,
 * in the same order, so any chunking gives its result exactly.
 */
static size_t pooling_stream_state(const layer_t *L, const char **why)
{
    (void)why;
    return (size_t)L->in_F * sizeof(real);
}

static int pooling_stream_step(const layer_t *L, workspace_t *ws, const value_t *in,
                               value_t *out, void *state, int64_t steps, const run_ctx_t *ctx)
{
    const int F = in->F, n = in->T;
    real *v = state, *y = ws_get(ws, WS_OUT, (size_t)F * sizeof(real));
    int t = 0, f;
    (void)ctx;
    if (!y)
        return SEQCLS_E_NOMEM;
    switch (L->kind_arg) {
    case SEQCLS_POOL_LAST:
        if (n > 0)
            memcpy(v, in->x + (size_t)(n - 1) * F, (size_t)F * sizeof(real));
        memcpy(y, v, (size_t)F * sizeof(real));
        break;
    case SEQCLS_POOL_FIRST:
        if (steps == 0 && n > 0)
            memcpy(v, in->x, (size_t)F * sizeof(real));
        memcpy(y, v, (size_t)F * sizeof(real));
        break;
    case SEQCLS_POOL_MEAN:
        for (t = 0; t < n; t++)
            for (f = 0; f < F; f++)
                v[f] += in->x[(size_t)t * F + f];
        for (f = 0; f < F; f++)
            y[f] = steps + n > 0 ? v[f] / (real)(steps + n) : 0;
        break;
    default: /* SEQCLS_POOL_MAX */
        if (steps == 0 && n > 0) {
            memcpy(v, in->x, (size_t)F * sizeof(real));
            t = 1;
        }
        for (; t < n; t++)
            for (f = 0; f < F; f++)
                if (in->x[(size_t)t * F + f] > v[f])
                    v[f] = in->x[(size_t)t * F + f];
        memcpy(y, v, (size_t)F * sizeof(real));
        break;
    }
    memset(out, 0, sizeof *out);
    out->kind = VAL_VEC;
    out->B = 1;
    out->T = 1;
    out->F = F;
    out->x = y;
    out->len = in->len;
    return SEQCLS_OK;
}

static const char *const pool_names[] = {
    [SEQCLS_POOL_LAST] = "last", [SEQCLS_POOL_MEAN] = "mean", [SEQCLS_POOL_MAX] = "max",
    [SEQCLS_POOL_FIRST] = "first",
};
#define POOL_KINDS ((int)(sizeof pool_names / sizeof pool_names[0]) - 1)

static void pooling_describe(const layer_t *L, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s", pool_names[L->kind_arg]);
}

static int pooling_rebuild(seqcls_model_t *m, const layer_t *c)
{
    return seqcls_add_pooling(m, c->kind_arg, NULL);
}

static const layer_option_t pooling_options[] = {
    {SEQCLS_OPT_KIND, FIELD_KIND_ARG, 0},
    {0, 0, 0},
};

const layer_ops_t seqcls__pooling_ops = {
    .kind = SEQCLS_LAYER_POOLING,
    .name = "pooling",
    .takes = 1u << VAL_SEQ,
    .options = pooling_options,
    .forward = pooling_forward,
    .backward = pooling_backward,
    .describe = pooling_describe,
    .rebuild = pooling_rebuild,
    .stream_step = pooling_stream_step,
    .stream_state = pooling_stream_state,
};

int seqcls_add_pooling(seqcls_model_t *m, int kind, int *layer)
{
    layer_t *L;
    int rc;
    if (m && (kind < 1 || kind > POOL_KINDS || !pool_names[kind]))
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "seqcls_add_pooling: unknown pooling kind %d",
                            kind);
    rc = model_begin_layer(m, "seqcls_add_pooling", &seqcls__pooling_ops, &L);
    if (rc)
        return rc;
    L->kind_arg = kind;
    L->out_kind = VAL_VEC;
    L->out_F = L->in_F;
    return model_commit_layer(m, L, SEQCLS_OK, layer);
}
