/*
 * tokenize.c -- the text tokeniser: UTF-8 decoding, markup stripping,
 * lower-casing and splitting into tokens.
 *
 * The rules (also in the header and docs/vocab-format.md):
 *   - Input is UTF-8.  Ill-formed bytes are replaced by U+FFFD, one per
 *     maximal ill-formed subpart (as Unicode's "best practice"), and
 *     U+FFFD is a token character.  Raw invalid bytes never reach a token.
 *   - Markup: '<' followed by an ASCII letter, '/', '!' or '?' starts a
 *     tag that ends at the first '>' within TAG_MAX bytes; "<!--" starts
 *     a comment that ends at the first "-->" (any distance).  Tags and
 *     comments separate tokens like whitespace.  Any other '<' is
 *     punctuation.
 *   - Lower-casing: see fold() below (ASCII, Latin-1, Latin Extended-A,
 *     Greek, Cyrillic).
 *   - Separators (dropped): whitespace, control characters, NUL, ASCII
 *     punctuation except '!' '?', Latin-1 punctuation and symbols, General
 *     Punctuation U+2000-U+206F (except U+200C/U+200D joiners, which are
 *     token characters), CJK punctuation U+3000-U+303F, fullwidth ASCII
 *     punctuation, U+FEFF.
 *   - '!' and '?' (and fullwidth U+FF01, U+FF1F) are tokens of their own,
 *     one per character, normalised to ASCII.
 *   - Apostrophes "'" and U+2019 (normalised to "'") stay inside a token
 *     when a token character is on both sides; otherwise they separate.
 *   - The soft hyphen U+00AD is dropped without splitting a word.
 *   - Every other code point is a token character: letters, digits, marks,
 *     CJK ideographs, emoji, other symbols, U+FFFD.
 *   - A token longer than SEQCLS_TOKEN_MAX bytes (after lower-casing) is
 *     cut at the last whole character that fits; the rest of the word is
 *     dropped (its span still covers the whole word).
 */
#include "internal.h"

#include <stddef.h>
#include <string.h>

/* The longest markup tag, in bytes, that is stripped; longer is text. */
#define TAG_MAX 1024

/* CL_IGNORE: dropped without splitting a token (the soft hyphen). */
enum { CL_SPACE = 0, CL_PUNCT = 1, CL_APOS = 2, CL_BANG = 3, CL_WORD = 4, CL_IGNORE = 5 };

/*
 * Decode one code point at s[0..n), n >= 1.  Ill-formed input gives
 * U+FFFD and consumes the maximal subpart of a well-formed sequence
 * (at least one byte), following Unicode 3.9, table 3-7.
 */
static uint32_t utf8_decode(const unsigned char *s, size_t n, size_t *used)
{
    unsigned c = s[0];
    unsigned lo = 0x80, hi = 0xBF;
    size_t need, i;
    uint32_t cp;

    if (c < 0x80) {
        *used = 1;
        return c;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        cp = c & 0x0F;
        if (c == 0xE0)
            lo = 0xA0;          /* no overlong forms */
        else if (c == 0xED)
            hi = 0x9F;          /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        cp = c & 0x07;
        if (c == 0xF0)
            lo = 0x90;          /* no overlong forms */
        else if (c == 0xF4)
            hi = 0x8F;          /* nothing above U+10FFFF */
    } else {
        *used = 1;              /* 0x80-0xC1, 0xF5-0xFF */
        return 0xFFFD;
    }
    for (i = 1; i <= need; i++) {
        unsigned b;
        if (i >= n) {
            *used = i;          /* truncated at the end of the text */
            return 0xFFFD;
        }
        b = s[i];
        if (b < lo || b > hi) {
            *used = i;
            return 0xFFFD;
        }
        lo = 0x80;
        hi = 0xBF;
        cp = (cp << 6) | (b & 0x3F);
    }
    *used = need + 1;
    return cp;
}

/* Encode a valid scalar value; returns the number of bytes (1-4). */
static size_t utf8_encode(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

int vocab_utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0, used;
    while (i < n) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        if (utf8_decode(s + i, n - i, &used) == 0xFFFD &&
            !(used == 3 && s[i] == 0xEF && s[i + 1] == 0xBF && s[i + 2] == 0xBD))
            return 0;
        i += used;
    }
    return 1;
}

/*
 * Lower-case one code point.  Folded exactly:
 *   ASCII A-Z; Latin-1 U+00C0-U+00DE except U+00D7 (+0x20);
 *   Latin Extended-A U+0100-U+017E upper-case letters to their pair
 *   (U+0130 dotted I to 'i', U+0178 to U+00FF; U+0138, U+0149, U+017F kept);
 *   Greek U+0391-U+03A9 (+0x20), accented U+0386, U+0388-U+038A, U+038C,
 *   U+038E, U+038F; Cyrillic U+0400-U+042F, and the even/odd pairs of
 *   U+0460-U+0481, U+048A-U+04BF, U+04C1-U+04CE, U+04D0-U+052F, U+04C0 to U+04CF.
 * Nothing else changes (no Unicode normalisation, no final-sigma rule).
 */
static uint32_t fold(uint32_t c)
{
    if (c < 0x80)
        return (c >= 'A' && c <= 'Z') ? c + 0x20 : c;
    if (c < 0x100)
        return (c >= 0xC0 && c <= 0xDE && c != 0xD7) ? c + 0x20 : c;
    if (c <= 0x17F) {
        if (c == 0x130)
            return 'i';
        if (c == 0x178)
            return 0xFF;
        if ((c <= 0x137 || (c >= 0x14A && c <= 0x177)) && c % 2 == 0)
            return c + 1;
        if (((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) && c % 2 == 1)
            return c + 1;
        return c;
    }
    if (c >= 0x386 && c <= 0x3A9) {
        if (c >= 0x391 && c != 0x3A2)
            return c + 0x20;
        if (c == 0x386)
            return 0x3AC;
        if (c >= 0x388 && c <= 0x38A)
            return c + 0x25;
        if (c == 0x38C)
            return 0x3CC;
        if (c == 0x38E || c == 0x38F)
            return c + 0x3F;
        return c;
    }
    if (c >= 0x400 && c <= 0x52F) {
        if (c <= 0x40F)
            return c + 0x50;
        if (c <= 0x42F)
            return c + 0x20;
        if (c == 0x4C0)
            return 0x4CF;
        if (((c >= 0x460 && c <= 0x481) || (c >= 0x48A && c <= 0x4BF) || c >= 0x4D0) &&
            c % 2 == 0)
            return c + 1;
        if (c >= 0x4C1 && c <= 0x4CE && c % 2 == 1)
            return c + 1;
    }
    return c;
}

/* Character class of a (folded) code point. */
static int classify(uint32_t c)
{
    if (c < 0x80) {
        if (c <= 0x20 || c == 0x7F)
            return CL_SPACE;            /* NUL, controls, space */
        if (c == '\'')
            return CL_APOS;
        if (c == '!' || c == '?')
            return CL_BANG;
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
            return CL_WORD;
        return CL_PUNCT;
    }
    if (c < 0xA0)
        return CL_SPACE;                /* C1 controls, U+0085 */
    if (c == 0xA0)
        return CL_SPACE;
    if (c == 0xAD)
        return CL_IGNORE;               /* soft hyphen: "hy\u00ADphen" is one word */
    if (c <= 0xBF) {
        /* Latin-1 punctuation and symbols; keep the letter-like ones */
        if (c == 0xAA || c == 0xB2 || c == 0xB3 || c == 0xB5 || c == 0xB9 || c == 0xBA ||
            (c >= 0xBC && c <= 0xBE))
            return CL_WORD;
        return CL_PUNCT;
    }
    if (c == 0xD7 || c == 0xF7)
        return CL_PUNCT;                /* multiplication and division signs */
    if (c == 0x1680)
        return CL_SPACE;
    if (c >= 0x2000 && c <= 0x206F) {
        if (c == 0x2019)
            return CL_APOS;
        if (c == 0x200C || c == 0x200D)
            return CL_WORD;             /* joiners inside words and emoji */
        if (c <= 0x200B || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F)
            return CL_SPACE;
        return CL_PUNCT;
    }
    if (c == 0x3000)
        return CL_SPACE;
    if (c > 0x3000 && c <= 0x303F)
        return CL_PUNCT;                /* CJK symbols and punctuation */
    if (c == 0xFEFF)
        return CL_SPACE;                /* byte order mark */
    if (c == 0xFF01 || c == 0xFF1F)
        return CL_BANG;
    if ((c >= 0xFF02 && c <= 0xFF0F) || (c >= 0xFF1A && c <= 0xFF20) ||
        (c >= 0xFF3B && c <= 0xFF40) || (c >= 0xFF5B && c <= 0xFF65))
        return CL_PUNCT;                /* fullwidth and halfwidth punctuation */
    return CL_WORD;
}

static int is_alpha(unsigned char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }

/* Find "-->" in s[from..n); n if absent. */
static size_t find_comment_end(const unsigned char *s, size_t n, size_t from)
{
    while (from + 3 <= n) {
        const unsigned char *p = memchr(s + from, '-', n - from - 2);
        if (!p)
            return n;
        from = (size_t)(p - s);
        if (s[from + 1] == '-' && s[from + 2] == '>')
            return from;
        from++;
    }
    return n;
}

/*
 * If a tag or comment starts at it->pos (a '<'), return the position just
 * after it; else 0.  The positions of the next '>' and "-->" are
 * remembered, so stripping stays linear in the text length.
 */
static size_t tag_end(tok_iter_t *it)
{
    const unsigned char *s = it->s;
    size_t p = it->pos, n = it->n;
    unsigned char c;
    if (p + 1 >= n)
        return 0;
    c = s[p + 1];
    if (!(is_alpha(c) || c == '/' || c == '!' || c == '?'))
        return 0;
    if (c == '!' && p + 3 < n && s[p + 2] == '-' && s[p + 3] == '-') {
        if (it->next_cmt == (size_t)-1 || (it->next_cmt != n && it->next_cmt < p + 4))
            it->next_cmt = find_comment_end(s, n, p + 4);
        if (it->next_cmt < n)
            return it->next_cmt + 3;
        /* an unclosed comment is treated as an ordinary tag */
    }
    if (it->next_gt == (size_t)-1 || (it->next_gt != n && it->next_gt <= p)) {
        const unsigned char *g = memchr(s + p + 1, '>', n - p - 1);
        it->next_gt = g ? (size_t)(g - s) : n;
    }
    if (it->next_gt < n && it->next_gt - p <= TAG_MAX)
        return it->next_gt + 1;
    return 0;
}

void tok_init_mode(tok_iter_t *it, const char *text, size_t len, int mode)
{
    it->s = (const unsigned char *)text;
    it->n = len;
    it->pos = 0;
    it->next_gt = (size_t)-1;
    it->next_cmt = (size_t)-1;
    it->mode = mode;
    it->emitted = 0;
}

void tok_init(tok_iter_t *it, const char *text, size_t len)
{
    tok_init_mode(it, text, len, SEQCLS_TOKENS_WORD);
}

/* Code point, class and byte length of the character at `pos` (no tags). */
static int char_at(const tok_iter_t *it, size_t pos, uint32_t *cp, size_t *used)
{
    uint32_t c = utf8_decode(it->s + pos, it->n - pos, used);
    int cl;
    c = fold(c);
    cl = classify(c);
    if (cl == CL_APOS)
        c = '\'';
    else if (cl == CL_BANG)
        c = (c == 0xFF01) ? '!' : (c == 0xFF1F) ? '?' : c;
    *cp = c;
    return cl;
}

/*
 * Character mode: every code point is a token, lower-cased by fold() as
 * in word mode and otherwise kept as it is (punctuation included; no
 * apostrophe or fullwidth normalisation).  A run of separators -- the
 * word mode's whitespace and control characters (newlines included) and
 * markup -- is one token, a single space " ", whose span is the whole
 * run; a run at the start or the end of the text gives none.  The soft
 * hyphen is dropped, as in word mode.  Ill-formed UTF-8 gives U+FFFD.
 */
static int tok_next_char(tok_iter_t *it, char *tok, size_t *tok_len, size_t *start,
                         size_t *end)
{
    size_t space_from = (size_t)-1;
    while (it->pos < it->n) {
        size_t used, e;
        uint32_t c;
        int cl;
        if (it->s[it->pos] == '<' && (e = tag_end(it)) != 0) {
            if (space_from == (size_t)-1)
                space_from = it->pos;
            it->pos = e;
            continue;
        }
        c = fold(utf8_decode(it->s + it->pos, it->n - it->pos, &used));
        cl = classify(c);
        if (cl == CL_SPACE) {
            if (space_from == (size_t)-1)
                space_from = it->pos;
            it->pos += used;
            continue;
        }
        if (cl == CL_IGNORE) {
            it->pos += used;
            continue;
        }
        if (space_from != (size_t)-1 && it->emitted) {
            /* the run before this character, which is read next time */
            tok[0] = ' ';
            *tok_len = 1;
            *start = space_from;
            *end = it->pos;
            return 1;
        }
        *tok_len = utf8_encode(c, tok);
        *start = it->pos;
        it->pos += used;
        *end = it->pos;
        it->emitted = 1;
        return 1;
    }
    return 0;   /* a trailing run of separators gives no token */
}

int tok_next(tok_iter_t *it, char *tok, size_t *tok_len, size_t *start, size_t *end)
{
    uint32_t c;
    size_t used, len = 0;
    int cl, full = 0;

    if (it->mode == SEQCLS_TOKENS_CHAR)
        return tok_next_char(it, tok, tok_len, start, end);

    /* skip separators and markup */
    for (;;) {
        if (it->pos >= it->n)
            return 0;
        if (it->s[it->pos] == '<') {
            size_t e = tag_end(it);
            if (e) {
                it->pos = e;
                continue;
            }
        }
        cl = char_at(it, it->pos, &c, &used);
        if (cl == CL_WORD || cl == CL_BANG)
            break;
        it->pos += used;
    }
    *start = it->pos;
    if (cl == CL_BANG) {
        tok[0] = (char)c;
        *tok_len = 1;
        it->pos += used;
        *end = it->pos;
        return 1;
    }
    for (;;) {
        char buf[4];
        size_t k = utf8_encode(c, buf);
        if (!full && len + k <= SEQCLS_TOKEN_MAX) {
            memcpy(tok + len, buf, k);
            len += k;
        } else {
            full = 1;
        }
        it->pos += used;
        if (it->pos >= it->n)
            break;
        cl = char_at(it, it->pos, &c, &used);
        while (cl == CL_IGNORE) {
            it->pos += used;
            if (it->pos >= it->n)
                goto done;
            cl = char_at(it, it->pos, &c, &used);
        }
        if (cl == CL_APOS) {
            /* an apostrophe stays only between two token characters */
            uint32_t c2;
            size_t used2;
            size_t after = it->pos + used;
            if (after >= it->n || char_at(it, after, &c2, &used2) != CL_WORD)
                break;
        } else if (cl != CL_WORD) {
            break;
        }
    }
done:
    /* a cut token never ends in an apostrophe */
    while (full && len > 1 && tok[len - 1] == '\'')
        len--;
    *tok_len = len;
    *end = it->pos;
    return 1;
}

int tok_spans(const char *func, int mode, const char *text, size_t len, int32_t *starts,
              int32_t *ends, int max_tokens, int32_t *n_out)
{
    tok_iter_t it;
    char tok[SEQCLS_TOKEN_MAX + 4];
    size_t tl, s, e;
    int n = 0;

    if (n_out)
        *n_out = 0;
    if (!n_out)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: n_out is NULL", func);
    if (len > (size_t)PTRDIFF_MAX)   /* a negative length passed through size_t */
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: len %lld is negative", func, (long long)len);
    if (!text && len > 0)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: text is NULL but len is %zu", func, len);
    if (max_tokens < 0)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: max_tokens %d is negative", func,
                            max_tokens);
    if (max_tokens > 0 && (!starts || !ends))
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: %s is NULL", func,
                            starts ? "ends" : "starts");
    if (len > SEQCLS_TEXT_MAX)
        return seqcls__fail(SEQCLS_E_RANGE, "%s: text of %zu bytes is longer than %d bytes",
                            func, len, SEQCLS_TEXT_MAX);
    tok_init_mode(&it, text, len, mode);
    while (n < max_tokens && tok_next(&it, tok, &tl, &s, &e)) {
        starts[n] = (int32_t)s;
        ends[n] = (int32_t)e;
        n++;
    }
    *n_out = n;
    return SEQCLS_OK;
}

int seqcls_tokenize(const char *text, size_t len, int32_t *starts, int32_t *ends,
                    int max_tokens, int32_t *n_out)
{
    seqcls__clear_error();
    return tok_spans("seqcls_tokenize", SEQCLS_TOKENS_WORD, text, len, starts, ends, max_tokens,
                     n_out);
}
