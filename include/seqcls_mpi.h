/*
 * seqcls_mpi.h -- libseqcls-mpi: a seqcls communicator over MPI, for
 * data-parallel training with seqcls_fit (docs/distributed.md).
 *
 * libseqcls.so itself knows no MPI: it takes a communicator made of two
 * callbacks (seqcls_comm_create).  This small library makes one from an
 * MPI communicator.  Build against it with `pkg-config --cflags --libs
 * seqcls-mpi` (it brings MPI's own flags) and start the program with
 * mpirun.
 *
 *     MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
 *     seqcls_comm_t *comm;
 *     seqcls_mpi_comm_create(&comm, MPI_COMM_WORLD);
 *     seqcls_fit_config_set_comm(config, comm);
 *     seqcls_fit(model, optimizer, x, lengths, y, NULL, NULL, NULL, config);
 *     seqcls_comm_free(comm);
 *     MPI_Finalize();
 *
 * Functions return seqcls status codes; the adapter's own message is in
 * seqcls_mpi_last_error().  Since 1.1.
 */
#ifndef SEQCLS_MPI_H
#define SEQCLS_MPI_H

#include <mpi.h>

#include <seqcls.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && defined(SEQCLS_MPI_BUILDING)
#define SEQCLS_MPI_API __attribute__((visibility("default")))
#else
#define SEQCLS_MPI_API
#endif

/**
 * A communicator over `comm` (duplicated: seqcls's messages never mix
 * with the program's), with rank and size those of `comm`.  Its
 * collectives are MPI_Iallreduce (MPI_FLOAT, MPI_SUM) and MPI_Ibcast from
 * rank 0, completed by polling MPI_Test with sleeps of up to a
 * millisecond between tests (a waiting rank leaves the cores to the
 * computation), and given up after the timeout (seqcls_mpi_set_timeout):
 * then the call fails, seqcls_fit returns SEQCLS_E_COMM and
 * seqcls_mpi_last_error() says what happened.
 * Errors are returned (MPI_ERRORS_RETURN on the duplicate), never fatal
 * in MPI.  MPI must be initialised; with less than MPI_THREAD_SERIALIZED
 * the gradients are all-reduced after each backward pass instead of
 * during it (SEQCLS_COMM_OVERLAP 0).  seqcls_comm_free frees the
 * duplicate (unless MPI is finalised by then).
 * @return SEQCLS_OK, SEQCLS_E_INVALID_ARG (out NULL), SEQCLS_E_STATE (MPI
 *         not initialised, or finalised), SEQCLS_E_COMM (an MPI call
 *         failed), SEQCLS_E_NOMEM.
 */
SEQCLS_MPI_API int seqcls_mpi_comm_create(seqcls_comm_t **out, MPI_Comm comm);

/**
 * For programs without MPI code of their own (the seqcls command line,
 * Python through ctypes): initialise MPI with MPI_THREAD_SERIALIZED unless
 * it is already, and make a communicator over MPI_COMM_WORLD.
 * @return as seqcls_mpi_comm_create.
 */
SEQCLS_MPI_API int seqcls_mpi_world_create(seqcls_comm_t **out);

/**
 * Finalise MPI if seqcls_mpi_world_create initialised it and it is not
 * finalised yet; free every communicator first.  @return SEQCLS_OK or
 * SEQCLS_E_COMM.
 */
SEQCLS_MPI_API int seqcls_mpi_finalize(void);

/** Stop every rank of MPI_COMM_WORLD with `code` (MPI_Abort). */
SEQCLS_MPI_API void seqcls_mpi_abort(int code);

/**
 * Seconds a collective of the communicators created afterwards may wait
 * for the other ranks before it fails (0 = forever).  The default is the
 * environment variable SEQCLS_MPI_TIMEOUT if set, else 600: a rank that
 * has died or hangs stops the others within that time even when the
 * launcher does not (mpirun usually stops them at once).
 * @return SEQCLS_OK, SEQCLS_E_INVALID_ARG (negative or not finite).
 */
SEQCLS_MPI_API int seqcls_mpi_set_timeout(double seconds);

/** The adapter's last failure, e.g. "MPI_Iallreduce: no answer from the
 *  other ranks in 600 s"; "" if none.  Never NULL. */
SEQCLS_MPI_API const char *seqcls_mpi_last_error(void);

#ifdef __cplusplus
}
#endif

#endif /* SEQCLS_MPI_H */
