// sim_sample: what the run observes over time. Every sample period it reads each
// node's queue depth and state for the report; after every heal it looks for
// convergence until it is seen, and in the heal phase until the nodes have been
// quiet long enough to run the checks.
#include <inttypes.h>

#include "sim_internal.h"

// ---- sampling and convergence ----

void
sim_add_heal(sim_t *sim, const char *label)
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
        sim_schedule(sim, sim->now_ms + SIM_QUIET_CHECK_MS, EV_QUIET, UINT32_MAX, 0, 0, NULL, 0);
    }
}

static void
sample_node(sim_t *sim, sim_node_t *node, size_t sample_index)
{
    if (node->up) {
        core_status_t status;
        core_status(node->core, sim_wall_ms(sim, node), &status);
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

void
sim_on_sample(sim_t *sim)
{
    size_t index = (size_t)(sim->now_ms / sim->scenario->sample_ms);
    for (size_t i = 0; i < sim->node_count; i++)
        sample_node(sim, &sim->nodes[i], index);
    if (index + 1 > sim->report.sample_count && index < sim->sample_cap)
        sim->report.sample_count = index + 1;
    if (!sim->finished && index + 1 < sim->sample_cap)
        sim_schedule(sim, sim->now_ms + sim->scenario->sample_ms, EV_SAMPLE, UINT32_MAX, 0, 0, NULL,
                     0);
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

void
sim_on_quiet(sim_t *sim)
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
            snprintf(sim->quiet_point_detail, sizeof sim->quiet_point_detail,
                     "at %" PRIu64 " ms: %.200s", sim->now_ms, detail);
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
        sim_schedule(sim, sim->now_ms + SIM_QUIET_CHECK_MS, EV_QUIET, UINT32_MAX, 0, 0, NULL, 0);
    }
}

void
sim_on_heal_phase(sim_t *sim)
{
    sim->healing = true;
    sim->heal_start_ms = sim->now_ms;
    for (size_t i = 0; i < sim->scenario->link_count; i++) {
        sim->links[i].cut_both = sim->links[i].cut_ab = sim->links[i].cut_ba = 0;
        sim->links[i].flap_down = false;
    }
    for (size_t i = 0; i < sim->node_count; i++) {
        sim->nodes[i].crash_in_write = false;
        sim_node_restart(sim, &sim->nodes[i]);
    }
    sim_add_heal(sim, "final heal: every link up, every node running");
}
