/*
 * fuzz_cli.c -- libFuzzer target for the command line's input-file
 * parser (tools/cli/data.c) and the encoding that follows it (make
 * fuzz-cli).  Bad input must be refused with a message, never a crash.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../tools/cli/cli.h"

/* The parser reports through docs_load; reaching die() is a bug here. */
void die(const char *fmt, ...)
{
    (void)fmt;
    __builtin_trap();
}

void check(int status, const char *what)
{
    (void)what;
    if (status != SEQCLS_OK)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    static seqcls_vocab_t *vocab;
    const int maxlen = 1 + (int)(size % 17);
    char msg[1024];
    docs_t d;
    int32_t *ids = NULL, *lens = NULL;
    FILE *f;
    int i;

    if (!path[0]) {
        snprintf(path, sizeof path, "/tmp/seqcls-fuzz-cli-%d.txt", (int)getpid());
        if (seqcls_vocab_create(&vocab) || seqcls_vocab_add_text(vocab, "a b c", 5) ||
            seqcls_vocab_build(vocab, 1, 0))
            __builtin_trap();
    }
    if (!(f = fopen(path, "wb")) || fwrite(data, 1, size, f) != size || fclose(f))
        __builtin_trap();
    msg[0] = '\0';
    if (docs_load(&d, path, size > 0 && (data[0] & 1), msg, sizeof msg) != 0) {
        if (msg[0] == '\0' || d.n != 0 || d.text)
            __builtin_trap();   /* an error says what, and leaves nothing behind */
        return 0;
    }
    encode_docs(vocab, &d, maxlen, size > 1 && (data[1] & 1), &ids, &lens);   /* post or pre */
    for (i = 0; i < d.n; i++)
        if (lens[i] < 0 || lens[i] > maxlen)
            __builtin_trap();
    if (d.label[0]) {
        int n;
        free(labels_collect(&d, &n));
    }
    free(ids);
    free(lens);
    docs_free(&d);
    return 0;
}
