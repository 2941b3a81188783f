// arena: a bump allocator for decoding one message at a time with protobuf-c.
// A decode makes one allocation per field and sub-message; from malloc that is
// slow on a busy heap and fragments it. From an arena each is a pointer bump, and
// everything is given back at once by arena_reset before the next message.
// Chunks are kept for reuse, so a steady stream decodes without touching malloc.
// Not thread-safe: one decoder uses it.
#ifndef NODE_ARENA_H
#define NODE_ARENA_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#define ARENA_CHUNKS_MAX 128 // with 256 KiB chunks, 32 MiB: above the largest frame (16 MiB)

typedef struct {
    uint8_t *chunks[ARENA_CHUNKS_MAX];
    size_t chunk_sizes[ARENA_CHUNKS_MAX];
    size_t chunk_count;
    size_t current;     // chunk being filled
    size_t used;        // bytes used in it
    size_t chunk_bytes; // size of a new chunk (a larger block gets a chunk of its size)
} arena_t;

// A zeroed arena_t is ready too (chunk_bytes then defaults to 256 KiB).
void arena_init(arena_t *self, size_t chunk_bytes);
// Frees every chunk.
void arena_release(arena_t *self);
// Makes every block handed out since the last reset free for reuse.
void arena_reset(arena_t *self);
// 16-byte aligned; NULL when out of memory or past ARENA_CHUNKS_MAX chunks.
void *arena_alloc(arena_t *self, size_t size);
// An allocator for protobuf-c's unpack and free_unpacked calls (its free does nothing).
ProtobufCAllocator arena_protobuf_allocator(arena_t *self);

#endif
