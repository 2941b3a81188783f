#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "field.h"
#include "prop.h"
#include "tag_set.h"
#include "value_list.h"

// True when op is its origin's latest add of its element among the case's ops.
static bool
latest_add_of_origin(const prop_case_t *c, const crdt_op_t *op)
{
    for (size_t index = 0; index < c->op_count; index++) {
        const crdt_op_t *other = &c->ops[index].op;
        if (other->kind == CRDT_OP_ADD && other->value_len == op->value_len &&
            memcmp(other->value, op->value, op->value_len) == 0 &&
            strcmp(other->stamp.tag.origin, op->stamp.tag.origin) == 0 &&
            other->stamp.tag.seq > op->stamp.tag.seq)
            return false;
    }
    return true;
}

// The model: an element is present when, for some origin, that origin's latest add
// of it is in no remove's context (an origin's later add stands for its earlier
// ones: whoever removed after seeing the later had seen the earlier too).
static void
check_membership_model(const prop_case_t *c)
{
    const char *present[PROP_OPS_MAX];
    size_t count = 0;
    for (size_t index = 0; index < c->op_count; index++) {
        const crdt_op_t *op = &c->ops[index].op;
        if (op->kind == CRDT_OP_ADD && latest_add_of_origin(c, op) &&
            !prop_tag_is_observed(c, &op->stamp.tag))
            present[count++] = op->value;
    }
    count = prop_sort_distinct(present, count);
    crdt_view_t view;
    prop_view(c, NULL, &view);
    prop_assert_values(c, &view, present, count);
    crdt_view_free(&view);
}

static crdt_op_t
remove_op(const crdt_buf_t *state, const char *origin, uint64_t seq, uint64_t hlc,
          const char *value, crdt_tag_t **observed)
{
    crdt_op_t op = prop_make_op(CRDT_OP_REMOVE, origin, seq, hlc, value);
    int rc = crdt_field_observed(CRDT_KIND_AWSET, state->data, state->len, CRDT_OP_REMOVE, op.value,
                                 op.value_len, observed, &op.observed_count);
    cr_assert(rc == 0);
    op.observed = *observed;
    return op;
}

static size_t
view_values(const crdt_buf_t *state, crdt_view_t *view)
{
    cr_assert(crdt_field_view(CRDT_KIND_AWSET, state->data, state->len, NULL, view) == 0);
    return view->value_count;
}

Test(awset, replicas_converge_in_any_order) { prop_run(CRDT_KIND_AWSET, 401, 40, NULL); }

Test(awset, converged_members_match_model)
{
    prop_run(CRDT_KIND_AWSET, 402, 40, check_membership_model);
}

Test(awset, concurrent_add_wins_over_remove)
{
    crdt_buf_t a, b;
    crdt_buf_init(&a);
    crdt_buf_init(&b);
    crdt_op_t add = prop_make_op(CRDT_OP_ADD, "a", 1, 10, "vip");
    cr_assert(prop_apply_to(CRDT_KIND_AWSET, &a, &add) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_AWSET, &b, &add) == 0);
    crdt_tag_t *observed = NULL;
    crdt_op_t remove = remove_op(&a, "a", 2, 20, "vip", &observed);
    cr_assert(remove.observed_count == 1);
    crdt_op_t readd = prop_make_op(CRDT_OP_ADD, "b", 1, 15, "vip"); // b had not seen the remove
    cr_assert(prop_apply_to(CRDT_KIND_AWSET, &a, &remove) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_AWSET, &b, &readd) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_AWSET, &a, &readd) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_AWSET, &b, &remove) == 0);
    cr_assert(prop_buf_equal(&a, &b));
    crdt_view_t view;
    cr_assert(view_values(&a, &view) == 1);
    cr_assert_str_eq(view.values[0], "vip");
    crdt_view_free(&view);
    free(observed);
    crdt_buf_free(&a);
    crdt_buf_free(&b);
}

Test(awset, remove_arriving_before_its_add_still_removes)
{
    crdt_buf_t origin, late;
    crdt_buf_init(&origin);
    crdt_buf_init(&late);
    crdt_op_t add = prop_make_op(CRDT_OP_ADD, "a", 1, 10, "gold");
    cr_assert(prop_apply_to(CRDT_KIND_AWSET, &origin, &add) == 0);
    crdt_tag_t *observed = NULL;
    crdt_op_t remove = remove_op(&origin, "b", 1, 20, "gold", &observed);
    cr_assert(prop_apply_to(CRDT_KIND_AWSET, &origin, &remove) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_AWSET, &late, &remove) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_AWSET, &late, &add) == 0);
    cr_assert(prop_buf_equal(&origin, &late));
    crdt_view_t view;
    cr_assert(view_values(&late, &view) == 0);
    crdt_view_free(&view);
    free(observed);
    crdt_buf_free(&origin);
    crdt_buf_free(&late);
}

Test(awset, view_is_sorted_and_distinct)
{
    crdt_buf_t state;
    crdt_buf_init(&state);
    const char *elements[] = {"pear", "apple", "pear", "", "app"};
    for (size_t index = 0; index < 5; index++) {
        crdt_op_t add = prop_make_op(CRDT_OP_ADD, "a", index + 1, 10 + index, elements[index]);
        cr_assert(prop_apply_to(CRDT_KIND_AWSET, &state, &add) == 0);
    }
    crdt_view_t view;
    cr_assert(view_values(&state, &view) == 4);
    cr_assert_str_eq(view.values[0], "");
    cr_assert_str_eq(view.values[1], "app");
    cr_assert_str_eq(view.values[2], "apple");
    cr_assert_str_eq(view.values[3], "pear");
    crdt_view_free(&view);
    crdt_buf_free(&state);
}

Test(awset, observed_lists_the_live_adds_of_the_element)
{
    crdt_buf_t state;
    crdt_buf_init(&state);
    crdt_op_t pear_a = prop_make_op(CRDT_OP_ADD, "a", 1, 10, "pear");
    crdt_op_t plum = prop_make_op(CRDT_OP_ADD, "a", 2, 11, "plum");
    crdt_op_t pear_b = prop_make_op(CRDT_OP_ADD, "b", 5, 12, "pear");
    cr_assert(prop_apply_to(CRDT_KIND_AWSET, &state, &pear_a) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_AWSET, &state, &plum) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_AWSET, &state, &pear_b) == 0);
    crdt_tag_t *tags = NULL;
    size_t count = 0;
    cr_assert(crdt_field_observed(CRDT_KIND_AWSET, state.data, state.len, CRDT_OP_REMOVE, "pear", 4,
                                  &tags, &count) == 0);
    cr_assert(count == 2);
    cr_assert(crdt_tag_equal(&tags[0], &pear_a.stamp.tag));
    cr_assert(crdt_tag_equal(&tags[1], &pear_b.stamp.tag));
    free(tags);
    cr_assert(crdt_field_observed(CRDT_KIND_AWSET, state.data, state.len, CRDT_OP_ADD, "pear", 4,
                                  &tags, &count) == 0);
    cr_assert(count == 0);
    cr_assert(tags == NULL);
    cr_assert(crdt_field_observed(CRDT_KIND_AWSET, state.data, state.len, CRDT_OP_REMOVE, "fig", 3,
                                  &tags, &count) == 0);
    cr_assert(count == 0);
    crdt_buf_free(&state);
}

Test(awset, observed_over_the_bound_is_efull)
{
    crdt_buf_t state;
    crdt_buf_init(&state);
    // Each origin's latest add is live: more origins than the bound, at once.
    char origins[CRDT_OBSERVED_MAX + 1][16];
    for (uint64_t i = 0; i <= CRDT_OBSERVED_MAX; i++) {
        snprintf(origins[i], sizeof origins[i], "branch-%03" PRIu64, i);
        crdt_op_t add = prop_make_op(CRDT_OP_ADD, origins[i], 1, i + 1, "hot");
        cr_assert(prop_apply_to(CRDT_KIND_AWSET, &state, &add) == 0);
    }
    crdt_tag_t *tags = NULL;
    size_t count = 0;
    cr_assert(crdt_field_observed(CRDT_KIND_AWSET, state.data, state.len, CRDT_OP_REMOVE, "hot", 3,
                                  &tags, &count) == -SM_EFULL);
    cr_assert(tags == NULL);
    crdt_buf_free(&state);
}

Test(awset, rejects_set_op_and_oversized_observed)
{
    crdt_buf_t state;
    crdt_buf_init(&state);
    crdt_op_t set = prop_make_op(CRDT_OP_SET, "a", 1, 10, "x");
    cr_assert(prop_apply_to(CRDT_KIND_AWSET, &state, &set) == -SM_EINVAL);
    static crdt_tag_t observed[CRDT_OBSERVED_MAX + 1];
    for (size_t index = 0; index < CRDT_OBSERVED_MAX + 1; index++)
        cr_assert(crdt_tag_set(&observed[index], "b", index + 1) == 0);
    crdt_op_t remove = prop_make_op(CRDT_OP_REMOVE, "a", 1, 10, "x");
    remove.observed = observed;
    remove.observed_count = CRDT_OBSERVED_MAX + 1;
    cr_assert(prop_apply_to(CRDT_KIND_AWSET, &state, &remove) == -SM_EINVAL);
    remove.observed_count = CRDT_OBSERVED_MAX;
    cr_assert(prop_apply_to(CRDT_KIND_AWSET, &state, &remove) == 0);
    crdt_buf_free(&state);
}

Test(awset, rejects_invalid_observed_tag)
{
    crdt_buf_t state;
    crdt_buf_init(&state);
    crdt_tag_t observed[1];
    memset(observed, 0, sizeof observed); // empty origin
    crdt_op_t remove = prop_make_op(CRDT_OP_REMOVE, "a", 1, 10, "x");
    remove.observed = observed;
    remove.observed_count = 1;
    cr_assert(prop_apply_to(CRDT_KIND_AWSET, &state, &remove) == -SM_EINVAL);
    cr_assert(crdt_tag_set(&observed[0], "b", 0) == 0); // seq 0 is no op's
    cr_assert(prop_apply_to(CRDT_KIND_AWSET, &state, &remove) == -SM_EINVAL);
}

Test(awset, state_bound_is_efull)
{
    static char element[CRDT_VALUE_MAX];
    crdt_buf_t state;
    crdt_buf_init(&state);
    int rc = 0;
    uint64_t seq = 0;
    while (rc == 0) {
        seq++;
        snprintf(element, sizeof element, "%08" PRIu64, seq);
        memset(element + 8, 'e', sizeof element - 8);
        crdt_op_t add = prop_make_op(CRDT_OP_ADD, "a", seq, seq, NULL);
        add.value = element;
        add.value_len = sizeof element;
        rc = prop_apply_to(CRDT_KIND_AWSET, &state, &add);
        cr_assert(state.len <= CRDT_STATE_SIZE_BYTES_MAX);
        cr_assert(seq < 2 * CRDT_STATE_SIZE_BYTES_MAX / CRDT_VALUE_MAX);
    }
    cr_assert(rc == -SM_EFULL);
    cr_assert(state.len + CRDT_VALUE_MAX + 64 > CRDT_STATE_SIZE_BYTES_MAX);
    crdt_buf_free(&state);
}

Test(awset, tombstoned_add_in_state_is_ecorrupt)
{
    crdt_buf_t state, out;
    crdt_buf_init(&state);
    crdt_buf_init(&out);
    crdt_op_t add = prop_make_op(CRDT_OP_ADD, "a", 1, 10, "x");
    cr_assert(prop_apply_to(CRDT_KIND_AWSET, &state, &add) == 0);
    // Hand-build: the same add, plus its tag as a tombstone.
    uint8_t bytes[256];
    memcpy(bytes, state.data, state.len);
    size_t len = state.len - 4; // drop the empty tombstone count
    const uint8_t tombstones[] = {0, 0, 0, 1, 0, 0, 0, 1, 'a', 0, 0, 0, 0, 0, 0, 0, 1};
    memcpy(bytes + len, tombstones, sizeof tombstones);
    len += sizeof tombstones;
    crdt_op_t other = prop_make_op(CRDT_OP_ADD, "b", 1, 10, "y");
    cr_assert(crdt_field_apply(CRDT_KIND_AWSET, bytes, len, &other, &out) == -SM_ECORRUPT);
    crdt_buf_free(&state);
    crdt_buf_free(&out);
}

// An element re-added by the same origin on every sale keeps one entry per origin,
// not one per add: its state stays small, and a remove names one add and is taken
// (before 2026-12-06, past CRDT_OBSERVED_MAX adds the remove was refused, and the
// state grew about 33 bytes an add towards the field's bound).
Test(awset, re_adding_an_element_keeps_the_state_small_and_it_stays_removable)
{
    crdt_buf_t state;
    crdt_buf_init(&state);
    crdt_op_t first = prop_make_op(CRDT_OP_ADD, "a", 1, 1, "vip");
    cr_assert(prop_apply_to(CRDT_KIND_AWSET, &state, &first) == 0);
    size_t one_add_len = state.len;
    for (uint64_t seq = 2; seq <= 10 * CRDT_OBSERVED_MAX; seq++) {
        crdt_op_t add = prop_make_op(CRDT_OP_ADD, "a", seq, seq, "vip");
        cr_assert(prop_apply_to(CRDT_KIND_AWSET, &state, &add) == 0);
    }
    cr_assert_leq(state.len, one_add_len + 2, "%zu bytes after 2,560 adds, %zu after one",
                  state.len, one_add_len);
    crdt_tag_t *observed = NULL;
    crdt_op_t remove = remove_op(&state, "b", 1, 100000, "vip", &observed);
    cr_assert_eq(remove.observed_count, 1, "the remove names the latest add alone");
    cr_assert_eq(observed[0].seq, 10 * CRDT_OBSERVED_MAX);
    cr_assert(prop_apply_to(CRDT_KIND_AWSET, &state, &remove) == 0);
    crdt_view_t view;
    cr_assert_eq(view_values(&state, &view), 0, "vip is removed");
    crdt_view_free(&view);
    // An earlier add arriving again (a repeat) does not bring it back.
    crdt_op_t again = prop_make_op(CRDT_OP_ADD, "a", 7, 7, "vip");
    cr_assert(prop_apply_to(CRDT_KIND_AWSET, &state, &again) == 0);
    cr_assert_eq(view_values(&state, &view), 0, "a repeat of an earlier add stays removed");
    crdt_view_free(&view);
    free(observed);
    crdt_buf_free(&state);
}

// A state written before 2026-12-06 holds every add: the first remove after the
// upgrade names each origin's latest add alone, and takes the element away on every
// node, as a later add of it would have folded them.
Test(awset, a_state_of_an_earlier_build_with_many_adds_is_removable)
{
    enum { ADDS = CRDT_OBSERVED_MAX + 44 };
    crdt_buf_t state;
    crdt_buf_init(&state);
    value_list_t adds;
    value_list_init(&adds, VALUE_LIST_BY_VALUE);
    for (uint64_t seq = 1; seq <= ADDS; seq++) {
        crdt_op_t add = prop_make_op(CRDT_OP_ADD, "a", seq, seq, "vip");
        value_list_item_t item = {.stamp = add.stamp, .value = (const uint8_t *)"vip",
                                  .value_len = 3};
        bool found = false;
        size_t index = value_list_search(&adds, &item, &found);
        cr_assert(!found && value_list_insert_at(&adds, index, &item) == 0);
    }
    tag_set_t tombstones;
    tag_set_init(&tombstones);
    codec_writer_t writer;
    codec_writer_init(&writer, &state);
    codec_put_header(&writer, CRDT_KIND_AWSET);
    value_list_encode(&adds, &writer);
    tag_set_encode(&tombstones, &writer); // and no dead list: the earlier format
    cr_assert_eq(writer.rc, 0);
    crdt_view_t view;
    cr_assert_eq(view_values(&state, &view), 1, "the earlier state reads");
    crdt_view_free(&view);
    crdt_tag_t *observed = NULL;
    crdt_op_t remove = remove_op(&state, "b", 1, 100000, "vip", &observed);
    cr_assert_eq(remove.observed_count, 1, "origin a's latest add stands for its %d", ADDS);
    crdt_buf_t elsewhere; // another node, same earlier state, taking the remove
    crdt_buf_init(&elsewhere);
    cr_assert(crdt_buf_append(&elsewhere, state.data, state.len) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_AWSET, &state, &remove) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_AWSET, &elsewhere, &remove) == 0);
    cr_assert(prop_buf_equal(&state, &elsewhere));
    cr_assert_eq(view_values(&state, &view), 0, "vip is removed");
    crdt_view_free(&view);
    free(observed);
    value_list_free(&adds);
    tag_set_free(&tombstones);
    crdt_buf_free(&elsewhere);
    crdt_buf_free(&state);
}
