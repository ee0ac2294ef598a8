/*
 * batchnorm.c -- batch normalisation of vectors [B, F], as
 * torch.nn.BatchNorm1d: in training, normalise with the batch mean and
 * biased variance and move the running statistics towards the batch's
 * (the variance unbiased); at inference, normalise with the running ones.
 */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { P_GAMMA = 0, P_BETA, P_MEAN, P_VAR };
enum { WS_XHAT = WS_PRIVATE, WS_INVSTD };

static int batchnorm_forward(const layer_t *L, workspace_t *ws, const value_t *in, value_t *out,
                             const run_ctx_t *ctx)
{
    const int B = in->B, F = in->F;
    real *y = ws_get(ws, WS_OUT, (size_t)B * F * sizeof(real));
    real *xhat = ws_get(ws, WS_XHAT, (size_t)B * F * sizeof(real));
    real *invstd = ws_get(ws, WS_INVSTD, (size_t)F * sizeof(real));
    const real eps = (real)L->bn_eps, mom = (real)L->bn_momentum;
    int b, f;

    if (!y || !xhat || !invstd)
        return SEQCLS_E_NOMEM;
    for (f = 0; f < F; f++) {
        real mean, var;
        if (ctx->training) {
            double s = 0, ss = 0;
            for (b = 0; b < B; b++)
                s += in->x[(size_t)b * F + f];
            mean = (real)(s / B);
            for (b = 0; b < B; b++) {
                double d = in->x[(size_t)b * F + f] - mean;
                ss += d * d;
            }
            var = (real)(ss / B);
            /* Training updates the model's running statistics; predict
             * never trains, so concurrent predicts only read them. */
            L->w[P_MEAN][f] = (1 - mom) * L->w[P_MEAN][f] + mom * mean;
            if (B > 1)
                L->w[P_VAR][f] = (1 - mom) * L->w[P_VAR][f] + mom * (real)(ss / (B - 1));
        } else {
            mean = L->w[P_MEAN][f];
            var = L->w[P_VAR][f];
        }
        invstd[f] = (real)(1.0 / sqrt((double)var + eps));
        for (b = 0; b < B; b++) {
            const size_t i = (size_t)b * F + f;
            xhat[i] = (in->x[i] - mean) * invstd[f];
            y[i] = L->w[P_GAMMA][f] * xhat[i] + L->w[P_BETA][f];
        }
    }
    *out = *in;
    out->x = y;
    return SEQCLS_OK;
}

static int batchnorm_backward(layer_t *L, workspace_t *ws, const value_t *in, const value_t *out,
                              const value_t *dout, value_t *din, const run_ctx_t *ctx)
{
    const int B = in->B, F = in->F;
    const real *xhat = ws->buf[WS_XHAT], *invstd = ws->buf[WS_INVSTD];
    real *dx = ws_get(ws, WS_DIN, (size_t)B * F * sizeof(real));
    int b, f;
    (void)out;
    (void)ctx;
    if (!dx)
        return SEQCLS_E_NOMEM;
    for (f = 0; f < F; f++) {
        real sum_dy = 0, sum_dy_xhat = 0;
        for (b = 0; b < B; b++) {
            const size_t i = (size_t)b * F + f;
            sum_dy += dout->x[i];
            sum_dy_xhat += dout->x[i] * xhat[i];
        }
        L->g[P_GAMMA][f] += sum_dy_xhat;
        L->g[P_BETA][f] += sum_dy;
        /* dx = gamma invstd / B (B dy - sum dy - xhat sum dy xhat) */
        for (b = 0; b < B; b++) {
            const size_t i = (size_t)b * F + f;
            dx[i] = L->w[P_GAMMA][f] * invstd[f] / (real)B *
                    ((real)B * dout->x[i] - sum_dy - xhat[i] * sum_dy_xhat);
        }
    }
    *din = *dout;
    din->x = dx;
    return SEQCLS_OK;
}

/* The two settable options (layer.c has checked the option is one of them). */
static int batchnorm_set_float(seqcls_model_t *m, layer_t *L, int option, float value)
{
    (void)m;
    if (option == SEQCLS_OPT_BN_MOMENTUM) {
        if (!(value >= 0 && value <= 1))
            return seqcls__fail(SEQCLS_E_INVALID_ARG,
                                "seqcls_layer_set_float: SEQCLS_OPT_BN_MOMENTUM %g is outside [0, 1]",
                                (double)value);
        L->bn_momentum = value;
        return SEQCLS_OK;
    }
    if (!(value > 0))
        return seqcls__fail(SEQCLS_E_INVALID_ARG,
                            "seqcls_layer_set_float: SEQCLS_OPT_BN_EPSILON %g must be positive",
                            (double)value);
    L->bn_eps = value;
    return SEQCLS_OK;
}

/* A running variance below zero makes every inference NaN. */
static int batchnorm_check_params(const layer_t *L, const char *func)
{
    size_t f;
    for (f = 0; f < L->wn[P_VAR]; f++)
        if (L->w[P_VAR][f] < 0)
            return seqcls__fail(SEQCLS_E_FORMAT,
                                "%s: PARM: layer %d (batchnorm) running_var[%zu] = %g is negative",
                                func, L->index, f, (double)L->w[P_VAR][f]);
    return SEQCLS_OK;
}

static void batchnorm_describe(const layer_t *L, char *buf, size_t cap)
{
    snprintf(buf, cap, "momentum=%g, eps=%g", (double)L->bn_momentum, (double)L->bn_eps);
}

static int batchnorm_rebuild(seqcls_model_t *m, const layer_t *c)
{
    (void)c;   /* momentum and epsilon are settable options */
    return seqcls_add_batchnorm(m, NULL);
}

static const layer_option_t batchnorm_options[] = {
    {SEQCLS_OPT_BN_MOMENTUM, FIELD_BN_MOMENTUM, 1},
    {SEQCLS_OPT_BN_EPSILON, FIELD_BN_EPS, 1},
    {0, 0, 0},
};

const layer_ops_t seqcls__batchnorm_ops = {
    .kind = SEQCLS_LAYER_BATCHNORM,
    .name = "batchnorm",
    .takes = 1u << VAL_VEC,
    .options = batchnorm_options,
    .forward = batchnorm_forward,
    .backward = batchnorm_backward,
    .set_float = batchnorm_set_float,
    .check_params = batchnorm_check_params,
    .describe = batchnorm_describe,
    .rebuild = batchnorm_rebuild,
};

int seqcls_add_batchnorm(seqcls_model_t *m, int *layer)
{
    static const char *const names[4] = {"weight", "bias", "running_mean", "running_var"};
    layer_t *L;
    int64_t shape[1];
    int rc, i;
    size_t k;
    rc = model_begin_layer(m, "seqcls_add_batchnorm", &seqcls__batchnorm_ops, &L);
    if (rc)
        return rc;
    L->out_kind = VAL_VEC;
    L->out_F = L->in_F;
    L->bn_momentum = 0.1f;
    L->bn_eps = 1e-5f;
    shape[0] = L->in_F;
    for (i = 0; i < 4 && rc == SEQCLS_OK; i++)
        rc = model_add_param(m, L, names[i], 1, shape, i < 2);
    if (rc == SEQCLS_OK)
        for (k = 0; k < L->wn[0]; k++) {
            L->w[P_GAMMA][k] = 1;
            L->w[P_VAR][k] = 1;
        }
    return model_commit_layer(m, L, rc, layer);
}
