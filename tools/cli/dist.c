/*
 * dist.c -- `mpirun -np N seqcls train ...`: data-parallel training.
 *
 * The command line is built without MPI.  When a launcher started it
 * (mpirun sets OMPI_COMM_WORLD_SIZE, MPICH's PMI_SIZE), `seqcls train`
 * loads libseqcls-mpi.so.1 (or $SEQCLS_MPI_LIBRARY) at run time, which
 * brings MPI, and trains as one rank of the job: every rank reads the
 * training file and takes its share of each batch; rank 0 writes the
 * model, the checkpoints and the log, the others print nothing but their
 * errors.  A rank stopped by the launcher (because another one failed or
 * was killed) says so on stderr before it goes.
 */
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static int rank, size = 1;
static seqcls_comm_t *comm;
static int (*mpi_world_create)(seqcls_comm_t **out);
static int (*mpi_finalize)(void);
static const char *(*mpi_last_error)(void);

/* What a rank says when the launcher stops it: two buffers, so that the
 * signal handler never reads one being rewritten. */
static char term_msg[2][1024];
static volatile sig_atomic_t term_which;

static void on_signal(int sig)
{
    const char *m = term_msg[term_which];
    (void)sig;
    if (write(2, m, strlen(m)) < 0) {
        /* nothing else to do on the way out */
    }
    _exit(EXIT_BAD);
}

void dist_set_checkpoint(const char *path)
{
    int next = !term_which;
    snprintf(term_msg[next], sizeof term_msg[next],
             "seqcls: rank %d of %d: stopped by a signal while training: another rank has "
             "failed or was stopped (mpirun's message says which); no model was written%s%s%s\n",
             rank, size, path ? "; the last checkpoint is " : "", path ? path : "",
             path ? " (--resume continues from it)" : "");
    term_which = next;
}

static int launched_size(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"};
    size_t i;
    for (i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && atoi(v) >= 1)
            return atoi(v);
    }
    return 0;
}

int dist_start(void)
{
    const char *path = getenv("SEQCLS_MPI_LIBRARY");
    const int n = launched_size();
    void *lib;
    int rc;
    if (n == 0)
        return 0;
    if (!path || !*path)
        path = "libseqcls-mpi.so.1";
    /* global: MPI's own plug-ins resolve its symbols through it */
    if (!(lib = dlopen(path, RTLD_NOW | RTLD_GLOBAL)))
        die("train: started by an MPI launcher (%d ranks), but %s cannot be loaded (%s): "
            "build seqcls with Open MPI installed (libopenmpi-dev), or set SEQCLS_MPI_LIBRARY",
            n, path, dlerror());
    *(void **)&mpi_world_create = dlsym(lib, "seqcls_mpi_world_create");
    *(void **)&mpi_finalize = dlsym(lib, "seqcls_mpi_finalize");
    *(void **)&mpi_last_error = dlsym(lib, "seqcls_mpi_last_error");
    if (!mpi_world_create || !mpi_finalize || !mpi_last_error)
        die("train: %s is not libseqcls-mpi (it lacks seqcls_mpi_world_create)", path);
    if ((rc = mpi_world_create(&comm)) != SEQCLS_OK)
        die("train: %s", mpi_last_error());
    rank = seqcls_comm_rank(comm);
    size = seqcls_comm_size(comm);
    dist_set_checkpoint(NULL);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGHUP, on_signal);
    /* the log is rank 0's */
    if (rank != 0 && !freopen("/dev/null", "w", stdout))
        die("train: cannot silence the output of rank %d", rank);
    return 1;
}

int dist_rank(void) { return rank; }

int dist_size(void) { return size; }

seqcls_comm_t *dist_comm(void) { return comm; }

const char *dist_error(void) { return mpi_last_error ? mpi_last_error() : ""; }

int dist_threads(int threads)
{
    const char *local = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int ranks_here;
    if (threads > 0 || !comm)
        return threads;
    /* the cores of this machine shared among its ranks */
    if (!local)
        local = getenv("MPI_LOCALNRANKS");
    ranks_here = local && atoi(local) > 0 ? atoi(local) : 1;
    return cores / ranks_here > 1 ? (int)(cores / ranks_here) : 1;
}

void dist_finish(void)
{
    if (!comm)
        return;
    signal(SIGTERM, SIG_DFL);
    seqcls_comm_free(comm);
    comm = NULL;
    if (mpi_finalize() != SEQCLS_OK)
        die("train: %s", mpi_last_error());
}
