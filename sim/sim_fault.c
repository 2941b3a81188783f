// sim_fault: what goes wrong. The scenario's timeline (partitions, crashes, flapping
// links, clock jumps and skews), random power losses and link cuts, and the crash
// and restart of a node's process; each fault period becomes a band in the report.
#include <stdlib.h>

#include "sim_internal.h"
#include "sim_window.h"

void
sim_add_band(sim_t *sim, uint64_t start_ms, uint64_t end_ms, const char *label, bool whole_mesh)
{
    if (sim_window_band(sim, start_ms, end_ms, label, whole_mesh))
        return; // a window's worker: added when the window ends
    if (sim->report.band_count >= SIM_BANDS_MAX)
        return;
    sim_report_band_t *band = &sim->bands[sim->report.band_count++];
    band->start_ms = start_ms;
    band->end_ms = end_ms;
    snprintf(band->label, sizeof band->label, "%s", label);
    band->whole_mesh = whole_mesh;
}

// ---- node lives ----

void
sim_node_crash(sim_t *sim, sim_node_t *node)
{
    if (!node->up)
        return;
    const core_replication_counters_t *counters = core_counters(node->core);
    node->messages_sent_base += counters->messages_sent;
    node->bytes_sent_base += counters->bytes_sent;
    if (node->writing && node->write_rc == 0) {
        // The batch was on its way to the WAL: it may have made it, unacknowledged.
        SIM_COUNT(sim->sometimes[MARK_CRASH_BETWEEN_WRITE_AND_ACK], 1);
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
    node->crash_ms = sim_now(sim);
    node->crashed_in_catch_up =
        node->last_receive_ops_ms > 0 && sim_now(sim) - node->last_receive_ops_ms < 5000;
    for (size_t i = 0; i < node->request_count; i++) {
        for (size_t k = 0; k < node->requests[i].count; k++) {
            uint32_t entry = node->requests[i].commands[k];
            sim->ledger[entry].was_unknown = true;
            sim_want_retry(sim, node, entry);
        }
        free(node->requests[i].commands);
    }
    node->request_count = 0;
}

void
sim_node_restart(sim_t *sim, sim_node_t *node)
{
    if (node->up)
        return;
    char err[512];
    if (sim_node_start(sim, node, err, sizeof err)) {
        sim->restart_failures++;
        snprintf(sim->restart_detail, sizeof sim->restart_detail, "%s did not restart: %.150s",
                 node->name, err);
        return;
    }
    if (core_checkpoint_lag(node->core) > 0) // field states rebuilt from the log tail
        sim->sometimes[MARK_STATES_REPLAYED]++;
    if (node->retry_count > 0)
        sim_schedule(sim, sim_now(sim) + 1 + sim_rng_below(&node->workload_rng, 1000), EV_RETRY,
                     node->index, 0, 0, NULL, 0);
}

// ---- faults ----

static void
apply_cut(sim_t *sim, const scenario_fault_t *fault, int step)
{
    for (size_t i = 0; i < fault->cut_count; i++) {
        sim_link_t *link = &sim->links[fault->cuts[i].link];
        uint32_t *counter = fault->cuts[i].dir == SCENARIO_CUT_BOTH     ? &link->cut_both
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
    if (fault->duration_ms == SCENARIO_UNTIL_HEAL ||
        fault->at_ms + fault->duration_ms > sim->scenario->duration_ms)
        return sim->scenario->duration_ms;
    return fault->at_ms + fault->duration_ms;
}

void
sim_on_fault_start(sim_t *sim, uint64_t index)
{
    const scenario_fault_t *fault = &sim->scenario->faults[index];
    if (sim->healing)
        return;
    uint64_t end_ms = fault_end_ms(sim, fault);
    switch (fault->kind) {
    case SCENARIO_FAULT_PARTITION:
        apply_cut(sim, fault, +1);
        sim_add_band(sim, sim_now(sim), end_ms, fault->label, true);
        sim_schedule(sim, end_ms, EV_FAULT_END, UINT32_MAX, 0, index, NULL, 0);
        break;
    case SCENARIO_FAULT_CRASH:
        sim_node_crash(sim, &sim->nodes[fault->node]);
        sim_add_band(sim, sim_now(sim), end_ms, fault->label, false);
        sim_schedule(sim, end_ms, EV_FAULT_END, UINT32_MAX, 0, index, NULL, 0);
        break;
    case SCENARIO_FAULT_FLAP:
        sim_add_band(sim, sim_now(sim), end_ms, fault->label, false);
        sim_schedule(sim, sim_now(sim), EV_FLAP, UINT32_MAX, 1, index, NULL, 0);
        break;
    case SCENARIO_FAULT_CLOCK_JUMP: {
        sim_node_t *node = &sim->nodes[fault->node];
        uint64_t before = sim_wall_ms(sim, node);
        node->clock_offset_ms = (int64_t)fault->jump_to_ms - (int64_t)(sim_now(sim) + SIM_EPOCH_MS);
        if (sim_wall_ms(sim, node) < before)
            node->clock_went_back = true;
        sim_add_band(sim, sim_now(sim), sim_now(sim), fault->label, false);
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

void
sim_on_fault_end(sim_t *sim, uint64_t index)
{
    const scenario_fault_t *fault = &sim->scenario->faults[index];
    if (sim->healing)
        return; // the heal phase healed it already
    if (fault->kind == SCENARIO_FAULT_PARTITION) {
        apply_cut(sim, fault, -1);
        char label[SIM_REPORT_LABEL_MAX];
        snprintf(label, sizeof label, "heal: %.80s", fault->label);
        sim_add_heal(sim, label);
    } else if (fault->kind == SCENARIO_FAULT_CRASH) {
        sim_node_restart(sim, &sim->nodes[fault->node]);
        char label[SIM_REPORT_LABEL_MAX];
        snprintf(label, sizeof label, "restart: %s", sim->nodes[fault->node].name);
        sim_add_heal(sim, label);
    }
}

void
sim_on_flap(sim_t *sim, uint64_t index, bool go_down)
{
    const scenario_fault_t *fault = &sim->scenario->faults[index];
    uint64_t end_ms = fault_end_ms(sim, fault);
    sim_link_t *link = &sim->links[fault->link];
    if (sim->healing || sim_now(sim) >= end_ms) {
        link->flap_down = false;
        return;
    }
    link->flap_down = go_down;
    uint64_t next =
        go_down ? sim_now(sim) + fault->down_ms
                : sim_now(sim) +
                      (fault->every_ms > fault->down_ms ? fault->every_ms - fault->down_ms : 1);
    sim_schedule(sim, next < end_ms ? next : end_ms, EV_FLAP, UINT32_MAX, go_down ? 0 : 1, index,
                 NULL, 0);
}

void
sim_on_random_crash(sim_t *sim, sim_node_t *node)
{
    const scenario_random_t *random = &sim->scenario->random;
    if (sim->healing || random->crash_per_hour <= 0)
        return;
    sim_schedule(sim,
                 sim_now(sim) +
                     sim_rng_exponential(&node->fault_rng, 3600000.0 / random->crash_per_hour),
                 EV_RANDOM_CRASH, node->index, 0, 0, NULL, 0);
    if (!node->up || sim_now(sim) == 0)
        return;
    uint64_t down =
        sim_rng_range(&node->fault_rng, random->crash_down_ms_min, random->crash_down_ms_max);
    if (sim_rng_chance(&node->fault_rng, 0.5)) {
        node->crash_in_write = true; // at its next write (a fault site: the rare window)
        node->crash_down_ms = down;
        return;
    }
    sim_node_crash(sim, node);
    char label[SIM_REPORT_LABEL_MAX];
    snprintf(label, sizeof label, "power loss %s", node->name);
    sim_add_band(sim, sim_now(sim), sim_now(sim) + down, label, false);
    sim_schedule(sim, sim_now(sim) + down, EV_RESTART, node->index, 0, 0, NULL, 0);
}

void
sim_on_random_cut(sim_t *sim, uint32_t link_index, bool end)
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
    sim_schedule(
        sim, sim_now(sim) + sim_rng_exponential(&link->rng, 3600000.0 / random->link_cut_per_hour),
        EV_RANDOM_CUT, UINT32_MAX, link_index, 0, NULL, 0);
    if (sim_now(sim) == 0)
        return;
    uint64_t length = sim_rng_range(&link->rng, random->link_cut_ms_min, random->link_cut_ms_max);
    link->cut_both++;
    sim_schedule(sim, sim_now(sim) + length, EV_RANDOM_CUT_END, UINT32_MAX, link_index, 0, NULL, 0);
}

void
sim_on_crash_in_write(sim_t *sim, sim_node_t *node, const sim_event_t *event)
{
    if (!node->up || event->epoch != node->epoch || sim->healing)
        return;
    sim_node_crash(sim, node);
    char label[SIM_REPORT_LABEL_MAX];
    snprintf(label, sizeof label, "power loss %s (mid-write)", node->name);
    sim_add_band(sim, sim_now(sim), sim_now(sim) + node->crash_down_ms, label, false);
    sim_schedule(sim, sim_now(sim) + node->crash_down_ms, EV_RESTART, node->index, 0, 0, NULL, 0);
}
