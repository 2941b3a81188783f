// sm_string: bounded string copies for hot paths. snprintf(dst, size, "%s", src)
// runs printf's whole format machinery; the replication path copies a node name
// for every message it queues and every batch it sends or takes in, and those
// copies were 2.5% of a simulation's instructions.
#ifndef NODE_SM_STRING_H
#define NODE_SM_STRING_H

#include <assert.h>
#include <stddef.h>
#include <string.h>

// Copies src into dst (size bytes, size > 0), cut to size - 1 bytes, always
// NUL-terminated, as snprintf would. Returns the bytes copied.
static inline size_t
sm_strlcpy(char *dst, const char *src, size_t size)
{
    assert(size > 0);
    size_t len = strnlen(src, size - 1);
    memcpy(dst, src, len);
    dst[len] = '\0';
    return len;
}

#endif
