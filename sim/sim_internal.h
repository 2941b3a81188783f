// sim_internal: the engine's state, shared by sim.c (the event loop, a node's
// lives, set-up), sim_client.c (the tills and their ledger), sim_network.c
// (links and delivery), sim_fault.c (faults, crashes, clocks), sim_sample.c
// (samples, convergence after heals, the heal phase), sim_command.c (what a till
// sends), sim_check.c (the checkers and the report's figures) and sim_window.c
// (node events in parallel windows: what handlers may touch there is said by
// sim_event_is_local and SIM_COUNT below).
#ifndef SIM_INTERNAL_H
#define SIM_INTERNAL_H

#include <sodium.h>

#include "core.h"
#include "memstore.h"
#include "sim.h"
#include "sim_queue.h"
#include "sim_rng.h"
#include "sim_signer.h"

// The simulated wall clock starts at 2026-11-25T00:00:00Z.
#define SIM_EPOCH_MS 1795564800000ull
#define SIM_LINK_MESSAGES_MAX 1000   // in flight per link direction (a socket's high-water mark)
#define SIM_WRITEBACK_MS 30000       // the page cache reaches the disk this often anyway
#define SIM_QUIET_CHECK_MS 1000      // convergence is looked for this often after a heal
#define SIM_BANDS_MAX 512
#define SIM_HEALS_MAX 256
#define SIM_CONFIRM_MS 10000         // quiet this long at the end before the checks

typedef enum {
    EV_TICK = 1,
    EV_CLIENT,
    EV_RETRY,
    EV_WRITE_DONE,
    EV_DELIVER,
    EV_FAULT_START,
    EV_FAULT_END,
    EV_FLAP,
    EV_RANDOM_CRASH,
    EV_RESTART,
    EV_RANDOM_CUT,
    EV_RANDOM_CUT_END,
    EV_SAMPLE,
    EV_QUIET,
    EV_HEAL_PHASE,
    EV_CRASH_IN_WRITE,
} sim_event_kind_t;

// A command's life as the till sees it.
typedef enum {
    CMD_PENDING = 0,  // sent, no answer yet
    CMD_ACKED,        // an audit ID came back
    CMD_REFUSED,      // refused by a rule or a limit (final)
    CMD_BAD_INPUT,    // the node called it malformed (final; the workload never sends such)
    CMD_RETRY,        // no answer (crash) or "failed"/"busy": the till sends it again
} sim_command_state_t;

typedef struct {
    uint32_t node;       // the node its till talks to (the origin when applied)
    uint32_t number;     // per node, from 1: the command ID is NODE-NUMBER
    uint8_t kind;        // scenario_command_kind_t
    uint8_t state;       // sim_command_state_t
    uint16_t attempts;
    uint32_t key;        // key index
    int32_t amount;      // counter delta, or a variant number for values
    uint64_t first_ms;   // first sent
    uint64_t seq;        // ACKED: the audit ID's sequence number at node
    bool answered_twice_differently; // a retry got another audit ID: a violation
    bool was_unknown;    // a crash left it unanswered at least once
} sim_command_t;

typedef struct {
    uint64_t request_id;
    uint32_t *commands;  // ledger indexes
    size_t count;
} sim_request_t;

typedef struct {
    uint32_t link;
    uint32_t other;
} sim_adjacent_t;

typedef struct {
    char name[SCENARIO_NAME_MAX + 1];
    uint32_t index;
    bool is_cloud;
    uint8_t public_key[32];
    uint8_t secret_key[64];
    memstore_t *store;
    core_t *core;        // NULL while down
    bool up;
    uint32_t epoch;      // bumped by every crash: events of an earlier life are stale
    int64_t clock_offset_ms; // wall = now + SIM_EPOCH_MS + offset
    bool clock_went_back;
    sim_rng_t workload_rng, storage_rng, clock_rng, fault_rng;
    sim_adjacent_t *adjacent;
    size_t adjacent_count;
    core_peer_t *peer_table; // for core_set_peers: every node, links marked exchange
    // the write in flight: applied to storage when it completes (RocksDB makes a
    // batch visible once its WAL write returns)
    bool writing;
    int write_rc;                      // the outcome storage will report
    const store_batch_t *write_batch;  // borrowed from the core until core_write_done
    bool write_sync;
    bool crash_in_write;               // the next write is interrupted by a power loss
    uint64_t crash_down_ms;            // how long that power loss lasts
    uint64_t last_writeback_ms;
    // clients
    uint32_t next_number;
    sim_request_t *requests; // unanswered, in send order
    size_t request_count, request_cap;
    uint32_t *retry;         // ledger indexes waiting for the till to send again
    size_t retry_count, retry_cap;
    uint64_t next_request_id; // the till's requests, per node: matched only against its own
    // markers
    uint64_t last_receive_ops_ms; // last time it took in operations from a peer
    uint32_t relayed_counted;     // relayed batches it decoded for the marker (capped)
    uint64_t crash_ms;
    bool crashed_in_catch_up;
    bool gap_open;               // it asked for a gap and has not been filled since
    uint64_t gaps_seen;          // core counters.gaps as last read
    uint64_t received_seen;      // core counters.operations_received as last read
    // report
    sim_report_node_t report;
    uint64_t last_depth;
    core_state_t last_state;
    uint64_t messages_sent_base, bytes_sent_base; // counters of earlier lives
} sim_node_t;

typedef struct {
    uint32_t cut_both, cut_ab, cut_ba; // nested cuts (partitions, random cuts)
    bool flap_down;
    // Messages on their way: raised by the sender, lowered when the window in which
    // one arrived ends (sim_window.c), so a sender never reads what a receiver on
    // another thread is changing.
    uint32_t in_flight_ab, in_flight_ba;
    sim_rng_t rng;         // random cuts
    sim_rng_t rng_ab, rng_ba; // loss, duplication and delay of each direction's messages
} sim_link_t;

typedef enum {
    MARK_GAP_FILLED_BY_RELAY = 0,
    MARK_RESUMED_CATCH_UP,
    MARK_CLOCK_JUMP_BACK_THEN_ACK,
    MARK_CONFLICT,
    MARK_CRASH_BETWEEN_WRITE_AND_ACK,
    MARK_RETRY_ANSWERED_FROM_LOG,
    MARK_DISK_ERROR_REFUSED,
    MARK_RELAYED_OPERATIONS,
    MARK_STATES_REPLAYED,
    MARK_COUNT,
} sim_mark_t;

struct sim {
    const scenario_t *scenario;
    const rules_t *rules;
    sim_options_t options;
    sim_signer_t *signer;
    memstore_pool_t *pool; // the nodes' stores share log and seal bytes through it
    // Two queues: events at one node (sim_event_is_local), which sim_window.c runs
    // in parallel windows, and the rest (faults, samples, tills' visits, restarts),
    // which run alone between windows.
    sim_queue_t queue;
    sim_queue_t serial_queue;
    uint64_t now_ms;       // the coordinator's clock; a window's workers keep their own
    // No event at one node causes an event at another, or a serial one, sooner than
    // this after it (the shortest link latency, the shortest power loss): the width
    // of a parallel window. 0: every event runs alone.
    uint64_t lookahead_ms;
    struct sim_window *window;
    bool lookahead_broken; // an event came sooner than lookahead_ms: a simulator bug
    bool healing;          // the heal phase has begun
    bool finished;
    uint64_t heal_start_ms;
    uint64_t quiet_since_ms; // 0: not quiet

    sim_node_t *nodes;
    size_t node_count;
    uint32_t *by_name;     // node indexes sorted by name
    sim_link_t *links;
    sim_rng_t network_rng;

    // Grown only by tills' visits (EV_CLIENT, a serial event), so a window's workers
    // may change the entries of their own nodes in place.
    sim_command_t *ledger;
    size_t ledger_count, ledger_cap;

    // event log
    crypto_generichash_state event_hash;
    uint64_t events;

    // convergence after heals
    bool awaiting;           // a heal happened and convergence has not been seen
    bool quiet_scheduled;
    uint64_t sometimes[MARK_COUNT];

    // report storage
    sim_report_t report;
    sim_report_band_t bands[SIM_BANDS_MAX];
    sim_report_heal_t heals[SIM_HEALS_MAX];
    sim_report_conflict_t conflicts[16];
    sim_report_check_t checks[16];
    sim_report_sometimes_t marks[MARK_COUNT];
    uint64_t *sample_storage; // node_count * sample_cap
    size_t sample_cap;
    uint64_t quiet_point_failures;
    char quiet_point_detail[256];
    uint64_t restart_failures;
    char restart_detail[256];
};

// Adds to a figure every thread may count into (sums: the order does not matter).
#define SIM_COUNT(field, n) ((void)__atomic_fetch_add(&(field), (n), __ATOMIC_RELAXED))

// sim.c: the loop and a node's lives.
// Simulated time now: the running event's time (a window's worker) or the
// coordinator's.
uint64_t sim_now(const sim_t *sim);
// The node's wall clock: simulated time plus its clock offset, never below 1 ms.
uint64_t sim_wall_ms(const sim_t *sim, const sim_node_t *node);
// Stops the run (out of memory): sim_run reports it. Any thread.
void sim_stop_out_of_memory(sim_t *sim);
// True for the kinds that happen at one node and touch only it (and the shared
// figures through SIM_COUNT): those run in parallel windows.
bool sim_event_is_local(uint32_t kind);
// Runs one event (sim.c's switch).
void sim_dispatch(sim_t *sim, sim_event_t *event);
// Hashes event into the event log (and the trace).
void sim_log_event(sim_t *sim, const sim_event_t *event);
// Queues an event at at_ms (not before now_ms: the loop asserts it) for node
// (UINT32_MAX: none), stamped with that node's epoch so that handlers can ignore
// events of an earlier life. bytes is taken over (the loop frees it after dispatch).
// Out of memory sets finished: the run stops and sim_run reports it.
void sim_schedule(sim_t *sim, uint64_t at_ms, uint32_t kind, uint32_t node, uint32_t peer,
                  uint64_t id, uint8_t *bytes, size_t len);
// Hands an up node's effects out: writes to storage, replies to the tills,
// messages to the network. Nothing while the node is down.
void sim_drain(sim_t *sim, sim_node_t *node);
// Starts node's core over its store and schedules its first tick. 0, or <0 with
// err set (the core refused its storage or its peers); the node stays down then.
int sim_node_start(sim_t *sim, sim_node_t *node, char *err, size_t err_size);

// sim_client.c: the tills.
// Ledger entry goes back to node's till to be sent again; the retry is scheduled
// now while node is up, by sim_node_restart otherwise. Out of memory sets finished.
void sim_want_retry(sim_t *sim, sim_node_t *node, uint32_t entry);
// Applies a REPLY effect of node to the ledger entries of its request; a command
// that failed goes back to the till.
void sim_on_reply(sim_t *sim, sim_node_t *node, const core_effect_t *effect);
// EV_CLIENT: schedules the till's next visit and, when node is up, sends a new
// batch of commands. Nothing in the heal phase, which takes no new work.
void sim_on_client(sim_t *sim, sim_node_t *node);
// EV_RETRY: sends up to 64 waiting commands again, one per request, and comes back
// in 100 ms for the rest. Nothing while node is down.
void sim_on_retry(sim_t *sim, sim_node_t *node);

// sim_network.c: links and delivery.
// node's side of its link to other, or NULL when they share no link.
const sim_adjacent_t *sim_adjacent_find(const sim_node_t *node, uint32_t other);
// Puts a SEND effect of from on the link to its peer, with the link's latency and,
// in the fault phase, its loss, duplication and jitter. Dropped (and counted lost)
// when the link is cut or full; dropped silently when there is no link.
void sim_send_message(sim_t *sim, sim_node_t *from, const core_effect_t *effect);
// EV_DELIVER: hands the message to node if it is up and the link still carries it,
// then drains node. The event's bytes stay the loop's.
void sim_on_deliver(sim_t *sim, sim_node_t *node, const sim_event_t *event);

// sim_fault.c: faults, crashes and clocks.
// A band of the report (a fault period). From a window's worker it is added when
// the window ends, in node order.
void sim_add_band(sim_t *sim, uint64_t start_ms, uint64_t end_ms, const char *label,
                  bool whole_mesh);
// A power loss: the store keeps what reached the disk, the core goes, the epoch
// moves on and unanswered commands go back to the till as unknown. Nothing when
// node is already down.
void sim_node_crash(sim_t *sim, sim_node_t *node);
// Starts a down node again (a failure is kept for the nodes-restart check) and
// schedules its till's retries. Nothing when node is up.
void sim_node_restart(sim_t *sim, sim_node_t *node);
// EV_FAULT_START, EV_FAULT_END: the scenario's fault at index begins or ends. Both
// are ignored in the heal phase, which has healed everything.
void sim_on_fault_start(sim_t *sim, uint64_t index);
void sim_on_fault_end(sim_t *sim, uint64_t index);
// EV_FLAP: the flapping fault at index takes its link down or up, until it ends.
void sim_on_flap(sim_t *sim, uint64_t index, bool go_down);
// EV_RANDOM_CRASH: schedules node's next random power loss and, except at time 0,
// strikes now or arms one for its next write.
void sim_on_random_crash(sim_t *sim, sim_node_t *node);
// EV_RANDOM_CUT (end false): schedules the link's next random cut and, except at
// time 0, cuts it for a while. EV_RANDOM_CUT_END (end true) lifts that cut.
void sim_on_random_cut(sim_t *sim, uint32_t link_index, bool end);
// EV_CRASH_IN_WRITE: the power loss armed for node's write strikes, unless the
// node restarted since (a stale epoch) or the heal phase has begun.
void sim_on_crash_in_write(sim_t *sim, sim_node_t *node, const sim_event_t *event);

// sim_sample.c: samples and convergence.
// Records a heal under label at now_ms and looks for convergence from now on.
void sim_add_heal(sim_t *sim, const char *label);
// EV_SAMPLE: reads every node's queue depth and state into the report and
// schedules the next sample while the report has room.
void sim_on_sample(sim_t *sim);
// EV_QUIET: notes the convergence after the latest heal (checking the digests at
// that quiet point); in the heal phase, finishes the run once it has been quiet
// for SIM_CONFIRM_MS, or when heal_ms has passed.
void sim_on_quiet(sim_t *sim);
// EV_HEAL_PHASE: lifts every cut and flap, restarts every node, and awaits the
// final heal's convergence.
void sim_on_heal_phase(sim_t *sim);

// sim_command.c: the command a ledger entry stands for (the same bytes on every
// attempt). buffers holds its strings; it lives as long as the command is used.
typedef struct {
    char command_id[96];
    char type[16];
    char key[96];
    char field[16];
    char op[8];
    char value[96];
} sim_command_text_t;
void sim_command_build(const sim_t *sim, const sim_command_t *command, sim_command_text_t *text,
                       core_command_t *out);
// A new ledger entry for node (the workload's draw), not yet sent.
void sim_command_draw(sim_t *sim, sim_node_t *node, sim_command_t *out);

// sim_check.c: runs every checker and fills the report's checks, conflicts and
// sometimes entries. 0 or -SM_ENOMEM.
int sim_check_all(sim_t *sim);
// True when every node is up and holds every operation any node holds.
bool sim_check_converged(sim_t *sim);
// Compares every node's digest (a quiet point). True when equal.
bool sim_check_digests(sim_t *sim, char *detail, size_t detail_size);
const char *sim_mark_name(sim_mark_t mark);

#endif
