/*
 * tensor.c -- dense row-major tensors, owned or borrowed.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

static size_t dtype_size(int dtype)
{
    return dtype == SEQCLS_F32 ? sizeof(real) : sizeof(int32_t);
}

static int tensor_init(seqcls_tensor_t **out, int dtype, int ndim, const int64_t *shape,
                       void *data, int owned, const char *func)
{
    seqcls_tensor_t *t;
    size_t numel = 1;
    int i;

    if (!out)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: out is NULL", func);
    *out = NULL;
    if (dtype != SEQCLS_F32 && dtype != SEQCLS_I32)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: dtype %d is not SEQCLS_F32 or SEQCLS_I32",
                            func, dtype);
    if (ndim < 1 || ndim > SEQCLS_MAX_DIMS)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: ndim %d is outside [1, %d]", func, ndim,
                            SEQCLS_MAX_DIMS);
    if (!shape)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: shape is NULL", func);
    for (i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return seqcls__fail(SEQCLS_E_SHAPE, "%s: shape[%d] = %lld is negative", func, i,
                                (long long)shape[i]);
        if ((uint64_t)shape[i] > (uint64_t)INT32_MAX)
            return seqcls__fail(SEQCLS_E_NOMEM, "%s: shape[%d] = %lld is too large", func, i,
                                (long long)shape[i]);
        numel = seqcls__mul(numel, (size_t)shape[i]);
    }
    if (seqcls__mul(numel, dtype_size(dtype)) >= ((size_t)1 << 48))
        return seqcls__fail(SEQCLS_E_NOMEM, "%s: %zu elements is too large a tensor", func, numel);
    if (!owned && !data && numel > 0)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: data is NULL", func);

    t = seqcls__calloc(1, sizeof *t);
    if (!t)
        return seqcls__fail(SEQCLS_E_NOMEM, "%s: out of memory", func);
    t->dtype = dtype;
    t->ndim = ndim;
    for (i = 0; i < ndim; i++)
        t->shape[i] = shape[i];
    t->numel = numel;
    t->owns = owned ? TENSOR_HEAP : TENSOR_BORROWS;
    if (owned) {
        int mapped;
        t->data = seqcls__zalloc_pages(numel ? numel : 1, dtype_size(dtype), &mapped);
        if (mapped)
            t->owns = TENSOR_PAGES;
        if (!t->data) {
            seqcls__dealloc(t);
            return seqcls__fail(SEQCLS_E_NOMEM, "%s: out of memory for %zu elements", func, numel);
        }
    } else {
        t->data = data;
    }
    *out = t;
    return SEQCLS_OK;
}

int seqcls_tensor_create(seqcls_tensor_t **out, int dtype, int ndim, const int64_t *shape)
{
    return tensor_init(out, dtype, ndim, shape, NULL, 1, "seqcls_tensor_create");
}

int seqcls_tensor_wrap(seqcls_tensor_t **out, int dtype, int ndim, const int64_t *shape,
                       void *data)
{
    return tensor_init(out, dtype, ndim, shape, data, 0, "seqcls_tensor_wrap");
}

seqcls_tensor_t *seqcls__tensor_new(int ndim, const int64_t *shape)
{
    seqcls_tensor_t *t = NULL;
    tensor_init(&t, SEQCLS_F32, ndim, shape, NULL, 1, "seqcls");
    return t;
}

void tensor_drop_data(seqcls_tensor_t *t)
{
    if (t->owns != TENSOR_BORROWS)
        seqcls__free_pages(t->data, t->numel ? t->numel : 1, dtype_size(t->dtype),
                           t->owns == TENSOR_PAGES);
    t->data = NULL;
}

void seqcls_tensor_free(seqcls_tensor_t *t)
{
    if (!t)
        return;
    tensor_drop_data(t);
    seqcls__dealloc(t);
}

void *seqcls_tensor_data(const seqcls_tensor_t *t) { return t ? t->data : NULL; }

int seqcls_tensor_ndim(const seqcls_tensor_t *t) { return t ? t->ndim : 0; }

int seqcls_tensor_dtype(const seqcls_tensor_t *t) { return t ? t->dtype : 0; }

int64_t seqcls_tensor_numel(const seqcls_tensor_t *t) { return t ? (int64_t)t->numel : 0; }

int64_t seqcls_tensor_dim(const seqcls_tensor_t *t, int axis)
{
    if (!t)
        return -1;
    if (axis < 0)
        axis += t->ndim;
    if (axis < 0 || axis >= t->ndim)
        return -1;
    return t->shape[axis];
}

static void format_shape(char *buf, size_t size, int ndim, const int64_t *shape)
{
    size_t used = 0;
    int i;
    buf[0] = '\0';
    for (i = 0; i < ndim && used + 24 < size; i++) {
        if (shape[i] < 0)
            used += (size_t)snprintf(buf + used, size - used, "%s*", i ? ", " : "");
        else
            used += (size_t)snprintf(buf + used, size - used, "%s%lld", i ? ", " : "",
                                     (long long)shape[i]);
    }
}

int seqcls__tensor_check(const seqcls_tensor_t *t, const char *func, const char *what,
                         int dtype, int ndim, const int64_t *shape)
{
    char want[160], got[160];
    int i;

    if (!t)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: %s is NULL", func, what);
    if (t->dtype != dtype)
        return seqcls__fail(SEQCLS_E_SHAPE, "%s: %s must be %s, not %s", func, what,
                            dtype == SEQCLS_F32 ? "SEQCLS_F32" : "SEQCLS_I32",
                            t->dtype == SEQCLS_F32 ? "SEQCLS_F32" : "SEQCLS_I32");
    for (i = 0; i < ndim && t->ndim == ndim; i++)
        if (shape[i] >= 0 && shape[i] != t->shape[i])
            break;
    if (t->ndim != ndim || i < ndim) {
        format_shape(want, sizeof want, ndim, shape);
        format_shape(got, sizeof got, t->ndim, t->shape);
        return seqcls__fail(SEQCLS_E_SHAPE, "%s: %s has shape [%s], expected [%s]", func, what,
                            got, want);
    }
    return SEQCLS_OK;
}
