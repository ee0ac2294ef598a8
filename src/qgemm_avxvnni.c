/*
 * qgemm_avxvnni.c -- qgemm's int8 kernel for AVX-VNNI: vpdpbusd on 256-bit
 * registers in its VEX form, which CPUs without AVX-512 have (Alder Lake
 * and later client cores, Sierra Forest).  There the AVX2 kernel widens
 * bytes to 16 bits and needs a widening, a multiply and an add for half
 * the products of one vpdpbusd.
 *
 * Half a panel (16 columns: two registers of 8 int32 sums) by 6 rows in
 * 12 registers; each group of 4 bytes of k of a row is broadcast and
 * multiplied with the panel's 64 bytes of that group (qgemm.c's layout),
 * then the AVX2 kernel's epilogue.  The same integers as every int8
 * kernel, so the same bits.
 *
 * Where the CPU lacks AVX-VNNI the test build compiles this file again
 * with SEQCLS_AVXVNNI_AS_EVEX: the same source with the instruction in
 * its EVEX form (AVX512-VNNI with VL: the same operation, Intel SDM
 * VPDPBUSD), named qgemm_avxvnni_int8_evex, which tests/test_internal_quant.c
 * compares with the other kernels on CPUs with AVX512-VNNI.
 */
#include "qgemm_kernel.h"

#ifdef Q_X86

#ifdef SEQCLS_AVXVNNI_AS_EVEX
#define KERNEL_NAME qgemm_avxvnni_int8_evex
#define KERNEL_TARGET __attribute__((target("avx2,fma,avx512f,avx512vl,avx512vnni")))
#define DPBUSD256 _mm256_dpbusd_epi32
#define DPBUSD256_ASM "%{evex%} vpdpbusd"   /* %{ %}: braces in an asm template */
#else
#define KERNEL_NAME qgemm_avxvnni_int8
#define KERNEL_TARGET __attribute__((target("avx2,fma,avxvnni")))
#define DPBUSD256 _mm256_dpbusd_avx_epi32
#define DPBUSD256_ASM "%{vex%} vpdpbusd"
#endif

#define MRV 6

/* acc += a (unsigned bytes) . w (signed bytes), four to a lane.  As with
 * the AVX512-VNNI kernel (qgemm.c's dpbusd), GCC 12 copies the
 * intrinsic's accumulators between registers and to the stack on every
 * use; an in-place asm operand keeps each in its register.  The asm names
 * its encoding, which the two builds of this file differ by. */
static inline KERNEL_TARGET __attribute__((always_inline)) __m256i dpbusd256(__m256i acc, __m256i a,
                                                                            __m256i w)
{
#if defined(__GNUC__) && !defined(__clang__)
    __asm__(DPBUSD256_ASM " %2, %1, %0" : "+x"(acc) : "x"(a), "x"(w));
    return acc;
#else
    return DPBUSD256(acc, a, w);
#endif
}

static inline KERNEL_TARGET __attribute__((always_inline)) void
avxvnni_rows(const int mr, int half, int n, const qk_t *o, int i0)
{
    const int groups = o->w->Kp / 4, c0 = half * 16;
    const int8_t *p = (const int8_t *)o->panel + half * 64;
    __m256i acc[MRV][2];
    int8_half_t h;
    int i, g;
#pragma GCC unroll 6
    for (i = 0; i < mr; i++)
        acc[i][0] = acc[i][1] = _mm256_setzero_si256();
    for (g = 0; g < groups; g++, p += QNR * 4) {
        const __m256i w0 = _mm256_loadu_si256((const __m256i *)(const void *)p);
        const __m256i w1 = _mm256_loadu_si256((const __m256i *)(const void *)(p + 32));
#pragma GCC unroll 6
        for (i = 0; i < mr; i++) {
            const __m256i a = _mm256_set1_epi32(act_group(o, i0 + i, g));
            acc[i][0] = dpbusd256(acc[i][0], a, w0);
            acc[i][1] = dpbusd256(acc[i][1], a, w1);
        }
    }
    int8_half_avx2(o, c0, n, &h);
#pragma GCC unroll 6
    for (i = 0; i < mr; i++)
        int8_store16_avx2(o, &h, i0 + i, c0, n, acc[i][0], acc[i][1]);
}

KERNEL_TARGET void KERNEL_NAME(int M, int n, const qk_t *o)
{
    int half, i;
    for (half = 0; half < 2 && 16 * half < n; half++) {
        for (i = 0; i + MRV <= M; i += MRV)
            avxvnni_rows(MRV, half, n, o, i);
        switch (M - i) {
        case 5: avxvnni_rows(5, half, n, o, i); break;
        case 4: avxvnni_rows(4, half, n, o, i); break;
        case 3: avxvnni_rows(3, half, n, o, i); break;
        case 2: avxvnni_rows(2, half, n, o, i); break;
        case 1: avxvnni_rows(1, half, n, o, i); break;
        default: break;
        }
    }
}

#endif
