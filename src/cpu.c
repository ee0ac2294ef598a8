/*
 * cpu.c -- which instruction sets the hand-written kernels use (pgemm.c,
 * rnn_math.c): the best the CPU has, checked once at run time, unless the
 * environment variable SEQCLS_MAX_CPU_ISA (portable, avx2 or avx512) lowers
 * it, as oneDNN's ONEDNN_MAX_CPU_ISA does (the AVX-512 extensions the int8
 * and bfloat16 kernels use, VNNI and BF16, come with avx512 only; avx2
 * gives their AVX2 or portable kernels).  The compiler-vectorised loops
 * marked SEQCLS_VECTORISED pick their own clone when the library loads.
 */
#include "internal.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static atomic_int chosen = -1;   /* -1: not chosen yet */

static int cpu_best(void)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f"))
        return CPU_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return CPU_AVX2;
#endif
    return CPU_PORTABLE;
}

static int cpu_default(void)
{
    const char *env = getenv("SEQCLS_MAX_CPU_ISA");
    int isa = cpu_best();
    if (env && strcmp(env, "portable") == 0)
        isa = CPU_PORTABLE;
    else if (env && strcmp(env, "avx2") == 0 && isa > CPU_AVX2)
        isa = CPU_AVX2;
    return isa;
}

int cpu_isa(void)
{
    int isa = atomic_load_explicit(&chosen, memory_order_relaxed);
    if (isa < 0) {
        isa = cpu_default();
        atomic_store_explicit(&chosen, isa, memory_order_relaxed);
    }
    return isa;
}

int cpu_set_isa(int isa)
{
    const int best = cpu_best();
    if (isa < 0)
        isa = cpu_default();
    if (isa > best)
        isa = best;
    atomic_store(&chosen, isa);
    return isa;
}

int cpu_has(int feature)
{
    static atomic_int known = -1;   /* bits of the features the CPU has */
    int bits = atomic_load_explicit(&known, memory_order_relaxed);
    if (bits < 0) {
        bits = 0;
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
            __builtin_cpu_supports("avx512vnni"))
            bits |= CPU_FEAT_VNNI;
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
            __builtin_cpu_supports("avx512bf16"))
            bits |= CPU_FEAT_BF16;
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
            __builtin_cpu_supports("avx512vl"))
            bits |= CPU_FEAT_BWVL;
#endif
        atomic_store_explicit(&known, bits, memory_order_relaxed);
    }
    return (bits & feature) != 0;
}
