// overlay: the values a batch being built has written but storage has not yet
// committed, keyed by (column family, key). Reads during staging look here first,
// so two commands on one field in one batch see each other. Bounded by the batch
// size; cleared when the batch is written or dropped. Iteration is in insertion
// order, never by hash or address.
#ifndef NODE_OVERLAY_H
#define NODE_OVERLAY_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

typedef struct overlay overlay_t;

// NULL only when memory is exhausted.
overlay_t *overlay_new(void);
void overlay_destroy(overlay_t **self_p);
void overlay_clear(overlay_t *self);
size_t overlay_count(const overlay_t *self);

// A key with its hash, for a key looked up in several overlays (or put after a
// lookup) and hashed once: a core reads a field state from up to four overlays and
// then writes it to one. bytes are borrowed.
typedef struct {
    store_cf_t cf;
    const uint8_t *bytes;
    size_t len;
    uint64_t hash;
} overlay_key_t;
overlay_key_t overlay_key(store_cf_t cf, const uint8_t *key, size_t key_len);

// Copies key and value in (value may point into the overlay itself). 0 or -SM_ENOMEM.
int overlay_put(overlay_t *self, store_cf_t cf, const uint8_t *key, size_t key_len,
                const uint8_t *value, size_t value_len);
int overlay_put_key(overlay_t *self, const overlay_key_t *key, const uint8_t *value,
                    size_t value_len);
// 0 with *value borrowed until the next put or clear; -SM_ENOTFOUND.
int overlay_get(const overlay_t *self, store_cf_t cf, const uint8_t *key, size_t key_len,
                const uint8_t **value, size_t *value_len);
int overlay_get_key(const overlay_t *self, const overlay_key_t *key, const uint8_t **value,
                    size_t *value_len);
// Writes len bytes (len 0: none) over the value of (cf, key) at offset; its length
// stays. 0; -SM_ENOTFOUND; -SM_EINVAL when they would not lie inside the value.
int overlay_patch(overlay_t *self, store_cf_t cf, const uint8_t *key, size_t key_len,
                  size_t offset, const uint8_t *bytes, size_t len);
int overlay_patch_key(overlay_t *self, const overlay_key_t *key, size_t offset,
                      const uint8_t *bytes, size_t len);
// Adds every entry to batch, in insertion order. 0 or -SM_ENOMEM.
int overlay_to_batch(const overlay_t *self, store_batch_t *batch);
// Calls fn for every entry of column family cf, in insertion order, until fn
// returns non-zero (that value is returned); 0 when all were seen. The entries are
// borrowed until the next put or clear.
typedef int (*overlay_fn)(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value,
                          size_t value_len);
int overlay_each(const overlay_t *self, store_cf_t cf, overlay_fn fn, void *arg);

#endif
