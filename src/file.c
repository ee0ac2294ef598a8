/*
 * file.c -- the file system side of saving and loading: reading a whole
 * model file with its size checked, and replacing a file atomically
 * (temporary file in the same directory, write, fsync, close, rename),
 * so that a crash or a full disk never leaves a half-written model
 * where a good one was.
 */
#include "internal.h"
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The system's reason for errno `err`, thread-safely (XSI strerror_r). */
static const char *reason(int err, char *buf, size_t n)
{
    if (strerror_r(err, buf, n) != 0)
        snprintf(buf, n, "error %d", err);
    return buf;
}

static int io_fail(const char *func, const char *step, const char *name, int err)
{
    char why[128];
    return seqcls__fail(SEQCLS_E_IO, "%s: %s '%s' failed: %s", func, step, name,
                        reason(err, why, sizeof why));
}

/* ---- atomic replacement ---- */

int file_atomic_open(file_atomic_t *f, const char *path, const char *func)
{
    static const char suffix[] = ".tmp-XXXXXX";
    size_t n = strlen(path);
    struct stat st;
    mode_t mode = 0644;

    f->fd = -1;
    f->path = path;
    f->func = func;
    f->tmp = seqcls__alloc(n + sizeof suffix);
    if (!f->tmp)
        return seqcls__fail(SEQCLS_E_NOMEM, "%s: out of memory", func);
    memcpy(f->tmp, path, n);
    memcpy(f->tmp + n, suffix, sizeof suffix);
    /* The temporary file sits next to the target: rename is atomic only
     * within one file system. */
    f->fd = mkstemp(f->tmp);
    if (f->fd < 0) {
        int err = errno;
        seqcls__dealloc(f->tmp);
        f->tmp = NULL;
        return io_fail(func, "creating a temporary file next to", path, err);
    }
    /* mkstemp makes the file 0600; give the new model the permissions of
     * the file it replaces, or rw-r--r-- if there was none. */
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
        mode = st.st_mode & 0777;
    if (fchmod(f->fd, mode) != 0) {
        int rc = io_fail(func, "fchmod of", f->tmp, errno);
        file_atomic_abort(f);
        return rc;
    }
    return SEQCLS_OK;
}

int file_atomic_write(file_atomic_t *f, const void *data, size_t n)
{
    const char *p = data;
    while (n > 0) {
        ssize_t k = write(f->fd, p, n);
        if (k < 0) {
            int err = errno;
            char why[128];
            if (err == EINTR)
                continue;
            seqcls__fail(SEQCLS_E_IO, "%s: write to the temporary file '%s' failed: %s "
                         "('%s' is unchanged)", f->func, f->tmp, reason(err, why, sizeof why),
                         f->path);
            file_atomic_abort(f);
            return SEQCLS_E_IO;
        }
        p += k;
        n -= (size_t)k;
    }
    return SEQCLS_OK;
}

void file_atomic_abort(file_atomic_t *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    if (f->tmp) {
        unlink(f->tmp);
        seqcls__dealloc(f->tmp);
        f->tmp = NULL;
    }
}

/* Make the rename itself durable.  Best effort: some file systems cannot
 * fsync a directory, and the new file is already in place. */
static void sync_directory(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir;
    size_t n;
    int fd;
    if (!slash) {
        fd = open(".", O_RDONLY | O_CLOEXEC);
    } else {
        n = slash == path ? 1 : (size_t)(slash - path);
        dir = seqcls__alloc(n + 1);
        if (!dir)
            return;
        memcpy(dir, path, n);
        dir[n] = '\0';
        fd = open(dir, O_RDONLY | O_CLOEXEC);
        seqcls__dealloc(dir);
    }
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

int file_atomic_commit(file_atomic_t *f)
{
    const char *step = NULL;
    int err = 0, fd = f->fd;
    char why[128];

    if (fsync(fd) != 0) {
        step = "fsync";
        err = errno;
    }
    f->fd = -1;
    if (close(fd) != 0 && !step) {
        step = "close";
        err = errno;
    }
    if (!step && rename(f->tmp, f->path) != 0) {
        step = "rename";
        err = errno;
    }
    if (step) {
        seqcls__fail(SEQCLS_E_IO, "%s: %s of the temporary file '%s' failed: %s ('%s' is unchanged)",
                     f->func, step, f->tmp, reason(err, why, sizeof why), f->path);
        file_atomic_abort(f);
        return SEQCLS_E_IO;
    }
    seqcls__dealloc(f->tmp);
    f->tmp = NULL;
    sync_directory(f->path);
    return SEQCLS_OK;
}

/* ---- reading ---- */

int file_read_all(const char *path, size_t max, void **buf, size_t *len, const char *func)
{
    struct stat st;
    unsigned char *p;
    size_t size, got = 0;
    char extra;
    int fd;

    *buf = NULL;
    *len = 0;
    /* O_NONBLOCK: opening a FIFO must not wait for a writer.  It changes
     * nothing for the regular files that get past fstat. */
    fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return io_fail(func, "opening", path, errno);
    if (fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        return io_fail(func, "fstat of", path, err);
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return seqcls__fail(SEQCLS_E_IO, "%s: '%s' is a directory, not a model file", func, path);
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return seqcls__fail(SEQCLS_E_IO, "%s: '%s' is not a regular file", func, path);
    }
    if (st.st_size < 0 || (uint64_t)st.st_size > (uint64_t)max) {
        close(fd);
        return seqcls__fail(SEQCLS_E_IO, "%s: '%s' is %lld bytes, more than a model file may have (%zu)",
                            func, path, (long long)st.st_size, max);
    }
    size = (size_t)st.st_size;
    p = seqcls__alloc(size);
    if (!p) {
        close(fd);
        return seqcls__fail(SEQCLS_E_NOMEM, "%s: out of memory for the %zu bytes of '%s'", func,
                            size, path);
    }
    while (got < size) {
        ssize_t k = read(fd, p + got, size - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            int err = errno;
            close(fd);
            seqcls__dealloc(p);
            if (k == 0)
                return seqcls__fail(SEQCLS_E_IO, "%s: '%s' shrank while being read", func, path);
            return io_fail(func, "reading", path, err);
        }
        got += (size_t)k;
    }
    /* One more byte: the file must not have grown either. */
    {
        ssize_t k;
        do
            k = read(fd, &extra, 1);
        while (k < 0 && errno == EINTR);
        if (k != 0) {
            int err = errno;
            close(fd);
            seqcls__dealloc(p);
            if (k > 0)
                return seqcls__fail(SEQCLS_E_IO, "%s: '%s' grew while being read", func, path);
            return io_fail(func, "reading", path, err);
        }
    }
    close(fd);
    *buf = p;
    *len = size;
    return SEQCLS_OK;
}
