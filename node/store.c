#include "store.h"

#include <stdlib.h>
#include <string.h>

#include "sm_error.h"

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
    size_t need = self->arena_len + key_len + value_len;
    if (need > self->arena_cap) {
        size_t cap = self->arena_cap ? self->arena_cap : 64 * 1024;
        while (cap < need)
            cap *= 2;
        uint8_t *arena = realloc(self->arena, cap);
        if (!arena)
            return -SM_ENOMEM;
        self->arena = arena;
        self->arena_cap = cap;
    }
    memcpy(self->arena + self->arena_len, key, key_len);
    if (value_len)
        memcpy(self->arena + self->arena_len + key_len, value, value_len);
    self->puts[self->count++] = (store_put_t){.cf = cf,
                                              .key_len = (uint32_t)key_len,
                                              .value_len = (uint32_t)value_len,
                                              .offset = self->arena_len};
    self->arena_len = need;
    self->size_bytes += key_len + value_len;
    return 0;
}
