/*
 * golden.h -- what tests/golden/make_golden.c (the writer of the golden
 * files) and tests/test_golden.c (their reader, forever) share: the fixed
 * inputs and the format of the `.expect` files.
 *
 * Never change what the functions below produce: the files under
 * tests/golden/<version>/ were made with them, and test_golden.c checks
 * that they still give the inputs recorded in each file.
 *
 * An `.expect` file is text, one record per line, a keyword first:
 *
 *     seqcls-golden 1                 format of this file
 *     writer 1.0.0                    seqcls_version_string() of the writer
 *     file NAME.sqcl                  the model or checkpoint file beside it
 *     type model|checkpoint
 *     input ids B T VOCAB SEED        ids from golden_fill_ids(..., VOCAB, SEED)
 *     input floats B T F SEED         floats from golden_fill_floats(..., SEED)
 *     input text B T 0 0              rows encoded from golden_texts[] with the
 *                                     model's vocabulary (max_len T)
 *     lengths B l0 l1 ...
 *     data N v0 v1 ...                the input itself (ids or %.9g floats)
 *     layers N                        then N lines: layer I <describe string>
 *     params N                        then N lines: param I NAME NDIM D0 D1 ...
 *     labels N                        then N lines: label I NAME
 *     vocab N                         then N lines: token I TOKEN
 *     decoded I STRING                seqcls_vocab_decode of input row I
 *     probs B C v...                  seqcls_predict on the input
 *     attention B T v...              the attention weights of that call
 *     steps N                         checkpoint: seqcls_optimizer_steps
 *     train_labels B y...             checkpoint: labels of one more step on
 *                                     the input (forward training, built-in
 *                                     loss, seqcls_optimizer_step)
 *     loss v                          the loss of that step
 *     step_probs B C v...             seqcls_predict after that step
 *     step_attention B T v...
 *     step_steps N                    seqcls_optimizer_steps after it
 *     end
 *
 * Floats are written with %.9g (they read back to the same float).
 */
#ifndef SEQCLS_GOLDEN_H
#define SEQCLS_GOLDEN_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seqcls.h"

/* The fixed input: GOLDEN_B rows of GOLDEN_T steps, ragged, one row of
 * one step and one empty row. */
#define GOLDEN_B 5
#define GOLDEN_T 6
static const int32_t golden_lengths[GOLDEN_B] = {6, 3, 1, 5, 0};

/* Raw text for the model with a vocabulary (encoded with max_len
 * GOLDEN_T): capitals, markup, unknown words, punctuation, a row cut at
 * GOLDEN_T tokens, one of one token and an empty one. */
static const char *const golden_texts[GOLDEN_B] = {
    "The movie was GREAT, really great fun and more!",
    "<b>boring</b> plot zebra",
    "Great",
    "not bad at all?",
    "",
};

/* Limits of what an .expect file may hold. */
#define GOLDEN_MAX_B 8
#define GOLDEN_MAX_T 8
#define GOLDEN_MAX_F 8
#define GOLDEN_MAX_C 8
#define GOLDEN_MAX_LAYERS 16
#define GOLDEN_MAX_PARAMS 48
#define GOLDEN_MAX_LABELS 8
#define GOLDEN_MAX_VOCAB 64
#define GOLDEN_LINE 320

static inline uint64_t golden_next(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

/* Ids in [0, vocab) at every step, padding steps included. */
static inline void golden_fill_ids(int32_t *ids, int B, int T, int vocab, uint64_t seed)
{
    int i;
    for (i = 0; i < B * T; i++)
        ids[i] = (int32_t)(golden_next(&seed) % (uint64_t)vocab);
}

/* Floats k/64 - 2 for k in [0, 256): exact in binary, in [-2, 2). */
static inline void golden_fill_floats(float *x, int n, uint64_t seed)
{
    int i;
    for (i = 0; i < n; i++)
        x[i] = (float)(golden_next(&seed) % 256u) / 64.0f - 2.0f;
}

/* Class labels in [0, classes), or 0/1 for a one-logit model. */
static inline void golden_fill_labels(int32_t *y, int B, int classes, uint64_t seed)
{
    int i;
    for (i = 0; i < B; i++)
        y[i] = (int32_t)(golden_next(&seed) % (uint64_t)(classes < 2 ? 2 : classes));
}

/* Everything one .expect file holds. */
typedef struct {
    char writer[32];
    char file[128];
    char type[16];                     /* "model" or "checkpoint" */
    char input_kind[8];                /* "ids", "floats" or "text" */
    int B, T, F, vocab;
    uint64_t seed;
    int32_t lengths[GOLDEN_MAX_B];
    int ndata;
    int32_t ids[GOLDEN_MAX_B * GOLDEN_MAX_T];
    float floats[GOLDEN_MAX_B * GOLDEN_MAX_T * GOLDEN_MAX_F];
    int nlayers;
    char layers[GOLDEN_MAX_LAYERS][GOLDEN_LINE];
    int nparams;
    char param_names[GOLDEN_MAX_PARAMS][64];
    int param_ndim[GOLDEN_MAX_PARAMS];
    int64_t param_shape[GOLDEN_MAX_PARAMS][4];
    int nlabels;                       /* -1: no labels record */
    char labels[GOLDEN_MAX_LABELS][64];
    int vocab_size;                    /* -1: no vocabulary */
    char tokens[GOLDEN_MAX_VOCAB][GOLDEN_LINE];
    char decoded[GOLDEN_MAX_B][GOLDEN_LINE];
    int C;
    float probs[GOLDEN_MAX_B * GOLDEN_MAX_C];
    int has_attention;
    float attention[GOLDEN_MAX_B * GOLDEN_MAX_T];
    int64_t steps;                     /* -1: not a checkpoint */
    int32_t train_labels[GOLDEN_MAX_B];
    float loss;
    float step_probs[GOLDEN_MAX_B * GOLDEN_MAX_C];
    float step_attention[GOLDEN_MAX_B * GOLDEN_MAX_T];
    int64_t step_steps;
    int complete;                      /* the "end" record was read */
} golden_expect_t;

static inline void golden_init(golden_expect_t *e)
{
    memset(e, 0, sizeof *e);
    e->nlabels = -1;
    e->vocab_size = -1;
    e->steps = -1;
    e->step_steps = -1;
}

static inline void golden_write_floats(FILE *f, const char *key, int a, int b, const float *v)
{
    int i;
    fprintf(f, "%s %d %d", key, a, b);
    for (i = 0; i < a * b; i++)
        fprintf(f, " %.9g", (double)v[i]);
    fputc('\n', f);
}

static inline void golden_write(FILE *f, const golden_expect_t *e)
{
    int i, j;
    fprintf(f, "seqcls-golden 1\nwriter %s\nfile %s\ntype %s\n", e->writer, e->file, e->type);
    fprintf(f, "input %s %d %d %d %llu\n", e->input_kind, e->B, e->T,
            e->input_kind[0] == 'f' ? e->F : e->vocab, (unsigned long long)e->seed);
    fprintf(f, "lengths %d", e->B);
    for (i = 0; i < e->B; i++)
        fprintf(f, " %d", (int)e->lengths[i]);
    fprintf(f, "\ndata %d", e->ndata);
    for (i = 0; i < e->ndata; i++) {
        if (e->input_kind[0] == 'f')
            fprintf(f, " %.9g", (double)e->floats[i]);
        else
            fprintf(f, " %d", (int)e->ids[i]);
    }
    fprintf(f, "\nlayers %d\n", e->nlayers);
    for (i = 0; i < e->nlayers; i++)
        fprintf(f, "layer %d %s\n", i, e->layers[i]);
    fprintf(f, "params %d\n", e->nparams);
    for (i = 0; i < e->nparams; i++) {
        fprintf(f, "param %d %s %d", i, e->param_names[i], e->param_ndim[i]);
        for (j = 0; j < e->param_ndim[i]; j++)
            fprintf(f, " %lld", (long long)e->param_shape[i][j]);
        fputc('\n', f);
    }
    if (e->nlabels >= 0) {
        fprintf(f, "labels %d\n", e->nlabels);
        for (i = 0; i < e->nlabels; i++)
            fprintf(f, "label %d %s\n", i, e->labels[i]);
    }
    if (e->vocab_size >= 0) {
        fprintf(f, "vocab %d\n", e->vocab_size);
        for (i = 0; i < e->vocab_size; i++)
            fprintf(f, "token %d %s\n", i, e->tokens[i]);
        for (i = 0; i < e->B; i++)
            fprintf(f, "decoded %d %s\n", i, e->decoded[i]);
    }
    golden_write_floats(f, "probs", e->B, e->C, e->probs);
    if (e->has_attention)
        golden_write_floats(f, "attention", e->B, e->T, e->attention);
    if (e->steps >= 0) {
        fprintf(f, "steps %lld\ntrain_labels %d", (long long)e->steps, e->B);
        for (i = 0; i < e->B; i++)
            fprintf(f, " %d", (int)e->train_labels[i]);
        fprintf(f, "\nloss %.9g\n", (double)e->loss);
        golden_write_floats(f, "step_probs", e->B, e->C, e->step_probs);
        if (e->has_attention)
            golden_write_floats(f, "step_attention", e->B, e->T, e->step_attention);
        fprintf(f, "step_steps %lld\n", (long long)e->step_steps);
    }
    fprintf(f, "end\n");
}

/* The rest of the line after one separating space, without the newline. */
static inline int golden_rest(FILE *f, char *buf, size_t cap)
{
    size_t n;
    if (fgetc(f) != ' ' || !fgets(buf, (int)cap, f))
        return -1;
    n = strlen(buf);
    if (n == 0 || buf[n - 1] != '\n')
        return -1;
    buf[n - 1] = '\0';
    return 0;
}

/* "I rest-of-line" into row, where I must equal `expect` and lie in [0, max). */
static inline int golden_indexed(FILE *f, int expect, int max, char *row, size_t cap)
{
    int i;
    if (expect >= max || fscanf(f, "%d", &i) != 1 || i != expect)
        return -1;
    return golden_rest(f, row, cap);
}

static inline int golden_read_floats(FILE *f, int B, int b_max, int *b, float *v)
{
    int a, i;
    if (fscanf(f, "%d %d", &a, b) != 2 || a != B || *b < 1 || *b > b_max)
        return -1;
    for (i = 0; i < a * *b; i++)
        if (fscanf(f, "%f", &v[i]) != 1)
            return -1;
    return 0;
}

/*
 * Read an .expect file into *e.  Returns 0, or -1 with the record that is
 * wrong named in `err`.
 */
static inline int golden_read(const char *path, golden_expect_t *e, char *err, size_t errcap)
{
    FILE *f = fopen(path, "r");
    char key[32] = "", row[GOLDEN_LINE];
    int version = 0, rc = 0, a, i, C2, T2;
    int nlayer = 0, nparam = 0, nlabel = 0, ntoken = 0, ndecoded = 0;
    unsigned long long seed;
    golden_init(e);
    if (!f) {
        snprintf(err, errcap, "%s: cannot open", path);
        return -1;
    }
    while (rc == 0 && !e->complete && fscanf(f, "%31s", key) == 1) {
        if (!strcmp(key, "seqcls-golden")) {
            rc = fscanf(f, "%d", &version) == 1 && version == 1 ? 0 : -1;
        } else if (!strcmp(key, "writer")) {
            rc = fscanf(f, "%31s", e->writer) == 1 ? 0 : -1;
        } else if (!strcmp(key, "file")) {
            rc = fscanf(f, "%127s", e->file) == 1 ? 0 : -1;
        } else if (!strcmp(key, "type")) {
            rc = fscanf(f, "%15s", e->type) == 1 ? 0 : -1;
        } else if (!strcmp(key, "input")) {
            rc = fscanf(f, "%7s %d %d %d %llu", e->input_kind, &e->B, &e->T, &a, &seed) == 5 &&
                         e->B > 0 && e->B <= GOLDEN_MAX_B && e->T > 0 && e->T <= GOLDEN_MAX_T &&
                         a >= 0 ? 0 : -1;
            e->seed = seed;
            if (!strcmp(e->input_kind, "floats"))
                e->F = a;
            else if (!strcmp(e->input_kind, "ids") || !strcmp(e->input_kind, "text"))
                e->vocab = a;
            else
                rc = -1;
            if (e->F > GOLDEN_MAX_F)
                rc = -1;
        } else if (!strcmp(key, "lengths")) {
            rc = fscanf(f, "%d", &a) == 1 && a == e->B ? 0 : -1;
            for (i = 0; rc == 0 && i < a; i++)
                rc = fscanf(f, "%d", &e->lengths[i]) == 1 ? 0 : -1;
        } else if (!strcmp(key, "data")) {
            int floats = !strcmp(e->input_kind, "floats");
            int cap = floats ? GOLDEN_MAX_B * GOLDEN_MAX_T * GOLDEN_MAX_F : GOLDEN_MAX_B * GOLDEN_MAX_T;
            rc = fscanf(f, "%d", &e->ndata) == 1 && e->ndata >= 0 && e->ndata <= cap ? 0 : -1;
            for (i = 0; rc == 0 && i < e->ndata; i++)
                rc = (floats ? fscanf(f, "%f", &e->floats[i]) : fscanf(f, "%d", &e->ids[i])) == 1
                         ? 0 : -1;
        } else if (!strcmp(key, "layers")) {
            rc = fscanf(f, "%d", &e->nlayers) == 1 && e->nlayers >= 0 &&
                         e->nlayers <= GOLDEN_MAX_LAYERS ? 0 : -1;
        } else if (!strcmp(key, "layer")) {
            rc = golden_indexed(f, nlayer, e->nlayers, e->layers[nlayer], GOLDEN_LINE);
            nlayer++;
        } else if (!strcmp(key, "params")) {
            rc = fscanf(f, "%d", &e->nparams) == 1 && e->nparams >= 0 &&
                         e->nparams <= GOLDEN_MAX_PARAMS ? 0 : -1;
        } else if (!strcmp(key, "param")) {
            rc = nparam < e->nparams && fscanf(f, "%d %63s %d", &i, e->param_names[nparam],
                                               &e->param_ndim[nparam]) == 3 &&
                         i == nparam && e->param_ndim[nparam] >= 1 && e->param_ndim[nparam] <= 4
                     ? 0 : -1;
            for (i = 0; rc == 0 && i < e->param_ndim[nparam]; i++) {
                long long d;
                rc = fscanf(f, "%lld", &d) == 1 ? 0 : -1;
                e->param_shape[nparam][i] = d;
            }
            nparam++;
        } else if (!strcmp(key, "labels")) {
            rc = fscanf(f, "%d", &e->nlabels) == 1 && e->nlabels >= 0 &&
                         e->nlabels <= GOLDEN_MAX_LABELS ? 0 : -1;
        } else if (!strcmp(key, "label")) {
            rc = golden_indexed(f, nlabel, e->nlabels, row, sizeof row);
            if (rc == 0 && strlen(row) < sizeof e->labels[0])
                memcpy(e->labels[nlabel], row, strlen(row) + 1);
            else
                rc = -1;
            nlabel++;
        } else if (!strcmp(key, "vocab")) {
            rc = fscanf(f, "%d", &e->vocab_size) == 1 && e->vocab_size >= 0 &&
                         e->vocab_size <= GOLDEN_MAX_VOCAB ? 0 : -1;
        } else if (!strcmp(key, "token")) {
            rc = golden_indexed(f, ntoken, e->vocab_size, e->tokens[ntoken], GOLDEN_LINE);
            ntoken++;
        } else if (!strcmp(key, "decoded")) {
            rc = golden_indexed(f, ndecoded, e->B, e->decoded[ndecoded], GOLDEN_LINE);
            ndecoded++;
        } else if (!strcmp(key, "probs")) {
            rc = golden_read_floats(f, e->B, GOLDEN_MAX_C, &e->C, e->probs);
        } else if (!strcmp(key, "attention")) {
            rc = golden_read_floats(f, e->B, GOLDEN_MAX_T, &T2, e->attention) == 0 && T2 == e->T
                     ? 0 : -1;
            e->has_attention = 1;
        } else if (!strcmp(key, "steps")) {
            long long s;
            rc = fscanf(f, "%lld", &s) == 1 && s >= 0 ? 0 : -1;
            e->steps = s;
        } else if (!strcmp(key, "train_labels")) {
            rc = fscanf(f, "%d", &a) == 1 && a == e->B ? 0 : -1;
            for (i = 0; rc == 0 && i < a; i++)
                rc = fscanf(f, "%d", &e->train_labels[i]) == 1 ? 0 : -1;
        } else if (!strcmp(key, "loss")) {
            rc = fscanf(f, "%f", &e->loss) == 1 ? 0 : -1;
        } else if (!strcmp(key, "step_probs")) {
            rc = golden_read_floats(f, e->B, GOLDEN_MAX_C, &C2, e->step_probs) == 0 && C2 == e->C
                     ? 0 : -1;
        } else if (!strcmp(key, "step_attention")) {
            rc = golden_read_floats(f, e->B, GOLDEN_MAX_T, &T2, e->step_attention) == 0 &&
                         T2 == e->T ? 0 : -1;
        } else if (!strcmp(key, "step_steps")) {
            long long s;
            rc = fscanf(f, "%lld", &s) == 1 && s >= 0 ? 0 : -1;
            e->step_steps = s;
        } else if (!strcmp(key, "end")) {
            e->complete = 1;
        } else {
            rc = -1;
        }
    }
    fclose(f);
    if (rc == 0 && (!e->complete || version != 1 || nlayer != e->nlayers ||
                    nparam != e->nparams || (e->nlabels >= 0 && nlabel != e->nlabels) ||
                    (e->vocab_size >= 0 && (ntoken != e->vocab_size || ndecoded != e->B)) ||
                    e->C == 0)) {
        strcpy(key, "(incomplete file)");
        rc = -1;
    }
    if (rc)
        snprintf(err, errcap, "%s: bad or missing record at or before '%s'", path, key);
    return rc;
}

#endif
