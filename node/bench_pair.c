#include "bench_pair.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_wire.h"
#include "smclient.h"

#define BENCH_PAIR_POLL_MS 5      // the sink's status, asked in process: cheap, so fine-grained
#define BENCH_PAIR_STALL_MS 60000 // no new operation at the sink for this long: failed
#define BENCH_PAIR_LINE_MAX 512 // one line of `storemesh id`
// Idle: the first Hellos after the catch-up carry the changed version vector in full;
// then the link is measured over whole anti-entropy periods (CORE_ANTI_ENTROPY_MS).
#define BENCH_PAIR_IDLE_SETTLE_MS 2500
#define BENCH_PAIR_IDLE_MEASURE_MS 5000

typedef struct {
    const char *name;
    char dir[PATH_MAX];
    uint16_t port;                // its ROUTER listens on 127.0.0.1:port
    pid_t pid;                    // -1 while not running
    char id[BENCH_PAIR_LINE_MAX]; // `storemesh id`: NAME PUBLIC_KEY ENDPOINT
} pair_node_t;

// ---- two nodes ----

// True when nobody listens on 127.0.0.1:port (bound as ZeroMQ binds, reusing it).
static bool
port_is_free(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    const int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool free_port = bind(fd, (struct sockaddr *)&address, sizeof address) == 0;
    close(fd);
    return free_port;
}

// The next free port from *cursor on, which moves past it. 0 when none is left.
static uint16_t
take_port(uint16_t *cursor)
{
    for (; *cursor <= BENCH_PAIR_PORT_LAST; (*cursor)++) {
        if (port_is_free(*cursor))
            return (*cursor)++;
    }
    fprintf(stderr, "no free port on 127.0.0.1 from %d to %d; free one and retry\n",
            BENCH_PAIR_PORT_FIRST, BENCH_PAIR_PORT_LAST);
    return 0;
}

// `init` with its own listen port, then `id` into node->id.
static int
node_init(const bench_children_t *children, const char *rules, pair_node_t *node)
{
    char listen[64], id_path[PATH_MAX];
    snprintf(listen, sizeof listen, "tcp://127.0.0.1:%u", (unsigned)node->port);
    if (bench_path_join(id_path, node->dir, "id.txt") != 0)
        return -1;
    char *init_argv[] = {(char *)children->exe,
                         "init",
                         "--data",
                         node->dir,
                         "--name",
                         (char *)node->name,
                         "--rules",
                         (char *)rules,
                         "--listen",
                         listen,
                         NULL};
    char *id_argv[] = {(char *)children->exe, "id", "--data", node->dir, NULL};
    if (bench_run(children, init_argv, NULL, NULL) != 0 ||
        bench_run(children, id_argv, id_path, NULL) != 0) {
        fprintf(stderr, "storemesh init of '%s' failed; see %s\n", node->dir, children->log);
        return -1;
    }
    FILE *file = fopen(id_path, "r");
    bool read = file && fgets(node->id, sizeof node->id, file);
    if (file)
        fclose(file);
    node->id[strcspn(node->id, "\n")] = 0;
    return read ? 0 : -1;
}

// `peer add --data node->dir` with the other node's `id` words (NAME KEY ENDPOINT).
static int
node_add_peer(const bench_children_t *children, const pair_node_t *node, const pair_node_t *other)
{
    char words[BENCH_PAIR_LINE_MAX];
    snprintf(words, sizeof words, "%s", other->id);
    char *name = strtok(words, " ");
    char *key = strtok(NULL, " ");
    char *endpoint = strtok(NULL, " ");
    if (!name || !key || !endpoint) {
        fprintf(stderr, "storemesh id printed '%s', not NAME PUBLIC_KEY ENDPOINT\n", other->id);
        return -1;
    }
    char *argv[] = {(char *)children->exe,
                    "peer",
                    "add",
                    "--data",
                    (char *)node->dir,
                    name,
                    key,
                    endpoint,
                    NULL};
    if (bench_run(children, argv, NULL, NULL) != 0) {
        fprintf(stderr, "storemesh peer add on '%s' failed; see %s\n", node->dir, children->log);
        return -1;
    }
    return 0;
}

// Two fresh nodes under dir, each with the other as its peer.
static int
pair_create(const bench_children_t *children, const char *rules, const char *dir,
            uint16_t *port_cursor, pair_node_t *source, pair_node_t *sink)
{
    *source = (pair_node_t){.name = "source", .pid = -1};
    *sink = (pair_node_t){.name = "sink", .pid = -1};
    if (bench_path_join(source->dir, dir, "source") != 0 ||
        bench_path_join(sink->dir, dir, "sink") != 0 || mkdir(dir, 0755) != 0 ||
        mkdir(source->dir, 0755) != 0 || mkdir(sink->dir, 0755) != 0) {
        fprintf(stderr, "cannot make the node directories under '%s': %s\n", dir, strerror(errno));
        return -1;
    }
    source->port = take_port(port_cursor);
    sink->port = take_port(port_cursor);
    if (source->port == 0 || sink->port == 0)
        return -1;
    if (node_init(children, rules, source) != 0 || node_init(children, rules, sink) != 0)
        return -1;
    return node_add_peer(children, source, sink) != 0 || node_add_peer(children, sink, source) != 0
               ? -1
               : 0;
}

// Starts the source and loads ops commands into it with `submit --batch`.
static int
source_load(const bench_children_t *children, const char *dir, pair_node_t *source, uint64_t ops)
{
    char batch[PATH_MAX], ids[PATH_MAX];
    if (bench_path_join(batch, dir, "commands.jsonl") != 0 ||
        bench_path_join(ids, dir, "audit-ids.txt") != 0)
        return -1;
    if (bench_write_batch_file(batch, ops) != 0) {
        fprintf(stderr, "cannot write '%s': %s\n", batch, strerror(errno));
        return -1;
    }
    if (bench_node_start(children, source->dir, &source->pid) != 0)
        return -1;
    char *argv[] = {(char *)children->exe, "submit", "--data", source->dir, "--batch", batch, NULL};
    int rc = bench_run(children, argv, ids, NULL);
    uint64_t acknowledged = bench_count_lines(ids);
    remove(batch);
    if (rc != 0 || acknowledged != ops) {
        fprintf(stderr,
                "submit --batch exited %d with %" PRIu64 " of %" PRIu64
                " commands acknowledged; see %s\n",
                rc, acknowledged, ops, children->log);
        return -1;
    }
    return 0;
}

// ---- the catch-up ----

// The operations the node on dir holds, from its status over the control socket; -1
// while it does not answer.
static int64_t
node_operations(smclient_t **client, const char *dir)
{
    uint64_t operations = 0;
    uint64_t writes = 0;
    return bench_node_status(client, dir, &operations, &writes) == 0 ? (int64_t)operations : -1;
}

// Starts the sink and polls its status until it holds ops operations: the clock runs
// from the start of its process.
static int
sink_catch_up(const bench_children_t *children, pair_node_t *sink, uint64_t ops,
              bench_catch_up_t *run)
{
    char *argv[] = {(char *)children->exe, "run", "--data", sink->dir, NULL};
    struct timespec started;
    clock_gettime(CLOCK_MONOTONIC, &started);
    int rc = bench_spawn(children, argv, NULL, &sink->pid);
    if (rc != 0) {
        fprintf(stderr, "cannot start the node on '%s': %s\n", sink->dir, strerror(rc));
        sink->pid = -1;
        return -1;
    }
    smclient_t *client = NULL;
    int64_t held_before = -1;
    double progress_at = 0;
    // Bounded: a sink that gains nothing for BENCH_PAIR_STALL_MS ends it.
    for (;;) {
        int64_t held = node_operations(&client, sink->dir);
        double now = bench_seconds_since(&started);
        if (held > 0 && run->link_seconds == 0)
            run->link_seconds = now;
        if (held >= (int64_t)ops) {
            run->catch_up_seconds = now;
            break;
        }
        if (held > held_before) {
            held_before = held;
            progress_at = now;
        }
        if (now - progress_at > BENCH_PAIR_STALL_MS / 1000.0) {
            fprintf(stderr,
                    "the sink holds %" PRId64 " of %" PRIu64
                    " operations and gained none in %d s; see %s\n",
                    held_before, ops, BENCH_PAIR_STALL_MS / 1000, children->log);
            rc = -1;
            break;
        }
        if (waitpid(sink->pid, NULL, WNOHANG) == sink->pid) {
            bench_child_reaped(sink->pid);
            fprintf(stderr, "the sink exited during the catch-up; see %s\n", children->log);
            sink->pid = -1;
            rc = -1;
            break;
        }
        struct timespec pause = {.tv_nsec = BENCH_PAIR_POLL_MS * 1000000L};
        nanosleep(&pause, NULL);
    }
    smclient_destroy(&client);
    return rc;
}

// A whole-number field of `storemesh status --json` of the node on dir. False when the
// node's status has no such field (or could not be read).
static bool
status_json_number(const bench_children_t *children, const pair_node_t *node, const char *field,
                   uint64_t *value)
{
    char path[PATH_MAX];
    if (bench_path_join(path, node->dir, "status.json") != 0)
        return false;
    char *argv[] = {(char *)children->exe, "status", "--data", (char *)node->dir, "--json", NULL};
    if (bench_run(children, argv, path, NULL) != 0)
        return false;
    json_object *status = json_object_from_file(path);
    json_object *number = NULL;
    bool found = status && json_object_object_get_ex(status, field, &number) &&
                 json_object_is_type(number, json_type_int);
    if (found)
        *value = json_object_get_uint64(number);
    json_object_put(status);
    return found;
}

// User plus system CPU seconds a running process has used; 0 when /proc cannot tell.
static double
cpu_seconds(pid_t pid)
{
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *file = fopen(path, "r");
    bool read = file && fgets(line, sizeof line, file);
    if (file)
        fclose(file);
    const char *fields = read ? strrchr(line, ')') : NULL; // the name may hold spaces
    unsigned long long user = 0, system = 0;
    if (!fields || sscanf(fields + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                          &user, &system) != 2)
        return 0;
    return (double)(user + system) / (double)sysconf(_SC_CLK_TCK);
}

// What the catch-up cost, read while both nodes still run.
static void
run_measure(const bench_children_t *children, const pair_node_t *source, const pair_node_t *sink,
            bench_catch_up_t *run)
{
    if (bench_wire_tcp_sent_bytes(sink->port, &run->wire_sent_bytes) != 0 ||
        bench_wire_tcp_sent_bytes(source->port, &run->wire_back_bytes) != 0)
        fprintf(stderr, "the bytes on the wire are unknown (shown as 0)\n");
    run->source_rss_kb = bench_peak_rss_kb(source->pid);
    run->sink_rss_kb = bench_peak_rss_kb(sink->pid);
    run->source_cpu_seconds = cpu_seconds(source->pid);
    run->sink_cpu_seconds = cpu_seconds(sink->pid);
    run->has_core_bytes = status_json_number(children, source, "bytes_sent", &run->core_bytes_sent);
}

static void
node_stop(const bench_children_t *children, pair_node_t *node)
{
    if (node->pid > 0 && bench_node_stop(node->pid) != 0)
        fprintf(stderr, "the node on '%s' did not exit cleanly; see %s\n", node->dir,
                children->log);
    node->pid = -1;
}

static void
sleep_ms(long ms)
{
    struct timespec pause = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&pause, NULL);
}

// Bytes per second both ways on the pair's link while neither has anything to send.
static double
idle_bytes_per_second(const pair_node_t *source, const pair_node_t *sink)
{
    sleep_ms(BENCH_PAIR_IDLE_SETTLE_MS);
    uint64_t before[2], after[2];
    if (bench_wire_tcp_sent_bytes(sink->port, &before[0]) != 0 ||
        bench_wire_tcp_sent_bytes(source->port, &before[1]) != 0)
        return 0;
    sleep_ms(BENCH_PAIR_IDLE_MEASURE_MS);
    if (bench_wire_tcp_sent_bytes(sink->port, &after[0]) != 0 ||
        bench_wire_tcp_sent_bytes(source->port, &after[1]) != 0)
        return 0;
    uint64_t bytes = (after[0] - before[0]) + (after[1] - before[1]);
    return (double)bytes * 1000.0 / BENCH_PAIR_IDLE_MEASURE_MS;
}

int
bench_pair_catch_up(const bench_children_t *children, const char *rules, const char *dir,
                    uint64_t ops, bool measure_idle, uint16_t *port_cursor, bench_catch_up_t *out)
{
    memset(out, 0, sizeof *out);
    out->ops = ops;
    pair_node_t source, sink;
    fprintf(stderr, "mesh: %" PRIu64 " operations: two nodes, linked; loading the source\n", ops);
    int rc = pair_create(children, rules, dir, port_cursor, &source, &sink);
    if (rc == 0)
        rc = source_load(children, dir, &source, ops);
    if (rc == 0)
        out->source_loaded_rss_kb = bench_peak_rss_kb(source.pid);
    if (rc == 0) {
        fprintf(stderr, "mesh: %" PRIu64 " operations: the sink starts and catches up\n", ops);
        rc = sink_catch_up(children, &sink, ops, out);
    }
    if (rc == 0)
        run_measure(children, &source, &sink, out);
    if (rc == 0 && measure_idle) {
        fprintf(stderr, "mesh: both idle: the bytes of their anti-entropy rounds\n");
        out->idle_bytes_per_second = idle_bytes_per_second(&source, &sink);
    }
    node_stop(children, &sink);
    node_stop(children, &source);
    return rc;
}
