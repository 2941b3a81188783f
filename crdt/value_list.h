// value_list: a sorted array of stamped values (a write's stamp and its bytes), the
// building block of the register and set states. Kept sorted under one total
// order so that its encoding is canonical. The bytes are borrowed: they point into
// the state being decoded or the op being applied, which must outlive the list.
// Not thread-safe.
#ifndef CRDT_VALUE_LIST_H
#define CRDT_VALUE_LIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "crdt.h"

typedef enum {
    VALUE_LIST_BY_STAMP = 1,  // stamp, then bytes (ties only for identical items)
    VALUE_LIST_BY_VALUE = 2,  // bytes (shorter prefix first), then stamp
    VALUE_LIST_BY_ORIGIN = 3, // the stamp's origin only: at most one item per origin
} value_list_order_t;

typedef struct {
    crdt_stamp_t stamp;
    const uint8_t *value; // borrowed; value_len bytes, no NUL
    size_t value_len;     // <= CRDT_VALUE_MAX
} value_list_item_t;

typedef struct {
    value_list_item_t *items; // strictly increasing under order
    size_t count;
    size_t capacity; // items allocated
    value_list_order_t order;
} value_list_t;

void value_list_init(value_list_t *self, value_list_order_t order);
void value_list_free(value_list_t *self);
// <0, 0, >0 comparing a and b under order.
int value_list_compare(value_list_order_t order, const value_list_item_t *a,
                       const value_list_item_t *b);
// True when a and b hold the same value bytes (stamps aside).
bool value_list_same_value(const value_list_item_t *a, const value_list_item_t *b);
// The index where item is, or where it would be inserted; *found says which.
size_t value_list_search(const value_list_t *self, const value_list_item_t *item, bool *found);
// Inserts item at index (which keeps the order: value_list_search gave it).
// 0 or -SM_ENOMEM.
int value_list_insert_at(value_list_t *self, size_t index, const value_list_item_t *item);
void value_list_remove_at(value_list_t *self, size_t index);
// Replaces self's items with a count (count_min..count_max) and that many items
// read from reader, strictly increasing. 0, -SM_ECORRUPT, -SM_ENOMEM.
int value_list_decode(value_list_t *self, codec_reader_t *reader, size_t count_min,
                      size_t count_max);
void value_list_encode(const value_list_t *self, codec_writer_t *writer);

#endif
