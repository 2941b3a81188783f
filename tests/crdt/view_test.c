#include <criterion/criterion.h>
#include <stdint.h>

#include "view.h"

Test(view, values_are_nul_terminated_copies)
{
    crdt_view_t view;
    view_init(&view);
    const char bytes[] = {'a', 'b', 'c', 'd'};
    for (size_t index = 0; index < 100; index++)
        cr_assert(view_add_value(&view, (const uint8_t *)bytes, index % 4) == 0);
    cr_assert(view.value_count == 100);
    cr_assert_str_eq(view.values[3], "abc");
    cr_assert_str_eq(view.values[4], "");
    cr_assert(view_add_value(&view, NULL, 0) == 0);
    cr_assert_str_eq(view.values[100], "");
    crdt_view_free(&view);
    cr_assert(view.values == NULL);
    cr_assert(view.value_count == 0);
}

Test(view, conflicts_read_origin_seq_value)
{
    crdt_view_t view;
    view_init(&view);
    crdt_tag_t tag;
    cr_assert(crdt_tag_set(&tag, "branch-12", UINT64_MAX) == 0);
    cr_assert(view_add_conflict(&view, &tag, (const uint8_t *)"bob", 3) == 0);
    cr_assert(view.conflict_count == 1);
    cr_assert_str_eq(view.conflicts[0], "branch-12:18446744073709551615=bob");
    crdt_view_free(&view);
    cr_assert(view.conflicts == NULL);
}

Test(view, free_accepts_a_count_without_strings)
{
    crdt_view_t view;
    view_init(&view);
    view.conflict_count = 2; // keep-both: the values are the conflict
    crdt_view_free(&view);
    cr_assert(view.conflict_count == 0);
}
