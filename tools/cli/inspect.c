/*
 * inspect.c -- `seqcls test`, `predict`, `explain` and `info`: using and
 * looking into a saved model.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define DEFAULT_MAXLEN 256   /* for models saved without "maxlen" (seqcls 1.0) */
#define MAX_MAXLEN 100000
#define BATCH 256
#define MAX_TOKENS 2147483647   /* what seqcls_tokenize can count */

#define STR_(x) #x
#define STR(x) STR_(x)

/* Options shared by the commands: positional arguments, -k, --maxlen, --html. */
typedef struct {
    const char *pos[2];
    int npos, k, maxlen;     /* maxlen 0: the model's own */
    int json;
    const char *html;
    const char *truncate;    /* "pre", "post", or NULL: the model's own */
    const char *quant_error; /* info: labelled documents for the quantisation report */
} args_t;

#define OPT(field) offsetof(args_t, field)
#define OPT_MAXLEN                                                                              \
    {"--maxlen", NULL, "L", OPT_INT, OPT(maxlen), NULL,                                         \
     "the model's, else " STR(DEFAULT_MAXLEN), 1, MAX_MAXLEN, NULL,                            \
     "tokens read per document (the rest is cut)\n"                                          \
     "(the model keeps the training --maxlen)"}
#define OPT_TRUNCATE                                                                            \
    {"--truncate", NULL, "T", OPT_CHOICE, OPT(truncate), NULL, "the model's, else post", 0, 0,   \
     "post|pre",                                                                                \
     "read the first (post) or the last (pre) tokens of a\n"                                  \
     "longer document (the model keeps its own)"}
static const opt_t test_options[] = {OPT_MAXLEN, OPT_TRUNCATE};
#define OPT_K                                                                                   \
    {"-k", NULL, "K", OPT_INT, OPT(k), "1", NULL, 1, 1 << 20, NULL,                             \
     "the K most probable labels of each line"}
static const opt_t predict_options[] = {
    OPT_K,
    OPT_MAXLEN,
    OPT_TRUNCATE,
    {"--json", NULL, NULL, OPT_FLAG, OPT(json), NULL, NULL, 0, 0, NULL,
     "one JSON object a line (below) instead of fastText's format"},
};
static const opt_t explain_options[] = {
    OPT_K,
    OPT_MAXLEN,
    OPT_TRUNCATE,
    {"--html", NULL, "OUT", OPT_FILE, OPT(html), NULL, "none", 0, 0, NULL,
     "also write the heatmap as an HTML page"},
    {"--json", NULL, NULL, OPT_FLAG, OPT(json), NULL, NULL, 0, 0, NULL,
     "one JSON object a line (below) instead of a token a line"},
};
#undef OPT
#define NOPTS(t) (int)(sizeof t / sizeof t[0])

/* How predict and explain read their input. */
#define INPUT_NOTES                                                                              \
    "A line may carry its true label, as in a training file: \"__label__NAME text\",\n"        \
    "or \"NAME<TAB>text\" when NAME is one of the model's labels (another tab is\n"            \
    "part of the text); the label is not part of the text classified.\n"

const command_t cmd_test_spec = {
    "test",
    "MODEL.sqcl TEST.txt [options]",
    "accuracy, per-class precision/recall/F1 and confusion matrix on a labelled file",
    "Evaluate a model on a labelled file (\"__label__NAME text\" or \"NAME<TAB>text\"\n"
    "lines; - is the standard input): accuracy, loss, each class's precision,\n"
    "recall, F1 and support, macro F1, and the confusion matrix, as TSV.\n",
    test_options,
    NOPTS(test_options),
    "at most 2: MODEL and FILE",
    NULL,
};

const command_t cmd_predict_spec = {
    "predict",
    "MODEL.sqcl [FILE|-] [options]",
    "the most probable labels of each line of text",
    "Classify each line of FILE (default: the standard input) and print its most\n"
    "probable labels as \"__label__NAME PROBABILITY\", most probable first,\n"
    "separated by spaces (train refuses a label with a space; for a model made\n"
    "otherwise with one, use --json).\n"
    "Output line i answers input line i: a blank input line (nothing but white\n"
    "space) gets an empty output line.\n",
    predict_options,
    NOPTS(predict_options),
    "at most 2: MODEL and FILE",
    INPUT_NOTES
    "\n"
    "--json writes one JSON object (UTF-8, on one line) per input line:\n"
    "  {\"line\": 3, \"labels\": [\"spam\"], \"probabilities\": [0.981],\n"
    "   \"true_label\": \"spam\", \"correct\": true}\n"
    "line: the input line (from 1); labels and probabilities: the -k most\n"
    "probable labels, most probable first; true_label and correct (whether\n"
    "labels[0] is it): only when the line has a label.  A blank line gets\n"
    "empty lists.\n",
};

const command_t cmd_explain_spec = {
    "explain",
    "MODEL.sqcl [FILE|-] [options]",
    "the attention weight of every token of each line",
    "Classify each line of FILE (default: the standard input) with a model that\n"
    "has an attention layer and show the weight the model gave each token: the\n"
    "labels as predict prints them, then a line \"TOKEN<TAB>WEIGHT\" per token\n"
    "(on a terminal: the tokens shaded), then an empty line.  A blank input line\n"
    "gets an empty block.  The weights of a document sum to 1; with N tokens,\n"
    "uniform attention gives each 1/N.\n"
    "A transformer (--arch transformer) has no attention pooling: its weights\n"
    "are the last encoder layer's self-attention, averaged over the heads and\n"
    "over the steps the pooling reads (every token for mean pooling, the first\n"
    "for first-step pooling): the share of the attention feeding the pooled\n"
    "vector that each token receives in that layer.\n",
    explain_options,
    NOPTS(explain_options),
    "at most 2: MODEL and FILE",
    INPUT_NOTES
    "\n"
    "--html shades each token by its weight relative to uniform attention (the\n"
    "weight times N: 1x or less is white, 16x or more full colour, on a log\n"
    "scale), shows the text as it is (punctuation and spacing between the\n"
    "tokens, unshaded), and the true label and whether the prediction is right.\n"
    "\n"
    "--json writes one JSON object (UTF-8, on one line) per input line: the\n"
    "fields of predict --json, and\n"
    "  \"text\": the line's text (without its label),\n"
    "  \"tokens\": [{\"token\": \"superb\", \"start\": 13, \"end\": 19,\n"
    "              \"weight\": 0.412, \"relative\": 2.47}, ...],\n"
    "  \"cut\": whether text beyond the maximum length was left unread.\n"
    "start and end are byte offsets of the token in the UTF-8 text (end\n"
    "excluded); weight is its attention weight, relative the weight times the\n"
    "number of tokens read (1 = uniform).\n",
};

static const opt_t info_options[] = {
    {"--quant-error", NULL, "DATA", OPT_FILE, offsetof(args_t, quant_error), NULL, "none", 0, 0,
     NULL,
     "also report, on these labelled documents, the accuracy of the\n"
     "model in float32, int8 and bf16 and how far each layer's\n"
     "weights in int8 and bf16 move the probabilities (below)"},
};

const command_t cmd_info_spec = {
    "info",
    "MODEL.sqcl",
    "the layers, parameters, vocabulary, labels and metadata of a model",
    NULL,
    info_options,
    (int)(sizeof info_options / sizeof info_options[0]),
    "at most 1: MODEL",
    "--quant-error: the whole model quantised (as seqcls quantize does) gives the\n"
    "accuracy, its agreement with float32 and the mean and largest change of a\n"
    "probability; then, per layer, the change when only that layer's weights are\n"
    "rounded to int8 (per row) or bfloat16 and everything else, activations\n"
    "included, stays float32: which layers the error comes from.\n",
};

/* The maximum length: --maxlen, else the one the model was trained with
 * (its "maxlen" metadata), else DEFAULT_MAXLEN. */
static int maxlen_for(const args_t *a, const seqcls_model_t *m)
{
    const char *saved = seqcls_model_get_meta(m, "maxlen");
    char *end;
    long v;
    if (a->maxlen || !saved)
        return a->maxlen ? a->maxlen : DEFAULT_MAXLEN;
    v = strtol(saved, &end, 10);
    if (end == saved || *end || v < 1 || v > MAX_MAXLEN)
        die("%s: the model's \"maxlen\" metadata is not a length in [1, %d]", a->pos[0],
            MAX_MAXLEN);
    return (int)v;
}

/* Keep the last tokens of a long document (--truncate pre), else the
 * first: --truncate, else what the model was trained with (its
 * "truncate" metadata; absent for "post" and in models of seqcls 1.0). */
static int pre_for(const args_t *a, const seqcls_model_t *m)
{
    const char *saved = seqcls_model_get_meta(m, "truncate");
    if (a->truncate || !saved)
        return a->truncate && !strcmp(a->truncate, "pre");
    if (strcmp(saved, "pre") && strcmp(saved, "post"))
        die("%s: the model's \"truncate\" metadata is not pre or post", a->pos[0]);
    return !strcmp(saved, "pre");
}

/* The width of the rows of ids: the maximum length; for an embedding
 * bag, whose rows are per_step times larger, the longest document's. */
static int width_for(const args_t *a, const seqcls_model_t *m)
{
    return model_per_step(m) > 0 ? 0 : a->maxlen;
}

static void parse(args_t *a, int argc, char **argv, const command_t *c, int min_pos)
{
    memset(a, 0, sizeof *a);
    a->npos = opts_parse(c, a, argc, argv, a->pos, c == &cmd_info_spec ? 1 : 2, NULL);
    if (a->npos < min_pos)
        die("%s: missing %s (seqcls %s --help)", c->name,
            a->npos == 0 ? (min_pos == 1 ? "the MODEL argument" : "the MODEL and FILE arguments")
                         : "the FILE argument",
            c->name);
    if (!a->pos[1])
        a->pos[1] = "-";
}

/* Classes the model distinguishes: 2 for a one-logit model. */
static int classes_of(const seqcls_model_t *m, int outputs)
{
    int n = outputs == 1 ? 2 : outputs;
    if (seqcls_model_label_count(m) != n)
        die("the model names %d classes but has %d outputs", seqcls_model_label_count(m), outputs);
    return n;
}

static int model_outputs(seqcls_model_t *m)
{
    int n = seqcls_model_output_width(m);
    if (n < 1)
        die("the model has no output layer");
    return n;
}

int cmd_test(int argc, char **argv)
{
    args_t a;
    docs_t d;
    seqcls_model_t *m;
    seqcls_metrics_t *mt = NULL;
    seqcls_tensor_t *x = NULL, *y = NULL;
    encoded_t e;
    int32_t *labels;
    int i, j, C;
    int64_t sy[1];

    parse(&a, argc, argv, &cmd_test_spec, 2);
    m = load_model(a.pos[0]);
    a.maxlen = maxlen_for(&a, m);
    C = classes_of(m, model_outputs(m));
    docs_read(&d, a.pos[1], 1);
    encode_docs(seqcls_model_vocab(m), model_per_step(m), &d, a.maxlen, pre_for(&a, m),
                width_for(&a, m), &e);
    labels = xmalloc((size_t)d.n, sizeof *labels, "the labels of the documents");
    for (i = 0; i < d.n; i++)
        if ((labels[i] = label_index(m, d.label[i])) < 0)
            die("%s:%ld: label '%s', which the model does not know", a.pos[1], d.line[i],
                d.label[i]);
    sy[0] = d.n;
    x = encoded_tensor(&e, 0, e.n);
    check(seqcls_tensor_wrap(&y, SEQCLS_I32, 1, sy, labels), "labels");
    check(seqcls_evaluate(m, x, e.lens, y, BATCH, &mt), "evaluation");
    /* a library that let NaN through: the loss of finite outputs is finite */
    if (!isfinite(seqcls_metrics_get(mt, SEQCLS_METRIC_LOSS, 0)))
        die("evaluation: the model's outputs are not finite (the loss is NaN or infinite): "
            "its weights are too large or damaged");

    printf("N\t%d\n", d.n);
    printf("accuracy\t%.4f\n", seqcls_metrics_get(mt, SEQCLS_METRIC_ACCURACY, 0));
    printf("loss\t%.4f\n", seqcls_metrics_get(mt, SEQCLS_METRIC_LOSS, 0));
    printf("\nclass\tprecision\trecall\tf1\tsupport\n");
    for (i = 0; i < C; i++)
        printf("%s\t%.4f\t%.4f\t%.4f\t%.0f\n", seqcls_model_label(m, i),
               seqcls_metrics_get(mt, SEQCLS_METRIC_PRECISION, i),
               seqcls_metrics_get(mt, SEQCLS_METRIC_RECALL, i),
               seqcls_metrics_get(mt, SEQCLS_METRIC_F1, i),
               seqcls_metrics_get(mt, SEQCLS_METRIC_SUPPORT, i));
    printf("macro F1\t%.4f\n", seqcls_metrics_get(mt, SEQCLS_METRIC_MACRO_F1, 0));
    printf("\nconfusion matrix (rows: true label, columns: predicted)\n\t");
    for (j = 0; j < C; j++)
        printf("%s%s", seqcls_model_label(m, j), j + 1 < C ? "\t" : "\n");
    for (i = 0; i < C; i++) {
        printf("%s", seqcls_model_label(m, i));
        for (j = 0; j < C; j++)
            printf("\t%lld", (long long)seqcls_metrics_confusion(mt, i, j));
        printf("\n");
    }
    seqcls_metrics_free(mt);
    warn_unknown(&e, m);   /* after the answers: most tokens were unknown */
    seqcls_tensor_free(x);
    seqcls_tensor_free(y);
    encoded_free(&e);
    free(labels);
    docs_free(&d);
    seqcls_model_free(m);
    return 0;
}

/* Probabilities of every class for documents [first, first + n) of e
 * (lines line[0, n)); with a one-logit model p(class 0) = 1 - p(class 1).
 * Attention [n, e->T] into att if set.  Dies (exit 2) on a failed
 * call, and on a probability or attention weight that is not a finite
 * number in [0, 1], whatever the library returned: nothing after this
 * ever sees NaN. */
static void predict_rows(seqcls_model_t *m, const encoded_t *e, int first, const long *line,
                         int n, int outputs, float *probs, float *att)
{
    seqcls_tensor_t *x = encoded_tensor(e, first, n), *p = NULL, *w = NULL;
    const int32_t *lens = e->lens + first;
    const int maxlen = e->T;
    int64_t sx[2] = {n, maxlen}, sp[2] = {n, outputs};
    char what[64];
    int i, j;
    check(seqcls_tensor_wrap(&p, SEQCLS_F32, 2, sp, probs), "output");
    if (att)
        check(seqcls_tensor_wrap(&w, SEQCLS_F32, 2, sx, att), "attention");
    if (n == 1)
        snprintf(what, sizeof what, "line %ld", line[0]);
    else
        snprintf(what, sizeof what, "lines %ld-%ld", line[0], line[n - 1]);
    check(seqcls_predict(m, x, lens, p, w), what);
    for (i = 0; i < n * outputs; i++)
        if (!(probs[i] >= 0 && probs[i] <= 1))   /* false for NaN */
            die("line %ld: the model's output is not finite (NaN or infinite): its weights "
                "are too large or damaged",
                line[i / outputs]);
    if (att)
        for (i = 0; i < n; i++)
            for (j = 0; j < lens[i] && j < maxlen; j++)
                if (!(att[(size_t)i * maxlen + j] >= 0 && att[(size_t)i * maxlen + j] <= 1))
                    die("line %ld: the attention weights are not finite (NaN or "
                        "infinite): the model's weights are too large or damaged",
                        line[i]);
    if (outputs == 1)
        for (i = n - 1; i >= 0; i--) {
            probs[2 * i + 1] = probs[i];
            probs[2 * i] = 1 - probs[i];
        }
    seqcls_tensor_free(x);
    seqcls_tensor_free(p);
    seqcls_tensor_free(w);
}

/* The most probable class of p[0..C) not yet taken (taken may be NULL),
 * always an index in [0, C) when one is left: a NaN never wins and never
 * leaves the choice empty.  -1 only when every class is taken. */
static int best_class(const float *p, int C, const unsigned char *taken)
{
    int j, best = -1;
    for (j = 0; j < C; j++) {
        if (taken && taken[j])
            continue;
        if (best < 0 || p[j] > p[best] || (isnan(p[best]) && !isnan(p[j])))
            best = j;
    }
    return best;
}

/* The model's name of class c, never NULL. */
/* ---- info --quant-error ---- */

/* Probabilities [n, C] of every document of e. */
static float *all_probs(seqcls_model_t *m, const encoded_t *e, const docs_t *d, int outputs,
                        int C)
{
    float *p = xmalloc((size_t)e->n * C, sizeof *p, "probabilities");
    int first;
    for (first = 0; first < e->n; first += BATCH) {
        const int n = e->n - first < BATCH ? e->n - first : BATCH;
        predict_rows(m, e, first, d->line + first, n, outputs, p + (size_t)first * C, NULL);
    }
    return p;
}

typedef struct {
    double acc, agree, mean, max;
} qerr_t;

/* Accuracy of p, its agreement with ref (the same predicted class), and
 * the mean and largest change of a probability from ref. */
static qerr_t compare(const float *p, const float *ref, const int32_t *labels, int n, int C)
{
    qerr_t r = {0, 0, 0, 0};
    int i, k;
    for (i = 0; i < n; i++) {
        const int c = best_class(p + (size_t)i * C, C, NULL);
        r.acc += c == labels[i];
        r.agree += c == best_class(ref + (size_t)i * C, C, NULL);
        for (k = 0; k < C; k++) {
            const double dp = fabs((double)p[(size_t)i * C + k] - ref[(size_t)i * C + k]);
            r.mean += dp / C;
            r.max = dp > r.max ? dp : r.max;
        }
    }
    r.acc /= n;
    r.agree /= n;
    r.mean /= n;
    return r;
}

/* Round float32 weights [rows, cols] as the quantisation stores them:
 * int8 per row (scale max|w| / 127), or bfloat16 (to nearest even). */
static void round_weights(float *w, int64_t rows, int64_t cols, int precision)
{
    int64_t r, c;
    for (r = 0; r < rows; r++) {
        float *x = w + r * cols, mx = 0;
        if (precision == SEQCLS_BF16) {
            for (c = 0; c < cols; c++) {
                uint32_t b;
                memcpy(&b, &x[c], 4);
                b += 0x7fffu + ((b >> 16) & 1u);
                b &= 0xffff0000u;
                memcpy(&x[c], &b, 4);
            }
            continue;
        }
        for (c = 0; c < cols; c++)
            mx = fabsf(x[c]) > mx ? fabsf(x[c]) : mx;
        if (mx <= 1e-30f) {
            memset(x, 0, (size_t)cols * sizeof *x);
            continue;
        }
        for (c = 0; c < cols; c++) {
            float q = rintf(x[c] * (127.0f / mx));
            q = q > 127 ? 127 : q < -127 ? -127 : q;
            x[c] = q * (mx / 127.0f);
        }
    }
}

static void quant_error_report(seqcls_model_t *m, const args_t *a)
{
    static const int precisions[2] = {SEQCLS_INT8, SEQCLS_BF16};
    docs_t d;
    encoded_t e;
    int32_t *labels;
    void *buf = NULL;
    size_t len = 0;
    float *ref, *p;
    seqcls_model_t *q = NULL;
    const int outputs = model_outputs(m), C = classes_of(m, outputs);
    int i, k, l, np, *which;   /* which[i]: is parameter i quantised? */
    double acc32;
    qerr_t r;

    if (seqcls_model_precision(m) != SEQCLS_FP32)
        die("info: --quant-error needs a float32 model, not a quantised one");
    docs_read(&d, a->quant_error, 1);
    encode_docs(seqcls_model_vocab(m), model_per_step(m), &d, maxlen_for(a, m), pre_for(a, m),
                width_for(a, m), &e);
    labels = xmalloc((size_t)d.n, sizeof *labels, "the labels of the documents");
    for (i = 0; i < d.n; i++)
        if ((labels[i] = label_index(m, d.label[i])) < 0)
            die("%s:%ld: label '%s', which the model does not know", a->quant_error, d.line[i],
                d.label[i]);
    check(seqcls_model_save_buffer(m, &buf, &len), "copying the model");
    ref = all_probs(m, &e, &d, outputs, C);
    acc32 = compare(ref, ref, labels, d.n, C).acc;
    printf("\nquantisation error on %s (%d documents):\n", a->quant_error, d.n);
    printf("  %-9s %9s %10s %10s %10s\n", "model", "accuracy", "agreement", "mean|dp|",
           "max|dp|");
    printf("  %-9s %9.4f %10s %10s %10s\n", "float32", acc32, "-", "-", "-");
    np = seqcls_param_count(m);
    which = xmalloc((size_t)np, sizeof *which, "parameters");
    for (k = 0; k < 2; k++) {
        check(seqcls_model_load_buffer(&q, buf, len), "copying the model");
        check(seqcls_model_quantize(q, precisions[k]), "quantize");
        for (i = 0; i < np; i++)
            which[i] = seqcls_param_precision(q, i, NULL, NULL) != SEQCLS_FP32;
        p = all_probs(q, &e, &d, outputs, C);
        r = compare(p, ref, labels, d.n, C);
        printf("  %-9s %9.4f %10.4f %10.2e %10.2e  (%+.2f points)\n", k ? "bf16" : "int8", r.acc,
               r.agree, r.mean, r.max, 100 * (r.acc - acc32));
        free(p);
        seqcls_model_free(q);
    }
    printf("  per layer, its weights alone rounded (activations float32), mean|dp| max|dp|:\n");
    printf("  %-5s %-12s %10s %10s %10s %10s\n", "layer", "kind", "int8", "", "bf16", "");
    for (l = 0; l < seqcls_layer_count(m); l++) {
        char prefix[16], desc[256], *paren;
        int any = 0;
        snprintf(prefix, sizeof prefix, "%d.", l);
        for (i = 0; i < np; i++)
            any |= which[i] && strncmp(seqcls_param_name(m, i), prefix, strlen(prefix)) == 0;
        if (!any)
            continue;
        check(seqcls_layer_describe(m, l, desc, sizeof desc), "model");
        if ((paren = strchr(desc, '(')) != NULL)
            *paren = '\0';
        printf("  %-5d %-12s", l, desc);
        for (k = 0; k < 2; k++) {
            check(seqcls_model_load_buffer(&q, buf, len), "copying the model");
            for (i = 0; i < np; i++) {
                seqcls_tensor_t *v = NULL;
                if (!which[i] || strncmp(seqcls_param_name(q, i), prefix, strlen(prefix)) != 0)
                    continue;
                check(seqcls_param(q, i, &v, NULL), "model");
                round_weights(seqcls_tensor_data(v), seqcls_tensor_dim(v, 0),
                              seqcls_tensor_numel(v) / seqcls_tensor_dim(v, 0), precisions[k]);
            }
            p = all_probs(q, &e, &d, outputs, C);
            r = compare(p, ref, labels, d.n, C);
            printf(" %10.2e %10.2e", r.mean, r.max);
            free(p);
            seqcls_model_free(q);
        }
        printf("\n");
    }
    free(which);
    free(ref);
    seqcls_free(buf);
    free(labels);
    encoded_free(&e);
    docs_free(&d);
}

static const char *class_name(const seqcls_model_t *m, int c)
{
    const char *name = c >= 0 ? seqcls_model_label(m, c) : NULL;
    return name ? name : "?";
}

/* s (NULL as "?") with control characters as \xNN: a model file is not
 * trusted, and its names must not drive the terminal. */
static void print_visible(const char *s)
{
    if (!s)
        s = "?";
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            printf("\\x%02x", (unsigned char)*s);
        else
            putchar(*s);
}

/* The plain output writes "__label__NAME PROBABILITY": a model whose
 * label holds white space or a control character (made through the
 * library: train refuses them) cannot be written so unambiguously. */
static void check_plain_labels(const seqcls_model_t *m, const char *cmd)
{
    int c;
    for (c = 0; c < seqcls_model_label_count(m); c++) {
        const char *p, *name = class_name(m, c);
        for (p = name; *p; p++)
            if ((unsigned char)*p <= 0x20 || *p == 0x7f)
                die("%s: the model's label '%s' contains white space or a control character, "
                    "which \"__label__NAME PROBABILITY\" cannot show unambiguously: use --json",
                    cmd, name);
    }
}

/* The k most probable classes of p[0..C), most probable first, into
 * top[0..k); taken is scratch of C bytes.  Returns how many. */
static int top_classes(const float *p, int C, int k, int *top, unsigned char *taken)
{
    int r;
    memset(taken, 0, (size_t)C);
    for (r = 0; r < k; r++) {
        int best = best_class(p, C, taken);
        if (best < 0)
            break;
        top[r] = best;
        taken[best] = 1;
    }
    return r;
}

/* The start of a JSON answer, without its closing brace: the line, the
 * labels and their probabilities (most probable first), and the true
 * label when the line has one, with whether the first label is it. */
static void json_answer(const seqcls_model_t *m, long line, const int *top, int ntop,
                        const float *p, const char *truth)
{
    int r;
    printf("{\"line\": %ld, \"labels\": [", line);
    for (r = 0; r < ntop; r++) {
        printf("%s", r ? ", " : "");
        json_cstring(stdout, class_name(m, top[r]));
    }
    printf("], \"probabilities\": [");
    for (r = 0; r < ntop; r++)
        printf("%s%.6g", r ? ", " : "", (double)p[top[r]]);
    printf("]");
    if (truth) {
        printf(", \"true_label\": ");
        json_cstring(stdout, truth);
        printf(", \"correct\": %s",
               ntop > 0 && !strcmp(class_name(m, top[0]), truth) ? "true" : "false");
    }
}

/* The answer to a blank line. */
static void blank_answer(long line, int json, int explain)
{
    if (json)
        printf("{\"line\": %ld, \"labels\": [], \"probabilities\": []%s}\n", line,
               explain ? ", \"text\": \"\", \"tokens\": [], \"cut\": false" : "");
    else
        printf(explain ? "\n\n" : "\n");
}

int cmd_predict(int argc, char **argv)
{
    args_t a;
    docs_t d;
    seqcls_model_t *m;
    float *probs;
    unsigned char *taken;
    int *top;
    int start, outputs, C;
    long next_line = 1;   /* the next input line to answer */
    encoded_t e;

    parse(&a, argc, argv, &cmd_predict_spec, 1);
    m = load_model(a.pos[0]);
    a.maxlen = maxlen_for(&a, m);
    outputs = model_outputs(m);
    C = classes_of(m, outputs);
    if (a.k > C)
        a.k = C;
    if (!a.json)
        check_plain_labels(m, "predict");
    docs_read_input(&d, a.pos[1], m);
    encode_docs(seqcls_model_vocab(m), model_per_step(m), &d, a.maxlen, pre_for(&a, m),
                width_for(&a, m), &e);
    probs = xmalloc((size_t)BATCH * (size_t)C, sizeof *probs, "the probabilities");
    taken = xmalloc((size_t)C, 1, "the top-k choice");
    top = xmalloc((size_t)C, sizeof *top, "the top-k choice");
    for (start = 0; start < d.n; start += BATCH) {
        int n = d.n - start < BATCH ? d.n - start : BATCH, i, r, ntop;
        predict_rows(m, &e, start, d.line + start, n, outputs, probs, NULL);
        for (i = 0; i < n; i++) {
            const float *p = probs + (size_t)i * C;
            /* output line i answers input line i: a blank line gets an empty one */
            for (; next_line < d.line[start + i]; next_line++)
                blank_answer(next_line, a.json, 0);
            next_line++;
            ntop = top_classes(p, C, a.k, top, taken);
            if (a.json) {
                json_answer(m, d.line[start + i], top, ntop, p, d.label[start + i]);
                printf("}\n");
                continue;
            }
            for (r = 0; r < ntop; r++)
                printf("%s__label__%s %.5f", r ? " " : "", class_name(m, top[r]),
                       (double)p[top[r]]);
            printf("\n");
        }
    }
    for (; next_line <= d.lines; next_line++)
        blank_answer(next_line, a.json, 0);
    warn_unknown(&e, m);
    free(top);
    free(taken);
    free(probs);
    encoded_free(&e);
    docs_free(&d);
    seqcls_model_free(m);
    return 0;
}

/* The shade of a token: its weight relative to uniform attention (the
 * weight times the number of tokens read: 1 = what every token would
 * get), as an opacity from 0 (1x or less) to 1 (SHADE_FULL x or more) on
 * a log scale.  Near-uniform attention is pale, whatever its maximum. */
#define SHADE_FULL 16.0
static double shade(double relative)
{
    double s = relative > 1 ? log2(relative) / log2(SHADE_FULL) : 0;
    return s > 1 ? 1 : s;
}

static void html_head(FILE *html)
{
    double r;
    fputs("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>seqcls attention"
          "</title>\n<style>body{font:15px/1.7 sans-serif;max-width:60em;margin:2em auto}"
          "div.doc{margin:1.5em 0;padding:0 1em;border:1px solid #ccc}"
          "p.text{white-space:pre-wrap;overflow-wrap:anywhere}"
          "span.t{border-radius:3px}span.cut{color:#999}"
          "span.key{display:inline-block;padding:0 .6em;margin-right:.3em;border:1px solid #ccc}"
          "p.head,p.note{color:#555}.right{color:#070}.wrong{color:#b00}</style></head><body>\n"
          "<h1>Attention heatmap</h1>\n"
          "<p>Each token is shaded by its attention weight <em>relative to uniform "
          "attention</em>: the weight times the number of tokens the model read, so 1&times; "
          "is what every token would get if the model attended to all of them alike. Tokens at "
          "1&times; or less are white; the shade darkens on a log scale up to ",
          html);
    fprintf(html, "%g&times; or more. A pale document is one whose attention is spread "
                  "evenly, not one where every word matters. Hover over a token for its "
                  "weight. Text between tokens (punctuation, markup, spacing) is shown as "
                  "it is, unshaded; text beyond the model's maximum length, which it did not "
                  "read, is grey.</p>\n<p class=\"legend\">",
            SHADE_FULL);
    for (r = 1; r <= SHADE_FULL; r *= 2)
        fprintf(html, "<span class=\"key\" style=\"background:rgba(220,30,30,%.3f)\">%s%g&times;"
                      "</span>",
                shade(r), r == 1 ? "&le;" : r == SHADE_FULL ? "&ge;" : "", r);
    fputs("</p>\n", html);
}

/* A model without an attention layer but with transformer encoder layers
 * (seqcls train --arch transformer) is explained by the self-attention of
 * its last encoder layer: returns that layer (-1: none) and sets
 * *query_first when the pooling after it reads the first step only. */
static int self_attention_source(const seqcls_model_t *m, int *query_first)
{
    int i, last = -1, kind;
    for (i = 0; i < seqcls_layer_count(m); i++)
        if (seqcls_layer_kind(m, i) == SEQCLS_LAYER_TRANSFORMER_ENCODER)
            last = i;
    *query_first = 0;
    for (i = last + 1; last >= 0 && i < seqcls_layer_count(m); i++)
        if (seqcls_layer_kind(m, i) == SEQCLS_LAYER_POOLING) {
            check(seqcls_layer_get_int(m, i, SEQCLS_OPT_KIND, &kind), "model");
            *query_first = kind == SEQCLS_POOL_FIRST;
            break;
        }
    return last;
}

/* The weight each token of row `row` receives in the last forward's
 * self-attention of transformer layer `layer`, into att[0..T): the mean
 * over the heads and over the queries the pooling reads (every valid step
 * for mean pooling, the first one for first-step pooling).  Each query's
 * weights sum to 1 over the valid keys, so these do too: what share of
 * the attention that feeds the pooled vector each token has, in the last
 * layer (the residual path, which carries each token's own vector past
 * the attention, is not in it).  `line`: the input line, for messages. */
static void self_attention_received(seqcls_model_t *m, const encoded_t *e, int row, long line,
                                    int layer, int query_first, float *att)
{
    seqcls_tensor_t *x = encoded_tensor(e, row, 1), *w = NULL;
    const int T = e->T, len = e->lens[row];
    int heads = 0, h, q, k, nq;
    float *all;
    check(seqcls_layer_get_int(m, layer, SEQCLS_OPT_HEADS, &heads), "model");
    all = xmalloc((size_t)heads * T * T, sizeof *all, "the self-attention weights");
    {
        int64_t sw[4] = {1, heads, T, T};
        check(seqcls_tensor_wrap(&w, SEQCLS_F32, 4, sw, all), "self-attention");
    }
    check(seqcls_forward(m, x, e->lens + row, NULL, 0), "explain");
    check(seqcls_self_attention_weights(m, layer, w), "self-attention");
    nq = query_first ? (len > 0) : len;
    for (k = 0; k < T; k++)
        att[k] = 0;
    for (h = 0; h < heads; h++)
        for (q = 0; q < nq; q++)
            for (k = 0; k < len; k++)
                att[k] += all[((size_t)h * T + q) * T + k];
    for (k = 0; k < len; k++) {
        att[k] /= (float)heads * (float)nq;
        if (!(att[k] >= 0 && att[k] <= 1))   /* false for NaN */
            die("line %ld: the attention weights are not finite (NaN or infinite): the "
                "model's weights are too large or damaged", line);
    }
    seqcls_tensor_free(w);
    seqcls_tensor_free(x);
    free(all);
}

int cmd_explain(int argc, char **argv)
{
    args_t a;
    docs_t d;
    seqcls_model_t *m;
    int32_t *starts, *ends;
    encoded_t e;
    float *probs, *att;
    FILE *html = NULL;
    char *html_tmp = NULL;
    unsigned char *taken;
    int *top;
    int i, outputs, C, tty = isatty(fileno(stdout)), probe, pre, self = -1, query_first = 0;
    long next_line = 1;   /* the next input line to answer */

    parse(&a, argc, argv, &cmd_explain_spec, 1);
    if (a.html)
        check_output("--html", a.html, a.pos, 2, 1);   /* before any work */
    m = load_model(a.pos[0]);
    a.maxlen = maxlen_for(&a, m);
    outputs = model_outputs(m);
    C = classes_of(m, outputs);
    if (a.k > C)
        a.k = C;
    for (probe = 0, i = 0; i < seqcls_layer_count(m); i++)
        probe |= seqcls_layer_kind(m, i) == SEQCLS_LAYER_ATTENTION;
    if (!probe)
        self = self_attention_source(m, &query_first);
    if (!probe && self < 0)
        die("%s: the model has no attention layer to explain with", a.pos[0]);
    if (!a.json)
        check_plain_labels(m, "explain");
    docs_read_input(&d, a.pos[1], m);
    pre = pre_for(&a, m);
    encode_docs(seqcls_model_vocab(m), model_per_step(m), &d, a.maxlen, pre, width_for(&a, m), &e);
    probs = xmalloc((size_t)C, sizeof *probs, "the probabilities");
    taken = xmalloc((size_t)C, 1, "the top-k choice");
    top = xmalloc((size_t)C, sizeof *top, "the top-k choice");
    att = xmalloc((size_t)a.maxlen, sizeof *att, "the attention weights");
    /* one more than the model reads: to know whether the text was cut */
    starts = xmalloc((size_t)a.maxlen + 1, sizeof *starts, "the token offsets");
    ends = xmalloc((size_t)a.maxlen + 1, sizeof *ends, "the token offsets");
    if (a.html) {
        html = output_open(a.html, &html_tmp);
        html_head(html);
    }
    for (i = 0; i < d.n; i++) {
        const char *text = d.text[i], *truth = d.label[i];
        const size_t len = strlen(text);
        int32_t n = 0, t, peak = 0, *all_s = NULL, *all_e = NULL, *st = starts, *en = ends;
        int ntop, r, cut;
        predict_rows(m, &e, i, d.line + i, 1, outputs, probs, self < 0 ? att : NULL);
        if (self >= 0)
            self_attention_received(m, &e, i, d.line[i], self, query_first, att);
        /* the tokens in the model's own mode (word or char) */
        if (!pre) {
            check(seqcls_vocab_tokenize(seqcls_model_vocab(m), text, len, starts, ends,
                                        a.maxlen + 1, &n),
                  "tokenize");
            cut = n > a.maxlen;
            if (n > e.lens[i])   /* the tokens the model read (the same tokeniser: all of them) */
                n = e.lens[i];
        } else {
            /* --truncate pre read the last tokens: their spans are the last
             * ones of the text (at most one token per byte) */
            const size_t cap = len < (size_t)MAX_TOKENS ? len + 1 : (size_t)MAX_TOKENS;
            all_s = xmalloc(cap, sizeof *all_s, "the token offsets");
            all_e = xmalloc(cap, sizeof *all_e, "the token offsets");
            check(seqcls_vocab_tokenize(seqcls_model_vocab(m), text, len, all_s, all_e, (int)cap,
                                        &n),
                  "tokenize");
            cut = n > a.maxlen;
            st = all_s + (n > e.lens[i] ? n - e.lens[i] : 0);
            en = all_e + (n > e.lens[i] ? n - e.lens[i] : 0);
            if (n > e.lens[i])
                n = e.lens[i];
        }
        for (t = 0; t < n; t++)
            peak = att[t] > att[peak] ? t : peak;
        ntop = top_classes(probs, C, a.k, top, taken);
        for (; next_line < d.line[i]; next_line++)
            blank_answer(next_line, a.json, 1);
        next_line++;

        if (a.json) {
            json_answer(m, d.line[i], top, ntop, probs, truth);
            printf(", \"text\": ");
            json_string(stdout, text, len);
            printf(", \"tokens\": [");
            for (t = 0; t < n; t++) {
                printf("%s{\"token\": ", t ? ", " : "");
                json_string(stdout, text + st[t], (size_t)(en[t] - st[t]));
                printf(", \"start\": %d, \"end\": %d, \"weight\": %.6g, \"relative\": %.4g}",
                       (int)st[t], (int)en[t], (double)att[t], (double)att[t] * n);
            }
            printf("], \"cut\": %s}\n", cut ? "true" : "false");
        } else {
            for (r = 0; r < ntop; r++)
                printf("%s__label__%s %.5f", r ? " " : "", class_name(m, top[r]),
                       (double)probs[top[r]]);
            if (tty && truth) {
                printf("   (true label: ");
                print_visible(truth);
                printf(", %s)",
                       ntop > 0 && !strcmp(class_name(m, top[0]), truth) ? "right" : "wrong");
            }
            printf("\n");
            for (t = 0; t < n; t++) {
                int l = en[t] - st[t], k;
                if (tty) {
                    /* white to red on the 256-colour cube, as the HTML shades */
                    int level = (int)lround(5 * shade((double)att[t] * n));
                    printf("\x1b[48;5;%dm\x1b[30m", 196 + 7 * (5 - level));
                    for (k = 0; k < l; k++) {   /* the text must not drive the terminal */
                        unsigned char c = (unsigned char)text[st[t] + k];
                        putchar(c < 0x20 || c == 0x7f ? '?' : c);
                    }
                    printf("\x1b[0m(%.3f) ", (double)att[t]);
                } else {
                    printf("%.*s\t%.4f\n", l, text + st[t], (double)att[t]);
                }
            }
            printf("%s", tty ? "\n\n" : "\n");
        }

        if (html) {
            int32_t at = 0;
            fprintf(html, "<div class=\"doc\"><p class=\"head\">line %ld &middot; predicted <b>",
                    d.line[i]);
            html_cstring(html, class_name(m, top[0]));
            fprintf(html, "</b> %.3f", (double)probs[top[0]]);
            if (truth) {
                int right = !strcmp(class_name(m, top[0]), truth);
                fputs(" &middot; true label <b>", html);
                html_cstring(html, truth);
                fprintf(html, "</b> <span class=\"%s\">%s</span>", right ? "right" : "wrong",
                        right ? "&#x2713; right" : "&#x2717; wrong");
            }
            fputs("</p>\n<p class=\"text\">", html);
            if (pre && cut && n > 0) {   /* the text before the last tokens: not read */
                fputs("<span class=\"cut\" title=\"before the last tokens the model reads "
                      "(--truncate pre): not read\">",
                      html);
                html_text(html, text, (size_t)st[0]);
                fputs("</span>", html);
                at = st[0];
            }
            for (t = 0; t < n; t++) {
                if (st[t] > at)   /* what lies between tokens, as it is */
                    html_text(html, text + at, (size_t)(st[t] - at));
                if (st[t] < at)   /* (spans never overlap; if they did, no text twice) */
                    st[t] = at;
                fprintf(html, "<span class=\"t\" style=\"background:rgba(220,30,30,%.3f)\" "
                              "title=\"weight %.4f (%.1f&times; uniform)\">",
                        shade((double)att[t] * n), (double)att[t], (double)att[t] * n);
                html_text(html, text + st[t], (size_t)(en[t] - st[t]));
                fputs("</span>", html);
                at = en[t] > at ? en[t] : at;
            }
            if ((size_t)at < len) {
                if (cut && !pre)
                    fputs("<span class=\"cut\" title=\"beyond the maximum length: not read\">",
                          html);
                html_text(html, text + at, len - (size_t)at);
                if (cut && !pre)
                    fputs("</span>", html);
            }
            fputs("</p>\n<p class=\"note\">", html);
            if (n > 0) {
                fprintf(html, "%d token%s read: uniform attention would give each %.3f. The "
                              "largest weight, %.3f on &ldquo;",
                        (int)n, n == 1 ? "" : "s", 1.0 / n, (double)att[peak]);
                html_text(html, text + st[peak], (size_t)(en[peak] - st[peak]));
                fprintf(html, "&rdquo;, is %.1f&times; that.", (double)att[peak] * n);
            } else {
                fputs("No token was read.", html);
            }
            if (cut && !pre)
                fprintf(html, " The text beyond token %d (the maximum length) was not read.",
                        a.maxlen);
            else if (cut)
                fprintf(html, " Only the last %d tokens (the maximum length, --truncate pre) "
                              "were read.",
                        a.maxlen);
            fputs("</p></div>\n", html);
        }
        free(all_s);
        free(all_e);
    }
    for (; next_line <= d.lines; next_line++)
        blank_answer(next_line, a.json, 1);
    if (html) {
        fputs("</body></html>\n", html);
        output_close(html, a.html, html_tmp);
        fprintf(stderr, "seqcls: wrote %s\n", a.html);
    }
    free(probs);
    free(taken);
    free(top);
    free(att);
    warn_unknown(&e, m);
    free(starts);
    free(ends);
    encoded_free(&e);
    docs_free(&d);
    seqcls_model_free(m);
    return 0;
}

int cmd_info(int argc, char **argv)
{
    args_t a;
    seqcls_model_t *m = NULL;
    char buf[256];
    int64_t total = 0, bytes = 0;
    int i;

    parse(&a, argc, argv, &cmd_info_spec, 1);
    if (seqcls_model_load(&m, a.pos[0]) != SEQCLS_OK)
        die("%s", seqcls_last_error());
    printf("model %s (seqcls %s)\n\nlayers:\n", a.pos[0], seqcls_version_string());
    for (i = 0; i < seqcls_layer_count(m); i++) {
        check(seqcls_layer_describe(m, i, buf, sizeof buf), "model");
        printf("  %2d  %s\n", i, buf);
    }
    printf("\nparameters:\n");
    for (i = 0; i < seqcls_param_count(m); i++) {
        int64_t shape[SEQCLS_MAX_DIMS], numel = 1;
        int k, ndim = 0, prec = seqcls_param_precision(m, i, &ndim, shape);
        if (prec < 0)
            check(prec, "model");
        printf("  %-36s [", seqcls_param_name(m, i) ? seqcls_param_name(m, i) : "?");
        for (k = 0; k < ndim; k++) {
            printf("%s%lld", k ? ", " : "", (long long)shape[k]);
            numel *= shape[k];
        }
        printf("]  %lld%s\n", (long long)numel,
               prec == SEQCLS_INT8 ? "  int8" : prec == SEQCLS_BF16 ? "  bf16" : "");
        total += numel;
        bytes += prec == SEQCLS_INT8 ? numel + 4 * shape[0] : prec == SEQCLS_BF16 ? 2 * numel
                                                                                  : 4 * numel;
    }
    printf("  total: %lld values, %lld bytes\n", (long long)total, (long long)bytes);
    {
        const int prec = seqcls_model_precision(m);
        struct stat st;
        printf("precision: %s\n",
               prec == SEQCLS_INT8   ? "int8 (embedding, dense, output, LSTM and GRU weights; the rest float32)"
               : prec == SEQCLS_BF16 ? "bfloat16 (embedding, dense, output, LSTM and GRU weights; the rest "
                                       "float32)"
                                     : "float32");
        if (stat(a.pos[0], &st) == 0)
            printf("file: %lld bytes\n", (long long)st.st_size);
    }
    if (seqcls_model_vocab(m)) {
        const seqcls_vocab_t *v = seqcls_model_vocab(m);
        int opt[6] = {0}, k;
        for (k = 1; k <= 5; k++)
            check(seqcls_vocab_get_int(v, k, &opt[k]), "vocabulary");
        printf("\nvocabulary: %d tokens, %s", seqcls_vocab_size(v),
               opt[SEQCLS_VOCAB_TOKENS] == SEQCLS_TOKENS_CHAR ? "characters" : "words");
        if (opt[SEQCLS_VOCAB_OOV_BUCKETS])
            printf(", %d buckets for unknown tokens", opt[SEQCLS_VOCAB_OOV_BUCKETS]);
        if (opt[SEQCLS_VOCAB_MAXN])
            printf(", character %d- to %d-grams in %d buckets",
                   opt[SEQCLS_VOCAB_MINN] ? opt[SEQCLS_VOCAB_MINN] : 1, opt[SEQCLS_VOCAB_MAXN],
                   opt[SEQCLS_VOCAB_BUCKET]);
        printf("\n");
    }
    if (seqcls_model_label_count(m)) {
        printf("labels:");
        for (i = 0; i < seqcls_model_label_count(m); i++) {
            putchar(' ');
            print_visible(seqcls_model_label(m, i));
        }
        printf("\n");
    }
    if (seqcls_model_meta_count(m)) {
        printf("\nmetadata:\n");
        for (i = 0; i < seqcls_model_meta_count(m); i++) {
            const char *key = seqcls_model_meta_key(m, i);
            printf("  ");
            print_visible(key);
            printf(" = ");
            print_visible(key ? seqcls_model_get_meta(m, key) : NULL);
            printf("\n");
        }
    }
    if (a.quant_error)
        quant_error_report(m, &a);
    seqcls_model_free(m);
    return 0;
}
