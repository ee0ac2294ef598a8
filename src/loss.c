/*
 * loss.c -- the built-in losses, computed from logits so that no
 * probability is ever rounded to 0 or 1 before its logarithm:
 * C = 1: binary cross-entropy of sigmoid(z), C > 1: softmax cross-entropy.
 */
#include "internal.h"

#include <math.h>
#include <string.h>

int loss_predicted_class(const real *z, int C)
{
    int c, best = 0;
    if (C == 1)
        return z[0] >= 0;   /* sigmoid(z) >= 0.5 */
    for (c = 1; c < C; c++)
        if (z[c] > z[best])
            best = c;
    return best;
}

void loss_probabilities(const real *logits, real *probs, int B, int C)
{
    int b, c;
    for (b = 0; b < B; b++) {
        const real *z = logits + (size_t)b * C;
        real *p = probs + (size_t)b * C;
        if (C == 1) {
            p[0] = act_sigmoid(z[0]);
            continue;
        }
        {
            real mx = z[0], sum = 0;
            for (c = 1; c < C; c++)
                if (z[c] > mx)
                    mx = z[c];
            for (c = 0; c < C; c++)
                sum += (p[c] = (real)exp((double)(z[c] - mx)));
            for (c = 0; c < C; c++)
                p[c] /= sum;
        }
    }
}

void loss_step_probabilities(const real *logits, real *probs, int B, int T, const int32_t *len,
                             int C)
{
    int b;
    for (b = 0; b < B; b++) {
        const size_t row = (size_t)b * T * C, valid = (size_t)len[b] * C;
        loss_probabilities(logits + row, probs + row, len[b], C);
        memset(probs + row + valid, 0, ((size_t)T * C - valid) * sizeof(real));
    }
}

/* Loss of one row and its gradient (not yet divided by B); dz may be NULL. */
double loss_row(const real *z, int C, int label, real *dz)
{
    int c;
    if (C == 1) {
        double x = z[0], y = label;
        /* max(x, 0) - x y + log(1 + exp(-|x|)) */
        double l = (x > 0 ? x : 0) - x * y + log1p(exp(-fabs(x)));
        if (dz)
            dz[0] = (real)(act_sigmoid(z[0]) - y);
        return l;
    } else {
        double mx = z[0], sum = 0, lse;
        for (c = 1; c < C; c++)
            if (z[c] > mx)
                mx = z[c];
        for (c = 0; c < C; c++)
            sum += exp((double)z[c] - mx);
        lse = mx + log(sum);
        for (c = 0; dz && c < C; c++)
            dz[c] = (real)(exp((double)z[c] - lse) - (c == label));
        return lse - z[label];
    }
}

/* Per step: labels [B, T], checked and counted at valid steps only (any
 * value at a padding step is ignored, as PyTorch's ignore_index); the mean
 * over the valid steps of the batch, d(logits) zero at padding steps. */
static int step_loss(seqcls_model_t *m, const seqcls_tensor_t *labels, double denom,
                     double *total, int64_t *right, int64_t *count_out, real **dz_out,
                     const char *func)
{
    const int B = m->B, T = m->T, C = m->layers[m->nlayers - 1]->out_F, hi = C == 1 ? 2 : C;
    const int32_t *y, *len = m->train.len;
    const real *z = m->train.vals[m->nlayers].x;
    int64_t shape[2], count = 0, good = 0;
    real *dz;
    int b, t, c, rc;

    shape[0] = B;
    shape[1] = T;
    rc = seqcls__tensor_check(labels, func, "labels", SEQCLS_I32, 2, shape);
    if (rc)
        return rc;
    y = labels->data;
    for (b = 0; b < B; b++)
        for (t = 0; t < len[b]; t++)
            if (y[(size_t)b * T + t] < 0 || y[(size_t)b * T + t] >= hi)
                return seqcls__fail(SEQCLS_E_RANGE, "%s: labels[%d, %d] = %d is outside [0, %d)",
                                    func, b, t, (int)y[(size_t)b * T + t], hi);
    dz = ws_zero(&m->model_ws, MODEL_WS_DLOGITS, (size_t)B * T * C * sizeof(real));
    if (!dz)
        return seqcls__fail(SEQCLS_E_NOMEM, "%s: out of memory", func);
    for (b = 0; b < B; b++)
        count += len[b];
    /* the mean over this batch's valid steps, or over `denom` steps (a
     * rank's share of a global batch) */
    if (denom <= 0)
        denom = (double)count;
    *total = 0;
    for (b = 0; b < B; b++)
        for (t = 0; t < len[b]; t++) {
            const size_t at = ((size_t)b * T + t) * C;
            *total += loss_row(z + at, C, y[(size_t)b * T + t], dz + at);
            for (c = 0; c < C; c++)
                dz[at + c] /= (real)denom;
            good += loss_predicted_class(z + at, C) == y[(size_t)b * T + t];
        }
    /* no valid step at all: loss 0 and no gradient (PyTorch's mean over no
     * element would be NaN); the caller divides the sum */
    *right = good;
    *count_out = count;
    *dz_out = dz;
    return SEQCLS_OK;
}

int seqcls_loss_backward(seqcls_model_t *m, const seqcls_tensor_t *labels, float *loss)
{
    double total = 0;
    int64_t count = 0;
    int rc;
    seqcls__clear_error();
    rc = loss_backward(m, labels, 0, &total, NULL, &count, "seqcls_loss_backward");
    if (rc == SEQCLS_OK && loss)
        *loss = (float)(count > 0 ? total / (double)count : 0);
    return rc;
}

int loss_backward(seqcls_model_t *m, const seqcls_tensor_t *labels, double denom,
                  double *loss_sum, int64_t *right, int64_t *count, const char *func)
{
    const int32_t *y;
    const real *z;
    real *dz = NULL;
    double total = 0;
    int64_t shape[1], good = 0, n = 0;
    int B, C, b, rc;

    rc = model_check_backward(m, func);
    if (rc)
        return rc;
    if (model_output_steps(m)) {
        rc = step_loss(m, labels, denom, &total, &good, &n, &dz, func);
        if (rc)
            return rc;
        goto done;
    }
    B = m->B;
    C = m->layers[m->nlayers - 1]->out_F;
    shape[0] = B;
    rc = seqcls__tensor_check(labels, func, "labels", SEQCLS_I32, 1, shape);
    if (rc)
        return rc;
    y = labels->data;
    for (b = 0; b < B; b++) {
        int hi = C == 1 ? 2 : C;
        if (y[b] < 0 || y[b] >= hi)
            return seqcls__fail(SEQCLS_E_RANGE, "%s: labels[%d] = %d is outside [0, %d)", func, b,
                                (int)y[b], hi);
    }
    dz = ws_get(&m->model_ws, MODEL_WS_DLOGITS, (size_t)B * C * sizeof(real));
    if (!dz)
        return seqcls__fail(SEQCLS_E_NOMEM, "%s: out of memory", func);
    /* the mean over this batch's rows, or over `denom` rows (a rank's share
     * of a global batch) */
    if (denom <= 0)
        denom = B;
    z = m->train.vals[m->nlayers].x;
    for (b = 0; b < B; b++) {
        int c;
        total += loss_row(z + (size_t)b * C, C, y[b], dz + (size_t)b * C);
        for (c = 0; c < C; c++)
            dz[(size_t)b * C + c] /= (real)denom;
        good += loss_predicted_class(z + (size_t)b * C, C) == y[b];
    }
    n = B;
done:
    if (!isfinite(total))
        return seqcls__fail(SEQCLS_E_NUMERIC, "%s: the loss is not finite", func);
    if (loss_sum)
        *loss_sum = total;
    if (right)
        *right = good;
    if (count)
        *count = n;
    return model_backward(m, dz, func);
}
