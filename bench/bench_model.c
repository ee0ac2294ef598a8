/*
 * bench_model.c -- the models of issue 9 in seqcls, T = 500:
 *
 *   imdb   the headline model, the Keras IMDB tutorial's Embedding(10000,
 *          128, pad 0) -> BiLSTM(64, seq) -> BiLSTM(64, seq + final
 *          states) -> Bahdanau attention(64) -> Dense(20, relu) ->
 *          Dropout(0.5) -> Dense(1); batch 256.  Output keys seqcls_model_*.
 *   bigru  the PyTorch tutorial's BiGRU: Embedding(25000, 200, pad 0) ->
 *          BiGRU(128, final states concatenated) -> Dense(1); batch 32.
 *          Output keys seqcls_bigru_*.
 *
 *   transformer  issue 16's transformer classifier, T = 256:
 *          Embedding(10000, 128, pad 0) -> 2 x TransformerEncoderLayer(128,
 *          4 heads, ff 512, relu, dropout 0.1, post-norm) with the padding
 *          keys masked -> mean over the valid steps -> Dense(1); batch 64.
 *          Output keys seqcls_transformer_*.
 *
 *   usage: bench_model imdb|bigru|transformer train|infer|infer-int8|infer-bf16 full|imdb
 *          threads repeats
 *
 * infer-int8, infer-bf16: seqcls_predict after seqcls_model_quantize
 * (issue 19); keys seqcls_*_infer_int8_* and _infer_bf16_*.
 *
 * train: one training step (zero_grad, forward, BCE-from-logits backward,
 * Adam step); infer: seqcls_predict.  Prints the median time of `repeats`
 * runs after one warm-up, sequences per second, achieved GFLOP/s (GEMM
 * flops of the recurrent, attention and encoder layers over the real
 * tokens; a transformer row's attention products over its valid keys) and
 * the process's peak RSS.  One configuration per process, so the peak RSS
 * is that configuration's.  The single-thread sgemm rate of the same BLAS
 * is measured in the same process right after (the ceiling, taken at the
 * same moment of the machine's load), and the achieved rate as a fraction
 * of it per thread used.  bench/model_torch.py is the PyTorch peer with
 * the same synthetic data (bench/lengths.h / model_torch.py share the
 * length generator).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <cblas.h>
#include <seqcls.h>

#include "lengths.h"

enum { T = 500 };   /* the recurrent models' steps; the transformer's: TR_T */

/* the headline model */
enum { B = 256, VOCAB = 10000, EMB = 128, HID = 64, UNITS = 64, DENSE = 20 };

/* The tutorial BiGRU.  The issue fixes the embedding width (200), the
 * hidden size (128) and the batch (32) but not the vocabulary, which
 * depends on how the tutorial's text was cut; 25000 rows is our choice (a
 * common cap on an IMDB vocabulary).  It sets the size of the embedding's
 * weights, gradient and Adam state, and so the memory and the per-step
 * work over all of them (zero_grad, Adam) on both sides, not the
 * per-token work. */
enum { GRU_B = 32, GRU_VOCAB = 25000, GRU_EMB = 200, GRU_HID = 128 };

/* Issue 16's transformer: d = 128, 4 heads, ff 512, 2 layers, T = 256,
 * batch 64; the vocabulary is the headline model's. */
enum { TR_B = 64, TR_T = 256, TR_VOCAB = 10000, TR_D = 128, TR_HEADS = 4, TR_FF = 512,
       TR_LAYERS = 2 };

/* the lengths array is sized for the larger batch */
_Static_assert((int)GRU_B <= (int)B && (int)TR_B <= (int)B, "len[] holds B rows");
_Static_assert((int)TR_T <= (int)T, "ids are sized for T steps");

#define CHECK(call)                                                                    \
    do {                                                                               \
        int rc_ = (call);                                                              \
        if (rc_ != SEQCLS_OK) {                                                        \
            fprintf(stderr, "%s failed: %s\n", #call, seqcls_last_error());            \
            exit(1);                                                                   \
        }                                                                              \
    } while (0)

static double now_ms(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Best single-thread sgemm GFLOP/s of a few 1024^3 products (seqcls has
 * put the BLAS at one thread). */
static double sgemm_rate(void)
{
    enum { N = 1024 };
    float *a = calloc((size_t)N * N, sizeof *a), *b = calloc((size_t)N * N, sizeof *b);
    float *c = calloc((size_t)N * N, sizeof *c);
    double best = 0;
    int r;
    for (r = 0; r < 5; r++) {
        double t0 = now_ms(), g;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, N, N, 1, a, N, b, N, 0, c, N);
        g = 2.0 * N * N * N / ((now_ms() - t0) * 1e6);
        if (g > best)
            best = g;
    }
    free(a);
    free(b);
    free(c);
    return best;
}

static double peak_rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;
}

/* Forward GEMM flops per real token: two BiLSTMs and the attention's W1 h. */
static double imdb_flops_per_token(void)
{
    const double l1 = 2.0 * 2 * 4 * HID * (EMB + HID), l2 = 2.0 * 2 * 4 * HID * (2 * HID + HID);
    const double att = 2.0 * UNITS * 2 * HID + 2.0 * UNITS;
    return l1 + l2 + att;
}

static void imdb_build(seqcls_model_t *m)
{
    CHECK(seqcls_add_embedding(m, VOCAB, EMB, 0, NULL));
    CHECK(seqcls_add_lstm(m, HID, SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES, NULL));
    CHECK(seqcls_add_lstm(m, HID, SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES, NULL));
    CHECK(seqcls_add_attention(m, SEQCLS_ATTN_BAHDANAU, UNITS, NULL));
    CHECK(seqcls_add_dense(m, DENSE, SEQCLS_ACT_RELU, NULL));
    CHECK(seqcls_add_dropout(m, 0.5f, NULL));
    CHECK(seqcls_add_output(m, 1, NULL));
}

/* Forward GEMM flops per real token: the BiGRU's input and recurrent
 * products (3 gates, both directions); the final Dense is per sequence and
 * left out, as the headline model leaves out its dense layers. */
static double bigru_flops_per_token(void)
{
    return 2.0 * 2 * 3 * GRU_HID * (GRU_EMB + GRU_HID);
}

/* No SEQCLS_RETURN_SEQUENCES: the output is the final states, forward's
 * last and backward's first concatenated, which is the tutorial's
 * torch.cat((h[-2], h[-1]), 1). */
static void bigru_build(seqcls_model_t *m)
{
    CHECK(seqcls_add_embedding(m, GRU_VOCAB, GRU_EMB, 0, NULL));
    CHECK(seqcls_add_gru(m, GRU_HID, SEQCLS_BIDIRECTIONAL, NULL));
    CHECK(seqcls_add_output(m, 1, NULL));
}

/* Forward flops of a row of L tokens: per layer the fused QKV product
 * (2 L d 3d), the output projection (2 L d d), the feed-forward (2 x 2 L d
 * ff), and the scores and weighted sums over the row's valid keys (2 x 2
 * L L d: the useful work, whatever a padded implementation does). */
static double transformer_flops(double L)
{
    const double d = TR_D, ff = TR_FF;
    return TR_LAYERS * (2 * L * d * (3 * d + d + 2 * ff) + 4 * L * L * d);
}

static double imdb_flops(double L)
{
    return imdb_flops_per_token() * L;
}

static double bigru_flops(double L)
{
    return bigru_flops_per_token() * L;
}

static void transformer_build(seqcls_model_t *m)
{
    int l;
    CHECK(seqcls_add_embedding(m, TR_VOCAB, TR_D, 0, NULL));
    for (l = 0; l < TR_LAYERS; l++)
        CHECK(seqcls_add_transformer_encoder(m, TR_HEADS, TR_FF, 0, NULL));
    CHECK(seqcls_add_pooling(m, SEQCLS_POOL_MEAN, NULL));
    CHECK(seqcls_add_output(m, 1, NULL));
}

static const struct bench_spec {
    const char *model; /* the first argument */
    const char *key;   /* in the output keys: seqcls_<key>_train_full_1t_ms */
    int batch, vocab, steps;
    void (*build)(seqcls_model_t *m);
    double (*flops_of_row)(double L);   /* forward flops of a row of L tokens */
} specs[] = {
    {"imdb", "model", B, VOCAB, T, imdb_build, imdb_flops},
    {"bigru", "bigru", GRU_B, GRU_VOCAB, T, bigru_build, bigru_flops},
    {"transformer", "transformer", TR_B, TR_VOCAB, TR_T, transformer_build, transformer_flops},
};

int main(int argc, char **argv)
{
    int train, imdb, threads, reps, r, b, nb, steps, precision = SEQCLS_FP32;
    const struct bench_spec *spec = NULL;
    int64_t xs[2] = {0, T}, ls[2] = {0, 1}, ys[1] = {0};
    seqcls_model_t *m = NULL;
    seqcls_optimizer_t *opt = NULL;
    seqcls_tensor_t *x = NULL, *logits = NULL, *y = NULL;
    int32_t len[B], *ids, *lab;
    uint64_t s = 12345;
    double *times, med, tokens = 0, flops = 0, rss0, gflops;
    const char *name, *lens;
    char key[64];
    size_t i;

    for (i = 0; argc == 6 && i < sizeof specs / sizeof specs[0]; i++)
        if (strcmp(argv[1], specs[i].model) == 0)
            spec = &specs[i];
    if (argc == 6 && strcmp(argv[2], "infer-int8") == 0)
        precision = SEQCLS_INT8;
    if (argc == 6 && strcmp(argv[2], "infer-bf16") == 0)
        precision = SEQCLS_BF16;
    if (spec == NULL ||
        (strcmp(argv[2], "train") != 0 && strcmp(argv[2], "infer") != 0 &&
         precision == SEQCLS_FP32) ||
        (strcmp(argv[3], "full") != 0 && strcmp(argv[3], "imdb") != 0)) {
        fprintf(stderr, "usage: bench_model imdb|bigru|transformer "
                        "train|infer|infer-int8|infer-bf16 full|imdb threads repeats\n");
        return 2;
    }
    train = strcmp(argv[2], "train") == 0;
    lens = argv[3];
    imdb = strcmp(lens, "imdb") == 0;
    threads = atoi(argv[4]);
    reps = atoi(argv[5]);
    if (reps < 1)
        reps = 1;
    nb = spec->batch;
    steps = spec->steps;
    xs[0] = ls[0] = ys[0] = nb;
    xs[1] = steps;
    rss0 = peak_rss_mb();
    CHECK(seqcls_set_num_threads(threads));
    CHECK(seqcls_model_create(&m, 1));
    spec->build(m);
    if (precision != SEQCLS_FP32)
        CHECK(seqcls_model_quantize(m, precision));
    CHECK(seqcls_optimizer_create(&opt, SEQCLS_OPTIM_ADAM, 1e-3f));
    CHECK(seqcls_tensor_create(&x, SEQCLS_I32, 2, xs));
    CHECK(seqcls_tensor_create(&logits, SEQCLS_F32, 2, ls));
    CHECK(seqcls_tensor_create(&y, SEQCLS_I32, 1, ys));
    /* the same generator and seed for both models: the BiGRU's 32 rows are
     * the first 32 of the headline model's 256 */
    bench_lengths(len, nb, steps, imdb ? 238.0 : 0.0, 7);
    ids = seqcls_tensor_data(x);
    lab = seqcls_tensor_data(y);
    for (b = 0; b < nb; b++) {
        int t;
        tokens += len[b];
        flops += spec->flops_of_row(len[b]);
        for (t = 0; t < steps; t++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            ids[b * steps + t] = t < len[b] ? 1 + (int32_t)((s >> 33) % (spec->vocab - 1)) : 0;
        }
        lab[b] = b & 1;
    }
    times = malloc((size_t)reps * sizeof *times);
    for (r = -1; r < reps; r++) {
        double t0 = now_ms();
        if (train) {
            CHECK(seqcls_zero_grad(m));
            CHECK(seqcls_forward(m, x, len, NULL, 1));
            CHECK(seqcls_loss_backward(m, y, NULL));
            CHECK(seqcls_optimizer_step(opt, m));
        } else {
            CHECK(seqcls_predict(m, x, len, logits, NULL));
        }
        if (r >= 0)
            times[r] = now_ms() - t0;
    }
    qsort(times, (size_t)reps, sizeof *times, cmp_double);
    med = times[reps / 2];
    name = train ? "train" : precision == SEQCLS_INT8 ? "infer_int8" : precision == SEQCLS_BF16 ? "infer_bf16" : "infer";
    gflops = flops * (train ? 3 : 1) / (med * 1e6);
    snprintf(key, sizeof key, "seqcls_%s_%s_%s_%dt", spec->key, name, lens, threads);
    printf("%s_ms: %.1f\n", key, med);
    printf("%s_seq_per_s: %.1f\n", key, nb / med * 1e3);
    printf("%s_gflops: %.2f\n", key, gflops);
    printf("%s_tokens: %.0f\n", key, tokens);
    printf("%s_peak_rss_mb: %.1f\n", key, peak_rss_mb());
    printf("%s_base_rss_mb: %.1f\n", key, rss0);
    /* after the RSS figures: its matrices are not the model's */
    {
        const double ceiling = sgemm_rate();
        printf("%s_sgemm_1t_gflops: %.1f\n", key, ceiling);
        printf("%s_fraction_of_sgemm_per_thread: %.3f\n", key, gflops / ceiling / threads);
    }
    free(times);
    seqcls_tensor_free(x);
    seqcls_tensor_free(logits);
    seqcls_tensor_free(y);
    seqcls_optimizer_free(opt);
    seqcls_model_free(m);
    return 0;
}
