/*
 * pgemm.c -- the recurrent layers' products, C (+)= A B, with B packed once
 * per call and register-blocked micro-kernels.
 *
 * Why.  A recurrent step multiplies the states of a few dozen rows by the
 * same W_hh (K = H, often 64 or 128).  A general BLAS packs both operands
 * on every call, and for K this small packing B costs about as much as
 * the product (16% of the headline training step in the profile of
 * issue 9).  Here B is packed once per forward or backward call, and each
 * step streams its rows of A against the packed panels.  A product may
 * have two left operands against two packed B's summed into the same
 * accumulators (an LSTM step: x_t W_ih^T + h_prev W_hh^T), so that C is
 * written once.
 *
 * Packed layout.  Panels of PG_NR columns, N rounded up with zeros; panel
 * p holds B[k][p * PG_NR + c] at [p][k][c], so a kernel reads one panel
 * front to back.
 *
 * Kernels.  AVX-512 (8 rows x 32 columns in 16 registers), AVX2 with FMA
 * (6 rows x 16 columns, a panel in two halves), or portable C, as cpu.c
 * chooses.  Every element of C is one accumulator summed over k in order
 * (the first operand's, then the second's), then added to C when
 * accumulating, whatever M and the row's place in a block: a row's result
 * does not depend on how the rows are split among threads.  The kernels
 * differ from each other only by FMA rounding.
 */
#include "internal.h"

#include <string.h>

#define PG_NR 32

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(SEQCLS_REAL_DOUBLE)
#define PG_X86 1
#include <immintrin.h>
#endif

size_t pgemm_packed_len(int K, int N)
{
    return (size_t)((N + PG_NR - 1) / PG_NR) * PG_NR * (size_t)K;
}

void pgemm_pack_rows(real *dst, const real *const *rows, int K, int N)
{
    int p, k, c;
    for (p = 0; p < N; p += PG_NR) {
        const int w = N - p < PG_NR ? N - p : PG_NR;
        real *panel = dst + (size_t)p * K;
        for (k = 0; k < K; k++) {
            real *d = panel + (size_t)k * PG_NR;
            c = 0;
            if (rows[k]) {
                memcpy(d, rows[k] + p, (size_t)w * sizeof(real));
                c = w;
            }
            for (; c < PG_NR; c++)
                d[c] = 0;
        }
    }
}

void pgemm_pack(real *dst, const real *B, int ldb, int trans, int K, int N)
{
    int p, k, c;
    for (p = 0; p < N; p += PG_NR) {
        const int w = N - p < PG_NR ? N - p : PG_NR;
        real *panel = dst + (size_t)p * K;
        for (k = 0; k < K; k++) {
            real *d = panel + (size_t)k * PG_NR;
            if (trans)
                for (c = 0; c < w; c++)
                    d[c] = B[(size_t)(p + c) * ldb + k];
            else
                memcpy(d, B + (size_t)k * ldb + p, (size_t)w * sizeof(real));
            for (c = w; c < PG_NR; c++)
                d[c] = 0;
        }
    }
}

/*
 * The operands of the rows of one panel: A (row i at A + i * lda, or with
 * ta element (i, k) at A[k * lda + i]) times the packed panel Bp over K,
 * plus A2 (row-major) times Bp2 over K2 when K2 > 0, plus bias; then
 * stored, or added to C (beta).
 */
typedef struct {
    const real *A, *Bp, *A2, *Bp2, *bias;
    real *C;
    int K, lda, K2, lda2, ldc, beta;
} pg_op_t;

/* The same operands from row i on. */
static inline pg_op_t op_from_row(const pg_op_t *o, int ta, int i)
{
    pg_op_t r = *o;
    r.A += ta ? (size_t)i : (size_t)i * o->lda;
    if (r.K2 > 0)
        r.A2 += (size_t)i * o->lda2;
    r.C += (size_t)i * o->ldc;
    return r;
}

/* ---- portable C: one row of one panel at a time ---- */

static void rows_portable(int ta, int M, int n, const pg_op_t *o)
{
    const size_t rs = ta ? 1 : (size_t)o->lda, ks = ta ? (size_t)o->lda : 1;
    int i, k, c;
    for (i = 0; i < M; i++) {
        const real *a = o->A + (size_t)i * rs;
        const real *a2 = o->K2 > 0 ? o->A2 + (size_t)i * o->lda2 : NULL;
        real *ci = o->C + (size_t)i * o->ldc;
        real acc[PG_NR];
        memset(acc, 0, sizeof acc);
        for (k = 0; k < o->K; k++) {
            const real *b = o->Bp + (size_t)k * PG_NR;
            const real ak = a[(size_t)k * ks];
            for (c = 0; c < PG_NR; c++)
                acc[c] += ak * b[c];
        }
        for (k = 0; k < o->K2; k++) {
            const real *b = o->Bp2 + (size_t)k * PG_NR;
            const real ak = a2[k];
            for (c = 0; c < PG_NR; c++)
                acc[c] += ak * b[c];
        }
        for (c = 0; c < n; c++) {
            const real v = o->bias ? acc[c] + o->bias[c] : acc[c];
            ci[c] = o->beta ? ci[c] + v : v;
        }
    }
}

#ifdef PG_X86

/* ---- AVX-512: MR rows x 32 columns, masked at the last panel's edge ---- */

#define MR512 8

/* The two k loops (A Bp, then A2 Bp2) are written out: a shared inline
 * helper taking the accumulator arrays made GCC 12 keep them in memory
 * (173 -> 119 GFLOP/s on a [64,128]x[128,512] step). */
static inline __attribute__((always_inline, target("avx512f"))) void
kernel512(const int ta, const int mr, const int half, const pg_op_t *o, __mmask16 m0,
          __mmask16 m1)
{
    const float *A = o->A, *Bp = o->Bp;
    const __m512 bias0 = o->bias ? _mm512_maskz_loadu_ps(m0, o->bias) : _mm512_setzero_ps();
    const __m512 bias1 = o->bias ? _mm512_maskz_loadu_ps(m1, o->bias + 16) : _mm512_setzero_ps();
    __m512 c0[MR512], c1[MR512];
    int i, k;
#pragma GCC unroll 8
    for (i = 0; i < mr; i++)
        c0[i] = c1[i] = _mm512_setzero_ps();
    for (k = 0; k < o->K; k++) {
        const __m512 b0 = _mm512_loadu_ps(Bp + (size_t)k * PG_NR);
        const __m512 b1 = half ? b0 : _mm512_loadu_ps(Bp + (size_t)k * PG_NR + 16);
#pragma GCC unroll 8
        for (i = 0; i < mr; i++) {
            const __m512 a =
                _mm512_set1_ps(ta ? A[(size_t)k * o->lda + i] : A[(size_t)i * o->lda + k]);
            c0[i] = _mm512_fmadd_ps(a, b0, c0[i]);
            if (!half)
                c1[i] = _mm512_fmadd_ps(a, b1, c1[i]);
        }
    }
    for (k = 0; k < o->K2; k++) {
        const __m512 b0 = _mm512_loadu_ps(o->Bp2 + (size_t)k * PG_NR);
        const __m512 b1 = half ? b0 : _mm512_loadu_ps(o->Bp2 + (size_t)k * PG_NR + 16);
#pragma GCC unroll 8
        for (i = 0; i < mr; i++) {
            const __m512 a = _mm512_set1_ps(o->A2[(size_t)i * o->lda2 + k]);
            c0[i] = _mm512_fmadd_ps(a, b0, c0[i]);
            if (!half)
                c1[i] = _mm512_fmadd_ps(a, b1, c1[i]);
        }
    }
#pragma GCC unroll 8
    for (i = 0; i < mr; i++) {
        float *c = o->C + (size_t)i * o->ldc;
        if (o->bias) {
            c0[i] = _mm512_add_ps(c0[i], bias0);
            c1[i] = _mm512_add_ps(c1[i], bias1);
        }
        if (o->beta) {
            c0[i] = _mm512_add_ps(_mm512_maskz_loadu_ps(m0, c), c0[i]);
            c1[i] = _mm512_add_ps(_mm512_maskz_loadu_ps(m1, c + 16), c1[i]);
        }
        _mm512_mask_storeu_ps(c, m0, c0[i]);
        _mm512_mask_storeu_ps(c + 16, m1, c1[i]);
    }
}

/* `half`: the panel's columns end within its first 16 (the last panel of
 * an N that is not a multiple of 32): the second half's FMAs are skipped,
 * which gives the same values for half the work. */
static inline __attribute__((always_inline, target("avx512f"))) void
rows512h(const int ta, const int half, int M, int n, const pg_op_t *o)
{
    const __mmask16 m0 = (__mmask16)(n >= 16 ? 0xffff : (1u << n) - 1);
    const __mmask16 m1 = (__mmask16)(n >= 32 ? 0xffff : n <= 16 ? 0 : (1u << (n - 16)) - 1);
    pg_op_t r;
    int i;
    for (i = 0; i + MR512 <= M; i += MR512) {
        r = op_from_row(o, ta, i);
        kernel512(ta, MR512, half, &r, m0, m1);
    }
    r = op_from_row(o, ta, i);
    switch (M - i) {
    case 7: kernel512(ta, 7, half, &r, m0, m1); break;
    case 6: kernel512(ta, 6, half, &r, m0, m1); break;
    case 5: kernel512(ta, 5, half, &r, m0, m1); break;
    case 4: kernel512(ta, 4, half, &r, m0, m1); break;
    case 3: kernel512(ta, 3, half, &r, m0, m1); break;
    case 2: kernel512(ta, 2, half, &r, m0, m1); break;
    case 1: kernel512(ta, 1, half, &r, m0, m1); break;
    default: break;
    }
}

static inline __attribute__((always_inline, target("avx512f"))) void
rows512(const int ta, int M, int n, const pg_op_t *o)
{
    if (n <= 16)
        rows512h(ta, 1, M, n, o);
    else
        rows512h(ta, 0, M, n, o);
}

__attribute__((target("avx512f"))) static void rows_avx512(int ta, int M, int n, const pg_op_t *o)
{
    if (ta)
        rows512(1, M, n, o);
    else
        rows512(0, M, n, o);
}

/* ---- AVX2 + FMA: MR rows x 16 columns (half a panel) ---- */

#define MR256 6

/* Columns beyond the panel's edge go through a buffer: no masked stores,
 * which every tool understands. */
static inline __attribute__((always_inline, target("avx2,fma"))) void
kernel256(const int ta, const int mr, const pg_op_t *o, int n)
{
    const float *A = o->A, *Bp = o->Bp;
    float bbuf[16] = {0};
    __m256 c0[MR256], c1[MR256], bias0, bias1;
    int i, k;
    if (o->bias)
        memcpy(bbuf, o->bias, sizeof(float) * (size_t)(n < 16 ? n : 16));
    bias0 = _mm256_loadu_ps(bbuf);
    bias1 = _mm256_loadu_ps(bbuf + 8);
#pragma GCC unroll 6
    for (i = 0; i < mr; i++)
        c0[i] = c1[i] = _mm256_setzero_ps();
    for (k = 0; k < o->K; k++) {
        const __m256 b0 = _mm256_loadu_ps(Bp + (size_t)k * PG_NR);
        const __m256 b1 = _mm256_loadu_ps(Bp + (size_t)k * PG_NR + 8);
#pragma GCC unroll 6
        for (i = 0; i < mr; i++) {
            const __m256 a = _mm256_broadcast_ss(ta ? A + (size_t)k * o->lda + i
                                                    : A + (size_t)i * o->lda + k);
            c0[i] = _mm256_fmadd_ps(a, b0, c0[i]);
            c1[i] = _mm256_fmadd_ps(a, b1, c1[i]);
        }
    }
    for (k = 0; k < o->K2; k++) {
        const __m256 b0 = _mm256_loadu_ps(o->Bp2 + (size_t)k * PG_NR);
        const __m256 b1 = _mm256_loadu_ps(o->Bp2 + (size_t)k * PG_NR + 8);
#pragma GCC unroll 6
        for (i = 0; i < mr; i++) {
            const __m256 a = _mm256_broadcast_ss(o->A2 + (size_t)i * o->lda2 + k);
            c0[i] = _mm256_fmadd_ps(a, b0, c0[i]);
            c1[i] = _mm256_fmadd_ps(a, b1, c1[i]);
        }
    }
#pragma GCC unroll 6
    for (i = 0; i < mr; i++) {
        float *c = o->C + (size_t)i * o->ldc;
        if (o->bias) {
            c0[i] = _mm256_add_ps(c0[i], bias0);
            c1[i] = _mm256_add_ps(c1[i], bias1);
        }
        if (n >= 16) {
            if (o->beta) {
                c0[i] = _mm256_add_ps(_mm256_loadu_ps(c), c0[i]);
                c1[i] = _mm256_add_ps(_mm256_loadu_ps(c + 8), c1[i]);
            }
            _mm256_storeu_ps(c, c0[i]);
            _mm256_storeu_ps(c + 8, c1[i]);
        } else {
            float buf[16];
            int j;
            _mm256_storeu_ps(buf, c0[i]);
            _mm256_storeu_ps(buf + 8, c1[i]);
            for (j = 0; j < n; j++)
                c[j] = o->beta ? c[j] + buf[j] : buf[j];
        }
    }
}

static inline __attribute__((always_inline, target("avx2,fma"))) void
rows256(const int ta, int M, int n, const pg_op_t *o)
{
    int half;
    for (half = 0; half < 2 && 16 * half < n; half++) {
        const int nh = n - 16 * half;
        pg_op_t h = *o, r;
        int i;
        h.Bp += 16 * half;
        if (h.K2 > 0)
            h.Bp2 += 16 * half;
        if (h.bias)
            h.bias += 16 * half;
        h.C += 16 * half;
        for (i = 0; i + MR256 <= M; i += MR256) {
            r = op_from_row(&h, ta, i);
            kernel256(ta, MR256, &r, nh);
        }
        r = op_from_row(&h, ta, i);
        switch (M - i) {
        case 5: kernel256(ta, 5, &r, nh); break;
        case 4: kernel256(ta, 4, &r, nh); break;
        case 3: kernel256(ta, 3, &r, nh); break;
        case 2: kernel256(ta, 2, &r, nh); break;
        case 1: kernel256(ta, 1, &r, nh); break;
        default: break;
        }
    }
}

__attribute__((target("avx2,fma"))) static void rows_avx2(int ta, int M, int n, const pg_op_t *o)
{
    if (ta)
        rows256(1, M, n, o);
    else
        rows256(0, M, n, o);
}

#endif /* PG_X86 */

/* Rows of A per block: a block (PG_MB x K) stays in the L2 cache while it
 * meets every panel. */
#define PG_MB 192

/* One panel of columns for rows [0, M), with the kernels the CPU has. */
static void rows(int isa, int ta, int M, int n, const pg_op_t *o)
{
#ifdef PG_X86
    if (isa == CPU_AVX512) {
        rows_avx512(ta, M, n, o);
        return;
    }
    if (isa == CPU_AVX2) {
        rows_avx2(ta, M, n, o);
        return;
    }
#endif
    (void)isa;
    rows_portable(ta, M, n, o);
}

/* All panels of rows [0, M), PG_MB rows at a time. */
static void pgemm1(int M, int N, const pg_op_t *o)
{
    const int isa = cpu_isa();
    int i, p;
    for (i = 0; i < M; i += PG_MB) {
        const pg_op_t blk = op_from_row(o, 0, i);
        for (p = 0; p < N; p += PG_NR) {
            pg_op_t r = blk;
            r.Bp += (size_t)p * r.K;
            if (r.K2 > 0)
                r.Bp2 += (size_t)p * r.K2;
            if (r.bias)
                r.bias += p;
            r.C += p;
            rows(isa, 0, M - i < PG_MB ? M - i : PG_MB, N - p < PG_NR ? N - p : PG_NR, &r);
        }
    }
}

/* Large products are split into row blocks over the library's pool; a
 * row's result does not depend on the block it is in. */
#define SPLIT_FLOPS 4e6

typedef struct {
    int M, N;
    pg_op_t op;
} pgemm_job_t;

static void pgemm_part(void *arg, int part, int parts)
{
    const pgemm_job_t *g = arg;
    const int per = ((g->M + parts - 1) / parts + 15) / 16 * 16;
    const int i0 = part * per, i1 = i0 + per < g->M ? i0 + per : g->M;
    if (i0 < i1) {
        const pg_op_t r = op_from_row(&g->op, 0, i0);
        pgemm1(i1 - i0, g->N, &r);
    }
}

static void pgemm_run(int M, int N, const pg_op_t *o)
{
    pgemm_job_t g;
    const int parts = seqcls__parallel_parts();
    if (M <= 0 || N <= 0)
        return;
    if (parts <= 1 || M < 32 || 2.0 * M * N * (o->K + o->K2) < SPLIT_FLOPS) {
        pgemm1(M, N, o);
        return;
    }
    g.M = M;
    g.N = N;
    g.op = *o;
    seqcls__parallel(parts, pgemm_part, &g);
}

void pgemm(int M, int N, int K, const real *A, int lda, const real *Bp, int beta,
           const real *bias, real *C, int ldc)
{
    pg_op_t o;
    memset(&o, 0, sizeof o);
    o.A = A;
    o.lda = lda;
    o.Bp = Bp;
    o.K = K;
    o.beta = beta;
    o.bias = bias;
    o.C = C;
    o.ldc = ldc;
    pgemm_run(M, N, &o);
}

void pgemm2(int M, int N, int K, const real *A, int lda, const real *Bp, int K2, const real *A2,
            int lda2, const real *Bp2, const real *bias, real *C, int ldc)
{
    pg_op_t o;
    memset(&o, 0, sizeof o);
    o.A = A;
    o.lda = lda;
    o.Bp = Bp;
    o.K = K;
    o.A2 = A2;
    o.lda2 = lda2;
    o.Bp2 = Bp2;
    o.K2 = K2;
    o.bias = bias;
    o.C = C;
    o.ldc = ldc;
    pgemm_run(M, N, &o);
}

/*
 * C += A^T B, for sums over many rows (the weight gradients): A [K, M] is
 * packed by pgemm_pack_t into groups of PG_TG of its columns, each group
 * [k][PG_TG], so that the kernels read it front to back (A read in place
 * would take a cache line per k and group); B [K, N] by pgemm_pack.
 */
#define PG_TG 8

size_t pgemm_packed_t_len(int K, int M)
{
    return (size_t)((M + PG_TG - 1) / PG_TG) * PG_TG * (size_t)K;
}

void pgemm_pack_t(real *dst, const real *A, int lda, int K, int M)
{
    const int full = M / PG_TG, groups = (M + PG_TG - 1) / PG_TG;
    int k, q, c;
    for (k = 0; k < K; k++) {
        const real *a = A + (size_t)k * lda;
        for (q = 0; q < full; q++)
            memcpy(dst + ((size_t)q * K + k) * PG_TG, a + q * PG_TG, PG_TG * sizeof(real));
        for (c = 0; q < groups && c < PG_TG; c++)   /* a last, partial group: zeros after M */
            dst[((size_t)q * K + k) * PG_TG + c] = q * PG_TG + c < M ? a[q * PG_TG + c] : 0;
    }
}

const real *pgemm_packed_t_cols(const real *At, int K, int m0)
{
    return m0 % PG_TG == 0 ? At + (size_t)(m0 / PG_TG) * K * PG_TG : NULL;
}

void pgemm_tn(int M, int N, int K, const real *At, const real *Bp, real *C, int ldc)
{
    const int isa = cpu_isa();
    pg_op_t o;
    int p, q;
    memset(&o, 0, sizeof o);
    o.K = K;
    o.lda = PG_TG;
    o.ldc = ldc;
    o.beta = 1;
    for (p = 0; p < N; p += PG_NR)
        for (q = 0; q * PG_TG < M; q++) {
            o.A = At + (size_t)q * K * PG_TG;
            o.Bp = Bp + (size_t)p * K;
            o.C = C + (size_t)q * PG_TG * ldc + p;
            rows(isa, 1, M - q * PG_TG < PG_TG ? M - q * PG_TG : PG_TG,
                 N - p < PG_NR ? N - p : PG_NR, &o);
        }
}
