/*
 * fuzz_load.c -- libFuzzer target for seqcls_model_load_buffer (make fuzz).
 *
 * Any input must be refused with SEQCLS_E_FORMAT, SEQCLS_E_VERSION or
 * SEQCLS_E_UNSUPPORTED and a message, or load.  A model that loads must
 * predict, save, and load again into a model that predicts the same
 * probabilities bit for bit.  ASan and UBSan catch the rest.
 *
 * Each input is tried twice: as it is, and with every section's CRC
 * recomputed, since random mutations almost never keep a CRC right and
 * the parser behind the CRC check would otherwise go unexplored.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/internal.h"
#include "../tests/crc32_ref.h"

static void check(int cond)
{
    if (!cond)
        __builtin_trap();
}

/* Probabilities of a fixed small batch, or NULL if the model cannot run
 * it (*rc then says why: e.g. a feature-time attention layer takes only
 * the T it was built for). */
static float *predict(const seqcls_model_t *m, int64_t *n, int *rc_out)
{
    const layer_t *first, *last;
    seqcls_tensor_t *in = NULL, *probs = NULL;
    int32_t lengths[2] = {3, 1};
    int64_t shape[3] = {2, 3, 1};
    float *out = NULL;
    int rc;

    *rc_out = 1;
    if (m->nlayers == 0)
        return NULL;
    first = m->layers[0];
    last = m->layers[m->nlayers - 1];
    if (!model_output_layer(m))
        return NULL;
    if (model_reads_ids(m)) {
        check(seqcls_tensor_create(&in, SEQCLS_I32, 2, shape) == SEQCLS_OK);
    } else {
        if ((int64_t)first->out_F > 4096)
            return NULL;
        shape[2] = first->out_F;
        check(seqcls_tensor_create(&in, SEQCLS_F32, 3, shape) == SEQCLS_OK);
    }
    shape[1] = last->out_F;
    check(seqcls_tensor_create(&probs, SEQCLS_F32, 2, shape) == SEQCLS_OK);
    rc = seqcls_predict(m, in, lengths, probs, NULL);
    *rc_out = rc;
    if (rc == SEQCLS_OK) {
        *n = seqcls_tensor_numel(probs);
        out = malloc((size_t)*n * sizeof *out);
        check(out != NULL);
        memcpy(out, seqcls_tensor_data(probs), (size_t)*n * sizeof *out);
    }
    seqcls_tensor_free(in);
    seqcls_tensor_free(probs);
    return out;
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

static void try_load(const uint8_t *data, size_t size)
{
    seqcls_model_t *m = NULL, *m2 = NULL;
    void *buf = NULL;
    size_t len = 0;
    float *p1, *p2;
    int64_t n1 = 0, n2 = 0;
    int rc1 = 0, rc2 = 0;
    int rc = seqcls_model_load_buffer(&m, data, size);

    if (rc != SEQCLS_OK) {
        check(m == NULL);
        check(rc == SEQCLS_E_FORMAT || rc == SEQCLS_E_VERSION || rc == SEQCLS_E_UNSUPPORTED);
        check(seqcls_last_error()[0] != '\0');
        return;
    }
    check(m != NULL);
    p1 = predict(m, &n1, &rc1);
    check(seqcls_model_save_buffer(m, &buf, &len) == SEQCLS_OK);
    check(seqcls_model_load_buffer(&m2, buf, len) == SEQCLS_OK);
    p2 = predict(m2, &n2, &rc2);
    check(rc1 == rc2 && (p1 == NULL) == (p2 == NULL));
    if (p1) {
        check(n1 == n2);
        check(memcmp(p1, p2, (size_t)n1 * sizeof *p1) == 0);
    }
    free(p1);
    free(p2);
    seqcls_free(buf);
    seqcls_model_free(m);
    seqcls_model_free(m2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy;
    size_t off = 12;
    int changed = 0;

    try_load(data, size);
    if (size < 12 || !(copy = malloc(size)))
        return 0;
    memcpy(copy, data, size);
    while (size - off >= 16) {
        uint64_t length = 0;
        uint32_t c, old;
        int k;
        for (k = 7; k >= 0; k--)
            length = length << 8 | copy[off + 4 + k];
        if (length > size - off - 16)
            break;
        c = crc32_ref(copy + off + 12, (size_t)length);
        old = (uint32_t)copy[off + 12 + length] | (uint32_t)copy[off + 13 + length] << 8 |
              (uint32_t)copy[off + 14 + length] << 16 | (uint32_t)copy[off + 15 + length] << 24;
        if (old != c) {
            for (k = 0; k < 4; k++)
                copy[off + 12 + length + k] = (uint8_t)(c >> (8 * k));
            changed = 1;
        }
        off += 16 + (size_t)length;
    }
    if (changed)
        try_load(copy, size);
    free(copy);
    return 0;
}
