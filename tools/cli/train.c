/*
 * train.c -- `seqcls train`: read a labelled file, build the vocabulary
 * and the model, train with a Keras-like progress display, save.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

typedef struct {
    const char *input, *output, *arch, *valid;
    int epochs, dim, hidden, maxlen, batch, min_count, vocab_max, threads;
    double lr, valid_split;
    long seed;
    int split_given;   /* --valid-split on the command line */
} train_opts_t;

/* Progress: a bar redrawn in place on a terminal, one line per epoch otherwise. */
typedef struct {
    int tty, epochs;
    double start;
    double loss_sum, acc_sum;
    int seen;
} progress_t;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int on_batch(void *user, int epoch, int batch, int batches, float loss, float accuracy)
{
    progress_t *p = user;
    if (batch == 0) {
        p->start = now();
        p->loss_sum = p->acc_sum = 0;
        p->seen = 0;
        if (p->tty)
            printf("Epoch %d/%d\n", epoch + 1, p->epochs);
    }
    p->loss_sum += loss;
    p->acc_sum += accuracy;
    p->seen++;
    if (p->tty) {
        const int width = 30, done = (batch + 1) * width / batches;
        double per = (now() - p->start) / (batch + 1);
        int i;
        printf("\r%*d/%d [", (int)snprintf(NULL, 0, "%d", batches), batch + 1, batches);
        for (i = 0; i < width; i++)
            putchar(i < done ? '=' : i == done ? '>' : '.');
        printf("] - ETA: %.0fs - loss: %.4f - accuracy: %.4f", per * (batches - batch - 1),
               p->loss_sum / p->seen, p->acc_sum / p->seen);
        fflush(stdout);
    }
    return 0;
}

static int on_epoch(void *user, int epoch, float loss, float accuracy, float val_loss,
                    float val_accuracy)
{
    progress_t *p = user;
    double elapsed = now() - p->start;
    if (p->tty)
        printf("\r%d/%d [==============================] - %.0fs %.0fms/step", p->seen, p->seen,
               elapsed, 1000 * elapsed / (p->seen ? p->seen : 1));
    else
        printf("epoch %d/%d - %.1fs %.0fms/step", epoch + 1, p->epochs, elapsed,
               1000 * elapsed / (p->seen ? p->seen : 1));
    printf(" - loss: %.4f - accuracy: %.4f", loss, accuracy);
    if (!isnan(val_loss))
        printf(" - val_loss: %.4f - val_accuracy: %.4f", val_loss, val_accuracy);
    printf("\n");
    fflush(stdout);
    return 0;
}

static void parse(train_opts_t *o, int argc, char **argv)
{
    int i;
    *o = (train_opts_t){NULL, NULL, "bilstm-attn", NULL, 5, 64, 64, 256, 32, 2, 20000, 0,
                        0.002, 0.1, 1, 0};
    for (i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help"))
            print_usage(stdout), exit(0);
        if (a[0] != '-' || a[1] == '\0')
            die("train: unexpected argument '%s' (the input is -i FILE)", a);
        if (!strcmp(a, "-i") || !strcmp(a, "--input"))
            o->input = parse_string(a, v, 1);
        else if (!strcmp(a, "-o") || !strcmp(a, "--output"))
            o->output = parse_string(a, v, 1);
        else if (!strcmp(a, "--arch"))
            o->arch = parse_string(a, v, 0);
        else if (!strcmp(a, "--valid"))
            o->valid = parse_string(a, v, 1);
        else if (!strcmp(a, "--epochs"))
            o->epochs = (int)parse_long(a, v, 1, 100000);
        else if (!strcmp(a, "--lr"))
            o->lr = parse_double(a, v, 1e-9, 10);
        else if (!strcmp(a, "--dim"))
            o->dim = (int)parse_long(a, v, 1, 4096);
        else if (!strcmp(a, "--hidden"))
            o->hidden = (int)parse_long(a, v, 1, 4096);
        else if (!strcmp(a, "--maxlen"))
            o->maxlen = (int)parse_long(a, v, 1, 100000);
        else if (!strcmp(a, "--batch"))
            o->batch = (int)parse_long(a, v, 1, 65536);
        else if (!strcmp(a, "--valid-split"))
            o->valid_split = parse_double(a, v, 0, 0.9), o->split_given = 1;
        else if (!strcmp(a, "--min-count"))
            o->min_count = (int)parse_long(a, v, 1, 1000000);
        else if (!strcmp(a, "--vocab"))
            o->vocab_max = (int)parse_long(a, v, 3, 16777216);
        else if (!strcmp(a, "--threads"))
            o->threads = (int)parse_long(a, v, 0, 1024);
        else if (!strcmp(a, "--seed"))
            o->seed = parse_long(a, v, 0, 2147483647);
        else
            die("train: unknown option '%s' (seqcls --help lists the options)", a);
        i++;
    }
    if (!o->input || !o->output)
        die("train: -i TRAIN.txt and -o MODEL.sqcl are required");
    if (o->valid && o->split_given)
        die("train: --valid FILE and --valid-split F exclude each other");
    if (strcmp(o->arch, "bilstm-attn") && strcmp(o->arch, "bigru-attn") &&
        strcmp(o->arch, "meanpool"))
        die("train: --arch must be bilstm-attn, bigru-attn or meanpool, not '%s'", o->arch);
}

static seqcls_model_t *build_model(const train_opts_t *o, int vocab, int classes)
{
    seqcls_model_t *m = NULL;
    const int out = classes == 2 ? 1 : classes;
    check(seqcls_model_create(&m, (uint64_t)o->seed), "model");
    check(seqcls_add_embedding(m, vocab, o->dim, 0, NULL), "embedding");
    if (!strcmp(o->arch, "meanpool")) {
        check(seqcls_add_pooling(m, SEQCLS_POOL_MEAN, NULL), "pooling");
    } else {
        const unsigned flags = SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES;
        if (!strcmp(o->arch, "bigru-attn"))
            check(seqcls_add_gru(m, o->hidden, flags, NULL), "gru");
        else
            check(seqcls_add_lstm(m, o->hidden, flags, NULL), "lstm");
        check(seqcls_add_attention(m, SEQCLS_ATTN_BAHDANAU, o->hidden, NULL), "attention");
        check(seqcls_add_dense(m, o->hidden, SEQCLS_ACT_RELU, NULL), "dense");
        check(seqcls_add_dropout(m, 0.3f, NULL), "dropout");
    }
    check(seqcls_add_output(m, out, NULL), "output");
    return m;
}

/* Class index of every document, by the model's label names. */
static int32_t *label_ids(const seqcls_model_t *m, const docs_t *d, const char *path)
{
    int32_t *y = xmalloc((size_t)d->n, sizeof *y, "the labels of the documents");
    int i;
    for (i = 0; i < d->n; i++)
        if ((y[i] = label_index(m, d->label[i])) < 0)
            die("%s: document %d has label '%s', which the training data does not have", path,
                i + 1, d->label[i]);
    return y;
}

int cmd_train(int argc, char **argv)
{
    train_opts_t o;
    docs_t train, valid;
    seqcls_vocab_t *vocab = NULL;
    seqcls_model_t *m;
    seqcls_optimizer_t *adam = NULL;
    seqcls_fit_config_t *cfg = NULL;
    seqcls_tensor_t *x = NULL, *y = NULL, *vx = NULL, *vy = NULL;
    seqcls_metrics_t *mt = NULL;
    progress_t progress = {0};
    int32_t *ids, *lens, *labels, *vids = NULL, *vlens = NULL, *vlabels = NULL;
    char **names;
    int nlabels, i;
    double t0 = now();

    parse(&o, argc, argv);
    {
        /* before the training, not after it */
        const char *inputs[2];
        inputs[0] = o.input;
        inputs[1] = o.valid;
        check_output("-o", o.output, inputs, 2, 0);
    }
    check(seqcls_set_num_threads(o.threads), "--threads");
    docs_read(&train, o.input, 1);
    names = labels_collect(&train, &nlabels);
    if (nlabels < 2)
        die("%s: only one label ('%s'): a classifier needs at least two", o.input, names[0]);
    check(seqcls_vocab_create(&vocab), "vocabulary");
    for (i = 0; i < train.n; i++)
        check(seqcls_vocab_add_text(vocab, train.text[i], strlen(train.text[i])), "vocabulary");
    check(seqcls_vocab_build(vocab, o.min_count, o.vocab_max), "vocabulary");
    m = build_model(&o, seqcls_vocab_size(vocab), nlabels);
    check(seqcls_model_set_vocab(m, vocab), "vocabulary");
    check(seqcls_model_set_labels(m, nlabels, (const char *const *)names), "labels");
    {
        /* what test, predict and explain need to read text as training did */
        char maxlen[16];
        snprintf(maxlen, sizeof maxlen, "%d", o.maxlen);
        check(seqcls_model_set_meta(m, "maxlen", maxlen), "metadata");
        check(seqcls_model_set_meta(m, "tokens", "word"), "metadata");
    }
    printf("%d documents, %d labels, vocabulary of %d, architecture %s\n", train.n, nlabels,
           seqcls_vocab_size(vocab), o.arch);

    encode_docs(vocab, &train, o.maxlen, &ids, &lens);
    labels = label_ids(m, &train, o.input);
    {
        int64_t sx[2] = {train.n, o.maxlen}, sy[1] = {train.n};
        check(seqcls_tensor_wrap(&x, SEQCLS_I32, 2, sx, ids), "input");
        check(seqcls_tensor_wrap(&y, SEQCLS_I32, 1, sy, labels), "labels");
    }
    if (o.valid) {
        int64_t sx[2], sy[1];
        docs_read(&valid, o.valid, 1);
        encode_docs(vocab, &valid, o.maxlen, &vids, &vlens);
        vlabels = label_ids(m, &valid, o.valid);
        sx[0] = sy[0] = valid.n;
        sx[1] = o.maxlen;
        check(seqcls_tensor_wrap(&vx, SEQCLS_I32, 2, sx, vids), "validation input");
        check(seqcls_tensor_wrap(&vy, SEQCLS_I32, 1, sy, vlabels), "validation labels");
    }

    check(seqcls_optimizer_create(&adam, SEQCLS_OPTIM_ADAM, (float)o.lr), "optimizer");
    check(seqcls_optimizer_set_float(adam, SEQCLS_OPTIM_CLIPNORM, 5.0f), "optimizer");
    check(seqcls_fit_config_create(&cfg), "fit");
    check(seqcls_fit_config_set_int(cfg, SEQCLS_FIT_EPOCHS, o.epochs), "--epochs");
    check(seqcls_fit_config_set_int(cfg, SEQCLS_FIT_BATCH_SIZE, o.batch), "--batch");
    check(seqcls_fit_config_set_int(cfg, SEQCLS_FIT_SEED, o.seed), "--seed");
    if (!o.valid && o.valid_split > 0) {
        /* seqcls_fit holds out the last floor(n * split) documents, and
         * refuses a split that leaves none: a small file is trained
         * without validation (default split) or with one document (a
         * split given on the command line) rather than refused */
        float split = (float)o.valid_split;
        if (floor((double)train.n * (double)split) < 1) {
            if (!o.split_given || train.n < 2) {
                printf("note: %d documents are too few to hold out %g%% for validation: "
                       "training without validation\n",
                       train.n, 100 * o.valid_split);
                split = 0;
            } else {
                split = (float)(1.5 / train.n);
                printf("note: --valid-split %g of %d documents holds out none: holding out "
                       "the last document for validation\n",
                       o.valid_split, train.n);
            }
        }
        if (split > 0)
            check(seqcls_fit_config_set_float(cfg, SEQCLS_FIT_VALID_SPLIT, split),
                  "--valid-split");
    }
    progress.tty = isatty(fileno(stdout));
    progress.epochs = o.epochs;
    check(seqcls_fit_config_set_callbacks(cfg, on_batch, on_epoch, NULL, &progress), "fit");
    check(seqcls_fit(m, adam, x, lens, y, vx, vlens, vy, cfg), "training");

    check(seqcls_model_save(m, o.output), "saving the model");
    check(seqcls_evaluate(m, x, lens, y, 0, &mt), "evaluation");
    printf("training accuracy %.4f; saved %s (%.1fs)\n",
           seqcls_metrics_get(mt, SEQCLS_METRIC_ACCURACY, 0), o.output, now() - t0);

    seqcls_metrics_free(mt);
    seqcls_fit_config_free(cfg);
    seqcls_optimizer_free(adam);
    seqcls_tensor_free(x);
    seqcls_tensor_free(y);
    seqcls_tensor_free(vx);
    seqcls_tensor_free(vy);
    seqcls_vocab_free(vocab);
    seqcls_model_free(m);
    free(ids);
    free(lens);
    free(labels);
    free(vids);
    free(vlens);
    free(vlabels);
    free(names);
    if (o.valid)
        docs_free(&valid);
    docs_free(&train);
    return 0;
}
