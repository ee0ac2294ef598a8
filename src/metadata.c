/*
 * metadata.c -- what a model carries besides its layers: the vocabulary
 * that turns text into its input ids, and the names of its classes.
 */
#include "internal.h"

#include <string.h>

#define MAX_LABELS 65536
#define MAX_LABEL_BYTES 4096

void model_free_metadata(seqcls_model_t *m)
{
    int i;
    seqcls_vocab_free(m->vocab);
    m->vocab = NULL;
    for (i = 0; i < m->nlabels; i++)
        seqcls__dealloc(m->labels[i]);
    seqcls__dealloc(m->labels);
    m->labels = NULL;
    m->nlabels = 0;
}

int seqcls_model_set_vocab(seqcls_model_t *m, const seqcls_vocab_t *v)
{
    const char *func = "seqcls_model_set_vocab";
    seqcls_vocab_t *copy = NULL;
    void *buf = NULL;
    size_t len = 0;
    int rc;
    seqcls__clear_error();
    if (!m)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: model is NULL", func);
    if (v) {
        if (seqcls_vocab_size(v) <= 0)
            return seqcls__fail(SEQCLS_E_STATE, "%s: the vocabulary is not built yet", func);
        /* a copy through the serialised form: the model owns its own */
        rc = vocab_serialize(v, &buf, &len);
        if (rc == SEQCLS_OK)
            rc = vocab_deserialize(&copy, buf, len);
        seqcls__dealloc(buf);
        if (rc)
            return rc;
    }
    seqcls_vocab_free(m->vocab);
    m->vocab = copy;
    return SEQCLS_OK;
}

const seqcls_vocab_t *seqcls_model_vocab(const seqcls_model_t *m) { return m ? m->vocab : NULL; }

int seqcls_model_set_labels(seqcls_model_t *m, int n, const char *const *names)
{
    const char *func = "seqcls_model_set_labels";
    char **copy = NULL;
    int i;
    seqcls__clear_error();
    if (!m)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: model is NULL", func);
    if (n < 0 || n > MAX_LABELS || (n > 0 && !names))
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: %d names%s", func, n,
                            n > 0 && !names ? " but names is NULL" : " is outside [0, 65536]");
    for (i = 0; i < n; i++) {
        size_t len = names[i] ? strlen(names[i]) : 0;
        if (len == 0 || len > MAX_LABEL_BYTES)
            return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: name %d is %s", func, i,
                                !names[i] ? "NULL" : len ? "longer than 4096 bytes" : "empty");
    }
    if (n > 0 && !(copy = seqcls__calloc((size_t)n, sizeof *copy)))
        return seqcls__fail(SEQCLS_E_NOMEM, "%s: out of memory", func);
    for (i = 0; i < n; i++) {
        size_t len = strlen(names[i]);
        if (!(copy[i] = seqcls__alloc(len + 1))) {
            while (i-- > 0)
                seqcls__dealloc(copy[i]);
            seqcls__dealloc(copy);
            return seqcls__fail(SEQCLS_E_NOMEM, "%s: out of memory", func);
        }
        memcpy(copy[i], names[i], len + 1);
    }
    for (i = 0; i < m->nlabels; i++)
        seqcls__dealloc(m->labels[i]);
    seqcls__dealloc(m->labels);
    m->labels = copy;
    m->nlabels = n;
    return SEQCLS_OK;
}

int seqcls_model_label_count(const seqcls_model_t *m) { return m ? m->nlabels : 0; }

const char *seqcls_model_label(const seqcls_model_t *m, int cls)
{
    if (!m || cls < 0 || cls >= m->nlabels)
        return NULL;
    return m->labels[cls];
}
