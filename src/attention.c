/*
 * attention.c -- attention over the valid steps of a sequence.
 *
 * Four kinds score each step and pool the sequence into a context vector
 * c_b = sum_t w_bt h_bt with w = softmax of the scores over valid steps:
 *   BAHDANAU       score = v . tanh(W1 h_t + b1 + W2 q + b2) + v_b
 *   DOT            score = q . h_t
 *   GENERAL        score = q . (W h_t)
 *   LEARNED_QUERY  score = u . tanh(W h_t + b)          (u is trained)
 * where q is the final state of the recurrent layer before (value_t.fin).
 * v_b, kept so that Keras' Dense(1) weights import as they are, shifts
 * every score of a row equally and so never changes the weights.
 *
 * FEATURE_TIME is Keras' attention_3d_block: for every feature, a dense
 * layer across the T time steps (W [T, T], b [T]) and a softmax over
 * time; the output is the sequence multiplied by those weights.
 */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#ifdef SEQCLS_REAL_DOUBLE
#define r_exp exp
#else
#define r_exp expf
#endif

enum {
    WS_W = WS_PRIVATE,   /* weights [B, T] (FEATURE_TIME: [B, T, F]) */
    WS_A,                /* tanh activations [B*T, U] (BAHDANAU, LEARNED_QUERY) */
    WS_Q,                /* W2 q + b2 [B, U] (BAHDANAU), W^T q [B, F] (GENERAL) */
    WS_MEANW,            /* FEATURE_TIME: weights averaged over features [B, T] */
    WS_DS,               /* d(score) */
    WS_DZ,               /* d(pre-activation) */
    WS_DQ                /* d(projected query) */
};

/* parameter slots */
enum { P_W1 = 0, P_B1, P_W2, P_B2, P_V, P_VB };       /* BAHDANAU */
enum { P_GEN_W = 0 };                                   /* GENERAL */
enum { P_LQ_W = 0, P_LQ_B, P_LQ_U };                    /* LEARNED_QUERY */
enum { P_FT_W = 0, P_FT_B };                            /* FEATURE_TIME */

/* Softmax of s[0..n) in place over the first `valid` entries; the rest
 * become 0.  A row with no valid entry is all zeros, never NaN. */
static void masked_softmax(real *s, int n, int valid, int stride)
{
    real mx, sum = 0;
    int t;
    if (valid > 0) {
        mx = s[0];
        for (t = 1; t < valid; t++)
            if (s[(size_t)t * stride] > mx)
                mx = s[(size_t)t * stride];
        for (t = 0; t < valid; t++)
            sum += (s[(size_t)t * stride] = r_exp(s[(size_t)t * stride] - mx));
        for (t = 0; t < valid; t++)
            s[(size_t)t * stride] /= sum;
    }
    for (t = valid; t < n; t++)
        s[(size_t)t * stride] = 0;
}

/* d(score) from d(weights) through the softmax: ds = w (dw - sum w dw). */
static void softmax_backward(const real *w, const real *dw, real *ds, int n, int valid, int stride)
{
    real dot = 0;
    int t;
    for (t = 0; t < valid; t++)
        dot += w[(size_t)t * stride] * dw[(size_t)t * stride];
    for (t = 0; t < n; t++)
        ds[(size_t)t * stride] =
            t < valid ? w[(size_t)t * stride] * (dw[(size_t)t * stride] - dot) : 0;
}

/* A = tanh(X W^T + b (+ per-row offset)) for all B*T rows; padding rows 0. */
static void additive_activations(const value_t *in, const real *W, const real *bias,
                                 const real *row_offset, int U, real *A)
{
    const int B = in->B, T = in->T, F = in->F;
    int b, t, u;
    blas_gemm(0, 1, B * T, U, F, 1, in->x, F, W, F, 0, A, U);
    for (b = 0; b < B; b++)
        for (t = 0; t < T; t++) {
            real *a = A + ((size_t)b * T + t) * U;
            if (t >= in->len[b]) {
                memset(a, 0, (size_t)U * sizeof(real));
                continue;
            }
            for (u = 0; u < U; u++)
                a[u] += bias[u] + (row_offset ? row_offset[(size_t)b * U + u] : 0);
            act_forward(SEQCLS_ACT_TANH, a, (size_t)U);
        }
}

/* ---- pooling kinds: scores, softmax, context ---- */

static int pool_forward(const layer_t *L, workspace_t *ws, const value_t *in, value_t *out,
                        const run_ctx_t *ctx)
{
    const int B = in->B, T = in->T, F = in->F, U = L->units;
    const int kind = L->kind_arg;
    real *w = ws_get(ws, WS_W, (size_t)B * T * sizeof(real));
    real *ctxv = ws_zero(ws, WS_OUT, (size_t)B * F * sizeof(real));
    real *A = NULL, *Q = NULL;
    int b, t, f;

    if (!w || !ctxv)
        return SEQCLS_E_NOMEM;
    if (kind != SEQCLS_ATTN_LEARNED_QUERY && !in->fin)
        return seqcls__fail(SEQCLS_E_STATE, "%s: attention layer %d has no query (final states)",
                            ctx->func, L->index);
    if (kind == SEQCLS_ATTN_BAHDANAU || kind == SEQCLS_ATTN_LEARNED_QUERY) {
        A = ws_get(ws, WS_A, seqcls__mul((size_t)B * T, (size_t)U * sizeof(real)));
        if (!A)
            return SEQCLS_E_NOMEM;
    }
    if (kind == SEQCLS_ATTN_BAHDANAU) {
        /* Q = q W2^T (+ b2, added with b1 below) */
        if (!(Q = ws_get(ws, WS_Q, (size_t)B * U * sizeof(real))))
            return SEQCLS_E_NOMEM;
        blas_gemm(0, 1, B, U, in->fin_F, 1, in->fin, in->fin_F, L->w[P_W2], in->fin_F, 0, Q, U);
        for (b = 0; b < B; b++)
            for (f = 0; f < U; f++)
                Q[(size_t)b * U + f] += L->w[P_B2][f];
        additive_activations(in, L->w[P_W1], L->w[P_B1], Q, U, A);
        blas_gemm(0, 1, B * T, 1, U, 1, A, U, L->w[P_V], U, 0, w, 1);
        for (t = 0; t < B * T; t++)
            w[t] += L->w[P_VB][0];
    } else if (kind == SEQCLS_ATTN_LEARNED_QUERY) {
        additive_activations(in, L->w[P_LQ_W], L->w[P_LQ_B], NULL, U, A);
        blas_gemm(0, 1, B * T, 1, U, 1, A, U, L->w[P_LQ_U], U, 0, w, 1);
    } else {
        /* DOT: r = q; GENERAL: r = W^T q.  Then score_t = h_t . r. */
        const real *r = in->fin;
        if (kind == SEQCLS_ATTN_GENERAL) {
            if (!(Q = ws_get(ws, WS_Q, (size_t)B * F * sizeof(real))))
                return SEQCLS_E_NOMEM;
            blas_gemm(0, 0, B, F, in->fin_F, 1, in->fin, in->fin_F, L->w[P_GEN_W], F, 0, Q, F);
            r = Q;
        }
        for (b = 0; b < B; b++)
            for (t = 0; t < T; t++) {
                const real *h = in->x + ((size_t)b * T + t) * F;
                real s = 0;
                for (f = 0; f < F; f++)
                    s += h[f] * r[(size_t)b * F + f];
                w[(size_t)b * T + t] = s;
            }
    }
    for (b = 0; b < B; b++) {
        masked_softmax(w + (size_t)b * T, T, in->len[b], 1);
        for (t = 0; t < in->len[b]; t++) {
            const real *h = in->x + ((size_t)b * T + t) * F;
            const real wt = w[(size_t)b * T + t];
            for (f = 0; f < F; f++)
                ctxv[(size_t)b * F + f] += wt * h[f];
        }
    }
    memset(out, 0, sizeof *out);
    out->kind = VAL_VEC;
    out->B = B;
    out->T = 1;
    out->F = F;
    out->x = ctxv;
    out->len = in->len;
    return SEQCLS_OK;
}

static int pool_backward(layer_t *L, workspace_t *ws, const value_t *in, const value_t *out,
                         const value_t *dout, value_t *din, const run_ctx_t *ctx)
{
    const int B = in->B, T = in->T, F = in->F, U = L->units, kind = L->kind_arg;
    const int Qf = in->fin_F;
    const real *w = ws->buf[WS_W], *A = ws->buf[WS_A];
    real *dx = ws_zero(ws, WS_DIN, (size_t)B * T * F * sizeof(real));
    real *ds = ws_get(ws, WS_DS, (size_t)B * T * sizeof(real));
    real *dfin = NULL;
    int b, t, f, u;
    (void)out;
    (void)ctx;

    if (!dx || !ds)
        return SEQCLS_E_NOMEM;
    if (kind != SEQCLS_ATTN_LEARNED_QUERY && !(dfin = ws_zero(ws, WS_DFIN, (size_t)B * Qf * sizeof(real))))
        return SEQCLS_E_NOMEM;

    /* Through the weighted sum: dh_t += w_t dc, dw_t = dc . h_t. */
    for (b = 0; b < B; b++) {
        const real *dc = dout->x + (size_t)b * F;
        for (t = 0; t < in->len[b]; t++) {
            const real *h = in->x + ((size_t)b * T + t) * F;
            real *g = dx + ((size_t)b * T + t) * F;
            const real wt = w[(size_t)b * T + t];
            real dw = 0;
            for (f = 0; f < F; f++) {
                g[f] += wt * dc[f];
                dw += dc[f] * h[f];
            }
            ds[(size_t)b * T + t] = dw;
        }
        for (; t < T; t++)
            ds[(size_t)b * T + t] = 0;
        softmax_backward(w + (size_t)b * T, ds + (size_t)b * T, ds + (size_t)b * T, T, in->len[b], 1);
    }

    if (kind == SEQCLS_ATTN_BAHDANAU || kind == SEQCLS_ATTN_LEARNED_QUERY) {
        const int pw = kind == SEQCLS_ATTN_BAHDANAU ? P_W1 : P_LQ_W;
        const int pb = kind == SEQCLS_ATTN_BAHDANAU ? P_B1 : P_LQ_B;
        const int pv = kind == SEQCLS_ATTN_BAHDANAU ? P_V : P_LQ_U;
        real *dz = ws_get(ws, WS_DZ, seqcls__mul((size_t)B * T, (size_t)U * sizeof(real)));
        if (!dz)
            return SEQCLS_E_NOMEM;
        /* score = v . a: dv += sum ds a; da = ds v; dz = da (1 - a^2) */
        blas_gemm(1, 0, 1, U, B * T, 1, ds, 1, A, U, 1, L->g[pv], U);
        for (t = 0; t < B * T; t++) {
            const real *a = A + (size_t)t * U;
            real *d = dz + (size_t)t * U;
            for (u = 0; u < U; u++)
                d[u] = ds[t] * L->w[pv][u] * (1 - a[u] * a[u]);
        }
        if (kind == SEQCLS_ATTN_BAHDANAU)
            for (t = 0; t < B * T; t++)
                L->g[P_VB][0] += ds[t];
        /* z = W h + b (+ Q): dW += dz^T h, db += sum dz, dh += dz W */
        blas_gemm(1, 0, U, F, B * T, 1, dz, U, in->x, F, 1, L->g[pw], F);
        for (t = 0; t < B * T; t++)
            for (u = 0; u < U; u++)
                L->g[pb][u] += dz[(size_t)t * U + u];
        blas_gemm(0, 0, B * T, F, U, 1, dz, U, L->w[pw], F, 1, dx, F);
        if (kind == SEQCLS_ATTN_BAHDANAU) {
            /* Q = q W2^T + b2 feeds every step of its row. */
            real *dQ = ws_zero(ws, WS_DQ, (size_t)B * U * sizeof(real));
            if (!dQ)
                return SEQCLS_E_NOMEM;
            for (b = 0; b < B; b++)
                for (t = 0; t < in->len[b]; t++)
                    for (u = 0; u < U; u++)
                        dQ[(size_t)b * U + u] += dz[((size_t)b * T + t) * U + u];
            for (b = 0; b < B; b++)
                for (u = 0; u < U; u++)
                    L->g[P_B2][u] += dQ[(size_t)b * U + u];
            blas_gemm(1, 0, U, Qf, B, 1, dQ, U, in->fin, Qf, 1, L->g[P_W2], Qf);
            blas_gemm(0, 0, B, Qf, U, 1, dQ, U, L->w[P_W2], Qf, 0, dfin, Qf);
        }
    } else {
        /* score_t = h_t . r: dh_t += ds_t r, dr = sum_t ds_t h_t */
        const real *r = kind == SEQCLS_ATTN_GENERAL ? (const real *)ws->buf[WS_Q] : in->fin;
        real *dr = ws_zero(ws, WS_DQ, (size_t)B * F * sizeof(real));
        if (!dr)
            return SEQCLS_E_NOMEM;
        for (b = 0; b < B; b++)
            for (t = 0; t < in->len[b]; t++) {
                const real d = ds[(size_t)b * T + t];
                const real *h = in->x + ((size_t)b * T + t) * F;
                real *g = dx + ((size_t)b * T + t) * F;
                for (f = 0; f < F; f++) {
                    g[f] += d * r[(size_t)b * F + f];
                    dr[(size_t)b * F + f] += d * h[f];
                }
            }
        if (kind == SEQCLS_ATTN_DOT) {
            memcpy(dfin, dr, (size_t)B * F * sizeof(real));
        } else {
            /* r = q W: dW += q^T dr, dq = dr W^T */
            blas_gemm(1, 0, Qf, F, B, 1, in->fin, Qf, dr, F, 1, L->g[P_GEN_W], F);
            blas_gemm(0, 1, B, Qf, F, 1, dr, F, L->w[P_GEN_W], F, 0, dfin, Qf);
        }
    }
    *din = *in;
    din->x = dx;
    din->fin = dfin;
    return SEQCLS_OK;
}

/* ---- FEATURE_TIME ---- */

static int feature_time_forward(const layer_t *L, workspace_t *ws, const value_t *in,
                                value_t *out, const run_ctx_t *ctx)
{
    const int B = in->B, T = in->T, F = in->F;
    const size_t n = (size_t)B * T * F;
    real *p = ws_get(ws, WS_W, n * sizeof(real));
    real *y = ws_get(ws, WS_OUT, n * sizeof(real));
    real *mw = ws_zero(ws, WS_MEANW, (size_t)B * T * sizeof(real));
    int b, t, f;

    if (T != L->units)
        return seqcls__fail(SEQCLS_E_SHAPE,
                            "%s: the feature-time attention layer %d was built for T = %d steps, "
                            "the input has T = %d",
                            ctx->func, L->index, L->units, T);
    if (!p || !y || !mw)
        return SEQCLS_E_NOMEM;
    for (b = 0; b < B; b++) {
        /* scores [T, F] = W [T, T] x_b [T, F] + bias per time step */
        real *pb = p + (size_t)b * T * F;
        for (t = 0; t < T; t++)
            for (f = 0; f < F; f++)
                pb[(size_t)t * F + f] = L->w[P_FT_B][t];
        /* only the valid steps' columns of W: padding input influences nothing */
        blas_gemm(0, 0, T, F, in->len[b], 1, L->w[P_FT_W], T, in->x + (size_t)b * T * F, F, 1,
                  pb, F);
        for (f = 0; f < F; f++)
            masked_softmax(pb + f, T, in->len[b], F);
        for (t = 0; t < T; t++)
            for (f = 0; f < F; f++) {
                const size_t i = ((size_t)b * T + t) * F + f;
                y[i] = in->x[i] * p[i];
                mw[(size_t)b * T + t] += p[i] / (real)F;
            }
    }
    *out = *in;
    out->x = y;
    return SEQCLS_OK;
}

static int feature_time_backward(layer_t *L, workspace_t *ws, const value_t *in,
                                 const value_t *out, const value_t *dout, value_t *din,
                                 const run_ctx_t *ctx)
{
    const int B = in->B, T = in->T, F = in->F;
    const size_t n = (size_t)B * T * F;
    const real *p = ws->buf[WS_W];
    real *dx = ws_get(ws, WS_DIN, n * sizeof(real));
    real *ds = ws_get(ws, WS_DS, n * sizeof(real));
    size_t i;
    int b, t, f;
    (void)out;
    (void)ctx;
    if (!dx || !ds)
        return SEQCLS_E_NOMEM;
    /* y = x p: dx = dy p (+ through the scores below), dp = dy x */
    for (i = 0; i < n; i++) {
        dx[i] = dout->x[i] * p[i];
        ds[i] = dout->x[i] * in->x[i];
    }
    for (b = 0; b < B; b++) {
        real *dsb = ds + (size_t)b * T * F;
        for (f = 0; f < F; f++)
            softmax_backward(p + (size_t)b * T * F + f, dsb + f, dsb + f, T, in->len[b], F);
        /* scores = W x_b + bias: dW += ds_b x_b^T, dbias += rows of ds_b, dx_b += W^T ds_b */
        blas_gemm(0, 1, T, in->len[b], F, 1, dsb, F, in->x + (size_t)b * T * F, F, 1,
                  L->g[P_FT_W], T);
        for (t = 0; t < T; t++)
            for (f = 0; f < F; f++)
                L->g[P_FT_B][t] += dsb[(size_t)t * F + f];
        blas_gemm(1, 0, in->len[b], F, T, 1, L->w[P_FT_W], T, dsb, F, 1,
                  dx + (size_t)b * T * F, F);
    }
    *din = *dout;
    din->x = dx;
    return SEQCLS_OK;
}

/* ---- dispatch ---- */

static int attention_forward(const layer_t *L, workspace_t *ws, const value_t *in, value_t *out,
                             const run_ctx_t *ctx)
{
    if (L->kind_arg == SEQCLS_ATTN_FEATURE_TIME)
        return feature_time_forward(L, ws, in, out, ctx);
    return pool_forward(L, ws, in, out, ctx);
}

static int attention_backward(layer_t *L, workspace_t *ws, const value_t *in, const value_t *out,
                              const value_t *dout, value_t *din, const run_ctx_t *ctx)
{
    if (L->kind_arg == SEQCLS_ATTN_FEATURE_TIME)
        return feature_time_backward(L, ws, in, out, dout, din, ctx);
    return pool_backward(L, ws, in, out, dout, din, ctx);
}

static const real *attention_weights(const layer_t *L, workspace_t *ws)
{
    return ws->buf[L->kind_arg == SEQCLS_ATTN_FEATURE_TIME ? WS_MEANW : WS_W];
}

const layer_ops_t seqcls__attention_ops = {
    LAYER_ATTENTION, "attention", attention_forward, attention_backward, NULL, NULL,
    attention_weights,
};

/* ---- construction ---- */

static int add_dense_params(seqcls_model_t *m, layer_t *L, const char *prefix, int out, int in,
                            int bias)
{
    char name[48];
    int64_t shape[2] = {out, in};
    double bound = 1.0 / sqrt((double)in);
    int rc;
    snprintf(name, sizeof name, "%s.weight", prefix);
    if ((rc = model_add_param(m, L, name, 2, shape, 1)))
        return rc;
    rng_fill_uniform(&m->rng, L->w[L->np - 1], L->wn[L->np - 1], -bound, bound);
    if (!bias)
        return SEQCLS_OK;
    snprintf(name, sizeof name, "%s.bias", prefix);
    if ((rc = model_add_param(m, L, name, 1, shape, 1)))
        return rc;
    rng_fill_uniform(&m->rng, L->w[L->np - 1], L->wn[L->np - 1], -bound, bound);
    return SEQCLS_OK;
}

int seqcls_add_attention(seqcls_model_t *m, int kind, int units, int *layer)
{
    const char *func = "seqcls_add_attention";
    layer_t *L;
    int rc, F, Q;

    if (m && (kind < SEQCLS_ATTN_BAHDANAU || kind > SEQCLS_ATTN_FEATURE_TIME))
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: unknown attention kind %d", func, kind);
    if (m && (kind == SEQCLS_ATTN_BAHDANAU || kind == SEQCLS_ATTN_LEARNED_QUERY ||
              kind == SEQCLS_ATTN_FEATURE_TIME) && (units < 1 || units > (1 << 20)))
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: units (%d) must be in [1, 2^20]%s", func,
                            units, kind == SEQCLS_ATTN_FEATURE_TIME
                                       ? " (for FEATURE_TIME: the number of time steps T)" : "");
    rc = model_begin_layer(m, func, &seqcls__attention_ops, 1u << VAL_SEQ, &L);
    if (rc)
        return rc;
    F = L->in_F;
    Q = m->layers[m->nlayers - 1]->out_fin_F;
    L->kind_arg = kind;
    L->units = kind == SEQCLS_ATTN_DOT || kind == SEQCLS_ATTN_GENERAL ? 0 : units;
    L->out_kind = kind == SEQCLS_ATTN_FEATURE_TIME ? VAL_SEQ : VAL_VEC;
    L->out_F = F;
    L->out_fin_F = kind == SEQCLS_ATTN_FEATURE_TIME ? Q : 0;
    if ((kind == SEQCLS_ATTN_BAHDANAU || kind == SEQCLS_ATTN_DOT || kind == SEQCLS_ATTN_GENERAL) &&
        Q == 0)
        rc = seqcls__fail(SEQCLS_E_STATE,
                          "%s: this attention kind needs a query: put it after a recurrent layer "
                          "(its final states), or use SEQCLS_ATTN_LEARNED_QUERY",
                          func);
    else if (kind == SEQCLS_ATTN_DOT && Q != F)
        rc = seqcls__fail(SEQCLS_E_SHAPE,
                          "%s: dot attention needs a query as wide as the sequence (%d), not %d; "
                          "use SEQCLS_ATTN_GENERAL",
                          func, F, Q);
    else if (kind == SEQCLS_ATTN_BAHDANAU) {
        rc = add_dense_params(m, L, "W1", units, F, 1);
        if (!rc)
            rc = add_dense_params(m, L, "W2", units, Q, 1);
        if (!rc)
            rc = add_dense_params(m, L, "V", 1, units, 1);
    } else if (kind == SEQCLS_ATTN_GENERAL) {
        rc = add_dense_params(m, L, "W", Q, F, 0);
    } else if (kind == SEQCLS_ATTN_LEARNED_QUERY) {
        rc = add_dense_params(m, L, "W", units, F, 1);
        if (!rc)
            rc = add_dense_params(m, L, "query", 1, units, 0);
    } else if (kind == SEQCLS_ATTN_FEATURE_TIME) {
        rc = add_dense_params(m, L, "time", units, units, 1);
    }
    return model_commit_layer(m, L, rc, layer);
}
