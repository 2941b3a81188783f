#include "crdt.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

// First allocation of a buffer: a small field state fits without regrowing.
#define CRDT_BUF_CAPACITY_MIN 64

void
crdt_buf_init(crdt_buf_t *self)
{
    assert(self != NULL);
    self->data = NULL;
    self->len = 0;
    self->cap = 0;
}

void
crdt_buf_free(crdt_buf_t *self)
{
    assert(self != NULL);
    free(self->data);
    crdt_buf_init(self);
}

void
crdt_buf_reset(crdt_buf_t *self)
{
    assert(self != NULL);
    self->len = 0;
}

// The capacity to grow to: doubling keeps appends amortised O(1).
static size_t
buf_capacity_for(size_t capacity, size_t needed)
{
    if (capacity < CRDT_BUF_CAPACITY_MIN)
        capacity = CRDT_BUF_CAPACITY_MIN;
    while (capacity < needed) {
        if (capacity > SIZE_MAX / 2)
            return needed;
        capacity *= 2;
    }
    return capacity;
}

int
crdt_buf_reserve(crdt_buf_t *self, size_t len_max)
{
    assert(self != NULL);
    if (len_max <= self->cap)
        return 0;
    size_t capacity = buf_capacity_for(self->cap, len_max);
    uint8_t *grown = realloc(self->data, capacity);
    if (grown == NULL)
        return -SM_ENOMEM;
    self->data = grown;
    self->cap = capacity;
    return 0;
}

int
crdt_buf_append(crdt_buf_t *self, const void *data, size_t len)
{
    assert(self != NULL);
    assert(data != NULL || len == 0);
    if (len == 0)
        return 0;
    if (len > SIZE_MAX - self->len)
        return -SM_ENOMEM;
    int rc = crdt_buf_reserve(self, self->len + len);
    if (rc != 0)
        return rc;
    memcpy(self->data + self->len, data, len);
    self->len += len;
    return 0;
}

int
crdt_tag_set(crdt_tag_t *tag, const char *origin, uint64_t seq)
{
    assert(tag != NULL);
    assert(origin != NULL);
    size_t len = 0;
    while (len <= CRDT_NAME_MAX && origin[len] != '\0')
        len++;
    if (len == 0 || len > CRDT_NAME_MAX)
        return -SM_EINVAL;
    memset(tag->origin, 0, sizeof tag->origin);
    memcpy(tag->origin, origin, len);
    tag->seq = seq;
    return 0;
}

int
crdt_tag_compare(const crdt_tag_t *a, const crdt_tag_t *b)
{
    assert(a != NULL);
    assert(b != NULL);
    // strncmp compares as unsigned char, so the order is bytewise on every platform.
    int origin = strncmp(a->origin, b->origin, sizeof a->origin);
    if (origin != 0)
        return origin < 0 ? -1 : 1;
    if (a->seq != b->seq)
        return a->seq < b->seq ? -1 : 1;
    return 0;
}

bool
crdt_tag_equal(const crdt_tag_t *a, const crdt_tag_t *b)
{
    return crdt_tag_compare(a, b) == 0;
}

int
crdt_stamp_compare(const crdt_stamp_t *a, const crdt_stamp_t *b)
{
    assert(a != NULL);
    assert(b != NULL);
    if (a->hlc != b->hlc)
        return a->hlc < b->hlc ? -1 : 1;
    return crdt_tag_compare(&a->tag, &b->tag);
}

bool
crdt_tag_is_valid(const crdt_tag_t *tag)
{
    // Constant, so no state: what the padding of a tag must equal.
    static const char zeros[sizeof tag->origin];
    assert(tag != NULL);
    if (tag->origin[0] == '\0' || tag->seq == 0)
        return false;
    const char *end = memchr(tag->origin, '\0', sizeof tag->origin);
    if (end == NULL)
        return false;
    size_t padding = sizeof tag->origin - (size_t)(end - tag->origin);
    return memcmp(end, zeros, padding) == 0;
}
