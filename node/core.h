// core: the node as a deterministic state machine. It is handed events (a client
// request, a finished storage write, the time) and answers with effects (write this
// batch, reply to that request). It reads storage through store_reader_t and never
// touches a socket, a file, the clock or a random source itself, so the same core
// runs under the real adapters (daemon.c) and under the partition simulator.
//
// The submit pipeline (docs/ARCHITECTURE.md has the picture):
//   core_submit   validates each command against the rules, answers repeats of a
//                 known command ID at once, stamps the rest (origin, seq, HLC, rules
//                 hash, previous hash), applies them to the field states, and stages
//                 log, state, idempotency and meta puts in one batch;
//   core_flush    seals the staged batch (one Ed25519 signature over the chain head)
//                 and hands it out as a WRITE effect; one write is in flight at once,
//                 and commands arriving meanwhile wait for the next batch (group
//                 commit: they share its fsync);
//   core_write_done  on success turns every command of the batch into a REPLY; on
//                 failure rolls the in-memory head back and answers "failed", so
//                 nothing is ever acknowledged that is not on disk.
// Not thread-safe: one thread drives it.
#ifndef NODE_CORE_H
#define NODE_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit_id.h"
#include "field.h"
#include "rules.h"
#include "store.h"

#define CORE_COMMAND_ID_MAX 128      // bytes of a client's idempotency key
#define CORE_REQUEST_COMMANDS_MAX 10000 // commands in one submit request
#define CORE_PENDING_COMMANDS_MAX 100000 // commands waiting for the next batch
#define CORE_BATCH_COMMANDS_DEFAULT 4000
// This origin's operations under one seal at most. A group commit larger than this
// is sealed every CORE_SEAL_OPS_MAX operations, so the OpsBatch a peer receives (a
// run of operations ending at a seal) stays this size whatever batch_commands_max is.
#define CORE_SEAL_OPS_MAX 1000
#define CORE_MESSAGE_MAX 512         // bytes of one result message
#define CORE_ACTIONS_MAX 4
#define CORE_ANTI_ENTROPY_MS 1000   // Hello to every peer this often
#define CORE_PEER_TIMEOUT_MS 5000   // a peer not heard from for this long is disconnected
// Field states are written to storage at checkpoints, not with every batch: the log
// is the record, and a restart replays at most this many operations.
#define CORE_CHECKPOINT_OPS 65536
#define CORE_CHECKPOINT_BYTES (8u << 20) // changed field states held in memory at most
#define CORE_PEER_CREDIT_BATCHES 16 // operation batches a peer may send unacknowledged
#define CORE_ACK_EVERY_BATCHES 1  // received batches per Ack (every write that took some)
// Peer operations staged while a write is in flight, in bytes of puts, before the
// node asks its transport to stop reading peers (core_peer_input_paused): the next
// write stays a few group commits long, and what a fast sender's credit window
// holds beyond that waits in its compact wire form instead of in decoded copies.
#define CORE_STAGED_REMOTE_BYTES_MAX (256u << 10)

typedef enum {
    CORE_RESULT_OK = 0,
    CORE_RESULT_BAD_INPUT = 1,
    CORE_RESULT_REFUSED = 2,
    CORE_RESULT_FAILED = 3,
} core_result_code_t;

// One command as a client sent it. Strings are NUL-terminated and borrowed for
// the call; value is bytes.
typedef struct {
    const char *command_id; // "" or NULL: no idempotency key
    const char *source;     // "" or NULL: none
    const char *type;
    const char *key;
    const char *field;
    const char *op; // "add", "remove" or "set"
    const char *value;
    size_t value_len;
    bool has_value;
} core_command_t;

typedef struct {
    core_result_code_t code;
    bool duplicate;               // a repeat of a known command ID: nothing changed
    char audit_id[AUDIT_ID_MAX];  // when code is OK
    char message[CORE_MESSAGE_MAX]; // otherwise: what is wrong and what to do
} core_result_t;

typedef enum {
    CORE_EFFECT_WRITE = 1, // write batch atomically (fsync'd when sync), then core_write_done
    CORE_EFFECT_REPLY = 2, // send results to the client of request_id
    CORE_EFFECT_SEND = 3,  // send bytes (a PeerMessage) to peer; no completion event
} core_effect_kind_t;

typedef struct {
    core_effect_kind_t kind;
    uint64_t batch_id;           // WRITE
    const store_batch_t *batch;  // WRITE: borrowed until core_write_done
    bool sync;                   // WRITE
    uint64_t request_id;         // REPLY
    size_t result_count;         // REPLY
    const core_result_t *results; // REPLY: borrowed until the next core_next_effect
    const char *peer;             // SEND: borrowed until the next core_next_effect
    const uint8_t *bytes;         // SEND
    size_t len;                   // SEND
} core_effect_t;

// Counts of what replication refused or noticed, since the core started.
typedef struct {
    uint64_t operations_received; // applied from peers
    uint64_t batches_sent;
    uint64_t malformed;           // peer messages that do not decode
    uint64_t forged;              // seal signature invalid
    uint64_t broken_chain;        // altered, reordered or wrong-origin operations
    uint64_t gaps;                // batches that start past what we hold (asked again)
    uint64_t unknown_origin;      // no public key to verify the origin with
    uint64_t unknown_peer;        // messages from a name not in the peer table
    uint64_t rules_mismatch;      // Hellos carrying another rules hash
    uint64_t apply_failed;        // verified operations whose merge failed (state unchanged)
    uint64_t repeats;             // batches received that we held already (answered, dropped)
    uint64_t grafts;              // origins we asked a peer to push again (graft Acks)
    uint64_t messages_sent;       // peer messages handed to the transport
    uint64_t bytes_sent;          // their bytes
} core_replication_counters_t;

// How seals are signed and checked, and how received operations and version-vector
// entries are hashed. Production leaves all NULL: libsodium's Ed25519 and BLAKE2b-256.
// The partition simulator passes its own (a memoised Ed25519 check, or a cheap
// stand-in signer for very long runs; docs/SIMULATOR.md says when; and a memo of
// BLAKE2b-256, which 200 simulated nodes compute over the same bytes).
typedef struct {
    void (*sign)(void *ctx, uint8_t signature[64], const uint8_t *message, size_t len,
                 const uint8_t *secret_key);
    bool (*verify)(void *ctx, const uint8_t signature[64], const uint8_t *message, size_t len,
                   const uint8_t *public_key);
    // BLAKE2b-256 of bytes into out: the same 32 bytes crypto_generichash gives.
    void (*hash)(void *ctx, uint8_t out[32], const uint8_t *bytes, size_t len);
    void *ctx;
} core_signer_t;

// Deliberately broken variants the simulator's checkers must catch
// (docs/SIMULATOR.md). Only builds with STOREMESH_SIM (the node_core_sim library)
// honour them; production builds compile every check out.
typedef enum {
    CORE_BUG_NONE = 0,
    CORE_BUG_MERGE_BY_ARRIVAL = 1 << 0, // remote writes to register fields take the local
                                        // clock instead of the origin's HLC and tie-break
    CORE_BUG_RELAY_DROPS_ONE = 1 << 1,  // a relay leaves out every 50th operation of other
                                        // origins from the batches it forwards
    CORE_BUG_ACK_BEFORE_SYNC = 1 << 2,  // batches are written without fsync but acknowledged
    CORE_BUG_NO_DEDUP = 1 << 3,         // a repeated command ID is applied again
} core_bug_t;

typedef struct {
    const char *name;            // this node's name (the origin it stamps)
    const rules_t *rules;        // borrowed for the core's lifetime
    const uint8_t *secret_key;   // crypto_sign_SECRETKEYBYTES, borrowed
    const uint8_t *public_key;   // crypto_sign_PUBLICKEYBYTES, borrowed
    store_reader_t reader;
    bool sync;                   // fsync every batch before acknowledging (default true)
    uint32_t batch_commands_max; // 0: CORE_BATCH_COMMANDS_DEFAULT
    uint32_t anti_entropy_ms;    // Hello period; 0: CORE_ANTI_ENTROPY_MS
    uint32_t peer_timeout_ms;    // a peer silent this long shows disconnected; 0: 5 x Hello period
    core_signer_t signer;        // zero: libsodium Ed25519
    uint32_t bugs;               // core_bug_t bits (simulator builds only)
    uint32_t checkpoint_ops;     // field states are stored after this many operations;
                                 // 0: CORE_CHECKPOINT_OPS
    uint32_t checkpoint_bytes;   // or once this much changed state waits; 0: CORE_CHECKPOINT_BYTES
} core_config_t;

typedef struct core core_t;

// Recovers the node's head from storage. NULL with err set when storage does not
// decode or cannot be read.
core_t *core_new(const core_config_t *config, char *err, size_t err_size);
void core_destroy(core_t **self_p);

// Event: a client request with count commands (1..CORE_REQUEST_COMMANDS_MAX). The
// REPLY effect for request_id carries one result per command, in order.
// 0, or -SM_EFULL when too many commands already wait (the caller answers "busy").
int core_submit(core_t *self, uint64_t request_id, const core_command_t *commands, size_t count,
                uint64_t wall_ms);
// Event: the time passed (refreshes the HLC's notion of wall time for limits).
void core_tick(core_t *self, uint64_t wall_ms);
// Stages waiting commands and hands out a WRITE when none is in flight.
void core_flush(core_t *self, uint64_t wall_ms);
// Event: the WRITE effect for batch_id finished with rc (0 or -SM_E*).
void core_write_done(core_t *self, uint64_t batch_id, int rc);
// Takes the next effect; false when there is none.
bool core_next_effect(core_t *self, core_effect_t *effect);
// True while commands are staged, waiting or in flight.
bool core_is_busy(const core_t *self);
// True while a write is in flight and the next batch already holds
// CORE_STAGED_REMOTE_BYTES_MAX of peer operations: a transport should leave peer
// messages unread until the write is done. Advisory: core_peer_receive still takes
// whatever it is handed (the simulator delivers regardless).
bool core_peer_input_paused(const core_t *self);

// ---- reads (committed state only) ----

typedef enum { CORE_STATE_OK = 0, CORE_STATE_WARN = 1, CORE_STATE_LIMIT = 2 } core_state_t;
const char *core_state_name(core_state_t state);

typedef struct {
    core_state_t state;
    uint64_t queue_depth;
    uint64_t offline_seconds;
    uint64_t last_seq;
    uint64_t operations;       // operations in the log, all origins
    uint64_t commands_refused; // since the core started
    uint64_t write_failures;   // batches storage failed to write, since the core started
    uint64_t writes;           // batches written (one fsync each with fsync on), since then
    size_t action_count;
    char actions[CORE_ACTIONS_MAX][CORE_MESSAGE_MAX];
} core_status_t;
void core_status(const core_t *self, uint64_t wall_ms, core_status_t *status);

// Operations written since the last checkpoint: what a restart now would replay
// from the log to rebuild the field states (right after core_new: what it replayed).
uint64_t core_checkpoint_lag(const core_t *self);

typedef struct {
    const rules_field_t *rule;
    crdt_view_t view;
} core_field_view_t;

typedef struct {
    size_t field_count;
    core_field_view_t *fields; // in rules order, only fields written so far
} core_entity_view_t;
// 0, -SM_EINVAL with message set (unknown type), -SM_EIO, -SM_ECORRUPT.
int core_get(const core_t *self, const char *type, const char *key, core_entity_view_t *view,
             char *message, size_t message_size);
void core_entity_view_free(core_entity_view_t *view);

typedef struct {
    uint8_t *operation;      // stored bytes, malloc'd
    size_t operation_len;
    char hash_hex[65];
    bool sealed;             // a valid signature covers it through the hash chain
    char explain[CORE_MESSAGE_MAX];
} core_audit_t;
// 0; -SM_EINVAL (not an audit ID), -SM_ENOTFOUND, -SM_EIO; message says what.
int core_audit(const core_t *self, const char *audit_id, core_audit_t *audit, char *message,
               size_t message_size);
void core_audit_free(core_audit_t *audit);

// Hex BLAKE2b-256 over every state entry in key order. 0, -SM_EIO.
int core_digest(const core_t *self, char hex[65], uint64_t *field_count);

// ---- replication ----

typedef struct {
    const char *name;
    const uint8_t *public_key; // crypto_sign_PUBLICKEYBYTES
    bool exchange;             // a link: exchange with it; false: only trust its key
                               // for operations relayed by others
} core_peer_t;

// Replaces the peer table: who this core exchanges with, and whose keys it trusts
// to verify operations. State of peers that stay is kept. 0, -SM_EFULL, -SM_ENOMEM.
int core_set_peers(core_t *self, const core_peer_t *peers, size_t count);
// Event: a PeerMessage from peer (authenticated by the transport). Bad input is
// counted and dropped; it never stops the core.
void core_peer_receive(core_t *self, const char *peer, const uint8_t *bytes, size_t len,
                       uint64_t wall_ms);

// Event: the transport's link to peer has just connected (a CURVE handshake
// completed). Sends it a Hello that asks for its whole version vector, so both
// streams restart at once. Unknown names are ignored.
void core_peer_link_up(core_t *self, const char *peer_name);

typedef struct {
    const char *name;
    bool connected;           // heard from within CORE_PEER_TIMEOUT_MS
    uint64_t last_receive_ms; // 0: never
    uint64_t we_owe;          // operations we hold that it lacks
    uint64_t they_owe;        // operations it holds that we lack
} core_peer_status_t;
// Fills up to max entries; returns how many peers there are.
size_t core_peers_status(const core_t *self, uint64_t wall_ms, core_peer_status_t *out,
                         size_t max);
const core_replication_counters_t *core_counters(const core_t *self);

const char *core_name(const core_t *self);
const rules_t *core_rules(const core_t *self);

#endif
