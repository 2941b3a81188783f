#include <criterion/criterion.h>
#include <stdint.h>

#include "codec.h"
#include "field.h"
#include "prop.h"

static void
check_max_stamp_model(const prop_case_t *c)
{
    const crdt_op_t *latest = &c->ops[0].op;
    for (size_t index = 1; index < c->op_count; index++) {
        if (crdt_stamp_compare(&c->ops[index].op.stamp, &latest->stamp) > 0)
            latest = &c->ops[index].op;
    }
    const char *expected[] = {latest->value};
    crdt_view_t view;
    prop_view(c, NULL, &view);
    prop_assert_values(c, &view, expected, 1);
    crdt_view_free(&view);
}

static void
assert_view(const crdt_buf_t *state, const char *expected)
{
    crdt_view_t view;
    cr_assert(crdt_field_view(CRDT_KIND_LWW, state->data, state->len, NULL, &view) == 0);
    cr_assert(view.value_count == 1);
    cr_assert_str_eq(view.values[0], expected);
    cr_assert(view.conflict_count == 0);
    crdt_view_free(&view);
}

Test(lww, replicas_converge_in_any_order) { prop_run(CRDT_KIND_LWW, 201, 40, NULL); }

Test(lww, converged_value_is_the_greatest_stamp)
{
    prop_run(CRDT_KIND_LWW, 202, 40, check_max_stamp_model);
}

Test(lww, merge_is_commutative)
{
    crdt_op_t old = prop_make_op(CRDT_OP_SET, "a", 1, 10, "old");
    crdt_op_t new = prop_make_op(CRDT_OP_SET, "b", 1, 20, "new");
    crdt_buf_t forward, backward;
    crdt_buf_init(&forward);
    crdt_buf_init(&backward);
    cr_assert(prop_apply_to(CRDT_KIND_LWW, &forward, &old) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_LWW, &forward, &new) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_LWW, &backward, &new) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_LWW, &backward, &old) == 0);
    cr_assert(prop_buf_equal(&forward, &backward));
    assert_view(&forward, "new");
    crdt_buf_free(&forward);
    crdt_buf_free(&backward);
}

Test(lww, equal_hlc_is_decided_by_origin_then_seq)
{
    crdt_op_t by_b = prop_make_op(CRDT_OP_SET, "b", 1, 10, "from b");
    crdt_op_t by_ab = prop_make_op(CRDT_OP_SET, "ab", 9, 10, "from ab");
    crdt_buf_t state;
    crdt_buf_init(&state);
    cr_assert(prop_apply_to(CRDT_KIND_LWW, &state, &by_b) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_LWW, &state, &by_ab) == 0);
    assert_view(&state, "from b");
    crdt_op_t by_b_later = prop_make_op(CRDT_OP_SET, "b", 2, 10, "b again");
    cr_assert(prop_apply_to(CRDT_KIND_LWW, &state, &by_b_later) == 0);
    assert_view(&state, "b again");
    crdt_buf_free(&state);
}

Test(lww, apply_is_idempotent)
{
    crdt_op_t op = prop_make_op(CRDT_OP_SET, "a", 1, 10, "v");
    crdt_buf_t once, twice;
    crdt_buf_init(&once);
    crdt_buf_init(&twice);
    cr_assert(prop_apply_to(CRDT_KIND_LWW, &once, &op) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_LWW, &twice, &op) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_LWW, &twice, &op) == 0);
    cr_assert(prop_buf_equal(&once, &twice));
    crdt_buf_free(&once);
    crdt_buf_free(&twice);
}

Test(lww, empty_state_has_no_value)
{
    crdt_view_t view;
    cr_assert(crdt_field_view(CRDT_KIND_LWW, NULL, 0, NULL, &view) == 0);
    cr_assert(view.value_count == 0);
    cr_assert(!view.is_number);
    crdt_view_free(&view);
}

Test(lww, rejects_add_op)
{
    crdt_buf_t state;
    crdt_buf_init(&state);
    crdt_op_t add = prop_make_op(CRDT_OP_ADD, "a", 1, 10, "x");
    cr_assert(prop_apply_to(CRDT_KIND_LWW, &state, &add) == -SM_EINVAL);
}

Test(lww, rejects_oversized_value)
{
    static char huge[CRDT_VALUE_MAX + 1];
    memset(huge, 'x', sizeof huge);
    crdt_buf_t state;
    crdt_buf_init(&state);
    crdt_op_t op = prop_make_op(CRDT_OP_SET, "a", 1, 10, NULL);
    op.value = huge;
    op.value_len = sizeof huge;
    cr_assert(prop_apply_to(CRDT_KIND_LWW, &state, &op) == -SM_EINVAL);
    op.value_len = CRDT_VALUE_MAX;
    cr_assert(prop_apply_to(CRDT_KIND_LWW, &state, &op) == 0);
    crdt_buf_free(&state);
}

Test(lww, corrupt_state_is_ecorrupt)
{
    crdt_buf_t state, out;
    crdt_buf_init(&state);
    crdt_buf_init(&out);
    crdt_op_t op = prop_make_op(CRDT_OP_SET, "a", 1, 10, "value");
    cr_assert(prop_apply_to(CRDT_KIND_LWW, &state, &op) == 0);
    for (size_t len = 1; len < state.len; len++)
        cr_assert(crdt_field_apply(CRDT_KIND_LWW, state.data, len, &op, &out) == -SM_ECORRUPT);
    state.data[0] = CODEC_FORMAT_VERSION + 1; // a future format
    cr_assert(crdt_field_apply(CRDT_KIND_LWW, state.data, state.len, &op, &out) == -SM_ECORRUPT);
    crdt_view_t view;
    cr_assert(crdt_field_view(CRDT_KIND_LWW, state.data, state.len, NULL, &view) == -SM_ECORRUPT);
    crdt_buf_free(&state);
    crdt_buf_free(&out);
}
