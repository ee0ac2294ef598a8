/*
 * rnn_math.c -- the elementwise functions of the recurrent cells: the gate
 * activations, tanh, their derivatives, and the flush of tiny gradients.
 *
 * sigmoid and tanh are most of the elementwise time.  On CPUs with
 * AVX-512 they are written with intrinsics (cpu.c chooses): exp by range
 * reduction, a polynomial and vscalefps, reciprocals by vrcp14ps and one
 * Newton step.  Elsewhere, and in the double build that the gradient
 * checks use (libm), they are plain C over blocks of fixed length, which
 * the compiler vectorises.
 *
 * Quantised layers (rnn_step_t.quick) take quick forms of both: e^-x by a
 * degree-4 polynomial (2.7e-6 relative) and, with AVX-512, the reciprocal
 * by vrcp14ps alone (2^-14 relative): sigmoid within 7e-5 relative, tanh
 * within 1.4e-4 absolute, for about half the arithmetic.  Their products'
 * own error is near 1e-2 (int8) or 4e-3 (bfloat16) relative, so the cells
 * give the same outputs within the quantised models' tolerances, and the
 * gate functions, a fifth of an int8 model's time before, take half that.
 */
#include "internal.h"

#include <string.h>

/* The portable float code: branch-free over blocks of fixed length, on a
 * Cephes-style exp (range reduction by ln 2, a degree-6 polynomial, the
 * exponent put in by bit arithmetic).  Every helper is SEQCLS_CLONE_INLINE:
 * one that GCC chose to call instead was built for the baseline ISA, not
 * for the clone calling it (the AVX2 cells were 15% slower so). */
#ifdef SEQCLS_REAL_DOUBLE

void rnn_gate(int act, int quick, real *x, size_t n)
{
    (void)quick;   /* double: one form */
    act_forward(act, x, n);
}

void rnn_tanh(int quick, real *x, size_t n)
{
    (void)quick;
    act_forward(SEQCLS_ACT_TANH, x, n);
}

void rnn_flush_tiny(real *x, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        x[i] = (x[i] < 1e-290 && x[i] > -1e-290) ? 0 : x[i];
}

#else

/* Selections are done on the bits, with integer compares, so that the
 * loops have no control flow and vectorise under the default
 * (trapping) floating-point model. */
SEQCLS_CLONE_INLINE int32_t bits_of(float x)
{
    union { float f; int32_t i; } u;
    u.f = x;
    return u.i;
}

SEQCLS_CLONE_INLINE float float_of(int32_t i)
{
    union { float f; int32_t i; } u;
    u.i = i;
    return u.f;
}

#define SIGN_BIT ((int32_t)0x80000000)

/* e^x for |x| <= 87 (larger |x| are clamped, which sigmoid and tanh do not notice). */
SEQCLS_CLONE_INLINE float exp_approx(float x)
{
    const int32_t xi = bits_of(x), mag = xi & ~SIGN_BIT, lim = 0x42ae0000;   /* 87.0f */
    float n, r, p;
    x = float_of((mag > lim ? lim : mag) | (xi & SIGN_BIT));
    /* n = round(x / ln 2) with the 1.5 * 2^23 trick (round to nearest) */
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
    return p * float_of(((int32_t)n + 127) << 23);
}

SEQCLS_CLONE_INLINE float sigmoid_approx(float x) { return 1.0f / (1.0f + exp_approx(-x)); }

SEQCLS_CLONE_INLINE float tanh_approx(float x)
{
    const int32_t xi = bits_of(x), mag = xi & ~SIGN_BIT;
    const float a = float_of(mag), z = x * x;
    /* near zero a polynomial (no cancellation), elsewhere 1 - 2 / (e^2a + 1) */
    const float big = 1.0f - 2.0f / (exp_approx(2.0f * a) + 1.0f);
    float small = -5.70498872745e-3f;
    int32_t near0;
    small = small * z + 2.06390887954e-2f;
    small = small * z - 5.37397155531e-2f;
    small = small * z + 1.33314422036e-1f;
    small = small * z - 3.33332819422e-1f;
    small = small * z * x + x;
    near0 = mag < 0x3f200000 ? -1 : 0;   /* |x| < 0.625f */
    return float_of((bits_of(small) & near0) | ((bits_of(big) | (xi & SIGN_BIT)) & ~near0));
}

/* The quick forms: e^-x for x in [-87, 87] (clamped, as exp_approx), with
 * n = round(-x / ln 2), r = x + n ln 2 in [-ln 2 / 2, ln 2 / 2] and
 * e^-x = 2^n e^-r; e^-r by a degree-4 fit of relative error 2.7e-6. */
SEQCLS_CLONE_INLINE float expneg_quick(float x)
{
    const int32_t xi = bits_of(x), mag = xi & ~SIGN_BIT, lim = 0x42ae0000;   /* 87.0f */
    float n, r, p;
    x = float_of((mag > lim ? lim : mag) | (xi & SIGN_BIT));
    n = (x * -1.44269504088896341f + 12582912.0f) - 12582912.0f;
    r = x + n * 0.693147180559945309f;
    p = 4.14586067e-2f;
    p = p * r - 1.67909086e-1f;
    p = p * r + 5.00043571e-1f;
    p = p * r - 9.99963403e-1f;
    p = p * r + 9.99999285e-1f;
    return p * float_of(((int32_t)n + 127) << 23);
}

SEQCLS_CLONE_INLINE float sigmoid_quick(float x) { return 1.0f / (1.0f + expneg_quick(x)); }

SEQCLS_CLONE_INLINE float tanh_quick(float x) { return 2.0f / (1.0f + expneg_quick(x + x)) - 1.0f; }

/* f over x[0..n) in place: blocks of the constant RNN_BLOCK, whose loop
 * -O2 vectorises, then the rest one by one. */
#define BLOCK_MAP(name, f)                                  \
    SEQCLS_CLONE_INLINE void name(float *x, size_t n)       \
    {                                                       \
        size_t i = 0;                                       \
        int k;                                              \
        for (; i + RNN_BLOCK <= n; i += RNN_BLOCK)          \
            for (k = 0; k < RNN_BLOCK; k++)                 \
                x[i + k] = f(x[i + k]);                     \
        for (; i < n; i++)                                  \
            x[i] = f(x[i]);                                 \
    }
BLOCK_MAP(sigmoid_map, sigmoid_approx)
BLOCK_MAP(tanh_map, tanh_approx)
BLOCK_MAP(sigmoid_quick_map, sigmoid_quick)
BLOCK_MAP(tanh_quick_map, tanh_quick)

SEQCLS_CLONE_INLINE void flush_block(float *x)
{
    int i;
    for (i = 0; i < RNN_BLOCK; i++) {
        const int32_t b = bits_of(x[i]);
        x[i] = float_of((b & ~SIGN_BIT) < 0x0da24260 ? 0 : b);   /* |x| < 1e-30f */
    }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define RNN_AVX512 1
#include <immintrin.h>

/* The same approximations with AVX-512: e^x with vscalefps putting in the
 * exponent, 1 / d as vrcp14ps refined by one Newton step (to about an ulp). */
#define AVX512 __attribute__((target("avx512f")))

static inline AVX512 __m512 exp512(__m512 x)
{
    const __m512 lim = _mm512_set1_ps(87.0f), one = _mm512_set1_ps(1.0f);
    __m512 n, r, p;
    x = _mm512_max_ps(_mm512_min_ps(x, lim), _mm512_sub_ps(_mm512_setzero_ps(), lim));
    n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                             _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, one));
    return _mm512_scalef_ps(p, n);
}

static inline AVX512 __m512 rcp512(__m512 d)
{
    const __m512 r = _mm512_rcp14_ps(d);
    return _mm512_mul_ps(r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(2.0f)));
}

static inline AVX512 __m512 sigmoid512(__m512 x)
{
    return rcp512(_mm512_add_ps(_mm512_set1_ps(1.0f), exp512(_mm512_sub_ps(_mm512_setzero_ps(), x))));
}

static inline AVX512 __m512 tanh512(__m512 x)
{
    const __m512 a = _mm512_abs_ps(x), z = _mm512_mul_ps(x, x), one = _mm512_set1_ps(1.0f);
    const __m512i sign = _mm512_and_epi32(_mm512_castps_si512(x), _mm512_set1_epi32(SIGN_BIT));
    const __mmask16 near0 = _mm512_cmp_ps_mask(a, _mm512_set1_ps(0.625f), _CMP_LT_OQ);
    __m512 big, small;
    big = rcp512(_mm512_add_ps(exp512(_mm512_add_ps(a, a)), one));
    big = _mm512_fnmadd_ps(_mm512_set1_ps(2.0f), big, one);
    big = _mm512_castsi512_ps(_mm512_or_epi32(_mm512_castps_si512(big), sign));
    small = _mm512_set1_ps(-5.70498872745e-3f);
    small = _mm512_fmadd_ps(small, z, _mm512_set1_ps(2.06390887954e-2f));
    small = _mm512_fmadd_ps(small, z, _mm512_set1_ps(-5.37397155531e-2f));
    small = _mm512_fmadd_ps(small, z, _mm512_set1_ps(1.33314422036e-1f));
    small = _mm512_fmadd_ps(small, z, _mm512_set1_ps(-3.33332819422e-1f));
    small = _mm512_fmadd_ps(_mm512_mul_ps(small, z), x, x);
    return _mm512_mask_blend_ps(near0, big, small);
}

/* The quick forms with AVX-512: e^-x as expneg_quick (its polynomial by
 * FMAs, 2^n by vscalefps) and the reciprocal by vrcp14ps alone. */
static inline AVX512 __m512 expneg512_quick(__m512 x)
{
    const __m512 lim = _mm512_set1_ps(87.0f);
    __m512 n, r, p;
    x = _mm512_max_ps(_mm512_min_ps(x, lim), _mm512_sub_ps(_mm512_setzero_ps(), lim));
    n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(-1.44269504088896341f)),
                             _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    r = _mm512_fmadd_ps(n, _mm512_set1_ps(0.693147180559945309f), x);
    p = _mm512_set1_ps(4.14586067e-2f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(-1.67909086e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.00043571e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(-9.99963403e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(9.99999285e-1f));
    return _mm512_scalef_ps(p, n);
}

static inline AVX512 __m512 sigmoid512_quick(__m512 x)
{
    return _mm512_rcp14_ps(_mm512_add_ps(_mm512_set1_ps(1.0f), expneg512_quick(x)));
}

static inline AVX512 __m512 tanh512_quick(__m512 x)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    const __m512 s = _mm512_rcp14_ps(_mm512_add_ps(one, expneg512_quick(_mm512_add_ps(x, x))));
    return _mm512_fmsub_ps(_mm512_set1_ps(2.0f), s, one);
}

/* f over x[0..n) in place, the tail under a mask. */
#define AVX512_MAP(name, f)                                                       \
    static AVX512 void name(float *x, size_t n)                                   \
    {                                                                             \
        size_t i = 0;                                                             \
        for (; i + 16 <= n; i += 16)                                              \
            _mm512_storeu_ps(x + i, f(_mm512_loadu_ps(x + i)));                   \
        if (i < n) {                                                              \
            const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);                 \
            _mm512_mask_storeu_ps(x + i, m, f(_mm512_maskz_loadu_ps(m, x + i)));  \
        }                                                                         \
    }
AVX512_MAP(sigmoid_avx512, sigmoid512)
AVX512_MAP(tanh_avx512, tanh512)
AVX512_MAP(sigmoid_quick_avx512, sigmoid512_quick)
AVX512_MAP(tanh_quick_avx512, tanh512_quick)

#endif

SEQCLS_VECTORISED
void rnn_flush_tiny(real *x, size_t n)
{
    size_t i = 0;
    for (; i + RNN_BLOCK <= n; i += RNN_BLOCK)
        flush_block(x + i);
    for (; i < n; i++)
        x[i] = (x[i] < 1e-30f && x[i] > -1e-30f) ? 0 : x[i];
}

SEQCLS_VECTORISED
void rnn_gate(int act, int quick, real *x, size_t n)
{
    if (act != SEQCLS_ACT_SIGMOID) {
        act_forward(act, x, n);   /* hard sigmoid and relu are cheap already */
        return;
    }
#ifdef RNN_AVX512
    if (cpu_isa() == CPU_AVX512) {
        (quick ? sigmoid_quick_avx512 : sigmoid_avx512)(x, n);
        return;
    }
#endif
    if (quick)
        sigmoid_quick_map(x, n);
    else
        sigmoid_map(x, n);
}

SEQCLS_VECTORISED
void rnn_tanh(int quick, real *x, size_t n)
{
#ifdef RNN_AVX512
    if (cpu_isa() == CPU_AVX512) {
        (quick ? tanh_quick_avx512 : tanh_avx512)(x, n);
        return;
    }
#endif
    if (quick)
        tanh_quick_map(x, n);
    else
        tanh_map(x, n);
}

#endif

SEQCLS_CLONE_INLINE void sigmoid_backward_block(const real *restrict y, real *restrict dx)
{
    int i;
    for (i = 0; i < RNN_BLOCK; i++)
        dx[i] *= y[i] * (1 - y[i]);
}

SEQCLS_VECTORISED
void rnn_gate_backward(int act, const real *y, real *dx, size_t n)
{
    size_t i = 0;
    if (act != SEQCLS_ACT_SIGMOID) {
        act_backward(act, y, dx, n);
        return;
    }
    for (; i + RNN_BLOCK <= n; i += RNN_BLOCK)
        sigmoid_backward_block(y + i, dx + i);
    act_backward(act, y + i, dx + i, n - i);
}

