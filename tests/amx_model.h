/*
 * amx_model.h -- a model of the AMX tile instructions qgemm_amx.c uses,
 * after the Intel SDM's descriptions (vol. 2: LDTILECFG, TILERELEASE,
 * TILEZERO, TILELOADD, TILESTORED, TDPBUSD, TDPBF16PS), with the checks
 * whose failure is a fault on the hardware (#GP, #UD): the test build
 * compiles src/qgemm_amx.c again against it (SEQCLS_AMX_MODEL), so the
 * kernels' tiling is tested on machines without AMX.  A violated rule
 * aborts with the rule's name.  The tile state is per thread.
 */
#ifndef SEQCLS_AMX_MODEL_H
#define SEQCLS_AMX_MODEL_H

#include "qgemm_kernel.h"

void amx_model_config(const void *cfg);
void amx_model_release(void);
void amx_model_zero(int t);
void amx_model_load(int t, const void *base, long stride);
void amx_model_store(int t, void *base, long stride);
void amx_model_dpbusd(int c, int a, int b);
void amx_model_dpbf16ps(int c, int a, int b);
/* Is a tile configuration loaded (not released since)? */
int amx_model_configured(void);

/* qgemm_amx.c's kernels built on the model. */
void qgemm_amx_int8_model(int M, int n, const qk_t *o);
void qgemm_amx_bf16_model(int M, int n, const qk_t *o);

#endif
