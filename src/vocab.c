/*
 * vocab.c -- the vocabulary: counting tokens, freezing ids, encoding text
 * to padded id rows, decoding ids back to text, and the serialised form
 * kept in a model file (docs/vocab-format.md).
 *
 * Tokens live NUL-terminated in one byte arena; an open-addressing table
 * (linear probing, load <= 1/2) of entry indices maps bytes to entries.
 * While counting, an entry is a distinct token and its count; after
 * seqcls_vocab_build, entry i is id i.
 */
#include "internal.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    size_t off;       /* token bytes at arena + off, NUL-terminated */
    uint32_t len;
    uint32_t hash;
    uint64_t count;
} entry_t;

/* The options (SEQCLS_VOCAB_*): their ranges and defaults, one table for
 * the setter and the loader.  Their numbers are also their ids in the
 * VOPT payload (docs/vocab-format.md). */
#define VOPT_COUNT 5
typedef struct {
    int lo, hi, def;
    const char *name;
} vopt_t;

static const vopt_t vopts[VOPT_COUNT + 1] = {
    [SEQCLS_VOCAB_TOKENS] = {SEQCLS_TOKENS_WORD, SEQCLS_TOKENS_CHAR, SEQCLS_TOKENS_WORD,
                             "SEQCLS_VOCAB_TOKENS"},
    [SEQCLS_VOCAB_OOV_BUCKETS] = {0, SEQCLS_VOCAB_MAX, 0, "SEQCLS_VOCAB_OOV_BUCKETS"},
    [SEQCLS_VOCAB_MINN] = {0, 32, 0, "SEQCLS_VOCAB_MINN"},
    [SEQCLS_VOCAB_MAXN] = {0, 32, 0, "SEQCLS_VOCAB_MAXN"},
    [SEQCLS_VOCAB_BUCKET] = {0, 1 << 30, 2000000, "SEQCLS_VOCAB_BUCKET"},
};
_Static_assert(SEQCLS_VOCAB_BUCKET == VOPT_COUNT, "one vopts entry per SEQCLS_VOCAB_* option");
/* With these bounds the rows (size + oov + bucket) always fit an int. */
_Static_assert((int64_t)SEQCLS_VOCAB_MAX * 2 + (1 << 30) <= INT32_MAX, "rows fit an int");

struct seqcls_vocab {
    int built;
    int opt[VOPT_COUNT + 1];   /* by SEQCLS_VOCAB_* */
    char *arena;
    size_t arena_len, arena_cap;
    entry_t *ent;
    size_t n, cap;
    int32_t *slot;    /* -1 = empty */
    size_t nslot;     /* power of two */
};

static const char PAD[] = "<pad>";
static const char UNK[] = "<unk>";

/*
 * fastText's hash (Dictionary::hash, fastText 0.9): FNV-1a 32-bit with
 * each byte sign-extended from 8 bits, so that ids of n-grams and
 * unknown words are those fastText computes.
 */
static uint32_t ft_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    size_t i;
    for (i = 0; i < n; i++) {
        h ^= (uint32_t)(int32_t)(int8_t)s[i];
        h *= 16777619u;
    }
    return h;
}

static uint32_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;   /* FNV-1a */
    size_t i;
    for (i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return (uint32_t)(h ^ (h >> 32));
}

/* Slot of `tok` if present (*found = 1), else the empty slot to use. */
static size_t table_find(const seqcls_vocab_t *v, const char *tok, size_t len, uint32_t h,
                         int *found)
{
    size_t mask = v->nslot - 1, i = h & mask;
    for (;;) {
        int32_t e = v->slot[i];
        if (e < 0) {
            *found = 0;
            return i;
        }
        if (v->ent[e].hash == h && v->ent[e].len == len &&
            memcmp(v->arena + v->ent[e].off, tok, len) == 0) {
            *found = 1;
            return i;
        }
        i = (i + 1) & mask;
    }
}

/* Replace the table by one of `nslot` slots (a power of two). */
static int table_resize(seqcls_vocab_t *v, size_t nslot)
{
    int32_t *slot = seqcls__alloc(seqcls__mul(nslot, sizeof *slot));
    size_t i, mask = nslot - 1;
    if (!slot)
        return SEQCLS_E_NOMEM;
    memset(slot, 0xFF, nslot * sizeof *slot);
    for (i = 0; i < v->n; i++) {
        size_t j = v->ent[i].hash & mask;
        while (slot[j] >= 0)
            j = (j + 1) & mask;
        slot[j] = (int32_t)i;
    }
    seqcls__dealloc(v->slot);
    v->slot = slot;
    v->nslot = nslot;
    return SEQCLS_OK;
}

/* Grow the arrays so that one more token of `len` bytes fits. */
static int reserve(seqcls_vocab_t *v, size_t len)
{
    if (v->arena_len + len + 1 > v->arena_cap) {
        size_t cap = v->arena_cap ? v->arena_cap : 4096;
        char *a;
        while (cap < v->arena_len + len + 1)
            cap *= 2;
        a = seqcls__alloc(cap);
        if (!a)
            return SEQCLS_E_NOMEM;
        if (v->arena_len)
            memcpy(a, v->arena, v->arena_len);
        seqcls__dealloc(v->arena);
        v->arena = a;
        v->arena_cap = cap;
    }
    if (v->n + 1 > v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 256;
        entry_t *e = seqcls__alloc(seqcls__mul(cap, sizeof *e));
        if (!e)
            return SEQCLS_E_NOMEM;
        if (v->n)
            memcpy(e, v->ent, v->n * sizeof *e);
        seqcls__dealloc(v->ent);
        v->ent = e;
        v->cap = cap;
    }
    if ((v->n + 1) * 2 > v->nslot)
        return table_resize(v, v->nslot * 2);
    return SEQCLS_OK;
}

/* Append a new token (known to be absent) at the table slot `at`. */
static int insert(seqcls_vocab_t *v, const char *tok, size_t len, uint32_t h, uint64_t count)
{
    int found;
    size_t at;
    entry_t *e;
    int rc = reserve(v, len);
    if (rc)
        return rc;
    at = table_find(v, tok, len, h, &found);   /* the table may have moved */
    e = &v->ent[v->n];
    e->off = v->arena_len;
    e->len = (uint32_t)len;
    e->hash = h;
    e->count = count;
    memcpy(v->arena + v->arena_len, tok, len);
    v->arena[v->arena_len + len] = '\0';
    v->arena_len += len + 1;
    v->slot[at] = (int32_t)v->n;
    v->n++;
    return SEQCLS_OK;
}

static seqcls_vocab_t *vocab_new(void)
{
    seqcls_vocab_t *v = seqcls__calloc(1, sizeof *v);
    int o;
    if (!v)
        return NULL;
    for (o = 1; o <= VOPT_COUNT; o++)
        v->opt[o] = vopts[o].def;
    if (table_resize(v, 64) != SEQCLS_OK) {
        seqcls__dealloc(v);
        return NULL;
    }
    return v;
}

int seqcls_vocab_create(seqcls_vocab_t **out)
{
    seqcls__clear_error();
    if (!out)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "seqcls_vocab_create: out is NULL");
    *out = vocab_new();
    if (!*out)
        return seqcls__fail(SEQCLS_E_NOMEM, "seqcls_vocab_create: out of memory");
    return SEQCLS_OK;
}

void seqcls_vocab_free(seqcls_vocab_t *v)
{
    if (!v)
        return;
    seqcls__dealloc(v->arena);
    seqcls__dealloc(v->ent);
    seqcls__dealloc(v->slot);
    seqcls__dealloc(v);
}

/* Common checks of a text argument. */
static int check_text(const char *func, const char *text, size_t len)
{
    if (len > (size_t)PTRDIFF_MAX)   /* a negative length passed through size_t */
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: len %lld is negative", func, (long long)len);
    if (!text && len > 0)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: text is NULL but len is %zu", func, len);
    if (len > SEQCLS_TEXT_MAX)
        return seqcls__fail(SEQCLS_E_RANGE, "%s: text of %zu bytes is longer than %d bytes",
                            func, len, SEQCLS_TEXT_MAX);
    return SEQCLS_OK;
}

int seqcls_vocab_add_text(seqcls_vocab_t *v, const char *text, size_t len)
{
    const char *func = "seqcls_vocab_add_text";
    tok_iter_t it;
    char tok[SEQCLS_TOKEN_MAX + 4];
    size_t tl, s, e;
    int rc;

    seqcls__clear_error();
    if (!v)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: vocabulary is NULL", func);
    if (v->built)
        return seqcls__fail(SEQCLS_E_STATE, "%s: the vocabulary is already built", func);
    if ((rc = check_text(func, text, len)) != SEQCLS_OK)
        return rc;
    tok_init_mode(&it, text, len, v->opt[SEQCLS_VOCAB_TOKENS]);
    while (tok_next(&it, tok, &tl, &s, &e)) {
        uint32_t h = hash_bytes(tok, tl);
        int found;
        size_t at = table_find(v, tok, tl, h, &found);
        if (found) {
            v->ent[v->slot[at]].count++;
            continue;
        }
        if (v->n >= SEQCLS_VOCAB_MAX)
            return seqcls__fail(SEQCLS_E_NOMEM, "%s: more than %d distinct tokens", func,
                                SEQCLS_VOCAB_MAX);
        if (insert(v, tok, tl, h, 1) != SEQCLS_OK)
            return seqcls__fail(SEQCLS_E_NOMEM, "%s: out of memory after %zu distinct tokens",
                                func, v->n);
    }
    return SEQCLS_OK;
}

/* ---- options ---- */

/* The combination rules, checked when the options take effect (build,
 * load); NULL if they hold, else what is wrong. */
static const char *options_conflict(const int *opt, char *why, size_t cap)
{
    if (opt[SEQCLS_VOCAB_MINN] > opt[SEQCLS_VOCAB_MAXN])
        snprintf(why, cap, "minn %d is above maxn %d (maxn 0 = no n-grams: set maxn too)",
                 opt[SEQCLS_VOCAB_MINN], opt[SEQCLS_VOCAB_MAXN]);
    else if (opt[SEQCLS_VOCAB_MAXN] > 0 && opt[SEQCLS_VOCAB_BUCKET] == 0)
        snprintf(why, cap, "n-grams (maxn %d) need bucket > 0", opt[SEQCLS_VOCAB_MAXN]);
    else
        return NULL;
    return why;
}

int seqcls_vocab_set_int(seqcls_vocab_t *v, int option, int value)
{
    const char *func = "seqcls_vocab_set_int";
    seqcls__clear_error();
    if (!v)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: vocabulary is NULL", func);
    if (option < 1 || option > VOPT_COUNT)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: unknown option %d", func, option);
    if (v->built)
        return seqcls__fail(SEQCLS_E_STATE,
                            "%s: %s cannot change: the vocabulary is already built", func,
                            vopts[option].name);
    if (value < vopts[option].lo || value > vopts[option].hi)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: %s %d is outside [%d, %d]", func,
                            vopts[option].name, value, vopts[option].lo, vopts[option].hi);
    if (option == SEQCLS_VOCAB_TOKENS && value != v->opt[option] && v->n > 0)
        return seqcls__fail(SEQCLS_E_STATE,
                            "%s: the tokenisation mode cannot change after text was counted "
                            "(set it before seqcls_vocab_add_text)",
                            func);
    v->opt[option] = value;
    return SEQCLS_OK;
}

int seqcls_vocab_get_int(const seqcls_vocab_t *v, int option, int *value)
{
    const char *func = "seqcls_vocab_get_int";
    seqcls__clear_error();
    if (!v || !value)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: %s is NULL", func,
                            v ? "value" : "vocabulary");
    if (option < 1 || option > VOPT_COUNT)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: unknown option %d", func, option);
    *value = v->opt[option];
    return SEQCLS_OK;
}

/* Rows of the n-gram buckets (0 without n-grams). */
static int ngram_rows(const seqcls_vocab_t *v)
{
    return v->opt[SEQCLS_VOCAB_MAXN] > 0 ? v->opt[SEQCLS_VOCAB_BUCKET] : 0;
}

int seqcls_vocab_rows(const seqcls_vocab_t *v)
{
    if (!v || !v->built)
        return 0;
    return (int)v->n + v->opt[SEQCLS_VOCAB_OOV_BUCKETS] + ngram_rows(v);
}

typedef struct {
    uint64_t count;
    const char *s;
    uint32_t len;
} rank_t;

/* Descending count, then ascending bytes (a prefix first). */
static int rank_cmp(const void *pa, const void *pb)
{
    const rank_t *a = pa, *b = pb;
    size_t m = a->len < b->len ? a->len : b->len;
    int c;
    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    c = memcmp(a->s, b->s, m);
    if (c)
        return c;
    return (a->len > b->len) - (a->len < b->len);
}

int seqcls_vocab_build(seqcls_vocab_t *v, int min_freq, int max_size)
{
    const char *func = "seqcls_vocab_build";
    rank_t *rank = NULL;
    seqcls_vocab_t *nv = NULL;
    size_t i, kept = 0, limit;
    int rc = SEQCLS_OK;

    seqcls__clear_error();
    if (!v)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: vocabulary is NULL", func);
    if (v->built)
        return seqcls__fail(SEQCLS_E_STATE, "%s: the vocabulary is already built", func);
    if (min_freq < 0)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: min_freq %d is negative", func, min_freq);
    if (max_size < 0 || max_size == 1)
        return seqcls__fail(SEQCLS_E_INVALID_ARG,
                            "%s: max_size %d must be 0 (no limit) or >= 2 (the reserved ids)",
                            func, max_size);
    if (max_size > SEQCLS_VOCAB_MAX)
        return seqcls__fail(SEQCLS_E_RANGE, "%s: max_size %d is above the limit %d", func,
                            max_size, SEQCLS_VOCAB_MAX);
    {
        char why[128];
        if (options_conflict(v->opt, why, sizeof why))
            return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: %s", func, why);
    }
    limit = max_size ? (size_t)max_size - 2 : (size_t)SEQCLS_VOCAB_MAX - 2;

    if (v->n) {
        rank = seqcls__alloc(seqcls__mul(v->n, sizeof *rank));
        if (!rank)
            return seqcls__fail(SEQCLS_E_NOMEM, "%s: out of memory sorting %zu tokens", func,
                                v->n);
    }
    for (i = 0; i < v->n; i++)
        if (v->ent[i].count >= (uint64_t)min_freq) {
            rank[kept].count = v->ent[i].count;
            rank[kept].s = v->arena + v->ent[i].off;
            rank[kept].len = v->ent[i].len;
            kept++;
        }
    if (kept > 1)
        qsort(rank, kept, sizeof *rank, rank_cmp);
    if (kept > limit)
        kept = limit;

    nv = vocab_new();
    if (!nv)
        rc = SEQCLS_E_NOMEM;
    if (!rc)
        rc = insert(nv, PAD, sizeof PAD - 1, hash_bytes(PAD, sizeof PAD - 1), 0);
    if (!rc)
        rc = insert(nv, UNK, sizeof UNK - 1, hash_bytes(UNK, sizeof UNK - 1), 0);
    for (i = 0; !rc && i < kept; i++)
        rc = insert(nv, rank[i].s, rank[i].len, hash_bytes(rank[i].s, rank[i].len),
                    rank[i].count);
    seqcls__dealloc(rank);
    if (rc) {
        seqcls_vocab_free(nv);
        return seqcls__fail(SEQCLS_E_NOMEM, "%s: out of memory building %zu ids", func,
                            kept + 2);
    }
    /* the new content replaces the old; the handle stays the same, and
     * so do the options */
    memcpy(nv->opt, v->opt, sizeof nv->opt);
    seqcls__dealloc(v->arena);
    seqcls__dealloc(v->ent);
    seqcls__dealloc(v->slot);
    *v = *nv;
    v->built = 1;
    seqcls__dealloc(nv);
    return SEQCLS_OK;
}

int seqcls_vocab_size(const seqcls_vocab_t *v)
{
    return (v && v->built) ? (int)v->n : 0;
}

/* Id of tok[0, len), or -1. */
static int lookup(const seqcls_vocab_t *v, const char *tok, size_t len)
{
    int found;
    size_t at = table_find(v, tok, len, hash_bytes(tok, len), &found);
    return found ? (int)v->slot[at] : -1;
}

/* Id of the token tok[0, len) as encoding gives it: its own, else its
 * out-of-vocabulary bucket, else SEQCLS_UNK_ID. */
static int32_t token_id(const seqcls_vocab_t *v, const char *tok, size_t len)
{
    const int id = lookup(v, tok, len);
    const uint32_t oov = (uint32_t)v->opt[SEQCLS_VOCAB_OOV_BUCKETS];
    if (id >= 0)
        return id;
    return oov ? (int32_t)(v->n + ft_hash(tok, len) % oov) : SEQCLS_UNK_ID;
}

int seqcls_vocab_id(const seqcls_vocab_t *v, const char *token)
{
    seqcls__clear_error();
    if (!v || !token)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "seqcls_vocab_id: %s is NULL",
                            v ? "token" : "vocabulary");
    if (!v->built)
        return seqcls__fail(SEQCLS_E_STATE, "seqcls_vocab_id: the vocabulary is not built yet");
    return token_id(v, token, strlen(token));
}

/*
 * The n-gram ids of token tok[0, tl) into out[0, cap), fastText's
 * Dictionary::computeSubwords on "<" tok ">": for every start at a whole
 * code point, the substrings of minn..maxn code points, except the
 * single characters at either end ('<' and '>').  The hash of a
 * substring extends that of its prefix, byte by byte.  Returns the
 * number written (at most cap: the first ones are kept).
 */
static int ngram_ids(const seqcls_vocab_t *v, const char *tok, size_t tl, int32_t *out, int cap)
{
    const int minn = v->opt[SEQCLS_VOCAB_MINN], maxn = v->opt[SEQCLS_VOCAB_MAXN];
    const uint32_t bucket = (uint32_t)v->opt[SEQCLS_VOCAB_BUCKET];
    const int32_t base = (int32_t)v->n + v->opt[SEQCLS_VOCAB_OOV_BUCKETS];
    unsigned char w[SEQCLS_TOKEN_MAX + 2];
    size_t wl = tl + 2, i, j;
    int k = 0, n;
    if (maxn <= 0 || cap <= 0)
        return 0;
    w[0] = '<';
    memcpy(w + 1, tok, tl);
    w[tl + 1] = '>';
    for (i = 0; i < wl && k < cap; i++) {
        uint32_t h = 2166136261u;
        if ((w[i] & 0xC0) == 0x80)
            continue;   /* not the start of a code point */
        for (j = i, n = 1; j < wl && n <= maxn && k < cap; n++) {
            do {
                h = (h ^ (uint32_t)(int32_t)(int8_t)w[j]) * 16777619u;
                j++;
            } while (j < wl && (w[j] & 0xC0) == 0x80);
            if (n >= minn && !(n == 1 && (i == 0 || j == wl)))
                out[k++] = base + (int32_t)(h % bucket);
        }
    }
    return k;
}

const char *seqcls_vocab_token(const seqcls_vocab_t *v, int id)
{
    if (!v || !v->built || id < 0 || (size_t)id >= v->n)
        return NULL;
    return v->arena + v->ent[id].off;
}

/* Reverse ids[i, j). */
static void reverse_ids(int32_t *ids, int i, int j)
{
    for (j--; i < j; i++, j--) {
        const int32_t t = ids[i];
        ids[i] = ids[j];
        ids[j] = t;
    }
}

static int encode(const seqcls_vocab_t *v, const char *text, size_t len, int32_t *ids,
                  int max_len, unsigned flags, int32_t *n_out, const char *func)
{
    tok_iter_t it;
    char tok[SEQCLS_TOKEN_MAX + 4];
    size_t tl, s, e;
    int n = 0, rc;
    int64_t total = 0;

    seqcls__clear_error();
    if (n_out)
        *n_out = 0;
    if (!v)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: vocabulary is NULL", func);
    if (!v->built)
        return seqcls__fail(SEQCLS_E_STATE, "%s: the vocabulary is not built yet", func);
    if (max_len < 0)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: max_len %d is negative", func, max_len);
    if (!ids && max_len > 0)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: ids is NULL", func);
    if (flags & ~SEQCLS_TRUNCATE_PRE)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: unknown flags 0x%x", func,
                            flags & ~SEQCLS_TRUNCATE_PRE);
    if ((rc = check_text(func, text, len)) != SEQCLS_OK)
        return rc;
    tok_init_mode(&it, text, len, v->opt[SEQCLS_VOCAB_TOKENS]);
    if (!(flags & SEQCLS_TRUNCATE_PRE)) {   /* the first max_len tokens */
        while (n < max_len && tok_next(&it, tok, &tl, &s, &e))
            ids[n++] = token_id(v, tok, tl);
    } else if (max_len > 0) {
        /* the last max_len tokens: ids[] as a ring, token k at k % max_len,
         * then rotated so that the oldest kept token comes first */
        while (tok_next(&it, tok, &tl, &s, &e))
            ids[total++ % max_len] = token_id(v, tok, tl);
        n = total < max_len ? (int)total : max_len;
        if (total > max_len) {
            const int start = (int)(total % max_len);
            reverse_ids(ids, 0, start);
            reverse_ids(ids, start, max_len);
            reverse_ids(ids, 0, max_len);
        }
    }
    if (n_out)
        *n_out = n;
    for (; n < max_len; n++)
        ids[n] = SEQCLS_PAD_ID;
    return SEQCLS_OK;
}

int seqcls_vocab_encode(const seqcls_vocab_t *v, const char *text, size_t len, int32_t *ids,
                        int max_len, int32_t *n_out)
{
    return encode(v, text, len, ids, max_len, 0, n_out, "seqcls_vocab_encode");
}

int seqcls_vocab_encode_ex(const seqcls_vocab_t *v, const char *text, size_t len, int32_t *ids,
                           int max_len, unsigned flags, int32_t *n_out)
{
    return encode(v, text, len, ids, max_len, flags, n_out, "seqcls_vocab_encode_ex");
}

/* ---- a vocabulary from a list of tokens ---- */

int seqcls_vocab_from_list(seqcls_vocab_t **out, const char *const *tokens, int n)
{
    const char *func = "seqcls_vocab_from_list";
    seqcls_vocab_t *v;
    int i;

    seqcls__clear_error();
    if (!out)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: out is NULL", func);
    *out = NULL;
    if (!tokens && n > 0)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: tokens is NULL", func);
    if (n < 2 || n > SEQCLS_VOCAB_MAX)
        return seqcls__fail(n < 2 ? SEQCLS_E_INVALID_ARG : SEQCLS_E_RANGE,
                            "%s: n = %d is outside [2, %d] (ids 0 and 1 are the reserved <pad> "
                            "and <unk>)",
                            func, n, SEQCLS_VOCAB_MAX);
    /* every token is checked before anything is allocated */
    for (i = 2; i < n; i++) {
        const char *t = tokens[i];
        size_t tl;
        if (!t)
            return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: tokens[%d] is NULL", func, i);
        tl = strlen(t);
        if (tl == 0 || tl > SEQCLS_TOKEN_MAX)
            return seqcls__fail(SEQCLS_E_INVALID_ARG,
                                "%s: tokens[%d] has %zu bytes, outside [1, %d]", func, i, tl,
                                SEQCLS_TOKEN_MAX);
        if (!vocab_utf8_valid((const unsigned char *)t, tl))
            return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: tokens[%d] is not valid UTF-8", func,
                                i);
        if (!strcmp(t, PAD) || !strcmp(t, UNK))
            return seqcls__fail(SEQCLS_E_INVALID_ARG,
                                "%s: tokens[%d] is \"%s\", which only id %d may be", func, i, t,
                                t[1] == 'p' ? SEQCLS_PAD_ID : SEQCLS_UNK_ID);
    }
    if (!(v = vocab_new()))
        return seqcls__fail(SEQCLS_E_NOMEM, "%s: out of memory", func);
    for (i = 0; i < n; i++) {
        const char *t = i == 0 ? PAD : i == 1 ? UNK : tokens[i];
        const size_t tl = strlen(t);
        const uint32_t h = hash_bytes(t, tl);
        int found;
        table_find(v, t, tl, h, &found);
        if (found) {
            int first = lookup(v, t, tl);
            seqcls_vocab_free(v);
            return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: tokens[%d] repeats tokens[%d] (\"%s\")",
                                func, i, first, t);
        }
        if (insert(v, t, tl, h, 0) != SEQCLS_OK) {
            seqcls_vocab_free(v);
            return seqcls__fail(SEQCLS_E_NOMEM, "%s: out of memory at token %d of %d", func, i,
                                n);
        }
    }
    v->built = 1;
    *out = v;
    return SEQCLS_OK;
}

int seqcls_vocab_encode_subwords(const seqcls_vocab_t *v, const char *text, size_t len,
                                 int32_t *ids, int maxlen, int per_token, int *n_tokens)
{
    const char *func = "seqcls_vocab_encode_subwords";
    tok_iter_t it;
    char tok[SEQCLS_TOKEN_MAX + 4];
    size_t tl, s, e, i;
    int n = 0, rc;

    seqcls__clear_error();
    if (n_tokens)
        *n_tokens = 0;
    if (!v)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: vocabulary is NULL", func);
    if (!v->built)
        return seqcls__fail(SEQCLS_E_STATE, "%s: the vocabulary is not built yet", func);
    if (maxlen < 0 || per_token < 1)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: %s %d is %s", func,
                            maxlen < 0 ? "maxlen" : "per_token", maxlen < 0 ? maxlen : per_token,
                            maxlen < 0 ? "negative" : "below 1");
    if (!ids && maxlen > 0)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: ids is NULL", func);
    if ((int64_t)maxlen * per_token > INT32_MAX)
        return seqcls__fail(SEQCLS_E_RANGE, "%s: maxlen %d x per_token %d ids are too many",
                            func, maxlen, per_token);
    if ((rc = check_text(func, text, len)) != SEQCLS_OK)
        return rc;
    tok_init_mode(&it, text, len, v->opt[SEQCLS_VOCAB_TOKENS]);
    while (n < maxlen && tok_next(&it, tok, &tl, &s, &e)) {
        int32_t *row = ids + (size_t)n * per_token;
        int k = 1 + ngram_ids(v, tok, tl, row + 1, per_token - 1);
        row[0] = token_id(v, tok, tl);
        for (; k < per_token; k++)
            row[k] = -1;
        n++;
    }
    if (n_tokens)
        *n_tokens = n;
    for (i = (size_t)n * per_token; i < (size_t)maxlen * per_token; i++)
        ids[i] = -1;
    return SEQCLS_OK;
}

int seqcls_vocab_tokenize(const seqcls_vocab_t *v, const char *text, size_t len,
                          int32_t *starts, int32_t *ends, int max_tokens, int32_t *n_out)
{
    const char *func = "seqcls_vocab_tokenize";
    seqcls__clear_error();
    if (n_out)
        *n_out = 0;
    if (!v)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: vocabulary is NULL", func);
    return tok_spans(func, v->opt[SEQCLS_VOCAB_TOKENS], text, len, starts, ends, max_tokens,
                     n_out);
}

/* The text of id (in [0, size + oov buckets)): its token, or "<unk>" for a bucket. */
static const char *id_text(const seqcls_vocab_t *v, int32_t id, size_t *len)
{
    if ((size_t)id < v->n) {
        *len = v->ent[id].len;
        return v->arena + v->ent[id].off;
    }
    *len = sizeof UNK - 1;
    return UNK;
}

int seqcls_vocab_decode(const seqcls_vocab_t *v, const int32_t *ids, int n, char *buf,
                        size_t cap, size_t *len_out)
{
    const char *func = "seqcls_vocab_decode";
    size_t need = 0, pos = 0, sep, tl, limit;
    int i, first = 1;

    seqcls__clear_error();
    if (len_out)
        *len_out = 0;
    if (!v || !len_out || (!ids && n > 0) || (!buf && cap > 0))
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: %s is NULL", func,
                            !v ? "vocabulary" : !len_out ? "len_out" : !buf ? "buf" : "ids");
    if (!v->built)
        return seqcls__fail(SEQCLS_E_STATE, "%s: the vocabulary is not built yet", func);
    if (n < 0)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: n %d is negative", func, n);
    /* word tokens are joined by spaces; characters (spaces among them) as they are */
    sep = v->opt[SEQCLS_VOCAB_TOKENS] == SEQCLS_TOKENS_CHAR ? 0 : 1;
    limit = v->n + (size_t)v->opt[SEQCLS_VOCAB_OOV_BUCKETS];
    for (i = 0; i < n; i++) {
        if (ids[i] < 0 || (size_t)ids[i] >= limit)
            return seqcls__fail(SEQCLS_E_RANGE, "%s: id %d at %d is outside [0, %zu)%s", func,
                                (int)ids[i], i, limit,
                                (size_t)ids[i] >= limit && ids[i] >= 0 &&
                                        (size_t)ids[i] < (size_t)seqcls_vocab_rows(v)
                                    ? " (an n-gram bucket, not a token)"
                                    : "");
        if (ids[i] == SEQCLS_PAD_ID)
            continue;
        id_text(v, ids[i], &tl);
        need += tl + (first ? 0 : sep);
        first = 0;
    }
    if (need + 1 > cap) {
        if (cap > 0)
            buf[0] = '\0';
        *len_out = need + 1;
        return seqcls__fail(SEQCLS_E_RANGE, "%s: the text needs %zu bytes, cap is %zu", func,
                            need + 1, cap);
    }
    first = 1;
    for (i = 0; i < n; i++) {
        const char *t;
        if (ids[i] == SEQCLS_PAD_ID)
            continue;
        t = id_text(v, ids[i], &tl);
        if (!first && sep)
            buf[pos++] = ' ';
        memcpy(buf + pos, t, tl);
        pos += tl;
        first = 0;
    }
    buf[pos] = '\0';
    *len_out = pos;
    return SEQCLS_OK;
}

/* ---- serialised form (docs/vocab-format.md) ----
 *
 * VOCB payload: u32 count, then per id u32 length + bytes (seqcls 1.0).
 * VOPT payload: u32 count >= 1, then per option u32 id (SEQCLS_VOCAB_*)
 * and i32 value, ids ascending, only the options not at their default
 * (so a vocabulary with the defaults has none, and is a 1.0 vocabulary).
 * A model file keeps them in sections VOCB and VOPT; the standalone
 * buffer is the VOCB payload, followed, when there is a VOPT payload, by
 * the 4 bytes "VOPT", a u32 length and the VOPT payload -- trailing bytes
 * that seqcls 1.0 refuses.
 */

static const unsigned char VOPT_TAG[4] = {'V', 'O', 'P', 'T'};

/* Options not at their default. */
static int options_set(const seqcls_vocab_t *v)
{
    int o, k = 0;
    for (o = 1; o <= VOPT_COUNT; o++)
        k += v->opt[o] != vopts[o].def;
    return k;
}

/* Bytes of the VOCB payload, or 0 if it overflows. */
static size_t tokens_bytes(const seqcls_vocab_t *v)
{
    size_t i, total = 4;
    for (i = 0; i < v->n; i++) {
        size_t add = 4 + (size_t)v->ent[i].len;
        if (total > SIZE_MAX - add)
            return 0;
        total += add;
    }
    return total;
}

static void put_tokens(const seqcls_vocab_t *v, unsigned char *p)
{
    size_t i, pos = 4;
    le_put32(p, (uint32_t)v->n);
    for (i = 0; i < v->n; i++) {
        le_put32(p + pos, v->ent[i].len);
        memcpy(p + pos + 4, v->arena + v->ent[i].off, v->ent[i].len);
        pos += 4 + (size_t)v->ent[i].len;
    }
}

static void put_options(const seqcls_vocab_t *v, unsigned char *p)
{
    int o;
    le_put32(p, (uint32_t)options_set(v));
    p += 4;
    for (o = 1; o <= VOPT_COUNT; o++)
        if (v->opt[o] != vopts[o].def) {
            le_put32(p, (uint32_t)o);
            le_put32(p + 4, (uint32_t)v->opt[o]);
            p += 8;
        }
}

/* Checks common to the writers. */
static int serialize_check(const seqcls_vocab_t *v, void **buf, size_t *len)
{
    if (buf)
        *buf = NULL;
    if (len)
        *len = 0;
    if (!v || !buf || !len)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "vocabulary: serialise: %s is NULL",
                            !v ? "vocabulary" : !buf ? "buf" : "len");
    if (!v->built)
        return seqcls__fail(SEQCLS_E_STATE, "vocabulary: serialise: the vocabulary is not built");
    return SEQCLS_OK;
}

/* parts: 1 = VOCB payload, 2 = VOPT payload (nothing when there is none), 3 = standalone. */
static int serialize(const seqcls_vocab_t *v, void **buf, size_t *len, int parts)
{
    size_t tb, ob, total;
    unsigned char *p;
    int rc = serialize_check(v, buf, len);
    if (rc)
        return rc;
    tb = (parts & 1) ? tokens_bytes(v) : 0;
    ob = options_set(v) ? 4 + 8 * (size_t)options_set(v) : 0;
    if ((parts & 1) && tb == 0)
        return seqcls__fail(SEQCLS_E_NOMEM, "vocabulary: serialise: size overflows");
    total = parts == 2 ? ob : parts == 1 ? tb : tb + (ob ? 8 + ob : 0);
    if (total == 0)
        return SEQCLS_OK;
    if (total < tb || !(p = seqcls__alloc(total)))
        return seqcls__fail(SEQCLS_E_NOMEM, "vocabulary: serialise: out of memory for %zu bytes",
                            total);
    if (parts & 1)
        put_tokens(v, p);
    if (parts == 2) {
        put_options(v, p);
    } else if (parts == 3 && ob) {
        memcpy(p + tb, VOPT_TAG, 4);
        le_put32(p + tb + 4, (uint32_t)ob);
        put_options(v, p + tb + 8);
    }
    *buf = p;
    *len = total;
    return SEQCLS_OK;
}

int vocab_serialize(const seqcls_vocab_t *v, void **buf, size_t *len)
{
    return serialize(v, buf, len, 3);
}

int vocab_serialize_tokens(const seqcls_vocab_t *v, void **buf, size_t *len)
{
    return serialize(v, buf, len, 1);
}

int vocab_serialize_options(const seqcls_vocab_t *v, void **buf, size_t *len)
{
    return serialize(v, buf, len, 2);
}

/* Read the VOCB payload at p[0, len) into v (empty, from vocab_new) up
 * to *end (the reader of the standalone form looks past it). */
static int parse_tokens(seqcls_vocab_t *v, const unsigned char *p, size_t len, size_t *end)
{
    uint32_t count, i;
    size_t pos = 4;
    if (len < 4)
        return seqcls__fail(SEQCLS_E_FORMAT,
                            "vocabulary: %zu bytes cannot hold the 4-byte token count", len);
    count = le_get32(p);
    if (count < 2)
        return seqcls__fail(SEQCLS_E_FORMAT,
                            "vocabulary: token count %u is below 2 (<pad> and <unk>)", count);
    if (count > SEQCLS_VOCAB_MAX)
        return seqcls__fail(SEQCLS_E_FORMAT, "vocabulary: token count %u is above the limit %d",
                            count, SEQCLS_VOCAB_MAX);
    if ((size_t)count > (len - 4) / 5)   /* each token takes at least 5 bytes */
        return seqcls__fail(SEQCLS_E_FORMAT,
                            "vocabulary: token count %u needs more than the %zu bytes present",
                            count, len - 4);
    for (i = 0; i < count; i++) {
        const char *tok;
        uint32_t tl;
        uint32_t h;
        int found;
        if (len - pos < 4)
            return seqcls__fail(SEQCLS_E_FORMAT,
                                "vocabulary: token %u of %u: length field is truncated", i, count);
        tl = le_get32(p + pos);
        pos += 4;
        if (tl == 0 || tl > SEQCLS_TOKEN_MAX)
            return seqcls__fail(SEQCLS_E_FORMAT,
                                "vocabulary: token %u of %u: length %u is outside [1, %d]", i,
                                count, tl, SEQCLS_TOKEN_MAX);
        if (tl > len - pos)
            return seqcls__fail(SEQCLS_E_FORMAT,
                                "vocabulary: token %u of %u: %u bytes run past the end (%zu left)",
                                i, count, tl, len - pos);
        tok = (const char *)p + pos;
        if (memchr(tok, '\0', tl) || !vocab_utf8_valid((const unsigned char *)tok, tl))
            return seqcls__fail(SEQCLS_E_FORMAT, "vocabulary: token %u of %u: %s", i, count,
                                memchr(tok, '\0', tl) ? "contains a NUL byte"
                                                      : "is not valid UTF-8");
        if (i < 2) {
            const char *want = i == 0 ? PAD : UNK;
            if (tl != 5 || memcmp(tok, want, 5) != 0)
                return seqcls__fail(SEQCLS_E_FORMAT,
                                    "vocabulary: token %u is not the reserved \"%s\"", i, want);
        }
        h = hash_bytes(tok, tl);
        table_find(v, tok, tl, h, &found);
        if (found)
            return seqcls__fail(SEQCLS_E_FORMAT, "vocabulary: token %u of %u is a duplicate", i,
                                count);
        if (insert(v, tok, tl, h, 0) != SEQCLS_OK)
            return seqcls__fail(SEQCLS_E_NOMEM, "vocabulary: out of memory at token %u", i);
        pos += tl;
    }
    *end = pos;
    return SEQCLS_OK;
}

/* Read a VOPT payload into v's options. */
static int parse_options(seqcls_vocab_t *v, const unsigned char *p, size_t len)
{
    uint32_t count, i, last = 0;
    char why[128];
    if (len < 4 || (count = le_get32(p)) == 0 || (len - 4) % 8 != 0 ||
        (size_t)count != (len - 4) / 8)
        return seqcls__fail(SEQCLS_E_FORMAT,
                            "vocabulary: options: %zu bytes are not a count and that many "
                            "options",
                            len);
    for (i = 0; i < count; i++) {
        const uint32_t id = le_get32(p + 4 + 8 * (size_t)i);
        const int32_t value = (int32_t)le_get32(p + 8 + 8 * (size_t)i);
        if (id <= last)
            return seqcls__fail(SEQCLS_E_FORMAT,
                                "vocabulary: options: option %u after option %u (ids ascend, "
                                "each once)",
                                (unsigned)id, (unsigned)last);
        last = id;
        if (id > VOPT_COUNT)
            return seqcls__fail(SEQCLS_E_VERSION,
                                "vocabulary: option %u is unknown to this version of seqcls",
                                (unsigned)id);
        if (value < vopts[id].lo || value > vopts[id].hi || value == vopts[id].def)
            return seqcls__fail(SEQCLS_E_FORMAT, "vocabulary: %s %d is %s", vopts[id].name,
                                (int)value, value == vopts[id].def ? "its default (never written)"
                                                                   : "out of its range");
        v->opt[id] = value;
    }
    if (options_conflict(v->opt, why, sizeof why))
        return seqcls__fail(SEQCLS_E_FORMAT, "vocabulary: options: %s", why);
    return SEQCLS_OK;
}

int vocab_deserialize_parts(seqcls_vocab_t **out, const void *tokens, size_t tlen,
                            const void *options, size_t olen, int *in_options)
{
    seqcls_vocab_t *v;
    size_t end = 0;
    int rc;
    if (out)
        *out = NULL;
    if (!out || (!tokens && tlen > 0) || (!options && olen > 0))
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "vocabulary: %s is NULL", out ? "buf" : "out");
    if (!(v = vocab_new()))
        return seqcls__fail(SEQCLS_E_NOMEM, "vocabulary: out of memory");
    rc = parse_tokens(v, tokens, tlen, &end);
    if (rc == SEQCLS_OK && end != tlen)
        rc = seqcls__fail(SEQCLS_E_FORMAT, "vocabulary: %zu trailing bytes after %zu tokens",
                          tlen - end, v->n);
    if (in_options)
        *in_options = rc == SEQCLS_OK && options;
    if (rc == SEQCLS_OK && options)
        rc = parse_options(v, options, olen);
    if (rc) {
        seqcls_vocab_free(v);
        return rc;
    }
    v->built = 1;
    *out = v;
    return SEQCLS_OK;
}

int vocab_deserialize(seqcls_vocab_t **out, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    seqcls_vocab_t *v;
    size_t end = 0;
    int rc;
    if (out)
        *out = NULL;
    if (!out || (!buf && len > 0))
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "vocabulary: %s is NULL", out ? "buf" : "out");
    if (!(v = vocab_new()))
        return seqcls__fail(SEQCLS_E_NOMEM, "vocabulary: out of memory");
    rc = parse_tokens(v, p, len, &end);
    if (rc == SEQCLS_OK && end != len) {
        /* the options' trailer, or garbage */
        if (len - end >= 8 && memcmp(p + end, VOPT_TAG, 4) == 0 &&
            le_get32(p + end + 4) == len - end - 8)
            rc = parse_options(v, p + end + 8, len - end - 8);
        else
            rc = seqcls__fail(SEQCLS_E_FORMAT,
                              "vocabulary: %zu trailing bytes after %zu tokens (not a VOPT "
                              "trailer)",
                              len - end, v->n);
    }
    if (rc) {
        seqcls_vocab_free(v);
        return rc;
    }
    v->built = 1;
    *out = v;
    return SEQCLS_OK;
}

/* Re-issue the current message prefixed with the public function's name. */
static int prefix_error(int rc, const char *func)
{
    char msg[512];
    size_t n = strlen(seqcls_last_error());
    if (n >= sizeof msg)
        n = sizeof msg - 1;
    memcpy(msg, seqcls_last_error(), n);
    msg[n] = '\0';
    return seqcls__fail(rc, "%s: %s", func, msg);
}

int seqcls_vocab_save_buffer(const seqcls_vocab_t *v, void **buf, size_t *len)
{
    int rc;
    seqcls__clear_error();
    rc = vocab_serialize(v, buf, len);
    return rc ? prefix_error(rc, "seqcls_vocab_save_buffer") : SEQCLS_OK;
}

int seqcls_vocab_load_buffer(seqcls_vocab_t **out, const void *buf, size_t len)
{
    int rc;
    seqcls__clear_error();
    rc = vocab_deserialize(out, buf, len);
    return rc ? prefix_error(rc, "seqcls_vocab_load_buffer") : SEQCLS_OK;
}
