// wire: protobuf's wire format, field by field, for the encoders and decoders we
// write by hand (op_pack, peer_pack) where protobuf-c's table-driven passes cost
// too much. Writers produce the canonical proto3 encoding that protobuf-c
// writes: a field at zero (0, "", no bytes) is left out. Readers accept only the
// canonical encoding, with every varint in its shortest form, and say no to
// anything else so that the caller can hand it to protobuf-c, which decides.
#ifndef NODE_WIRE_H
#define NODE_WIRE_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "varint.h"

enum { WIRE_VARINT = 0, WIRE_BYTES = 2 };

// ---- writing (field numbers below 16: every key is one byte) ----

static inline size_t
wire_bytes_field_size(size_t len)
{
    return len ? 1 + varint_size(len) + len : 0;
}

static inline size_t
wire_string_field_size(const char *text)
{
    return text ? wire_bytes_field_size(strlen(text)) : 0;
}

static inline size_t
wire_varint_field_size(uint64_t value)
{
    return value ? 1 + varint_size(value) : 0;
}

// A sub-message or an element of a repeated bytes field: written even when empty.
static inline size_t
wire_element_size(size_t len)
{
    return 1 + varint_size(len) + len;
}

// The key and length of a length-delimited field whose len bytes follow.
static inline size_t
wire_put_header(uint8_t *out, unsigned number, size_t len)
{
    out[0] = (uint8_t)(number << 3 | WIRE_BYTES);
    return 1 + varint_put(out + 1, len);
}

static inline size_t
wire_put_element(uint8_t *out, unsigned number, const void *data, size_t len)
{
    size_t n = wire_put_header(out, number, len);
    if (len)
        memcpy(out + n, data, len);
    return n + len;
}

static inline size_t
wire_put_bytes_field(uint8_t *out, unsigned number, const void *data, size_t len)
{
    return len ? wire_put_element(out, number, data, len) : 0;
}

static inline size_t
wire_put_string_field(uint8_t *out, unsigned number, const char *text)
{
    return text ? wire_put_bytes_field(out, number, text, strlen(text)) : 0;
}

static inline size_t
wire_put_varint_field(uint8_t *out, unsigned number, uint64_t value)
{
    if (value == 0)
        return 0;
    out[0] = (uint8_t)(number << 3 | WIRE_VARINT);
    return 1 + varint_put(out + 1, value);
}

// ---- reading ----

typedef struct {
    const uint8_t *at;
    const uint8_t *end;
} wire_reader_t;

// False when the varint runs past the end or past 64 bits, or is not in its
// shortest form (a last byte of zero after others): protobuf-c reads some such
// varints differently (a length takes at most five bytes there).
static inline bool
wire_read_varint_long(wire_reader_t *in, uint64_t *out)
{
    uint64_t value = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) { // at most ten bytes
        if (in->at == in->end)
            return false;
        uint8_t byte = *in->at++;
        if (shift == 63 && byte > 1)
            return false;
        value |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *out = value;
            return byte != 0 || shift == 0;
        }
    }
    return false;
}

// Keys and lengths are one byte nearly always.
static inline bool
wire_read_varint(wire_reader_t *in, uint64_t *out)
{
    if (in->at < in->end && *in->at < 0x80) {
        *out = *in->at++;
        return true;
    }
    return wire_read_varint_long(in, out);
}

// A length-delimited field's bytes (possibly none); false when they run past the
// end.
static inline bool
wire_read_element(wire_reader_t *in, const uint8_t **data, size_t *len)
{
    uint64_t n = 0;
    if (!wire_read_varint(in, &n) || n > (uint64_t)(in->end - in->at))
        return false;
    *data = in->at;
    *len = (size_t)n;
    in->at += n;
    return true;
}

// A singular string or bytes field: false when empty too (a canonical encoder
// leaves an empty one out).
static inline bool
wire_read_span(wire_reader_t *in, const uint8_t **data, size_t *len)
{
    return wire_read_element(in, data, len) && *len > 0;
}

// ---- decoding into a protobuf-c allocator (an arena) ----

static inline void *
wire_take(ProtobufCAllocator *allocator, size_t size)
{
    return allocator->alloc(allocator->allocator_data, size ? size : 1);
}

static inline char *
wire_take_string(ProtobufCAllocator *allocator, const uint8_t *data, size_t len)
{
    char *text = wire_take(allocator, len + 1);
    if (text) {
        memcpy(text, data, len);
        text[len] = '\0';
    }
    return text;
}

// out: len bytes of data copied to block (taken for them, NULL when that failed).
// No bytes: no data pointer, as protobuf-c leaves it. False when block is NULL.
static inline bool
wire_set_bytes(ProtobufCBinaryData *out, uint8_t *block, const uint8_t *data, size_t len)
{
    out->len = len;
    out->data = len ? block : NULL;
    if (len && block)
        memcpy(block, data, len);
    return len == 0 || block != NULL;
}

static inline bool
wire_take_bytes(ProtobufCAllocator *allocator, const uint8_t *data, size_t len,
                ProtobufCBinaryData *out)
{
    return wire_set_bytes(out, len ? wire_take(allocator, len) : NULL, data, len);
}

// The strings and bytes of one decoded message, cut from one allocation instead
// of one each (eight or so per operation, a call through the allocator each: 2%
// of a 200-branch simulation). Each field takes at most its encoded size (its
// bytes and a NUL, where the encoding has a key, a length and the bytes), nested
// messages included, so a message of len bytes needs at most len.
typedef struct {
    uint8_t *at;
    uint8_t *end;
} wire_pool_t;

// A pool over block (len bytes, from the allocator: its blocks are never freed
// one by one).
static inline wire_pool_t
wire_pool(uint8_t *block, size_t len)
{
    return (wire_pool_t){block, block + len};
}

static inline uint8_t *
wire_pool_cut(wire_pool_t *pool, size_t len)
{
    if ((size_t)(pool->end - pool->at) < len)
        return NULL; // more than the message held: the caller's bound is wrong
    uint8_t *block = pool->at;
    pool->at += len;
    return block;
}

static inline char *
wire_pool_string(wire_pool_t *pool, const uint8_t *data, size_t len)
{
    char *text = (char *)wire_pool_cut(pool, len + 1);
    if (text) {
        memcpy(text, data, len);
        text[len] = '\0';
    }
    return text;
}

static inline bool
wire_pool_bytes(wire_pool_t *pool, const uint8_t *data, size_t len, ProtobufCBinaryData *out)
{
    return wire_set_bytes(out, len ? wire_pool_cut(pool, len) : NULL, data, len);
}

// What a fast decoder made of its input.
typedef enum {
    WIRE_FAST_OK,
    WIRE_FAST_NO,    // not the canonical encoding: protobuf-c decides
    WIRE_FAST_NOMEM, // the allocator ran out
} wire_fast_t;

#endif
