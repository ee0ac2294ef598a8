/*
 * escape.c -- text written into JSON and HTML: every byte accounted for,
 * whatever the input or the model file holds (control characters,
 * invalid UTF-8, markup).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* The code point at s[0..n) and its length in *len, or -1 (with *len 1)
 * for a byte that does not start a valid UTF-8 sequence. */
static long utf8_next(const unsigned char *s, size_t n, size_t *len)
{
    unsigned c = s[0];
    size_t need, k;
    long cp;
    *len = 1;
    if (c < 0x80)
        return c;
    if (c >= 0xc2 && c <= 0xdf)
        need = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        need = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        need = 4, cp = c & 0x07;
    else
        return -1;
    if (need > n)
        return -1;
    for (k = 1; k < need; k++) {
        if ((s[k] & 0xc0) != 0x80)
            return -1;
        cp = cp << 6 | (s[k] & 0x3f);
    }
    if ((need == 3 && cp < 0x800) || (need == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return -1;
    *len = need;
    return cp;
}

void json_string(FILE *f, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, len;
    fputc('"', f);
    while (i < n) {
        long cp = utf8_next(u + i, n - i, &len);
        switch (cp) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\b': fputs("\\b", f); break;
        case '\f': fputs("\\f", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (cp < 0)
                fputs("\\ufffd", f);   /* not UTF-8: the replacement character */
            else if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 ||
                     cp == 0x2029)
                /* controls, and the two separators JavaScript would break a line at */
                fprintf(f, "\\u%04lx", (unsigned long)cp);
            else
                fwrite(u + i, 1, len, f);
        }
        i += len;
    }
    fputc('"', f);
}

void json_cstring(FILE *f, const char *s)
{
    json_string(f, s ? s : "", s ? strlen(s) : 0);
}

void html_text(FILE *f, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, len;
    while (i < n) {
        long cp = utf8_next(u + i, n - i, &len);
        if (cp == '&')
            fputs("&amp;", f);
        else if (cp == '<')
            fputs("&lt;", f);
        else if (cp == '>')
            fputs("&gt;", f);
        else if (cp == '"')
            fputs("&quot;", f);
        else if (cp == '\'')
            fputs("&#39;", f);
        else if (cp == '\t' || cp == '\n')
            fputc((int)cp, f);
        else if (cp >= 0 && cp < 0x20)
            fprintf(f, "&#x%lx;", 0x2400ul + (unsigned long)cp);   /* its control picture */
        else if (cp == 0x7f)
            fputs("&#x2421;", f);
        else if (cp < 0 || (cp >= 0x80 && cp <= 0x9f))
            fputs("&#xfffd;", f);   /* not UTF-8, or a C1 control */
        else
            fwrite(u + i, 1, len, f);
        i += len;
    }
}

void html_cstring(FILE *f, const char *s)
{
    html_text(f, s ? s : "", s ? strlen(s) : 0);
}
