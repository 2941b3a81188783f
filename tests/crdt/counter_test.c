#include <criterion/criterion.h>
#include <stdint.h>

#include "field.h"
#include "prop.h"

static crdt_op_t
add_op(const char *origin, uint64_t seq, uint64_t hlc, int64_t delta)
{
    crdt_op_t op = prop_make_op(CRDT_OP_ADD, origin, seq, hlc, NULL);
    op.delta = delta;
    return op;
}

static int64_t
view_number(const crdt_buf_t *state)
{
    crdt_view_t view;
    cr_assert(crdt_field_view(CRDT_KIND_COUNTER, state->data, state->len, NULL, &view) == 0);
    cr_assert(view.is_number);
    int64_t number = view.number;
    crdt_view_free(&view);
    return number;
}

static void
check_sum_model(const prop_case_t *c)
{
    int64_t sum = 0;
    for (size_t index = 0; index < c->op_count; index++)
        sum += c->ops[index].op.delta;
    crdt_view_t view;
    prop_view(c, NULL, &view);
    cr_assert(view.is_number);
    cr_assert(view.number == sum, "seed %" PRIu64 " case %zu: sum %" PRId64 ", model %" PRId64,
              c->seed, c->case_index, view.number, sum);
    crdt_view_free(&view);
}

Test(counter, replicas_converge_in_any_order) { prop_run(CRDT_KIND_COUNTER, 101, 40, NULL); }

Test(counter, converged_sum_matches_model)
{
    prop_run(CRDT_KIND_COUNTER, 102, 40, check_sum_model);
}

Test(counter, merge_is_commutative)
{
    crdt_op_t a = add_op("a", 1, 10, 5);
    crdt_op_t b = add_op("b", 1, 10, -7);
    crdt_buf_t ab, ba;
    crdt_buf_init(&ab);
    crdt_buf_init(&ba);
    cr_assert(prop_apply_to(CRDT_KIND_COUNTER, &ab, &a) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_COUNTER, &ab, &b) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_COUNTER, &ba, &b) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_COUNTER, &ba, &a) == 0);
    cr_assert(prop_buf_equal(&ab, &ba));
    cr_assert(view_number(&ab) == -2);
    crdt_buf_free(&ab);
    crdt_buf_free(&ba);
}

Test(counter, apply_is_idempotent)
{
    crdt_op_t first = add_op("a", 1, 10, 5);
    crdt_op_t second = add_op("a", 2, 11, 3);
    crdt_buf_t state, once;
    crdt_buf_init(&state);
    crdt_buf_init(&once);
    cr_assert(prop_apply_to(CRDT_KIND_COUNTER, &state, &first) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_COUNTER, &state, &second) == 0);
    cr_assert(crdt_buf_append(&once, state.data, state.len) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_COUNTER, &state, &second) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_COUNTER, &state, &first) == 0);
    cr_assert(prop_buf_equal(&state, &once));
    cr_assert(view_number(&state) == 8);
    crdt_buf_free(&state);
    crdt_buf_free(&once);
}

Test(counter, op_at_or_below_high_water_is_a_repeat)
{
    crdt_buf_t state;
    crdt_buf_init(&state);
    crdt_op_t later = add_op("a", 7, 10, 5);
    crdt_op_t earlier = add_op("a", 3, 9, 100);
    cr_assert(prop_apply_to(CRDT_KIND_COUNTER, &state, &later) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_COUNTER, &state, &earlier) == 0);
    cr_assert(view_number(&state) == 5);
    crdt_buf_free(&state);
}

Test(counter, origin_sum_overflow_is_erange)
{
    crdt_buf_t state;
    crdt_buf_init(&state);
    crdt_op_t max = add_op("a", 1, 10, INT64_MAX);
    crdt_op_t one = add_op("a", 2, 11, 1);
    crdt_op_t min = add_op("b", 1, 10, INT64_MIN);
    crdt_op_t minus_one = add_op("b", 2, 11, -1);
    cr_assert(prop_apply_to(CRDT_KIND_COUNTER, &state, &max) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_COUNTER, &state, &one) == -SM_ERANGE);
    cr_assert(prop_apply_to(CRDT_KIND_COUNTER, &state, &min) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_COUNTER, &state, &minus_one) == -SM_ERANGE);
    cr_assert(view_number(&state) == -1);
    crdt_buf_free(&state);
}

Test(counter, view_sum_overflow_across_origins_is_erange)
{
    crdt_buf_t state;
    crdt_buf_init(&state);
    crdt_op_t a = add_op("a", 1, 10, INT64_MAX);
    crdt_op_t b = add_op("b", 1, 10, 1);
    cr_assert(prop_apply_to(CRDT_KIND_COUNTER, &state, &a) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_COUNTER, &state, &b) == 0);
    crdt_view_t view;
    cr_assert(crdt_field_view(CRDT_KIND_COUNTER, state.data, state.len, NULL, &view) == -SM_ERANGE);
    cr_assert(view.value_count == 0);
    crdt_buf_free(&state);
}

Test(counter, empty_state_views_as_zero)
{
    crdt_view_t view;
    cr_assert(crdt_field_view(CRDT_KIND_COUNTER, NULL, 0, NULL, &view) == 0);
    cr_assert(view.is_number);
    cr_assert(view.number == 0);
    crdt_view_free(&view);
}

Test(counter, rejects_set_and_remove_ops)
{
    crdt_buf_t state;
    crdt_buf_init(&state);
    crdt_op_t set = prop_make_op(CRDT_OP_SET, "a", 1, 10, "x");
    crdt_op_t remove = prop_make_op(CRDT_OP_REMOVE, "a", 1, 10, "x");
    cr_assert(prop_apply_to(CRDT_KIND_COUNTER, &state, &set) == -SM_EINVAL);
    cr_assert(prop_apply_to(CRDT_KIND_COUNTER, &state, &remove) == -SM_EINVAL);
    cr_assert(state.len == 0);
}

Test(counter, ignores_op_value)
{
    static char huge[CRDT_VALUE_MAX + 1];
    crdt_buf_t state;
    crdt_buf_init(&state);
    crdt_op_t op = add_op("a", 1, 10, 4);
    op.value = huge; // zero bytes, and too long: a counter does not look
    op.value_len = sizeof huge;
    cr_assert(prop_apply_to(CRDT_KIND_COUNTER, &state, &op) == 0);
    cr_assert(view_number(&state) == 4);
    crdt_buf_free(&state);
}

Test(counter, corrupt_state_is_ecorrupt)
{
    crdt_buf_t state, out;
    crdt_buf_init(&state);
    crdt_buf_init(&out);
    crdt_op_t a = add_op("a", 1, 10, 1);
    crdt_op_t b = add_op("b", 1, 10, 1);
    cr_assert(prop_apply_to(CRDT_KIND_COUNTER, &state, &a) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_COUNTER, &state, &b) == 0);
    crdt_op_t c = add_op("c", 1, 10, 1);
    for (size_t len = 0; len < state.len; len++) {
        // Every truncation but the empty state (a new field) is refused.
        int rc = crdt_field_apply(CRDT_KIND_COUNTER, state.data, len, &c, &out);
        cr_assert(rc == (len == 0 ? 0 : -SM_ECORRUPT), "truncated to %zu: %d", len, rc);
    }
    uint8_t trailing[256];
    memcpy(trailing, state.data, state.len);
    trailing[state.len] = 0;
    cr_assert(crdt_field_apply(CRDT_KIND_COUNTER, trailing, state.len + 1, &c, &out) ==
              -SM_ECORRUPT);
    crdt_buf_free(&state);
    crdt_buf_free(&out);
}

Test(counter, unsorted_origins_are_ecorrupt)
{
    crdt_buf_t state, out;
    crdt_buf_init(&state);
    crdt_buf_init(&out);
    crdt_op_t a = add_op("a", 1, 10, 1);
    crdt_op_t b = add_op("b", 1, 10, 1);
    cr_assert(prop_apply_to(CRDT_KIND_COUNTER, &state, &a) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_COUNTER, &state, &b) == 0);
    // header (2), count (4), then entries of 4 + 1 + 8 + 8 bytes: rename "b" to "a".
    size_t second_name = 2 + 4 + 21 + 4;
    cr_assert(state.data[second_name] == 'b');
    state.data[second_name] = 'a';
    crdt_op_t c = add_op("c", 1, 10, 1);
    cr_assert(crdt_field_apply(CRDT_KIND_COUNTER, state.data, state.len, &c, &out) == -SM_ECORRUPT);
    crdt_buf_free(&state);
    crdt_buf_free(&out);
}
