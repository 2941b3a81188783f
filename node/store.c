#include "store.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "sm_error.h"

#define STORE_BATCH_ARENA_MIN_BYTES (64u << 10)
#define STORE_BATCH_ARENA_DOUBLING_BYTES (1u << 20)

void
store_batch_init(store_batch_t *self)
{
    memset(self, 0, sizeof *self);
}

void
store_batch_clear(store_batch_t *self)
{
    self->count = 0;
    self->arena_len = 0;
    self->size_bytes = 0;
}

void
store_batch_free(store_batch_t *self)
{
    free(self->puts);
    free(self->arena);
    memset(self, 0, sizeof *self);
}

int
store_batch_put(store_batch_t *self, store_cf_t cf, const void *key, size_t key_len,
                const void *value, size_t value_len)
{
    assert(cf >= 0 && cf < STORE_CF_COUNT);
    if (key_len > UINT32_MAX || value_len > UINT32_MAX)
        return -SM_ERANGE;
    if (self->count == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 64;
        store_put_t *puts = realloc(self->puts, cap * sizeof *puts);
        if (!puts)
            return -SM_ENOMEM;
        self->puts = puts;
        self->cap = cap;
    }
    size_t start = self->arena_len ? self->arena_len : STORE_BATCH_HEADER_BYTES;
    // A store_rocks store gives each column family its store_cf_t value as ID.
    size_t need = start + store_put_encoded_size((uint32_t)cf, key_len, value_len);
    if (need > UINT32_MAX || self->count >= UINT32_MAX)
        return -SM_ERANGE;
    if (need > self->arena_cap) {
        // Doubling up to 1 MiB, then a quarter more at a time: a group commit of
        // 4,000 commands settles just above 1 MiB, and doubling would hold 2 MiB per
        // batch (a node keeps two) for that.
        size_t cap = self->arena_cap ? self->arena_cap : STORE_BATCH_ARENA_MIN_BYTES;
        while (cap < need)
            cap += cap < STORE_BATCH_ARENA_DOUBLING_BYTES ? cap : cap / 4;
        uint8_t *arena = realloc(self->arena, cap);
        if (!arena)
            return -SM_ENOMEM;
        self->arena = arena;
        self->arena_cap = cap;
    }
    if (self->arena_len == 0)
        memset(self->arena, 0, STORE_BATCH_HEADER_BYTES);
    uint8_t *key_at = NULL;
    uint8_t *value_at = NULL;
    uint8_t *end = store_put_encode(self->arena + start, (uint32_t)cf, key, key_len, value,
                                    value_len, &key_at, &value_at);
    assert((size_t)(end - self->arena) == need);
    (void)end;
    self->puts[self->count++] = (store_put_t){.cf = cf,
                                              .key_len = (uint32_t)key_len,
                                              .value_len = (uint32_t)value_len,
                                              .key_offset = (uint32_t)(key_at - self->arena),
                                              .value_offset = (uint32_t)(value_at - self->arena)};
    store_batch_header_set_count(self->arena, (uint32_t)self->count);
    self->arena_len = need;
    self->size_bytes += key_len + value_len;
    return 0;
}
