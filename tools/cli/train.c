/*
 * train.c -- `seqcls train`: read a labelled file, build the vocabulary
 * and the model, train with a Keras-like progress display, save.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

typedef struct {
    const char *input, *output, *arch, *valid, *truncate, *tokens;
    int epochs, dim, hidden, kernel, maxlen, batch, min_count, vocab_max, threads, seed;
    int patience, restore_best;
    int layers, heads, ff_dim;
    int oov_buckets, minn, maxn, bucket;
    double lr, valid_split;
    const char *resume, *checkpoint;
    int checkpoint_every;
} train_opts_t;

#define OPT(field) offsetof(train_opts_t, field)
static const opt_t train_options[] = {
    {"--input", "-i", "FILE", OPT_FILE, OPT(input), NULL, "required", 0, 0, NULL,
     "labelled training data, one document a line"},
    {"--output", "-o", "FILE", OPT_FILE, OPT(output), NULL, "required", 0, 0, NULL,
     "the model file to write (checked before training)"},
    {"--arch", NULL, "A", OPT_CHOICE, OPT(arch), "bilstm-attn", NULL, 0, 0,
     "bilstm-attn|bigru-attn|meanpool|cnn|transformer",
     "bilstm-attn or bigru-attn: embedding, bidirectional LSTM/GRU,\n"
     "Bahdanau attention, dense ReLU, dropout 0.3, output;\n"
     "meanpool: embedding, mean pooling, output;\n"
     "cnn: Kim's (2014) CNN: embedding, --hidden convolution filters\n"
     "of --kernel tokens (ReLU, 'same' padding), max pooling,\n"
     "dropout 0.5, output;\n"
     "transformer: embedding (of --dim, the model width) scaled by\n"
     "sqrt(--dim), sinusoidal positional encoding, --layers encoder\n"
     "layers (post-norm, ReLU, dropout 0.1, as PyTorch's\n"
     "nn.TransformerEncoderLayer), mean pooling, output"},
    {"--epochs", NULL, "N", OPT_INT, OPT(epochs), "5", NULL, 1, 100000, NULL,
     "passes over the training data"},
    {"--lr", NULL, "X", OPT_REAL, OPT(lr), "0.002", NULL, 1e-9, 10, NULL,
     "learning rate of Adam (gradients clipped to norm 5)"},
    {"--dim", NULL, "D", OPT_INT, OPT(dim), "64", NULL, 1, 4096, NULL,
     "embedding size (the transformer's model width)"},
    {"--hidden", NULL, "H", OPT_INT, OPT(hidden), "64", NULL, 1, 4096, NULL,
     "units of the LSTM/GRU (each direction), the attention\n"
     "and the dense layer; filters of the cnn"},
    {"--kernel", NULL, "K", OPT_INT, OPT(kernel), "3", NULL, 1, 64, NULL,
     "cnn: the tokens each filter sees at once"},
    {"--layers", NULL, "N", OPT_INT, OPT(layers), "2", NULL, 1, 64, NULL,
     "transformer: encoder layers"},
    {"--heads", NULL, "H", OPT_INT, OPT(heads), "4", NULL, 1, 4096, NULL,
     "transformer: attention heads of each layer (must divide --dim)"},
    {"--ff-dim", NULL, "F", OPT_INT, OPT(ff_dim), NULL, "4 x --dim", 1, 65536, NULL,
     "transformer: width of each layer's feed-forward network"},
    {"--maxlen", NULL, "L", OPT_INT, OPT(maxlen), "256", NULL, 1, 100000, NULL,
     "tokens read per document (the rest is cut); saved in\n"
     "the model"},
    {"--truncate", NULL, "T", OPT_CHOICE, OPT(truncate), "post", NULL, 0, 0, "post|pre",
     "which tokens of a longer document are read: the first\n"
     "(post) or the last (pre, Keras' default); saved in the model"},
    {"--batch", NULL, "B", OPT_INT, OPT(batch), "32", NULL, 1, 65536, NULL,
     "documents per training step"},
    {"--valid", NULL, "FILE", OPT_FILE, OPT(valid), NULL, "none", 0, 0, NULL,
     "labelled validation data (instead of --valid-split)"},
    {"--valid-split", NULL, "F", OPT_REAL, OPT(valid_split), "0.1", NULL, 0, 0.9, NULL,
     "without --valid: the fraction of each label's documents held\n"
     "out for validation, chosen by a shuffle seeded with --seed\n"
     "(stratified, so a file sorted by label is split fairly); a file\n"
     "too small for it trains without validation; 0 = none"},
    {"--patience", NULL, "N", OPT_INT, OPT(patience), "0", NULL, 0, 100000, NULL,
     "early stopping: stop after N epochs without a lower val_loss;\n"
     "0 = run every epoch"},
    {"--restore-best", NULL, NULL, OPT_YESNO, OPT(restore_best), "yes", NULL, 0, 0, NULL,
     "yes: save the weights of the epoch with the lowest val_loss;\n"
     "no: those of the last epoch"},
    {"--min-count", NULL, "N", OPT_INT, OPT(min_count), "2", NULL, 1, 1000000, NULL,
     "tokens seen fewer times are unknown (<unk>)"},
    {"--vocab", NULL, "N", OPT_INT, OPT(vocab_max), "20000", NULL, 3, 16777216, NULL,
     "largest vocabulary, <pad> and <unk> included"},
    {"--tokens", NULL, "T", OPT_CHOICE, OPT(tokens), "word", NULL, 0, 0, "word|char",
     "word: words, lower-cased, split at spaces and punctuation;\n"
     "char: every character is a token (lower-cased), a run of\n"
     "white space one \" \" token; saved in the model"},
    {"--oov-buckets", NULL, "N", OPT_INT, OPT(oov_buckets), "0", NULL, 0, 16777216, NULL,
     "unknown tokens are hashed into N vectors of their own\n"
     "(Keras' num_oov_buckets) instead of sharing <unk>'s"},
    {"--minn", NULL, "N", OPT_INT, OPT(minn), "0", NULL, 0, 32, NULL,
     "fastText's subwords: the shortest character n-gram"},
    {"--maxn", NULL, "N", OPT_INT, OPT(maxn), "0", NULL, 0, 32, NULL,
     "the longest character n-gram; 0 = none.  With n-grams a\n"
     "word's vector is the mean of its own and its n-grams'\n"
     "(\"<word>\" cut into minn..maxn characters, hashed into\n"
     "--bucket vectors), so unknown words get one too; the\n"
     "first layer is then an embedding bag (any --arch;\n"
     "meanpool is fastText's classifier)"},
    {"--bucket", NULL, "N", OPT_INT, OPT(bucket), "2000000", NULL, 0, 1 << 30, NULL,
     "vectors the character n-grams are hashed into"},
    {"--seed", NULL, "S", OPT_INT, OPT(seed), "1", NULL, 0, 2147483647, NULL,
     "seed of the initial weights, the order of the batches and\n"
     "the validation split"},
    {"--threads", NULL, "N", OPT_INT, OPT(threads), "0", NULL, 0, 1024, NULL,
     "threads to compute with; 0 = one per core (under mpirun:\n"
     "per rank; 0 = the machine's cores shared among its ranks)"},
    {"--checkpoint-every", NULL, "N", OPT_INT, OPT(checkpoint_every), "0", NULL, 0, 100000,
     NULL, "every N epochs write a checkpoint that --resume continues\n"
     "from; 0 = none"},
    {"--checkpoint", NULL, "FILE", OPT_FILE, OPT(checkpoint), NULL, "OUTPUT.ckpt", 0, 0, NULL,
     "the checkpoint --checkpoint-every writes (and FILE.best, the\n"
     "model of the best epoch so far)"},
    {"--resume", NULL, "FILE", OPT_FILE, OPT(resume), NULL, "none", 0, 0, NULL,
     "continue the training that wrote checkpoint FILE, with its\n"
     "settings, to the model the uninterrupted training gives; only\n"
     "-i, -o, --valid, --epochs, --threads and the checkpoint options\n"
     "may be given with it"},
};
#undef OPT

const command_t cmd_train_spec = {
    "train",
    "-i TRAIN.txt -o MODEL.sqcl [options]",
    "train a classifier on a labelled file and save it",
    "Train a classifier on a labelled file (lines \"__label__NAME text\" or\n"
    "\"NAME<TAB>text\", in UTF-8) and save it with its vocabulary, label names\n"
    "and maximum length, which test, predict and explain use.  A label cannot\n"
    "contain a space (predict writes \"__label__NAME PROBABILITY\"): write\n"
    "not_spam, not \"not spam\".\n",
    train_options,
    (int)(sizeof train_options / sizeof train_options[0]),
    "the input is -i FILE",
    "Each epoch prints its training loss and accuracy (means over its batches,\n"
    "with dropout) and, with validation data, val_loss and val_accuracy.  The\n"
    "saved model is the epoch with the lowest val_loss (--restore-best yes), or\n"
    "the last epoch; the log says which epoch was kept and why, and ends with\n"
    "the kept model's own figures, evaluated without dropout.\n"
    "\n"
    "mpirun -np N seqcls train ... trains with N ranks (docs/distributed.md):\n"
    "each reads the training file and takes its share of every batch (--batch\n"
    "is the global batch), rank 0 writes the model, checkpoints and log, and\n"
    "the model is the one process's up to float rounding.\n",
};

/* Progress: a bar redrawn in place on a terminal, one line per epoch
 * otherwise; and the validation record, kept by the same rule as
 * seqcls_fit (a lower val_loss is better; after `patience` epochs
 * without one, training stops), to say which epoch the model is. */
typedef struct {
    int tty, epochs, patience, have_valid;
    double start;
    double loss_sum, acc_sum;
    int seen;
    int last;              /* the last epoch run (from 0) */
    int best;              /* the epoch of the lowest val_loss, -1 if none */
    float best_loss;
    int wait;              /* epochs since the best */
    int stopped;           /* 1: early stopping ended the training */
    /* kept here, not by seqcls_fit, so that a checkpoint holds them too */
    int restore_best;
    void *best_model;      /* rank 0, --restore-best yes: the best epoch's model, saved */
    size_t best_len;
    seqcls_model_t *m;
    seqcls_optimizer_t *opt;
    const char *checkpoint;   /* NULL: none */
    int every;
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

/* "train.*" keys: the settings a resumed training keeps, and where it stopped. */
static void set_meta(seqcls_model_t *m, const char *key, const char *fmt, double v)
{
    char buf[64];
    snprintf(buf, sizeof buf, fmt, v);
    check(seqcls_model_set_meta(m, key, buf), "metadata");
}

static char *best_path(const char *checkpoint)
{
    size_t n = strlen(checkpoint) + 6;
    char *p = xmalloc(n, 1, "a file name");
    snprintf(p, n, "%s.best", checkpoint);
    return p;
}

/* The model of the best epoch so far, saved into memory (stamped with
 * its epoch, which --resume checks). */
static void keep_best(progress_t *p)
{
    void *buf = NULL;
    set_meta(p->m, "train.best_epoch", "%.0f", p->best);
    check(seqcls_model_save_buffer(p->m, &buf, &p->best_len), "keeping the best model");
    free(p->best_model);
    p->best_model = xmalloc(p->best_len, 1, "the best model");
    memcpy(p->best_model, buf, p->best_len);
    seqcls_free(buf);
}

/* Where training stood is a checkpoint's, not the trained model's: the
 * model saved at the end is the same whether or not the run wrote or
 * resumed checkpoints. */
static void forget_progress(seqcls_model_t *m)
{
    static const char *const keys[] = {"train.epoch", "train.best_epoch", "train.best_loss",
                                       "train.wait"};
    size_t i;
    for (i = 0; i < sizeof keys / sizeof keys[0]; i++)
        check(seqcls_model_set_meta(m, keys[i], NULL), "metadata");
}

/* Rank 0 after `done` epochs: the best model so far into <checkpoint>.best
 * (when it is kept), then the checkpoint: the model, the optimiser state
 * and where training stands.  Both are written atomically. */
static void write_checkpoint(progress_t *p, int done)
{
    set_meta(p->m, "train.epoch", "%.0f", done);
    set_meta(p->m, "train.best_epoch", "%.0f", p->best);
    set_meta(p->m, "train.best_loss", "%a", p->best_loss);
    set_meta(p->m, "train.wait", "%.0f", p->wait);
    if (p->best_model) {
        char *path = best_path(p->checkpoint), *tmp = NULL;
        FILE *f = output_open(path, &tmp);
        if (fwrite(p->best_model, 1, p->best_len, f) != p->best_len)
            die("%s: %s", path, strerror(errno));
        output_close(f, path, tmp);
        free(path);
    }
    check(seqcls_checkpoint_save(p->m, p->opt, p->checkpoint), "saving the checkpoint");
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
    p->last = epoch;
    if (p->have_valid) {
        /* (seqcls_fit compares the double before it became this float:
         * the two can differ only for losses equal to 7 digits) */
        if (val_loss < p->best_loss) {   /* false for NaN */
            p->best_loss = val_loss;
            p->best = epoch;
            p->wait = 0;
            if (p->restore_best && dist_rank() == 0)
                keep_best(p);
        } else if (p->patience > 0 && ++p->wait >= p->patience) {
            printf("early stopping: val_loss has not improved for %d epoch%s (--patience %d)\n",
                   p->wait, p->wait == 1 ? "" : "s", p->patience);
            p->stopped = 1;
        }
    }
    if (p->checkpoint && (epoch + 1) % p->every == 0) {
        if (dist_rank() == 0)
            write_checkpoint(p, epoch + 1);
        dist_set_checkpoint(p->checkpoint);
    }
    fflush(stdout);
    return p->stopped;   /* (every rank sees the same val_loss: they agree) */
}

/* Say which epoch the trained model is, and why; returns it (from 0). */
static int report_kept(const progress_t *p, const train_opts_t *o, int have_valid)
{
    const int kept = have_valid && o->restore_best && p->best >= 0 ? p->best : p->last;
    printf("kept epoch %d/%d", kept + 1, o->epochs);
    if (!have_valid)
        printf(", the last: without validation data there is no best epoch to choose\n");
    else if (p->best < 0)
        printf(", the last: no epoch had a finite val_loss\n");
    else if (!o->restore_best)
        printf(", the last (--restore-best no); the lowest val_loss, %.4f, was epoch %d's\n",
               (double)p->best_loss, p->best + 1);
    else if (p->best == p->last)
        printf(", the last, which has the lowest val_loss (%.4f)\n", (double)p->best_loss);
    else if (p->best + 1 == p->last)
        printf(": the lowest val_loss (%.4f); epoch %d did not improve it "
               "(--restore-best yes)\n",
               (double)p->best_loss, p->last + 1);
    else
        printf(": the lowest val_loss (%.4f); epochs %d-%d did not improve it "
               "(--restore-best yes)\n",
               (double)p->best_loss, p->best + 2, p->last + 1);
    return kept;
}

static void parse(train_opts_t *o, int argc, char **argv, unsigned char *given)
{
    memset(o, 0, sizeof *o);
    opts_parse(&cmd_train_spec, o, argc, argv, NULL, 0, given);
    if (!o->input || !o->output)
        die("train: -i TRAIN.txt and -o MODEL.sqcl are required");
    if (o->resume) {
        static const char *const allowed[] = {"--input", "--output", "--valid", "--epochs",
                                              "--threads", "--checkpoint-every",
                                              "--checkpoint", "--resume"};
        int i, k;
        for (i = 0; i < cmd_train_spec.nopts; i++) {
            for (k = 0; k < (int)(sizeof allowed / sizeof allowed[0]); k++)
                if (!strcmp(cmd_train_spec.opts[i].name, allowed[k]))
                    break;
            if (given[i] && k == (int)(sizeof allowed / sizeof allowed[0]))
                die("train: --resume continues with the settings saved in the checkpoint: %s "
                    "cannot be given with it (only -i, -o, --valid, --epochs, --threads, "
                    "--checkpoint-every and --checkpoint)", cmd_train_spec.opts[i].name);
        }
    }
    if (o->valid && given[opts_index(&cmd_train_spec, "--valid-split")])
        die("train: --valid FILE and --valid-split F exclude each other");
    if (given[opts_index(&cmd_train_spec, "--kernel")] && strcmp(o->arch, "cnn"))
        die("train: --kernel is for --arch cnn");
    {
        static const char *const tr[] = {"--layers", "--heads", "--ff-dim"};
        size_t k;
        for (k = 0; k < sizeof tr / sizeof tr[0]; k++)
            if (given[opts_index(&cmd_train_spec, tr[k])] && strcmp(o->arch, "transformer"))
                die("train: %s is for --arch transformer", tr[k]);
    }
    if (!strcmp(o->arch, "transformer") && o->dim % o->heads != 0)
        die("train: --heads %d does not divide --dim %d (each head reads --dim / --heads "
            "features)", o->heads, o->dim);
    if (!o->ff_dim)   /* (--ff-dim's default: 4 x --dim, the paper's 2048 for 512) */
        o->ff_dim = 4 * o->dim;
    if (o->minn > o->maxn)
        die("train: --minn %d is above --maxn %d (n-grams of minn to maxn characters; "
            "--maxn 0 = none)",
            o->minn, o->maxn);
    if (o->maxn > 0 && o->bucket == 0)
        die("train: --maxn %d needs --bucket above 0 (the vectors the n-grams are hashed into)",
            o->maxn);
    if (o->checkpoint && !o->checkpoint_every)
        die("train: --checkpoint FILE needs --checkpoint-every N");
}

/* With n-grams (per > 0) the first layer is an embedding bag of per ids a
 * token, else an embedding; rows: the vocabulary's and its buckets'. */
static seqcls_model_t *build_model(const train_opts_t *o, int rows, int per, int classes)
{
    seqcls_model_t *m = NULL;
    const int out = classes == 2 ? 1 : classes;
    check(seqcls_model_create(&m, (uint64_t)o->seed), "model");
    if (per > 0)
        check(seqcls_add_embedding_bag(m, rows, o->dim, per, NULL), "embedding bag");
    else
        check(seqcls_add_embedding(m, rows, o->dim, 0, NULL), "embedding");
    if (!strcmp(o->arch, "meanpool")) {
        check(seqcls_add_pooling(m, SEQCLS_POOL_MEAN, NULL), "pooling");
    } else if (!strcmp(o->arch, "transformer")) {
        /* "Attention is all you need": the embedding times sqrt(d) plus
         * the sinusoids, then the encoder stack; the classifier reads the
         * mean of the last layer's outputs over the valid steps */
        int pe, l;
        check(seqcls_add_positional_encoding(m, SEQCLS_POS_SINUSOIDAL, o->maxlen, &pe),
              "positional encoding");
        check(seqcls_layer_set_int(m, pe, SEQCLS_OPT_SCALE_INPUT, 1), "positional encoding");
        for (l = 0; l < o->layers; l++)
            check(seqcls_add_transformer_encoder(m, o->heads, o->ff_dim, 0, NULL),
                  "transformer encoder");
        check(seqcls_add_pooling(m, SEQCLS_POOL_MEAN, NULL), "pooling");
    } else if (!strcmp(o->arch, "cnn")) {
        /* Kim (2014): filters over windows of --kernel tokens, the largest
         * response of each over the document, dropout 0.5.  'same' padding
         * gives every non-empty document a feature, however short. */
        int conv;
        check(seqcls_add_conv1d(m, o->hidden, o->kernel, SEQCLS_PAD_SAME, &conv), "conv1d");
        check(seqcls_layer_set_int(m, conv, SEQCLS_OPT_ACTIVATION, SEQCLS_ACT_RELU), "conv1d");
        check(seqcls_add_pooling(m, SEQCLS_POOL_MAX, NULL), "pooling");
        check(seqcls_add_dropout(m, 0.5f, NULL), "dropout");
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
            die("%s:%ld: label '%s', which the training data does not have", path, d->line[i],
                d->label[i]);
    return y;
}

/* splitmix64: the same numbers on every machine for a seed. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Choose `want` documents of d for validation, stratified by label: each
 * label's documents are shuffled (a Fisher-Yates shuffle seeded with
 * `seed`, labels in sorted order, documents in file order), and the
 * first k of them held out, k = floor(count * split), then one more for
 * the labels with the largest remainders until `want` are held out; a
 * label never gives up its last training document.  Sets held[i] and
 * per_label[c] (the label ids y[i] in [0, nlabels)); returns the number
 * held out (below `want` only when the labels have too few documents). */
static int stratified_split(const int32_t *y, int n, int nlabels, int want, double split,
                            uint64_t seed, unsigned char *held, int *per_label)
{
    int *count = xmalloc((size_t)nlabels, sizeof *count, "the validation split");
    int *start = xmalloc((size_t)nlabels + 1, sizeof *start, "the validation split");
    int *order = xmalloc((size_t)n, sizeof *order, "the validation split");
    int *fill = xmalloc((size_t)nlabels, sizeof *fill, "the validation split");
    uint64_t state = seed;
    int c, i, total = 0;

    memset(count, 0, (size_t)nlabels * sizeof *count);
    for (i = 0; i < n; i++)
        count[y[i]]++;
    for (start[0] = 0, c = 0; c < nlabels; c++)
        start[c + 1] = start[c] + count[c];
    memcpy(fill, start, (size_t)nlabels * sizeof *fill);
    for (i = 0; i < n; i++)
        order[fill[y[i]]++] = i;
    for (c = 0; c < nlabels; c++) {
        int *o = order + start[c];
        for (i = count[c] - 1; i > 0; i--) {
            int j = (int)(next_random(&state) % (uint64_t)(i + 1)), t = o[i];
            o[i] = o[j];
            o[j] = t;
        }
        per_label[c] = (int)floor(count[c] * split);
        if (per_label[c] > count[c] - 1)
            per_label[c] = count[c] > 0 ? count[c] - 1 : 0;
        total += per_label[c];
    }
    while (total < want) {
        /* one more from the label with the largest remainder that can spare one */
        int best = -1;
        double best_rest = -1;
        for (c = 0; c < nlabels; c++) {
            double rest = count[c] * split - per_label[c];
            if (per_label[c] < count[c] - 1 && rest > best_rest)
                best = c, best_rest = rest;
        }
        if (best < 0)
            break;
        per_label[best]++;
        total++;
    }
    memset(held, 0, (size_t)n);
    for (c = 0; c < nlabels; c++)
        for (i = 0; i < per_label[c]; i++)
            held[order[start[c] + i]] = 1;
    free(count);
    free(start);
    free(order);
    free(fill);
    return total;
}

/* Hold out validation documents of `train` (--valid-split) into `valid`:
 * about the fraction `split` of every label, as stratified_split chooses.
 * A file too small for the split is trained without validation (the
 * default split) or with one document held out (a split given on the
 * command line), with a note; labels are the model's (m). */
static void split_validation(const train_opts_t *o, int split_given, const seqcls_model_t *m,
                             docs_t *train, docs_t *valid)
{
    const int n = train->n, nlabels = seqcls_model_label_count(m);
    int want = (int)floor((double)n * o->valid_split), got, c;
    int32_t *y = label_ids(m, train, o->input);
    unsigned char *held = xmalloc((size_t)n, 1, "the validation split");
    int *per_label = xmalloc((size_t)nlabels, sizeof *per_label, "the validation split");

    memset(valid, 0, sizeof *valid);
    if (want < 1) {
        if (!split_given || n < 2) {
            printf("note: %d documents are too few to hold out %g%% for validation: "
                   "training without validation\n",
                   n, 100 * o->valid_split);
            want = 0;
        } else {
            printf("note: --valid-split %g of %d documents holds out none: holding out one "
                   "document for validation\n",
                   o->valid_split, n);
            want = 1;
        }
    }
    got = want > 0 ? stratified_split(y, n, nlabels, want, o->valid_split, (uint64_t)o->seed,
                                      held, per_label)
                   : 0;
    if (want > 0 && got == 0)
        printf("note: no label has a document to spare for validation: training without "
               "validation\n");
    if (got > 0) {
        docs_move(train, valid, held);
        printf("validation: %d of %d documents held out, stratified by label (--valid-split %g,"
               " shuffled with --seed %d):",
               got, n, o->valid_split, o->seed);
        for (c = 0; c < nlabels && c < 10; c++)
            printf("%s %d %s", c ? "," : "", per_label[c], seqcls_model_label(m, c));
        printf("%s\n", nlabels > 10 ? ", ..." : "");
    }
    free(y);
    free(held);
    free(per_label);
}

/* Labels go out as "__label__NAME PROBABILITY" (predict, explain): a
 * space in NAME would make that ambiguous, a control character would
 * reach the terminal.  Refuse both, naming the first line and a way out. */
static void check_label_names(const docs_t *d, const char *path)
{
    int i;
    for (i = 0; i < d->n; i++) {
        const char *l = d->label[i], *p;
        for (p = l; *p; p++)
            if (*p == ' ' || (unsigned char)*p < 0x20 || *p == 0x7f)
                break;
        if (*p) {
            char fixed[64];
            size_t k;
            for (k = 0; l[k] && k + 1 < sizeof fixed; k++)
                fixed[k] = l[k] == ' ' || (unsigned char)l[k] < 0x20 || l[k] == 0x7f ? '_' : l[k];
            fixed[k] = '\0';
            die("%s:%ld: label '%s' contains %s: predict writes \"__label__NAME PROBABILITY\", "
                "where a label cannot hold one; name it %s%s",
                path, d->line[i], l, *p == ' ' ? "a space" : "white space or a control character",
                fixed, l[k] ? "..." : "");
        }
    }
}

/* A number among the metadata of checkpoint `path`, or die. */
static double meta_number(const seqcls_model_t *m, const char *key, const char *path)
{
    const char *v = seqcls_model_get_meta(m, key);
    char *end = NULL;
    double x = v ? strtod(v, &end) : 0;
    if (!v || end == v || *end != '\0')
        die("%s: not a checkpoint of seqcls train (its metadata has no valid '%s')", path, key);
    return x;
}

/* --resume: the model, optimiser and settings of a checkpoint, where
 * training stands, and (rank 0) the best model so far from FILE.best.
 * Returns the epochs already done. */
static int resume(train_opts_t *o, int epochs_given, int *split_given, seqcls_model_t **m,
                  seqcls_optimizer_t **opt, progress_t *p)
{
    const char *path = o->resume, *valid;
    int done;
    check(seqcls_checkpoint_load(m, opt, path), "--resume");
    o->batch = (int)meta_number(*m, "train.batch", path);
    o->seed = (int)meta_number(*m, "train.seed", path);
    o->maxlen = (int)meta_number(*m, "maxlen", path);
    {
        const char *t = seqcls_model_get_meta(*m, "truncate");
        o->truncate = t && !strcmp(t, "pre") ? "pre" : "post";
    }
    o->valid_split = meta_number(*m, "train.valid_split", path);
    *split_given = (int)meta_number(*m, "train.split_given", path);
    o->patience = (int)meta_number(*m, "train.patience", path);
    o->restore_best = (int)meta_number(*m, "train.restore_best", path);
    done = (int)meta_number(*m, "train.epoch", path);
    p->best = (int)meta_number(*m, "train.best_epoch", path);
    p->best_loss = (float)meta_number(*m, "train.best_loss", path);
    p->wait = (int)meta_number(*m, "train.wait", path);
    if (!epochs_given)
        o->epochs = (int)meta_number(*m, "train.epochs", path);
    if (o->batch < 1 || o->maxlen < 1 || done < 1 || o->seed < 0 || o->patience < 0 ||
        !(o->valid_split >= 0 && o->valid_split < 1) || p->best >= done || p->wait < 0)
        die("%s: its training settings are out of range", path);
    if (o->epochs <= done)
        die("--resume: %s has done %d epochs already; --epochs must be more", path, done);
    if (o->patience > 0 && p->wait >= o->patience)
        die("--resume: %s stopped early (--patience %d): there is nothing to continue", path,
            o->patience);
    valid = seqcls_model_get_meta(*m, "train.valid");
    if (valid && !strcmp(valid, "file") && !o->valid)
        die("--resume: %s was trained with --valid FILE: give the same file again", path);
    if (o->valid && (!valid || strcmp(valid, "file")))
        die("--resume: %s was trained without --valid FILE", path);
    if (!seqcls_model_vocab(*m) || seqcls_model_label_count(*m) < 2)
        die("%s: a checkpoint of seqcls train has a vocabulary and labels", path);
    if (o->restore_best && p->best >= 0 && dist_rank() == 0) {
        /* the model of the best epoch so far, which training may end with */
        char *bp = best_path(path);
        seqcls_model_t *best = NULL;
        FILE *f = fopen(bp, "rb");
        long n = -1;
        const char *stamp;
        if (!f || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET) != 0)
            die("--resume: %s: %s (the best model so far, written with the checkpoint)", bp,
                f && n == 0 ? "empty" : strerror(errno));
        p->best_model = xmalloc((size_t)n, 1, "the best model");
        p->best_len = (size_t)n;
        if (fread(p->best_model, 1, p->best_len, f) != p->best_len)
            die("--resume: %s: cannot read it", bp);
        fclose(f);
        check(seqcls_model_load_buffer(&best, p->best_model, p->best_len), bp);
        stamp = seqcls_model_get_meta(best, "train.best_epoch");
        if (!stamp || atoi(stamp) != p->best)
            die("--resume: %s is not the best model of %s (epoch %s, not %d)", bp, path,
                stamp ? stamp : "unknown", p->best);
        seqcls_model_free(best);
        free(bp);
    }
    return done;
}

int cmd_train(int argc, char **argv)
{
    train_opts_t o;
    docs_t train, valid;
    seqcls_vocab_t *vocab = NULL;
    const seqcls_vocab_t *mv;
    seqcls_model_t *m, *final = NULL;
    seqcls_optimizer_t *adam = NULL;
    seqcls_fit_config_t *cfg = NULL;
    seqcls_tensor_t *x = NULL, *y = NULL, *vx = NULL, *vy = NULL;
    seqcls_metrics_t *mt = NULL;
    progress_t progress = {0};
    encoded_t etrain, evalid;
    int32_t *labels, *vlabels = NULL;
    char **names = NULL, *ckpt = NULL;
    int nlabels, i, done = 0, per = 0, pre;
    double t0 = now();
    unsigned char given[sizeof train_options / sizeof train_options[0]];
    int split_given, kept;

    parse(&o, argc, argv, given);
    split_given = given[opts_index(&cmd_train_spec, "--valid-split")];
    dist_start();
    if (o.checkpoint_every) {
        const char *c = o.checkpoint;
        if (!c) {
            size_t n = strlen(o.output) + 6;
            snprintf(ckpt = xmalloc(n, 1, "a file name"), n, "%s.ckpt", o.output);
            c = ckpt;
        }
        progress.checkpoint = c;
        progress.every = o.checkpoint_every;
    }
    if (dist_rank() == 0) {
        /* before the training, not after it */
        const char *inputs[3];
        inputs[0] = o.input;
        inputs[1] = o.valid;
        inputs[2] = o.resume;
        check_output("-o", o.output, inputs, 3, 0);
        if (progress.checkpoint) {
            inputs[2] = o.output;
            check_output("--checkpoint", progress.checkpoint, inputs, 3, 0);
        }
    }
    check(seqcls_set_num_threads(dist_threads(o.threads)), "--threads");
    docs_read(&train, o.input, 1);
    check_label_names(&train, o.input);
    progress.best = -1;
    progress.best_loss = INFINITY;
    if (o.resume) {
        done = resume(&o, given[opts_index(&cmd_train_spec, "--epochs")], &split_given, &m, &adam,
                      &progress);
        mv = seqcls_model_vocab(m);
        nlabels = seqcls_model_label_count(m);
        set_meta(m, "train.epochs", "%.0f", o.epochs);   /* (a new --epochs is the run's now) */
        printf("%d documents, resuming %s after epoch %d of %d\n", train.n, o.resume, done,
               o.epochs);
    } else {
        names = labels_collect(&train, &nlabels);
        if (nlabels < 2)
            die("%s: only one label ('%s'): a classifier needs at least two", o.input, names[0]);
        /* the vocabulary, read as --tokens says; options are set only when
         * not at their default, so that a model that uses none loads in
         * seqcls 1.0 */
        check(seqcls_vocab_create(&vocab), "vocabulary");
        if (!strcmp(o.tokens, "char"))
            check(seqcls_vocab_set_int(vocab, SEQCLS_VOCAB_TOKENS, SEQCLS_TOKENS_CHAR), "--tokens");
        if (o.oov_buckets > 0)
            check(seqcls_vocab_set_int(vocab, SEQCLS_VOCAB_OOV_BUCKETS, o.oov_buckets),
                  "--oov-buckets");
        if (o.maxn > 0) {
            check(seqcls_vocab_set_int(vocab, SEQCLS_VOCAB_MAXN, o.maxn), "--maxn");
            check(seqcls_vocab_set_int(vocab, SEQCLS_VOCAB_MINN, o.minn), "--minn");
            check(seqcls_vocab_set_int(vocab, SEQCLS_VOCAB_BUCKET, o.bucket), "--bucket");
        }
        for (i = 0; i < train.n; i++)
            check(seqcls_vocab_add_text(vocab, train.text[i], strlen(train.text[i])), "vocabulary");
        check(seqcls_vocab_build(vocab, o.min_count, o.vocab_max), "vocabulary");
        mv = vocab;
        if (o.maxn > 0)
            per = subword_slots(vocab);
        m = build_model(&o, seqcls_vocab_rows(vocab), per, nlabels);
        check(seqcls_model_set_vocab(m, vocab), "vocabulary");
        check(seqcls_model_set_labels(m, nlabels, (const char *const *)names), "labels");
        /* what test, predict and explain need to read text as training did
         * (the vocabulary carries its options too) */
        set_meta(m, "maxlen", "%.0f", o.maxlen);
        check(seqcls_model_set_meta(m, "tokens", o.tokens), "metadata");
        if (!strcmp(o.truncate, "pre"))   /* absent: "post", as models of seqcls 1.0 */
            check(seqcls_model_set_meta(m, "truncate", "pre"), "metadata");
        /* what --resume takes from a checkpoint */
        set_meta(m, "train.batch", "%.0f", o.batch);
        set_meta(m, "train.seed", "%.0f", o.seed);
        set_meta(m, "train.epochs", "%.0f", o.epochs);
        set_meta(m, "train.valid_split", "%a", o.valid_split);
        set_meta(m, "train.split_given", "%.0f", split_given);
        set_meta(m, "train.patience", "%.0f", o.patience);
        set_meta(m, "train.restore_best", "%.0f", o.restore_best);
        check(seqcls_model_set_meta(m, "train.valid", o.valid ? "file" : "split"), "metadata");
        printf("%d documents, %d labels, vocabulary of %d %s tokens, architecture %s\n", train.n,
               nlabels, seqcls_vocab_size(vocab), o.tokens, o.arch);
        check(seqcls_optimizer_create(&adam, SEQCLS_OPTIM_ADAM, (float)o.lr), "optimizer");
        check(seqcls_optimizer_set_float(adam, SEQCLS_OPTIM_CLIPNORM, 5.0f), "optimizer");
    }
    if (!o.resume && (o.oov_buckets > 0 || per > 0)) {
        printf("unknown tokens: %s", o.oov_buckets > 0 ? "hashed into" : "<unk>");
        if (o.oov_buckets > 0)
            printf(" %d vectors (--oov-buckets)", o.oov_buckets);
        if (per > 0)
            printf("; every token also has its character %d- to %d-grams, hashed into %d "
                   "vectors (up to %d ids a token)",
                   o.minn ? o.minn : 1, o.maxn, o.bucket, per);
        printf("\n");
    }
    if (dist_size() > 1)
        printf("training with %d ranks of %d thread%s each (rank 0 writes)\n", dist_size(),
               seqcls_get_num_threads(), seqcls_get_num_threads() > 1 ? "s" : "");

    if (o.valid)
        docs_read(&valid, o.valid, 1);
    else if (o.valid_split > 0)
        split_validation(&o, split_given, m, &train, &valid);
    else
        memset(&valid, 0, sizeof valid);
    /* (after --resume, which takes --truncate and the vocabulary from the checkpoint) */
    pre = !strcmp(o.truncate, "pre");
    if (o.resume) {
        int maxn = 0;
        check(seqcls_vocab_get_int(mv, SEQCLS_VOCAB_MAXN, &maxn), "--resume");
        if (maxn > 0)
            per = subword_slots(mv);
    }
    encode_docs(mv, per, &train, o.maxlen, pre, 0, &etrain);
    labels = label_ids(m, &train, o.input);
    memset(&evalid, 0, sizeof evalid);
    if (valid.n > 0) {
        encode_docs(mv, per, &valid, o.maxlen, pre, 0, &evalid);
        vlabels = label_ids(m, &valid, o.valid ? o.valid : o.input);
        /* seqcls_fit takes validation rows as long as the training rows:
         * the shorter ones again, as wide as the others */
        if (evalid.T < etrain.T) {
            encoded_free(&evalid);
            encode_docs(mv, per, &valid, o.maxlen, pre, etrain.T, &evalid);
        } else if (etrain.T < evalid.T) {
            encoded_free(&etrain);
            encode_docs(mv, per, &train, o.maxlen, pre, evalid.T, &etrain);
        }
    }
    printf("vocabulary coverage: %.1f%% of the %ld training tokens",
           100 * encoded_coverage(&etrain), etrain.tokens);
    if (valid.n > 0)
        printf(", %.1f%% of the %ld validation tokens%s", 100 * encoded_coverage(&evalid),
               evalid.tokens, o.valid ? "" : " (held out after the vocabulary was made)");
    printf(" are in the vocabulary\n");
    x = encoded_tensor(&etrain, 0, etrain.n);
    {
        int64_t sy[1] = {train.n};
        check(seqcls_tensor_wrap(&y, SEQCLS_I32, 1, sy, labels), "labels");
    }
    if (valid.n > 0) {
        int64_t sy[1] = {valid.n};
        vx = encoded_tensor(&evalid, 0, evalid.n);
        check(seqcls_tensor_wrap(&vy, SEQCLS_I32, 1, sy, vlabels), "validation labels");
    }

    check(seqcls_fit_config_create(&cfg), "fit");
    check(seqcls_fit_config_set_int(cfg, SEQCLS_FIT_EPOCHS, o.epochs), "--epochs");
    check(seqcls_fit_config_set_int(cfg, SEQCLS_FIT_INITIAL_EPOCH, done), "--resume");
    check(seqcls_fit_config_set_int(cfg, SEQCLS_FIT_BATCH_SIZE, o.batch), "--batch");
    check(seqcls_fit_config_set_int(cfg, SEQCLS_FIT_SEED, o.seed), "--seed");
    /* the best epoch and early stopping are kept here (progress), by
     * seqcls_fit's rule, so that a checkpoint holds them too */
    check(seqcls_fit_config_set_int(cfg, SEQCLS_FIT_PATIENCE, 0), "--patience");
    check(seqcls_fit_config_set_int(cfg, SEQCLS_FIT_RESTORE_BEST, 0), "--restore-best");
    check(seqcls_fit_config_set_comm(cfg, dist_comm()), "fit");
    if (valid.n == 0 && o.patience > 0)
        printf("note: --patience %d needs validation data, and there is none: every epoch runs\n",
               o.patience);
    /* (under mpirun stdout is a terminal of the launcher's even when its
     * own output goes to a file: one line per epoch there) */
    progress.tty = isatty(fileno(stdout)) && dist_size() == 1;
    progress.epochs = o.epochs;
    progress.patience = o.patience;
    progress.restore_best = o.restore_best;
    progress.have_valid = valid.n > 0;
    progress.last = done - 1;
    progress.m = m;
    progress.opt = adam;
    check(seqcls_fit_config_set_callbacks(cfg, on_batch, on_epoch, NULL, &progress), "fit");
    check(seqcls_fit(m, adam, x, etrain.lens, y, vx, evalid.lens, vy, cfg), "training");

    if (dist_rank() == 0) {
        kept = report_kept(&progress, &o, valid.n > 0);
        /* the weights of the kept epoch: the last ones, or those kept in memory */
        if (kept != progress.last && progress.best_model)
            check(seqcls_model_load_buffer(&final, progress.best_model, progress.best_len),
                  "the best model");
        forget_progress(final ? final : m);
        check(seqcls_model_save(final ? final : m, o.output), "saving the model");
        printf("saved %s (%.1fs)\n", o.output, now() - t0);
        /* the last line: the figures of the model as saved (the epoch lines'
         * loss and accuracy are means over batches, with dropout) */
        check(seqcls_evaluate(final ? final : m, x, etrain.lens, y, o.batch, &mt), "evaluation");
        printf("kept model (epoch %d), without dropout: loss: %.4f - accuracy: %.4f", kept + 1,
               seqcls_metrics_get(mt, SEQCLS_METRIC_LOSS, 0),
               seqcls_metrics_get(mt, SEQCLS_METRIC_ACCURACY, 0));
        if (valid.n > 0) {
            seqcls_metrics_free(mt);
            mt = NULL;
            check(seqcls_evaluate(final ? final : m, vx, evalid.lens, vy, o.batch, &mt), "evaluation");
            printf(" - val_loss: %.4f - val_accuracy: %.4f",
                   seqcls_metrics_get(mt, SEQCLS_METRIC_LOSS, 0),
                   seqcls_metrics_get(mt, SEQCLS_METRIC_ACCURACY, 0));
        }
        printf("\n");
    }
    dist_finish();

    seqcls_metrics_free(mt);
    seqcls_fit_config_free(cfg);
    seqcls_optimizer_free(adam);
    seqcls_tensor_free(x);
    seqcls_tensor_free(y);
    seqcls_tensor_free(vx);
    seqcls_tensor_free(vy);
    seqcls_vocab_free(vocab);
    seqcls_model_free(m);
    seqcls_model_free(final);
    free(progress.best_model);
    free(ckpt);
    encoded_free(&etrain);
    encoded_free(&evalid);
    free(labels);
    free(vlabels);
    free(names);
    docs_free(&valid);
    docs_free(&train);
    return 0;
}
