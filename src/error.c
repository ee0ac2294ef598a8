/*
 * error.c -- version calls, status strings and the thread-local message.
 */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char last_error[512];

int seqcls_version(void) { return SEQCLS_VERSION_NUMBER; }

const char *seqcls_version_string(void) { return SEQCLS_VERSION_STRING; }

const char *seqcls_strerror(int status)
{
    switch (status) {
    case SEQCLS_OK: return "success";
    case SEQCLS_E_INVALID_ARG: return "invalid argument";
    case SEQCLS_E_NOMEM: return "out of memory";
    case SEQCLS_E_SHAPE: return "wrong tensor shape or type";
    case SEQCLS_E_RANGE: return "value out of range";
    case SEQCLS_E_STATE: return "call out of order";
    case SEQCLS_E_NUMERIC: return "non-finite number";
    case SEQCLS_E_FORMAT: return "malformed model file";
    case SEQCLS_E_VERSION: return "unsupported model file version";
    case SEQCLS_E_IO: return "input/output error";
    case SEQCLS_E_UNSUPPORTED: return "not supported";
    case SEQCLS_E_COMM: return "communication between ranks failed";
    default: return "unknown status code";
    }
}

const char *seqcls_last_error(void) { return last_error; }

void seqcls__clear_error(void) { last_error[0] = '\0'; }

int seqcls__fail(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}
