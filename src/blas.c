/*
 * blas.c -- the one place that calls CBLAS.  Built against OpenBLAS by
 * default or BLIS (make BLAS=blis); both provide cblas.h.
 */
#include "internal.h"

#ifdef SEQCLS_BLAS_BLIS
#include <blis.h>
#include <cblas.h>
#else
#include <cblas.h>
#endif

void blas_gemm(int trans_a, int trans_b, int M, int N, int K, real alpha,
               const real *A, int lda, const real *B, int ldb, real beta,
               real *C, int ldc)
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

void blas_set_threads(int n)
{
#ifdef SEQCLS_BLAS_BLIS
    bli_thread_set_num_threads(n);
#else
    openblas_set_num_threads(n);
#endif
}

const char *blas_name(void)
{
#ifdef SEQCLS_BLAS_BLIS
    return "blis";
#else
    return "openblas";
#endif
}
