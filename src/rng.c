/*
 * rng.c -- xoshiro256** seeded through splitmix64: fast, reproducible on
 * every platform, and independent of the C library's rand().
 */
#include "internal.h"

#include <math.h>

uint64_t rng_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void rng_seed(rng_t *r, uint64_t seed)
{
    int i;
    for (i = 0; i < 4; i++)
        r->s[i] = rng_splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t rng_next(rng_t *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double rng_uniform(rng_t *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }

double rng_normal(rng_t *r)
{
    /* Box-Muller; 1 - u keeps the logarithm's argument in (0, 1]. */
    double u = 1.0 - rng_uniform(r), v = rng_uniform(r);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* Set while a model file is being loaded: every parameter is about to be
 * overwritten from the file, and the random state restored from it, so
 * drawing initial values would only cost time (half of a large load). */
static _Thread_local int skip_init;

void rng_skip_init(int on) { skip_init = on; }

void rng_fill_uniform(rng_t *r, real *x, size_t n, double lo, double hi)
{
    size_t i;
    if (skip_init)
        return;
    for (i = 0; i < n; i++)
        x[i] = (real)(lo + (hi - lo) * rng_uniform(r));
}

void rng_fill_normal(rng_t *r, real *x, size_t n)
{
    size_t i;
    if (skip_init)
        return;
    for (i = 0; i < n; i++)
        x[i] = (real)rng_normal(r);
}

void dropout_mask(rng_t *rng, real *mask, size_t n, float rate)
{
    real keep = (real)(1.0 / (1.0 - rate));
    size_t i;
    for (i = 0; i < n; i++)
        mask[i] = rng_uniform(rng) < rate ? (real)0 : keep;
}

/* SplitMix64's output number i + 1 from the state `key`: a counter-based
 * generator (the numbers of one key pass BigCrush), so that a dropout
 * mask element can be drawn from (sample, layer, element) alone. */
uint64_t rng_hash(uint64_t key, uint64_t i)
{
    uint64_t z = key + 0x9e3779b97f4a7c15ull * (i + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void dropout_mask_rows(const run_ctx_t *ctx, int layer, real *mask, int rows, size_t n,
                       size_t stride, float rate)
{
    const real keep = (real)(1.0 / (1.0 - rate));
    int b;
    size_t j;
    if (!ctx->keys) {
        for (b = 0; b < rows; b++)
            dropout_mask(ctx->rng, mask + (size_t)b * stride, n, rate);
        return;
    }
    for (b = 0; b < rows; b++) {
        const uint64_t k = rng_key(ctx->keys[b], (uint64_t)layer);
        real *row = mask + (size_t)b * stride;
        for (j = 0; j < n; j++)
            row[j] = (double)(rng_hash(k, j) >> 11) * 0x1.0p-53 < rate ? (real)0 : keep;
    }
}

void dropout_mask_at(const run_ctx_t *ctx, int layer, int row, uint64_t first, real *mask,
                     size_t n, float rate)
{
    const real keep = (real)(1.0 / (1.0 - rate));
    uint64_t k;
    size_t j;
    if (!ctx->keys) {
        dropout_mask(ctx->rng, mask, n, rate);
        return;
    }
    k = rng_key(ctx->keys[row], (uint64_t)layer);
    for (j = 0; j < n; j++)
        mask[j] = (double)(rng_hash(k, first + j) >> 11) * 0x1.0p-53 < rate ? (real)0 : keep;
}
