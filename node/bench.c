#define _XOPEN_SOURCE 700 // nftw, to remove the temporary directory

#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <rocksdb/c.h>

#include "storemesh.pb-c.h"

extern char **environ;

#define BENCH_OPS_DEFAULT 1000000
#define BENCH_OPS_MAX 100000000   // 100 M commands: about 13 GB of batch file
#define BENCH_BATCH_RECORDS 1000  // records per WriteBatch, as issue 2 fixes it
#define BENCH_STOCK_KEYS 1000     // products the stock moves spread over
#define BENCH_CUSTOMER_KEYS 1000  // customers the e-mail and tag changes spread over
#define BENCH_HASH_BYTES 32       // BLAKE2b-256, as the node stamps
#define BENCH_RECORD_MAX 512      // bytes of one packed operation; ours is under 200
#define BENCH_READY_TRIES_MAX 300 // `status` polls 100 ms apart while the node starts
#define BENCH_STOP_WAIT_MS 120000 // the node exits within this after SIGTERM
#define BENCH_HLC_BASE_MS UINT64_C(1700000000000) // a realistic wall clock for stamps

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
} bench_result_t;

static double
seconds_since(const struct timespec *since)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - since->tv_sec) + (double)(now.tv_nsec - since->tv_nsec) / 1e9;
}

static uint64_t
bench_random(uint64_t *state)
{
    // splitmix64: the same records and commands on every machine.
    uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

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
remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

// dir/name into out (PATH_MAX bytes); -1 when it does not fit.
static int
path_join(char *out, const char *dir, const char *name)
{
    int len = snprintf(out, PATH_MAX, "%s/%s", dir, name);
    return len < 0 || len >= PATH_MAX ? -1 : 0;
}

static int
make_paths(const bench_options_t *options, bench_paths_t *paths)
{
    const char *parent = options->dir_parent;
    if (!parent)
        parent = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    if (path_join(paths->root, parent, "storemesh-bench.XXXXXX") != 0 || !mkdtemp(paths->root)) {
        fprintf(stderr,
                "cannot make a directory in '%s': %s; pass --dir with a writable directory\n",
                parent, strerror(errno));
        return 1;
    }
    int rc = path_join(paths->node_dir, paths->root, "node");
    rc |= path_join(paths->raw_dir, paths->root, "raw");
    rc |= path_join(paths->batch, paths->root, "commands.jsonl");
    rc |= path_join(paths->log, paths->root, "node.log");
    rc |= path_join(paths->ids, paths->root, "audit-ids.txt");
    if (options->rules)
        snprintf(paths->rules, sizeof paths->rules, "%s", options->rules);
    else
        rc |= path_join(paths->rules, paths->root, "rules.yaml");
    if (rc != 0) {
        fprintf(stderr, "the path '%s' is too long; pass a shorter --dir\n", paths->root);
        return 1;
    }
    return 0;
}

// The retail entities the benchmark writes. The queue limit sits above the command
// count: no authority acknowledges the queue during the run, and refusals are not
// what we measure.
static int
write_rules(const char *path, uint64_t ops)
{
    FILE *file = fopen(path, "w");
    if (!file)
        return -1;
    fprintf(file,
            "# storemesh bench local: the retail entities it writes.\n"
            "mesh: bench\n"
            "authority: cloud\n"
            "limits:\n"
            "  max_queue_depth: %" PRIu64 "\n"
            "  warn_at: 80%%\n"
            "  at_limit: refuse-new-work\n"
            "entities:\n"
            "  stock:\n"
            "    explain: \"Stock on hand at a branch, per product.\"\n"
            "    fields:\n"
            "      on_hand:\n"
            "        merge: counter\n"
            "        explain: \"Sales, receipts and transfers from every branch add up.\"\n"
            "  customer:\n"
            "    explain: \"A loyalty customer.\"\n"
            "    fields:\n"
            "      email:\n"
            "        merge: last-writer-wins\n"
            "        explain: \"The most recent change of e-mail address wins.\"\n"
            "      tags:\n"
            "        merge: add-wins-set\n"
            "        explain: \"A tag added anywhere stays, unless removed after it was seen.\"\n",
            ops * 2 + 1000);
    return fclose(file) == 0 ? 0 : -1;
}

// ---- child processes ----

// Runs exe with argv, stdout to out_path (NULL: /dev/null), stderr appended to the
// log. 0 with *pid set, or an errno value.
static int
spawn_logged(const bench_options_t *options, const bench_paths_t *paths, char *const argv[],
             const char *out_path, pid_t *pid)
{
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out_path ? out_path : "/dev/null",
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, paths->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    int rc = posix_spawn(pid, options->exe, &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    return rc;
}

// Runs a CLI child to completion. Its exit code, or -1 when it could not run or
// died of a signal. *rss_kb (if not NULL) gets its peak RSS.
static int
run_cli(const bench_options_t *options, const bench_paths_t *paths, char *const argv[],
        const char *out_path, uint64_t *rss_kb)
{
    pid_t pid = -1;
    int rc = spawn_logged(options, paths, argv, out_path, &pid);
    if (rc != 0) {
        fprintf(stderr, "cannot run '%s': %s\n", options->exe, strerror(rc));
        return -1;
    }
    int status = 0;
    struct rusage usage;
    memset(&usage, 0, sizeof usage);
    while (wait4(pid, &status, 0, &usage) < 0) {
        if (errno != EINTR)
            return -1;
    }
    if (rss_kb)
        *rss_kb = (uint64_t)usage.ru_maxrss;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int
node_start(const bench_options_t *options, const bench_paths_t *paths, pid_t *pid)
{
    char *run_argv[] = {(char *)options->exe, "run", "--data", (char *)paths->node_dir, NULL};
    int rc = spawn_logged(options, paths, run_argv, NULL, pid);
    if (rc != 0) {
        fprintf(stderr, "cannot start the node: %s\n", strerror(rc));
        return -1;
    }
    char *status_argv[] = {(char *)options->exe, "status", "--data", (char *)paths->node_dir, NULL};
    for (int tries = 0; tries < BENCH_READY_TRIES_MAX; tries++) {
        if (run_cli(options, paths, status_argv, NULL, NULL) == 0)
            return 0;
        if (waitpid(*pid, NULL, WNOHANG) == *pid) {
            fprintf(stderr, "the node exited while starting; see %s\n", paths->log);
            return -1;
        }
        struct timespec pause = {.tv_nsec = 100 * 1000000};
        nanosleep(&pause, NULL);
    }
    fprintf(stderr, "the node did not answer status in 30 s; see %s\n", paths->log);
    kill(*pid, SIGKILL);
    waitpid(*pid, NULL, 0);
    return -1;
}

// SIGTERM, then a bounded wait; SIGKILL after it. 0 when the node exited 0.
static int
node_stop(pid_t pid)
{
    kill(pid, SIGTERM);
    int status = 0;
    for (int waited_ms = 0; waited_ms < BENCH_STOP_WAIT_MS; waited_ms += 10) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
        struct timespec pause = {.tv_nsec = 10 * 1000000};
        nanosleep(&pause, NULL);
    }
    fprintf(stderr, "the node did not stop within %d s of SIGTERM; killing it\n",
            BENCH_STOP_WAIT_MS / 1000);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

// VmHWM of a running process in kB; 0 when /proc cannot tell.
static uint64_t
peak_rss_kb(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *file = fopen(path, "r");
    if (!file)
        return 0;
    char line[256];
    uint64_t kb = 0;
    while (fgets(line, sizeof line, file)) {
        if (sscanf(line, "VmHWM: %" SCNu64, &kb) == 1)
            break;
    }
    fclose(file);
    return kb;
}

static uint64_t
count_lines(const char *path)
{
    FILE *file = fopen(path, "r");
    if (!file)
        return 0;
    uint64_t lines = 0;
    char buffer[65536];
    size_t got;
    while ((got = fread(buffer, 1, sizeof buffer, file)) > 0) {
        for (size_t i = 0; i < got; i++)
            lines += buffer[i] == '\n';
    }
    fclose(file);
    return lines;
}

// ---- the node run ----

// N commands as a till and the back office would send them: mostly stock moves
// over BENCH_STOCK_KEYS products, some e-mail changes and loyalty tags.
static int
write_batch_file(const char *path, uint64_t ops)
{
    static const char *const tags[] = {"vip", "gold", "new", "online", "b2b"};
    FILE *file = fopen(path, "w");
    if (!file)
        return -1;
    uint64_t rng = 42;
    for (uint64_t i = 0; i < ops; i++) {
        uint64_t r = bench_random(&rng);
        unsigned till = (unsigned)(r % 16);
        uint64_t kind = (r >> 8) % 20, key = (r >> 16) % BENCH_STOCK_KEYS;
        fprintf(file, "{\"command_id\":\"bench-%07" PRIu64 "\",\"source\":\"till-%02u\",", i, till);
        if (kind < 18)
            fprintf(file,
                    "\"type\":\"stock\",\"key\":\"sku-%06" PRIu64 "\",\"field\":\"on_hand\","
                    "\"op\":\"add\",\"value\":\"%d\"}\n",
                    key, kind == 0 ? 24 : -1);
        else if (kind == 18)
            fprintf(file,
                    "\"type\":\"customer\",\"key\":\"cust-%05" PRIu64 "\",\"field\":\"email\","
                    "\"op\":\"set\",\"value\":\"c%" PRIu64 "@example.com\"}\n",
                    key % BENCH_CUSTOMER_KEYS, i);
        else
            fprintf(file,
                    "\"type\":\"customer\",\"key\":\"cust-%05" PRIu64 "\",\"field\":\"tags\","
                    "\"op\":\"add\",\"value\":\"%s\"}\n",
                    key % BENCH_CUSTOMER_KEYS, tags[(r >> 32) % 5]);
    }
    return fclose(file) == 0 ? 0 : -1;
}

static int
node_init(const bench_options_t *options, const bench_paths_t *paths)
{
    if (!options->rules && write_rules(paths->rules, options->ops) != 0) {
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
    if (run_cli(options, paths, argv, NULL, NULL) != 0) {
        fprintf(stderr, "storemesh init failed; see %s\n", paths->log);
        return -1;
    }
    return 0;
}

static int
bench_node(const bench_options_t *options, const bench_paths_t *paths, bench_result_t *result)
{
    fprintf(stderr, "node: writing %" PRIu64 " commands to %s\n", options->ops, paths->batch);
    if (write_batch_file(paths->batch, options->ops) != 0) {
        fprintf(stderr, "cannot write '%s': %s\n", paths->batch, strerror(errno));
        return -1;
    }
    pid_t node = -1;
    if (node_init(options, paths) != 0 || node_start(options, paths, &node) != 0)
        return -1;
    fprintf(stderr, "node: storemesh submit --batch (%" PRIu64 " commands)\n", options->ops);
    char *argv[] = {(char *)options->exe, "submit", "--data", (char *)paths->node_dir, "--batch",
                    (char *)paths->batch, NULL};
    struct timespec started;
    clock_gettime(CLOCK_MONOTONIC, &started);
    int rc = run_cli(options, paths, argv, paths->ids, &result->client_rss_kb);
    result->node_seconds = seconds_since(&started);
    result->node_rss_kb = peak_rss_kb(node);
    result->acknowledged = count_lines(paths->ids);
    if (node_stop(node) != 0)
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

// One operation as the node stores it for a stock sale: origin, seq, HLC, two
// hashes, command ID, source, type, key, field, op and delta.
static size_t
pack_operation(uint64_t seq, uint64_t *rng, uint8_t *out)
{
    uint8_t hashes[2][BENCH_HASH_BYTES];
    for (size_t i = 0; i < sizeof hashes; i += 8) {
        uint64_t r = bench_random(rng);
        memcpy((uint8_t *)hashes + i, &r, 8);
    }
    char command_id[32], key[16];
    snprintf(command_id, sizeof command_id, "bench-%07" PRIu64, seq - 1);
    snprintf(key, sizeof key, "sku-%06" PRIu64, bench_random(rng) % BENCH_STOCK_KEYS);
    Storemesh__Operation op = STOREMESH__OPERATION__INIT;
    op.origin = "bench";
    op.seq = seq;
    op.hlc = ((BENCH_HLC_BASE_MS + seq / 1000) << 16) | (seq % 1000);
    op.rules_hash = (ProtobufCBinaryData){.len = BENCH_HASH_BYTES, .data = hashes[0]};
    op.prev_hash = (ProtobufCBinaryData){.len = BENCH_HASH_BYTES, .data = hashes[1]};
    op.command_id = command_id;
    op.source = "till-07";
    op.type = "stock";
    op.key = key;
    op.field = "on_hand";
    op.op = STOREMESH__OP_KIND__OP_KIND_ADD;
    op.delta = -1;
    size_t size = storemesh__operation__get_packed_size(&op);
    if (size > BENCH_RECORD_MAX)
        return 0;
    return storemesh__operation__pack(&op, out);
}

// Writes ops records in synced batches; 0 or -1 with the cause printed.
static int
raw_write(rocksdb_t *db, uint64_t ops, size_t *record_size)
{
    rocksdb_writeoptions_t *write_options = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(write_options, 1);
    rocksdb_writebatch_t *batch = rocksdb_writebatch_create();
    uint64_t rng = 7;
    uint8_t record[BENCH_RECORD_MAX];
    char *err = NULL;
    for (uint64_t seq = 1; seq <= ops && !err; seq++) {
        uint8_t key[6 + 8] = {'b', 'e', 'n', 'c', 'h', 0};
        for (int i = 0; i < 8; i++)
            key[6 + i] = (uint8_t)(seq >> (56 - 8 * i));
        *record_size = pack_operation(seq, &rng, record);
        rocksdb_writebatch_put(batch, (const char *)key, sizeof key, (const char *)record,
                               *record_size);
        if (seq % BENCH_BATCH_RECORDS == 0 || seq == ops) {
            rocksdb_write(db, write_options, batch, &err);
            rocksdb_writebatch_clear(batch);
        }
    }
    rocksdb_writebatch_destroy(batch);
    rocksdb_writeoptions_destroy(write_options);
    if (err) {
        fprintf(stderr, "raw RocksDB write failed: %s\n", err);
        rocksdb_free(err);
        return -1;
    }
    return 0;
}

static int
bench_raw(const bench_options_t *options, const bench_paths_t *paths, bench_result_t *result)
{
    fprintf(stderr, "raw: %" PRIu64 " records into a fresh RocksDB at %s\n", options->ops,
            paths->raw_dir);
    rocksdb_options_t *db_options = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(db_options, 1);
    char *err = NULL;
    rocksdb_t *db = rocksdb_open(db_options, paths->raw_dir, &err);
    rocksdb_options_destroy(db_options);
    if (!db) {
        fprintf(stderr, "cannot open RocksDB at '%s': %s\n", paths->raw_dir, err);
        rocksdb_free(err);
        return -1;
    }
    struct timespec started;
    clock_gettime(CLOCK_MONOTONIC, &started);
    int rc = raw_write(db, options->ops, &result->record_size_bytes);
    result->raw_seconds = seconds_since(&started);
    rocksdb_close(db);
    return rc;
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
    printf("  %-34s %12.2f        goal >= 0.50  %s\n", "ratio node / raw", ratio,
           ratio >= 0.50 ? "met" : "NOT MET");
    printf("  %-34s %12.1f MB     goal < 200 MB %s\n", "node peak RSS (VmHWM)", node_mb,
           node_mb < 200.0 ? "met" : "NOT MET");
    printf("  %-34s %12.1f MB\n", "submit client peak RSS", (double)result->client_rss_kb / 1024.0);
}

int
bench_local_main(int argc, char **argv, const char *self_exe)
{
    bench_options_t options = {.ops = BENCH_OPS_DEFAULT};
    if (argc < 1 || strcmp(argv[0], "local") != 0)
        return usage("the only benchmark is 'local'");
    int rc = parse_options(argc, argv, &options);
    if (rc != 0)
        return rc;
    // A bare name (found through PATH) cannot be spawned by path: ask the kernel.
    if (self_exe && strchr(self_exe, '/'))
        snprintf(options.exe, sizeof options.exe, "%s", self_exe);
    else if (!realpath("/proc/self/exe", options.exe)) {
        fprintf(stderr, "cannot find the storemesh binary: %s\n", strerror(errno));
        return 1;
    }
    bench_paths_t paths;
    if (make_paths(&options, &paths) != 0)
        return 1;
    bench_result_t result = {0};
    // The node runs first: RocksDB opens in this process only after every child exited.
    rc = bench_node(&options, &paths, &result);
    if (rc == 0) {
        nftw(paths.node_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        remove(paths.batch);
        rc = bench_raw(&options, &paths, &result);
    }
    if (rc == 0)
        print_report(&options, &result);
    if (options.keep || rc != 0)
        fprintf(stderr, "data kept in %s\n", paths.root);
    else
        nftw(paths.root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc == 0 ? 0 : 1;
}
