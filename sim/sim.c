// sim: the event loop, the simulated nodes' lives (set-up, start, storage timing,
// handing a core's effects out) and the run's phases. The tills are in sim_client.c,
// the network in sim_network.c, faults, crashes and clocks in sim_fault.c, samples
// and convergence after heals in sim_sample.c. Everything that happens is an event
// on one of two queues ordered by (virtual time, insertion order): events at one
// node, which run in parallel windows (sim_window.c), and serial ones, which run
// alone between them. Nothing reads the real clock or an unseeded random source,
// so a seed replays exactly, on any number of threads.
#include "sim.h"

#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "sim_internal.h"
#include "sim_window.h"
#include "sm_error.h"

// ---- small helpers ----

uint64_t
sim_wall_ms(const sim_t *sim, const sim_node_t *node)
{
    int64_t wall = (int64_t)(sim_now(sim) + SIM_EPOCH_MS) + node->clock_offset_ms;
    return wall > 1 ? (uint64_t)wall : 1;
}

void
sim_stop_out_of_memory(sim_t *sim)
{
    __atomic_store_n(&sim->finished, true, __ATOMIC_RELAXED);
}

bool
sim_event_is_local(uint32_t kind)
{
    switch ((sim_event_kind_t)kind) {
    case EV_TICK:
    case EV_RETRY:
    case EV_WRITE_DONE:
    case EV_DELIVER:
    case EV_CRASH_IN_WRITE:
        return true;
    default:
        // EV_CLIENT grows the ledger; EV_RESTART and the faults, samples and heal
        // steps touch the report or more than one node.
        return false;
    }
}

// Every processed event goes into the event log hash (and the trace when asked).
void
sim_log_event(sim_t *sim, const sim_event_t *event)
{
    uint8_t record[8 + 4 + 4 + 4 + 8 + 8];
    size_t at = 0;
    keys_put_be64(record + at, event->time_ms);
    at += 8;
    uint32_t words[3] = {event->kind, event->node, event->peer};
    for (int i = 0; i < 3; i++) {
        record[at++] = (uint8_t)(words[i] >> 24);
        record[at++] = (uint8_t)(words[i] >> 16);
        record[at++] = (uint8_t)(words[i] >> 8);
        record[at++] = (uint8_t)words[i];
    }
    keys_put_be64(record + at, event->id);
    at += 8;
    keys_put_be64(record + at, event->len);
    at += 8;
    crypto_generichash_update(&sim->event_hash, record, at);
    sim->events++;
    if (sim->options.trace)
        fprintf(sim->options.trace, "%" PRIu64 " %u %u %u %" PRIu64 " %zu\n", event->time_ms,
                event->kind, event->node, event->peer, event->id, event->len);
}

void
sim_schedule(sim_t *sim, uint64_t at_ms, uint32_t kind, uint32_t node, uint32_t peer, uint64_t id,
             uint8_t *bytes, size_t len)
{
    sim_event_t event = {.time_ms = at_ms,
                         .kind = kind,
                         .node = node,
                         .peer = peer,
                         .id = id,
                         .bytes = bytes,
                         .len = len};
    if (sim_window_schedule(sim, &event))
        return; // a window's worker: it stamps the epoch and queues it
    event.epoch = node < sim->node_count ? sim->nodes[node].epoch : 0;
    sim_queue_t *queue = sim_event_is_local(kind) ? &sim->queue : &sim->serial_queue;
    if (sim_queue_push(queue, &event))
        sim_stop_out_of_memory(sim); // sim_run reports it
}

// ---- effects ----

static void
start_write(sim_t *sim, sim_node_t *node, const core_effect_t *effect)
{
    assert(!node->writing);
    node->writing = true;
    node->write_batch = effect->batch;
    node->write_sync = effect->sync;
    bool faulty = !sim->healing;
    node->write_rc = faulty && sim_rng_chance(&node->storage_rng, sim->scenario->random.disk_error)
                         ? -SM_EIO // a full disk or EIO: nothing applied
                         : 0;
    uint64_t latency =
        sim_rng_range(&node->storage_rng, sim->scenario->write_ms_min, sim->scenario->write_ms_max);
    sim_schedule(sim, sim_now(sim) + latency, EV_WRITE_DONE, node->index, 0, effect->batch_id, NULL,
                 0);
    if (node->crash_in_write && faulty) {
        // A fault site: this power loss strikes while the batch is being written.
        node->crash_in_write = false;
        sim_schedule(sim, sim_now(sim) + latency / 2, EV_CRASH_IN_WRITE, node->index, 0, 0, NULL, 0);
    }
}

// Hands the node's effects out: writes to storage, replies to the tills, messages
// to the network.
void
sim_drain(sim_t *sim, sim_node_t *node)
{
    if (!node->up)
        return;
    core_flush(node->core, sim_wall_ms(sim, node));
    core_effect_t effect;
    while (core_next_effect(node->core, &effect)) {
        switch (effect.kind) {
        case CORE_EFFECT_WRITE:
            start_write(sim, node, &effect);
            break;
        case CORE_EFFECT_REPLY:
            sim_on_reply(sim, node, &effect);
            break;
        case CORE_EFFECT_SEND:
            sim_send_message(sim, node, &effect);
            break;
        }
    }
}

// ---- node lives ----

#define SIM_CHECKPOINT_OPS 256
#define SIM_CHECKPOINT_BYTES (64u << 10)

int
sim_node_start(sim_t *sim, sim_node_t *node, char *err, size_t err_size)
{
    core_config_t config = {.name = node->name,
                            .rules = sim->rules,
                            .secret_key = node->secret_key,
                            .public_key = node->public_key,
                            .reader = memstore_reader(node->store),
                            .sync = true,
                            .anti_entropy_ms = (uint32_t)sim->scenario->anti_entropy_ms,
                            .peer_timeout_ms = (uint32_t)sim->scenario->peer_timeout_ms,
                            .signer = sim_signer_hooks(sim->signer),
                            .bugs = sim->options.bugs,
                            // Checkpoints far more often than a branch server: hundreds
                            // of cores share one process, and a power loss then
                            // usually has a log tail to replay.
                            .checkpoint_ops = SIM_CHECKPOINT_OPS,
                            .checkpoint_bytes = SIM_CHECKPOINT_BYTES};
    node->core = core_new(&config, err, err_size);
    if (!node->core)
        return -SM_ECORRUPT;
    int rc = core_set_peers(node->core, node->peer_table, sim->node_count - 1);
    if (rc) {
        snprintf(err, err_size, "core_set_peers: %s", sm_strerror(rc));
        core_destroy(&node->core);
        return rc;
    }
    node->up = true;
    node->writing = false;
    node->gaps_seen = 0;
    node->received_seen = 0;
    core_tick(node->core, sim_wall_ms(sim, node));
    uint64_t phase = sim_rng_below(&node->clock_rng, sim->scenario->anti_entropy_ms);
    sim_schedule(sim, sim_now(sim) + phase, EV_TICK, node->index, 0, 0, NULL, 0);
    return 0;
}

// ---- the loop ----

void
sim_dispatch(sim_t *sim, sim_event_t *event)
{
    sim_node_t *node = event->node < sim->node_count ? &sim->nodes[event->node] : NULL;
    switch ((sim_event_kind_t)event->kind) {
    case EV_TICK:
        if (!node->up || event->epoch != node->epoch)
            break;
        core_tick(node->core, sim_wall_ms(sim, node));
        sim_drain(sim, node);
        if (sim_now(sim) - node->last_writeback_ms >= SIM_WRITEBACK_MS) {
            node->last_writeback_ms = sim_now(sim);
            memstore_sync(node->store);
        }
        sim_schedule(sim, sim_now(sim) + sim->scenario->anti_entropy_ms, EV_TICK, node->index, 0, 0,
                     NULL, 0);
        break;
    case EV_CLIENT:
        sim_on_client(sim, node);
        break;
    case EV_RETRY:
        sim_on_retry(sim, node);
        break;
    case EV_WRITE_DONE:
        if (!node->up || event->epoch != node->epoch)
            break; // the crash decided what reached the disk
        if (node->write_rc == 0)
            node->write_rc = memstore_write(node->store, node->write_batch, node->write_sync);
        node->writing = false;
        core_write_done(node->core, event->id, node->write_rc);
        sim_drain(sim, node);
        break;
    case EV_DELIVER:
        sim_on_deliver(sim, node, event);
        break;
    case EV_FAULT_START:
        sim_on_fault_start(sim, event->id);
        break;
    case EV_FAULT_END:
        sim_on_fault_end(sim, event->id);
        break;
    case EV_FLAP:
        sim_on_flap(sim, event->id, event->peer == 1);
        break;
    case EV_RANDOM_CRASH:
        sim_on_random_crash(sim, node);
        break;
    case EV_RESTART:
        if (!sim->healing)
            sim_node_restart(sim, node);
        break;
    case EV_RANDOM_CUT:
        sim_on_random_cut(sim, event->peer, false);
        break;
    case EV_RANDOM_CUT_END:
        sim_on_random_cut(sim, event->peer, true);
        break;
    case EV_SAMPLE:
        sim_on_sample(sim);
        break;
    case EV_QUIET:
        sim_on_quiet(sim);
        break;
    case EV_HEAL_PHASE:
        sim_on_heal_phase(sim);
        break;
    case EV_CRASH_IN_WRITE:
        sim_on_crash_in_write(sim, node, event);
        break;
    }
}

// ---- set-up ----

typedef struct {
    const char *name;
    uint32_t index;
} name_index_t;

static int
compare_names(const void *a, const void *b)
{
    return strcmp(((const name_index_t *)a)->name, ((const name_index_t *)b)->name);
}

static int
build_nodes(sim_t *sim, char *err, size_t err_size)
{
    const scenario_t *scenario = sim->scenario;
    sim->node_count = scenario->node_count;
    sim->nodes = calloc(sim->node_count, sizeof *sim->nodes);
    sim->by_name = calloc(sim->node_count, sizeof *sim->by_name);
    sim->links = calloc(scenario->link_count ? scenario->link_count : 1, sizeof *sim->links);
    sim->sample_cap =
        (size_t)((scenario->duration_ms + scenario->heal_ms) / scenario->sample_ms) + 2;
    sim->sample_storage = calloc(sim->node_count * sim->sample_cap, sizeof *sim->sample_storage);
    sim->report.nodes = calloc(sim->node_count, sizeof *sim->report.nodes);
    if (!sim->nodes || !sim->by_name || !sim->links || !sim->sample_storage || !sim->report.nodes) {
        snprintf(err, err_size, "out of memory building %zu nodes", sim->node_count);
        return -SM_ENOMEM;
    }
    uint64_t seed = sim->options.seed;
    for (size_t i = 0; i < sim->node_count; i++) {
        sim_node_t *node = &sim->nodes[i];
        snprintf(node->name, sizeof node->name, "%s", scenario->nodes[i].name);
        node->index = (uint32_t)i;
        node->is_cloud = scenario->nodes[i].is_cloud;
        sim_keys_derive(seed, node->name, node->public_key, node->secret_key);
        sim_rng_init(&node->workload_rng, seed, SIM_STREAM_WORKLOAD, i);
        sim_rng_init(&node->storage_rng, seed, SIM_STREAM_STORAGE, i);
        sim_rng_init(&node->clock_rng, seed, SIM_STREAM_CLOCK, i);
        sim_rng_init(&node->fault_rng, seed, SIM_STREAM_FAULTS, i);
        if (scenario->random.clock_skew_ms > 0)
            node->clock_offset_ms =
                (int64_t)sim_rng_below(&node->clock_rng, 2 * scenario->random.clock_skew_ms + 1) -
                (int64_t)scenario->random.clock_skew_ms;
        node->store = memstore_new_shared(sim->pool);
        if (!node->store) {
            snprintf(err, err_size, "out of memory");
            return -SM_ENOMEM;
        }
        snprintf(node->report.name, sizeof node->report.name, "%s", node->name);
        node->report.is_cloud = node->is_cloud;
        node->report.samples = &sim->sample_storage[i * sim->sample_cap];
    }
    name_index_t *sorted = calloc(sim->node_count, sizeof *sorted);
    if (!sorted) {
        snprintf(err, err_size, "out of memory");
        return -SM_ENOMEM;
    }
    for (size_t i = 0; i < sim->node_count; i++)
        sorted[i] = (name_index_t){.name = sim->nodes[i].name, .index = (uint32_t)i};
    qsort(sorted, sim->node_count, sizeof *sorted, compare_names); // names are unique
    for (size_t i = 0; i < sim->node_count; i++)
        sim->by_name[i] = sorted[i].index;
    free(sorted);
    for (size_t i = 0; i < scenario->link_count; i++) {
        sim_rng_init(&sim->links[i].rng, seed, SIM_STREAM_NETWORK, i);
        sim_rng_init(&sim->links[i].rng_ab, seed, SIM_STREAM_SENDS, 2 * (uint64_t)i);
        sim_rng_init(&sim->links[i].rng_ba, seed, SIM_STREAM_SENDS, 2 * (uint64_t)i + 1);
        const scenario_link_t *link = &scenario->links[i];
        uint32_t ends[2] = {link->a, link->b};
        for (int e = 0; e < 2; e++) {
            sim_node_t *node = &sim->nodes[ends[e]];
            sim_adjacent_t *grown =
                realloc(node->adjacent, (node->adjacent_count + 1) * sizeof *grown);
            if (!grown) {
                snprintf(err, err_size, "out of memory");
                return -SM_ENOMEM;
            }
            node->adjacent = grown;
            node->adjacent[node->adjacent_count++] =
                (sim_adjacent_t){.link = (uint32_t)i, .other = ends[1 - e]};
        }
    }
    // Every node trusts every key (a provisioned chain); links are the exchanges.
    for (size_t i = 0; i < sim->node_count; i++) {
        sim_node_t *node = &sim->nodes[i];
        node->peer_table = calloc(sim->node_count, sizeof *node->peer_table);
        if (!node->peer_table) {
            snprintf(err, err_size, "out of memory");
            return -SM_ENOMEM;
        }
        size_t count = 0;
        for (size_t k = 0; k < sim->node_count; k++) {
            if (k == i)
                continue;
            node->peer_table[count++] =
                (core_peer_t){.name = sim->nodes[k].name,
                              .public_key = sim->nodes[k].public_key,
                              .exchange = sim_adjacent_find(node, (uint32_t)k) != NULL};
        }
    }
    return 0;
}

// How soon, at the least, an event at one node can cause an event at another or a
// serial one: a message's latency, or a power loss from a write (EV_CRASH_IN_WRITE
// schedules the restart). Jitter only adds to a latency.
static uint64_t
lookahead_ms(const scenario_t *scenario)
{
    uint64_t shortest = UINT64_MAX;
    for (size_t i = 0; i < scenario->link_count; i++)
        if (scenario->links[i].latency_ms_min < shortest)
            shortest = scenario->links[i].latency_ms_min;
    if (scenario->random.crash_per_hour > 0 && scenario->random.crash_down_ms_min < shortest)
        shortest = scenario->random.crash_down_ms_min;
    return shortest == UINT64_MAX ? 1000 : shortest; // no links, no crashes: any width
}

sim_t *
sim_new(const scenario_t *scenario, const rules_t *rules, const sim_options_t *options, char *err,
        size_t err_size)
{
    const char *authority = rules_authority(rules);
    if (scenario->cloud != UINT32_MAX &&
        (!authority || strcmp(authority, scenario->nodes[scenario->cloud].name) != 0)) {
        snprintf(err, err_size,
                 "%s: the scenario's cloud is '%s' but the rules file %s names authority '%s'; "
                 "make topology.cloud the rules' authority",
                 scenario->path, scenario->nodes[scenario->cloud].name, scenario->rules_path,
                 authority ? authority : "(none)");
        return NULL;
    }
    if (scenario->node_count < 1 || scenario->sample_ms == 0 || scenario->anti_entropy_ms == 0) {
        snprintf(err, err_size, "%s: the scenario has no nodes or a zero period", scenario->path);
        return NULL;
    }
    sim_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    self->scenario = scenario;
    self->rules = rules;
    self->options = *options;
    sim_queue_init(&self->queue);
    sim_queue_init(&self->serial_queue);
    crypto_generichash_init(&self->event_hash, NULL, 0, 32);
    self->signer = sim_signer_new(scenario->ed25519);
    self->pool = memstore_pool_new();
    if (!self->signer || !self->pool || build_nodes(self, err, err_size)) {
        if (!self->signer || !self->pool)
            snprintf(err, err_size, "out of memory");
        sim_destroy(&self);
        return NULL;
    }
    sim_rng_init(&self->network_rng, options->seed, SIM_STREAM_NETWORK, UINT32_MAX);
    self->lookahead_ms = lookahead_ms(scenario);
    self->window = sim_window_new(self, options->threads);
    if (!self->window) {
        snprintf(err, err_size, "out of memory, or a simulator thread could not start");
        sim_destroy(&self);
        return NULL;
    }
    sim_report_t *report = &self->report;
    snprintf(report->scenario, sizeof report->scenario, "%s", scenario->name);
    report->seed = options->seed;
    snprintf(report->replay, sizeof report->replay, "storemesh-sim %.450s --seed %" PRIu64,
             options->replay_arguments ? options->replay_arguments : scenario->path, options->seed);
    report->duration_ms = scenario->duration_ms;
    const rules_limits_t *limits = rules_limits(rules);
    report->limit_depth = limits->max_queue_depth;
    report->warn_depth = limits->max_queue_depth * limits->warn_at_percent / 100;
    report->node_count = self->node_count;
    report->sample_ms = scenario->sample_ms;
    report->bands = self->bands;
    report->heals = self->heals;
    report->conflicts = self->conflicts;
    report->checks = self->checks;
    report->sometimes = self->marks;
    for (size_t i = 0; i < self->node_count; i++)
        report->nodes[i] = self->nodes[i].report;
    return self;
}

void
sim_destroy(sim_t **self_p)
{
    sim_t *self = *self_p;
    if (!self)
        return;
    sim_window_destroy(&self->window); // its helper threads first
    for (size_t i = 0; self->nodes && i < self->node_count; i++) {
        sim_node_t *node = &self->nodes[i];
        core_destroy(&node->core);
        memstore_destroy(&node->store);
        free(node->adjacent);
        free(node->peer_table);
        for (size_t k = 0; k < node->request_count; k++)
            free(node->requests[k].commands);
        free(node->requests);
        free(node->retry);
    }
    memstore_pool_destroy(&self->pool); // after every store that shared it
    free(self->nodes);
    free(self->by_name);
    free(self->links);
    free(self->ledger);
    free(self->sample_storage);
    free(self->report.nodes);
    sim_queue_free(&self->queue);
    sim_queue_free(&self->serial_queue);
    sim_signer_destroy(&self->signer);
    free(self);
    *self_p = NULL;
}

void
sim_stop_threads(sim_t *self)
{
    sim_window_destroy(&self->window);
}

int
sim_run(sim_t *self, char *err, size_t err_size)
{
    const scenario_t *scenario = self->scenario;
    for (size_t i = 0; i < self->node_count; i++) {
        if (sim_node_start(self, &self->nodes[i], err, err_size))
            return -SM_ECORRUPT;
        sim_schedule(self, 0, EV_CLIENT, (uint32_t)i, 0, 0, NULL, 0);
        sim_schedule(self, 0, EV_RANDOM_CRASH, (uint32_t)i, 0, 0, NULL, 0);
    }
    for (size_t i = 0; i < scenario->link_count; i++)
        sim_schedule(self, 0, EV_RANDOM_CUT, UINT32_MAX, (uint32_t)i, 0, NULL, 0);
    for (size_t i = 0; i < scenario->fault_count; i++)
        sim_schedule(self, scenario->faults[i].at_ms, EV_FAULT_START, UINT32_MAX, 0, i, NULL, 0);
    sim_schedule(self, 0, EV_SAMPLE, UINT32_MAX, 0, 0, NULL, 0);
    sim_schedule(self, scenario->duration_ms, EV_HEAL_PHASE, UINT32_MAX, 0, 0, NULL, 0);

    // Bounded by the scenario's duration and heal time: the heal phase finishes the
    // run, and every event schedules its successors later than itself.
    while (!__atomic_load_n(&self->finished, __ATOMIC_RELAXED)) {
        uint64_t node_ms = UINT64_MAX;
        uint64_t serial_ms = UINT64_MAX;
        sim_queue_peek_time(&self->queue, &node_ms);
        sim_queue_peek_time(&self->serial_queue, &serial_ms);
        if (node_ms == UINT64_MAX && serial_ms == UINT64_MAX)
            break;
        if (serial_ms <= node_ms || self->lookahead_ms == 0) {
            // Alone: a serial event (first at a tie), or any event when the scenario
            // leaves no room for a window.
            sim_event_t event;
            sim_queue_pop(serial_ms <= node_ms ? &self->serial_queue : &self->queue, &event);
            assert(event.time_ms >= self->now_ms);
            self->now_ms = event.time_ms;
            sim_log_event(self, &event);
            sim_dispatch(self, &event);
            free(event.bytes);
            continue;
        }
        uint64_t end_ms = node_ms + self->lookahead_ms;
        sim_window_run(self->window, end_ms < serial_ms ? end_ms : serial_ms);
        if (self->lookahead_broken) {
            snprintf(err, err_size,
                     "an event came sooner than the lookahead of %" PRIu64
                     " ms: a simulator bug; please report it with the scenario",
                     self->lookahead_ms);
            return -SM_ECORRUPT;
        }
    }
    if (!self->healing) {
        snprintf(err, err_size, "the simulation stopped before its heal phase (out of memory?)");
        return -SM_ENOMEM;
    }
    self->report.end_ms = self->now_ms;
    self->report.events = self->events;
    uint8_t hash[32];
    crypto_generichash_final(&self->event_hash, hash, sizeof hash);
    for (int i = 0; i < 32; i++)
        snprintf(&self->report.event_hash[2 * i], 3, "%02x", hash[i]);
    for (size_t i = 0; i < self->node_count; i++) {
        sim_node_t *node = &self->nodes[i];
        if (node->up) {
            const core_replication_counters_t *counters = core_counters(node->core);
            node->report.messages_sent = node->messages_sent_base + counters->messages_sent;
            node->report.bytes_sent = node->bytes_sent_base + counters->bytes_sent;
        }
        self->report.nodes[i] = node->report;
    }
    int rc = sim_check_all(self);
    if (rc)
        snprintf(err, err_size, "the checks ran out of memory");
    return rc;
}

sim_report_t *
sim_report(sim_t *self)
{
    return &self->report;
}
