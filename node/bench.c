#include "bench.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include "bench_util.h"
#include "smclient.h"

#define BENCH_OPS_DEFAULT 1000000
#define BENCH_OPS_MAX 100000000  // 100 M commands: about 13 GB of batch file
#define BENCH_BATCH_RECORDS 1000 // records per WriteBatch, as issue 2 fixes it

typedef struct {
    uint64_t ops;
    const char *dir_parent;
    const char *rules; // NULL: the built-in rules
    bool keep;
    char exe[PATH_MAX];
} bench_options_t;

typedef struct {
    char root[PATH_MAX];
    char node_dir[PATH_MAX];
    char raw_dir[PATH_MAX];
    char rules[PATH_MAX];
    char batch[PATH_MAX];
    char log[PATH_MAX]; // stderr of the node and of every CLI child
    char ids[PATH_MAX]; // stdout of submit: one audit ID a line
} bench_paths_t;

typedef struct {
    double raw_seconds;
    double node_seconds;
    size_t record_size_bytes;
    uint64_t node_rss_kb;   // VmHWM of `storemesh run`
    uint64_t client_rss_kb; // ru_maxrss of `storemesh submit --batch`
    uint64_t acknowledged;  // audit IDs submit printed
    uint64_t writes;        // the node's group-commit writes (fsyncs), 0 when unknown
} bench_result_t;

static int
usage(const char *problem)
{
    fprintf(stderr,
            "storemesh bench local: %s\n"
            "usage: storemesh bench local [--ops N] [--dir DIR] [--rules FILE] [--keep]\n",
            problem);
    return 2;
}

static int
parse_number(const char *text, uint64_t *ops)
{
    char *end = NULL;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-' || value < BENCH_BATCH_RECORDS ||
        value > BENCH_OPS_MAX)
        return usage("--ops takes a whole number from 1000 to 100000000");
    *ops = value;
    return 0;
}

static int
parse_options(int argc, char **argv, bench_options_t *options)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--keep") == 0) {
            options->keep = true;
            continue;
        }
        bool takes_value =
            strcmp(arg, "--ops") == 0 || strcmp(arg, "--dir") == 0 || strcmp(arg, "--rules") == 0;
        if (!takes_value)
            return usage("unknown option or argument");
        if (i + 1 >= argc)
            return usage("an option is missing its value");
        const char *value = argv[++i];
        if (strcmp(arg, "--ops") == 0 && parse_number(value, &options->ops) != 0)
            return 2;
        if (strcmp(arg, "--dir") == 0)
            options->dir_parent = value;
        if (strcmp(arg, "--rules") == 0)
            options->rules = value;
    }
    return 0;
}

static int
make_paths(const bench_options_t *options, bench_paths_t *paths)
{
    if (bench_make_root(options->dir_parent, paths->root) != 0)
        return 1;
    int rc = bench_path_join(paths->node_dir, paths->root, "node");
    rc |= bench_path_join(paths->raw_dir, paths->root, "raw");
    rc |= bench_path_join(paths->batch, paths->root, "commands.jsonl");
    rc |= bench_path_join(paths->log, paths->root, "node.log");
    rc |= bench_path_join(paths->ids, paths->root, "audit-ids.txt");
    if (options->rules)
        snprintf(paths->rules, sizeof paths->rules, "%s", options->rules);
    else
        rc |= bench_path_join(paths->rules, paths->root, "rules.yaml");
    if (rc != 0) {
        fprintf(stderr, "the path '%s' is too long; pass a shorter --dir\n", paths->root);
        return 1;
    }
    return 0;
}

// ---- the node run ----

static int
node_init(const bench_options_t *options, const bench_paths_t *paths)
{
    if (!options->rules && bench_write_rules(paths->rules, options->ops) != 0) {
        fprintf(stderr, "cannot write '%s': %s\n", paths->rules, strerror(errno));
        return -1;
    }
    char *argv[] = {(char *)options->exe,
                    "init",
                    "--data",
                    (char *)paths->node_dir,
                    "--name",
                    "bench",
                    "--rules",
                    (char *)paths->rules,
                    NULL};
    bench_children_t children = {.exe = options->exe, .log = paths->log};
    if (bench_run(&children, argv, NULL, NULL) != 0) {
        fprintf(stderr, "storemesh init failed; see %s\n", paths->log);
        return -1;
    }
    return 0;
}

static int
bench_node(const bench_options_t *options, const bench_paths_t *paths, bench_result_t *result)
{
    fprintf(stderr, "node: writing %" PRIu64 " commands to %s\n", options->ops, paths->batch);
    if (bench_write_batch_file(paths->batch, options->ops) != 0) {
        fprintf(stderr, "cannot write '%s': %s\n", paths->batch, strerror(errno));
        return -1;
    }
    bench_children_t children = {.exe = options->exe, .log = paths->log};
    pid_t node = -1;
    if (node_init(options, paths) != 0 || bench_node_start(&children, paths->node_dir, &node) != 0)
        return -1;
    fprintf(stderr, "node: storemesh submit --batch (%" PRIu64 " commands)\n", options->ops);
    char *argv[] = {(char *)options->exe, "submit", "--data", (char *)paths->node_dir, "--batch",
                    (char *)paths->batch, NULL};
    struct timespec started;
    clock_gettime(CLOCK_MONOTONIC, &started);
    int rc = bench_run(&children, argv, paths->ids, &result->client_rss_kb);
    result->node_seconds = bench_seconds_since(&started);
    result->node_rss_kb = bench_peak_rss_kb(node);
    result->acknowledged = bench_count_lines(paths->ids);
    smclient_t *client = NULL;
    uint64_t operations = 0;
    if (bench_node_status(&client, paths->node_dir, &operations, &result->writes) != 0)
        result->writes = 0;
    smclient_destroy(&client);
    if (bench_node_stop(node) != 0)
        fprintf(stderr, "the node did not exit cleanly; see %s\n", paths->log);
    if (rc != 0 || result->acknowledged != options->ops) {
        fprintf(stderr,
                "submit --batch exited %d with %" PRIu64 " of %" PRIu64
                " commands acknowledged; see %s\n",
                rc, result->acknowledged, options->ops, paths->log);
        return -1;
    }
    return 0;
}

// ---- the raw limit ----

static int
bench_raw(const bench_options_t *options, const bench_paths_t *paths, bench_result_t *result)
{
    fprintf(stderr, "raw: %" PRIu64 " records into a fresh RocksDB at %s\n", options->ops,
            paths->raw_dir);
    return bench_raw_ingest(paths->raw_dir, "bench", options->ops, BENCH_BATCH_RECORDS,
                            &result->raw_seconds, &result->record_size_bytes);
}

// ---- report ----

static void
print_report(const bench_options_t *options, const bench_result_t *result)
{
    double raw_rate = (double)options->ops / result->raw_seconds;
    double node_rate = (double)options->ops / result->node_seconds;
    double ratio = node_rate / raw_rate;
    double node_mb = (double)result->node_rss_kb / 1024.0;
    printf("storemesh bench local: %" PRIu64 " operations, records of %zu bytes, "
           "WriteBatch of %d, sync on\n",
           options->ops, result->record_size_bytes, BENCH_BATCH_RECORDS);
    printf("  %-34s %12.0f ops/s  %8.2f s\n", "raw RocksDB ingest (the limit)", raw_rate,
           result->raw_seconds);
    printf("  %-34s %12.0f ops/s  %8.2f s\n", "node: storemesh submit --batch", node_rate,
           result->node_seconds);
    printf("  %-34s %12.3f        goal >= 0.50  %s\n", "ratio node / raw", ratio,
           ratio >= 0.50 ? "met" : "NOT MET");
    if (result->writes)
        printf("  %-34s %12.0f        (the raw limit: %d; group commit takes what waits)\n",
               "node: commands per write (fsync)", (double)options->ops / (double)result->writes,
               BENCH_BATCH_RECORDS);
    printf("  %-34s %12.1f MB     goal < 200 MB %s\n", "node peak RSS (VmHWM)", node_mb,
           node_mb < 200.0 ? "met" : "NOT MET");
    printf("  %-34s %12.1f MB\n", "submit client peak RSS", (double)result->client_rss_kb / 1024.0);
}

int
bench_local_main(int argc, char **argv, const char *self_exe)
{
    bench_options_t options = {.ops = BENCH_OPS_DEFAULT};
    if (argc < 1 || strcmp(argv[0], "local") != 0)
        return usage("the benchmarks are 'local' and 'mesh'");
    int rc = parse_options(argc, argv, &options);
    if (rc != 0)
        return rc;
    if (bench_resolve_exe(self_exe, options.exe) != 0)
        return 1;
    bench_paths_t paths;
    if (make_paths(&options, &paths) != 0)
        return 1;
    bench_result_t result = {0};
    // The node runs first: RocksDB opens in this process only after every child exited.
    rc = bench_node(&options, &paths, &result);
    if (rc == 0) {
        bench_remove_tree(paths.node_dir);
        remove(paths.batch);
        rc = bench_raw(&options, &paths, &result);
    }
    if (rc == 0)
        print_report(&options, &result);
    if (options.keep || rc != 0)
        fprintf(stderr, "data kept in %s\n", paths.root);
    else
        bench_remove_tree(paths.root);
    return rc == 0 ? 0 : 1;
}
