/*
 * threads.c -- the process-wide thread count shared with the BLAS.
 */
#include "internal.h"

#include <stdatomic.h>
#include <unistd.h>

static atomic_int requested_threads;   /* 0 = one per core */

static int cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 1024 ? 1024 : (int)n;
}

int seqcls_set_num_threads(int n)
{
    if (n < 0 || n > 1024)
        return seqcls__fail(SEQCLS_E_INVALID_ARG,
                            "seqcls_set_num_threads: n = %d is outside [0, 1024]", n);
    atomic_store(&requested_threads, n);
    blas_set_threads(n == 0 ? cores() : n);
    return SEQCLS_OK;
}

int seqcls__threads(void)
{
    int n = atomic_load(&requested_threads);
    return n == 0 ? cores() : n;
}

int seqcls_get_num_threads(void) { return seqcls__threads(); }
