// tag_set: a sorted, duplicate-free set of op tags, used for the tombstones of an
// add-wins set and the superseded writes of a keep-both register. Sorted so that
// its encoding is canonical and membership is a binary search. Not thread-safe.
#ifndef CRDT_TAG_SET_H
#define CRDT_TAG_SET_H

#include <stdbool.h>
#include <stddef.h>

#include "codec.h"
#include "crdt.h"

typedef struct {
    crdt_tag_t *tags; // sorted by crdt_tag_compare, no two equal
    size_t count;
    size_t capacity; // tags allocated
} tag_set_t;

void tag_set_init(tag_set_t *self);
void tag_set_free(tag_set_t *self);
bool tag_set_contains(const tag_set_t *self, const crdt_tag_t *tag);
// Adds each of tags (valid tags, any order, repeats allowed); tags is borrowed.
// 0, or -SM_ENOMEM with self unchanged.
int tag_set_add_all(tag_set_t *self, const crdt_tag_t *tags, size_t count);
// Replaces self with a count and that many tags read from reader, which must be
// strictly increasing. 0, -SM_ECORRUPT, -SM_ENOMEM.
int tag_set_decode(tag_set_t *self, codec_reader_t *reader);
void tag_set_encode(const tag_set_t *self, codec_writer_t *writer);

#endif
