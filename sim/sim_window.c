// sim_window: parallel windows of node events (see sim_window.h for the why).
#include "sim_window.h"

#include <assert.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "sim_internal.h"

// Polls of the window counter before a helper sleeps on the condition variable
// (a few hundred microseconds: windows follow each other that closely in a busy
// run, and a sleeping helper takes far longer to wake; much longer, and helpers
// that outnumber the cores take them from the thread with the work).
#define WINDOW_SPINS 2000
// Polls before the coordinator, waiting for helpers to finish, yields its core.
#define WINDOW_YIELD_SPINS 2000
// Smaller windows run on the coordinator alone: moving a node's state to the other
// core's cache cost more than the helper saved (a 10-node scenario ran 80% slower
// on two threads than on one when every window of two nodes woke the helper).
#define WINDOW_EVENTS_MIN 12
// ... but a node's event costs in proportion to the mesh (its version vectors name
// every origin), so in a larger mesh smaller windows are worth sharing: at least
// WINDOW_WORK_MIN / nodes events, and never fewer than WINDOW_EVENTS_FLOOR. With
// 201 nodes that is 5: chain-200 took 0.84 to 1.01 (median 0.93) of the time of 12
// in twelve alternated pairs; a 50-node scenario at 5 took up to two thirds more.
#define WINDOW_WORK_MIN 1200
#define WINDOW_EVENTS_FLOOR 5
#define NONE SIZE_MAX

// An event scheduled for later than the window, or for another node.
typedef struct {
    sim_event_t event;
    bool epoch_later; // for another node: stamped with its epoch when queued
} held_t;

typedef struct {
    uint64_t time_ms;
    uint32_t kind, node, peer;
    uint64_t id;
    size_t len;
} ran_t;

typedef struct {
    uint32_t link;
    bool ab;
} landed_t;

// Where a node's window went: the worker that ran it and its stretch of that
// worker's log and held events.
typedef struct {
    unsigned worker;
    size_t log_start, log_end;
    size_t held_start, held_end;
} run_t;

typedef struct {
    uint32_t node, place;
    uint64_t start_ms, end_ms;
    bool whole_mesh;
    char label[SIM_REPORT_LABEL_MAX];
} band_t;

typedef struct sim_worker {
    sim_window_t *window;
    unsigned index; // its home list
    pthread_t thread;
    bool started;
    uint64_t now_ms;
    uint32_t node;              // whose events it is running
    uint32_t bands_held;
    sim_queue_t local;          // the node's events inside the window
    held_t *held;
    size_t held_count, held_cap;
    ran_t *log;
    size_t log_count, log_cap;
    landed_t *landed;
    size_t landed_count, landed_cap;
    band_t *bands;
    size_t band_count, band_cap;
} sim_worker_t;

struct sim_window {
    sim_t *sim;
    unsigned threads;
    size_t events_min; // the fewest events a window shares with the helpers
    sim_worker_t workers[SIM_THREADS_MAX]; // [0] is the coordinator's
    // the window being run
    uint64_t end_ms;
    sim_event_t *events; // taken from the queue, in (time, order)
    size_t *next;        // per event: the next one at its node, or NONE
    size_t event_count, event_cap, next_cap;
    size_t *first, *last; // per node: its first and last event, or NONE
    uint32_t *counts;     // per node: its events in the window
    run_t *runs;          // per active node: where its window went
    uint32_t *active;     // nodes with events
    size_t active_count;
    // The active nodes by home thread (node index modulo threads), each list the
    // busiest first: a thread runs its own list, then helps with the others. A
    // node that stays on one core keeps its state in that core's cache (spread
    // over both at random, the two threads did a fifth more work in all).
    uint32_t *lists;      // threads lists of node_count
    size_t list_count[SIM_THREADS_MAX];
    // atomic, per list: its count << 32 | nodes handed out. One word, so that a
    // helper that comes late takes nothing from a window being built: the last
    // window's words are spent (handed out >= count) until this one's are stored.
    uint64_t claimed[SIM_THREADS_MAX];
    // the helpers' handshake
    uint64_t generation; // atomic: bumped to wake the helpers for a window (or to stop)
    unsigned busy;       // atomic: helpers taking or running nodes
    unsigned sleeping;   // atomic: helpers waiting on wake
    bool stopping;       // atomic
    pthread_mutex_t mutex;
    pthread_cond_t wake;
};

// The worker running on this thread, NULL outside a window.
static _Thread_local sim_worker_t *current;

static bool
reserve(void **array, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return true;
    size_t next = *cap ? *cap : 64;
    while (next < need)
        next *= 2;
    void *grown = realloc(*array, next * size);
    if (!grown)
        return false;
    *array = grown;
    *cap = next;
    return true;
}

uint64_t
sim_now(const sim_t *sim)
{
    return current ? current->now_ms : sim->now_ms;
}

// ---- what a worker's events do ----

bool
sim_window_schedule(sim_t *sim, sim_event_t *event)
{
    sim_worker_t *worker = current;
    if (!worker)
        return false;
    sim_window_t *window = worker->window;
    bool own = event->node == worker->node;
    if (own) {
        event->epoch = sim->nodes[event->node].epoch;
        if (sim_event_is_local(event->kind) && event->time_ms < window->end_ms) {
            if (sim_queue_push(&worker->local, event))
                sim_stop_out_of_memory(sim);
            return true;
        }
    }
    if (event->time_ms < window->end_ms)
        __atomic_store_n(&sim->lookahead_broken, true, __ATOMIC_RELAXED);
    if (!reserve((void **)&worker->held, &worker->held_cap, worker->held_count + 1,
                 sizeof *worker->held)) {
        free(event->bytes);
        event->bytes = NULL;
        sim_stop_out_of_memory(sim);
        return true;
    }
    worker->held[worker->held_count++] = (held_t){.event = *event, .epoch_later = !own};
    event->bytes = NULL;
    return true;
}

void
sim_window_landed(sim_t *sim, uint32_t link_index, bool ab)
{
    sim_worker_t *worker = current;
    if (worker && reserve((void **)&worker->landed, &worker->landed_cap,
                          worker->landed_count + 1, sizeof *worker->landed)) {
        worker->landed[worker->landed_count++] = (landed_t){.link = link_index, .ab = ab};
        return;
    }
    if (worker) {
        sim_stop_out_of_memory(sim);
        return;
    }
    sim_link_t *link = &sim->links[link_index];
    uint32_t *in_flight = ab ? &link->in_flight_ab : &link->in_flight_ba;
    if (*in_flight > 0)
        (*in_flight)--;
}

bool
sim_window_band(sim_t *sim, uint64_t start_ms, uint64_t end_ms, const char *label,
                bool whole_mesh)
{
    sim_worker_t *worker = current;
    if (!worker)
        return false;
    if (!reserve((void **)&worker->bands, &worker->band_cap, worker->band_count + 1,
                 sizeof *worker->bands)) {
        sim_stop_out_of_memory(sim);
        return true;
    }
    band_t *band = &worker->bands[worker->band_count++];
    *band = (band_t){.node = worker->node,
                     .place = worker->bands_held++,
                     .start_ms = start_ms,
                     .end_ms = end_ms,
                     .whole_mesh = whole_mesh};
    snprintf(band->label, sizeof band->label, "%s", label);
    return true;
}

// ---- running a window ----

// Runs every event of node in the window, and those they schedule for it inside it.
static void
run_node(sim_worker_t *worker, uint32_t node)
{
    sim_window_t *window = worker->window;
    sim_t *sim = window->sim;
    worker->node = node;
    run_t *run = &window->runs[node];
    run->worker = worker->index;
    run->log_start = worker->log_count;
    run->held_start = worker->held_count;
    worker->bands_held = 0;
    sim_queue_t *local = &worker->local;
    assert(local->count == 0);
    local->next_order = 0; // the window's events first, in queue order; then new ones
    for (size_t i = window->first[node]; i != NONE; i = window->next[i]) {
        sim_event_t event = window->events[i];
        window->events[i].bytes = NULL; // the local queue has it now
        if (sim_queue_push(local, &event))
            sim_stop_out_of_memory(sim);
    }
    sim_event_t event;
    // Bounded: a node schedules finitely many events for itself before end_ms (its
    // writes and ticks take time).
    while (sim_queue_pop(local, &event)) {
        worker->now_ms = event.time_ms;
        if (reserve((void **)&worker->log, &worker->log_cap, worker->log_count + 1,
                    sizeof *worker->log))
            worker->log[worker->log_count++] = (ran_t){.time_ms = event.time_ms,
                                                       .kind = event.kind,
                                                       .node = event.node,
                                                       .peer = event.peer,
                                                       .id = event.id,
                                                       .len = event.len};
        else
            sim_stop_out_of_memory(sim);
        sim_dispatch(sim, &event);
        free(event.bytes);
    }
    run->log_end = worker->log_count;
    run->held_end = worker->held_count;
}

static void
work(sim_worker_t *worker)
{
    sim_window_t *window = worker->window;
    current = worker;
    for (unsigned i = 0; i < window->threads; i++) {
        unsigned list = (worker->index + i) % window->threads; // its own first
        for (;;) { // bounded by the list's nodes
            uint64_t word = __atomic_fetch_add(&window->claimed[list], 1, __ATOMIC_SEQ_CST);
            uint64_t k = word & UINT32_MAX;
            if (k >= word >> 32)
                break;
            run_node(worker, window->lists[list * window->sim->node_count + k]);
        }
    }
    current = NULL;
}

static void *
helper_main(void *arg)
{
    sim_worker_t *worker = arg;
    sim_window_t *window = worker->window;
    uint64_t seen = 0;
    for (;;) {
        uint64_t generation = __atomic_load_n(&window->generation, __ATOMIC_SEQ_CST);
        for (unsigned spin = 0; generation == seen && spin < WINDOW_SPINS; spin++) {
            __builtin_ia32_pause();
            generation = __atomic_load_n(&window->generation, __ATOMIC_SEQ_CST);
        }
        if (generation == seen) {
            pthread_mutex_lock(&window->mutex);
            __atomic_add_fetch(&window->sleeping, 1, __ATOMIC_SEQ_CST);
            while ((generation = __atomic_load_n(&window->generation, __ATOMIC_SEQ_CST)) == seen)
                pthread_cond_wait(&window->wake, &window->mutex);
            __atomic_sub_fetch(&window->sleeping, 1, __ATOMIC_SEQ_CST);
            pthread_mutex_unlock(&window->mutex);
        }
        seen = generation;
        if (__atomic_load_n(&window->stopping, __ATOMIC_SEQ_CST))
            return NULL;
        // Busy before it takes a node: the coordinator waits for busy helpers
        // before it merges, and one that comes later finds the window spent.
        __atomic_add_fetch(&window->busy, 1, __ATOMIC_SEQ_CST);
        work(worker);
        __atomic_sub_fetch(&window->busy, 1, __ATOMIC_SEQ_CST);
    }
}

static void
wake_helpers(sim_window_t *self)
{
    __atomic_add_fetch(&self->generation, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&self->sleeping, __ATOMIC_SEQ_CST) > 0) {
        pthread_mutex_lock(&self->mutex);
        pthread_cond_broadcast(&self->wake);
        pthread_mutex_unlock(&self->mutex);
    }
}

static int
compare_nodes(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a;
    uint32_t y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static int
compare_bands(const void *a, const void *b)
{
    const band_t *x = a;
    const band_t *y = b;
    if (x->node != y->node)
        return x->node < y->node ? -1 : 1;
    return x->place < y->place ? -1 : x->place > y->place;
}

// What the workers did, in orders that do not depend on which thread did it: node
// by node in index order, each node's events and what they scheduled in the order
// its thread ran them.
static void
merge(sim_window_t *self)
{
    sim_t *sim = self->sim;
    qsort(self->active, self->active_count, sizeof *self->active, compare_nodes);
    uint64_t latest = sim->now_ms;
    for (size_t i = 0; i < self->active_count; i++) {
        const run_t *run = &self->runs[self->active[i]];
        sim_worker_t *worker = &self->workers[run->worker];
        for (size_t k = run->log_start; k < run->log_end; k++) {
            const ran_t *ran = &worker->log[k];
            sim_event_t event = {.time_ms = ran->time_ms,
                                 .kind = ran->kind,
                                 .node = ran->node,
                                 .peer = ran->peer,
                                 .id = ran->id,
                                 .len = ran->len};
            sim_log_event(sim, &event);
            if (ran->time_ms > latest)
                latest = ran->time_ms;
        }
        for (size_t k = run->held_start; k < run->held_end; k++) {
            held_t *held = &worker->held[k];
            if (held->epoch_later)
                held->event.epoch =
                    held->event.node < sim->node_count ? sim->nodes[held->event.node].epoch : 0;
            sim_queue_t *queue =
                sim_event_is_local(held->event.kind) ? &sim->queue : &sim->serial_queue;
            if (sim_queue_push(queue, &held->event))
                sim_stop_out_of_memory(sim);
        }
    }
    sim->now_ms = latest;
    for (unsigned t = 0; t < self->threads; t++) {
        self->workers[t].log_count = 0;
        self->workers[t].held_count = 0;
    }
    for (unsigned t = 0; t < self->threads; t++) {
        sim_worker_t *worker = &self->workers[t];
        for (size_t i = 0; i < worker->landed_count; i++) {
            sim_link_t *link = &sim->links[worker->landed[i].link];
            uint32_t *in_flight = worker->landed[i].ab ? &link->in_flight_ab : &link->in_flight_ba;
            if (*in_flight > 0)
                (*in_flight)--;
        }
        worker->landed_count = 0;
    }
    // Bands are rare (a power loss in the middle of a write): gathered one by one.
    for (;;) {
        band_t *first = NULL;
        sim_worker_t *owner = NULL;
        for (unsigned t = 0; t < self->threads; t++) {
            sim_worker_t *worker = &self->workers[t];
            if (worker->band_count == 0)
                continue;
            qsort(worker->bands, worker->band_count, sizeof *worker->bands, compare_bands);
            if (!first || compare_bands(&worker->bands[0], first) < 0) {
                first = &worker->bands[0];
                owner = worker;
            }
        }
        if (!first)
            break;
        sim_add_band(sim, first->start_ms, first->end_ms, first->label, first->whole_mesh);
        memmove(owner->bands, owner->bands + 1, (owner->band_count - 1) * sizeof *owner->bands);
        owner->band_count--;
    }
}

void
sim_window_run(sim_window_t *self, uint64_t end_ms)
{
    sim_t *sim = self->sim;
    self->end_ms = end_ms;
    self->event_count = 0;
    self->active_count = 0;
    uint64_t time_ms;
    // Bounded by the events queued before end_ms.
    while (sim_queue_peek_time(&sim->queue, &time_ms) && time_ms < end_ms) {
        if (!reserve((void **)&self->events, &self->event_cap, self->event_count + 1,
                     sizeof *self->events)) {
            sim_stop_out_of_memory(sim);
            break;
        }
        if (!reserve((void **)&self->next, &self->next_cap, self->event_count + 1,
                     sizeof *self->next)) {
            sim_stop_out_of_memory(sim);
            break;
        }
        sim_event_t *event = &self->events[self->event_count];
        sim_queue_pop(&sim->queue, event);
        size_t index = self->event_count++;
        uint32_t node = event->node;
        assert(node < sim->node_count);
        self->next[index] = NONE;
        if (self->first[node] == NONE) {
            self->first[node] = index;
            self->active[self->active_count++] = node;
            self->counts[node] = 1;
        } else {
            self->counts[node]++;
            self->next[self->last[node]] = index;
        }
        self->last[node] = index;
    }
    // The busiest nodes first (a cloud with dozens of messages, say), so that no
    // thread is left with a long one at the end while the other waits. The order
    // changes only who runs what, never the run.
    for (unsigned t = 0; t < self->threads; t++)
        self->list_count[t] = 0;
    for (size_t i = 0; i < self->active_count; i++) { // insertion sorts: a few dozen
        uint32_t node = self->active[i];
        unsigned t = node % self->threads;
        uint32_t *list = self->lists + t * sim->node_count;
        size_t k = self->list_count[t]++;
        for (; k > 0 && self->counts[list[k - 1]] < self->counts[node]; k--)
            list[k] = list[k - 1];
        list[k] = node;
    }
    for (unsigned t = 0; t < self->threads; t++)
        __atomic_store_n(&self->claimed[t], (uint64_t)self->list_count[t] << 32, __ATOMIC_SEQ_CST);
    if (self->active_count >= 2 && self->threads > 1 && self->event_count >= self->events_min)
        wake_helpers(self);
    work(&self->workers[0]);
    // Every node is taken now. Bounded: a busy helper finishes the node it took,
    // and then finds none left; one asleep or not yet scheduled is not waited for.
    for (unsigned spin = 0; __atomic_load_n(&self->busy, __ATOMIC_SEQ_CST) > 0; spin++) {
        if (spin < WINDOW_YIELD_SPINS)
            __builtin_ia32_pause();
        else
            sched_yield();
    }
    for (size_t i = 0; i < self->active_count; i++)
        self->first[self->active[i]] = NONE;
    merge(self);
}

// ---- life ----

sim_window_t *
sim_window_new(sim_t *sim, unsigned threads)
{
    if (threads < 1)
        threads = 1;
    if (threads > SIM_THREADS_MAX)
        threads = SIM_THREADS_MAX;
    sim_window_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->sim = sim;
    self->threads = 1;
    size_t by_work = WINDOW_WORK_MIN / (sim->node_count ? sim->node_count : 1);
    self->events_min = by_work > WINDOW_EVENTS_MIN     ? WINDOW_EVENTS_MIN
                       : by_work < WINDOW_EVENTS_FLOOR ? WINDOW_EVENTS_FLOOR
                                                       : by_work;
    self->workers[0].window = self;
    if (pthread_mutex_init(&self->mutex, NULL) != 0) {
        free(self);
        return NULL;
    }
    pthread_cond_init(&self->wake, NULL);
    // From here sim_window_destroy undoes whatever was made.
    self->first = malloc(sim->node_count * sizeof *self->first);
    self->last = malloc(sim->node_count * sizeof *self->last);
    self->active = malloc(sim->node_count * sizeof *self->active);
    self->counts = malloc(sim->node_count * sizeof *self->counts);
    self->lists = malloc((size_t)threads * sim->node_count * sizeof *self->lists);
    self->runs = malloc(sim->node_count * sizeof *self->runs);
    if (!self->first || !self->last || !self->active || !self->counts || !self->lists ||
        !self->runs) {
        sim_window_destroy(&self);
        return NULL;
    }
    for (size_t i = 0; i < sim->node_count; i++)
        self->first[i] = NONE;
    for (unsigned t = 1; t < threads; t++) {
        sim_worker_t *worker = &self->workers[t];
        worker->window = self;
        worker->index = t;
        if (pthread_create(&worker->thread, NULL, helper_main, worker) != 0) {
            sim_window_destroy(&self);
            return NULL;
        }
        worker->started = true;
        self->threads = t + 1;
    }
    return self;
}

void
sim_window_destroy(sim_window_t **self_p)
{
    sim_window_t *self = *self_p;
    if (!self)
        return;
    __atomic_store_n(&self->stopping, true, __ATOMIC_SEQ_CST);
    pthread_mutex_lock(&self->mutex);
    __atomic_add_fetch(&self->generation, 1, __ATOMIC_SEQ_CST);
    pthread_cond_broadcast(&self->wake);
    pthread_mutex_unlock(&self->mutex);
    for (unsigned t = 0; t < SIM_THREADS_MAX; t++) {
        sim_worker_t *worker = &self->workers[t];
        if (worker->started)
            pthread_join(worker->thread, NULL);
        sim_queue_free(&worker->local);
        for (size_t i = 0; i < worker->held_count; i++)
            free(worker->held[i].event.bytes);
        free(worker->held);
        free(worker->log);
        free(worker->landed);
        free(worker->bands);
    }
    for (size_t i = 0; i < self->event_count; i++)
        free(self->events[i].bytes);
    free(self->events);
    free(self->next);
    free(self->first);
    free(self->last);
    free(self->active);
    free(self->counts);
    free(self->lists);
    free(self->runs);
    pthread_cond_destroy(&self->wake);
    pthread_mutex_destroy(&self->mutex);
    free(self);
    *self_p = NULL;
}
