#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "crdt.h"
#include "name_pool.h"

Test(name_pool, one_copy_per_name)
{
    name_pool_t *pool = name_pool_new();
    cr_assert_not_null(pool);
    char name[16] = "branch-0042";
    const char *first = name_pool_intern(pool, name);
    cr_assert_not_null(first);
    cr_assert_str_eq(first, "branch-0042");
    cr_assert_neq(first, name, "the pool keeps its own copy");
    strcpy(name, "changed"); // the caller's buffer is not the pool's
    cr_assert_str_eq(first, "branch-0042");
    cr_assert_eq(name_pool_intern(pool, "branch-0042"), first);
    const char *other = name_pool_intern(pool, "branch-0043");
    cr_assert_not_null(other);
    cr_assert_neq(other, first);
    cr_assert_eq(name_pool_count(pool), 2);
    name_pool_destroy(&pool);
    cr_assert_null(pool);
}

// Names that agree on their first 16 bytes (name_key's reach) and the longest names
// stay apart, and every pointer handed out survives the table's growth.
Test(name_pool, long_names_and_growth)
{
    name_pool_t *pool = name_pool_new();
    cr_assert_not_null(pool);
    enum { COUNT = 3000 };
    static const char *got[COUNT];
    char name[CRDT_NAME_MAX + 1];
    for (int i = 0; i < COUNT; i++) {
        snprintf(name, sizeof name, "a-shared-prefix-of-16-bytes-%05d", i);
        if (i % 7 == 0) { // the longest a name may be
            memset(name, 'x', CRDT_NAME_MAX);
            snprintf(name + CRDT_NAME_MAX - 5, 6, "%05d", i);
        }
        got[i] = name_pool_intern(pool, name);
        cr_assert_not_null(got[i], "name %d", i);
        cr_assert_str_eq(got[i], name);
    }
    cr_assert_eq(name_pool_count(pool), COUNT);
    for (int i = 0; i < COUNT; i++) {
        char copy[CRDT_NAME_MAX + 1];
        snprintf(copy, sizeof copy, "%s", got[i]);
        cr_assert_eq(name_pool_intern(pool, copy), got[i], "name %d moved", i);
    }
    cr_assert_eq(name_pool_count(pool), COUNT);
    name_pool_destroy(&pool);
}

// A peer that names ever new origins cannot grow the pool past its bound; names
// already held are still found.
Test(name_pool, bounded)
{
    name_pool_t *pool = name_pool_new();
    cr_assert_not_null(pool);
    char name[32];
    for (int i = 0; i < NAME_POOL_MAX; i++) {
        snprintf(name, sizeof name, "origin-%d", i);
        cr_assert_not_null(name_pool_intern(pool, name), "name %d", i);
    }
    cr_assert_null(name_pool_intern(pool, "one-too-many"));
    cr_assert_eq(name_pool_count(pool), NAME_POOL_MAX);
    cr_assert_str_eq(name_pool_intern(pool, "origin-0"), "origin-0");
    name_pool_destroy(&pool);
}
