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
 * batches: PyTorch has no lengths) and prints the ratios.
 *
 *   usage: bench_conv [repeats]
 */
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

static double time_runs(seqcls_model_t *m, seqcls_tensor_t *x, const int32_t *len,
                        seqcls_tensor_t *logits, int backward, int reps)
{
    double *t = malloc((size_t)reps * sizeof *t), med;
    int r;
    for (r = -2; r < reps; r++) {
        double t0 = now_ms();
        CHECK(seqcls_forward(m, x, len, logits, backward));
        if (backward) {
            CHECK(seqcls_zero_grad(m));
            CHECK(seqcls_backward(m, logits));
        }
        if (r >= 0)
            t[r] = now_ms() - t0;
    }
    qsort(t, (size_t)reps, sizeof *t, cmp_double);
    med = t[reps / 2];
    free(t);
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
            CHECK(seqcls_set_num_threads(threads));
            printf("%s_t%d_full_forward_ms: %.3f\n", shapes[s].name, threads,
                   time_runs(m, x, full, logits, 0, reps));
            printf("%s_t%d_full_train_ms: %.3f\n", shapes[s].name, threads,
                   time_runs(m, x, full, logits, 1, reps));
            printf("%s_t%d_ragged_forward_ms: %.3f\n", shapes[s].name, threads,
                   time_runs(m, x, ragged, logits, 0, reps));
            printf("%s_t%d_ragged_train_ms: %.3f\n", shapes[s].name, threads,
                   time_runs(m, x, ragged, logits, 1, reps));
        }
        seqcls_model_free(m);
        seqcls_tensor_free(x);
        seqcls_tensor_free(logits);
        free(full);
        free(ragged);
    }
    return 0;
}
