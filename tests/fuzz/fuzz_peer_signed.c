// libFuzzer target: what a core does with operations whose signature verifies. The
// input is a PeerMessage as in fuzz_peer_message; when it is an OpsBatch of "cloud"
// or "branch-2" (whose secret keys the fixture derives), the harness re-chains its
// operations onto what the core holds of that origin (origin, seq, prev_hash) and
// seals them with the origin's key, so the mutated operation contents pass
// verification and reach the merge (core_stage_remote). This is the malicious or
// buggy allow-listed origin: its operations are authentic, their contents are not to
// be trusted (docs/SECURITY.md), and none of them may stop the node.
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core_internal.h"
#include "fixture.h"
#include "keys.h"
#include "storemesh.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SIGNED_OPERATIONS_MAX 64 // operations re-chained per input; the rest are dropped

typedef struct {
    uint8_t *bytes[SIGNED_OPERATIONS_MAX];
    size_t lens[SIGNED_OPERATIONS_MAX];
    size_t count;
    uint8_t head[CORE_HASH_BYTES]; // hash of the last one
    uint64_t last_seq;
} chain_t;

static void
chain_free(chain_t *chain)
{
    for (size_t i = 0; i < chain->count; i++)
        free(chain->bytes[i]);
    chain->count = 0;
}

// Re-stamps each operation that decodes as the next one of origin after (seq, head).
static void
chain_build(chain_t *chain, const Storemesh__OpsBatch *ops, const char *origin, uint64_t seq,
            const uint8_t head[CORE_HASH_BYTES])
{
    memset(chain, 0, sizeof *chain);
    memcpy(chain->head, head, CORE_HASH_BYTES);
    chain->last_seq = seq;
    for (size_t i = 0; i < ops->n_operations && chain->count < SIGNED_OPERATIONS_MAX; i++) {
        Storemesh__Operation *op =
            storemesh__operation__unpack(NULL, ops->operations[i].len, ops->operations[i].data);
        if (!op)
            continue;
        char *fuzzed_origin = op->origin;
        ProtobufCBinaryData fuzzed_prev = op->prev_hash;
        op->origin = (char *)origin;
        op->seq = chain->last_seq + 1;
        op->prev_hash = (ProtobufCBinaryData){CORE_HASH_BYTES, chain->head};
        size_t len = storemesh__operation__get_packed_size(op);
        uint8_t *bytes = malloc(len ? len : 1);
        if (bytes) {
            storemesh__operation__pack(op, bytes);
            core_hash(chain->head, bytes, len);
            chain->bytes[chain->count] = bytes;
            chain->lens[chain->count++] = len;
            chain->last_seq++;
        }
        op->origin = fuzzed_origin; // give back what free_unpacked owns
        op->prev_hash = fuzzed_prev;
        storemesh__operation__free_unpacked(op, NULL);
    }
}

// The Seal the origin would write over the chain's head (docs/PROTOCOL.md).
static uint8_t *
seal_pack(const chain_t *chain, const char *origin, size_t *len)
{
    uint8_t public_key[crypto_sign_PUBLICKEYBYTES];
    uint8_t secret_key[crypto_sign_SECRETKEYBYTES];
    fixture_keypair(origin, public_key, secret_key);
    static const char domain[] = "storemesh-seal-v1";
    uint8_t message[sizeof domain + CRDT_NAME_MAX + 1 + 8 + CORE_HASH_BYTES];
    size_t name_len = strlen(origin) + 1;
    size_t at = 0;
    memcpy(message, domain, sizeof domain);
    at += sizeof domain;
    memcpy(message + at, origin, name_len);
    at += name_len;
    keys_put_be64(message + at, chain->last_seq);
    at += 8;
    memcpy(message + at, chain->head, CORE_HASH_BYTES);
    at += CORE_HASH_BYTES;
    uint8_t signature[crypto_sign_BYTES];
    crypto_sign_detached(signature, NULL, message, at, secret_key);
    Storemesh__Seal seal = STOREMESH__SEAL__INIT;
    seal.origin = (char *)origin;
    seal.seq = chain->last_seq;
    seal.head_hash = (ProtobufCBinaryData){CORE_HASH_BYTES, (uint8_t *)chain->head};
    seal.signature = (ProtobufCBinaryData){sizeof signature, signature};
    *len = storemesh__seal__get_packed_size(&seal);
    uint8_t *bytes = malloc(*len ? *len : 1);
    if (bytes)
        storemesh__seal__pack(&seal, bytes);
    return bytes;
}

// Delivers ops re-chained and sealed as origin; false when there is nothing to send.
static bool
deliver_signed(fixture_node_t *node, const Storemesh__OpsBatch *ops, const char *origin,
               uint64_t now_ms)
{
    const core_origin_t *held = core_origin_find(node->core, origin);
    static const uint8_t zeros[CORE_HASH_BYTES];
    chain_t chain;
    chain_build(&chain, ops, origin, held ? held->staged_seq : 0, held ? held->staged_head : zeros);
    if (chain.count == 0)
        return false;
    size_t seal_len = 0;
    uint8_t *seal = seal_pack(&chain, origin, &seal_len);
    ProtobufCBinaryData operations[SIGNED_OPERATIONS_MAX];
    for (size_t i = 0; i < chain.count; i++)
        operations[i] = (ProtobufCBinaryData){chain.lens[i], chain.bytes[i]};
    Storemesh__OpsBatch batch = STOREMESH__OPS_BATCH__INIT;
    batch.origin = (char *)origin;
    batch.first_seq = chain.last_seq - chain.count + 1;
    batch.n_operations = chain.count;
    batch.operations = operations;
    batch.seal = (ProtobufCBinaryData){seal ? seal_len : 0, seal};
    Storemesh__PeerMessage message = STOREMESH__PEER_MESSAGE__INIT;
    message.version = 1;
    message.body_case = STOREMESH__PEER_MESSAGE__BODY_OPS;
    message.ops = &batch;
    size_t len = storemesh__peer_message__get_packed_size(&message);
    uint8_t *bytes = malloc(len ? len : 1);
    if (bytes) {
        storemesh__peer_message__pack(&message, bytes);
        core_peer_receive(node->core, FIXTURE_PEER, bytes, len, now_ms);
    }
    free(bytes);
    free(seal);
    chain_free(&chain);
    return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fixture_node_t *node = fixture_shared();
    uint64_t now_ms = fixture_clock_advance(250);
    core_tick(node->core, now_ms);
    Storemesh__PeerMessage *message = storemesh__peer_message__unpack(NULL, size, data);
    bool delivered = false;
    if (message && message->body_case == STOREMESH__PEER_MESSAGE__BODY_OPS) {
        const char *origin = message->ops->origin;
        if (origin && strcmp(origin, FIXTURE_RELAYED) == 0)
            delivered = deliver_signed(node, message->ops, FIXTURE_RELAYED, now_ms);
        else
            delivered = deliver_signed(node, message->ops, FIXTURE_PEER, now_ms);
    }
    storemesh__peer_message__free_unpacked(message, NULL);
    if (!delivered)
        core_peer_receive(node->core, FIXTURE_PEER, data, size, now_ms);
    fixture_node_drain(node, now_ms, NULL, NULL);
    return 0;
}
