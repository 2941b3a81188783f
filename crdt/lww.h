// lww: a last-writer-wins register ("last-writer-wins" in a rules file), for values
// where the latest change is the truth (a customer's e-mail). The write with the
// greatest stamp (crdt_stamp_compare) wins; two writes with one stamp cannot come
// from honest origins, and the greater value bytes win then, so every replica
// still agrees.
//
// State: header, the winning stamp, the winning value. Idempotent and commutative
// for any delivery order.
//
// Called by field.c with an op it has already checked; not for direct use.
#ifndef CRDT_LWW_H
#define CRDT_LWW_H

#include <stddef.h>
#include <stdint.h>

#include "field.h"

// 0, -SM_ECORRUPT, -SM_ENOMEM.
int lww_apply(const uint8_t *state_in, size_t state_in_len, const crdt_op_t *op,
              crdt_buf_t *state_out);
// view->values: the winning value, none for an empty state. 0, -SM_ECORRUPT, -SM_ENOMEM.
int lww_view(const uint8_t *state, size_t state_len, crdt_view_t *view);

#endif
