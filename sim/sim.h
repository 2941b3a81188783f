// sim: the partition simulator's engine. It runs every node of a scenario in one
// process (on one or more threads: sim_window.h), each with the production core (node/core.h) over simulated storage
// (memstore), a simulated network and a simulated clock, from one seed: the same
// scenario and seed give the same run, event for event. A run has a fault phase
// (workload plus the scenario's faults), a heal phase (everything up, faults off,
// no new work) that ends at quiescence, and the checks (sim_check.c), which trust
// the simulator's own ledger of client commands, not the nodes.
// docs/SIMULATOR.md is the user's description.
#ifndef SIM_SIM_H
#define SIM_SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "report.h"
#include "rules.h"
#include "scenario.h"

typedef struct {
    uint64_t seed;
    uint32_t bugs;          // core_bug_t bits to plant (node_core_sim builds only)
    FILE *trace;            // compact event trace, one line an event; NULL: none
    const char *replay_arguments; // how main was asked for this scenario, for the replay line
    unsigned threads;       // run the windows of node events on this many (0: 1); the run is
                            // the same for any number
} sim_options_t;

typedef struct sim sim_t;

// Builds the run (nothing happens until sim_run). The scenario and rules are
// borrowed for the sim's lifetime. NULL with err set when they do not fit
// together (the scenario's cloud is not the rules' authority, say).
sim_t *sim_new(const scenario_t *scenario, const rules_t *rules, const sim_options_t *options,
               char *err, size_t err_size);
void sim_destroy(sim_t **self_p);
// Joins the helper threads of sim_run's windows (sim_destroy does as well), for a
// process about to exit without freeing the simulation; the report stays valid.
void sim_stop_threads(sim_t *self);
// Runs all phases and the checks. 0 when the run completed (whether or not the
// checks passed: see sim_report_passed); <0 when the simulator itself failed (out
// of memory), with err set.
int sim_run(sim_t *self, char *err, size_t err_size);
// Valid after sim_run until sim_destroy; the caller may set wall_seconds.
sim_report_t *sim_report(sim_t *self);

#endif
