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
    WS_ROWBIAS,          /* b (+ Q_b) per row [B, U] */
    WS_QROWS             /* quantised models: per part, a row's steps quantised [T] and scales */
};

/* parameter slots */
enum { P_W1 = 0, P_B1, P_W2, P_B2, P_V, P_VB };       /* BAHDANAU */
enum { P_GEN_W = 0 };                                   /* GENERAL */
enum { P_LQ_W = 0, P_LQ_B, P_LQ_U };                    /* LEARNED_QUERY */
enum { P_FT_W = 0, P_FT_B };                            /* FEATURE_TIME */

typedef struct attn_kind attn_kind_t;

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
    const attn_kind_t *kind;
    const value_t *in, *dout;
    int U;
    const real *Wp;       /* W^T packed (forward), W packed (backward) */
    const qmat_t *qw;     /* a quantised model's W (seqcls_model_quantize), in place of Wp */
    unsigned char *qrows; /* with qw: per part, T rows of qmat_act_bytes(qw), then T scales */
    size_t qroom;         /* bytes of qrows per part */
    const real *r;        /* DOT / GENERAL: the vector each h_t is scored against [B, F] */
    real *w, *ctxv, *A, *Q, *rowbias;
    real *dx, *ds, *dz, *dQ, *dv;
} att_job_t;

/* What distinguishes the attention kinds (the table, attn_kinds, is at
 * the end of the file). */
struct attn_kind {
    const char *name;        /* in seqcls_layer_describe */
    int units;               /* takes `units` (else it is 0) */
    int steps_are_units;     /* units is the number of steps T the input must have, and the
                              * output is the weighted sequence (FEATURE_TIME) */
    /* Scores against the previous layer's final states: set J's Q (added
     * inside the tanh) or r (scored against h_t) from them; backward only
     * finds the forward's r again.  NULL: no query. */
    int (*query)(const layer_t *L, workspace_t *ws, const value_t *in, att_job_t *J,
                 int backward);
    /* The query's parameter gradients and d(final states) from J's dQ. */
    void (*query_backward)(layer_t *L, const value_t *in, const att_job_t *J, real *dfin);
    int additive;            /* score = v . tanh(W h_t + b (+ Q)) (+ v_b) */
    int p_w, p_b, p_v, p_vb; /* additive: the parameter slots of W, b, v and v_b (-1: none) */
    int (*add_params)(seqcls_model_t *m, layer_t *L, const char *func, int F, int Q, int U);
    int (*forward)(const layer_t *L, workspace_t *ws, const value_t *in, value_t *out,
                   const run_ctx_t *ctx);
    int (*backward)(layer_t *L, workspace_t *ws, const value_t *in, const value_t *out,
                    const value_t *dout, value_t *din, const run_ctx_t *ctx);
    int weights_slot;        /* the workspace slot of the readable weights [B, T] */
};

static const attn_kind_t *attn_kind_of(const layer_t *L);

/* W (W1) of an additive kind packed for pgemm: transposed for h W^T going
 * forward, as it is for dz W going backward. */
static const real *packed_w(const layer_t *L, workspace_t *ws, int F, int backward)
{
    const int U = L->units;
    real *Wp = ws_get(ws, WS_WPACK, seqcls__mul(pgemm_packed_len(backward ? U : F,
                                                                 backward ? F : U),
                                                sizeof(real)));
    if (Wp)
        pgemm_pack(Wp, L->w[attn_kind_of(L)->p_w], F, !backward, backward ? U : F,
                   backward ? F : U);
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

/* w[t] = A[t] . v + vb for t in [0, len) (rows of A n apart), eight steps
 * at a time: each sum in the order of one at a time (the same values),
 * with eight chains of additions in flight instead of one, whose latency
 * was most of the scores' time. */
static void dot_rows(const real *A, int len, int n, const real *v, real vb, real *w)
{
    int t = 0, k, i;
    for (; t + 8 <= len; t += 8) {
        const real *a = A + (size_t)t * n;
        real sc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        for (k = 0; k < n; k++)
            for (i = 0; i < 8; i++)
                sc[i] += a[(size_t)i * n + k] * v[k];
        for (i = 0; i < 8; i++)
            w[t + i] = sc[i] + vb;
    }
    for (; t < len; t++) {
        const real *a = A + (size_t)t * n;
        real sc = 0;
        for (k = 0; k < n; k++)
            sc += a[k] * v[k];
        w[t] = sc + vb;
    }
}

/* Scores of row b's valid steps: a_t = tanh(W h_t + bias (+ Q_b)), then
 * v . a_t (+ v_b); or h_t . r_b. */
static void scores_row(const att_job_t *J, int b, int part)
{
    const layer_t *L = J->L;
    const value_t *in = J->in;
    const int T = in->T, F = in->F, U = J->U, len = in->len[b];
    const real *x = in->x + (size_t)b * T * F;
    real *w = J->w + (size_t)b * T;
    int u;
    if (J->kind->additive) {
        const real *bias = L->w[J->kind->p_b], *v = L->w[J->kind->p_v];
        const real vb = J->kind->p_vb >= 0 ? L->w[J->kind->p_vb][0] : 0;
        real *A = J->A + (size_t)b * T * U, *rb = J->rowbias + (size_t)b * U;
        for (u = 0; u < U; u++)
            rb[u] = bias[u] + (J->Q ? J->Q[(size_t)b * U + u] : 0);
        if (J->qw) {   /* int8 or bfloat16 products, and the quick tanh of quantised layers */
            unsigned char *qa = J->qrows + (size_t)part * J->qroom;
            quant_matmul(J->qw, len, x, F, rb, A, U, qa,
                         (float *)(void *)(qa + (size_t)T * qmat_act_bytes(J->qw)));
        } else {
            pgemm(len, U, F, x, F, J->Wp, 0, rb, A, U);
        }
        rnn_tanh(J->qw != NULL, A, (size_t)len * U);
        dot_rows(A, len, U, v, vb, w);
    } else {
        dot_rows(x, len, F, J->r + (size_t)b * F, 0, w);   /* + 0: softmax sees -0 as 0 */
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
        scores_row(J, b, part);
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
    const attn_kind_t *A = attn_kind_of(L);
    att_job_t J;
    int rc;

    memset(&J, 0, sizeof J);
    J.L = L;
    J.kind = A;
    J.in = in;
    J.U = U;
    J.w = ws_get(ws, WS_W, (size_t)B * T * sizeof(real));
    J.ctxv = ws_zero(ws, WS_OUT, (size_t)B * F * sizeof(real));
    if (!J.w || !J.ctxv)
        return SEQCLS_E_NOMEM;
    if (A->query && !in->fin)
        return seqcls__fail(SEQCLS_E_STATE, "%s: attention layer %d has no query (final states)",
                            ctx->func, L->index);
    if (A->additive) {
        if (L->q) {
            J.qw = quant_piece(L, A->p_w, 0);
            J.qroom = seqcls__mul((size_t)T, qmat_act_bytes(J.qw) + sizeof(float));
            J.qrows = ws_get(ws, WS_QROWS, seqcls__mul((size_t)att_parts(in), J.qroom));
        } else {
            J.Wp = packed_w(L, ws, F, 0);
        }
        J.A = ws_get(ws, WS_A, seqcls__mul((size_t)B * T, (size_t)U * sizeof(real)));
        J.rowbias = ws_get(ws, WS_ROWBIAS, (size_t)B * U * sizeof(real));
        if (!(J.Wp || J.qrows) || !J.A || !J.rowbias)
            return SEQCLS_E_NOMEM;
    }
    if (A->query && (rc = A->query(L, ws, in, &J, 0)) != SEQCLS_OK)
        return rc;
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
    if (J->kind->additive) {
        const real *v = L->w[J->kind->p_v];
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
    const int B = in->B, T = in->T, F = in->F, U = L->units;
    const attn_kind_t *A = attn_kind_of(L);
    real *dfin = NULL;
    att_job_t J;
    int t;
    (void)out;
    (void)ctx;

    memset(&J, 0, sizeof J);
    J.L = L;
    J.kind = A;
    J.in = in;
    J.dout = dout;
    J.U = U;
    J.w = ws->buf[WS_W];
    J.A = ws->buf[WS_A];
    J.dx = ws_zero(ws, WS_DIN, (size_t)B * T * F * sizeof(real));
    J.ds = ws_get(ws, WS_DS, (size_t)B * T * sizeof(real));
    J.dQ = ws_get(ws, WS_DQ, (size_t)B * (A->additive ? U : F) * sizeof(real));
    if (!J.dx || !J.ds || !J.dQ)
        return SEQCLS_E_NOMEM;
    if (A->query && !(dfin = ws_zero(ws, WS_DFIN, (size_t)B * in->fin_F * sizeof(real))))
        return SEQCLS_E_NOMEM;
    if (A->additive) {
        J.Wp = packed_w(L, ws, F, 1);
        J.dz = ws_get(ws, WS_DZ, seqcls__mul((size_t)B * T, (size_t)U * sizeof(real)));
        J.dv = ws_get(ws, WS_DV, (size_t)B * U * sizeof(real));
        if (!J.Wp || !J.dz || !J.dv)
            return SEQCLS_E_NOMEM;
    }
    if (A->query)
        A->query(L, ws, in, &J, 1);   /* the forward's r; allocates nothing */
    seqcls__parallel(att_parts(in), backward_rows, &J);

    if (A->additive) {
        /* score = v . a (+ v_b): dv += sum ds a, dv_b += sum ds */
        add_rows(L->g[A->p_v], J.dv, B, U);
        if (A->p_vb >= 0)
            for (t = 0; t < B * T; t++)
                L->g[A->p_vb][0] += J.ds[t];
        /* z = W h + b (+ Q): dW += dz^T h, db += sum dz */
        blas_gemm(1, 0, U, F, B * T, 1, J.dz, U, in->x, F, 1, L->g[A->p_w], F);
        add_rows(L->g[A->p_b], J.dQ, B, U);
    }
    if (A->query_backward)
        A->query_backward(L, in, &J, dfin);
    *din = *in;
    din->x = J.dx;
    din->fin = dfin;
    return SEQCLS_OK;
}

/* ---- the queries: BAHDANAU's W2 q + b2 added to every step's W1 h_t + b1,
 * GENERAL's r = W^T q and DOT's r = q scored against h_t ---- */

static int bahdanau_query(const layer_t *L, workspace_t *ws, const value_t *in, att_job_t *J,
                          int backward)
{
    const int B = in->B, U = L->units;
    int b, u;
    if (backward)
        return SEQCLS_OK;
    if (!(J->Q = ws_get(ws, WS_Q, (size_t)B * U * sizeof(real))))
        return SEQCLS_E_NOMEM;
    blas_gemm(0, 1, B, U, in->fin_F, 1, in->fin, in->fin_F, L->w[P_W2], in->fin_F, 0, J->Q, U);
    for (b = 0; b < B; b++)
        for (u = 0; u < U; u++)
            J->Q[(size_t)b * U + u] += L->w[P_B2][u];
    return SEQCLS_OK;
}

/* Q = q W2^T + b2 feeds every step of its row: its gradient is the row's sum of dz. */
static void bahdanau_query_backward(layer_t *L, const value_t *in, const att_job_t *J, real *dfin)
{
    const int B = in->B, U = L->units, Qf = in->fin_F;
    add_rows(L->g[P_B2], J->dQ, B, U);
    blas_gemm(1, 0, U, Qf, B, 1, J->dQ, U, in->fin, Qf, 1, L->g[P_W2], Qf);
    blas_gemm(0, 0, B, Qf, U, 1, J->dQ, U, L->w[P_W2], Qf, 0, dfin, Qf);
}

static int general_query(const layer_t *L, workspace_t *ws, const value_t *in, att_job_t *J,
                         int backward)
{
    const int B = in->B, F = in->F;
    real *r = backward ? ws->buf[WS_Q] : ws_get(ws, WS_Q, (size_t)B * F * sizeof(real));
    if (!r)
        return SEQCLS_E_NOMEM;
    if (!backward)
        blas_gemm(0, 0, B, F, in->fin_F, 1, in->fin, in->fin_F, L->w[P_GEN_W], F, 0, r, F);
    J->r = r;
    return SEQCLS_OK;
}

/* r = W^T q: dW += q^T dr, dq = dr W^T */
static void general_query_backward(layer_t *L, const value_t *in, const att_job_t *J, real *dfin)
{
    const int B = in->B, F = in->F, Qf = in->fin_F;
    blas_gemm(1, 0, Qf, F, B, 1, in->fin, Qf, J->dQ, F, 1, L->g[P_GEN_W], F);
    blas_gemm(0, 1, B, Qf, F, 1, J->dQ, F, L->w[P_GEN_W], F, 0, dfin, Qf);
}

static int dot_query(const layer_t *L, workspace_t *ws, const value_t *in, att_job_t *J,
                     int backward)
{
    (void)L;
    (void)ws;
    (void)backward;
    J->r = in->fin;
    return SEQCLS_OK;
}

static void dot_query_backward(layer_t *L, const value_t *in, const att_job_t *J, real *dfin)
{
    (void)L;
    memcpy(dfin, J->dQ, (size_t)in->B * in->F * sizeof(real));
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

/* Each kind's parameters, in the slots of the P_* enums above; F is the
 * sequence's width, Q the query's (the final states'), U the units. */
static int bahdanau_params(seqcls_model_t *m, layer_t *L, const char *func, int F, int Q, int U)
{
    int rc;
    (void)func;
    rc = add_dense_params(m, L, "W1", U, F, 1);
    if (!rc)
        rc = add_dense_params(m, L, "W2", U, Q, 1);
    if (!rc)
        rc = add_dense_params(m, L, "V", 1, U, 1);
    return rc;
}

static int dot_params(seqcls_model_t *m, layer_t *L, const char *func, int F, int Q, int U)
{
    (void)m;
    (void)L;
    (void)U;
    if (Q != F)
        return seqcls__fail(SEQCLS_E_SHAPE,
                            "%s: dot attention needs a query as wide as the sequence (%d), not %d; "
                            "use SEQCLS_ATTN_GENERAL",
                            func, F, Q);
    return SEQCLS_OK;
}

static int general_params(seqcls_model_t *m, layer_t *L, const char *func, int F, int Q, int U)
{
    (void)func;
    (void)U;
    return add_dense_params(m, L, "W", Q, F, 0);
}

static int learned_query_params(seqcls_model_t *m, layer_t *L, const char *func, int F, int Q,
                                int U)
{
    int rc;
    (void)func;
    (void)Q;
    rc = add_dense_params(m, L, "W", U, F, 1);
    if (!rc)
        rc = add_dense_params(m, L, "query", 1, U, 0);
    return rc;
}

static int feature_time_params(seqcls_model_t *m, layer_t *L, const char *func, int F, int Q,
                               int U)
{
    (void)func;
    (void)F;
    (void)Q;
    return add_dense_params(m, L, "time", U, U, 1);
}

/* The one list of attention kinds: a new kind is one entry here (its
 * SEQCLS_ATTN_* number in include/seqcls.h), its functions above. */
static const attn_kind_t attn_kinds[] = {
    [SEQCLS_ATTN_BAHDANAU] = {
        .name = "bahdanau", .units = 1, .query = bahdanau_query,
        .query_backward = bahdanau_query_backward, .additive = 1,
        .p_w = P_W1, .p_b = P_B1, .p_v = P_V, .p_vb = P_VB,
        .add_params = bahdanau_params, .forward = pool_forward, .backward = pool_backward,
        .weights_slot = WS_W,
    },
    [SEQCLS_ATTN_DOT] = {
        .name = "dot", .query = dot_query, .query_backward = dot_query_backward, .p_vb = -1,
        .add_params = dot_params, .forward = pool_forward, .backward = pool_backward,
        .weights_slot = WS_W,
    },
    [SEQCLS_ATTN_GENERAL] = {
        .name = "general", .query = general_query, .query_backward = general_query_backward,
        .p_vb = -1, .add_params = general_params, .forward = pool_forward,
        .backward = pool_backward, .weights_slot = WS_W,
    },
    [SEQCLS_ATTN_LEARNED_QUERY] = {
        .name = "learned_query", .units = 1, .additive = 1,
        .p_w = P_LQ_W, .p_b = P_LQ_B, .p_v = P_LQ_U, .p_vb = -1,
        .add_params = learned_query_params, .forward = pool_forward, .backward = pool_backward,
        .weights_slot = WS_W,
    },
    [SEQCLS_ATTN_FEATURE_TIME] = {
        .name = "feature_time", .units = 1, .steps_are_units = 1, .p_vb = -1,
        .add_params = feature_time_params, .forward = feature_time_forward,
        .backward = feature_time_backward, .weights_slot = WS_MEANW,
    },
};
#define ATTN_KINDS ((int)(sizeof attn_kinds / sizeof attn_kinds[0]) - 1)
_Static_assert(sizeof attn_kinds / sizeof attn_kinds[0] == SEQCLS_ATTN_FEATURE_TIME + 1,
               "one entry per SEQCLS_ATTN_* kind");

static const attn_kind_t *attn_kind_of(const layer_t *L) { return &attn_kinds[L->kind_arg]; }

static int attention_forward(const layer_t *L, workspace_t *ws, const value_t *in, value_t *out,
                             const run_ctx_t *ctx)
{
    return attn_kind_of(L)->forward(L, ws, in, out, ctx);
}

static int attention_backward(layer_t *L, workspace_t *ws, const value_t *in, const value_t *out,
                              const value_t *dout, value_t *din, const run_ctx_t *ctx)
{
    return attn_kind_of(L)->backward(L, ws, in, out, dout, din, ctx);
}

static const real *attention_weights(const layer_t *L, workspace_t *ws)
{
    return ws->buf[attn_kind_of(L)->weights_slot];
}

static int attention_fixed_steps(const layer_t *L)
{
    return attn_kind_of(L)->steps_are_units ? L->units : 0;
}

static void attention_describe(const layer_t *L, char *buf, size_t cap)
{
    if (L->units)
        snprintf(buf, cap, "%s, units=%d", attn_kind_of(L)->name, L->units);
    else
        snprintf(buf, cap, "%s", attn_kind_of(L)->name);
}

static int attention_rebuild(seqcls_model_t *m, const layer_t *c)
{
    return seqcls_add_attention(m, c->kind_arg, c->units, NULL);
}

/* seqcls_model_quantize: the key projection W of the additive kinds, an
 * nn.Linear in PyTorch's models (the query projection, per row not per
 * step, and the score vector stay float32). */
static unsigned attention_quant_mask(const layer_t *L)
{
    const attn_kind_t *A = attn_kind_of(L);
    return A->additive ? 1u << A->p_w : 0;
}

static const layer_option_t attention_options[] = {
    {SEQCLS_OPT_KIND, FIELD_KIND_ARG, 0},
    {SEQCLS_OPT_UNITS, FIELD_UNITS, 0},
    {0, 0, 0},
};

const layer_ops_t seqcls__attention_ops = {
    .kind = SEQCLS_LAYER_ATTENTION,
    .name = "attention",
    .takes = 1u << VAL_SEQ,
    .options = attention_options,
    .forward = attention_forward,
    .backward = attention_backward,
    .attention = attention_weights,
    .fixed_steps = attention_fixed_steps,
    .describe = attention_describe,
    .rebuild = attention_rebuild,
    .quant_mask = attention_quant_mask,
};

int seqcls_add_attention(seqcls_model_t *m, int kind, int units, int *layer)
{
    const char *func = "seqcls_add_attention";
    const attn_kind_t *A;
    layer_t *L;
    int rc, F, Q;

    if (m && (kind < 1 || kind > ATTN_KINDS || !attn_kinds[kind].name))
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: unknown attention kind %d", func, kind);
    A = m ? &attn_kinds[kind] : NULL;
    if (A && A->units && (units < 1 || units > (1 << 20)))
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: units (%d) must be in [1, 2^20]%s", func,
                            units, A->steps_are_units
                                       ? " (for FEATURE_TIME: the number of time steps T)" : "");
    rc = model_begin_layer(m, func, &seqcls__attention_ops, &L);
    if (rc)
        return rc;
    F = L->in_F;
    Q = m->layers[m->nlayers - 1]->out_fin_F;
    L->kind_arg = kind;
    L->units = A->units ? units : 0;
    /* a sequence out passes the final states on */
    L->out_kind = A->steps_are_units ? VAL_SEQ : VAL_VEC;
    L->out_F = F;
    L->out_fin_F = A->steps_are_units ? Q : 0;
    if (A->query && Q == 0)
        rc = seqcls__fail(SEQCLS_E_STATE,
                          "%s: this attention kind needs a query: put it after a recurrent layer "
                          "(its final states), or use SEQCLS_ATTN_LEARNED_QUERY",
                          func);
    else
        rc = A->add_params(m, L, func, F, Q, L->units);
    return model_commit_layer(m, L, rc, layer);
}
