// report: what an operator wants from a rehearsal, written from the figures a
// simulation run collected (sim.c fills a sim_report_t): as text, as JSON, and as
// an SVG picture of queue depth per node over simulated time with the outage
// bands, the limit lines and the moments of convergence. Pure formatting: it
// reads the struct and writes a stream or a file, nothing else.
#ifndef SIM_REPORT_H
#define SIM_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SIM_REPORT_NAME_MAX 63
#define SIM_REPORT_LABEL_MAX 96

typedef struct {
    char name[SIM_REPORT_NAME_MAX + 1];
    bool is_cloud;
    uint64_t queue_depth_peak;     // highest queue depth seen (samples and status reads)
    uint64_t queue_depth_peak_ms;  // simulated time of that peak
    uint64_t offline_ms;           // total simulated time it could not reach the cloud
    uint64_t warnings;             // times its status went from ok to warn
    uint64_t limits;               // times its status went to limit
    uint64_t commands_acked;       // commands its clients got an audit ID for
    uint64_t commands_refused;     // refused by a rule or a limit
    uint64_t commands_failed;      // storage failed: answered "failed", retried by the till
    uint64_t crashes;              // power losses
    uint64_t messages_sent;        // peer messages it handed to the network
    uint64_t bytes_sent;
    uint64_t *samples;             // queue depth at sample i (sample_count entries), borrowed
} sim_report_node_t;

// A stretch of simulated time something was broken: a partition, a crash, a flap.
typedef struct {
    uint64_t start_ms;
    uint64_t end_ms;
    char label[SIM_REPORT_LABEL_MAX];
    bool whole_mesh; // true: drawn across the whole plot (a partition); false: a crash
                     // or flap of one node or link, drawn as a thin band
} sim_report_band_t;

// A heal (a fault ending) and when every node held the same operations again.
typedef struct {
    uint64_t heal_ms;
    uint64_t converged_ms; // 0: did not converge before the next heal or the end
    char label[SIM_REPORT_LABEL_MAX];
} sim_report_heal_t;

typedef struct {
    char rule[SIM_REPORT_LABEL_MAX];  // "voucher.redeemed_by (first-writer-wins)"
    uint64_t count;
    char meaning[160];                // "redemptions that lost to an earlier one: refund"
} sim_report_conflict_t;

typedef struct {
    char name[SIM_REPORT_NAME_MAX + 1]; // "acknowledged-not-lost"
    bool passed;
    char detail[256];                   // what failed, or what was checked
} sim_report_check_t;

typedef struct {
    char name[SIM_REPORT_NAME_MAX + 1]; // "gap-filled-by-relay"
    uint64_t count;
} sim_report_sometimes_t;

typedef struct {
    char scenario[SIM_REPORT_NAME_MAX + 1];
    uint64_t seed;
    char replay[512];          // the command that replays this run exactly
    uint64_t duration_ms;      // fault phase
    uint64_t end_ms;           // when the run ended (after healing and quiescence)
    uint64_t warn_depth;       // queue depth at which nodes warn (0: no limit)
    uint64_t limit_depth;      // max_queue_depth (0: none)

    sim_report_node_t *nodes;
    size_t node_count;
    uint64_t sample_ms;        // samples are taken every sample_ms from 0
    size_t sample_count;

    sim_report_band_t *bands;
    size_t band_count;
    sim_report_heal_t *heals;
    size_t heal_count;
    sim_report_conflict_t *conflicts;
    size_t conflict_count;
    sim_report_check_t *checks;
    size_t check_count;
    sim_report_sometimes_t *sometimes;
    size_t sometimes_count;

    uint64_t commands;           // commands clients sent (first attempts)
    uint64_t messages_delivered;
    uint64_t messages_lost;      // to loss, cuts and crashed receivers
    uint64_t messages_duplicated;
    uint64_t bytes_delivered;
    uint64_t events;             // events the simulator processed
    char event_hash[65];         // BLAKE2b-256 of the event log, hex: same seed, same hash

    // Speed, measured outside the simulation; not part of the event log. 0: not shown.
    double wall_seconds;
} sim_report_t;

// True when every check passed.
bool sim_report_passed(const sim_report_t *self);
// Plain text for a terminal: a summary line, checks, heals, per-node table,
// conflicts, traffic, rare paths, event log, speed; on failure the replay command
// last. Write errors are left on out: the caller checks ferror(out).
void sim_report_text(const sim_report_t *self, FILE *out);
// One JSON object (documented in docs/SIMULATOR.md, "The report"). Write errors as for text.
void sim_report_json(const sim_report_t *self, FILE *out);
// Writes the picture to path. 0, or -SM_EIO with err saying why.
int sim_report_svg(const sim_report_t *self, const char *path, char *err, size_t err_size);

#endif
