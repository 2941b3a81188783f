// store: what the node core needs from storage, as an interface, so that the same
// core runs on RocksDB in production (store_rocks.c) and on the simulator's storage
// model. Reads are synchronous and see only committed batches; writes are whole
// batches applied atomically, handed out by the core as an effect.
//
// Column families (see docs/ARCHITECTURE.md for the key encodings):
//   meta  - this node's identity, chain head, counters, per-origin high-water marks
//   log   - operations by origin and sequence: the queue and the audit trail
//   state - materialised field states by type, key, field: what `get` reads
//   idem  - command ID -> audit ID: idempotency across retries and restarts
//   seal  - Ed25519 signatures over chain heads, one per group-commit batch
#ifndef NODE_STORE_H
#define NODE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "varint.h"

typedef enum {
    STORE_CF_META = 0,
    STORE_CF_LOG = 1,
    STORE_CF_STATE = 2,
    STORE_CF_IDEM = 3,
    STORE_CF_SEAL = 4,
    STORE_CF_COUNT = 5,
} store_cf_t;

// Called for each entry of a scan in key order; bytes are borrowed until it returns.
// Return 0 to go on, 1 to stop early.
typedef int (*store_scan_fn)(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value,
                             size_t value_len);

typedef struct {
    // 0 with *value malloc'd (caller frees), -SM_ENOTFOUND, or -SM_EIO.
    int (*get)(void *ctx, store_cf_t cf, const uint8_t *key, size_t key_len, uint8_t **value,
               size_t *value_len);
    // Every entry whose key starts with prefix (all entries for an empty prefix),
    // from start_key if it is not NULL. 0, or -SM_EIO.
    int (*scan)(void *ctx, store_cf_t cf, const uint8_t *prefix, size_t prefix_len,
                const uint8_t *start_key, size_t start_key_len, store_scan_fn fn, void *arg);
    // Optional (NULL: the core calls get for each key): count keys of one column
    // family looked up at once, which RocksDB does for less than a get each.
    // values[i] is malloc'd (caller frees) or NULL when absent. 0, or -SM_EIO or
    // -SM_ENOMEM with no value left set.
    int (*get_many)(void *ctx, store_cf_t cf, size_t count, const uint8_t *const *keys,
                    const size_t *key_lens, uint8_t **values, size_t *value_lens);
    void *ctx;
} store_reader_t;

// A batch of puts, written all or nothing. Owned by whoever built it. The puts are
// kept as RocksDB's WriteBatch encoding (its "rep", db/write_batch.cc, the WAL
// record format, stable across releases): a 12-byte header (a sequence number the
// write fills in, then the count as a little-endian fixed32), then per put a tag (1:
// column family 0; 5: another, then its ID as a varint32), the key and the value,
// each a varint32 length and the bytes. The column family's ID is its store_cf_t
// value, which is what a store opened by store_rocks assigns. So store_rocks hands
// the arena to RocksDB as it is, with no encoding or copy of its own, and the
// storage model reads the puts back through store_put_key and store_put_value. One
// growing arena: building a batch costs no allocation per put once it has grown to
// its working size.
enum { STORE_BATCH_HEADER_BYTES = 12, STORE_BATCH_TAG_DEFAULT_CF = 1, STORE_BATCH_TAG_CF = 5 };

// The bytes one put takes in that encoding, in a column family of RocksDB ID cf_id.
static inline size_t
store_put_encoded_size(uint32_t cf_id, size_t key_len, size_t value_len)
{
    return 1 + (cf_id ? varint_size(cf_id) : 0) + varint_size(key_len) + key_len +
           varint_size(value_len) + value_len;
}

// Writes one put at out (store_put_encoded_size bytes); returns the end. *key_at
// and *value_at are where its key and value went.
static inline uint8_t *
store_put_encode(uint8_t *out, uint32_t cf_id, const void *key, size_t key_len, const void *value,
                 size_t value_len, uint8_t **key_at, uint8_t **value_at)
{
    *out++ = cf_id ? STORE_BATCH_TAG_CF : STORE_BATCH_TAG_DEFAULT_CF;
    if (cf_id)
        out += varint_put(out, cf_id);
    out += varint_put(out, key_len);
    *key_at = out;
    memcpy(out, key, key_len);
    out += key_len;
    out += varint_put(out, value_len);
    *value_at = out;
    if (value_len)
        memcpy(out, value, value_len);
    return out + value_len;
}

// The header's count of puts (a little-endian fixed32 after the sequence number).
static inline void
store_batch_header_set_count(uint8_t *header, uint32_t count)
{
    for (int i = 0; i < 4; i++)
        header[8 + i] = (uint8_t)(count >> (8 * i));
}

typedef struct {
    store_cf_t cf;
    uint32_t key_len;
    uint32_t value_len;
    uint32_t key_offset; // in the arena
    uint32_t value_offset;
} store_put_t;

typedef struct {
    store_put_t *puts;
    size_t count;
    size_t cap;
    uint8_t *arena; // the rep: header and puts, arena_len bytes (0 before the first put)
    size_t arena_len;
    size_t arena_cap;
    size_t size_bytes; // keys + values, for limits and reporting
} store_batch_t;

static inline const uint8_t *
store_put_key(const store_batch_t *batch, const store_put_t *put)
{
    return batch->arena + put->key_offset;
}

static inline const uint8_t *
store_put_value(const store_batch_t *batch, const store_put_t *put)
{
    return batch->arena + put->value_offset;
}

void store_batch_init(store_batch_t *self);
void store_batch_clear(store_batch_t *self); // forgets the puts, keeps the memory
void store_batch_free(store_batch_t *self);
// 0, -SM_ENOMEM, or -SM_ERANGE (a key or value over 4 GiB, or a batch whose arena
// would pass 4 GiB: far beyond any limit the core sets).
int store_batch_put(store_batch_t *self, store_cf_t cf, const void *key, size_t key_len,
                    const void *value, size_t value_len);

#endif
