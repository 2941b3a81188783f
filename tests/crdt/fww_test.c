#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>

#include "field.h"
#include "fww.h"
#include "prop.h"

static int
op_stamp_compare(const void *a, const void *b)
{
    const crdt_op_t *left = *(const crdt_op_t *const *)a;
    const crdt_op_t *right = *(const crdt_op_t *const *)b;
    return crdt_stamp_compare(&left->stamp, &right->stamp);
}

// The model: every op by stamp; the first wins, the next FWW_CONFLICTS_MAX conflict.
static void
check_first_stamp_model(const prop_case_t *c)
{
    const crdt_op_t *sorted[PROP_OPS_MAX];
    for (size_t index = 0; index < c->op_count; index++)
        sorted[index] = &c->ops[index].op;
    qsort(sorted, c->op_count, sizeof sorted[0], op_stamp_compare);
    crdt_view_t view;
    prop_view(c, NULL, &view);
    const char *winner[] = {sorted[0]->value};
    prop_assert_values(c, &view, winner, 1);
    size_t conflicts = c->op_count - 1 < FWW_CONFLICTS_MAX ? c->op_count - 1 : FWW_CONFLICTS_MAX;
    cr_assert(view.conflict_count == conflicts, "seed %" PRIu64 " case %zu: %zu conflicts, not %zu",
              c->seed, c->case_index, view.conflict_count, conflicts);
    for (size_t index = 0; index < conflicts; index++) {
        const crdt_op_t *op = sorted[index + 1];
        char expected[CRDT_NAME_MAX + 24 + CRDT_VALUE_MAX];
        snprintf(expected, sizeof expected, "%s:%" PRIu64 "=%s", op->stamp.tag.origin,
                 op->stamp.tag.seq, op->value);
        cr_assert_str_eq(view.conflicts[index], expected, "seed %" PRIu64 " case %zu", c->seed,
                         c->case_index);
    }
    crdt_view_free(&view);
}

Test(fww, replicas_converge_in_any_order) { prop_run(CRDT_KIND_FWW, 301, 40, NULL); }

Test(fww, converged_winner_is_the_smallest_stamp)
{
    prop_run(CRDT_KIND_FWW, 302, 40, check_first_stamp_model);
}

Test(fww, conflict_cap_keeps_the_smallest_stamps_in_any_order)
{
    for (size_t case_index = 0; case_index < 40; case_index++)
        prop_run_case(CRDT_KIND_FWW, 303, case_index, PROP_OPS_MAX, check_first_stamp_model);
}

Test(fww, later_write_becomes_a_conflict)
{
    crdt_op_t first = prop_make_op(CRDT_OP_SET, "branch-1", 4, 10, "alice");
    crdt_op_t second = prop_make_op(CRDT_OP_SET, "branch-2", 9, 20, "bob");
    crdt_buf_t state;
    crdt_buf_init(&state);
    cr_assert(prop_apply_to(CRDT_KIND_FWW, &state, &second) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_FWW, &state, &first) == 0);
    crdt_view_t view;
    cr_assert(crdt_field_view(CRDT_KIND_FWW, state.data, state.len, NULL, &view) == 0);
    cr_assert(view.value_count == 1);
    cr_assert_str_eq(view.values[0], "alice");
    cr_assert(view.conflict_count == 1);
    cr_assert_str_eq(view.conflicts[0], "branch-2:9=bob");
    crdt_view_free(&view);
    crdt_buf_free(&state);
}

Test(fww, merge_is_commutative)
{
    crdt_op_t a = prop_make_op(CRDT_OP_SET, "a", 1, 30, "a");
    crdt_op_t b = prop_make_op(CRDT_OP_SET, "b", 1, 20, "b");
    crdt_op_t c = prop_make_op(CRDT_OP_SET, "c", 1, 10, "c");
    crdt_buf_t abc, cba;
    crdt_buf_init(&abc);
    crdt_buf_init(&cba);
    cr_assert(prop_apply_to(CRDT_KIND_FWW, &abc, &a) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_FWW, &abc, &b) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_FWW, &abc, &c) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_FWW, &cba, &c) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_FWW, &cba, &b) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_FWW, &cba, &a) == 0);
    cr_assert(prop_buf_equal(&abc, &cba));
    crdt_buf_free(&abc);
    crdt_buf_free(&cba);
}

Test(fww, apply_is_idempotent)
{
    crdt_op_t a = prop_make_op(CRDT_OP_SET, "a", 1, 30, "a");
    crdt_op_t b = prop_make_op(CRDT_OP_SET, "b", 1, 20, "b");
    crdt_buf_t once, again;
    crdt_buf_init(&once);
    crdt_buf_init(&again);
    cr_assert(prop_apply_to(CRDT_KIND_FWW, &once, &a) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_FWW, &once, &b) == 0);
    cr_assert(crdt_buf_append(&again, once.data, once.len) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_FWW, &again, &a) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_FWW, &again, &b) == 0);
    cr_assert(prop_buf_equal(&once, &again));
    crdt_buf_free(&once);
    crdt_buf_free(&again);
}

Test(fww, rejects_add_op)
{
    crdt_buf_t state;
    crdt_buf_init(&state);
    crdt_op_t add = prop_make_op(CRDT_OP_ADD, "a", 1, 10, "x");
    cr_assert(prop_apply_to(CRDT_KIND_FWW, &state, &add) == -SM_EINVAL);
}

Test(fww, rejects_value_with_nul_byte)
{
    crdt_buf_t state;
    crdt_buf_init(&state);
    crdt_op_t op = prop_make_op(CRDT_OP_SET, "a", 1, 10, NULL);
    op.value = "ab\0c";
    op.value_len = 4;
    cr_assert(prop_apply_to(CRDT_KIND_FWW, &state, &op) == -SM_EINVAL);
}

Test(fww, corrupt_state_is_ecorrupt)
{
    crdt_buf_t state, out;
    crdt_buf_init(&state);
    crdt_buf_init(&out);
    crdt_op_t a = prop_make_op(CRDT_OP_SET, "a", 1, 10, "first");
    crdt_op_t b = prop_make_op(CRDT_OP_SET, "b", 1, 20, "second");
    cr_assert(prop_apply_to(CRDT_KIND_FWW, &state, &a) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_FWW, &state, &b) == 0);
    for (size_t len = 1; len < state.len; len++)
        cr_assert(crdt_field_apply(CRDT_KIND_FWW, state.data, len, &a, &out) == -SM_ECORRUPT);
    // The count says 66 writes: more than a state keeps.
    state.data[5] = FWW_WRITES_MAX + 1;
    cr_assert(crdt_field_apply(CRDT_KIND_FWW, state.data, state.len, &a, &out) == -SM_ECORRUPT);
    crdt_buf_free(&state);
    crdt_buf_free(&out);
}
