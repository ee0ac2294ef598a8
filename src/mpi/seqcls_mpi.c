/*
 * seqcls_mpi.c -- libseqcls-mpi: the communicator hook of seqcls
 * (seqcls_comm_create) over an MPI communicator.
 *
 * Collectives are started non-blocking and completed by polling MPI_Test:
 * a blocking MPI_Allreduce spins on a core while it waits for the other
 * ranks, and seqcls's communication thread waits while the training
 * thread still has backward work for that core.  The polling sleeps
 * between tests (up to a millisecond) and gives up after a timeout, so
 * that a rank whose peer died returns an error instead of hanging.
 */
#define _POSIX_C_SOURCE 200809L
#define SEQCLS_MPI_BUILDING 1
#include "seqcls_mpi.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    MPI_Comm comm;
    double timeout;
} state_t;

static double default_timeout = -1;   /* < 0: not set, read SEQCLS_MPI_TIMEOUT */
static int we_initialised;
/* Written by the thread that failed, read after seqcls has returned the
 * failure (one collective runs at a time). */
static char last_error[512];

const char *seqcls_mpi_last_error(void) { return last_error; }

static int fail(int status, const char *what, int mpi_rc)
{
    char reason[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    if (mpi_rc != MPI_SUCCESS && MPI_Error_string(mpi_rc, reason, &len) != MPI_SUCCESS)
        snprintf(reason, sizeof reason, "MPI error %d", mpi_rc);
    snprintf(last_error, sizeof last_error, "%s%s%s", what, *reason ? ": " : "", reason);
    return status;
}

static double timeout_now(void)
{
    if (default_timeout < 0) {
        const char *env = getenv("SEQCLS_MPI_TIMEOUT");
        char *end = NULL;
        double v = env ? strtod(env, &end) : 600;
        default_timeout = env && end != env && *end == '\0' && v >= 0 && isfinite(v) ? v : 600;
    }
    return default_timeout;
}

int seqcls_mpi_set_timeout(double seconds)
{
    if (!(seconds >= 0) || !isfinite(seconds))
        return fail(SEQCLS_E_INVALID_ARG, "seqcls_mpi_set_timeout: the timeout is negative or "
                    "not finite", MPI_SUCCESS);
    default_timeout = seconds;
    return SEQCLS_OK;
}

/* Complete a request by testing it until it is done, failed, or the
 * timeout has passed. */
static int wait_for(state_t *s, MPI_Request *req, const char *what, size_t size)
{
    const double start = MPI_Wtime();
    struct timespec nap = {0, 20000};
    long tests = 0;
    for (;;) {
        int done = 0, rc = MPI_Test(req, &done, MPI_STATUS_IGNORE);
        char msg[160];
        if (rc != MPI_SUCCESS) {
            snprintf(msg, sizeof msg, "%s of %zu bytes failed", what, size);
            return fail(1, msg, rc);
        }
        if (done)
            return 0;
        if (s->timeout > 0 && MPI_Wtime() - start > s->timeout) {
            /* a collective cannot be cancelled: the request is left behind */
            snprintf(msg, sizeof msg,
                     "%s of %zu bytes: no answer from the other ranks in %g s (has a rank "
                     "stopped?)", what, size, s->timeout);
            return fail(2, msg, MPI_SUCCESS);
        }
        /* A few tests at once (a collective that is nearly done), then
         * sleeps growing from 20 us to 1 ms: a rank waits for the others
         * mostly while they still compute, and a waiting thread that spins
         * (or only yields) takes a core from them, which makes them later
         * still; at 1 ms a test costs nothing, and each test moves the
         * transfer on (a large one goes in a few single copies). */
        if (++tests > 50) {
            nanosleep(&nap, NULL);
            if (nap.tv_nsec < 1000000)
                nap.tv_nsec = nap.tv_nsec * 2 > 1000000 ? 1000000 : nap.tv_nsec * 2;
        }
    }
}

/* MPI counts are int: large buffers go in pieces of at most 2^30 elements. */
#define PIECE ((size_t)1 << 30)

static int allreduce(void *user, float *data, size_t n)
{
    state_t *s = user;
    size_t off;
    for (off = 0; off < n; off += PIECE) {
        const int count = (int)(n - off < PIECE ? n - off : PIECE);
        MPI_Request req;
        int rc = MPI_Iallreduce(MPI_IN_PLACE, data + off, count, MPI_FLOAT, MPI_SUM, s->comm,
                                &req);
        if (rc != MPI_SUCCESS)
            return fail(1, "MPI_Iallreduce", rc);
        if ((rc = wait_for(s, &req, "MPI_Iallreduce", (size_t)count * sizeof(float))) != 0)
            return rc;
    }
    return 0;
}

static int broadcast(void *user, void *data, size_t bytes)
{
    state_t *s = user;
    size_t off;
    for (off = 0; off < bytes; off += PIECE) {
        const int count = (int)(bytes - off < PIECE ? bytes - off : PIECE);
        MPI_Request req;
        int rc = MPI_Ibcast((char *)data + off, count, MPI_BYTE, 0, s->comm, &req);
        if (rc != MPI_SUCCESS)
            return fail(1, "MPI_Ibcast", rc);
        if ((rc = wait_for(s, &req, "MPI_Ibcast", (size_t)count)) != 0)
            return rc;
    }
    return 0;
}

static void destroy(void *user)
{
    state_t *s = user;
    int finalized = 1;
    MPI_Finalized(&finalized);
    if (!finalized)
        MPI_Comm_free(&s->comm);
    free(s);
}

int seqcls_mpi_comm_create(seqcls_comm_t **out, MPI_Comm comm)
{
    state_t *s;
    int initialized = 0, finalized = 0, level = MPI_THREAD_SINGLE, rank, size, rc;
    if (!out)
        return fail(SEQCLS_E_INVALID_ARG, "seqcls_mpi_comm_create: out is NULL", MPI_SUCCESS);
    *out = NULL;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    if (!initialized || finalized)
        return fail(SEQCLS_E_STATE, finalized ? "seqcls_mpi_comm_create: MPI is finalised"
                    : "seqcls_mpi_comm_create: MPI is not initialised (MPI_Init_thread, or "
                      "seqcls_mpi_world_create)", MPI_SUCCESS);
    if (!(s = calloc(1, sizeof *s)))
        return fail(SEQCLS_E_NOMEM, "seqcls_mpi_comm_create: out of memory", MPI_SUCCESS);
    s->timeout = timeout_now();
    if ((rc = MPI_Comm_dup(comm, &s->comm)) != MPI_SUCCESS) {
        free(s);
        return fail(SEQCLS_E_COMM, "seqcls_mpi_comm_create: MPI_Comm_dup", rc);
    }
    if ((rc = MPI_Comm_set_errhandler(s->comm, MPI_ERRORS_RETURN)) != MPI_SUCCESS ||
        (rc = MPI_Comm_rank(s->comm, &rank)) != MPI_SUCCESS ||
        (rc = MPI_Comm_size(s->comm, &size)) != MPI_SUCCESS) {
        MPI_Comm_free(&s->comm);
        free(s);
        return fail(SEQCLS_E_COMM, "seqcls_mpi_comm_create", rc);
    }
    rc = seqcls_comm_create(out, rank, size, allreduce, broadcast, s);
    if (rc == SEQCLS_OK)
        rc = seqcls_comm_set_destructor(*out, destroy);
    if (rc != SEQCLS_OK) {
        snprintf(last_error, sizeof last_error, "seqcls_mpi_comm_create: %s", seqcls_last_error());
        if (*out)
            seqcls_comm_free(*out);   /* frees s through the destructor */
        else
            destroy(s);
        *out = NULL;
        return rc;
    }
    /* the communication thread calls MPI while nothing else does */
    MPI_Query_thread(&level);
    if (level < MPI_THREAD_SERIALIZED)
        seqcls_comm_set_int(*out, SEQCLS_COMM_OVERLAP, 0);
    last_error[0] = '\0';
    return SEQCLS_OK;
}

int seqcls_mpi_world_create(seqcls_comm_t **out)
{
    int initialized = 0, provided, rc;
    if (!out)
        return fail(SEQCLS_E_INVALID_ARG, "seqcls_mpi_world_create: out is NULL", MPI_SUCCESS);
    *out = NULL;
    MPI_Initialized(&initialized);
    if (!initialized) {
        if ((rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, &provided)) != MPI_SUCCESS)
            return fail(SEQCLS_E_COMM, "seqcls_mpi_world_create: MPI_Init_thread", rc);
        we_initialised = 1;
    }
    return seqcls_mpi_comm_create(out, MPI_COMM_WORLD);
}

int seqcls_mpi_finalize(void)
{
    int finalized = 1, rc;
    MPI_Finalized(&finalized);
    if (!we_initialised || finalized)
        return SEQCLS_OK;
    if ((rc = MPI_Finalize()) != MPI_SUCCESS)
        return fail(SEQCLS_E_COMM, "seqcls_mpi_finalize: MPI_Finalize", rc);
    return SEQCLS_OK;
}

void seqcls_mpi_abort(int code)
{
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    if (initialized && !finalized)
        MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}
