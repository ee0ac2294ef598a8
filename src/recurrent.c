/*
 * recurrent.c -- the driver shared by the LSTM and GRU layers: everything
 * but the per-step cell math (lstm.c, gru.c).
 *
 * Layout.  The batch is sorted by length (descending, stable) and packed
 * time-major: step t holds the nb[t] rows still active, which are a
 * prefix of the sorted order, at packed rows [off[t], off[t] + nb[t]).
 * Padding steps are simply absent, so they cost nothing and influence
 * nothing.  As with PyTorch's packed sequences, a row's forward direction
 * ends at its last valid step and its backward direction starts there.
 *
 * Speed.  The weights are packed once per call for seqcls's own kernels
 * (pgemm.c).  Each step, on its active rows only, projects its inputs and
 * adds h_prev W_hh^T (one pass for the LSTM, pgemm2), then runs the cell's
 * vectorised elementwise math; training keeps every step's gate values,
 * inference only the states.  Backward writes the gate gradients of all
 * steps (over the gate values where the cell allows), then computes dX,
 * dW_ih, dW_hh and the bias sums in one pass over them, a block of rows
 * at a time (weight_grads).  Buffers live in the layer's workspace and
 * are reused from call to call.
 */
#include "internal.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

enum {
    WS_META = WS_PRIVATE, /* masked flag, perm[B], nb[T + 1], off[T + 1] */
    WS_XP,                /* packed inputs [N, in] (dropout applied) */
    WS_MASK,              /* input dropout mask [B, in] */
    WS_GATES,             /* [dirs][N, G*H] gate values ([dirs][B, G*H] when inferring) */
    WS_H,                 /* [dirs][N, H] states */
    WS_AUX,               /* [dirs][N, A*H] cell values kept for backward ([dirs][2][B, A*H]) */
    WS_STEP,              /* per-step scratch [dirs][B, G*H], a zero row, a bias row per dir */
    WS_FIN,               /* final states [B, dirs*H] */
    WS_DZX,               /* [N, G*H] gate gradients of one direction */
    WS_DZH,               /* [N, G*H] the same for W_hh when they differ */
    WS_CARRY,             /* dh, dc [2][B, H] carried from step to step */
    WS_DXP,               /* packed input gradient [N, in] */
    WS_WPACK,             /* [dirs] W_ih, W_hh packed for the running pass (pack_weights) */
    WS_WGRAD,             /* per part: gradient sums and packed blocks (weight_grads) */
    WS_MERGE,             /* ave/mul merges: the output gradient of each direction */
    WS_RMASK,             /* recurrent dropout: masks [dirs][B, H], by sorted rank */
    WS_HM,                /* recurrent dropout: masked states [dirs][N, H] */
    WS_QACT,              /* quantised layers: per direction, rows of x and of h, and scales */
    WS_RNN_END
};
_Static_assert(WS_RNN_END <= WS_SLOTS, "recurrent workspace slots exceed WS_SLOTS");

enum { MASKED_INPUT = 1, MASKED_RECURRENT = 2 };

/* Hidden sizes and weights above these are refused before allocating. */
#define MAX_HIDDEN (1 << 20)
#define MAX_WEIGHT ((int64_t)1 << 32)

/* The packing plan of one batch, and the sizes of the layer. */
typedef struct {
    int B, T, N, maxlen;
    int in, H, G, A, dirs, GH;
    int32_t *masked;              /* MASKED_* bits: which dropout masks the forward drew */
    int32_t *perm, *nb, *off;     /* sorted rank -> row; active rows and offset per step */
} pack_t;

#define MERGE_FLAGS (SEQCLS_MERGE_SUM | SEQCLS_MERGE_AVE | SEQCLS_MERGE_MUL)
/* How move_rows writes rows back (below): stored, or merged into what is there. */
enum { MOVE_STORE, MOVE_ADD, MOVE_AVE, MOVE_MUL };

/* How a bidirectional layer merges its directions' outputs: MOVE_STORE
 * (concatenated) or MOVE_ADD / MOVE_AVE / MOVE_MUL. */
static int merge_mode(const layer_t *L)
{
    return (L->flags & SEQCLS_MERGE_SUM)   ? MOVE_ADD
           : (L->flags & SEQCLS_MERGE_AVE) ? MOVE_AVE
           : (L->flags & SEQCLS_MERGE_MUL) ? MOVE_MUL
                                           : MOVE_STORE;
}

/* The kind's cell (layer_ops_t.impl), or the GRU's reset-before variant. */
static const rnn_cell_t *cell_of(const layer_t *L)
{
    return (L->flags & SEQCLS_GRU_RESET_BEFORE) ? &rnn_gru_reset_before_cell : L->ops->impl;
}

static void pack_sizes(const layer_t *L, const value_t *in, pack_t *P)
{
    const rnn_cell_t *cell = cell_of(L);
    P->B = in->B;
    P->T = in->T;
    P->in = in->F;
    P->H = L->units;
    P->G = cell->gates;
    P->A = cell->aux;
    P->GH = P->G * P->H;
    P->dirs = (L->flags & SEQCLS_BIDIRECTIONAL) ? 2 : 1;
}

static void pack_attach(pack_t *P, int32_t *meta)
{
    int t;
    P->masked = meta;
    P->perm = meta + 1;
    P->nb = P->perm + P->B;
    P->off = P->nb + P->T + 1;
    P->N = P->off[P->T];
    for (t = 0; t < P->T && P->nb[t] > 0; t++)
        ;
    P->maxlen = t;
}

/* Sort the rows by length (a stable counting sort) and lay out the steps. */
static int pack_plan(const layer_t *L, workspace_t *ws, const value_t *in, pack_t *P,
                     const char *func)
{
    const int B = in->B, T = in->T;
    int32_t *meta, *perm, *nb, *pos;
    int64_t N = 0;
    int b, t;

    pack_sizes(L, in, P);
    meta = ws_get(ws, WS_META, seqcls__mul((size_t)B + 2 * ((size_t)T + 1) + 1, sizeof *meta));
    if (!meta)
        return SEQCLS_E_NOMEM;
    perm = meta + 1;
    nb = perm + B;
    pos = nb + T + 1;          /* the offsets array, used as sort positions first */
    memset(nb, 0, ((size_t)T + 1) * sizeof *nb);
    for (b = 0; b < B; b++) {
        if (in->len[b] > 0)
            nb[in->len[b] - 1]++;
        N += in->len[b];
    }
    for (t = T - 1; t >= 0; t--)
        nb[t] += nb[t + 1];    /* now nb[t] = rows with length > t */
    if (N > INT_MAX)   /* GEMM dimensions are ints */
        return seqcls__fail(SEQCLS_E_NOMEM, "%s: %lld valid steps in one batch are too many",
                            func, (long long)N);
    /* rows of length l go after the nb[l] rows that are longer */
    memcpy(pos, nb, ((size_t)T + 1) * sizeof *pos);
    for (b = 0; b < B; b++)
        perm[pos[in->len[b]]++] = b;
    pos[0] = 0;
    for (t = 0; t < T; t++)
        pos[t + 1] = pos[t] + nb[t];
    meta[0] = 0;
    pack_attach(P, meta);
    return SEQCLS_OK;
}

/* y += x, in fixed-size blocks that -O2 vectorises */
SEQCLS_VECTORISED
static void vec_add(real *restrict y, const real *restrict x, size_t n)
{
    size_t i = 0;
    int k;
    for (; i + RNN_BLOCK <= n; i += RNN_BLOCK)
        for (k = 0; k < RNN_BLOCK; k++)
            y[i + k] += x[i + k];
    for (; i < n; i++)
        y[i] += x[i];
}

/* ws_get for n reals, with the size overflow check. */
static real *ws_reals(workspace_t *ws, int slot, size_t n1, size_t n2)
{
    size_t n = seqcls__mul(n1, n2);
    if (n == SIZE_MAX || (n = seqcls__mul(n, sizeof(real))) == SIZE_MAX) {
        seqcls__fail(SEQCLS_E_NOMEM, "a recurrent workspace of %zu x %zu values is too large",
                     n1, n2);
        return NULL;
    }
    return ws_get(ws, slot, n);
}

/* Pointers of direction d at step t (rows [0, nb[t])) and of its previous step. */
static void step_rows(const pack_t *P, const rnn_cell_t *cell, int d, int t, real *gates,
                      real *h, real *aux, rnn_step_t *s)
{
    const size_t r = (size_t)P->off[t];
    int tp;
    s->nb = P->nb[t];
    s->gates = gates + r * P->GH;
    s->h = h + r * P->H;
    s->aux = aux + r * (size_t)cell->aux * P->H;
    /* the previous step: t - 1 going forward, t + 1 going backward in time */
    tp = d == 0 ? t - 1 : t + 1;
    if (tp < 0 || tp >= P->T) {
        s->np = 0;
        s->h_prev = s->aux_prev = NULL;
    } else {
        s->np = d == 0 ? P->nb[t] : P->nb[tp];
        s->h_prev = h + (size_t)P->off[tp] * P->H;
        s->aux_prev = aux + (size_t)P->off[tp] * cell->aux * P->H;
    }
}

/*
 * The weights of every direction packed for pgemm (pgemm.c), once per
 * call.  Forward: W_ih^T, the right operand of the input projection
 * X W_ih^T, and W_hh^T, that of the steps' h_prev W_hh^T.  Backward: W_ih
 * and W_hh, the right operands of dZ W_ih and dz W_hh.  The rows of the
 * gates at and above the cell's aux_gate multiply aux instead of h_prev
 * and are packed apart (hh[1]).
 */
typedef struct {
    const real *ih, *hh[2];
} packed_w_t;

static int pack_weights(const layer_t *L, const pack_t *P, const rnn_cell_t *cell,
                        workspace_t *ws, int backward, packed_w_t pw[2])
{
    const int H = P->H, rows0 = cell->aux_gate * H, rows1 = P->GH - rows0;
    const size_t len_ih = backward ? pgemm_packed_len(P->GH, P->in) : pgemm_packed_len(P->in, P->GH);
    const size_t len0 = backward ? pgemm_packed_len(rows0, H) : pgemm_packed_len(H, rows0);
    const size_t len1 = backward ? pgemm_packed_len(rows1, H) : pgemm_packed_len(H, rows1);
    const size_t per_dir = len_ih + len0 + len1;
    real *buf = ws_reals(ws, WS_WPACK, (size_t)P->dirs, per_dir);
    int d;
    if (!buf)
        return SEQCLS_E_NOMEM;
    for (d = 0; d < P->dirs; d++) {
        const real *W_ih = L->w[4 * d], *W_hh = L->w[4 * d + 1];
        real *ih = buf + (size_t)d * per_dir, *p0 = ih + len_ih, *p1 = p0 + len0;
        if (backward) {
            pgemm_pack(ih, W_ih, P->in, 0, P->GH, P->in);
            pgemm_pack(p0, W_hh, H, 0, rows0, H);
            pgemm_pack(p1, W_hh + (size_t)rows0 * H, H, 0, rows1, H);
        } else {
            pgemm_pack(ih, W_ih, P->in, 1, P->in, P->GH);
            pgemm_pack(p0, W_hh, H, 1, H, rows0);
            pgemm_pack(p1, W_hh + (size_t)rows0 * H, H, 1, H, rows1);
        }
        pw[d].ih = ih;
        pw[d].hh[0] = p0;
        pw[d].hh[1] = rows1 > 0 ? p1 : NULL;
    }
    return SEQCLS_OK;
}

/*
 * Moving rows between the caller's layout [B, T, F] and the packed one,
 * split over the pool by sorted rows (each row's steps are written by one
 * part).  Packed row (t, j) is step t of sequence perm[j].  `cols` values
 * go from column `col` of a [B, T, width] row (through the per-sequence
 * mask [B, cols] if given) to a packed [N, cols] row, or back; going back
 * they are stored (and the padding steps of the row zeroed) or merged
 * into what is there (`mode`: the second direction of a merged output).
 */

typedef struct {
    const pack_t *P;
    const int32_t *len;       /* the input's lengths [B] */
    real *seq;                /* [B, T, width] */
    real *packed;             /* [N, cols] */
    const real *mask;         /* [B, cols] or NULL */
    int width, col, cols, to_packed, mode;
} move_job_t;

static void move_part(void *arg, int part, int parts)
{
    const move_job_t *M = arg;
    const pack_t *P = M->P;
    const int j0 = (int)((int64_t)P->nb[0] * part / parts);
    const int j1 = (int)((int64_t)P->nb[0] * (part + 1) / parts);
    int j, t, k;
    for (j = j0; j < j1; j++) {
        const int b = P->perm[j], len = M->len[b];
        const real *mb = M->mask ? M->mask + (size_t)b * M->cols : NULL;
        for (t = 0; t < len; t++) {
            real *x = M->seq + ((size_t)b * P->T + t) * M->width + M->col;
            real *p = M->packed + ((size_t)P->off[t] + j) * M->cols;
            if (M->to_packed && mb)
                for (k = 0; k < M->cols; k++)
                    p[k] = x[k] * mb[k];
            else if (M->to_packed)
                memcpy(p, x, (size_t)M->cols * sizeof(real));
            else if (mb)
                for (k = 0; k < M->cols; k++)
                    x[k] = p[k] * mb[k];
            else if (M->mode == MOVE_ADD)
                for (k = 0; k < M->cols; k++)
                    x[k] += p[k];
            else if (M->mode == MOVE_AVE)   /* Keras' (forward + backward) / 2 */
                for (k = 0; k < M->cols; k++)
                    x[k] = (x[k] + p[k]) * (real)0.5;
            else if (M->mode == MOVE_MUL)
                for (k = 0; k < M->cols; k++)
                    x[k] *= p[k];
            else
                memcpy(x, p, (size_t)M->cols * sizeof(real));
        }
        if (!M->to_packed && M->mode == MOVE_STORE)
            for (; t < P->T; t++)
                memset(M->seq + ((size_t)b * P->T + t) * M->width + M->col, 0,
                       (size_t)M->cols * sizeof(real));
    }
}

static void move_rows(const pack_t *P, const int32_t *len, real *seq, int width, int col,
                      real *packed, int cols, const real *mask, int to_packed, int mode)
{
    move_job_t M;
    M.P = P;
    M.len = len;
    M.seq = seq;
    M.packed = packed;
    M.mask = mask;
    M.width = width;
    M.col = col;
    M.cols = cols;
    M.to_packed = to_packed;
    M.mode = mode;
    seqcls__parallel((size_t)P->B * P->T * cols >= 65536 ? seqcls__parallel_parts() : 1,
                     move_part, &M);
}

/*
 * Threads.  Each part of a parallel call owns a slice [cut[p], cut[p+1])
 * of the length-sorted rows for the whole sequence: its own per-step
 * GEMMs and cell math on its rows, with no synchronisation between steps
 * (a row's recurrence never reads another row).  Slices hold about equal
 * numbers of valid steps.  A row's arithmetic is the same in any slice
 * (pgemm computes a row of a product the same way whatever rows share
 * it), so outputs and dX do not depend on the number of threads; the
 * weight gradients are summed per part, then in part order, so they
 * differ across thread counts by rounding only.  Forward, the
 * two directions of a bidirectional layer also run side by side (each has
 * its own rows of the step scratch); backward they take turns, so that
 * one direction's gate gradients are all that is kept at a time.
 */
#define MAX_PARTS 65
#define SPLIT_MIN_FLOPS 2e6
/* Slices per thread when the batch allows, so that a thread that gets
 * less of a shared core takes fewer; but not below SLICE_MIN_ROWS rows
 * each, where the per-step products get too small to run well. */
#define OVERSPLIT 2
#define SLICE_MIN_ROWS 32

/* Is the layer big enough to be worth waking the pool (tens of microseconds)? */
static int worth_threads(const pack_t *P)
{
    return 2.0 * P->N * P->GH * (P->H + P->in) >= SPLIT_MIN_FLOPS;
}

/* Slices for `parts` threads (more if the batch allows); `threaded` says
 * whether there is more than one thread at all. */
static int plan_slices(const pack_t *P, int32_t *cut, int parts, int threaded)
{
    int p, j = 0;
    int64_t acc = 0;
    if (threaded && (int64_t)parts * OVERSPLIT * SLICE_MIN_ROWS <= P->nb[0])
        parts *= OVERSPLIT;
    if (parts > MAX_PARTS - 1)
        parts = MAX_PARTS - 1;
    if (parts > P->nb[0])
        parts = P->nb[0] > 0 ? P->nb[0] : 1;
    if (parts < 1 || !worth_threads(P))
        parts = 1;
    cut[0] = 0;
    for (p = 1; p < parts; p++) {
        const int64_t want = (int64_t)P->N * p / parts;
        /* rows are sorted by length: row j has length l with nb[l-1] > j >= nb[l] */
        while (j < P->nb[0] && acc < want) {
            int l = 0, lo = 0, hi = P->maxlen;
            while (lo < hi) {   /* the length of row j: the first l with nb[l] <= j */
                const int mid = (lo + hi) / 2;
                if (P->nb[mid] > j)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            l = lo;
            acc += l;
            j++;
        }
        cut[p] = j;
    }
    cut[parts] = P->nb[0];
    return parts;
}

/* Rows [j0, j1) of step t of direction d: step_rows narrowed to the slice.
 * Returns 0 if the slice has no active row at t. */
static int slice_rows(const pack_t *P, const rnn_cell_t *cell, int d, int t, real *gates,
                      real *h, real *aux, real *scratch, int j0, int j1, rnn_step_t *s)
{
    const int e = P->nb[t] < j1 ? P->nb[t] : j1;
    if (e <= j0)
        return 0;
    step_rows(P, cell, d, t, gates, h, aux, s);
    s->nb = e - j0;
    s->np = s->np - j0 < 0 ? 0 : s->np - j0 > s->nb ? s->nb : s->np - j0;
    s->gates += (size_t)j0 * P->GH;
    s->h += (size_t)j0 * P->H;
    s->aux += (size_t)j0 * cell->aux * P->H;
    if (s->h_prev) {
        s->h_prev += (size_t)j0 * P->H;
        s->aux_prev += (size_t)j0 * cell->aux * P->H;
    }
    if (s->np == 0)
        s->h_prev = s->aux_prev = NULL;
    s->scratch = scratch + (size_t)j0 * P->GH;
    return 1;
}

/*
 * Quantised layers (seqcls_model_quantize, quant.c, qgemm.c): the same
 * steps with W_ih and the pieces of W_hh as int8 or bfloat16 matrices;
 * each step quantises its rows of x and of h_{t-1} (per row, so a row's
 * result does not depend on the others, as above) into room of its own
 * slice.  qin_t is W_ih and the room for x.
 */
typedef struct {
    const qmat_t *ih;
    unsigned char *xa;        /* [B] rows of qmat_act_bytes(ih) */
    float *xs;                /* [B] */
    int ready;                /* xa, xs hold the step's rows quantised already */
} qin_t;

int rnn_quant_rows(const layer_t *L, int param)
{
    const rnn_cell_t *cell = cell_of(L);
    return (param % 4 == 1 ? cell->aux_gate : cell->gates) * L->units;
}

/* qact with rows rb bytes apart (rounded up to 64, as the room above). */
static void qact_rows(const qmat_t *q, int M, const real *A, int lda, unsigned char *act,
                      size_t rb, float *sa)
{
    int i;
    if (rb == qmat_act_bytes(q)) {
        qact(q, M, A, lda, act, sa);
        return;
    }
    for (i = 0; i < M; i++)
        qact(q, 1, A + (size_t)i * lda, lda, act + (size_t)i * rb, sa + i);
}

/*
 * The input of a quantised layer, quantised once for every valid step
 * and both directions (they read the same x with W_ih of the same
 * width), straight from the caller's [B, T, in] into the packed layout:
 * rows of rb bytes and their scales, in place of the float32 copy xp.
 */
typedef struct {
    const pack_t *P;
    const value_t *in;
    const qmat_t *w;
    unsigned char *xq;
    float *xs;
    size_t rb;
} qpack_job_t;

static void qpack_part(void *arg, int part, int parts)
{
    const qpack_job_t *J = arg;
    const pack_t *P = J->P;
    const int j0 = (int)((int64_t)P->nb[0] * part / parts);
    const int j1 = (int)((int64_t)P->nb[0] * (part + 1) / parts);
    int j, t;
    for (j = j0; j < j1; j++) {
        const int b = P->perm[j];
        for (t = 0; t < J->in->len[b]; t++) {
            const size_t r = (size_t)P->off[t] + j;
            qact(J->w, 1, J->in->x + ((size_t)b * P->T + t) * P->in, P->in,
                 J->xq + r * J->rb, J->xs + r);
        }
    }
}

void rnn_qproduct(rnn_step_t *s, int which, int M, const real *A, int lda, real *C, int ldc)
{
    qop_t op;
    qact(s->hq[which], M, A, lda, s->qrows, s->qscale);
    op.w = s->hq[which];
    op.act = s->qrows;
    op.sa = s->qscale;
    op.rb = 0;
    qgemm(M, 1, &op, NULL, C, ldc);
}

/* The gates of rows [0, s->nb) of a step: x W_ih^T + bias, and for rows
 * [0, both) also h_{t-1} W_hh^T in the same pass (cells with xh); x is
 * [nb, in].  Float32 (pw) or quantised (qi->ih). */
static void step_gates(const pack_t *P, rnn_step_t *s, const real *x, int both,
                       const packed_w_t *pw, const qin_t *qi, const real *bias)
{
    if (qi->ih) {
        const size_t rb = (qmat_act_bytes(qi->ih) + 63) / 64 * 64;
        qop_t ops[2];
        if (!qi->ready)
            qact_rows(qi->ih, s->nb, x, P->in, qi->xa, rb, qi->xs);
        ops[0].w = qi->ih;
        ops[0].act = qi->xa;
        ops[0].sa = qi->xs;
        ops[0].rb = rb;
        if (both > 0) {
            qact(s->hq[0], both, s->hm_prev, P->H, s->qrows, s->qscale);
            ops[1].w = s->hq[0];
            ops[1].act = s->qrows;
            ops[1].sa = s->qscale;
            ops[1].rb = 0;
            qgemm(both, 2, ops, bias, s->gates, P->GH);
        }
        ops[0].act = qi->xa + (size_t)both * rb;
        ops[0].sa = qi->xs + both;
        qgemm(s->nb - both, 1, ops, bias, s->gates + (size_t)both * P->GH, P->GH);
        return;
    }
    if (both > 0)
        pgemm2(both, P->GH, P->in, x, P->in, pw->ih, P->H, s->hm_prev, P->H, pw->hh[0], bias,
               s->gates, P->GH);
    pgemm(s->nb - both, P->GH, P->in, x + (size_t)both * P->in, P->in, pw->ih, 0, bias,
          s->gates + (size_t)both * P->GH, P->GH);
}

/* Room for the quantised rows of a layer: per direction [B] rows of x and
 * of h and their scales, in WS_QACT; sets qi and the step rows' room. */
static int quant_room(const layer_t *L, workspace_t *ws, const pack_t *P, qin_t qi[2],
                      const qmat_t *qhh[2][2], unsigned char *qh[2], float *qhs[2])
{
    size_t rbx, rbh, per;
    unsigned char *buf;
    int d;
    memset(qi, 0, 2 * sizeof *qi);
    if (!L->q)
        return SEQCLS_OK;
    for (d = 0; d < P->dirs; d++) {
        qi[d].ih = quant_piece(L, 4 * d, 0);
        qhh[d][0] = quant_piece(L, 4 * d + 1, 0);
        qhh[d][1] = quant_piece(L, 4 * d + 1, cell_of(L)->aux_gate * P->H);
    }
    rbx = (qmat_act_bytes(qi[0].ih) + 63) / 64 * 64;
    rbh = (qmat_act_bytes(qhh[0][0]) + 63) / 64 * 64;
    per = seqcls__mul((size_t)P->B, rbx + rbh + 2 * sizeof(float));
    buf = ws_get(ws, WS_QACT, seqcls__mul(per, (size_t)P->dirs) + 64);
    if (!buf)
        return SEQCLS_E_NOMEM;
    for (d = 0; d < P->dirs; d++) {
        unsigned char *b = buf + (size_t)d * per;
        qi[d].xa = b;
        qh[d] = b + (size_t)P->B * rbx;
        qi[d].xs = (float *)(void *)(qh[d] + (size_t)P->B * rbh);
        qhs[d] = qi[d].xs + P->B;
    }
    return SEQCLS_OK;
}

typedef struct {
    const pack_t *P;
    const rnn_cell_t *cell;
    const rnn_step_t *proto;   /* H, act, zero */
    int d;
    real *gates, *h, *aux, *scratch;
    const int32_t *cut;
    /* forward: per direction, and slices per direction when both run at once */
    real *gd[2], *hd[2], *ad[2], *sc[2];
    real *hm[2];               /* recurrent dropout: masked states per direction, or NULL */
    const real *rm[2];         /* recurrent dropout: masks [B, H] per direction by sorted rank */
    const real *xp, *bias[2];
    int keep;       /* training: every step's gate and cell values are kept */
    /* inference: the states go straight to the output sequence y (NULL
     * without one) and the final states fin, step by step (emit_states) */
    int direct;
    real *y, *fin;
    const int32_t *len;
    int outF, finF;
    packed_w_t pw[2];
    qin_t qi[2];    /* a quantised layer's W_ih and room per direction, else zeros */
    unsigned char *xq;   /* quantised layers: the input quantised, packed (rows of rbx) */
    float *xqs;
    const qmat_t *qhh[2][2];
    unsigned char *qh[2];
    float *qhs[2];
    const real *bhh[2];
    int sp, both;
    /* backward */
    const struct grad_src *g;
    real *dh, *dc, *dzx, *dzh;
} rec_job_t;

/* The recurrent-dropout view of a step (slice_rows set h_prev from the
 * states h of the direction): hm_prev the same rows of the masked states
 * hm, rmask the rows' masks (rows from j0); without masks, h_prev itself. */
static void mask_rows(rnn_step_t *s, const real *h, const real *hm, const real *rm, int j0, int H)
{
    if (!hm) {
        s->hm_prev = s->h_prev;
        s->rmask = NULL;
        return;
    }
    s->hm_prev = s->h_prev ? hm + (s->h_prev - h) : NULL;
    s->rmask = rm + (size_t)j0 * H;
}

/* The new states of the step's rows of direction d (at step ts) where
 * they are read next: their step of the output sequence, and the final
 * states when this is the last step of the row in this direction. */
static void emit_states(const rec_job_t *J, const rnn_step_t *s, int d, int ts, int j0)
{
    const pack_t *P = J->P;
    const size_t bytes = (size_t)P->H * sizeof(real);
    int i;
    for (i = 0; i < s->nb; i++) {
        const int b = P->perm[j0 + i];
        const real *h = s->h + (size_t)i * P->H;
        if (J->y)
            memcpy(J->y + ((size_t)b * P->T + ts) * J->outF + (size_t)d * P->H, h, bytes);
        if (d == 0 ? ts == J->len[b] - 1 : ts == 0)
            memcpy(J->fin + (size_t)b * J->finF + (size_t)d * P->H, h, bytes);
    }
}

static void forward_part(void *arg, int part, int parts)
{
    const rec_job_t *J = arg;
    const pack_t *P = J->P;
    const int d = J->both ? part / J->sp : J->d, slice = part % J->sp;
    const int j0 = J->cut[slice], j1 = J->cut[slice + 1];
    rnn_step_t s = *J->proto;
    int t;
    (void)parts;
    qin_t qi = J->qi[d];
    s.Wp = J->pw[d].hh[0];
    s.Wp2 = J->pw[d].hh[1];
    s.b_hh = J->bhh[d];
    if (qi.ih) {   /* the slice's own rows of the quantisation room */
        const size_t rbx = (qmat_act_bytes(qi.ih) + 63) / 64 * 64;
        const size_t rbh = (qmat_act_bytes(J->qhh[d][0]) + 63) / 64 * 64;
        s.hq[0] = J->qhh[d][0];
        s.hq[1] = J->qhh[d][1];
        qi.xa += (size_t)j0 * rbx;
        qi.xs += j0;
        s.qrows = J->qh[d] + (size_t)j0 * rbh;
        s.qscale = J->qhs[d] + j0;
    }
    for (t = 0; t < P->maxlen; t++) {
        const int ts = d == 0 ? t : P->maxlen - 1 - t;
        if (!slice_rows(P, J->cell, d, ts, J->gd[d], J->hd[d], J->ad[d], J->sc[d], j0, j1, &s)) {
            if (d == 0)
                break;   /* rows only end going forward */
            continue;
        }
        mask_rows(&s, J->hd[d], J->hm[d], J->rm[d], j0, P->H);
        if (!J->keep) {
            /* the slice's rows of [B, G*H], and aux alternating between two
             * [B, A*H] buffers: row j is the same sequence at every step */
            const size_t AH = (size_t)J->cell->aux * P->H, cur = (size_t)(t & 1);
            s.gates = J->gd[d] + (size_t)j0 * P->GH;
            s.aux = J->ad[d] + (cur * P->B + j0) * AH;
            if (s.aux_prev)
                s.aux_prev = J->ad[d] + ((cur ^ 1) * P->B + j0) * AH;
            if (J->direct) {   /* the states alternate between two [B, H] buffers too */
                s.h = J->hd[d] + (cur * P->B + j0) * P->H;
                if (s.h_prev)
                    s.h_prev = s.hm_prev = J->hd[d] + ((cur ^ 1) * P->B + j0) * P->H;
            }
        }
        /* the step's input projection, with b_ih and the part of b_hh that
         * is simply added, on rows the cell reads next */
        /* with xh, + h_prev W_hh^T in the same pass for rows that have one */
        if (J->xq) {   /* quantised: the step's rows of x are ready */
            const size_t rbx = (qmat_act_bytes(qi.ih) + 63) / 64 * 64;
            qi.xa = J->xq + ((size_t)P->off[ts] + j0) * rbx;
            qi.xs = J->xqs + P->off[ts] + j0;
            qi.ready = 1;
        }
        step_gates(P, &s, J->xq ? NULL : J->xp + ((size_t)P->off[ts] + j0) * P->in,
                   J->cell->xh ? s.np : 0, &J->pw[d], &qi, J->bias[d]);
        J->cell->forward(&s);
        if (J->hm[d]) {   /* the new states as the next step's products will see them */
            real *hm = J->hm[d] + (s.h - J->hd[d]);
            size_t i, n = (size_t)s.nb * P->H;
            for (i = 0; i < n; i++)
                hm[i] = s.h[i] * s.rmask[i];
        }
        if (J->direct)
            emit_states(J, &s, d, ts, j0);
    }
    if (J->direct && J->y && d == 0) {   /* the slice's rows past their length: zeros */
        int j;
        for (j = j0; j < j1; j++) {
            const int b = P->perm[j], len = J->len[b];
            memset(J->y + ((size_t)b * P->T + len) * J->outF, 0,
                   (size_t)(P->T - len) * J->outF * sizeof(real));
        }
    }
}

int rnn_forward(const layer_t *L, workspace_t *ws, const value_t *in, value_t *out,
                const run_ctx_t *ctx)
{
    const rnn_cell_t *cell = cell_of(L);
    const int merge = merge_mode(L);
    const int seq = (L->flags & SEQCLS_RETURN_SEQUENCES) != 0;
    pack_t P;
    real *xp, *mask = NULL, *gates, *hs, *aux, *scratch, *fin, *y, *rmask = NULL, *hm = NULL;
    rnn_step_t s;
    rec_job_t J;
    int32_t cut[MAX_PARTS + 1];
    int rc, d, j, outF, finF, parts, keep, direct;

    rc = pack_plan(L, ws, in, &P, ctx->func);
    if (rc)
        return rc;
    outF = (P.dirs == 2 && merge == MOVE_STORE) ? 2 * P.H : P.H;
    finF = P.dirs * P.H;
    if (L->q) {
        /* the input quantised once (qpack_part) instead of copied */
        const size_t rbx = (qmat_act_bytes(quant_piece(L, 0, 0)) + 63) / 64 * 64;
        xp = ws_get(ws, WS_XP, seqcls__mul((size_t)P.N, rbx + sizeof(float)));
    } else {
        xp = ws_reals(ws, WS_XP, (size_t)P.N, (size_t)P.in);
    }
    /* Training keeps every step's gate and cell values for the backward;
     * inference keeps only the states, and writes them step by step where
     * they are read next (emit_states), which saves the [N, H] states'
     * round trip through memory, unless the directions' outputs are
     * merged (they meet in y, so their states are kept and moved after). */
    keep = ctx->training;
    direct = !keep && (!seq || merge == MOVE_STORE);
    gates = ws_reals(ws, WS_GATES, (size_t)P.dirs * (keep ? P.N : P.B), (size_t)P.GH);
    hs = ws_reals(ws, WS_H, (size_t)P.dirs * (direct ? 2 * (size_t)P.B : (size_t)P.N), (size_t)P.H);
    aux = ws_reals(ws, WS_AUX, (size_t)P.dirs * (keep ? (size_t)P.N : 2 * (size_t)P.B),
                   (size_t)P.A * P.H);
    /* [dirs][B] step rows, a zero row, a bias row per direction */
    scratch = ws_reals(ws, WS_STEP, (size_t)P.dirs * P.B + 3, (size_t)P.GH);
    fin = ws_reals(ws, WS_FIN, (size_t)P.B, (size_t)finF);
    if (!xp || !gates || !hs || !aux || !scratch || !fin)
        return SEQCLS_E_NOMEM;
    memset(&J, 0, sizeof J);
    if (L->q)
        rc = quant_room(L, ws, &P, J.qi, J.qhh, J.qh, J.qhs);
    else
        rc = pack_weights(L, &P, cell, ws, 0, J.pw);
    if (rc != SEQCLS_OK)
        return rc;
    if (ctx->training && (ctx->rng || ctx->keys) && L->rate > 0) {
        if (!(mask = ws_reals(ws, WS_MASK, (size_t)P.B, (size_t)P.in)))
            return SEQCLS_E_NOMEM;
        /* One mask per sequence, the same at every step, as Keras' `dropout`. */
        dropout_mask_rows(ctx, L->index, mask, P.B, (size_t)P.in, (size_t)P.in, L->rate);
        *P.masked |= MASKED_INPUT;
    }
    if (ctx->training && (ctx->rng || ctx->keys) && L->rec_dropout > 0) {
        /* Keras' `recurrent_dropout`: one mask per sequence, unit and
         * direction, drawn row after row in the caller's order and kept by
         * sorted rank */
        int32_t *rank;
        rmask = ws_reals(ws, WS_RMASK, (size_t)P.dirs * P.B + 1, (size_t)P.H + 1);
        hm = ws_reals(ws, WS_HM, (size_t)P.dirs * P.N, (size_t)P.H);
        if (!rmask || !hm)
            return SEQCLS_E_NOMEM;
        rank = (int32_t *)(void *)(rmask + (size_t)P.dirs * P.B * P.H);   /* [B], after the masks */
        for (j = 0; j < P.B; j++)
            rank[P.perm[j]] = j;
        /* with seqcls_fit's per-row keys: elements [in + d H, in + (d + 1) H)
         * of the row's stream for this layer, after its input mask's */
        for (d = 0; d < P.dirs; d++)
            for (j = 0; j < P.B; j++)
                dropout_mask_at(ctx, L->index, j, (uint64_t)P.in + (uint64_t)d * P.H,
                                rmask + ((size_t)d * P.B + rank[j]) * P.H, (size_t)P.H,
                                L->rec_dropout);
        *P.masked |= MASKED_RECURRENT;
    }

    /* the valid steps in the packed layout */
    if (L->q) {
        qpack_job_t Q;
        Q.P = &P;
        Q.in = in;
        Q.w = quant_piece(L, 0, 0);
        Q.rb = (qmat_act_bytes(Q.w) + 63) / 64 * 64;
        Q.xq = (unsigned char *)xp;
        Q.xs = (float *)(void *)(Q.xq + (size_t)P.N * Q.rb);
        seqcls__parallel((size_t)P.N * P.in >= 65536 ? seqcls__parallel_parts() : 1, qpack_part,
                         &Q);
        J.xq = Q.xq;
        J.xqs = Q.xs;
    } else {
        move_rows(&P, in->len, (real *)in->x, P.in, 0, xp, P.in, mask, 1, MOVE_STORE);
    }

    memset(&s, 0, sizeof s);
    s.H = P.H;
    s.act = L->rec_activation;
    s.quick = L->q != NULL;
    s.scratch = scratch;
    s.zero = scratch + (size_t)P.dirs * P.B * P.GH;
    memset(scratch + (size_t)P.dirs * P.B * P.GH, 0, (size_t)P.GH * sizeof(real));
    J.P = &P;
    J.cell = cell;
    J.proto = &s;
    J.cut = cut;
    J.xp = xp;
    J.keep = keep;
    J.direct = direct;
    J.len = in->len;
    J.outF = outF;
    J.finF = finF;
    J.fin = fin;
    y = NULL;
    if (seq && !(y = ws_reals(ws, WS_OUT, (size_t)P.B * P.T, (size_t)outF)))
        return SEQCLS_E_NOMEM;
    J.y = direct ? y : NULL;
    memset(fin, 0, (size_t)P.B * finF * sizeof(real));
    parts = seqcls__parallel_parts();
    J.both = P.dirs == 2 && parts >= 2 && worth_threads(&P);
    J.sp = plan_slices(&P, cut, J.both ? parts / 2 : parts, parts > 1);
    for (d = 0; d < P.dirs; d++) {
        const real *b_ih = L->w[4 * d + 2];
        real *bias = scratch + ((size_t)P.dirs * P.B + 1 + d) * P.GH;
        const size_t rows = keep ? (size_t)P.N : (size_t)P.B;
        J.gd[d] = gates + (size_t)d * rows * P.GH;
        J.hd[d] = hs + (size_t)d * (direct ? 2 * (size_t)P.B : (size_t)P.N) * P.H;
        if (hm) {
            J.hm[d] = hm + (size_t)d * P.N * P.H;
            J.rm[d] = rmask + (size_t)d * P.B * P.H;
        }
        J.ad[d] = aux + (size_t)d * (keep ? 1 : 2) * rows * P.A * P.H;
        J.sc[d] = scratch + (size_t)d * P.B * P.GH;
        J.bhh[d] = L->w[4 * d + 3];
        memcpy(bias, b_ih, (size_t)P.GH * sizeof(real));
        vec_add(bias, J.bhh[d], (size_t)cell->folded * P.H);
        J.bias[d] = bias;
        if (!J.both) {
            J.d = d;
            seqcls__parallel(J.sp, forward_part, &J);
        }
    }
    if (J.both)
        seqcls__parallel(2 * J.sp, forward_part, &J);

    /* final states: forward at each row's last step, backward at step 0
     * (emitted by the steps when direct) */
    for (j = 0; j < P.nb[0] && !direct; j++) {
        real *f = fin + (size_t)P.perm[j] * finF;
        const int last = in->len[P.perm[j]] - 1;
        memcpy(f, hs + ((size_t)P.off[last] + j) * P.H, (size_t)P.H * sizeof(real));
        if (P.dirs == 2)
            memcpy(f + P.H, hs + ((size_t)P.N + j) * P.H, (size_t)P.H * sizeof(real));
    }

    memset(out, 0, sizeof *out);
    out->len = in->len;
    out->B = P.B;
    if (seq) {
        if (direct) {
            /* the valid steps are in y, the slices zeroed their rows' other
             * steps; rows without a step are in no slice */
            for (j = P.nb[0]; j < P.B; j++)
                memset(y + (size_t)P.perm[j] * P.T * outF, 0, (size_t)P.T * outF * sizeof(real));
        } else {
            /* rows with no valid step at all are zeroed here */
            if (P.nb[0] < P.B)
                for (j = 0; j < P.B; j++)
                    if (in->len[j] == 0)
                        memset(y + (size_t)j * P.T * outF, 0, (size_t)P.T * outF * sizeof(real));
            for (d = 0; d < P.dirs; d++)
                move_rows(&P, in->len, y, outF, merge != MOVE_STORE ? 0 : d * P.H,
                          hs + (size_t)d * P.N * P.H, P.H, NULL, 0, d == 1 ? merge : MOVE_STORE);
        }
        out->kind = VAL_SEQ;
        out->T = P.T;
        out->fin = fin;
        out->fin_F = finF;
    } else {
        y = fin;
        if (merge != MOVE_STORE) {
            int b, k;
            if (!(y = ws_reals(ws, WS_OUT, (size_t)P.B, (size_t)P.H)))
                return SEQCLS_E_NOMEM;
            for (b = 0; b < P.B; b++)
                for (k = 0; k < P.H; k++) {
                    const real f = fin[(size_t)b * finF + k], r = fin[(size_t)b * finF + P.H + k];
                    y[(size_t)b * P.H + k] = merge == MOVE_ADD   ? f + r
                                             : merge == MOVE_AVE ? (f + r) * (real)0.5
                                                                 : f * r;
                }
        }
        out->kind = VAL_VEC;
        out->T = 1;
    }
    out->F = outF;
    out->x = y;
    return SEQCLS_OK;
}

/*
 * The gradient reaching direction d's state at packed row (t, j) from
 * outside the recurrence: the output sequence, and the final states.
 */
typedef struct grad_src {
    const real *seq;   /* [B, T, outF] or NULL */
    const real *fin;   /* [B, finF] or NULL */
    int outF, finF, seq_col, fin_col;
} grad_src_t;


/* Start the carried gradients of rows [j0, j1), whose last step in this direction is here. */
static void carry_start(const pack_t *P, const grad_src_t *g, real *dh, real *dc, int j0, int j1)
{
    int j;
    memset(dh + (size_t)j0 * P->H, 0, (size_t)(j1 - j0) * P->H * sizeof(real));
    memset(dc + (size_t)j0 * P->H, 0, (size_t)(j1 - j0) * P->H * sizeof(real));
    if (g->fin)
        for (j = j0; j < j1; j++)
            vec_add(dh + (size_t)j * P->H, g->fin + (size_t)P->perm[j] * g->finF + g->fin_col,
                    (size_t)P->H);
}

static void carry_add_output(const pack_t *P, const grad_src_t *g, real *dh, int t, int j0,
                             int j1)
{
    int j;
    if (g->seq)
        for (j = j0; j < j1; j++)
            vec_add(dh + (size_t)j * P->H,
                    g->seq + ((size_t)P->perm[j] * P->T + t) * g->outF + g->seq_col, (size_t)P->H);
}

static int imax(int a, int b) { return a > b ? a : b; }
static int imin(int a, int b) { return a < b ? a : b; }

static void backward_part(void *arg, int part, int parts)
{
    const rec_job_t *J = arg;
    const pack_t *P = J->P;
    const int j0 = J->cut[part], j1 = J->cut[part + 1];
    rnn_step_t s = *J->proto;
    int t;
    (void)parts;
    for (t = 0; t < P->maxlen; t++) {
        /* forward direction: back from the last step; backward direction: from step 0 */
        const int ts = J->d == 0 ? P->maxlen - 1 - t : t;
        const size_t r = (size_t)P->off[ts];
        const int e = imin(P->nb[ts], j1);
        if (e <= j0) {
            if (J->d == 1)
                break;   /* going back in time in the backward direction, rows only end */
            continue;
        }
        if (J->d == 0)
            carry_start(P, J->g, J->dh, J->dc, imax(P->nb[ts + 1], j0), imax(e, imax(P->nb[ts + 1], j0)));
        else if (t == 0)
            carry_start(P, J->g, J->dh, J->dc, j0, e);
        carry_add_output(P, J->g, J->dh, ts, j0, e);
        rnn_flush_tiny(J->dh + (size_t)j0 * P->H, (size_t)(e - j0) * P->H);
        rnn_flush_tiny(J->dc + (size_t)j0 * P->H, (size_t)(e - j0) * P->H);
        slice_rows(P, J->cell, J->d, ts, J->gates, J->h, J->aux, J->scratch, j0, j1, &s);
        mask_rows(&s, J->h, J->hm[J->d], J->rm[J->d], j0, P->H);
        s.dh = J->dh + (size_t)j0 * P->H;
        s.dc = J->dc + (size_t)j0 * P->H;
        s.dzx = J->dzx + (r + j0) * P->GH;
        s.dzh = J->dzh + (r + j0) * P->GH;
        J->cell->backward(&s);
    }
}

/*
 * The weight gradients and dX of one direction in one pass over its gate
 * gradients: blocks of WG_ROWS packed rows, each read while it is in the
 * cache for dX = dZx W_ih (+ the other direction's), dW_ih += dZx^T X,
 * dW_hh += dZh^T H_prev (the rows of gates at and above aux_gate: dZh^T
 * aux) and the biases' column sums.  The blocks are split over the pool;
 * each part sums into its own copy of the gradients, and the copies are
 * added in part order at the end.
 */
#define WG_ROWS 256

typedef struct {
    const pack_t *P;
    const rnn_cell_t *cell;
    const packed_w_t *pw;
    const real *dzx, *dzh, *xp, *h, *aux;   /* h: the direction's states [N, H] */
    real *dxp, *buf;
    int d, add_dx, parts, blocks;
    size_t part_len;
} wgrad_job_t;

/* A part's buffer: dW_ih [GH, in], dW_hh [GH, H], db_ih, db_hh [GH], then
 * the packed blocks: dZx^T, dZh^T (two column ranges), X, H_prev, aux, and
 * where each row of H_prev is. */
typedef struct {
    real *w_ih, *w_hh, *b_ih, *b_hh, *zx, *zh0, *zh1, *x, *h, *a;
    const real **prev;
} wgrad_bufs_t;

static size_t wgrad_layout(const pack_t *P, const rnn_cell_t *cell, real *base, wgrad_bufs_t *w)
{
    const int rows0 = cell->aux_gate * P->H, rows1 = P->GH - rows0;
    const size_t sizes[10] = {
        (size_t)P->GH * P->in, (size_t)P->GH * P->H, (size_t)P->GH, (size_t)P->GH,
        pgemm_packed_t_len(WG_ROWS, P->GH), pgemm_packed_t_len(WG_ROWS, rows0),
        pgemm_packed_t_len(WG_ROWS, rows1), pgemm_packed_len(WG_ROWS, P->in),
        pgemm_packed_len(WG_ROWS, P->H), pgemm_packed_len(WG_ROWS, P->H)};
    real **slots[10] = {&w->w_ih, &w->w_hh, &w->b_ih, &w->b_hh, &w->zx,
                        &w->zh0, &w->zh1, &w->x, &w->h, &w->a};
    size_t off = 0;
    int i;
    for (i = 0; i < 10; i++) {
        if (base)
            *slots[i] = base + off;
        off += (sizes[i] + 15) / 16 * 16;   /* 64-byte aligned */
    }
    if (base)
        w->prev = (const real **)(void *)(base + off);
    return off + (WG_ROWS * sizeof(real *) + 16 * sizeof(real) - 1) / (16 * sizeof(real)) * 16;
}

/* Where the previous state of each packed row [r0, r0 + kb) of direction d
 * is (NULL: the row starts there, from zeros): step t - 1 going forward,
 * t + 1 going backward, same sorted row j. */
static void previous_rows(const pack_t *P, int d, const real *h, int r0, int kb,
                          const real **prev)
{
    int t = 0, k;
    while (P->off[t + 1] <= r0)
        t++;
    for (k = 0; k < kb; k++) {
        const int r = r0 + k;
        int j, tp;
        while (P->off[t + 1] <= r)
            t++;
        j = r - P->off[t];
        tp = d == 0 ? t - 1 : t + 1;
        prev[k] = tp >= 0 && tp < P->T && j < P->nb[tp] ? h + ((size_t)P->off[tp] + j) * P->H : NULL;
    }
}

/* g[0..n) += each of `rows` rows of x (row r at x + r * ld), in order. */
static void add_rows_into(real *g, const real *x, int rows, int n, int ld)
{
    int r;
    for (r = 0; r < rows; r++)
        vec_add(g, x + (size_t)r * ld, (size_t)n);
}

static void wgrad_part(void *arg, int part, int parts)
{
    const wgrad_job_t *W = arg;
    const pack_t *P = W->P;
    const int H = P->H, GH = P->GH, rows0 = W->cell->aux_gate * H, rows1 = GH - rows0;
    const int b0 = (int)((int64_t)W->blocks * part / parts);
    const int b1 = (int)((int64_t)W->blocks * (part + 1) / parts);
    const int split = W->dzh != W->dzx;
    /* dZh's leading columns that are dZx's (all of them unless split):
     * their dW_hh reads dZx^T as packed for dW_ih, their b_hh sums are b_ih's */
    const int shared = split ? W->cell->dzh_shared * H : GH;
    const int reuse = shared < rows0 ? shared : rows0;   /* of dW_hh's rows [0, rows0) */
    wgrad_bufs_t w;
    int blk;
    wgrad_layout(P, W->cell, W->buf + (size_t)part * W->part_len, &w);
    memset(w.w_ih, 0, (size_t)(w.zx - w.w_ih) * sizeof(real));   /* the four sums */
    for (blk = b0; blk < b1; blk++) {
        const int r0 = blk * WG_ROWS, kb = P->N - r0 < WG_ROWS ? P->N - r0 : WG_ROWS;
        const real *zx = W->dzx + (size_t)r0 * GH, *zh = W->dzh + (size_t)r0 * GH;
        const real *zh1;
        pgemm(kb, P->in, GH, zx, GH, W->pw->ih, W->add_dx, NULL, W->dxp + (size_t)r0 * P->in,
              P->in);
        add_rows_into(w.b_ih, zx, kb, GH, GH);
        if (split)   /* b_hh's first `shared` sums are b_ih's (below) */
            add_rows_into(w.b_hh + shared, zh + shared, kb, GH - shared, GH);
        pgemm_pack_t(w.zx, zx, GH, kb, GH);
        pgemm_pack(w.x, W->xp + (size_t)r0 * P->in, P->in, 0, kb, P->in);
        pgemm_tn(GH, P->in, kb, w.zx, w.x, w.w_ih, P->in);
        previous_rows(P, W->d, W->h, r0, kb, w.prev);
        pgemm_pack_rows(w.h, w.prev, kb, H);
        /* dW_hh's rows [0, rows0) from dZh's columns: those before `reuse`
         * packed already, the rest packed here */
        if (reuse >= rows0) {
            pgemm_tn(rows0, H, kb, w.zx, w.h, w.w_hh, H);
        } else {
            if (reuse > 0)
                pgemm_tn(reuse, H, kb, w.zx, w.h, w.w_hh, H);
            pgemm_pack_t(w.zh0, zh + reuse, GH, kb, rows0 - reuse);
            pgemm_tn(rows0 - reuse, H, kb, w.zh0, w.h, w.w_hh + (size_t)reuse * H, H);
        }
        if (rows1 == 0)
            continue;
        /* rows [rows0, GH) multiply aux */
        zh1 = shared == GH ? pgemm_packed_t_cols(w.zx, kb, rows0) : NULL;
        if (!zh1) {
            pgemm_pack_t(w.zh1, zh + rows0, GH, kb, rows1);
            zh1 = w.zh1;
        }
        pgemm_pack(w.a, W->aux + (size_t)r0 * W->cell->aux * H, W->cell->aux * H, 0, kb, H);
        pgemm_tn(rows1, H, kb, zh1, w.a, w.w_hh + (size_t)rows0 * H, H);
    }
    if (split && shared > 0)   /* the same rows summed in the same order */
        memcpy(w.b_hh, w.b_ih, (size_t)shared * sizeof(real));
}

static int weight_grads(layer_t *L, workspace_t *ws, const pack_t *P, const rnn_cell_t *cell,
                        int d, const real *dzx, const real *dzh, const real *h,
                        const real *aux, const packed_w_t *pw, real *dxp)
{
    wgrad_job_t W;
    wgrad_bufs_t w;
    int p;
    memset(&W, 0, sizeof W);
    W.blocks = (P->N + WG_ROWS - 1) / WG_ROWS;
    W.parts = seqcls__parallel_parts();
    if (W.parts > W.blocks)
        W.parts = W.blocks;
    if (W.parts < 1 || !worth_threads(P))
        W.parts = 1;
    W.part_len = wgrad_layout(P, cell, NULL, &w);
    if (!(W.buf = ws_reals(ws, WS_WGRAD, W.part_len, (size_t)W.parts)))
        return SEQCLS_E_NOMEM;
    W.P = P;
    W.cell = cell;
    W.pw = pw;
    W.dzx = dzx;
    W.dzh = dzh;
    W.xp = ws->buf[WS_XP];
    W.h = h;
    W.d = d;
    W.aux = aux;
    W.dxp = dxp;
    W.add_dx = d > 0;
    seqcls__parallel(W.parts, wgrad_part, &W);
    for (p = 0; p < W.parts; p++) {
        wgrad_layout(P, cell, W.buf + (size_t)p * W.part_len, &w);
        vec_add(L->g[4 * d], w.w_ih, (size_t)P->GH * P->in);
        vec_add(L->g[4 * d + 1], w.w_hh, (size_t)P->GH * P->H);
        vec_add(L->g[4 * d + 2], w.b_ih, (size_t)P->GH);
        /* with one dZ for both, b_hh's gradient is b_ih's */
        vec_add(L->g[4 * d + 3], dzh == dzx ? w.b_ih : w.b_hh, (size_t)P->GH);
    }
    return SEQCLS_OK;
}

/*
 * For the ave and mul merges: the gradient reaching each direction's
 * states from the merged output dy, laid out as a concatenated output
 * would have it ([B, T, 2H] for sequences, [B, 2H] for final states):
 * ave gives dy/2 to both, mul dy times the other direction's states.
 */
static real *merged_grads(const layer_t *L, workspace_t *ws, const pack_t *P, const value_t *in,
                          const value_t *dout, int merge)
{
    const int H = P->H, seq = (L->flags & SEQCLS_RETURN_SEQUENCES) != 0;
    const real *fin = ws->buf[WS_FIN];
    const size_t steps = seq ? (size_t)P->B * P->T : (size_t)P->B;
    real *mg = ws_reals(ws, WS_MERGE, steps, 2 * (size_t)H);
    int b, t, k;
    if (!mg)
        return NULL;
    if (seq) {   /* both directions' states in place first */
        move_rows(P, in->len, mg, 2 * H, 0, ws->buf[WS_H], H, NULL, 0, MOVE_STORE);
        move_rows(P, in->len, mg, 2 * H, H, (real *)ws->buf[WS_H] + (size_t)P->N * H, H, NULL, 0,
                  MOVE_STORE);
    } else {
        memcpy(mg, fin, (size_t)P->B * 2 * H * sizeof(real));
    }
    for (b = 0; b < P->B; b++)
        for (t = 0; t < (seq ? in->len[b] : 1); t++) {
            real *m = mg + ((size_t)b * (seq ? P->T : 1) + t) * 2 * H;
            const real *dy = dout->x + ((size_t)b * (seq ? P->T : 1) + t) * H;
            for (k = 0; k < H; k++) {
                const real f = m[k], r = m[H + k];
                m[k] = merge == MOVE_AVE ? dy[k] * (real)0.5 : dy[k] * r;
                m[H + k] = merge == MOVE_AVE ? dy[k] * (real)0.5 : dy[k] * f;
            }
        }
    return mg;
}

int rnn_backward(layer_t *L, workspace_t *ws, const value_t *in, const value_t *out,
                 const value_t *dout, value_t *din, const run_ctx_t *ctx)
{
    const rnn_cell_t *cell = cell_of(L);
    const int merge = merge_mode(L);
    const int seq = (L->flags & SEQCLS_RETURN_SEQUENCES) != 0;
    pack_t P;
    real *dzx, *dzh, *carry, *dxp, *dx, *mg = NULL;
    const real *mask = ws->buf[WS_MASK];
    rnn_step_t s;
    grad_src_t g;
    rec_job_t J;
    int32_t cut[MAX_PARTS + 1];
    int d, j, parts;
    (void)out;
    (void)ctx;

    pack_sizes(L, in, &P);
    pack_attach(&P, ws->buf[WS_META]);
    /* dzx goes over the gate values when the cell allows (dz_in_gates) */
    dzx = cell->dz_in_gates ? ws->buf[WS_GATES] : ws_reals(ws, WS_DZX, (size_t)P.N, (size_t)P.GH);
    dzh = cell->split_dzh ? ws_reals(ws, WS_DZH, (size_t)P.N, (size_t)P.GH) : dzx;
    carry = ws_reals(ws, WS_CARRY, 2 * (size_t)P.B, (size_t)P.H);
    dxp = ws_reals(ws, WS_DXP, (size_t)P.N, (size_t)P.in);
    dx = ws_reals(ws, WS_DIN, (size_t)P.B * P.T, (size_t)P.in);
    if (!dzx || !dzh || !carry || !dxp || !dx)
        return SEQCLS_E_NOMEM;

    memset(&s, 0, sizeof s);
    s.H = P.H;
    s.act = L->rec_activation;
    s.scratch = ws->buf[WS_STEP];
    s.zero = s.scratch + (size_t)P.dirs * P.B * P.GH;
    g.outF = (P.dirs == 2 && merge == MOVE_STORE) ? 2 * P.H : P.H;
    g.finF = P.dirs * P.H;
    if (merge == MOVE_AVE || merge == MOVE_MUL) {
        /* the gradient each direction's states get, side by side as if
         * concatenated: [dy/2 | dy/2] (ave), [dy * h_bwd | dy * h_fwd] (mul) */
        if (!(mg = merged_grads(L, ws, &P, in, dout, merge)))
            return SEQCLS_E_NOMEM;
        g.outF = 2 * P.H;
    }
    parts = seqcls__parallel_parts();
    parts = plan_slices(&P, cut, parts, parts > 1);
    memset(&J, 0, sizeof J);
    if (pack_weights(L, &P, cell, ws, 1, J.pw) != SEQCLS_OK)
        return SEQCLS_E_NOMEM;
    J.P = &P;
    J.cell = cell;
    J.proto = &s;
    J.scratch = s.scratch;
    J.cut = cut;
    J.dzx = dzx;
    J.dzh = dzh;
    for (d = 0; d < P.dirs; d++) {
        real *gd = (real *)ws->buf[WS_GATES] + (size_t)d * P.N * P.GH;
        real *hd = (real *)ws->buf[WS_H] + (size_t)d * P.N * P.H;
        real *ad = (real *)ws->buf[WS_AUX] + (size_t)d * P.N * P.A * P.H;
        real *dh = carry, *dc = carry + (size_t)P.B * P.H;

        s.Wp = J.pw[d].hh[0];
        s.Wp2 = J.pw[d].hh[1];
        s.b_hh = L->w[4 * d + 3];
        /* where the outside gradient of this direction comes from; the
         * final states are concatenated even when the sequence is merged */
        if (seq) {
            g.seq = mg ? mg : dout->x;
            g.seq_col = merge == MOVE_ADD ? 0 : d * P.H;
            g.fin = dout->fin;
            g.finF = P.dirs * P.H;
            g.fin_col = d * P.H;
        } else {
            g.seq = NULL;
            g.fin = mg ? mg : dout->x;
            g.finF = g.outF;
            g.fin_col = merge == MOVE_ADD ? 0 : d * P.H;
        }

        J.d = d;
        J.gates = gd;
        J.h = hd;
        if (*P.masked & MASKED_RECURRENT) {
            J.hm[d] = (real *)ws->buf[WS_HM] + (size_t)d * P.N * P.H;
            J.rm[d] = (const real *)ws->buf[WS_RMASK] + (size_t)d * P.B * P.H;
        }
        J.aux = ad;
        J.g = &g;
        J.dh = dh;
        J.dc = dc;
        if (cell->dz_in_gates) {
            J.dzx = gd;
            J.dzh = cell->split_dzh ? dzh : gd;
        }
        seqcls__parallel(parts, backward_part, &J);
        /* dW_hh multiplies the states the products saw: masked ones with recurrent dropout */
        if (P.N > 0 &&
            weight_grads(L, ws, &P, cell, d, J.dzx, J.dzh, J.hm[d] ? J.hm[d] : hd, ad, &J.pw[d],
                         dxp))
            return SEQCLS_E_NOMEM;
    }

    /* back to [B, T, in], zero at padding, through the dropout mask */
    for (j = 0; j < P.B; j++)
        if (in->len[j] == 0)
            memset(dx + (size_t)j * P.T * P.in, 0, (size_t)P.T * P.in * sizeof(real));
    move_rows(&P, in->len, dx, P.in, 0, dxp, P.in, (*P.masked & MASKED_INPUT) ? mask : NULL, 0,
              MOVE_STORE);
    *din = *in;
    din->x = dx;
    din->fin = NULL;
    return SEQCLS_OK;
}

/*
 * Streams: the next n steps of one sequence, from the state after the
 * steps before ([h | aux], as a row of the packed layout keeps them).  A
 * step does what rnn_forward does for a row of a batch at inference, with
 * the same kernels on the same packed weights (pgemm computes a row the
 * same way whatever rows share the product), so a sequence pushed in
 * chunks gives what seqcls_predict gives for it.  The weights are packed
 * at every push: a stream reads the model's weights as they are then.
 * Only one direction can run step by step.
 */
size_t rnn_stream_state(const layer_t *L, const char **why)
{
    if (L->flags & SEQCLS_BIDIRECTIONAL) {
        *why = "it is bidirectional (its backward direction starts from the end of the sequence)";
        return SIZE_MAX;
    }
    return (size_t)(1 + cell_of(L)->aux) * L->units * sizeof(real);
}

int rnn_stream_step(const layer_t *L, workspace_t *ws, const value_t *in, value_t *out,
                    void *state, int64_t steps, const run_ctx_t *ctx)
{
    const rnn_cell_t *cell = cell_of(L);
    const int seq = (L->flags & SEQCLS_RETURN_SEQUENCES) != 0, n = in->T;
    const size_t AH = (size_t)cell->aux * L->units, SH = L->units + AH;
    real *st = state, *y = NULL, *fin;
    pack_t P;
    int t;
    (void)ctx;

    memset(&P, 0, sizeof P);
    pack_sizes(L, in, &P);
    fin = ws_reals(ws, WS_FIN, 1, (size_t)P.H);
    if (!fin || (seq && !(y = ws_reals(ws, WS_OUT, (size_t)(n > 0 ? n : 1), (size_t)P.H))))
        return SEQCLS_E_NOMEM;
    if (n > 0) {
        packed_w_t pw[2];
        rnn_step_t s;
        /* rows: gates, the step's scratch, zeros, the bias; two states, alternating */
        real *rows = ws_reals(ws, WS_STEP, 4, (size_t)P.GH);
        real *two = ws_reals(ws, WS_AUX, 2, SH), *bias;
        qin_t qi[2];
        const qmat_t *qhh[2][2];
        unsigned char *qh[2];
        float *qhs[2];
        memset(pw, 0, sizeof pw);
        memset(qi, 0, sizeof qi);
        memset(qhh, 0, sizeof qhh);
        memset(qh, 0, sizeof qh);
        memset(qhs, 0, sizeof qhs);
        if (!rows || !two ||
            (L->q ? quant_room(L, ws, &P, qi, qhh, qh, qhs)
                  : pack_weights(L, &P, cell, ws, 0, pw)) != SEQCLS_OK)
            return SEQCLS_E_NOMEM;
        bias = rows + 3 * (size_t)P.GH;
        memset(rows + 2 * (size_t)P.GH, 0, (size_t)P.GH * sizeof(real));
        memcpy(bias, L->w[2], (size_t)P.GH * sizeof(real));
        vec_add(bias, L->w[3], (size_t)cell->folded * P.H);
        memcpy(two, st, SH * sizeof(real));
        memset(&s, 0, sizeof s);
        s.H = P.H;
        s.act = L->rec_activation;
        s.quick = L->q != NULL;   /* as rnn_forward's: a stream gives what predict gives */
        s.b_hh = L->w[3];
        s.Wp = pw[0].hh[0];
        s.Wp2 = pw[0].hh[1];
        s.gates = rows;
        s.scratch = rows + P.GH;
        s.zero = rows + 2 * (size_t)P.GH;
        s.nb = 1;
        if (L->q) {
            s.hq[0] = qhh[0][0];
            s.hq[1] = qhh[0][1];
            s.qrows = qh[0];
            s.qscale = qhs[0];
        }
        for (t = 0; t < n; t++) {
            const real *x = in->x + (size_t)t * P.in;
            real *prev = two + (size_t)(t & 1) * SH, *cur = two + (size_t)((t + 1) & 1) * SH;
            s.np = steps + t > 0;
            s.h_prev = s.np ? prev : NULL;
            s.hm_prev = s.h_prev;   /* inference: no recurrent dropout (s.rmask NULL) */
            s.aux_prev = s.np ? prev + P.H : NULL;
            s.h = cur;
            s.aux = cur + P.H;
            step_gates(&P, &s, x, cell->xh && s.np ? 1 : 0, &pw[0], &qi[0], bias);
            cell->forward(&s);
            if (seq)
                memcpy(y + (size_t)t * P.H, cur, (size_t)P.H * sizeof(real));
        }
        memcpy(st, two + (size_t)(n & 1) * SH, SH * sizeof(real));
    }
    memcpy(fin, st, (size_t)P.H * sizeof(real));
    memset(out, 0, sizeof *out);
    out->B = 1;
    out->len = in->len;
    out->F = P.H;
    if (seq) {
        out->kind = VAL_SEQ;
        out->T = n;
        out->x = y;
        out->fin = fin;
        out->fin_F = P.H;
    } else {
        out->kind = VAL_VEC;
        out->T = 1;
        out->x = fin;
    }
    return SEQCLS_OK;
}

/*
 * The final states of the last forward: h from WS_FIN; the LSTM's cell
 * state c from the cell values the forward kept (aux holds [c | tanh c]
 * per row): training keeps every step's, at packed row off[t] + j;
 * inference alternates two [B, 2H] buffers by the parity of the loop's
 * step count, where a row's slot is its sorted rank j.  The forward
 * direction ends at step len - 1, the backward one at step 0 (reached
 * at loop step maxlen - 1).
 */
int rnn_final_states(const layer_t *L, workspace_t *ws, const value_t *in, int training, real *h,
                     real *c, const char *func)
{
    const rnn_cell_t *cell = cell_of(L);
    pack_t P;
    int d, j;
    pack_sizes(L, in, &P);
    pack_attach(&P, ws->buf[WS_META]);
    if (c && cell != &rnn_lstm_cell)
        return seqcls__fail(SEQCLS_E_INVALID_ARG,
                            "%s: layer %d (%s) has no cell state: pass c = NULL", func, L->index,
                            L->ops->name);
    if (h)
        memcpy(h, ws->buf[WS_FIN], (size_t)P.B * P.dirs * P.H * sizeof(real));
    if (!c)
        return SEQCLS_OK;
    memset(c, 0, (size_t)P.B * P.dirs * P.H * sizeof(real));
    for (d = 0; d < P.dirs; d++) {
        const real *aux = (const real *)ws->buf[WS_AUX] +
                          (size_t)d * (training ? (size_t)P.N : 2 * (size_t)P.B) * 2 * P.H;
        for (j = 0; j < P.nb[0]; j++) {
            const int b = P.perm[j], last = d == 0 ? in->len[b] - 1 : 0;
            const size_t row = training ? (size_t)P.off[last] + j
                                        : (size_t)((d == 0 ? last : P.maxlen - 1) & 1) * P.B + j;
            memcpy(c + ((size_t)b * P.dirs + d) * P.H, aux + row * 2 * P.H,
                   (size_t)P.H * sizeof(real));
        }
    }
    return SEQCLS_OK;
}

/* The settable options: SEQCLS_OPT_RECURRENT_ACTIVATION (int),
 * SEQCLS_OPT_INPUT_DROPOUT and SEQCLS_OPT_RECURRENT_DROPOUT (float);
 * layer.c has checked the option. */
int rnn_set_int(seqcls_model_t *m, layer_t *L, int option, int value)
{
    (void)m;
    (void)option;
    if (value != SEQCLS_ACT_SIGMOID && value != SEQCLS_ACT_HARD_SIGMOID && value != SEQCLS_ACT_RELU)
        return seqcls__fail(SEQCLS_E_INVALID_ARG,
                            "seqcls_layer_set_int: SEQCLS_OPT_RECURRENT_ACTIVATION takes "
                            "SEQCLS_ACT_SIGMOID, _HARD_SIGMOID or _RELU, not %d",
                            value);
    L->rec_activation = value;
    return SEQCLS_OK;
}

int rnn_set_float(seqcls_model_t *m, layer_t *L, int option, float value)
{
    const int recurrent = option == SEQCLS_OPT_RECURRENT_DROPOUT;
    (void)m;
    if (!(value >= 0 && value < 1))
        return seqcls__fail(SEQCLS_E_INVALID_ARG,
                            "seqcls_layer_set_float: SEQCLS_OPT_%s rate %g is outside [0, 1)",
                            recurrent ? "RECURRENT_DROPOUT" : "INPUT_DROPOUT", (double)value);
    if (recurrent)
        L->rec_dropout = value;
    else
        L->rate = value;
    return SEQCLS_OK;
}

int rnn_add(seqcls_model_t *m, const char *func, const layer_ops_t *ops, int hidden,
            unsigned flags, unsigned allowed, int *layer)
{
    static const char *const names[4] = {"weight_ih_l0", "weight_hh_l0", "bias_ih_l0",
                                         "bias_hh_l0"};
    const rnn_cell_t *cell = ops->impl;
    const int G = cell->gates;
    layer_t *L;
    int rc, d, i, dirs;
    double bound;

    if (m && (hidden < 1 || hidden > MAX_HIDDEN))
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: hidden (%d) must be in [1, 2^20]", func,
                            hidden);
    if (m && (flags & ~allowed))
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: unknown flags 0x%x", func,
                            flags & ~allowed);
    if (m && (flags & MERGE_FLAGS) && !(flags & SEQCLS_BIDIRECTIONAL))
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: SEQCLS_MERGE_%s needs SEQCLS_BIDIRECTIONAL",
                            func,
                            (flags & SEQCLS_MERGE_SUM)   ? "SUM"
                            : (flags & SEQCLS_MERGE_AVE) ? "AVE"
                                                         : "MUL");
    if (m && (flags & MERGE_FLAGS) & ((flags & MERGE_FLAGS) - 1))
        return seqcls__fail(SEQCLS_E_INVALID_ARG,
                            "%s: flags 0x%x name more than one merge mode", func,
                            flags & MERGE_FLAGS);
    rc = model_begin_layer(m, func, ops, &L);
    if (rc)
        return rc;
    if ((int64_t)G * hidden * L->in_F > MAX_WEIGHT || (int64_t)G * hidden * hidden > MAX_WEIGHT)
        return model_commit_layer(
            m, L,
            seqcls__fail(SEQCLS_E_NOMEM, "%s: hidden %d with %d inputs makes weights too large",
                         func, hidden, L->in_F),
            NULL);
    dirs = (flags & SEQCLS_BIDIRECTIONAL) ? 2 : 1;
    L->units = hidden;
    L->flags = flags;
    L->out_kind = (flags & SEQCLS_RETURN_SEQUENCES) ? VAL_SEQ : VAL_VEC;
    L->out_F = (dirs == 2 && !(flags & MERGE_FLAGS)) ? 2 * hidden : hidden;
    /* the final states are always both directions concatenated */
    L->out_fin_F = (flags & SEQCLS_RETURN_SEQUENCES) ? dirs * hidden : 0;
    for (d = 0; d < dirs && rc == SEQCLS_OK; d++)
        for (i = 0; i < 4 && rc == SEQCLS_OK; i++) {
            char name[32];
            int64_t shape[2];
            shape[0] = (int64_t)G * hidden;
            shape[1] = i == 0 ? L->in_F : hidden;
            snprintf(name, sizeof name, "%s%s", names[i], d ? "_reverse" : "");
            rc = model_add_param(m, L, name, i < 2 ? 2 : 1, shape, 1);
        }
    if (rc == SEQCLS_OK) {
        bound = 1.0 / sqrt((double)hidden);
        for (i = 0; i < L->np; i++)
            rng_fill_uniform(&m->rng, L->w[i], L->wn[i], -bound, bound);
    }
    return model_commit_layer(m, L, rc, layer);
}

const layer_option_t rnn_options[] = {
    {SEQCLS_OPT_RECURRENT_ACTIVATION, FIELD_REC_ACTIVATION, 1},
    {SEQCLS_OPT_INPUT_DROPOUT, FIELD_RATE, 1},
    {SEQCLS_OPT_RECURRENT_DROPOUT, FIELD_REC_DROPOUT, 1},
    {SEQCLS_OPT_UNITS, FIELD_UNITS, 0},
    {SEQCLS_OPT_FLAGS, FIELD_FLAGS, 0},
    {0, 0, 0},
};

void rnn_describe(const layer_t *L, char *buf, size_t cap)
{
    char drop[48] = "";   /* (1.0's descriptions, which the golden files keep, show no
                           * input dropout) */
    if (L->rec_dropout > 0)
        snprintf(drop, sizeof drop, ", recurrent_dropout=%g", (double)L->rec_dropout);
    snprintf(buf, cap, "hidden=%d%s%s%s%s%s%s%s", L->units,
             L->flags & SEQCLS_BIDIRECTIONAL ? ", bidirectional" : "",
             L->flags & SEQCLS_MERGE_SUM   ? ", merge_sum"
             : L->flags & SEQCLS_MERGE_AVE ? ", merge_ave"
             : L->flags & SEQCLS_MERGE_MUL ? ", merge_mul"
                                           : "",
             L->flags & SEQCLS_RETURN_SEQUENCES ? ", return_sequences" : "",
             L->flags & SEQCLS_GRU_RESET_BEFORE ? ", reset_before" : "",
             L->rec_activation != SEQCLS_ACT_SIGMOID ? ", gates=" : "",
             L->rec_activation != SEQCLS_ACT_SIGMOID ? act_name(L->rec_activation) : "", drop);
}
