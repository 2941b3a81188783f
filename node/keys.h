// keys: the byte encodings of RocksDB keys, in one place so the layout in
// docs/ARCHITECTURE.md has one source of truth. Names and types never contain NUL
// (rules and submit validation guarantee it), so NUL separates components and a
// prefix scan over "type\0key\0" finds exactly one entity's fields. Sequence numbers
// are big-endian so byte order is numeric order.
#ifndef NODE_KEYS_H
#define NODE_KEYS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "crdt.h"

// Longest entity key a client may use; keeps every state key under 400 bytes.
#define KEYS_ENTITY_KEY_MAX 256
#define KEYS_MAX (CRDT_NAME_MAX * 3 + KEYS_ENTITY_KEY_MAX + 16)

// meta keys (fixed strings)
#define KEYS_META_SELF "self"               // this node's head: see core.c self record
#define KEYS_META_CREATED_MS "created_ms"   // wall ms at init, be64
#define KEYS_META_AUTHORITY "authority"     // authority ack seq + last contact ms
#define KEYS_META_CHECKPOINT "checkpoint"   // the version vector `state` holds: core_checkpoint.c
#define KEYS_META_VV_PREFIX "vv\0"          // vv\0ORIGIN -> highest contiguous seq, be64
#define KEYS_META_VV_PREFIX_LEN 3

// Big-endian u64, inline: the simulator's event log and every log key use them,
// and a call for eight bytes showed in its profile.
static inline void
keys_put_be64(uint8_t *out, uint64_t value)
{
#if defined(__GNUC__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    value = __builtin_bswap64(value);
    memcpy(out, &value, 8);
#else
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)(value & 0xff);
        value >>= 8;
    }
#endif
}

static inline uint64_t
keys_get_be64(const uint8_t *in)
{
#if defined(__GNUC__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t value;
    memcpy(&value, in, 8);
    return __builtin_bswap64(value);
#else
    uint64_t value = 0;
    for (int i = 0; i < 8; i++)
        value = (value << 8) | in[i];
    return value;
#endif
}

// log and seal: ORIGIN \0 SEQ(be64). Returns the key length.
size_t keys_log(uint8_t *out, const char *origin, uint64_t seq);
// 0 and fields set, or -SM_ECORRUPT. origin must hold CRDT_NAME_MAX + 1 bytes.
int keys_log_parse(const uint8_t *key, size_t key_len, char *origin, uint64_t *seq);
// state: TYPE \0 KEY \0 FIELD (FIELD empty for the entity's creator record).
size_t keys_state(uint8_t *out, const char *type, const char *key, const char *field);
// the prefix shared by one entity's fields: TYPE \0 KEY \0
size_t keys_entity_prefix(uint8_t *out, const char *type, const char *key);
// vv: "vv\0" ORIGIN
size_t keys_vv(uint8_t *out, const char *origin);

#endif
