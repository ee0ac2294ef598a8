/*
 * crc32_ref.h -- a bitwise reference CRC-32 (zlib's: reflected polynomial
 * 0xEDB88320, initial value and final xor 0xFFFFFFFF) for the tests and
 * the fuzzers, which recompute section CRCs of model files they edit.
 *
 * Deliberately independent of src/crc32.c's table-driven (slicing-by-8)
 * one: one bit at a time, no tables, nothing shared with the library, so
 * that the tests check the library's CRC rather than repeat it.
 * crc32_ref("123456789", 9) = 0xCBF43926.
 */
#ifndef SEQCLS_CRC32_REF_H
#define SEQCLS_CRC32_REF_H

#include <stddef.h>
#include <stdint.h>

static inline uint32_t crc32_ref(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint32_t c = 0xffffffffu;
    size_t i;
    int k;
    for (i = 0; i < n; i++) {
        c ^= p[i];
        for (k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
    }
    return ~c;
}

#endif
