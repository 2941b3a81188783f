// scenario: a partition-simulator rehearsal as read from a YAML file in
// sim/scenarios/ (docs/SIMULATOR.md is the format): the nodes and links, the
// rules file, the timing, the workload, the faults on a timeline and at random
// rates. Parsing resolves every name: a scenario_t holds indexes, never names to
// look up later. Not for: running it (sim.c does that).
#ifndef SIM_SCENARIO_H
#define SIM_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SCENARIO_NAME_MAX 63      // a node or region name (CRDT_NAME_MAX)
#define SCENARIO_NODES_MAX 1024
#define SCENARIO_PATH_MAX 4096
#define SCENARIO_FAULTS_MAX 4096
#define SCENARIO_UNTIL_HEAL UINT64_MAX // a fault's duration_ms: lasts until the heal phase

typedef struct {
    char name[SCENARIO_NAME_MAX + 1];
    uint32_t region;   // index into regions; the cloud has its own region "cloud"
    bool is_cloud;     // the rules file's authority
} scenario_node_t;

typedef struct {
    uint32_t a, b;           // node indexes, a < b, no duplicates
    uint32_t latency_ms_min; // one-way delay is drawn uniformly in [min, max]
    uint32_t latency_ms_max;
} scenario_link_t;

typedef enum {
    SCENARIO_FAULT_PARTITION = 1, // cut links (both ways, or one way)
    SCENARIO_FAULT_CRASH = 2,     // power loss of node, restart after duration_ms
    SCENARIO_FAULT_FLAP = 3,      // link goes down for down_ms every every_ms
    SCENARIO_FAULT_CLOCK_JUMP = 4,// node's wall clock jumps to jump_to_ms (0: 1970)
    SCENARIO_FAULT_CLOCK_SKEW = 5,// node's wall clock is shifted by skew_ms from at_ms on
} scenario_fault_kind_t;

// One link cut by a partition: both ways, or only the direction named.
typedef enum {
    SCENARIO_CUT_BOTH = 0,
    SCENARIO_CUT_A_TO_B = 1, // messages from link.a to link.b are lost
    SCENARIO_CUT_B_TO_A = 2,
} scenario_cut_dir_t;

typedef struct {
    uint32_t link; // index into links
    scenario_cut_dir_t dir;
} scenario_cut_t;

typedef struct {
    scenario_fault_kind_t kind;
    uint64_t at_ms;        // simulated time from the start
    uint64_t duration_ms;  // PARTITION, CRASH, FLAP: how long; SCENARIO_UNTIL_HEAL
    char label[96];        // for the report: "cloud isolated", "north | south" ...
    // PARTITION
    scenario_cut_t *cuts;  // malloc'd
    size_t cut_count;
    // CRASH, CLOCK_*
    uint32_t node;
    // FLAP
    uint32_t link;
    uint64_t every_ms;
    uint64_t down_ms;
    // CLOCK_JUMP: the wall clock reads this then runs on from it
    uint64_t jump_to_ms;
    // CLOCK_SKEW
    int64_t skew_ms;
} scenario_fault_t;

// Faults at random rates during the fault phase (all off in the heal phase).
typedef struct {
    double loss;              // probability a message is lost
    double duplicate;         // probability a message is delivered twice
    uint32_t jitter_ms;       // extra delay in [0, jitter_ms]: reorders messages
    double crash_per_hour;    // per node: power losses per simulated hour
    uint64_t crash_down_ms_min, crash_down_ms_max;
    double link_cut_per_hour; // per link: cuts per simulated hour
    uint64_t link_cut_ms_min, link_cut_ms_max;
    uint64_t clock_skew_ms;   // each node's wall clock starts off by up to this, either way
    double disk_error;        // probability a write fails (EIO) and must be refused
} scenario_random_t;

// What clients do. Rates are per simulated hour; the mix weights need not sum to
// anything in particular (each is a share of their sum).
typedef enum {
    SCENARIO_CMD_SALE = 0,        // stock on_hand add -N (counter)
    SCENARIO_CMD_RECEIVE,         // stock on_hand add +N (counter)
    SCENARIO_CMD_TAG_ADD,         // customer tags add (add-wins-set)
    SCENARIO_CMD_TAG_REMOVE,      // customer tags remove
    SCENARIO_CMD_EMAIL,           // customer email set (last-writer-wins)
    SCENARIO_CMD_PHONE,           // customer phone set (keep-both)
    SCENARIO_CMD_VOUCHER,         // voucher redeemed_by set (first-writer-wins)
    SCENARIO_CMD_ORDER,           // order status set (owner: origin)
    SCENARIO_CMD_PRICE,           // price amount set: the cloud's own work
    SCENARIO_CMD_BRANCH_PRICE,    // a branch tries to set a price: refused by the owner rule
    SCENARIO_CMD_KINDS,
} scenario_command_kind_t;

typedef struct {
    double branch_per_hour;  // commands per branch per simulated hour
    double cloud_per_hour;   // commands at the cloud per simulated hour (prices)
    double mix[SCENARIO_CMD_KINDS];
    uint32_t keys;           // distinct SKUs / customers / orders per kind
    uint32_t hot_keys;       // of which this many are hot (shared by every branch)
    double hot_share;        // share of commands that go to a hot key
    uint32_t vouchers;       // distinct vouchers (double redemptions come from these)
    uint64_t retry_ms;       // a till retries an unanswered command after this long
    uint32_t batch_max;      // commands a till sends in one request (1 = one at a time)
} scenario_workload_t;

typedef struct {
    char name[SCENARIO_NAME_MAX + 1];
    char description[256];
    char path[SCENARIO_PATH_MAX];       // the scenario file as given
    char rules_path[SCENARIO_PATH_MAX]; // resolved against the scenario file's folder
    uint64_t duration_ms;       // the fault phase
    uint64_t heal_ms;           // the heal phase: everything up, must converge within it
    uint64_t anti_entropy_ms;   // the core's Hello period (a fidelity knob: see the doc)
    uint64_t peer_timeout_ms;   // the core's connected/disconnected threshold
    uint64_t sample_ms;         // report sampling of queue depths
    uint32_t write_ms_min, write_ms_max; // a storage write with fsync takes this long
    bool ed25519;               // real signatures (true) or the simulated signer
    uint64_t seed;              // default seed when --seed is not given

    char (*regions)[SCENARIO_NAME_MAX + 1]; // malloc'd region names
    size_t region_count;
    scenario_node_t *nodes;     // malloc'd; the cloud first when there is one
    size_t node_count;
    uint32_t cloud;             // index of the authority; UINT32_MAX when none
    scenario_link_t *links;     // malloc'd
    size_t link_count;

    scenario_workload_t workload;
    scenario_fault_t *faults;   // malloc'd, sorted by at_ms (stable)
    size_t fault_count;
    scenario_random_t random;
} scenario_t;

// Reads path. 0; otherwise -SM_EINVAL (or -SM_EIO for an unreadable file, -SM_ENOMEM)
// with err holding "FILE:LINE: what is wrong; the valid choices". The scenario names its
// cloud node itself (topology.cloud); sim.c checks it is the rules' authority.
// On failure out holds nothing to free.
int scenario_load(const char *path, scenario_t *out, char *err, size_t err_size);
// Frees everything and zeroes *self (cloud: UINT32_MAX). Safe on a zeroed scenario,
// and twice.
void scenario_free(scenario_t *self);
const char *scenario_command_kind_name(scenario_command_kind_t kind);

#endif
