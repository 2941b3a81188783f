// sim_network: the links between nodes. A message is copied onto a link with its
// latency (and, in the fault phase, loss, duplication and jitter), counted in flight
// until it arrives, and delivered only if the link still carries it then.
#include <stdlib.h>
#include <string.h>

#include "sim_internal.h"
#include "storemesh.pb-c.h"

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
        sim_schedule(sim, sim->now_ms + delay, EV_DELIVER, to->index, from->index, adjacent->link,
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
    node->last_receive_ops_ms = sim->now_ms;
    if (node->crashed_in_catch_up) {
        node->crashed_in_catch_up = false;
        sim->sometimes[MARK_RESUMED_CATCH_UP]++;
    }
    if (sim->sometimes[MARK_RELAYED_OPERATIONS] > 1000 && !node->gap_open)
        return; // counted enough: spare the decoding
    Storemesh__PeerMessage *message = storemesh__peer_message__unpack(NULL, len, bytes);
    if (message && message->body_case == STOREMESH__PEER_MESSAGE__BODY_OPS &&
        message->ops->origin && strcmp(message->ops->origin, sim->nodes[from].name) != 0) {
        sim->sometimes[MARK_RELAYED_OPERATIONS]++;
        if (node->gap_open) {
            node->gap_open = false;
            sim->sometimes[MARK_GAP_FILLED_BY_RELAY]++;
        }
    }
    storemesh__peer_message__free_unpacked(message, NULL);
}

void
sim_on_deliver(sim_t *sim, sim_node_t *node, const sim_event_t *event)
{
    sim_link_t *link = &sim->links[event->id];
    uint32_t *in_flight = event->peer == sim->scenario->links[event->id].a ? &link->in_flight_ab
                                                                           : &link->in_flight_ba;
    if (*in_flight > 0)
        (*in_flight)--;
    if (!node->up || !link_carries(sim, (uint32_t)event->id, event->peer)) {
        sim->report.messages_lost++;
        return;
    }
    sim->report.messages_delivered++;
    sim->report.bytes_delivered += event->len;
    core_peer_receive(node->core, sim->nodes[event->peer].name, event->bytes, event->len,
                      sim_wall_ms(sim, node));
    after_receive(sim, node, event->peer, event->bytes, event->len);
    sim_drain(sim, node);
}
