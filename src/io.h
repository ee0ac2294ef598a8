/*
 * io.h -- internal interfaces of saving and loading: the CRC (crc32.c),
 * whole-file reads and atomic file replacement (file.c), and the
 * allocation budget that bounds what loading an untrusted file may
 * allocate (alloc.c).  Not installed.
 */
#ifndef SEQCLS_IO_H
#define SEQCLS_IO_H

#include <stddef.h>
#include <stdint.h>

#include "seqcls.h"

/* zlib's crc32(): continue `crc` (0 to start) over n bytes. */
uint32_t seqcls__crc32(uint32_t crc, const void *data, size_t n);

/*
 * A file being replaced atomically.  On Linux, where the file system
 * supports O_TMPFILE, the data goes to an unnamed file in the target's
 * directory that file_atomic_commit flushes to disk and then links in:
 * under the target's name if there is no such file, else under a short
 * temporary name (".sqcl-XXXXXX") renamed over the target at once.
 * Elsewhere, or with SEQCLS_SAVE_NO_TMPFILE=1 in the environment, the
 * data goes to a named temporary file ".sqcl-XXXXXX" (mkstemp) in the
 * target's directory, renamed over the target by file_atomic_commit.  On
 * any failure the temporary file is removed, the target is left as it
 * was, and the error (SEQCLS_E_IO or SEQCLS_E_NOMEM) is recorded with
 * the step that failed and the system's reason.
 */
typedef struct {
    int fd;                  /* the data; -1 when closed */
    int dirfd;               /* the target's directory; -1 when closed */
    char *dir;               /* its name, owned ("." for a bare file name) */
    char tmp[16];            /* the temporary name in dir, "" while the file has none */
    const char *base;        /* the target's last component (inside path) */
    const char *path;        /* the target */
    const char *func;        /* public entry point, for messages */
} file_atomic_t;

int file_atomic_open(file_atomic_t *f, const char *path, const char *func);
int file_atomic_write(file_atomic_t *f, const void *data, size_t n);
/* fsync, name (link or rename) as the target, fsync the directory; the
 * temporary file is gone either way. */
int file_atomic_commit(file_atomic_t *f);
/* Close and remove the temporary file (after a failure elsewhere). */
void file_atomic_abort(file_atomic_t *f);

/*
 * Open a regular file of at most `max` bytes for reading: *fd and its
 * size.  Directories, devices, FIFOs and sockets are refused without
 * blocking.  SEQCLS_OK or SEQCLS_E_IO.
 */
int file_open_read(const char *path, size_t max, int *fd, size_t *size, const char *func);
/* SEQCLS_E_IO with "func: step 'name' failed: <the system's reason for err>". */
int file_fail(const char *func, const char *step, const char *name, int err);
/* Read up to n bytes at offset off (fewer only at the end of the file):
 * *got; 0 or the errno of a failed read. */
int file_pread(int fd, void *buf, size_t n, size_t off, size_t *got);
/* Continue the CRC-32 *crc (seqcls__crc32) over the n bytes of the file
 * at offset off, read through buf (cap bytes); a hole of a sparse file
 * is counted as the zeros it reads as, without reading it.  0, the errno
 * of a failed read, or -1 if the file ends first. */
int file_crc32(int fd, size_t off, size_t n, uint32_t *crc, void *buf, size_t cap);
/* Read the whole file of `size` bytes (as fstat said) into a new buffer
 * (free with seqcls__dealloc); a file that shrank or grew meanwhile is
 * refused.  SEQCLS_OK, SEQCLS_E_IO or SEQCLS_E_NOMEM. */
int file_read_whole(int fd, size_t size, void **buf, const char *path, const char *func);
/* The largest model or checkpoint file the loaders read (256 GiB, or a
 * quarter of the address space). */
size_t model_file_max_bytes(void);
/*
 * Load the model file `path` (model, vocabulary, labels, metadata) as
 * seqcls_model_load does, and keep its bytes in *buf (free with
 * seqcls__dealloc; *len bytes) for the caller's own sections.  The
 * header and the section structure are checked by reading a few bytes
 * before the file is read: a file that is not a model is refused
 * without reading it, and no more memory is allocated than the file
 * holds.  `func` names the caller in messages.
 */
int model_file_load(seqcls_model_t **out, const char *path, void **buf, size_t *len,
                    const char *func);

/*
 * While a budget is set, allocations in the calling thread are counted
 * against it and refused once it is spent.  Loading sets one derived
 * from the size of the file, so a small hostile file cannot make the
 * library allocate gigabytes.  budget_end returns what happened.
 */
enum { BUDGET_EXCEEDED = 1, BUDGET_SYSTEM_OOM = 2 };
void seqcls__budget_begin(size_t bytes);
unsigned seqcls__budget_end(void);

/*
 * For the parts of the library that store their own sections in a model
 * file (optimiser state: OPTM; vocabulary: VOCB).  See docs/file-format.md.
 */
typedef struct {
    char tag[4];             /* four ASCII letters or digits, not CONF/PARM/ENDF */
    const void *data;
    size_t len;
} seqcls_section_t;

/*
 * Save `m` with `nextra` extra sections, written in order between PARM
 * and ENDF: atomically to `path`, or, if path is NULL, into a new buffer
 * (*buf, *len).  Arguments are checked as by seqcls_model_save; `func`
 * names the caller in messages.
 */
int seqcls__model_save(const seqcls_model_t *m, const seqcls_section_t *extra, int nextra,
                       const char *path, void **buf, size_t *len, const char *func);

/*
 * Check a saved model's structure (header, section lengths, every CRC,
 * required sections) and find the payload of section `tag` (4 bytes) in
 * it: SEQCLS_OK, SEQCLS_E_RANGE if there is none, or the errors of
 * seqcls_model_load_buffer.  *payload points into buf.
 */
int seqcls__model_section(const void *buf, size_t len, const char *tag, const void **payload,
                          size_t *n, const char *func);

/*
 * What a model carries besides its layers (metadata.c): save a model with
 * its VOCB and LABL sections (and `extra` more), and restore them from a
 * checked model file after the model itself has loaded.
 */
int metadata_save_with(const seqcls_model_t *m, const seqcls_section_t *extra, int nextra,
                       const char *path, void **buf, size_t *len, const char *func);
#define metadata_save(m, path, buf, len, func) metadata_save_with(m, NULL, 0, path, buf, len, func)
int metadata_load(seqcls_model_t *m, const void *buf, size_t len, const char *func);

#endif /* SEQCLS_IO_H */
