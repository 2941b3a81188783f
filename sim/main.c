// storemesh-sim: runs a scenario of the partition simulator for one seed or a
// sweep of seeds, prints the operator report, and exits non-zero when a checker
// failed. docs/SIMULATOR.md is the manual. The wall clock is read here only, to
// print the simulator's speed; nothing inside the simulation sees it.
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core.h"
#include "report.h"
#include "sim_window.h"
#include "rules.h"
#include "scenario.h"
#include "sim.h"
#include "sm_error.h"

#define EXIT_FAILED_CHECK 1
#define EXIT_USAGE 2
#define EXIT_ENVIRONMENT 3
#define SIM_JOBS_MAX 64 // processes a sweep may use

// A run of one seed ends the process, and the kernel takes its memory back at once:
// freeing it block by block (1.4 GB in chain-200) took 4 s after the report, which
// the operator waited for. It stays reachable from here, so a leak checker does not
// count it lost. Sanitizer builds (the test command's) free it, so the destroy path
// is still checked on every shipped scenario.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SIM_FREE_AT_EXIT 1
#else
#define SIM_FREE_AT_EXIT 0
#endif
static sim_t *kept_until_exit;

static const struct {
    const char *name;
    uint32_t bug;
    const char *what;
} bugs[] = {
    {"merge-by-arrival", CORE_BUG_MERGE_BY_ARRIVAL,
     "remote register writes take the local clock, not the origin's HLC and tie-break"},
    {"relay-drops-one", CORE_BUG_RELAY_DROPS_ONE,
     "a relay leaves every 50th operation of other origins out of what it forwards"},
    {"ack-before-sync", CORE_BUG_ACK_BEFORE_SYNC,
     "batches are acknowledged without being synced to disk"},
    {"no-dedup", CORE_BUG_NO_DEDUP, "a retried command ID is applied again"},
};

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: storemesh-sim SCENARIO.yaml [--seed N | --seeds A..B] [--json] [--plot FILE.svg]\n"
            "                     [--trace FILE] [--plant BUG[,BUG...]] [--no-marks] [--quiet]\n"
            "                     [--jobs N] [--threads N]\n"
            "  --seed N       run seed N (default: the scenario's seed); replays a run exactly\n"
            "  --seeds A..B   sweep seeds A to B; fails when any seed fails or a rare path is\n"
            "                 never reached (--no-marks: do not require them)\n"
            "  --jobs N       a sweep runs its seeds on N processes (default 1); the results\n"
            "                 do not depend on N\n"
            "  --threads N    run each seed on N threads (1 to %d; default 2 for one seed,\n"
            "                 1 in a sweep); the run does not depend on N\n"
            "  --json         print the report as JSON (single seed)\n"
            "  --plot F.svg   draw queue depths, outages, limits and convergence (single seed)\n"
            "  --trace FILE   write the event trace, one line an event (single seed); a\n"
            "                 failing seed's trace goes to $TMPDIR by itself\n"
            "  --plant BUG    switch on a deliberately broken variant the checkers must catch:\n",
            SIM_THREADS_MAX);
    for (size_t i = 0; i < sizeof bugs / sizeof *bugs; i++)
        fprintf(out, "                   %-17s %s\n", bugs[i].name, bugs[i].what);
    fprintf(out, "exit: 0 every check passed, 1 a check failed, 2 bad usage or scenario, "
                 "3 environment\n");
}

static int
parse_bugs(const char *text, uint32_t *out, char *names, size_t names_size)
{
    char copy[256];
    snprintf(copy, sizeof copy, "%s", text);
    snprintf(names, names_size, "%s", text);
    char *save = NULL;
    for (char *word = strtok_r(copy, ",", &save); word; word = strtok_r(NULL, ",", &save)) {
        size_t i = 0;
        while (i < sizeof bugs / sizeof *bugs && strcmp(bugs[i].name, word) != 0)
            i++;
        if (i == sizeof bugs / sizeof *bugs) {
            fprintf(stderr, "storemesh-sim: unknown planted bug '%s'; valid: ", word);
            for (size_t k = 0; k < sizeof bugs / sizeof *bugs; k++)
                fprintf(stderr, "%s%s", k ? ", " : "", bugs[k].name);
            fprintf(stderr, "\n");
            return -1;
        }
        *out |= bugs[i].bug;
    }
    return 0;
}

static int
parse_u64(const char *text, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno || !end || end == text || *end != '\0' || text[0] == '-')
        return -1;
    *out = value;
    return 0;
}

// option's value: a whole number of things (processes, threads) from 1 to max.
// -1 with the message printed when it is not.
static int
parse_count(const char *option, const char *text, const char *things, unsigned max,
            unsigned *out)
{
    uint64_t value = 0;
    if (parse_u64(text, &value) || value < 1 || value > max) {
        fprintf(stderr, "storemesh-sim: %s takes a number of %s from 1 to %u, not '%s'\n",
                option, things, max, text);
        return -1;
    }
    *out = (unsigned)value;
    return 0;
}

static double
now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

// What a range of seeds added up to; a sweep's workers each send theirs to the
// parent through a pipe, so it is plain data.
typedef struct {
    int exit_code;
    uint64_t passed, failed, commands;
    double simulated_s;
    size_t mark_count;
    uint64_t marks[32];
    char mark_names[32][SIM_REPORT_NAME_MAX + 1];
} tally_t;

typedef struct {
    const scenario_t *scenario;
    const rules_t *rules;
    uint32_t planted;
    unsigned threads;
    FILE *trace;
    const char *replay_arguments;
    bool sweep, json, quiet;
    const char *plot_path;
} run_setup_t;

// A failing seed's event trace, written by running the seed again with tracing on
// (a run is the same every time). Returns the path in path (size bytes), or "" when
// it could not be written.
static void
write_failure_trace(const run_setup_t *setup, uint64_t seed, char *path, size_t size)
{
    const char *dir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(path, size, "%s/storemesh-sim-%s-%" PRIu64 ".trace", dir, setup->scenario->name, seed);
    FILE *trace = fopen(path, "w");
    if (!trace) {
        path[0] = '\0';
        return;
    }
    char err[256];
    sim_options_t options = {.seed = seed,
                             .bugs = setup->planted,
                             .trace = trace,
                             .replay_arguments = setup->replay_arguments,
                             .threads = setup->threads};
    sim_t *sim = sim_new(setup->scenario, setup->rules, &options, err, sizeof err);
    bool ok = sim && sim_run(sim, err, sizeof err) == 0;
    sim_destroy(&sim);
    if (fclose(trace) != 0 || !ok)
        path[0] = '\0';
}

// Runs seeds first, first + stride, ... up to last, adding to tally. A sweep prints
// each failure as one write, so that workers sharing stdout never interleave lines.
static void
run_seeds(const run_setup_t *setup, uint64_t first, uint64_t last, uint64_t stride, tally_t *tally)
{
    char err[1024];
    for (uint64_t seed = first; seed <= last && seed >= first; seed += stride) {
        sim_options_t options = {.seed = seed,
                                 .bugs = setup->planted,
                                 .trace = setup->trace,
                                 .replay_arguments = setup->replay_arguments,
                                 .threads = setup->threads};
        double run_started = now_seconds();
        sim_t *sim = sim_new(setup->scenario, setup->rules, &options, err, sizeof err);
        if (!sim) {
            fprintf(stderr, "storemesh-sim: %s\n", err);
            tally->exit_code = EXIT_USAGE; // the scenario and its rules do not fit together
            return;
        }
        if (sim_run(sim, err, sizeof err)) {
            fprintf(stderr, "storemesh-sim: seed %" PRIu64 ": %s\n", seed, err);
            sim_destroy(&sim);
            tally->exit_code = EXIT_ENVIRONMENT;
            return;
        }
        sim_report_t *report = sim_report(sim);
        report->wall_seconds = now_seconds() - run_started;
        tally->simulated_s += (double)report->end_ms / 1000.0;
        tally->commands += report->commands;
        bool ok = sim_report_passed(report);
        if (ok)
            tally->passed++;
        else
            tally->failed++;
        for (size_t m = 0; m < report->sometimes_count && m < 32; m++) {
            tally->marks[m] += report->sometimes[m].count;
            snprintf(tally->mark_names[m], sizeof tally->mark_names[m], "%s",
                     report->sometimes[m].name);
            if (m + 1 > tally->mark_count)
                tally->mark_count = m + 1;
        }
        if (!setup->sweep) {
            if (setup->json)
                sim_report_json(report, stdout);
            else if (!setup->quiet || !ok)
                sim_report_text(report, stdout);
            if (!ok && !setup->trace) {
                char path[512];
                write_failure_trace(setup, seed, path, sizeof path);
                if (path[0])
                    fprintf(stderr, "storemesh-sim: the failing run's event trace: %s\n", path);
            }
            if (setup->plot_path && sim_report_svg(report, setup->plot_path, err, sizeof err)) {
                fprintf(stderr, "storemesh-sim: %s\n", err);
                tally->exit_code = EXIT_ENVIRONMENT;
            }
        } else if (!ok) {
            char lines[4096];
            size_t used = 0;
            for (size_t c = 0; c < report->check_count && used < sizeof lines; c++)
                if (!report->checks[c].passed)
                    used += (size_t)snprintf(lines + used, sizeof lines - used,
                                             "seed %" PRIu64 ": FAIL %s: %s\n", seed,
                                             report->checks[c].name, report->checks[c].detail);
            char path[512] = "";
            if (!setup->trace)
                write_failure_trace(setup, seed, path, sizeof path);
            if (used < sizeof lines)
                used += (size_t)snprintf(lines + used, sizeof lines - used,
                                         "seed %" PRIu64 ": replay: %s\n", seed, report->replay);
            if (path[0] && used < sizeof lines)
                snprintf(lines + used, sizeof lines - used, "seed %" PRIu64 ": trace: %s\n", seed,
                         path);
            fputs(lines, stdout);
            fflush(stdout);
        }
        if (!setup->sweep && !SIM_FREE_AT_EXIT) {
            assert(!kept_until_exit); // one seed: the loop ends here
            sim_stop_threads(sim);
            kept_until_exit = sim; // see SIM_FREE_AT_EXIT
            continue;
        }
        sim_destroy(&sim);
    }
}

static void
tally_add(tally_t *into, const tally_t *from)
{
    if (from->exit_code && !into->exit_code)
        into->exit_code = from->exit_code;
    into->passed += from->passed;
    into->failed += from->failed;
    into->commands += from->commands;
    into->simulated_s += from->simulated_s;
    for (size_t m = 0; m < from->mark_count && m < 32; m++) {
        into->marks[m] += from->marks[m];
        memcpy(into->mark_names[m], from->mark_names[m], sizeof into->mark_names[m]);
    }
    if (from->mark_count > into->mark_count)
        into->mark_count = from->mark_count;
}

// A sweep on jobs processes: worker k takes seeds first + k, first + k + jobs, ...
// The seeds' results do not depend on which worker ran them.
static void
run_parallel(const run_setup_t *setup, uint64_t first, uint64_t last, unsigned jobs, tally_t *tally)
{
    int fds[SIM_JOBS_MAX][2];
    pid_t pids[SIM_JOBS_MAX];
    unsigned started = 0;
    fflush(stdout);
    for (unsigned k = 0; k < jobs && first + k <= last; k++) {
        if (pipe(fds[k]) != 0)
            break;
        pid_t pid = fork();
        if (pid < 0) {
            close(fds[k][0]);
            close(fds[k][1]);
            break;
        }
        if (pid == 0) {
            close(fds[k][0]);
            tally_t mine = {0};
            run_seeds(setup, first + k, last, jobs, &mine);
            fflush(stdout);
            ssize_t written = write(fds[k][1], &mine, sizeof mine);
            _exit(written == (ssize_t)sizeof mine ? 0 : EXIT_ENVIRONMENT);
        }
        close(fds[k][1]);
        pids[k] = pid;
        started++;
    }
    if (started == 0) { // no fork: run them here
        run_seeds(setup, first, last, 1, tally);
        return;
    }
    for (unsigned k = 0; k < started; k++) {
        tally_t theirs = {0};
        ssize_t got = read(fds[k][0], &theirs, sizeof theirs);
        close(fds[k][0]);
        int status = 0;
        waitpid(pids[k], &status, 0);
        if (got != (ssize_t)sizeof theirs || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "storemesh-sim: sweep worker %u died; run the seeds again with "
                            "--jobs 1 to see why\n", k);
            theirs.exit_code = EXIT_ENVIRONMENT;
        }
        tally_add(tally, &theirs);
    }
    // Seeds a missing worker would have run (a fork that failed) run here.
    for (unsigned k = started; k < jobs && first + k <= last; k++) {
        tally_t mine = {0};
        run_seeds(setup, first + k, last, jobs, &mine);
        tally_add(tally, &mine);
    }
}

int
main(int argc, char **argv)
{
    const char *scenario_path = NULL;
    const char *plot_path = NULL;
    const char *trace_path = NULL;
    uint64_t seed_first = 0, seed_last = 0;
    bool have_seed = false, sweep = false, json = false, quiet = false, require_marks = true;
    uint32_t planted = 0;
    unsigned jobs = 1;
    unsigned threads = 0; // 0: the default for the run
    char plant_names[256] = "";
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(arg, "--seed") == 0 && next) {
            if (parse_u64(next, &seed_first)) {
                fprintf(stderr, "storemesh-sim: --seed takes a whole number, not '%s'\n", next);
                return EXIT_USAGE;
            }
            seed_last = seed_first;
            have_seed = true;
            i++;
        } else if (strcmp(arg, "--seeds") == 0 && next) {
            char copy[64];
            snprintf(copy, sizeof copy, "%s", next);
            char *dots = strstr(copy, "..");
            if (dots)
                *dots = '\0';
            if (!dots || parse_u64(copy, &seed_first) || parse_u64(dots + 2, &seed_last) ||
                seed_last < seed_first) {
                fprintf(stderr, "storemesh-sim: --seeds takes A..B with A <= B, not '%s'\n", next);
                return EXIT_USAGE;
            }
            have_seed = true;
            sweep = true;
            i++;
        } else if (strcmp(arg, "--jobs") == 0 && next) {
            if (parse_count(arg, next, "processes", SIM_JOBS_MAX, &jobs))
                return EXIT_USAGE;
            i++;
        } else if (strcmp(arg, "--threads") == 0 && next) {
            if (parse_count(arg, next, "threads", SIM_THREADS_MAX, &threads))
                return EXIT_USAGE;
            i++;
        } else if (strcmp(arg, "--json") == 0) {
            json = true;
        } else if (strcmp(arg, "--quiet") == 0) {
            quiet = true;
        } else if (strcmp(arg, "--no-marks") == 0) {
            require_marks = false;
        } else if (strcmp(arg, "--plot") == 0 && next) {
            plot_path = next;
            i++;
        } else if (strcmp(arg, "--trace") == 0 && next) {
            trace_path = next;
            i++;
        } else if (strcmp(arg, "--plant") == 0 && next) {
            if (parse_bugs(next, &planted, plant_names, sizeof plant_names))
                return EXIT_USAGE;
            i++;
        } else if (arg[0] == '-' || scenario_path) {
            fprintf(stderr, "storemesh-sim: unexpected argument '%s'\n", arg);
            usage(stderr);
            return EXIT_USAGE;
        } else {
            scenario_path = arg;
        }
    }
    if (!scenario_path) {
        fprintf(stderr, "storemesh-sim: name a scenario file (sim/scenarios/*.yaml)\n");
        usage(stderr);
        return EXIT_USAGE;
    }
    if (sweep && (json || plot_path || trace_path)) {
        fprintf(stderr, "storemesh-sim: --json, --plot and --trace are for one seed; replay a "
                        "seed of the sweep with --seed N to get them\n");
        return EXIT_USAGE;
    }

    char err[1024];
    scenario_t scenario;
    int rc = scenario_load(scenario_path, &scenario, err, sizeof err);
    if (rc) {
        fprintf(stderr, "storemesh-sim: %s\n", err);
        return rc == -SM_EIO ? EXIT_ENVIRONMENT : EXIT_USAGE;
    }
    rules_t *rules = rules_load(scenario.rules_path, err, sizeof err);
    if (!rules) {
        fprintf(stderr, "storemesh-sim: %s (the rules file of %s)\n", err, scenario_path);
        scenario_free(&scenario);
        return EXIT_USAGE;
    }
    if (!have_seed)
        seed_first = seed_last = scenario.seed;

    char replay_arguments[1024];
    snprintf(replay_arguments, sizeof replay_arguments, "%s%s%s", scenario_path,
             planted ? " --plant " : "", planted ? plant_names : "");
    FILE *trace = NULL;
    if (trace_path && !(trace = fopen(trace_path, "w"))) {
        fprintf(stderr, "storemesh-sim: cannot write the trace to %s: %s\n", trace_path,
                strerror(errno));
        rules_destroy(&rules);
        scenario_free(&scenario);
        return EXIT_ENVIRONMENT;
    }

    int exit_code = 0;
    double started = now_seconds();
    run_setup_t setup = {.scenario = &scenario,
                         .rules = rules,
                         .planted = planted,
                         // A sweep keeps its processes (--jobs) busy with whole seeds.
                         .threads = threads ? threads : sweep ? 1 : 2,
                         .trace = trace,
                         .replay_arguments = replay_arguments,
                         .sweep = sweep,
                         .json = json,
                         .quiet = quiet,
                         .plot_path = plot_path};
    tally_t tally = {0};
    if (sweep && jobs > 1)
        run_parallel(&setup, seed_first, seed_last, jobs, &tally);
    else
        run_seeds(&setup, seed_first, seed_last, 1, &tally);
    exit_code = tally.exit_code;
    uint64_t passed = tally.passed, failed = tally.failed, commands = tally.commands;
    double simulated_s = tally.simulated_s;
    size_t mark_count = tally.mark_count;
    double wall = now_seconds() - started;
    if (sweep && exit_code == 0) {
        printf("storemesh-sim: sweep %s seeds %" PRIu64 "..%" PRIu64 ": %" PRIu64 " passed, %" PRIu64
               " failed in %.1f s (%.0f simulated s per wall s, %.0f commands per wall s)\n",
               scenario.name, seed_first, seed_last, passed, failed, wall,
               wall > 0 ? simulated_s / wall : 0, wall > 0 ? (double)commands / wall : 0);
        printf("rare paths reached:");
        bool missing = false;
        for (size_t m = 0; m < mark_count; m++) {
            printf(" %s %" PRIu64 "%s", tally.mark_names[m], tally.marks[m], m + 1 < mark_count ? "," : "\n");
            if (tally.marks[m] == 0)
                missing = true;
        }
        if (missing && require_marks) {
            printf("storemesh-sim: FAIL: a rare path was never reached in this sweep, so the sweep "
                   "proves nothing about it; widen the seed range or strengthen the scenario's "
                   "faults\n");
            if (exit_code == 0)
                exit_code = EXIT_FAILED_CHECK;
        }
    }
    if (failed > 0 && exit_code == 0)
        exit_code = EXIT_FAILED_CHECK;
    if (trace)
        fclose(trace);
    rules_destroy(&rules);
    scenario_free(&scenario);
    return exit_code;
}
