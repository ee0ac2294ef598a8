/*
 * lstm.c -- the LSTM cell, gates in rows [i | f | g | o] as PyTorch:
 *
 *     z   = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh
 *     c_t = σ(z_f) ⊙ c_{t-1} + σ(z_i) ⊙ tanh(z_g)
 *     h_t = σ(z_o) ⊙ tanh(c_t)
 *
 * σ is the layer's recurrent activation (sigmoid unless set otherwise).
 * The driver (recurrent.c) has already put all of z in the gates
 * (rnn_lstm_cell.xh), with h_{t-1} through the recurrent dropout mask
 * when there is one.  Per row, aux keeps [c_t | tanh(c_t)]; backward
 * writes the gate gradients over the gate values (dz_in_gates).
 */
#include "internal.h"

/* Elementwise spans of one row, [k, k + n) of each gate (see RNN_SPANS);
 * restrict lets -O2 vectorise without run-time overlap checks. */

/* c = f c_prev + i g, and a copy to take tanh of */
SEQCLS_CLONE_INLINE void cell_span(const real *restrict gi, const real *restrict gf,
                                   const real *restrict gg, const real *restrict c_prev,
                                   real *restrict c, real *restrict tc, int k, int n)
{
    int i;
    for (i = k; i < k + n; i++)
        tc[i] = c[i] = gf[i] * c_prev[i] + gi[i] * gg[i];
}

SEQCLS_CLONE_INLINE void mul_span(real *restrict h, const real *restrict a, const real *restrict b,
                                  int k, int n)
{
    int i;
    for (i = k; i < k + n; i++)
        h[i] = a[i] * b[i];
}

/* x *= mask */
SEQCLS_CLONE_INLINE void mask_span(real *restrict x, const real *restrict mask, int k, int n)
{
    int i;
    for (i = k; i < k + n; i++)
        x[i] *= mask[i];
}

/* In place over a row's four gates: their values in, the gradients of
 * their pre-activations out (flushed below 1e-30), and dc to d/dc_{t-1};
 * each unit's values are read before they are written. */
SEQCLS_CLONE_INLINE void grad_span(rnn_slope_t act, real *restrict gi, real *restrict gf,
                                   real *restrict gg, real *restrict go,
                                   const real *restrict tc,
                                   const real *restrict c_prev, const real *restrict dh,
                                   real *restrict dc, int k, int n)
{
    int i;
    for (i = k; i < k + n; i++) {
        const real vi = gi[i], vf = gf[i], vg = gg[i], vo = go[i];
        const real dci = dc[i] + dh[i] * vo * (1 - tc[i] * tc[i]);
        gi[i] = rnn_flush1(dci * vg * rnn_gate_slope(act, vi));
        gf[i] = rnn_flush1(dci * c_prev[i] * rnn_gate_slope(act, vf));
        gg[i] = rnn_flush1(dci * vi * (1 - vg * vg));
        go[i] = rnn_flush1(dh[i] * tc[i] * rnn_gate_slope(act, vo));
        dc[i] = dci * vf;
    }
}

SEQCLS_VECTORISED
static void lstm_forward(rnn_step_t *s)
{
    const int H = s->H, GH = 4 * H;
    int j;
    /* the gates are complete: x W_ih^T + h_prev W_hh^T + biases (rnn_lstm_cell.xh) */
    for (j = 0; j < s->nb; j++) {
        real *a = s->gates + (size_t)j * GH;
        real *gi = a, *gf = a + H, *gg = a + 2 * H, *go = a + 3 * H;
        real *c = s->aux + (size_t)j * 2 * H, *tc = c + H, *h = s->h + (size_t)j * H;
        const real *c_prev = j < s->np ? s->aux_prev + (size_t)j * 2 * H : s->zero;
        rnn_gate(s->act, s->quick, gi, 2 * (size_t)H);   /* i and f */
        rnn_tanh(s->quick, gg, (size_t)H);
        rnn_gate(s->act, s->quick, go, (size_t)H);
        RNN_SPANS(H, cell_span, gi, gf, gg, c_prev, c, tc);
        rnn_tanh(s->quick, tc, (size_t)H);
        RNN_SPANS(H, mul_span, h, go, tc);
    }
}

SEQCLS_VECTORISED
static void lstm_backward(rnn_step_t *s)
{
    const int H = s->H, GH = 4 * H;
    const rnn_slope_t slope = rnn_slope_of(s->act);
    int j;
    /* dzx is the gates (rnn_lstm_cell.dz_in_gates): the gradients replace
     * the values */
    for (j = 0; j < s->nb; j++) {
        real *a = s->dzx + (size_t)j * GH;
        const real *tc = s->aux + (size_t)j * 2 * H + H;
        const real *c_prev = j < s->np ? s->aux_prev + (size_t)j * 2 * H : s->zero;
        RNN_SPANS(H, grad_span, slope, a, a + H, a + 2 * H, a + 3 * H, tc, c_prev,
                  s->dh + (size_t)j * H, s->dc + (size_t)j * H);
    }
    /* d/dh_{t-1} = dz W_hh, for the rows that had a previous state
     * (through the recurrent dropout mask, if any) */
    if (s->np > 0) {
        pgemm(s->np, H, GH, s->dzx, GH, s->Wp, 0, NULL, s->dh, H);
        if (s->rmask)
            RNN_SPANS((int)((size_t)s->np * H), mask_span, s->dh, s->rmask);
    }
}

const rnn_cell_t rnn_lstm_cell = {
    .gates = 4,          /* i f g o */
    .aux = 2,            /* c_t and tanh(c_t) */
    .split_dzh = 0,
    .aux_gate = 4,       /* every gate multiplies h_prev */
    .folded = 4,         /* b_hh of every gate is added with the input projection */
    .dz_in_gates = 1,
    .xh = 1,
    .forward = lstm_forward,
    .backward = lstm_backward,
};

static int lstm_rebuild(seqcls_model_t *m, const layer_t *c)
{
    return seqcls_add_lstm(m, c->units, c->flags, NULL);
}

const layer_ops_t seqcls__lstm_ops =
    RNN_LAYER_OPS(SEQCLS_LAYER_LSTM, "lstm", lstm_rebuild, &rnn_lstm_cell);

int seqcls_add_lstm(seqcls_model_t *m, int hidden, unsigned flags, int *layer)
{
    return rnn_add(m, "seqcls_add_lstm", &seqcls__lstm_ops, hidden, flags,
                   SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES | SEQCLS_MERGE_SUM |
                       SEQCLS_MERGE_AVE | SEQCLS_MERGE_MUL, layer);
}
