/*
 * test_internal_kernels.c -- the hand-written kernels, with every kernel
 * set the CPU has (src/cpu.c).  The packed products of the recurrent
 * layers (src/pgemm.c) against a plain double reference: all edge sizes
 * of the row and column blocks, both packings, both betas, with and
 * without a bias, strides wider than the matrices, and nothing written
 * outside C; the same for two operands summed in one pass and for
 * C += A^T B.  The property the threaded recurrent loops rely on: a row's
 * result is the same bits whatever block it is computed in.  A whole
 * bidirectional LSTM and GRU give the same outputs and gradients with each
 * kernel set, up to FMA rounding.  And the cells' sigmoid and tanh
 * (src/rnn_math.c) against libm.
 *
 * This runner links the library's objects directly (internal functions).
 */
#define _POSIX_C_SOURCE 200809L   /* setenv */
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"
#include "testutil.h"

#define GUARD 12345.0f

/* Columns [N, ldc) of each of C's M rows: set to GUARD before a product,
 * then checked untouched. */
static void set_guard(float *C, int M, int N, int ldc)
{
    int i, j;
    for (i = 0; i < M; i++)
        for (j = N; j < ldc; j++)
            C[(size_t)i * ldc + j] = GUARD;
}

static void assert_guard(const float *C, int M, int N, int ldc, const char *what)
{
    int i, j;
    for (i = 0; i < M; i++)
        for (j = N; j < ldc; j++)
            ck_assert_msg(C[(size_t)i * ldc + j] == GUARD, "%s M=%d N=%d: wrote [%d, %d] outside C",
                          what, M, N, i, j);
}

static const char *const isa_names[] = {"portable", "avx2", "avx512"};

static void fill(float *x, size_t n, uint64_t *seed)
{
    size_t i;
    for (i = 0; i < n; i++)
        x[i] = (float)(tu_uniform(seed) * 2 - 1);
}

/* One product checked against double arithmetic; returns the worst error. */
static double check_one(int M, int N, int K, int trans, int beta, int with_bias, uint64_t *seed)
{
    const int lda = K + 3, ldb = (trans ? K : N) + 5, ldc = N + 7;
    const int brows = trans ? N : K;
    float *A = malloc(sizeof(float) * (size_t)M * lda);
    float *B = malloc(sizeof(float) * (size_t)brows * ldb);
    float *C = malloc(sizeof(float) * (size_t)M * ldc);
    float *C0 = malloc(sizeof(float) * (size_t)M * ldc);
    float *P = malloc(sizeof(float) * pgemm_packed_len(K, N));
    float *bias = malloc(sizeof(float) * (size_t)N);
    double worst = 0;
    int i, j, k;
    ck_assert(A && B && C && C0 && P && bias);
    fill(bias, (size_t)N, seed);
    fill(A, (size_t)M * lda, seed);
    fill(B, (size_t)brows * ldb, seed);
    fill(C0, (size_t)M * ldc, seed);
    set_guard(C0, M, N, ldc);
    memcpy(C, C0, sizeof(float) * (size_t)M * ldc);
    pgemm_pack(P, B, ldb, trans, K, N);
    pgemm(M, N, K, A, lda, P, beta, with_bias ? bias : NULL, C, ldc);
    for (i = 0; i < M; i++) {
        for (j = 0; j < N; j++) {
            double want = (beta ? C0[(size_t)i * ldc + j] : 0) + (with_bias ? bias[j] : 0);
            double scale = 1;
            for (k = 0; k < K; k++) {
                const double b = trans ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
                want += (double)A[(size_t)i * lda + k] * b;
                scale += fabs((double)A[(size_t)i * lda + k] * b);
            }
            if (fabs(C[(size_t)i * ldc + j] - want) / scale > worst)
                worst = fabs(C[(size_t)i * ldc + j] - want) / scale;
        }
    }
    assert_guard(C, M, N, ldc, "pgemm");
    free(A);
    free(B);
    free(C);
    free(C0);
    free(P);
    free(bias);
    return worst;
}

START_TEST(products_match_reference)
{
    static const int Ms[] = {1, 2, 5, 6, 7, 8, 9, 13, 17, 33, 200};
    static const int Ns[] = {1, 8, 15, 16, 17, 31, 32, 33, 65, 100};
    static const int Ks[] = {1, 3, 64, 130};
    uint64_t seed = 7;
    int isa, tried = 0;
    for (isa = CPU_PORTABLE; isa <= CPU_AVX512; isa++) {
        double worst = 0;
        size_t a, b, c;
        int trans, beta, with_bias;
        if (cpu_set_isa(isa) != isa)
            continue;   /* the CPU lacks it */
        tried++;
        for (a = 0; a < sizeof Ms / sizeof *Ms; a++)
            for (b = 0; b < sizeof Ns / sizeof *Ns; b++)
                for (c = 0; c < sizeof Ks / sizeof *Ks; c++)
                    for (trans = 0; trans < 2; trans++)
                        for (beta = 0; beta < 2; beta++)
                            for (with_bias = 0; with_bias < 2; with_bias++) {
                                const double e =
                                    check_one(Ms[a], Ns[b], Ks[c], trans, beta, with_bias, &seed);
                                if (e > worst)
                                    worst = e;
                            }
        printf("  pgemm %s: worst relative error %.2e\n", isa_names[isa], worst);
        ck_assert_msg(worst < 1e-6, "%s kernels: relative error %g", isa_names[isa], worst);
    }
    cpu_set_isa(-1);
    ck_assert_int_ge(tried, 1);
}
END_TEST

/* C += A^T B (pgemm_pack_t, pgemm_pack, pgemm_tn) against double
 * arithmetic; returns the worst relative error. */
static double check_tn(int M, int N, int K, uint64_t *seed)
{
    const int lda = M + 3, ldb = N + 2, ldc = N + 5;
    float *A = malloc(sizeof(float) * (size_t)K * lda), *B = malloc(sizeof(float) * (size_t)K * ldb);
    float *C = malloc(sizeof(float) * (size_t)M * ldc), *C0 = malloc(sizeof(float) * (size_t)M * ldc);
    float *At = malloc(sizeof(float) * pgemm_packed_t_len(K, M));
    float *Bp = malloc(sizeof(float) * pgemm_packed_len(K, N));
    double worst = 0;
    int i, j, k;
    ck_assert(A && B && C && C0 && At && Bp);
    fill(A, (size_t)K * lda, seed);
    fill(B, (size_t)K * ldb, seed);
    fill(C0, (size_t)M * ldc, seed);
    set_guard(C0, M, N, ldc);
    memcpy(C, C0, sizeof(float) * (size_t)M * ldc);
    pgemm_pack_t(At, A, lda, K, M);
    pgemm_pack(Bp, B, ldb, 0, K, N);
    pgemm_tn(M, N, K, At, Bp, C, ldc);
    for (i = 0; i < M; i++) {
        for (j = 0; j < N; j++) {
            double want = C0[(size_t)i * ldc + j], scale = 1 + fabs(want);
            for (k = 0; k < K; k++) {
                want += (double)A[(size_t)k * lda + i] * B[(size_t)k * ldb + j];
                scale += fabs((double)A[(size_t)k * lda + i] * B[(size_t)k * ldb + j]);
            }
            worst = fmax(worst, fabs(C[(size_t)i * ldc + j] - want) / scale);
        }
    }
    assert_guard(C, M, N, ldc, "pgemm_tn");
    free(A);
    free(B);
    free(C);
    free(C0);
    free(At);
    free(Bp);
    return worst;
}

START_TEST(transposed_products_match_reference)
{
    static const int Ms[] = {1, 5, 8, 9, 16, 23, 64};
    static const int Ns[] = {1, 17, 32, 33, 70};
    static const int Ks[] = {1, 7, 256};
    uint64_t seed = 13;
    int isa;
    for (isa = CPU_PORTABLE; isa <= CPU_AVX512; isa++) {
        double worst = 0;
        size_t a, b, c;
        if (cpu_set_isa(isa) != isa)
            continue;
        for (a = 0; a < sizeof Ms / sizeof *Ms; a++)
            for (b = 0; b < sizeof Ns / sizeof *Ns; b++)
                for (c = 0; c < sizeof Ks / sizeof *Ks; c++)
                    worst = fmax(worst, check_tn(Ms[a], Ns[b], Ks[c], &seed));
        printf("  pgemm_tn %s: worst relative error %.2e\n", isa_names[isa], worst);
        ck_assert_msg(worst < 1e-6, "%s kernels, C += A^T B: relative error %g", isa_names[isa],
                      worst);
    }
    cpu_set_isa(-1);
}
END_TEST

/* C = A Bp + A2 Bp2 + bias in one pass equals the two products added. */
START_TEST(two_operand_products_match_reference)
{
    static const int Ms[] = {1, 7, 9, 33};
    static const int Ns[] = {5, 32, 70};
    uint64_t seed = 19;
    int isa;
    for (isa = CPU_PORTABLE; isa <= CPU_AVX512; isa++) {
        double worst = 0;
        size_t a, b;
        if (cpu_set_isa(isa) != isa)
            continue;
        for (a = 0; a < sizeof Ms / sizeof *Ms; a++)
            for (b = 0; b < sizeof Ns / sizeof *Ns; b++) {
                const int M = Ms[a], N = Ns[b], K = 13, K2 = 21, ldc = N + 3;
                float A[33 * 13], A2[33 * 21], W[70 * 13], W2[70 * 21], bias[70];
                float C[33 * 73];
                float *P = malloc(sizeof(float) * pgemm_packed_len(K, N));
                float *P2 = malloc(sizeof(float) * pgemm_packed_len(K2, N));
                int i, j, k;
                ck_assert(P && P2);
                fill(A, sizeof A / sizeof *A, &seed);
                fill(A2, sizeof A2 / sizeof *A2, &seed);
                fill(W, sizeof W / sizeof *W, &seed);
                fill(W2, sizeof W2 / sizeof *W2, &seed);
                fill(bias, sizeof bias / sizeof *bias, &seed);
                set_guard(C, M, N, ldc);
                pgemm_pack(P, W, K, 1, K, N);
                pgemm_pack(P2, W2, K2, 1, K2, N);
                pgemm2(M, N, K, A, K, P, K2, A2, K2, P2, bias, C, ldc);
                for (i = 0; i < M; i++) {
                    for (j = 0; j < N; j++) {
                        double want = bias[j], scale = 1 + fabs(bias[j]);
                        for (k = 0; k < K; k++) {
                            want += (double)A[i * K + k] * W[j * K + k];
                            scale += fabs((double)A[i * K + k] * W[j * K + k]);
                        }
                        for (k = 0; k < K2; k++) {
                            want += (double)A2[i * K2 + k] * W2[j * K2 + k];
                            scale += fabs((double)A2[i * K2 + k] * W2[j * K2 + k]);
                        }
                        worst = fmax(worst, fabs(C[i * ldc + j] - want) / scale);
                    }
                }
                assert_guard(C, M, N, ldc, "pgemm2");
                free(P);
                free(P2);
            }
        ck_assert_msg(worst < 1e-6, "%s kernels, two operands: relative error %g",
                      isa_names[isa], worst);
    }
    cpu_set_isa(-1);
}
END_TEST

/* Packing rows through pointers equals packing the matrix, NULL rows zero. */
START_TEST(packing_rows_by_pointer)
{
    enum { K = 37, N = 70 };
    uint64_t seed = 17;
    float B[K * N], *P1 = malloc(sizeof(float) * pgemm_packed_len(K, N));
    float *P2 = malloc(sizeof(float) * pgemm_packed_len(K, N));
    const float *rows[K];
    int k;
    ck_assert(P1 && P2);
    fill(B, K * N, &seed);
    for (k = 0; k < K; k++) {
        rows[k] = k % 5 == 3 ? NULL : B + (size_t)k * N;
        if (!rows[k])
            memset(B + (size_t)k * N, 0, N * sizeof(float));
    }
    pgemm_pack(P1, B, N, 0, K, N);
    pgemm_pack_rows(P2, rows, K, N);
    ck_assert_mem_eq(P1, P2, pgemm_packed_len(K, N) * sizeof(float));
    free(P1);
    free(P2);
}
END_TEST

/* Each row computed alone equals the same row computed in a block of 37. */
/* A last panel of at most 16 columns skips the FMAs of its second half
 * (1.1): its values are those the full panel gives, bit for bit.  The
 * first 4 columns of an N = 36 product (a panel of 32, then 4) against
 * the same columns of N = 64. */
START_TEST(half_panels_give_the_same_values)
{
    enum { M = 19, K = 70 };
    uint64_t seed = 13;
    float *A = malloc(sizeof(float) * M * K), *W = malloc(sizeof(float) * 64 * K);
    float *P36 = malloc(sizeof(float) * pgemm_packed_len(K, 36));
    float *P64 = malloc(sizeof(float) * pgemm_packed_len(K, 64));
    float c36[M * 36], c64[M * 64], bias[64];
    int isa, i;
    ck_assert(A && W && P36 && P64);
    fill(A, (size_t)M * K, &seed);
    fill(W, (size_t)64 * K, &seed);
    fill(bias, 64, &seed);
    pgemm_pack(P36, W, K, 1, K, 36);
    pgemm_pack(P64, W, K, 1, K, 64);
    for (isa = CPU_PORTABLE; isa <= CPU_AVX512; isa++) {
        if (cpu_set_isa(isa) != isa)
            continue;
        pgemm(M, 36, K, A, K, P36, 0, bias, c36, 36);
        pgemm(M, 64, K, A, K, P64, 0, bias, c64, 64);
        for (i = 0; i < M; i++)
            ck_assert_msg(memcmp(c36 + (size_t)i * 36, c64 + (size_t)i * 64, 36 * sizeof(float)) == 0,
                          "%s: row %d differs with a half panel", isa_names[isa], i);
    }
    cpu_set_isa(-1);
    free(A);
    free(W);
    free(P36);
    free(P64);
}
END_TEST

START_TEST(rows_do_not_depend_on_their_block)
{
    enum { M = 37, N = 70, K = 50 };
    uint64_t seed = 11;
    float *A = malloc(sizeof(float) * M * K), *W = malloc(sizeof(float) * N * K);
    float *P = malloc(sizeof(float) * pgemm_packed_len(K, N));
    float all[M * N], one[N];
    int isa, i;
    ck_assert(A && W && P);
    fill(A, (size_t)M * K, &seed);
    fill(W, (size_t)N * K, &seed);
    pgemm_pack(P, W, K, 1, K, N);
    for (isa = CPU_PORTABLE; isa <= CPU_AVX512; isa++) {
        if (cpu_set_isa(isa) != isa)
            continue;
        pgemm(M, N, K, A, K, P, 0, NULL, all, N);
        for (i = 0; i < M; i++) {
            pgemm(1, N, K, A + (size_t)i * K, K, P, 0, NULL, one, N);
            ck_assert_msg(memcmp(one, all + (size_t)i * N, sizeof one) == 0,
                          "%s: row %d differs alone and in a block", isa_names[isa], i);
        }
    }
    cpu_set_isa(-1);
    free(A);
    free(W);
    free(P);
}
END_TEST

/* Outputs and input gradients of a model with every recurrent cell. */
static void run_model(unsigned gru_flags, int lstm, float *out, float *grad)
{
    enum { B = 5, T = 11, F = 24, H = 40 };
    seqcls_model_t *m = NULL;
    seqcls_tensor_t *x = tu_tensor(SEQCLS_F32, 3, B, T, F), *y = tu_tensor(SEQCLS_I32, 1, B, 0, 0);
    seqcls_tensor_t *logits = tu_tensor(SEQCLS_F32, 2, B, 3, 0), *g = NULL;
    const int32_t lens[B] = {11, 3, 0, 7, 11};
    uint64_t seed = 3;
    int32_t *lab = seqcls_tensor_data(y);
    int i;
    fill(seqcls_tensor_data(x), (size_t)B * T * F, &seed);
    for (i = 0; i < B; i++)
        lab[i] = i % 3;
    OK(seqcls_model_create(&m, 5));
    OK(seqcls_add_input(m, F, NULL));
    if (lstm)
        OK(seqcls_add_lstm(m, H, SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES, NULL));
    else
        OK(seqcls_add_gru(m, H, SEQCLS_BIDIRECTIONAL | SEQCLS_RETURN_SEQUENCES | gru_flags, NULL));
    OK(seqcls_add_pooling(m, SEQCLS_POOL_MEAN, NULL));
    OK(seqcls_add_output(m, 3, NULL));
    OK(seqcls_forward(m, x, lens, logits, 1));
    memcpy(out, seqcls_tensor_data(logits), sizeof(float) * B * 3);
    OK(seqcls_loss_backward(m, y, NULL));
    OK(seqcls_input_grad(m, &g));
    memcpy(grad, seqcls_tensor_data(g), sizeof(float) * B * T * F);
    seqcls_model_free(m);
    seqcls_tensor_free(x);
    seqcls_tensor_free(y);
    seqcls_tensor_free(logits);
}

START_TEST(layers_agree_across_kernels)
{
    enum { NOUT = 5 * 3, NGRAD = 5 * 11 * 24 };
    static const struct { int lstm; unsigned flags; const char *name; } cases[] = {
        {1, 0, "lstm"}, {0, 0, "gru"}, {0, SEQCLS_GRU_RESET_BEFORE, "gru reset before"}};
    size_t c;
    for (c = 0; c < sizeof cases / sizeof *cases; c++) {
        float out0[NOUT], grad0[NGRAD], out[NOUT], grad[NGRAD];
        int isa, i;
        cpu_set_isa(CPU_PORTABLE);
        run_model(cases[c].flags, cases[c].lstm, out0, grad0);
        for (isa = CPU_AVX2; isa <= CPU_AVX512; isa++) {
            double worst = 0;
            if (cpu_set_isa(isa) != isa)
                continue;
            run_model(cases[c].flags, cases[c].lstm, out, grad);
            for (i = 0; i < NOUT; i++)
                worst = fmax(worst, fabs(out[i] - out0[i]));
            for (i = 0; i < NGRAD; i++)
                worst = fmax(worst, fabs(grad[i] - grad0[i]) / (1e-3 + fabs(grad0[i])));
            ck_assert_msg(worst < 1e-4, "%s with %s kernels: differs from portable by %g",
                          cases[c].name, isa_names[isa], worst);
        }
    }
    cpu_set_isa(-1);
}
END_TEST

/* The cells' sigmoid and tanh with each kernel set against libm in double:
 * relative error over [-90, 90], or absolute below 1e-30 (beyond |x| = 87
 * the argument is clamped).  The quick forms of quantised layers: sigmoid
 * within 1e-4 relative, tanh within 2e-4 absolute (rnn_math.c). */
START_TEST(activations_match_libm)
{
    enum { N = 400001 };
    float *x = malloc(sizeof(float) * N), *y = malloc(sizeof(float) * N);
    int isa, f, quick, i;
    ck_assert(x && y);
    for (isa = CPU_PORTABLE; isa <= CPU_AVX512; isa++) {
        if (cpu_set_isa(isa) != isa)
            continue;
        for (quick = 0; quick < 2; quick++)
            for (f = 0; f < 2; f++) {
                /* quick tanh is 2 sigmoid(2x) - 1: its error is absolute near 0 */
                const int absolute = quick && f == 1;
                const double bound = !quick ? 1e-6 : f == 0 ? 1e-4 : 2e-4;
                double worst = 0;
                for (i = 0; i < N; i++)
                    x[i] = (float)(-90.0 + 180.0 * i / (N - 1));
                x[0] = 0.0f;
                x[1] = -0.0f;
                x[2] = 1e-30f;
                x[3] = 0.625f;
                x[4] = -0.625f;
                x[5] = 0.62499994f;
                memcpy(y, x, sizeof(float) * N);
                if (f == 0)   /* a tail that is not a whole vector */
                    rnn_gate(SEQCLS_ACT_SIGMOID, quick, y, N - 3);
                else
                    rnn_tanh(quick, y, N - 3);
                for (i = 0; i < N - 3; i++) {
                    const double want = f == 0 ? 1 / (1 + exp(-(double)x[i])) : tanh((double)x[i]);
                    const double err =
                        fabs(y[i] - want) / (absolute ? 1.0 : fmax(fabs(want), 1e-30));
                    ck_assert_msg(y[i] >= -1.0f && y[i] <= 1.0f, "out of range at %g", x[i]);
                    worst = fmax(worst, err);
                }
                for (i = N - 3; i < N; i++)
                    ck_assert(y[i] == x[i]);   /* past n: untouched */
                printf("  %s%s %s: worst %s error %.2e\n", quick ? "quick " : "",
                       f == 0 ? "sigmoid" : "tanh", isa_names[isa],
                       absolute ? "absolute" : "relative", worst);
                ck_assert_msg(worst < bound, "%s%s with %s kernels: error %g", quick ? "quick " : "",
                              f == 0 ? "sigmoid" : "tanh", isa_names[isa], worst);
            }
    }
    cpu_set_isa(-1);
    free(x);
    free(y);
}
END_TEST

/* SEQCLS_MAX_CPU_ISA lowers the kernel set, never raises it above the CPU's. */
START_TEST(max_cpu_isa_environment_variable)
{
    const int best = cpu_set_isa(CPU_AVX512);   /* the best the CPU has */
    ck_assert_int_eq(setenv("SEQCLS_MAX_CPU_ISA", "portable", 1), 0);
    ck_assert_int_eq(cpu_set_isa(-1), CPU_PORTABLE);
    ck_assert_int_eq(cpu_isa(), CPU_PORTABLE);
    ck_assert_int_eq(setenv("SEQCLS_MAX_CPU_ISA", "avx2", 1), 0);
    ck_assert_int_eq(cpu_set_isa(-1), best < CPU_AVX2 ? best : CPU_AVX2);
    ck_assert_int_eq(setenv("SEQCLS_MAX_CPU_ISA", "avx512", 1), 0);
    ck_assert_int_eq(cpu_set_isa(-1), best);
    ck_assert_int_eq(unsetenv("SEQCLS_MAX_CPU_ISA"), 0);
    ck_assert_int_eq(cpu_set_isa(-1), best);
}
END_TEST

Suite *internal_kernels_suite(void)
{
    Suite *s = suite_create("hand-written kernels (internal)");
    TCase *tc = tcase_create("kernels");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, products_match_reference);
    tcase_add_test(tc, half_panels_give_the_same_values);
    tcase_add_test(tc, transposed_products_match_reference);
    tcase_add_test(tc, two_operand_products_match_reference);
    tcase_add_test(tc, packing_rows_by_pointer);
    tcase_add_test(tc, rows_do_not_depend_on_their_block);
    tcase_add_test(tc, layers_agree_across_kernels);
    tcase_add_test(tc, activations_match_libm);
    tcase_add_test(tc, max_cpu_isa_environment_variable);
    suite_add_tcase(s, tc);
    return s;
}
