/*
 * sparse.c -- gradients that are sparse by rows: the embedding bag's
 * table (fastText's 2 million hashed n-gram rows), of which a batch uses a
 * few thousand.  A backward lists the rows it reached, and everything
 * after it -- zeroing, clipping, the optimiser's step -- visits those rows
 * only.
 *
 * Where the rows' gradients are kept:
 *   - dense, in the parameter's public gradient tensor (seqcls_param,
 *     seqcls_backward, seqcls_optimizer_step: what a caller can read),
 *     allocated at its first use: a model that is only trained by
 *     seqcls_fit, or only predicts, never has a second table;
 *   - compact, inside seqcls_fit: one contiguous row per listed row, in
 *     the order listed.  The backward and the step then read and write
 *     rows that stay in the cache, instead of rows of a table of gigabytes
 *     at random; seqcls_fit's gradients are its own business (it zeroes
 *     them before every batch), so the public tensor is not touched.
 */
#include "internal.h"

#include <string.h>

/*
 * Which rows are listed, and where: an open-addressing table (linear
 * probing, at most half full) from a row to 1 + its place in `rows`.  It
 * holds a batch's rows, not the table's: a few thousand entries that stay
 * in the cache, where an array over all rows (8 MB for 2 million) would
 * miss it at every look-up.
 */
#define EMPTY (-1)

static size_t hash_row(int32_t row, size_t mask)
{
    return ((uint32_t)row * 2654435761u) & mask;
}

/* A table of `size` slots (a power of two), empty; the lists reserved for `n` rows. */
static int table_alloc(sparse_rows_t *s, size_t size)
{
    int32_t *key = seqcls__alloc(seqcls__mul(size, sizeof *key));
    int32_t *val = seqcls__alloc(seqcls__mul(size, sizeof *val));
    int32_t *rows = seqcls__alloc(seqcls__mul(size / 2, sizeof *rows));
    if (!key || !val || !rows) {
        seqcls__dealloc(key);
        seqcls__dealloc(val);
        seqcls__dealloc(rows);
        return SEQCLS_E_NOMEM;
    }
    memset(key, 0xFF, size * sizeof *key);
    if (s->n)
        memcpy(rows, s->rows, (size_t)s->n * sizeof *rows);
    seqcls__dealloc(s->key);
    seqcls__dealloc(s->val);
    seqcls__dealloc(s->rows);
    s->key = key;
    s->val = val;
    s->rows = rows;
    s->size = size;
    return SEQCLS_OK;
}

/* Enter rows[i] (known absent) at its place in the table. */
static void table_put(sparse_rows_t *s, int i)
{
    const size_t mask = s->size - 1;
    size_t h = hash_row(s->rows[i], mask);
    while (s->key[h] != EMPTY)
        h = (h + 1) & mask;
    s->key[h] = s->rows[i];
    s->val[h] = i;
}

int sparse_rows_ready(sparse_rows_t *s)
{
    return s->key ? SEQCLS_OK : table_alloc(s, 4096);
}

int sparse_grad_dense(sparse_rows_t *s)
{
    seqcls_tensor_t *g = s->grad;
    if (g->data)
        return SEQCLS_OK;
    g->data = seqcls__calloc(g->numel, sizeof(real));
    if (!g->data)
        return SEQCLS_E_NOMEM;
    *s->grad_ptr = g->data;
    return SEQCLS_OK;
}

real *sparse_grad_row(sparse_rows_t *s, int32_t row)
{
    size_t mask = s->size - 1, h = hash_row(row, mask);
    int32_t k;
    while (s->key[h] != EMPTY && s->key[h] != row)
        h = (h + 1) & mask;
    if (s->key[h] == row) {
        k = s->val[h];
    } else {
        if ((size_t)(s->n + 1) * 2 > s->size) {
            /* grow: at most half full, the lists with it */
            int i;
            if (table_alloc(s, s->size * 2) != SEQCLS_OK)
                return NULL;
            for (i = 0; i < s->n; i++)
                table_put(s, i);
            mask = s->size - 1;
            for (h = hash_row(row, mask); s->key[h] != EMPTY; h = (h + 1) & mask)
                ;
        }
        if (s->compact_on && s->n == s->cap) {
            /* grow, keeping the invariant: rows past n are zero */
            const int cap = s->cap ? 2 * s->cap : 1024;
            const size_t len = (size_t)s->row_len * sizeof(real);
            real *c = seqcls__alloc(seqcls__mul((size_t)cap, len));
            if (!c)
                return NULL;
            if (s->n)
                memcpy(c, s->compact, (size_t)s->n * len);
            memset((char *)c + (size_t)s->n * len, 0, (size_t)(cap - s->n) * len);
            seqcls__dealloc(s->compact);
            s->compact = c;
            s->cap = cap;
        }
        k = s->n++;
        s->rows[k] = row;
        s->key[h] = row;
        s->val[h] = k;
    }
    return s->compact_on ? s->compact + (size_t)k * s->row_len
                         : (real *)s->grad->data + (size_t)row * s->row_len;
}

void sparse_clear(sparse_rows_t *s)
{
    int r;
    if (s->compact_on) {
        if (s->n)
            memset(s->compact, 0, (size_t)s->n * s->row_len * sizeof(real));
    } else if (s->grad->data) {
        for (r = 0; r < s->n; r++)
            memset((real *)s->grad->data + (size_t)s->rows[r] * s->row_len, 0,
                   (size_t)s->row_len * sizeof(real));
    }
    /* empty the table: entry by entry when few are used, else all at once
     * (every entry goes, so a search never needs to stop at a hole: each
     * row is found where it is, holes before it or not) */
    if ((size_t)s->n * 16 < s->size) {
        const size_t mask = s->size - 1;
        for (r = 0; r < s->n; r++) {
            size_t h = hash_row(s->rows[r], mask);
            while (s->key[h] != s->rows[r])
                h = (h + 1) & mask;
            s->key[h] = EMPTY;
        }
    } else {
        memset(s->key, 0xFF, s->size * sizeof *s->key);
    }
    s->n = 0;
}

int sparse_set_compact(sparse_rows_t *s, int on)
{
    int rc = on ? sparse_rows_ready(s) : SEQCLS_OK;
    if (rc)
        return rc;
    if (s->key)
        sparse_clear(s);   /* a list belongs to the storage it was made in */
    s->compact_on = on;
    if (!on) {
        seqcls__dealloc(s->compact);
        s->compact = NULL;
        s->cap = 0;
    }
    return SEQCLS_OK;
}

void sparse_free(sparse_rows_t *s)
{
    if (!s)
        return;
    seqcls__dealloc(s->key);
    seqcls__dealloc(s->val);
    seqcls__dealloc(s->rows);
    seqcls__dealloc(s->compact);
    seqcls__dealloc(s);
}
