/*
 * lstm.c -- the LSTM cell, gates in rows [i | f | g | o] as PyTorch:
 *
 *     z   = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh
 *     c_t = σ(z_f) ⊙ c_{t-1} + σ(z_i) ⊙ tanh(z_g)
 *     h_t = σ(z_o) ⊙ tanh(c_t)
 *
 * σ is the layer's recurrent activation (sigmoid unless set otherwise).
 * The driver (recurrent.c) has already put W_ih x_t + b_ih + b_hh in the
 * gates.
 * Per row, aux keeps [c_t | tanh(c_t)].
 */
#include "internal.h"

#include <string.h>

/* Elementwise spans of one row, [k, k + n) of each gate (see RNN_SPANS);
 * restrict lets -O2 vectorise without run-time overlap checks. */

/* c = f c_prev + i g, and a copy to take tanh of */
static inline void cell_span(const real *restrict gi, const real *restrict gf,
                             const real *restrict gg, const real *restrict c_prev,
                             real *restrict c, real *restrict tc, int k, int n)
{
    int i;
    for (i = k; i < k + n; i++)
        tc[i] = c[i] = gf[i] * c_prev[i] + gi[i] * gg[i];
}

static inline void mul_span(real *restrict h, const real *restrict a, const real *restrict b,
                            int k, int n)
{
    int i;
    for (i = k; i < k + n; i++)
        h[i] = a[i] * b[i];
}

/* the gradients of the four gates' values (before their activations'
 * derivatives) and of c_{t-1} */
static inline void grad_span(const real *restrict gi, const real *restrict gf,
                             const real *restrict gg, const real *restrict go,
                             const real *restrict tc, const real *restrict c_prev,
                             const real *restrict dh, real *restrict dc, real *restrict di,
                             real *restrict df, real *restrict dg, real *restrict dout, int k,
                             int n)
{
    int i;
    for (i = k; i < k + n; i++) {
        const real dci = dc[i] + dh[i] * go[i] * (1 - tc[i] * tc[i]);
        dout[i] = dh[i] * tc[i];
        di[i] = dci * gg[i];
        df[i] = dci * c_prev[i];
        dg[i] = dci * gi[i] * (1 - gg[i] * gg[i]);
        dc[i] = dci * gf[i];   /* d/dc_{t-1} */
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
        rnn_gate(s->act, gi, 2 * (size_t)H);   /* i and f */
        rnn_tanh(gg, (size_t)H);
        rnn_gate(s->act, go, (size_t)H);
        RNN_SPANS(H, cell_span, gi, gf, gg, c_prev, c, tc);
        rnn_tanh(tc, (size_t)H);
        RNN_SPANS(H, mul_span, h, go, tc);
    }
}

SEQCLS_VECTORISED
static void lstm_backward(rnn_step_t *s)
{
    const int H = s->H, GH = 4 * H;
    int j;
    for (j = 0; j < s->nb; j++) {
        const real *a = s->gates + (size_t)j * GH;
        const real *tc = s->aux + (size_t)j * 2 * H + H;
        const real *c_prev = j < s->np ? s->aux_prev + (size_t)j * 2 * H : s->zero;
        real *dz = s->scratch;   /* then over the row's gate values (dz_in_gates) */
        RNN_SPANS(H, grad_span, a, a + H, a + 2 * H, a + 3 * H, tc, c_prev, s->dh + (size_t)j * H,
                  s->dc + (size_t)j * H, dz, dz + H, dz + 2 * H, dz + 3 * H);
        rnn_gate_backward(s->act, a, dz, 2 * (size_t)H);   /* i and f */
        rnn_gate_backward(s->act, a + 3 * H, dz + 3 * H, (size_t)H);
        rnn_flush_tiny(dz, (size_t)GH);
        memcpy(s->dzx + (size_t)j * GH, dz, (size_t)GH * sizeof(real));
    }
    /* d/dh_{t-1} = dz W_hh, for the rows that had a previous state */
    if (s->np > 0)
        pgemm(s->np, H, GH, s->dzx, GH, s->Wp, 0, NULL, s->dh, H);
}

const rnn_cell_t rnn_lstm_cell = {4, 2, 0, 4, 4, 1, 1, lstm_forward, lstm_backward};

const layer_ops_t seqcls__lstm_ops = {
    LAYER_LSTM, "lstm", rnn_forward, rnn_backward, rnn_set_int, rnn_set_float, NULL,
};

int seqcls_add_lstm(seqcls_model_t *m, int hidden, unsigned flags, int *layer)
{
    return rnn_add(m, "seqcls_add_lstm", &seqcls__lstm_ops, hidden, flags,
                   SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES | SEQCLS_MERGE_SUM, layer);
}
