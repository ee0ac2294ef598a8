/*
 * qgemm_kernel.h -- what qgemm's kernels share (qgemm.c, qgemm_amx.c):
 * the description of one call (rows of one panel), the epilogue every
 * kernel applies in the same order, and qgemm's loop over panels with a
 * given kernel.  Internal, like internal.h.
 */
#ifndef SEQCLS_QGEMM_KERNEL_H
#define SEQCLS_QGEMM_KERNEL_H

#include "internal.h"

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

/* The kernel qgemm uses for a mode now (qgemm_kernel's). */
qkernel_fn qgemm_kernel_fn(int mode);
/* qgemm (internal.h) with the kernel kern: the tests run every kernel. */
void qgemm_run(qkernel_fn kern, int M, int nops, const qop_t *ops, const real *bias, real *C,
               int ldc);

#ifdef Q_X86
/* The AMX kernels (qgemm_amx.c). */
void qgemm_amx_int8(int M, int n, const qk_t *o);
void qgemm_amx_bf16(int M, int n, const qk_t *o);
#endif

/* Do kernels a and b give the same results (int8: bits; bfloat16: within
 * the order of a pair's sum) on a small product?  qgemm checks the AMX
 * kernels so before their first use. */
int qgemm_kernels_agree(qkernel_fn a, qkernel_fn b, int mode);

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
