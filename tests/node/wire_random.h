// Random field values for the hand-written protobuf codecs' tests (op_pack_test,
// peer_pack_test): zero, small and large numbers, absent, empty and long strings
// and bytes, from a fixed-seed generator.
#ifndef TESTS_NODE_WIRE_RANDOM_H
#define TESTS_NODE_WIRE_RANDOM_H

#include <protobuf-c/protobuf-c.h>
#include <stdint.h>

#include "../crdt/prop.h"

// 0, a small number, or any 64-bit number.
static inline uint64_t
wire_random_number(prop_rng_t *rng)
{
    switch (prop_rng_next(rng) % 4) {
    case 0:
        return 0;
    case 1:
        return prop_rng_next(rng) % 300;
    case 2:
        return prop_rng_next(rng) >> (prop_rng_next(rng) % 64);
    default:
        return prop_rng_next(rng);
    }
}

// NULL, "", or up to 200 non-NUL bytes (some past 127, some past 127 in length),
// written into buffer (256 bytes).
static inline char *
wire_random_text(prop_rng_t *rng, char *buffer)
{
    uint64_t pick = prop_rng_next(rng) % 8;
    if (pick == 0)
        return NULL;
    size_t len = pick == 1 ? 0 : prop_rng_next(rng) % 201;
    for (size_t i = 0; i < len; i++)
        buffer[i] = (char)(1 + prop_rng_next(rng) % 255);
    buffer[len] = 0;
    return buffer;
}

// No bytes, or up to 159, written into buffer.
static inline ProtobufCBinaryData
wire_random_bytes(prop_rng_t *rng, uint8_t *buffer)
{
    size_t len = prop_rng_next(rng) % 3 == 0 ? 0 : prop_rng_next(rng) % 160;
    for (size_t i = 0; i < len; i++)
        buffer[i] = (uint8_t)prop_rng_next(rng);
    return (ProtobufCBinaryData){len, buffer};
}

// Damages the len bytes at packed (room for 6 more) as damage says and returns
// their new length: 0 leaves them as written; 1 changes a byte, 2 cuts the end
// off, 3 adds up to six bytes (an unknown field, a repeated field, junk).
static inline size_t
wire_random_damage(prop_rng_t *rng, int damage, uint8_t *packed, size_t len)
{
    if (damage == 1 && len > 0)
        packed[prop_rng_next(rng) % len] ^= (uint8_t)(1 + prop_rng_next(rng) % 255);
    else if (damage == 2 && len > 0)
        len = prop_rng_next(rng) % len;
    else if (damage == 3)
        for (int k = 0; k < 1 + (int)(prop_rng_next(rng) % 6); k++)
            packed[len++] = (uint8_t)prop_rng_next(rng);
    return len;
}

#endif
