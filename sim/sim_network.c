// sim_network: the links between nodes. A message is copied onto a link with its
// latency (and, in the fault phase, loss, duplication and jitter), counted in flight
// until it arrives, and delivered only if the link still carries it then.
#include <stdlib.h>
#include <string.h>

#include "sim_internal.h"
#include "sim_window.h"
#include "storemesh.pb-c.h"

// Relayed batches a node decodes for the relayed-operations marker before it stops
// (each decode costs; the marker needs one). A gap it asked for is always looked at.
#define SIM_RELAYED_COUNTED_MAX 8

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

const sim_adjacent_t *
sim_adjacent_find(const sim_node_t *node, uint32_t other)
{
    for (size_t i = 0; i < node->adjacent_count; i++)
        if (node->adjacent[i].other == other)
            return &node->adjacent[i];
    return NULL;
}

void
sim_send_message(sim_t *sim, sim_node_t *from, const core_effect_t *effect)
{
    sim_node_t *to = node_by_name(sim, effect->peer);
    if (!to)
        return;
    const sim_adjacent_t *adjacent = sim_adjacent_find(from, to->index);
    if (!adjacent)
        return; // no link: a real transport has no socket to send it on
    sim_link_t *link = &sim->links[adjacent->link];
    const scenario_link_t *shape = &sim->scenario->links[adjacent->link];
    bool ab = from->index == shape->a;
    uint32_t *in_flight = ab ? &link->in_flight_ab : &link->in_flight_ba;
    sim_rng_t *rng = ab ? &link->rng_ab : &link->rng_ba; // this sender's only
    const scenario_random_t *random = &sim->scenario->random;
    bool faulty = !sim->healing;
    if (!link_carries(sim, adjacent->link, from->index) || *in_flight >= SIM_LINK_MESSAGES_MAX ||
        (faulty && sim_rng_chance(rng, random->loss))) {
        SIM_COUNT(sim->report.messages_lost, 1);
        return;
    }
    int copies = faulty && sim_rng_chance(rng, random->duplicate) ? 2 : 1;
    if (copies == 2)
        SIM_COUNT(sim->report.messages_duplicated, 1);
    for (int i = 0; i < copies; i++) {
        uint8_t *bytes = malloc(effect->len ? effect->len : 1);
        if (!bytes) {
            sim_stop_out_of_memory(sim);
            return;
        }
        memcpy(bytes, effect->bytes, effect->len);
        uint64_t delay = sim_rng_range(rng, shape->latency_ms_min, shape->latency_ms_max);
        if (faulty && random->jitter_ms)
            delay += sim_rng_below(rng, (uint64_t)random->jitter_ms + 1);
        (*in_flight)++;
        sim_schedule(sim, sim_now(sim) + delay, EV_DELIVER, to->index, from->index, adjacent->link,
                     bytes, effect->len);
    }
}

// The markers read from the core's counters after a delivery.
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
    node->last_receive_ops_ms = sim_now(sim);
    if (node->crashed_in_catch_up) {
        node->crashed_in_catch_up = false;
        SIM_COUNT(sim->sometimes[MARK_RESUMED_CATCH_UP], 1);
    }
    if (node->relayed_counted >= SIM_RELAYED_COUNTED_MAX && !node->gap_open)
        return; // counted enough at this node: spare the decoding
    Storemesh__PeerMessage *message = storemesh__peer_message__unpack(NULL, len, bytes);
    if (message && message->body_case == STOREMESH__PEER_MESSAGE__BODY_OPS &&
        message->ops->origin && strcmp(message->ops->origin, sim->nodes[from].name) != 0) {
        node->relayed_counted++;
        SIM_COUNT(sim->sometimes[MARK_RELAYED_OPERATIONS], 1);
        if (node->gap_open) {
            node->gap_open = false;
            SIM_COUNT(sim->sometimes[MARK_GAP_FILLED_BY_RELAY], 1);
        }
    }
    storemesh__peer_message__free_unpacked(message, NULL);
}

void
sim_on_deliver(sim_t *sim, sim_node_t *node, const sim_event_t *event)
{
    // Its in-flight slot is given back when the window ends: the sender may be
    // running on another thread now.
    sim_window_landed(sim, (uint32_t)event->id, event->peer == sim->scenario->links[event->id].a);
    if (!node->up || !link_carries(sim, (uint32_t)event->id, event->peer)) {
        SIM_COUNT(sim->report.messages_lost, 1);
        return;
    }
    SIM_COUNT(sim->report.messages_delivered, 1);
    SIM_COUNT(sim->report.bytes_delivered, event->len);
    core_peer_receive(node->core, sim->nodes[event->peer].name, event->bytes, event->len,
                      sim_wall_ms(sim, node));
    after_receive(sim, node, event->peer, event->bytes, event->len);
    sim_drain(sim, node);
}
