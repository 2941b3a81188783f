// view: building a crdt_view_t (field.h) from a decoded state. Each merge kind
// fills one with these helpers; crdt_view_free releases it.
#ifndef CRDT_VIEW_H
#define CRDT_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "field.h"

// Empties view without freeing anything (for a view that holds nothing yet).
void view_init(crdt_view_t *view);
// Appends a NUL-terminated copy of value to view->values. 0 or -SM_ENOMEM.
int view_add_value(crdt_view_t *view, const uint8_t *value, size_t value_len);
// Appends "origin:seq=value" for a losing write to view->conflicts. 0 or -SM_ENOMEM.
int view_add_conflict(crdt_view_t *view, const crdt_tag_t *tag, const uint8_t *value,
                      size_t value_len);

#endif
