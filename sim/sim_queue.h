// sim_queue: the simulator's event queue, a binary heap ordered by (virtual time,
// insertion counter) and never by pointer, so equal times run in the order they
// were scheduled, the same way every run. Events own their payload bytes.
#ifndef SIM_QUEUE_H
#define SIM_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t time_ms;
    uint64_t order;    // insertion counter: the tie-break
    uint32_t kind;     // sim.c's event kinds
    uint32_t node;     // the node it happens at
    uint32_t peer;     // DELIVER: the sender; others: kind-specific
    uint32_t epoch;    // the node's life it belongs to (stale after a crash)
    uint64_t id;       // kind-specific: a batch ID, a fault index, a ledger entry
    uint8_t *bytes;    // malloc'd payload or NULL; the queue frees undelivered ones
    size_t len;
} sim_event_t;

typedef struct {
    sim_event_t *heap;
    size_t count;
    size_t cap;
    uint64_t next_order;
} sim_queue_t;

void sim_queue_init(sim_queue_t *self);
// Frees every queued payload.
void sim_queue_free(sim_queue_t *self);
// Takes over event->bytes. 0 or -SM_ENOMEM (the payload is freed).
int sim_queue_push(sim_queue_t *self, sim_event_t *event);
// The earliest event; false when empty. The caller owns out->bytes.
bool sim_queue_pop(sim_queue_t *self, sim_event_t *out);
bool sim_queue_peek_time(const sim_queue_t *self, uint64_t *time_ms);

#endif
