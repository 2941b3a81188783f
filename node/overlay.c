#include "overlay.h"

#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "hash_bytes.h"
#include "sm_error.h"

// An entry's key and value share one block, the value right after the key, cut
// from the overlay's chunks: the submit and merge paths put millions of entries,
// and a malloc and a free for each showed in their profiles. A value that outgrows
// its block moves to a block of its own (malloc'd, twice the size, realloc'd as it
// grows again): long-lived overlays such as the committed-state cache grow some
// entries over and over, and copies left in the chunks would add up.
typedef struct chunk {
    struct chunk *next;
    size_t used;
    size_t cap;
    uint8_t data[];
} chunk_t;

#define OVERLAY_CHUNK_BYTES (16u << 10)

typedef struct {
    store_cf_t cf;
    uint8_t *key; // the block
    size_t key_len;
    uint8_t *value; // key + key_len
    bool own_block; // key was malloc'd for this entry (freed at the clear)
    size_t value_len;
    size_t value_cap; // bytes allocated for value
    uint64_t hash;
} entry_t;

// One open-addressing table per column family (linear probing). A slot holds the
// entry index + 1 in its low 32 bits (0 = empty) and the top 32 bits of the entry's
// hash in its high ones, so a probe past another key compares in the slot array
// without touching the entry. Per column family because a batch's log, seal and
// idempotency entries outnumber its field states many times over, and staging and
// merging look up field states (and command IDs) in several overlays each time: in
// a table of their own, a miss is one probe into a small array.
typedef struct {
    uint64_t *slots;   // NULL until the first entry of this column family
    size_t slot_count; // power of two, >= 2 * count
    size_t count;
} table_t;

struct overlay {
    entry_t *entries;   // insertion order, all column families
    size_t count;
    size_t cap;
    table_t tables[STORE_CF_COUNT];
    chunk_t *chunks;    // the newest first; the blocks of entries
};

#define TABLE_SLOTS_MIN 16
#define SLOT_TAG(hash) ((hash) & 0xffffffff00000000ull)
#define SLOT_INDEX(slot) ((uint32_t)(slot))

// A block of len bytes from the newest chunk, or from a new one. NULL when out of
// memory.
static uint8_t *
block_take(overlay_t *self, size_t len)
{
    len = (len + 7) & ~(size_t)7;
    chunk_t *chunk = self->chunks;
    if (!chunk || chunk->cap - chunk->used < len) {
        size_t cap = len > OVERLAY_CHUNK_BYTES ? len : OVERLAY_CHUNK_BYTES;
        chunk = malloc(sizeof *chunk + cap);
        if (!chunk)
            return NULL;
        chunk->used = 0;
        chunk->cap = cap;
        chunk->next = self->chunks;
        self->chunks = chunk;
    }
    uint8_t *block = chunk->data + chunk->used;
    chunk->used += len;
    return block;
}

static uint64_t
hash_key(store_cf_t cf, const uint8_t *key, size_t key_len)
{
    return hash_bytes((uint64_t)cf, key, key_len);
}

overlay_t *
overlay_new(void)
{
    return calloc(1, sizeof(overlay_t));
}

void
overlay_clear(overlay_t *self)
{
    for (size_t i = 0; i < self->count; i++)
        if (self->entries[i].own_block)
            free(self->entries[i].key);
    // No chunk is kept: the simulator runs hundreds of cores, each with a few
    // overlays that are mostly empty, and a chunk kept in each cost 60 MB in a
    // 200-branch run. A batch's chunks are one malloc for hundreds of entries.
    while (self->chunks) {
        chunk_t *chunk = self->chunks;
        self->chunks = chunk->next;
        free(chunk);
    }
    self->count = 0;
    for (size_t cf = 0; cf < STORE_CF_COUNT; cf++) {
        table_t *table = &self->tables[cf];
        if (table->count)
            memset(table->slots, 0, table->slot_count * sizeof *table->slots);
        table->count = 0;
    }
}

void
overlay_destroy(overlay_t **self_p)
{
    if (!*self_p)
        return;
    overlay_t *self = *self_p;
    overlay_clear(self);
    free(self->entries);
    for (size_t cf = 0; cf < STORE_CF_COUNT; cf++)
        free(self->tables[cf].slots);
    free(self);
    *self_p = NULL;
}

size_t
overlay_count(const overlay_t *self)
{
    return self->count;
}

// The slot of key in table (which has slots): its own, or the empty one where it
// would go.
static size_t
find_slot(const overlay_t *self, const table_t *table, const uint8_t *key, size_t key_len,
          uint64_t hash)
{
    size_t mask = table->slot_count - 1;
    size_t slot = (size_t)hash & mask;
    uint64_t tag = SLOT_TAG(hash);
    for (size_t probe = 0; probe < table->slot_count; probe++) {
        uint64_t value = table->slots[slot];
        if (value == 0)
            return slot;
        if (SLOT_TAG(value) == tag) {
            const entry_t *entry = &self->entries[SLOT_INDEX(value) - 1];
            if (entry->hash == hash && entry->key_len == key_len &&
                memcmp(entry->key, key, key_len) == 0)
                return slot;
        }
        slot = (slot + 1) & mask;
    }
    assert(!"overlay: table full despite load factor");
    return 0;
}

// Doubles cf's table (or gives it its first slots) and puts its entries back.
static int
grow(overlay_t *self, store_cf_t cf)
{
    table_t *table = &self->tables[cf];
    size_t slot_count = table->slot_count ? table->slot_count * 2 : TABLE_SLOTS_MIN;
    uint64_t *slots = calloc(slot_count, sizeof *slots);
    if (!slots)
        return -SM_ENOMEM;
    free(table->slots);
    table->slots = slots;
    table->slot_count = slot_count;
    size_t placed = 0;
    for (size_t i = 0; i < self->count && placed < table->count; i++) {
        const entry_t *entry = &self->entries[i];
        if (entry->cf != cf)
            continue;
        size_t slot = find_slot(self, table, entry->key, entry->key_len, entry->hash);
        table->slots[slot] = SLOT_TAG(entry->hash) | (uint64_t)(i + 1);
        placed++;
    }
    return 0;
}

overlay_key_t
overlay_key(store_cf_t cf, const uint8_t *key, size_t key_len)
{
    assert(cf < STORE_CF_COUNT);
    return (overlay_key_t){cf, key, key_len, hash_key(cf, key, key_len)};
}

int
overlay_put(overlay_t *self, store_cf_t cf, const uint8_t *key, size_t key_len,
            const uint8_t *value, size_t value_len)
{
    overlay_key_t keyed = overlay_key(cf, key, key_len);
    return overlay_put_key(self, &keyed, value, value_len);
}

int
overlay_put_key(overlay_t *self, const overlay_key_t *keyed, const uint8_t *value,
                size_t value_len)
{
    store_cf_t cf = keyed->cf;
    const uint8_t *key = keyed->bytes;
    size_t key_len = keyed->len;
    assert(cf < STORE_CF_COUNT);
    table_t *table = &self->tables[cf];
    // Room first, so that the slot found below stays the slot.
    if (2 * (table->count + 1) > table->slot_count) {
        int rc = grow(self, cf);
        if (rc)
            return rc;
    }
    uint64_t hash = keyed->hash;
    size_t slot = find_slot(self, table, key, key_len, hash);
    if (table->slots[slot] != 0) {
        entry_t *entry = &self->entries[SLOT_INDEX(table->slots[slot]) - 1];
        if (value_len > entry->value_cap) {
            size_t cap = entry->value_cap * 2 > value_len ? entry->value_cap * 2 : value_len;
            uint8_t *grown;
            if (entry->own_block) {
                grown = realloc(entry->key, entry->key_len + cap);
            } else {
                // value may point into the chunk's block, which stays until the clear
                grown = malloc(entry->key_len + cap);
                if (grown)
                    memcpy(grown, entry->key, entry->key_len);
            }
            if (!grown)
                return -SM_ENOMEM;
            entry->key = grown;
            entry->value = grown + entry->key_len;
            entry->value_cap = cap;
            entry->own_block = true;
        }
        if (value_len)
            memmove(entry->value, value, value_len);
        entry->value_len = value_len;
        return 0;
    }
    if (self->count == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 64;
        entry_t *entries = realloc(self->entries, cap * sizeof *entries);
        if (!entries)
            return -SM_ENOMEM;
        self->entries = entries;
        self->cap = cap;
    }
    size_t value_cap = value_len ? value_len : 1;
    uint8_t *block = block_take(self, key_len + value_cap);
    if (!block)
        return -SM_ENOMEM;
    memcpy(block, key, key_len);
    if (value_len)
        memcpy(block + key_len, value, value_len);
    self->entries[self->count] = (entry_t){.cf = cf,
                                           .key = block,
                                           .key_len = key_len,
                                           .value = block + key_len,
                                           .value_len = value_len,
                                           .value_cap = value_cap,
                                           .hash = hash};
    table->slots[slot] = SLOT_TAG(hash) | (uint64_t)(++self->count);
    table->count++;
    return 0;
}

int
overlay_get(const overlay_t *self, store_cf_t cf, const uint8_t *key, size_t key_len,
            const uint8_t **value, size_t *value_len)
{
    assert(cf < STORE_CF_COUNT);
    if (self->tables[cf].count == 0)
        return -SM_ENOTFOUND; // without hashing the key
    overlay_key_t keyed = overlay_key(cf, key, key_len);
    return overlay_get_key(self, &keyed, value, value_len);
}

// The entry of keyed, or NULL.
static entry_t *
find_entry(const overlay_t *self, const overlay_key_t *keyed)
{
    assert(keyed->cf < STORE_CF_COUNT);
    const table_t *table = &self->tables[keyed->cf];
    if (table->count == 0)
        return NULL;
    size_t slot = find_slot(self, table, keyed->bytes, keyed->len, keyed->hash);
    if (table->slots[slot] == 0)
        return NULL;
    return &self->entries[SLOT_INDEX(table->slots[slot]) - 1];
}

int
overlay_get_key(const overlay_t *self, const overlay_key_t *keyed, const uint8_t **value,
                size_t *value_len)
{
    const entry_t *entry = find_entry(self, keyed);
    if (!entry)
        return -SM_ENOTFOUND;
    *value = entry->value;
    *value_len = entry->value_len;
    return 0;
}

int
overlay_patch(overlay_t *self, store_cf_t cf, const uint8_t *key, size_t key_len, size_t offset,
              const uint8_t *bytes, size_t len)
{
    overlay_key_t keyed = overlay_key(cf, key, key_len);
    return overlay_patch_key(self, &keyed, offset, bytes, len);
}

int
overlay_patch_key(overlay_t *self, const overlay_key_t *keyed, size_t offset, const uint8_t *bytes,
                  size_t len)
{
    entry_t *entry = find_entry(self, keyed);
    if (!entry)
        return -SM_ENOTFOUND;
    if (offset > entry->value_len || len > entry->value_len - offset)
        return -SM_EINVAL;
    if (len)
        memcpy(entry->value + offset, bytes, len);
    return 0;
}

int
overlay_to_batch(const overlay_t *self, store_batch_t *batch)
{
    for (size_t i = 0; i < self->count; i++) {
        const entry_t *entry = &self->entries[i];
        int rc = store_batch_put(batch, entry->cf, entry->key, entry->key_len, entry->value,
                                 entry->value_len);
        if (rc)
            return rc;
    }
    return 0;
}

int
overlay_each(const overlay_t *self, store_cf_t cf, overlay_fn fn, void *arg)
{
    for (size_t i = 0; i < self->count; i++) {
        const entry_t *entry = &self->entries[i];
        if (entry->cf != cf)
            continue;
        int rc = fn(arg, entry->key, entry->key_len, entry->value, entry->value_len);
        if (rc)
            return rc;
    }
    return 0;
}
