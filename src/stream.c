/*
 * stream.c -- seqcls_stream_*: a model run over one sequence as it
 * arrives, a chunk of steps at a time, with the state of its layers kept
 * between the calls.
 *
 * Each layer kind says whether it can run step by step (layer_ops_t's
 * stream_step, in the kind's own file) and what state it carries
 * (stream_state): the recurrent layers their h and c, pooling its running
 * value; embedding, input, dense, dropout and output need none.  A push
 * runs the chunk through the layers with B = 1 and every step valid.  The
 * state lives in the stream, and so do the workspaces: a stream only
 * reads its model, so that many streams can run on one model from many
 * threads, beside seqcls_predict.
 *
 * A push is all or nothing: the layers update a copy of the state, which
 * replaces the old one only when the whole chunk has gone through.
 */
#include "internal.h"

#include <string.h>

struct seqcls_stream {
    const seqcls_model_t *m;
    int nlayers;
    size_t *off;             /* [nlayers + 1]: each layer's state in the block, then its size */
    unsigned char *state;    /* the state after the steps pushed so far */
    unsigned char *next;     /* the state a push builds */
    int64_t steps;           /* steps pushed since the start or the last reset */
    workspace_t *ws;         /* [nlayers] */
    value_t *vals;           /* [nlayers + 1] */
    int32_t len;             /* the chunk's length, which every value points at */
};

/* State blocks are 64-byte aligned for each layer. */
static size_t round_up(size_t n) { return (n + SEQCLS_ALIGN - 1) / SEQCLS_ALIGN * SEQCLS_ALIGN; }

void seqcls_stream_free(seqcls_stream_t *s)
{
    int i;
    if (!s)
        return;
    for (i = 0; s->ws && i < s->nlayers; i++)
        ws_free(&s->ws[i]);
    seqcls__dealloc(s->ws);
    seqcls__dealloc(s->vals);
    seqcls__dealloc(s->off);
    seqcls__dealloc(s->state);
    seqcls__dealloc(s->next);
    seqcls__dealloc(s);
}

int seqcls_stream_create(seqcls_stream_t **out, const seqcls_model_t *m)
{
    const char *func = "seqcls_stream_create";
    seqcls_stream_t *s;
    size_t total = 0;
    int i;

    seqcls__clear_error();
    if (!out)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: out is NULL", func);
    *out = NULL;
    if (!m)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: model is NULL", func);
    if (!model_output_layer(m))
        return seqcls__fail(SEQCLS_E_STATE, "%s: the model has no output layer yet", func);
    for (i = 0; i < m->nlayers; i++) {
        const layer_t *L = m->layers[i];
        const char *why = "its output at a step depends on later steps";
        size_t bytes = 0;
        if (L->ops->stream_step && L->ops->stream_state)
            bytes = L->ops->stream_state(L, &why);
        if (!L->ops->stream_step || bytes == SIZE_MAX)
            return seqcls__fail(SEQCLS_E_UNSUPPORTED,
                                "%s: layer %d (%s) cannot run step by step: %s", func, i,
                                L->ops->name, why);
        total += round_up(bytes);
    }
    s = seqcls__calloc(1, sizeof *s);
    if (!s)
        return seqcls__fail(SEQCLS_E_NOMEM, "%s: out of memory", func);
    s->m = m;
    s->nlayers = m->nlayers;
    s->off = seqcls__calloc((size_t)m->nlayers + 1, sizeof *s->off);
    s->ws = seqcls__calloc((size_t)m->nlayers, sizeof *s->ws);
    s->vals = seqcls__calloc((size_t)m->nlayers + 1, sizeof *s->vals);
    s->state = seqcls__calloc(total ? total : 1, 1);
    s->next = seqcls__calloc(total ? total : 1, 1);
    if (!s->off || !s->ws || !s->vals || !s->state || !s->next) {
        seqcls_stream_free(s);
        return seqcls__fail(SEQCLS_E_NOMEM, "%s: out of memory", func);
    }
    for (i = 0; i < m->nlayers; i++) {
        const layer_t *L = m->layers[i];
        const char *why = NULL;
        s->off[i + 1] = s->off[i] + (L->ops->stream_state ? round_up(L->ops->stream_state(L, &why))
                                                          : 0);
    }
    *out = s;
    return SEQCLS_OK;
}

int seqcls_stream_reset(seqcls_stream_t *s)
{
    seqcls__clear_error();
    if (!s)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "seqcls_stream_reset: stream is NULL");
    memset(s->state, 0, s->off[s->nlayers]);
    s->steps = 0;
    return SEQCLS_OK;
}

/* Does v hold a NaN or infinity? (B = 1, every step valid) */
static int not_finite(const value_t *v)
{
    const size_t n = (size_t)(v->kind == VAL_VEC ? 1 : v->T) * v->F;
    return v->x && vec_first_not_finite(v->x, n) < n;
}

int seqcls_stream_push(seqcls_stream_t *s, const seqcls_tensor_t *input, int n_steps,
                       seqcls_tensor_t *probs)
{
    const char *func = "seqcls_stream_push";
    const seqcls_model_t *m;
    const layer_t *first;
    run_ctx_t ctx = {0, NULL, "seqcls_stream_push", NULL};
    value_t *v;
    int per_step, C, i, rc, ids;
    unsigned char *swap;

    seqcls__clear_error();
    if (!s || !input)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: %s is NULL", func, s ? "input" : "stream");
    if (n_steps < 0)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: n_steps %d is negative", func, n_steps);
    m = s->m;
    first = m->layers[0];
    per_step = model_output_steps(m);
    C = m->layers[m->nlayers - 1]->out_F;
    ids = model_reads_ids(m);
    {
        /* the first n_steps rows of input: ids [>= n], or bags of ids
         * (an embedding bag) or floats [>= n, width]: the model's input
         * without its batch axis */
        const input_spec_t spec = model_input_spec(m);
        int64_t shape[2] = {-1, spec.width};
        rc = seqcls__tensor_check(input, func,
                                  !ids ? "input (float steps)"
                                  : spec.rank == 3 ? "input (bags of token ids)"
                                                   : "input (token ids)",
                                  spec.dtype, spec.rank - 1, shape);
        if (rc)
            return rc;
        if (input->shape[0] < n_steps)
            return seqcls__fail(SEQCLS_E_SHAPE, "%s: input holds %lld steps, fewer than n_steps "
                                "= %d", func, (long long)input->shape[0], n_steps);
    }
    if (probs) {
        int64_t shape[2] = {n_steps, C};
        if (per_step)
            rc = seqcls__tensor_check(probs, func, "probs", SEQCLS_F32, 2, shape);
        else
            rc = seqcls__tensor_check(probs, func, "probs", SEQCLS_F32, 1, shape + 1);
        if (rc)
            return rc;
    }
    rc = first->ops->check_input(first, input->data, 1, n_steps, NULL, func, "input");
    if (rc)
        return rc;
    if (per_step && n_steps == 0)
        return SEQCLS_OK;   /* no step, no result */

    s->len = n_steps;
    v = &s->vals[0];
    memset(v, 0, sizeof *v);
    v->B = 1;
    v->T = n_steps;
    v->len = &s->len;
    if (ids) {
        v->kind = VAL_IDS;
        v->ids = input->data;
        v->F = input->ndim == 2 ? (int)input->shape[1] : 1;   /* ids per step */
    } else {
        v->kind = VAL_SEQ;
        v->x = input->data;
        v->F = first->out_F;
    }
    memcpy(s->next, s->state, s->off[s->nlayers]);
    for (i = 0; i < m->nlayers; i++) {
        const layer_t *L = m->layers[i];
        value_t *in = &s->vals[i], *out = &s->vals[i + 1];
        memset(out, 0, sizeof *out);
        if (in->kind != VAL_VEC && in->T == 0 && !L->ops->stream_state) {
            /* an empty chunk passes a layer without state untouched */
            *out = *in;
            out->kind = L->out_kind;
            out->F = L->out_F;
            out->x = NULL;
            continue;
        }
        rc = L->ops->stream_step(L, &s->ws[i], in, out, s->next + s->off[i], s->steps, &ctx);
        if (rc == SEQCLS_E_NOMEM)
            return seqcls__fail(rc, "%s: out of memory in layer %d (%s) for %d steps", func, i,
                                L->ops->name, n_steps);
        if (rc)
            return rc;
        if (not_finite(out))
            return seqcls__fail(SEQCLS_E_NUMERIC,
                                "%s: the output of layer %d (%s) is not finite: the weights or "
                                "the inputs are too large",
                                func, i, L->ops->name);
    }
    if (probs)
        loss_probabilities(s->vals[m->nlayers].x, probs->data, per_step ? n_steps : 1, C);
    swap = s->state;
    s->state = s->next;
    s->next = swap;
    s->steps += n_steps;
    return SEQCLS_OK;
}
