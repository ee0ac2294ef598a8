/*
 * lengths.h -- the synthetic lengths of the benchmarks, shared with the
 * Python peers (bench/lengths.py computes the same numbers): every row
 * full length when mean <= 0, else exponential with that mean, rounded
 * up and capped at T ("IMDB-like": mean 238 capped at 500).
 */
#ifndef SEQCLS_BENCH_LENGTHS_H
#define SEQCLS_BENCH_LENGTHS_H

#include <math.h>
#include <stdint.h>

static void bench_lengths(int32_t *len, int n, int T, double mean, uint64_t seed)
{
    int i;
    for (i = 0; i < n; i++) {
        double u, l;
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        u = ((double)(seed >> 11) + 0.5) / 9007199254740992.0;
        l = mean > 0 ? ceil(-mean * log(u)) : T;
        len[i] = l < 1 ? 1 : l > T ? T : (int32_t)l;
    }
}

#endif
