/*
 * embedding.c -- token ids [B, T] to vectors [B, T, dim].
 */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Rows of the batch in parts (embedding_forward). */
#define EMB_MAX_PARTS 64
typedef struct {
    const layer_t *L;
    const value_t *in;
    real *y;
    int64_t bad[EMB_MAX_PARTS];   /* per part: the first id out of range (b T + t), or -1 */
} emb_job_t;

static void forward_part(void *arg, int part, int parts)
{
    emb_job_t *J = arg;
    const layer_t *L = J->L;
    const value_t *in = J->in;
    const int B = in->B, T = in->T, D = L->units;
    const int b0 = (int)((int64_t)B * part / parts), b1 = (int)((int64_t)B * (part + 1) / parts);
    const qmat_t *q = L->q ? quant_piece(L, 0, 0) : NULL;
    int b, t;
    J->bad[part] = -1;
    for (b = b0; b < b1; b++)
        for (t = 0; t < T; t++) {
            const size_t at = (size_t)b * T + t;
            real *row = J->y + at * D;
            if (t < in->len[b]) {
                /* checked by embedding_check_input, but an inference reads
                 * the caller's ids, which another thread may have changed
                 * since: checked again where it costs nothing */
                const int32_t id = in->ids[at];
                if (id < 0 || id >= L->vocab) {
                    J->bad[part] = (int64_t)at;
                    return;
                }
                if (q)   /* quantised: the row dequantised */
                    qmat_row_real(q, id, row);
                else
                    memcpy(row, L->w[0] + (size_t)id * D, (size_t)D * sizeof(real));
            } else {
                memset(row, 0, (size_t)D * sizeof(real));
            }
        }
}

static int embedding_forward(const layer_t *L, workspace_t *ws, const value_t *in, value_t *out,
                             const run_ctx_t *ctx)
{
    const int B = in->B, T = in->T, D = L->units;
    emb_job_t J;
    int parts, p;
    J.y = ws_get(ws, WS_OUT, seqcls__mul((size_t)B * T, (size_t)D * sizeof(real)));
    if (!J.y)
        return SEQCLS_E_NOMEM;
    J.L = L;
    J.in = in;
    /* parts of rows for a large batch: as many bytes to write as the
     * recurrent layers' moves take threads for */
    parts = (size_t)B * T * D >= 65536 ? seqcls__parallel_parts() : 1;
    parts = parts > B ? B : parts > EMB_MAX_PARTS ? EMB_MAX_PARTS : parts;
    seqcls__parallel(parts, forward_part, &J);
    for (p = 0; p < parts; p++)
        if (J.bad[p] >= 0)
            return seqcls__fail(SEQCLS_E_RANGE,
                                "%s: token id %d at [%d, %d] changed during the call", ctx->func,
                                (int)in->ids[J.bad[p]], (int)(J.bad[p] / T), (int)(J.bad[p] % T));
    out->kind = VAL_SEQ;
    out->B = B;
    out->T = T;
    out->F = D;
    out->x = J.y;
    out->len = in->len;
    return SEQCLS_OK;
}

static int embedding_backward(layer_t *L, workspace_t *ws, const value_t *in, const value_t *out,
                              const value_t *dout, value_t *din, const run_ctx_t *ctx)
{
    const int T = in->T, D = L->units;
    real *G = L->g[0];
    int b, t, k;
    (void)ws;
    (void)out;
    (void)ctx;
    din->x = NULL;   /* ids have no gradient */
    if (L->frozen)
        return SEQCLS_OK;
    for (b = 0; b < in->B; b++)
        for (t = 0; t < in->len[b]; t++) {
            int32_t id = in->ids[(size_t)b * T + t];
            const real *d = dout->x + ((size_t)b * T + t) * D;
            real *g = G + (size_t)id * D;
            if (id == L->padding_idx)
                continue;
            for (k = 0; k < D; k++)
                g[k] += d[k];
        }
    return SEQCLS_OK;
}

/* Every id at a valid step lies in [0, vocab). */
static int embedding_check_input(const layer_t *L, const void *x, int B, int T,
                                 const int32_t *lengths, const char *func, const char *what)
{
    const int32_t *ids = x;
    int b, t;
    for (b = 0; b < B; b++)
        for (t = 0; t < (lengths ? lengths[b] : T); t++) {
            const int32_t id = ids[(size_t)b * T + t];
            if (id < 0 || id >= L->vocab)
                return seqcls__fail(SEQCLS_E_RANGE,
                                    "%s: %s token id %d at [%d, %d] is outside [0, %d)", func,
                                    what, (int)id, b, t, L->vocab);
        }
    return SEQCLS_OK;
}

/* SEQCLS_OPT_FREEZE, the one settable option of a table (the embedding's
 * and the embedding bag's): a frozen table is not trainable. */
int embedding_set_freeze(seqcls_model_t *m, layer_t *L, int option, int value)
{
    int i;
    (void)option;
    if (value != 0 && value != 1)
        return seqcls__fail(SEQCLS_E_INVALID_ARG,
                            "seqcls_layer_set_int: SEQCLS_OPT_FREEZE takes 0 or 1, not %d", value);
    L->frozen = value;
    for (i = 0; i < L->np; i++)
        m->params[L->p0 + i].trainable = !value;
    return SEQCLS_OK;
}

static void embedding_describe(const layer_t *L, char *buf, size_t cap)
{
    snprintf(buf, cap, "vocab=%d, dim=%d, padding_idx=%d%s", L->vocab, L->units, L->padding_idx,
             L->frozen ? ", frozen" : "");
}

static int embedding_rebuild(seqcls_model_t *m, const layer_t *c)
{
    return seqcls_add_embedding(m, c->vocab, c->units, c->padding_idx, NULL);
}

static const layer_option_t embedding_options[] = {
    {SEQCLS_OPT_FREEZE, FIELD_FROZEN, 1},
    {SEQCLS_OPT_UNITS, FIELD_UNITS, 0},
    {SEQCLS_OPT_VOCAB, FIELD_VOCAB, 0},
    {SEQCLS_OPT_PADDING_IDX, FIELD_PADDING_IDX, 0},
    {0, 0, 0},
};

const layer_ops_t seqcls__embedding_ops = {
    .kind = SEQCLS_LAYER_EMBEDDING,
    .name = "embedding",
    .takes = 1u << VAL_IDS,
    .traits = LAYER_FIRST,
    .input_rank = 2,
    .options = embedding_options,
    .forward = embedding_forward,
    .backward = embedding_backward,
    .set_int = embedding_set_freeze,
    .check_input = embedding_check_input,
    .describe = embedding_describe,
    .rebuild = embedding_rebuild,
    .stream_step = layer_stream_forward,   /* no state: every step on its own */
    .quant = 1u,                           /* the table, per row */
    .quant_lookup = 1,
};

int seqcls_add_embedding(seqcls_model_t *m, int vocab, int dim, int padding_idx, int *layer)
{
    const char *func = "seqcls_add_embedding";
    layer_t *L;
    int64_t shape[2];
    int rc;

    if (m && (vocab < 1 || dim < 1))
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: vocab (%d) and dim (%d) must be >= 1", func,
                            vocab, dim);
    if (m && (padding_idx < -1 || padding_idx >= vocab))
        return seqcls__fail(SEQCLS_E_INVALID_ARG,
                            "%s: padding_idx %d is outside [-1, %d)", func, padding_idx, vocab);
    if (m && (int64_t)vocab * dim > EMBEDDING_MAX_TABLE)
        return seqcls__fail(SEQCLS_E_NOMEM, "%s: a %d x %d table is too large", func, vocab, dim);
    rc = model_begin_layer(m, func, &seqcls__embedding_ops, &L);
    if (rc)
        return rc;
    L->vocab = vocab;
    L->units = dim;
    L->padding_idx = padding_idx;
    L->in_F = 1;
    L->out_kind = VAL_SEQ;
    L->out_F = dim;
    shape[0] = vocab;
    shape[1] = dim;
    rc = model_add_param(m, L, "weight", 2, shape, 1);
    if (rc == SEQCLS_OK) {
        rng_fill_normal(&m->rng, L->w[0], L->wn[0]);
        if (padding_idx >= 0)
            memset(L->w[0] + (size_t)padding_idx * dim, 0, (size_t)dim * sizeof(real));
    }
    return model_commit_layer(m, L, rc, layer);
}

int seqcls_embedding_set_rows(seqcls_model_t *m, int layer, int first_row, int rows, int dim,
                              const float *data)
{
    const char *func = "seqcls_embedding_set_rows";
    layer_t *L;
    int r, k;
    seqcls__clear_error();
    if (!m || !data)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: %s is NULL", func, m ? "data" : "model");
    if (layer < 0 || layer >= m->nlayers ||
        (m->layers[layer]->ops != &seqcls__embedding_ops &&
         m->layers[layer]->ops != &seqcls__embedding_bag_ops))
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: layer %d is not an embedding", func, layer);
    L = m->layers[layer];
    if (L->q)
        return seqcls__fail(SEQCLS_E_STATE,
                            "%s: the model is quantised (seqcls_model_quantize): set the rows of "
                            "the float32 model, then quantise it",
                            func);
    if (dim != L->units)
        return seqcls__fail(SEQCLS_E_SHAPE, "%s: dim %d differs from the embedding's %d", func, dim,
                            L->units);
    if (first_row < 0 || rows < 0 || rows > L->vocab - first_row)
        return seqcls__fail(SEQCLS_E_RANGE, "%s: rows [%d, %d + %d) are outside [0, %d)", func,
                            first_row, first_row, rows, L->vocab);
    for (r = 0; r < rows; r++)
        for (k = 0; k < dim; k++)
            if (!isfinite(data[(size_t)r * dim + k]))
                return seqcls__fail(SEQCLS_E_NUMERIC, "%s: data[%d][%d] is not finite", func, r, k);
    m->state = STATE_NONE;   /* a forward before no longer matches the weights */
    for (r = 0; r < rows; r++) {
        real *dst = L->w[0] + (size_t)(first_row + r) * dim;
        if (first_row + r == L->padding_idx)
            continue;   /* the padding row stays zero */
        for (k = 0; k < dim; k++)
            dst[k] = (real)data[(size_t)r * dim + k];
    }
    return SEQCLS_OK;
}
