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
    double two[2], lmax, sum = 0, u, acc = 0;
    const float *p = probs;
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
        if (!(p[i] >= 0) || !isfinite(p[i]))
            return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: probs[%d] = %g is not a probability",
                                func, i, (double)p[i]);
    if (n == 1 && p[0] > 1)
        return seqcls__fail(SEQCLS_E_INVALID_ARG,
                            "%s: probs[0] = %g is above 1 (n = 1: p of class 1)", func,
                            (double)p[0]);
    /* n = 1 is a sigmoid output, p of class 1: the classes are 0 and 1 */
    two[0] = 1 - (double)p[0];
    two[1] = p[0];
    if (n == 1)
        classes = 2;
#define PROB(i) (n == 1 ? two[i] : (double)p[i])
    for (i = 1; i < classes; i++)
        if (PROB(i) > PROB(best))
            best = i;
    if (!(PROB(best) > 0))
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: no probability is above 0", func);
    if (T == 0)
        return best;
    /* weights p_i^(1/T) relative to p_max's, in logarithms (p_max's is 1,
     * so the sum is at least 1 and nothing underflows to all zeros) */
    lmax = log(PROB(best));
    for (i = 0; i < classes; i++)
        sum += PROB(i) > 0 ? exp((log(PROB(i)) - lmax) / T) : 0;
    u = (double)(rng_splitmix64(rng_state) >> 11) * 0x1.0p-53 * sum;
    for (i = 0; i < classes; i++) {
        acc += PROB(i) > 0 ? exp((log(PROB(i)) - lmax) / T) : 0;
        if (acc > u)
            return i;
    }
#undef PROB
    return best;   /* u * sum rounded up to the total: a class with weight */
}
