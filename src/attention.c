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
    WS_DQ,               /* d(projected query) per row [B, U] (DOT, GENERAL: dr [B, F]) */
    WS_DV,               /* per row sums of ds a, for dv [B, U] */
    WS_WPACK,            /* W (W1) packed for pgemm */
    WS_ROWBIAS           /* b (+ Q_b) per row [B, U] */
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

/* ---- pooling kinds: scores, softmax, context ----
 *
 * Everything but the parameter gradients is independent from row to row
 * of the batch, so the rows are split over the library's pool, and each
 * row works on its valid steps only: padding steps cost nothing.  The
 * additive kinds (BAHDANAU, LEARNED_QUERY) multiply by W (W1) packed once
 * per call (pgemm.c); their tanh is the recurrent layers' vectorised one.
 */

typedef struct {
    const layer_t *L;
    const value_t *in, *dout;
    int U, kind;
    const real *Wp;       /* W^T packed (forward), W packed (backward) */
    const real *r;        /* DOT / GENERAL: the vector each h_t is scored against [B, F] */
    real *w, *ctxv, *A, *Q, *rowbias;
    real *dx, *ds, *dz, *dQ, *dv;
} att_job_t;

/* W (W1) of an additive kind packed for pgemm: transposed for h W^T going
 * forward, as it is for dz W going backward. */
static const real *packed_w(const layer_t *L, workspace_t *ws, int F, int backward)
{
    const int U = L->units;
    real *Wp = ws_get(ws, WS_WPACK, seqcls__mul(pgemm_packed_len(backward ? U : F,
                                                                 backward ? F : U),
                                                sizeof(real)));
    if (Wp)
        pgemm_pack(Wp, L->w[L->kind_arg == SEQCLS_ATTN_BAHDANAU ? P_W1 : P_LQ_W], F, !backward,
                   backward ? U : F, backward ? F : U);
    return Wp;
}

static void rows_of_part(int B, int part, int parts, int *b0, int *b1)
{
    *b0 = (int)((int64_t)B * part / parts);
    *b1 = (int)((int64_t)B * (part + 1) / parts);
}

static int att_parts(const value_t *in)
{
    return (size_t)in->B * in->T * in->F >= 65536 ? seqcls__parallel_parts() : 1;
}

/* Scores of row b's valid steps: a_t = tanh(W h_t + bias (+ Q_b)), then
 * v . a_t (+ v_b); or h_t . r_b. */
static void scores_row(const att_job_t *J, int b)
{
    const layer_t *L = J->L;
    const value_t *in = J->in;
    const int T = in->T, F = in->F, U = J->U, len = in->len[b];
    const real *x = in->x + (size_t)b * T * F;
    real *w = J->w + (size_t)b * T;
    int t, u;
    if (J->kind == SEQCLS_ATTN_BAHDANAU || J->kind == SEQCLS_ATTN_LEARNED_QUERY) {
        const int bah = J->kind == SEQCLS_ATTN_BAHDANAU;
        const real *bias = L->w[bah ? P_B1 : P_LQ_B], *v = L->w[bah ? P_V : P_LQ_U];
        real *A = J->A + (size_t)b * T * U, *rb = J->rowbias + (size_t)b * U;
        for (u = 0; u < U; u++)
            rb[u] = bias[u] + (bah ? J->Q[(size_t)b * U + u] : 0);
        pgemm(len, U, F, x, F, J->Wp, 0, rb, A, U);
        rnn_tanh(A, (size_t)len * U);
        for (t = 0; t < len; t++) {
            const real *a = A + (size_t)t * U;
            real sc = 0;
            for (u = 0; u < U; u++)
                sc += a[u] * v[u];
            w[t] = sc + (bah ? L->w[P_VB][0] : 0);
        }
    } else {
        const real *r = J->r + (size_t)b * F;
        for (t = 0; t < len; t++) {
            const real *h = x + (size_t)t * F;
            real sc = 0;
            int f;
            for (f = 0; f < F; f++)
                sc += h[f] * r[f];
            w[t] = sc;
        }
    }
}

static void forward_rows(void *arg, int part, int parts)
{
    const att_job_t *J = arg;
    const value_t *in = J->in;
    const int T = in->T, F = in->F;
    int b, b0, b1, t, f;
    rows_of_part(in->B, part, parts, &b0, &b1);
    for (b = b0; b < b1; b++) {
        real *c = J->ctxv + (size_t)b * F;
        scores_row(J, b);
        masked_softmax(J->w + (size_t)b * T, T, in->len[b], 1);
        for (t = 0; t < in->len[b]; t++) {
            const real *h = in->x + ((size_t)b * T + t) * F;
            const real wt = J->w[(size_t)b * T + t];
            for (f = 0; f < F; f++)
                c[f] += wt * h[f];
        }
    }
}

static int pool_forward(const layer_t *L, workspace_t *ws, const value_t *in, value_t *out,
                        const run_ctx_t *ctx)
{
    const int B = in->B, T = in->T, F = in->F, U = L->units;
    const int kind = L->kind_arg, additive = kind == SEQCLS_ATTN_BAHDANAU ||
                                            kind == SEQCLS_ATTN_LEARNED_QUERY;
    att_job_t J;
    int b, f;

    memset(&J, 0, sizeof J);
    J.L = L;
    J.in = in;
    J.U = U;
    J.kind = kind;
    J.w = ws_get(ws, WS_W, (size_t)B * T * sizeof(real));
    J.ctxv = ws_zero(ws, WS_OUT, (size_t)B * F * sizeof(real));
    if (!J.w || !J.ctxv)
        return SEQCLS_E_NOMEM;
    if (kind != SEQCLS_ATTN_LEARNED_QUERY && !in->fin)
        return seqcls__fail(SEQCLS_E_STATE, "%s: attention layer %d has no query (final states)",
                            ctx->func, L->index);
    if (additive) {
        J.Wp = packed_w(L, ws, F, 0);
        J.A = ws_get(ws, WS_A, seqcls__mul((size_t)B * T, (size_t)U * sizeof(real)));
        J.rowbias = ws_get(ws, WS_ROWBIAS, (size_t)B * U * sizeof(real));
        if (!J.Wp || !J.A || !J.rowbias)
            return SEQCLS_E_NOMEM;
    }
    if (kind == SEQCLS_ATTN_BAHDANAU) {
        /* Q = q W2^T + b2, added to every step's W1 h_t + b1 */
        if (!(J.Q = ws_get(ws, WS_Q, (size_t)B * U * sizeof(real))))
            return SEQCLS_E_NOMEM;
        blas_gemm(0, 1, B, U, in->fin_F, 1, in->fin, in->fin_F, L->w[P_W2], in->fin_F, 0, J.Q, U);
        for (b = 0; b < B; b++)
            for (f = 0; f < U; f++)
                J.Q[(size_t)b * U + f] += L->w[P_B2][f];
    } else if (kind == SEQCLS_ATTN_GENERAL) {
        /* r = W^T q */
        real *Q = ws_get(ws, WS_Q, (size_t)B * F * sizeof(real));
        if (!Q)
            return SEQCLS_E_NOMEM;
        blas_gemm(0, 0, B, F, in->fin_F, 1, in->fin, in->fin_F, L->w[P_GEN_W], F, 0, Q, F);
        J.r = Q;
    } else if (kind == SEQCLS_ATTN_DOT) {
        J.r = in->fin;
    }
    seqcls__parallel(att_parts(in), forward_rows, &J);
    memset(out, 0, sizeof *out);
    out->kind = VAL_VEC;
    out->B = B;
    out->T = 1;
    out->F = F;
    out->x = J.ctxv;
    out->len = in->len;
    return SEQCLS_OK;
}

/* Row b back to its scores: dh_t = w_t dc, ds = softmax' (dc . h_t); then
 * through the scores.  Additive kinds: dz_t = ds_t v (1 - a_t^2) (zero at
 * padding, for the dW GEMM over all rows), dh_t += dz_t W, and the row's
 * sums of dz (-> dQ, db) and of ds_t a_t (-> dv).  DOT / GENERAL:
 * dh_t += ds_t r_b, dr_b = sum_t ds_t h_t (in dQ). */
static void backward_row(const att_job_t *J, int b)
{
    const layer_t *L = J->L;
    const value_t *in = J->in;
    const int T = in->T, F = in->F, U = J->U, len = in->len[b];
    const real *x = in->x + (size_t)b * T * F, *w = J->w + (size_t)b * T;
    const real *dc = J->dout->x + (size_t)b * F;
    real *dx = J->dx + (size_t)b * T * F, *ds = J->ds + (size_t)b * T;
    int t, u, f;
    for (t = 0; t < len; t++) {
        const real *h = x + (size_t)t * F;
        real *g = dx + (size_t)t * F, dw = 0;
        for (f = 0; f < F; f++) {
            g[f] = w[t] * dc[f];
            dw += dc[f] * h[f];
        }
        ds[t] = dw;
    }
    for (; t < T; t++)
        ds[t] = 0;
    softmax_backward(w, ds, ds, T, len, 1);
    if (J->kind == SEQCLS_ATTN_BAHDANAU || J->kind == SEQCLS_ATTN_LEARNED_QUERY) {
        const real *v = L->w[J->kind == SEQCLS_ATTN_BAHDANAU ? P_V : P_LQ_U];
        const real *A = J->A + (size_t)b * T * U;
        real *dz = J->dz + (size_t)b * T * U, *dQ = J->dQ + (size_t)b * U;
        real *dv = J->dv + (size_t)b * U;
        memset(dQ, 0, (size_t)U * sizeof(real));
        memset(dv, 0, (size_t)U * sizeof(real));
        for (t = 0; t < len; t++) {
            const real *a = A + (size_t)t * U;
            real *d = dz + (size_t)t * U;
            for (u = 0; u < U; u++) {
                d[u] = ds[t] * v[u] * (1 - a[u] * a[u]);
                dQ[u] += d[u];
                dv[u] += ds[t] * a[u];
            }
        }
        memset(dz + (size_t)len * U, 0, (size_t)(T - len) * U * sizeof(real));
        pgemm(len, F, U, dz, U, J->Wp, 1, NULL, dx, F);
    } else {
        const real *r = J->r + (size_t)b * F;
        real *dr = J->dQ + (size_t)b * F;
        memset(dr, 0, (size_t)F * sizeof(real));
        for (t = 0; t < len; t++) {
            const real *h = x + (size_t)t * F;
            real *g = dx + (size_t)t * F;
            for (f = 0; f < F; f++) {
                g[f] += ds[t] * r[f];
                dr[f] += ds[t] * h[f];
            }
        }
    }
}

static void backward_rows(void *arg, int part, int parts)
{
    const att_job_t *J = arg;
    int b, b0, b1;
    rows_of_part(J->in->B, part, parts, &b0, &b1);
    for (b = b0; b < b1; b++)
        backward_row(J, b);
}

/* g[u] += sum over rows of x[r, u], in row order. */
static void add_rows(real *g, const real *x, int rows, int n)
{
    int r, u;
    for (r = 0; r < rows; r++)
        for (u = 0; u < n; u++)
            g[u] += x[(size_t)r * n + u];
}

static int pool_backward(layer_t *L, workspace_t *ws, const value_t *in, const value_t *out,
                         const value_t *dout, value_t *din, const run_ctx_t *ctx)
{
    const int B = in->B, T = in->T, F = in->F, U = L->units, kind = L->kind_arg;
    const int Qf = in->fin_F, additive = kind == SEQCLS_ATTN_BAHDANAU ||
                                         kind == SEQCLS_ATTN_LEARNED_QUERY;
    real *dfin = NULL;
    att_job_t J;
    int t;
    (void)out;
    (void)ctx;

    memset(&J, 0, sizeof J);
    J.L = L;
    J.in = in;
    J.dout = dout;
    J.U = U;
    J.kind = kind;
    J.w = ws->buf[WS_W];
    J.A = ws->buf[WS_A];
    J.dx = ws_zero(ws, WS_DIN, (size_t)B * T * F * sizeof(real));
    J.ds = ws_get(ws, WS_DS, (size_t)B * T * sizeof(real));
    J.dQ = ws_get(ws, WS_DQ, (size_t)B * (additive ? U : F) * sizeof(real));
    if (!J.dx || !J.ds || !J.dQ)
        return SEQCLS_E_NOMEM;
    if (kind != SEQCLS_ATTN_LEARNED_QUERY && !(dfin = ws_zero(ws, WS_DFIN, (size_t)B * Qf * sizeof(real))))
        return SEQCLS_E_NOMEM;
    if (additive) {
        J.Wp = packed_w(L, ws, F, 1);
        J.dz = ws_get(ws, WS_DZ, seqcls__mul((size_t)B * T, (size_t)U * sizeof(real)));
        J.dv = ws_get(ws, WS_DV, (size_t)B * U * sizeof(real));
        if (!J.Wp || !J.dz || !J.dv)
            return SEQCLS_E_NOMEM;
    } else {
        J.r = kind == SEQCLS_ATTN_GENERAL ? (const real *)ws->buf[WS_Q] : in->fin;
    }
    seqcls__parallel(att_parts(in), backward_rows, &J);

    if (additive) {
        const int pw = kind == SEQCLS_ATTN_BAHDANAU ? P_W1 : P_LQ_W;
        const int pb = kind == SEQCLS_ATTN_BAHDANAU ? P_B1 : P_LQ_B;
        const int pv = kind == SEQCLS_ATTN_BAHDANAU ? P_V : P_LQ_U;
        /* score = v . a (+ v_b): dv += sum ds a, dv_b += sum ds */
        add_rows(L->g[pv], J.dv, B, U);
        if (kind == SEQCLS_ATTN_BAHDANAU)
            for (t = 0; t < B * T; t++)
                L->g[P_VB][0] += J.ds[t];
        /* z = W h + b (+ Q): dW += dz^T h, db += sum dz */
        blas_gemm(1, 0, U, F, B * T, 1, J.dz, U, in->x, F, 1, L->g[pw], F);
        add_rows(L->g[pb], J.dQ, B, U);
        if (kind == SEQCLS_ATTN_BAHDANAU) {
            /* Q = q W2^T + b2 feeds every step of its row */
            add_rows(L->g[P_B2], J.dQ, B, U);
            blas_gemm(1, 0, U, Qf, B, 1, J.dQ, U, in->fin, Qf, 1, L->g[P_W2], Qf);
            blas_gemm(0, 0, B, Qf, U, 1, J.dQ, U, L->w[P_W2], Qf, 0, dfin, Qf);
        }
    } else if (kind == SEQCLS_ATTN_DOT) {
        memcpy(dfin, J.dQ, (size_t)B * F * sizeof(real));
    } else {
        /* r = W^T q: dW += q^T dr, dq = dr W^T */
        blas_gemm(1, 0, Qf, F, B, 1, in->fin, Qf, J.dQ, F, 1, L->g[P_GEN_W], F);
        blas_gemm(0, 1, B, Qf, F, 1, J.dQ, F, L->w[P_GEN_W], F, 0, dfin, Qf);
    }
    *din = *in;
    din->x = J.dx;
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
