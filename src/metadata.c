/*
 * metadata.c -- what a model carries besides its layers: the vocabulary
 * that turns text into its input ids, the names of its classes, and a
 * small key-value store for the programs that use it.
 */
#include "internal.h"
#include "io.h"

#include <stdio.h>
#include <string.h>

#define MAX_LABELS 65536
#define MAX_LABEL_BYTES 4096
#define MAX_META 256
#define MAX_META_KEY 64
#define MAX_META_VALUE 65536

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
    for (i = 0; i < m->nmeta; i++) {
        seqcls__dealloc(m->meta[i].key);
        seqcls__dealloc(m->meta[i].value);
    }
    seqcls__dealloc(m->meta);
    m->meta = NULL;
    m->nmeta = 0;
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

/* Set the class names; with `check_count`, only as many as the model's
 * classes (files of seqcls 1.0, which did not check, load as they are). */
static int set_labels(seqcls_model_t *m, int n, const char *const *names, int check_count,
                      const char *func)
{
    const layer_t *out = model_output_layer(m);
    char **copy = NULL;
    int i;
    if (n < 0 || n > MAX_LABELS || (n > 0 && !names))
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: %d names%s", func, n,
                            n > 0 && !names ? " but names is NULL" : " is outside [0, 65536]");
    if (check_count && out && n != 0 && n != (out->out_F == 1 ? 2 : out->out_F))
        return seqcls__fail(SEQCLS_E_INVALID_ARG,
                            "%s: %d names for a model of %d classes (one logit: 2 classes)", func,
                            n, out->out_F == 1 ? 2 : out->out_F);
    for (i = 0; i < n; i++) {
        size_t len = names[i] ? strlen(names[i]) : 0;
        if (len == 0 || len > MAX_LABEL_BYTES)
            return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: name %d is %s", func, i,
                                !names[i] ? "NULL" : len ? "longer than 4096 bytes" : "empty");
        if (!vocab_utf8_valid((const unsigned char *)names[i], len))
            return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: name %d is not valid UTF-8", func, i);
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

int seqcls_model_set_labels(seqcls_model_t *m, int n, const char *const *names)
{
    const char *func = "seqcls_model_set_labels";
    seqcls__clear_error();
    if (!m)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: model is NULL", func);
    return set_labels(m, n, names, 1, func);
}

int seqcls_model_label_count(const seqcls_model_t *m) { return m ? m->nlabels : 0; }

const char *seqcls_model_label(const seqcls_model_t *m, int cls)
{
    if (!m || cls < 0 || cls >= m->nlabels)
        return NULL;
    return m->labels[cls];
}

/* ---- the key-value store ---- */

static int meta_key_ok(const char *key, size_t n)
{
    size_t i;
    if (n < 1 || n > MAX_META_KEY)
        return 0;
    for (i = 0; i < n; i++) {
        const unsigned char c = (unsigned char)key[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static int meta_find(const seqcls_model_t *m, const char *key, size_t n)
{
    int i;
    for (i = 0; i < m->nmeta; i++)
        if (strlen(m->meta[i].key) == n && memcmp(m->meta[i].key, key, n) == 0)
            return i;
    return -1;
}

static char *copy_text(const char *s, size_t n)
{
    char *p = seqcls__alloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* Set key[0, kn) to value[0, vn) (NULL: remove), checked; nothing changes on failure. */
static int meta_set(seqcls_model_t *m, const char *key, size_t kn, const char *value, size_t vn,
                    const char *func)
{
    int i = meta_find(m, key, kn);
    char *v = NULL;
    if (!meta_key_ok(key, kn))
        return seqcls__fail(SEQCLS_E_INVALID_ARG,
                            "%s: key '%.*s' is not 1 to 64 ASCII letters, digits, '.', '_' or '-'",
                            func, (int)(kn > MAX_META_KEY ? MAX_META_KEY : kn), key);
    if (value && (vn > MAX_META_VALUE || memchr(value, 0, vn) ||
                  !vocab_utf8_valid((const unsigned char *)value, vn)))
        return seqcls__fail(SEQCLS_E_INVALID_ARG,
                            "%s: the value of '%s' is not UTF-8 text of at most 65536 bytes",
                            func, key);
    if (!value) {
        if (i >= 0) {
            seqcls__dealloc(m->meta[i].key);
            seqcls__dealloc(m->meta[i].value);
            memmove(&m->meta[i], &m->meta[i + 1], (size_t)(m->nmeta - i - 1) * sizeof *m->meta);
            m->nmeta--;
        }
        return SEQCLS_OK;
    }
    if (i < 0 && m->nmeta >= MAX_META)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: the model already holds %d keys", func,
                            MAX_META);
    if (!(v = copy_text(value, vn)))
        return seqcls__fail(SEQCLS_E_NOMEM, "%s: out of memory", func);
    if (i >= 0) {
        seqcls__dealloc(m->meta[i].value);
        m->meta[i].value = v;
        return SEQCLS_OK;
    }
    {
        meta_entry_t *grown = seqcls__calloc((size_t)m->nmeta + 1, sizeof *grown);
        char *k = copy_text(key, kn);
        if (!grown || !k) {
            seqcls__dealloc(grown);
            seqcls__dealloc(k);
            seqcls__dealloc(v);
            return seqcls__fail(SEQCLS_E_NOMEM, "%s: out of memory", func);
        }
        if (m->nmeta)
            memcpy(grown, m->meta, (size_t)m->nmeta * sizeof *grown);
        grown[m->nmeta].key = k;
        grown[m->nmeta].value = v;
        seqcls__dealloc(m->meta);
        m->meta = grown;
        m->nmeta++;
    }
    return SEQCLS_OK;
}

int seqcls_model_set_meta(seqcls_model_t *m, const char *key, const char *value)
{
    const char *func = "seqcls_model_set_meta";
    seqcls__clear_error();
    if (!m || !key)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: %s is NULL", func, m ? "key" : "model");
    return meta_set(m, key, strlen(key), value, value ? strlen(value) : 0, func);
}

const char *seqcls_model_get_meta(const seqcls_model_t *m, const char *key)
{
    int i;
    if (!m || !key || (i = meta_find(m, key, strlen(key))) < 0)
        return NULL;
    return m->meta[i].value;
}

int seqcls_model_meta_count(const seqcls_model_t *m) { return m ? m->nmeta : 0; }

const char *seqcls_model_meta_key(const seqcls_model_t *m, int i)
{
    return m && i >= 0 && i < m->nmeta ? m->meta[i].key : NULL;
}

/*
 * "meta" payload (a lower-case tag: seqcls 1.0 skips it): u32 count, then
 * per entry a u32 key length, the key, a u32 value length, the value.
 */
static int meta_serialize(const seqcls_model_t *m, unsigned char **out, size_t *len)
{
    size_t n = 4, off = 0;
    unsigned char *p;
    int i;
    for (i = 0; i < m->nmeta; i++)
        n += 8 + strlen(m->meta[i].key) + strlen(m->meta[i].value);
    if (!(p = seqcls__alloc(n)))
        return seqcls__fail(SEQCLS_E_NOMEM, "out of memory for the model's metadata");
    le_put32(p, (uint32_t)m->nmeta);
    off = 4;
    for (i = 0; i < m->nmeta; i++) {
        const char *text[2] = {m->meta[i].key, m->meta[i].value};
        int j;
        for (j = 0; j < 2; j++) {
            size_t k = strlen(text[j]);
            le_put32(p + off, (uint32_t)k);
            memcpy(p + off + 4, text[j], k);
            off += 4 + k;
        }
    }
    *out = p;
    *len = n;
    return SEQCLS_OK;
}

static int meta_deserialize(seqcls_model_t *m, const unsigned char *p, size_t n, const char *func)
{
    size_t off = 4;
    uint32_t count, i;
    int rc = SEQCLS_OK;
    if (n < 4 || (count = le_get32(p)) > MAX_META || count > (n - 4) / 9)
        return seqcls__fail(SEQCLS_E_FORMAT, "%s: meta: the count of keys is %s", func,
                            n < 4 ? "missing" : "impossible");
    for (i = 0; i < count && rc == SEQCLS_OK; i++) {
        const unsigned char *text[2];
        size_t len[2];
        int j;
        for (j = 0; j < 2; j++) {
            if (n - off < 4 || le_get32(p + off) > n - off - 4)
                return seqcls__fail(SEQCLS_E_FORMAT, "%s: meta: entry %u is truncated", func,
                                    (unsigned)i);
            len[j] = le_get32(p + off);
            text[j] = p + off + 4;
            off += 4 + len[j];
        }
        if (meta_find(m, (const char *)text[0], len[0]) >= 0)
            return seqcls__fail(SEQCLS_E_FORMAT, "%s: meta: entry %u repeats a key", func,
                                (unsigned)i);
        rc = meta_set(m, (const char *)text[0], len[0], (const char *)text[1], len[1], func);
        if (rc == SEQCLS_E_INVALID_ARG) {
            char why[256];
            snprintf(why, sizeof why, "%s", seqcls_last_error());
            return seqcls__fail(SEQCLS_E_FORMAT, "meta: entry %u: %s", (unsigned)i, why);
        }
    }
    if (rc == SEQCLS_OK && off != n)
        rc = seqcls__fail(SEQCLS_E_FORMAT, "%s: meta: %zu bytes after the last entry", func,
                          n - off);
    return rc;
}

/* ---- in a model file: VOCB (docs/vocab-format.md), LABL and meta ---- */

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
        rc = set_labels(m, (int)count, (const char *const *)names, 0, func);
    for (i = 0; i < count && names; i++)
        seqcls__dealloc(names[i]);
    seqcls__dealloc(names);
    return rc;
}

int metadata_save_with(const seqcls_model_t *m, const seqcls_section_t *extra, int nextra,
                       const char *path, void **buf, size_t *len, const char *func)
{
    seqcls_section_t sec[9];
    void *vocab = NULL, *vopt = NULL;
    unsigned char *labels = NULL, *meta = NULL;
    size_t vlen = 0, olen = 0, llen = 0, mlen = 0;
    int n = 0, i, rc = SEQCLS_OK;

    if (nextra > 5)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: too many sections", func);
    for (i = 0; i < nextra; i++)
        sec[n++] = extra[i];
    /* the vocabulary's options in VOPT, written only when one is not at
     * its default: a required section, so that seqcls 1.0 refuses such a
     * model (it would read text in another way) and reads every other */
    if (m && m->vocab && (rc = vocab_serialize_tokens(m->vocab, &vocab, &vlen)) == SEQCLS_OK)
        sec[n++] = (seqcls_section_t){{'V', 'O', 'C', 'B'}, vocab, vlen};
    if (rc == SEQCLS_OK && m && m->vocab &&
        (rc = vocab_serialize_options(m->vocab, &vopt, &olen)) == SEQCLS_OK && vopt)
        sec[n++] = (seqcls_section_t){{'V', 'O', 'P', 'T'}, vopt, olen};
    if (rc == SEQCLS_OK && m && m->nlabels && (rc = labels_serialize(m, &labels, &llen)) == SEQCLS_OK)
        sec[n++] = (seqcls_section_t){{'L', 'A', 'B', 'L'}, labels, llen};
    if (rc == SEQCLS_OK && m && m->nmeta && (rc = meta_serialize(m, &meta, &mlen)) == SEQCLS_OK)
        sec[n++] = (seqcls_section_t){{'m', 'e', 't', 'a'}, meta, mlen};
    if (rc == SEQCLS_OK)
        rc = seqcls__model_save(m, sec, n, path, buf, len, func);
    seqcls__dealloc(vocab);
    seqcls__dealloc(vopt);
    seqcls__dealloc(labels);
    seqcls__dealloc(meta);
    return rc;
}

int metadata_load(seqcls_model_t *m, const void *buf, size_t len, const char *func)
{
    const void *p, *opt = NULL;
    size_t n, olen = 0;
    int rc = seqcls__model_section(buf, len, "VOPT", &opt, &olen, func);
    if (rc != SEQCLS_OK && rc != SEQCLS_E_RANGE)
        return rc;
    if (rc == SEQCLS_E_RANGE)
        opt = NULL;
    rc = seqcls__model_section(buf, len, "VOCB", &p, &n, func);
    if (rc == SEQCLS_OK) {
        seqcls_vocab_t *v = NULL;
        int in_options = 0;
        rc = vocab_deserialize_parts(&v, p, n, opt, opt ? olen : 0, &in_options);
        if (rc == SEQCLS_OK) {
            seqcls_vocab_free(m->vocab);
            m->vocab = v;
        } else if (rc == SEQCLS_E_FORMAT || rc == SEQCLS_E_VERSION) {
            char why[256];
            snprintf(why, sizeof why, "%s", seqcls_last_error());   /* fail() rewrites it */
            return seqcls__fail(rc, "%s: %s: %s", func, in_options ? "VOPT" : "VOCB", why);
        } else {
            return rc;
        }
    } else if (rc != SEQCLS_E_RANGE) {
        return rc;
    } else if (opt) {
        return seqcls__fail(SEQCLS_E_FORMAT,
                            "%s: VOPT: vocabulary options without a vocabulary (no VOCB)", func);
    }
    rc = seqcls__model_section(buf, len, "LABL", &p, &n, func);
    if (rc == SEQCLS_OK)
        rc = labels_deserialize(m, p, n, func);
    if (rc != SEQCLS_OK && rc != SEQCLS_E_RANGE)
        return rc;
    rc = seqcls__model_section(buf, len, "meta", &p, &n, func);
    if (rc == SEQCLS_OK)
        rc = meta_deserialize(m, p, n, func);
    if (rc != SEQCLS_OK && rc != SEQCLS_E_RANGE)
        return rc;
    seqcls__clear_error();   /* a missing optional section is no error */
    return SEQCLS_OK;
}
