/*
 * data.c -- reading labelled text files and turning them into the
 * arrays seqcls takes.  Every line is checked: a bounded length, valid
 * UTF-8, no NUL bytes, a label where one is needed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

#define MAX_LINE (1 << 20)     /* bytes per document line */
#define MAX_DOCS (1 << 24)

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        die("out of memory");
    return p;
}

static char *xstrndup(const char *s, size_t n)
{
    char *p = xrealloc(NULL, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
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

static void add_doc(docs_t *d, char *label, char *text, int *cap)
{
    if (d->n == *cap) {
        if (*cap >= MAX_DOCS)
            die("more than %d documents", MAX_DOCS);
        *cap = *cap ? *cap * 2 : 256;
        d->text = xrealloc(d->text, (size_t)*cap * sizeof *d->text);
        d->label = xrealloc(d->label, (size_t)*cap * sizeof *d->label);
    }
    d->text[d->n] = text;
    d->label[d->n] = label;
    d->n++;
}

/* Split one line into label and text and append it. */
static void parse_line(docs_t *d, const char *path, long lineno, char *s, size_t n, int labelled,
                       int *cap)
{
    static const char prefix[] = "__label__";
    const size_t plen = sizeof prefix - 1;
    char *label = NULL, *tab;
    size_t i = 0;

    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
        i++;
    if (i == n)
        return;   /* blank line */
    if (n - i >= plen && !memcmp(s + i, prefix, plen)) {
        size_t start = i + plen, end = start;
        while (end < n && s[end] != ' ' && s[end] != '\t')
            end++;
        if (end == start)
            die("%s:%ld: empty label after __label__", path, lineno);
        label = xstrndup(s + start, end - start);
        i = end;
        /* further labels are ignored: one class per document */
        for (;;) {
            while (i < n && (s[i] == ' ' || s[i] == '\t'))
                i++;
            if (n - i >= plen && !memcmp(s + i, prefix, plen))
                while (i < n && s[i] != ' ' && s[i] != '\t')
                    i++;
            else
                break;
        }
    } else if (labelled && (tab = memchr(s + i, '\t', n - i)) != NULL) {
        size_t end = (size_t)(tab - s);
        while (end > i && s[end - 1] == ' ')
            end--;
        if (end == i)
            die("%s:%ld: empty label before the tab", path, lineno);
        label = xstrndup(s + i, end - i);
        i = (size_t)(tab - s) + 1;
    } else if (labelled) {
        die("%s:%ld: no label (expected \"__label__NAME text\" or \"NAME<TAB>text\")", path,
            lineno);
    }
    if (!labelled) {
        free(label);
        label = NULL;
    }
    add_doc(d, label, xstrndup(s + i, n - i), cap);
}

void docs_read(docs_t *d, const char *path, int labelled)
{
    FILE *f;
    struct stat st;
    char *line = xrealloc(NULL, MAX_LINE + 1), chunk[1 << 16];
    size_t len = 0, got, k;
    long lineno = 1;
    int cap = 0, too_long = 0;

    memset(d, 0, sizeof *d);
    if (!strcmp(path, "-")) {
        f = stdin;
    } else {
        if (stat(path, &st) != 0)
            die("%s: %s", path, strerror(errno));
        if (!S_ISREG(st.st_mode))
            die("%s: not a regular file", path);
        f = fopen(path, "rb");
        if (!f)
            die("%s: %s", path, strerror(errno));
    }
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        for (k = 0; k < got; k++) {
            char c = chunk[k];
            if (c == '\n') {
                long bad = utf8_invalid_at((unsigned char *)line, len);
                if (bad >= 0)
                    die("%s:%ld: invalid UTF-8 at byte %ld", path, lineno, bad + 1);
                parse_line(d, path, lineno, line, len, labelled, &cap);
                len = 0;
                lineno++;
                continue;
            }
            if (c == '\0')
                die("%s:%ld: NUL byte (binary data?)", path, lineno);
            if (len == MAX_LINE) {
                too_long = 1;
                break;
            }
            line[len++] = c;
        }
        if (too_long)
            break;
    }
    if (too_long)
        die("%s:%ld: line longer than %d bytes", path, lineno, MAX_LINE);
    if (ferror(f))
        die("%s: read error: %s", path, strerror(errno));
    if (len > 0) {
        long bad = utf8_invalid_at((unsigned char *)line, len);
        if (bad >= 0)
            die("%s:%ld: invalid UTF-8 at byte %ld", path, lineno, bad + 1);
        parse_line(d, path, lineno, line, len, labelled, &cap);
    }
    if (f != stdin)
        fclose(f);
    free(line);
    if (d->n == 0)
        die("%s: no documents", path);
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
    memset(d, 0, sizeof *d);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char **labels_collect(const docs_t *d, int *n)
{
    char **all = xrealloc(NULL, (size_t)d->n * sizeof *all), **out;
    int i, k = 0;
    for (i = 0; i < d->n; i++)
        all[i] = d->label[i];
    qsort(all, (size_t)d->n, sizeof *all, cmp_str);
    out = xrealloc(NULL, (size_t)d->n * sizeof *out);
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

void encode_docs(const seqcls_vocab_t *v, const docs_t *d, int maxlen, int32_t **ids,
                 int32_t **lengths)
{
    int i;
    *ids = xrealloc(NULL, (size_t)d->n * (size_t)maxlen * sizeof **ids);
    *lengths = xrealloc(NULL, (size_t)d->n * sizeof **lengths);
    for (i = 0; i < d->n; i++)
        check(seqcls_vocab_encode(v, d->text[i], strlen(d->text[i]), *ids + (size_t)i * maxlen,
                                  maxlen, *lengths + i),
              "encode");
}
