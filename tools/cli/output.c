/*
 * output.c -- the files the command line writes: checked before any
 * expensive work (a missing or read-only directory must not cost a
 * training run), written through a temporary file that is renamed into
 * place at the end (a failure never leaves half a file), and every
 * failure reported with the system's reason.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* The temporary file to remove if the command dies (one at a time). */
static char *volatile pending_tmp;

/* Ctrl-C, kill, a closed terminal or pipe: remove the temporary file
 * (unlink is async-signal-safe), then die of the signal as before. */
static void on_signal(int sig)
{
    char *tmp = pending_tmp;
    if (tmp)
        unlink(tmp);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void catch_signals(void)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};
    size_t i;
    for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction sa, old;
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
            continue;   /* ignored (nohup): stays ignored */
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(sigs[i], &sa, NULL);
    }
}

void output_cleanup(void)
{
    char *tmp = pending_tmp;
    if (tmp) {
        pending_tmp = NULL;
        unlink(tmp);
        free(tmp);
    }
}

/* The directory part of path ("." when it has none), malloc'd. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t n;
    char *dir;
    if (!slash)
        return strcpy(xmalloc(2, 1, "a directory name"), ".");
    n = slash == path ? 1 : (size_t)(slash - path);   /* "/x" -> "/" */
    dir = xmalloc(n + 1, 1, "a directory name");
    memcpy(dir, path, n);
    dir[n] = '\0';
    return dir;
}

/* Create a temporary file next to `path` (in the same directory, so that
 * rename() replaces path atomically); its name into *tmp (malloc'd).
 * Returns the descriptor, or -1 with errno set. */
static int temp_beside(const char *path, char **tmp)
{
    char *dir = dir_of(path);
    size_t n = strlen(dir) + sizeof "/.seqcls-XXXXXX";
    int fd;
    *tmp = xmalloc(n, 1, "a temporary file name");
    snprintf(*tmp, n, "%s/.seqcls-XXXXXX", dir);
    free(dir);
    fd = mkstemp(*tmp);
    if (fd < 0) {
        int err = errno;
        free(*tmp);
        *tmp = NULL;
        errno = err;
    }
    return fd;
}

void check_output(const char *opt, const char *path, const char *const *inputs, int ninputs,
                  int special_ok)
{
    struct stat st, in;
    char *tmp;
    int fd, i;

    if (!*path)
        die("%s: an empty file name", opt);
    if (!strcmp(path, "-"))
        die("%s -: the standard output cannot take this file; give a file name", opt);
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            die("%s %s: is a directory", opt, path);
        if (!S_ISREG(st.st_mode)) {
            if (!special_ok)
                die("%s %s: not a regular file", opt, path);
            if (access(path, W_OK) != 0)
                die("%s %s: cannot write: %s", opt, path, strerror(errno));
            return;   /* a device or a pipe: written in place */
        }
        for (i = 0; i < ninputs; i++)
            if (inputs[i] && strcmp(inputs[i], "-") && stat(inputs[i], &in) == 0 &&
                in.st_dev == st.st_dev && in.st_ino == st.st_ino)
                die("%s %s: is also the input %s; it would be overwritten", opt, path, inputs[i]);
    } else if (errno != ENOENT) {
        die("%s %s: %s", opt, path, strerror(errno));   /* ENOTDIR, EACCES, ENAMETOOLONG, ... */
    }
    /* What the save will do: create a file in the directory (this also
     * finds a read-only file system, a full quota of inodes, ...). */
    fd = temp_beside(path, &tmp);
    if (fd < 0) {
        int err = errno;
        char *dir = dir_of(path);
        if (stat(dir, &st) != 0 && (errno == ENOENT || errno == ENOTDIR))
            die("%s %s: the directory %s does not exist", opt, path, dir);
        if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode))
            die("%s %s: %s is not a directory", opt, path, dir);
        die("%s %s: cannot create a file in %s: %s", opt, path, dir, strerror(err));
    }
    close(fd);
    unlink(tmp);
    free(tmp);
}

FILE *output_open(const char *path, char **tmp)
{
    struct stat st;
    FILE *f;
    int fd;
    mode_t mask;

    *tmp = NULL;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        /* a device or a pipe (/dev/stdout): written in place */
        if (!(f = fopen(path, "w")))
            die("%s: cannot write: %s", path, strerror(errno));
        return f;
    }
    catch_signals();
    if ((fd = temp_beside(path, tmp)) < 0)
        die("%s: cannot create a temporary file beside it: %s", path, strerror(errno));
    pending_tmp = *tmp;
    /* mkstemp makes it rw-------: give it what a new file would get, or
     * the mode of the file it replaces */
    mask = umask(0);
    umask(mask);
    if (fchmod(fd, stat(path, &st) == 0 ? st.st_mode & 07777 : 0666 & ~mask) != 0 ||
        !(f = fdopen(fd, "w")))
        die("%s: cannot write: %s", *tmp, strerror(errno));
    return f;
}

void output_close(FILE *f, const char *path, char *tmp)
{
    int bad = ferror(f), err = bad ? errno : 0;
    if (fflush(f) != 0 && !bad)
        bad = 1, err = errno;
    if (tmp && !bad && fsync(fileno(f)) != 0)
        bad = 1, err = errno;
    if (fclose(f) != 0 && !bad)
        bad = 1, err = errno;
    if (bad)
        die("%s: cannot write: %s", path, err ? strerror(err) : "write error");
    if (tmp) {
        if (rename(tmp, path) != 0)
            die("%s: cannot rename %s to it: %s", path, tmp, strerror(errno));
        pending_tmp = NULL;   /* before the free: a signal now finds nothing to remove */
        free(tmp);
    }
}

void stdout_close(void)
{
    int bad = ferror(stdout), err = bad ? errno : 0;
    if (fflush(stdout) != 0 && !bad)
        bad = 1, err = errno;
    if (fclose(stdout) != 0 && !bad)
        bad = 1, err = errno;
    if (bad)
        die("standard output: cannot write: %s", err ? strerror(err) : "write error");
}
