#define _XOPEN_SOURCE 700 // nftw, to remove the temporary directories

#include "bench_util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rocksdb/c.h>

#include "smclient.h"
#include "storemesh.pb-c.h"

extern char **environ;

#define BENCH_STOCK_KEYS 1000     // products the stock moves spread over
#define BENCH_CUSTOMER_KEYS 1000  // customers the e-mail and tag changes spread over
#define BENCH_READY_TRIES_MAX 300 // `status` polls 100 ms apart while the node starts
#define BENCH_STOP_WAIT_MS 120000 // the node exits within this after SIGTERM
#define BENCH_HLC_BASE_MS UINT64_C(1700000000000) // a realistic wall clock for stamps

// ---- interruption ----

// Children running now (0: a free slot), so that a SIGINT, SIGTERM or SIGHUP to the
// benchmark stops its nodes instead of leaving them running: a node started by a
// benchmark that was killed would otherwise keep its data directory open and its
// Hellos going for good. Only async-signal-safe calls in the handler.
#define BENCH_CHILDREN_MAX 64
static volatile sig_atomic_t live_children[BENCH_CHILDREN_MAX];
static char interrupt_message[PATH_MAX + 128];
static size_t interrupt_message_len;

static void
on_interrupt(int signal_number)
{
    for (int i = 0; i < BENCH_CHILDREN_MAX; i++)
        if (live_children[i] > 0)
            kill((pid_t)live_children[i], SIGTERM);
    if (interrupt_message_len) {
        ssize_t written = write(STDERR_FILENO, interrupt_message, interrupt_message_len);
        (void)written; // nothing more can be done about a failed write here
    }
    signal(signal_number, SIG_DFL);
    raise(signal_number);
}

static void
interrupts_install(const char *root)
{
    int len = snprintf(interrupt_message, sizeof interrupt_message,
                       "storemesh bench: interrupted; its nodes were told to stop; data kept "
                       "in %s\n",
                       root);
    interrupt_message_len = len > 0 && (size_t)len < sizeof interrupt_message ? (size_t)len : 0;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_interrupt;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGHUP, &action, NULL);
}

static void
child_note(pid_t pid)
{
    for (int i = 0; i < BENCH_CHILDREN_MAX; i++)
        if (live_children[i] == 0) {
            live_children[i] = (sig_atomic_t)pid;
            return;
        }
}

void
bench_child_reaped(pid_t pid)
{
    for (int i = 0; i < BENCH_CHILDREN_MAX; i++)
        if (live_children[i] == (sig_atomic_t)pid)
            live_children[i] = 0; // its pid may be another process's from now on
}

double
bench_seconds_since(const struct timespec *since)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - since->tv_sec) + (double)(now.tv_nsec - since->tv_nsec) / 1e9;
}

uint64_t
bench_random(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

int
bench_path_join(char *out, const char *dir, const char *name)
{
    int len = snprintf(out, PATH_MAX, "%s/%s", dir, name);
    return len < 0 || len >= PATH_MAX ? -1 : 0;
}

int
bench_make_root(const char *parent, char *root)
{
    if (!parent)
        parent = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    else
        (void)mkdir(parent, 0755); // --dir DIR is made when missing (its parent must
                                   // exist); mkdtemp below reports what still stands in the way
    if (bench_path_join(root, parent, "storemesh-bench.XXXXXX") != 0 || !mkdtemp(root)) {
        fprintf(stderr,
                "cannot make a directory in '%s': %s; pass --dir with a writable directory\n",
                parent, strerror(errno));
        return -1;
    }
    interrupts_install(root);
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

void
bench_remove_tree(const char *path)
{
    nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int
bench_resolve_exe(const char *self_exe, char *exe)
{
    if (self_exe && strchr(self_exe, '/')) {
        snprintf(exe, PATH_MAX, "%s", self_exe);
        return 0;
    }
    if (!realpath("/proc/self/exe", exe)) {
        fprintf(stderr, "cannot find the storemesh binary: %s\n", strerror(errno));
        return -1;
    }
    return 0;
}

int
bench_write_rules(const char *path, uint64_t ops)
{
    FILE *file = fopen(path, "w");
    if (!file)
        return -1;
    fprintf(file,
            "# storemesh bench: the retail entities it writes.\n"
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

int
bench_write_batch_file(const char *path, uint64_t ops)
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

size_t
bench_pack_operation(const char *origin, uint64_t seq, uint64_t *rng, uint8_t *out)
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
    op.origin = (char *)origin;
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
raw_write(rocksdb_t *db, const char *origin, uint64_t ops, uint64_t batch_records,
          size_t *record_size)
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
        *record_size = bench_pack_operation(origin, seq, &rng, record);
        rocksdb_writebatch_put(batch, (const char *)key, sizeof key, (const char *)record,
                               *record_size);
        if (seq % batch_records == 0 || seq == ops) {
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

int
bench_raw_ingest(const char *db_dir, const char *origin, uint64_t ops, uint64_t batch_records,
                 double *seconds, size_t *record_size_bytes)
{
    rocksdb_options_t *db_options = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(db_options, 1);
    char *err = NULL;
    rocksdb_t *db = rocksdb_open(db_options, db_dir, &err);
    rocksdb_options_destroy(db_options);
    if (!db) {
        fprintf(stderr, "cannot open RocksDB at '%s': %s\n", db_dir, err);
        rocksdb_free(err);
        return -1;
    }
    struct timespec started;
    clock_gettime(CLOCK_MONOTONIC, &started);
    int rc = raw_write(db, origin, ops, batch_records, record_size_bytes);
    *seconds = bench_seconds_since(&started);
    rocksdb_close(db);
    return rc;
}

// ---- child processes ----

int
bench_spawn(const bench_children_t *children, char *const argv[], const char *out_path, pid_t *pid)
{
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out_path ? out_path : "/dev/null",
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, children->log, O_WRONLY | O_CREAT | O_APPEND,
                                     0644);
    // The interrupt handler must not miss a child spawned just as a signal comes.
    sigset_t blocked;
    sigset_t previous;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGINT);
    sigaddset(&blocked, SIGTERM);
    sigaddset(&blocked, SIGHUP);
    sigprocmask(SIG_BLOCK, &blocked, &previous);
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    posix_spawnattr_setsigmask(&attributes, &previous); // the child runs unblocked
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK);
    int rc = posix_spawn(pid, children->exe, &actions, &attributes, argv, environ);
    if (rc == 0)
        child_note(*pid);
    sigprocmask(SIG_SETMASK, &previous, NULL);
    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
    return rc;
}

int
bench_run(const bench_children_t *children, char *const argv[], const char *out_path,
          uint64_t *rss_kb)
{
    pid_t pid = -1;
    int rc = bench_spawn(children, argv, out_path, &pid);
    if (rc != 0) {
        fprintf(stderr, "cannot run '%s': %s\n", children->exe, strerror(rc));
        return -1;
    }
    int status = 0;
    struct rusage usage;
    memset(&usage, 0, sizeof usage);
    while (wait4(pid, &status, 0, &usage) < 0) {
        if (errno != EINTR)
            return -1;
    }
    bench_child_reaped(pid);
    if (rss_kb)
        *rss_kb = (uint64_t)usage.ru_maxrss;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int
bench_node_start(const bench_children_t *children, const char *node_dir, pid_t *pid)
{
    char *run_argv[] = {(char *)children->exe, "run", "--data", (char *)node_dir, NULL};
    int rc = bench_spawn(children, run_argv, NULL, pid);
    if (rc != 0) {
        fprintf(stderr, "cannot start the node on '%s': %s\n", node_dir, strerror(rc));
        return -1;
    }
    char *status_argv[] = {(char *)children->exe, "status", "--data", (char *)node_dir, NULL};
    for (int tries = 0; tries < BENCH_READY_TRIES_MAX; tries++) {
        if (bench_run(children, status_argv, NULL, NULL) == 0)
            return 0;
        if (waitpid(*pid, NULL, WNOHANG) == *pid) {
            bench_child_reaped(*pid);
            fprintf(stderr, "the node on '%s' exited while starting; see %s\n", node_dir,
                    children->log);
            return -1;
        }
        struct timespec pause = {.tv_nsec = 100 * 1000000};
        nanosleep(&pause, NULL);
    }
    fprintf(stderr, "the node on '%s' did not answer status in 30 s; see %s\n", node_dir,
            children->log);
    kill(*pid, SIGKILL);
    waitpid(*pid, NULL, 0);
    bench_child_reaped(*pid);
    return -1;
}

int
bench_node_stop(pid_t pid)
{
    kill(pid, SIGTERM);
    int status = 0;
    for (int waited_ms = 0; waited_ms < BENCH_STOP_WAIT_MS; waited_ms += 10) {
        if (waitpid(pid, &status, WNOHANG) == pid) {
            bench_child_reaped(pid);
            return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
        }
        struct timespec pause = {.tv_nsec = 10 * 1000000};
        nanosleep(&pause, NULL);
    }
    fprintf(stderr, "the node did not stop within %d s of SIGTERM; killing it\n",
            BENCH_STOP_WAIT_MS / 1000);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    bench_child_reaped(pid);
    return -1;
}

uint64_t
bench_peak_rss_kb(pid_t pid)
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

uint64_t
bench_count_lines(const char *path)
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

#define BENCH_STATUS_TIMEOUT_MS 5000

int
bench_node_status(smclient_t **client, const char *node_dir, uint64_t *operations,
                  uint64_t *writes)
{
    if (!*client) {
        char err[SMCLIENT_ERROR_MAX];
        int rc = 0;
        *client = smclient_new(node_dir, BENCH_STATUS_TIMEOUT_MS, &rc, err, sizeof err);
        if (!*client)
            return -1;
    }
    Storemesh__StatusRequest status = STOREMESH__STATUS_REQUEST__INIT;
    Storemesh__Request request = STOREMESH__REQUEST__INIT;
    request.version = 1;
    request.body_case = STOREMESH__REQUEST__BODY_STATUS;
    request.status = &status;
    Storemesh__Response *response = NULL;
    if (smclient_call(*client, &request, &response) != 0) {
        smclient_destroy(client);
        return -1;
    }
    int rc = -1;
    if (response->body_case == STOREMESH__RESPONSE__BODY_STATUS && response->status) {
        *operations = response->status->operations;
        *writes = response->status->writes;
        rc = 0;
    }
    smclient_response_free(response);
    return rc;
}
