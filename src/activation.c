/*
 * activation.c -- elementwise activations and their derivatives.
 *
 * Derivatives are written in terms of the activation's output, which is
 * what the layers keep, so no pre-activation needs storing.
 */
#include "internal.h"

#include <math.h>

#ifdef SEQCLS_REAL_DOUBLE
#define r_exp exp
#define r_tanh tanh
#else
#define r_exp expf
#define r_tanh tanhf
#endif

const char *act_name(int act)
{
    static const char *const names[] = {
        [SEQCLS_ACT_NONE] = "none",       [SEQCLS_ACT_RELU] = "relu",
        [SEQCLS_ACT_TANH] = "tanh",       [SEQCLS_ACT_SIGMOID] = "sigmoid",
        [SEQCLS_ACT_HARD_SIGMOID] = "hard_sigmoid",
    };
    return act >= 0 && act < (int)(sizeof names / sizeof names[0]) && names[act] ? names[act]
                                                                                 : "?";
}

real act_sigmoid(real x)
{
    /* Split by sign so exp never overflows. */
    if (x >= 0) {
        real e = r_exp(-x);
        return 1 / (1 + e);
    } else {
        real e = r_exp(x);
        return e / (1 + e);
    }
}

void act_forward(int act, real *y, size_t n)
{
    size_t i;
    switch (act) {
    case SEQCLS_ACT_RELU:
        for (i = 0; i < n; i++)
            y[i] = y[i] > 0 ? y[i] : 0;
        break;
    case SEQCLS_ACT_TANH:
        for (i = 0; i < n; i++)
            y[i] = r_tanh(y[i]);
        break;
    case SEQCLS_ACT_SIGMOID:
        for (i = 0; i < n; i++)
            y[i] = act_sigmoid(y[i]);
        break;
    case SEQCLS_ACT_HARD_SIGMOID:
        for (i = 0; i < n; i++) {
            real v = (real)0.2 * y[i] + (real)0.5;
            y[i] = v < 0 ? 0 : v > 1 ? 1 : v;
        }
        break;
    default:
        break;
    }
}

void act_backward(int act, const real *y, real *dx, size_t n)
{
    size_t i;
    switch (act) {
    case SEQCLS_ACT_RELU:
        for (i = 0; i < n; i++)
            if (y[i] <= 0)
                dx[i] = 0;
        break;
    case SEQCLS_ACT_TANH:
        for (i = 0; i < n; i++)
            dx[i] *= 1 - y[i] * y[i];
        break;
    case SEQCLS_ACT_SIGMOID:
        for (i = 0; i < n; i++)
            dx[i] *= y[i] * (1 - y[i]);
        break;
    case SEQCLS_ACT_HARD_SIGMOID:
        /* Flat where clipped; an output strictly inside (0, 1) has slope 0.2. */
        for (i = 0; i < n; i++)
            dx[i] = (y[i] > 0 && y[i] < 1) ? dx[i] * (real)0.2 : 0;
        break;
    default:
        break;
    }
}

/* Index of the first NaN or infinity in x[0..n), or n: whole blocks are
 * tested branch-free (vectorised), a block with one is then searched. */
SEQCLS_VECTORISED
size_t vec_first_not_finite(const real *x, size_t n)
{
    size_t i = 0, k;
    for (; i + RNN_BLOCK <= n; i += RNN_BLOCK) {
        int bad = 0;
        for (k = 0; k < RNN_BLOCK; k++)
            bad |= !(x[i + k] - x[i + k] == 0);   /* x - x is NaN for NaN and +-inf */
        if (bad)
            break;
    }
    for (; i < n; i++)
        if (!isfinite(x[i]))
            return i;
    return n;
}
