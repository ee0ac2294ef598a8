/*
 * qgemm_kernel.h -- what qgemm's kernels share (qgemm.c, qgemm_amx.c,
 * qgemm_avxvnni.c):
 * the description of one call (rows of one panel), the epilogue every
 * kernel applies in the same order, and qgemm's loop over panels with a
 * given kernel.  Internal, like internal.h.
 */
#ifndef SEQCLS_QGEMM_KERNEL_H
#define SEQCLS_QGEMM_KERNEL_H

#include "internal.h"

#include <string.h>

/* Columns per packed panel (layout in qgemm.c). */
#define QNR 32

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(SEQCLS_REAL_DOUBLE)
#define Q_X86 1
#include <immintrin.h>
#endif

/* One kernel call: rows [0, M) of one panel, its columns [0, n). */
typedef struct {
    const qmat_t *w;
    const unsigned char *act;   /* row i at act + i * rb */
    size_t rb;
    const float *sa;
    const unsigned char *panel; /* the panel's packed weights */
    const float *sw;            /* the panel's scales (int8) */
    const int32_t *wsum;        /* the panel's sums (int8) */
    const real *bias;           /* the panel's bias, or NULL */
    real *C;                    /* the panel's first column */
    int ldc, add;               /* add: C + v (the second operand), else store */
} qk_t;

typedef void (*qkernel_fn)(int M, int n, const qk_t *o);

/* The kernel qgemm uses for a mode now (qgemm_kernel's), and the portable
 * C one, the reference (on x86-64 the int8 products use SSE2 instead). */
qkernel_fn qgemm_kernel_fn(int mode);
qkernel_fn qgemm_portable_fn(int mode);
/* qgemm (internal.h) with the kernel kern: the tests run every kernel. */
void qgemm_run(qkernel_fn kern, int M, int nops, const qop_t *ops, const real *bias, real *C,
               int ldc);

#ifdef Q_X86
/* The AMX kernels (qgemm_amx.c) and AVX-VNNI's (qgemm_avxvnni.c). */
void qgemm_amx_int8(int M, int n, const qk_t *o);
void qgemm_amx_bf16(int M, int n, const qk_t *o);
void qgemm_avxvnni_int8(int M, int n, const qk_t *o);
#endif

/* Do kernels a and b give the same results (int8: bits; bfloat16: within
 * the order of a pair's sum) on a small product?  qgemm checks the AMX
 * kernels so before their first use. */
int qgemm_kernels_agree(qkernel_fn a, qkernel_fn b, int mode);

/* The 4 bytes of group g of activation row i (4 int8 values, or 2
 * bfloat16), as the int32 a kernel broadcasts. */
static inline int32_t act_group(const qk_t *o, int i, int g)
{
    int32_t v;
    memcpy(&v, o->act + (size_t)i * o->rb + 4 * (size_t)g, 4);
    return v;
}

/* The epilogue of one element, the same in every kernel. */
static inline real q_out(const qk_t *o, real c_old, float v, int col)
{
    real y = o->add ? (real)((float)c_old + v) : (real)v;
    if (o->bias)
        y = (real)((float)y + (float)o->bias[col]);
    return y;
}

#ifdef Q_X86
/* The mask of the columns [0, n) of a panel among its 16 columns
 * [16 half, 16 half + 16). */
static inline __mmask16 panel_mask(int n, int half)
{
    const int c = n - 16 * half;
    return (__mmask16)(c >= 16 ? 0xffff : c <= 0 ? 0 : (1u << c) - 1);
}

/* The epilogue of a row of 16 columns [c0, c0 + 16) of a panel, v0 and v1
 * the kernel's float results: q_out's operations, 8 columns at a time,
 * or element by element at the panel's edge. */
static inline __attribute__((always_inline, target("avx2"))) void
store16_avx2(const qk_t *o, real *ci, int c0, int n, __m256 v0, __m256 v1)
{
    float out[16];
    int c;
    if (n - c0 >= 16) {
        if (o->add) {
            v0 = _mm256_add_ps(_mm256_loadu_ps(ci), v0);
            v1 = _mm256_add_ps(_mm256_loadu_ps(ci + 8), v1);
        }
        if (o->bias) {
            v0 = _mm256_add_ps(v0, _mm256_loadu_ps(o->bias + c0));
            v1 = _mm256_add_ps(v1, _mm256_loadu_ps(o->bias + c0 + 8));
        }
        _mm256_storeu_ps(ci, v0);
        _mm256_storeu_ps(ci + 8, v1);
        return;
    }
    _mm256_storeu_ps(out, v0);
    _mm256_storeu_ps(out + 8, v1);
    for (c = 0; c < n - c0; c++)
        ci[c] = q_out(o, ci[c], out[c], c0 + c);
}

/* What the int8 epilogue needs for the half of a panel [c0, c0 + 16):
 * 128 wsum, and the scales (zero past the panel's n columns). */
typedef struct {
    __m256i off0, off1;
    float sw[16];
} int8_half_t;

static inline __attribute__((always_inline, target("avx2"))) void
int8_half_avx2(const qk_t *o, int c0, int n, int8_half_t *h)
{
    int c;
    const __m256i *wsum = (const __m256i *)(const void *)(o->wsum + c0);
    h->off0 = _mm256_slli_epi32(_mm256_loadu_si256(wsum), 7);
    h->off1 = _mm256_slli_epi32(_mm256_loadu_si256(wsum + 1), 7);
    for (c = 0; c < 16; c++)
        h->sw[c] = c0 + c < n ? o->sw[c0 + c] : 0.0f;
}

/* Row i's 16 int8 results from their integer sums s0, s1 (columns c0..+7,
 * c0+8..+15): (float)(acc - 128 wsum) * (sa * sw), then store16_avx2. */
static inline __attribute__((always_inline, target("avx2"))) void
int8_store16_avx2(const qk_t *o, const int8_half_t *h, int i, int c0, int n, __m256i s0,
                  __m256i s1)
{
    const __m256 sa = _mm256_set1_ps(o->sa[i]);
    store16_avx2(o, o->C + (size_t)i * o->ldc + c0, c0, n,
                 _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(s0, h->off0)),
                               _mm256_mul_ps(sa, _mm256_loadu_ps(h->sw))),
                 _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(s1, h->off1)),
                               _mm256_mul_ps(sa, _mm256_loadu_ps(h->sw + 8))));
}

/* The epilogue of a row of a panel's 32 columns (masks m0, m1 for the
 * columns [0, n)), v0 and v1 the kernel's float results: q_out's
 * operations, 16 columns at a time. */
static inline __attribute__((always_inline, target("avx512f"))) void
store32_avx512(const qk_t *o, float *c, __mmask16 m0, __mmask16 m1, __m512 v0, __m512 v1)
{
    if (o->add) {
        v0 = _mm512_add_ps(_mm512_maskz_loadu_ps(m0, c), v0);
        v1 = _mm512_add_ps(_mm512_maskz_loadu_ps(m1, c + 16), v1);
    }
    if (o->bias) {
        v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, o->bias));
        v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, o->bias + 16));
    }
    _mm512_mask_storeu_ps(c, m0, v0);
    _mm512_mask_storeu_ps(c + 16, m1, v1);
}

/* 16 of an int8 kernel's results from their integer sums acc (of u8 =
 * q + 128): (float)(acc - off) * (sa * sw), off = 128 wsum. */
static inline __attribute__((always_inline, target("avx512f"))) __m512
int8_value_avx512(__m512i acc, __m512i off, __m512 sa, __m512 sw)
{
    return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(acc, off)), _mm512_mul_ps(sa, sw));
}
#endif

#endif
