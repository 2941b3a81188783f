#include "field.h"

#include <assert.h>
#include <string.h>

#include "awset.h"
#include "counter.h"
#include "fww.h"
#include "keepboth.h"
#include "lww.h"
#include "owner_register.h"
#include "view.h"

// Room reserved beyond state and value for an op's stamp and framing.
#define FIELD_OP_BYTES_SLACK 256

static const char *const kind_names[] = {
    [CRDT_KIND_COUNTER] = "counter",       [CRDT_KIND_LWW] = "last-writer-wins",
    [CRDT_KIND_FWW] = "first-writer-wins", [CRDT_KIND_AWSET] = "add-wins-set",
    [CRDT_KIND_KEEPBOTH] = "keep-both",    [CRDT_KIND_OWNER] = "owner",
};
#define KIND_FIRST CRDT_KIND_COUNTER
#define KIND_LAST CRDT_KIND_OWNER
_Static_assert(sizeof kind_names / sizeof kind_names[0] == KIND_LAST + 1, "a name per kind");

const char *
crdt_kind_name(crdt_kind_t kind)
{
    if (kind < KIND_FIRST || kind > KIND_LAST)
        return NULL;
    return kind_names[kind];
}

int
crdt_kind_parse(const char *name, crdt_kind_t *kind)
{
    assert(name != NULL);
    assert(kind != NULL);
    for (int candidate = KIND_FIRST; candidate <= KIND_LAST; candidate++) {
        if (strcmp(name, kind_names[candidate]) == 0) {
            *kind = (crdt_kind_t)candidate;
            return 0;
        }
    }
    return -SM_EINVAL;
}

bool
crdt_kind_accepts(crdt_kind_t kind, crdt_op_kind_t op)
{
    switch (kind) {
    case CRDT_KIND_COUNTER:
        return op == CRDT_OP_ADD;
    case CRDT_KIND_AWSET:
        return op == CRDT_OP_ADD || op == CRDT_OP_REMOVE;
    case CRDT_KIND_LWW:
    case CRDT_KIND_FWW:
    case CRDT_KIND_KEEPBOTH:
    case CRDT_KIND_OWNER:
        return op == CRDT_OP_SET;
    }
    return false;
}

// The value bounds of crdt.h; a NUL byte is refused too, as views hand values out
// as C strings and one would cut the value short there.
static bool
op_value_is_valid(const crdt_op_t *op)
{
    if (op->value_len > CRDT_VALUE_MAX)
        return false;
    if (op->value_len == 0)
        return true;
    return op->value != NULL && memchr(op->value, '\0', op->value_len) == NULL;
}

static bool
op_observed_is_valid(const crdt_op_t *op)
{
    if (op->observed_count > CRDT_OBSERVED_MAX)
        return false;
    if (op->observed_count > 0 && op->observed == NULL)
        return false;
    for (size_t index = 0; index < op->observed_count; index++) {
        if (!crdt_tag_is_valid(&op->observed[index]))
            return false;
    }
    return true;
}

// Input checks shared by every kind: an op comes from a peer, so nothing here is
// asserted. A counter ignores value, the other kinds ignore delta.
static int
op_check(crdt_kind_t kind, const crdt_op_t *op)
{
    if (!crdt_kind_accepts(kind, op->kind))
        return -SM_EINVAL;
    if (!crdt_tag_is_valid(&op->stamp.tag))
        return -SM_EINVAL;
    if (kind != CRDT_KIND_COUNTER && !op_value_is_valid(op))
        return -SM_EINVAL;
    if (!op_observed_is_valid(op))
        return -SM_EINVAL;
    return 0;
}

// patch: NULL, or where a counter's apply on a known state may give its patch.
static int
field_apply_kind(crdt_kind_t kind, const uint8_t *state_in, size_t state_in_len,
                 const crdt_op_t *op, crdt_buf_t *state_out, bool known, crdt_patch_t *patch)
{
    switch (kind) {
    case CRDT_KIND_COUNTER:
        if (patch)
            return counter_apply_patch(state_in, state_in_len, op, state_out, patch);
        return known ? counter_apply_known(state_in, state_in_len, op, state_out)
                     : counter_apply(state_in, state_in_len, op, state_out);
    case CRDT_KIND_LWW:
        return lww_apply(state_in, state_in_len, op, state_out);
    case CRDT_KIND_FWW:
        return fww_apply(state_in, state_in_len, op, state_out);
    case CRDT_KIND_AWSET:
        return awset_apply(state_in, state_in_len, op, state_out);
    case CRDT_KIND_KEEPBOTH:
        return keepboth_apply(state_in, state_in_len, op, state_out);
    case CRDT_KIND_OWNER:
        return owner_register_apply(state_in, state_in_len, op, state_out);
    }
    // op_check refused every other kind.
    assert(kind >= KIND_FIRST);
    assert(kind <= KIND_LAST);
    return -SM_EINVAL;
}

static int
field_apply(crdt_kind_t kind, const uint8_t *state_in, size_t state_in_len, const crdt_op_t *op,
            crdt_buf_t *state_out, bool known, crdt_patch_t *patch)
{
    assert(patch == NULL || known);
    assert(state_in != NULL || state_in_len == 0);
    assert(op != NULL);
    assert(state_out != NULL);
    assert(state_in == NULL || state_in != state_out->data);
    crdt_buf_reset(state_out);
    int rc = op_check(kind, op);
    if (rc != 0)
        return rc;
    if (state_in_len > CRDT_STATE_SIZE_BYTES_MAX)
        return -SM_ECORRUPT; // apply never stores one
    // One allocation for the common case: the state grows by about the op's value.
    rc = crdt_buf_reserve(state_out, state_in_len + op->value_len + FIELD_OP_BYTES_SLACK);
    if (rc == 0)
        rc = field_apply_kind(kind, state_in, state_in_len, op, state_out, known, patch);
    if (rc == 0 && state_out->len > CRDT_STATE_SIZE_BYTES_MAX)
        rc = -SM_EFULL;
    if (rc != 0)
        crdt_buf_reset(state_out); // a patch keeps state_in's length: within the bound
    return rc;
}

int
crdt_field_apply(crdt_kind_t kind, const uint8_t *state_in, size_t state_in_len,
                 const crdt_op_t *op, crdt_buf_t *state_out)
{
    return field_apply(kind, state_in, state_in_len, op, state_out, false, NULL);
}

int
crdt_field_apply_known(crdt_kind_t kind, const uint8_t *state_in, size_t state_in_len,
                       const crdt_op_t *op, crdt_buf_t *state_out)
{
    return field_apply(kind, state_in, state_in_len, op, state_out, true, NULL);
}

int
crdt_field_apply_patch(crdt_kind_t kind, const uint8_t *state_in, size_t state_in_len,
                       const crdt_op_t *op, crdt_buf_t *state_out, crdt_patch_t *patch)
{
    assert(patch != NULL);
    return field_apply(kind, state_in, state_in_len, op, state_out, true, patch);
}

int
crdt_field_check(crdt_kind_t kind, const uint8_t *state, size_t state_len)
{
    assert(state != NULL || state_len == 0);
    if (state_len > CRDT_STATE_SIZE_BYTES_MAX)
        return -SM_ECORRUPT;
    // Only a counter's apply takes a shortcut on a known state; every other kind's
    // apply reads and checks its whole state anyway.
    return kind == CRDT_KIND_COUNTER ? counter_check(state, state_len) : 0;
}

static int
field_view_kind(crdt_kind_t kind, const uint8_t *state, size_t state_len, const char *owner,
                crdt_view_t *view)
{
    switch (kind) {
    case CRDT_KIND_COUNTER:
        return counter_view(state, state_len, view);
    case CRDT_KIND_LWW:
        return lww_view(state, state_len, view);
    case CRDT_KIND_FWW:
        return fww_view(state, state_len, view);
    case CRDT_KIND_AWSET:
        return awset_view(state, state_len, view);
    case CRDT_KIND_KEEPBOTH:
        return keepboth_view(state, state_len, view);
    case CRDT_KIND_OWNER:
        if (owner == NULL)
            return -SM_EINVAL;
        return owner_register_view(state, state_len, owner, view);
    }
    return -SM_EINVAL;
}

int
crdt_field_view(crdt_kind_t kind, const uint8_t *state, size_t state_len, const char *owner,
                crdt_view_t *view)
{
    assert(state != NULL || state_len == 0);
    assert(view != NULL);
    view_init(view);
    if (state_len > CRDT_STATE_SIZE_BYTES_MAX)
        return -SM_ECORRUPT;
    int rc = field_view_kind(kind, state, state_len, owner, view);
    if (rc != 0)
        crdt_view_free(view);
    return rc;
}

int
crdt_field_observed(crdt_kind_t kind, const uint8_t *state, size_t state_len, crdt_op_kind_t op,
                    const char *value, size_t value_len, crdt_tag_t **tags, size_t *count)
{
    assert(state != NULL || state_len == 0);
    assert(tags != NULL);
    assert(count != NULL);
    *tags = NULL;
    *count = 0;
    if (value == NULL && value_len > 0)
        return -SM_EINVAL;
    if (state_len > CRDT_STATE_SIZE_BYTES_MAX)
        return -SM_ECORRUPT;
    if (kind == CRDT_KIND_AWSET && op == CRDT_OP_REMOVE)
        return awset_observed(state, state_len, value, value_len, tags, count);
    if (kind == CRDT_KIND_KEEPBOTH && op == CRDT_OP_SET)
        return keepboth_observed(state, state_len, tags, count);
    return 0;
}
