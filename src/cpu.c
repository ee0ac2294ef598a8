/*
 * cpu.c -- which instruction sets the hand-written kernels use (pgemm.c,
 * rnn_math.c): the best the CPU has, checked once at run time, unless the
 * environment variable SEQCLS_MAX_CPU_ISA (portable, avx2, avx512, amx) lowers
 * it, as oneDNN's ONEDNN_MAX_CPU_ISA does (the AVX-512 extensions the int8
 * and bfloat16 kernels use, VNNI and BF16, come with avx512 only; avx2
 * gives their AVX2 or portable kernels, AVX-VNNI's too).  AMX tiles (qgemm_amx.c) come
 * above avx512: the default, or SEQCLS_MAX_CPU_ISA=amx, uses them when
 * present; avx512 and below exclude them.  The compiler-vectorised loops
 * marked SEQCLS_VECTORISED pick their own clone when the library loads.
 */
#define _GNU_SOURCE 1   /* syscall */
#include "internal.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) && defined(__linux__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#define CPU_CPUID_PROBE 1   /* AMX and AVX-VNNI, read with cpuid */
#endif

static atomic_int chosen = -1;   /* -1: not chosen yet */
static atomic_int amx_allowed = -1;   /* -1: as the environment says */

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
#ifdef CPU_CPUID_PROBE
        {   /* AVX-VNNI: CPUID 7.1 EAX bit 4 (GCC 12 cannot name it) */
            unsigned a, b, c, d;
            if (__builtin_cpu_supports("avx2") && __get_cpuid_count(7, 1, &a, &b, &c, &d) &&
                (a & (1u << 4)))
                bits |= CPU_FEAT_AVXVNNI;
        }
#endif
        atomic_store_explicit(&known, bits, memory_order_relaxed);
    }
    return (bits & feature) != 0;
}

#ifdef CPU_CPUID_PROBE
/* Linux (5.16 and later) gives a process the 8 KiB of tile state only when
 * asked (Documentation/arch/x86/xstate.rst); without it the first tile
 * instruction kills the process.  Bits of CPUID 7.0 EDX: 22 AMX-BF16, 24
 * AMX-TILE, 25 AMX-INT8; XCR0 bits 17 and 18 (XTILECFG, XTILEDATA) say
 * the kernel manages the state. */
#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

static int amx_probe(void)
{
    unsigned a, b, c, d, lo, hi;
    int bits = 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(d & (1u << 24)))
        return 0;
    if (!__get_cpuid(1, &a, &b, &c, &lo) || !(c & (1u << 27)))   /* OSXSAVE */
        return 0;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & (3u << 17)) != (3u << 17))
        return 0;
    if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0)
        return 0;
    if (d & (1u << 25))
        bits |= CPU_AMX_INT8;
    if (d & (1u << 22))
        bits |= CPU_AMX_BF16;
    return bits;
}
#endif

static int amx_env_allows(void)
{
    const char *env = getenv("SEQCLS_MAX_CPU_ISA");
    return !env || (strcmp(env, "portable") != 0 && strcmp(env, "avx2") != 0 &&
                    strcmp(env, "avx512") != 0);
}

int cpu_set_amx(int allow)
{
    atomic_store(&amx_allowed, allow < 0 ? amx_env_allows() : allow != 0);
    return atomic_load(&amx_allowed);
}

int cpu_has_amx(int feature)
{
    static atomic_int known = -1;   /* bits of CPU_AMX_*: present and permitted */
    int bits = atomic_load_explicit(&known, memory_order_relaxed);
    int allowed = atomic_load_explicit(&amx_allowed, memory_order_relaxed);
    if (allowed < 0) {
        allowed = amx_env_allows();
        atomic_store_explicit(&amx_allowed, allowed, memory_order_relaxed);
    }
    if (!allowed)
        return 0;
    if (bits < 0) {
        bits = 0;
#ifdef CPU_CPUID_PROBE
        bits = amx_probe();
#endif
        atomic_store_explicit(&known, bits, memory_order_relaxed);
    }
    return (bits & feature) != 0;
}
