#include "hlc.h"

#include <assert.h>
#include <stddef.h>

// The largest wall reading the high 48 bits hold (year 10889); later readings clamp.
#define HLC_WALL_MS_MAX ((UINT64_C(1) << (64 - HLC_LOGICAL_BITS)) - 1)

void
hlc_init(hlc_t *self, uint64_t last)
{
    assert(self != NULL);
    self->last = last;
}

uint64_t
hlc_now(hlc_t *self, uint64_t wall_ms)
{
    assert(self != NULL);
    if (wall_ms > HLC_WALL_MS_MAX)
        wall_ms = HLC_WALL_MS_MAX;
    uint64_t physical = wall_ms << HLC_LOGICAL_BITS;
    if (physical > self->last)
        self->last = physical;
    else if (self->last < UINT64_MAX)
        self->last++; // a full logical counter carries into the next millisecond
    return self->last;
}

void
hlc_observe(hlc_t *self, uint64_t remote)
{
    assert(self != NULL);
    if (remote > self->last)
        self->last = remote;
}
