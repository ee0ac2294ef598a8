/*
 * test_internal_quant.c -- the int8 and bfloat16 products (src/qgemm.c)
 * with every kernel set the CPU has: int8 gives the same bits with the
 * portable C, SSE2, AVX2, AVX-VNNI (on CPUs with AVX512-VNNI, in its EVEX
 * form) and AVX512-VNNI kernels (one and two operands, bias,
 * every edge of the row and column blocks, strides wider than C, nothing
 * written outside C, nothing read past the activations) and matches an
 * exact integer reference; bfloat16's portable kernel gives AVX512-BF16's
 * bits.  The AMX kernels (src/qgemm_amx.c) run on the CPU's tiles when it
 * has them and everywhere on a model of the tiles (tests/amx_model.c):
 * int8 the same bits, bfloat16 within the rounding of a float sum (it
 * orders a pair's products differently); and qgemm's check of an AMX
 * kernel before its first use refuses a kernel wrong in one element.
 * And whole quantised models
 * (BiLSTM, BiGRU reset-before, dense) give the same probabilities bit
 * for bit with the portable and AVX2 kernel sets (int8), and within
 * 2e-6 with AVX-512, whose float32 sigmoid and tanh (rnn_math.c, the
 * cell's nonlinearities, which stay float32) round differently.
 *
 * And the memory of a model that only predicts: a loaded model's large
 * gradients are pages never touched, and a quantised model's load never
 * keeps float32 copies of its quantised weights.
 *
 * This runner links the library's objects directly (internal functions).
 */
#define _DEFAULT_SOURCE 1   /* mincore */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"
#include "qgemm_kernel.h"
#include "testutil.h"
#ifdef Q_X86
#include "amx_model.h"
#endif

#define GUARD 12345.0f

static float frand(uint64_t *s, float lo, float hi)
{
    return lo + (hi - lo) * (float)tu_uniform(s);
}

/* The exact result of one element for an int8 operand, in double. */
static double int8_ref(const qmat_t *w, const unsigned char *act, float sa, int n)
{
    int64_t acc = 0;
    int k;
    for (k = 0; k < w->K; k++)
        acc += ((int64_t)act[k] - 128) * (int8_t)qmat_get(w, n, k);
    return (double)(float)acc * (double)(sa * w->scale[n]);
}

/* n bytes that end where an unreadable page begins: a kernel reading
 * past the activations' last row faults (tile loads read whole rows). */
static unsigned char *guarded_alloc(size_t n)
{
    const size_t page = (size_t)sysconf(_SC_PAGESIZE), span = (n + page - 1) / page * page;
    unsigned char *base = mmap(NULL, span + page, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(base, MAP_FAILED);
    ck_assert_int_eq(mprotect(base + span, page, PROT_NONE), 0);
    return base + span - n;
}

static void guarded_free(unsigned char *p, size_t n)
{
    const size_t page = (size_t)sysconf(_SC_PAGESIZE), span = (n + page - 1) / page * page;
    if (p)
        munmap(p + n - span, span + page);
}

/* The exact value of element (i, n) of a bfloat16 product (double holds
 * every product and these sums), and the sum of the terms' magnitudes. */
static double bf16_ref(const qmat_t *w, const unsigned char *act, int n, double *mag)
{
    const uint16_t *a = (const uint16_t *)(const void *)act;
    double sum = 0;
    int k;
    for (k = 0; k < w->K; k++) {
        const double t = (double)qmat_bf16_float(a[k]) * (double)qmat_bf16_float(qmat_get(w, n, k));
        sum += t;
        *mag += fabs(t);
    }
    return sum;
}

/* A bfloat16 product by a kernel that sums in another order (AMX): each
 * element within the rounding of a float sum of its terms (K + K2 + 1
 * additions, each within 2^-24 of their magnitudes' sum). */
static void check_bf16_bound(const float *C, int ldc, int M, int N, const qop_t *ops, int nops,
                             const float *bias, const char *what)
{
    int i, j, p;
    for (i = 0; i < M; i++)
        for (j = 0; j < N; j++) {
            double mag = bias ? fabs(bias[j]) : 0, want = bias ? bias[j] : 0;
            int terms = bias ? 1 : 0;
            for (p = 0; p < nops; p++) {
                want += bf16_ref(ops[p].w, (const unsigned char *)ops[p].act +
                                               (size_t)i * qmat_act_bytes(ops[p].w),
                                 j, &mag);
                terms += ops[p].w->Kp;
            }
            ck_assert_msg(fabs(C[(size_t)i * ldc + j] - want) <=
                              1.01 * terms * 0x1p-24 * mag + 1e-30,
                          "bf16 %s M=%d N=%d: [%d,%d] %.9g vs exact %.9g (sum of |terms| %g)",
                          what, M, N, i, j, (double)C[(size_t)i * ldc + j], want, mag);
        }
}

/* The AVX-VNNI kernel built with the instruction's EVEX form (the
 * Makefile; src/qgemm_avxvnni.c), for CPUs with AVX512-VNNI. */
void qgemm_avxvnni_int8_evex(int M, int n, const qk_t *o);

/* The kernel sets check_all_kernels runs: the instruction sets without
 * AMX, then AMX (when this CPU has it), then the AMX kernels on the model
 * of the tiles (tests/amx_model.c; the model's epilogue is AVX-512's),
 * then the AVX-VNNI kernel in its EVEX form (int8), then the portable C
 * kernels (what other architectures run; x86-64's int8 is SSE2's). */
enum { SET_AVX512 = CPU_AVX512, SET_AMX, SET_AMX_MODEL, SET_AVXVNNI_EVEX, SET_PORTABLE_C, SETS };

static int use_set(int set, int mode)
{
    if (set <= SET_AVX512 || set == SET_PORTABLE_C) {
        cpu_set_amx(0);
        if (set == SET_PORTABLE_C)
            return cpu_set_isa(CPU_PORTABLE) == CPU_PORTABLE;
        return cpu_set_isa(set) == set;
    }
    cpu_set_amx(1);
    if (cpu_set_isa(CPU_AVX512) != CPU_AVX512 || !cpu_has(CPU_FEAT_BWVL))
        return 0;
    if (set == SET_AMX)
        return cpu_has_amx(mode == QMODE_INT8 ? CPU_AMX_INT8 : CPU_AMX_BF16);
    if (set == SET_AVXVNNI_EVEX)
        return mode == QMODE_INT8 && cpu_has(CPU_FEAT_VNNI);
#ifdef Q_X86
    return 1;
#else
    return 0;
#endif
}

static void run_set(int set, int M, int nops, const qop_t *ops, const float *bias, float *C,
                    int ldc)
{
#ifdef Q_X86
    if (set == SET_AMX_MODEL) {
        qgemm_run(ops[0].w->mode == QMODE_INT8 ? qgemm_amx_int8_model : qgemm_amx_bf16_model, M,
                  nops, ops, bias, C, ldc);
        ck_assert_msg(!amx_model_configured(), "the AMX kernel did not release the tiles");
        return;
    }
    if (set == SET_AVXVNNI_EVEX) {
        qgemm_run(qgemm_avxvnni_int8_evex, M, nops, ops, bias, C, ldc);
        return;
    }
#endif
    if (set == SET_PORTABLE_C) {
        qgemm_run(qgemm_portable_fn(ops[0].w->mode), M, nops, ops, bias, C, ldc);
        return;
    }
    qgemm(M, nops, ops, bias, C, ldc);
}

static const char *set_name(int set, int mode)
{
    if (set == SET_AMX_MODEL)
        return mode == QMODE_INT8 ? "amx-int8 (model)" : "amx-bf16 (model)";
    return set == SET_AVXVNNI_EVEX ? "avx-vnni (EVEX)"
           : set == SET_PORTABLE_C ? "portable C"
                                   : qgemm_kernel_name(mode);
}

/* Run qgemm with every kernel set; all must give the same bits (bfloat16
 * on AMX: within the bound of a float sum).  Returns the number of
 * kernel sets tried. */
static int check_all_kernels(int mode, int M, int N, int K, int K2, int bias, uint64_t seed)
{
    const int ldc = N + 3;
    qmat_t w1, w2;
    float *A = malloc(sizeof(float) * (size_t)M * K), *A2 = malloc(sizeof(float) * (size_t)M * (K2 ? K2 : 1));
    float *W = malloc(sizeof(float) * (size_t)N * K), *W2 = malloc(sizeof(float) * (size_t)N * (K2 ? K2 : 1));
    float *b = malloc(sizeof(float) * (size_t)N), *C0 = malloc(sizeof(float) * (size_t)M * ldc);
    float *C = malloc(sizeof(float) * (size_t)M * ldc);
    unsigned char *a1, *a2;
    size_t n1, n2;
    float *s1 = malloc(sizeof(float) * (size_t)M), *s2 = malloc(sizeof(float) * (size_t)M);
    qop_t ops[2];
    int set, tried = 0, i, j;
    memset(ops, 0, sizeof ops);
    size_t k;
    for (k = 0; k < (size_t)M * K; k++)
        A[k] = frand(&seed, -3, 3);
    for (k = 0; k < (size_t)N * K; k++)
        W[k] = frand(&seed, -1, 1);
    for (k = 0; k < (size_t)M * K2; k++)
        A2[k] = frand(&seed, -1, 1);
    for (k = 0; k < (size_t)N * K2; k++)
        W2[k] = frand(&seed, -0.5f, 0.5f);
    for (k = 0; k < (size_t)N; k++)
        b[k] = frand(&seed, -1, 1);
    if (M > 2)   /* a row of zeros: scale 0 */
        memset(A + (size_t)K, 0, sizeof(float) * (size_t)K);
    ck_assert_int_eq(qmat_alloc(&w1, mode, N, K, 0), SEQCLS_OK);
    qmat_quantize(&w1, W);
    if (K2) {
        ck_assert_int_eq(qmat_alloc(&w2, mode, N, K2, 0), SEQCLS_OK);
        qmat_quantize(&w2, W2);
    }
    n1 = qmat_act_bytes(&w1) * (size_t)M;
    n2 = K2 ? qmat_act_bytes(&w2) * (size_t)M : 0;
    a1 = guarded_alloc(n1);
    a2 = K2 ? guarded_alloc(n2) : NULL;
    for (set = CPU_PORTABLE; set < SETS; set++) {
        if (!use_set(set, mode))
            continue;
        qact(&w1, M, A, K, a1, s1);
        if (K2)
            qact(&w2, M, A2, K2, a2, s2);
        ops[0].w = &w1;
        ops[0].act = a1;
        ops[0].sa = s1;
        ops[1].w = &w2;
        ops[1].act = a2;
        ops[1].sa = s2;
        for (i = 0; i < M; i++)
            for (j = 0; j < ldc; j++)
                C[(size_t)i * ldc + j] = GUARD;
        run_set(set, M, K2 ? 2 : 1, ops, bias ? b : NULL, C, ldc);
        for (i = 0; i < M; i++)
            for (j = N; j < ldc; j++)
                ck_assert_msg(C[(size_t)i * ldc + j] == GUARD, "wrote outside C");
        if (tried == 0) {
            memcpy(C0, C, sizeof(float) * (size_t)M * ldc);
            /* the portable kernel against the exact reference */
            if (mode == QMODE_INT8)
                for (i = 0; i < M; i++)
                    for (j = 0; j < N; j++) {
                        double want = int8_ref(&w1, a1 + i * qmat_act_bytes(&w1), s1[i], j);
                        if (K2)
                            want += int8_ref(&w2, a2 + i * qmat_act_bytes(&w2), s2[i], j);
                        if (bias)
                            want += b[j];
                        ck_assert_msg(fabs(C[(size_t)i * ldc + j] - want) <= 1e-5 * (1 + fabs(want)),
                                      "int8 M=%d N=%d K=%d: [%d,%d] %g vs %g", M, N, K, i, j,
                                      (double)C[(size_t)i * ldc + j], want);
                    }
        } else if (mode == QMODE_BF16 && set >= SET_AMX) {
            check_bf16_bound(C, ldc, M, N, ops, K2 ? 2 : 1, bias ? b : NULL, set_name(set, mode));
        } else {
            ck_assert_msg(memcmp(C, C0, sizeof(float) * (size_t)M * ldc) == 0,
                          "mode %d M=%d N=%d K=%d K2=%d: kernel set %d (%s) differs from the "
                          "portable one",
                          mode, M, N, K, K2, set, set_name(set, mode));
        }
        tried++;
    }
    cpu_set_isa(-1);
    cpu_set_amx(-1);
    qmat_free(&w1);
    if (K2)
        qmat_free(&w2);
    free(A);
    free(A2);
    free(W);
    free(W2);
    free(b);
    free(C0);
    free(C);
    guarded_free(a1, n1);
    guarded_free(a2, n2);
    free(s1);
    free(s2);
    return tried;
}

START_TEST(int8_is_the_same_with_every_kernel_set)
{
    /* 32, 33, 70: whole blocks of the AMX kernels' 32 rows, and past them */
    static const int Ms[] = {1, 2, 3, 7, 8, 9, 17, 32, 33, 70};
    static const int Ns[] = {1, 5, 16, 17, 31, 32, 33, 64, 100};
    static const int Ks[] = {1, 3, 4, 5, 64, 130};
    size_t a, b, c;
    int tried = 0;
    uint64_t seed = 1;
    for (a = 0; a < sizeof Ms / sizeof Ms[0]; a++)
        for (b = 0; b < sizeof Ns / sizeof Ns[0]; b++)
            for (c = 0; c < sizeof Ks / sizeof Ks[0]; c++) {
                tried = check_all_kernels(QMODE_INT8, Ms[a], Ns[b], Ks[c], 0, (int)(c & 1), seed++);
                check_all_kernels(QMODE_INT8, Ms[a], Ns[b], Ks[c], Ks[(c + 2) % 6], 1, seed++);
            }
    /* K above the portable kernel's exact float partial sums (512) */
    check_all_kernels(QMODE_INT8, 5, 40, 1100, 600, 1, seed++);
    check_all_kernels(QMODE_BF16, 5, 40, 1100, 0, 1, seed++);
    printf("  int8 products: %d kernel sets, the AMX model's and AVX-VNNI's included (best: %s), "
           "bit-identical\n",
           tried, qgemm_kernel_name(QMODE_INT8));
}
END_TEST

#ifdef Q_X86
/* The AMX kernels on the model with one result wrong by one ulp (int8)
 * or by 0.01 (bfloat16: beyond the order of its sums). */
static void amx_int8_one_ulp_off(int M, int n, const qk_t *o)
{
    qgemm_amx_int8_model(M, n, o);
    o->C[0] = nextafterf(o->C[0], INFINITY);
}

static void amx_bf16_off(int M, int n, const qk_t *o)
{
    qgemm_amx_bf16_model(M, n, o);
    o->C[0] += 0.01f;
}
#endif

/* qgemm trusts an AMX kernel only after it agreed with the AVX-512 one on
 * a small product (qgemm_kernels_agree): the kernels on the model agree
 * with every other kernel set's; a kernel wrong in one element does not. */
START_TEST(amx_kernels_are_checked_before_their_first_use)
{
#ifdef Q_X86
    int set, mode;
    for (set = CPU_PORTABLE; set <= SET_AVX512; set++) {
        if (!use_set(set, QMODE_INT8) || !cpu_has(CPU_FEAT_BWVL))
            continue;
        for (mode = QMODE_INT8; mode <= QMODE_BF16; mode++)
            ck_assert_msg(qgemm_kernels_agree(mode == QMODE_INT8 ? qgemm_amx_int8_model
                                                                  : qgemm_amx_bf16_model,
                                              qgemm_kernel_fn(mode), mode),
                          "the AMX model disagrees with %s", qgemm_kernel_name(mode));
        ck_assert(!qgemm_kernels_agree(amx_int8_one_ulp_off, qgemm_kernel_fn(QMODE_INT8),
                                       QMODE_INT8));
        ck_assert(!qgemm_kernels_agree(amx_bf16_off, qgemm_kernel_fn(QMODE_BF16), QMODE_BF16));
    }
    cpu_set_isa(-1);
    cpu_set_amx(-1);
#endif
}
END_TEST

START_TEST(bf16_portable_gives_the_avx512_bits)
{
    static const int Ms[] = {1, 3, 8, 13, 32, 45};
    static const int Ns[] = {1, 16, 17, 32, 50};
    static const int Ks[] = {1, 2, 7, 64, 129};
    size_t a, b, c;
    int tried = 0;
    uint64_t seed = 9;
    for (a = 0; a < sizeof Ms / sizeof Ms[0]; a++)
        for (b = 0; b < sizeof Ns / sizeof Ns[0]; b++)
            for (c = 0; c < sizeof Ks / sizeof Ks[0]; c++) {
                tried = check_all_kernels(QMODE_BF16, Ms[a], Ns[b], Ks[c], 0, 1, seed++);
                check_all_kernels(QMODE_BF16, Ms[a], Ns[b], Ks[c], Ks[(c + 1) % 5], 0, seed++);
            }
    printf("  bf16 products: best kernel %s, the portable one gives its bits\n",
           qgemm_kernel_name(QMODE_BF16));
    (void)tried;
}
END_TEST

/* qact alone: every kernel set quantises rows to the same bytes and
 * scales, for row counts below, at and past a group of 16 (the AVX-512
 * int8 quantiser takes 16 rows at a time) and row widths below, at and
 * past a block of 64 values (32 for bfloat16); with a row of zeros, one
 * below 1e-30 and one of large values. */
START_TEST(activations_quantise_alike_with_every_kernel_set)
{
    static const int Ms[] = {1, 15, 16, 37}, Ks[] = {5, 32, 64, 70, 128, 131};
    uint64_t seed = 99;
    int mode, a, c, isa;
    for (mode = QMODE_INT8; mode <= QMODE_BF16; mode++)
        for (a = 0; a < 4; a++)
            for (c = 0; c < 6; c++) {
                const int M = Ms[a], K = Ks[c], lda = K + 3;
                qmat_t w;
                float *A = malloc(sizeof(float) * (size_t)M * lda);
                unsigned char *act0, *act;
                float s0[37], s[37];
                size_t bytes;
                int i, tried = 0;
                ck_assert_int_eq(qmat_alloc(&w, mode, 8, K, 0), SEQCLS_OK);
                bytes = qmat_act_bytes(&w) * (size_t)M;
                act0 = malloc(bytes);
                act = malloc(bytes);
                for (i = 0; i < M * lda; i++)
                    A[i] = frand(&seed, -4, 4);
                if (M > 3) {
                    memset(A + lda, 0, sizeof(float) * (size_t)K);
                    for (i = 0; i < K; i++) {
                        A[2 * lda + i] = frand(&seed, -1e-31f, 1e-31f);
                        A[3 * lda + i] = frand(&seed, -3e30f, 3e30f);
                    }
                }
                for (isa = CPU_PORTABLE; isa <= CPU_AVX512; isa++) {
                    if (cpu_set_isa(isa) != isa)
                        continue;
                    memset(act, 0xa5, bytes);
                    qact(&w, M, A, lda, act, s);
                    if (tried++ == 0) {
                        memcpy(act0, act, bytes);
                        memcpy(s0, s, sizeof(float) * (size_t)M);
                        continue;
                    }
                    ck_assert_msg(memcmp(act, act0, bytes) == 0,
                                  "mode %d M=%d K=%d: kernel set %d quantises otherwise", mode, M,
                                  K, isa);
                    if (mode == QMODE_INT8)
                        ck_assert_msg(memcmp(s, s0, sizeof(float) * (size_t)M) == 0,
                                      "M=%d K=%d: kernel set %d scales otherwise", M, K, isa);
                }
                cpu_set_isa(-1);
                qmat_free(&w);
                free(A);
                free(act0);
                free(act);
            }
}
END_TEST

START_TEST(bf16_rounding)
{
    ck_assert_int_eq(qmat_bf16(1.0f), 0x3f80);
    ck_assert_int_eq(qmat_bf16(-2.0f), 0xc000);
    /* 1 + 2^-8 is halfway between two bfloat16 values: to even (1.0) */
    ck_assert_int_eq(qmat_bf16(1.00390625f), 0x3f80);
    /* 1 + 3 * 2^-8: halfway again, to even (1 + 2^-6) */
    ck_assert_int_eq(qmat_bf16(1.01171875f), 0x3f82);
    ck_assert(qmat_bf16_float(qmat_bf16(3.140625f)) == 3.140625f);
}
END_TEST

/* Whole models: the same probabilities with every kernel set (int8). */
START_TEST(int8_models_are_the_same_with_every_kernel_set)
{
    enum { BB = 9, TT = 23 };
    int arch, isa;
    double worst = 0;
    for (arch = 0; arch < 3; arch++) {
        seqcls_model_t *m = NULL;
        seqcls_tensor_t *x = tu_tensor(SEQCLS_F32, 3, BB, TT, 5), *p = tu_tensor(SEQCLS_F32, 2, BB, 4, 0);
        float *first = malloc(sizeof(float) * BB * 4);
        int32_t len[BB];
        int b, tried = 0;
        for (b = 0; b < BB; b++)
            len[b] = 1 + (b * 5) % TT;
        tu_fill_real(x, -2, 2, 3 + (uint64_t)arch);
        OK(seqcls_model_create(&m, 5));
        OK(seqcls_add_input(m, 5, NULL));
        if (arch == 0) {
            OK(seqcls_add_lstm(m, 24, SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES, NULL));
            OK(seqcls_add_lstm(m, 17, 0, NULL));
        } else if (arch == 1) {
            OK(seqcls_add_gru(m, 21, SEQCLS_BIDIRECTIONAL | SEQCLS_GRU_RESET_BEFORE, NULL));
        } else {
            OK(seqcls_add_gru(m, 33, SEQCLS_RETURN_SEQUENCES, NULL));
            OK(seqcls_add_dense(m, 40, SEQCLS_ACT_RELU, NULL));
            OK(seqcls_add_pooling(m, SEQCLS_POOL_MEAN, NULL));
        }
        OK(seqcls_add_output(m, 4, NULL));
        OK(seqcls_model_quantize(m, SEQCLS_INT8));
        for (isa = CPU_PORTABLE; isa <= CPU_AVX512; isa++) {
            if (cpu_set_isa(isa) != isa)
                continue;
            OK(seqcls_predict(m, x, len, p, NULL));
            if (tried++ == 0) {
                memcpy(first, seqcls_tensor_data(p), sizeof(float) * BB * 4);
            } else if (isa < CPU_AVX512) {
                ck_assert_msg(memcmp(first, seqcls_tensor_data(p), sizeof(float) * BB * 4) == 0,
                              "model %d: kernel set %d differs", arch, isa);
            } else {
                /* the float32 parts: the AVX-512 quick sigmoid and tanh
                 * of quantised cells take vrcp14ps's reciprocal (2^-14),
                 * the portable ones a division (rnn_math.c) */
                const float *q = seqcls_tensor_data(p);
                double d = 0;
                for (b = 0; b < BB * 4; b++)
                    d = fabs((double)q[b] - first[b]) > d ? fabs((double)q[b] - first[b]) : d;
                ck_assert_msg(d < 5e-4, "model %d: AVX-512 differs by %g", arch, d);
                if (d > worst)
                    worst = d;
            }
        }
        cpu_set_isa(-1);
        free(first);
        seqcls_tensor_free(x);
        seqcls_tensor_free(p);
        seqcls_model_free(m);
    }
    printf("  int8 models: portable and AVX2 bit-identical; AVX-512 (quick sigmoid/tanh) "
           "within %.2g\n", worst);
}
END_TEST

/* How many of the pages of [p, p + bytes) are resident. */
static size_t resident_pages(const void *p, size_t bytes)
{
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    const uintptr_t a = (uintptr_t)p / page * page;
    const size_t n = ((uintptr_t)p + bytes - a + page - 1) / page;
    unsigned char *vec = malloc(n);
    size_t i, r = 0;
    ck_assert_ptr_nonnull(vec);
    ck_assert_int_eq(mincore((void *)a, n * page, vec), 0);
    for (i = 0; i < n; i++)
        r += vec[i] & 1;
    free(vec);
    return r;
}

/* A 4 MB embedding table: its gradient is allocated (training may come)
 * but, untouched, takes no memory; quantised, the loaded model holds the
 * int8 table only. */
START_TEST(unused_gradients_and_replaced_weights_take_no_memory)
{
    seqcls_model_t *m = NULL, *f = NULL, *q = NULL;
    void *buf = NULL;
    size_t len = 0;
    const param_t *P;
    ck_assert_int_eq(seqcls_model_create(&m, 3), SEQCLS_OK);
    ck_assert_int_eq(seqcls_add_embedding(m, 4096, 256, 0, NULL), SEQCLS_OK);
    ck_assert_int_eq(seqcls_add_lstm(m, 32, 0, NULL), SEQCLS_OK);
    ck_assert_int_eq(seqcls_add_output(m, 2, NULL), SEQCLS_OK);
    ck_assert_int_eq(seqcls_model_save_buffer(m, &buf, &len), SEQCLS_OK);
    ck_assert_int_eq(seqcls_model_load_buffer(&f, buf, len), SEQCLS_OK);
    seqcls_free(buf);
    P = &f->params[0];   /* the table */
    ck_assert_int_eq(P->grad->owns, TENSOR_PAGES);
    ck_assert_int_eq(P->value->owns, TENSOR_PAGES);
    ck_assert_uint_eq(resident_pages(P->grad->data, P->grad->numel * sizeof(real)), 0);
    ck_assert_uint_gt(resident_pages(P->value->data, P->value->numel * sizeof(real)), 0);

    ck_assert_int_eq(seqcls_model_quantize(m, SEQCLS_INT8), SEQCLS_OK);
    ck_assert_ptr_null(m->params[0].value->data);
    ck_assert_int_eq(seqcls_model_save_buffer(m, &buf, &len), SEQCLS_OK);
    ck_assert_int_eq(seqcls_model_load_buffer(&q, buf, len), SEQCLS_OK);
    seqcls_free(buf);
    ck_assert_ptr_null(q->params[0].value->data);
    ck_assert_ptr_null(q->params[0].grad->data);
    ck_assert_int_eq(seqcls_model_precision(q), SEQCLS_INT8);
    seqcls_model_free(q);
    seqcls_model_free(f);
    seqcls_model_free(m);
}
END_TEST

Suite *internal_quant_suite(void)
{
    Suite *s = suite_create("quantised kernels (internal)");
    TCase *tc = tcase_create("qgemm");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, int8_is_the_same_with_every_kernel_set);
    tcase_add_test(tc, bf16_portable_gives_the_avx512_bits);
    tcase_add_test(tc, amx_kernels_are_checked_before_their_first_use);
    tcase_add_test(tc, bf16_rounding);
    tcase_add_test(tc, activations_quantise_alike_with_every_kernel_set);
    tcase_add_test(tc, int8_models_are_the_same_with_every_kernel_set);
    tcase_add_test(tc, unused_gradients_and_replaced_weights_take_no_memory);
    suite_add_tcase(s, tc);
    return s;
}
