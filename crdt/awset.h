// awset: an add-wins (observed-remove) set of elements ("add-wins-set" in a rules
// file), for tags and memberships. Each add is identified by its op's tag. A
// remove carries, as op->observed, the add tags of the element its origin had
// seen (awset_observed) and tombstones exactly those, so an add the remover had
// not seen (a concurrent one) survives: adds win.
//
// State: header; the live adds (element, stamp) sorted by element bytes then
// stamp; the tombstoned add tags, sorted. An add whose tag is tombstoned is not
// kept, whichever of the two arrived first, so the state is a function of the set
// of ops applied. Tombstones are never collected (that would need to know that
// every replica has seen the add): each remove's tags stay, and the field's state
// bound (CRDT_STATE_SIZE_BYTES_MAX) eventually refuses more work.
// Idempotent and commutative for any delivery order.
//
// Called by field.c with an op it has already checked; not for direct use.
#ifndef CRDT_AWSET_H
#define CRDT_AWSET_H

#include <stddef.h>
#include <stdint.h>

#include "field.h"

// An add puts (op->value, op->stamp) in; a remove tombstones op->observed.
// 0, -SM_ECORRUPT, -SM_ENOMEM.
int awset_apply(const uint8_t *state_in, size_t state_in_len, const crdt_op_t *op,
                crdt_buf_t *state_out);
// view->values: the present elements, sorted bytewise, distinct.
// 0, -SM_ECORRUPT, -SM_ENOMEM.
int awset_view(const uint8_t *state, size_t state_len, crdt_view_t *view);
// The live add tags of element value (the causal context of a remove), by stamp;
// *tags malloc'd, NULL when *count is 0. 0, -SM_ECORRUPT, -SM_ENOMEM, -SM_EFULL
// when more than CRDT_OBSERVED_MAX adds of the element are live.
int awset_observed(const uint8_t *state, size_t state_len, const char *value, size_t value_len,
                   crdt_tag_t **tags, size_t *count);

#endif
