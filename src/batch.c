/*
 * batch.c -- whole datasets for seqcls_fit and seqcls_evaluate: checked
 * once up front, then copied batch by batch into reusable buffers.
 */
#include "internal.h"

#include <string.h>

/* (4096 layers of at most 2^24 each: the sums fit in int64) */
int model_fixed_steps(const seqcls_model_t *m)
{
    int64_t drop = 0;
    int i;
    for (i = 0; i < m->nlayers; i++) {
        const layer_t *L = m->layers[i];
        const int steps = L->ops->fixed_steps ? L->ops->fixed_steps(L) : 0;
        if (steps)   /* the input has what the convolutions before it remove more */
            return steps + drop > INT_MAX ? INT_MAX : (int)(steps + drop);
        drop += L->steps_drop;
    }
    return 0;
}

int model_steps_drop(const seqcls_model_t *m)
{
    int64_t drop = 0;
    int i;
    for (i = 0; i < m->nlayers; i++)
        drop += m->layers[i]->steps_drop;
    return drop > INT_MAX ? INT_MAX : (int)drop;
}

/* The caller's lengths are read again batch after batch (a callback or
 * another thread may change them after dataset_init checked them): kept
 * within [0, T] here, so that a batch never reads past a row. */
int dataset_length(const dataset_t *d, int row)
{
    const int len = d->len ? d->len[row] : d->T;
    return len < 0 ? 0 : len > d->T ? d->T : len;
}

/* The labels of the first `len` steps of row `row` lie in [0, classes). */
static int check_step_labels(const dataset_t *d, const int32_t *y, int len, int row,
                             const char *func)
{
    int t;
    for (t = 0; t < len; t++)
        if (y[t] < 0 || y[t] >= d->classes)
            return seqcls__fail(SEQCLS_E_RANGE, "%s: label of row %d at step %d is %d, outside "
                                "[0, %d)", func, row, t, (int)y[t], d->classes);
    return SEQCLS_OK;
}

int dataset_init(dataset_t *d, const seqcls_model_t *m, const seqcls_tensor_t *x,
                 const int32_t *lengths, const seqcls_tensor_t *y, const char *func,
                 const char *what)
{
    const layer_t *first;
    int n, rc;
    int64_t yshape[2];

    memset(d, 0, sizeof *d);
    if (!m)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: model is NULL", func);
    if (!model_output_layer(m))
        return seqcls__fail(SEQCLS_E_STATE, "%s: the model has no output layer yet", func);
    if (!x || !y)
        return x ? seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: the labels of the %s are NULL", func,
                                what)
                 : seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: %s is NULL", func, what);
    first = m->layers[0];
    {
        const input_spec_t spec = model_input_spec(m);
        int64_t shape[3] = {-1, -1, spec.width};
        d->is_ids = spec.dtype == SEQCLS_I32;
        d->rank = spec.rank;
        rc = seqcls__tensor_check(x, func, what, spec.dtype, spec.rank, shape);
    }
    if (rc)
        return rc;
    if (x->shape[0] < 1 || x->shape[1] < 1)
        return seqcls__fail(SEQCLS_E_SHAPE, "%s: %s has no rows or no steps", func, what);
    d->N = (int)x->shape[0];
    d->T = (int)x->shape[1];
    d->F = d->rank == 3 ? (int)x->shape[2] : 1;
    d->x = x->data;
    d->len = lengths;
    d->steps = model_output_steps(m);
    d->classes = m->layers[m->nlayers - 1]->out_F;
    if (d->classes == 1)
        d->classes = 2;
    yshape[0] = d->N;
    yshape[1] = d->T;
    rc = seqcls__tensor_check(y, func, "labels", SEQCLS_I32, d->steps ? 2 : 1, yshape);
    if (rc)
        return rc;
    d->y = y->data;
    for (n = 0; n < d->N; n++) {
        int len = d->len ? d->len[n] : d->T;   /* unclamped: checked here */
        if (len < 0 || len > d->T)
            return seqcls__fail(SEQCLS_E_RANGE, "%s: %s length of row %d is %d, outside [0, %d]",
                                func, what, n, len, d->T);
        if (!d->steps && (d->y[n] < 0 || d->y[n] >= d->classes))
            return seqcls__fail(SEQCLS_E_RANGE, "%s: label of row %d is %d, outside [0, %d)",
                                func, n, (int)d->y[n], d->classes);
        if (d->steps && (rc = check_step_labels(d, d->y + (size_t)n * d->T, len, n, func)))
            return rc;
    }
    return first->ops->check_input(first, d->x, d->N, d->T, d->len, func, what);
}

static int grow(void **buf, size_t *cap, size_t bytes, const char *func)
{
    void *p;
    if (bytes <= *cap)
        return SEQCLS_OK;
    p = seqcls__alloc(bytes);
    if (!p)
        return seqcls__fail(SEQCLS_E_NOMEM, "%s: out of memory for a %zu-byte batch", func, bytes);
    seqcls__dealloc(*buf);
    *buf = p;
    *cap = bytes;
    return SEQCLS_OK;
}

int batch_gather(batch_t *bt, const dataset_t *d, const int *rows, int n, int Tb,
                 const char *func)
{
    const size_t elem = d->is_ids ? sizeof(int32_t) : sizeof(real);
    const size_t row_bytes = (size_t)Tb * d->F * elem, src_row = (size_t)d->T * d->F * elem;
    const size_t yrow = d->steps ? (size_t)Tb : 1;
    int64_t shape[3] = {n, Tb, d->F}, yshape[2] = {n, Tb};
    int i, rc;

    seqcls_tensor_free(bt->x);
    seqcls_tensor_free(bt->y);
    bt->x = bt->y = NULL;
    if ((rc = grow(&bt->buf, &bt->cap, (size_t)n * row_bytes, func)) ||
        (rc = grow(&bt->ybuf, &bt->ycap, (size_t)n * (yrow + 1) * sizeof(int32_t), func)))
        return rc;
    bt->len = (int32_t *)bt->ybuf + (size_t)n * yrow;
    for (i = 0; i < n; i++) {
        int len = dataset_length(d, rows[i]);
        int32_t *y = (int32_t *)bt->ybuf + (size_t)i * yrow;
        memcpy((char *)bt->buf + (size_t)i * row_bytes, (const char *)d->x + rows[i] * src_row,
               row_bytes);
        bt->len[i] = len < Tb ? len : Tb;
        if (!d->steps) {
            y[0] = d->y[rows[i]];
            continue;
        }
        /* per step: the caller's lengths may have changed since dataset_init
         * checked the labels of the valid steps, so check them again here */
        memcpy(y, d->y + (size_t)rows[i] * d->T, (size_t)bt->len[i] * sizeof *y);
        memset(y + bt->len[i], 0, (size_t)(Tb - bt->len[i]) * sizeof *y);
        if ((rc = check_step_labels(d, y, bt->len[i], rows[i], func)))
            return rc;
    }
    rc = seqcls_tensor_wrap(&bt->x, d->is_ids ? SEQCLS_I32 : SEQCLS_F32, d->rank, shape,
                            bt->buf);
    if (rc == SEQCLS_OK)
        rc = seqcls_tensor_wrap(&bt->y, SEQCLS_I32, d->steps ? 2 : 1, yshape, bt->ybuf);
    return rc;
}

void batch_free(batch_t *bt)
{
    seqcls_tensor_free(bt->x);
    seqcls_tensor_free(bt->y);
    seqcls__dealloc(bt->buf);
    seqcls__dealloc(bt->ybuf);
    memset(bt, 0, sizeof *bt);
}
