/*
 * sample.c -- seqcls_sample: draw a class from probabilities at a
 * temperature, for generating text one step at a time (with a stream).
 */
#include "internal.h"

#include <math.h>

int seqcls_sample(const float *probs, int n, float temperature, uint64_t *rng_state)
{
    const char *func = "seqcls_sample";
    const double T = temperature;
    double p2[2], lmax = -INFINITY, sum = 0, u, acc = 0;
    const double *p = NULL;
    int i, best = 0, classes = n;

    seqcls__clear_error();
    if (!probs)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: probs is NULL", func);
    if (n < 1)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: n = %d: there must be a class", func, n);
    if (!(T >= 0) || !isfinite(T))
        return seqcls__fail(SEQCLS_E_INVALID_ARG,
                            "%s: temperature %g must be finite and >= 0", func, T);
    if (T > 0 && !rng_state)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: rng_state is NULL", func);
    for (i = 0; i < n; i++)
        if (!(probs[i] >= 0) || !isfinite(probs[i]))
            return seqcls__fail(SEQCLS_E_INVALID_ARG,
                                "%s: probs[%d] = %g is not a probability", func, i,
                                (double)probs[i]);
    if (n == 1) {
        /* a sigmoid output: p of class 1 */
        if (probs[0] > 1)
            return seqcls__fail(SEQCLS_E_INVALID_ARG,
                                "%s: probs[0] = %g is above 1 (n = 1: p of class 1)", func,
                                (double)probs[0]);
        p2[0] = 1 - (double)probs[0];
        p2[1] = probs[0];
        p = p2;
        classes = 2;
    }
    for (i = 0; i < classes; i++) {
        const double pi = p ? p[i] : probs[i];
        if (pi > (p ? p[best] : probs[best]))
            best = i;
    }
    if (!((p ? p[best] : probs[best]) > 0))
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: no probability is above 0", func);
    if (T == 0)
        return best;
    /* weights p_i^(1/T) / p_max^(1/T), in logarithms: p_max's is 1 */
    lmax = log(p ? p[best] : probs[best]);
    for (i = 0; i < classes; i++) {
        const double pi = p ? p[i] : probs[i];
        sum += pi > 0 ? exp((log(pi) - lmax) / T) : 0;
    }
    u = (double)(rng_splitmix64(rng_state) >> 11) * 0x1.0p-53 * sum;
    for (i = 0; i < classes; i++) {
        const double pi = p ? p[i] : probs[i];
        acc += pi > 0 ? exp((log(pi) - lmax) / T) : 0;
        if (acc > u)
            return i;
    }
    return best;   /* u * sum rounded up to the total: the last class with weight */
}
