#include "arena.h"

#include <stdlib.h>
#include <string.h>

#define ARENA_CHUNK_BYTES_DEFAULT (256 * 1024)

void
arena_init(arena_t *self, size_t chunk_bytes)
{
    memset(self, 0, sizeof *self);
    self->chunk_bytes = chunk_bytes;
}

void *
arena_alloc(arena_t *self, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    // Bounded by ARENA_CHUNKS_MAX: move to the next chunk until one fits.
    while (self->current < self->chunk_count) {
        if (self->used + size <= self->chunk_sizes[self->current]) {
            void *block = self->chunks[self->current] + self->used;
            self->used += size;
            return block;
        }
        self->current++;
        self->used = 0;
    }
    if (self->chunk_count == ARENA_CHUNKS_MAX)
        return NULL; // protobuf-c then fails the decode: answered as malformed
    size_t chunk_bytes = self->chunk_bytes ? self->chunk_bytes : ARENA_CHUNK_BYTES_DEFAULT;
    size_t chunk_size = size > chunk_bytes ? size : chunk_bytes;
    uint8_t *chunk = malloc(chunk_size);
    if (!chunk)
        return NULL;
    self->chunks[self->chunk_count] = chunk;
    self->chunk_sizes[self->chunk_count] = chunk_size;
    self->current = self->chunk_count++;
    self->used = size;
    return chunk;
}

void
arena_reset(arena_t *self)
{
    self->current = 0;
    self->used = 0;
}

void
arena_release(arena_t *self)
{
    for (size_t i = 0; i < self->chunk_count; i++)
        free(self->chunks[i]);
    size_t chunk_bytes = self->chunk_bytes;
    memset(self, 0, sizeof *self);
    self->chunk_bytes = chunk_bytes;
}

static void *
protobuf_alloc(void *data, size_t size)
{
    return arena_alloc(data, size);
}

static void
protobuf_free(void *data, void *pointer)
{
    (void)data; // everything goes at arena_reset
    (void)pointer;
}

ProtobufCAllocator
arena_protobuf_allocator(arena_t *self)
{
    return (ProtobufCAllocator){.alloc = protobuf_alloc, .free = protobuf_free,
                                .allocator_data = self};
}
