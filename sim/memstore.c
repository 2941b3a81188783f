#include "memstore.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "sm_error.h"

// A skip list ordered by (column family, key bytes). Node heights come from a hash
// of the key, not from a random source, so a run is the same every time.
#define MEMSTORE_LEVELS_MAX 24

typedef struct mem_node {
    store_cf_t cf;
    uint8_t *key;
    size_t key_len;
    uint8_t *value;
    size_t value_len;
    int height;
    struct mem_node *next[]; // height entries
} mem_node_t;

// What one unsynced put replaced, so a power loss can put it back.
typedef struct {
    store_cf_t cf;
    uint8_t *key;
    size_t key_len;
    bool existed;
    uint8_t *old_value;
    size_t old_value_len;
} undo_t;

typedef struct {
    undo_t *undo;
    size_t count;
} unsynced_batch_t;

struct memstore {
    mem_node_t *head;
    unsynced_batch_t *unsynced; // write order
    size_t unsynced_count;
    size_t unsynced_cap;
    size_t fail_count; // writes still to fail
    int fail_rc;
};

static int
compare(store_cf_t cf_a, const uint8_t *a, size_t a_len, store_cf_t cf_b, const uint8_t *b,
        size_t b_len)
{
    if (cf_a != cf_b)
        return cf_a < cf_b ? -1 : 1;
    size_t shorter = a_len < b_len ? a_len : b_len;
    int rc = shorter ? memcmp(a, b, shorter) : 0;
    if (rc)
        return rc;
    return a_len < b_len ? -1 : a_len > b_len ? 1 : 0;
}

static int
height_of(const uint8_t *key, size_t key_len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < key_len; i++) {
        h ^= key[i];
        h *= 1099511628211ull;
    }
    h ^= h >> 29;
    int height = 1;
    while (height < MEMSTORE_LEVELS_MAX && (h & 3) == 0) { // p = 1/4 per level
        height++;
        h >>= 2;
    }
    return height;
}

memstore_t *
memstore_new(void)
{
    memstore_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->head = calloc(1, sizeof *self->head + MEMSTORE_LEVELS_MAX * sizeof(mem_node_t *));
    if (!self->head) {
        free(self);
        return NULL;
    }
    self->head->height = MEMSTORE_LEVELS_MAX;
    return self;
}

static void
drop_unsynced(memstore_t *self, size_t from)
{
    for (size_t b = from; b < self->unsynced_count; b++) {
        for (size_t i = 0; i < self->unsynced[b].count; i++) {
            free(self->unsynced[b].undo[i].key);
            free(self->unsynced[b].undo[i].old_value);
        }
        free(self->unsynced[b].undo);
    }
    self->unsynced_count = from;
}

void
memstore_destroy(memstore_t **self_p)
{
    memstore_t *self = *self_p;
    if (!self)
        return;
    drop_unsynced(self, 0);
    free(self->unsynced);
    mem_node_t *node = self->head->next[0];
    while (node) { // bounded by the entries held
        mem_node_t *next = node->next[0];
        free(node->key);
        free(node->value);
        free(node);
        node = next;
    }
    free(self->head);
    free(self);
    *self_p = NULL;
}

// The last node before (cf, key) at every level, in update[].
static mem_node_t *
find(const memstore_t *self, store_cf_t cf, const uint8_t *key, size_t key_len,
     mem_node_t **update)
{
    mem_node_t *node = self->head;
    for (int level = MEMSTORE_LEVELS_MAX - 1; level >= 0; level--) {
        while (node->next[level] && compare(node->next[level]->cf, node->next[level]->key,
                                            node->next[level]->key_len, cf, key, key_len) < 0)
            node = node->next[level];
        if (update)
            update[level] = node;
    }
    return node->next[0];
}

static mem_node_t *
find_exact(const memstore_t *self, store_cf_t cf, const uint8_t *key, size_t key_len,
           mem_node_t **update)
{
    mem_node_t *node = find(self, cf, key, key_len, update);
    if (node && compare(node->cf, node->key, node->key_len, cf, key, key_len) == 0)
        return node;
    return NULL;
}

static uint8_t *
copy_bytes(const uint8_t *bytes, size_t len)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (copy && len)
        memcpy(copy, bytes, len);
    return copy;
}

// Sets (cf, key) to value (NULL value: removes it). 0 or -SM_ENOMEM.
static int
set_value(memstore_t *self, store_cf_t cf, const uint8_t *key, size_t key_len,
          const uint8_t *value, size_t value_len)
{
    mem_node_t *update[MEMSTORE_LEVELS_MAX];
    mem_node_t *node = find_exact(self, cf, key, key_len, update);
    if (node && !value) {
        for (int level = 0; level < node->height; level++)
            update[level]->next[level] = node->next[level];
        free(node->key);
        free(node->value);
        free(node);
        return 0;
    }
    if (!value)
        return 0;
    uint8_t *copy = copy_bytes(value, value_len);
    if (!copy)
        return -SM_ENOMEM;
    if (node) {
        free(node->value);
        node->value = copy;
        node->value_len = value_len;
        return 0;
    }
    int height = height_of(key, key_len);
    node = calloc(1, sizeof *node + (size_t)height * sizeof(mem_node_t *));
    uint8_t *key_copy = node ? copy_bytes(key, key_len) : NULL;
    if (!key_copy) {
        free(node);
        free(copy);
        return -SM_ENOMEM;
    }
    *node = (mem_node_t){.cf = cf, .key = key_copy, .key_len = key_len, .value = copy,
                         .value_len = value_len, .height = height};
    for (int level = 0; level < height; level++) {
        node->next[level] = update[level]->next[level];
        update[level]->next[level] = node;
    }
    return 0;
}

static int
record_undo(unsynced_batch_t *batch, const memstore_t *self, const store_batch_t *writes,
            const store_put_t *put)
{
    const uint8_t *key = store_put_key(writes, put);
    undo_t *undo = &batch->undo[batch->count];
    const mem_node_t *old = find_exact(self, put->cf, key, put->key_len, NULL);
    *undo = (undo_t){.cf = put->cf, .key_len = put->key_len, .existed = old != NULL};
    undo->key = copy_bytes(key, put->key_len);
    if (old)
        undo->old_value = copy_bytes(old->value, old->value_len);
    undo->old_value_len = old ? old->value_len : 0;
    if (!undo->key || (old && !undo->old_value)) {
        free(undo->key);
        free(undo->old_value);
        return -SM_ENOMEM;
    }
    batch->count++;
    return 0;
}

// Puts undo entries back newest first: the state before the batch.
static void
undo_batch(memstore_t *self, unsynced_batch_t *batch)
{
    for (size_t i = batch->count; i > 0; i--) {
        const undo_t *undo = &batch->undo[i - 1];
        int rc = set_value(self, undo->cf, undo->key, undo->key_len,
                           undo->existed ? undo->old_value : NULL, undo->old_value_len);
        assert(rc == 0 || undo->existed); // removal never allocates
        (void)rc;
    }
}

int
memstore_write(memstore_t *self, const store_batch_t *batch, bool sync)
{
    if (self->fail_count > 0) {
        self->fail_count--;
        return self->fail_rc;
    }
    if (sync && self->unsynced_count == 0) {
        // Durable at once, with nothing unsynced before it: no undo records. Out of
        // memory half way leaves the store unusable (every later call fails), never
        // half written in a way anyone reads as valid.
        for (size_t i = 0; i < batch->count; i++) {
            const store_put_t *put = &batch->puts[i];
            int rc = set_value(self, put->cf, store_put_key(batch, put), put->key_len,
                               store_put_value(batch, put), put->value_len);
            if (rc) {
                self->fail_count = SIZE_MAX;
                self->fail_rc = rc;
                return rc;
            }
        }
        return 0;
    }
    // Every write is undoable until synced: a failure half way (out of memory) is
    // undone too, so a batch is never half applied.
    if (self->unsynced_count == self->unsynced_cap) {
        size_t cap = self->unsynced_cap ? self->unsynced_cap * 2 : 16;
        unsynced_batch_t *grown = realloc(self->unsynced, cap * sizeof *grown);
        if (!grown)
            return -SM_ENOMEM;
        self->unsynced = grown;
        self->unsynced_cap = cap;
    }
    unsynced_batch_t *record = &self->unsynced[self->unsynced_count];
    record->count = 0;
    record->undo = calloc(batch->count ? batch->count : 1, sizeof *record->undo);
    if (!record->undo)
        return -SM_ENOMEM;
    self->unsynced_count++;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < batch->count; i++) {
        const store_put_t *put = &batch->puts[i];
        rc = record_undo(record, self, batch, put);
        if (rc == 0)
            rc = set_value(self, put->cf, store_put_key(batch, put), put->key_len,
                           store_put_value(batch, put), put->value_len);
    }
    if (rc) {
        undo_batch(self, record);
        drop_unsynced(self, self->unsynced_count - 1);
        return rc;
    }
    if (sync)
        memstore_sync(self);
    return 0;
}

void
memstore_sync(memstore_t *self)
{
    drop_unsynced(self, 0);
}

size_t
memstore_crash(memstore_t *self, size_t keep_unsynced)
{
    size_t lost = 0;
    // Bounded by the unsynced batches held.
    while (self->unsynced_count > keep_unsynced) {
        undo_batch(self, &self->unsynced[self->unsynced_count - 1]);
        drop_unsynced(self, self->unsynced_count - 1);
        lost++;
    }
    drop_unsynced(self, 0); // what survived is on disk now
    return lost;
}

void
memstore_fail_next(memstore_t *self, size_t count, int rc)
{
    assert(rc < 0);
    self->fail_count = count;
    self->fail_rc = rc;
}

size_t
memstore_unsynced_count(const memstore_t *self)
{
    return self->unsynced_count;
}

static int
mem_get(void *ctx, store_cf_t cf, const uint8_t *key, size_t key_len, uint8_t **value,
        size_t *value_len)
{
    const mem_node_t *node = find_exact(ctx, cf, key, key_len, NULL);
    if (!node)
        return -SM_ENOTFOUND;
    *value = copy_bytes(node->value, node->value_len);
    if (!*value)
        return -SM_ENOMEM;
    *value_len = node->value_len;
    return 0;
}

static int
mem_scan(void *ctx, store_cf_t cf, const uint8_t *prefix, size_t prefix_len,
         const uint8_t *start_key, size_t start_key_len, store_scan_fn fn, void *arg)
{
    const memstore_t *self = ctx;
    const mem_node_t *node = start_key ? find(self, cf, start_key, start_key_len, NULL)
                                       : find(self, cf, prefix, prefix_len, NULL);
    for (; node && node->cf == cf; node = node->next[0]) {
        if (node->key_len < prefix_len || (prefix_len && memcmp(node->key, prefix, prefix_len)))
            break;
        if (fn(arg, node->key, node->key_len, node->value, node->value_len))
            break;
    }
    return 0;
}

store_reader_t
memstore_reader(memstore_t *self)
{
    return (store_reader_t){.get = mem_get, .scan = mem_scan, .ctx = self};
}
