#include "tag_set.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

void
tag_set_init(tag_set_t *self)
{
    assert(self != NULL);
    self->tags = NULL;
    self->count = 0;
    self->capacity = 0;
}

void
tag_set_free(tag_set_t *self)
{
    assert(self != NULL);
    free(self->tags);
    tag_set_init(self);
}

bool
tag_set_contains(const tag_set_t *self, const crdt_tag_t *tag)
{
    assert(self != NULL);
    assert(tag != NULL);
    size_t low = 0;
    size_t high = self->count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        int order = crdt_tag_compare(&self->tags[middle], tag);
        if (order == 0)
            return true;
        if (order < 0)
            low = middle + 1;
        else
            high = middle;
    }
    return false;
}

static int
tag_compare_for_qsort(const void *a, const void *b)
{
    return crdt_tag_compare(a, b);
}

// Merges the sorted runs self->tags and sorted[0..count) into merged, dropping
// repeats; returns how many tags merged holds.
static size_t
tag_set_merge(const tag_set_t *self, const crdt_tag_t *sorted, size_t count, crdt_tag_t *merged)
{
    size_t old_index = 0;
    size_t new_index = 0;
    size_t merged_count = 0;
    while (old_index < self->count || new_index < count) {
        const crdt_tag_t *next = NULL;
        if (new_index == count)
            next = &self->tags[old_index++];
        else if (old_index == self->count)
            next = &sorted[new_index++];
        else if (crdt_tag_compare(&self->tags[old_index], &sorted[new_index]) <= 0)
            next = &self->tags[old_index++];
        else
            next = &sorted[new_index++];
        if (merged_count > 0 && crdt_tag_equal(&merged[merged_count - 1], next))
            continue;
        merged[merged_count++] = *next;
    }
    return merged_count;
}

int
tag_set_add_all(tag_set_t *self, const crdt_tag_t *tags, size_t count)
{
    assert(self != NULL);
    assert(tags != NULL || count == 0);
    if (count == 0)
        return 0;
    if (count > SIZE_MAX / sizeof *tags - self->count)
        return -SM_ENOMEM;
    size_t capacity = self->count + count;
    crdt_tag_t *sorted = malloc(count * sizeof *sorted);
    crdt_tag_t *merged = malloc(capacity * sizeof *merged);
    if (sorted == NULL || merged == NULL) {
        free(sorted);
        free(merged);
        return -SM_ENOMEM;
    }
    memcpy(sorted, tags, count * sizeof *sorted);
    // Ties are equal tags, which merge into one, so qsort's unstable order is harmless.
    qsort(sorted, count, sizeof *sorted, tag_compare_for_qsort);
    size_t merged_count = tag_set_merge(self, sorted, count, merged);
    free(sorted);
    free(self->tags);
    self->tags = merged;
    self->count = merged_count;
    self->capacity = capacity;
    return 0;
}

int
tag_set_decode(tag_set_t *self, codec_reader_t *reader)
{
    assert(self != NULL);
    size_t count = 0;
    int rc = codec_get_count(reader, CODEC_TAG_BYTES_MIN, &count);
    if (rc != 0)
        return rc;
    tag_set_free(self);
    if (count == 0)
        return 0;
    self->tags = calloc(count, sizeof *self->tags);
    if (self->tags == NULL)
        return -SM_ENOMEM;
    self->capacity = count;
    for (size_t index = 0; index < count; index++) {
        rc = codec_get_tag(reader, &self->tags[index]);
        if (rc != 0)
            return rc;
        if (index > 0 && crdt_tag_compare(&self->tags[index - 1], &self->tags[index]) >= 0)
            return -SM_ECORRUPT;
        self->count = index + 1;
    }
    return 0;
}

void
tag_set_encode(const tag_set_t *self, codec_writer_t *writer)
{
    assert(self != NULL);
    codec_put_count(writer, self->count);
    for (size_t index = 0; index < self->count; index++)
        codec_put_tag(writer, &self->tags[index]);
}
