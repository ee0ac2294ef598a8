/*
 * modelfile.h -- for tests that damage saved model files on purpose: find
 * a section (docs/file-format.md) and mend its CRC after an edit, as a
 * careless or hostile writer would leave it.
 */
#ifndef SEQCLS_MODELFILE_H
#define SEQCLS_MODELFILE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "crc32_ref.h"

/* Offset of section `tag`'s payload in a saved model, its length in *n;
 * 0 if there is none. */
static inline size_t mf_section(const unsigned char *b, size_t len, const char *tag, uint32_t *n)
{
    size_t off = 12;   /* magic, version, flags */
    while (off + 12 <= len) {
        uint64_t l = 0;
        int k;
        for (k = 7; k >= 0; k--)
            l = l << 8 | b[off + 4 + k];
        if (memcmp(b + off, tag, 4) == 0) {
            *n = (uint32_t)l;
            return off + 12;
        }
        off += 12 + (size_t)l + 4;
    }
    return 0;
}

/* Rewrite the CRC after the payload at `at` of n bytes. */
static inline void mf_mend_crc(unsigned char *b, size_t at, uint32_t n)
{
    uint32_t c = crc32_ref(b + at, n);
    int k;
    for (k = 0; k < 4; k++)
        b[at + n + k] = (unsigned char)(c >> (8 * k));
}

#endif
