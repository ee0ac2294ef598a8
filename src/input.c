/*
 * input.c -- float sequences [B, T, F] enter the model here.
 *
 * The input is passed on without a copy (a training run's own copy of
 * it); model.c has checked its shape, and input_check_input that its
 * valid steps are finite.
 */
#include "internal.h"

#include <stdio.h>

static int input_forward(const layer_t *L, workspace_t *ws, const value_t *in, value_t *out,
                         const run_ctx_t *ctx)
{
    (void)L;
    (void)ws;
    (void)ctx;
    *out = *in;
    return SEQCLS_OK;
}

static int input_backward(layer_t *L, workspace_t *ws, const value_t *in, const value_t *out,
                          const value_t *dout, value_t *din, const run_ctx_t *ctx)
{
    (void)L;
    (void)ws;
    (void)in;
    (void)out;
    (void)ctx;
    *din = *dout;    /* the gradient reaching the input, kept for seqcls_input_grad */
    return SEQCLS_OK;
}

/* Every value at a valid step is finite (a row's valid steps are
 * contiguous: one vectorised scan per row). */
static int input_check_input(const layer_t *L, const void *x, int B, int T,
                             const int32_t *lengths, const char *func, const char *what)
{
    const int F = L->units;
    int b;
    for (b = 0; b < B; b++) {
        const size_t n = (size_t)(lengths ? lengths[b] : T) * F;
        const size_t at = vec_first_not_finite((const real *)x + (size_t)b * T * F, n);
        if (at < n)
            return seqcls__fail(SEQCLS_E_NUMERIC, "%s: %s[%d, %d, %d] is not finite", func, what,
                                b, (int)(at / F), (int)(at % F));
    }
    return SEQCLS_OK;
}

static void input_describe(const layer_t *L, char *buf, size_t cap)
{
    snprintf(buf, cap, "features=%d", L->units);
}

static int input_rebuild(seqcls_model_t *m, const layer_t *c)
{
    return seqcls_add_input(m, c->units, NULL);
}

static const layer_option_t input_options[] = {
    {SEQCLS_OPT_UNITS, FIELD_UNITS, 0},
    {0, 0, 0},
};

const layer_ops_t seqcls__input_ops = {
    .kind = SEQCLS_LAYER_INPUT,
    .name = "input",
    .takes = 1u << VAL_SEQ,
    .traits = LAYER_FIRST,
    .input_rank = 3,
    .options = input_options,
    .forward = input_forward,
    .backward = input_backward,
    .check_input = input_check_input,
    .describe = input_describe,
    .rebuild = input_rebuild,
    .stream_step = layer_stream_forward,   /* no state: every step on its own */
};

int seqcls_add_input(seqcls_model_t *m, int features, int *layer)
{
    layer_t *L;
    int rc;
    if (m && features < 1)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "seqcls_add_input: features (%d) must be >= 1",
                            features);
    rc = model_begin_layer(m, "seqcls_add_input", &seqcls__input_ops, &L);
    if (rc)
        return rc;
    L->units = features;
    L->in_F = features;
    L->out_kind = VAL_SEQ;
    L->out_F = features;
    return model_commit_layer(m, L, SEQCLS_OK, layer);
}
