// awset: an add-wins (observed-remove) set of elements ("add-wins-set" in a rules
// file), for tags and memberships. Each add is identified by its op's tag. A
// remove carries, as op->observed, the add tags of the element its origin had
// seen (awset_observed) and tombstones exactly those, so an add the remover had
// not seen (a concurrent one) survives: adds win.
//
// An origin's latest add of an element stands for its earlier adds of it: one
// origin's ops are applied in its order everywhere (crdt/field.h), so a remover that
// saw the latest saw the earlier ones, and its remove observes the latest alone.
//
// State: header; the live adds (element, stamp) sorted by element bytes then
// stamp, at most one per element and origin (that origin's latest add of it); the
// tombstoned add tags, sorted; the dead adds: per element and origin, the latest
// add when its tag is tombstoned, so that an earlier add applied again cannot come
// back. (States written before 2026-12-06 have no dead list and may hold several
// adds per element and origin: reading one keeps each origin's latest add of each
// element alone, as an add would have.) An add that
// is not its origin's latest of the element is dropped; a tombstoned one is dead,
// whichever of add and remove arrived first; so the state is a function of the set
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
