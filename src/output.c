/*
 * output.c -- the output layer: a dense layer to C logits on a vector
 * ([B, C]), or at every valid step of a sequence ([B, T, C], zero at
 * padding steps: a tagger, a language model).  The loss that goes with it
 * is in loss.c; what shape the logits and labels have is decided by the
 * kind of value this layer takes (model_output_steps).
 */
#include "internal.h"

#include <stdio.h>

static void output_describe(const layer_t *L, char *buf, size_t cap)
{
    snprintf(buf, cap, "classes=%d, %s%s", L->units, L->units == 1 ? "sigmoid" : "softmax",
             L->in_kind == VAL_SEQ ? ", per step" : "");
}

static int output_rebuild(seqcls_model_t *m, const layer_t *c)
{
    return seqcls_add_output(m, c->units, NULL);
}

static const layer_option_t output_options[] = {
    {SEQCLS_OPT_UNITS, FIELD_UNITS, 0},
    {0, 0, 0},
};

const layer_ops_t seqcls__output_ops = {
    .kind = SEQCLS_LAYER_OUTPUT,
    .name = "output",
    .takes = (1u << VAL_VEC) | (1u << VAL_SEQ),
    .traits = LAYER_LOGITS,
    .options = output_options,
    .forward = dense_forward,
    .backward = dense_backward,
    .describe = output_describe,
    .rebuild = output_rebuild,
    .stream_step = layer_stream_forward,   /* no state: every step on its own */
    .quant = 1u,                           /* the weight */
};

int seqcls_add_output(seqcls_model_t *m, int classes, int *layer)
{
    /* per-step logits are shaped [B, T, C] by the input's T: a valid
     * convolution before them would leave fewer steps than that */
    if (m && m->nlayers > 0 && m->layers[m->nlayers - 1]->out_kind == VAL_SEQ &&
        model_steps_drop(m) > 0) {
        seqcls__clear_error();
        return seqcls__fail(SEQCLS_E_STATE,
                            "seqcls_add_output: a per-step output cannot follow a valid "
                            "convolution, whose output has %d steps fewer than the input: give "
                            "the convolution SEQCLS_PAD_SAME",
                            model_steps_drop(m));
    }
    return dense_add(m, "seqcls_add_output", &seqcls__output_ops, classes, SEQCLS_ACT_NONE,
                     layer);
}
