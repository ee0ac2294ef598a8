/*
 * amx_model.c -- the model of amx_model.h: eight tiles of at most 16 rows
 * of 64 bytes, the configuration LDTILECFG loads, and the arithmetic of
 * the two products as the SDM's pseudocode gives it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amx_model.h"

typedef struct {
    int configured;
    int rows[8], colsb[8];
    unsigned char data[8][16][64];
} tiles_t;

static _Thread_local tiles_t tiles;

static void fault(const char *rule)
{
    fprintf(stderr, "amx_model: %s\n", rule);
    abort();
}

static void check_tile(int t)
{
    if (!tiles.configured)
        fault("tile instruction without a configuration (#UD)");
    if (t < 0 || t > 7 || tiles.rows[t] == 0)
        fault("tile not configured (#UD)");
}

void amx_model_config(const void *cfg)
{
    const unsigned char *c = cfg;
    int t, i;
    if (c[0] == 0) {   /* palette 0: the initial state */
        memset(&tiles, 0, sizeof tiles);
        return;
    }
    if (c[0] != 1)
        fault("LDTILECFG: palette other than 0 or 1 (#GP)");
    for (i = 2; i < 16; i++)
        if (c[i])
            fault("LDTILECFG: reserved bytes 2-15 not zero (#GP)");
    if (c[1])
        fault("LDTILECFG: start_row not zero");
    memset(&tiles, 0, sizeof tiles);   /* loading a configuration zeroes every tile */
    for (t = 0; t < 16; t++) {
        const int colsb = c[16 + 2 * t] | c[17 + 2 * t] << 8, rows = c[48 + t];
        if (t >= 8 && (colsb || rows))
            fault("LDTILECFG: palette 1 has 8 tiles (#GP)");
        if (rows > 16 || colsb > 64)
            fault("LDTILECFG: more than 16 rows or 64 bytes a row (#GP)");
        if ((rows == 0) != (colsb == 0))
            fault("LDTILECFG: a tile with rows but no bytes, or bytes but no rows (#GP)");
        if (t < 8) {
            tiles.rows[t] = rows;
            tiles.colsb[t] = colsb;
        }
    }
    tiles.configured = 1;
}

void amx_model_release(void)
{
    memset(&tiles, 0, sizeof tiles);
}

int amx_model_configured(void)
{
    return tiles.configured;
}

void amx_model_zero(int t)
{
    check_tile(t);
    memset(tiles.data[t], 0, sizeof tiles.data[t]);
}

/* Rows of colsb bytes, stride apart; the rest of the tile becomes zero. */
void amx_model_load(int t, const void *base, long stride)
{
    int r;
    check_tile(t);
    memset(tiles.data[t], 0, sizeof tiles.data[t]);
    for (r = 0; r < tiles.rows[t]; r++)
        memcpy(tiles.data[t][r], (const unsigned char *)base + r * stride, (size_t)tiles.colsb[t]);
}

void amx_model_store(int t, void *base, long stride)
{
    int r;
    check_tile(t);
    for (r = 0; r < tiles.rows[t]; r++)
        memcpy((unsigned char *)base + r * stride, tiles.data[t][r], (size_t)tiles.colsb[t]);
}

/* The shapes the SDM requires of C += A B (K = a's bytes / 4 groups). */
static void check_product(int c, int a, int b)
{
    check_tile(c);
    check_tile(a);
    check_tile(b);
    if (c == a || c == b || a == b)
        fault("tile product with a tile used twice (#UD)");
    if (tiles.rows[c] != tiles.rows[a] || tiles.colsb[c] != tiles.colsb[b] ||
        tiles.colsb[a] != 4 * tiles.rows[b] || tiles.colsb[c] % 4 || tiles.colsb[a] % 4)
        fault("tile product: shapes do not agree (#UD)");
}

static int32_t i32(const unsigned char *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

static void put_i32(unsigned char *p, int32_t v)
{
    memcpy(p, &v, 4);
}

void amx_model_dpbusd(int c, int a, int b)
{
    int m, k, n, i;
    check_product(c, a, b);
    for (m = 0; m < tiles.rows[c]; m++)
        for (n = 0; n < tiles.colsb[c] / 4; n++) {
            uint32_t acc = (uint32_t)i32(tiles.data[c][m] + 4 * n);
            for (k = 0; k < tiles.colsb[a] / 4; k++)
                for (i = 0; i < 4; i++)   /* unsigned A by signed B, wrapping */
                    acc += (uint32_t)((int32_t)tiles.data[a][m][4 * k + i] *
                                      (int32_t)(int8_t)tiles.data[b][k][4 * n + i]);
            put_i32(tiles.data[c][m] + 4 * n, (int32_t)acc);
        }
}

/* A bfloat16 as float, a subnormal as zero (the SDM: DAZ). */
static float bf16_daz(const unsigned char *p)
{
    const uint32_t bits = (uint32_t)(p[0] | p[1] << 8) << 16;
    float x;
    memcpy(&x, &bits, 4);
    return fpclassify(x) == FP_SUBNORMAL ? 0.0f * x : x;
}

static float ftz(float x)
{
    return fpclassify(x) == FP_SUBNORMAL ? 0.0f * x : x;
}

void amx_model_dpbf16ps(int c, int a, int b)
{
    int m, k, n;
    check_product(c, a, b);
    for (m = 0; m < tiles.rows[c]; m++)
        for (n = 0; n < tiles.colsb[c] / 4; n++) {
            float acc;
            memcpy(&acc, tiles.data[c][m] + 4 * n, 4);
            for (k = 0; k < tiles.colsb[a] / 4; k++) {   /* even element first, each sum rounded */
                acc = ftz(acc + bf16_daz(tiles.data[a][m] + 4 * k) *
                                    bf16_daz(tiles.data[b][k] + 4 * n));
                acc = ftz(acc + bf16_daz(tiles.data[a][m] + 4 * k + 2) *
                                    bf16_daz(tiles.data[b][k] + 4 * n + 2));
            }
            memcpy(tiles.data[c][m] + 4 * n, &acc, 4);
        }
}
