/*
 * fuzz_cli.c -- libFuzzer target for the command line's input-file
 * parser (tools/cli/data.c) and the encoding that follows it
 * (tools/cli/encode.c: word ids, or characters with their n-grams as an
 * embedding bag reads them) (make fuzz-cli).  Bad input must be refused
 * with a message, never a crash.
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
    static seqcls_vocab_t *vocab, *chars;
    const int maxlen = 1 + (int)(size % 17);
    const int sub = size > 0 && (data[0] & 2);
    char msg[1024];
    docs_t d;
    encoded_t e;
    FILE *f;
    int i, per;

    if (!path[0]) {
        snprintf(path, sizeof path, "/tmp/seqcls-fuzz-cli-%d.txt", (int)getpid());
        if (seqcls_vocab_create(&vocab) || seqcls_vocab_add_text(vocab, "a b c", 5) ||
            seqcls_vocab_build(vocab, 1, 0))
            __builtin_trap();
        if (seqcls_vocab_create(&chars) ||
            seqcls_vocab_set_int(chars, SEQCLS_VOCAB_TOKENS, SEQCLS_TOKENS_CHAR) ||
            seqcls_vocab_set_int(chars, SEQCLS_VOCAB_OOV_BUCKETS, 3) ||
            seqcls_vocab_set_int(chars, SEQCLS_VOCAB_MAXN, 3) ||
            seqcls_vocab_set_int(chars, SEQCLS_VOCAB_MINN, 1) ||
            seqcls_vocab_set_int(chars, SEQCLS_VOCAB_BUCKET, 50) ||
            seqcls_vocab_add_text(chars, "abc d", 5) || seqcls_vocab_build(chars, 1, 0))
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
    per = sub ? subword_slots(chars) : 0;
    encode_docs(sub ? chars : vocab, per, &d, maxlen, size > 1 && (data[1] & 1), 0, &e);   /* post or pre */
    if (e.T < 1 || e.T > maxlen || e.known > e.tokens)
        __builtin_trap();
    for (i = 0; i < d.n; i++)
        if (e.lens[i] < 0 || e.lens[i] > e.T)
            __builtin_trap();
    for (i = 0; i < d.n * e.T * (per ? per : 1); i++)
        if (e.ids[i] < (per ? -1 : 0) || e.ids[i] >= seqcls_vocab_rows(sub ? chars : vocab))
            __builtin_trap();
    if (d.label[0]) {
        int n;
        free(labels_collect(&d, &n));
    }
    encoded_free(&e);
    docs_free(&d);
    return 0;
}
