// varint: the base-128 varints of protobuf's wire format, which RocksDB's
// WriteBatch encoding uses too (op_pack and store_rocks write both directly):
// seven bits a byte, least significant first, the high bit set on all but the
// last byte.
#ifndef NODE_VARINT_H
#define NODE_VARINT_H

#include <stddef.h>
#include <stdint.h>

// Bytes varint_put writes for value (1 to 10).
static inline size_t
varint_size(uint64_t value)
{
    size_t size = 1;
    while (value >= 0x80) {
        value >>= 7;
        size++;
    }
    return size;
}

// Writes value at out (varint_size(value) bytes); returns that length.
static inline size_t
varint_put(uint8_t *out, uint64_t value)
{
    size_t n = 0;
    while (value >= 0x80) {
        out[n++] = (uint8_t)(value | 0x80);
        value >>= 7;
    }
    out[n++] = (uint8_t)value;
    return n;
}

#endif
