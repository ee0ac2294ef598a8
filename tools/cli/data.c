/*
 * data.c -- reading labelled text files and turning them into the
 * arrays seqcls takes.  Every line is checked: a bounded length, valid
 * UTF-8, no NUL bytes, a label where one is needed.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

#define MAX_LINE (1 << 20)     /* bytes per document line */
#define MAX_DOCS (1 << 24)

void *xmalloc(size_t count, size_t size, const char *what)
{
    void *p = NULL;
    if (size == 0 || count <= SIZE_MAX / size)
        p = malloc(count > 0 && size > 0 ? count * size : 1);
    if (!p)
        die("out of memory for %s (%.0f bytes)", what, (double)count * (double)size);
    return p;
}

/* Offset of the first invalid UTF-8 byte in s[0..n), or -1 if valid. */
static long utf8_invalid_at(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len, k;
        unsigned cp;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf)
            len = 2, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef)
            len = 3, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4)
            len = 4, cp = c & 0x07;
        else
            return (long)i;
        if (i + len > n)
            return (long)i;
        for (k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return (long)i;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        /* overlong forms, surrogates, beyond U+10FFFF */
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return (long)i;
        i += len;
    }
    return -1;
}

/* Errors of reading: a message into `err`, and -1. */
typedef struct {
    char *msg;
    size_t cap;
} err_t;

static int fail(err_t *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, e->cap, fmt, ap);
    va_end(ap);
    return -1;
}

static char *strndup_or_null(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* ASCII white space: what separates a label from the text. */
static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* What is being read, and how. */
typedef struct {
    docs_t *d;
    const char *path;                /* for messages */
    int mode;                        /* DOCS_TEXT, DOCS_LABELLED or DOCS_INPUT */
    const seqcls_model_t *known;     /* DOCS_INPUT: the labels a "NAME<TAB>" may name */
    int cap;                         /* of d's arrays */
    err_t e;
} reader_t;

static int add_doc(reader_t *r, long lineno, char *label, char *text)
{
    docs_t *d = r->d;
    err_t *e = &r->e;
    if (!text)
        return free(label), fail(e, "out of memory reading document %d", d->n + 1);
    if (d->n == r->cap) {
        char **t, **l;
        long *ln;
        size_t cap = (size_t)(r->cap ? r->cap * 2 : 256);
        if (r->cap >= MAX_DOCS)
            return free(label), free(text), fail(e, "more than %d documents", MAX_DOCS);
        t = realloc(d->text, cap * sizeof *t);
        if (t)
            d->text = t;
        l = realloc(d->label, cap * sizeof *l);
        if (l)
            d->label = l;
        ln = realloc(d->line, cap * sizeof *ln);
        if (ln)
            d->line = ln;
        if (!t || !l || !ln)
            return free(label), free(text),
                   fail(e, "out of memory for the list of documents (%d read)", d->n);
        r->cap = (int)cap;
    }
    d->text[d->n] = text;
    d->label[d->n] = label;
    d->line[d->n] = lineno;
    d->n++;
    return 0;
}

/* Split one line into label and text and append it. */
static int parse_line(reader_t *r, long lineno, char *s, size_t n)
{
    static const char prefix[] = "__label__";
    const size_t plen = sizeof prefix - 1;
    const char *path = r->path;
    err_t *e = &r->e;
    char *label = NULL, *tab;
    size_t i = 0;

    while (i < n && is_space(s[i]))
        i++;
    if (i == n)
        return 0;   /* blank line */
    if (n - i >= plen && !memcmp(s + i, prefix, plen)) {
        size_t start = i + plen, end = start;
        while (end < n && !is_space(s[end]))
            end++;
        if (end == start)
            return fail(e, "%s:%ld: empty label after __label__", path, lineno);
        if (r->mode != DOCS_TEXT && !(label = strndup_or_null(s + start, end - start)))
            return fail(e, "%s:%ld: out of memory for the label", path, lineno);
        i = end;
        /* further labels are ignored: one class per document */
        for (;;) {
            while (i < n && is_space(s[i]))
                i++;
            if (n - i >= plen && !memcmp(s + i, prefix, plen))
                while (i < n && !is_space(s[i]))
                    i++;
            else
                break;
        }
    } else if (r->mode != DOCS_TEXT && (tab = memchr(s + i, '\t', n - i)) != NULL) {
        size_t end = (size_t)(tab - s);
        while (end > i && is_space(s[end - 1]))
            end--;
        if (r->mode == DOCS_INPUT) {
            /* a label only if the model knows it: otherwise the tab is text */
            char *name = strndup_or_null(s + i, end - i);
            if (!name)
                return fail(e, "%s:%ld: out of memory for the label", path, lineno);
            if (end > i && label_index(r->known, name) >= 0) {
                label = name;
                i = (size_t)(tab - s) + 1;
            } else {
                free(name);
            }
        } else {
            if (end == i)
                return fail(e, "%s:%ld: empty label before the tab", path, lineno);
            if (!(label = strndup_or_null(s + i, end - i)))
                return fail(e, "%s:%ld: out of memory for the label", path, lineno);
            i = (size_t)(tab - s) + 1;
        }
    } else if (r->mode == DOCS_LABELLED) {
        return fail(e, "%s:%ld: no label (expected \"__label__NAME text\" or \"NAME<TAB>text\")",
                    path, lineno);
    }
    return add_doc(r, lineno, label, strndup_or_null(s + i, n - i));
}

/* Check one complete line (without its '\n') and add it.  Windows line
 * ends ("\r\n") lose their '\r', and a UTF-8 byte-order mark (U+FEFF)
 * at the start of the line is dropped: Windows editors put one at the
 * start of a file, and `cat` of such files at the start of a line. */
static int take_line(reader_t *r, long lineno, char *line, size_t len)
{
    long bad;
    size_t skip = 0;
    r->d->lines = lineno;
    while (len > 0 && line[len - 1] == '\r')
        len--;
    if (len >= 3 && !memcmp(line, "\xef\xbb\xbf", 3))
        skip = 3;
    bad = utf8_invalid_at((unsigned char *)line + skip, len - skip);
    if (bad >= 0)
        return fail(&r->e, "%s:%ld: invalid UTF-8 at byte %ld", r->path, lineno,
                    (long)skip + bad + 1);
    return parse_line(r, lineno, line + skip, len - skip);
}

static int load(reader_t *r, const char *path)
{
    docs_t *d = r->d;
    err_t *e = &r->e;
    FILE *f = NULL;
    struct stat st;
    char *line = NULL, chunk[1 << 16];
    size_t len = 0, got, k;
    long lineno = 1;
    int rc = 0;

    memset(d, 0, sizeof *d);
    r->cap = 0;
    if (!*path)
        return fail(e, "an empty file name (\"-\" is the standard input)");
    if (!strcmp(path, "-")) {
        f = stdin;
        path = "standard input";   /* in messages */
    } else if (stat(path, &st) != 0) {
        return fail(e, "%s: %s", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        return fail(e, "%s: not a regular file", path);
    } else if (!(f = fopen(path, "rb"))) {
        return fail(e, "%s: %s", path, strerror(errno));
    }
    r->path = path;
    if (!(line = malloc(MAX_LINE + 2)))
        rc = fail(e, "%s: out of memory for a line buffer of %d bytes", path, MAX_LINE + 2);
    while (rc == 0 && (got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        /* UTF-16 would otherwise be refused for its NUL bytes */
        if (lineno == 1 && len == 0 && got >= 2 &&
            (!memcmp(chunk, "\xff\xfe", 2) || !memcmp(chunk, "\xfe\xff", 2)))
            rc = fail(e, "%s: UTF-16 text (byte-order mark %s): convert it to UTF-8", path,
                      chunk[0] == '\xff' ? "FF FE" : "FE FF");
        for (k = 0; k < got && rc == 0; k++) {
            char c = chunk[k];
            if (c == '\n') {
                rc = take_line(r, lineno, line, len);
                len = 0;
                lineno++;
            } else if (c == '\0') {
                rc = fail(e, "%s:%ld: NUL byte (binary data?)", path, lineno);
            } else if (len == MAX_LINE + 1 || (len == MAX_LINE && c != '\r')) {
                /* (room for the '\r' of a "\r\n" after a longest line) */
                rc = fail(e, "%s:%ld: line longer than %d bytes", path, lineno, MAX_LINE);
            } else {
                line[len++] = c;
            }
        }
    }
    if (rc == 0 && ferror(f))
        rc = fail(e, "%s: cannot read: %s", path, strerror(errno));
    if (rc == 0 && len > 0)
        rc = take_line(r, lineno, line, len);
    /* an input of blank lines is answered line by line; anything else
     * needs a document */
    if (rc == 0 && d->n == 0 && !(r->mode == DOCS_INPUT && d->lines > 0))
        rc = fail(e, "%s: no documents", path);
    if (f != stdin)
        fclose(f);
    free(line);
    if (rc)
        docs_free(d);
    return rc;
}

int docs_load(docs_t *d, const char *path, int labelled, char *msg, size_t msg_cap)
{
    reader_t r;
    memset(&r, 0, sizeof r);
    r.d = d;
    r.path = path;
    r.mode = labelled ? DOCS_LABELLED : DOCS_TEXT;
    r.e.msg = msg;
    r.e.cap = msg_cap;
    return load(&r, path);
}

void docs_read(docs_t *d, const char *path, int labelled)
{
    char msg[1024];
    if (docs_load(d, path, labelled, msg, sizeof msg))
        die("%s", msg);
}

void docs_read_input(docs_t *d, const char *path, const seqcls_model_t *m)
{
    char msg[1024];
    reader_t r;
    memset(&r, 0, sizeof r);
    r.d = d;
    r.path = path;
    r.mode = DOCS_INPUT;
    r.known = m;
    r.e.msg = msg;
    r.e.cap = sizeof msg;
    if (load(&r, path))
        die("%s", msg);
}

void docs_free(docs_t *d)
{
    int i;
    for (i = 0; i < d->n; i++) {
        free(d->text[i]);
        free(d->label[i]);
    }
    free(d->text);
    free(d->label);
    free(d->line);
    memset(d, 0, sizeof *d);
}

void docs_move(docs_t *from, docs_t *to, const unsigned char *which)
{
    int i, kept = 0, moved = 0;
    memset(to, 0, sizeof *to);
    for (i = 0; i < from->n; i++)
        moved += which[i] != 0;
    to->text = xmalloc((size_t)moved, sizeof *to->text, "the list of documents");
    to->label = xmalloc((size_t)moved, sizeof *to->label, "the list of documents");
    to->line = xmalloc((size_t)moved, sizeof *to->line, "the list of documents");
    to->lines = from->lines;
    for (i = 0; i < from->n; i++) {
        docs_t *d = which[i] ? to : from;
        int k = which[i] ? to->n++ : kept++;
        d->text[k] = from->text[i];
        d->label[k] = from->label[i];
        d->line[k] = from->line[i];
    }
    from->n = kept;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char **labels_collect(const docs_t *d, int *n)
{
    char **all = xmalloc((size_t)d->n, sizeof *all, "sorting the labels"), **out;
    int i, k = 0;
    for (i = 0; i < d->n; i++)
        all[i] = d->label[i];
    qsort(all, (size_t)d->n, sizeof *all, cmp_str);
    out = xmalloc((size_t)d->n, sizeof *out, "the list of labels");
    for (i = 0; i < d->n; i++)
        if (i == 0 || strcmp(all[i], all[i - 1]))
            out[k++] = all[i];
    free(all);
    *n = k;
    return out;
}

int label_index(const seqcls_model_t *m, const char *name)
{
    int i;
    for (i = 0; i < seqcls_model_label_count(m); i++)
        if (!strcmp(seqcls_model_label(m, i), name))
            return i;
    return -1;
}
