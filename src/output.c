/*
 * output.c -- the output layer: a dense layer to C logits on a vector.
 * The loss that goes with it is in loss.c.
 */
#include "internal.h"

const layer_ops_t seqcls__output_ops = {
    LAYER_OUTPUT, "output", dense_forward, dense_backward, NULL, NULL, NULL,
};

int seqcls_add_output(seqcls_model_t *m, int classes, int *layer)
{
    return dense_add(m, "seqcls_add_output", &seqcls__output_ops, 1u << VAL_VEC, classes,
                     SEQCLS_ACT_NONE, layer);
}
