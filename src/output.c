/*
 * output.c -- the output layer: a dense layer to C logits on a vector.
 * The loss that goes with it is in loss.c.
 */
#include "internal.h"

#include <stdio.h>

static void output_describe(const layer_t *L, char *buf, size_t cap)
{
    snprintf(buf, cap, "classes=%d, %s", L->units, L->units == 1 ? "sigmoid" : "softmax");
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
    .takes = 1u << VAL_VEC,
    .traits = LAYER_LOGITS,
    .options = output_options,
    .forward = dense_forward,
    .backward = dense_backward,
    .describe = output_describe,
    .rebuild = output_rebuild,
};

int seqcls_add_output(seqcls_model_t *m, int classes, int *layer)
{
    return dense_add(m, "seqcls_add_output", &seqcls__output_ops, classes, SEQCLS_ACT_NONE,
                     layer);
}
