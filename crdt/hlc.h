// hlc: a hybrid logical clock. Times are wall milliseconds in the high 48 bits and
// a logical counter in the low 16, so they sort like wall time when clocks agree
// and still move forward when a clock stalls or steps back. The wall reading comes
// from outside (the node's adapter or the simulator); hlc never reads a clock.
#ifndef CRDT_HLC_H
#define CRDT_HLC_H

#include <stdint.h>

#define HLC_LOGICAL_BITS 16

typedef struct {
    uint64_t last; // the largest time issued or observed
} hlc_t;

// Starts a clock that will never issue a time <= last (0 for a new node; the
// recovered maximum after a restart).
void hlc_init(hlc_t *self, uint64_t last);
// A new time for a local event, strictly greater than every earlier one. A wall
// reading beyond 48 bits counts as the largest one. Once last is UINT64_MAX (only
// reachable by observing such a time) it stays there: a caller that observes
// untrusted times should bound them against its own wall clock first.
uint64_t hlc_now(hlc_t *self, uint64_t wall_ms);
// Folds a time seen in a remote operation, so later local times order after it.
void hlc_observe(hlc_t *self, uint64_t remote);
static inline uint64_t
hlc_wall_ms(uint64_t hlc)
{
    return hlc >> HLC_LOGICAL_BITS;
}

#endif
