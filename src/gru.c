/*
 * gru.c -- the GRU cell, gates in rows [r | z | n] as PyTorch:
 *
 *     r  = σ(W_ir x + b_ir + W_hr h + b_hr)
 *     z  = σ(W_iz x + b_iz + W_hz h + b_hz)
 *     n  = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))    reset after (default)
 *     n  = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn)    reset before (Keras
 *                                                        reset_after=False)
 *     h' = (1 − z) ⊙ n + z ⊙ h
 *
 * σ is the layer's recurrent activation.  With recurrent dropout, h enters
 * the products W_h. h (and r ⊙ h before W_hn) through the row's mask; the
 * update's z ⊙ h does not.  The driver (recurrent.c) has
 * already put W_ih x + b_ih in the gates, and the parts of b_hh that are
 * plain sums (b_hr, b_hz; and b_hn with the reset before).  Per row, aux keeps
 * W_hn h + b_hn (reset after) or r ⊙ h (reset before).
 */
#include "internal.h"

#include <string.h>

/* Elementwise spans of one row, [k, k + n) (see RNN_SPANS); restrict lets
 * -O2 vectorise without run-time overlap checks. */

SEQCLS_CLONE_INLINE void add_span(real *restrict a, const real *restrict b, int k, int n)
{
    int i;
    for (i = k; i < k + n; i++)
        a[i] += b[i];
}

SEQCLS_CLONE_INLINE void mul_span(real *restrict y, const real *restrict a, const real *restrict b,
                                  int k, int n)
{
    int i;
    for (i = k; i < k + n; i++)
        y[i] = a[i] * b[i];
}

/* reset after: keep hn = W_hn h + b_hn, and add r ⊙ hn to n's pre-activation */
SEQCLS_CLONE_INLINE void reset_after_span(real *restrict n_pre, real *restrict hn,
                                          const real *restrict r, const real *restrict b_hn,
                                          const real *restrict zh_n, int k, int n)
{
    int i;
    for (i = k; i < k + n; i++) {
        hn[i] = b_hn[i] + zh_n[i];
        n_pre[i] += r[i] * hn[i];
    }
}

/* h' = (1 - z) n + z h */
SEQCLS_CLONE_INLINE void update_span(real *restrict h, const real *restrict z,
                                     const real *restrict nv, const real *restrict hp, int k, int n)
{
    int i;
    for (i = k; i < k + n; i++)
        h[i] = nv[i] + z[i] * (hp[i] - nv[i]);
}

/* reset before, from dh: dz (before σ') and dn (of n's pre-activation) */
SEQCLS_CLONE_INLINE void grad_span(const real *restrict z, const real *restrict nv,
                                   const real *restrict hp, const real *restrict dh,
                                   real *restrict dz, real *restrict dn, int k, int n)
{
    int i;
    for (i = k; i < k + n; i++) {
        dz[i] = dh[i] * (hp[i] - nv[i]);
        dn[i] = dh[i] * (1 - z[i]) * (1 - nv[i] * nv[i]);
    }
}

/* reset after, in place over a row's gates [r | z | n]: their values in,
 * the gradients of their pre-activations out (flushed below 1e-30), each
 * unit's values read before they are written; dzh gets dr, dz and the
 * gradient of hn = W_hn h + b_hn, and dh becomes z ⊙ dh when the row had a
 * previous state (`carry`). */
SEQCLS_CLONE_INLINE void reset_after_grad_span(rnn_slope_t act, int carry, real *restrict r,
                                               real *restrict z, real *restrict nv,
                                               const real *restrict hn,
                                               const real *restrict hp, real *restrict dh,
                                               real *restrict hr, real *restrict hz,
                                               real *restrict hnn, int k, int n)
{
    int i;
    for (i = k; i < k + n; i++) {
        const real vr = r[i], vz = z[i], vn = nv[i], d = dh[i];
        const real dn = rnn_flush1(d * (1 - vz) * (1 - vn * vn));
        const real dz = rnn_flush1(d * (hp[i] - vn) * rnn_gate_slope(act, vz));
        const real dr = rnn_flush1(dn * hn[i] * rnn_gate_slope(act, vr));
        r[i] = hr[i] = dr;
        z[i] = hz[i] = dz;
        nv[i] = dn;
        hnn[i] = rnn_flush1(dn * vr);
        dh[i] = carry ? d * vz : d;
    }
}

/* reset before: dr (before σ') = d(r ⊙ h) ⊙ h, dh_{t-1} = z ⊙ dh + d(r ⊙ h) ⊙ r */
SEQCLS_CLONE_INLINE void reset_before_grad_span(const real *restrict r, const real *restrict z,
                                                const real *restrict hp, const real *restrict drh,
                                                real *restrict dr, real *restrict dh, int k, int n)
{
    int i;
    for (i = k; i < k + n; i++) {
        dr[i] = drh[i] * hp[i];
        dh[i] = dh[i] * z[i] + drh[i] * r[i];
    }
}

/* reset before with recurrent dropout: dr (before σ') = d(r ⊙ hm) ⊙ hm,
 * d/dhm = d(r ⊙ hm) ⊙ r (into drh), the direct path dh = z ⊙ dh */
SEQCLS_CLONE_INLINE void masked_before_grad_span(const real *restrict r, const real *restrict z,
                                                 const real *restrict hm, real *restrict drh,
                                                 real *restrict dr, real *restrict dh, int k, int n)
{
    int i;
    for (i = k; i < k + n; i++) {
        dr[i] = drh[i] * hm[i];
        drh[i] *= r[i];
        dh[i] *= z[i];
    }
}

/* dh += g ⊙ mask */
SEQCLS_CLONE_INLINE void mask_add_span(real *restrict dh, const real *restrict g,
                                       const real *restrict mask, int k, int n)
{
    int i;
    for (i = k; i < k + n; i++)
        dh[i] += g[i] * mask[i];
}

/* r and z of row j: the recurrent part (rows < np; the others have h = 0),
 * then the gate activation; b_hr and b_hz are already in (folded). */
SEQCLS_CLONE_INLINE void gru_rz(rnn_step_t *s, int j)
{
    const int H = s->H;
    real *a = s->gates + (size_t)j * 3 * H;
    if (j < s->np)
        RNN_SPANS(2 * H, add_span, a, s->scratch + (size_t)j * 3 * H);
    rnn_gate(s->act, s->quick, a, 2 * (size_t)H);
}

/* n = tanh(n's pre-activation, complete in the gates), then h'. */
SEQCLS_CLONE_INLINE void gru_update(rnn_step_t *s, int j)
{
    const int H = s->H;
    real *a = s->gates + (size_t)j * 3 * H;
    const real *hp = j < s->np ? s->h_prev + (size_t)j * H : s->zero;
    rnn_tanh(s->quick, a + 2 * H, (size_t)H);
    RNN_SPANS(H, update_span, s->h + (size_t)j * H, a + H, a + 2 * H, hp);
}

SEQCLS_VECTORISED
static void gru_forward(rnn_step_t *s)
{
    const int H = s->H, GH = 3 * H;
    int j;
    if (s->np > 0 && s->hq[0])
        rnn_qproduct(s, 0, s->np, s->hm_prev, H, s->scratch, GH);
    else if (s->np > 0)
        pgemm(s->np, GH, H, s->hm_prev, H, s->Wp, 0, NULL, s->scratch, GH);
    for (j = 0; j < s->nb; j++) {
        real *a = s->gates + (size_t)j * GH;
        const real *zh_n = j < s->np ? s->scratch + (size_t)j * GH + 2 * H : s->zero;
        gru_rz(s, j);
        RNN_SPANS(H, reset_after_span, a + 2 * H, s->aux + (size_t)j * H, a, s->b_hh + 2 * H,
                  zh_n);
        gru_update(s, j);
    }
}

SEQCLS_VECTORISED
static void gru_before_forward(rnn_step_t *s)
{
    const int H = s->H, GH = 3 * H;
    int j;
    if (s->np > 0 && s->hq[0])
        rnn_qproduct(s, 0, s->np, s->hm_prev, H, s->scratch, GH);
    else if (s->np > 0)
        pgemm(s->np, 2 * H, H, s->hm_prev, H, s->Wp, 0, NULL, s->scratch, GH);
    for (j = 0; j < s->nb; j++) {
        const real *hp = j < s->np ? s->hm_prev + (size_t)j * H : s->zero;
        gru_rz(s, j);
        RNN_SPANS(H, mul_span, s->aux + (size_t)j * H, s->gates + (size_t)j * GH, hp);
    }
    /* W_hn (r ⊙ h) for the rows with a previous state, into scratch's n
     * columns; b_hn is already in (folded) */
    if (s->np > 0 && s->hq[1])
        rnn_qproduct(s, 1, s->np, s->aux, H, s->scratch + 2 * H, GH);
    else if (s->np > 0)
        pgemm(s->np, H, H, s->aux, H, s->Wp2, 0, NULL, s->scratch + 2 * H, GH);
    for (j = 0; j < s->nb; j++) {
        if (j < s->np)
            RNN_SPANS(H, add_span, s->gates + (size_t)j * GH + 2 * H,
                      s->scratch + (size_t)j * GH + 2 * H);
        gru_update(s, j);
    }
}

/* reset before: dz and dn of row j from dh, into its z and n parts of dzx;
 * dz gets σ' here. */
SEQCLS_CLONE_INLINE void gru_dz_dn(rnn_step_t *s, int j)
{
    const int H = s->H;
    const real *a = s->gates + (size_t)j * 3 * H;
    const real *hp = j < s->np ? s->h_prev + (size_t)j * H : s->zero;
    real *dz = s->dzx + (size_t)j * 3 * H + H;
    RNN_SPANS(H, grad_span, a + H, a + 2 * H, hp, s->dh + (size_t)j * H, dz, dz + H);
    rnn_gate_backward(s->act, a + H, dz, (size_t)H);
}

SEQCLS_VECTORISED
static void gru_backward(rnn_step_t *s)
{
    const int H = s->H, GH = 3 * H;
    const rnn_slope_t slope = rnn_slope_of(s->act);
    int j;
    /* dzx is the gates (rnn_gru_cell.dz_in_gates): the gradients replace
     * the values */
    for (j = 0; j < s->nb; j++) {
        real *a = s->dzx + (size_t)j * GH, *dzh = s->dzh + (size_t)j * GH;
        const real *hp = j < s->np ? s->h_prev + (size_t)j * H : s->zero;
        RNN_SPANS(H, reset_after_grad_span, slope, j < s->np, a, a + H, a + 2 * H,
                  s->aux + (size_t)j * H, hp, s->dh + (size_t)j * H, dzh, dzh + H, dzh + 2 * H);
    }
    /* d/dh_{t-1} = z ⊙ dh + dzh W_hh (through the recurrent dropout mask, if any) */
    if (s->np > 0 && !s->rmask)
        pgemm(s->np, H, GH, s->dzh, GH, s->Wp, 1, NULL, s->dh, H);
    if (s->np > 0 && s->rmask) {
        pgemm(s->np, H, GH, s->dzh, GH, s->Wp, 0, NULL, s->scratch, H);
        RNN_SPANS((int)((size_t)s->np * H), mask_add_span, s->dh, s->scratch, s->rmask);
    }
}

SEQCLS_VECTORISED
static void gru_before_backward(rnn_step_t *s)
{
    const int H = s->H, GH = 3 * H;
    real *drh = s->scratch;   /* [np, H]: d(r ⊙ h) */
    int j;
    for (j = 0; j < s->nb; j++) {
        gru_dz_dn(s, j);
        rnn_flush_tiny(s->dzx + (size_t)j * GH + H, 2 * (size_t)H);
    }
    if (s->np > 0)
        pgemm(s->np, H, H, s->dzx + 2 * H, GH, s->Wp2, 0, NULL, drh, H);
    for (j = 0; j < s->nb; j++) {
        const real *a = s->gates + (size_t)j * GH;
        real *dr = s->dzx + (size_t)j * GH;
        if (j < s->np && !s->rmask) {
            RNN_SPANS(H, reset_before_grad_span, a, a + H, s->h_prev + (size_t)j * H,
                      drh + (size_t)j * H, dr, s->dh + (size_t)j * H);
        } else if (j < s->np) {
            /* recurrent dropout: the products saw hm = mask ⊙ h; drh becomes
             * d/dhm through r, dh keeps the direct z ⊙ dh */
            RNN_SPANS(H, masked_before_grad_span, a, a + H, s->hm_prev + (size_t)j * H,
                      drh + (size_t)j * H, dr, s->dh + (size_t)j * H);
        } else {
            memset(dr, 0, (size_t)H * sizeof(real));   /* h = 0: r had no effect */
            continue;
        }
        rnn_gate_backward(s->act, a, dr, (size_t)H);
        rnn_flush_tiny(dr, (size_t)H);
    }
    /* d/dh_{t-1} += [dr | dz] W_h[rz] (with recurrent dropout: d/dhm, then
     * through the mask) */
    if (s->np > 0 && !s->rmask)
        pgemm(s->np, H, 2 * H, s->dzx, GH, s->Wp, 1, NULL, s->dh, H);
    if (s->np > 0 && s->rmask) {
        pgemm(s->np, H, 2 * H, s->dzx, GH, s->Wp, 1, NULL, drh, H);
        RNN_SPANS((int)((size_t)s->np * H), mask_add_span, s->dh, drh, s->rmask);
    }
}

/* PyTorch's and Keras' reset_after=True: r multiplies W_hn h + b_hn. */
const rnn_cell_t rnn_gru_cell = {
    .gates = 3,          /* r z n */
    .aux = 1,            /* W_hn h + b_hn */
    .split_dzh = 1,      /* dz of n differs between the input and the recurrent side */
    .dzh_shared = 2,     /* r and z: the same on both sides */
    .aux_gate = 3,       /* every gate multiplies h_prev */
    .folded = 2,         /* b_hh of r and z is added with the input projection, not n's */
    .dz_in_gates = 1,
    .xh = 0,
    .forward = gru_forward,
    .backward = gru_backward,
};
/* Keras' reset_after=False: n = tanh(W_in x + b_in + W_hn (r * h) + b_hn). */
const rnn_cell_t rnn_gru_reset_before_cell = {
    .gates = 3,
    .aux = 1,            /* r * h_prev */
    .split_dzh = 0,
    .aux_gate = 2,       /* W_hn multiplies r * h_prev, not h_prev */
    .folded = 3,
    .dz_in_gates = 0,
    .xh = 0,
    .forward = gru_before_forward,
    .backward = gru_before_backward,
};

static int gru_rebuild(seqcls_model_t *m, const layer_t *c)
{
    return seqcls_add_gru(m, c->units, c->flags, NULL);
}

/* .impl is the default cell; SEQCLS_GRU_RESET_BEFORE picks the other. */
const layer_ops_t seqcls__gru_ops =
    RNN_LAYER_OPS(SEQCLS_LAYER_GRU, "gru", gru_rebuild, &rnn_gru_cell);

int seqcls_add_gru(seqcls_model_t *m, int hidden, unsigned flags, int *layer)
{
    return rnn_add(m, "seqcls_add_gru", &seqcls__gru_ops, hidden, flags,
                   SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES | SEQCLS_MERGE_SUM |
                       SEQCLS_MERGE_AVE | SEQCLS_MERGE_MUL |
                       SEQCLS_GRU_RESET_BEFORE,
                   layer);
}
