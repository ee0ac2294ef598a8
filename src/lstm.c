/*
 * lstm.c -- the LSTM cell, gates in rows [i | f | g | o] as PyTorch:
 *
 *     z   = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh
 *     c_t = σ(z_f) ⊙ c_{t-1} + σ(z_i) ⊙ tanh(z_g)
 *     h_t = σ(z_o) ⊙ tanh(c_t)
 *
 * σ is the layer's recurrent activation (sigmoid unless set otherwise).
 * The driver (recurrent.c) has already put W_ih x_t + b_ih in the gates.
 * Per row, aux keeps [c_t | tanh(c_t)].
 */
#include "internal.h"

static void lstm_forward(rnn_step_t *s)
{
    const int H = s->H, GH = 4 * H;
    int j, k;
    if (s->np > 0)
        blas_gemm(0, 1, s->np, GH, H, 1, s->h_prev, H, s->W_hh, H, 0, s->scratch, GH);
    for (j = 0; j < s->nb; j++) {
        real *a = s->gates + (size_t)j * GH;
        real *gi = a, *gf = a + H, *gg = a + 2 * H, *go = a + 3 * H;
        real *c = s->aux + (size_t)j * 2 * H, *tc = c + H, *h = s->h + (size_t)j * H;
        const real *c_prev = j < s->np ? s->aux_prev + (size_t)j * 2 * H : s->zero;
        if (j < s->np) {
            const real *zh = s->scratch + (size_t)j * GH;
            for (k = 0; k < GH; k++)
                a[k] += zh[k];
        }
        for (k = 0; k < GH; k++)
            a[k] += s->b_hh[k];
        rnn_gate(s->act, gi, 2 * (size_t)H);   /* i and f */
        rnn_tanh(gg, (size_t)H);
        rnn_gate(s->act, go, (size_t)H);
        for (k = 0; k < H; k++)
            tc[k] = c[k] = gf[k] * c_prev[k] + gi[k] * gg[k];
        rnn_tanh(tc, (size_t)H);
        for (k = 0; k < H; k++)
            h[k] = go[k] * tc[k];
    }
}

static void lstm_backward(rnn_step_t *s)
{
    const int H = s->H, GH = 4 * H;
    int j, k;
    for (j = 0; j < s->nb; j++) {
        const real *a = s->gates + (size_t)j * GH;
        const real *gi = a, *gf = a + H, *gg = a + 2 * H, *go = a + 3 * H;
        const real *tc = s->aux + (size_t)j * 2 * H + H;
        const real *c_prev = j < s->np ? s->aux_prev + (size_t)j * 2 * H : s->zero;
        real *dh = s->dh + (size_t)j * H, *dc = s->dc + (size_t)j * H;
        real *dz = s->dzx + (size_t)j * GH;
        real *di = dz, *df = dz + H, *dg = dz + 2 * H, *dout = dz + 3 * H;
        for (k = 0; k < H; k++) {
            dout[k] = dh[k] * tc[k];
            dc[k] += dh[k] * go[k] * (1 - tc[k] * tc[k]);
            di[k] = dc[k] * gg[k];
            df[k] = dc[k] * c_prev[k];
            dg[k] = dc[k] * gi[k] * (1 - gg[k] * gg[k]);
            dc[k] *= gf[k];   /* now d/dc_{t-1} */
        }
        act_backward(s->act, gi, di, 2 * (size_t)H);   /* i and f */
        act_backward(s->act, go, dout, (size_t)H);
        rnn_flush_tiny(dz, (size_t)GH);
    }
    /* d/dh_{t-1} = dz W_hh, for the rows that had a previous state */
    if (s->np > 0)
        blas_gemm(0, 0, s->np, H, GH, 1, s->dzx, GH, s->W_hh, H, 0, s->dh, H);
}

const rnn_cell_t rnn_lstm_cell = {4, 2, 0, 4, lstm_forward, lstm_backward};

const layer_ops_t seqcls__lstm_ops = {
    LAYER_LSTM, "lstm", rnn_forward, rnn_backward, rnn_set_int, rnn_set_float, NULL,
};

int seqcls_add_lstm(seqcls_model_t *m, int hidden, unsigned flags, int *layer)
{
    return rnn_add(m, "seqcls_add_lstm", &seqcls__lstm_ops, hidden, flags,
                   SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES | SEQCLS_MERGE_SUM, layer);
}
