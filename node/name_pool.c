// name_pool: interned node names (see name_pool.h).
#include "name_pool.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crdt.h"
#include "hash_bytes.h"

#define CHUNK_BYTES 4096
#define SLOTS_MIN 64

typedef struct chunk {
    struct chunk *next;
    size_t used;
    char bytes[CHUNK_BYTES];
} chunk_t;

struct name_pool {
    const char **slots; // open addressing; NULL is empty
    size_t slot_count;  // a power of two, at least twice count
    size_t count;
    chunk_t *chunks; // the newest first
};

name_pool_t *
name_pool_new(void)
{
    name_pool_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->slots = calloc(SLOTS_MIN, sizeof *self->slots);
    if (!self->slots) {
        free(self);
        return NULL;
    }
    self->slot_count = SLOTS_MIN;
    return self;
}

void
name_pool_destroy(name_pool_t **self_p)
{
    name_pool_t *self = *self_p;
    if (!self)
        return;
    for (chunk_t *chunk = self->chunks; chunk;) {
        chunk_t *next = chunk->next;
        free(chunk);
        chunk = next;
    }
    free(self->slots);
    free(self);
    *self_p = NULL;
}

size_t
name_pool_count(const name_pool_t *self)
{
    return self->count;
}

// Over the whole name (names often share long prefixes: "branch-00"), eight bytes
// at a time (hash_bytes.h): a byte at a time was half of an intern's cost, and
// every version vector a Hello rebuilds interns each of its origins.
static uint64_t
hash_name(const char *name, size_t len)
{
    return hash_bytes(0, (const uint8_t *)name, len);
}

// name's slot, or the empty slot where it belongs. The table is never full.
static size_t
find_slot(const char *const *slots, size_t slot_count, const char *name, uint64_t hash)
{
    size_t mask = slot_count - 1;
    size_t slot = (size_t)hash & mask;
    for (size_t probe = 0; probe < slot_count; probe++) {
        if (!slots[slot] || strcmp(slots[slot], name) == 0)
            return slot;
        slot = (slot + 1) & mask;
    }
    assert(!"name_pool: table full despite load factor");
    return 0;
}

static int
grow(name_pool_t *self)
{
    size_t slot_count = self->slot_count * 2;
    const char **slots = calloc(slot_count, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < self->slot_count; i++)
        if (self->slots[i])
            slots[find_slot(slots, slot_count, self->slots[i],
                            hash_name(self->slots[i], strlen(self->slots[i])))] =
                self->slots[i];
    free(self->slots);
    self->slots = slots;
    self->slot_count = slot_count;
    return 0;
}

static char *
copy_name(name_pool_t *self, const char *name, size_t size)
{
    assert(size <= CHUNK_BYTES);
    if (!self->chunks || CHUNK_BYTES - self->chunks->used < size) {
        chunk_t *chunk = malloc(sizeof *chunk);
        if (!chunk)
            return NULL;
        chunk->next = self->chunks;
        chunk->used = 0;
        self->chunks = chunk;
    }
    char *copy = self->chunks->bytes + self->chunks->used;
    memcpy(copy, name, size);
    self->chunks->used += size;
    return copy;
}

const char *
name_pool_intern(name_pool_t *self, const char *name)
{
    assert(name);
    size_t len = strlen(name);
    assert(len > 0 && len <= CRDT_NAME_MAX);
    uint64_t hash = hash_name(name, len);
    size_t slot = find_slot(self->slots, self->slot_count, name, hash);
    if (self->slots[slot])
        return self->slots[slot];
    if (self->count >= NAME_POOL_MAX)
        return NULL;
    if (2 * (self->count + 1) > self->slot_count) {
        if (grow(self))
            return NULL;
        slot = find_slot(self->slots, self->slot_count, name, hash);
    }
    char *copy = copy_name(self, name, len + 1);
    if (!copy)
        return NULL;
    self->slots[slot] = copy;
    self->count++;
    return copy;
}
