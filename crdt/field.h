// field: one entry point over the six merge kinds, so the node applies an op to a
// field's stored state without knowing the kind's internals.
//
// A field's state is an opaque, canonical byte string: two replicas that applied
// the same set of ops (in any order, any op any number of times, subject to the
// per-origin order below) hold byte-identical state. An empty state (len 0) is a
// field nobody has written.
//
// Delivery contract: ops of one origin are applied in increasing seq order (the
// operation log guarantees it: a gap waits). Ops of different origins interleave
// freely, and any op may be applied again. Only the counter relies on the
// per-origin order (it keeps a per-origin high-water mark); the other kinds are
// idempotent and commutative for any order.
#ifndef CRDT_FIELD_H
#define CRDT_FIELD_H

#include "crdt.h"

// Largest encoded state of one field. A field is read and rewritten whole on every
// op, so the bound keeps an apply cheap; sets and keep-both registers, whose
// tombstones are never collected, reach it first (-SM_EFULL).
#define CRDT_STATE_SIZE_BYTES_MAX (1024 * 1024)

typedef enum {
    CRDT_KIND_COUNTER = 1,  // add N (N may be negative)
    CRDT_KIND_LWW = 2,      // last-writer-wins register: set
    CRDT_KIND_FWW = 3,      // first-writer-wins register: set; later sets are conflicts
    CRDT_KIND_AWSET = 4,    // add-wins set: add / remove an element
    CRDT_KIND_KEEPBOTH = 5, // multi-value register: set; concurrent values all kept
    CRDT_KIND_OWNER = 6,    // owner register: set; only the owner's writes are visible
} crdt_kind_t;

// Name as written in a rules file ("counter", "last-writer-wins", ...), or NULL.
const char *crdt_kind_name(crdt_kind_t kind);
// 0 and *kind set, or -SM_EINVAL for a name that is not a merge kind.
int crdt_kind_parse(const char *name, crdt_kind_t *kind);
// True when op is valid for kind (add for counter and sets, remove for sets, set
// for registers).
bool crdt_kind_accepts(crdt_kind_t kind, crdt_op_kind_t op);

// Applies op to state_in (len 0 for a new field) and writes the new canonical
// state to state_out (reset first; state_in and state_out must differ).
// 0; -SM_EINVAL when the op kind does not fit the merge kind, a bound in crdt.h
// is exceeded, a tag is not valid (crdt_tag_is_valid) or the value holds a NUL
// byte (views hand values out as C strings); -SM_ECORRUPT when state_in does not
// decode (also a state of another kind or format version); -SM_ERANGE when a
// counter origin's sum would leave int64; -SM_EFULL when the state would exceed
// CRDT_STATE_SIZE_BYTES_MAX; -SM_ENOMEM. On failure state_out is empty.
// Applying an op that is already reflected leaves the state byte-identical. Every
// successful apply writes a non-empty state.
int crdt_field_apply(crdt_kind_t kind, const uint8_t *state_in, size_t state_in_len,
                     const crdt_op_t *op, crdt_buf_t *state_out);
// crdt_field_apply for a known state_in: one that an apply of this kind wrote, or
// that crdt_field_check passed. The same result for such a state, at less cost: a
// counter reads its entries only as far as op's origin instead of checking them
// all (a stock counter holds one per branch that moved it). Bytes that are not a
// known state may give -SM_ECORRUPT or a wrong state, but are never read outside
// state_in_len.
int crdt_field_apply_known(crdt_kind_t kind, const uint8_t *state_in, size_t state_in_len,
                           const crdt_op_t *op, crdt_buf_t *state_out);
// A change to a state's bytes that keeps its length: len bytes at offset (len 0:
// no change at all).
#define CRDT_PATCH_BYTES_MAX 16
typedef struct {
    size_t offset;
    size_t len;
    uint8_t bytes[CRDT_PATCH_BYTES_MAX];
} crdt_patch_t;
#define CRDT_PATCHED 1
// crdt_field_apply_known, except that a result that is state_in with a few bytes
// changed in place (a patch of len 0: a repeat) may come back as CRDT_PATCHED,
// with *patch set and state_out empty, instead of 0 and the whole new state. The
// caller then patches its own copy: a counter add that raises an origin already
// there, which is most adds on a stock counter (its state holds an entry per
// branch, and was copied twice on each). Other kinds and other results as
// crdt_field_apply_known.
int crdt_field_apply_patch(crdt_kind_t kind, const uint8_t *state_in, size_t state_in_len,
                           const crdt_op_t *op, crdt_buf_t *state_out, crdt_patch_t *patch);
// 0 when state (len 0: none) may be handed to crdt_field_apply_known as kind's
// state: what a state read from storage passes first. -SM_ECORRUPT otherwise.
int crdt_field_check(crdt_kind_t kind, const uint8_t *state, size_t state_len);

// The visible value of a field, for `get` and for the digest-free read paths.
typedef struct {
    bool is_number; // counter: number is the value
    int64_t number;
    size_t value_count;    // registers: 0 or 1; sets and keep-both: sorted, distinct
    char **values;         // each NUL-terminated, malloc'd; freed by crdt_view_free
    size_t conflict_count; // fww: losing writes kept as conflicts; keep-both: >1 values
    char **conflicts;      // fww: "origin:seq=value" of each losing write, by stamp order;
                           // NULL for keep-both (its values are the conflict)
} crdt_view_t;

// Fills view from state. owner is the node whose writes an owner register shows
// (ignored by other kinds; may be NULL then). 0; -SM_EINVAL for an unknown kind or
// an owner register without a valid owner name; -SM_ERANGE when a counter's sum over origins leaves
// int64; -SM_ECORRUPT, -SM_ENOMEM. On failure view holds nothing.
int crdt_field_view(crdt_kind_t kind, const uint8_t *state, size_t state_len, const char *owner,
                    crdt_view_t *view);
void crdt_view_free(crdt_view_t *view);

// The causal context a new op on this field must carry, computed at its origin
// from the current state: for an add-wins-set remove, the tags of the live adds of
// `value`; for a keep-both set, the tags of all current values. Other kinds and
// ops have none (*count = 0). *tags is malloc'd (free it), NULL when *count is 0.
// 0, -SM_ECORRUPT, -SM_ENOMEM, -SM_EFULL (more than CRDT_OBSERVED_MAX live tags),
// -SM_EINVAL (value NULL with value_len > 0).
int crdt_field_observed(crdt_kind_t kind, const uint8_t *state, size_t state_len, crdt_op_kind_t op,
                        const char *value, size_t value_len, crdt_tag_t **tags, size_t *count);

#endif
