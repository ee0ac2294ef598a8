/*
 * quant.c -- reduced precision (seqcls_model_quantize): which weights a
 * model stores as int8 or bfloat16, the refusal of training afterwards,
 * and what saving and loading need of the quantised weights.  The
 * arithmetic is in qgemm.c; the layers call it from dense.c,
 * recurrent.c and attention.c.
 *
 * What is quantised: the parameters each layer kind marks in its
 * layer_ops_t.quant or quant_mask (the weights of dense and output
 * layers, W_ih and W_hh of LSTM and GRU layers in both directions, the
 * key projection W of additive attention (bahdanau, learned_query), the
 * embedding's table, per row, which a lookup dequantises).  Biases, the
 * attention's query projection and score vector, embedding
 * bags, convolutions, batch norm and transformer blocks stay float32,
 * and so do the cell state, the gates' nonlinearities (in their quick
 * forms, rnn_math.c) and the softmax.  Once quantised, a weight's float32 values and gradient are
 * freed (the memory is what the model saves), so a quantised model
 * predicts but cannot train: the training calls refuse it with
 * SEQCLS_E_STATE (model_check_float).
 */
#include "internal.h"

#include <float.h>
#include <math.h>
#include <string.h>

static const char *precision_name(int mode)
{
    return mode == QMODE_INT8 ? "int8" : "bfloat16";
}

int model_check_float(const seqcls_model_t *m, const char *func)
{
    if (m && m->quant)
        return seqcls__fail(SEQCLS_E_STATE,
                            "%s: the model is quantised (%s weights, seqcls_model_quantize): it "
                            "can predict but not train; train the float32 model and quantise it "
                            "again",
                            func, precision_name(m->quant));
    return SEQCLS_OK;
}

const qmat_t *quant_piece(const layer_t *L, int param, int row0)
{
    int i;
    if (!L->q)
        return NULL;
    for (i = 0; i < L->q->n; i++)
        if (L->q->piece[i].param == param && L->q->piece[i].row0 == row0)
            return &L->q->piece[i].m;
    return NULL;
}

static void quant_free(layer_quant_t *q)
{
    int i;
    if (!q)
        return;
    for (i = 0; i < q->n; i++)
        qmat_free(&q->piece[i].m);
    seqcls__dealloc(q);
}

void quant_layer_free(layer_t *L)
{
    quant_free(L->q);
    L->q = NULL;
}

/* The layer's parameters its kind quantises (bit i: the i-th). */
static unsigned quant_mask(const layer_t *L)
{
    return L->ops->quant_mask ? L->ops->quant_mask(L) : L->ops->quant;
}

/* Is the layer's i-th parameter one its kind quantises? */
static int kind_quantises(const layer_t *L, int i)
{
    return i < 32 && i < L->np && (quant_mask(L) >> i & 1u);
}

int quant_param(const seqcls_model_t *m, int i)
{
    const layer_t *L = m->layers[m->params[i].layer];
    return kind_quantises(L, i - L->p0);
}

/* The rows of L's parameter i (rows in all) in its first piece. */
static int first_rows(const layer_t *L, int i, int rows)
{
    return L->ops->quant_rows ? L->ops->quant_rows(L, i) : rows;
}

/* An empty layer_quant with the pieces of L's quantised parameters
 * allocated (zero weights). */
static int quant_new(const seqcls_model_t *m, const layer_t *L, int mode, layer_quant_t **out)
{
    layer_quant_t *q = seqcls__calloc(1, sizeof *q);
    int i;
    *out = NULL;
    if (!q)
        return SEQCLS_E_NOMEM;
    q->mode = mode;
    for (i = 0; i < L->np; i++) {
        const seqcls_tensor_t *v = m->params[L->p0 + i].value;
        int row0 = 0, first;
        if (!kind_quantises(L, i))
            continue;
        first = first_rows(L, i, (int)v->shape[0]);
        while (row0 < v->shape[0]) {
            const int rows = row0 == 0 ? first : (int)v->shape[0] - first;
            qpiece_t *p = &q->piece[q->n];
            if (q->n == QUANT_MAX_PIECES ||
                qmat_alloc(&p->m, mode, rows, (int)v->shape[1], L->ops->quant_lookup)) {
                quant_free(q);
                return SEQCLS_E_NOMEM;
            }
            p->param = i;
            p->row0 = row0;
            q->n++;
            row0 += rows;
        }
    }
    *out = q;
    return SEQCLS_OK;
}

/* The float32 values and gradients of the quantised weights go: the
 * model keeps only the quantised ones. */
static void commit(seqcls_model_t *m, int mode)
{
    int l, i;
    for (l = 0; l < m->nlayers; l++) {
        layer_t *L = m->layers[l];
        for (i = 0; i < L->np; i++) {
            param_t *p = &m->params[L->p0 + i];
            if (!kind_quantises(L, i))
                continue;
            tensor_drop_data(p->value);
            tensor_drop_data(p->grad);
            L->w[i] = NULL;
            L->g[i] = NULL;
        }
    }
    m->quant = mode;
    m->state = STATE_NONE;
    run_free(&m->train);
}

static int mode_of(int precision)
{
    return precision == SEQCLS_INT8 ? QMODE_INT8 : precision == SEQCLS_BF16 ? QMODE_BF16 : 0;
}

int seqcls_model_quantize(seqcls_model_t *m, int precision)
{
    const char *func = "seqcls_model_quantize";
    const int mode = mode_of(precision);
    layer_quant_t **made;
    int l, i, rc = SEQCLS_OK, any = 0;

    seqcls__clear_error();
    if (!m)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: model is NULL", func);
    if (!mode)
        return seqcls__fail(SEQCLS_E_INVALID_ARG,
                            "%s: precision %d is neither SEQCLS_INT8 (8) nor SEQCLS_BF16 (16)",
                            func, precision);
    if (m->quant)
        return seqcls__fail(SEQCLS_E_STATE,
                            "%s: the model is quantised already (%s); quantise the float32 model",
                            func, precision_name(m->quant));
    for (l = 0; l < m->nlayers; l++) {
        const layer_t *L = m->layers[l];
        for (i = 0; i < L->np; i++) {
            const seqcls_tensor_t *v = m->params[L->p0 + i].value;
            if (!kind_quantises(L, i))
                continue;
            any = 1;
            if (mode == QMODE_INT8 && !L->ops->quant_lookup && v->shape[1] > QMAX_K)
                return seqcls__fail(SEQCLS_E_UNSUPPORTED,
                                    "%s: layer %d (%s) has %lld inputs; int8 products take at "
                                    "most %d",
                                    func, l, L->ops->name, (long long)v->shape[1], QMAX_K);
        }
    }
    if (!any)
        return seqcls__fail(SEQCLS_E_STATE,
                            "%s: the model has no layer with weights to quantise (embedding, "
                            "dense, output, LSTM, GRU, bahdanau or learned_query attention)",
                            func);
    made = seqcls__calloc((size_t)m->nlayers, sizeof *made);
    if (!made)
        return seqcls__fail(SEQCLS_E_NOMEM, "%s: out of memory", func);
    for (l = 0; l < m->nlayers && rc == SEQCLS_OK; l++) {
        const layer_t *L = m->layers[l];
        int k;
        if (!quant_mask(L))
            continue;
        rc = quant_new(m, L, mode, &made[l]);
        for (k = 0; rc == SEQCLS_OK && k < made[l]->n; k++) {
            qpiece_t *p = &made[l]->piece[k];
            qmat_quantize(&p->m, L->w[p->param] + (size_t)p->row0 * p->m.K);
        }
    }
    if (rc) {
        for (l = 0; l < m->nlayers; l++)
            quant_free(made[l]);
        seqcls__dealloc(made);
        return seqcls__fail(SEQCLS_E_NOMEM, "%s: out of memory; the model is unchanged", func);
    }
    for (l = 0; l < m->nlayers; l++)
        m->layers[l]->q = made[l];
    seqcls__dealloc(made);
    commit(m, mode);
    return SEQCLS_OK;
}

int seqcls_model_precision(const seqcls_model_t *m)
{
    /* a getter: seqcls_last_error() is left as it is unless m is NULL */
    if (!m)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "seqcls_model_precision: model is NULL");
    return m->quant == QMODE_INT8 ? SEQCLS_INT8 : m->quant == QMODE_BF16 ? SEQCLS_BF16 : SEQCLS_FP32;
}

int seqcls_param_precision(const seqcls_model_t *m, int i, int *ndim, int64_t *shape)
{
    const seqcls_tensor_t *v;
    int d;
    if (!m)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "seqcls_param_precision: model is NULL");
    if (i < 0 || i >= m->nparams)
        return seqcls__fail(SEQCLS_E_RANGE, "seqcls_param_precision: index %d is outside [0, %d)",
                            i, m->nparams);
    v = m->params[i].value;
    if (ndim)
        *ndim = v->ndim;
    for (d = 0; shape && d < v->ndim; d++)
        shape[d] = v->shape[d];
    if (!m->quant || !quant_param(m, i))
        return SEQCLS_FP32;
    return m->quant == QMODE_INT8 ? SEQCLS_INT8 : SEQCLS_BF16;
}

/* ---- the products of the layers ---- */

typedef struct {
    const qmat_t *w;
    int rows, ldx, ldy, parts;
    const real *x, *bias;
    real *y;
    unsigned char *act;
    float *sa;
} qmm_job_t;

static void qmm_part(void *arg, int part, int parts)
{
    const qmm_job_t *J = arg;
    const int r0 = (int)((int64_t)J->rows * part / parts);
    const int r1 = (int)((int64_t)J->rows * (part + 1) / parts);
    const size_t rb = qmat_act_bytes(J->w);
    qop_t op;
    if (r1 <= r0)
        return;
    qact(J->w, r1 - r0, J->x + (size_t)r0 * J->ldx, J->ldx, J->act + (size_t)r0 * rb, J->sa + r0);
    op.w = J->w;
    op.act = J->act + (size_t)r0 * rb;
    op.sa = J->sa + r0;
    op.rb = 0;
    qgemm(r1 - r0, 1, &op, J->bias, J->y + (size_t)r0 * J->ldy, J->ldy);
}

void quant_matmul(const qmat_t *w, int rows, const real *x, int ldx, const real *bias, real *y,
                  int ldy, unsigned char *act, float *sa)
{
    qmm_job_t J;
    int parts = seqcls__parallel_parts();
    /* a part is worth waking a thread for from about a million products */
    const double work = (double)rows * w->N * w->K;
    if (work < 2e6 * parts)
        parts = (int)(work / 2e6) > 1 ? (int)(work / 2e6) : 1;
    if (parts > rows)
        parts = rows > 0 ? rows : 1;
    J.w = w;
    J.rows = rows;
    J.ldx = ldx;
    J.ldy = ldy;
    J.x = x;
    J.bias = bias;
    J.y = y;
    J.act = act;
    J.sa = sa;
    seqcls__parallel(parts, qmm_part, &J);
}

/* ---- saving and loading ---- */

/* The model's parameter i as a layer and its index there. */
static layer_t *param_layer(const seqcls_model_t *m, int i, int *k)
{
    layer_t *L = m->layers[m->params[i].layer];
    *k = i - L->p0;
    return L;
}

/* The piece holding row r of L's parameter k. */
static const qpiece_t *piece_of_row(const layer_t *L, int k, int r)
{
    int i;
    for (i = 0; i < L->q->n; i++) {
        const qpiece_t *p = &L->q->piece[i];
        if (p->param == k && r >= p->row0 && r < p->row0 + p->m.N)
            return p;
    }
    return NULL;
}

static size_t int8_scale_offset(size_t numel) { return (numel + 3) / 4 * 4; }

size_t quant_param_bytes(const seqcls_model_t *m, int i)
{
    const seqcls_tensor_t *v = m->params[i].value;
    if (m->quant == QMODE_INT8)
        return int8_scale_offset(v->numel) + 4 * (size_t)v->shape[0];
    return 2 * v->numel;
}

void quant_param_write(const seqcls_model_t *m, int i, unsigned char *out)
{
    const seqcls_tensor_t *v = m->params[i].value;
    const int rows = (int)v->shape[0], K = (int)v->shape[1];
    int k, r, c;
    const layer_t *L = param_layer(m, i, &k);
    if (m->quant == QMODE_INT8)
        memset(out + v->numel, 0, int8_scale_offset(v->numel) - v->numel);
    for (r = 0; r < rows; r++) {
        const qpiece_t *p = piece_of_row(L, k, r);
        if (m->quant == QMODE_INT8) {
            uint32_t bits;
            qmat_get_row(&p->m, r - p->row0, out + (size_t)r * K);
            memcpy(&bits, &p->m.scale[r - p->row0], 4);
            le_put32(out + int8_scale_offset(v->numel) + 4 * (size_t)r, bits);
        } else {
            for (c = 0; c < K; c++) {
                const uint16_t h = qmat_get(&p->m, r - p->row0, c);
                out[2 * ((size_t)r * K + c)] = (unsigned char)h;
                out[2 * ((size_t)r * K + c) + 1] = (unsigned char)(h >> 8);
            }
        }
    }
}

int quant_load_param(seqcls_model_t *m, int i, int mode, const unsigned char *data, size_t bytes,
                     const char *who)
{
    const param_t *P = &m->params[i];
    const seqcls_tensor_t *v = P->value;
    int k, r, c;
    layer_t *L = param_layer(m, i, &k);
    size_t want;
    if (!kind_quantises(L, k))
        return seqcls__fail(SEQCLS_E_FORMAT,
                            "%s: PARM: parameter %d (%s) is %s, but a %s layer keeps it in "
                            "float32",
                            who, i, P->name, precision_name(mode), L->ops->name);
    if (L->q && L->q->mode != mode)
        return seqcls__fail(SEQCLS_E_FORMAT, "%s: PARM: parameter %d (%s) mixes precisions", who,
                            i, P->name);
    want = mode == QMODE_INT8 ? int8_scale_offset(v->numel) + 4 * (size_t)v->shape[0]
                              : 2 * v->numel;
    if (bytes != want)
        return seqcls__fail(SEQCLS_E_FORMAT, "%s: PARM: parameter %d (%s) holds %zu bytes, not %zu",
                            who, i, P->name, bytes, want);
    if (!L->q) {
        int rc = quant_new(m, L, mode, &L->q);
        if (rc)
            return seqcls__fail(rc, "%s: out of memory", who);
    }
    for (r = 0; r < (int)v->shape[0]; r++) {
        const qpiece_t *p = piece_of_row(L, k, r);
        qmat_t *q = (qmat_t *)&p->m;
        const int K = (int)v->shape[1];
        if (mode == QMODE_INT8) {
            const int8_t *row = (const int8_t *)(data + (size_t)r * K);
            uint32_t bits = le_get32(data + int8_scale_offset(v->numel) + 4 * (size_t)r);
            float s;
            memcpy(&s, &bits, 4);
            /* 127 s finite too: every value w s of the row is then finite */
            if (!(isfinite(s) && s > 0 && isfinite(s * 127.0f)))
                return seqcls__fail(SEQCLS_E_FORMAT,
                                    "%s: PARM: parameter %d (%s) row %d has scale %.9g (it must be "
                                    "above 0 and at most %.9g, so that the row's values are "
                                    "finite)",
                                    who, i, P->name, r, (double)s, (double)(FLT_MAX / 127.0f));
            for (c = 0; c < K; c++)
                if (row[c] == -128)
                    return seqcls__fail(SEQCLS_E_FORMAT,
                                        "%s: PARM: parameter %d (%s) element %zu is -128 (int8 "
                                        "weights lie in [-127, 127])",
                                        who, i, P->name, (size_t)r * K + c);
            qmat_set_row(q, r - p->row0, row, s);
        } else {
            for (c = 0; c < K; c++) {
                const uint16_t h = (uint16_t)(data[2 * ((size_t)r * K + c)] |
                                              data[2 * ((size_t)r * K + c) + 1] << 8);
                if ((h & 0x7f80) == 0x7f80)
                    return seqcls__fail(SEQCLS_E_FORMAT,
                                        "%s: PARM: parameter %d (%s) element %zu is not finite",
                                        who, i, P->name, (size_t)r * K + c);
                qmat_put(q, r - p->row0, c, h);
            }
        }
    }
    return SEQCLS_OK;
}

int quant_finish_load(seqcls_model_t *m, int mode, const char *who)
{
    int l, i;
    for (l = 0; l < m->nlayers; l++) {
        const layer_t *L = m->layers[l];
        for (i = 0; i < L->np; i++)
            if (kind_quantises(L, i) && !L->q)
                return seqcls__fail(SEQCLS_E_FORMAT,
                                    "%s: PARM: parameter %s is float32 in a %s model (every "
                                    "weight of a %s layer is quantised)",
                                    who, m->params[L->p0 + i].name, precision_name(mode),
                                    L->ops->name);
    }
    commit(m, mode);
    return SEQCLS_OK;
}
