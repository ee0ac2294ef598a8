/*
 * gru.c -- the GRU cell, gates in rows [r | z | n] as PyTorch:
 *
 *     r  = σ(W_ir x + b_ir + W_hr h + b_hr)
 *     z  = σ(W_iz x + b_iz + W_hz h + b_hz)
 *     n  = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))        reset after (default)
 *     n  = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn)        reset before (Keras reset_after=False)
 *     h' = (1 − z) ⊙ n + z ⊙ h
 *
 * σ is the layer's recurrent activation.  The driver (recurrent.c) has
 * already put W_ih x + b_ih in the gates.  Per row, aux keeps
 * W_hn h + b_hn (reset after) or r ⊙ h (reset before).
 */
#include "internal.h"

/* r and z from the gates' input part, the recurrent part in scratch
 * (rows < np; the others have h = 0) and the bias. */
static void gru_rz(rnn_step_t *s, int j)
{
    const int H = s->H;
    real *a = s->gates + (size_t)j * 3 * H;
    int k;
    if (j < s->np) {
        const real *zh = s->scratch + (size_t)j * 3 * H;
        for (k = 0; k < 2 * H; k++)
            a[k] += zh[k];
    }
    for (k = 0; k < 2 * H; k++)
        a[k] += s->b_hh[k];
    rnn_gate(s->act, a, 2 * (size_t)H);
}

/* n = tanh(n's pre-activation, already in the gates), then h' = n + z (h - n). */
static void gru_update(rnn_step_t *s, int j)
{
    const int H = s->H;
    real *a = s->gates + (size_t)j * 3 * H, *z = a + H, *n = a + 2 * H;
    const real *hp = j < s->np ? s->h_prev + (size_t)j * H : s->zero;
    real *h = s->h + (size_t)j * H;
    int k;
    rnn_tanh(n, (size_t)H);
    for (k = 0; k < H; k++)
        h[k] = n[k] + z[k] * (hp[k] - n[k]);
}

static void gru_forward(rnn_step_t *s)
{
    const int H = s->H, GH = 3 * H;
    int j, k;
    if (s->np > 0)
        blas_gemm(0, 1, s->np, GH, H, 1, s->h_prev, H, s->W_hh, H, 0, s->scratch, GH);
    for (j = 0; j < s->nb; j++) {
        real *r = s->gates + (size_t)j * GH, *n = r + 2 * H;
        real *hn = s->aux + (size_t)j * H;
        gru_rz(s, j);
        for (k = 0; k < H; k++)
            hn[k] = s->b_hh[2 * H + k];
        if (j < s->np)
            for (k = 0; k < H; k++)
                hn[k] += s->scratch[(size_t)j * GH + 2 * H + k];
        for (k = 0; k < H; k++)
            n[k] += r[k] * hn[k];
        gru_update(s, j);
    }
}

static void gru_before_forward(rnn_step_t *s)
{
    const int H = s->H, GH = 3 * H;
    int j, k;
    if (s->np > 0)
        blas_gemm(0, 1, s->np, 2 * H, H, 1, s->h_prev, H, s->W_hh, H, 0, s->scratch, GH);
    for (j = 0; j < s->nb; j++) {
        const real *r = s->gates + (size_t)j * GH;
        const real *hp = j < s->np ? s->h_prev + (size_t)j * H : s->zero;
        real *rh = s->aux + (size_t)j * H;
        gru_rz(s, j);
        for (k = 0; k < H; k++)
            rh[k] = r[k] * hp[k];
    }
    /* W_hn (r ⊙ h) for the rows with a previous state, into scratch's n columns */
    if (s->np > 0)
        blas_gemm(0, 1, s->np, H, H, 1, s->aux, H, s->W_hh + (size_t)2 * H * H, H, 0,
                  s->scratch + 2 * H, GH);
    for (j = 0; j < s->nb; j++) {
        real *n = s->gates + (size_t)j * GH + 2 * H;
        if (j < s->np)
            for (k = 0; k < H; k++)
                n[k] += s->scratch[(size_t)j * GH + 2 * H + k];
        for (k = 0; k < H; k++)
            n[k] += s->b_hh[2 * H + k];
        gru_update(s, j);
    }
}

/* dz and dn (the gradient of n's pre-activation) of row j, from dh. */
static void gru_dz_dn(rnn_step_t *s, int j)
{
    const int H = s->H;
    const real *a = s->gates + (size_t)j * 3 * H, *z = a + H, *n = a + 2 * H;
    const real *hp = j < s->np ? s->h_prev + (size_t)j * H : s->zero;
    const real *dh = s->dh + (size_t)j * H;
    real *dz = s->dzx + (size_t)j * 3 * H + H, *dn = dz + H;
    int k;
    for (k = 0; k < H; k++) {
        dz[k] = dh[k] * (hp[k] - n[k]);
        dn[k] = dh[k] * (1 - z[k]) * (1 - n[k] * n[k]);
    }
    act_backward(s->act, z, dz, (size_t)H);
}

static void gru_backward(rnn_step_t *s)
{
    const int H = s->H, GH = 3 * H;
    int j, k;
    for (j = 0; j < s->nb; j++) {
        const real *r = s->gates + (size_t)j * GH, *z = r + H;
        const real *hn = s->aux + (size_t)j * H;
        real *dzx = s->dzx + (size_t)j * GH, *dzh = s->dzh + (size_t)j * GH;
        real *dh = s->dh + (size_t)j * H;
        gru_dz_dn(s, j);
        for (k = 0; k < H; k++) {
            dzx[k] = dzx[2 * H + k] * hn[k];        /* dr */
            dzh[2 * H + k] = dzx[2 * H + k] * r[k]; /* d(W_hn h + b_hn) */
        }
        act_backward(s->act, r, dzx, (size_t)H);
        rnn_flush_tiny(dzx, (size_t)GH);
        rnn_flush_tiny(dzh + 2 * H, (size_t)H);
        for (k = 0; k < 2 * H; k++)
            dzh[k] = dzx[k];
        if (j < s->np)
            for (k = 0; k < H; k++)
                dh[k] *= z[k];
    }
    /* d/dh_{t-1} = z ⊙ dh + dzh W_hh */
    if (s->np > 0)
        blas_gemm(0, 0, s->np, H, GH, 1, s->dzh, GH, s->W_hh, H, 1, s->dh, H);
}

static void gru_before_backward(rnn_step_t *s)
{
    const int H = s->H, GH = 3 * H;
    real *drh = s->scratch;   /* [np, H]: d(r ⊙ h) */
    int j, k;
    for (j = 0; j < s->nb; j++) {
        gru_dz_dn(s, j);
        rnn_flush_tiny(s->dzx + (size_t)j * GH + H, 2 * (size_t)H);
    }
    if (s->np > 0)
        blas_gemm(0, 0, s->np, H, H, 1, s->dzx + 2 * H, GH, s->W_hh + (size_t)2 * H * H, H, 0,
                  drh, H);
    for (j = 0; j < s->nb; j++) {
        const real *r = s->gates + (size_t)j * GH, *z = r + H;
        real *dr = s->dzx + (size_t)j * GH, *dh = s->dh + (size_t)j * H;
        if (j < s->np) {
            const real *hp = s->h_prev + (size_t)j * H, *d = drh + (size_t)j * H;
            for (k = 0; k < H; k++) {
                dr[k] = d[k] * hp[k];
                dh[k] = dh[k] * z[k] + d[k] * r[k];
            }
            act_backward(s->act, r, dr, (size_t)H);
            rnn_flush_tiny(dr, (size_t)H);
        } else {
            for (k = 0; k < H; k++)
                dr[k] = 0;
        }
    }
    /* d/dh_{t-1} += [dr | dz] W_h[rz] */
    if (s->np > 0)
        blas_gemm(0, 0, s->np, H, 2 * H, 1, s->dzx, GH, s->W_hh, H, 1, s->dh, H);
}

const rnn_cell_t rnn_gru_cell = {3, 1, 1, 3, gru_forward, gru_backward};
const rnn_cell_t rnn_gru_reset_before_cell = {3, 1, 0, 2, gru_before_forward,
                                              gru_before_backward};

const layer_ops_t seqcls__gru_ops = {
    LAYER_GRU, "gru", rnn_forward, rnn_backward, rnn_set_int, rnn_set_float, NULL,
};

int seqcls_add_gru(seqcls_model_t *m, int hidden, unsigned flags, int *layer)
{
    return rnn_add(m, "seqcls_add_gru", &seqcls__gru_ops, hidden, flags,
                   SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES | SEQCLS_MERGE_SUM |
                       SEQCLS_GRU_RESET_BEFORE,
                   layer);
}
