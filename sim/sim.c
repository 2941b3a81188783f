// sim: the event loop, the simulated nodes, network, clock, storage timing,
// faults and workload. Everything that happens is an event on one queue ordered
// by (virtual time, insertion order); nothing reads the real clock or an unseeded
// random source, so a seed replays exactly.
#include "sim.h"

#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "audit_id.h"
#include "keys.h"
#include "sim_internal.h"
#include "sm_error.h"
#include "storemesh.pb-c.h"

// ---- small helpers ----

static int
grow(void **array, size_t *cap, size_t count, size_t size)
{
    if (count < *cap)
        return 0;
    size_t next = *cap ? *cap * 2 : 16;
    void *grown = realloc(*array, next * size);
    if (!grown)
        return -SM_ENOMEM;
    *array = grown;
    *cap = next;
    return 0;
}

static uint64_t
wall_ms(const sim_t *sim, const sim_node_t *node)
{
    int64_t wall = (int64_t)(sim->now_ms + SIM_EPOCH_MS) + node->clock_offset_ms;
    return wall > 1 ? (uint64_t)wall : 1;
}

// Every processed event goes into the event log hash (and the trace when asked).
static void
log_event(sim_t *sim, const sim_event_t *event)
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

static void
schedule(sim_t *sim, uint64_t at_ms, uint32_t kind, uint32_t node, uint32_t peer, uint64_t id,
         uint8_t *bytes, size_t len)
{
    sim_event_t event = {.time_ms = at_ms,
                         .kind = kind,
                         .node = node,
                         .peer = peer,
                         .epoch = node < sim->node_count ? sim->nodes[node].epoch : 0,
                         .id = id,
                         .bytes = bytes,
                         .len = len};
    if (sim_queue_push(&sim->queue, &event))
        sim->finished = true; // out of memory: stop; sim_run reports it
}

static void
add_band(sim_t *sim, uint64_t start_ms, uint64_t end_ms, const char *label, bool whole_mesh)
{
    if (sim->report.band_count >= SIM_BANDS_MAX)
        return;
    sim_report_band_t *band = &sim->bands[sim->report.band_count++];
    band->start_ms = start_ms;
    band->end_ms = end_ms;
    snprintf(band->label, sizeof band->label, "%s", label);
    band->whole_mesh = whole_mesh;
}

static void
add_heal(sim_t *sim, const char *label)
{
    if (sim->report.heal_count >= SIM_HEALS_MAX)
        return;
    sim_report_heal_t *heal = &sim->heals[sim->report.heal_count++];
    heal->heal_ms = sim->now_ms;
    heal->converged_ms = 0;
    snprintf(heal->label, sizeof heal->label, "%s", label);
    sim->awaiting = true;
    if (!sim->quiet_scheduled) {
        sim->quiet_scheduled = true;
        schedule(sim, sim->now_ms + SIM_QUIET_CHECK_MS, EV_QUIET, UINT32_MAX, 0, 0, NULL, 0);
    }
}

typedef struct {
    const char *name;
    uint32_t index;
} name_index_t;

static int
compare_names(const void *a, const void *b)
{
    return strcmp(((const name_index_t *)a)->name, ((const name_index_t *)b)->name);
}

static sim_node_t *
node_by_name(const sim_t *sim, const char *name)
{
    size_t low = 0;
    size_t high = sim->node_count;
    while (low < high) {
        size_t mid = low + (high - low) / 2;
        int rc = strcmp(sim->nodes[sim->by_name[mid]].name, name);
        if (rc == 0)
            return &sim->nodes[sim->by_name[mid]];
        if (rc < 0)
            low = mid + 1;
        else
            high = mid;
    }
    return NULL;
}

// ---- the ledger ----

static uint32_t
ledger_add(sim_t *sim, const sim_command_t *command)
{
    if (grow((void **)&sim->ledger, &sim->ledger_cap, sim->ledger_count, sizeof *sim->ledger)) {
        sim->finished = true;
        return UINT32_MAX;
    }
    sim->ledger[sim->ledger_count] = *command;
    return (uint32_t)sim->ledger_count++;
}

static void
want_retry(sim_t *sim, sim_node_t *node, uint32_t entry)
{
    sim_command_t *command = &sim->ledger[entry];
    command->state = CMD_RETRY;
    if (grow((void **)&node->retry, &node->retry_cap, node->retry_count, sizeof *node->retry)) {
        sim->finished = true;
        return;
    }
    node->retry[node->retry_count++] = entry;
    if (node->up)
        schedule(sim, sim->now_ms + sim->scenario->workload.retry_ms, EV_RETRY, node->index, 0, 0,
                 NULL, 0);
}

// ---- effects ----

static void drain(sim_t *sim, sim_node_t *node);

static void
on_reply(sim_t *sim, sim_node_t *node, const core_effect_t *effect)
{
    size_t index = 0;
    while (index < node->request_count && node->requests[index].request_id != effect->request_id)
        index++;
    if (index == node->request_count)
        return; // answered in an earlier life (cannot happen: the core died with it)
    sim_request_t request = node->requests[index];
    memmove(&node->requests[index], &node->requests[index + 1],
            (node->request_count - index - 1) * sizeof *node->requests);
    node->request_count--;
    assert(effect->result_count == request.count);
    for (size_t i = 0; i < request.count && i < effect->result_count; i++) {
        sim_command_t *command = &sim->ledger[request.commands[i]];
        const core_result_t *result = &effect->results[i];
        switch (result->code) {
        case CORE_RESULT_OK: {
            char origin[CRDT_NAME_MAX + 1];
            uint64_t seq = 0;
            if (audit_id_parse(result->audit_id, origin, &seq) != 0 ||
                strcmp(origin, node->name) != 0) {
                command->answered_twice_differently = true;
                break;
            }
            if (command->seq != 0 && command->seq != seq)
                command->answered_twice_differently = true;
            if (command->seq == 0)
                command->seq = seq;
            if (result->duplicate && command->was_unknown)
                sim->sometimes[MARK_RETRY_ANSWERED_FROM_LOG]++;
            command->state = CMD_ACKED;
            node->report.commands_acked++;
            if (node->clock_went_back)
                sim->sometimes[MARK_CLOCK_JUMP_BACK_THEN_ACK]++;
            break;
        }
        case CORE_RESULT_REFUSED:
            command->state = CMD_REFUSED;
            node->report.commands_refused++;
            break;
        case CORE_RESULT_BAD_INPUT:
            command->state = CMD_BAD_INPUT;
            break;
        case CORE_RESULT_FAILED:
        default:
            node->report.commands_failed++;
            sim->sometimes[MARK_DISK_ERROR_REFUSED]++;
            want_retry(sim, node, request.commands[i]);
            break;
        }
    }
    free(request.commands);
}

static bool
link_carries(const sim_t *sim, uint32_t link_index, uint32_t from)
{
    if (sim->healing)
        return true;
    const sim_link_t *link = &sim->links[link_index];
    const scenario_link_t *shape = &sim->scenario->links[link_index];
    if (link->cut_both > 0 || link->flap_down)
        return false;
    if (from == shape->a)
        return link->cut_ab == 0;
    return link->cut_ba == 0;
}

static const sim_adjacent_t *
adjacent_find(const sim_node_t *node, uint32_t other)
{
    for (size_t i = 0; i < node->adjacent_count; i++)
        if (node->adjacent[i].other == other)
            return &node->adjacent[i];
    return NULL;
}

static void
send_message(sim_t *sim, sim_node_t *from, const core_effect_t *effect)
{
    sim_node_t *to = node_by_name(sim, effect->peer);
    if (!to)
        return;
    const sim_adjacent_t *adjacent = adjacent_find(from, to->index);
    if (!adjacent)
        return; // no link: a real transport has no socket to send it on
    sim_link_t *link = &sim->links[adjacent->link];
    const scenario_link_t *shape = &sim->scenario->links[adjacent->link];
    uint32_t *in_flight = from->index == shape->a ? &link->in_flight_ab : &link->in_flight_ba;
    const scenario_random_t *random = &sim->scenario->random;
    bool faulty = !sim->healing;
    if (!link_carries(sim, adjacent->link, from->index) || *in_flight >= SIM_LINK_MESSAGES_MAX ||
        (faulty && sim_rng_chance(&link->rng, random->loss))) {
        sim->report.messages_lost++;
        return;
    }
    int copies = faulty && sim_rng_chance(&link->rng, random->duplicate) ? 2 : 1;
    if (copies == 2)
        sim->report.messages_duplicated++;
    for (int i = 0; i < copies; i++) {
        uint8_t *bytes = malloc(effect->len ? effect->len : 1);
        if (!bytes) {
            sim->finished = true;
            return;
        }
        memcpy(bytes, effect->bytes, effect->len);
        uint64_t delay = sim_rng_range(&link->rng, shape->latency_ms_min, shape->latency_ms_max);
        if (faulty && random->jitter_ms)
            delay += sim_rng_below(&link->rng, (uint64_t)random->jitter_ms + 1);
        (*in_flight)++;
        schedule(sim, sim->now_ms + delay, EV_DELIVER, to->index, from->index, adjacent->link,
                 bytes, effect->len);
    }
}

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
    uint64_t latency = sim_rng_range(&node->storage_rng, sim->scenario->write_ms_min,
                                     sim->scenario->write_ms_max);
    schedule(sim, sim->now_ms + latency, EV_WRITE_DONE, node->index, 0, effect->batch_id, NULL, 0);
    if (node->crash_in_write && faulty) {
        // A fault site: this power loss strikes while the batch is being written.
        node->crash_in_write = false;
        schedule(sim, sim->now_ms + latency / 2, EV_CRASH_IN_WRITE, node->index, 0, 0, NULL, 0);
    }
}

// Hands the node's effects out: writes to storage, replies to the tills, messages
// to the network.
static void
drain(sim_t *sim, sim_node_t *node)
{
    if (!node->up)
        return;
    core_flush(node->core, wall_ms(sim, node));
    core_effect_t effect;
    while (core_next_effect(node->core, &effect)) {
        switch (effect.kind) {
        case CORE_EFFECT_WRITE:
            start_write(sim, node, &effect);
            break;
        case CORE_EFFECT_REPLY:
            on_reply(sim, node, &effect);
            break;
        case CORE_EFFECT_SEND:
            send_message(sim, node, &effect);
            break;
        }
    }
}

// ---- node lives ----

static int
node_start(sim_t *sim, sim_node_t *node, char *err, size_t err_size)
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
                            .bugs = sim->options.bugs};
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
    core_tick(node->core, wall_ms(sim, node));
    uint64_t phase = sim_rng_below(&node->clock_rng, sim->scenario->anti_entropy_ms);
    schedule(sim, sim->now_ms + phase, EV_TICK, node->index, 0, 0, NULL, 0);
    return 0;
}

static void
node_crash(sim_t *sim, sim_node_t *node)
{
    if (!node->up)
        return;
    const core_replication_counters_t *counters = core_counters(node->core);
    node->messages_sent_base += counters->messages_sent;
    node->bytes_sent_base += counters->bytes_sent;
    if (node->writing && node->write_rc == 0) {
        // The batch was on its way to the WAL: it may have made it, unacknowledged.
        sim->sometimes[MARK_CRASH_BETWEEN_WRITE_AND_ACK]++;
        if (sim_rng_chance(&node->storage_rng, 0.5))
            memstore_write(node->store, node->write_batch, node->write_sync);
    }
    size_t unsynced = memstore_unsynced_count(node->store);
    // A power loss: unsynced batches are lost, but a prefix may have reached the disk.
    memstore_crash(node->store, (size_t)sim_rng_below(&node->storage_rng, unsynced + 1));
    core_destroy(&node->core);
    node->up = false;
    node->epoch++;
    node->writing = false;
    node->report.crashes++;
    node->crash_ms = sim->now_ms;
    node->crashed_in_catch_up =
        node->last_receive_ops_ms > 0 && sim->now_ms - node->last_receive_ops_ms < 5000;
    for (size_t i = 0; i < node->request_count; i++) {
        for (size_t k = 0; k < node->requests[i].count; k++) {
            uint32_t entry = node->requests[i].commands[k];
            sim->ledger[entry].was_unknown = true;
            want_retry(sim, node, entry);
        }
        free(node->requests[i].commands);
    }
    node->request_count = 0;
}

static void
node_restart(sim_t *sim, sim_node_t *node)
{
    if (node->up)
        return;
    char err[512];
    if (node_start(sim, node, err, sizeof err)) {
        sim->restart_failures++;
        snprintf(sim->restart_detail, sizeof sim->restart_detail, "%s did not restart: %.150s",
                 node->name, err);
        return;
    }
    if (node->retry_count > 0)
        schedule(sim, sim->now_ms + 1 + sim_rng_below(&node->workload_rng, 1000), EV_RETRY,
                 node->index, 0, 0, NULL, 0);
}

// ---- clients ----

static void
submit(sim_t *sim, sim_node_t *node, const uint32_t *entries, size_t count)
{
    core_command_t *commands = calloc(count, sizeof *commands);
    sim_command_text_t *texts = calloc(count, sizeof *texts);
    sim_request_t request = {.request_id = ++sim->next_request_id,
                             .commands = malloc(count * sizeof(uint32_t)),
                             .count = count};
    if (!commands || !texts || !request.commands ||
        grow((void **)&node->requests, &node->request_cap, node->request_count,
             sizeof *node->requests)) {
        free(commands);
        free(texts);
        free(request.commands);
        sim->finished = true;
        return;
    }
    for (size_t i = 0; i < count; i++) {
        sim_command_t *command = &sim->ledger[entries[i]];
        command->state = CMD_PENDING;
        command->attempts++;
        sim_command_build(sim, command, &texts[i], &commands[i]);
        request.commands[i] = entries[i];
    }
    int rc = core_submit(node->core, request.request_id, commands, count, wall_ms(sim, node));
    free(commands);
    free(texts);
    if (rc) { // busy: the till tries again later
        for (size_t i = 0; i < count; i++)
            want_retry(sim, node, request.commands[i]);
        free(request.commands);
        return;
    }
    node->requests[node->request_count++] = request;
    drain(sim, node);
}

static void
on_client(sim_t *sim, sim_node_t *node)
{
    const scenario_workload_t *work = &sim->scenario->workload;
    double rate = node->is_cloud ? work->cloud_per_hour : work->branch_per_hour;
    if (rate <= 0 || sim->healing)
        return;
    schedule(sim, sim->now_ms + sim_rng_exponential(&node->workload_rng, 3600000.0 / rate),
             EV_CLIENT, node->index, 0, 0, NULL, 0);
    if (!node->up)
        return; // the till cannot reach its node: the sale waits on paper
    uint32_t batch = work->batch_max ? work->batch_max : 1;
    uint32_t entries[64];
    if (batch > 64)
        batch = 64;
    size_t count = 0;
    for (uint32_t i = 0; i < batch; i++) {
        sim_command_t command;
        sim_command_draw(sim, node, &command);
        command.first_ms = sim->now_ms;
        uint32_t entry = ledger_add(sim, &command);
        if (entry == UINT32_MAX)
            return;
        entries[count++] = entry;
    }
    sim->report.commands += count;
    submit(sim, node, entries, count);
}

static void
on_retry(sim_t *sim, sim_node_t *node)
{
    if (!node->up || node->retry_count == 0)
        return;
    uint32_t entries[64];
    size_t count = 0;
    while (node->retry_count > 0 && count < 64) {
        uint32_t entry = node->retry[0];
        memmove(&node->retry[0], &node->retry[1], (node->retry_count - 1) * sizeof *node->retry);
        node->retry_count--;
        if (sim->ledger[entry].state == CMD_RETRY)
            entries[count++] = entry;
    }
    for (size_t i = 0; i < count; i++)
        submit(sim, node, &entries[i], 1);
    if (node->retry_count > 0)
        schedule(sim, sim->now_ms + 100, EV_RETRY, node->index, 0, 0, NULL, 0);
}

// ---- markers read from the core's counters ----

static void
after_receive(sim_t *sim, sim_node_t *node, uint32_t from, const uint8_t *bytes, size_t len)
{
    const core_replication_counters_t *counters = core_counters(node->core);
    if (counters->gaps > node->gaps_seen)
        node->gap_open = true;
    node->gaps_seen = counters->gaps;
    if (counters->operations_received == node->received_seen)
        return;
    node->received_seen = counters->operations_received;
    node->last_receive_ops_ms = sim->now_ms;
    if (node->crashed_in_catch_up) {
        node->crashed_in_catch_up = false;
        sim->sometimes[MARK_RESUMED_CATCH_UP]++;
    }
    if (sim->sometimes[MARK_RELAYED_OPERATIONS] > 1000 && !node->gap_open)
        return; // counted enough: spare the decoding
    Storemesh__PeerMessage *message = storemesh__peer_message__unpack(NULL, len, bytes);
    if (message && message->body_case == STOREMESH__PEER_MESSAGE__BODY_OPS && message->ops->origin &&
        strcmp(message->ops->origin, sim->nodes[from].name) != 0) {
        sim->sometimes[MARK_RELAYED_OPERATIONS]++;
        if (node->gap_open) {
            node->gap_open = false;
            sim->sometimes[MARK_GAP_FILLED_BY_RELAY]++;
        }
    }
    storemesh__peer_message__free_unpacked(message, NULL);
}

// ---- faults ----

static void
apply_cut(sim_t *sim, const scenario_fault_t *fault, int step)
{
    for (size_t i = 0; i < fault->cut_count; i++) {
        sim_link_t *link = &sim->links[fault->cuts[i].link];
        uint32_t *counter = fault->cuts[i].dir == SCENARIO_CUT_BOTH ? &link->cut_both
                            : fault->cuts[i].dir == SCENARIO_CUT_A_TO_B ? &link->cut_ab
                                                                         : &link->cut_ba;
        if (step > 0)
            (*counter)++;
        else if (*counter > 0)
            (*counter)--;
    }
}

static uint64_t
fault_end_ms(const sim_t *sim, const scenario_fault_t *fault)
{
    if (fault->duration_ms == SCENARIO_UNTIL_HEAL || fault->at_ms + fault->duration_ms > sim->scenario->duration_ms)
        return sim->scenario->duration_ms;
    return fault->at_ms + fault->duration_ms;
}

static void
on_fault_start(sim_t *sim, uint64_t index)
{
    const scenario_fault_t *fault = &sim->scenario->faults[index];
    if (sim->healing)
        return;
    uint64_t end_ms = fault_end_ms(sim, fault);
    switch (fault->kind) {
    case SCENARIO_FAULT_PARTITION:
        apply_cut(sim, fault, +1);
        add_band(sim, sim->now_ms, end_ms, fault->label, true);
        schedule(sim, end_ms, EV_FAULT_END, UINT32_MAX, 0, index, NULL, 0);
        break;
    case SCENARIO_FAULT_CRASH:
        node_crash(sim, &sim->nodes[fault->node]);
        add_band(sim, sim->now_ms, end_ms, fault->label, false);
        schedule(sim, end_ms, EV_FAULT_END, UINT32_MAX, 0, index, NULL, 0);
        break;
    case SCENARIO_FAULT_FLAP:
        add_band(sim, sim->now_ms, end_ms, fault->label, false);
        schedule(sim, sim->now_ms, EV_FLAP, UINT32_MAX, 1, index, NULL, 0);
        break;
    case SCENARIO_FAULT_CLOCK_JUMP: {
        sim_node_t *node = &sim->nodes[fault->node];
        uint64_t before = wall_ms(sim, node);
        node->clock_offset_ms =
            (int64_t)fault->jump_to_ms - (int64_t)(sim->now_ms + SIM_EPOCH_MS);
        if (wall_ms(sim, node) < before)
            node->clock_went_back = true;
        add_band(sim, sim->now_ms, sim->now_ms, fault->label, false);
        break;
    }
    case SCENARIO_FAULT_CLOCK_SKEW: {
        sim_node_t *node = &sim->nodes[fault->node];
        if (fault->skew_ms < 0)
            node->clock_went_back = true;
        node->clock_offset_ms += fault->skew_ms;
        break;
    }
    }
}

static void
on_fault_end(sim_t *sim, uint64_t index)
{
    const scenario_fault_t *fault = &sim->scenario->faults[index];
    if (sim->healing)
        return; // the heal phase healed it already
    if (fault->kind == SCENARIO_FAULT_PARTITION) {
        apply_cut(sim, fault, -1);
        char label[SIM_REPORT_LABEL_MAX];
        snprintf(label, sizeof label, "heal: %.80s", fault->label);
        add_heal(sim, label);
    } else if (fault->kind == SCENARIO_FAULT_CRASH) {
        node_restart(sim, &sim->nodes[fault->node]);
        char label[SIM_REPORT_LABEL_MAX];
        snprintf(label, sizeof label, "restart: %s", sim->nodes[fault->node].name);
        add_heal(sim, label);
    }
}

static void
on_flap(sim_t *sim, uint64_t index, bool go_down)
{
    const scenario_fault_t *fault = &sim->scenario->faults[index];
    uint64_t end_ms = fault_end_ms(sim, fault);
    sim_link_t *link = &sim->links[fault->link];
    if (sim->healing || sim->now_ms >= end_ms) {
        link->flap_down = false;
        return;
    }
    link->flap_down = go_down;
    uint64_t next = go_down ? sim->now_ms + fault->down_ms
                            : sim->now_ms + (fault->every_ms > fault->down_ms
                                                 ? fault->every_ms - fault->down_ms
                                                 : 1);
    schedule(sim, next < end_ms ? next : end_ms, EV_FLAP, UINT32_MAX, go_down ? 0 : 1, index, NULL,
             0);
}

static void
on_random_crash(sim_t *sim, sim_node_t *node)
{
    const scenario_random_t *random = &sim->scenario->random;
    if (sim->healing || random->crash_per_hour <= 0)
        return;
    schedule(sim, sim->now_ms + sim_rng_exponential(&node->fault_rng, 3600000.0 / random->crash_per_hour),
             EV_RANDOM_CRASH, node->index, 0, 0, NULL, 0);
    if (!node->up || sim->now_ms == 0)
        return;
    uint64_t down = sim_rng_range(&node->fault_rng, random->crash_down_ms_min, random->crash_down_ms_max);
    if (sim_rng_chance(&node->fault_rng, 0.5)) {
        node->crash_in_write = true; // at its next write (a fault site: the rare window)
        node->crash_down_ms = down;
        return;
    }
    node_crash(sim, node);
    char label[SIM_REPORT_LABEL_MAX];
    snprintf(label, sizeof label, "power loss %s", node->name);
    add_band(sim, sim->now_ms, sim->now_ms + down, label, false);
    schedule(sim, sim->now_ms + down, EV_RESTART, node->index, 0, 0, NULL, 0);
}

static void
on_random_cut(sim_t *sim, uint32_t link_index, bool end)
{
    const scenario_random_t *random = &sim->scenario->random;
    sim_link_t *link = &sim->links[link_index];
    if (end) {
        if (!sim->healing && link->cut_both > 0)
            link->cut_both--;
        return;
    }
    if (sim->healing || random->link_cut_per_hour <= 0)
        return;
    schedule(sim, sim->now_ms + sim_rng_exponential(&link->rng, 3600000.0 / random->link_cut_per_hour),
             EV_RANDOM_CUT, UINT32_MAX, link_index, 0, NULL, 0);
    if (sim->now_ms == 0)
        return;
    uint64_t length = sim_rng_range(&link->rng, random->link_cut_ms_min, random->link_cut_ms_max);
    link->cut_both++;
    schedule(sim, sim->now_ms + length, EV_RANDOM_CUT_END, UINT32_MAX, link_index, 0, NULL, 0);
}

// ---- sampling and convergence ----

static void
sample_node(sim_t *sim, sim_node_t *node, size_t sample_index)
{
    if (node->up) {
        core_status_t status;
        core_status(node->core, wall_ms(sim, node), &status);
        node->last_depth = status.queue_depth;
        if (status.state != node->last_state) {
            if (status.state == CORE_STATE_WARN && node->last_state == CORE_STATE_OK)
                node->report.warnings++;
            if (status.state == CORE_STATE_LIMIT)
                node->report.limits++;
            node->last_state = status.state;
        }
        if (!node->is_cloud && status.offline_seconds * 1000 >= 2 * sim->scenario->anti_entropy_ms)
            node->report.offline_ms += sim->scenario->sample_ms;
    } else if (!node->is_cloud) {
        node->report.offline_ms += sim->scenario->sample_ms;
    }
    if (node->last_depth > node->report.queue_depth_peak) {
        node->report.queue_depth_peak = node->last_depth;
        node->report.queue_depth_peak_ms = sim->now_ms;
    }
    if (sample_index < sim->sample_cap)
        node->report.samples[sample_index] = node->last_depth;
}

static void
on_sample(sim_t *sim)
{
    size_t index = (size_t)(sim->now_ms / sim->scenario->sample_ms);
    for (size_t i = 0; i < sim->node_count; i++)
        sample_node(sim, &sim->nodes[i], index);
    if (index + 1 > sim->report.sample_count && index < sim->sample_cap)
        sim->report.sample_count = index + 1;
    if (!sim->finished && index + 1 < sim->sample_cap)
        schedule(sim, sim->now_ms + sim->scenario->sample_ms, EV_SAMPLE, UINT32_MAX, 0, 0, NULL, 0);
}

static bool
all_quiet(const sim_t *sim)
{
    for (size_t i = 0; i < sim->node_count; i++) {
        const sim_node_t *node = &sim->nodes[i];
        if (!node->up || node->request_count > 0 || node->retry_count > 0 ||
            core_is_busy(node->core))
            return false;
    }
    return true;
}

static void
on_quiet(sim_t *sim)
{
    sim->quiet_scheduled = false;
    bool converged = sim_check_converged(sim);
    if (converged && sim->awaiting) {
        sim->awaiting = false;
        for (size_t i = 0; i < sim->report.heal_count; i++)
            if (sim->heals[i].converged_ms == 0 && i + 1 == sim->report.heal_count)
                sim->heals[i].converged_ms = sim->now_ms;
        // A quiet point: nodes holding the same operations must show the same state.
        char detail[256];
        if (!sim_check_digests(sim, detail, sizeof detail) && sim->quiet_point_failures++ == 0)
            snprintf(sim->quiet_point_detail, sizeof sim->quiet_point_detail, "at %" PRIu64 " ms: %.200s",
                     sim->now_ms, detail);
    }
    if (sim->healing) {
        if (converged && all_quiet(sim)) {
            if (sim->quiet_since_ms == 0)
                sim->quiet_since_ms = sim->now_ms;
            if (sim->now_ms - sim->quiet_since_ms >= SIM_CONFIRM_MS) {
                sim->finished = true;
                return;
            }
        } else {
            sim->quiet_since_ms = 0;
        }
        if (sim->now_ms >= sim->heal_start_ms + sim->scenario->heal_ms) {
            sim->finished = true; // did not converge in time: the checks say so
            return;
        }
    }
    if (sim->awaiting || sim->healing) {
        sim->quiet_scheduled = true;
        schedule(sim, sim->now_ms + SIM_QUIET_CHECK_MS, EV_QUIET, UINT32_MAX, 0, 0, NULL, 0);
    }
}

static void
on_heal_phase(sim_t *sim)
{
    sim->healing = true;
    sim->heal_start_ms = sim->now_ms;
    for (size_t i = 0; i < sim->scenario->link_count; i++) {
        sim->links[i].cut_both = sim->links[i].cut_ab = sim->links[i].cut_ba = 0;
        sim->links[i].flap_down = false;
    }
    for (size_t i = 0; i < sim->node_count; i++) {
        sim->nodes[i].crash_in_write = false;
        node_restart(sim, &sim->nodes[i]);
    }
    add_heal(sim, "final heal: every link up, every node running");
}

// ---- the loop ----

static void
dispatch(sim_t *sim, sim_event_t *event)
{
    sim_node_t *node = event->node < sim->node_count ? &sim->nodes[event->node] : NULL;
    switch ((sim_event_kind_t)event->kind) {
    case EV_TICK:
        if (!node->up || event->epoch != node->epoch)
            break;
        core_tick(node->core, wall_ms(sim, node));
        drain(sim, node);
        if (sim->now_ms - node->last_writeback_ms >= SIM_WRITEBACK_MS) {
            node->last_writeback_ms = sim->now_ms;
            memstore_sync(node->store);
        }
        schedule(sim, sim->now_ms + sim->scenario->anti_entropy_ms, EV_TICK, node->index, 0, 0,
                 NULL, 0);
        break;
    case EV_CLIENT:
        on_client(sim, node);
        break;
    case EV_RETRY:
        on_retry(sim, node);
        break;
    case EV_WRITE_DONE:
        if (!node->up || event->epoch != node->epoch)
            break; // the crash decided what reached the disk
        if (node->write_rc == 0)
            node->write_rc = memstore_write(node->store, node->write_batch, node->write_sync);
        node->writing = false;
        core_write_done(node->core, event->id, node->write_rc);
        drain(sim, node);
        break;
    case EV_DELIVER: {
        sim_link_t *link = &sim->links[event->id];
        uint32_t *in_flight = event->peer == sim->scenario->links[event->id].a ? &link->in_flight_ab
                                                                                : &link->in_flight_ba;
        if (*in_flight > 0)
            (*in_flight)--;
        if (!node->up || !link_carries(sim, (uint32_t)event->id, event->peer)) {
            sim->report.messages_lost++;
            break;
        }
        sim->report.messages_delivered++;
        sim->report.bytes_delivered += event->len;
        core_peer_receive(node->core, sim->nodes[event->peer].name, event->bytes, event->len,
                          wall_ms(sim, node));
        after_receive(sim, node, event->peer, event->bytes, event->len);
        drain(sim, node);
        break;
    }
    case EV_FAULT_START:
        on_fault_start(sim, event->id);
        break;
    case EV_FAULT_END:
        on_fault_end(sim, event->id);
        break;
    case EV_FLAP:
        on_flap(sim, event->id, event->peer == 1);
        break;
    case EV_RANDOM_CRASH:
        on_random_crash(sim, node);
        break;
    case EV_RESTART:
        if (!sim->healing)
            node_restart(sim, node);
        break;
    case EV_RANDOM_CUT:
        on_random_cut(sim, event->peer, false);
        break;
    case EV_RANDOM_CUT_END:
        on_random_cut(sim, event->peer, true);
        break;
    case EV_SAMPLE:
        on_sample(sim);
        break;
    case EV_QUIET:
        on_quiet(sim);
        break;
    case EV_HEAL_PHASE:
        on_heal_phase(sim);
        break;
    case EV_CRASH_IN_WRITE:
        if (!node->up || event->epoch != node->epoch || sim->healing)
            break;
        node_crash(sim, node);
        {
            char label[SIM_REPORT_LABEL_MAX];
            snprintf(label, sizeof label, "power loss %s (mid-write)", node->name);
            add_band(sim, sim->now_ms, sim->now_ms + node->crash_down_ms, label, false);
        }
        schedule(sim, sim->now_ms + node->crash_down_ms, EV_RESTART, node->index, 0, 0, NULL, 0);
        break;
    }
}

// ---- set-up ----

static int
build_nodes(sim_t *sim, char *err, size_t err_size)
{
    const scenario_t *scenario = sim->scenario;
    sim->node_count = scenario->node_count;
    sim->nodes = calloc(sim->node_count, sizeof *sim->nodes);
    sim->by_name = calloc(sim->node_count, sizeof *sim->by_name);
    sim->links = calloc(scenario->link_count ? scenario->link_count : 1, sizeof *sim->links);
    sim->sample_cap = (size_t)((scenario->duration_ms + scenario->heal_ms) / scenario->sample_ms) + 2;
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
            node->clock_offset_ms = (int64_t)sim_rng_below(&node->clock_rng, 2 * scenario->random.clock_skew_ms + 1) -
                                    (int64_t)scenario->random.clock_skew_ms;
        node->store = memstore_new();
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
        const scenario_link_t *link = &scenario->links[i];
        uint32_t ends[2] = {link->a, link->b};
        for (int e = 0; e < 2; e++) {
            sim_node_t *node = &sim->nodes[ends[e]];
            sim_adjacent_t *grown = realloc(node->adjacent, (node->adjacent_count + 1) * sizeof *grown);
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
            node->peer_table[count++] = (core_peer_t){.name = sim->nodes[k].name,
                                                      .public_key = sim->nodes[k].public_key,
                                                      .exchange = adjacent_find(node, (uint32_t)k) != NULL};
        }
    }
    return 0;
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
    crypto_generichash_init(&self->event_hash, NULL, 0, 32);
    self->signer = sim_signer_new(scenario->ed25519);
    if (!self->signer || build_nodes(self, err, err_size)) {
        if (!self->signer)
            snprintf(err, err_size, "out of memory");
        sim_destroy(&self);
        return NULL;
    }
    sim_rng_init(&self->network_rng, options->seed, SIM_STREAM_NETWORK, UINT32_MAX);
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
    free(self->nodes);
    free(self->by_name);
    free(self->links);
    free(self->ledger);
    free(self->sample_storage);
    free(self->report.nodes);
    sim_queue_free(&self->queue);
    sim_signer_destroy(&self->signer);
    free(self);
    *self_p = NULL;
}

int
sim_run(sim_t *self, char *err, size_t err_size)
{
    const scenario_t *scenario = self->scenario;
    for (size_t i = 0; i < self->node_count; i++) {
        if (node_start(self, &self->nodes[i], err, err_size))
            return -SM_ECORRUPT;
        schedule(self, 0, EV_CLIENT, (uint32_t)i, 0, 0, NULL, 0);
        schedule(self, 0, EV_RANDOM_CRASH, (uint32_t)i, 0, 0, NULL, 0);
    }
    for (size_t i = 0; i < scenario->link_count; i++)
        schedule(self, 0, EV_RANDOM_CUT, UINT32_MAX, (uint32_t)i, 0, NULL, 0);
    for (size_t i = 0; i < scenario->fault_count; i++)
        schedule(self, scenario->faults[i].at_ms, EV_FAULT_START, UINT32_MAX, 0, i, NULL, 0);
    schedule(self, 0, EV_SAMPLE, UINT32_MAX, 0, 0, NULL, 0);
    schedule(self, scenario->duration_ms, EV_HEAL_PHASE, UINT32_MAX, 0, 0, NULL, 0);

    sim_event_t event;
    while (!self->finished && sim_queue_pop(&self->queue, &event)) {
        assert(event.time_ms >= self->now_ms);
        self->now_ms = event.time_ms;
        log_event(self, &event);
        dispatch(self, &event);
        free(event.bytes);
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
