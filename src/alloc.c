/*
 * alloc.c -- the library's single allocation point and its workspaces.
 *
 * Every buffer is 64-byte aligned so that vector loads never split a
 * cache line.  Routing all allocations through here lets tests inject
 * failures at each site.
 */
#include "internal.h"
#include "io.h"

#include <stdlib.h>
#include <string.h>

/* The allocation budget of io.h; off unless a load is running in this thread. */
static _Thread_local struct {
    int on;
    size_t left;
    unsigned what;
} budget;

void seqcls__budget_begin(size_t bytes)
{
    budget.on = 1;
    budget.left = bytes;
    budget.what = 0;
}

unsigned seqcls__budget_end(void)
{
    unsigned what = budget.what;
    budget.on = 0;
    budget.what = 0;
    return what;
}

size_t seqcls__mul(size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size)
        return SIZE_MAX;
    return n * size;
}

#ifdef SEQCLS_FAULT_INJECTION
/* Test builds only: make the N-th allocation from now fail (0 = never),
 * so tests can reach every allocation-failure path. */
static long fault_countdown;
static long fault_count;

void seqcls__fault_fail_after(long n)
{
    fault_countdown = n;
    fault_count = 0;
}

long seqcls__fault_allocations(void) { return fault_count; }
#endif

void *seqcls__alloc(size_t bytes)
{
    void *p = NULL;
#ifdef SEQCLS_FAULT_INJECTION
    fault_count++;
    if (fault_countdown > 0 && --fault_countdown == 0) {
        budget.what |= BUDGET_SYSTEM_OOM;   /* as a real failure: not the file's fault */
        return NULL;
    }
#endif
    if (bytes == 0)
        bytes = 1;
    if (bytes > SIZE_MAX - SEQCLS_ALIGN)
        return NULL;
    bytes = (bytes + SEQCLS_ALIGN - 1) / SEQCLS_ALIGN * SEQCLS_ALIGN;
    if (budget.on) {
        if (bytes > budget.left) {
            budget.what |= BUDGET_EXCEEDED;
            return NULL;
        }
        budget.left -= bytes;
    }
    if (posix_memalign(&p, SEQCLS_ALIGN, bytes) != 0) {
        budget.what |= BUDGET_SYSTEM_OOM;
        return NULL;
    }
    return p;
}

void *seqcls__calloc(size_t n, size_t size)
{
    size_t bytes = seqcls__mul(n, size);
    void *p;
    if (bytes == SIZE_MAX)
        return NULL;
    p = seqcls__alloc(bytes);
    if (p)
        memset(p, 0, bytes);
    return p;
}

void seqcls__dealloc(void *p) { free(p); }

void seqcls_free(void *p) { seqcls__dealloc(p); }

void *ws_get(workspace_t *ws, int slot, size_t bytes)
{
    if (bytes > ws->cap[slot] || ws->buf[slot] == NULL) {
        void *p = seqcls__alloc(bytes);
        if (!p) {
            seqcls__fail(SEQCLS_E_NOMEM, "out of memory allocating a %zu-byte workspace", bytes);
            return NULL;
        }
        seqcls__dealloc(ws->buf[slot]);
        ws->buf[slot] = p;
        ws->cap[slot] = bytes;
    }
    return ws->buf[slot];
}

void *ws_zero(workspace_t *ws, int slot, size_t bytes)
{
    void *p = ws_get(ws, slot, bytes);
    if (p)
        memset(p, 0, bytes);
    return p;
}

void ws_free(workspace_t *ws)
{
    int i;
    for (i = 0; i < WS_SLOTS; i++) {
        seqcls__dealloc(ws->buf[i]);
        ws->buf[i] = NULL;
        ws->cap[i] = 0;
    }
}
