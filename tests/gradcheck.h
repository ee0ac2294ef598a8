/*
 * gradcheck.h -- the finite-difference gradient-check harness shared by
 * the tests/test_grad*.c suites (double-precision build): the analytic
 * gradient of every parameter and of the float input is compared with
 * central finite differences.
 */
#ifndef SEQCLS_GRADCHECK_H
#define SEQCLS_GRADCHECK_H

#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"

/* Internal hook (in the static test build): reseed the dropout stream so
 * that every evaluation of the objective draws the same masks. */
void seqcls__model_reseed(seqcls_model_t *m, uint64_t seed);

#define STEP 1e-5
#define TOL 1e-6
#define MAX_PER_PARAM 40   /* elements checked per parameter, spread evenly */

typedef struct {
    seqcls_model_t *m;
    seqcls_tensor_t *input;
    const int32_t *lens;
    seqcls_tensor_t *labels;   /* built-in loss if set ... */
    seqcls_tensor_t *dlogits;  /* ... else the objective sum(dlogits * logits) */
    seqcls_tensor_t *logits;
    /* elements [skip_from, skip_to) of parameter `skip_param` are not free
     * parameters (the embedding's padding row: no gradient by definition) */
    int skip_param;
    int64_t skip_from, skip_to;
} gradcheck_t;

static inline double objective(gradcheck_t *c, int with_backward)
{
    const int64_t n = seqcls_tensor_numel(c->logits);
    const real_t *z = seqcls_tensor_data(c->logits), *r;
    float loss = 0;
    double sum = 0;
    int64_t i;
    seqcls__model_reseed(c->m, 1234);
    OK(seqcls_forward(c->m, c->input, c->lens, c->logits, 1));
    if (c->labels) {
        /* loss_backward computes the loss in double but returns a float:
         * recompute it here in double from the logits for the check.  Per
         * step ([B, T, C] logits, [B, T] labels): the mean over valid steps. */
        const int32_t *y = seqcls_tensor_data(c->labels);
        const int steps = seqcls_tensor_ndim(c->logits) == 3;
        const int64_t B = seqcls_tensor_dim(c->logits, 0), C = seqcls_tensor_dim(c->logits, -1);
        const int64_t T = steps ? seqcls_tensor_dim(c->logits, 1) : 1;
        int64_t b, t, k, count = 0;
        if (with_backward)
            OK(seqcls_loss_backward(c->m, c->labels, &loss));
        for (b = 0; b < B; b++)
            for (t = 0; t < (steps ? (c->lens ? c->lens[b] : T) : 1); t++) {
                const real_t *zb = z + (b * T + t) * C;
                const int32_t yb = y[b * T + t];
                count++;
                if (C == 1) {
                    double x = zb[0];
                    sum += (x > 0 ? x : 0) - x * yb + log1p(exp(-fabs(x)));
                } else {
                    double mx = zb[0], s = 0;
                    for (k = 1; k < C; k++)
                        mx = fmax(mx, zb[k]);
                    for (k = 0; k < C; k++)
                        s += exp(zb[k] - mx);
                    sum += mx + log(s) - zb[yb];
                }
            }
        return count ? sum / (double)count : 0;
    }
    if (with_backward)
        OK(seqcls_backward(c->m, c->dlogits));
    r = seqcls_tensor_data(c->dlogits);
    for (i = 0; i < n; i++)
        if (isfinite(r[i]))   /* per step: NaN at padding steps, which must not count */
            sum += (double)r[i] * z[i];
    return sum;
}

static inline double rel_error(double a, double n)
{
    double d = fmax(fmax(fabs(a), fabs(n)), 1e-4);
    return fabs(a - n) / d;
}

/* Compare analytic and numeric gradients of `x[0..n)` (a parameter or the input). */
static inline double check_values(gradcheck_t *c, real_t *x, const real_t *analytic, int64_t n,
                           const char *what, int param)
{
    int64_t stride = n > MAX_PER_PARAM ? n / MAX_PER_PARAM : 1, j;
    double worst = 0;
    for (j = 0; j < n; j += stride) {
        real_t keep = x[j];
        double fp, fm, num, err;
        if (param == c->skip_param && j >= c->skip_from && j < c->skip_to) {
            ck_assert_msg(analytic[j] == 0, "%s[%lld]: padding row has gradient", what,
                          (long long)j);
            continue;
        }
        x[j] = keep + STEP;
        fp = objective(c, 0);
        x[j] = keep - STEP;
        fm = objective(c, 0);
        x[j] = keep;
        num = (fp - fm) / (2 * STEP);
        err = rel_error(analytic[j], num);
        ck_assert_msg(err <= TOL, "%s[%lld]: analytic %.10g numeric %.10g (rel err %.3g)", what,
                      (long long)j, (double)analytic[j], num, err);
        if (err > worst)
            worst = err;
    }
    return worst;
}

/* Check every parameter (and the float input, if `input_grad`). */
static inline void gradcheck(gradcheck_t *c, int input_grad)
{
    int i, np = seqcls_param_count(c->m);
    double worst = 0;
    int64_t k;
    OK(seqcls_zero_grad(c->m));
    objective(c, 1);
    for (i = 0; i < np; i++) {
        seqcls_tensor_t *v, *g;
        int64_t n;
        real_t *copy;
        OK(seqcls_param(c->m, i, &v, &g));
        n = seqcls_tensor_numel(v);
        copy = malloc((size_t)n * sizeof *copy);
        memcpy(copy, seqcls_tensor_data(g), (size_t)n * sizeof *copy);
        worst = fmax(worst, check_values(c, seqcls_tensor_data(v), copy, n, seqcls_param_name(c->m, i), i));
        free(copy);
    }
    if (input_grad) {
        seqcls_tensor_t *g = NULL;
        int64_t n = seqcls_tensor_numel(c->input);
        real_t *copy = malloc((size_t)n * sizeof *copy);
        objective(c, 1);
        OK(seqcls_input_grad(c->m, &g));
        ck_assert_int_eq(seqcls_tensor_numel(g), n);
        memcpy(copy, seqcls_tensor_data(g), (size_t)n * sizeof *copy);
        worst = fmax(worst, check_values(c, seqcls_tensor_data(c->input), copy, n, "input", -1));
        /* padding steps get exactly zero */
        {
            int64_t B = seqcls_tensor_dim(c->input, 0), T = seqcls_tensor_dim(c->input, 1);
            int64_t F = seqcls_tensor_dim(c->input, 2), b, t;
            for (b = 0; b < B; b++)
                for (t = c->lens ? c->lens[b] : T; t < T; t++)
                    for (k = 0; k < F; k++)
                        ck_assert(copy[(b * T + t) * F + k] == 0);
        }
        free(copy);
    }
    printf("  gradient check: %d parameters%s, worst relative error %.2e\n", np,
           input_grad ? " and the input" : "", worst);
}

static inline void setup_ids(gradcheck_t *c, int B, int T, int V, int C, int with_loss)
{
    memset(c, 0, sizeof *c);
    c->skip_param = -2;
    c->input = tu_tensor(SEQCLS_I32, 2, B, T, 0);
    tu_fill_ids(c->input, 0, V, 17);
    c->logits = tu_tensor(SEQCLS_F32, 2, B, C, 0);
    if (with_loss) {
        int32_t *y;
        int b;
        c->labels = tu_tensor(SEQCLS_I32, 1, B, 0, 0);
        y = seqcls_tensor_data(c->labels);
        for (b = 0; b < B; b++)
            y[b] = b % (C == 1 ? 2 : C);
    } else {
        c->dlogits = tu_tensor(SEQCLS_F32, 2, B, C, 0);
        tu_fill_real(c->dlogits, -1, 1, 23);
    }
}

static inline void setup_feats(gradcheck_t *c, int B, int T, int F, int C, int with_loss)
{
    setup_ids(c, B, T, 2, C, with_loss);
    seqcls_tensor_free(c->input);
    c->input = tu_tensor(SEQCLS_F32, 3, B, T, F);
    tu_fill_real(c->input, -1.5, 1.5, 29);
}

/* Per step: logits [B, T, C], labels [B, T] (-100 at padding steps, which
 * must not be read) or dlogits [B, T, C] (garbage at padding steps, which
 * must be ignored). */
static inline void setup_steps(gradcheck_t *c, int B, int T, int V, int F, int C, int with_loss,
                               const int32_t *lens)
{
    int b, t;
    setup_ids(c, B, T, V, C, with_loss);
    if (F > 0) {
        seqcls_tensor_free(c->input);
        c->input = tu_tensor(SEQCLS_F32, 3, B, T, F);
        tu_fill_real(c->input, -1.5, 1.5, 29);
    }
    c->lens = lens;
    seqcls_tensor_free(c->logits);
    c->logits = tu_tensor(SEQCLS_F32, 3, B, T, C);
    if (with_loss) {
        int32_t *y;
        seqcls_tensor_free(c->labels);
        c->labels = tu_tensor(SEQCLS_I32, 2, B, T, 0);
        y = seqcls_tensor_data(c->labels);
        for (b = 0; b < B; b++)
            for (t = 0; t < T; t++)
                y[b * T + t] = t < (lens ? lens[b] : T) ? (b + 2 * t) % (C == 1 ? 2 : C) : -100;
    } else {
        real_t *d;
        seqcls_tensor_free(c->dlogits);
        c->dlogits = tu_tensor(SEQCLS_F32, 3, B, T, C);
        tu_fill_real(c->dlogits, -1, 1, 23);
        d = seqcls_tensor_data(c->dlogits);
        for (b = 0; b < B; b++)
            for (t = lens ? lens[b] : T; t < T; t++)
                d[((int64_t)b * T + t) * C] = (real_t)NAN;
    }
}

static inline void teardown(gradcheck_t *c)
{
    seqcls_tensor_free(c->input);
    seqcls_tensor_free(c->logits);
    seqcls_tensor_free(c->labels);
    seqcls_tensor_free(c->dlogits);
    seqcls_model_free(c->m);
}

#endif
