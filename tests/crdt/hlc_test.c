#include <criterion/criterion.h>
#include <stdint.h>

#include "hlc.h"

#define WALL_MS_MAX ((UINT64_C(1) << (64 - HLC_LOGICAL_BITS)) - 1)

Test(hlc, now_follows_the_wall_clock_when_it_moves_forward)
{
    hlc_t clock;
    hlc_init(&clock, 0);
    cr_assert(hlc_now(&clock, 1000) == UINT64_C(1000) << HLC_LOGICAL_BITS);
    cr_assert(hlc_now(&clock, 2000) == UINT64_C(2000) << HLC_LOGICAL_BITS);
    cr_assert(hlc_wall_ms(hlc_now(&clock, 3000)) == 3000);
}

Test(hlc, now_is_monotonic_when_the_wall_clock_steps_back_to_zero)
{
    hlc_t clock;
    hlc_init(&clock, 0);
    uint64_t before = hlc_now(&clock, 1700000000000);
    uint64_t previous = before;
    for (int step = 0; step < 1000; step++) {
        uint64_t time = hlc_now(&clock, 0);
        cr_assert(time > previous);
        previous = time;
    }
    cr_assert(hlc_wall_ms(previous) == 1700000000000, "the logical counter absorbs the step");
}

Test(hlc, now_is_strictly_increasing_when_the_wall_clock_stalls)
{
    hlc_t clock;
    hlc_init(&clock, 0);
    uint64_t first = hlc_now(&clock, 5);
    uint64_t second = hlc_now(&clock, 5);
    cr_assert(second == first + 1);
}

Test(hlc, full_logical_counter_carries_into_the_next_millisecond)
{
    hlc_t clock;
    hlc_init(&clock, (UINT64_C(7) << HLC_LOGICAL_BITS) | 0xFFFF);
    uint64_t time = hlc_now(&clock, 7);
    cr_assert(time == UINT64_C(8) << HLC_LOGICAL_BITS);
}

Test(hlc, observe_orders_later_local_times_after_the_remote_one)
{
    hlc_t clock;
    hlc_init(&clock, 0);
    hlc_now(&clock, 100);
    uint64_t remote = (UINT64_C(500) << HLC_LOGICAL_BITS) | 3;
    hlc_observe(&clock, remote);
    uint64_t local = hlc_now(&clock, 100);
    cr_assert(local > remote);
    cr_assert(hlc_wall_ms(local) == 500);
}

Test(hlc, observe_of_an_older_time_changes_nothing)
{
    hlc_t clock;
    hlc_init(&clock, 0);
    uint64_t latest = hlc_now(&clock, 900);
    hlc_observe(&clock, 5);
    cr_assert(clock.last == latest);
    cr_assert(hlc_now(&clock, 0) == latest + 1);
}

Test(hlc, init_with_a_recovered_time_never_issues_at_or_below_it)
{
    hlc_t clock;
    uint64_t recovered = (UINT64_C(1000) << HLC_LOGICAL_BITS) | 42;
    hlc_init(&clock, recovered);
    cr_assert(hlc_now(&clock, 10) == recovered + 1);
}

Test(hlc, wall_reading_beyond_48_bits_counts_as_the_largest)
{
    hlc_t clock;
    hlc_init(&clock, 0);
    uint64_t time = hlc_now(&clock, UINT64_MAX);
    cr_assert(time == WALL_MS_MAX << HLC_LOGICAL_BITS);
    cr_assert(hlc_now(&clock, UINT64_MAX) == time + 1);
}

Test(hlc, saturates_at_the_largest_time)
{
    hlc_t clock;
    hlc_init(&clock, 0);
    hlc_observe(&clock, UINT64_MAX);
    cr_assert(hlc_now(&clock, 1) == UINT64_MAX);
    cr_assert(hlc_now(&clock, 1) == UINT64_MAX);
}
