/*
 * embedding_bag.c -- bags of ids [B, T, per_step] to the means of their
 * rows [B, T, dim]: fastText's input layer.  A step is a word; its bag
 * holds the word's own id and its character n-gram ids
 * (seqcls_vocab_encode_subwords), -1 in the unused slots.
 *
 * The table is large (fastText hashes n-grams into 2 million rows) and a
 * batch uses few of its rows, so the weight's gradient is sparse by rows
 * (sparse_rows_t): the backward lists the rows it reached, and seqcls_fit
 * and the optimisers zero and update only those.
 */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* The id in slot j of step (b, t), per_step P. */
#define BAG(ids, b, t, T, P) ((ids) + ((size_t)(b) * (T) + (t)) * (P))

/* Row spans [k, k + n) (RNN_SPANS: blocks of a constant length, which -O2
 * vectorises in each clone of the SEQCLS_VECTORISED functions below). */
SEQCLS_CLONE_INLINE void add_span(real *restrict y, const real *restrict x, int k, int n)
{
    int i;
    for (i = k; i < k + n; i++)
        y[i] += x[i];
}

SEQCLS_CLONE_INLINE void scale_span(real *restrict y, real a, int k, int n)
{
    int i;
    for (i = k; i < k + n; i++)
        y[i] *= a;
}

SEQCLS_CLONE_INLINE void add_scaled_span(real *restrict y, const real *restrict x, real a, int k,
                                         int n)
{
    int i;
    for (i = k; i < k + n; i++)
        y[i] += x[i] * a;
}

/* Ask for the cache lines of the rows of a bag in the table W (large, its
 * rows used at random: their misses then overlap). */
SEQCLS_CLONE_INLINE void prefetch_bag(const real *W, const int32_t *bag, int P, int D, int rows,
                                      int write)
{
#if defined(__GNUC__) || defined(__clang__)
    int j, k;
    for (j = 0; j < P; j++)
        if (bag[j] >= 0 && bag[j] < rows) {
            for (k = 0; k < D; k += 64 / (int)sizeof(real)) {
                if (write)
                    __builtin_prefetch(W + (size_t)bag[j] * D + k, 1);
                else
                    __builtin_prefetch(W + (size_t)bag[j] * D + k, 0);
            }
        }
#else
    (void)W;
    (void)bag;
    (void)P;
    (void)D;
    (void)rows;
    (void)write;
#endif
}

SEQCLS_VECTORISED
static int bag_forward(const layer_t *L, workspace_t *ws, const value_t *in, value_t *out,
                       const run_ctx_t *ctx)
{
    const int B = in->B, T = in->T, P = in->F, D = L->units;
    const real *W = L->w[0];
    real *y = ws_get(ws, WS_OUT, seqcls__mul((size_t)B * T, (size_t)D * sizeof(real)));
    int b, t, j;
    if (!y)
        return SEQCLS_E_NOMEM;
    for (b = 0; b < B; b++)
        for (t = 0; t < T; t++) {
            real *row = y + ((size_t)b * T + t) * D;
            const int32_t *bag = BAG(in->ids, b, t, T, P);
            int used = 0;
            memset(row, 0, (size_t)D * sizeof(real));
            if (t >= in->len[b])
                continue;
            /* the next step's rows (the next row's first step at the end) */
            if (t + 1 < in->len[b])
                prefetch_bag(W, bag + P, P, D, L->vocab, 0);
            else if (b + 1 < B)
                prefetch_bag(W, BAG(in->ids, b + 1, 0, T, P), P, D, L->vocab, 0);
            for (j = 0; j < P; j++) {
                const int32_t id = bag[j];
                const real *w;
                if (id == -1)
                    continue;
                /* checked by bag_check_input, but an inference reads the
                 * caller's ids, which another thread may have changed */
                if (id < 0 || id >= L->vocab)
                    return seqcls__fail(SEQCLS_E_RANGE,
                                        "%s: token id %d at [%d, %d, %d] changed during the call",
                                        ctx->func, (int)id, b, t, j);
                w = W + (size_t)id * D;
                RNN_SPANS(D, add_span, row, w);
                used++;
            }
            if (used > 1) {
                const real inv = (real)1 / (real)used;
                RNN_SPANS(D, scale_span, row, inv);
            }
        }
    out->kind = VAL_SEQ;
    out->B = B;
    out->T = T;
    out->F = D;
    out->x = y;
    out->len = in->len;
    return SEQCLS_OK;
}

SEQCLS_VECTORISED
static int bag_backward(layer_t *L, workspace_t *ws, const value_t *in, const value_t *out,
                        const value_t *dout, value_t *din, const run_ctx_t *ctx)
{
    const int T = in->T, P = in->F, D = L->units;
    sparse_rows_t *rows = L->sp[0];
    int b, t, j;
    (void)ws;
    (void)out;
    (void)ctx;
    din->x = NULL;   /* ids have no gradient */
    if (L->frozen)
        return SEQCLS_OK;
    /* the rows' gradients: compact inside seqcls_fit, else in the tensor */
    if (sparse_rows_ready(rows) != SEQCLS_OK ||
        (!rows->compact_on && sparse_grad_dense(rows) != SEQCLS_OK))
        return SEQCLS_E_NOMEM;
    for (b = 0; b < in->B; b++)
        for (t = 0; t < in->len[b]; t++) {
            const int32_t *bag = BAG(in->ids, b, t, T, P);
            const real *d = dout->x + ((size_t)b * T + t) * D;
            int used = 0;
            real scale;
            for (j = 0; j < P; j++)
                used += bag[j] != -1;
            if (used == 0)
                continue;
            {
                const int32_t *next = t + 1 < in->len[b] ? bag + P
                                      : b + 1 < in->B    ? BAG(in->ids, b + 1, 0, T, P)
                                                         : NULL;
                if (next && !rows->compact_on)   /* (compact rows are in the cache) */
                    prefetch_bag(L->g[0], next, P, D, L->vocab, 1);
            }
            scale = (real)1 / (real)used;
            for (j = 0; j < P; j++) {
                real *g;
                if (bag[j] == -1)
                    continue;
                if (!(g = sparse_grad_row(rows, bag[j])))
                    return SEQCLS_E_NOMEM;
                RNN_SPANS(D, add_scaled_span, g, d, scale);
            }
        }
    return SEQCLS_OK;
}

/* Every id at a valid step is -1 or lies in [0, rows). */
static int bag_check_input(const layer_t *L, const void *x, int B, int T,
                           const int32_t *lengths, const char *func, const char *what)
{
    const int P = L->in_F;
    int b, t, j;
    for (b = 0; b < B; b++)
        for (t = 0; t < (lengths ? lengths[b] : T); t++) {
            const int32_t *bag = BAG((const int32_t *)x, b, t, T, P);
            for (j = 0; j < P; j++)
                if (bag[j] < -1 || bag[j] >= L->vocab)
                    return seqcls__fail(SEQCLS_E_RANGE,
                                        "%s: %s token id %d at [%d, %d, %d] is outside [0, %d) "
                                        "(and not -1, an empty slot)",
                                        func, what, (int)bag[j], b, t, j, L->vocab);
        }
    return SEQCLS_OK;
}

static void bag_describe(const layer_t *L, char *buf, size_t cap)
{
    snprintf(buf, cap, "rows=%d, dim=%d, per_step=%d%s", L->vocab, L->units, L->kind_arg,
             L->frozen ? ", frozen" : "");
}

static int bag_rebuild(seqcls_model_t *m, const layer_t *c)
{
    return seqcls_add_embedding_bag(m, c->vocab, c->units, c->kind_arg, NULL);
}

/* per_step lives in the kind_arg field (a field every model file has):
 * no new CONF id was needed for this kind. */
static const layer_option_t bag_options[] = {
    {SEQCLS_OPT_FREEZE, FIELD_FROZEN, 1},
    {SEQCLS_OPT_UNITS, FIELD_UNITS, 0},
    {SEQCLS_OPT_VOCAB, FIELD_VOCAB, 0},
    {SEQCLS_OPT_PER_STEP, FIELD_KIND_ARG, 0},
    {0, 0, 0},
};

const layer_ops_t seqcls__embedding_bag_ops = {
    .kind = SEQCLS_LAYER_EMBEDDING_BAG,
    .name = "embedding_bag",
    .takes = 1u << VAL_IDS,
    .traits = LAYER_FIRST,
    .input_rank = 3,
    .options = bag_options,
    .forward = bag_forward,
    .backward = bag_backward,
    .set_int = embedding_set_freeze,
    .check_input = bag_check_input,
    .describe = bag_describe,
    .rebuild = bag_rebuild,
    .stream_step = layer_stream_forward,   /* no state: every step on its own */
};

int seqcls_add_embedding_bag(seqcls_model_t *m, int rows, int dim, int per_step, int *layer)
{
    const char *func = "seqcls_add_embedding_bag";
    layer_t *L;
    int rc;

    if (m && (rows < 1 || dim < 1 || per_step < 1))
        return seqcls__fail(SEQCLS_E_INVALID_ARG,
                            "%s: rows (%d), dim (%d) and per_step (%d) must be >= 1", func, rows,
                            dim, per_step);
    if (m && (int64_t)rows * dim > EMBEDDING_MAX_TABLE)
        return seqcls__fail(SEQCLS_E_NOMEM, "%s: a %d x %d table is too large", func, rows, dim);
    rc = model_begin_layer(m, func, &seqcls__embedding_bag_ops, &L);
    if (rc)
        return rc;
    L->vocab = rows;
    L->units = dim;
    L->kind_arg = per_step;
    L->in_F = per_step;
    L->out_kind = VAL_SEQ;
    L->out_F = dim;
    rc = model_add_sparse_param(m, L, "weight", rows, dim);
    if (rc == SEQCLS_OK)
        rng_fill_uniform(&m->rng, L->w[0], L->wn[0], -1.0 / dim, 1.0 / dim);
    return model_commit_layer(m, L, rc, layer);
}
