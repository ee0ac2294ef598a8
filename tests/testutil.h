/*
 * testutil.h -- small helpers shared by the Check suites.
 */
#ifndef SEQCLS_TESTUTIL_H
#define SEQCLS_TESTUTIL_H

#include <check.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "seqcls.h"

/* The element type of F32 tensors in the library under test. */
#ifdef SEQCLS_REAL_DOUBLE
typedef double real_t;
#else
typedef float real_t;
#endif

/* Assert a call succeeds, showing the library's message if not. */
#define OK(call)                                                                     \
    do {                                                                             \
        int rc_ = (call);                                                            \
        ck_assert_msg(rc_ == SEQCLS_OK, "%s failed: %d (%s)", #call, rc_,            \
                      seqcls_last_error());                                          \
    } while (0)

/* Assert a call fails with `status` and a message mentioning `needle`. */
#define FAILS(status, needle, call)                                                  \
    do {                                                                             \
        int rc_ = (call);                                                            \
        ck_assert_msg(rc_ == (status), "%s returned %d, expected %d (%s)", #call, rc_, \
                      (status), seqcls_last_error());                                \
        ck_assert_msg(strstr(seqcls_last_error(), (needle)) != NULL,                 \
                      "message '%s' does not mention '%s'", seqcls_last_error(),     \
                      (needle));                                                     \
    } while (0)

static inline uint64_t tu_next(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

static inline double tu_uniform(uint64_t *s) { return (double)tu_next(s) / 2147483648.0; }

static inline seqcls_tensor_t *tu_tensor(int dtype, int ndim, int64_t d0, int64_t d1, int64_t d2)
{
    int64_t shape[3] = {d0, d1, d2};
    seqcls_tensor_t *t = NULL;
    ck_assert_int_eq(seqcls_tensor_create(&t, dtype, ndim, shape), SEQCLS_OK);
    return t;
}

/* Fill an I32 [B, T] tensor with ids in [lo, hi). */
static inline void tu_fill_ids(seqcls_tensor_t *t, int lo, int hi, uint64_t seed)
{
    int32_t *p = seqcls_tensor_data(t);
    int64_t i, n = seqcls_tensor_numel(t);
    for (i = 0; i < n; i++)
        p[i] = lo + (int32_t)(tu_next(&seed) % (uint64_t)(hi - lo));
}

/* Fill an F32 tensor with U(lo, hi). */
static inline void tu_fill_real(seqcls_tensor_t *t, double lo, double hi, uint64_t seed)
{
    real_t *p = seqcls_tensor_data(t);
    int64_t i, n = seqcls_tensor_numel(t);
    for (i = 0; i < n; i++)
        p[i] = (real_t)(lo + (hi - lo) * tu_uniform(&seed));
}

/* Every parameter of a and b is equal, bit for bit. */
static inline void tu_assert_same_params(seqcls_model_t *a, seqcls_model_t *b)
{
    int i;
    ck_assert_int_eq(seqcls_param_count(a), seqcls_param_count(b));
    for (i = 0; i < seqcls_param_count(a); i++) {
        seqcls_tensor_t *va = NULL, *vb = NULL;
        ck_assert_int_eq(seqcls_param(a, i, &va, NULL), SEQCLS_OK);
        ck_assert_int_eq(seqcls_param(b, i, &vb, NULL), SEQCLS_OK);
        ck_assert_int_eq(seqcls_tensor_numel(va), seqcls_tensor_numel(vb));
        ck_assert_msg(memcmp(seqcls_tensor_data(va), seqcls_tensor_data(vb),
                             (size_t)seqcls_tensor_numel(va) * sizeof(real_t)) == 0,
                      "parameter %s differs", seqcls_param_name(a, i));
    }
}

#endif
