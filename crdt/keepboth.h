// keepboth: a multi-value register ("keep-both" in a rules file), for values where
// a person should choose between concurrent changes (two branches change a phone
// number at once: both are kept and shown). A set carries, as op->observed, the
// tags of every value current at its origin (keepboth_observed) and supersedes
// exactly those; values it had not seen (concurrent ones) stay current beside it.
//
// State: header; the current values (stamp, value) sorted by value bytes then
// stamp; the superseded tags, sorted. A value whose tag is superseded is not kept,
// whichever arrived first, so the state is a function of the set of ops applied.
// Superseded tags are never collected (see awset.h); the field's state bound
// eventually refuses more work.
// Idempotent and commutative for any delivery order.
//
// Called by field.c with an op it has already checked; not for direct use.
#ifndef CRDT_KEEPBOTH_H
#define CRDT_KEEPBOTH_H

#include <stddef.h>
#include <stdint.h>

#include "field.h"

// 0, -SM_ECORRUPT, -SM_ENOMEM.
int keepboth_apply(const uint8_t *state_in, size_t state_in_len, const crdt_op_t *op,
                   crdt_buf_t *state_out);
// view->values: the current values, sorted bytewise, distinct. view->conflict_count:
// how many distinct values are current when more than one is (two concurrent sets
// of the same value are no conflict), else 0. view->conflicts stays NULL: the
// values are the conflict. 0, -SM_ECORRUPT, -SM_ENOMEM.
int keepboth_view(const uint8_t *state, size_t state_len, crdt_view_t *view);
// The tags of all current values (the causal context of a set), by value; *tags
// malloc'd, NULL when *count is 0. 0, -SM_ECORRUPT, -SM_ENOMEM, -SM_EFULL when
// more than CRDT_OBSERVED_MAX values are current.
int keepboth_observed(const uint8_t *state, size_t state_len, crdt_tag_t **tags, size_t *count);

#endif
