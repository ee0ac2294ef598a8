/*
 * metrics.c -- seqcls_evaluate: loss, accuracy, per-class precision,
 * recall and F1, and the confusion matrix of a model on a dataset; row by
 * row, or for a per-step model (a tagger) token by token over the valid
 * steps.
 */
#include "internal.h"

#include <math.h>
#include <string.h>

struct seqcls_metrics {
    int classes;
    int64_t count;
    double loss;
    int64_t *confusion;   /* [classes][classes]: truth-major */
};

static void score(seqcls_metrics_t *mt, const real *z, int C, int y)
{
    mt->loss += loss_row(z, C, y, NULL);
    mt->confusion[(size_t)y * mt->classes + loss_predicted_class(z, C)]++;
    mt->count++;
}

/* One batch: a row at a time, or per step over each row's valid steps. */
static void run_batch_metrics(seqcls_metrics_t *mt, const real *logits, const batch_t *bt, int n,
                              int Tb, int steps, int C)
{
    const int32_t *y = bt->ybuf;
    int i, t;
    for (i = 0; i < n; i++) {
        if (!steps) {
            score(mt, logits + (size_t)i * C, C, y[i]);
            continue;
        }
        for (t = 0; t < bt->len[i]; t++)
            score(mt, logits + ((size_t)i * Tb + t) * C, C, y[(size_t)i * Tb + t]);
    }
}

int seqcls_evaluate(const seqcls_model_t *m, const seqcls_tensor_t *x, const int32_t *lengths,
                    const seqcls_tensor_t *y, int batch_size, seqcls_metrics_t **out)
{
    const char *func = "seqcls_evaluate";
    seqcls_metrics_t *mt = NULL;
    dataset_t d;
    batch_t bt;
    run_t run;
    int *rows = NULL, start, rc, fixed, C;

    seqcls__clear_error();
    if (!out)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: out is NULL", func);
    *out = NULL;
    if (batch_size < 0)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: batch_size %d is negative", func, batch_size);
    if (batch_size == 0)
        batch_size = 256;
    rc = dataset_init(&d, m, x, lengths, y, func, "input");
    if (rc)
        return rc;
    C = m->layers[m->nlayers - 1]->out_F;
    fixed = model_fixed_steps(m);
    memset(&bt, 0, sizeof bt);
    memset(&run, 0, sizeof run);
    mt = seqcls__calloc(1, sizeof *mt);
    rows = seqcls__calloc((size_t)batch_size, sizeof *rows);
    if (!mt || !rows ||
        !(mt->confusion = seqcls__calloc((size_t)d.classes * d.classes, sizeof *mt->confusion))) {
        rc = seqcls__fail(SEQCLS_E_NOMEM, "%s: out of memory", func);
        goto done;
    }
    mt->classes = d.classes;
    for (start = 0; start < d.N; start += batch_size) {
        int n = d.N - start < batch_size ? d.N - start : batch_size, i, Tb = 1;
        for (i = 0; i < n; i++) {
            rows[i] = start + i;
            if (dataset_length(&d, start + i) > Tb)
                Tb = dataset_length(&d, start + i);
        }
        if (fixed)
            Tb = d.T;
        rc = batch_gather(&bt, &d, rows, n, Tb, func);
        if (rc == SEQCLS_OK)
            rc = model_run_forward(m, &run, bt.x, bt.len, 0, NULL, func);
        if (rc)
            goto done;
        run_batch_metrics(mt, run.vals[m->nlayers].x, &bt, n, Tb, d.steps, C);
    }
    /* (per step, a dataset without a valid step scores nothing: loss NaN) */
    mt->loss /= (double)mt->count;
    *out = mt;
    mt = NULL;
done:
    run_free(&run);
    batch_free(&bt);
    seqcls__dealloc(rows);
    seqcls_metrics_free(mt);
    return rc;
}

int seqcls_metrics_classes(const seqcls_metrics_t *mt) { return mt ? mt->classes : 0; }

int64_t seqcls_metrics_confusion(const seqcls_metrics_t *mt, int truth, int predicted)
{
    if (!mt || truth < 0 || truth >= mt->classes || predicted < 0 || predicted >= mt->classes)
        return -1;
    return mt->confusion[(size_t)truth * mt->classes + predicted];
}

/* Precision, recall or F1 of class c; NaN when the ratio is 0/0. */
static double class_score(const seqcls_metrics_t *mt, int metric, int c)
{
    int64_t tp = mt->confusion[(size_t)c * mt->classes + c], pred = 0, truth = 0;
    double p, r;
    int k;
    for (k = 0; k < mt->classes; k++) {
        pred += mt->confusion[(size_t)k * mt->classes + c];
        truth += mt->confusion[(size_t)c * mt->classes + k];
    }
    p = pred ? (double)tp / pred : NAN;
    r = truth ? (double)tp / truth : NAN;
    if (metric == SEQCLS_METRIC_PRECISION)
        return p;
    if (metric == SEQCLS_METRIC_RECALL)
        return r;
    if (isnan(p) || isnan(r))
        return NAN;
    return p + r > 0 ? 2 * p * r / (p + r) : 0;
}

double seqcls_metrics_get(const seqcls_metrics_t *mt, int metric, int cls)
{
    int64_t right = 0;
    int k;
    if (!mt)
        return NAN;
    switch (metric) {
    case SEQCLS_METRIC_LOSS:
        return mt->loss;
    case SEQCLS_METRIC_COUNT:
        return (double)mt->count;
    case SEQCLS_METRIC_ACCURACY:
        for (k = 0; k < mt->classes; k++)
            right += mt->confusion[(size_t)k * mt->classes + k];
        return mt->count ? (double)right / mt->count : NAN;
    case SEQCLS_METRIC_MACRO_F1: {
        /* classes with no rows and no predictions count as F1 0, as scikit-learn */
        double sum = 0;
        for (k = 0; k < mt->classes; k++) {
            double f = class_score(mt, SEQCLS_METRIC_F1, k);
            sum += isnan(f) ? 0 : f;
        }
        return sum / mt->classes;
    }
    case SEQCLS_METRIC_PRECISION:
    case SEQCLS_METRIC_RECALL:
    case SEQCLS_METRIC_F1:
    case SEQCLS_METRIC_SUPPORT:
        if (cls < 0 || cls >= mt->classes)
            return NAN;
        if (metric == SEQCLS_METRIC_SUPPORT) {
            int64_t n = 0;
            for (k = 0; k < mt->classes; k++)
                n += mt->confusion[(size_t)cls * mt->classes + k];
            return (double)n;
        }
        return class_score(mt, metric, cls);
    default:
        return NAN;
    }
}

void seqcls_metrics_free(seqcls_metrics_t *mt)
{
    if (!mt)
        return;
    seqcls__dealloc(mt->confusion);
    seqcls__dealloc(mt);
}
