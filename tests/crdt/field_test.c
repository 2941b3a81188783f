#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "field.h"
#include "prop.h"

static const crdt_kind_t all_kinds[] = {CRDT_KIND_COUNTER, CRDT_KIND_LWW,      CRDT_KIND_FWW,
                                        CRDT_KIND_AWSET,   CRDT_KIND_KEEPBOTH, CRDT_KIND_OWNER};
#define KIND_COUNT (sizeof all_kinds / sizeof all_kinds[0])

// An op each kind accepts.
static crdt_op_t
valid_op(crdt_kind_t kind)
{
    crdt_op_kind_t op_kind =
        kind == CRDT_KIND_COUNTER || kind == CRDT_KIND_AWSET ? CRDT_OP_ADD : CRDT_OP_SET;
    crdt_op_t op = prop_make_op(op_kind, "a", 1, 10, "v");
    op.delta = 1;
    return op;
}

Test(field, kind_names_round_trip)
{
    const char *names[] = {"counter",      "last-writer-wins", "first-writer-wins",
                           "add-wins-set", "keep-both",        "owner"};
    for (size_t index = 0; index < KIND_COUNT; index++) {
        cr_assert_str_eq(crdt_kind_name(all_kinds[index]), names[index]);
        crdt_kind_t parsed = 0;
        cr_assert(crdt_kind_parse(names[index], &parsed) == 0);
        cr_assert(parsed == all_kinds[index]);
    }
}

Test(field, unknown_kinds_have_no_name)
{
    crdt_kind_t parsed = CRDT_KIND_LWW;
    cr_assert(crdt_kind_name((crdt_kind_t)0) == NULL);
    cr_assert(crdt_kind_name((crdt_kind_t)7) == NULL);
    cr_assert(crdt_kind_parse("lww", &parsed) == -SM_EINVAL);
    cr_assert(crdt_kind_parse("Counter", &parsed) == -SM_EINVAL);
    cr_assert(crdt_kind_parse("", &parsed) == -SM_EINVAL);
    cr_assert(parsed == CRDT_KIND_LWW);
}

Test(field, kind_accepts_its_op_kinds_only)
{
    cr_assert(crdt_kind_accepts(CRDT_KIND_COUNTER, CRDT_OP_ADD));
    cr_assert(!crdt_kind_accepts(CRDT_KIND_COUNTER, CRDT_OP_REMOVE));
    cr_assert(!crdt_kind_accepts(CRDT_KIND_COUNTER, CRDT_OP_SET));
    cr_assert(crdt_kind_accepts(CRDT_KIND_AWSET, CRDT_OP_ADD));
    cr_assert(crdt_kind_accepts(CRDT_KIND_AWSET, CRDT_OP_REMOVE));
    cr_assert(!crdt_kind_accepts(CRDT_KIND_AWSET, CRDT_OP_SET));
    const crdt_kind_t registers[] = {CRDT_KIND_LWW, CRDT_KIND_FWW, CRDT_KIND_KEEPBOTH,
                                     CRDT_KIND_OWNER};
    for (size_t index = 0; index < 4; index++) {
        cr_assert(crdt_kind_accepts(registers[index], CRDT_OP_SET));
        cr_assert(!crdt_kind_accepts(registers[index], CRDT_OP_ADD));
        cr_assert(!crdt_kind_accepts(registers[index], CRDT_OP_REMOVE));
    }
    cr_assert(!crdt_kind_accepts((crdt_kind_t)0, CRDT_OP_SET));
    cr_assert(!crdt_kind_accepts(CRDT_KIND_LWW, (crdt_op_kind_t)9));
}

Test(field, apply_rejects_unknown_kind_and_op_kind)
{
    crdt_buf_t out;
    crdt_buf_init(&out);
    crdt_op_t op = valid_op(CRDT_KIND_LWW);
    cr_assert(crdt_field_apply((crdt_kind_t)42, NULL, 0, &op, &out) == -SM_EINVAL);
    op.kind = (crdt_op_kind_t)0;
    cr_assert(crdt_field_apply(CRDT_KIND_LWW, NULL, 0, &op, &out) == -SM_EINVAL);
    cr_assert(out.len == 0);
}

Test(field, apply_rejects_invalid_origin_for_every_kind)
{
    crdt_buf_t out;
    crdt_buf_init(&out);
    for (size_t index = 0; index < KIND_COUNT; index++) {
        crdt_op_t op = valid_op(all_kinds[index]);
        memset(op.stamp.tag.origin, 0, sizeof op.stamp.tag.origin);
        cr_assert(crdt_field_apply(all_kinds[index], NULL, 0, &op, &out) == -SM_EINVAL);
        memset(op.stamp.tag.origin, 'x', sizeof op.stamp.tag.origin); // unterminated
        cr_assert(crdt_field_apply(all_kinds[index], NULL, 0, &op, &out) == -SM_EINVAL);
        op = valid_op(all_kinds[index]);
        op.stamp.tag.seq = 0;
        cr_assert(crdt_field_apply(all_kinds[index], NULL, 0, &op, &out) == -SM_EINVAL);
        op = valid_op(all_kinds[index]);
        cr_assert(crdt_field_apply(all_kinds[index], NULL, 0, &op, &out) == 0);
    }
    crdt_buf_free(&out);
}

Test(field, apply_rejects_bad_values_for_every_kind_but_counter)
{
    static char huge[CRDT_VALUE_MAX + 1];
    memset(huge, 'x', sizeof huge);
    crdt_buf_t out;
    crdt_buf_init(&out);
    for (size_t index = 1; index < KIND_COUNT; index++) {
        crdt_op_t op = valid_op(all_kinds[index]);
        op.value = huge;
        op.value_len = sizeof huge;
        cr_assert(crdt_field_apply(all_kinds[index], NULL, 0, &op, &out) == -SM_EINVAL);
        op.value = NULL;
        op.value_len = 3;
        cr_assert(crdt_field_apply(all_kinds[index], NULL, 0, &op, &out) == -SM_EINVAL);
        op.value_len = 0; // an empty value is a value
        cr_assert(crdt_field_apply(all_kinds[index], NULL, 0, &op, &out) == 0);
    }
    crdt_buf_free(&out);
}

Test(field, apply_ignores_delta_outside_counters)
{
    for (size_t index = 1; index < KIND_COUNT; index++) {
        crdt_buf_t plain, with_delta;
        crdt_buf_init(&plain);
        crdt_buf_init(&with_delta);
        crdt_op_t op = valid_op(all_kinds[index]);
        op.delta = 0;
        cr_assert(prop_apply_to(all_kinds[index], &plain, &op) == 0);
        op.delta = INT64_MIN;
        cr_assert(prop_apply_to(all_kinds[index], &with_delta, &op) == 0);
        cr_assert(prop_buf_equal(&plain, &with_delta));
        crdt_buf_free(&plain);
        crdt_buf_free(&with_delta);
    }
}

Test(field, state_of_another_kind_is_ecorrupt)
{
    for (size_t written = 0; written < KIND_COUNT; written++) {
        crdt_buf_t state, out;
        crdt_buf_init(&state);
        crdt_buf_init(&out);
        crdt_op_t op = valid_op(all_kinds[written]);
        cr_assert(prop_apply_to(all_kinds[written], &state, &op) == 0);
        cr_assert(state.len > 0);
        for (size_t read = 0; read < KIND_COUNT; read++) {
            if (read == written)
                continue;
            crdt_op_t other = valid_op(all_kinds[read]);
            cr_assert(crdt_field_apply(all_kinds[read], state.data, state.len, &other, &out) ==
                      -SM_ECORRUPT);
            crdt_view_t view;
            cr_assert(crdt_field_view(all_kinds[read], state.data, state.len, "a", &view) ==
                      -SM_ECORRUPT);
            cr_assert(view.value_count == 0);
            cr_assert(view.values == NULL);
        }
        crdt_buf_free(&state);
        crdt_buf_free(&out);
    }
}

Test(field, state_beyond_the_bound_is_ecorrupt)
{
    size_t len = CRDT_STATE_SIZE_BYTES_MAX + 1;
    uint8_t *big = calloc(len, 1);
    cr_assert(big != NULL);
    crdt_buf_t out;
    crdt_buf_init(&out);
    crdt_op_t op = valid_op(CRDT_KIND_LWW);
    cr_assert(crdt_field_apply(CRDT_KIND_LWW, big, len, &op, &out) == -SM_ECORRUPT);
    crdt_view_t view;
    cr_assert(crdt_field_view(CRDT_KIND_LWW, big, len, NULL, &view) == -SM_ECORRUPT);
    free(big);
}

Test(field, random_bytes_never_crash_and_are_ecorrupt_or_decode)
{
    prop_rng_t rng = {7};
    uint8_t bytes[96];
    crdt_buf_t out;
    crdt_buf_init(&out);
    for (int round = 0; round < 20000; round++) {
        size_t len = 2 + prop_rng_below(&rng, sizeof bytes - 2);
        for (size_t index = 0; index < len; index++)
            bytes[index] = (uint8_t)prop_rng_below(&rng, 4) == 0 ? (uint8_t)prop_rng_next(&rng)
                                                                 : (uint8_t)prop_rng_below(&rng, 3);
        crdt_kind_t kind = all_kinds[prop_rng_below(&rng, KIND_COUNT)];
        bytes[0] = 1; // the format version, so decoding gets past the header
        bytes[1] = (uint8_t)kind;
        crdt_op_t op = valid_op(kind);
        int rc = crdt_field_apply(kind, bytes, len, &op, &out);
        cr_assert(rc == 0 || rc == -SM_ECORRUPT, "round %d: %d", round, rc);
        crdt_view_t view;
        rc = crdt_field_view(kind, bytes, len, "a", &view);
        cr_assert(rc == 0 || rc == -SM_ECORRUPT || rc == -SM_ERANGE, "round %d: %d", round, rc);
        if (rc == 0)
            crdt_view_free(&view);
    }
    crdt_buf_free(&out);
}

// A state of kind with a few ops from two origins, to mutate.
static void
build_state(crdt_kind_t kind, crdt_buf_t *state)
{
    const char *values[] = {"red", "green", "blue"};
    for (uint64_t seq = 1; seq <= 6; seq++) {
        crdt_op_t op = valid_op(kind);
        cr_assert(crdt_tag_set(&op.stamp.tag, seq % 2 ? "a" : "b", seq) == 0);
        op.stamp.hlc = 100 - seq;
        op.value = values[seq % 3];
        op.value_len = strlen(op.value);
        cr_assert(prop_apply_to(kind, state, &op) == 0);
    }
}

// Whatever a flipped byte does, apply answers with a code, and a state it accepts
// re-encodes canonically: applying the same op again changes nothing.
static void
check_mutated_state(crdt_kind_t kind, const uint8_t *bytes, size_t len, int round)
{
    crdt_buf_t out, again;
    crdt_buf_init(&out);
    crdt_buf_init(&again);
    crdt_op_t op = valid_op(kind);
    cr_assert(crdt_tag_set(&op.stamp.tag, "c", 1) == 0);
    int rc = crdt_field_apply(kind, bytes, len, &op, &out);
    cr_assert(rc == 0 || rc == -SM_ECORRUPT || rc == -SM_ERANGE, "round %d: %d", round, rc);
    if (rc == 0) {
        cr_assert(crdt_field_apply(kind, out.data, out.len, &op, &again) == 0, "round %d", round);
        cr_assert(prop_buf_equal(&out, &again), "round %d", round);
    }
    crdt_view_t view;
    rc = crdt_field_view(kind, bytes, len, "a", &view);
    cr_assert(rc == 0 || rc == -SM_ECORRUPT || rc == -SM_ERANGE, "round %d: %d", round, rc);
    if (rc == 0)
        crdt_view_free(&view);
    crdt_tag_t *tags = NULL;
    size_t count = 0;
    rc = crdt_field_observed(kind, bytes, len, CRDT_OP_REMOVE, "red", 3, &tags, &count);
    cr_assert(rc == 0 || rc == -SM_ECORRUPT, "round %d: %d", round, rc);
    free(tags);
    crdt_buf_free(&out);
    crdt_buf_free(&again);
}

Test(field, mutated_states_are_refused_or_stay_canonical)
{
    prop_rng_t rng = {11};
    for (size_t index = 0; index < KIND_COUNT; index++) {
        crdt_buf_t state;
        crdt_buf_init(&state);
        build_state(all_kinds[index], &state);
        for (int round = 0; round < 3000; round++) {
            uint8_t bytes[1024];
            cr_assert(state.len <= sizeof bytes);
            memcpy(bytes, state.data, state.len);
            for (uint64_t flips = 1 + prop_rng_below(&rng, 3); flips > 0; flips--)
                bytes[prop_rng_below(&rng, state.len)] ^= (uint8_t)(1 + prop_rng_below(&rng, 255));
            check_mutated_state(all_kinds[index], bytes, state.len, round);
        }
        crdt_buf_free(&state);
    }
}

Test(field, observed_is_empty_for_kinds_without_context)
{
    for (size_t index = 0; index < KIND_COUNT; index++) {
        crdt_buf_t state;
        crdt_buf_init(&state);
        crdt_op_t op = valid_op(all_kinds[index]);
        cr_assert(prop_apply_to(all_kinds[index], &state, &op) == 0);
        crdt_tag_t *tags = (crdt_tag_t *)&state; // must be overwritten
        size_t count = 99;
        cr_assert(crdt_field_observed(all_kinds[index], state.data, state.len, CRDT_OP_ADD, "v", 1,
                                      &tags, &count) == 0);
        cr_assert(count == 0);
        cr_assert(tags == NULL);
        crdt_buf_free(&state);
    }
}

Test(field, observed_rejects_null_value_with_length)
{
    crdt_tag_t *tags = NULL;
    size_t count = 0;
    cr_assert(crdt_field_observed(CRDT_KIND_AWSET, NULL, 0, CRDT_OP_REMOVE, NULL, 4, &tags,
                                  &count) == -SM_EINVAL);
}

Test(field, every_successful_apply_writes_a_state)
{
    for (size_t index = 0; index < KIND_COUNT; index++) {
        crdt_buf_t state;
        crdt_buf_init(&state);
        crdt_op_t op = valid_op(all_kinds[index]);
        if (all_kinds[index] == CRDT_KIND_AWSET)
            op.kind = CRDT_OP_REMOVE; // removes nothing
        cr_assert(prop_apply_to(all_kinds[index], &state, &op) == 0);
        cr_assert(state.len >= 2);
        crdt_buf_free(&state);
    }
}
