/*
 * bench_rnn.c -- one bidirectional LSTM layer (B = 64, T = 200, in = 128,
 * H = 128) in seqcls: inference forward and training forward + backward,
 * on full-length batches and on ragged ones (lengths uniform in
 * [T/4, T]), single-threaded.  Prints `name: value` lines; bench/rnn_torch.py
 * runs the same model in PyTorch and prints the ratios.  Then the inference
 * forward of the same model quantised (seqcls_model_quantize, issue 19):
 * seqcls_{full,ragged}_forward_{int8,bf16}_ms.
 *
 *   usage: bench_rnn [repeats]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <seqcls.h>

enum { B = 64, T = 200, IN = 128, H = 128 };

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

/* Median time in ms of `reps` runs (after two warm-up runs). */
static double time_runs(seqcls_model_t *m, seqcls_tensor_t *x, const int32_t *len,
                        seqcls_tensor_t *logits, seqcls_tensor_t *dlogits, int backward, int reps)
{
    double *t = malloc((size_t)reps * sizeof *t), med;
    int r;
    for (r = -2; r < reps; r++) {
        double t0 = now_ms();
        CHECK(seqcls_forward(m, x, len, logits, backward));
        if (backward)
            CHECK(seqcls_backward(m, dlogits));
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
    int64_t xs[3] = {B, T, IN}, ls[2] = {B, 1};
    seqcls_model_t *m = NULL;
    seqcls_tensor_t *x = NULL, *logits = NULL, *dlogits = NULL;
    int32_t full[B], ragged[B];
    uint64_t s = 12345;
    float *xd;
    size_t i;
    int b;

    CHECK(seqcls_set_num_threads(1));
    CHECK(seqcls_model_create(&m, 1));
    CHECK(seqcls_add_input(m, IN, NULL));
    CHECK(seqcls_add_lstm(m, H, SEQCLS_BIDIRECTIONAL, NULL));
    CHECK(seqcls_add_output(m, 1, NULL));
    CHECK(seqcls_tensor_create(&x, SEQCLS_F32, 3, xs));
    CHECK(seqcls_tensor_create(&logits, SEQCLS_F32, 2, ls));
    CHECK(seqcls_tensor_create(&dlogits, SEQCLS_F32, 2, ls));
    xd = seqcls_tensor_data(x);
    for (i = 0; i < (size_t)B * T * IN; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        xd[i] = (float)((s >> 40) / 16777216.0 * 2 - 1);
    }
    for (b = 0; b < B; b++) {
        /* the same ragged lengths as rnn_torch.py: T/4 + (b * 37) % (3T/4 + 1) */
        full[b] = T;
        ragged[b] = T / 4 + (b * 37) % (3 * T / 4 + 1);
        ((float *)seqcls_tensor_data(dlogits))[b] = 1.0f / B;
    }
    printf("config: BiLSTM B=%d T=%d in=%d H=%d, threads=%d\n", B, T, IN, H,
           seqcls_get_num_threads());
    {
        const struct { const char *name; const int32_t *len; } cases[2] = {{"full", full},
                                                                           {"ragged", ragged}};
        int c;
        for (c = 0; c < 2; c++) {
            double fwd = time_runs(m, x, cases[c].len, logits, NULL, 0, reps);
            double fb = time_runs(m, x, cases[c].len, logits, dlogits, 1, reps);
            printf("seqcls_%s_forward_ms: %.3f\n", cases[c].name, fwd);
            printf("seqcls_%s_forward_seq_per_s: %.1f\n", cases[c].name, B / fwd * 1e3);
            printf("seqcls_%s_train_ms: %.3f\n", cases[c].name, fb);
            printf("seqcls_%s_train_seq_per_s: %.1f\n", cases[c].name, B / fb * 1e3);
        }
    }
    {
        /* the same weights, quantised: copies of the model through a buffer */
        static const int precisions[2] = {SEQCLS_INT8, SEQCLS_BF16};
        static const char *const pnames[2] = {"int8", "bf16"};
        void *buf = NULL;
        size_t n = 0;
        int k;
        CHECK(seqcls_model_save_buffer(m, &buf, &n));
        for (k = 0; k < 2; k++) {
            seqcls_model_t *q = NULL;
            CHECK(seqcls_model_load_buffer(&q, buf, n));
            CHECK(seqcls_model_quantize(q, precisions[k]));
            printf("seqcls_full_forward_%s_ms: %.3f\n", pnames[k],
                   time_runs(q, x, full, logits, NULL, 0, reps));
            printf("seqcls_ragged_forward_%s_ms: %.3f\n", pnames[k],
                   time_runs(q, x, ragged, logits, NULL, 0, reps));
            seqcls_model_free(q);
        }
        seqcls_free(buf);
    }
    seqcls_tensor_free(x);
    seqcls_tensor_free(logits);
    seqcls_tensor_free(dlogits);
    seqcls_model_free(m);
    return 0;
}
