/*
 * bench_dist.c -- data-parallel training of the headline model (make
 * bench-dist, bench/run_dist.py): Embedding(10000, 128, pad 0) ->
 * BiLSTM(64, seq) -> BiLSTM(64, seq + final states) -> Bahdanau
 * attention(64) -> Dense(20, relu) -> Dropout(0.5) -> Dense(1), the model
 * of bench/bench_model.c, trained by seqcls_fit with a global batch of
 * B = 256 rows of T = 500 steps, Adam.
 *
 *   bench_dist STEPS THREADS full|imdb [--no-mpi]
 *
 * Without --no-mpi it runs as a rank of mpirun (libseqcls-mpi over
 * MPI_COMM_WORLD) and every rank takes its 256 / N rows of each batch.
 * One epoch of STEPS + 1 batches; the first is the warm-up.  A step's time
 * is the time between two batch callbacks (forward, backward, gradient
 * all-reduce, Adam step); rank 0 prints the median, the throughput, and
 * the communication per step: time in the gradient buckets' all-reduce
 * (copies included), the part of it the training waited for after its
 * backward pass, and the fraction hidden behind the backward pass.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <seqcls_mpi.h>

#include "lengths.h"

enum { B = 256, T = 500, VOCAB = 10000, EMB = 128, HID = 64, UNITS = 64, DENSE = 20 };

#define CHECK(call)                                                                       \
    do {                                                                                  \
        int rc_ = (call);                                                                 \
        if (rc_ != SEQCLS_OK) {                                                           \
            fprintf(stderr, "%s failed: %s %s\n", #call, seqcls_last_error(),             \
                    seqcls_mpi_last_error());                                             \
            exit(1);                                                                      \
        }                                                                                 \
    } while (0)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double stamps[1024];
static int nstamps;

static int on_batch(void *user, int epoch, int batch, int batches, float loss, float acc)
{
    (void)user;
    (void)epoch;
    (void)batch;
    (void)batches;
    (void)loss;
    (void)acc;
    if (nstamps < 1024)
        stamps[nstamps++] = now();
    return 0;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    seqcls_comm_t *comm = NULL;
    seqcls_model_t *m = NULL;
    seqcls_optimizer_t *o = NULL;
    seqcls_fit_config_t *c = NULL;
    seqcls_tensor_t *x = NULL, *y = NULL;
    int steps, threads, mpi, imdb, n, b, t, rank = 0, size = 1;
    int64_t sx[2], sy[1];
    int32_t *ids, *lab, *len;
    uint64_t s = 12345;
    double d[1024], med;

    if (argc < 4 || (strcmp(argv[3], "full") && strcmp(argv[3], "imdb"))) {
        fprintf(stderr, "usage: bench_dist STEPS THREADS full|imdb [--no-mpi]\n");
        return 2;
    }
    steps = atoi(argv[1]);
    threads = atoi(argv[2]);
    imdb = !strcmp(argv[3], "imdb");
    mpi = !(argc > 4 && !strcmp(argv[4], "--no-mpi"));
    if (steps < 1 || steps > 1000)
        steps = 5;
    if (mpi) {
        CHECK(seqcls_mpi_world_create(&comm));
        rank = seqcls_comm_rank(comm);
        size = seqcls_comm_size(comm);
    }
    CHECK(seqcls_set_num_threads(threads));
    n = B * (steps + 1);
    sx[0] = sy[0] = n;
    sx[1] = T;
    CHECK(seqcls_tensor_create(&x, SEQCLS_I32, 2, sx));
    CHECK(seqcls_tensor_create(&y, SEQCLS_I32, 1, sy));
    ids = seqcls_tensor_data(x);
    lab = seqcls_tensor_data(y);
    len = malloc((size_t)n * sizeof *len);
    /* bench_model's data, batch after batch */
    for (b = 0; b < n; b += B)
        bench_lengths(len + b, B, T, imdb ? 238.0 : 0.0, 7);
    for (b = 0; b < n; b++) {
        for (t = 0; t < T; t++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            ids[(size_t)b * T + t] = t < len[b] ? 1 + (int32_t)((s >> 33) % (VOCAB - 1)) : 0;
        }
        lab[b] = b & 1;
    }
    CHECK(seqcls_model_create(&m, 1));
    CHECK(seqcls_add_embedding(m, VOCAB, EMB, 0, NULL));
    CHECK(seqcls_add_lstm(m, HID, SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES, NULL));
    CHECK(seqcls_add_lstm(m, HID, SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES, NULL));
    CHECK(seqcls_add_attention(m, SEQCLS_ATTN_BAHDANAU, UNITS, NULL));
    CHECK(seqcls_add_dense(m, DENSE, SEQCLS_ACT_RELU, NULL));
    CHECK(seqcls_add_dropout(m, 0.5f, NULL));
    CHECK(seqcls_add_output(m, 1, NULL));
    CHECK(seqcls_optimizer_create(&o, SEQCLS_OPTIM_ADAM, 1e-3f));
    CHECK(seqcls_fit_config_create(&c));
    CHECK(seqcls_fit_config_set_int(c, SEQCLS_FIT_BATCH_SIZE, B));
    CHECK(seqcls_fit_config_set_int(c, SEQCLS_FIT_EPOCHS, 1));
    /* batch k is rows [256k, 256k + 256): every batch has bench_model's
     * lengths, as the PyTorch peer's batch has */
    CHECK(seqcls_fit_config_set_int(c, SEQCLS_FIT_SHUFFLE, 0));
    CHECK(seqcls_fit_config_set_int(c, SEQCLS_FIT_BUCKETING, 0));
    CHECK(seqcls_fit_config_set_callbacks(c, on_batch, NULL, NULL, NULL));
    CHECK(seqcls_fit_config_set_comm(c, comm));
    CHECK(seqcls_fit(m, o, x, len, y, NULL, NULL, NULL, c));
    for (b = 1; b < nstamps; b++)
        d[b - 1] = stamps[b] - stamps[b - 1];
    qsort(d, (size_t)nstamps - 1, sizeof *d, cmp);
    med = d[(nstamps - 1) / 2];
    if (rank == 0) {
        const char *key = argv[3];
        printf("seqcls_dist_%dx%d_%s_step_ms: %.1f\n", size, threads, key, 1e3 * med);
        printf("seqcls_dist_%dx%d_%s_seq_per_s: %.1f\n", size, threads, key, B / med);
        if (comm) {
            const double st = seqcls_comm_stat(comm, SEQCLS_COMM_STAT_STEPS);
            const double cs = seqcls_comm_stat(comm, SEQCLS_COMM_STAT_COMM_SECONDS);
            const double ex = seqcls_comm_stat(comm, SEQCLS_COMM_STAT_EXPOSED_SECONDS);
            const double bw = seqcls_comm_stat(comm, SEQCLS_COMM_STAT_BACKWARD_SECONDS);
            printf("seqcls_dist_%dx%d_%s_comm_ms_per_step: %.2f\n", size, threads, key,
                   1e3 * cs / st);
            printf("seqcls_dist_%dx%d_%s_exposed_ms_per_step: %.2f\n", size, threads, key,
                   1e3 * ex / st);
            printf("seqcls_dist_%dx%d_%s_hidden_fraction: %.3f\n", size, threads, key,
                   cs > 0 ? 1 - ex / cs : 1.0);
            printf("seqcls_dist_%dx%d_%s_backward_ms_per_step: %.1f\n", size, threads, key,
                   1e3 * bw / st);
            printf("seqcls_dist_%dx%d_%s_buckets_per_step: %.0f\n", size, threads, key,
                   seqcls_comm_stat(comm, SEQCLS_COMM_STAT_BUCKETS) / st);
            printf("seqcls_dist_%dx%d_%s_grad_mb_per_step: %.2f\n", size, threads, key,
                   seqcls_comm_stat(comm, SEQCLS_COMM_STAT_BYTES) / st / 1e6);
        }
    }
    seqcls_fit_config_free(c);
    seqcls_optimizer_free(o);
    seqcls_model_free(m);
    seqcls_tensor_free(x);
    seqcls_tensor_free(y);
    free(len);
    seqcls_comm_free(comm);
    if (mpi)
        CHECK(seqcls_mpi_finalize());
    return 0;
}
