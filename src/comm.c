/*
 * comm.c -- communicators (seqcls_comm_t) and the gradient all-reduction
 * of data-parallel training.
 *
 * The library knows no transport: a communicator is two collectives the
 * caller provides (libseqcls-mpi maps them onto an MPI_Comm).  Gradients
 * are all-reduced in buckets of whole layers, the last layers first, as
 * PyTorch's DistributedDataParallel does: model_backward calls a hook
 * after each layer, and a bucket is handed to a thread of its own as soon
 * as the backward pass has gone below its lowest layer, so that its
 * all-reduce runs while the earlier layers are still being
 * back-propagated.  One all-reduce per bucket, not per tensor.  A
 * gradient sparse by rows (an embedding bag's table) is not in the
 * buckets: its rows are gathered after them (reduce_sparse).
 */
#include "internal.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- the communicator ---- */

int seqcls_comm_create(seqcls_comm_t **out, int rank, int size,
                       seqcls_allreduce_fn allreduce_sum, seqcls_broadcast_fn broadcast,
                       void *user)
{
    const char *func = "seqcls_comm_create";
    seqcls_comm_t *c;
    seqcls__clear_error();
    if (!out)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: out is NULL", func);
    *out = NULL;
    if (!allreduce_sum || !broadcast)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: the %s callback is NULL", func,
                            allreduce_sum ? "broadcast" : "all-reduce");
    if (size < 1 || rank < 0 || rank >= size)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: rank %d of %d ranks is out of range", func,
                            rank, size);
    c = seqcls__calloc(1, sizeof *c);
    if (!c)
        return seqcls__fail(SEQCLS_E_NOMEM, "%s: out of memory", func);
    c->rank = rank;
    c->size = size;
    c->allreduce = allreduce_sum;
    c->broadcast = broadcast;
    c->user = user;
    c->overlap = 1;
    c->bucket_bytes = 1 << 18;
    *out = c;
    return SEQCLS_OK;
}

void seqcls_comm_free(seqcls_comm_t *c)
{
    if (!c)
        return;
    if (c->destructor)
        c->destructor(c->user);
    seqcls__dealloc(c);
}

int seqcls_comm_set_destructor(seqcls_comm_t *c, seqcls_destructor_fn fn)
{
    seqcls__clear_error();
    if (!c)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "seqcls_comm_set_destructor: comm is NULL");
    c->destructor = fn;
    return SEQCLS_OK;
}

int seqcls_comm_rank(const seqcls_comm_t *c) { return c ? c->rank : -1; }

int seqcls_comm_size(const seqcls_comm_t *c) { return c ? c->size : -1; }

int seqcls_comm_set_int(seqcls_comm_t *c, int option, int64_t value)
{
    const char *func = "seqcls_comm_set_int";
    seqcls__clear_error();
    if (!c)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: comm is NULL", func);
    switch (option) {
    case SEQCLS_COMM_OVERLAP:
        if (value != 0 && value != 1)
            return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: overlap %lld is not 0 or 1", func,
                                (long long)value);
        c->overlap = (int)value;
        return SEQCLS_OK;
    case SEQCLS_COMM_BUCKET_BYTES:
        if (value < 4 || value > ((int64_t)1 << 40))
            return seqcls__fail(SEQCLS_E_INVALID_ARG,
                                "%s: bucket size %lld is outside [4, 2^40] bytes", func,
                                (long long)value);
        c->bucket_bytes = value;
        return SEQCLS_OK;
    default:
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: unknown option %d", func, option);
    }
}

double seqcls_comm_stat(const seqcls_comm_t *c, int stat)
{
    if (!c)
        return NAN;
    switch (stat) {
    case SEQCLS_COMM_STAT_STEPS: return c->steps;
    case SEQCLS_COMM_STAT_BUCKETS: return c->buckets;
    case SEQCLS_COMM_STAT_BYTES: return c->bytes;
    case SEQCLS_COMM_STAT_COMM_SECONDS: return c->comm_seconds;
    case SEQCLS_COMM_STAT_EXPOSED_SECONDS: return c->exposed_seconds;
    case SEQCLS_COMM_STAT_BACKWARD_SECONDS: return c->backward_seconds;
    default: return NAN;
    }
}

double comm_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int comm_allreduce(seqcls_comm_t *c, float *data, size_t n, const char *what, const char *func)
{
    int rc = c->allreduce(c->user, data, n);
    if (rc != 0)
        return seqcls__fail(SEQCLS_E_COMM,
                            "%s: rank %d of %d: the all-reduce of %s (%zu floats) failed "
                            "(callback status %d)",
                            func, c->rank, c->size, what, n, rc);
    return SEQCLS_OK;
}

int comm_broadcast(seqcls_comm_t *c, void *data, size_t bytes, const char *what,
                   const char *func)
{
    int rc = c->broadcast(c->user, data, bytes);
    if (rc != 0)
        return seqcls__fail(SEQCLS_E_COMM,
                            "%s: rank %d of %d: the broadcast of %s (%zu bytes) failed "
                            "(callback status %d)",
                            func, c->rank, c->size, what, bytes, rc);
    return SEQCLS_OK;
}

int comm_broadcast_params(seqcls_comm_t *c, seqcls_model_t *m, int untrained_only,
                          const char *func)
{
    size_t total = 0, off = 0;
    real *buf;
    int i, rc;
    for (i = 0; i < m->nparams; i++)
        if (!untrained_only || !m->params[i].trainable)
            total += m->params[i].value->numel;
    if (total == 0)
        return SEQCLS_OK;
    if (!(buf = seqcls__calloc(total, sizeof *buf)))
        return seqcls__fail(SEQCLS_E_NOMEM, "%s: out of memory for %zu parameter values", func,
                            total);
    for (i = 0; c->rank == 0 && i < m->nparams; i++)
        if (!untrained_only || !m->params[i].trainable) {
            memcpy(buf + off, m->params[i].value->data,
                   m->params[i].value->numel * sizeof *buf);
            off += m->params[i].value->numel;
        }
    rc = comm_broadcast(c, buf, total * sizeof *buf,
                        untrained_only ? "the untrained parameters" : "the parameters", func);
    for (i = 0, off = 0; rc == SEQCLS_OK && c->rank != 0 && i < m->nparams; i++)
        if (!untrained_only || !m->params[i].trainable) {
            memcpy(m->params[i].value->data, buf + off,
                   m->params[i].value->numel * sizeof *buf);
            off += m->params[i].value->numel;
        }
    seqcls__dealloc(buf);
    return rc;
}

/* ---- gradients in buckets ---- */

typedef struct {
    int lo;                  /* its lowest layer: ready once that layer's backward is done */
    int p0, p1;              /* parameters [p0, p1) (those trained are in it) */
    size_t n, off;           /* floats, and where they start in the flat buffer */
} bucket_t;

struct comm_grads {
    seqcls_comm_t *c;
    seqcls_model_t *m;
    bucket_t *b;
    int nb;
    unsigned char *trained;  /* [nparams]: which parameters the buckets hold */
    float *buf;              /* [total] */
    size_t total;
    int next;                /* the next bucket to hand over (training thread) */

    /* the communication thread, when the communicator allows it */
    int threaded;
    pthread_t tid;
    pthread_mutex_t lock;
    pthread_cond_t work, done;
    int submitted, completed, shutdown;
    int status;              /* the first failure of this step */
    char msg[480];
    double seconds;          /* in the all-reduce calls this step */
};

/* A trained parameter whose gradient goes into the buckets (dense). */
static int in_buckets(const comm_grads_t *g, int p)
{
    return g->trained[p] && !g->m->params[p].sparse;
}

static void pack(const comm_grads_t *g, const bucket_t *b)
{
    float *dst = g->buf + b->off;
    int i;
    for (i = b->p0; i < b->p1; i++) {
        const real *src = g->m->params[i].grad->data;
        const size_t n = g->m->params[i].grad->numel;
        size_t k;
        if (!in_buckets(g, i))
            continue;
        for (k = 0; k < n; k++)
            dst[k] = (float)src[k];
        dst += n;
    }
}

static void unpack(const comm_grads_t *g, const bucket_t *b)
{
    const float *src = g->buf + b->off;
    int i;
    for (i = b->p0; i < b->p1; i++) {
        real *dst = g->m->params[i].grad->data;
        const size_t n = g->m->params[i].grad->numel;
        size_t k;
        if (!in_buckets(g, i))
            continue;
        for (k = 0; k < n; k++)
            dst[k] = (real)src[k];
        src += n;
    }
}

/* Pack, all-reduce and unpack bucket k (the time of all three is the
 * bucket's communication time); on failure the message goes to
 * msg (this may run on the communication thread, whose seqcls error
 * message nobody reads). */
static int reduce_bucket(comm_grads_t *g, int k, double *seconds, char *msg, size_t cap)
{
    const bucket_t *b = &g->b[k];
    const double t0 = comm_now();
    int rc;
    pack(g, b);
    rc = g->c->allreduce(g->c->user, g->buf + b->off, b->n);
    if (rc != 0) {
        snprintf(msg, cap,
                 "rank %d of %d: the all-reduce of gradient bucket %d of %d (layers %d-%d, %zu "
                 "floats) failed (callback status %d)",
                 g->c->rank, g->c->size, k + 1, g->nb, b->lo, g->m->params[b->p1 - 1].layer,
                 b->n, rc);
        *seconds = comm_now() - t0;
        return SEQCLS_E_COMM;
    }
    unpack(g, b);
    *seconds = comm_now() - t0;
    return SEQCLS_OK;
}

static void *grads_thread(void *arg)
{
    comm_grads_t *g = arg;
    pthread_mutex_lock(&g->lock);
    for (;;) {
        int k, failed, rc = SEQCLS_OK;
        double secs = 0;
        char msg[sizeof g->msg];
        while (g->completed == g->submitted && !g->shutdown)
            pthread_cond_wait(&g->work, &g->lock);
        if (g->completed == g->submitted)
            break;   /* shut down, nothing left */
        k = g->completed;
        failed = g->status != SEQCLS_OK;
        pthread_mutex_unlock(&g->lock);
        /* after a failure the rest of the step is not reduced: the
         * collectives are out of step and the step is abandoned */
        if (!failed)
            rc = reduce_bucket(g, k, &secs, msg, sizeof msg);
        pthread_mutex_lock(&g->lock);
        if (rc != SEQCLS_OK && g->status == SEQCLS_OK) {
            g->status = rc;
            memcpy(g->msg, msg, sizeof msg);
        }
        g->seconds += secs;
        g->completed++;
        pthread_cond_signal(&g->done);
    }
    pthread_mutex_unlock(&g->lock);
    return NULL;
}

static void submit(comm_grads_t *g)
{
    g->next++;
    if (!g->threaded)
        return;
    pthread_mutex_lock(&g->lock);
    g->submitted = g->next;
    pthread_cond_signal(&g->work);
    pthread_mutex_unlock(&g->lock);
}

/* model_backward's hook: layer `layer` is done, and so is every bucket
 * whose lowest layer it is or lies above it. */
static void layer_done(void *ctx, int layer)
{
    comm_grads_t *g = ctx;
    while (g->next < g->nb && layer <= g->b[g->next].lo)
        submit(g);
}

/* ---- gradients sparse by rows ---- */

/*
 * An embedding bag's table has a gradient sparse by rows (sparse.c), and
 * its optimiser step updates only the listed rows.  The ranks' lists
 * differ, so the rows are gathered first: every rank learns every rank's
 * rows, lists the union in one order (ascending), and the union's
 * gradients are summed.  Every replica then steps the same rows with the
 * same gradients in the same order (a clip's sum of squares included),
 * and one process stepping the union of the global batch's rows gives the
 * same result up to the order of float additions.  The collectives carry
 * floats: a row travels as two exact halves (row >> 12, row & 4095), and
 * a rank's values are summed with the others' zeros, exactly.
 */

static int cmp_row(const void *a, const void *b)
{
    const int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Three collectives for parameter p: the rows' counts, the rows, and the
 * union's gradients (with one more float, the count of ranks that failed
 * to list the union, so that a failure is known everywhere at once). */
static int reduce_sparse(comm_grads_t *g, int p, const char *func)
{
    seqcls_comm_t *c = g->c;
    sparse_rows_t *s = g->m->params[p].sparse;
    const size_t len = (size_t)s->row_len;
    float *counts = NULL, *halves = NULL, *grads = NULL;
    int32_t *rows = NULL;
    size_t total = 0, before = 0, nu = 0, i, k;
    /* (a rank that cannot make its lists takes part with none, and says
     * so in the last collective) */
    int r, rc, failed = sparse_rows_ready(s) != SEQCLS_OK ||
                        (!s->compact_on && sparse_grad_dense(s) != SEQCLS_OK);

    if (!(counts = seqcls__calloc((size_t)c->size, sizeof *counts)))
        return seqcls__fail(SEQCLS_E_NOMEM, "%s: out of memory for the rows of %s", func,
                            g->m->params[p].name);
    counts[c->rank] = failed ? 0 : (float)s->n;
    if ((rc = comm_allreduce(c, counts, (size_t)c->size, "the counts of rows", func)))
        goto done;
    for (r = 0; r < c->size; r++) {
        total += (size_t)counts[r];
        if (r < c->rank)
            before += (size_t)counts[r];
    }
    halves = seqcls__calloc(2 * total + 1, sizeof *halves);
    rows = seqcls__alloc(seqcls__mul(total + 1, sizeof *rows));
    grads = seqcls__calloc(seqcls__mul(total, len) + 1, sizeof *grads);
    if (!halves || !rows || !grads) {
        rc = seqcls__fail(SEQCLS_E_NOMEM, "%s: out of memory for %zu rows of %s", func, total,
                          g->m->params[p].name);
        goto done;
    }
    for (i = 0; !failed && i < (size_t)s->n; i++) {
        halves[2 * (before + i)] = (float)(s->rows[i] >> 12);
        halves[2 * (before + i) + 1] = (float)(s->rows[i] & 4095);
    }
    if ((rc = comm_allreduce(c, halves, 2 * total, "the rows", func)))
        goto done;
    for (i = 0; i < total; i++)
        rows[i] = ((int32_t)halves[2 * i] << 12) | (int32_t)halves[2 * i + 1];
    qsort(rows, total, sizeof *rows, cmp_row);
    for (i = 0; i < total; i++)
        if (nu == 0 || rows[i] != rows[nu - 1])
            rows[nu++] = rows[i];
    /* this rank's gradients at their place in the union */
    for (i = 0; !failed && i < (size_t)s->n; i++) {
        const int32_t *at = bsearch(&s->rows[i], rows, nu, sizeof *rows, cmp_row);
        const real *src = sparse_listed_grad(s, (int)i);
        float *dst = grads + (size_t)(at - rows) * len;
        for (k = 0; k < len; k++)
            dst[k] = (float)src[k];
    }
    /* the union listed in its order, gradients zero until the sum arrives */
    if (!failed)
        sparse_clear(s);
    for (i = 0; i < nu && !failed; i++)
        failed = sparse_grad_row(s, rows[i]) == NULL;
    grads[nu * len] = (float)failed;
    if ((rc = comm_allreduce(c, grads, nu * len + 1, "the rows' gradients", func)))
        goto done;
    if (grads[nu * len] > 0) {
        rc = seqcls__fail(SEQCLS_E_NOMEM, "%s: %s out of memory listing %zu rows of %s", func,
                          failed ? "this rank ran" : "another rank ran", nu,
                          g->m->params[p].name);
        goto done;
    }
    for (i = 0; i < nu; i++) {
        real *dst = sparse_listed_grad(s, (int)i);
        for (k = 0; k < len; k++)
            dst[k] = (real)grads[i * len + k];
    }
    c->bytes += (double)(c->size + 2 * total + nu * len + 1) * sizeof(float);
done:
    seqcls__dealloc(counts);
    seqcls__dealloc(halves);
    seqcls__dealloc(rows);
    seqcls__dealloc(grads);
    return rc;
}

int comm_grads_start(comm_grads_t **out, seqcls_comm_t *c, seqcls_model_t *m, const char *func)
{
    comm_grads_t *g;
    size_t bytes = 0;
    int i, hi, top;
    *out = NULL;
    g = seqcls__calloc(1, sizeof *g);
    if (!g)
        return seqcls__fail(SEQCLS_E_NOMEM, "%s: out of memory", func);
    g->c = c;
    g->m = m;
    g->b = seqcls__calloc((size_t)m->nlayers + 1, sizeof *g->b);
    g->trained = seqcls__calloc((size_t)m->nparams + 1, 1);
    if (!g->b || !g->trained)
        goto nomem;
    for (i = 0; i < m->nparams; i++) {
        g->trained[i] = (unsigned char)(m->params[i].trainable != 0);
        if (in_buckets(g, i))
            g->total += m->params[i].grad->numel;
    }
    /* Buckets of whole layers from the last one down, each closed once it
     * holds bucket_bytes (or at layer 0); layers without parameters join
     * the bucket below them. */
    top = m->nlayers - 1;
    for (hi = top, i = top; i >= 0; i--) {
        const layer_t *L = m->layers[i];
        int p;
        for (p = L->p0; p < L->p0 + L->np; p++)
            if (in_buckets(g, p))
                bytes += m->params[p].grad->numel * sizeof(float);
        if (bytes > 0 && (bytes >= (size_t)c->bucket_bytes || i == 0)) {
            bucket_t *b = &g->b[g->nb++];
            b->lo = i;
            b->p0 = L->p0;
            b->p1 = m->layers[hi]->p0 + m->layers[hi]->np;
            b->n = bytes / sizeof(float);
            b->off = g->nb > 1 ? g->b[g->nb - 2].off + g->b[g->nb - 2].n : 0;
            bytes = 0;
            hi = i - 1;
        }
    }
    if (g->total && !(g->buf = seqcls__calloc(g->total, sizeof *g->buf)))
        goto nomem;
    g->threaded = c->overlap && g->nb > 0;
    if (g->threaded) {
        pthread_mutex_init(&g->lock, NULL);
        pthread_cond_init(&g->work, NULL);
        pthread_cond_init(&g->done, NULL);
        if (pthread_create(&g->tid, NULL, grads_thread, g) != 0) {
            pthread_mutex_destroy(&g->lock);
            pthread_cond_destroy(&g->work);
            pthread_cond_destroy(&g->done);
            g->threaded = 0;   /* reduce on the training thread instead */
        }
    }
    *out = g;
    return SEQCLS_OK;
nomem:
    comm_grads_stop(g);
    return seqcls__fail(SEQCLS_E_NOMEM, "%s: out of memory for the gradient buckets", func);
}

void comm_grads_begin(comm_grads_t *g)
{
    g->next = 0;
    if (g->threaded)
        pthread_mutex_lock(&g->lock);
    g->submitted = g->completed = 0;
    g->status = SEQCLS_OK;
    g->seconds = 0;
    if (g->threaded)
        pthread_mutex_unlock(&g->lock);
    g->m->backward_hook = layer_done;
    g->m->backward_hook_ctx = g;
}

int comm_grads_finish(comm_grads_t *g, double backward_seconds, const char *func)
{
    seqcls_comm_t *c = g->c;
    double t0, exposed;
    int i, p, rc, status;
    g->m->backward_hook = NULL;
    g->m->backward_hook_ctx = NULL;
    for (i = 0; i < g->m->nparams; i++)
        if (g->trained[i] != (unsigned char)(g->m->params[i].trainable != 0))
            break;
    t0 = comm_now();
    /* every bucket, also when the backward failed or did not run: every
     * rank makes the same calls */
    while (g->next < g->nb)
        submit(g);
    if (g->threaded) {
        pthread_mutex_lock(&g->lock);
        while (g->completed < g->nb)
            pthread_cond_wait(&g->done, &g->lock);
        pthread_mutex_unlock(&g->lock);
    } else {
        int k;
        for (k = 0; k < g->nb; k++) {
            double secs = 0;
            int rc = g->status == SEQCLS_OK
                         ? reduce_bucket(g, k, &secs, g->msg, sizeof g->msg)
                         : SEQCLS_OK;
            if (rc != SEQCLS_OK)
                g->status = rc;
            g->seconds += secs;
        }
    }
    /* the sparse parameters after the buckets, on this thread; which ones
     * is what the buckets were made for, the same on every rank */
    for (p = 0; g->status == SEQCLS_OK && p < g->m->nparams; p++)
        if (g->trained[p] && g->m->params[p].sparse &&
            (rc = reduce_sparse(g, p, func)) != SEQCLS_OK)
            return rc;
    exposed = comm_now() - t0;
    status = g->status;
    c->steps += 1;
    c->buckets += g->nb;
    c->bytes += (double)g->total * sizeof(float);
    c->comm_seconds += g->seconds;
    /* without the thread nothing is hidden: all of it is waited for */
    c->exposed_seconds += g->threaded ? exposed : g->seconds;
    c->backward_seconds += backward_seconds;
    if (status != SEQCLS_OK)
        return seqcls__fail(status, "%s: %s", func, g->msg);
    if (i < g->m->nparams)
        return seqcls__fail(SEQCLS_E_STATE,
                            "%s: parameter %s was %s during training with a communicator "
                            "(which parameters are trained cannot change during its fit)",
                            func, g->m->params[i].name,
                            g->m->params[i].trainable ? "unfrozen" : "frozen");
    return SEQCLS_OK;
}

void comm_grads_stop(comm_grads_t *g)
{
    if (!g)
        return;
    if (g->threaded) {
        pthread_mutex_lock(&g->lock);
        g->shutdown = 1;
        pthread_cond_signal(&g->work);
        pthread_mutex_unlock(&g->lock);
        pthread_join(g->tid, NULL);
        pthread_mutex_destroy(&g->lock);
        pthread_cond_destroy(&g->work);
        pthread_cond_destroy(&g->done);
    }
    if (g->m && g->m->backward_hook_ctx == g) {
        g->m->backward_hook = NULL;
        g->m->backward_hook_ctx = NULL;
    }
    seqcls__dealloc(g->buf);
    seqcls__dealloc(g->b);
    seqcls__dealloc(g->trained);
    seqcls__dealloc(g);
}

/* ---- for training loops of one's own ---- */

int seqcls_comm_allreduce_grads(seqcls_comm_t *c, seqcls_model_t *m)
{
    const char *func = "seqcls_comm_allreduce_grads";
    comm_grads_t *g = NULL;
    int overlap, rc, i;
    seqcls__clear_error();
    if (!c || !m)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: %s is NULL", func, c ? "model" : "comm");
    if ((rc = model_check_float(m, func)))
        return rc;
    overlap = c->overlap;
    c->overlap = 0;   /* the backward is over: no thread to start */
    rc = comm_grads_start(&g, c, m, func);
    c->overlap = overlap;
    if (rc)
        return rc;
    comm_grads_begin(g);
    rc = comm_grads_finish(g, 0, func);
    if (rc == SEQCLS_OK && c->size > 1) {
        const real size = (real)c->size;
        for (i = 0; i < m->nparams; i++) {
            const sparse_rows_t *s = m->params[i].sparse;
            real *d = m->params[i].grad->data;
            size_t k;
            if (!g->trained[i])
                continue;
            if (s) {   /* its listed rows: the others are zero */
                int r;
                for (r = 0; r < s->n; r++)
                    for (k = 0, d = sparse_listed_grad(s, r); k < (size_t)s->row_len; k++)
                        d[k] /= size;
                continue;
            }
            for (k = 0; k < m->params[i].grad->numel; k++)
                d[k] /= size;
        }
    }
    comm_grads_stop(g);
    return rc;
}

int seqcls_comm_broadcast_params(seqcls_comm_t *c, seqcls_model_t *m)
{
    const char *func = "seqcls_comm_broadcast_params";
    seqcls__clear_error();
    if (!c || !m)
        return seqcls__fail(SEQCLS_E_INVALID_ARG, "%s: %s is NULL", func, c ? "model" : "comm");
    if (model_check_float(m, func))
        return SEQCLS_E_STATE;
    return comm_broadcast_params(c, m, 0, func);
}
