/*
 * fuzz_roundtrip.c -- libFuzzer target (make fuzz FUZZ_TARGET=roundtrip):
 * the input is a recipe of layer constructor and option calls with small
 * arguments.  Whatever model the calls that succeed build must save, load
 * back, save again to the same bytes and predict the same probabilities
 * bit for bit: the loader must accept everything the saver writes.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/internal.h"

static void check(int cond)
{
    if (!cond)
        __builtin_trap();
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    seqcls_set_num_threads(1);
    return 0;
}

/* Probabilities of a fixed small batch, or NULL if the model cannot run
 * it (*rc says why). */
static float *predict(const seqcls_model_t *m, int64_t *n, int *rc)
{
    const layer_t *first = m->layers[0], *last = m->layers[m->nlayers - 1];
    seqcls_tensor_t *in = NULL, *probs = NULL;
    int32_t lengths[2] = {3, 0};
    int64_t shape[3] = {2, 3, first->out_F};
    float *out = NULL;
    *rc = 1;
    if (!model_output_layer(m))
        return NULL;
    check(seqcls_tensor_create(&in, model_reads_ids(m) ? SEQCLS_I32 : SEQCLS_F32,
                               model_reads_ids(m) ? 2 : 3, shape) == SEQCLS_OK);
    if (!model_reads_ids(m)) {
        float *x = seqcls_tensor_data(in);
        int64_t i;
        for (i = 0; i < seqcls_tensor_numel(in); i++)
            x[i] = (float)((i * 37) % 11) / 5.0f - 1.0f;
    }
    shape[1] = last->out_F;
    check(seqcls_tensor_create(&probs, SEQCLS_F32, 2, shape) == SEQCLS_OK);
    *rc = seqcls_predict(m, in, lengths, probs, NULL);
    if (*rc == SEQCLS_OK) {
        *n = seqcls_tensor_numel(probs);
        out = malloc((size_t)*n * sizeof *out);
        check(out != NULL);
        memcpy(out, seqcls_tensor_data(probs), (size_t)*n * sizeof *out);
    }
    seqcls_tensor_free(in);
    seqcls_tensor_free(probs);
    return out;
}

/* One SGD step on a fixed batch, if the model is complete; failures
 * (e.g. a non-finite loss from extreme weights) are fine. */
static void train(seqcls_model_t *m, int label)
{
    const layer_t *first, *last;
    seqcls_tensor_t *in = NULL, *labels = NULL;
    seqcls_optimizer_t *o = NULL;
    int64_t shape[3] = {2, 3, 0};
    if (m->nlayers == 0)
        return;
    first = m->layers[0];
    last = m->layers[m->nlayers - 1];
    if (!model_output_layer(m))
        return;
    shape[2] = first->out_F;
    check(seqcls_tensor_create(&in, model_reads_ids(m) ? SEQCLS_I32 : SEQCLS_F32,
                               model_reads_ids(m) ? 2 : 3, shape) == SEQCLS_OK);
    check(seqcls_tensor_create(&labels, SEQCLS_I32, 1, shape) == SEQCLS_OK);
    ((int32_t *)seqcls_tensor_data(labels))[0] = label % (last->out_F == 1 ? 2 : last->out_F);
    check(seqcls_optimizer_create(&o, SEQCLS_OPTIM_SGD, 0.1f) == SEQCLS_OK);
    if (seqcls_forward(m, in, NULL, NULL, 1) == SEQCLS_OK &&
        seqcls_loss_backward(m, labels, NULL) == SEQCLS_OK)
        (void)seqcls_optimizer_step(o, m);
    seqcls_optimizer_free(o);
    seqcls_tensor_free(in);
    seqcls_tensor_free(labels);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    seqcls_model_t *m = NULL, *m2 = NULL;
    void *b1 = NULL, *b2 = NULL;
    size_t n1 = 0, n2 = 0, i;
    float *p1, *p2;
    int64_t k1 = 0, k2 = 0;
    int rc;

    if (size < 1)
        return 0;
    check(seqcls_model_create(&m, data[0]) == SEQCLS_OK);
    for (i = 1; i + 3 <= size && i < 64; i += 3) {
        int op = data[i] % 14, a = data[i + 1], b = data[i + 2];
        int last = m->nlayers - 1;
        switch (op) {
        case 0: (void)seqcls_add_embedding(m, 1 + a % 9, 1 + b % 5, (int)(b / 16) % 4 - 1, NULL); break;
        case 1: (void)seqcls_add_input(m, 1 + a % 6, NULL); break;
        case 2: (void)seqcls_add_pooling(m, a % 5, NULL); break;
        case 3: (void)seqcls_add_dense(m, 1 + a % 7, b % 6, NULL); break;
        case 4: (void)seqcls_add_dropout(m, (float)(a % 12) / 10.0f, NULL); break;
        case 5: (void)seqcls_add_output(m, 1 + a % 4, NULL); break;
        case 6: (void)seqcls_layer_set_int(m, last, a % 6, b % 4); break;
        case 7: (void)seqcls_layer_set_float(m, last, a % 6, (float)b / 100.0f); break;
        case 8: /* change a weight to an arbitrary finite float */
            if (m->nparams > 0) {
                param_t *p = &m->params[a % m->nparams];
                float f;
                uint32_t bits = (uint32_t)a << 24 | (uint32_t)b << 16 | (uint32_t)a << 8 | b;
                memcpy(&f, &bits, 4);
                if (isfinite(f) && p->value->numel > 0)
                    ((real *)p->value->data)[(size_t)b % p->value->numel] = f;
            }
            break;
        case 9: /* a training step moves the weights and the random state */
            train(m, b);
            break;
        case 10: (void)seqcls_add_conv1d(m, 1 + a % 5, 1 + b % 4, (b / 16) & 1, NULL); break;
        case 11: (void)seqcls_add_flatten(m, NULL); break;
        case 12: (void)seqcls_layer_set_int(m, last, 18 + a % 2, b % 4); break;   /* 1.1 options */
        case 13: (void)seqcls_layer_set_float(m, last, 18 + a % 2, (float)b / 100.0f); break;
        default:
            break;
        }
    }
    rc = seqcls_model_save_buffer(m, &b1, &n1);
    if (rc == SEQCLS_E_NUMERIC) {   /* training overflowed a weight: refused, as documented */
        seqcls_model_free(m);
        return 0;
    }
    check(rc == SEQCLS_OK);
    check(seqcls_model_load_buffer(&m2, b1, n1) == SEQCLS_OK);
    check(seqcls_model_save_buffer(m2, &b2, &n2) == SEQCLS_OK);
    check(n1 == n2 && memcmp(b1, b2, n1) == 0);
    if (m->nlayers > 0) {
        int rc1, rc2;
        p1 = predict(m, &k1, &rc1);
        p2 = predict(m2, &k2, &rc2);
        check(rc1 == rc2 && (p1 == NULL) == (p2 == NULL) && k1 == k2);
        if (p1)
            check(memcmp(p1, p2, (size_t)k1 * sizeof *p1) == 0);
        free(p1);
        free(p2);
    }
    seqcls_free(b1);
    seqcls_free(b2);
    seqcls_model_free(m);
    seqcls_model_free(m2);
    return 0;
}
