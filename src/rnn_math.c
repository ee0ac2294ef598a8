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
 */
#include "internal.h"

#include <string.h>

/* The portable float code: branch-free over blocks of fixed length, on a
 * Cephes-style exp (range reduction by ln 2, a degree-6 polynomial, the
 * exponent put in by bit arithmetic). */
#ifdef SEQCLS_REAL_DOUBLE

void rnn_gate(int act, real *x, size_t n) { act_forward(act, x, n); }
void rnn_tanh(real *x, size_t n) { act_forward(SEQCLS_ACT_TANH, x, n); }

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
static inline int32_t bits_of(float x)
{
    union { float f; int32_t i; } u;
    u.f = x;
    return u.i;
}

static inline float float_of(int32_t i)
{
    union { float f; int32_t i; } u;
    u.i = i;
    return u.f;
}

#define SIGN_BIT ((int32_t)0x80000000)

/* e^x for |x| <= 87 (larger |x| are clamped, which sigmoid and tanh do not notice). */
static inline float exp_approx(float x)
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

static inline float sigmoid_approx(float x) { return 1.0f / (1.0f + exp_approx(-x)); }

static inline float tanh_approx(float x)
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

static void sigmoid_block(float *x)
{
    int i;
    for (i = 0; i < RNN_BLOCK; i++)
        x[i] = sigmoid_approx(x[i]);
}

static void tanh_block(float *x)
{
    int i;
    for (i = 0; i < RNN_BLOCK; i++)
        x[i] = tanh_approx(x[i]);
}

static void flush_block(float *x)
{
    int i;
    for (i = 0; i < RNN_BLOCK; i++) {
        const int32_t b = bits_of(x[i]);
        x[i] = float_of((b & ~SIGN_BIT) < 0x0da24260 ? 0 : b);   /* |x| < 1e-30f */
    }
}

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
void rnn_gate(int act, real *x, size_t n)
{
    size_t i = 0;
    if (act != SEQCLS_ACT_SIGMOID) {
        act_forward(act, x, n);   /* hard sigmoid and relu are cheap already */
        return;
    }
    for (; i + RNN_BLOCK <= n; i += RNN_BLOCK)
        sigmoid_block(x + i);
    for (; i < n; i++)
        x[i] = sigmoid_approx(x[i]);
}

SEQCLS_VECTORISED
void rnn_tanh(real *x, size_t n)
{
    size_t i = 0;
    for (; i + RNN_BLOCK <= n; i += RNN_BLOCK)
        tanh_block(x + i);
    for (; i < n; i++)
        x[i] = tanh_approx(x[i]);
}

#endif

static void sigmoid_backward_block(const real *restrict y, real *restrict dx)
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

