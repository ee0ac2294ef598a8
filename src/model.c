/*
 * model.c -- the layer list, the parameter table, and the passes through
 * the layers (forward, backward, predict).
 */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static _Atomic uint64_t last_model_id;

int seqcls_model_create(seqcls_model_t **out, uint64_t seed)
{
    seqcls_model_t *m;
    seqcls__clear_error();
    if (!out)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "seqcls_model_create: out is NULL");
    *out = NULL;
    m = seqcls__calloc(1, sizeof *m);
    if (!m)
        return seqcls__fail(SEQCLS_E_NOMEM, "seqcls_model_create: out of memory");
    m->id = atomic_fetch_add(&last_model_id, 1) + 1;
    m->seed = seed;
    rng_seed(&m->rng, seed);
    *out = m;
    return SEQCLS_OK;
}

void run_free(run_t *run)
{
    int i;
    for (i = 0; i < run->nlayers; i++)
        ws_free(&run->ws[i]);
    seqcls__dealloc(run->ws);
    seqcls__dealloc(run->vals);
    seqcls__dealloc(run->len);
    ws_free(&run->own);
    memset(run, 0, sizeof *run);
}

static void param_free(param_t *p)
{
    seqcls_tensor_free(p->value);
    seqcls_tensor_free(p->grad);
    sparse_free(p->sparse);
    memset(p, 0, sizeof *p);
}

void seqcls_model_free(seqcls_model_t *m)
{
    int i;
    if (!m)
        return;
    run_free(&m->train);
    {
        run_t *spare = atomic_exchange(&m->predict_run, NULL);
        if (spare) {
            run_free(spare);
            seqcls__dealloc(spare);
        }
    }
    ws_free(&m->model_ws);
    model_free_metadata(m);
    for (i = 0; i < m->nparams; i++)
        param_free(&m->params[i]);
    for (i = 0; i < m->nlayers; i++) {
        quant_layer_free(m->layers[i]);
        seqcls__dealloc(m->layers[i]);
    }
    seqcls__dealloc(m->params);
    seqcls__dealloc(m->layers);
    seqcls__dealloc(m);
}

int seqcls_layer_count(const seqcls_model_t *m) { return m ? m->nlayers : 0; }

const layer_t *model_output_layer(const seqcls_model_t *m)
{
    const layer_t *last = m->nlayers ? m->layers[m->nlayers - 1] : NULL;
    return last && (last->ops->traits & LAYER_LOGITS) ? last : NULL;
}

int model_output_steps(const seqcls_model_t *m)
{
    const layer_t *out = model_output_layer(m);
    return out && out->in_kind == VAL_SEQ;
}

/* The logits' (and probabilities') shape for a batch of B x T: [B, C] or,
 * per step, [B, T, C]; returns the rank. */
int model_output_shape(const seqcls_model_t *m, int B, int T, int64_t shape[3])
{
    const int C = m->layers[m->nlayers - 1]->out_F;
    shape[0] = B;
    if (model_output_steps(m)) {
        shape[1] = T;
        shape[2] = C;
        return 3;
    }
    shape[1] = C;
    return 2;
}

int seqcls_model_output_ndim(const seqcls_model_t *m)
{
    seqcls__clear_error();
    if (!m)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "seqcls_model_output_ndim: model is NULL");
    if (!model_output_layer(m))
        return seqcls__fail(SEQCLS_E_STATE,
                            "seqcls_model_output_ndim: the model has no output layer yet");
    return model_output_steps(m) ? 3 : 2;
}

int model_reads_ids(const seqcls_model_t *m)
{
    return (m->layers[0]->ops->takes & (1u << VAL_IDS)) != 0;
}

input_spec_t model_input_spec(const seqcls_model_t *m)
{
    const layer_t *first = m->layers[0];
    input_spec_t s;
    s.dtype = model_reads_ids(m) ? SEQCLS_I32 : SEQCLS_F32;
    s.rank = first->ops->input_rank;
    s.width = s.rank == 3 ? first->in_F : -1;
    return s;
}

int seqcls_model_output_width(const seqcls_model_t *m)
{
    const layer_t *out;
    seqcls__clear_error();
    if (!m)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "seqcls_model_output_width: model is NULL");
    if (!(out = model_output_layer(m)))
        return seqcls__fail(SEQCLS_E_STATE,
                            "seqcls_model_output_width: the model has no output layer yet");
    return out->out_F;
}

void seqcls__model_reseed(seqcls_model_t *m, uint64_t seed) { rng_seed(&m->rng, seed); }

/* Grow an array of `elem`-byte items to hold at least `need`. */
static int grow(void **arr, int *cap, int need, size_t elem)
{
    void *p;
    int ncap;
    if (need <= *cap)
        return SEQCLS_OK;
    ncap = *cap ? *cap * 2 : 8;
    while (ncap < need)
        ncap *= 2;
    p = seqcls__calloc((size_t)ncap, elem);
    if (!p)
        return SEQCLS_E_NOMEM;
    if (*arr)
        memcpy(p, *arr, (size_t)*cap * elem);
    seqcls__dealloc(*arr);
    *arr = p;
    *cap = ncap;
    return SEQCLS_OK;
}

static const char *kind_name(int kind)
{
    return kind == VAL_IDS ? "token ids" : kind == VAL_SEQ ? "a sequence" : "a vector";
}

int model_begin_layer(seqcls_model_t *m, const char *func, const layer_ops_t *ops,
                      layer_t **out)
{
    const int first = (ops->traits & LAYER_FIRST) != 0;
    layer_t *L, *prev;
    int f;
    *out = NULL;
    seqcls__clear_error();
    if (!m)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: model is NULL", func);
    if (m->nlayers >= MODEL_MAX_LAYERS)
        return seqcls__fail(SEQCLS_E_RANGE, "%s: a model holds at most %d layers", func,
                            MODEL_MAX_LAYERS);
    if (m->quant)
        return seqcls__fail(SEQCLS_E_STATE, "%s: the model is quantised: no layer can be added",
                            func);
    prev = m->nlayers ? m->layers[m->nlayers - 1] : NULL;
    if (first && prev)
        return seqcls__fail(SEQCLS_E_STATE, "%s: a %s layer must be the first layer", func,
                            ops->name);
    if (!first && !prev)
        return seqcls__fail(SEQCLS_E_STATE,
                            "%s: the first layer must be an embedding or an input layer", func);
    if (prev && (prev->ops->traits & LAYER_LOGITS))
        return seqcls__fail(SEQCLS_E_STATE, "%s: no layer can follow the output layer", func);
    if (prev && !(ops->takes & (1u << prev->out_kind)))
        return seqcls__fail(SEQCLS_E_STATE, "%s: a %s layer cannot take %s (the output of layer %d, %s)",
                            func, ops->name, kind_name(prev->out_kind), prev->index,
                            prev->ops->name);
    if (grow((void **)&m->layers, &m->layers_cap, m->nlayers + 1, sizeof *m->layers))
        return seqcls__fail(SEQCLS_E_NOMEM, "%s: out of memory", func);
    L = seqcls__calloc(1, sizeof *L);
    if (!L)
        return seqcls__fail(SEQCLS_E_NOMEM, "%s: out of memory", func);
    m->building = func;
    L->ops = ops;
    L->index = m->nlayers;
    L->p0 = m->nparams;
    for (f = 0; f < FIELD_COUNT; f++)
        layer_field_set(L, f, layer_fields[f].default_bits);
    if (prev) {
        L->in_kind = prev->out_kind;
        L->in_F = prev->out_F;
    }
    *out = L;
    return SEQCLS_OK;
}

/* A tensor header for `shape` whose data comes later (NULL), or NULL. */
static seqcls_tensor_t *tensor_without_data(int ndim, const int64_t *shape)
{
    seqcls_tensor_t *t = seqcls__calloc(1, sizeof *t);
    int i;
    if (!t)
        return NULL;
    t->dtype = SEQCLS_F32;
    t->ndim = ndim;
    t->numel = 1;
    for (i = 0; i < ndim; i++) {
        t->shape[i] = shape[i];
        t->numel *= (size_t)shape[i];
    }
    t->owns = TENSOR_HEAP;   /* the data comes later, from the heap */
    return t;
}

/* model_add_param, and with `sparse` a gradient sparse by rows (sparse.c),
 * whose dense tensor is allocated at its first use. */
static int add_param(seqcls_model_t *m, layer_t *L, const char *name, int ndim,
                     const int64_t *shape, int trainable, int sparse)
{
    param_t *p;
    sparse_rows_t *s = NULL;
    if (L->np >= LAYER_MAX_PARAMS)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: more than %d parameters in one layer",
                            m->building, LAYER_MAX_PARAMS);
    if (grow((void **)&m->params, &m->params_cap, m->nparams + 1, sizeof *m->params))
        return seqcls__fail(SEQCLS_E_NOMEM, "%s: out of memory adding parameter %s", m->building,
                            name);
    p = &m->params[m->nparams];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%d.%s.%s", L->index, L->ops->name, name);
    p->layer = L->index;
    p->trainable = trainable;
    p->value = seqcls__tensor_new(ndim, shape);
    p->grad = sparse ? tensor_without_data(ndim, shape) : seqcls__tensor_new(ndim, shape);
    if (sparse && (s = seqcls__calloc(1, sizeof *s)) != NULL) {
        s->nrows = (int)shape[0];
        s->row_len = (int)shape[1];
        s->grad = p->grad;
        s->grad_ptr = &L->g[L->np];
    }
    if (!p->value || !p->grad || (sparse && !s)) {
        seqcls_tensor_free(p->value);
        seqcls_tensor_free(p->grad);
        seqcls__dealloc(s);
        return seqcls__fail(SEQCLS_E_NOMEM, "%s: out of memory for parameter %s", m->building,
                            p->name);
    }
    p->sparse = s;
    L->w[L->np] = p->value->data;
    L->g[L->np] = p->grad->data;
    L->wn[L->np] = p->value->numel;
    L->sp[L->np] = s;
    L->np++;
    m->nparams++;
    return SEQCLS_OK;
}

int model_add_param(seqcls_model_t *m, layer_t *L, const char *name, int ndim,
                    const int64_t *shape, int trainable)
{
    return add_param(m, L, name, ndim, shape, trainable, 0);
}

int model_add_sparse_param(seqcls_model_t *m, layer_t *L, const char *name, int rows,
                           int row_len)
{
    const int64_t shape[2] = {rows, row_len};
    return add_param(m, L, name, 2, shape, 1, 1);
}

int model_commit_layer(seqcls_model_t *m, layer_t *L, int status, int *index_out)
{
    if (status == SEQCLS_OK && L->ops->fixed_steps && L->ops->fixed_steps(L)) {
        /* a second layer built for a fixed number of steps must agree with
         * the first on the steps of the model's input */
        const int fixed = model_fixed_steps(m), drop = model_steps_drop(m);
        const int64_t want = (int64_t)L->ops->fixed_steps(L) + drop;
        if (fixed && fixed != want)
            status = seqcls__fail(SEQCLS_E_STATE,
                                  "%s: the layer is built for %d steps, but the model's input "
                                  "has %d steps, which give %d here",
                                  m->building, L->ops->fixed_steps(L), fixed, fixed - drop);
    }
    if (status != SEQCLS_OK) {
        /* Drop the parameters this layer had already added. */
        while (m->nparams > L->p0) {
            m->nparams--;
            param_free(&m->params[m->nparams]);
        }
        seqcls__dealloc(L);
        return status;
    }
    m->layers[m->nlayers++] = L;
    m->state = STATE_NONE;
    if (index_out)
        *index_out = L->index;
    return SEQCLS_OK;
}

/* ---- parameters ---- */

int seqcls_param_count(const seqcls_model_t *m) { return m ? m->nparams : 0; }

const char *seqcls_param_name(const seqcls_model_t *m, int i)
{
    if (!m || i < 0 || i >= m->nparams)
        return NULL;
    return m->params[i].name;
}

int seqcls_param(seqcls_model_t *m, int i, seqcls_tensor_t **value, seqcls_tensor_t **grad)
{
    seqcls__clear_error();
    if (!m)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "seqcls_param: model is NULL");
    if (i < 0 || i >= m->nparams)
        return seqcls__fail(SEQCLS_E_RANGE, "seqcls_param: index %d is outside [0, %d)", i,
                            m->nparams);
    if (m->quant && quant_param(m, i) && value)
        return seqcls__fail(SEQCLS_E_STATE,
                            "seqcls_param: %s is stored quantised (seqcls_model_quantize): it "
                            "has no float32 value",
                            m->params[i].name);
    if (grad && m->params[i].sparse && sparse_grad_dense(m->params[i].sparse) != SEQCLS_OK)
        return seqcls__fail(SEQCLS_E_NOMEM, "seqcls_param: out of memory for the gradient of %s",
                            m->params[i].name);
    if (value)
        *value = m->params[i].value;
    if (grad)
        *grad = m->params[i].grad;
    return SEQCLS_OK;
}

int seqcls_param_find(const seqcls_model_t *m, const char *name)
{
    int i;
    if (!m || !name)
        return -1;
    for (i = 0; i < m->nparams; i++)
        if (strcmp(m->params[i].name, name) == 0)
            return i;
    return -1;
}

void model_zero_grad(seqcls_model_t *m, int listed_only)
{
    int i;
    for (i = 0; i < m->nparams; i++) {
        param_t *p = &m->params[i];
        sparse_rows_t *s = p->sparse;
        if (p->grad->data && !(s && listed_only))
            memset(p->grad->data, 0, p->grad->numel * sizeof(real));
        if (s && s->key)
            sparse_clear(s);
    }
}

int seqcls_zero_grad(seqcls_model_t *m)
{
    seqcls__clear_error();
    if (!m)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "seqcls_zero_grad: model is NULL");
    if (model_check_float(m, "seqcls_zero_grad"))
        return SEQCLS_E_STATE;
    /* every element: a caller may have written into any gradient */
    model_zero_grad(m, 0);
    return SEQCLS_OK;
}

/* ---- forward ---- */

static int run_prepare(run_t *run, int nlayers, int B)
{
    if (run->nlayers != nlayers) {
        run_free(run);
        run->ws = seqcls__calloc((size_t)nlayers, sizeof *run->ws);
        run->vals = seqcls__calloc((size_t)nlayers + 1, sizeof *run->vals);
        if (!run->ws || !run->vals) {
            seqcls__dealloc(run->ws);
            seqcls__dealloc(run->vals);
            run->ws = NULL;
            run->vals = NULL;
            return SEQCLS_E_NOMEM;
        }
        run->nlayers = nlayers;
    }
    if (B > run->len_cap) {
        int32_t *len = seqcls__calloc((size_t)B, sizeof *len);
        if (!len)
            return SEQCLS_E_NOMEM;
        seqcls__dealloc(run->len);
        run->len = len;
        run->len_cap = B;
    }
    return SEQCLS_OK;
}

int model_check_input(const seqcls_model_t *m, const seqcls_tensor_t *input,
                      const int32_t *lengths, const char *func, int *B, int *T)
{
    const layer_t *first;
    int64_t b;
    int rc, steps;

    if (!m)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: model is NULL", func);
    if (!input)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: input is NULL", func);
    if (m->nlayers == 0)
        return seqcls__fail(SEQCLS_E_STATE, "%s: the model has no layers", func);
    first = m->layers[0];
    if (!model_output_layer(m))
        return seqcls__fail(SEQCLS_E_STATE, "%s: the model has no output layer yet", func);
    {
        const input_spec_t spec = model_input_spec(m);
        int64_t shape[3] = {-1, -1, spec.width};
        rc = seqcls__tensor_check(input, func,
                                  spec.dtype == SEQCLS_F32 ? "input (float sequence)"
                                  : spec.rank == 3         ? "input (bags of token ids)"
                                                           : "input (token ids)",
                                  spec.dtype, spec.rank, shape);
    }
    if (rc)
        return rc;
    if (input->shape[0] < 1 || input->shape[1] < 1)
        return seqcls__fail(SEQCLS_E_SHAPE, "%s: input has an empty dimension (B = %lld, T = %lld)",
                            func, (long long)input->shape[0], (long long)input->shape[1]);
    /* The layers count rows and steps in int: B * T steps at most. */
    if (input->shape[0] > MODEL_MAX_STEPS / input->shape[1])
        return seqcls__fail(SEQCLS_E_SHAPE,
                            "%s: input of B = %lld rows of T = %lld steps has more than %d steps "
                            "in all; split the batch",
                            func, (long long)input->shape[0], (long long)input->shape[1],
                            MODEL_MAX_STEPS);
    *B = (int)input->shape[0];
    *T = (int)input->shape[1];
    if (lengths) {
        for (b = 0; b < *B; b++)
            if (lengths[b] < 0 || lengths[b] > *T)
                return seqcls__fail(SEQCLS_E_RANGE, "%s: lengths[%d] = %d is outside [0, %d]",
                                    func, (int)b, (int)lengths[b], *T);
    }
    if ((steps = model_fixed_steps(m)) != 0 && steps != *T)
        return seqcls__fail(SEQCLS_E_SHAPE, "%s: the model was built for T = %d steps, the input "
                            "has T = %d", func, steps, *T);
    return first->ops->check_input(first, input->data, *B, *T, lengths, func, "input");
}

/* Keep a copy of the caller's input in the run: the backward of a
 * training forward reads it after the call has returned, and nothing the
 * caller does to its own tensor in between may reach it. */
static const void *keep_input(run_t *run, const seqcls_tensor_t *input)
{
    const size_t bytes = input->numel * (input->dtype == SEQCLS_I32 ? sizeof(int32_t)
                                                                   : sizeof(real));
    void *copy = ws_get(&run->own, 0, bytes);
    if (copy)
        memcpy(copy, input->data, bytes);
    return copy;
}

/* The first row of v with a NaN or infinity at a valid step, or -1. */
static int first_bad_row(const value_t *v)
{
    const int seq = v->kind == VAL_SEQ;
    int b;
    for (b = 0; b < v->B; b++) {
        const size_t n = (size_t)(seq ? v->len[b] : 1) * v->F;
        if (vec_first_not_finite(v->x + (size_t)b * (seq ? v->T : 1) * v->F, n) < n)
            return b;
    }
    return -1;
}

static int run_forward(const seqcls_model_t *m, run_t *run, const seqcls_tensor_t *input,
                       const int32_t *lengths, int training, rng_t *rng, const uint64_t *keys,
                       const char *func)
{
    run_ctx_t ctx;
    value_t *v;
    const void *data = input->data;
    const int B = (int)input->shape[0], T = (int)input->shape[1];
    int b, i, rc;

    if (run_prepare(run, m->nlayers, B) || (training && !(data = keep_input(run, input))))
        return seqcls__fail(SEQCLS_E_NOMEM, "%s: out of memory for a batch of %d x %d", func, B,
                            T);
    for (b = 0; b < B; b++)
        run->len[b] = lengths ? lengths[b] : T;

    v = &run->vals[0];
    memset(v, 0, sizeof *v);
    v->B = B;
    v->T = T;
    v->len = run->len;
    if (input->dtype == SEQCLS_I32) {
        v->kind = VAL_IDS;
        v->ids = data;
        v->F = input->ndim == 3 ? (int)input->shape[2] : 1;   /* ids per step */
    } else {
        v->kind = VAL_SEQ;
        v->x = (real *)data;
        v->F = (int)input->shape[2];
    }

    ctx.training = training;
    ctx.rng = rng;
    ctx.func = func;
    ctx.keys = keys;
    for (i = 0; i < m->nlayers; i++) {
        const layer_t *L = m->layers[i];
        memset(&run->vals[i + 1], 0, sizeof run->vals[i + 1]);
        rc = L->ops->forward(L, &run->ws[i], &run->vals[i], &run->vals[i + 1], &ctx);
        if (rc == SEQCLS_E_NOMEM)
            return seqcls__fail(rc, "%s: out of memory in layer %d (%s) for a batch of %d x %d",
                                func, i, L->ops->name, B, T);
        if (rc)
            return rc;
    }
    /* Finite inputs and weights can still overflow (huge weights, a
     * relu chain): never hand back NaN or infinity as a result, and name
     * the first layer where it appeared. */
    if (first_bad_row(&run->vals[m->nlayers]) >= 0) {
        int row = -1;
        /* the logits are the last layer's output: the search ends there at the latest */
        for (i = 0; i < m->nlayers && (row = first_bad_row(&run->vals[i + 1])) < 0; i++)
            ;
        return seqcls__fail(SEQCLS_E_NUMERIC,
                            "%s: the output of layer %d (%s) is not finite at row %d: the "
                            "weights or the inputs are too large",
                            func, i, m->layers[i]->ops->name, row);
    }
    return SEQCLS_OK;
}

int model_run_forward(const seqcls_model_t *m, run_t *run, const seqcls_tensor_t *input,
                      const int32_t *lengths, int training, rng_t *rng, const char *func)
{
    return run_forward(m, run, input, lengths, training, rng, NULL, func);
}

static void copy_out(seqcls_tensor_t *dst, const real *src, size_t n)
{
    memcpy(dst->data, src, n * sizeof(real));
}

int seqcls_forward(seqcls_model_t *m, const seqcls_tensor_t *input, const int32_t *lengths,
                   seqcls_tensor_t *logits, int training)
{
    seqcls__clear_error();
    return model_forward(m, input, lengths, logits, training, NULL, "seqcls_forward");
}

int model_forward(seqcls_model_t *m, const seqcls_tensor_t *input, const int32_t *lengths,
                  seqcls_tensor_t *logits, int training, const uint64_t *keys, const char *func)
{
    const value_t *y;
    int64_t shape[3];
    int rc, B, T, ndim;

    rc = model_check_input(m, input, lengths, func, &B, &T);
    if (rc == SEQCLS_OK && training)
        rc = model_check_float(m, func);
    if (rc)
        return rc;
    ndim = model_output_shape(m, B, T, shape);
    if (logits) {
        rc = seqcls__tensor_check(logits, func, "logits", SEQCLS_F32, ndim, shape);
        if (rc)
            return rc;
    }
    m->state = STATE_NONE;
    rc = run_forward(m, &m->train, input, lengths, training, training ? &m->rng : NULL,
                     training ? keys : NULL, func);
    if (rc)
        return rc;
    y = &m->train.vals[m->nlayers];
    if (logits)   /* per step: zero at padding steps, as the output layer leaves them */
        copy_out(logits, y->x, logits->numel);
    m->B = B;
    m->T = T;
    m->state = training ? STATE_TRAIN_FORWARD : STATE_FORWARD;
    return SEQCLS_OK;
}

/* ---- backward ---- */

/* Back-propagate d(logits) held in `dlogits` ([B, C] reals, or [B, T, C]
 * for a per-step model). */
int model_backward(seqcls_model_t *m, real *dlogits, const char *func)
{
    run_ctx_t ctx = {1, NULL, func, NULL};
    value_t dv, din;
    int i, rc;

    memset(&dv, 0, sizeof dv);
    dv.kind = VAL_VEC;
    dv.B = m->B;
    dv.T = 1;
    dv.F = m->layers[m->nlayers - 1]->out_F;
    dv.x = dlogits;
    if (model_output_steps(m)) {
        dv.kind = VAL_SEQ;
        dv.T = m->T;
        dv.len = m->train.len;
    }
    memset(&m->input_grad, 0, sizeof m->input_grad);
    for (i = m->nlayers - 1; i >= 0; i--) {
        layer_t *L = m->layers[i];
        memset(&din, 0, sizeof din);
        rc = L->ops->backward(L, &m->train.ws[i], &m->train.vals[i], &m->train.vals[i + 1], &dv,
                              &din, &ctx);
        if (rc) {
            m->state = STATE_NONE;
            if (rc == SEQCLS_E_NOMEM)
                return seqcls__fail(rc, "%s: out of memory in the backward of layer %d (%s)", func,
                                    i, L->ops->name);
            return rc;
        }
        if (m->backward_hook)
            m->backward_hook(m->backward_hook_ctx, i);
        dv = din;
    }
    if (!model_reads_ids(m))
        m->input_grad = dv;   /* the gradient reaching a float input */
    m->state = STATE_BACKWARD;
    return SEQCLS_OK;
}

int model_check_backward(seqcls_model_t *m, const char *func)
{
    if (!m)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: model is NULL", func);
    if (m->quant)
        return model_check_float(m, func);
    if (m->state != STATE_TRAIN_FORWARD && m->state != STATE_BACKWARD)
        return seqcls__fail(SEQCLS_E_STATE,
                            "%s: no training forward to back-propagate (call seqcls_forward with "
                            "training = 1 first)",
                            func);
    return SEQCLS_OK;
}

int seqcls_backward(seqcls_model_t *m, const seqcls_tensor_t *dlogits)
{
    const char *func = "seqcls_backward";
    int64_t shape[3];
    const real *src;
    real *d;
    size_t i, n, row;
    int rc, ndim, b;

    seqcls__clear_error();
    rc = model_check_backward(m, func);
    if (rc)
        return rc;
    ndim = model_output_shape(m, m->B, m->T, shape);
    rc = seqcls__tensor_check(dlogits, func, "dlogits", SEQCLS_F32, ndim, shape);
    if (rc)
        return rc;
    n = dlogits->numel;
    src = dlogits->data;
    /* per row, or per step over each row's valid steps (padding steps of
     * dlogits are ignored: they are not read) */
    row = ndim == 3 ? (size_t)m->T * (size_t)shape[2] : (size_t)shape[1];
    for (b = 0; b < m->B; b++) {
        const size_t valid = ndim == 3 ? (size_t)m->train.len[b] * (size_t)shape[2] : row;
        const size_t at = vec_first_not_finite(src + (size_t)b * row, valid);
        if (at < valid)
            return seqcls__fail(SEQCLS_E_NUMERIC, "%s: dlogits[%zu] is not finite", func,
                                (size_t)b * row + at);
    }
    d = ws_get(&m->model_ws, MODEL_WS_DLOGITS, n * sizeof(real));
    if (!d)
        return seqcls__fail(SEQCLS_E_NOMEM, "%s: out of memory", func);
    memcpy(d, src, n * sizeof(real));
    for (b = 0; ndim == 3 && b < m->B; b++)
        for (i = (size_t)m->train.len[b] * (size_t)shape[2]; i < row; i++)
            d[(size_t)b * row + i] = 0;
    return model_backward(m, d, func);
}

int seqcls_input_grad(seqcls_model_t *m, seqcls_tensor_t **grad)
{
    const char *func = "seqcls_input_grad";
    value_t *g;
    int64_t shape[3];
    seqcls__clear_error();
    if (!m || !grad)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: %s is NULL", func, m ? "grad" : "model");
    *grad = NULL;
    if (m->state != STATE_BACKWARD || !m->input_grad.x)
        return seqcls__fail(SEQCLS_E_STATE,
                            "%s: no input gradient (it needs a float input layer and a backward)",
                            func);
    g = &m->input_grad;
    shape[0] = g->B;
    shape[1] = g->T;
    shape[2] = g->F;
    /* The tensor header lives in the model's workspace; the data is the run's. */
    {
        seqcls_tensor_t *t = ws_get(&m->model_ws, MODEL_WS_INPUT_GRAD, sizeof *t);
        if (!t)
            return seqcls__fail(SEQCLS_E_NOMEM, "%s: out of memory", func);
        memset(t, 0, sizeof *t);
        t->dtype = SEQCLS_F32;
        t->ndim = 3;
        memcpy(t->shape, shape, sizeof shape);
        t->numel = (size_t)g->B * g->T * g->F;
        t->data = g->x;
        *grad = t;
    }
    return SEQCLS_OK;
}

/* ---- attention weights ---- */

static int find_attention(const seqcls_model_t *m, int layer, const char *func)
{
    int i;
    if (layer == -1) {
        for (i = m->nlayers - 1; i >= 0; i--)
            if (m->layers[i]->ops->attention)
                return i;
        return seqcls__fail(SEQCLS_E_RANGE, "%s: the model has no attention layer", func);
    }
    if (layer < 0 || layer >= m->nlayers || !m->layers[layer]->ops->attention)
        return seqcls__fail(SEQCLS_E_RANGE, "%s: layer %d is not an attention layer", func, layer);
    return layer;
}

int seqcls_attention_weights(seqcls_model_t *m, int layer, seqcls_tensor_t **weights)
{
    const char *func = "seqcls_attention_weights";
    const real *w;
    seqcls_tensor_t *t;
    int i;
    seqcls__clear_error();
    if (!m || !weights)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: %s is NULL", func, m ? "weights" : "model");
    *weights = NULL;
    i = find_attention(m, layer, func);
    if (i < 0)
        return i;
    if (m->state == STATE_NONE)
        return seqcls__fail(SEQCLS_E_STATE, "%s: no forward has run yet", func);
    w = m->layers[i]->ops->attention(m->layers[i], &m->train.ws[i]);
    t = ws_get(&m->model_ws, MODEL_WS_ATTENTION, sizeof *t);
    if (!t)
        return seqcls__fail(SEQCLS_E_NOMEM, "%s: out of memory", func);
    memset(t, 0, sizeof *t);
    t->dtype = SEQCLS_F32;
    t->ndim = 2;
    t->shape[0] = m->B;
    t->shape[1] = m->T;
    t->numel = (size_t)m->B * m->T;
    t->data = (void *)w;
    *weights = t;
    return SEQCLS_OK;
}

/* ---- final states of a recurrent layer ---- */

int seqcls_final_states(seqcls_model_t *m, int layer, seqcls_tensor_t *h, seqcls_tensor_t *c)
{
    const char *func = "seqcls_final_states";
    const layer_t *L;
    int64_t shape[2];
    int i, rc;
    seqcls__clear_error();
    if (!m)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: model is NULL", func);
    if (layer == -1) {
        for (i = m->nlayers - 1; i >= 0 && !m->layers[i]->ops->final_states; i--)
            ;
        if (i < 0)
            return seqcls__fail(SEQCLS_E_RANGE, "%s: the model has no recurrent layer", func);
    } else if (layer < 0 || layer >= m->nlayers || !m->layers[layer]->ops->final_states) {
        return seqcls__fail(SEQCLS_E_RANGE, "%s: layer %d is not a recurrent layer", func, layer);
    } else {
        i = layer;
    }
    L = m->layers[i];
    if (m->state == STATE_NONE)
        return seqcls__fail(SEQCLS_E_STATE, "%s: no seqcls_forward has run yet", func);
    shape[0] = m->B;
    shape[1] = (int64_t)((L->flags & SEQCLS_BIDIRECTIONAL) ? 2 : 1) * L->units;
    if (h && (rc = seqcls__tensor_check(h, func, "h", SEQCLS_F32, 2, shape)) != SEQCLS_OK)
        return rc;
    if (c && (rc = seqcls__tensor_check(c, func, "c", SEQCLS_F32, 2, shape)) != SEQCLS_OK)
        return rc;
    return L->ops->final_states(L, &m->train.ws[i], &m->train.vals[i],
                                m->state != STATE_FORWARD, h ? h->data : NULL,
                                c ? c->data : NULL, func);
}

/* ---- predict ---- */

int seqcls_predict(const seqcls_model_t *m, const seqcls_tensor_t *input, const int32_t *lengths,
                   seqcls_tensor_t *probs, seqcls_tensor_t *attention)
{
    const char *func = "seqcls_predict";
    run_t *run, *none = NULL;
    /* the cached run is state of the model's own, not of its meaning */
    _Atomic(run_t *) *spare = &((seqcls_model_t *)m)->predict_run;
    int64_t shape[3];
    int rc, B, T, C, ndim, att = -1;

    seqcls__clear_error();
    rc = model_check_input(m, input, lengths, func, &B, &T);
    if (rc)
        return rc;
    C = m->layers[m->nlayers - 1]->out_F;
    ndim = model_output_shape(m, B, T, shape);
    rc = seqcls__tensor_check(probs, func, "probs", SEQCLS_F32, ndim, shape);
    if (rc)
        return rc;
    if (attention) {
        int64_t shape[2] = {B, T};
        att = find_attention(m, -1, func);
        if (att < 0)
            return att;
        rc = seqcls__tensor_check(attention, func, "attention", SEQCLS_F32, 2, shape);
        if (rc)
            return rc;
    }
    run = atomic_exchange(spare, NULL);
    if (!run && !(run = seqcls__calloc(1, sizeof *run)))
        return seqcls__fail(SEQCLS_E_NOMEM, "%s: out of memory", func);
    rc = model_run_forward(m, run, input, lengths, 0, NULL, func);
    if (rc == SEQCLS_OK) {
        if (ndim == 3)
            loss_step_probabilities(run->vals[m->nlayers].x, probs->data, B, T, run->len, C);
        else
            loss_probabilities(run->vals[m->nlayers].x, probs->data, B, C);
        if (attention)
            copy_out(attention, m->layers[att]->ops->attention(m->layers[att], &run->ws[att]),
                     (size_t)B * T);
    }
    if (rc != SEQCLS_OK || !atomic_compare_exchange_strong(spare, &none, run)) {
        run_free(run);
        seqcls__dealloc(run);
    }
    return rc;
}
