// sim_window: runs a simulation on several threads and still the same run, event
// for event, whatever the number of threads.
//
// Conservative parallel discrete-event simulation with a fixed lookahead. An event
// at one node (sim_event_is_local) touches that node only, and nothing it causes
// at another node, and no serial event, can come sooner than the scenario's
// lookahead (its shortest link latency and shortest power loss). So the node
// events in [t, t + lookahead), where t is the earliest queued, and before the next
// serial event, can run node by node in any order and on any thread: each node's
// events (with the ones they schedule for that node inside the window) run in
// (time, order) on one thread. What they schedule for later, or for other nodes,
// is held back; when the window ends it is queued in (scheduling node, place)
// order, the events run are hashed into the event log node by node (node order,
// each node's as it ran them: no sort), and messages that arrived give back their
// link's in-flight slot. None of
// these orders depends on the threads, so one thread and eight give one run.
#ifndef SIM_WINDOW_H
#define SIM_WINDOW_H

#include <stdbool.h>
#include <stdint.h>

#include "sim_queue.h"

#define SIM_THREADS_MAX 8

typedef struct sim sim_t;
typedef struct sim_window sim_window_t;

// threads (1..SIM_THREADS_MAX) run each window, the caller's among them: threads - 1
// helpers start here and wait. NULL when out of memory or a thread cannot start.
sim_window_t *sim_window_new(sim_t *sim, unsigned threads);
// Stops the helpers. Frees the payloads of events still held.
void sim_window_destroy(sim_window_t **self_p);
// Takes every event of sim's node queue before end_ms, runs them as described
// above, and queues what they scheduled. Called by the coordinator, between
// serial events.
void sim_window_run(sim_window_t *self, uint64_t end_ms);

// For the event handlers (sim.c and the rest) while a window runs on this thread:
// true when the window took the event (queued for this node inside the window, or
// held back until it ends); false on the coordinator outside a window, where the
// caller queues it itself.
bool sim_window_schedule(sim_t *sim, sim_event_t *event);
// A message on the link's a-to-b (ab) or b-to-a direction arrived: its in-flight
// slot is given back when the window ends (at once outside a window).
void sim_window_landed(sim_t *sim, uint32_t link, bool ab);
// True when a report band was held back for the end of the window (a worker);
// false outside a window, where the caller adds it itself.
bool sim_window_band(sim_t *sim, uint64_t start_ms, uint64_t end_ms, const char *label,
                     bool whole_mesh);

#endif
