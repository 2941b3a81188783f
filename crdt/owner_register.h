// owner_register: a register only its owner writes ("owner" in a rules file), for
// values one node decides (head office sets prices; a branch sets its own orders'
// status). The node refuses a non-owner's write when it is submitted; this state
// still keeps, per origin, that origin's greatest-stamp write, so when the owner
// is ambiguous (two nodes each created the entity while apart) every replica holds
// the same writes and the view resolves by the owner's name, deterministically.
//
// State: header, then one write (stamp, value) per origin, sorted by origin name.
// Idempotent and commutative for any delivery order.
//
// Called by field.c with an op it has already checked; not for direct use.
#ifndef CRDT_OWNER_REGISTER_H
#define CRDT_OWNER_REGISTER_H

#include <stddef.h>
#include <stdint.h>

#include "field.h"

// Keeps op if it is its origin's greatest write. 0, -SM_ECORRUPT, -SM_ENOMEM.
int owner_register_apply(const uint8_t *state_in, size_t state_in_len, const crdt_op_t *op,
                         crdt_buf_t *state_out);
// view->values: owner's latest value, none if owner never wrote. 0; -SM_EINVAL
// when owner is not a node name (empty, longer than CRDT_NAME_MAX); -SM_ECORRUPT,
// -SM_ENOMEM.
int owner_register_view(const uint8_t *state, size_t state_len, const char *owner,
                        crdt_view_t *view);

#endif
