/*
 * conv1d.c -- one-dimensional convolution over the valid steps of each
 * row, as torch.nn.Conv1d (stride 1, weight [filters, in, k], bias
 * [filters]) applied to each row's own valid prefix:
 *
 *     y[b, t, u] = act(bias[u] + sum_j sum_c W[u, c, j] x[b, t - padL + j*d, c])
 *
 * where steps outside [0, lengths[b]) count as zeros.  Valid padding
 * (padL = 0) gives lengths[b] - (k-1)d output steps (never fewer than 0);
 * SEQCLS_PAD_SAME gives lengths[b], padding (k-1)d steps in all with the
 * larger half on the right, as PyTorch's padding='same' does for an odd
 * span.  A row's result depends on its valid steps only, never on the
 * padding after it; padding steps of the output are zero.
 *
 * Speed.  The products run on the recurrent layers' packed kernels
 * (pgemm.c), with the weight packed once per call as [k*F, U] (the k
 * input steps of a window side by side).  With dilation 1 the window of
 * output step t is k consecutive input steps, k*F contiguous values, so
 * the rows of "im2col" are the input itself read with a stride of F: a
 * row's valid output steps are one product straight from the input and
 * straight into the output, with no copy.  Only the windows that reach
 * into the zero padding (SEQCLS_PAD_SAME's first and last steps) and the
 * dilated windows are gathered (im2col) into a small buffer first.
 * Threads take whole rows; a row's result does not depend on the thread
 * count.  Backward, d(input) is the same product in reverse: the output
 * gradients of a row, with (k-1)d zero steps on each side, read with a
 * stride of U against the flipped weight, one product per row; d(weight)
 * is summed over blocks of output steps (window rows packed through
 * pointers into the input), each part into its own sum, added in part
 * order: it differs across thread counts by rounding only.
 */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum {
    WS_PLAN = WS_PRIVATE,   /* out_len[B], off_out[B + 1], row cuts (int32) */
    WS_W2,                  /* the weight reordered: [U, k*F] or [k*U, F] */
    WS_WPACK,               /* the same, packed for pgemm */
    WS_PART,                /* per part: gathered windows; dW sums and packed blocks */
    WS_DZ,                  /* d(pre-activation) [B, span + Tout + span, U] */
    WS_CONV_END
};
_Static_assert(WS_CONV_END <= WS_SLOTS, "conv1d workspace slots exceed WS_SLOTS");

#define MAX_KERNEL 65536
#define MAX_DILATION 65536
#define MAX_SPAN (1 << 24)       /* (k - 1) * dilation */
#define MAX_WEIGHT ((int64_t)1 << 32)
/* Windows gathered at a time, and output steps per block of the weight
 * gradient: a block of windows stays in L2 for the sizes of text models
 * (k*F up to a few thousand). */
#define BLOCK 128
#define WG_ROWS 256
/* Products below this many flops are not worth waking the pool for. */
#define SPLIT_FLOPS 2e6
/* Parts per thread when there are rows enough, so that a thread that gets
 * less of a shared core takes fewer. */
#define OVERSPLIT 4
#define MAX_PARTS 256

/* The span of the kernel minus one step, and the left padding. */
static int conv_span(const layer_t *L) { return (L->kernel_size - 1) * L->dilation; }
static int conv_pad_left(const layer_t *L)
{
    return (L->flags & SEQCLS_PAD_SAME) ? conv_span(L) / 2 : 0;
}

/* ---- the plan of a batch ---- */

typedef struct {
    int B, T, Tout, F, U, k, d, padL, span;
    int gather;              /* some windows must be gathered: dilated, or reaching into padding */
    int kF, kU;              /* widths of a window of inputs, of output gradients */
    int32_t *len_out;        /* [B] output lengths */
    int32_t *off_out;        /* [B + 1] first output step of each row, numbered over the batch */
    int32_t *cut;            /* [MAX_PARTS + 1] rows of each part */
    int N, Nin;              /* valid output and input steps */
    int parts;
} plan_t;

/* Output lengths and the numbering of the valid output steps. */
static int plan_make(const layer_t *L, workspace_t *ws, const value_t *in, plan_t *P)
{
    const int drop = L->steps_drop;
    int64_t n = 0, nin = 0;
    int32_t *meta;
    int b;
    P->B = in->B;
    P->T = in->T;
    P->Tout = in->T - drop > 1 ? in->T - drop : 1;
    P->F = in->F;
    P->U = L->units;
    P->k = L->kernel_size;
    P->d = L->dilation;
    P->padL = conv_pad_left(L);
    P->span = conv_span(L);
    P->kF = P->k * P->F;
    P->kU = P->k * P->U;
    P->gather = P->d != 1 || ((L->flags & SEQCLS_PAD_SAME) && P->span > 0);
    meta = ws_get(ws, WS_PLAN, seqcls__mul(2 * (size_t)P->B + MAX_PARTS + 2, sizeof *meta));
    if (!meta)
        return SEQCLS_E_NOMEM;
    P->len_out = meta;
    P->off_out = meta + P->B;
    P->cut = P->off_out + P->B + 1;
    for (b = 0; b < P->B; b++) {
        const int l = in->len[b] - drop > 0 ? in->len[b] - drop : 0;
        P->len_out[b] = l;
        P->off_out[b] = (int32_t)n;
        n += l;
        nin += in->len[b];
    }
    P->off_out[P->B] = (int32_t)n;   /* n <= nin <= B * T <= INT_MAX */
    P->N = (int)n;
    P->Nin = (int)nin;
    return SEQCLS_OK;
}

/* The plan of the last forward, from the workspace. */
static void plan_attach(const layer_t *L, workspace_t *ws, const value_t *in, const value_t *out,
                        plan_t *P)
{
    int b;
    P->B = in->B;
    P->T = in->T;
    P->Tout = out->T;
    P->F = in->F;
    P->U = L->units;
    P->k = L->kernel_size;
    P->d = L->dilation;
    P->padL = conv_pad_left(L);
    P->span = conv_span(L);
    P->kF = P->k * P->F;
    P->kU = P->k * P->U;
    P->gather = P->d != 1 || ((L->flags & SEQCLS_PAD_SAME) && P->span > 0);
    P->len_out = ws->buf[WS_PLAN];
    P->off_out = P->len_out + P->B;
    P->cut = P->off_out + P->B + 1;
    P->N = P->off_out[P->B];
    for (P->Nin = 0, b = 0; b < P->B; b++)
        P->Nin += in->len[b];
}

/* Cut the rows into parts of about equal work (`steps` per row from
 * `len`); returns the number of parts. */
static int plan_parts(plan_t *P, const int32_t *len, int64_t total, double flops)
{
    int parts = seqcls__parallel_parts(), p, b = 0;
    int64_t acc = 0;
    if (parts > 1)
        parts *= OVERSPLIT;
    if (parts > MAX_PARTS)
        parts = MAX_PARTS;
    if (parts > P->B)
        parts = P->B;
    if (parts < 1 || flops < SPLIT_FLOPS || total == 0)
        parts = 1;
    P->cut[0] = 0;
    for (p = 1; p < parts; p++) {
        const int64_t want = total * p / parts;
        while (b < P->B && acc < want)
            acc += len[b++];
        P->cut[p] = b;
    }
    P->cut[parts] = P->B;
    P->parts = parts;
    return parts;
}

/* Gather the input windows of output steps [t0, t1) of row b into col
 * [t1 - t0, k*F]: for j = 0..k-1 the F inputs at step t - padL + j*d, or
 * zeros outside the row's valid steps. */
static void im2col(const plan_t *P, const value_t *in, int b, int t0, int t1, real *col)
{
    const real *xb = in->x + (size_t)b * P->T * P->F;
    const int len = in->len[b];
    int t, j;
    for (t = t0; t < t1; t++) {
        real *c = col + (size_t)(t - t0) * P->kF;
        for (j = 0; j < P->k; j++) {
            const int64_t p = (int64_t)t - P->padL + (int64_t)j * P->d;
            real *cj = c + (size_t)j * P->F;
            if (p >= 0 && p < len)
                memcpy(cj, xb + (size_t)p * P->F, (size_t)P->F * sizeof(real));
            else
                memset(cj, 0, (size_t)P->F * sizeof(real));
        }
    }
}

/* The output steps [*t0, *t1) of row b whose windows lie inside its valid
 * steps and are contiguous (dilation 1): read straight from the input. */
static void direct_range(const plan_t *P, int len, int lout, int *t0, int *t1)
{
    *t0 = *t1 = 0;
    if (P->d != 1)
        return;
    *t0 = P->padL < lout ? P->padL : lout;
    *t1 = len - P->k + 1 + P->padL;
    if (*t1 > lout)
        *t1 = lout;
    if (*t1 < *t0)
        *t1 = *t0;
}

/* ---- forward ---- */

typedef struct {
    const layer_t *L;
    const plan_t *P;
    const value_t *in;
    const real *Wp;          /* W packed as [k*F, U] */
    real *y;                 /* [B, Tout, U] */
    real *buf;               /* per part: col [BLOCK, kF] */
    size_t part_len;
} fwd_job_t;

/* Output steps [t0, t1) of row b through gathered windows. */
static void gathered_rows(const fwd_job_t *J, int b, int t0, int t1, real *col, real *yb)
{
    const plan_t *P = J->P;
    int t;
    for (t = t0; t < t1; t += BLOCK) {
        const int n = t1 - t < BLOCK ? t1 - t : BLOCK;
        im2col(P, J->in, b, t, t + n, col);
        pgemm(n, P->U, P->kF, col, P->kF, J->Wp, 0, J->L->w[1], yb + (size_t)t * P->U, P->U);
    }
}

static void forward_part(void *arg, int part, int parts)
{
    const fwd_job_t *J = arg;
    const plan_t *P = J->P;
    real *col = J->buf + (size_t)part * J->part_len;
    int b;
    (void)parts;
    for (b = P->cut[part]; b < P->cut[part + 1]; b++) {
        const int len = J->in->len[b], lout = P->len_out[b];
        real *yb = J->y + (size_t)b * P->Tout * P->U;
        int t0, t1;
        if (lout == 0)
            continue;
        direct_range(P, len, lout, &t0, &t1);
        if (t1 > t0)   /* windows overlapping in the input: its rows with a stride of F */
            pgemm(t1 - t0, P->U, P->kF, J->in->x + ((size_t)b * P->T + (t0 - P->padL)) * P->F,
                  P->F, J->Wp, 0, J->L->w[1], yb + (size_t)t0 * P->U, P->U);
        gathered_rows(J, b, 0, t0, col, yb);
        gathered_rows(J, b, t1, lout, col, yb);
        act_forward(J->L->activation, yb, (size_t)lout * P->U);
    }
}

static int conv1d_forward(const layer_t *L, workspace_t *ws, const value_t *in, value_t *out,
                          const run_ctx_t *ctx)
{
    plan_t P;
    fwd_job_t J;
    real *y, *w2, *wp;
    int rc, b, u, c, j, parts;
    (void)ctx;

    if ((rc = plan_make(L, ws, in, &P)) != SEQCLS_OK)
        return rc;
    y = ws_get(ws, WS_OUT, seqcls__mul((size_t)P.B * P.Tout, (size_t)P.U * sizeof(real)));
    w2 = ws_get(ws, WS_W2, seqcls__mul((size_t)P.U, (size_t)P.kF * sizeof(real)));
    wp = ws_get(ws, WS_WPACK, seqcls__mul(pgemm_packed_len(P.kF, P.U), sizeof(real)));
    if (!y || !w2 || !wp)
        return SEQCLS_E_NOMEM;
    /* W [U, F, k] (PyTorch) -> W2 [U, k, F], the layout of a window; packed as its transpose */
    for (u = 0; u < P.U; u++)
        for (c = 0; c < P.F; c++)
            for (j = 0; j < P.k; j++)
                w2[((size_t)u * P.k + j) * P.F + c] = L->w[0][((size_t)u * P.F + c) * P.k + j];
    pgemm_pack(wp, w2, P.kF, 1, P.kF, P.U);
    /* padding steps of the output are zero */
    for (b = 0; b < P.B; b++)
        if (P.len_out[b] < P.Tout)
            memset(y + ((size_t)b * P.Tout + P.len_out[b]) * P.U, 0,
                   (size_t)(P.Tout - P.len_out[b]) * P.U * sizeof(real));
    memset(&J, 0, sizeof J);
    parts = plan_parts(&P, P.len_out, P.N, 2.0 * P.N * P.kF * P.U);
    J.part_len = P.gather ? (size_t)BLOCK * P.kF : 0;
    J.buf = ws_get(ws, WS_PART, seqcls__mul(J.part_len * (size_t)parts + 16, sizeof(real)));
    if (!J.buf)
        return SEQCLS_E_NOMEM;
    J.L = L;
    J.P = &P;
    J.in = in;
    J.Wp = wp;
    J.y = y;
    if (P.N > 0)
        seqcls__parallel(parts, forward_part, &J);
    memset(out, 0, sizeof *out);
    out->kind = VAL_SEQ;
    out->B = P.B;
    out->T = P.Tout;
    out->F = P.U;
    out->x = y;
    out->len = L->steps_drop ? P.len_out : in->len;
    return SEQCLS_OK;
}

/* ---- backward ---- */

typedef struct {
    const plan_t *P;
    const value_t *in;
    const real *dzp;         /* [B, span + Tout + span, U], zero outside the valid steps */
    const real *Wp;          /* flipped weight packed as [k*U, F] */
    real *dx;                /* [B, T, F] */
    real *buf;
    size_t part_len;
    int blocks;
} bwd_job_t;

/* d(output pre-activation) of step t of row b (t may reach span steps
 * beyond either end of the row: zeros). */
static const real *dz_at(const plan_t *P, const real *dzp, int b, int64_t t)
{
    return dzp + ((size_t)b * (P->Tout + 2 * (size_t)P->span) + (size_t)(P->span + t)) * P->U;
}

/* dx of row b: input step p reads the output gradients of steps
 * t = p + padL - j*d, j = 0..k-1, against the weight flipped in j. */
static void dgrad_part(void *arg, int part, int parts)
{
    const bwd_job_t *J = arg;
    const plan_t *P = J->P;
    real *zc = J->buf + (size_t)part * J->part_len;
    int b;
    (void)parts;
    for (b = P->cut[part]; b < P->cut[part + 1]; b++) {
        const int len = J->in->len[b];
        real *dxb = J->dx + (size_t)b * P->T * P->F;
        int p0, i, j;
        if (len == 0)
            continue;
        if (P->d == 1) {   /* step p's k gradients are contiguous, from t = p + padL - (k-1) */
            pgemm(len, P->F, P->kU, dz_at(P, J->dzp, b, (int64_t)P->padL - (P->k - 1)), P->U,
                  J->Wp, 0, NULL, dxb, P->F);
            continue;
        }
        for (p0 = 0; p0 < len; p0 += BLOCK) {
            const int n = len - p0 < BLOCK ? len - p0 : BLOCK;
            for (i = 0; i < n; i++)
                for (j = 0; j < P->k; j++)   /* flipped: j' = k-1-j, as the packed weight */
                    memcpy(zc + (size_t)i * P->kU + (size_t)(P->k - 1 - j) * P->U,
                           dz_at(P, J->dzp, b, (int64_t)(p0 + i) + P->padL - (int64_t)j * P->d),
                           (size_t)P->U * sizeof(real));
            pgemm(n, P->F, P->kU, zc, P->kU, J->Wp, 0, NULL, dxb + (size_t)p0 * P->F, P->F);
        }
    }
}

/* A part's buffer for the weight gradient: dW2 [U, kF], db [U], then the
 * packed blocks: dZ^T [WG_ROWS, U], windows [WG_ROWS, kF], the gathered
 * dZ rows and windows, and the windows' row pointers. */
typedef struct {
    real *dw, *db, *zt, *xw, *zrows, *col;
    const real **rows;
} wg_bufs_t;

static size_t wg_layout(const plan_t *P, real *base, wg_bufs_t *w)
{
    const size_t sizes[6] = {(size_t)P->U * P->kF, (size_t)P->U,
                             pgemm_packed_t_len(WG_ROWS, P->U), pgemm_packed_len(WG_ROWS, P->kF),
                             (size_t)WG_ROWS * P->U,
                             P->gather ? (size_t)WG_ROWS * P->kF : 0};
    real **slots[6] = {&w->dw, &w->db, &w->zt, &w->xw, &w->zrows, &w->col};
    size_t off = 0;
    int i;
    for (i = 0; i < 6; i++) {
        if (base)
            *slots[i] = base + off;
        off += (sizes[i] + 15) / 16 * 16;   /* 64-byte aligned */
    }
    if (base)
        w->rows = (const real **)(void *)(base + off);
    return off + (WG_ROWS * sizeof(real *) + 16 * sizeof(real) - 1) / (16 * sizeof(real)) * 16;
}

/* dW2 += dZ^T windows and db += sum dZ over the blocks of output steps of
 * this part (blocks are numbered over the batch; part p takes p, p +
 * parts, ...). */
static void wgrad_part(void *arg, int part, int parts)
{
    const bwd_job_t *J = arg;
    const plan_t *P = J->P;
    const int U = P->U;
    wg_bufs_t w;
    int blk;
    wg_layout(P, J->buf + (size_t)part * J->part_len, &w);
    memset(w.dw, 0, (size_t)(w.zt - w.dw) * sizeof(real));
    for (blk = part; blk < J->blocks; blk += parts) {
        const int n0 = blk * WG_ROWS, kb = P->N - n0 < WG_ROWS ? P->N - n0 : WG_ROWS;
        int i, u, b = 0, lo = 0, hi = P->B, ncol = 0;
        while (hi - lo > 1) {   /* the row of step n0: off_out[b] <= n0 < off_out[b + 1] */
            const int mid = (lo + hi) / 2;
            if (P->off_out[mid] <= n0)
                lo = mid;
            else
                hi = mid;
        }
        b = lo;
        for (i = 0; i < kb; i++) {
            const int n = n0 + i;
            int t, len;
            const real *g;
            while (n >= P->off_out[b + 1])
                b++;
            t = n - P->off_out[b];
            len = J->in->len[b];
            g = dz_at(P, J->dzp, b, t);
            memcpy(w.zrows + (size_t)i * U, g, (size_t)U * sizeof(real));
            for (u = 0; u < U; u++)
                w.db[u] += g[u];
            if (P->d == 1 && t - P->padL >= 0 && t - P->padL + P->k <= len) {
                w.rows[i] = J->in->x + ((size_t)b * P->T + (size_t)(t - P->padL)) * P->F;
            } else {
                real *c = w.col + (size_t)ncol++ * P->kF;
                im2col(P, J->in, b, t, t + 1, c);
                w.rows[i] = c;
            }
        }
        pgemm_pack_t(w.zt, w.zrows, U, kb, U);
        pgemm_pack_rows(w.xw, w.rows, kb, P->kF);
        pgemm_tn(U, P->kF, kb, w.zt, w.xw, w.dw, P->kF);
    }
}

static int conv1d_backward(layer_t *L, workspace_t *ws, const value_t *in, const value_t *out,
                           const value_t *dout, value_t *din, const run_ctx_t *ctx)
{
    plan_t P;
    bwd_job_t J;
    real *dzp, *dx, *w3, *wp;
    int b, u, c, j, p, parts;
    size_t rowlen;
    (void)ctx;

    plan_attach(L, ws, in, out, &P);
    rowlen = ((size_t)P.Tout + 2 * (size_t)P.span) * P.U;
    dzp = ws_get(ws, WS_DZ, seqcls__mul(seqcls__mul((size_t)P.B, rowlen), sizeof(real)));
    dx = ws_get(ws, WS_DIN, seqcls__mul((size_t)P.B * P.T, (size_t)P.F * sizeof(real)));
    w3 = ws_get(ws, WS_W2, seqcls__mul((size_t)P.kU, (size_t)P.F * sizeof(real)));
    wp = ws_get(ws, WS_WPACK, seqcls__mul(pgemm_packed_len(P.kU, P.F), sizeof(real)));
    if (!dzp || !dx || !w3 || !wp)
        return SEQCLS_E_NOMEM;
    /* d(pre-activation) at the valid steps, zeros around them */
    for (b = 0; b < P.B; b++) {
        real *row = dzp + (size_t)b * rowlen, *v = row + (size_t)P.span * P.U;
        const size_t n = (size_t)P.len_out[b] * P.U;
        memset(row, 0, (size_t)P.span * P.U * sizeof(real));
        memcpy(v, dout->x + (size_t)b * P.Tout * P.U, n * sizeof(real));
        act_backward(L->activation, out->x + (size_t)b * P.Tout * P.U, v, n);
        memset(v + n, 0, (rowlen - (size_t)P.span * P.U - n) * sizeof(real));
    }
    for (b = 0; b < P.B; b++)
        if (in->len[b] < P.T)
            memset(dx + ((size_t)b * P.T + in->len[b]) * P.F, 0,
                   (size_t)(P.T - in->len[b]) * P.F * sizeof(real));

    memset(&J, 0, sizeof J);
    J.P = &P;
    J.in = in;
    J.dzp = dzp;
    J.dx = dx;
    if (P.N > 0) {
        /* dW and db, each part into its own sums, added in part order */
        wg_bufs_t w;
        J.blocks = (P.N + WG_ROWS - 1) / WG_ROWS;
        parts = seqcls__parallel_parts();
        if (parts > J.blocks)
            parts = J.blocks;
        if (parts < 1 || 2.0 * P.N * P.kF * P.U < SPLIT_FLOPS)
            parts = 1;
        J.part_len = wg_layout(&P, NULL, &w);
        J.buf = ws_get(ws, WS_PART, seqcls__mul(J.part_len * (size_t)parts, sizeof(real)));
        if (!J.buf)
            return SEQCLS_E_NOMEM;
        seqcls__parallel(parts, wgrad_part, &J);
        for (p = 0; p < parts; p++) {
            wg_layout(&P, J.buf + (size_t)p * J.part_len, &w);
            for (u = 0; u < P.U; u++) {
                for (c = 0; c < P.F; c++)
                    for (j = 0; j < P.k; j++)
                        L->g[0][((size_t)u * P.F + c) * P.k + j] +=
                            w.dw[((size_t)u * P.k + j) * P.F + c];
                L->g[1][u] += w.db[u];
            }
        }

        /* dx: W [U, F, k] -> W3 [k, U, F] flipped in k, packed as [k*U, F] */
        for (u = 0; u < P.U; u++)
            for (c = 0; c < P.F; c++)
                for (j = 0; j < P.k; j++)
                    w3[((size_t)(P.k - 1 - j) * P.U + u) * P.F + c] =
                        L->w[0][((size_t)u * P.F + c) * P.k + j];
        pgemm_pack(wp, w3, P.F, 0, P.kU, P.F);
        J.Wp = wp;
        parts = plan_parts(&P, in->len, P.Nin, 2.0 * P.Nin * P.kU * P.F);
        J.part_len = P.d == 1 ? 0 : (size_t)BLOCK * P.kU;
        J.buf = ws_get(ws, WS_PART, seqcls__mul(J.part_len * (size_t)parts + 16, sizeof(real)));
        if (!J.buf)
            return SEQCLS_E_NOMEM;
        seqcls__parallel(parts, dgrad_part, &J);
    } else {
        /* no output step: nothing flows back */
        for (b = 0; b < P.B; b++)
            memset(dx + (size_t)b * P.T * P.F, 0, (size_t)in->len[b] * P.F * sizeof(real));
    }
    *din = *in;
    din->x = dx;
    din->fin = NULL;
    return SEQCLS_OK;
}

/* ---- options, description, construction ---- */

static int check_dilation(const layer_t *L, int dilation, const char *func)
{
    if (dilation < 1 || dilation > MAX_DILATION)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: dilation %d is outside [1, %d]", func,
                            dilation, MAX_DILATION);
    if ((int64_t)(L->kernel_size - 1) * dilation > MAX_SPAN)
        return seqcls__fail(SEQCLS_E_INVALID_ARG,
                            "%s: kernel_size %d with dilation %d spans more than %d steps", func,
                            L->kernel_size, dilation, MAX_SPAN);
    return SEQCLS_OK;
}

static void set_span(layer_t *L)
{
    L->steps_drop = (L->flags & SEQCLS_PAD_SAME) ? 0 : conv_span(L);
}

/* SEQCLS_OPT_ACTIVATION (any time) and SEQCLS_OPT_DILATION (while no
 * layer follows: a valid convolution's dilation changes how many steps
 * the layers after it see). */
static int conv1d_set_int(seqcls_model_t *m, layer_t *L, int option, int value)
{
    const char *func = "seqcls_layer_set_int";
    int rc;
    if (option == SEQCLS_OPT_ACTIVATION) {
        if (value < SEQCLS_ACT_NONE || value > SEQCLS_ACT_HARD_SIGMOID)
            return seqcls__fail(SEQCLS_E_INVALID_ARG,
                                "%s: SEQCLS_OPT_ACTIVATION of a conv1d layer takes SEQCLS_ACT_*, "
                                "not %d",
                                func, value);
        L->activation = value;
        return SEQCLS_OK;
    }
    if ((rc = check_dilation(L, value, func)) != SEQCLS_OK)
        return rc;
    if (L->index != m->nlayers - 1 && value != L->dilation)
        return seqcls__fail(SEQCLS_E_STATE,
                            "%s: set SEQCLS_OPT_DILATION of layer %d (conv1d) before adding the "
                            "layers after it",
                            func, L->index);
    L->dilation = value;
    set_span(L);
    return SEQCLS_OK;
}

static void conv1d_describe(const layer_t *L, char *buf, size_t cap)
{
    char dil[32] = "";
    if (L->dilation != 1)
        snprintf(dil, sizeof dil, ", dilation=%d", L->dilation);
    snprintf(buf, cap, "filters=%d, kernel=%d, %s%s, %s", L->units, L->kernel_size,
             (L->flags & SEQCLS_PAD_SAME) ? "same" : "valid", dil, act_name(L->activation));
}

static int conv1d_rebuild(seqcls_model_t *m, const layer_t *c)
{
    return seqcls_add_conv1d(m, c->units, c->kernel_size, c->flags, NULL);
}

static const layer_option_t conv1d_options[] = {
    {SEQCLS_OPT_ACTIVATION, FIELD_ACTIVATION, 1},
    {SEQCLS_OPT_DILATION, FIELD_DILATION, 1},
    {SEQCLS_OPT_UNITS, FIELD_UNITS, 0},
    {SEQCLS_OPT_FLAGS, FIELD_FLAGS, 0},
    {0, 0, 0},
};

const layer_ops_t seqcls__conv1d_ops = {
    .kind = SEQCLS_LAYER_CONV1D,
    .name = "conv1d",
    .takes = 1u << VAL_SEQ,
    .options = conv1d_options,
    .forward = conv1d_forward,
    .backward = conv1d_backward,
    .set_int = conv1d_set_int,
    .describe = conv1d_describe,
    .rebuild = conv1d_rebuild,
};

int seqcls_add_conv1d(seqcls_model_t *m, int filters, int kernel_size, unsigned flags,
                      int *layer)
{
    const char *func = "seqcls_add_conv1d";
    layer_t *L;
    int64_t shape[3];
    int rc;
    if (m && (filters < 1 || filters > (1 << 24)))
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: filters (%d) must be in [1, 2^24]", func,
                            filters);
    if (m && (kernel_size < 1 || kernel_size > MAX_KERNEL))
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: kernel_size (%d) must be in [1, %d]", func,
                            kernel_size, MAX_KERNEL);
    if (m && (flags & ~SEQCLS_PAD_SAME))
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: unknown flags 0x%x", func,
                            flags & ~SEQCLS_PAD_SAME);
    rc = model_begin_layer(m, func, &seqcls__conv1d_ops, &L);
    if (rc)
        return rc;
    L->units = filters;
    L->kernel_size = kernel_size;
    L->flags = flags;
    set_span(L);
    L->out_kind = VAL_SEQ;
    L->out_F = filters;
    if ((int64_t)filters * L->in_F * kernel_size > MAX_WEIGHT ||
        (int64_t)L->in_F * kernel_size > INT_MAX / 2 ||
        (int64_t)filters * kernel_size > INT_MAX / 2)
        return model_commit_layer(
            m, L,
            seqcls__fail(SEQCLS_E_NOMEM,
                         "%s: %d filters of %d steps over %d inputs make weights too large", func,
                         filters, kernel_size, L->in_F),
            NULL);
    shape[0] = filters;
    shape[1] = L->in_F;
    shape[2] = kernel_size;
    rc = model_add_param(m, L, "weight", 3, shape, 1);
    if (rc == SEQCLS_OK)
        rc = model_add_param(m, L, "bias", 1, shape, 1);
    if (rc == SEQCLS_OK)
        dense_init(&m->rng, L, L->in_F * kernel_size);   /* nn.Conv1d: fan_in = in * k */
    return model_commit_layer(m, L, rc, layer);
}
