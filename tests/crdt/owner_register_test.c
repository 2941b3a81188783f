#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdint.h>

#include "field.h"
#include "prop.h"

// The model: each origin's view is its own greatest-stamp write.
static void
check_per_origin_model(const prop_case_t *c)
{
    for (size_t origin = 0; origin < c->origin_count; origin++) {
        const crdt_op_t *latest = NULL;
        for (size_t index = 0; index < c->origin_op_count[origin]; index++) {
            const crdt_op_t *op = &c->ops[c->origin_ops[origin][index]].op;
            if (latest == NULL || crdt_stamp_compare(&op->stamp, &latest->stamp) > 0)
                latest = op;
        }
        crdt_view_t view;
        prop_view(c, c->origins[origin], &view);
        const char *expected[] = {latest == NULL ? NULL : latest->value};
        prop_assert_values(c, &view, expected, latest == NULL ? 0 : 1);
        crdt_view_free(&view);
    }
    crdt_view_t view;
    prop_view(c, "nobody", &view);
    cr_assert(view.value_count == 0);
    crdt_view_free(&view);
}

static void
assert_owner_view(const crdt_buf_t *state, const char *owner, const char *expected)
{
    crdt_view_t view;
    cr_assert(crdt_field_view(CRDT_KIND_OWNER, state->data, state->len, owner, &view) == 0);
    if (expected == NULL) {
        cr_assert(view.value_count == 0);
    } else {
        cr_assert(view.value_count == 1);
        cr_assert_str_eq(view.values[0], expected);
    }
    crdt_view_free(&view);
}

Test(owner_register, replicas_converge_in_any_order) { prop_run(CRDT_KIND_OWNER, 601, 40, NULL); }

Test(owner_register, converged_view_is_the_owners_latest_write)
{
    prop_run(CRDT_KIND_OWNER, 602, 40, check_per_origin_model);
}

Test(owner_register, view_shows_only_the_owner)
{
    crdt_buf_t state;
    crdt_buf_init(&state);
    crdt_op_t cloud_old = prop_make_op(CRDT_OP_SET, "cloud", 1, 10, "9.99");
    crdt_op_t cloud_new = prop_make_op(CRDT_OP_SET, "cloud", 2, 30, "8.99");
    crdt_op_t branch = prop_make_op(CRDT_OP_SET, "branch-7", 1, 40, "0.01");
    cr_assert(prop_apply_to(CRDT_KIND_OWNER, &state, &cloud_new) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_OWNER, &state, &branch) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_OWNER, &state, &cloud_old) == 0);
    assert_owner_view(&state, "cloud", "8.99");
    assert_owner_view(&state, "branch-7", "0.01");
    assert_owner_view(&state, "branch-8", NULL);
    crdt_buf_free(&state);
}

Test(owner_register, merge_is_commutative)
{
    crdt_op_t a = prop_make_op(CRDT_OP_SET, "a", 1, 10, "x");
    crdt_op_t b = prop_make_op(CRDT_OP_SET, "b", 1, 10, "y");
    crdt_op_t a2 = prop_make_op(CRDT_OP_SET, "a", 2, 5, "z"); // a's clock stepped back
    crdt_buf_t forward, backward;
    crdt_buf_init(&forward);
    crdt_buf_init(&backward);
    cr_assert(prop_apply_to(CRDT_KIND_OWNER, &forward, &a) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_OWNER, &forward, &b) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_OWNER, &forward, &a2) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_OWNER, &backward, &a2) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_OWNER, &backward, &b) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_OWNER, &backward, &a) == 0);
    cr_assert(prop_buf_equal(&forward, &backward));
    assert_owner_view(&forward, "a", "x"); // greatest stamp, not greatest seq
    crdt_buf_free(&forward);
    crdt_buf_free(&backward);
}

Test(owner_register, view_needs_an_owner_name)
{
    crdt_view_t view;
    cr_assert(crdt_field_view(CRDT_KIND_OWNER, NULL, 0, NULL, &view) == -SM_EINVAL);
    cr_assert(crdt_field_view(CRDT_KIND_OWNER, NULL, 0, "", &view) == -SM_EINVAL);
    cr_assert(crdt_field_view(CRDT_KIND_OWNER, NULL, 0, "cloud", &view) == 0);
    cr_assert(view.value_count == 0);
    crdt_view_free(&view);
}

Test(owner_register, rejects_add_op)
{
    crdt_buf_t state;
    crdt_buf_init(&state);
    crdt_op_t add = prop_make_op(CRDT_OP_ADD, "a", 1, 10, "x");
    cr_assert(prop_apply_to(CRDT_KIND_OWNER, &state, &add) == -SM_EINVAL);
}

Test(owner_register, duplicate_origin_in_state_is_ecorrupt)
{
    crdt_buf_t state, out;
    crdt_buf_init(&state);
    crdt_buf_init(&out);
    crdt_op_t a = prop_make_op(CRDT_OP_SET, "a", 1, 10, "x");
    crdt_op_t b = prop_make_op(CRDT_OP_SET, "b", 1, 10, "x");
    cr_assert(prop_apply_to(CRDT_KIND_OWNER, &state, &a) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_OWNER, &state, &b) == 0);
    // header (2), count (4), hlc (8), name length (4): the first origin's name.
    size_t first_name = 2 + 4 + 8 + 4;
    size_t entry_bytes = 8 + 4 + 1 + 8 + 4 + 1;
    cr_assert(state.data[first_name] == 'a');
    cr_assert(state.data[first_name + entry_bytes] == 'b');
    state.data[first_name + entry_bytes] = 'a';
    cr_assert(crdt_field_apply(CRDT_KIND_OWNER, state.data, state.len, &a, &out) == -SM_ECORRUPT);
    crdt_buf_free(&state);
    crdt_buf_free(&out);
}
