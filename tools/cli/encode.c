/*
 * encode.c -- documents to the model's input: token ids [n, T], or for a
 * model whose first layer is an embedding bag (--minn/--maxn) each
 * token's id and character n-gram ids [n, T, per]; in the vocabulary's
 * own tokenisation mode (--tokens), so test, predict and explain read
 * text as training did.  Also the vocabulary's coverage of the tokens.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* The longest token, in code points, whose n-grams all fit a bag. */
#define SUBWORD_LEN_MAX 32

int model_per_step(const seqcls_model_t *m)
{
    int per = 0;
    if (seqcls_layer_count(m) > 0 && seqcls_layer_kind(m, 0) == SEQCLS_LAYER_EMBEDDING_BAG)
        check(seqcls_layer_get_int(m, 0, SEQCLS_OPT_PER_STEP, &per), "the model's first layer");
    return per;
}

static int vocab_option(const seqcls_vocab_t *v, int option)
{
    int value = 0;
    check(seqcls_vocab_get_int(v, option, &value), "vocabulary");
    return value;
}

/* The n-grams of a token of L code points (seqcls_vocab_encode_subwords). */
static int ngram_count(int L, int minn, int maxn)
{
    int k, n = 0;
    for (k = minn < 1 ? 1 : minn; k <= maxn && k <= L + 2; k++)
        n += L + 3 - k;
    return minn <= 1 && maxn >= 1 ? n - 2 : n;
}

int subword_slots(const seqcls_vocab_t *v)
{
    const int minn = vocab_option(v, SEQCLS_VOCAB_MINN), maxn = vocab_option(v, SEQCLS_VOCAB_MAXN);
    int i, longest = 1;
    for (i = 2; i < seqcls_vocab_size(v) && longest < SUBWORD_LEN_MAX; i++) {
        const unsigned char *t = (const unsigned char *)seqcls_vocab_token(v, i);
        int L = 0;
        for (; *t; t++)
            L += (*t & 0xC0) != 0x80;
        longest = L > longest ? L : longest;
    }
    if (longest > SUBWORD_LEN_MAX)
        longest = SUBWORD_LEN_MAX;
    return 1 + (maxn > 0 ? ngram_count(longest, minn, maxn) : 0);
}

/* The subwords of the last T tokens of text[0, len) into dst [T, per]
 * (--truncate pre with an embedding bag): encoded from the start of token
 * n - T - 1, one before the first kept (a whitespace run at the start of
 * a text gives no token in char mode), and the last T rows kept. */
static int subwords_pre(const seqcls_vocab_t *v, const char *text, size_t len, int32_t *dst, int T,
                        int per, int *n_out)
{
    const size_t cap = len < (size_t)INT32_MAX ? len + 1 : (size_t)INT32_MAX;
    int32_t *starts = xmalloc(cap, sizeof *starts, "the token offsets");
    int32_t *ends = xmalloc(cap, sizeof *ends, "the token offsets");
    int32_t *tmp = xmalloc((size_t)T + 1, (size_t)per * sizeof *tmp, "a row of token ids");
    int32_t n = 0;
    int nt = 0, keep, from, rc, k;
    rc = seqcls_vocab_tokenize(v, text, len, starts, ends, (int)cap, &n);
    from = n > T ? starts[n - T - 1] : 0;
    if (rc == SEQCLS_OK)
        rc = seqcls_vocab_encode_subwords(v, text + from, len - (size_t)from, tmp, T + 1, per,
                                          &nt);
    if (rc == SEQCLS_OK) {
        keep = nt < T ? nt : T;
        memcpy(dst, tmp + (size_t)(nt - keep) * per, (size_t)keep * per * sizeof *dst);
        for (k = keep * per; k < T * per; k++)
            dst[k] = -1;
        *n_out = keep;
    }
    free(starts);
    free(ends);
    free(tmp);
    return rc;
}

void encode_docs(const seqcls_vocab_t *v, int per, const docs_t *d, int maxlen, int pre,
                 int width, encoded_t *e)
{
    const int size = seqcls_vocab_size(v), step = per > 0 ? per : 1;
    const unsigned flags = pre ? SEQCLS_TRUNCATE_PRE : 0;
    int32_t *row = xmalloc((size_t)maxlen, sizeof *row, "a row of token ids");
    char what[128];
    int i, t;

    memset(e, 0, sizeof *e);
    e->n = d->n;
    e->per = per;
    e->lens = xmalloc((size_t)d->n, sizeof *e->lens, "the document lengths");
    /* the lengths first: rows are as long as the longest document read */
    e->T = 1;
    for (i = 0; i < d->n; i++) {
        if (seqcls_vocab_encode_ex(v, d->text[i], strlen(d->text[i]), row, maxlen, flags,
                                   &e->lens[i]) != SEQCLS_OK)
            die("encoding line %ld: %s", d->line[i], seqcls_last_error());
        e->T = e->lens[i] > e->T ? e->lens[i] : e->T;
        e->tokens += e->lens[i];
        for (t = 0; t < e->lens[i]; t++)
            e->known += row[t] > SEQCLS_UNK_ID && row[t] < size;
    }
    free(row);
    if (width > 0)
        e->T = width;
    snprintf(what, sizeof what, "the token ids of %d documents of up to %d tokens%s", d->n, e->T,
             per > 0 ? " and their n-grams" : "");
    e->ids = xmalloc((size_t)d->n * (size_t)e->T, (size_t)step * sizeof *e->ids, what);
    for (i = 0; i < d->n; i++) {
        int32_t *dst = e->ids + (size_t)i * e->T * step, n = 0;
        int rc, nt = 0;
        if (per > 0) {
            rc = pre ? subwords_pre(v, d->text[i], strlen(d->text[i]), dst, e->T, per, &nt)
                     : seqcls_vocab_encode_subwords(v, d->text[i], strlen(d->text[i]), dst, e->T,
                                                    per, &nt);
            n = nt;
        } else {
            rc = seqcls_vocab_encode_ex(v, d->text[i], strlen(d->text[i]), dst, e->T, flags, &n);
        }
        if (rc != SEQCLS_OK)
            die("encoding line %ld: %s", d->line[i], seqcls_last_error());
    }
}

void encoded_free(encoded_t *e)
{
    free(e->ids);
    free(e->lens);
    memset(e, 0, sizeof *e);
}

seqcls_tensor_t *encoded_tensor(const encoded_t *e, int first, int n)
{
    const int step = e->per > 0 ? e->per : 1;
    int64_t shape[3] = {n, e->T, e->per};
    seqcls_tensor_t *x = NULL;
    check(seqcls_tensor_wrap(&x, SEQCLS_I32, e->per > 0 ? 3 : 2, shape,
                             e->ids + (size_t)first * e->T * step),
          "input");
    return x;
}

double encoded_coverage(const encoded_t *e)
{
    return e->tokens > 0 ? (double)e->known / (double)e->tokens : 1.0;
}

void warn_unknown(const encoded_t *e, const seqcls_model_t *m)
{
    const seqcls_vocab_t *v = seqcls_model_vocab(m);
    const double unknown = 1 - encoded_coverage(e);
    if (e->tokens == 0 || unknown <= 0.5)
        return;
    fprintf(stderr,
            "seqcls: warning: %.0f%% of the %ld tokens read are not in the model's vocabulary "
            "(trained with --tokens %s%s): is this text like the training text?\n",
            100 * unknown, e->tokens,
            vocab_option(v, SEQCLS_VOCAB_TOKENS) == SEQCLS_TOKENS_CHAR ? "char" : "word",
            e->per > 0 ? "; unknown words still get vectors from their n-grams" : "");
}
