/*
 * alloc.c -- the library's single allocation point and its workspaces.
 *
 * Every buffer is 64-byte aligned so that vector loads never split a
 * cache line.  Routing all allocations through here lets tests inject
 * failures at each site.
 *
 * Tensors' zeroed memory (seqcls__zalloc_pages) comes, when large, from
 * pages mapped for it: they cost nothing until written, so a gradient
 * that only training writes, or the float32 copy of a weight that a
 * quantised model's load replaces, takes no memory in a program that only
 * predicts.
 */
#define _DEFAULT_SOURCE 1   /* MAP_ANONYMOUS (not in POSIX 2008) */
#include "internal.h"
#include "io.h"

#include <stdlib.h>
#include <string.h>

#if defined(__unix__) || defined(__APPLE__)
#include <sys/mman.h>
#include <unistd.h>
#endif
#if defined(MAP_ANONYMOUS)
#define ZPAGES_MAPPED 1
#endif

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

/* The fault injection and the load's budget, for `*bytes` rounded up to
 * the alignment; 0 if the allocation may go ahead. */
static int refuse(size_t *bytes)
{
#ifdef SEQCLS_FAULT_INJECTION
    fault_count++;
    if (fault_countdown > 0 && --fault_countdown == 0) {
        budget.what |= BUDGET_SYSTEM_OOM;   /* as a real failure: not the file's fault */
        return 1;
    }
#endif
    if (*bytes == 0)
        *bytes = 1;
    if (*bytes > SIZE_MAX - SEQCLS_ALIGN)
        return 1;
    *bytes = (*bytes + SEQCLS_ALIGN - 1) / SEQCLS_ALIGN * SEQCLS_ALIGN;
    if (budget.on) {
        if (*bytes > budget.left) {
            budget.what |= BUDGET_EXCEEDED;
            return 1;
        }
        budget.left -= *bytes;
    }
    return 0;
}

void *seqcls__alloc(size_t bytes)
{
    void *p = NULL;
    if (refuse(&bytes))
        return NULL;
    if (posix_memalign(&p, SEQCLS_ALIGN, bytes) != 0) {
        budget.what |= BUDGET_SYSTEM_OOM;
        return NULL;
    }
    return p;
}

/* Blocks from this size on are mapped (a few pages: below it the heap is
 * cheaper and what is wasted small). */
#define ZPAGES_MIN ((size_t)256 << 10)

#ifdef ZPAGES_MAPPED
static size_t page_rounded(size_t bytes)
{
    const long page = sysconf(_SC_PAGESIZE);
    const size_t ps = page > 0 ? (size_t)page : 4096;
    return bytes > SIZE_MAX - ps ? SIZE_MAX : (bytes + ps - 1) / ps * ps;
}
#endif

void *seqcls__zalloc_pages(size_t n, size_t size, int *mapped)
{
    size_t bytes = seqcls__mul(n, size);
    *mapped = 0;
    if (bytes == SIZE_MAX)
        return NULL;
#ifdef ZPAGES_MAPPED
    if (bytes >= ZPAGES_MIN) {
        const size_t len = page_rounded(bytes);
        void *p = len == SIZE_MAX ? MAP_FAILED
                                  : mmap(NULL, len, PROT_READ | PROT_WRITE,
                                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p != MAP_FAILED) {
            /* the load's budget is charged what was asked for, as on the
             * heap: the pages' rounding is the system's (under 1 page in 64) */
            size_t asked = bytes;
            if (refuse(&asked)) {
                munmap(p, len);
                return NULL;
            }
            *mapped = 1;
            return p;
        }
        /* no mapping (the process's limit on them, say): the heap's zeroed memory */
    }
#endif
    return seqcls__calloc(n, size);
}

void seqcls__free_pages(void *p, size_t n, size_t size, int mapped)
{
#ifdef ZPAGES_MAPPED
    if (mapped && p) {
        munmap(p, page_rounded(seqcls__mul(n, size)));
        return;
    }
#endif
    (void)n;
    (void)size;
    (void)mapped;
    seqcls__dealloc(p);
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
