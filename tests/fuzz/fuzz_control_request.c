// libFuzzer target: the control socket's Request decoder and the answer path behind
// it (docs/CONTROL.md), as the daemon runs it (daemon.c handle_request): decode;
// submits go through control_command_from_proto and core_submit, and their REPLY
// effects through control_submit_reply; get, status, audit and digest through
// control_answer_read and control_status_add_links; peers through
// control_answer_peers. Every Response is packed as the daemon would send it. The
// core is the shared one of fixture.h, on a real RocksDB.
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "control.h"
#include "fixture.h"
#include "storemesh.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t zero_key[32];
static const control_peer_t link_table[] = {
    {.name = FIXTURE_PEER, .endpoint = "tcp://10.0.0.1:7400", .public_key = zero_key},
    {.name = FIXTURE_RELAYED, .endpoint = "none", .public_key = zero_key},
};
static const control_links_t links = {.peers = link_table, .count = 2, .links_refused = 3};

// The cloud acknowledges branch-1's operations this often (in inputs), as an online
// authority does, so the queue-depth and offline limits do not end the submit path
// after a while (each input is a millisecond of the shared clock).
#define CLOUD_ACK_EVERY_INPUTS 256

static uint64_t next_request_id;
static uint64_t input_count;

// An Ack from the cloud holding everything branch-1 wrote.
static void
cloud_ack(fixture_node_t *node, uint64_t now_ms)
{
    core_status_t status;
    core_status(node->core, now_ms, &status);
    Storemesh__VvEntry entry = STOREMESH__VV_ENTRY__INIT;
    entry.origin = FIXTURE_NODE;
    entry.seq = status.last_seq;
    Storemesh__VvEntry *entries[] = {&entry};
    Storemesh__Ack ack = STOREMESH__ACK__INIT;
    ack.n_have = status.last_seq > 0 ? 1 : 0;
    ack.have = entries;
    ack.credit = CORE_PEER_CREDIT_BATCHES;
    Storemesh__PeerMessage message = STOREMESH__PEER_MESSAGE__INIT;
    message.version = 1;
    message.body_case = STOREMESH__PEER_MESSAGE__BODY_ACK;
    message.ack = &ack;
    uint8_t bytes[256];
    size_t len = storemesh__peer_message__get_packed_size(&message);
    if (len > sizeof bytes)
        abort(); // one entry of a short name: never
    storemesh__peer_message__pack(&message, bytes);
    core_peer_receive(node->core, FIXTURE_PEER, bytes, len, now_ms);
}

// Packs the Response as the daemon does before sending it.
static void
pack(Storemesh__Response *response)
{
    size_t len = storemesh__response__get_packed_size(response);
    uint8_t *bytes = malloc(len ? len : 1);
    if (bytes)
        storemesh__response__pack(response, bytes);
    free(bytes);
}

static void
on_effect(void *arg, const fixture_node_t *node, const core_effect_t *effect)
{
    (void)arg;
    (void)node;
    if (effect->kind != CORE_EFFECT_REPLY)
        return;
    control_reply_t reply;
    control_submit_reply(effect->results, effect->result_count, &reply);
    pack(&reply.response);
    control_reply_free(&reply);
}

static void
submit(fixture_node_t *node, const Storemesh__SubmitRequest *request, uint64_t now_ms)
{
    if (request->n_commands == 0 || request->n_commands > CORE_REQUEST_COMMANDS_MAX)
        return; // the daemon answers an error
    core_command_t *commands = calloc(request->n_commands, sizeof *commands);
    if (!commands)
        return;
    for (size_t i = 0; i < request->n_commands; i++)
        control_command_from_proto(&commands[i], request->commands[i]);
    core_submit(node->core, ++next_request_id, commands, request->n_commands, now_ms);
    free(commands);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fixture_node_t *node = fixture_shared();
    uint64_t now_ms = fixture_clock_advance(1);
    if (++input_count % CLOUD_ACK_EVERY_INPUTS == 0)
        cloud_ack(node, now_ms);
    Storemesh__Request *request = storemesh__request__unpack(NULL, size, data);
    if (!request) {
        fixture_node_drain(node, now_ms, on_effect, NULL); // the daemon answers an error
        return 0;
    }
    if (request->body_case == STOREMESH__REQUEST__BODY_SUBMIT) {
        submit(node, request->submit, now_ms);
    } else if (request->body_case == STOREMESH__REQUEST__BODY_PEERS) {
        control_reply_t reply;
        control_answer_peers(node->core, &links, now_ms, &reply);
        pack(&reply.response);
        control_reply_free(&reply);
    } else {
        control_reply_t reply;
        control_answer_read(node->core, request, now_ms, FIXTURE_START_MS, &reply);
        control_status_add_links(node->core, &links, now_ms, &reply);
        pack(&reply.response);
        control_reply_free(&reply);
    }
    storemesh__request__free_unpacked(request, NULL);
    fixture_node_drain(node, now_ms, on_effect, NULL);
    return 0;
}
