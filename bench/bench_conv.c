/*
 * bench_conv.c -- one conv1d layer of Kim's (2014) CNN size in seqcls:
 * input(300) -> conv1d(100 filters, kernel 5, relu, valid) -> max pooling
 * -> output(1), inference forward and training forward + backward (the
 * gradient of the weights and of the input, as with an embedding before
 * it), on full batches and on ragged ones, at 1 and 2 threads.  Two
 * shapes: "kim" (B = 50 sentences of T = 56 tokens; ragged lengths with
 * mean 21, as the MR dataset) and "doc" (B = 32 reviews of T = 400;
 * ragged lengths uniform in [100, 400]).  Prints `name: value` lines;
 * bench/conv_torch.py runs torch.nn.Conv1d on the same shapes (padded
 * batches: PyTorch has no lengths) and prints the ratios.  Each case gives
 * the median wall time and the median CPU time of the process (the cost
 * of a one-thread run on a machine other work shares).
 *
 *   usage: bench_conv [repeats]
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <seqcls.h>

enum { F = 300, U = 100, K = 5 };

static double now_ms(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* The process's CPU time: on a machine that other work shares, a
 * one-thread run's CPU time is what it costs, its wall time is not. */
static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

#define CHECK(call)                                                                    \
    do {                                                                               \
        int rc_ = (call);                                                              \
        if (rc_ != SEQCLS_OK) {                                                        \
            fprintf(stderr, "%s failed: %s\n", #call, seqcls_last_error());            \
            exit(1);                                                                   \
        }                                                                              \
    } while (0)

/* Median wall time (ms) of `reps` runs after two warm-ups; the median CPU
 * time into *cpu. */
static double time_runs(seqcls_model_t *m, seqcls_tensor_t *x, const int32_t *len,
                        seqcls_tensor_t *logits, int backward, int reps, double *cpu)
{
    double *t = malloc((size_t)reps * sizeof *t), *c = malloc((size_t)reps * sizeof *c), med;
    int r;
    for (r = -2; r < reps; r++) {
        double t0 = now_ms(), c0 = cpu_ms();
        CHECK(seqcls_forward(m, x, len, logits, backward));
        if (backward) {
            CHECK(seqcls_zero_grad(m));
            CHECK(seqcls_backward(m, logits));
        }
        if (r >= 0) {
            t[r] = now_ms() - t0;
            c[r] = cpu_ms() - c0;
        }
    }
    qsort(t, (size_t)reps, sizeof *t, cmp_double);
    qsort(c, (size_t)reps, sizeof *c, cmp_double);
    med = t[reps / 2];
    *cpu = c[reps / 2];
    free(t);
    free(c);
    return med;
}

int main(int argc, char **argv)
{
    const int reps = argc > 1 ? atoi(argv[1]) : 10;
    static const struct { const char *name; int B, T, lo, hi; } shapes[2] = {
        {"kim", 50, 56, 6, 36}, {"doc", 32, 400, 100, 400}};
    int s, threads;
    for (s = 0; s < 2; s++) {
        const int B = shapes[s].B, T = shapes[s].T;
        int64_t xs[3] = {B, T, F}, ls[2] = {B, 1};
        seqcls_tensor_t *x, *logits;
        seqcls_model_t *m;
        int32_t *full = malloc((size_t)B * sizeof *full), *ragged = malloc((size_t)B * sizeof *ragged);
        float *p;
        int b, l;
        unsigned long long rnd = 12345;
        CHECK(seqcls_tensor_create(&x, SEQCLS_F32, 3, xs));
        CHECK(seqcls_tensor_create(&logits, SEQCLS_F32, 2, ls));
        p = seqcls_tensor_data(x);
        for (b = 0; b < B * T * F; b++) {
            rnd = rnd * 6364136223846793005ull + 1442695040888963407ull;
            p[b] = (float)((rnd >> 40) / 8388608.0 - 1.0);
        }
        for (b = 0; b < B; b++) {
            full[b] = T;
            ragged[b] = shapes[s].lo + (b * 37) % (shapes[s].hi - shapes[s].lo + 1);
        }
        CHECK(seqcls_model_create(&m, 1));
        CHECK(seqcls_add_input(m, F, NULL));
        CHECK(seqcls_add_conv1d(m, U, K, 0, &l));
        CHECK(seqcls_layer_set_int(m, l, SEQCLS_OPT_ACTIVATION, SEQCLS_ACT_RELU));
        CHECK(seqcls_add_pooling(m, SEQCLS_POOL_MAX, NULL));
        CHECK(seqcls_add_output(m, 1, NULL));
        for (threads = 1; threads <= 2; threads++) {
            static const char *const cases[4] = {"full_forward", "full_train", "ragged_forward",
                                                 "ragged_train"};
            int k;
            CHECK(seqcls_set_num_threads(threads));
            for (k = 0; k < 4; k++) {
                double cpu, wall = time_runs(m, x, k < 2 ? full : ragged, logits, k & 1, reps,
                                             &cpu);
                printf("%s_t%d_%s_ms: %.3f\n", shapes[s].name, threads, cases[k], wall);
                printf("%s_t%d_%s_cpu_ms: %.3f\n", shapes[s].name, threads, cases[k], cpu);
            }
        }
        seqcls_model_free(m);
        seqcls_tensor_free(x);
        seqcls_tensor_free(logits);
        free(full);
        free(ragged);
    }
    return 0;
}
