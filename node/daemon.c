#include "daemon.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "arena.h"
#include "control.h"
#include "core.h"
#include "datadir.h"
#include "identity.h"
#include "links.h"
#include "rules.h"
#include "sm_error.h"
#include "store_rocks.h"

// Messages taken from the socket per loop turn before the core flushes: the
// group-commit window. Larger gives fewer fsyncs under load, smaller lower latency.
#define DAEMON_DRAIN_MESSAGES_MAX 256
#define DAEMON_POLL_MS 50 // also how late a link's connect can be noticed (LINKS_CHECK_MS)
#define DAEMON_MESSAGE_BYTES_MAX (16 << 20) // documented in docs/CONTROL.md
#define DAEMON_PENDING_REQUESTS_MAX 4096
#define DAEMON_IDENTITY_MAX 256
// A linked peer takes three ZeroMQ sockets (its DEALER, the DEALER's monitor and the
// PAIR that reads it) and about five descriptors with its TCP connection; the peer
// table holds up to 1024 (CORE_PEERS_MAX), a cloud hundreds.
#define DAEMON_ZMQ_SOCKETS_MAX (3 * 1024 + 64)
#define DAEMON_OPEN_FILES_WANTED (5 * 1024 + 512) // and RocksDB's 256 table files

static volatile sig_atomic_t stop_requested;

static void
on_signal(int signal_number)
{
    (void)signal_number;
    stop_requested = 1;
}

static uint64_t
wall_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;
}

typedef struct {
    uint64_t request_id;        // the core's
    uint64_t client_request_id; // echoed to the client
    size_t identity_len;
    uint8_t identity[DAEMON_IDENTITY_MAX];
} pending_t;

typedef struct {
    const char *dir;
    identity_t identity;
    rules_t *rules;
    store_rocks_t *store;
    core_t *core;
    void *zmq_context;
    void *socket;
    pending_t *pending; // submits waiting for their REPLY effect
    size_t pending_count;
    uint64_t next_request_id;
    uint64_t started_ms;
    uint64_t write_failures;
    // The writer thread does the RocksDB writes and fsyncs, so the event loop builds
    // the next batch while the current one goes to disk.
    void *writer_socket; // PAIR, inproc://writer; NULL until the thread runs
    pthread_t writer_thread;
    bool writer_running;
    bool writing; // a WRITE is with the writer thread
    arena_t *arena; // for decoding requests
    links_t *links; // the mesh: peer table and CurveZMQ transport
} daemon_t;

typedef struct {
    uint64_t batch_id;
    const store_batch_t *batch; // owned by the core until core_write_done
    bool sync;
    bool stop; // ends the writer thread
} write_job_t;

typedef struct {
    uint64_t batch_id;
    int rc;
    char err[400];
} write_result_t;

typedef struct {
    void *zmq_context;
    store_rocks_t *store;
} writer_args_t;

// The writer thread: takes one job at a time, writes it, answers with the result.
// It touches nothing but RocksDB and its socket.
static void *
writer_main(void *arg)
{
    writer_args_t *args = arg;
    void *socket = zmq_socket(args->zmq_context, ZMQ_PAIR);
    zmq_connect(socket, "inproc://storemesh-writer");
    // Bounded by the daemon's life: it sends a stop job before it exits.
    for (;;) {
        write_job_t job;
        if (zmq_recv(socket, &job, sizeof job, 0) != (int)sizeof job) {
            if (zmq_errno() == EINTR)
                continue;
            break;
        }
        if (job.stop)
            break;
        write_result_t result = {.batch_id = job.batch_id};
        result.rc = store_rocks_write(args->store, job.batch, job.sync, result.err,
                                      sizeof result.err);
        while (zmq_send(socket, &result, sizeof result, 0) < 0 && zmq_errno() == EINTR) {
        }
    }
    zmq_close(socket);
    free(args);
    return NULL;
}

static int
send_reply(daemon_t *self, const uint8_t *identity, size_t identity_len,
           Storemesh__Response *response, uint64_t client_request_id)
{
    response->request_id = client_request_id;
    size_t len = storemesh__response__get_packed_size(response);
    uint8_t *bytes = malloc(len ? len : 1);
    if (!bytes)
        return -SM_ENOMEM;
    storemesh__response__pack(response, bytes);
    int rc = zmq_send(self->socket, identity, identity_len, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    if (rc >= 0)
        rc = zmq_send(self->socket, bytes, len, ZMQ_DONTWAIT);
    free(bytes);
    // A client that went away (or is too slow to read) loses its answer, never the
    // command: it retries with the same command ID and gets the same audit ID.
    return rc < 0 ? -SM_EIO : 0;
}

static void
send_error(daemon_t *self, const uint8_t *identity, size_t identity_len, uint64_t client_request_id,
           const char *message)
{
    Storemesh__Response response = STOREMESH__RESPONSE__INIT;
    response.body_case = STOREMESH__RESPONSE__BODY_ERROR;
    response.error = (char *)message;
    send_reply(self, identity, identity_len, &response, client_request_id);
}

static void
handle_submit(daemon_t *self, const uint8_t *identity, size_t identity_len,
              uint64_t client_request_id, const Storemesh__SubmitRequest *submit)
{
    if (submit->n_commands == 0 || submit->n_commands > CORE_REQUEST_COMMANDS_MAX) {
        char message[128];
        snprintf(message, sizeof message, "a submit request carries 1 to %d commands",
                 CORE_REQUEST_COMMANDS_MAX);
        send_error(self, identity, identity_len, client_request_id, message);
        return;
    }
    if (self->pending_count >= DAEMON_PENDING_REQUESTS_MAX) {
        send_error(self, identity, identity_len, client_request_id,
                   "the node is busy (too many requests waiting); retry in a moment with the "
                   "same command IDs");
        return;
    }
    core_command_t *commands = calloc(submit->n_commands, sizeof *commands);
    if (!commands) {
        send_error(self, identity, identity_len, client_request_id,
                   "the node is out of memory; retry later");
        return;
    }
    for (size_t i = 0; i < submit->n_commands; i++)
        control_command_from_proto(&commands[i], submit->commands[i]);
    uint64_t request_id = ++self->next_request_id;
    int rc = core_submit(self->core, request_id, commands, submit->n_commands, wall_ms());
    free(commands);
    if (rc) {
        send_error(self, identity, identity_len, client_request_id,
                   rc == -SM_EFULL ? "the node is busy (too many commands waiting); retry in a "
                                     "moment with the same command IDs"
                                   : "the node is out of memory; retry later");
        return;
    }
    pending_t *pending = &self->pending[self->pending_count++];
    pending->request_id = request_id;
    pending->client_request_id = client_request_id;
    pending->identity_len = identity_len;
    memcpy(pending->identity, identity, identity_len);
}

// A bump allocator for decoding one request: protobuf-c allocates every string and
// message of a 1000-command request separately, and all of it dies together once
// the core has copied the commands. Chunks are kept for the next request.
static void
handle_request(daemon_t *self, const uint8_t *identity, size_t identity_len, const uint8_t *bytes,
               size_t len)
{
    ProtobufCAllocator allocator = arena_protobuf_allocator(self->arena);
    arena_reset(self->arena);
    Storemesh__Request *request = storemesh__request__unpack(&allocator, len, bytes);
    if (!request) {
        send_error(self, identity, identity_len, 0,
                   "the request is not a storemesh Request message (docs/CONTROL.md)");
        return;
    }
    if (request->body_case == STOREMESH__REQUEST__BODY_SUBMIT) {
        handle_submit(self, identity, identity_len, request->request_id, request->submit);
    } else if (request->body_case == STOREMESH__REQUEST__BODY_PEERS) {
        control_links_t links;
        links_view(self->links, &links);
        control_reply_t reply;
        control_answer_peers(self->core, &links, wall_ms(), &reply);
        send_reply(self, identity, identity_len, &reply.response, request->request_id);
        control_reply_free(&reply);
    } else {
        control_reply_t reply;
        control_answer_read(self->core, request, wall_ms(), self->started_ms, &reply);
        control_links_t links;
        links_view(self->links, &links);
        control_status_add_links(self->core, &links, wall_ms(), &reply);
        send_reply(self, identity, identity_len, &reply.response, request->request_id);
        control_reply_free(&reply);
    }
    // No free_unpacked: every block of the request came from the arena, which the
    // next request resets, and its walk over 1,000 commands' fields (each free a
    // no-op) showed in bench local's profile.
}

static void
deliver_reply(daemon_t *self, const core_effect_t *effect)
{
    for (size_t i = 0; i < self->pending_count; i++) {
        if (self->pending[i].request_id != effect->request_id)
            continue;
        control_reply_t reply;
        control_submit_reply(effect->results, effect->result_count, &reply);
        send_reply(self, self->pending[i].identity, self->pending[i].identity_len, &reply.response,
                   self->pending[i].client_request_id);
        control_reply_free(&reply);
        self->pending[i] = self->pending[--self->pending_count];
        return;
    }
}

// Carries out the core's effects that need no waiting: replies go out, a WRITE goes
// to the writer thread (one at a time; the core never hands out a second).
static void
run_effects(daemon_t *self)
{
    core_flush(self->core, wall_ms());
    core_effect_t effect;
    while (core_next_effect(self->core, &effect)) {
        if (effect.kind == CORE_EFFECT_REPLY) {
            deliver_reply(self, &effect);
            continue;
        }
        if (effect.kind == CORE_EFFECT_SEND) {
            links_send(self->links, effect.peer, effect.bytes, effect.len);
            continue;
        }
        assert(!self->writing);
        write_job_t job = {.batch_id = effect.batch_id, .batch = effect.batch, .sync = effect.sync};
        while (zmq_send(self->writer_socket, &job, sizeof job, 0) < 0 && zmq_errno() == EINTR) {
        }
        self->writing = true;
    }
}

// The writer finished a batch: tell the core, then carry out what follows.
static void
take_write_result(daemon_t *self)
{
    write_result_t result;
    int len = zmq_recv(self->writer_socket, &result, sizeof result, ZMQ_DONTWAIT);
    if (len != (int)sizeof result)
        return;
    self->writing = false;
    if (result.rc) {
        self->write_failures++;
        fprintf(stderr,
                "storemesh: cannot write to '%s/db': %s; commands not yet on disk were "
                "answered 'failed' and not recorded. Free disk space or fix the disk; clients "
                "retry with the same command IDs\n",
                self->dir, result.err);
    }
    core_write_done(self->core, result.batch_id, result.rc);
    run_effects(self);
}

static void
drain_socket(daemon_t *self)
{
    for (int i = 0; i < DAEMON_DRAIN_MESSAGES_MAX; i++) {
        zmq_msg_t identity;
        zmq_msg_t body;
        zmq_msg_init(&identity);
        zmq_msg_init(&body);
        if (zmq_msg_recv(&identity, self->socket, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&identity);
            zmq_msg_close(&body);
            return;
        }
        int more = zmq_msg_more(&identity);
        bool ok = more && zmq_msg_recv(&body, self->socket, 0) >= 0;
        while (ok && zmq_msg_more(&body)) { // extra frames are not ours: drop them
            zmq_msg_t extra;
            zmq_msg_init(&extra);
            zmq_msg_recv(&extra, self->socket, 0);
            ok = false;
            int extra_more = zmq_msg_more(&extra);
            zmq_msg_close(&extra);
            if (!extra_more)
                break;
        }
        if (zmq_msg_size(&identity) <= DAEMON_IDENTITY_MAX) {
            if (ok)
                handle_request(self, zmq_msg_data(&identity), zmq_msg_size(&identity),
                               zmq_msg_data(&body), zmq_msg_size(&body));
            else
                send_error(self, zmq_msg_data(&identity), zmq_msg_size(&identity), 0,
                           "a request is exactly one frame holding a Request message");
        }
        zmq_msg_close(&identity);
        zmq_msg_close(&body);
        if (self->pending_count >= DAEMON_PENDING_REQUESTS_MAX)
            return;
    }
}


// The soft limit on open files is often 1024, fewer than a cloud linked to hundreds of
// branches needs; raise it as far as the hard limit allows. A dial that still runs
// out says so (transport.c) and names the limit.
static void
raise_open_file_limit(void)
{
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= DAEMON_OPEN_FILES_WANTED)
        return;
    rlim_t wanted = DAEMON_OPEN_FILES_WANTED;
    limit.rlim_cur = limit.rlim_max != RLIM_INFINITY && limit.rlim_max < wanted ? limit.rlim_max
                                                                                 : wanted;
    setrlimit(RLIMIT_NOFILE, &limit);
}

static int
open_socket(daemon_t *self, char *err, size_t err_size)
{
    if (strlen(self->dir) > DATADIR_IPC_DIR_MAX) {
        snprintf(err, err_size,
                 "data directory path '%s' is longer than %d bytes, too long for a control "
                 "socket; use a shorter path",
                 self->dir, DATADIR_IPC_DIR_MAX);
        return -SM_EINVAL;
    }
    char path[DATADIR_PATH_MAX];
    datadir_path(path, self->dir, "control.sock");
    unlink(path); // stale from a killed node: we hold the lock, so nobody else serves it
    raise_open_file_limit();
    self->zmq_context = zmq_ctx_new();
    if (self->zmq_context)
        zmq_ctx_set(self->zmq_context, ZMQ_MAX_SOCKETS, DAEMON_ZMQ_SOCKETS_MAX);
    self->socket = zmq_socket(self->zmq_context, ZMQ_ROUTER);
    int hwm = 10000;
    int linger_ms = 0;
    int64_t max_bytes = DAEMON_MESSAGE_BYTES_MAX;
    zmq_setsockopt(self->socket, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(self->socket, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(self->socket, ZMQ_LINGER, &linger_ms, sizeof linger_ms);
    zmq_setsockopt(self->socket, ZMQ_MAXMSGSIZE, &max_bytes, sizeof max_bytes);
    char endpoint[DATADIR_PATH_MAX];
    datadir_endpoint(endpoint, self->dir);
    if (zmq_bind(self->socket, endpoint) != 0) {
        snprintf(err, err_size, "cannot serve the control socket %.300s: %s", endpoint,
                 zmq_strerror(zmq_errno()));
        return -SM_EIO;
    }
    chmod(path, 0660); // local clients of the same user or group
    return 0;
}

static int
start_writer(daemon_t *self, char *err, size_t err_size)
{
    self->writer_socket = zmq_socket(self->zmq_context, ZMQ_PAIR);
    writer_args_t *args = malloc(sizeof *args);
    if (!self->writer_socket || !args ||
        zmq_bind(self->writer_socket, "inproc://storemesh-writer") != 0) {
        free(args);
        snprintf(err, err_size, "cannot start the writer: %s", zmq_strerror(zmq_errno()));
        return -SM_EIO;
    }
    *args = (writer_args_t){.zmq_context = self->zmq_context, .store = self->store};
    if (pthread_create(&self->writer_thread, NULL, writer_main, args) != 0) {
        free(args);
        snprintf(err, err_size, "cannot start the writer thread");
        return -SM_EIO;
    }
    self->writer_running = true;
    return 0;
}

static void
stop_writer(daemon_t *self)
{
    if (!self->writer_running)
        return;
    write_job_t job = {.stop = true};
    zmq_send(self->writer_socket, &job, sizeof job, 0);
    pthread_join(self->writer_thread, NULL);
    self->writer_running = false;
}

static int
check_data_dir(const char *dir)
{
    struct stat info;
    if (stat(dir, &info) != 0) {
        fprintf(stderr,
                "storemesh: data directory '%s' %s; create one with `storemesh init --data %s "
                "--name NAME --rules FILE`\n",
                dir, errno == ENOENT ? "does not exist" : strerror(errno), dir);
        return 1;
    }
    if (!S_ISDIR(info.st_mode) || access(dir, R_OK | W_OK | X_OK) != 0) {
        fprintf(stderr,
                "storemesh: '%s' is not a readable and writable directory; check the path and "
                "its permissions\n",
                dir);
        return 1;
    }
    return 0;
}

static int
open_node(daemon_t *self)
{
    char err[1024];
    int rc = identity_load(self->dir, true, &self->identity, err, sizeof err);
    if (rc) {
        fprintf(stderr, "storemesh: %s\n", err);
        return 1;
    }
    char path[DATADIR_PATH_MAX];
    datadir_path(path, self->dir, "rules.yaml");
    self->rules = rules_load(path, err, sizeof err);
    if (!self->rules) {
        fprintf(stderr, "storemesh: the node will not start: %s\n", err);
        return 2;
    }
    datadir_path(path, self->dir, "db");
    self->store = store_rocks_open(path, false, &rc, err, sizeof err);
    if (!self->store) {
        fprintf(stderr, "storemesh: cannot open the database '%s': %s; %s\n", path, err,
                rc == -SM_EBUSY ? "another process holds it: stop it first"
                                : "check the data directory (made by `storemesh init`?)");
        return 1;
    }
    core_config_t config = {.name = self->identity.name,
                            .rules = self->rules,
                            .secret_key = self->identity.secret_key,
                            .public_key = self->identity.public_key,
                            .reader = store_rocks_reader(self->store),
                            .sync = self->identity.fsync,
                            .batch_commands_max = self->identity.batch_commands_max};
    self->core = core_new(&config, err, sizeof err);
    if (!self->core) {
        fprintf(stderr, "storemesh: cannot start: %s\n", err);
        return 1;
    }
    if (open_socket(self, err, sizeof err) || start_writer(self, err, sizeof err)) {
        fprintf(stderr, "storemesh: %s\n", err);
        return 1;
    }
    self->links = links_new(self->zmq_context, self->dir, &self->identity, self->core, err,
                            sizeof err);
    if (!self->links) {
        fprintf(stderr, "storemesh: cannot start the mesh: %s\n", err);
        return 1;
    }
    return 0;
}

static void
close_node(daemon_t *self)
{
    links_destroy(&self->links);
    stop_writer(self);
    if (self->writer_socket)
        zmq_close(self->writer_socket);
    if (self->socket)
        zmq_close(self->socket);
    if (self->zmq_context)
        zmq_ctx_term(self->zmq_context);
    core_destroy(&self->core);
    store_rocks_close(&self->store);
    rules_destroy(&self->rules);
    sodium_memzero(self->identity.secret_key, sizeof self->identity.secret_key);
    free(self->pending);
    if (self->arena)
        arena_release(self->arena);
    free(self->arena);
    if (self->dir) {
        char path[DATADIR_PATH_MAX];
        datadir_path(path, self->dir, "control.sock");
        unlink(path);
    }
}

static void
install_signals(void)
{
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_signal; // no SA_RESTART: zmq_poll returns EINTR and we stop
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int
daemon_run(const char *data_dir)
{
    int code = check_data_dir(data_dir);
    if (code)
        return code;
    char err[1024];
    bool held = false;
    int lock_fd = datadir_lock(data_dir, &held, err, sizeof err);
    if (lock_fd < 0) {
        fprintf(stderr, "storemesh: %s\n", err);
        return 1;
    }
    install_signals();
    daemon_t self = {.dir = data_dir, .started_ms = wall_ms()};
    self.pending = calloc(DAEMON_PENDING_REQUESTS_MAX, sizeof *self.pending);
    self.arena = calloc(1, sizeof(arena_t));
    code = self.pending && self.arena ? open_node(&self) : 1;
    if (code == 0) {
        core_status_t status;
        core_status(self.core, wall_ms(), &status);
        fprintf(stderr,
                "storemesh: node %s running on %s (%llu operations, last seq %llu, %llu "
                "replayed from the log since the last checkpoint, fsync %s); stop with Ctrl-C\n",
                self.identity.name, data_dir, (unsigned long long)status.operations,
                (unsigned long long)status.last_seq,
                (unsigned long long)core_checkpoint_lag(self.core),
                self.identity.fsync ? "on" : "OFF");
    }
    // The event loop: the one unbounded loop, ended by SIGINT or SIGTERM.
    while (code == 0 && !stop_requested) {
        // Peers wait while the next batch is already full (core.h); their messages
        // stay in the transport, and the credit window bounds them there.
        void *peer_socket =
            core_peer_input_paused(self.core) ? NULL : links_socket(self.links);
        zmq_pollitem_t items[3] = {{.socket = self.socket, .events = ZMQ_POLLIN},
                                   {.socket = self.writer_socket, .events = ZMQ_POLLIN},
                                   {.socket = peer_socket, .events = ZMQ_POLLIN}};
        int ready = zmq_poll(items, peer_socket ? 3 : 2, DAEMON_POLL_MS);
        if (ready < 0 && zmq_errno() != EINTR) {
            fprintf(stderr, "storemesh: control socket failed: %s\n", zmq_strerror(zmq_errno()));
            code = 1;
            break;
        }
        core_tick(self.core, wall_ms());
        if (ready > 0 && (items[1].revents & ZMQ_POLLIN))
            take_write_result(&self);
        if (ready > 0 && (items[0].revents & ZMQ_POLLIN))
            drain_socket(&self);
        if (ready > 0 && peer_socket && (items[2].revents & ZMQ_POLLIN))
            links_receive(self.links, self.core, wall_ms());
        links_refresh(self.links, self.core, wall_ms());
        run_effects(&self);
    }
    // Answer what is already accepted before stopping: bounded by the commands
    // already taken in (the socket is no longer read).
    for (int turns = 0; code == 0 && self.core && core_is_busy(self.core) && turns < 100000;
         turns++) {
        zmq_pollitem_t item = {.socket = self.writer_socket, .events = ZMQ_POLLIN};
        if (self.writing && zmq_poll(&item, 1, DAEMON_POLL_MS) > 0)
            take_write_result(&self);
        run_effects(&self);
    }
    if (self.core)
        fprintf(stderr, "storemesh: node %s stopped\n", self.identity.name);
    close_node(&self);
    close(lock_fd);
    return code;
}
