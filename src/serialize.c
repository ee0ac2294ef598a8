/*
 * serialize.c -- saving and loading whole models.  The format is
 * described byte by byte in docs/file-format.md; in short:
 *
 *     "SQCL" | u32 version (1) | u32 flags (0)
 *     sections: u32 tag | u64 length | payload | u32 CRC-32 of the payload
 *       CONF  model options, then per layer its kind and every option
 *       PARM  per parameter: name, dtype, flags, ndim, shape, zero padding
 *             to a 64-byte file offset, float32 data
 *       OPTM, VOCB, VOPT, LABL, lower-case tags: skipped by the model loader
 *             (VOCB, VOPT, LABL and meta are read by metadata.c)
 *       ENDF  empty, last: a file cut at a section boundary is refused
 *
 * Every integer is little-endian and written byte by byte, so files are
 * the same on every host.  Saving walks the model twice with the same
 * code, once counting bytes (a section's length precedes it) and once
 * writing, straight into the caller's buffer or through a 64 KiB chunk
 * into the file.
 *
 * Loading trusts nothing: it checks every length against what is left,
 * every CRC, then rebuilds the layers through the public constructors
 * (which validate their arguments) from a table indexed by layer kind,
 * checks that each rebuilt layer has exactly the saved configuration and
 * that the rebuilt parameters have exactly the saved names and shapes,
 * and refuses NaN and Inf.  What rebuilding may allocate is bounded by
 * the size of the parameter data actually present in the file.
 */
#include "internal.h"
#include "io.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define FORMAT_VERSION 1u
#define HEADER_BYTES 12u       /* magic, version, flags */
#define SECTION_HEAD 12u       /* tag, length */
#define SECTION_TAIL 4u        /* CRC-32 */
#define DATA_ALIGN 64u         /* parameter data starts at a multiple of this file offset */
#define NAME_MAX_BYTES 63u     /* param_t names hold 63 characters */
#define MAX_OPTIONS 256u       /* per layer, and for the model */
#define CHUNK_BYTES 65536u     /* write buffer of seqcls_model_save */
/* The most a CONF section can hold: the model options, and the most
 * layers with the most options, each option at most 16 bytes. */
#define CONF_MAX_BYTES (8u + MAX_OPTIONS * 16u + (size_t)MODEL_MAX_LAYERS * (8u + MAX_OPTIONS * 16u))
/* Model files above this size have their CRCs checked, through a chunk
 * buffer, before the file is read into memory (below it, holding the
 * file costs little). */
#define CRC_FIRST_BYTES ((size_t)1 << 20)

/* What rebuilding may allocate beyond two copies (value, gradient) of
 * the parameter data in the file: per parameter, per layer, and once. */
#define LOAD_PER_PARAM 1024u
#define LOAD_PER_LAYER 2048u
#define LOAD_SLACK ((size_t)1 << 20)

#define TAG4(a, b, c, d) \
    ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)
#define TAG_CONF TAG4('C', 'O', 'N', 'F')
#define TAG_PARM TAG4('P', 'A', 'R', 'M')
#define TAG_OPTM TAG4('O', 'P', 'T', 'M')
#define TAG_VOCB TAG4('V', 'O', 'C', 'B')
#define TAG_LABL TAG4('L', 'A', 'B', 'L')
#define TAG_VOPT TAG4('V', 'O', 'P', 'T')   /* vocabulary options, since 1.1 */
#define TAG_ENDF TAG4('E', 'N', 'D', 'F')
#define TAG_QUNT TAG4('Q', 'U', 'N', 'T')   /* a quantised model, since 1.1 */

/* Option value types; the type fixes the value's size.  Layer fields use
 * the first three (FIELD_I32 .. FIELD_F32, the same numbers). */
enum { OT_I32 = FIELD_I32, OT_U32 = FIELD_U32, OT_F32 = FIELD_F32, OT_U64 = 4 };

/* Model options (CONF).  Ids are never reused or renumbered. */
enum { MO_SEED = 1, MO_RNG0 = 2, MO_RNG3 = 5, MO_WRITER = 6 };

/* Parameter dtype and flags (PARM). */
#define PARM_DTYPE_F32 1u
#define PARM_DTYPE_INT8 8u     /* since 1.1: int8 per row, then the rows' f32 scales */
#define PARM_DTYPE_BF16 16u    /* since 1.1: bfloat16 */
#define QUNT_VERSION 1u
#define PARM_TRAINABLE 1u

/* A field's value as text, for messages. */
static const char *field_text(uint32_t type, uint32_t v, char *buf, size_t n)
{
    if (type == OT_F32) {
        float x;
        memcpy(&x, &v, 4);
        snprintf(buf, n, "%.9g", (double)x);
    } else if (type == OT_U32) {
        snprintf(buf, n, "0x%x", (unsigned)v);
    } else {
        snprintf(buf, n, "%d", (int)(int32_t)v);
    }
    return buf;
}

/* ------------------------------------------------------------------ */
/* Writing                                                             */
/* ------------------------------------------------------------------ */

typedef struct {
    unsigned char *buf;      /* NULL: only count bytes */
    size_t cap, n;           /* capacity of buf, bytes in it */
    uint64_t pos;            /* bytes emitted since the start of the file */
    uint32_t crc;            /* CRC-32 of the current section's payload so far */
    file_atomic_t *file;     /* full buffers go here; NULL: buf holds the whole file */
    int rc;                  /* first failure */
    const char *func;        /* for messages */
} writer_t;

static void w_bytes(writer_t *w, const void *data, size_t n)
{
    const unsigned char *p = data;
    if (w->rc)
        return;
    w->pos += n;
    if (!w->buf)
        return;
    w->crc = seqcls__crc32(w->crc, p, n);
    while (n > 0) {
        size_t k;
        if (w->n == w->cap) {
            if (!w->file) {
                w->rc = seqcls__fail(SEQCLS_E_STATE, "internal error: the model changed while "
                                     "being saved");
                return;
            }
            w->rc = file_atomic_write(w->file, w->buf, w->n);
            if (w->rc)
                return;
            w->n = 0;
        }
        k = w->cap - w->n < n ? w->cap - w->n : n;
        memcpy(w->buf + w->n, p, k);
        w->n += k;
        p += k;
        n -= k;
    }
}

static void w_u32(writer_t *w, uint32_t v)
{
    unsigned char b[4];
    le_put32(b, v);
    w_bytes(w, b, 4);
}

static void w_u64(writer_t *w, uint64_t v)
{
    unsigned char b[8];
    le_put32(b, (uint32_t)v);
    le_put32(b + 4, (uint32_t)(v >> 32));
    w_bytes(w, b, 8);
}

static void w_option32(writer_t *w, uint32_t id, uint32_t type, uint32_t v)
{
    w_u32(w, id);
    w_u32(w, type);
    w_u32(w, v);
}

static void w_option64(writer_t *w, uint32_t id, uint64_t v)
{
    w_u32(w, id);
    w_u32(w, OT_U64);
    w_u64(w, v);
}

/* Values as float32 little-endian (converted from double in the
 * gradient-check build). */
static void w_reals(writer_t *w, const real *x, size_t n)
{
    unsigned char b[4096];
    size_t i, k;
    if (!w->buf) {
        w->pos += (uint64_t)n * 4;
        return;
    }
    while (n > 0 && !w->rc) {
        k = n < sizeof b / 4 ? n : sizeof b / 4;
        for (i = 0; i < k; i++) {
            float f = (float)x[i];
            uint32_t bits;
            memcpy(&bits, &f, 4);
            le_put32(b + 4 * i, bits);
        }
        w_bytes(w, b, 4 * k);
        x += k;
        n -= k;
    }
}

/* Is a field written for L?  Those of version 1 always; later ones only
 * when they differ from their default (docs/file-format.md). */
static int field_written(const layer_t *L, int f)
{
    return layer_fields[f].file_id <= FIELD_LAST_V1_ID ||
           layer_field_get(L, f) != layer_fields[f].default_bits;
}

static void conf_body(writer_t *w, const seqcls_model_t *m)
{
    int i, k, f, n;
    w_u32(w, 6);
    w_option64(w, MO_SEED, m->seed);
    for (k = 0; k < 4; k++)
        w_option64(w, (uint32_t)(MO_RNG0 + k), m->rng.s[k]);
    w_option32(w, MO_WRITER, OT_U32, SEQCLS_VERSION_NUMBER);
    w_u32(w, (uint32_t)m->nlayers);
    for (i = 0; i < m->nlayers; i++) {
        const layer_t *L = m->layers[i];
        w_u32(w, (uint32_t)L->ops->kind);
        for (f = n = 0; f < FIELD_COUNT; f++)
            n += field_written(L, f);
        w_u32(w, (uint32_t)n);
        for (f = 0; f < FIELD_COUNT; f++)
            if (field_written(L, f))
                w_option32(w, layer_fields[f].file_id, (uint32_t)layer_fields[f].type,
                           layer_field_get(L, f));
    }
}

static void parm_body(writer_t *w, const seqcls_model_t *m)
{
    static const unsigned char zeros[DATA_ALIGN];
    int i, d;
    w_u32(w, (uint32_t)m->nparams);
    for (i = 0; i < m->nparams; i++) {
        const param_t *p = &m->params[i];
        size_t len = strlen(p->name);
        w_u32(w, (uint32_t)len);
        w_bytes(w, p->name, len);
        const int q = m->quant && quant_param(m, i);
        w_u32(w, !q ? PARM_DTYPE_F32 : m->quant == QMODE_INT8 ? PARM_DTYPE_INT8 : PARM_DTYPE_BF16);
        w_u32(w, p->trainable ? PARM_TRAINABLE : 0);
        w_u32(w, (uint32_t)p->value->ndim);
        for (d = 0; d < p->value->ndim; d++)
            w_u64(w, (uint64_t)p->value->shape[d]);
        w_bytes(w, zeros, (DATA_ALIGN - w->pos % DATA_ALIGN) % DATA_ALIGN);
        if (!q) {
            w_reals(w, p->value->data, p->value->numel);
        } else if (!w->buf) {
            w->pos += quant_param_bytes(m, i);
        } else if (!w->rc) {
            /* a quantised weight (quant.c writes its bytes) */
            const size_t n = quant_param_bytes(m, i);
            unsigned char *data = seqcls__alloc(n);
            if (!data) {
                w->rc = seqcls__fail(SEQCLS_E_NOMEM, "%s: out of memory for %zu bytes", w->func,
                                     n);
                return;
            }
            quant_param_write(m, i, data);
            w_bytes(w, data, n);
            seqcls__dealloc(data);
        }
    }
}

/* QUNT: u32 version 1, u32 precision (SEQCLS_INT8 or SEQCLS_BF16). */
static void qunt_body(writer_t *w, const seqcls_model_t *m)
{
    w_u32(w, QUNT_VERSION);
    w_u32(w, m->quant == QMODE_INT8 ? SEQCLS_INT8 : SEQCLS_BF16);
}

static void empty_body(writer_t *w, const seqcls_model_t *m)
{
    (void)w;
    (void)m;
}

/* tag | length | payload | CRC, the length found by a counting pass. */
static void w_section(writer_t *w, uint32_t tag,
                      void (*body)(writer_t *, const seqcls_model_t *), const seqcls_model_t *m)
{
    writer_t count;
    uint64_t start = w->pos + SECTION_HEAD;
    memset(&count, 0, sizeof count);
    count.pos = start;
    body(&count, m);
    w_u32(w, tag);
    w_u64(w, count.pos - start);
    w->crc = 0;
    body(w, m);
    w_u32(w, w->crc);
}

static void write_model(writer_t *w, const seqcls_model_t *m, const seqcls_section_t *extra,
                        int nextra)
{
    int i;
    w_bytes(w, "SQCL", 4);
    w_u32(w, FORMAT_VERSION);
    w_u32(w, 0);
    w_section(w, TAG_CONF, conf_body, m);
    if (m->quant)   /* a required section: seqcls 1.0 refuses the file (SEQCLS_E_VERSION) */
        w_section(w, TAG_QUNT, qunt_body, m);
    w_section(w, TAG_PARM, parm_body, m);
    for (i = 0; i < nextra; i++) {
        w_bytes(w, extra[i].tag, 4);
        w_u64(w, (uint64_t)extra[i].len);
        w->crc = 0;
        w_bytes(w, extra[i].data, extra[i].len);
        w_u32(w, w->crc);
    }
    w_section(w, TAG_ENDF, empty_body, m);
}

static int tag_char_ok(unsigned c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* Extra sections must have valid tags, none of the model's own, no two
 * alike (a caller's mistake, not the user's). */
static int check_extra(const seqcls_section_t *extra, int nextra, const char *func)
{
    int i, j, k;
    if (nextra < 0 || (nextra > 0 && !extra))
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: bad list of extra sections", func);
    for (i = 0; i < nextra; i++) {
        const char *t = extra[i].tag;
        for (k = 0; k < 4; k++)
            if (!tag_char_ok((unsigned char)t[k]))
                return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: invalid section tag", func);
        if (!memcmp(t, "CONF", 4) || !memcmp(t, "PARM", 4) || !memcmp(t, "ENDF", 4) ||
            !memcmp(t, "QUNT", 4))
            return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: section %.4s is the model's own", func,
                                t);
        if (extra[i].len > 0 && !extra[i].data)
            return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: section %.4s has no data", func, t);
        for (j = 0; j < i; j++)
            if (!memcmp(extra[j].tag, t, 4))
                return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: section %.4s given twice", func,
                                    t);
    }
    return SEQCLS_OK;
}

/* Refuse to save what could not be loaded: values that are not finite
 * as float32. */
static int check_saveable(const seqcls_model_t *m, const char *func)
{
    int i;
    size_t k;
    for (i = 0; i < m->nparams; i++) {
        const param_t *p = &m->params[i];
        const real *x = p->value->data;
        if (!x)   /* a quantised weight: finite by construction */
            continue;
        for (k = 0; k < p->value->numel; k++)
            if (!isfinite(x[k]) || fabs((double)x[k]) > FLT_MAX)
                return seqcls__fail(SEQCLS_E_NUMERIC,
                                    "%s: parameter %s element %zu is %s; nothing was saved", func,
                                    p->name, k, isfinite(x[k]) ? "too large for float32"
                                                                : "not finite");
    }
    return SEQCLS_OK;
}

int seqcls__model_save(const seqcls_model_t *m, const seqcls_section_t *extra, int nextra,
                       const char *path, void **buf, size_t *len, const char *func)
{
    file_atomic_t file;
    writer_t w;
    uint64_t total;
    int rc;

    rc = check_saveable(m, func);
    if (rc == SEQCLS_OK)
        rc = check_extra(extra, nextra, func);
    if (rc)
        return rc;
    memset(&w, 0, sizeof w);
    if (!path) {
        /* Into one buffer of exactly the right size. */
        write_model(&w, m, extra, nextra);
        total = w.pos;
        if (total > SIZE_MAX)
            return seqcls__fail(SEQCLS_E_NOMEM, "%s: the model needs %llu bytes", func,
                                (unsigned long long)total);
        memset(&w, 0, sizeof w);
        w.func = func;
        w.cap = (size_t)total;
        w.buf = seqcls__alloc(w.cap);
        if (!w.buf)
            return seqcls__fail(SEQCLS_E_NOMEM, "%s: out of memory for %zu bytes", func, w.cap);
        write_model(&w, m, extra, nextra);
        if (w.rc == SEQCLS_OK && w.n != w.cap)
            w.rc = seqcls__fail(SEQCLS_E_STATE, "%s: internal error: wrote %zu bytes of %zu",
                                func, w.n, w.cap);
        if (w.rc) {
            seqcls__dealloc(w.buf);
            return w.rc;
        }
        *buf = w.buf;
        *len = w.cap;
        return SEQCLS_OK;
    }
    /* Into the file through a chunk buffer. */
    w.func = func;
    w.cap = CHUNK_BYTES;
    w.buf = seqcls__alloc(w.cap);
    if (!w.buf)
        return seqcls__fail(SEQCLS_E_NOMEM, "%s: out of memory", func);
    rc = file_atomic_open(&file, path, func);
    if (rc == SEQCLS_OK) {
        w.file = &file;
        write_model(&w, m, extra, nextra);
        rc = w.rc;
        if (rc == SEQCLS_OK)
            rc = file_atomic_write(&file, w.buf, w.n);
        if (rc == SEQCLS_OK)
            rc = file_atomic_commit(&file);
        else
            file_atomic_abort(&file);
    }
    seqcls__dealloc(w.buf);
    return rc;
}

int seqcls_model_save_buffer(const seqcls_model_t *m, void **buf, size_t *len)
{
    const char *func = "seqcls_model_save_buffer";
    seqcls__clear_error();
    if (buf)
        *buf = NULL;
    if (len)
        *len = 0;
    if (!m || !buf || !len)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: %s is NULL", func,
                            !m ? "model" : !buf ? "buf" : "len");
    return metadata_save(m, NULL, buf, len, func);
}

int seqcls_model_save(const seqcls_model_t *m, const char *path)
{
    const char *func = "seqcls_model_save";
    seqcls__clear_error();
    if (!m || !path)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: %s is NULL", func, !m ? "model" : "path");
    if (!*path)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: path is empty", func);
    return metadata_save(m, path, NULL, NULL, func);
}

/* ------------------------------------------------------------------ */
/* Reading                                                             */
/* ------------------------------------------------------------------ */

/* A section payload being read. */
typedef struct {
    const unsigned char *p;
    size_t n, off;           /* length, read position */
    size_t base;             /* file offset of p[0] */
} reader_t;

static int r_take(reader_t *r, size_t n, const unsigned char **out)
{
    if (r->n - r->off < n)
        return 0;
    *out = r->p + r->off;
    r->off += n;
    return 1;
}

static int r_u32(reader_t *r, uint32_t *v)
{
    const unsigned char *p;
    if (!r_take(r, 4, &p))
        return 0;
    *v = le_get32(p);
    return 1;
}

static int r_u64(reader_t *r, uint64_t *v)
{
    const unsigned char *p;
    if (!r_take(r, 8, &p))
        return 0;
    *v = le_get64(p);
    return 1;
}

static size_t r_left(const reader_t *r) { return r->n - r->off; }

typedef struct {
    const char *who;         /* message prefix: function, and the file's name */
    const unsigned char *buf;
    size_t len;
    reader_t conf, parm, qunt;
    int have_conf, have_parm, have_optm, have_vocb, have_labl, have_vopt, have_qunt;
    int qmode;               /* from QUNT: QMODE_*, or 0 */
    const char *want;        /* seqcls__model_section: the tag looked for */
    const unsigned char *found;
    size_t found_len;
    uint32_t nparams;        /* from PARM */
    uint64_t numel;          /* total elements in PARM */
    uint32_t nlayers;        /* from CONF */
} load_t;

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static int lfail(const load_t *ld, int status, const char *section, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (section)
        return seqcls__fail(status, "%s: %s: %s", ld->who, section, msg);
    return seqcls__fail(status, "%s: %s", ld->who, msg);
}

static int read_header(load_t *ld)
{
    uint32_t version, flags;
    if (ld->len == 0)
        return lfail(ld, SEQCLS_E_FORMAT, NULL, "the data is empty (0 bytes), not a seqcls model");
    if (ld->len < 4 || memcmp(ld->buf, "SQCL", 4) != 0)
        return lfail(ld, SEQCLS_E_FORMAT, NULL,
                     "not a seqcls model (the first bytes are not \"SQCL\")");
    if (ld->len < HEADER_BYTES)
        return lfail(ld, SEQCLS_E_FORMAT, NULL, "truncated: %zu bytes, the header alone has %u",
                     ld->len, HEADER_BYTES);
    version = le_get32(ld->buf + 4);
    flags = le_get32(ld->buf + 8);
    if (version == 0)
        return lfail(ld, SEQCLS_E_FORMAT, NULL, "format version 0 does not exist");
    if (version > FORMAT_VERSION)
        return lfail(ld, SEQCLS_E_VERSION, NULL,
                     "format version %u is newer than this library's (%u): a newer seqcls "
                     "wrote it", (unsigned)version, FORMAT_VERSION);
    if (flags != 0)
        return lfail(ld, SEQCLS_E_VERSION, NULL,
                     "header flags 0x%x are unknown to this version of seqcls", (unsigned)flags);
    return SEQCLS_OK;
}

/* The head of the section at byte `off` (h: its first SECTION_HEAD
 * bytes) of data of `total` bytes: a valid tag, and a length that fits
 * in what is left.  Shared by read_sections and the walk of a file. */
static int section_head(const load_t *ld, size_t off, const unsigned char *h, size_t total,
                        uint64_t *length)
{
    char name[5];
    size_t avail;
    if (!tag_char_ok(h[0]) || !tag_char_ok(h[1]) || !tag_char_ok(h[2]) || !tag_char_ok(h[3]))
        return lfail(ld, SEQCLS_E_FORMAT, NULL,
                     "the section at byte %zu has no valid tag (bytes %02x %02x %02x %02x)",
                     off, h[0], h[1], h[2], h[3]);
    memcpy(name, h, 4);
    name[4] = '\0';
    *length = le_get64(h + 4);
    avail = total - off - SECTION_HEAD - SECTION_TAIL;
    if (*length > avail)
        return lfail(ld, SEQCLS_E_FORMAT, name,
                     "length %llu at byte %zu runs past the end of the data (%zu bytes left): "
                     "truncated or damaged", (unsigned long long)*length, off + 4, avail);
    if (le_get32(h) == TAG_ENDF && *length != 0)
        return lfail(ld, SEQCLS_E_FORMAT, name, "the end section must be empty, not %llu bytes",
                     (unsigned long long)*length);
    if (le_get32(h) == TAG_CONF && *length > CONF_MAX_BYTES)
        return lfail(ld, SEQCLS_E_FORMAT, name,
                     "length %llu is more than any configuration needs (at most %zu bytes)",
                     (unsigned long long)*length, (size_t)CONF_MAX_BYTES);
    return SEQCLS_OK;
}

static int after_end(const load_t *ld, size_t off, size_t total)
{
    return lfail(ld, SEQCLS_E_FORMAT, NULL, "%zu bytes follow the end section (ENDF)", total - off);
}

static int too_short_for_section(const load_t *ld, size_t off, size_t total)
{
    return lfail(ld, SEQCLS_E_FORMAT, NULL,
                 "truncated: a section at byte %zu needs at least %u bytes, %zu are left", off,
                 SECTION_HEAD + SECTION_TAIL, total - off);
}

static int no_end(const load_t *ld, size_t off)
{
    return lfail(ld, SEQCLS_E_FORMAT, NULL,
                 "truncated: the end section (ENDF) is missing after byte %zu", off);
}

/* Walk the sections: lengths, tags, CRCs; find CONF and PARM. */
static int read_sections(load_t *ld)
{
    size_t off = HEADER_BYTES;
    int ended = 0;

    while (off < ld->len) {
        const unsigned char *h = ld->buf + off;
        uint32_t tag, stored, crc;
        uint64_t length;
        char name[5];
        reader_t *slot = NULL;
        int *have = NULL;
        int rc;

        if (ended)
            return after_end(ld, off, ld->len);
        if (ld->len - off < SECTION_HEAD + SECTION_TAIL)
            return too_short_for_section(ld, off, ld->len);
        rc = section_head(ld, off, h, ld->len, &length);
        if (rc)
            return rc;
        memcpy(name, h, 4);
        name[4] = '\0';
        tag = le_get32(h);
        stored = le_get32(h + SECTION_HEAD + (size_t)length);
        crc = seqcls__crc32(0, h + SECTION_HEAD, (size_t)length);
        if (crc != stored)
            return lfail(ld, SEQCLS_E_FORMAT, name,
                         "CRC-32 mismatch (stored %08x, computed %08x): the data is damaged",
                         (unsigned)stored, (unsigned)crc);
        switch (tag) {
        case TAG_CONF:
            slot = &ld->conf;
            have = &ld->have_conf;
            break;
        case TAG_PARM:
            slot = &ld->parm;
            have = &ld->have_parm;
            break;
        case TAG_OPTM:    /* optimiser state, vocabulary: for other calls to read */
            have = &ld->have_optm;
            break;
        case TAG_VOCB:
            have = &ld->have_vocb;
            break;
        case TAG_LABL:    /* class names: read by metadata.c */
            have = &ld->have_labl;
            break;
        case TAG_VOPT:    /* vocabulary options: read by metadata.c */
            have = &ld->have_vopt;
            break;
        case TAG_QUNT:    /* a quantised model */
            slot = &ld->qunt;
            have = &ld->have_qunt;
            break;
        case TAG_ENDF:   /* empty: section_head checked */
            ended = 1;
            break;
        default:
            /* As PNG: a lower-case first letter marks a section readers
             * may skip; any other unknown section is needed to read the
             * file correctly. */
            if (!(h[0] >= 'a' && h[0] <= 'z'))
                return lfail(ld, SEQCLS_E_VERSION, NULL,
                             "required section '%s' at byte %zu is unknown to this version of "
                             "seqcls (a newer version wrote it)", name, off);
            break;
        }
        if (have) {
            if (*have)
                return lfail(ld, SEQCLS_E_FORMAT, name, "appears twice");
            *have = 1;
        }
        if (ld->want && memcmp(h, ld->want, 4) == 0) {
            ld->found = h + SECTION_HEAD;
            ld->found_len = (size_t)length;
        }
        if (slot) {
            slot->p = h + SECTION_HEAD;
            slot->n = (size_t)length;
            slot->off = 0;
            slot->base = off + SECTION_HEAD;
        }
        off += SECTION_HEAD + (size_t)length + SECTION_TAIL;
    }
    if (!ended)
        return no_end(ld, off);
    if (!ld->have_conf)
        return lfail(ld, SEQCLS_E_FORMAT, NULL, "there is no CONF section");
    if (!ld->have_parm)
        return lfail(ld, SEQCLS_E_FORMAT, NULL, "there is no PARM section");
    return SEQCLS_OK;
}

/* One parameter record of PARM, checked against the section's bounds. */
typedef struct {
    const char *name;
    uint32_t name_len;
    uint32_t flags;
    int ndim;
    int64_t shape[SEQCLS_MAX_DIMS];
    size_t numel;
    uint32_t dtype;          /* PARM_DTYPE_* */
    size_t bytes;            /* of data */
    const unsigned char *data;
} prec_t;

static void shape_text(char *buf, size_t n, int ndim, const int64_t *shape)
{
    size_t used = 0;
    int d;
    used += (size_t)snprintf(buf, n, "[");
    for (d = 0; d < ndim && used < n; d++)
        used += (size_t)snprintf(buf + used, n - used, "%s%lld", d ? ", " : "",
                                 (long long)shape[d]);
    if (used < n)
        snprintf(buf + used, n - used, "]");
}

static int parse_param(const load_t *ld, reader_t *r, uint32_t i, prec_t *p)
{
    const unsigned char *bytes;
    uint32_t dtype, ndim, k;
    uint64_t dim;
    size_t pad, numel = 1;

#define TRUNC() lfail(ld, SEQCLS_E_FORMAT, "PARM", "parameter %u: record truncated at byte %zu", \
                      (unsigned)i, r->base + r->off)
    if (!r_u32(r, &p->name_len))
        return TRUNC();
    if (p->name_len < 1 || p->name_len > NAME_MAX_BYTES)
        return lfail(ld, SEQCLS_E_FORMAT, "PARM", "parameter %u: name length %u is outside [1, %u]",
                     (unsigned)i, (unsigned)p->name_len, NAME_MAX_BYTES);
    if (!r_take(r, p->name_len, &bytes))
        return TRUNC();
    for (k = 0; k < p->name_len; k++)
        if (bytes[k] <= 0x20 || bytes[k] >= 0x7f)
            return lfail(ld, SEQCLS_E_FORMAT, "PARM",
                         "parameter %u: its name has byte 0x%02x, not a printable character",
                         (unsigned)i, bytes[k]);
    p->name = (const char *)bytes;
    if (!r_u32(r, &dtype) || !r_u32(r, &p->flags) || !r_u32(r, &ndim))
        return TRUNC();
    /* int8 and bfloat16 only in a quantised model (QUNT) of that precision */
    if (dtype != PARM_DTYPE_F32 &&
        !(ld->qmode == QMODE_INT8 && dtype == PARM_DTYPE_INT8) &&
        !(ld->qmode == QMODE_BF16 && dtype == PARM_DTYPE_BF16))
        return lfail(ld, SEQCLS_E_FORMAT, "PARM",
                     "parameter %u (%.*s): dtype %u is not 1 (float32)%s", (unsigned)i,
                     (int)p->name_len, p->name, (unsigned)dtype,
                     ld->qmode == QMODE_INT8   ? " or 8 (int8)"
                     : ld->qmode == QMODE_BF16 ? " or 16 (bfloat16)"
                                               : "");
    p->dtype = dtype;
    if (dtype != PARM_DTYPE_F32 && ndim != 2)
        return lfail(ld, SEQCLS_E_FORMAT, "PARM", "parameter %u (%.*s): a quantised parameter "
                     "has 2 dimensions, not %u", (unsigned)i, (int)p->name_len, p->name,
                     (unsigned)ndim);
    if (p->flags & ~PARM_TRAINABLE)
        return lfail(ld, SEQCLS_E_FORMAT, "PARM", "parameter %u (%.*s): unknown flags 0x%x",
                     (unsigned)i, (int)p->name_len, p->name, (unsigned)p->flags);
    if (ndim < 1 || ndim > SEQCLS_MAX_DIMS)
        return lfail(ld, SEQCLS_E_FORMAT, "PARM", "parameter %u (%.*s): ndim %u is outside [1, %d]",
                     (unsigned)i, (int)p->name_len, p->name, (unsigned)ndim, SEQCLS_MAX_DIMS);
    p->ndim = (int)ndim;
    for (k = 0; k < ndim; k++) {
        if (!r_u64(r, &dim))
            return TRUNC();
        /* The elements must fit in what is left, 4 bytes each (int8: 1,
         * bfloat16: 2). */
        if (dim > (uint64_t)INT32_MAX ||
            (dim != 0 && numel > r_left(r) / (dtype == PARM_DTYPE_F32 ? 4 : dtype == PARM_DTYPE_BF16 ? 2 : 1) / dim))
            return lfail(ld, SEQCLS_E_FORMAT, "PARM",
                         "parameter %u (%.*s): dimension %u = %llu is more than the section "
                         "holds", (unsigned)i, (int)p->name_len, p->name, (unsigned)k,
                         (unsigned long long)dim);
        p->shape[k] = (int64_t)dim;
        numel *= (size_t)dim;
    }
    p->numel = numel;
    pad = (DATA_ALIGN - (r->base + r->off) % DATA_ALIGN) % DATA_ALIGN;
    if (!r_take(r, pad, &bytes))
        return TRUNC();
    for (k = 0; k < pad; k++)
        if (bytes[k] != 0)
            return lfail(ld, SEQCLS_E_FORMAT, "PARM",
                         "parameter %u (%.*s): the padding before its data is not zero",
                         (unsigned)i, (int)p->name_len, p->name);
    /* float32: 4 bytes each; bfloat16: 2; int8: 1, padded to 4, then a
     * float32 scale per row */
    p->bytes = dtype == PARM_DTYPE_F32    ? numel * 4
               : dtype == PARM_DTYPE_BF16 ? numel * 2
                                          : (numel + 3) / 4 * 4 + 4 * (size_t)p->shape[0];
    if (p->bytes > r_left(r))
        return lfail(ld, SEQCLS_E_FORMAT, "PARM",
                     "parameter %u (%.*s): %zu elements need %zu bytes, only %zu are left",
                     (unsigned)i, (int)p->name_len, p->name, numel, p->bytes, r_left(r));
    r_take(r, p->bytes, &p->data);
    return SEQCLS_OK;
#undef TRUNC
}

/* QUNT: u32 version (1), u32 precision (SEQCLS_INT8 or SEQCLS_BF16). */
static int read_qunt(load_t *ld)
{
    reader_t r = ld->qunt;
    uint32_t version, precision;
    if (!r_u32(&r, &version) || !r_u32(&r, &precision) || r_left(&r) != 0)
        return lfail(ld, SEQCLS_E_FORMAT, "QUNT", "%zu bytes instead of 8", ld->qunt.n);
    if (version != QUNT_VERSION)
        return lfail(ld, version > QUNT_VERSION ? SEQCLS_E_VERSION : SEQCLS_E_FORMAT, "QUNT",
                     "version %u is not 1", (unsigned)version);
    if (precision == SEQCLS_INT8)
        ld->qmode = QMODE_INT8;
    else if (precision == SEQCLS_BF16)
        ld->qmode = QMODE_BF16;
    else
        return lfail(ld, SEQCLS_E_VERSION, "QUNT",
                     "precision %u is unknown to this version of seqcls", (unsigned)precision);
    return SEQCLS_OK;
}

/* First pass over PARM: its structure, and how much data it holds. */
static int scan_parm(load_t *ld)
{
    reader_t r = ld->parm;
    prec_t p;
    uint32_t i;
    int rc;
    if (!r_u32(&r, &ld->nparams))
        return lfail(ld, SEQCLS_E_FORMAT, "PARM", "too short to hold the parameter count");
    /* A record takes at least 25 bytes (name length, a 1-byte name,
     * dtype, flags, ndim, one dimension). */
    if (ld->nparams > r_left(&r) / 25)
        return lfail(ld, SEQCLS_E_FORMAT, "PARM", "%u parameters cannot fit in %zu bytes",
                     (unsigned)ld->nparams, r_left(&r));
    ld->numel = 0;
    for (i = 0; i < ld->nparams; i++) {
        rc = parse_param(ld, &r, i, &p);
        if (rc)
            return rc;
        ld->numel += p.numel;
    }
    if (r_left(&r) != 0)
        return lfail(ld, SEQCLS_E_FORMAT, "PARM", "%zu bytes follow the last parameter",
                     r_left(&r));
    return SEQCLS_OK;
}

/* One option: id, type, value (4 or 8 bytes as the type says). */
static int read_option(const load_t *ld, reader_t *r, const char *where, uint32_t *id,
                       uint32_t *type, uint64_t *value)
{
    uint32_t v32;
    if (!r_u32(r, id) || !r_u32(r, type))
        return lfail(ld, SEQCLS_E_FORMAT, "CONF", "%s: truncated at byte %zu", where,
                     r->base + r->off);
    switch (*type) {
    case OT_I32:
    case OT_U32:
    case OT_F32:
        if (!r_u32(r, &v32))
            return lfail(ld, SEQCLS_E_FORMAT, "CONF", "%s: option %u is truncated", where,
                         (unsigned)*id);
        *value = v32;
        return SEQCLS_OK;
    case OT_U64:
        if (!r_u64(r, value))
            return lfail(ld, SEQCLS_E_FORMAT, "CONF", "%s: option %u is truncated", where,
                         (unsigned)*id);
        return SEQCLS_OK;
    default:
        return lfail(ld, SEQCLS_E_VERSION, "CONF",
                     "%s: option %u has value type %u, unknown to this version of seqcls", where,
                     (unsigned)*id, (unsigned)*type);
    }
}

typedef struct {
    uint64_t seed;
    uint64_t rng[4];
    int have_seed, have_rng;
} model_conf_t;

static int read_model_options(load_t *ld, reader_t *r, model_conf_t *mc)
{
    uint32_t n, i, id, type;
    uint64_t v, seen = 0;
    int rc;
    memset(mc, 0, sizeof *mc);
    if (!r_u32(r, &n))
        return lfail(ld, SEQCLS_E_FORMAT, "CONF", "too short to hold the model options");
    if (n > MAX_OPTIONS)
        return lfail(ld, SEQCLS_E_FORMAT, "CONF", "%u model options is more than %u", (unsigned)n,
                     MAX_OPTIONS);
    for (i = 0; i < n; i++) {
        rc = read_option(ld, r, "model options", &id, &type, &v);
        if (rc)
            return rc;
        if (id < 1 || id > MO_WRITER)
            return lfail(ld, SEQCLS_E_VERSION, "CONF",
                         "model option %u is unknown to this version of seqcls", (unsigned)id);
        if (seen & ((uint64_t)1 << id))
            return lfail(ld, SEQCLS_E_FORMAT, "CONF", "model option %u appears twice",
                         (unsigned)id);
        seen |= (uint64_t)1 << id;
        if (type != (id == MO_WRITER ? (uint32_t)OT_U32 : (uint32_t)OT_U64))
            return lfail(ld, SEQCLS_E_FORMAT, "CONF", "model option %u has the wrong type %u",
                         (unsigned)id, (unsigned)type);
        if (id == MO_SEED) {
            mc->seed = v;
            mc->have_seed = 1;
        } else if (id >= MO_RNG0 && id <= MO_RNG3) {
            mc->rng[id - MO_RNG0] = v;
        }
        /* MO_WRITER: the version of the library that wrote the file, for
         * people reading dumps; it changes nothing. */
    }
    if (!mc->have_seed)
        return lfail(ld, SEQCLS_E_FORMAT, "CONF", "the model seed (option 1) is missing");
    {
        uint64_t rng_bits = (((uint64_t)1 << (MO_RNG3 + 1)) - 1) & ~(((uint64_t)1 << MO_RNG0) - 1);
        if ((seen & rng_bits) != 0 && (seen & rng_bits) != rng_bits)
            return lfail(ld, SEQCLS_E_FORMAT, "CONF",
                         "the random state (options 2-5) is incomplete");
        if ((seen & rng_bits) != 0) {
            if ((mc->rng[0] | mc->rng[1] | mc->rng[2] | mc->rng[3]) == 0)
                return lfail(ld, SEQCLS_E_FORMAT, "CONF", "the random state is all zero");
            mc->have_rng = 1;
        }
    }
    return SEQCLS_OK;
}

/* The field stored under CONF id `id`, or -1. */
static int field_of_id(uint32_t id)
{
    int f;
    for (f = 0; f < FIELD_COUNT; f++)
        if (layer_fields[f].file_id == id)
            return f;
    return -1;
}

/* Read layer i's kind and options into c (a layer_t holding only its
 * kind and configuration); a field added after version 1 that the record
 * lacks keeps its default. */
static int read_layer(load_t *ld, reader_t *r, uint32_t i, layer_t *c)
{
    char where[64];
    uint32_t kind, n, k, id, type;
    uint64_t v, seen = 0;
    int f, rc;

    if (!r_u32(r, &kind) || !r_u32(r, &n))
        return lfail(ld, SEQCLS_E_FORMAT, "CONF", "layer %u: truncated at byte %zu", (unsigned)i,
                     r->base + r->off);
    memset(c, 0, sizeof *c);
    c->ops = layer_kind(kind);
    if (!c->ops)
        return lfail(ld, SEQCLS_E_VERSION, "CONF",
                     "layer %u: layer kind %u is unknown to this version of seqcls", (unsigned)i,
                     (unsigned)kind);
    snprintf(where, sizeof where, "layer %u (%s)", (unsigned)i, c->ops->name);
    if (n > MAX_OPTIONS)
        return lfail(ld, SEQCLS_E_FORMAT, "CONF", "%s: %u options is more than %u", where,
                     (unsigned)n, MAX_OPTIONS);
    for (f = 0; f < FIELD_COUNT; f++)
        layer_field_set(c, f, layer_fields[f].default_bits);
    for (k = 0; k < n; k++) {
        rc = read_option(ld, r, where, &id, &type, &v);
        if (rc)
            return rc;
        if ((f = field_of_id(id)) < 0)
            return lfail(ld, SEQCLS_E_VERSION, "CONF",
                         "%s: option %u is unknown to this version of seqcls", where,
                         (unsigned)id);
        if (seen & ((uint64_t)1 << f))
            return lfail(ld, SEQCLS_E_FORMAT, "CONF", "%s: option %u (%s) appears twice", where,
                         (unsigned)id, layer_fields[f].name);
        seen |= (uint64_t)1 << f;
        if (type != (uint32_t)layer_fields[f].type)
            return lfail(ld, SEQCLS_E_FORMAT, "CONF", "%s: option %u (%s) has type %u, not %u",
                         where, (unsigned)id, layer_fields[f].name, (unsigned)type,
                         (unsigned)layer_fields[f].type);
        layer_field_set(c, f, (uint32_t)v);
    }
    /* Writers always write the version-1 fields. */
    for (f = 0; f < FIELD_COUNT; f++)
        if (layer_fields[f].file_id <= FIELD_LAST_V1_ID && !(seen & ((uint64_t)1 << f)))
            return lfail(ld, SEQCLS_E_FORMAT, "CONF", "%s: option %u (%s) is missing", where,
                         (unsigned)layer_fields[f].file_id, layer_fields[f].name);
    return SEQCLS_OK;
}

/* Float options are compared as bits, so that -0.0 is restored too. */
static int rebuild_layer(seqcls_model_t *m, const layer_t *c)
{
    const layer_option_t *o;
    layer_t *L;
    int rc = c->ops->rebuild(m, c);
    if (rc)
        return rc;
    L = m->layers[m->nlayers - 1];
    for (o = c->ops->options; o->option && rc == SEQCLS_OK; o++) {
        uint32_t want = layer_field_get(c, o->field);
        if (!o->settable || want == layer_field_get(L, o->field))
            continue;
        if (layer_fields[o->field].type == FIELD_F32) {
            float x;
            memcpy(&x, &want, sizeof x);
            rc = seqcls_layer_set_float(m, L->index, o->option, x);
        } else {
            rc = seqcls_layer_set_int(m, L->index, o->option, (int)want);
        }
    }
    return rc;
}

/* Rebuild every layer CONF describes into m. */
static int rebuild_layers(load_t *ld, reader_t *r, seqcls_model_t *m)
{
    uint32_t i;
    layer_t c;
    size_t budget;
    int rc = SEQCLS_OK;

    if (!r_u32(r, &ld->nlayers))
        return lfail(ld, SEQCLS_E_FORMAT, "CONF", "too short to hold the layer count");
    if (ld->nlayers > MODEL_MAX_LAYERS || ld->nlayers > r_left(r) / 8)
        return lfail(ld, SEQCLS_E_FORMAT, "CONF", "%u layers cannot fit (at most %d, in %zu bytes)",
                     (unsigned)ld->nlayers, MODEL_MAX_LAYERS, r_left(r));
    /* Value and gradient of every parameter in the file, and a little
     * for the tables: all of it bounded by the size of the file.  Only
     * the constructors allocate in this loop. */
    budget = seqcls__mul((size_t)ld->numel, 2 * sizeof(real)) +
             (size_t)ld->nparams * LOAD_PER_PARAM + (size_t)ld->nlayers * LOAD_PER_LAYER +
             LOAD_SLACK;
    seqcls__budget_begin(budget);

    for (i = 0; i < ld->nlayers && rc == SEQCLS_OK; i++) {
        const char *kname;
        const layer_t *L;
        int f;

        rc = read_layer(ld, r, i, &c);
        if (rc)
            break;
        kname = c.ops->name;
        rc = rebuild_layer(m, &c);
        if (rc != SEQCLS_OK) {
            char why[512];
            unsigned what = seqcls__budget_end();
            snprintf(why, sizeof why, "%s", seqcls_last_error());
            if (what & BUDGET_SYSTEM_OOM)
                return lfail(ld, SEQCLS_E_NOMEM, "CONF", "layer %u (%s): out of memory: %s",
                             (unsigned)i, kname, why);
            if (what & BUDGET_EXCEEDED)
                return lfail(ld, SEQCLS_E_FORMAT, "CONF",
                             "layer %u (%s) needs more memory than the parameters in the file "
                             "account for", (unsigned)i, kname);
            return lfail(ld, SEQCLS_E_FORMAT, "CONF", "layer %u (%s) is invalid: %s",
                         (unsigned)i, kname, why);
        }
        if ((uint32_t)m->nlayers != i + 1 || m->layers[i]->ops != c.ops) {
            rc = lfail(ld, SEQCLS_E_FORMAT, "CONF", "layer %u (%s) was not rebuilt as a %s layer",
                       (unsigned)i, kname, kname);
            break;
        }
        L = m->layers[i];
        for (f = 0; f < FIELD_COUNT; f++) {
            const layer_field_t *fd = &layer_fields[f];
            uint32_t want = layer_field_get(&c, f), got = layer_field_get(L, f);
            if (want != got) {
                char a[32], b[32];
                rc = lfail(ld, SEQCLS_E_FORMAT, "CONF",
                           "layer %u (%s): option %u (%s) is %s in the file but %s in the "
                           "rebuilt layer", (unsigned)i, kname, (unsigned)fd->file_id, fd->name,
                           field_text((uint32_t)fd->type, want, a, sizeof a),
                           field_text((uint32_t)fd->type, got, b, sizeof b));
                break;
            }
        }
    }
    seqcls__budget_end();
    if (rc == SEQCLS_OK && r_left(r) != 0)
        rc = lfail(ld, SEQCLS_E_FORMAT, "CONF", "%zu bytes follow the last layer", r_left(r));
    return rc;
}

/* Second pass over PARM: match the rebuilt model's parameters and fill
 * them in. */
static int fill_params(load_t *ld, seqcls_model_t *m)
{
    reader_t r = ld->parm;
    uint32_t i, count = 0;
    prec_t p;
    size_t k;
    int rc;

    r_u32(&r, &count);
    if ((int64_t)count != (int64_t)m->nparams)
        return lfail(ld, SEQCLS_E_FORMAT, "PARM",
                     "the file holds %u parameters but the model CONF describes has %d",
                     (unsigned)count, m->nparams);
    for (i = 0; i < count; i++) {
        param_t *P = &m->params[i];
        const seqcls_tensor_t *t = P->value;
        real *dst = t->data;
        int same = 1, d;

        rc = parse_param(ld, &r, i, &p);
        if (rc)
            return rc;
        if (p.name_len != strlen(P->name) || memcmp(p.name, P->name, p.name_len) != 0)
            return lfail(ld, SEQCLS_E_FORMAT, "PARM",
                         "parameter %u is named '%.*s' but the model's is '%s'", (unsigned)i,
                         (int)p.name_len, p.name, P->name);
        if (p.ndim != t->ndim)
            same = 0;
        for (d = 0; same && d < p.ndim; d++)
            same = p.shape[d] == t->shape[d];
        if (!same) {
            char a[160], b[160];
            shape_text(a, sizeof a, p.ndim, p.shape);
            shape_text(b, sizeof b, t->ndim, t->shape);
            return lfail(ld, SEQCLS_E_FORMAT, "PARM",
                         "parameter %u (%s) shape %s does not match the model's %s", (unsigned)i,
                         P->name, a, b);
        }
        if (!(p.flags & PARM_TRAINABLE) != !P->trainable)
            return lfail(ld, SEQCLS_E_FORMAT, "PARM",
                         "parameter %u (%s) is %strainable in the file but %strainable in the "
                         "model", (unsigned)i, P->name, (p.flags & PARM_TRAINABLE) ? "" : "not ",
                         P->trainable ? "" : "not ");
        if (ld->qmode && quant_param(m, (int)i) && p.dtype == PARM_DTYPE_F32)
            return lfail(ld, SEQCLS_E_FORMAT, "PARM",
                         "parameter %u (%s) is float32 in a quantised model", (unsigned)i,
                         P->name);
        if (p.dtype != PARM_DTYPE_F32) {
            rc = quant_load_param(m, (int)i, ld->qmode, p.data, p.bytes, ld->who);
            if (rc)
                return rc;
            continue;
        }
        for (k = 0; k < p.numel; k++) {
            uint32_t bits = le_get32(p.data + 4 * k);
            float x;
            memcpy(&x, &bits, 4);
            if (!isfinite(x))
                return lfail(ld, SEQCLS_E_FORMAT, "PARM",
                             "parameter %u (%s) element %zu is %s", (unsigned)i, P->name, k,
                             isnan(x) ? "NaN" : "infinite");
            dst[k] = (real)x;
        }
    }
    return SEQCLS_OK;
}

static int load(seqcls_model_t **out, const unsigned char *buf, size_t len, const char *who)
{
    load_t ld;
    model_conf_t mc;
    seqcls_model_t *m = NULL;
    reader_t conf;
    int rc, i;

    memset(&ld, 0, sizeof ld);
    ld.who = who;
    ld.buf = buf;
    ld.len = len;
    rc = read_header(&ld);
    if (rc == SEQCLS_OK)
        rc = read_sections(&ld);
    if (rc == SEQCLS_OK && ld.have_qunt)
        rc = read_qunt(&ld);
    if (rc == SEQCLS_OK)
        rc = scan_parm(&ld);
    if (rc)
        return rc;
    conf = ld.conf;
    rc = read_model_options(&ld, &conf, &mc);
    if (rc)
        return rc;
    rc = seqcls_model_create(&m, mc.seed);
    if (rc)
        return lfail(&ld, rc, NULL, "out of memory");
    rng_skip_init(1);   /* fill_params overwrites every parameter */
    rc = rebuild_layers(&ld, &conf, m);
    rng_skip_init(0);
    if (rc == SEQCLS_OK)
        rc = fill_params(&ld, m);
    if (rc == SEQCLS_OK && ld.qmode)
        rc = quant_finish_load(m, ld.qmode, who);
    for (i = 0; rc == SEQCLS_OK && i < m->nlayers; i++)
        if (m->layers[i]->ops->check_params)
            rc = m->layers[i]->ops->check_params(m->layers[i], who);
    if (rc) {
        seqcls_model_free(m);
        return rc;
    }
    if (mc.have_rng)
        memcpy(m->rng.s, mc.rng, sizeof mc.rng);
    seqcls__clear_error();
    *out = m;
    return SEQCLS_OK;
}

int seqcls_model_load_buffer(seqcls_model_t **out, const void *buf, size_t len)
{
    const char *func = "seqcls_model_load_buffer";
    int rc;
    seqcls__clear_error();
    if (out)
        *out = NULL;
    if (!out || !buf)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: %s is NULL", func, !out ? "out" : "buf");
    rc = load(out, buf, len, func);
    if (rc == SEQCLS_OK && (rc = metadata_load(*out, buf, len, func)) != SEQCLS_OK) {
        seqcls_model_free(*out);
        *out = NULL;
    }
    return rc;
}

size_t model_file_max_bytes(void)
{
    uint64_t cap = (uint64_t)1 << 38;
    return (uint64_t)(SIZE_MAX / 4) < cap ? SIZE_MAX / 4 : (size_t)cap;
}

/*
 * The structure of a model file, read through a small window before the
 * file itself: the header, then every section's head (tag and length),
 * each length checked against what the file holds, up to an empty ENDF
 * that ends the file exactly.  Reads a few bytes per section and
 * allocates nothing: a file that is not a model, or whose sections
 * claim more than it holds, is refused without reading it.  Everything
 * is checked again (with the CRCs) once the file has been read.
 */
static int walk_file(load_t *ld, int fd, size_t size, const char *path, const char *func)
{
    unsigned char win[4096];
    size_t base = 0, have = 0, got, off;
    int ended = 0, err, rc;

    /* The header: HEADER_BYTES + 1 bytes read tell a file that grew
     * since fstat (Linux's /proc files say 0 bytes). */
    err = file_pread(fd, win, HEADER_BYTES + 1, 0, &got);
    if (err)
        return file_fail(func, "reading", path, err);
    if (got > size)
        return seqcls__fail(SEQCLS_E_IO, "%s: '%s' grew while being read", func, path);
    if (got < size && got < HEADER_BYTES + 1)
        return seqcls__fail(SEQCLS_E_IO, "%s: '%s' shrank while being read", func, path);
    ld->buf = win;
    ld->len = got < HEADER_BYTES ? got : HEADER_BYTES;
    rc = read_header(ld);
    ld->buf = NULL;
    ld->len = 0;
    if (rc)
        return rc;
    for (off = HEADER_BYTES; off < size;) {
        uint64_t length;
        if (ended)
            return after_end(ld, off, size);
        if (size - off < SECTION_HEAD + SECTION_TAIL)
            return too_short_for_section(ld, off, size);
        if (off < base || off - base > have || have - (off - base) < SECTION_HEAD) {
            err = file_pread(fd, win, sizeof win, off, &got);
            if (err)
                return file_fail(func, "reading", path, err);
            if (got < SECTION_HEAD)
                return seqcls__fail(SEQCLS_E_IO, "%s: '%s' shrank while being read", func, path);
            base = off;
            have = got;
        }
        rc = section_head(ld, off, win + (off - base), size, &length);
        if (rc)
            return rc;
        if (le_get32(win + (off - base)) == TAG_ENDF)
            ended = 1;
        off += SECTION_HEAD + (size_t)length + SECTION_TAIL;
    }
    if (!ended)
        return no_end(ld, off);
    return SEQCLS_OK;
}

/*
 * The CRC of every section of a file that walk_file found well formed,
 * read in order through a chunk buffer (big payloads straight from the
 * file, the holes of a sparse file counted without being read): a big
 * file whose data is damaged, or a sparse file dressed up as a model,
 * is refused without being held in memory.
 */
static int check_file_crcs(load_t *ld, int fd, size_t size, const char *path, const char *func)
{
    unsigned char *chunk = seqcls__alloc(CHUNK_BYTES);
    size_t pos = HEADER_BYTES, start = 0, have = 0;   /* chunk holds [start, start + have) */
    int rc = SEQCLS_OK;

    if (!chunk)
        return seqcls__fail(SEQCLS_E_NOMEM, "%s: out of memory", func);
    while (pos < size && rc == SEQCLS_OK) {
        unsigned char head[SECTION_HEAD], tail[SECTION_TAIL];
        uint64_t left;
        uint32_t crc = 0;
        char name[5];
        int part;
        /* head, payload, CRC: the payload is streamed, the rest copied */
        for (part = 0; part < 3 && rc == SEQCLS_OK; part++) {
            unsigned char *dst = part == 0 ? head : part == 2 ? tail : NULL;
            size_t want = part == 0 ? SECTION_HEAD : part == 2 ? SECTION_TAIL : 0;
            if (part == 1)
                left = le_get64(head + 4);
            else
                left = want;
            if (part == 1 && (pos > size || left > size - pos)) {
                rc = seqcls__fail(SEQCLS_E_IO, "%s: '%s' changed while being read", func, path);
                break;
            }
            if (part == 1 && left > CHUNK_BYTES) {
                /* A big payload: straight from the file (holes counted
                 * without being read); the chunk is refilled after it. */
                int err;
                size_t done = start + have > pos ? start + have - pos : 0;
                crc = seqcls__crc32(0, chunk + (pos - start), done);
                err = file_crc32(fd, pos + done, (size_t)left - done, &crc, chunk, CHUNK_BYTES);
                if (err)
                    rc = err < 0 ? seqcls__fail(SEQCLS_E_IO, "%s: '%s' shrank while being read",
                                                func, path)
                                 : file_fail(func, "reading", path, err);
                pos += (size_t)left;
                start = pos;
                have = 0;
                left = 0;
            }
            while (left > 0) {
                size_t at, k;
                int err;
                if (pos >= start + have) {
                    size_t got;
                    err = file_pread(fd, chunk, CHUNK_BYTES, pos, &got);
                    if (err) {
                        rc = file_fail(func, "reading", path, err);
                        break;
                    }
                    if (got == 0) {
                        rc = seqcls__fail(SEQCLS_E_IO, "%s: '%s' shrank while being read",
                                          func, path);
                        break;
                    }
                    start = pos;
                    have = got;
                }
                at = pos - start;
                k = have - at < left ? have - at : (size_t)left;
                if (dst)
                    memcpy(dst + (want - (size_t)left), chunk + at, k);
                else
                    crc = seqcls__crc32(crc, chunk + at, k);
                pos += k;
                left -= k;
            }
        }
        if (rc)
            break;
        if (crc != le_get32(tail)) {
            memcpy(name, head, 4);
            name[4] = '\0';
            rc = lfail(ld, SEQCLS_E_FORMAT, name,
                       "CRC-32 mismatch (stored %08x, computed %08x): the data is damaged",
                       (unsigned)le_get32(tail), (unsigned)crc);
        }
    }
    seqcls__dealloc(chunk);
    return rc;
}

int model_file_load(seqcls_model_t **out, const char *path, void **buf, size_t *len,
                    const char *func)
{
    load_t ld;
    char who[512];
    void *data = NULL;
    size_t size = 0;
    int fd, rc;

    *out = NULL;
    *buf = NULL;
    *len = 0;
    rc = file_open_read(path, model_file_max_bytes(), &fd, &size, func);
    if (rc)
        return rc;
    snprintf(who, sizeof who, "%s: '%s'", func, path);
    memset(&ld, 0, sizeof ld);
    ld.who = who;
    rc = walk_file(&ld, fd, size, path, func);
    if (rc == SEQCLS_OK && size > CRC_FIRST_BYTES)
        rc = check_file_crcs(&ld, fd, size, path, func);
    if (rc == SEQCLS_OK)
        rc = file_read_whole(fd, size, &data, path, func);
    close(fd);
    if (rc)
        return rc;
    rc = load(out, data, size, who);
    if (rc == SEQCLS_OK && (rc = metadata_load(*out, data, size, who)) != SEQCLS_OK) {
        seqcls_model_free(*out);
        *out = NULL;
    }
    if (rc) {
        seqcls__dealloc(data);
        return rc;
    }
    *buf = data;
    *len = size;
    return SEQCLS_OK;
}

int seqcls_model_load(seqcls_model_t **out, const char *path)
{
    const char *func = "seqcls_model_load";
    void *buf;
    size_t len;
    int rc;

    seqcls__clear_error();
    if (out)
        *out = NULL;
    if (!out || !path)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: %s is NULL", func, !out ? "out" : "path");
    rc = model_file_load(out, path, &buf, &len, func);
    seqcls__dealloc(buf);
    return rc;
}

int seqcls__model_section(const void *buf, size_t len, const char *tag, const void **payload,
                          size_t *n, const char *func)
{
    load_t ld;
    int rc;
    *payload = NULL;
    *n = 0;
    memset(&ld, 0, sizeof ld);
    ld.who = func;
    ld.buf = buf;
    ld.len = len;
    ld.want = tag;
    rc = read_header(&ld);
    if (rc == SEQCLS_OK)
        rc = read_sections(&ld);
    if (rc)
        return rc;
    if (!ld.found)
        return seqcls__fail(SEQCLS_E_RANGE, "%s: the model has no %.4s section", func, tag);
    *payload = ld.found;
    *n = ld.found_len;
    return SEQCLS_OK;
}
