/*
 * blas.c -- the one place that calls CBLAS.  Built against OpenBLAS by
 * default or BLIS (make BLAS=blis); both provide cblas.h.
 *
 * The BLAS itself runs one thread (threads.c); a large product is split
 * here into row (or column) blocks of C that the library's pool computes
 * side by side.  Each element of C is computed the same way whatever the
 * split, up to the BLAS's choice of kernel for a block's size.
 */
#include "internal.h"

#ifdef SEQCLS_BLAS_BLIS
#include <blis.h>
#include <cblas.h>
#else
#include <cblas.h>
#endif

/* Products below this many flops are not worth waking the pool for. */
#define SPLIT_FLOPS 4e6
/* Blocks are multiples of this many rows or columns. */
#define SPLIT_ALIGN 16

static void gemm1(int trans_a, int trans_b, int M, int N, int K, real alpha, const real *A,
                  int lda, const real *B, int ldb, real beta, real *C, int ldc)
{
    if (M <= 0 || N <= 0)
        return;
#ifdef SEQCLS_REAL_DOUBLE
    cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb,
                beta, C, ldc);
#else
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb,
                beta, C, ldc);
#endif
}

typedef struct {
    int trans_a, trans_b, M, N, K, lda, ldb, ldc, by_rows;
    real alpha, beta;
    const real *A, *B;
    real *C;
} gemm_job_t;

static void gemm_part(void *arg, int part, int parts)
{
    const gemm_job_t *g = arg;
    const int n = g->by_rows ? g->M : g->N;
    int per = (n + parts - 1) / parts, i0, i1;
    per = (per + SPLIT_ALIGN - 1) / SPLIT_ALIGN * SPLIT_ALIGN;
    i0 = part * per;
    i1 = i0 + per < n ? i0 + per : n;
    if (i0 >= i1)
        return;
    if (g->by_rows)
        gemm1(g->trans_a, g->trans_b, i1 - i0, g->N, g->K, g->alpha,
              g->trans_a ? g->A + i0 : g->A + (size_t)i0 * g->lda, g->lda, g->B, g->ldb, g->beta,
              g->C + (size_t)i0 * g->ldc, g->ldc);
    else
        gemm1(g->trans_a, g->trans_b, g->M, i1 - i0, g->K, g->alpha, g->A, g->lda,
              g->trans_b ? g->B + (size_t)i0 * g->ldb : g->B + i0, g->ldb, g->beta, g->C + i0,
              g->ldc);
}

void blas_gemm(int trans_a, int trans_b, int M, int N, int K, real alpha,
               const real *A, int lda, const real *B, int ldb, real beta,
               real *C, int ldc)
{
    int parts;
    gemm_job_t g;
    if (M <= 0 || N <= 0)
        return;
    seqcls__blas_once();
    parts = seqcls__parallel_parts();
    if (parts <= 1 || 2.0 * M * N * K < SPLIT_FLOPS) {
        gemm1(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    g.by_rows = M >= N;
    if ((g.by_rows ? M : N) < 2 * SPLIT_ALIGN) {
        gemm1(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    g.trans_a = trans_a;
    g.trans_b = trans_b;
    g.M = M;
    g.N = N;
    g.K = K;
    g.alpha = alpha;
    g.A = A;
    g.lda = lda;
    g.B = B;
    g.ldb = ldb;
    g.beta = beta;
    g.C = C;
    g.ldc = ldc;
    seqcls__parallel(parts, gemm_part, &g);
}

void blas_set_threads(int n)
{
#ifdef SEQCLS_BLAS_BLIS
    bli_thread_set_num_threads(n);
#else
    openblas_set_num_threads(n);
#endif
}
