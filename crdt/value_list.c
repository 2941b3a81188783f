#include "value_list.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

// Smallest encoded item: a stamp and an empty value's length.
#define VALUE_LIST_ITEM_BYTES_MIN (CODEC_STAMP_BYTES_MIN + 4)

void
value_list_init(value_list_t *self, value_list_order_t order)
{
    assert(self != NULL);
    self->items = NULL;
    self->count = 0;
    self->capacity = 0;
    self->order = order;
}

void
value_list_free(value_list_t *self)
{
    assert(self != NULL);
    free(self->items);
    value_list_init(self, self->order);
}

static int
bytes_compare(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    size_t common = a_len < b_len ? a_len : b_len;
    int order = common == 0 ? 0 : memcmp(a, b, common);
    if (order != 0)
        return order < 0 ? -1 : 1;
    if (a_len != b_len)
        return a_len < b_len ? -1 : 1;
    return 0;
}

int
value_list_compare(value_list_order_t order, const value_list_item_t *a, const value_list_item_t *b)
{
    assert(a != NULL);
    assert(b != NULL);
    int result = 0;
    if (order == VALUE_LIST_BY_STAMP) {
        result = crdt_stamp_compare(&a->stamp, &b->stamp);
        if (result == 0)
            result = bytes_compare(a->value, a->value_len, b->value, b->value_len);
        return result;
    }
    if (order == VALUE_LIST_BY_VALUE) {
        result = bytes_compare(a->value, a->value_len, b->value, b->value_len);
        if (result == 0)
            result = crdt_stamp_compare(&a->stamp, &b->stamp);
        return result;
    }
    assert(order == VALUE_LIST_BY_ORIGIN);
    result = strncmp(a->stamp.tag.origin, b->stamp.tag.origin, sizeof a->stamp.tag.origin);
    if (result != 0)
        return result < 0 ? -1 : 1;
    return 0;
}

bool
value_list_same_value(const value_list_item_t *a, const value_list_item_t *b)
{
    assert(a != NULL);
    assert(b != NULL);
    return bytes_compare(a->value, a->value_len, b->value, b->value_len) == 0;
}

size_t
value_list_search(const value_list_t *self, const value_list_item_t *item, bool *found)
{
    assert(self != NULL);
    assert(found != NULL);
    size_t low = 0;
    size_t high = self->count;
    *found = false;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        int order = value_list_compare(self->order, &self->items[middle], item);
        if (order == 0) {
            *found = true;
            return middle;
        }
        if (order < 0)
            low = middle + 1;
        else
            high = middle;
    }
    return low;
}

static int
value_list_reserve(value_list_t *self, size_t capacity)
{
    if (capacity <= self->capacity)
        return 0;
    if (capacity > SIZE_MAX / sizeof *self->items)
        return -SM_ENOMEM;
    value_list_item_t *grown = realloc(self->items, capacity * sizeof *grown);
    if (grown == NULL)
        return -SM_ENOMEM;
    self->items = grown;
    self->capacity = capacity;
    return 0;
}

int
value_list_insert_at(value_list_t *self, size_t index, const value_list_item_t *item)
{
    assert(self != NULL);
    assert(item != NULL);
    assert(index <= self->count);
    if (self->count == self->capacity) {
        int rc = value_list_reserve(self, self->capacity < 4 ? 4 : self->capacity * 2);
        if (rc != 0)
            return rc;
    }
    memmove(&self->items[index + 1], &self->items[index],
            (self->count - index) * sizeof *self->items);
    self->items[index] = *item;
    self->count++;
    return 0;
}

void
value_list_remove_at(value_list_t *self, size_t index)
{
    assert(self != NULL);
    assert(index < self->count);
    memmove(&self->items[index], &self->items[index + 1],
            (self->count - index - 1) * sizeof *self->items);
    self->count--;
}

int
value_list_decode(value_list_t *self, codec_reader_t *reader, size_t count_min, size_t count_max)
{
    assert(self != NULL);
    size_t count = 0;
    int rc = codec_get_count(reader, VALUE_LIST_ITEM_BYTES_MIN, &count);
    if (rc != 0)
        return rc;
    if (count < count_min || count > count_max)
        return -SM_ECORRUPT;
    self->count = 0;
    // One spare item: applying an op inserts at most one before encoding.
    rc = value_list_reserve(self, count + 1);
    if (rc != 0)
        return rc;
    for (size_t index = 0; index < count; index++) {
        value_list_item_t *item = &self->items[index];
        memset(item, 0, sizeof *item);
        rc = codec_get_stamp(reader, &item->stamp);
        if (rc == 0)
            rc = codec_get_value(reader, &item->value, &item->value_len);
        if (rc != 0)
            return rc;
        if (index > 0 && value_list_compare(self->order, item - 1, item) >= 0)
            return -SM_ECORRUPT;
        self->count = index + 1;
    }
    return 0;
}

void
value_list_encode(const value_list_t *self, codec_writer_t *writer)
{
    assert(self != NULL);
    codec_put_count(writer, self->count);
    for (size_t index = 0; index < self->count; index++) {
        const value_list_item_t *item = &self->items[index];
        codec_put_stamp(writer, &item->stamp);
        codec_put_bytes(writer, item->value, item->value_len);
    }
}
