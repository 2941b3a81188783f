#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "field.h"
#include "prop.h"

// The model: a write is current when no op's context supersedes it.
static void
check_current_values_model(const prop_case_t *c)
{
    const char *current[PROP_OPS_MAX];
    size_t count = 0;
    for (size_t index = 0; index < c->op_count; index++) {
        const crdt_op_t *op = &c->ops[index].op;
        if (!prop_tag_is_observed(c, &op->stamp.tag))
            current[count++] = op->value;
    }
    count = prop_sort_distinct(current, count);
    crdt_view_t view;
    prop_view(c, NULL, &view);
    prop_assert_values(c, &view, current, count);
    size_t conflicts = count > 1 ? count : 0;
    cr_assert(view.conflict_count == conflicts,
              "seed %" PRIu64 " case %zu: conflict_count %zu, model %zu", c->seed, c->case_index,
              view.conflict_count, conflicts);
    crdt_view_free(&view);
}

// A set at origin as a node makes it: its context is every value current there.
static crdt_op_t
set_op(const crdt_buf_t *state, const char *origin, uint64_t seq, uint64_t hlc, const char *value,
       crdt_tag_t **observed)
{
    crdt_op_t op = prop_make_op(CRDT_OP_SET, origin, seq, hlc, value);
    int rc = crdt_field_observed(CRDT_KIND_KEEPBOTH, state->data, state->len, CRDT_OP_SET, op.value,
                                 op.value_len, observed, &op.observed_count);
    cr_assert(rc == 0);
    op.observed = *observed;
    return op;
}

Test(keepboth, replicas_converge_in_any_order) { prop_run(CRDT_KIND_KEEPBOTH, 501, 40, NULL); }

Test(keepboth, converged_values_match_model)
{
    prop_run(CRDT_KIND_KEEPBOTH, 502, 40, check_current_values_model);
}

Test(keepboth, concurrent_sets_are_both_kept_until_one_is_chosen)
{
    crdt_buf_t a, b;
    crdt_buf_init(&a);
    crdt_buf_init(&b);
    crdt_tag_t *context_a = NULL, *context_b = NULL, *context_choice = NULL;
    crdt_op_t set_a = set_op(&a, "a", 1, 10, "555-1000", &context_a);
    crdt_op_t set_b = set_op(&b, "b", 1, 10, "555-2000", &context_b);
    cr_assert(prop_apply_to(CRDT_KIND_KEEPBOTH, &a, &set_a) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_KEEPBOTH, &b, &set_b) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_KEEPBOTH, &a, &set_b) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_KEEPBOTH, &b, &set_a) == 0);
    cr_assert(prop_buf_equal(&a, &b));
    crdt_view_t view;
    cr_assert(crdt_field_view(CRDT_KIND_KEEPBOTH, a.data, a.len, NULL, &view) == 0);
    cr_assert(view.value_count == 2);
    cr_assert_str_eq(view.values[0], "555-1000");
    cr_assert_str_eq(view.values[1], "555-2000");
    cr_assert(view.conflict_count == 2);
    cr_assert(view.conflicts == NULL);
    crdt_view_free(&view);
    crdt_op_t choice = set_op(&a, "a", 2, 20, "555-2000", &context_choice);
    cr_assert(choice.observed_count == 2);
    cr_assert(prop_apply_to(CRDT_KIND_KEEPBOTH, &a, &choice) == 0);
    cr_assert(crdt_field_view(CRDT_KIND_KEEPBOTH, a.data, a.len, NULL, &view) == 0);
    cr_assert(view.value_count == 1);
    cr_assert_str_eq(view.values[0], "555-2000");
    cr_assert(view.conflict_count == 0);
    crdt_view_free(&view);
    free(context_a);
    free(context_b);
    free(context_choice);
    crdt_buf_free(&a);
    crdt_buf_free(&b);
}

Test(keepboth, same_value_set_concurrently_is_no_conflict)
{
    crdt_buf_t state;
    crdt_buf_init(&state);
    crdt_op_t set_a = prop_make_op(CRDT_OP_SET, "a", 1, 10, "same");
    crdt_op_t set_b = prop_make_op(CRDT_OP_SET, "b", 1, 10, "same");
    cr_assert(prop_apply_to(CRDT_KIND_KEEPBOTH, &state, &set_a) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_KEEPBOTH, &state, &set_b) == 0);
    crdt_view_t view;
    cr_assert(crdt_field_view(CRDT_KIND_KEEPBOTH, state.data, state.len, NULL, &view) == 0);
    cr_assert(view.value_count == 1);
    cr_assert(view.conflict_count == 0);
    crdt_view_free(&view);
    crdt_tag_t *tags = NULL;
    size_t count = 0;
    cr_assert(crdt_field_observed(CRDT_KIND_KEEPBOTH, state.data, state.len, CRDT_OP_SET, NULL, 0,
                                  &tags, &count) == 0);
    cr_assert(count == 2); // both writes are superseded by the next set
    free(tags);
    crdt_buf_free(&state);
}

Test(keepboth, superseding_set_arriving_first_still_supersedes)
{
    crdt_buf_t origin, late;
    crdt_buf_init(&origin);
    crdt_buf_init(&late);
    crdt_op_t first = prop_make_op(CRDT_OP_SET, "a", 1, 10, "old");
    cr_assert(prop_apply_to(CRDT_KIND_KEEPBOTH, &origin, &first) == 0);
    crdt_tag_t *context = NULL;
    crdt_op_t second = set_op(&origin, "b", 1, 20, "new", &context);
    cr_assert(prop_apply_to(CRDT_KIND_KEEPBOTH, &origin, &second) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_KEEPBOTH, &late, &second) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_KEEPBOTH, &late, &first) == 0);
    cr_assert(prop_buf_equal(&origin, &late));
    free(context);
    crdt_buf_free(&origin);
    crdt_buf_free(&late);
}

Test(keepboth, apply_is_idempotent)
{
    crdt_op_t set = prop_make_op(CRDT_OP_SET, "a", 1, 10, "v");
    crdt_buf_t once, twice;
    crdt_buf_init(&once);
    crdt_buf_init(&twice);
    cr_assert(prop_apply_to(CRDT_KIND_KEEPBOTH, &once, &set) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_KEEPBOTH, &twice, &set) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_KEEPBOTH, &twice, &set) == 0);
    cr_assert(prop_buf_equal(&once, &twice));
    crdt_buf_free(&once);
    crdt_buf_free(&twice);
}

Test(keepboth, rejects_add_op)
{
    crdt_buf_t state;
    crdt_buf_init(&state);
    crdt_op_t add = prop_make_op(CRDT_OP_ADD, "a", 1, 10, "x");
    cr_assert(prop_apply_to(CRDT_KIND_KEEPBOTH, &state, &add) == -SM_EINVAL);
}

Test(keepboth, observed_over_the_bound_is_efull)
{
    crdt_buf_t state;
    crdt_buf_init(&state);
    char origin[16];
    for (size_t index = 0; index <= CRDT_OBSERVED_MAX; index++) {
        snprintf(origin, sizeof origin, "n%zu", index);
        crdt_op_t set = prop_make_op(CRDT_OP_SET, origin, 1, 10, "v");
        cr_assert(prop_apply_to(CRDT_KIND_KEEPBOTH, &state, &set) == 0);
    }
    crdt_tag_t *tags = NULL;
    size_t count = 0;
    cr_assert(crdt_field_observed(CRDT_KIND_KEEPBOTH, state.data, state.len, CRDT_OP_SET, NULL, 0,
                                  &tags, &count) == -SM_EFULL);
    cr_assert(tags == NULL);
    crdt_buf_free(&state);
}

Test(keepboth, corrupt_state_is_ecorrupt)
{
    crdt_buf_t state, out;
    crdt_buf_init(&state);
    crdt_buf_init(&out);
    crdt_op_t first = prop_make_op(CRDT_OP_SET, "a", 1, 10, "one");
    crdt_op_t second = prop_make_op(CRDT_OP_SET, "b", 1, 10, "two");
    cr_assert(prop_apply_to(CRDT_KIND_KEEPBOTH, &state, &first) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_KEEPBOTH, &state, &second) == 0);
    for (size_t len = 1; len < state.len; len++)
        cr_assert(crdt_field_apply(CRDT_KIND_KEEPBOTH, state.data, len, &first, &out) ==
                  -SM_ECORRUPT);
    crdt_tag_t *tags = NULL;
    size_t count = 0;
    cr_assert(crdt_field_observed(CRDT_KIND_KEEPBOTH, state.data, state.len - 1, CRDT_OP_SET, NULL,
                                  0, &tags, &count) == -SM_ECORRUPT);
    crdt_buf_free(&state);
    crdt_buf_free(&out);
}
