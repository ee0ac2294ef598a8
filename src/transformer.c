/*
 * transformer.c -- one transformer encoder layer, exactly PyTorch 1.13's
 * nn.TransformerEncoderLayer(d_model = d, nhead = heads, dim_feedforward
 * = ff_dim, batch_first = True) with src_key_padding_mask taken from the
 * lengths:
 *
 *   post-norm:  x = LN1(x + Drop(MHA(x)));  x = LN2(x + Drop(W2 Drop(act(W1 x + b1)) + b2))
 *   pre-norm:   x = x + Drop(MHA(LN1(x)));  x = x + Drop(W2 Drop(act(W1 LN2(x) + b1)) + b2)
 *   MHA(x):     [Q|K|V] = x Win^T + bin; per head h of width dh = d / heads:
 *               O_h = Drop(softmax(Q_h K_h^T / sqrt(dh))) V_h over the row's valid keys;
 *               MHA = [O_1 | ... | O_heads] Wout^T + bout
 *
 * Layer norms use the biased variance with eps inside the square root;
 * GELU is the exact x Phi(x).  Dropout (training only, inverted, one
 * rate) sits where PyTorch has it: on the attention weights, after the
 * attention block, after the activation and after the feed-forward block.
 *
 * Padding costs nothing.  Every position-wise product works on the valid
 * steps only, packed row after row into [N, .] matrices (N = the sum of
 * the lengths; with no padding the input is used as it is), and attention
 * is computed per (row, head) over the row's len x len block, so a batch
 * costs in proportion to the sum of len^2, not B T^2.  Outputs at padding
 * steps are zero, a row of length 0 gives zeros, and neither the values
 * nor the gradients at padding steps reach anything.
 *
 * Products.  The position-wise ones (x Win^T, the output projection,
 * linear1 and linear2, and their d(input)) and the attention products
 * whose right operand can be packed (Q K^T, P V, dO V^T, dS K) run on
 * pgemm (src/pgemm.c) with the weight or the head's K/V packed once per
 * call; the weight gradients and the two transposed attention products
 * (P^T dO, dS^T Q) on blas_gemm.
 *
 * Threads.  The (row, head) blocks are shared out to the library's pool
 * longest first, each part taking the next block as it comes free with
 * scratch memory of its own; elementwise passes (layer norms, activation,
 * dropout, softmax) split the packed rows; large products split by rows
 * inside pgemm and blas_gemm; parameter gradients that are sums over rows
 * are split by columns, each summed in row order.  Dropout keep flags are
 * a hash of the element's place under a key per (site, packed row) or per
 * (row, head), derived from one draw of the model's random stream per
 * forward: nothing depends on the thread count, and the backward computes
 * the masks again instead of keeping them.
 *
 * The attention probabilities of the last forward stay in the workspace
 * (block of row b, head h at poff[b] + h len_b^2): the backward needs
 * them, and seqcls_self_attention_weights reads them out.
 */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    WS_GEOM = WS_PRIVATE, /* dropout seed, row offsets, task order, packed row -> step */
    WS_X,                 /* the input packed [N, d] (when some row has padding) */
    WS_H0,                /* pre-norm: LN1(x) [N, d] */
    WS_QKV,               /* [N, 3d], Q already divided by sqrt(dh) as PyTorch does */
    WS_P,                 /* attention probabilities, per (row, head) [len, len] */
    WS_A,                 /* the heads' outputs side by side [N, d] */
    WS_R1,                /* x + Drop(MHA) [N, d] */
    WS_H1,                /* the feed-forward input: LN1(R1) post-norm, LN2(R1) pre-norm */
    WS_Z1,                /* linear1's output [N, ff] (training) */
    WS_G,                 /* Drop(act(Z1)) [N, ff] */
    WS_R2,                /* linear2's output, post-norm then + H1 [N, d] */
    WS_STATS,             /* mean and 1/std of both norms [4, N] */
    WS_SCRATCH,           /* attention: per part */
    WS_WPACK,             /* a weight packed for pgemm */
    WS_DY,                /* backward: d(output) packed [N, d] */
    WS_D1, WS_D2,         /* [N, d] each */
    WS_DZ,                /* [N, ff] */
    WS_DA,                /* [N, d] */
    WS_DQKV,              /* [N, 3d] */
    WS_DX,                /* packed d(input) [N, d] (when some row has padding) */
    WS_KEYS,              /* seqcls_fit: [1 + B], B then the rows' dropout keys (0: none) */
    WS_TF_END
};
_Static_assert(WS_TF_END <= WS_SLOTS, "transformer workspace slots exceed WS_SLOTS");

/* parameter slots, in the order of PyTorch's state_dict */
enum {
    P_WIN, P_BIN, P_WOUT, P_BOUT, P_W1, P_B1, P_W2, P_B2, P_G1, P_BE1, P_G2, P_BE2, P_COUNT
};
static const char *const param_names[P_COUNT] = {
    "self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight",
    "self_attn.out_proj.bias", "linear1.weight", "linear1.bias", "linear2.weight",
    "linear2.bias", "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias",
};

/* The dropout sites, each with its own random streams. */
enum { SITE_ATTN = 1, SITE_1, SITE_FF, SITE_2 };

/* Constructor limits: checked before anything is allocated. */
#define MAX_FF_DIM (1 << 24)
#define MAX_WEIGHTS ((int64_t)1 << 31)   /* elements of all the weights together */

/* Elementwise loops run over blocks of VB, which -O2 vectorises (see
 * RNN_SPANS); `restrict` spares the compiler the aliasing checks it
 * would not make at -O2, and selections are done on the bits (integer
 * compares), so that the loops have no control flow under the default
 * floating-point model. */
#define VB 16

/* ---- elementwise math ---- */

#ifdef SEQCLS_REAL_DOUBLE

SEQCLS_CLONE_INLINE real r_exp(real x) { return exp(x); }
/* Phi(x), the standard normal distribution function */
SEQCLS_CLONE_INLINE real phi_cdf(real x) { return 0.5 * erfc(-x * 0.70710678118654752440); }
SEQCLS_CLONE_INLINE real r_rsqrt(real x) { return 1 / sqrt(x); }
/* v where z > 0, else 0 */
SEQCLS_CLONE_INLINE real where_pos(real z, real v) { return z > 0 ? v : 0; }

#else

SEQCLS_CLONE_INLINE int32_t f_bits(float x)
{
    union { float f; int32_t i; } u;
    u.f = x;
    return u.i;
}

SEQCLS_CLONE_INLINE float f_of(int32_t i)
{
    union { float f; int32_t i; } u;
    u.i = i;
    return u.f;
}

/* e^x for x <= 0, to an ulp or two (Cephes' expf: range reduction by
 * ln 2, a degree-6 polynomial, the exponent put in by bit arithmetic);
 * 0 below -87. */
SEQCLS_CLONE_INLINE float r_exp(float x)
{
    const int32_t xi = f_bits(x), mag = xi & 0x7fffffff, lim = 0x42ae0000;   /* 87.0f */
    const int32_t under = -(int32_t)((xi < 0) & (mag > lim));
    float n, r, p;
    x = f_of((mag > lim ? lim : mag) | (xi & (int32_t)0x80000000));
    n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    p = p * f_of(((int32_t)n + 127) << 23);
    return f_of(f_bits(p) & ~under);
}

/* Phi(x) = erfc(-x / sqrt 2) / 2, with erfc of |x| / sqrt 2 by the
 * Chebyshev fit of Numerical Recipes' erfcc (relative error below
 * 1.2e-7), so that the tail x < 0 is accurate to its last bits too. */
SEQCLS_CLONE_INLINE float phi_cdf(float x)
{
    const int32_t xi = f_bits(x), neg = -(int32_t)(xi < 0);
    const float z = f_of(xi & 0x7fffffff) * 0.70710678118654752440f;
    const float t = 1.0f / (1.0f + 0.5f * z);
    float q = 0.17087277f, e, lo, hi;
    q = q * t - 0.82215223f;
    q = q * t + 1.48851587f;
    q = q * t - 1.13520398f;
    q = q * t + 0.27886807f;
    q = q * t - 0.18628806f;
    q = q * t + 0.09678418f;
    q = q * t + 0.37409196f;
    q = q * t + 1.00002368f;
    q = q * t - 1.26551223f;
    e = t * r_exp(q - z * z);   /* erfc(|x| / sqrt 2) */
    lo = 0.5f * e;
    hi = 1.0f - lo;
    return f_of((f_bits(lo) & neg) | (f_bits(hi) & ~neg));
}

SEQCLS_CLONE_INLINE float r_rsqrt(float x) { return 1.0f / sqrtf(x); }

SEQCLS_CLONE_INLINE float where_pos(float z, float v)
{
    return f_of(f_bits(v) & -(int32_t)(f_bits(z) > 0));
}

#endif

/* ---- dropout streams ----
 *
 * The keep flag of element i of a stream is a hash of i under the
 * stream's key (two rounds of Wellons' lowbias32 around the key's two
 * halves), so that the masks vectorise, need no storage (the backward
 * computes them again) and depend on nothing but the seed and the
 * element's place: a stream per (site, packed row) and per (row, head). */

typedef struct {
    uint32_t k0, k1;
    uint32_t thresh;          /* drop when the hash is below: rate 2^32 */
    real scale;               /* 1 / (1 - rate) */
} drop_t;

static uint64_t mix64(uint64_t z)
{
    z ^= z >> 33;
    z *= 0xff51afd7ed558ccdull;
    z ^= z >> 33;
    z *= 0xc4ceb9fe1a85ec53ull;
    return z ^ (z >> 33);
}

SEQCLS_CLONE_INLINE uint32_t lowbias32(uint32_t h)
{
    h ^= h >> 16;
    h *= 0x7feb352du;
    h ^= h >> 15;
    h *= 0x846ca68bu;
    return h ^ (h >> 16);
}

/* 0 or 1 / (1 - rate) */
SEQCLS_CLONE_INLINE real keep_factor(drop_t k, uint32_t i)
{
    const uint32_t h = lowbias32(lowbias32(i ^ k.k0) + k.k1);
    return (real)(h >= k.thresh) * k.scale;
}

/* x[i] *= keep(i) over [0, n) */
SEQCLS_CLONE_INLINE void drop_inplace(real *restrict x, size_t n, drop_t k)
{
    size_t i = 0;
    int j;
    for (; i + VB <= n; i += VB)
        for (j = 0; j < VB; j++)
            x[i + j] *= keep_factor(k, (uint32_t)(i + j));
    for (; i < n; i++)
        x[i] *= keep_factor(k, (uint32_t)i);
}

/* y[i] = x[i] keep(i) over [0, n) */
SEQCLS_CLONE_INLINE void drop_copy(const real *restrict x, real *restrict y, size_t n, drop_t k)
{
    size_t i = 0;
    int j;
    for (; i + VB <= n; i += VB)
        for (j = 0; j < VB; j++)
            y[i + j] = x[i + j] * keep_factor(k, (uint32_t)(i + j));
    for (; i < n; i++)
        y[i] = x[i] * keep_factor(k, (uint32_t)i);
}

/* ---- reductions and row kernels ---- */

/* sum of x[0..n) in VB lanes, then the lanes and the tail in order */
SEQCLS_CLONE_INLINE real vsum(const real *restrict x, int n)
{
    real acc[VB] = {0}, s = 0;
    int i = 0, k;
    for (; i + VB <= n; i += VB)
        for (k = 0; k < VB; k++)
            acc[k] += x[i + k];
    for (k = 0; k < VB; k++)
        s += acc[k];
    for (; i < n; i++)
        s += x[i];
    return s;
}

SEQCLS_CLONE_INLINE real vdot(const real *restrict x, const real *restrict y, int n)
{
    real acc[VB] = {0}, s = 0;
    int i = 0, k;
    for (; i + VB <= n; i += VB)
        for (k = 0; k < VB; k++)
            acc[k] += x[i + k] * y[i + k];
    for (k = 0; k < VB; k++)
        s += acc[k];
    for (; i < n; i++)
        s += x[i] * y[i];
    return s;
}

/* sum of (x - c)^2 */
SEQCLS_CLONE_INLINE real vsqdev(const real *restrict x, real c, int n)
{
    real acc[VB] = {0}, s = 0;
    int i = 0, k;
    for (; i + VB <= n; i += VB)
        for (k = 0; k < VB; k++)
            acc[k] += (x[i + k] - c) * (x[i + k] - c);
    for (k = 0; k < VB; k++)
        s += acc[k];
    for (; i < n; i++)
        s += (x[i] - c) * (x[i] - c);
    return s;
}

SEQCLS_CLONE_INLINE real vmax(const real *restrict x, int n)
{
    real acc[VB], m;
    int i = 0, k;
    if (n < VB) {
        m = x[0];
        for (i = 1; i < n; i++)
            m = x[i] > m ? x[i] : m;
        return m;
    }
    for (k = 0; k < VB; k++)
        acc[k] = x[k];
    for (i = VB; i + VB <= n; i += VB)
        for (k = 0; k < VB; k++)
            acc[k] = x[i + k] > acc[k] ? x[i + k] : acc[k];
    m = acc[0];
    for (k = 1; k < VB; k++)
        m = acc[k] > m ? acc[k] : m;
    for (; i < n; i++)
        m = x[i] > m ? x[i] : m;
    return m;
}

/* v += x */
SEQCLS_CLONE_INLINE void acc_row(real *restrict v, const real *restrict x, int n)
{
    int i = 0, k;
    for (; i + VB <= n; i += VB)
        for (k = 0; k < VB; k++)
            v[i + k] += x[i + k];
    for (; i < n; i++)
        v[i] += x[i];
}

/* y = a + b */
SEQCLS_CLONE_INLINE void add_row(real *restrict y, const real *restrict a, const real *restrict b,
                                 int n)
{
    int i = 0, k;
    for (; i + VB <= n; i += VB)
        for (k = 0; k < VB; k++)
            y[i + k] = a[i + k] + b[i + k];
    for (; i < n; i++)
        y[i] = a[i] + b[i];
}

/* Softmax of each of the `rows` rows of s [rows, n] in place. */
SEQCLS_VECTORISED
static void softmax_rows(real *restrict s, int rows, int n)
{
    int r, i, k;
    for (r = 0; r < rows; r++) {
        real *restrict x = s + (size_t)r * n, acc[VB] = {0}, sum = 0, inv;
        const real mx = vmax(x, n);
        for (i = 0; i + VB <= n; i += VB)
            for (k = 0; k < VB; k++) {
                x[i + k] = r_exp(x[i + k] - mx);
                acc[k] += x[i + k];
            }
        for (k = 0; k < VB; k++)
            sum += acc[k];
        for (; i < n; i++) {
            x[i] = r_exp(x[i] - mx);
            sum += x[i];
        }
        inv = 1 / sum;
        for (i = 0; i + VB <= n; i += VB)
            for (k = 0; k < VB; k++)
                x[i + k] *= inv;
        for (; i < n; i++)
            x[i] *= inv;
    }
}

/* Through the softmax: ds = p (dp - sum(p dp)), rows [rows, n], in place on dp. */
SEQCLS_VECTORISED
static void softmax_rows_backward(const real *restrict p, real *restrict dp, int rows, int n)
{
    int r, i, k;
    for (r = 0; r < rows; r++) {
        const real *restrict pr = p + (size_t)r * n;
        real *restrict g = dp + (size_t)r * n;
        const real dot = vdot(pr, g, n);
        for (i = 0; i + VB <= n; i += VB)
            for (k = 0; k < VB; k++)
                g[i + k] = pr[i + k] * (g[i + k] - dot);
        for (; i < n; i++)
            g[i] = pr[i] * (g[i] - dot);
    }
}

SEQCLS_VECTORISED
static void drop_block(const real *restrict x, real *restrict y, size_t n, drop_t k)
{
    drop_copy(x, y, n, k);
}

/* Layer norm of one row: y = (x - mean) / sqrt(var + eps) * gamma + beta. */
SEQCLS_CLONE_INLINE void ln_row(const real *restrict x, real *restrict y, int d,
                                const real *restrict gamma, const real *restrict beta, real eps,
                                real *mu_out, real *rs_out)
{
    const real mu = vsum(x, d) / (real)d;
    const real rs = r_rsqrt(vsqdev(x, mu, d) / (real)d + eps);
    int i = 0, k;
    for (; i + VB <= d; i += VB)
        for (k = 0; k < VB; k++)
            y[i + k] = (x[i + k] - mu) * rs * gamma[i + k] + beta[i + k];
    for (; i < d; i++)
        y[i] = (x[i] - mu) * rs * gamma[i] + beta[i];
    *mu_out = mu;
    *rs_out = rs;
}

/* Through a layer norm: dx = rs (g - mean(g) - xhat mean(g xhat)) (plus
 * `base` when given), g = dy gamma, xhat = (x - mu) rs; `t` holds d
 * scratch reals. */
SEQCLS_CLONE_INLINE void ln_row_backward(const real *restrict x, const real *restrict dy,
                                         const real *restrict base, real *restrict dx, int d,
                                         const real *restrict gamma, real mu, real rs,
                                         real *restrict t)
{
    real mg, mgx, acc[VB] = {0}, s = 0;
    int i = 0, k;
    for (; i + VB <= d; i += VB)
        for (k = 0; k < VB; k++)
            t[i + k] = dy[i + k] * gamma[i + k];
    for (; i < d; i++)
        t[i] = dy[i] * gamma[i];
    mg = vsum(t, d) / (real)d;
    for (i = 0; i + VB <= d; i += VB)
        for (k = 0; k < VB; k++)
            acc[k] += t[i + k] * ((x[i + k] - mu) * rs);
    for (k = 0; k < VB; k++)
        s += acc[k];
    for (; i < d; i++)
        s += t[i] * ((x[i] - mu) * rs);
    mgx = s / (real)d;
    if (base) {
        for (i = 0; i + VB <= d; i += VB)
            for (k = 0; k < VB; k++)
                dx[i + k] = base[i + k] + rs * (t[i + k] - mg - (x[i + k] - mu) * rs * mgx);
        for (; i < d; i++)
            dx[i] = base[i] + rs * (t[i] - mg - (x[i] - mu) * rs * mgx);
    } else {
        for (i = 0; i + VB <= d; i += VB)
            for (k = 0; k < VB; k++)
                dx[i + k] = rs * (t[i + k] - mg - (x[i + k] - mu) * rs * mgx);
        for (; i < d; i++)
            dx[i] = rs * (t[i] - mg - (x[i] - mu) * rs * mgx);
    }
}

/* g = act(z) keep over one row of n (keep: drop may be NULL) */
SEQCLS_CLONE_INLINE void act_row(int gelu, const real *restrict z, real *restrict g, int n,
                                 const drop_t *drop)
{
    int i = 0, k;
    if (gelu) {
        for (; i + VB <= n; i += VB)
            for (k = 0; k < VB; k++)
                g[i + k] = z[i + k] * phi_cdf(z[i + k]);
        for (; i < n; i++)
            g[i] = z[i] * phi_cdf(z[i]);
    } else {
        for (; i + VB <= n; i += VB)
            for (k = 0; k < VB; k++)
                g[i + k] = where_pos(z[i + k], z[i + k]);
        for (; i < n; i++)
            g[i] = where_pos(z[i], z[i]);
    }
    if (drop)
        drop_inplace(g, (size_t)n, *drop);
}

/* in place, inference */
SEQCLS_CLONE_INLINE void act_row_inplace(int gelu, real *restrict z, int n)
{
    int i = 0, k;
    if (gelu) {
        for (; i + VB <= n; i += VB)
            for (k = 0; k < VB; k++)
                z[i + k] = z[i + k] * phi_cdf(z[i + k]);
        for (; i < n; i++)
            z[i] = z[i] * phi_cdf(z[i]);
    } else {
        for (; i + VB <= n; i += VB)
            for (k = 0; k < VB; k++)
                z[i + k] = where_pos(z[i + k], z[i + k]);
        for (; i < n; i++)
            z[i] = where_pos(z[i], z[i]);
    }
}

/* dz = dg keep act'(z), in place on dg (drop may be NULL):
 * gelu' = Phi(z) + z phi(z), relu' = [z > 0] */
SEQCLS_CLONE_INLINE void act_row_backward(int gelu, const real *restrict z, real *restrict dg,
                                          int n, const drop_t *drop)
{
    const real c = (real)0.39894228040143267794;   /* 1 / sqrt(2 pi) */
    int i = 0, k;
    if (drop)
        drop_inplace(dg, (size_t)n, *drop);
    if (gelu) {
        for (; i + VB <= n; i += VB)
            for (k = 0; k < VB; k++) {
                const real x = z[i + k];
                dg[i + k] *= phi_cdf(x) + x * c * r_exp((real)-0.5 * x * x);
            }
        for (; i < n; i++) {
            const real x = z[i];
            dg[i] *= phi_cdf(x) + x * c * r_exp((real)-0.5 * x * x);
        }
    } else {
        for (; i + VB <= n; i += VB)
            for (k = 0; k < VB; k++)
                dg[i + k] = where_pos(z[i + k], dg[i + k]);
        for (; i < n; i++)
            dg[i] = where_pos(z[i], dg[i]);
    }
}

/* ---- the batch's geometry ---- */

typedef struct {
    int B, T, d, heads, dh, ff, N;
    int full;                 /* no padding: the packed layout is [B, T] itself */
    int maxlen;
    const int32_t *len;
    size_t *roff;             /* [B + 1]: row b's first packed step */
    size_t *poff;             /* [B + 1]: row b's attention probabilities */
    int *order;               /* [ntask]: (row, head) tasks b * heads + h, longest rows first */
    int ntask;
    int32_t *map;             /* [N]: packed step -> b * T + t */
    uint64_t *seed;           /* the forward's dropout seed */
} geom_t;

/* Rows sorted by length, longest first (then by index: a total order). */
typedef struct {
    int32_t len;
    int b;
} row_key_t;

static int cmp_rows(const void *pa, const void *pb)
{
    const row_key_t *a = pa, *b = pb;
    if (a->len != b->len)
        return a->len > b->len ? -1 : 1;
    return (a->b > b->b) - (a->b < b->b);
}

/* Fill g for the input `in` (the same in forward and backward); its
 * arrays live in slot WS_GEOM, whose first 8 bytes keep the seed. */
static int geom_init(const layer_t *L, workspace_t *ws, const value_t *in, geom_t *g)
{
    const int B = in->B, T = in->T;
    size_t bytes, n = 0, p = 0;
    unsigned char *mem;
    row_key_t *keys;
    int b, h, k;

    memset(g, 0, sizeof *g);
    g->B = B;
    g->T = T;
    g->d = in->F;
    g->heads = L->heads;
    g->dh = in->F / L->heads;
    g->ff = L->ff_dim;
    g->len = in->len;
    for (b = 0; b < B; b++) {
        const size_t l = (size_t)in->len[b];
        const size_t sq = seqcls__mul(seqcls__mul(l, l), (size_t)L->heads);
        n += l;
        if (sq == SIZE_MAX || p + sq < p)
            return SEQCLS_E_NOMEM;
        p += sq;
        if ((int)l > g->maxlen)
            g->maxlen = (int)l;
    }
    g->N = (int)n;
    g->full = n == (size_t)B * T;
    bytes = 64 + 2 * ((size_t)B + 1) * sizeof(size_t) +
            seqcls__mul((size_t)B, (size_t)L->heads * sizeof(int) + sizeof(row_key_t)) +
            seqcls__mul(n, sizeof(int32_t));
    if (!(mem = ws_get(ws, WS_GEOM, bytes)))
        return SEQCLS_E_NOMEM;
    g->seed = (uint64_t *)mem;
    g->roff = (size_t *)(mem + 64);
    g->poff = g->roff + B + 1;
    g->order = (int *)(g->poff + B + 1);
    keys = (row_key_t *)(g->order + (size_t)B * L->heads);
    g->map = (int32_t *)(keys + B);
    g->roff[0] = g->poff[0] = 0;
    for (b = 0; b < B; b++) {
        const size_t l = (size_t)in->len[b];
        g->roff[b + 1] = g->roff[b] + l;
        g->poff[b + 1] = g->poff[b] + l * l * (size_t)L->heads;
        for (k = 0; k < (int)l; k++)
            g->map[g->roff[b] + k] = b * T + k;
        keys[b].len = in->len[b];
        keys[b].b = b;
    }
    qsort(keys, (size_t)B, sizeof *keys, cmp_rows);
    for (b = 0; b < B && keys[b].len > 0; b++)
        for (h = 0; h < L->heads; h++)
            g->order[g->ntask++] = keys[b].b * L->heads + h;
    return SEQCLS_OK;
}

/* ---- the work of one call ---- */

typedef struct {
    const layer_t *L;
    geom_t g;
    int gelu, pre, drop;
    uint64_t seed;
    const uint64_t *keys;     /* seqcls_fit: a dropout key per row [B], else NULL (the seed) */
    uint32_t thresh;          /* rate 2^32 */
    real keep_scale;          /* 1 / (1 - rate) */
    real eps, scale;          /* layer-norm epsilon, 1 / sqrt(dh) */
    /* forward values, packed [N, .] */
    const real *x;
    real *h0, *qkv, *p, *a, *r1, *h1, *z1, *gd, *r2, *y;
    real *mu1, *rs1, *mu2, *rs2;
    /* attention parts */
    real *scratch;
    size_t scratch_len;       /* reals per part */
    size_t packed_len;        /* of them, the packed K or V; [n, n] blocks follow */
    atomic_int next;
    /* backward */
    const real *dy;
    real *d1, *d2, *dz, *da, *dqkv, *dxp;
    /* a row-wise dropout pass (pass_drop_rows): dst = src keep */
    const real *dsrc;
    real *ddst;
    int dsite;
} tf_job_t;

static drop_t drop_stream(const tf_job_t *J, int site, uint64_t index)
{
    uint64_t z;
    drop_t k;
    if (J->keys) {
        /* seqcls_fit: a stream per (row's key, layer, site, step or head),
         * so that a row's masks do not depend on the batch that holds it
         * (data-parallel ranks hold other batches than one process) */
        uint64_t b, sub;
        if (site == SITE_ATTN) {
            b = index / (uint64_t)J->g.heads;
            sub = index % (uint64_t)J->g.heads;
        } else {
            const uint64_t bt = J->g.full ? index : (uint64_t)J->g.map[index];
            b = bt / (uint64_t)J->g.T;
            sub = bt % (uint64_t)J->g.T;
        }
        z = mix64(rng_key(J->keys[b], (uint64_t)J->L->index) ^
                  mix64(((uint64_t)site << 56) ^ sub));
    } else {
        z = mix64(J->seed ^ mix64(((uint64_t)site << 56) ^ index));
    }
    k.k0 = (uint32_t)z;
    k.k1 = (uint32_t)(z >> 32);
    k.thresh = J->thresh;
    k.scale = J->keep_scale;
    return k;
}

/* A row-wise pass over packed rows [r0, r1). */
typedef void (*rows_fn)(tf_job_t *J, int r0, int r1);
typedef struct {
    tf_job_t *J;
    rows_fn fn;
} rows_call_t;

static void rows_part(void *arg, int part, int parts)
{
    const rows_call_t *c = arg;
    const int N = c->J->g.N;
    const int r0 = (int)((int64_t)N * part / parts), r1 = (int)((int64_t)N * (part + 1) / parts);
    if (r0 < r1)
        c->fn(c->J, r0, r1);
}

/* Run fn over all packed rows, split over the pool when there is enough
 * work (each row is computed the same way whatever the split). */
static void for_rows(tf_job_t *J, rows_fn fn, size_t work_per_row)
{
    rows_call_t c;
    int parts = (size_t)J->g.N * work_per_row >= 32768 ? seqcls__parallel_parts() : 1;
    if (parts > J->g.N)
        parts = J->g.N;
    c.J = J;
    c.fn = fn;
    seqcls__parallel(parts, rows_part, &c);
}

/* Y[N, out] = X[N, in] W^T + b, W [out, in] as nn.Linear; Wp holds W^T packed. */
static void linear_forward(int N, int out, int in, const real *X, const real *W, const real *b,
                           real *Y, real *Wp)
{
    pgemm_pack(Wp, W, in, 1, in, out);
    pgemm(N, out, in, X, in, Wp, 0, b, Y, out);
}

/* dX[N, in] = dY[N, out] W (+ dX when accumulating); Wp holds W packed. */
static void linear_dx(int N, int out, int in, const real *dY, const real *W, int accumulate,
                      real *dX, real *Wp)
{
    pgemm_pack(Wp, W, in, 0, out, in);
    pgemm(N, in, out, dY, out, Wp, accumulate, NULL, dX, in);
}

/* dW[out, in] += dY^T X over the N rows */
static void linear_dw(int N, int out, int in, const real *dY, const real *X, real *dW)
{
    blas_gemm(1, 0, out, in, N, 1, dY, out, X, in, 1, dW, in);
}

/* Column sums for parameter gradients, split by columns (each column
 * summed in row order, so the split changes nothing). */
typedef struct {
    int N, n;
    const real *X;            /* bias: g[c] += sum_r X[r, c] */
    real *g;
    const real *dy, *xin, *mu, *rs;   /* layer norm: gg[c] += sum dy xhat, gb[c] += sum dy */
    real *gg, *gb;
} cols_call_t;

SEQCLS_CLONE_INLINE void col_add(real *restrict g, const real *restrict x, int w)
{
    int j = 0, k;
    for (; j + VB <= w; j += VB)
        for (k = 0; k < VB; k++)
            g[j + k] += x[j + k];
    for (; j < w; j++)
        g[j] += x[j];
}

SEQCLS_CLONE_INLINE void col_norm(real *restrict gg, real *restrict gb, const real *restrict dy,
                                  const real *restrict x, real mu, real rs, int w)
{
    int j = 0, k;
    for (; j + VB <= w; j += VB)
        for (k = 0; k < VB; k++) {
            gg[j + k] += dy[j + k] * ((x[j + k] - mu) * rs);
            gb[j + k] += dy[j + k];
        }
    for (; j < w; j++) {
        gg[j] += dy[j] * ((x[j] - mu) * rs);
        gb[j] += dy[j];
    }
}

SEQCLS_VECTORISED
static void cols_range(const cols_call_t *c, int c0, int c1)
{
    const size_t n = (size_t)c->n;
    int r;
    for (r = 0; r < c->N; r++) {
        if (c->X)
            col_add(c->g + c0, c->X + r * n + c0, c1 - c0);
        else
            col_norm(c->gg + c0, c->gb + c0, c->dy + r * n + c0, c->xin + r * n + c0, c->mu[r],
                     c->rs[r], c1 - c0);
    }
}

static void cols_part(void *arg, int part, int parts)
{
    const cols_call_t *c = arg;
    const int chunks = (c->n + VB - 1) / VB;
    const int c0 = (int)((int64_t)chunks * part / parts) * VB;
    int c1 = (int)((int64_t)chunks * (part + 1) / parts) * VB;
    if (c1 > c->n)
        c1 = c->n;
    if (c0 < c1)
        cols_range(c, c0, c1);
}

static void run_cols(cols_call_t *c)
{
    int parts = (size_t)c->N * c->n >= 65536 ? seqcls__parallel_parts() : 1;
    if (parts > (c->n + VB - 1) / VB)
        parts = (c->n + VB - 1) / VB;
    seqcls__parallel(parts, cols_part, c);
}

static void bias_grad(real *g, const real *X, int N, int n)
{
    cols_call_t c;
    memset(&c, 0, sizeof c);
    c.N = N;
    c.n = n;
    c.X = X;
    c.g = g;
    run_cols(&c);
}

static void norm_grad(real *gg, real *gb, const real *dy, const real *xin, const real *mu,
                      const real *rs, int N, int d)
{
    cols_call_t c;
    memset(&c, 0, sizeof c);
    c.N = N;
    c.n = d;
    c.dy = dy;
    c.xin = xin;
    c.mu = mu;
    c.rs = rs;
    c.gg = gg;
    c.gb = gb;
    run_cols(&c);
}

/* ---- forward ---- */

/* Gather the valid steps of a [B, T, d] buffer into packed rows. */
static void gather_rows(const geom_t *g, const real *src, real *dst)
{
    int r;
    for (r = 0; r < g->N; r++)
        memcpy(dst + (size_t)r * g->d, src + (size_t)g->map[r] * g->d, (size_t)g->d * sizeof(real));
}

/* pre-norm: h0 = LN1(x) */
SEQCLS_VECTORISED
static void pass_norm0(tf_job_t *J, int r0, int r1)
{
    const layer_t *L = J->L;
    const int d = J->g.d;
    int r;
    for (r = r0; r < r1; r++)
        ln_row(J->x + (size_t)r * d, J->h0 + (size_t)r * d, d, L->w[P_G1], L->w[P_BE1], J->eps,
               &J->mu1[r], &J->rs1[r]);
}

/* Q /= sqrt(dh), as PyTorch scales q before Q K^T */
SEQCLS_VECTORISED
static void pass_scale_q(tf_job_t *J, int r0, int r1)
{
    const int d = J->g.d;
    const real s = J->scale;
    int r, i, k;
    for (r = r0; r < r1; r++) {
        real *restrict q = J->qkv + (size_t)r * 3 * d;
        for (i = 0; i + VB <= d; i += VB)
            for (k = 0; k < VB; k++)
                q[i + k] *= s;
        for (; i < d; i++)
            q[i] *= s;
    }
}

/* r1 = x + Drop(r1); then post-norm h1 = LN1(r1), pre-norm h1 = LN2(r1) */
SEQCLS_VECTORISED
static void pass_residual1(tf_job_t *J, int r0, int r1)
{
    const layer_t *L = J->L;
    const int d = J->g.d;
    int r;
    for (r = r0; r < r1; r++) {
        real *v = J->r1 + (size_t)r * d;
        if (J->drop)
            drop_inplace(v, (size_t)d, drop_stream(J, SITE_1, (uint64_t)r));
        acc_row(v, J->x + (size_t)r * d, d);
        if (J->pre)
            ln_row(v, J->h1 + (size_t)r * d, d, L->w[P_G2], L->w[P_BE2], J->eps, &J->mu2[r],
                   &J->rs2[r]);
        else
            ln_row(v, J->h1 + (size_t)r * d, d, L->w[P_G1], L->w[P_BE1], J->eps, &J->mu1[r],
                   &J->rs1[r]);
    }
}

/* gd = Drop(act(z1)) */
SEQCLS_VECTORISED
static void pass_act(tf_job_t *J, int r0, int r1)
{
    const int ff = J->g.ff;
    int r;
    for (r = r0; r < r1; r++) {
        real *z = J->z1 + (size_t)r * ff, *g = J->gd + (size_t)r * ff;
        if (z == g) {
            act_row_inplace(J->gelu, z, ff);
        } else if (J->drop) {
            const drop_t k = drop_stream(J, SITE_FF, (uint64_t)r);
            act_row(J->gelu, z, g, ff, &k);
        } else {
            act_row(J->gelu, z, g, ff, NULL);
        }
    }
}

/* post-norm: y = LN2(h1 + Drop(r2)); pre-norm: y = r1 + Drop(r2); y at the step's place */
SEQCLS_VECTORISED
static void pass_residual2(tf_job_t *J, int r0, int r1)
{
    const layer_t *L = J->L;
    const int d = J->g.d;
    int r;
    for (r = r0; r < r1; r++) {
        real *v = J->r2 + (size_t)r * d, *y = J->y + (size_t)J->g.map[r] * d;
        if (J->drop)
            drop_inplace(v, (size_t)d, drop_stream(J, SITE_2, (uint64_t)r));
        if (J->pre) {
            add_row(y, J->r1 + (size_t)r * d, v, d);
        } else {
            acc_row(v, J->h1 + (size_t)r * d, d);
            ln_row(v, y, d, L->w[P_G2], L->w[P_BE2], J->eps, &J->mu2[r], &J->rs2[r]);
        }
    }
}

/* One part's attention scratch: a packed K or V of the longest row, then
 * [n, n] blocks (forward: Drop(P); backward: dP, Drop(P)). */
static void part_scratch(tf_job_t *J, int backward)
{
    const int n = J->g.maxlen, dh = J->g.dh;
    const size_t blocks = (size_t)(backward ? 1 + J->drop : J->drop) * n * n;
    size_t packed = pgemm_packed_len(dh, n);
    if (pgemm_packed_len(n, dh) > packed)
        packed = pgemm_packed_len(n, dh);
    J->packed_len = (packed + 15) / 16 * 16;
    J->scratch_len = (J->packed_len + blocks + 15) / 16 * 16;   /* parts 64 bytes apart */
}

/* Attention of task (row b, head h) over the row's n valid steps:
 * P = softmax(Qs K^T) (Q was scaled), O_h = Drop(P) V. */
static void attend(tf_job_t *J, int task, real *scratch)
{
    const geom_t *g = &J->g;
    const int b = task / g->heads, h = task % g->heads, n = g->len[b], d = g->d, dh = g->dh;
    const real *q = J->qkv + g->roff[b] * 3 * d + (size_t)h * dh;
    real *p = J->p + g->poff[b] + (size_t)h * n * n, *pd = p;
    real *packed = scratch, *blocks = scratch + J->packed_len;
    pgemm_pack(packed, q + d, 3 * d, 1, dh, n);
    pgemm(n, n, dh, q, 3 * d, packed, 0, NULL, p, n);
    softmax_rows(p, n, n);
    if (J->drop) {
        pd = blocks;
        drop_block(p, pd, (size_t)n * n, drop_stream(J, SITE_ATTN, (uint64_t)task));
    }
    pgemm_pack(packed, q + 2 * d, 3 * d, 0, n, dh);
    pgemm(n, dh, n, pd, n, packed, 0, NULL, J->a + g->roff[b] * d + (size_t)h * dh, d);
}

/* Through task (b, h): dPd = dO V^T, dV = Pd^T dO, dP = dPd keep,
 * dS = softmax'(dP), dK = dS^T Qs, dQ = dS K / sqrt(dh). */
SEQCLS_VECTORISED
static void attend_backward(tf_job_t *J, int task, real *scratch)
{
    const geom_t *g = &J->g;
    const int b = task / g->heads, h = task % g->heads, n = g->len[b], d = g->d, dh = g->dh;
    const size_t nn = (size_t)n * n;
    const real *q = J->qkv + g->roff[b] * 3 * d + (size_t)h * dh;
    const real *p = J->p + g->poff[b] + (size_t)h * nn;
    const real *dO = J->da + g->roff[b] * d + (size_t)h * dh;
    real *dq = J->dqkv + g->roff[b] * 3 * d + (size_t)h * dh;
    real *packed = scratch, *ds = scratch + J->packed_len;
    int i, k;
    pgemm_pack(packed, q + 2 * d, 3 * d, 1, dh, n);
    pgemm(n, n, dh, dO, d, packed, 0, NULL, ds, n);
    if (J->drop) {
        const drop_t key = drop_stream(J, SITE_ATTN, (uint64_t)task);
        real *pd = ds + nn;
        drop_copy(p, pd, nn, key);
        blas_gemm(1, 0, n, dh, n, 1, pd, n, dO, d, 0, dq + 2 * d, 3 * d);
        drop_inplace(ds, nn, key);
    } else {
        blas_gemm(1, 0, n, dh, n, 1, p, n, dO, d, 0, dq + 2 * d, 3 * d);
    }
    softmax_rows_backward(p, ds, n, n);
    blas_gemm(1, 0, n, dh, n, 1, ds, n, q, 3 * d, 0, dq + d, 3 * d);
    pgemm_pack(packed, q + d, 3 * d, 0, n, dh);
    pgemm(n, dh, n, ds, n, packed, 0, NULL, dq, 3 * d);
    for (i = 0; i < n; i++) {
        real *restrict row = dq + (size_t)i * 3 * d;
        for (k = 0; k < dh; k++)
            row[k] *= J->scale;
    }
}

typedef struct {
    tf_job_t *J;
    int backward;
} attn_call_t;

static void attn_part(void *arg, int part, int parts)
{
    const attn_call_t *c = arg;
    tf_job_t *J = c->J;
    real *scratch = J->scratch + (size_t)part * J->scratch_len;
    int i;
    (void)parts;
    while ((i = atomic_fetch_add(&J->next, 1)) < J->g.ntask) {
        if (c->backward)
            attend_backward(J, J->g.order[i], scratch);
        else
            attend(J, J->g.order[i], scratch);
    }
}

/* Every (row, head) task, longest rows first, each part with its own scratch. */
static int run_attention(tf_job_t *J, workspace_t *ws, int backward)
{
    int parts = seqcls__parallel_parts();
    attn_call_t c;
    if ((size_t)J->g.N * J->g.d < 4096)
        parts = 1;
    if (parts > J->g.ntask)
        parts = J->g.ntask;
    part_scratch(J, backward);
    J->scratch = ws_get(ws, WS_SCRATCH, seqcls__mul((size_t)parts * J->scratch_len, sizeof(real)));
    if (!J->scratch)
        return SEQCLS_E_NOMEM;
    atomic_store(&J->next, 0);
    c.J = J;
    c.backward = backward;
    seqcls__parallel(parts, attn_part, &c);
    return SEQCLS_OK;
}

/* Slot `slot` for n reals (at least one, so that nothing is a zero-byte request). */
static real *ws_reals(workspace_t *ws, int slot, size_t n)
{
    return ws_get(ws, slot, seqcls__mul(n ? n : 1, sizeof(real)));
}

/* Room for any of the layer's weights packed for pgemm, either way round. */
static real *ws_wpack(workspace_t *ws, int d, int ff)
{
    size_t n = pgemm_packed_len(d, 3 * d), m;
    if ((m = pgemm_packed_len(3 * d, d)) > n)
        n = m;
    if ((m = pgemm_packed_len(d, ff)) > n)
        n = m;
    if ((m = pgemm_packed_len(ff, d)) > n)
        n = m;
    return ws_reals(ws, WS_WPACK, n);
}

static void zero_padding(const geom_t *g, real *y)
{
    int b;
    for (b = 0; b < g->B; b++)
        if (g->len[b] < g->T)
            memset(y + ((size_t)b * g->T + g->len[b]) * g->d, 0,
                   (size_t)(g->T - g->len[b]) * g->d * sizeof(real));
}

static void job_init(tf_job_t *J, const layer_t *L)
{
    memset(J, 0, sizeof *J);
    J->L = L;
    J->gelu = L->activation == SEQCLS_ACT_GELU;
    J->pre = (L->flags & SEQCLS_NORM_FIRST) != 0;
    J->eps = (real)L->ln_eps;
    J->keep_scale = (real)(1.0 / (1.0 - (double)L->rate));
    J->thresh = (uint32_t)((double)L->rate * 4294967296.0);
}

static int tf_forward(const layer_t *L, workspace_t *ws, const value_t *in, value_t *out,
                      const run_ctx_t *ctx)
{
    const size_t B = (size_t)in->B, T = (size_t)in->T, d = (size_t)in->F;
    tf_job_t J;
    geom_t *g = &J.g;
    real *wp;
    size_t N, ff;
    int rc;

    job_init(&J, L);
    if ((rc = geom_init(L, ws, in, g)) != SEQCLS_OK)
        return rc;
    N = (size_t)g->N;
    ff = (size_t)g->ff;
    J.scale = (real)(1.0 / sqrt((double)g->dh));
    J.drop = ctx->training && L->rate > 0;
    J.y = ws_reals(ws, WS_OUT, seqcls__mul(B * T, d));
    if (!J.y)
        return SEQCLS_E_NOMEM;
    zero_padding(g, J.y);
    *out = *in;   /* passes lengths and final states on */
    out->x = J.y;
    if (N == 0)
        return SEQCLS_OK;
    if (J.drop && !ctx->keys)
        J.seed = rng_next(ctx->rng);
    *g->seed = J.seed;
    if (J.drop) {
        /* the rows' keys, for the backward to draw the same masks */
        uint64_t *k = ws_get(ws, WS_KEYS, (B + 1) * sizeof *k);
        if (!k)
            return SEQCLS_E_NOMEM;
        k[0] = ctx->keys ? (uint64_t)B : 0;
        if (ctx->keys)
            memcpy(k + 1, ctx->keys, B * sizeof *k);
        J.keys = ctx->keys ? k + 1 : NULL;
    }

    J.x = g->full ? in->x : ws_reals(ws, WS_X, N * d);
    J.h0 = J.pre ? ws_reals(ws, WS_H0, N * d) : NULL;
    J.qkv = ws_reals(ws, WS_QKV, seqcls__mul(N, 3 * d));
    J.p = ws_reals(ws, WS_P, g->poff[g->B]);
    J.a = ws_reals(ws, WS_A, N * d);
    J.r1 = ws_reals(ws, WS_R1, N * d);
    J.h1 = ws_reals(ws, WS_H1, N * d);
    J.gd = ws_reals(ws, WS_G, seqcls__mul(N, ff));
    J.z1 = ctx->training ? ws_reals(ws, WS_Z1, seqcls__mul(N, ff)) : J.gd;
    J.r2 = ws_reals(ws, WS_R2, N * d);
    J.mu1 = ws_reals(ws, WS_STATS, 4 * N);
    wp = ws_wpack(ws, (int)d, (int)ff);
    if (!J.x || (J.pre && !J.h0) || !J.qkv || !J.p || !J.a || !J.r1 || !J.h1 || !J.gd || !J.z1 ||
        !J.r2 || !J.mu1 || !wp)
        return SEQCLS_E_NOMEM;
    J.rs1 = J.mu1 + N;
    J.mu2 = J.mu1 + 2 * N;
    J.rs2 = J.mu1 + 3 * N;
    if (!g->full)
        gather_rows(g, in->x, (real *)J.x);

    /* self-attention block */
    if (J.pre)
        for_rows(&J, pass_norm0, 4 * d);
    linear_forward(g->N, 3 * (int)d, (int)d, J.pre ? J.h0 : J.x, L->w[P_WIN], L->w[P_BIN], J.qkv,
                   wp);
    for_rows(&J, pass_scale_q, d);
    if ((rc = run_attention(&J, ws, 0)) != SEQCLS_OK)
        return rc;
    linear_forward(g->N, (int)d, (int)d, J.a, L->w[P_WOUT], L->w[P_BOUT], J.r1, wp);
    for_rows(&J, pass_residual1, 8 * d);

    /* feed-forward block */
    linear_forward(g->N, (int)ff, (int)d, J.h1, L->w[P_W1], L->w[P_B1], J.z1, wp);
    for_rows(&J, pass_act, 4 * ff);
    linear_forward(g->N, (int)d, (int)ff, J.gd, L->w[P_W2], L->w[P_B2], J.r2, wp);
    for_rows(&J, pass_residual2, 8 * d);
    return SEQCLS_OK;
}

/* ---- backward ---- */

/* ddst = dsrc keep of site dsite, row by row */
SEQCLS_VECTORISED
static void pass_drop_rows(tf_job_t *J, int r0, int r1)
{
    const int d = J->g.d;
    int r;
    for (r = r0; r < r1; r++)
        drop_copy(J->dsrc + (size_t)r * d, J->ddst + (size_t)r * d, (size_t)d,
                  drop_stream(J, J->dsite, (uint64_t)r));
}

/* post-norm: d1 = LN2'(dy) */
SEQCLS_VECTORISED
static void pass_back_norm2(tf_job_t *J, int r0, int r1)
{
    const layer_t *L = J->L;
    const int d = J->g.d;
    int r;
    for (r = r0; r < r1; r++)
        ln_row_backward(J->r2 + (size_t)r * d, J->dy + (size_t)r * d, NULL, J->d1 + (size_t)r * d,
                        d, L->w[P_G2], J->mu2[r], J->rs2[r], J->d2 + (size_t)r * d);
}

/* d(z1) = d(gd) keep act'(z1), in place in dz */
SEQCLS_VECTORISED
static void pass_back_act(tf_job_t *J, int r0, int r1)
{
    const int ff = J->g.ff;
    int r;
    for (r = r0; r < r1; r++) {
        if (J->drop) {
            const drop_t k = drop_stream(J, SITE_FF, (uint64_t)r);
            act_row_backward(J->gelu, J->z1 + (size_t)r * ff, J->dz + (size_t)r * ff, ff, &k);
        } else {
            act_row_backward(J->gelu, J->z1 + (size_t)r * ff, J->dz + (size_t)r * ff, ff, NULL);
        }
    }
}

/* post-norm: dxp = LN1'(d1) (= d(r1)); pre-norm: dxp = dy + LN2'(d1) */
SEQCLS_VECTORISED
static void pass_back_norm1(tf_job_t *J, int r0, int r1)
{
    const layer_t *L = J->L;
    const int d = J->g.d;
    int r;
    for (r = r0; r < r1; r++) {
        const size_t o = (size_t)r * d;
        if (J->pre)
            ln_row_backward(J->r1 + o, J->d1 + o, J->dy + o, J->dxp + o, d, L->w[P_G2], J->mu2[r],
                            J->rs2[r], J->d2 + o);
        else
            ln_row_backward(J->r1 + o, J->d1 + o, NULL, J->dxp + o, d, L->w[P_G1], J->mu1[r],
                            J->rs1[r], J->d2 + o);
    }
}

/* pre-norm: dxp += LN1'(d1), through d2 */
SEQCLS_VECTORISED
static void pass_back_norm0(tf_job_t *J, int r0, int r1)
{
    const layer_t *L = J->L;
    const int d = J->g.d;
    int r;
    for (r = r0; r < r1; r++) {
        const size_t o = (size_t)r * d;
        ln_row_backward(J->x + o, J->d1 + o, NULL, J->d2 + o, d, L->w[P_G1], J->mu1[r], J->rs1[r],
                        J->da + o);
        acc_row(J->dxp + o, J->d2 + o, d);
    }
}

/* ddst = dsrc keep(site), or dsrc itself without dropout */
static const real *drop_rows(tf_job_t *J, const real *src, real *dst, int site)
{
    if (!J->drop)
        return src;
    J->dsrc = src;
    J->ddst = dst;
    J->dsite = site;
    for_rows(J, pass_drop_rows, 2 * (size_t)J->g.d);
    return dst;
}

static int tf_backward(layer_t *L, workspace_t *ws, const value_t *in, const value_t *out,
                       const value_t *dout, value_t *din, const run_ctx_t *ctx)
{
    const size_t B = (size_t)in->B, T = (size_t)in->T, d = (size_t)in->F;
    const int n = in->F;
    tf_job_t J;
    geom_t *g = &J.g;
    const real *dz2, *dm;
    real *dx, *wp;
    size_t N, ff;
    int rc, i, f;
    (void)out;
    (void)ctx;

    job_init(&J, L);
    if ((rc = geom_init(L, ws, in, g)) != SEQCLS_OK)
        return rc;
    N = (size_t)g->N;
    ff = (size_t)g->ff;
    f = g->ff;
    J.scale = (real)(1.0 / sqrt((double)g->dh));
    /* the training forward used dropout iff the rate is above 0 (a changed
     * option makes the backward refuse) */
    J.drop = L->rate > 0;
    J.seed = *g->seed;
    if (J.drop && ws->buf[WS_KEYS] && ((const uint64_t *)ws->buf[WS_KEYS])[0] == (uint64_t)B)
        J.keys = (const uint64_t *)ws->buf[WS_KEYS] + 1;
    dx = ws_reals(ws, WS_DIN, seqcls__mul(B * T, d));
    if (!dx)
        return SEQCLS_E_NOMEM;
    *din = *dout;   /* passes the gradient of the final states back */
    din->x = dx;
    din->F = n;
    if (N == 0) {
        memset(dx, 0, B * T * d * sizeof(real));
        return SEQCLS_OK;
    }
    zero_padding(g, dx);

    /* the forward's values */
    J.x = g->full ? in->x : ws->buf[WS_X];
    J.h0 = ws->buf[WS_H0];
    J.qkv = ws->buf[WS_QKV];
    J.p = ws->buf[WS_P];
    J.a = ws->buf[WS_A];
    J.r1 = ws->buf[WS_R1];
    J.h1 = ws->buf[WS_H1];
    J.z1 = ws->buf[WS_Z1];
    J.gd = ws->buf[WS_G];
    J.r2 = ws->buf[WS_R2];
    J.mu1 = ws->buf[WS_STATS];
    J.rs1 = J.mu1 + N;
    J.mu2 = J.mu1 + 2 * N;
    J.rs2 = J.mu1 + 3 * N;

    J.dy = g->full ? dout->x : ws_reals(ws, WS_DY, N * d);
    J.d1 = ws_reals(ws, WS_D1, N * d);
    J.d2 = ws_reals(ws, WS_D2, N * d);
    J.dz = ws_reals(ws, WS_DZ, seqcls__mul(N, ff));
    J.da = ws_reals(ws, WS_DA, N * d);
    J.dqkv = ws_reals(ws, WS_DQKV, seqcls__mul(N, 3 * d));
    J.dxp = g->full ? dx : ws_reals(ws, WS_DX, N * d);
    wp = ws_wpack(ws, n, f);
    if (!J.dy || !J.d1 || !J.d2 || !J.dz || !J.da || !J.dqkv || !J.dxp || !wp)
        return SEQCLS_E_NOMEM;
    if (!g->full)
        gather_rows(g, dout->x, (real *)J.dy);

    /* the feed-forward block, from dz2 = d(linear2's output) */
    if (J.pre) {
        dz2 = drop_rows(&J, J.dy, J.d2, SITE_2);
    } else {
        for_rows(&J, pass_back_norm2, 8 * d);
        norm_grad(L->g[P_G2], L->g[P_BE2], J.dy, J.r2, J.mu2, J.rs2, g->N, n);
        dz2 = drop_rows(&J, J.d1, J.d2, SITE_2);
    }
    bias_grad(L->g[P_B2], dz2, g->N, n);
    linear_dw(g->N, n, f, dz2, J.gd, L->g[P_W2]);
    linear_dx(g->N, n, f, dz2, L->w[P_W2], 0, J.dz, wp);
    for_rows(&J, pass_back_act, 4 * ff);
    bias_grad(L->g[P_B1], J.dz, g->N, f);
    linear_dw(g->N, f, n, J.dz, J.h1, L->g[P_W1]);
    /* d(h1): post-norm adds it to d(r2) (in d1), pre-norm starts it */
    linear_dx(g->N, f, n, J.dz, L->w[P_W1], !J.pre, J.d1, wp);

    /* d(r1), the residual stream's gradient, into dxp */
    for_rows(&J, pass_back_norm1, 8 * d);
    if (J.pre)
        norm_grad(L->g[P_G2], L->g[P_BE2], J.d1, J.r1, J.mu2, J.rs2, g->N, n);
    else
        norm_grad(L->g[P_G1], L->g[P_BE1], J.d1, J.r1, J.mu1, J.rs1, g->N, n);

    /* the attention block, from d(M) = d(r1) keep */
    dm = drop_rows(&J, J.dxp, J.d2, SITE_1);
    bias_grad(L->g[P_BOUT], dm, g->N, n);
    linear_dw(g->N, n, n, dm, J.a, L->g[P_WOUT]);
    linear_dx(g->N, n, n, dm, L->w[P_WOUT], 0, J.da, wp);
    if ((rc = run_attention(&J, ws, 1)) != SEQCLS_OK)
        return rc;
    bias_grad(L->g[P_BIN], J.dqkv, g->N, 3 * n);
    linear_dw(g->N, 3 * n, n, J.dqkv, J.pre ? J.h0 : J.x, L->g[P_WIN]);
    if (J.pre) {
        linear_dx(g->N, 3 * n, n, J.dqkv, L->w[P_WIN], 0, J.d1, wp);
        for_rows(&J, pass_back_norm0, 8 * d);
        norm_grad(L->g[P_G1], L->g[P_BE1], J.d1, J.x, J.mu1, J.rs1, g->N, n);
    } else {
        linear_dx(g->N, 3 * n, n, J.dqkv, L->w[P_WIN], 1, J.dxp, wp);
    }
    if (!g->full)
        for (i = 0; i < g->N; i++)
            memcpy(dx + (size_t)g->map[i] * d, J.dxp + (size_t)i * d, d * sizeof(real));
    return SEQCLS_OK;
}

/* ---- options, description, construction ---- */

static int tf_set_int(seqcls_model_t *m, layer_t *L, int option, int value)
{
    (void)m;
    (void)option;   /* SEQCLS_OPT_ACTIVATION, the one settable int */
    if (value != SEQCLS_ACT_RELU && value != SEQCLS_ACT_GELU)
        return seqcls__fail(SEQCLS_E_INVALID_ARG,
                            "seqcls_layer_set_int: SEQCLS_OPT_ACTIVATION of a transformer layer "
                            "takes SEQCLS_ACT_RELU or SEQCLS_ACT_GELU, not %d",
                            value);
    L->activation = value;
    return SEQCLS_OK;
}

static int tf_set_float(seqcls_model_t *m, layer_t *L, int option, float value)
{
    (void)m;
    if (option == SEQCLS_OPT_LN_EPSILON) {
        if (!(value > 0))
            return seqcls__fail(SEQCLS_E_INVALID_ARG,
                                "seqcls_layer_set_float: SEQCLS_OPT_LN_EPSILON must be above 0, "
                                "not %g",
                                (double)value);
        L->ln_eps = value;
        return SEQCLS_OK;
    }
    if (!(value >= 0 && value < 1))
        return seqcls__fail(SEQCLS_E_INVALID_ARG,
                            "seqcls_layer_set_float: SEQCLS_OPT_DROPOUT rate %g is outside [0, 1)",
                            (double)value);
    L->rate = value;
    return SEQCLS_OK;
}

static void tf_describe(const layer_t *L, char *buf, size_t cap)
{
    char eps[32] = "";
    if (L->ln_eps != 1e-5f)
        snprintf(eps, sizeof eps, ", ln_eps=%g", (double)L->ln_eps);
    snprintf(buf, cap, "heads=%d, ff_dim=%d, %s, dropout=%g%s%s", L->heads, L->ff_dim,
             L->activation == SEQCLS_ACT_GELU ? "gelu" : "relu", (double)L->rate,
             L->flags & SEQCLS_NORM_FIRST ? ", norm_first" : "", eps);
}

static int tf_rebuild(seqcls_model_t *m, const layer_t *c)
{
    return seqcls_add_transformer_encoder(m, c->heads, c->ff_dim, c->flags, NULL);
}

static const layer_option_t tf_options[] = {
    {SEQCLS_OPT_DROPOUT, FIELD_RATE, 1},
    {SEQCLS_OPT_ACTIVATION, FIELD_ACTIVATION, 1},
    {SEQCLS_OPT_LN_EPSILON, FIELD_LN_EPS, 1},
    {SEQCLS_OPT_HEADS, FIELD_HEADS, 0},
    {SEQCLS_OPT_FF_DIM, FIELD_FF_DIM, 0},
    {SEQCLS_OPT_FLAGS, FIELD_FLAGS, 0},
    {SEQCLS_OPT_UNITS, FIELD_UNITS, 0},
    {0, 0, 0},
};

const layer_ops_t seqcls__transformer_ops = {
    .kind = SEQCLS_LAYER_TRANSFORMER_ENCODER,
    .name = "transformer",
    .takes = 1u << VAL_SEQ,
    .options = tf_options,
    .forward = tf_forward,
    .backward = tf_backward,
    .set_int = tf_set_int,
    .set_float = tf_set_float,
    .describe = tf_describe,
    .rebuild = tf_rebuild,
};

int seqcls_add_transformer_encoder(seqcls_model_t *m, int heads, int ff_dim, unsigned flags,
                                   int *layer)
{
    const char *func = "seqcls_add_transformer_encoder";
    layer_t *L;
    int rc, d, i;
    if (m && heads < 1)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: heads (%d) must be at least 1", func, heads);
    if (m && (ff_dim < 1 || ff_dim > MAX_FF_DIM))
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: ff_dim (%d) must be in [1, 2^24]", func,
                            ff_dim);
    if (m && (flags & ~SEQCLS_NORM_FIRST))
        return seqcls__fail(SEQCLS_E_INVALID_ARG,
                            "%s: unknown flags 0x%x (only SEQCLS_NORM_FIRST applies)", func,
                            flags & ~SEQCLS_NORM_FIRST);
    rc = model_begin_layer(m, func, &seqcls__transformer_ops, &L);
    if (rc)
        return rc;
    d = L->in_F;
    L->units = d;
    L->heads = heads;
    L->ff_dim = ff_dim;
    L->flags = flags;
    L->rate = 0.1f;
    L->activation = SEQCLS_ACT_RELU;
    L->out_kind = VAL_SEQ;
    L->out_F = d;
    L->out_fin_F = m->layers[m->nlayers - 1]->out_fin_F;
    if (d % heads != 0)
        rc = seqcls__fail(SEQCLS_E_INVALID_ARG,
                          "%s: heads (%d) must divide the input width d = %d", func, heads, d);
    else if (4 * (int64_t)d * d + 2 * (int64_t)d * ff_dim > MAX_WEIGHTS)
        rc = seqcls__fail(SEQCLS_E_NOMEM,
                          "%s: d = %d with ff_dim = %d makes weights of more than 2^31 values",
                          func, d, ff_dim);
    for (i = 0; i < P_COUNT && rc == SEQCLS_OK; i++) {
        static const int rows_of[P_COUNT] = {3, 3, 1, 1, -1, -1, 1, 1, 1, 1, 1, 1};
        static const int is_matrix[P_COUNT] = {1, 0, 1, 0, 1, 0, 1, 0, 0, 0, 0, 0};
        int64_t shape[2];
        shape[0] = rows_of[i] > 0 ? (int64_t)rows_of[i] * d : ff_dim;
        shape[1] = i == P_W2 ? ff_dim : d;
        rc = model_add_param(m, L, param_names[i], is_matrix[i] ? 2 : 1, shape, 1);
    }
    if (rc == SEQCLS_OK) {
        /* as PyTorch: in_proj xavier_uniform, out_proj, linear1 and linear2
         * as nn.Linear (kaiming_uniform(a = sqrt 5) = U(+-1/sqrt(fan_in))),
         * the attention's biases 0, the norms 1 and 0 */
        const double xavier = sqrt(6.0 / (4.0 * d)), bd = 1 / sqrt((double)d),
                     bf = 1 / sqrt((double)ff_dim);
        size_t k;
        rng_fill_uniform(&m->rng, L->w[P_WIN], L->wn[P_WIN], -xavier, xavier);
        rng_fill_uniform(&m->rng, L->w[P_WOUT], L->wn[P_WOUT], -bd, bd);
        rng_fill_uniform(&m->rng, L->w[P_W1], L->wn[P_W1], -bd, bd);
        rng_fill_uniform(&m->rng, L->w[P_B1], L->wn[P_B1], -bd, bd);
        rng_fill_uniform(&m->rng, L->w[P_W2], L->wn[P_W2], -bf, bf);
        rng_fill_uniform(&m->rng, L->w[P_B2], L->wn[P_B2], -bf, bf);
        for (k = 0; k < L->wn[P_G1]; k++)
            L->w[P_G1][k] = L->w[P_G2][k] = 1;
    }
    return model_commit_layer(m, L, rc, layer);
}

/* ---- the weights of the last forward ---- */

int seqcls_self_attention_weights(const seqcls_model_t *m, int layer, seqcls_tensor_t *out)
{
    const char *func = "seqcls_self_attention_weights";
    const layer_t *L;
    const real *p;
    const int32_t *len;
    int64_t shape[4];
    real *o;
    size_t off = 0;
    int rc, b, h, i, H, T;

    seqcls__clear_error();
    if (!m)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: model is NULL", func);
    if (!out)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: out is NULL", func);
    if (layer < 0 || layer >= m->nlayers || m->layers[layer]->ops != &seqcls__transformer_ops)
        return seqcls__fail(SEQCLS_E_RANGE, "%s: layer %d is not a transformer layer", func,
                            layer);
    if (m->state == STATE_NONE)
        return seqcls__fail(SEQCLS_E_STATE, "%s: no forward has run yet (seqcls_forward)", func);
    L = m->layers[layer];
    H = L->heads;
    T = m->T;
    shape[0] = m->B;
    shape[1] = H;
    shape[2] = T;
    shape[3] = T;
    if ((rc = seqcls__tensor_check(out, func, "out", SEQCLS_F32, 4, shape)) != SEQCLS_OK)
        return rc;
    len = m->train.vals[layer].len;
    p = m->train.ws[layer].buf[WS_P];
    o = seqcls_tensor_data(out);
    memset(o, 0, out->numel * sizeof(real));
    for (b = 0; b < m->B; b++) {
        const int n = len[b];
        for (h = 0; h < H; h++) {
            real *ob = o + ((size_t)b * H + h) * T * T;
            for (i = 0; i < n; i++)
                memcpy(ob + (size_t)i * T, p + off + (size_t)i * n, (size_t)n * sizeof(real));
            off += (size_t)n * n;
        }
    }
    return SEQCLS_OK;
}
