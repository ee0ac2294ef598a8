/*
 * threads.c -- the process-wide thread count and the library's own small
 * thread pool.
 *
 * seqcls_set_num_threads(n) sizes the pool (0 = one thread per core).  The
 * pool is created lazily, at the first call that can use more than one
 * thread, so a program that asks for one thread never gets one: with
 * n = 1 everything runs on the calling thread.  The BLAS is kept at one
 * thread whenever the pool may run (blas.c splits large products over the
 * pool instead), so the two never oversubscribe the cores.
 *
 * seqcls__parallel(parts, fn, ctx) runs fn(ctx, 0..parts-1) on the caller
 * and the workers, each taking the next part as it comes free, and
 * returns when all are done.  The
 * pool serves one parallel call at a time; a call made while it is busy
 * (seqcls_predict from several threads at once, or a nested call from
 * inside a part) runs its parts one after the other on its own thread.
 * Callers partition their work so that the result does not depend on
 * which thread runs a part, so both ways give the same numbers.
 *
 * The workers are joined by a destructor when the library is unloaded or
 * the process exits, so nothing leaks.
 */
#include "internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#define POOL_MAX 64   /* workers at most (parts beyond run on the caller) */

static atomic_int requested_threads;   /* 0 = one per core */

static int cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 1024 ? 1024 : (int)n;
}

int seqcls__threads(void)
{
    int n = atomic_load(&requested_threads);
    return n == 0 ? cores() : n;
}

int seqcls_get_num_threads(void) { return seqcls__threads(); }

static struct {
    pthread_mutex_t lock;
    pthread_cond_t work, done;
    pthread_t tid[POOL_MAX];
    int started;              /* workers running */
    int busy;                 /* a parallel call owns the pool */
    int shutdown;
    unsigned long generation; /* bumped for each job */
    int helpers, pending;     /* workers taking part in the job; those not done yet */
    int parts;
    atomic_int next;          /* the next part to hand out */
    seqcls_task_fn fn;
    void *ctx;
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER,
          .work = PTHREAD_COND_INITIALIZER,
          .done = PTHREAD_COND_INITIALIZER};

/* Set on the pool's workers and, during a parallel call, on its caller. */
static _Thread_local int in_parallel;

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;

static void blas_single(void) { blas_set_threads(1); }

void seqcls__blas_once(void) { pthread_once(&blas_once, blas_single); }

static void *worker(void *arg)
{
    const int me = (int)(intptr_t)arg;   /* runs part me + 1 */
    unsigned long seen = 0;
    in_parallel = 1;
    pthread_mutex_lock(&pool.lock);
    for (;;) {
        while (pool.generation == seen && !pool.shutdown)
            pthread_cond_wait(&pool.work, &pool.lock);
        if (pool.shutdown)
            break;
        seen = pool.generation;
        if (me < pool.helpers) {
            seqcls_task_fn fn = pool.fn;
            void *ctx = pool.ctx;
            const int parts = pool.parts;
            int i;
            pthread_mutex_unlock(&pool.lock);
            while ((i = atomic_fetch_add(&pool.next, 1)) < parts)
                fn(ctx, i, parts);
            pthread_mutex_lock(&pool.lock);
            if (--pool.pending == 0)
                pthread_cond_signal(&pool.done);
        }
    }
    pthread_mutex_unlock(&pool.lock);
    return NULL;
}

/* Start workers up to `want` (called with the lock held); returns how many run. */
static int pool_grow(int want)
{
    if (want > POOL_MAX)
        want = POOL_MAX;
    while (pool.started < want) {
        if (pthread_create(&pool.tid[pool.started], NULL, worker,
                           (void *)(intptr_t)pool.started) != 0)
            break;   /* fewer threads: the caller runs the remaining parts */
        pool.started++;
    }
    return pool.started;
}

#if defined(__GNUC__)
__attribute__((destructor))
#endif
static void pool_stop(void)
{
    int i, n;
    pthread_mutex_lock(&pool.lock);
    pool.shutdown = 1;
    n = pool.started;
    pthread_cond_broadcast(&pool.work);
    pthread_mutex_unlock(&pool.lock);
    for (i = 0; i < n; i++)
        pthread_join(pool.tid[i], NULL);
    pthread_mutex_lock(&pool.lock);
    pool.started = 0;
    pool.shutdown = 0;
    pthread_mutex_unlock(&pool.lock);
}

int seqcls__parallel_parts(void)
{
    int n = seqcls__threads();
    if (in_parallel)
        return 1;
    return n > POOL_MAX + 1 ? POOL_MAX + 1 : n;
}

void seqcls__parallel(int parts, seqcls_task_fn fn, void *ctx)
{
    int i, workers;
    if (parts <= 1 || in_parallel || seqcls__threads() <= 1) {
        for (i = 0; i < parts; i++)
            fn(ctx, i, parts);
        return;
    }
    seqcls__blas_once();
    pthread_mutex_lock(&pool.lock);
    if (pool.busy || pool.shutdown) {
        pthread_mutex_unlock(&pool.lock);
        for (i = 0; i < parts; i++)
            fn(ctx, i, parts);
        return;
    }
    /* the caller and threads - 1 workers take parts as they come free,
     * so a thread that gets less of a shared core simply takes fewer */
    workers = pool_grow(seqcls__threads() - 1 < parts - 1 ? seqcls__threads() - 1 : parts - 1);
    pool.busy = 1;
    pool.fn = fn;
    pool.ctx = ctx;
    pool.parts = parts;
    pool.helpers = workers;
    pool.pending = workers;
    atomic_store(&pool.next, 0);
    pool.generation++;
    pthread_cond_broadcast(&pool.work);
    pthread_mutex_unlock(&pool.lock);

    in_parallel = 1;
    while ((i = atomic_fetch_add(&pool.next, 1)) < parts)
        fn(ctx, i, parts);
    in_parallel = 0;

    pthread_mutex_lock(&pool.lock);
    while (pool.pending > 0)
        pthread_cond_wait(&pool.done, &pool.lock);
    pool.busy = 0;
    pthread_mutex_unlock(&pool.lock);
}

int seqcls_set_num_threads(int n)
{
    if (n < 0 || n > 1024)
        return seqcls__fail(SEQCLS_E_INVALID_ARG,
                            "seqcls_set_num_threads: n = %d is outside [0, 1024]", n);
    atomic_store(&requested_threads, n);
    /* the library's pool does the splitting; the BLAS stays single-threaded */
    seqcls__blas_once();
    return SEQCLS_OK;
}
