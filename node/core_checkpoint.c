// core_checkpoint: field states are written to the `state` column family at
// checkpoints, not with every batch. Every batch still writes its operations to the
// log (with the idempotency entries, heads and seals) in one atomic, synced write,
// and that is what an acknowledgement rests on; the field states it changed stay in
// memory (self->dirty) until a checkpoint batch writes all of them together with the
// checkpoint record: the version vector those stored states include. A restart
// replays the log past that record into dirty again, so a hot SKU's counter is
// written once per checkpoint rather than once per batch (bench local: the state
// writes were a quarter of the node's time).
//
// Checkpoint record (meta key "checkpoint"): for every origin with operations, this
// node included, in no particular order: name length (u8), name, seq (be64).
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core_internal.h"
#include "keys.h"
#include "sm_error.h"
#include "storemesh.pb-c.h"

#define CHECKPOINT_RECORD_MAX ((CORE_ORIGINS_MAX + 1) * (1 + CRDT_NAME_MAX + 8))

// ---- the record ----

// The seq the record gives origin; 0 when it names no such origin.
static uint64_t
record_seq(const uint8_t *record, size_t len, const char *origin)
{
    size_t origin_len = strlen(origin);
    for (size_t at = 0; at < len;) {
        size_t name_len = record[at];
        if (at + 1 + name_len + 8 > len)
            return 0;
        if (name_len == origin_len && memcmp(record + at + 1, origin, name_len) == 0)
            return keys_get_be64(record + at + 1 + name_len);
        at += 1 + name_len + 8;
    }
    return 0;
}

static size_t
record_add(uint8_t *record, size_t at, const char *origin, uint64_t seq)
{
    size_t name_len = strlen(origin);
    record[at] = (uint8_t)name_len;
    memcpy(record + at + 1, origin, name_len);
    keys_put_be64(record + at + 1 + name_len, seq);
    return at + 1 + name_len + 8;
}

// ---- replay ----

typedef struct {
    core_t *core;
    uint64_t next_seq;
    uint64_t last_seq;
    int rc;
} replay_t;

static int
replay_one(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value, size_t value_len)
{
    replay_t *replay = arg;
    char origin[CRDT_NAME_MAX + 1];
    uint64_t seq = 0;
    if (keys_log_parse(key, key_len, origin, &seq) || seq != replay->next_seq) {
        replay->rc = -SM_ECORRUPT; // the log below a head has no holes
        return 1;
    }
    core_t *self = replay->core;
    arena_reset(&self->decode_arena);
    ProtobufCAllocator arena = arena_protobuf_allocator(&self->decode_arena);
    Storemesh__Operation *op = storemesh__operation__unpack(&arena, value_len, value);
    if (!op || !op->origin || strcmp(op->origin, origin) != 0 || op->seq != seq) {
        replay->rc = -SM_ECORRUPT;
        return 1;
    }
    replay->rc = core_merge_operation(self, op);
    replay->next_seq++;
    return replay->rc != 0 || seq >= replay->last_seq;
}

// Merges origin's operations from_seq..to_seq into the staging overlay.
static int
replay_origin(core_t *self, const char *origin, uint64_t from_seq, uint64_t to_seq)
{
    if (from_seq > to_seq)
        return 0;
    uint8_t start[KEYS_MAX];
    size_t start_len = keys_log(start, origin, from_seq);
    replay_t replay = {.core = self, .next_seq = from_seq, .last_seq = to_seq};
    int rc = self->reader.scan(self->reader.ctx, STORE_CF_LOG, start, strlen(origin) + 1, start,
                               start_len, replay_one, &replay);
    if (rc == 0)
        rc = replay.rc;
    if (rc == 0 && replay.next_seq != to_seq + 1)
        rc = -SM_ECORRUPT; // fewer operations than the head says
    return rc;
}

static int
dirty_put(core_t *self, const uint8_t *key, size_t key_len, const uint8_t *value,
          size_t value_len)
{
    self->dirty_bytes += key_len + value_len;
    return overlay_put(self->dirty, STORE_CF_STATE, key, key_len, value, value_len);
}

static int
move_to_dirty(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value,
              size_t value_len)
{
    return dirty_put(arg, key, key_len, value, value_len);
}

// Rebuilds dirty from storage alone: the field states as of the checkpoint record,
// plus every operation the log holds past it.
static int
rebuild_dirty(core_t *self, const uint8_t *record, size_t record_len)
{
    overlay_clear(self->dirty);
    self->dirty_bytes = 0;
    uint64_t apply_failed = self->counters.apply_failed; // counted when they first came
    uint64_t from_self = record_seq(record, record_len, self->name);
    uint64_t replayed = self->durable.last_seq > from_self ? self->durable.last_seq - from_self : 0;
    int rc = replay_origin(self, self->name, from_self + 1, self->durable.last_seq);
    for (size_t i = 0; rc == 0 && i < self->origin_count; i++) {
        const core_origin_t *origin = &self->origins[i];
        uint64_t from = record_seq(record, record_len, origin->name);
        rc = replay_origin(self, origin->name, from + 1, origin->durable_seq);
        if (origin->durable_seq > from)
            replayed += origin->durable_seq - from;
    }
    self->counters.apply_failed = apply_failed;
    if (rc == 0)
        rc = overlay_each(self->staging->overlay, STORE_CF_STATE, move_to_dirty, self);
    overlay_clear(self->staging->overlay);
    self->ops_since_checkpoint = replayed;
    return rc;
}

static int
read_record(core_t *self, uint8_t **record, size_t *record_len)
{
    return core_read(self, STORE_CF_META, (const uint8_t *)KEYS_META_CHECKPOINT,
                     strlen(KEYS_META_CHECKPOINT), record, record_len);
}

int
core_checkpoint_load(core_t *self, char *err, size_t err_size)
{
    self->dirty = overlay_new();
    if (!self->dirty) {
        snprintf(err, err_size, "out of memory");
        return -SM_ENOMEM;
    }
    uint8_t *record = NULL;
    size_t record_len = 0;
    int rc = read_record(self, &record, &record_len);
    if (rc == -SM_ENOTFOUND) {
        // A new node, or one whose batches all wrote their states: `state` is whole.
        // The first batch writes the record.
        self->checkpoint_needed = true;
        return 0;
    }
    if (rc == 0)
        rc = rebuild_dirty(self, record, record_len);
    free(record);
    if (rc)
        snprintf(err, err_size,
                 "cannot rebuild the field states from the log past the last checkpoint: %s; "
                 "the data directory is damaged, restore it from a backup",
                 sm_strerror(rc));
    return rc;
}

uint64_t
core_checkpoint_lag(const core_t *self)
{
    return self->ops_since_checkpoint;
}

bool
core_checkpoint_due(const core_t *self)
{
    return self->checkpoint_needed || self->ops_since_checkpoint >= self->checkpoint_ops ||
           self->dirty_bytes >= self->dirty_bytes_max;
}

// ---- sealing and committing ----

static int
put_state(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value, size_t value_len)
{
    return store_batch_put(arg, STORE_CF_STATE, key, key_len, value, value_len);
}

static int
put_other(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value, size_t value_len)
{
    return store_batch_put(arg, STORE_CF_IDEM, key, key_len, value, value_len);
}

// The version vector the batch being sealed leaves on disk.
static int
put_record(core_t *self, store_batch_t *batch)
{
    uint8_t *record = malloc(CHECKPOINT_RECORD_MAX);
    if (!record)
        return -SM_ENOMEM;
    size_t len = 0;
    if (self->staged.last_seq > 0)
        len = record_add(record, len, self->name, self->staged.last_seq);
    for (size_t i = 0; i < self->origin_count; i++)
        if (self->origins[i].staged_seq > 0)
            len = record_add(record, len, self->origins[i].name, self->origins[i].staged_seq);
    int rc = store_batch_put(batch, STORE_CF_META, KEYS_META_CHECKPOINT,
                             strlen(KEYS_META_CHECKPOINT), record, len);
    free(record);
    return rc;
}

static int
count_entry(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value,
            size_t value_len)
{
    (void)key, (void)key_len, (void)value, (void)value_len;
    (*(size_t *)arg)++;
    return 0;
}

int
core_checkpoint_seal(core_t *self, core_batch_t *batch)
{
    // A batch's overlay holds field states and idempotency entries only; anything else
    // would be left out of a batch that is not a checkpoint.
    size_t known = 0;
    overlay_each(batch->overlay, STORE_CF_STATE, count_entry, &known);
    overlay_each(batch->overlay, STORE_CF_IDEM, count_entry, &known);
    assert(known == overlay_count(batch->overlay));
    (void)known;
    batch->checkpoint = core_checkpoint_due(self);
    if (!batch->checkpoint) // field states wait in memory; the other entries go now
        return overlay_each(batch->overlay, STORE_CF_IDEM, put_other, &batch->batch);
    // dirty first: the batch's own states are newer and a later put wins.
    int rc = overlay_each(self->dirty, STORE_CF_STATE, put_state, &batch->batch);
    if (rc == 0)
        rc = overlay_to_batch(batch->overlay, &batch->batch);
    if (rc == 0)
        rc = put_record(self, &batch->batch);
    return rc;
}

static size_t
log_puts(const store_batch_t *batch)
{
    size_t count = 0;
    for (size_t i = 0; i < batch->count; i++)
        count += batch->puts[i].cf == STORE_CF_LOG;
    return count;
}

void
core_checkpoint_committed(core_t *self, const core_batch_t *batch)
{
    if (batch->checkpoint) {
        overlay_clear(self->dirty);
        self->dirty_bytes = 0;
        self->ops_since_checkpoint = 0;
        self->checkpoint_needed = false;
        return;
    }
    self->ops_since_checkpoint += log_puts(&batch->batch);
    // Out of memory, dirty misses a state: stage nothing more. Commands fail and
    // nothing acknowledged is lost (the log has it); a restart rebuilds the states.
    if (overlay_each(batch->overlay, STORE_CF_STATE, move_to_dirty, self) != 0)
        self->states_lost = true;
}

// ---- reads ----

int
core_committed_get(const core_t *self, const uint8_t *key, size_t key_len, const uint8_t **value,
                   size_t *value_len)
{
    return overlay_get(self->dirty, STORE_CF_STATE, key, key_len, value, value_len);
}

typedef struct {
    const uint8_t *key;
    size_t key_len;
    const uint8_t *value;
    size_t value_len;
} entry_ref_t;

typedef struct {
    entry_ref_t *entries;
    size_t count;
    const uint8_t *prefix;
    size_t prefix_len;
    size_t next; // during the merge: the first entry not yet passed on
    store_scan_fn fn;
    void *arg;
    int stopped; // fn asked to stop
} merge_t;

static int
collect(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value, size_t value_len)
{
    merge_t *merge = arg;
    if (key_len >= merge->prefix_len &&
        (merge->prefix_len == 0 || memcmp(key, merge->prefix, merge->prefix_len) == 0))
        merge->entries[merge->count++] =
            (entry_ref_t){.key = key, .key_len = key_len, .value = value, .value_len = value_len};
    return 0;
}

// Bytewise, a prefix first: RocksDB's default order, and memstore's.
static int
compare_keys(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    size_t shorter = a_len < b_len ? a_len : b_len;
    int rc = shorter ? memcmp(a, b, shorter) : 0;
    if (rc)
        return rc;
    return a_len < b_len ? -1 : a_len > b_len ? 1 : 0;
}

static int
compare_refs(const void *a, const void *b)
{
    const entry_ref_t *x = a;
    const entry_ref_t *y = b;
    return compare_keys(x->key, x->key_len, y->key, y->key_len);
}

static int
merged_entry(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value,
             size_t value_len)
{
    merge_t *merge = arg;
    // Dirty states before this stored one, then this key's dirty state in its place.
    while (merge->next < merge->count) {
        const entry_ref_t *entry = &merge->entries[merge->next];
        int order = compare_keys(entry->key, entry->key_len, key, key_len);
        if (order > 0)
            break;
        merge->next++;
        if ((merge->stopped = merge->fn(merge->arg, entry->key, entry->key_len, entry->value,
                                        entry->value_len)))
            return 1;
        if (order == 0)
            return 0;
    }
    return merge->stopped = merge->fn(merge->arg, key, key_len, value, value_len);
}

int
core_state_scan(const core_t *self, const uint8_t *prefix, size_t prefix_len, store_scan_fn fn,
                void *arg)
{
    merge_t merge = {.prefix = prefix, .prefix_len = prefix_len, .fn = fn, .arg = arg};
    size_t count = overlay_count(self->dirty);
    if (count > 0) {
        merge.entries = malloc(count * sizeof *merge.entries);
        if (!merge.entries)
            return -SM_ENOMEM;
        overlay_each(self->dirty, STORE_CF_STATE, collect, &merge);
        qsort(merge.entries, merge.count, sizeof *merge.entries, compare_refs);
    }
    int rc = self->reader.scan(self->reader.ctx, STORE_CF_STATE, prefix_len ? prefix : NULL,
                               prefix_len, NULL, 0, merged_entry, &merge);
    for (; rc == 0 && !merge.stopped && merge.next < merge.count; merge.next++) {
        const entry_ref_t *entry = &merge.entries[merge.next];
        merge.stopped = fn(arg, entry->key, entry->key_len, entry->value, entry->value_len);
    }
    free(merge.entries);
    return rc;
}
