// core_internal: the core's private state, shared by core.c (events and the
// pipeline), core_stage.c (one command: validate, stamp, apply) and core_read.c.
#ifndef NODE_CORE_INTERNAL_H
#define NODE_CORE_INTERNAL_H

#include <sodium.h>

#include "arena.h"
#include "audit_id.h"
#include "core.h"
#include "hlc.h"
#include "name_key.h"
#include "name_pool.h"
#include "overlay.h"
#include "storemesh.pb-c.h"

#define CORE_HASH_BYTES 32

// A planted bug is switched on (core_bug_t): always false outside simulator builds.
#ifdef STOREMESH_SIM
#define CORE_BUG(self, bug) (((self)->bugs & (bug)) != 0)
#else
#define CORE_BUG(self, bug) ((void)(self), false)
#endif
// Committed field states kept in memory, so hot keys (a best-selling SKU) are not
// read back from RocksDB for every sale. Cleared whole when full: simple, bounded
// (about 32k states, a few MB), and hot keys return within one batch.
#define CORE_STATE_CACHE_ENTRIES_MAX 32768
// Command IDs looked up in one get_many (core_prefetch).
#define CORE_PREFETCH_MAX 256

// This origin's chain head; what a batch advances and a failed write rolls back.
typedef struct {
    uint64_t last_seq;                    // last operation stamped by this node
    uint8_t chain_head[CORE_HASH_BYTES];  // hash of operation last_seq (zeros at 0)
    uint64_t operations;                  // operations in the log, all origins
    uint64_t sealed_seq;                  // last operation a seal covers (every write
                                          // ends with one, so last_seq once on disk)
} core_head_t;

typedef struct {
    uint64_t request_id;
    size_t count;
    core_command_t *commands; // deep copies; every command's strings live in strings
    char *strings;
    size_t staged;      // commands taken into a batch or answered so far
    size_t unresolved;  // commands still waiting for a write
    core_result_t *results;
} core_request_t;

// A command staged into the batch, waiting for its write.
typedef struct {
    core_request_t *request;
    size_t index;
} core_waiter_t;

// Another origin's chain as this node holds it (docs/PROTOCOL.md).
#define CORE_ORIGINS_MAX 4096
typedef struct {
    char name[CRDT_NAME_MAX + 1];
    name_key_t key;                         // name_key(name): the table is searched by it
    uint64_t durable_seq;                   // highest contiguous seq on disk
    uint8_t durable_head[CORE_HASH_BYTES];  // hash of operation durable_seq
    uint64_t staged_seq;                    // including batches not yet on disk
    uint8_t staged_head[CORE_HASH_BYTES];
    uint64_t advanced_generation;           // have_generation when durable_seq last grew
    char last_from[CRDT_NAME_MAX + 1];      // the peer its newest staged operations came from
    uint64_t staged_ms;                     // when they came (the core's clock)
    uint64_t have_hashed_seq;               // our_have_digest's cache: the seq have_hash is of
    uint64_t have_hash[4];
    bool has_key;                           // public_key is known (a peer, or this node)
    uint8_t public_key[crypto_sign_PUBLICKEYBYTES];
} core_origin_t;

// An origin (its index in core.origins) advanced by the write of a generation.
#define CORE_ADVANCES_MAX 512
typedef struct {
    uint64_t generation;
    uint32_t index;
} core_advance_t;

// What one batch advanced an origin to; applied to durable when the batch is on disk.
typedef struct {
    char name[CRDT_NAME_MAX + 1];
    uint64_t seq;
    uint8_t head[CORE_HASH_BYTES];
} core_origin_update_t;

// A peer link's protocol state (the transport authenticated it by name).
#define CORE_PEERS_MAX 1024
typedef struct {
    char name[CRDT_NAME_MAX + 1];
    name_key_t name_key;        // name_key(name): peer_find compares these first
    uint8_t public_key[crypto_sign_PUBLICKEYBYTES];
    struct core_vv *their_have; // its version vector, from its last Hello or Ack
    struct core_vv *sent;       // their_have advanced by what we sent since
    struct core_vv *last_hello; // our version vector as our last Hello to it gave it
                                // (NULL until one was sent): a Hello carries the change
    uint32_t credit;            // batches it accepts unacknowledged
    uint32_t in_flight;         // batches sent and not yet acknowledged (pending_count)
    struct {
        char origin[CRDT_NAME_MAX + 1];
        uint64_t last_seq;
        uint64_t sent_ms; // the core's clock when sent
        bool kept;        // scratch for on_have
    } pending[CORE_PEER_CREDIT_BATCHES]; // the batches in flight, oldest first
    size_t pending_count;
    uint64_t last_receive_ms;   // 0: never
    uint32_t batches_unacked;   // its batches we wrote since our last Ack or Hello to it
    // The last gap Ack we sent it: one per origin and held position, or the batches it
    // had in flight would each rewind its stream again (a storm on a lossy link).
    char gap_origin[CRDT_NAME_MAX + 1];
    uint64_t gap_held;
    bool hello_seen;            // we know its version vector
    bool exchange;              // a link; false: its key only (an origin seen by relay)
    // Idle Hellos: our version vector goes in full only when it changed since we last
    // sent it to this peer in full, or when the peer asks.
    bool full_sent;
    uint8_t full_digest[CORE_HASH_BYTES];
    bool wants_full;            // it asked for our full version vector
    bool need_their_full;       // its idle Hello did not match what we hold for it
    // The authority's version vector travels like ours: in full in a full Hello,
    // else only the entries that rose. told: what our Hellos gave it (NULL: the next
    // Hello sends it whole); heard: what its Hellos gave us, checked against the
    // digest each carries.
    struct core_vv *authority_told;
    struct core_vv *authority_heard;
    uint64_t authority_told_changes; // authority_have's changes when told was last brought up to it
    // The authority's own: authority_have was last raised by their_have when its
    // changes count was authority_raised_changes (false: never, or their_have was
    // replaced since).
    bool authority_raised;
    uint64_t authority_raised_changes;
    // It lacked nothing at have_generation caught_up_generation. As sent only grows
    // until the next Hello (which clears caught_up), it can since lack only origins
    // that advanced after that: next_lacking looks at those alone.
    bool caught_up;
    uint64_t caught_up_generation;
    // Duplicate suppression (docs/PROTOCOL.md "Sending"): lazy lists the origins it
    // pruned, which we no longer push to it as we write them (seq 1: present);
    // behind, the origins its last Hello showed it holding more of than we held, at
    // its seq then: still behind at its next Hello, we graft them.
    struct core_vv *lazy;
    struct core_vv *behind;
    bool silent;                // no message for peer_timeout_ms: its pushes were grafted elsewhere
    uint64_t hello_generation;  // have_generation when our last Hello to it was sent
} core_peer_state_t;

// One group-commit batch: its puts, the staged states it wrote (so later commands
// read them before they are on disk), and the commands waiting for it.
typedef struct {
    uint64_t id;
    overlay_t *overlay; // state and idempotency entries written by this batch, nothing
                        // else (core_checkpoint_seal writes them at different times)
    store_batch_t batch;
    core_waiter_t *waiters;
    size_t waiter_count;
    size_t waiter_cap;
    core_head_t head; // this origin's head once the batch is on disk (set when sealed)
    core_origin_update_t *origin_updates; // other origins' operations in this batch
    size_t origin_update_count;
    size_t origin_update_cap;
    size_t remote_operations; // other origins' operations staged
    bool checkpoint;          // it writes the field states and the checkpoint record
} core_batch_t;

// Outgoing peer messages, bounded: when full, messages are dropped and anti-entropy
// sends again on the next round.
#define CORE_SEND_QUEUE_MAX 1024
typedef struct {
    char peer[CRDT_NAME_MAX + 1];
    uint8_t *bytes;
    size_t len;
} core_send_t;

typedef struct {
    char origin[CRDT_NAME_MAX + 1];
    uint64_t first_seq, last_seq;
    uint64_t generation; // have_generation when it was read
    uint8_t *bytes;      // a whole PeerMessage; NULL: none
    size_t len;
} core_batch_message_t;

struct core {
    char name[CRDT_NAME_MAX + 1];
    name_key_t own_key;             // name_key(name)
    size_t own_rank;                // how many of origins[] sort before name
    audit_id_origin_t audit_origin; // name's part of our audit IDs, worked out once
    const rules_t *rules;
    uint8_t secret_key[crypto_sign_SECRETKEYBYTES];
    uint8_t public_key[crypto_sign_PUBLICKEYBYTES];
    store_reader_t reader;
    bool sync;
    uint32_t batch_commands_max;
    uint32_t anti_entropy_ms;
    uint32_t peer_timeout_ms;
    core_signer_t signer;
    uint32_t bugs;
    bool is_authority;

    hlc_t hlc;
    core_head_t durable; // what storage holds
    core_head_t staged;  // durable plus the batch being built
    uint64_t created_ms;
    uint64_t authority_acked_seq;
    uint64_t authority_contact_ms;
    uint64_t now_ms;
    uint64_t commands_refused;
    int write_error;          // rc of the last write when it failed; 0 after a success
    uint64_t write_failures;  // writes failed since the core started
    uint64_t writes;          // batches written (each one fsync), since the core started

    // Idempotency entries of the next commands to stage, read from storage at once
    // (reader.get_many) instead of one get each. Valid within one stage_pending
    // only: storage can gain entries meanwhile only from batches whose overlays
    // answer_repeat reads first, and those stay until a write completes.
    struct {
        const core_request_t *request; // NULL: nothing looked up
        size_t first;                  // of request's commands, and how many
        size_t count;
        bool looked_up[CORE_PREFETCH_MAX]; // false: no valid ID, left to answer_repeat
        uint8_t *values[CORE_PREFETCH_MAX]; // the entry, or NULL when absent
        size_t lens[CORE_PREFETCH_MAX];
    } prefetch;

    // requests not yet fully answered, FIFO; bounded by CORE_PENDING_COMMANDS_MAX
    core_request_t **requests;
    size_t request_count;
    size_t request_cap;
    size_t pending_commands;

    overlay_t *state_cache; // committed states by key (STORE_CF_STATE only)
    // Field states committed since the last checkpoint, not yet in `state`
    // (core_checkpoint.c): the log on disk holds their operations.
    overlay_t *dirty;
    uint64_t dirty_bytes;          // keys and values put into dirty (overwrites count again)
    uint64_t dirty_bytes_max;      // a checkpoint is due above it
    uint64_t checkpoint_ops;       // a checkpoint is due after this many operations
    uint64_t ops_since_checkpoint; // operations written since the last checkpoint
    bool checkpoint_needed;        // the next batch must be one (no record yet)
    bool states_lost;              // dirty could not be rebuilt: stage nothing more
    crdt_buf_t scratch[3];  // staging buffers reused across commands (core_stage.c)

    // Double buffering: one batch is written while the next is built on top of it.
    core_batch_t batches[2];
    core_batch_t *staging;   // the batch being built; never NULL
    core_batch_t *in_flight; // the batch being written, or NULL
    bool write_handed_out;   // the in-flight batch's WRITE effect was taken

    // replication (core_replicate.c, core_origins.c)
    core_origin_t *origins; // sorted by name; not including this node
    size_t origin_count;
    // Which origins advanced at which have_generation, oldest first: a delta Hello
    // names them from here instead of walking the whole table (a cloud walked 200
    // origins for each of its 200 peers every round). It holds every advance with
    // a generation above advances_from; an inserted origin moves the indices, so
    // an insert empties it.
    core_advance_t advances[CORE_ADVANCES_MAX];
    size_t advance_start, advance_count;
    uint64_t advances_from;
    core_peer_state_t *peers;
    size_t peer_count;
    // The indices in peers of those we have a link to (exchange), ascending: what
    // the loops at every write and tick walk. A table holds every node of the mesh
    // and a branch links to a few of them; finding those by walking the whole table
    // read a cold line per node (chain-200: 200 for every write and tick).
    uint32_t *exchange_peers;
    size_t exchange_count;
    struct core_vv *authority_have; // the authority's version vector as far as known
    // During core_replicate_after_write: the origins the batch written advanced
    // (NULL: not known, out of memory).
    const core_origin_t *const *just_written;
    size_t just_written_count;
    uint64_t next_hello_ms;
    // No peer can fall silent before this (the earliest last_receive_ms +
    // peer_timeout_ms of those that can): core_replicate_tick skips its scan of a
    // cloud's hundreds of peers on every event until then. 0: scan at the next tick.
    uint64_t next_silence_ms;
    core_send_t *sends; // FIFO of CORE_SEND_QUEUE_MAX: sends[send_head, send_head + send_count)
    size_t send_head;   // taken from the front by moving this, not the array (a cloud
    size_t send_count;  // queues a message to each of hundreds of peers at once)
    core_send_t send_handed_out;
    core_replication_counters_t counters;
    arena_t decode_arena;       // peer messages are decoded into it, reset per message
    arena_t message_arena;      // the vector entries of the Hello or Ack being built
    name_pool_t *names;          // the names version vectors hold (name_pool.h)
    struct core_vv *vv_spare[3]; // working version vectors kept between Hellos (graft_behind, on_have)
    uint64_t have_generation;   // bumped whenever what we hold on disk grows
    // The OpsBatch send_batch packed last: the next peer that needs the same
    // operations gets these bytes while nothing was written since (a cloud streams
    // each batch to hundreds of peers, and read and packed it for each).
    core_batch_message_t last_batch;
    bool have_digest_valid;     // have_digest is our version vector's at have_digest_generation
    uint64_t have_digest_generation;
    uint8_t have_digest[CORE_HASH_BYTES];
    uint64_t have_sum[4];       // then: the origins' have_hash summed (ours not included)

    // replies ready to hand out, FIFO
    core_request_t **ready;
    size_t ready_count;
    size_t ready_cap;
    core_request_t *handed_out; // freed at the next core_next_effect
};

// core_stage.c: validates, stamps and applies commands[index] of request into the
// batch being built, or answers it at once. 0, or -SM_ENOMEM/-SM_EIO when the batch
// can no longer be trusted (the caller fails the whole batch).
// Looks up at once the idempotency entries of request's commands from first on, as
// many as the staging batch has room for (CORE_PREFETCH_MAX at most). 0, or <0 on
// a storage error. core_prefetch_drop forgets them (at the end of stage_pending).
int core_prefetch(core_t *self, const core_request_t *request, size_t first);
void core_prefetch_drop(core_t *self);
int core_stage_command(core_t *self, core_request_t *request, size_t index,
                       const core_command_t *command);

// Finds key in the batches not yet on disk, newest first. 0 with *value borrowed
// until the next change to a batch, or -SM_ENOTFOUND.
int core_pending_get(const core_t *self, store_cf_t cf, const uint8_t *key, size_t key_len,
                     const uint8_t **value, size_t *value_len);
// core_pending_get for a key hashed once (overlay_key).
int core_pending_get_key(const core_t *self, const overlay_key_t *key, const uint8_t **value,
                         size_t *value_len);

// core.c: a batch could not be built or written: everything not yet on disk is
// answered "failed" and the heads roll back to what storage holds.
void core_fail_pending(core_t *self, int rc);
// Seals this origin's staged chain head into the staging batch. 0 or -SM_ENOMEM.
int core_seal(core_t *self);

// core_stage.c: applies another origin's verified operation (its exact bytes and
// their decoding) to the staging batch. 0; <0 when the batch can no longer be
// trusted (the caller fails it). A merge the rules cannot apply is counted.
int core_stage_remote(core_t *self, const uint8_t *bytes, size_t len,
                      const Storemesh__Operation *op);

// core_stage.c: merges an operation (verified, or read back from our own log) into
// the staging batch's field states. 0; <0 as core_stage_remote.
int core_merge_operation(core_t *self, const Storemesh__Operation *op);

// core_checkpoint.c: field states reach the `state` column family at checkpoints;
// in between they live in self->dirty, and a restart rebuilds them from the log.
// After core_origins_load: reads the checkpoint record and replays the log past it.
int core_checkpoint_load(core_t *self, char *err, size_t err_size);
bool core_checkpoint_due(const core_t *self);
// For a batch being sealed: puts every dirty state (before the batch's own) and the
// checkpoint record, when due; else only the batch's other puts. 0 or -SM_ENOMEM.
int core_checkpoint_seal(core_t *self, core_batch_t *batch);
// After a batch is on disk: its states become dirty, or a checkpoint empties dirty.
void core_checkpoint_committed(core_t *self, const core_batch_t *batch);
// A committed state for key: staged batches first, then dirty. 0 or -SM_ENOTFOUND.
int core_committed_get(const core_t *self, const uint8_t *key, size_t key_len,
                       const uint8_t **value, size_t *value_len);
// Scans `state` under prefix (all of it for prefix_len 0) in key order with the
// dirty states merged in, as storage would hold them after a checkpoint now.
int core_state_scan(const core_t *self, const uint8_t *prefix, size_t prefix_len,
                    store_scan_fn fn, void *arg);

// core_origins.c
int core_origins_load(core_t *self, char *err, size_t err_size);
core_origin_t *core_origin_find(const core_t *self, const char *name);
// Finds or adds name (bounded by CORE_ORIGINS_MAX). NULL when full or out of memory.
core_origin_t *core_origin_add(core_t *self, const char *name);
// Records in the staging batch that it advanced origin to (seq, head).
int core_origin_stage(core_t *self, core_origin_t *origin, uint64_t seq,
                      const uint8_t head[CORE_HASH_BYTES]);
// Meta puts for every origin the staging batch advanced.
int core_origins_put(core_t *self);
void core_origins_commit(core_t *self, const core_batch_t *batch);
void core_origins_rollback(core_t *self);
void core_origins_free(core_t *self);

// core_replicate.c
// What a seal signs: "storemesh-seal-v1\0" ORIGIN "\0" SEQ(be64) HEAD (docs/PROTOCOL.md).
#define CORE_SEAL_MESSAGE_MAX (18 + CRDT_NAME_MAX + 1 + 8 + CORE_HASH_BYTES)
size_t core_seal_message(uint8_t out[CORE_SEAL_MESSAGE_MAX], const char *origin, uint64_t seq,
                         const uint8_t head[CORE_HASH_BYTES]);
// True when the seal is well formed and its signature verifies with public_key
// (through signer; NULL: libsodium).
bool core_seal_verifies(const Storemesh__Seal *seal, const uint8_t *public_key,
                        const core_signer_t *signer);
void core_replicate_tick(core_t *self);
void core_replicate_after_write(core_t *self, const core_batch_t *batch);
void core_replicate_free(core_t *self);

// core_read.c helpers shared with staging
int core_read(const core_t *self, store_cf_t cf, const uint8_t *key, size_t key_len,
              uint8_t **value, size_t *value_len);
uint64_t core_queue_depth(const core_t *self, const core_head_t *head);
uint64_t core_offline_seconds(const core_t *self, uint64_t wall_ms);
// The owner name that an owner-merged field on (type, key) shows, written to owner
// (CRDT_NAME_MAX + 1 bytes); "" when the entity has no creator yet.
int core_field_owner(const core_t *self, const rules_field_t *rule, const char *type,
                     const char *key, bool use_overlay, char *owner);
void core_hash(uint8_t out[CORE_HASH_BYTES], const uint8_t *bytes, size_t len);
// The same hash, through signer's hash hook when it has one (the simulator's memo).
void core_hash_by(const core_signer_t *signer, uint8_t out[CORE_HASH_BYTES], const uint8_t *bytes,
                  size_t len);
void core_hex(char *out, const uint8_t *bytes, size_t len);

#endif
