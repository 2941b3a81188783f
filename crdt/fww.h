// fww: a first-writer-wins register ("first-writer-wins" in a rules file), for
// things that may happen once (a voucher redemption). The write with the smallest
// stamp (crdt_stamp_compare) stands; every other distinct write is kept as a
// conflict, so the business can act on it (refund the second redemption).
//
// State: header, then the FWW_WRITES_MAX smallest-stamp distinct writes (stamp,
// value), sorted by stamp; the first is the winner. Keeping the smallest ones, not
// the first ones to arrive, is what makes the cap order-independent: conflicts
// beyond it are dropped from the state (the op log still holds them).
// Idempotent and commutative for any delivery order.
//
// Called by field.c with an op it has already checked; not for direct use.
#ifndef CRDT_FWW_H
#define CRDT_FWW_H

#include <stddef.h>
#include <stdint.h>

#include "field.h"

// Conflicts a state keeps: a redemption contested 64 times is already a case for
// a person; beyond it the state would only grow.
#define FWW_CONFLICTS_MAX 64
#define FWW_WRITES_MAX (FWW_CONFLICTS_MAX + 1)

// 0, -SM_ECORRUPT, -SM_ENOMEM.
int fww_apply(const uint8_t *state_in, size_t state_in_len, const crdt_op_t *op,
              crdt_buf_t *state_out);
// view->values: the winner's value (none for an empty state); view->conflicts:
// "origin:seq=value" of every other kept write, by stamp. 0, -SM_ECORRUPT, -SM_ENOMEM.
int fww_view(const uint8_t *state, size_t state_len, crdt_view_t *view);

#endif
