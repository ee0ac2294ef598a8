/*
 * metadata.c -- what a model carries besides its layers: the vocabulary
 * that turns text into its input ids, and the names of its classes.
 */
#include "internal.h"
#include "io.h"

#include <stdio.h>
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

/* ---- in a model file: VOCB (docs/vocab-format.md) and LABL ---- */

/*
 * LABL payload: u32 count, then per name u32 byte length and the UTF-8
 * bytes (no NUL).  Limits as seqcls_model_set_labels.
 */
static int labels_serialize(const seqcls_model_t *m, unsigned char **out, size_t *len)
{
    size_t n = 4, off = 0;
    unsigned char *p;
    int i;
    for (i = 0; i < m->nlabels; i++)
        n += 4 + strlen(m->labels[i]);
    if (!(p = seqcls__alloc(n)))
        return seqcls__fail(SEQCLS_E_NOMEM, "out of memory for the class names");
    le_put32(p + off, (uint32_t)m->nlabels);
    off += 4;
    for (i = 0; i < m->nlabels; i++) {
        size_t k = strlen(m->labels[i]);
        le_put32(p + off, (uint32_t)k);
        off += 4;
        memcpy(p + off, m->labels[i], k);
        off += k;
    }
    *out = p;
    *len = n;
    return SEQCLS_OK;
}

static int labels_deserialize(seqcls_model_t *m, const unsigned char *p, size_t n, const char *func)
{
    char **names = NULL, *name;
    size_t off = 4;
    uint32_t count, i, k;
    int rc = SEQCLS_OK;
    if (n < 4 || (count = le_get32(p)) > MAX_LABELS || count > (n - 4) / 4)
        return seqcls__fail(SEQCLS_E_FORMAT, "%s: LABL: the count of class names is %s", func,
                            n < 4 ? "missing" : "impossible");
    if (count && !(names = seqcls__calloc(count, sizeof *names)))
        return seqcls__fail(SEQCLS_E_NOMEM, "%s: out of memory", func);
    for (i = 0; i < count && rc == SEQCLS_OK; i++) {
        if (n - off < 4 || (k = le_get32(p + off)) == 0 || k > MAX_LABEL_BYTES || k > n - off - 4) {
            rc = seqcls__fail(SEQCLS_E_FORMAT, "%s: LABL: name %u has an impossible length", func,
                              (unsigned)i);
            break;
        }
        off += 4;
        if (memchr(p + off, 0, k) || !vocab_utf8_valid(p + off, k)) {
            rc = seqcls__fail(SEQCLS_E_FORMAT, "%s: LABL: name %u is not valid UTF-8 text", func,
                              (unsigned)i);
            break;
        }
        if (!(name = seqcls__alloc(k + 1))) {
            rc = seqcls__fail(SEQCLS_E_NOMEM, "%s: out of memory", func);
            break;
        }
        memcpy(name, p + off, k);
        name[k] = '\0';
        names[i] = name;
        off += k;
    }
    if (rc == SEQCLS_OK && off != n)
        rc = seqcls__fail(SEQCLS_E_FORMAT, "%s: LABL: %zu bytes after the last name", func, n - off);
    if (rc == SEQCLS_OK)
        rc = seqcls_model_set_labels(m, (int)count, (const char *const *)names);
    for (i = 0; i < count && names; i++)
        seqcls__dealloc(names[i]);
    seqcls__dealloc(names);
    return rc;
}

int metadata_save_with(const seqcls_model_t *m, const seqcls_section_t *extra, int nextra,
                       const char *path, void **buf, size_t *len, const char *func)
{
    seqcls_section_t sec[8];
    void *vocab = NULL;
    unsigned char *labels = NULL;
    size_t vlen = 0, llen = 0;
    int n = 0, i, rc = SEQCLS_OK;

    if (nextra > 6)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: too many sections", func);
    for (i = 0; i < nextra; i++)
        sec[n++] = extra[i];
    if (m && m->vocab && (rc = vocab_serialize(m->vocab, &vocab, &vlen)) == SEQCLS_OK)
        sec[n++] = (seqcls_section_t){{'V', 'O', 'C', 'B'}, vocab, vlen};
    if (rc == SEQCLS_OK && m && m->nlabels && (rc = labels_serialize(m, &labels, &llen)) == SEQCLS_OK)
        sec[n++] = (seqcls_section_t){{'L', 'A', 'B', 'L'}, labels, llen};
    if (rc == SEQCLS_OK)
        rc = seqcls__model_save(m, sec, n, path, buf, len, func);
    seqcls__dealloc(vocab);
    seqcls__dealloc(labels);
    return rc;
}

int metadata_load(seqcls_model_t *m, const void *buf, size_t len, const char *func)
{
    const void *p;
    size_t n;
    int rc = seqcls__model_section(buf, len, "VOCB", &p, &n, func);
    if (rc == SEQCLS_OK) {
        seqcls_vocab_t *v = NULL;
        rc = vocab_deserialize(&v, p, n);
        if (rc == SEQCLS_OK) {
            seqcls_vocab_free(m->vocab);
            m->vocab = v;
        } else if (rc == SEQCLS_E_FORMAT) {
            char why[256];
            snprintf(why, sizeof why, "%s", seqcls_last_error());   /* fail() rewrites it */
            return seqcls__fail(rc, "%s: VOCB: %s", func, why);
        } else {
            return rc;
        }
    } else if (rc != SEQCLS_E_RANGE) {
        return rc;
    }
    rc = seqcls__model_section(buf, len, "LABL", &p, &n, func);
    if (rc == SEQCLS_OK)
        return labels_deserialize(m, p, n, func);
    return rc == SEQCLS_E_RANGE ? SEQCLS_OK : rc;
}
