/*
 * file.c -- the file system side of saving and loading: opening a model
 * file for reading and reading it with its size checked, and replacing
 * a file atomically, so that a crash, a kill or a full disk never leaves
 * a half-written model where a good one was.
 *
 * Where Linux allows it, a save writes into an unnamed file (O_TMPFILE)
 * in the target's directory and gives it a name (linkat through
 * /proc/self/fd) only once it is complete and flushed: a save killed
 * before that leaves nothing behind.  Elsewhere, a named temporary file
 * (mkstemp) is renamed over the target.
 */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE 1          /* O_TMPFILE, mkostemp */
#endif
#include "internal.h"
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The system's reason for errno `err`, thread-safely (glibc's GNU
 * strerror_r under _GNU_SOURCE, XSI strerror_r elsewhere). */
static const char *reason(int err, char *buf, size_t n)
{
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
    const char *s = strerror_r(err, buf, n);
    if (s != buf)
        snprintf(buf, n, "%s", s ? s : "unknown error");
#else
    if (strerror_r(err, buf, n) != 0)
        snprintf(buf, n, "error %d", err);
#endif
    return buf;
}

int file_fail(const char *func, const char *step, const char *name, int err)
{
    char why[128];
    return seqcls__fail(SEQCLS_E_IO, "%s: %s '%s' failed: %s", func, step, name,
                        reason(err, why, sizeof why));
}

/* ---- atomic replacement ---- */

#define TMP_PREFIX ".sqcl-"

/* The name of the temporary file, for messages. */
static const char *tmp_text(const file_atomic_t *f, char *buf, size_t n)
{
    if (f->tmp[0])
        snprintf(buf, n, "'%s%s%s'", f->dir, strcmp(f->dir, "/") ? "/" : "", f->tmp);
    else
        snprintf(buf, n, "(unnamed, in '%s')", f->dir);
    return buf;
}

/* Six characters of [A-Za-z0-9], different at each call. */
static void random_suffix(char *out, const void *salt)
{
    static const char digits[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    static _Atomic uint64_t counter;
    struct timespec ts;
    uint64_t x;
    int i;
    clock_gettime(CLOCK_REALTIME, &ts);
    x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ ((uint64_t)getpid() << 16) ^
        (uint64_t)(uintptr_t)salt ^ (atomic_fetch_add(&counter, 1) * 0x9E3779B97F4A7C15ull);
    /* splitmix64's finaliser */
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    x ^= x >> 31;
    for (i = 0; i < 6; i++) {
        out[i] = digits[x % 62];
        x /= 62;
    }
    out[6] = '\0';
}

/* SEQCLS_SAVE_NO_TMPFILE=1 (any value but empty or "0") makes saves use
 * the named temporary file even where O_TMPFILE works: for tests. */
static int tmpfile_disabled(void)
{
    const char *e = getenv("SEQCLS_SAVE_NO_TMPFILE");
    return e && *e && strcmp(e, "0") != 0;
}

#if defined(__linux__) && defined(O_TMPFILE)
#define HAVE_ANONYMOUS 1
/* The /proc name of an open descriptor. */
static void proc_fd_name(char *buf, size_t n, int fd)
{
    snprintf(buf, n, "/proc/self/fd/%d", fd);
}

/* An unnamed file in the directory: 1 if made, 0 if the file system or
 * the system cannot (use the named scheme), -1 (errno set) on failure. */
static int open_anonymous(file_atomic_t *f)
{
    char proc[64];
    struct stat st;
    int fd;
    if (tmpfile_disabled())
        return 0;
    fd = openat(f->dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) {
        /* Kernels or file systems without O_TMPFILE. */
        if (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL || errno == ENOTSUP)
            return 0;
        return -1;
    }
    /* It gets its name through /proc (linkat with AT_EMPTY_PATH needs a
     * privilege); without /proc, use the named scheme. */
    proc_fd_name(proc, sizeof proc, fd);
    if (stat(proc, &st) != 0) {
        close(fd);
        return 0;
    }
    f->fd = fd;
    return 1;
}

static int link_anonymous(const file_atomic_t *f, const char *name)
{
    char proc[64];
    proc_fd_name(proc, sizeof proc, f->fd);
    return linkat(AT_FDCWD, proc, f->dirfd, name, AT_SYMLINK_FOLLOW);
}
#else
#define HAVE_ANONYMOUS 0
#endif

/* A new named temporary file in the directory: the descriptor, -1
 * (errno set) or -2 (out of memory). */
static int open_named(file_atomic_t *f)
{
    size_t n = strlen(f->dir);
    char *name = seqcls__alloc(n + sizeof "/" TMP_PREFIX "XXXXXX");
    int fd, err;
    if (!name)
        return -2;
    snprintf(name, n + sizeof "/" TMP_PREFIX "XXXXXX", "%s%s" TMP_PREFIX "XXXXXX", f->dir,
             strcmp(f->dir, "/") ? "/" : "");
#if defined(__linux__)
    fd = mkostemp(name, O_CLOEXEC);
#else
    fd = mkstemp(name);
    if (fd >= 0)
        (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
#endif
    err = errno;
    if (fd >= 0)   /* the last component, with its terminator */
        memcpy(f->tmp, name + strlen(name) - (sizeof TMP_PREFIX - 1 + 6), sizeof TMP_PREFIX + 6);
    seqcls__dealloc(name);
    errno = err;
    return fd;
}

int file_atomic_open(file_atomic_t *f, const char *path, const char *func)
{
    const char *slash = strrchr(path, '/');
    struct stat st;
    mode_t mode = 0644;
    size_t n = !slash ? 1 : slash == path ? 1 : (size_t)(slash - path);
    int made = 0;

    f->fd = -1;
    f->dirfd = -1;
    f->dir = NULL;
    f->tmp[0] = '\0';
    f->path = path;
    f->func = func;
    f->base = slash ? slash + 1 : path;
    if (!*f->base)
        return file_fail(func, "saving to", path, EISDIR);
    /* Everything happens in the target's directory: link and rename are
     * atomic only within one file system. */
    f->dir = seqcls__alloc(n + 1);
    if (!f->dir)
        return seqcls__fail(SEQCLS_E_NOMEM, "%s: out of memory", func);
    memcpy(f->dir, slash ? path : ".", n);
    f->dir[n] = '\0';
    f->dirfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (f->dirfd < 0) {
        made = -1;
    } else {
#if HAVE_ANONYMOUS
        made = open_anonymous(f);
#endif
        if (made == 0) {
            f->fd = open_named(f);
            made = f->fd >= 0 ? 1 : f->fd;
            if (made == -2) {
                f->fd = -1;
                file_atomic_abort(f);
                return seqcls__fail(SEQCLS_E_NOMEM, "%s: out of memory", func);
            }
        }
    }
    if (made < 0) {
        int rc = file_fail(func, "creating a temporary file next to", path, errno);
        file_atomic_abort(f);
        return rc;
    }
    /* The file is made 0600; give the new model the permissions of the
     * file it replaces, or rw-r--r-- if there was none. */
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
        mode = st.st_mode & 0777;
    if (fchmod(f->fd, mode) != 0) {
        char name[300], why[128];
        seqcls__fail(SEQCLS_E_IO, "%s: fchmod of the temporary file %s failed: %s", func,
                     tmp_text(f, name, sizeof name), reason(errno, why, sizeof why));
        file_atomic_abort(f);
        return SEQCLS_E_IO;
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
            char why[128], name[300];
            if (err == EINTR)
                continue;
            seqcls__fail(SEQCLS_E_IO, "%s: write to the temporary file %s failed: %s "
                         "('%s' is unchanged)", f->func, tmp_text(f, name, sizeof name),
                         reason(err, why, sizeof why), f->path);
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
    if (f->tmp[0] && f->dirfd >= 0)
        unlinkat(f->dirfd, f->tmp, 0);
    f->tmp[0] = '\0';
    if (f->dirfd >= 0)
        close(f->dirfd);
    f->dirfd = -1;
    seqcls__dealloc(f->dir);
    f->dir = NULL;
}

/* Between giving the complete file a temporary name and renaming it over
 * the target, a signal that ends the process would leave that name
 * behind: the calling thread blocks what can be blocked for those two
 * system calls (SIGKILL cannot be). */
static void block_signals(sigset_t *old)
{
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, old);
}

static void restore_signals(const sigset_t *old) { pthread_sigmask(SIG_SETMASK, old, NULL); }

int file_atomic_commit(file_atomic_t *f)
{
    const char *step = NULL;
    char why[128], name[300] = "";
    sigset_t old;
    int err = 0;

    if (fsync(f->fd) != 0) {
        step = "fsync";
        err = errno;
    }
#if HAVE_ANONYMOUS
    if (!step && !f->tmp[0]) {
        /* The unnamed file: it takes the target's name if there is no
         * such file (atomic, nothing to clean up), else a temporary name
         * that is renamed over the target. */
        int tries;
        block_signals(&old);
        err = link_anonymous(f, f->base) == 0 ? 0 : errno;
        for (tries = 0; err == EEXIST && tries < 100; tries++) {
            memcpy(f->tmp, TMP_PREFIX, sizeof TMP_PREFIX - 1);
            random_suffix(f->tmp + sizeof TMP_PREFIX - 1, f);
            err = link_anonymous(f, f->tmp) == 0 ? 0 : errno;
            if (err) {
                f->tmp[0] = '\0';
            } else if (renameat(f->dirfd, f->tmp, f->dirfd, f->base) != 0) {
                err = errno;
                step = "rename";
                tmp_text(f, name, sizeof name);
                unlinkat(f->dirfd, f->tmp, 0);
            }
            if (!err || step)
                break;
        }
        if (err && !step) {
            step = "linkat";
            tmp_text(f, name, sizeof name);
        }
        f->tmp[0] = '\0';
        restore_signals(&old);
        if (!step)
            goto linked;
    }
#endif
    if (!step) {
        int fd = f->fd;
        f->fd = -1;
        if (close(fd) != 0) {
            step = "close";
            err = errno;
        } else {
            block_signals(&old);
            if (renameat(f->dirfd, f->tmp, f->dirfd, f->base) != 0) {
                step = "rename";
                err = errno;
            } else {
                f->tmp[0] = '\0';
            }
            restore_signals(&old);
        }
    }
    if (step) {
        if (!name[0])
            tmp_text(f, name, sizeof name);
        seqcls__fail(SEQCLS_E_IO, "%s: %s of the temporary file %s failed: %s ('%s' is unchanged)",
                     f->func, step, name, reason(err, why, sizeof why), f->path);
        file_atomic_abort(f);
        return SEQCLS_E_IO;
    }
#if HAVE_ANONYMOUS
linked:
#endif
    /* Make the new name durable.  Best effort: some file systems cannot
     * fsync a directory, and the new file is already in place. */
    (void)fsync(f->dirfd);
    file_atomic_abort(f);   /* closes what is still open; no name is left to remove */
    return SEQCLS_OK;
}

/* ---- reading ---- */

int file_open_read(const char *path, size_t max, int *fd_out, size_t *size, const char *func)
{
    struct stat st;
    int fd;

    *fd_out = -1;
    *size = 0;
    /* O_NONBLOCK: opening a FIFO must not wait for a writer.  It changes
     * nothing for the regular files that get past fstat. */
    fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return file_fail(func, "opening", path, errno);
    if (fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        return file_fail(func, "fstat of", path, err);
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
    *fd_out = fd;
    *size = (size_t)st.st_size;
    return SEQCLS_OK;
}

int file_pread(int fd, void *buf, size_t n, size_t off, size_t *got)
{
    unsigned char *p = buf;
    *got = 0;
    while (*got < n) {
        size_t want = n - *got;
        ssize_t k;
        if (want > ((size_t)1 << 30))
            want = (size_t)1 << 30;
        k = pread(fd, p + *got, want, (off_t)(off + *got));
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return errno ? errno : EIO;
        if (k == 0)
            break;
        *got += (size_t)k;
    }
    return 0;
}

/*
 * The CRC register after n zero bytes: zero bytes act on it as a linear
 * map over GF(2), applied here by repeated squaring (as zlib's
 * crc32_combine), in O(log n) instead of n steps.
 */
static uint32_t gf2_times(const uint32_t *mat, uint32_t vec)
{
    uint32_t sum = 0;
    while (vec) {
        if (vec & 1)
            sum ^= *mat;
        vec >>= 1;
        mat++;
    }
    return sum;
}

static void gf2_square(uint32_t *sq, const uint32_t *mat)
{
    int i;
    for (i = 0; i < 32; i++)
        sq[i] = gf2_times(mat, mat[i]);
}

static uint32_t crc32_zeros(uint32_t crc, uint64_t n)
{
    uint32_t odd[32], even[32], row = 1, reg = ~crc;
    int i;
    if (n == 0)
        return crc;
    odd[0] = 0xEDB88320u;   /* one zero bit */
    for (i = 1; i < 32; i++) {
        odd[i] = row;
        row <<= 1;
    }
    gf2_square(even, odd);   /* two zero bits */
    gf2_square(odd, even);   /* four */
    for (;;) {
        gf2_square(even, odd);   /* one zero byte, then 4, 16, ... */
        if (n & 1)
            reg = gf2_times(even, reg);
        n >>= 1;
        if (!n)
            break;
        gf2_square(odd, even);   /* 2, 8, 32, ... */
        if (n & 1)
            reg = gf2_times(odd, reg);
        n >>= 1;
        if (!n)
            break;
    }
    return ~reg;
}

/* Where the data at or after `off` starts (off itself if it is not in a
 * hole), or `end` if only a hole follows; off if the system cannot tell. */
static size_t data_from(int fd, size_t off, size_t end)
{
#ifdef SEEK_DATA
    off_t d = lseek(fd, (off_t)off, SEEK_DATA);
    if (d < 0)
        return errno == ENXIO ? end : off;
    return (size_t)d < end ? (size_t)d : end;
#else
    (void)fd;
    (void)end;
    return off;
#endif
}

/* Where the data that starts at `off` ends (a hole or the end of file). */
static size_t data_until(int fd, size_t off, size_t end)
{
#ifdef SEEK_HOLE
    off_t h = lseek(fd, (off_t)off, SEEK_HOLE);
    if (h < 0 || (size_t)h <= off)
        return end;
    return (size_t)h < end ? (size_t)h : end;
#else
    (void)fd;
    (void)off;
    return end;
#endif
}

int file_crc32(int fd, size_t off, size_t n, uint32_t *crc, void *buf, size_t cap)
{
    size_t end = off + n;
    while (off < end) {
        size_t data = data_from(fd, off, end), stop, got;
        int err;
        if (data > off) {   /* a hole reads as zeros */
            *crc = crc32_zeros(*crc, data - off);
            off = data;
            continue;
        }
        stop = data_until(fd, off, end);
        while (off < stop) {
            size_t want = stop - off < cap ? stop - off : cap;
            err = file_pread(fd, buf, want, off, &got);
            if (err)
                return err;
            if (got == 0)
                return -1;
            *crc = seqcls__crc32(*crc, buf, got);
            off += got;
        }
    }
    return 0;
}

int file_read_whole(int fd, size_t size, void **buf, const char *path, const char *func)
{
    unsigned char *p;
    size_t got;
    char extra;
    int err;

    *buf = NULL;
    p = seqcls__alloc(size);
    if (!p)
        return seqcls__fail(SEQCLS_E_NOMEM, "%s: out of memory for the %zu bytes of '%s'", func,
                            size, path);
    err = file_pread(fd, p, size, 0, &got);
    if (err == 0 && got < size) {
        seqcls__dealloc(p);
        return seqcls__fail(SEQCLS_E_IO, "%s: '%s' shrank while being read", func, path);
    }
    /* One more byte: the file must not have grown either. */
    if (err == 0)
        err = file_pread(fd, &extra, 1, size, &got);
    if (err == 0 && got != 0) {
        seqcls__dealloc(p);
        return seqcls__fail(SEQCLS_E_IO, "%s: '%s' grew while being read", func, path);
    }
    if (err) {
        seqcls__dealloc(p);
        return file_fail(func, "reading", path, err);
    }
    *buf = p;
    return SEQCLS_OK;
}
