// counter: a number every node may raise or lower ("counter" in a rules file), for
// stock movements and the like: every add counts once, none is lost.
//
// State: one entry per origin that ever added, sorted by origin name: that
// origin's running sum and the highest seq folded in (its high-water mark). It
// relies on the per-origin delivery order of field.h: an op whose seq is at or
// below its origin's high-water mark is a repeat and changes nothing. Keeping the
// sums per origin also means an origin's sum overflows at the same op everywhere,
// so the origin itself refuses that op before anyone else sees it.
//
// Called by field.c with an op it has already checked; not for direct use.
#ifndef CRDT_COUNTER_H
#define CRDT_COUNTER_H

#include <stddef.h>
#include <stdint.h>

#include "field.h"

// Adds op->delta (op->value is ignored). 0; -SM_ERANGE when the origin's sum would
// leave int64; -SM_ECORRUPT, -SM_ENOMEM.
int counter_apply(const uint8_t *state_in, size_t state_in_len, const crdt_op_t *op,
                  crdt_buf_t *state_out);
// counter_apply for a state an apply wrote or counter_check passed: the same
// result, reading entries only as far as op's origin (counter.c, counter_find).
int counter_apply_known(const uint8_t *state_in, size_t state_in_len, const crdt_op_t *op,
                        crdt_buf_t *state_out);
// counter_apply_known, or CRDT_PATCHED and *patch (state_out untouched) when op's
// origin has an entry and the add is a repeat or raises it (crdt_field_apply_patch).
int counter_apply_patch(const uint8_t *state_in, size_t state_in_len, const crdt_op_t *op,
                        crdt_buf_t *state_out, crdt_patch_t *patch);
// 0 when state (len 0: none) is a counter's encoding as counter_apply checks it;
// -SM_ECORRUPT otherwise.
int counter_check(const uint8_t *state, size_t state_len);
// view->number is the sum over all origins. 0; -SM_ERANGE when that sum leaves
// int64; -SM_ECORRUPT, -SM_ENOMEM.
int counter_view(const uint8_t *state, size_t state_len, crdt_view_t *view);

#endif
