/*
 * bench_sgemm.c -- the machine's own sgemm rate with the BLAS seqcls is
 * built against (the ceiling of issue 9), at 1 and 2 threads: a large
 * square product, the input-projection shape of the benchmark layer
 * ([T*B, 128] x [128, 4H]) and its per-step recurrent shape ([64, 128] x
 * [128, 4H]).  Prints `name: value` lines (GFLOP/s, best of N).
 *
 *   usage: bench_sgemm [repeats]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <cblas.h>

static double now_s(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double rate(int M, int N, int K, int inner, int reps)
{
    float *a = malloc(sizeof(float) * (size_t)M * K), *b = malloc(sizeof(float) * (size_t)K * N);
    float *c = malloc(sizeof(float) * (size_t)M * N);
    double best = 0;
    size_t i;
    int r, k;
    for (i = 0; i < (size_t)M * K; i++)
        a[i] = (float)(i % 7) * 0.1f;
    for (i = 0; i < (size_t)K * N; i++)
        b[i] = (float)(i % 5) * 0.1f;
    for (r = -1; r < reps; r++) {
        double t0 = now_s(), g;
        for (k = 0; k < inner; k++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1, a, K, b, K, 0, c, N);
        g = 2.0 * M * N * K * inner / (now_s() - t0) / 1e9;
        if (r >= 0 && g > best)
            best = g;
    }
    free(a);
    free(b);
    free(c);
    return best;
}

int main(int argc, char **argv)
{
    const int reps = argc > 1 ? atoi(argv[1]) : 5;
    int threads;
    for (threads = 1; threads <= 2; threads++) {
        openblas_set_num_threads(threads);
        printf("sgemm_%dt_square1024_gflops: %.1f\n", threads, rate(1024, 1024, 1024, 3, reps));
        printf("sgemm_%dt_inproj_12800x512x128_gflops: %.1f\n", threads,
               rate(12800, 512, 128, 3, reps));
        printf("sgemm_%dt_step_64x512x128_gflops: %.1f\n", threads, rate(64, 512, 128, 200, reps));
        printf("sgemm_%dt_step_256x256x64_gflops: %.1f\n", threads, rate(256, 256, 64, 200, reps));
    }
    return 0;
}
