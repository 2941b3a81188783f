// core_origins: the chains of other origins this node holds: for each, the highest
// contiguous sequence number and the hash of that operation, durable and staged.
// Together with this node's own head they are its version vector. Kept sorted by
// name so every walk over them is in the same order on every node.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_internal.h"
#include "keys.h"
#include "sm_error.h"

// meta "vv\0ORIGIN": seq be64 | head hash
#define VV_RECORD_BYTES (8 + CORE_HASH_BYTES)

static size_t
lower_bound(const core_t *self, name_key_t key, const char *name)
{
    size_t low = 0;
    size_t high = self->origin_count;
    while (low < high) {
        size_t mid = low + (high - low) / 2;
        if (name_key_order(self->origins[mid].key, self->origins[mid].name, key, name) < 0)
            low = mid + 1;
        else
            high = mid;
    }
    return low;
}

core_origin_t *
core_origin_find(const core_t *self, const char *name)
{
    name_key_t key = name_key(name);
    size_t index = lower_bound(self, key, name);
    if (index < self->origin_count &&
        name_key_order(self->origins[index].key, self->origins[index].name, key, name) == 0)
        return &self->origins[index];
    return NULL;
}

core_origin_t *
core_origin_add(core_t *self, const char *name)
{
    core_origin_t *found = core_origin_find(self, name);
    if (found)
        return found;
    if (self->origin_count >= CORE_ORIGINS_MAX || strlen(name) == 0 ||
        strlen(name) > CRDT_NAME_MAX || strcmp(name, self->name) == 0)
        return NULL;
    if (self->origin_count % 64 == 0) {
        core_origin_t *grown =
            realloc(self->origins, (self->origin_count + 64) * sizeof *self->origins);
        if (!grown)
            return NULL;
        self->origins = grown;
    }
    name_key_t key = name_key(name);
    size_t index = lower_bound(self, key, name);
    memmove(&self->origins[index + 1], &self->origins[index],
            (self->origin_count - index) * sizeof *self->origins);
    self->origin_count++;
    if (name_key_order(key, name, self->own_key, self->name) < 0)
        self->own_rank++; // it sorts before our name
    self->advance_count = 0; // its indices moved
    self->advances_from = self->have_generation + 1;
    core_origin_t *origin = &self->origins[index];
    memset(origin, 0, sizeof *origin);
    strcpy(origin->name, name);
    origin->key = key;
    // A peer's key may already be known from the peer table.
    for (size_t i = 0; i < self->peer_count; i++) {
        if (strcmp(self->peers[i].name, name) == 0) {
            origin->has_key = true;
            memcpy(origin->public_key, self->peers[i].public_key, sizeof origin->public_key);
        }
    }
    return origin;
}

typedef struct {
    core_t *core;
    int rc;
} load_scan_t;

static int
load_entry(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value, size_t value_len)
{
    load_scan_t *scan = arg;
    char name[CRDT_NAME_MAX + 1];
    size_t name_len = key_len - KEYS_META_VV_PREFIX_LEN;
    if (name_len == 0 || name_len > CRDT_NAME_MAX || value_len != VV_RECORD_BYTES) {
        scan->rc = -SM_ECORRUPT;
        return 1;
    }
    memcpy(name, key + KEYS_META_VV_PREFIX_LEN, name_len);
    name[name_len] = 0;
    if (strcmp(name, scan->core->name) == 0)
        return 0; // this node's head lives in the self record
    core_origin_t *origin = core_origin_add(scan->core, name);
    if (!origin) {
        scan->rc = -SM_EFULL;
        return 1;
    }
    origin->durable_seq = keys_get_be64(value);
    memcpy(origin->durable_head, value + 8, CORE_HASH_BYTES);
    origin->staged_seq = origin->durable_seq;
    memcpy(origin->staged_head, origin->durable_head, CORE_HASH_BYTES);
    return 0;
}

int
core_origins_load(core_t *self, char *err, size_t err_size)
{
    load_scan_t scan = {.core = self};
    int rc = self->reader.scan(self->reader.ctx, STORE_CF_META,
                               (const uint8_t *)KEYS_META_VV_PREFIX, KEYS_META_VV_PREFIX_LEN, NULL,
                               0, load_entry, &scan);
    if (rc == 0)
        rc = scan.rc;
    if (rc)
        snprintf(err, err_size,
                 "cannot read the version vector from storage (%s); the data directory is "
                 "damaged: restore it from a backup",
                 sm_strerror(rc));
    return rc;
}

int
core_origin_stage(core_t *self, core_origin_t *origin, uint64_t seq,
                  const uint8_t head[CORE_HASH_BYTES])
{
    core_batch_t *batch = self->staging;
    if (batch->origin_update_count == batch->origin_update_cap) {
        size_t cap = batch->origin_update_cap ? batch->origin_update_cap * 2 : 16;
        core_origin_update_t *grown = realloc(batch->origin_updates, cap * sizeof *grown);
        if (!grown)
            return -SM_ENOMEM;
        batch->origin_updates = grown;
        batch->origin_update_cap = cap;
    }
    core_origin_update_t *update = &batch->origin_updates[batch->origin_update_count++];
    strcpy(update->name, origin->name);
    update->seq = seq;
    memcpy(update->head, head, CORE_HASH_BYTES);
    origin->staged_seq = seq;
    memcpy(origin->staged_head, head, CORE_HASH_BYTES);
    return 0;
}

int
core_origins_put(core_t *self)
{
    core_batch_t *batch = self->staging;
    for (size_t i = 0; i < batch->origin_update_count; i++) {
        const core_origin_update_t *update = &batch->origin_updates[i];
        uint8_t key[KEYS_MAX];
        uint8_t value[VV_RECORD_BYTES];
        keys_put_be64(value, update->seq);
        memcpy(value + 8, update->head, CORE_HASH_BYTES);
        int rc = store_batch_put(&batch->batch, STORE_CF_META, key, keys_vv(key, update->name),
                                 value, sizeof value);
        if (rc)
            return rc;
    }
    return 0;
}

void
core_origins_commit(core_t *self, const core_batch_t *batch)
{
    for (size_t i = 0; i < batch->origin_update_count; i++) {
        const core_origin_update_t *update = &batch->origin_updates[i];
        core_origin_t *origin = core_origin_find(self, update->name);
        if (!origin)
            continue; // cannot happen: origins are never removed
        origin->durable_seq = update->seq;
        memcpy(origin->durable_head, update->head, CORE_HASH_BYTES);
        origin->advanced_generation = self->have_generation + 1; // core.c bumps it next
        if (self->advance_count == CORE_ADVANCES_MAX) { // the oldest goes
            const core_advance_t *oldest = &self->advances[self->advance_start];
            if (oldest->generation > self->advances_from)
                self->advances_from = oldest->generation;
            self->advance_start = (self->advance_start + 1) % CORE_ADVANCES_MAX;
            self->advance_count--;
        }
        size_t slot = (self->advance_start + self->advance_count++) % CORE_ADVANCES_MAX;
        self->advances[slot] = (core_advance_t){origin->advanced_generation,
                                                (uint32_t)(origin - self->origins)};
    }
}

void
core_origins_rollback(core_t *self)
{
    for (size_t i = 0; i < self->origin_count; i++) {
        core_origin_t *origin = &self->origins[i];
        origin->staged_seq = origin->durable_seq;
        memcpy(origin->staged_head, origin->durable_head, CORE_HASH_BYTES);
    }
}

void
core_origins_free(core_t *self)
{
    free(self->origins);
    self->origins = NULL;
    self->origin_count = 0;
    for (int i = 0; i < 2; i++)
        free(self->batches[i].origin_updates);
}
