/*
 * qgemm_amx.c -- qgemm's kernels for Intel AMX tiles: int8 with tdpbusd
 * (unsigned activation bytes by signed weight bytes, as vpdpbusd) and
 * bfloat16 with tdpbf16ps.  qgemm.c uses them when cpu_has_amx says the
 * CPU has the tiles and Linux granted this process their state (cpu.c).
 *
 * Tiles.  One configuration for every call: eight tiles of 16 rows x 64
 * bytes.  Up to 32 rows of a panel's 32 columns accumulate in tmm0-3
 * (rows 0-15 / 16-31 x columns 0-15 / 16-31, int32 or float), from two
 * tiles of activations (tmm4-5: 16 rows x 64 bytes of k) and two of
 * weights (tmm6-7).  The packed panel is the weight tiles' layout already
 * (qgemm.c): a tile row is one group of k (4 int8 or 2 bfloat16) for 16
 * columns, and the panel stores that group for its 32 columns in 128
 * bytes, so the two weight tiles are loaded 64 bytes apart with a stride
 * of 128.  Tile loads read whole rows, so a block of k shorter than 64
 * bytes (the end of Kp) and a block of fewer than 32 rows are first copied
 * into zero-padded buffers: zero weights add nothing, and nothing is read
 * past the activations.  Results go through a 32 x 32 buffer to the
 * AVX-512 epilogue of the other kernels (every AMX CPU has AVX-512).
 *
 * Results.  int8: tdpbusd adds the same integers as vpdpbusd (int32,
 * wrapping), so the results are the other kernels' bit for bit.
 * bfloat16: the manual sums each pair's two products in its own order
 * (even k first; vdpbf16ps adds the odd one first) and flushes subnormal
 * inputs and results to zero, so results may differ from the AVX512-BF16
 * kernel's in the last bits; they are tested against the error bound of
 * a float32 sum instead.
 *
 * This file is written against the manual's description of the
 * instructions (Intel SDM vol. 2, TILELOADD, TDPBUSD, TDPBF16PS, LDTILECFG)
 * and, on machines without AMX, tested through a model of them: the test
 * build compiles it again with SEQCLS_AMX_MODEL, which makes the tile
 * operations calls into tests/amx_model.c (the manual's checks of the
 * configuration and shapes included) and names the kernels *_model.
 */
#include "qgemm_kernel.h"

#include <string.h>

#ifdef Q_X86

#ifdef SEQCLS_AMX_MODEL
#include "amx_model.h"
#define AMX_KERNEL(name) name##_model
#define TILE_CONFIG(cfg) amx_model_config(cfg)
#define TILE_RELEASE() amx_model_release()
#define TILE_ZERO(t) amx_model_zero(t)
#define TILE_LOAD(t, base, stride) amx_model_load(t, base, (long)(stride))
#define TILE_STORE(t, base, stride) amx_model_store(t, base, (long)(stride))
#define TILE_DPBUSD(c, a, b) amx_model_dpbusd(c, a, b)
#define TILE_DPBF16PS(c, a, b) amx_model_dpbf16ps(c, a, b)
#else
/* The instructions as inline assembly (AT&T operand order: sources
 * first).  Loads and stores clobber "memory": the compiler must not move
 * or drop the copies into the buffers they read, nor read what a store
 * wrote before it happens. */
#define AMX_KERNEL(name) name
#define TILE_CONFIG(cfg) __asm__ volatile("ldtilecfg %0" ::"m"(*(cfg)))
#define TILE_RELEASE() __asm__ volatile("tilerelease" ::: "memory")
#define TILE_ZERO(t) __asm__ volatile("tilezero %%tmm" #t ::)
#define TILE_LOAD(t, base, stride)                                                           \
    __asm__ volatile("tileloadd (%0,%1,1), %%tmm" #t ::"r"((const void *)(base)),             \
                     "r"((long)(stride))                                                     \
                     : "memory")
#define TILE_STORE(t, base, stride)                                                          \
    __asm__ volatile("tilestored %%tmm" #t ", (%0,%1,1)" ::"r"((void *)(base)),               \
                     "r"((long)(stride))                                                     \
                     : "memory")
#define TILE_DPBUSD(c, a, b) __asm__ volatile("tdpbusd %%tmm" #b ", %%tmm" #a ", %%tmm" #c ::)
#define TILE_DPBF16PS(c, a, b) __asm__ volatile("tdpbf16ps %%tmm" #b ", %%tmm" #a ", %%tmm" #c ::)
#endif

#define AMX_FN __attribute__((target("avx512f,avx512bw")))
#define ROWS 32    /* rows per block: two tiles */
#define BLOCK 64   /* bytes of k per tile row */

/* LDTILECFG's 64 bytes (palette 1). */
typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tilecfg_t;

static void tiles_configure(void)
{
    tilecfg_t cfg;
    int t;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (t = 0; t < 8; t++) {
        cfg.rows[t] = 16;
        cfg.colsb[t] = BLOCK;
    }
    TILE_CONFIG(&cfg);
}

/* Accumulators c0 and c1 += activation tile a times the two weight
 * tiles (tmm6, tmm7); tile numbers are literals (instruction operands). */
#define ROW_TILE_PRODUCTS(int8, c0, c1, a)                                                   \
    do {                                                                                     \
        if (int8) {                                                                          \
            TILE_DPBUSD(c0, a, 6);                                                           \
            TILE_DPBUSD(c1, a, 7);                                                           \
        } else {                                                                             \
            TILE_DPBF16PS(c0, a, 6);                                                         \
            TILE_DPBF16PS(c1, a, 7);                                                         \
        }                                                                                    \
    } while (0)

/* Rows [i0, i0 + mr) (mr <= 32) of the panel summed over every block of
 * k into tmm0-3 (tmm2-3 only when mr > 16). */
static AMX_FN void tiles_accumulate(const qk_t *o, int i0, int mr, int int8)
{
    _Alignas(64) unsigned char abuf[ROWS * BLOCK], wbuf[16 * 2 * BLOCK];
    const size_t kbytes = (size_t)o->w->Kp * (int8 ? 1 : 2), rb = o->rb;
    const unsigned char *act = o->act + (size_t)i0 * rb;
    size_t k0;
    TILE_ZERO(0);
    TILE_ZERO(1);
    TILE_ZERO(2);
    TILE_ZERO(3);
    for (k0 = 0; k0 < kbytes; k0 += BLOCK) {
        const size_t bytes = kbytes - k0 < BLOCK ? kbytes - k0 : BLOCK;
        const unsigned char *a = act + k0, *w = o->panel + k0 / 4 * (2 * BLOCK);
        size_t astride = rb;
        if (bytes < BLOCK || mr < ROWS) {
            int r;
            memset(abuf, 0, sizeof abuf);
            for (r = 0; r < mr; r++)
                memcpy(abuf + (size_t)r * BLOCK, a + (size_t)r * rb, bytes);
            a = abuf;
            astride = BLOCK;
        }
        if (bytes < BLOCK) {   /* bytes / 4 tile rows of 128 bytes, then zeros */
            memset(wbuf, 0, sizeof wbuf);
            memcpy(wbuf, w, bytes / 4 * 2 * BLOCK);
            w = wbuf;
        }
        TILE_LOAD(6, w, 2 * BLOCK);
        TILE_LOAD(7, w + BLOCK, 2 * BLOCK);
        TILE_LOAD(4, a, astride);
        ROW_TILE_PRODUCTS(int8, 0, 1, 4);
        if (mr > 16) {
            TILE_LOAD(5, a + 16 * astride, astride);
            ROW_TILE_PRODUCTS(int8, 2, 3, 5);
        }
    }
}

/* The accumulators into sums[32][32] (int32 or float bits). */
static void tiles_store(int32_t *sums, int mr)
{
    TILE_STORE(0, sums, ROWS * 4);
    TILE_STORE(1, sums + 16, ROWS * 4);
    if (mr > 16) {
        TILE_STORE(2, sums + 16 * ROWS, ROWS * 4);
        TILE_STORE(3, sums + 16 * ROWS + 16, ROWS * 4);
    }
}

/* Rows [0, M) of the panel, 32 at a time: sums on the tiles, then the
 * epilogue of the AVX-512 kernels (int8: their integer-to-float step). */
static AMX_FN void tiles_kernel(int M, int n, const qk_t *o, int int8)
{
    _Alignas(64) int32_t sums[ROWS * ROWS];
    const __mmask16 m0 = panel_mask(n, 0), m1 = panel_mask(n, 1);
    __m512i off0 = _mm512_setzero_si512(), off1 = off0;
    __m512 sw0 = _mm512_setzero_ps(), sw1 = sw0;
    int i0, i;
    if (int8) {
        off0 = _mm512_slli_epi32(_mm512_loadu_si512(o->wsum), 7);
        off1 = _mm512_slli_epi32(_mm512_loadu_si512(o->wsum + 16), 7);
        sw0 = _mm512_maskz_loadu_ps(m0, o->sw);
        sw1 = _mm512_maskz_loadu_ps(m1, o->sw + 16);
    }
    tiles_configure();
    for (i0 = 0; i0 < M; i0 += ROWS) {
        const int mr = M - i0 < ROWS ? M - i0 : ROWS;
        tiles_accumulate(o, i0, mr, int8);
        tiles_store(sums, mr);
        for (i = 0; i < mr; i++) {
            const __m512i s0 = _mm512_load_si512(sums + i * ROWS);
            const __m512i s1 = _mm512_load_si512(sums + i * ROWS + 16);
            const __m512 sa = _mm512_set1_ps(int8 ? o->sa[i0 + i] : 0.0f);
            store32_avx512(o, o->C + (size_t)(i0 + i) * o->ldc, m0, m1,
                           int8 ? int8_value_avx512(s0, off0, sa, sw0) : _mm512_castsi512_ps(s0),
                           int8 ? int8_value_avx512(s1, off1, sa, sw1) : _mm512_castsi512_ps(s1));
        }
    }
    TILE_RELEASE();
}

AMX_FN void AMX_KERNEL(qgemm_amx_int8)(int M, int n, const qk_t *o)
{
    tiles_kernel(M, n, o, 1);
}

AMX_FN void AMX_KERNEL(qgemm_amx_bf16)(int M, int n, const qk_t *o)
{
    tiles_kernel(M, n, o, 0);
}

#endif
