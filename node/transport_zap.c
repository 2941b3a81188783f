#include "transport_zap.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "sm_error.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
// A CURVE request has 7 frames (RFC 27); more are drained and the request refused.
#define ZAP_REQUEST_FRAMES_MAX 7
// Requests waiting for the handler: a whole chain's branches reconnecting at once after
// the cloud restarts is a few hundred handshakes; past this libzmq fails the handshake
// and the client retries after its reconnect interval.
#define ZAP_QUEUE_REQUESTS_MAX 1000
// Distinct refused keys remembered for log throttling; past it the oldest is forgotten
// (an attacker cycling keys gets at most this many lines per minute, and is still counted).
#define ZAP_LOGGED_KEYS_MAX 64
#define ZAP_LOG_INTERVAL_MS 60000 // one line per refused key per minute
// Name (1 byte length) + "X-Peer-Key" + value length (4 bytes) + 64 hex digits.
#define ZAP_METADATA_BYTES_MAX (1 + sizeof TRANSPORT_ZAP_KEY_PROPERTY - 1 + 4 + 64)

typedef struct {
    uint8_t key[crypto_box_PUBLICKEYBYTES];
    uint64_t logged_ms; // monotonic time of the last line about this key
    bool used;
} zap_logged_key_t;

struct transport_zap {
    void *handler;       // REP bound to ZAP_ENDPOINT; only the thread touches it once started
    void *stop_sender;   // PAIR, the owner's end: one message asks the thread to end
    void *stop_receiver; // PAIR, the thread's end
    pthread_t thread;
    pthread_mutex_t allowed_mutex;                // guards allowed and allowed_count
    transport_zap_entry_t *allowed;               // the allow-list, unordered
    size_t allowed_count;                         // entries in allowed
    _Atomic uint64_t refused_count;               // handshakes refused, any reason
    zap_logged_key_t logged[ZAP_LOGGED_KEYS_MAX]; // thread only
    bool foreign_logged; // thread only: the one line about foreign requests
};

// What the handler answers one request with.
typedef struct {
    const char *status_code; // "200", "400" or "500"
    const char *status_text;
    char user_id[CRDT_NAME_MAX + 1];
    uint8_t metadata[ZAP_METADATA_BYTES_MAX];
    size_t metadata_size; // bytes used in metadata
} zap_reply_t;

static uint64_t
monotonic_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;
}

static bool
frame_is(zmq_msg_t *frame, const char *text)
{
    size_t len = strlen(text);
    return zmq_msg_size(frame) == len && memcmp(zmq_msg_data(frame), text, len) == 0;
}

// The slot remembering key, else a free slot, else the one logged longest ago.
static size_t
logged_slot(const transport_zap_t *self, const uint8_t key[crypto_box_PUBLICKEYBYTES])
{
    size_t victim = 0;
    for (size_t i = 0; i < ZAP_LOGGED_KEYS_MAX; i++) {
        const zap_logged_key_t *entry = &self->logged[i];
        if (entry->used && memcmp(entry->key, key, crypto_box_PUBLICKEYBYTES) == 0)
            return i;
        const zap_logged_key_t *chosen = &self->logged[victim];
        if (chosen->used && (!entry->used || entry->logged_ms < chosen->logged_ms))
            victim = i;
    }
    return victim;
}

// Logs a refused key unless it was logged in the last minute.
static void
log_refused_key(transport_zap_t *self, const uint8_t key[crypto_box_PUBLICKEYBYTES])
{
    uint64_t now_ms = monotonic_ms();
    zap_logged_key_t *entry = &self->logged[logged_slot(self, key)];
    bool same_key = entry->used && memcmp(entry->key, key, crypto_box_PUBLICKEYBYTES) == 0;
    if (same_key && now_ms - entry->logged_ms < ZAP_LOG_INTERVAL_MS)
        return;
    *entry = (zap_logged_key_t){.logged_ms = now_ms, .used = true};
    memcpy(entry->key, key, crypto_box_PUBLICKEYBYTES);
    char hex[TRANSPORT_ZAP_KEY_HEX_SIZE];
    sodium_bin2hex(hex, sizeof hex, key, crypto_box_PUBLICKEYBYTES);
    // The key is the CURVE (X25519) form of the node's Ed25519 public key, the only
    // one a handshake shows; `storemesh id --curve` prints it on the node itself.
    fprintf(stderr,
            "storemesh: refused a link from unknown key %s (its CURVE form: `storemesh id "
            "--curve` on a node prints the same); if that node belongs to this mesh, add it "
            "with `storemesh peer add` and the output of its `storemesh id`\n",
            hex);
}

// Copies the name allowed for key into name; false when key is not on the list.
static bool
allowed_name(transport_zap_t *self, const uint8_t *key, char name[CRDT_NAME_MAX + 1])
{
    bool found = false;
    pthread_mutex_lock(&self->allowed_mutex);
    for (size_t i = 0; i < self->allowed_count && !found; i++) {
        const transport_zap_entry_t *entry = &self->allowed[i];
        if (memcmp(entry->curve_public_key, key, crypto_box_PUBLICKEYBYTES) == 0) {
            memcpy(name, entry->name, CRDT_NAME_MAX + 1);
            found = true;
        }
    }
    pthread_mutex_unlock(&self->allowed_mutex);
    return found;
}

// ZMTP metadata: name length (1 byte), name, value length (4 bytes, big-endian), value.
static void
reply_set_key_metadata(zap_reply_t *reply, const uint8_t *key)
{
    const char *name = TRANSPORT_ZAP_KEY_PROPERTY;
    size_t name_len = strlen(name);
    uint8_t *out = reply->metadata;
    *out++ = (uint8_t)name_len;
    memcpy(out, name, name_len);
    out += name_len;
    const uint8_t value_len[4] = {0, 0, 0, 64};
    memcpy(out, value_len, sizeof value_len);
    out += sizeof value_len;
    char hex[TRANSPORT_ZAP_KEY_HEX_SIZE];
    sodium_bin2hex(hex, sizeof hex, key, crypto_box_PUBLICKEYBYTES);
    memcpy(out, hex, 64);
    out += 64;
    reply->metadata_size = (size_t)(out - reply->metadata);
    assert(reply->metadata_size == ZAP_METADATA_BYTES_MAX);
}

static void
decide(transport_zap_t *self, zmq_msg_t *frames, size_t count, zap_reply_t *reply)
{
    *reply = (zap_reply_t){.status_code = "400", .status_text = "not allowed"};
    if (count != ZAP_REQUEST_FRAMES_MAX || !frame_is(&frames[0], "1.0")) {
        reply->status_code = "500";
        reply->status_text = "malformed ZAP request";
        return;
    }
    bool ours = frame_is(&frames[2], TRANSPORT_ZAP_DOMAIN) && frame_is(&frames[5], "CURVE") &&
                zmq_msg_size(&frames[6]) == crypto_box_PUBLICKEYBYTES;
    if (!ours) {
        // Another socket of this context asked (not our ROUTER): there is no key to log.
        if (!self->foreign_logged)
            fprintf(stderr,
                    "storemesh: refused a ZAP request outside domain '%s' (CURVE); "
                    "give other authenticated sockets their own zmq context\n",
                    TRANSPORT_ZAP_DOMAIN);
        self->foreign_logged = true;
        return;
    }
    const uint8_t *key = zmq_msg_data(&frames[6]);
    if (!allowed_name(self, key, reply->user_id)) {
        log_refused_key(self, key);
        return;
    }
    reply->status_code = "200";
    reply->status_text = "OK";
    reply_set_key_metadata(reply, key);
}

// Receives one request into frames (closing any beyond the maximum); its frame count,
// 0 when none was waiting, or -1 when the context is ending.
static int
receive_request(void *handler, zmq_msg_t frames[ZAP_REQUEST_FRAMES_MAX])
{
    int count = 0;
    int more = 1;
    // Bounded by the request's frame count: libzmq delivers a request whole.
    while (more) {
        zmq_msg_t extra;
        zmq_msg_t *frame = count < ZAP_REQUEST_FRAMES_MAX ? &frames[count] : &extra;
        zmq_msg_init(frame);
        if (zmq_msg_recv(frame, handler, count == 0 ? ZMQ_DONTWAIT : 0) < 0) {
            zmq_msg_close(frame);
            for (int i = 0; i < count && i < ZAP_REQUEST_FRAMES_MAX; i++)
                zmq_msg_close(&frames[i]);
            return zmq_errno() == EAGAIN && count == 0 ? 0 : -1;
        }
        more = zmq_msg_more(frame);
        if (frame == &extra)
            zmq_msg_close(&extra);
        count++;
    }
    return count;
}

static int
send_reply(void *handler, zmq_msg_t *request_id, const zap_reply_t *reply)
{
    const char *texts[] = {"1.0", NULL, reply->status_code, reply->status_text, reply->user_id};
    int rc = 0;
    for (size_t i = 0; i < 5 && rc >= 0; i++) {
        if (i == 1)
            rc = zmq_send(handler, zmq_msg_data(request_id), zmq_msg_size(request_id), ZMQ_SNDMORE);
        else
            rc = zmq_send(handler, texts[i], strlen(texts[i]), ZMQ_SNDMORE);
    }
    if (rc >= 0)
        rc = zmq_send(handler, reply->metadata, reply->metadata_size, 0);
    return rc < 0 ? -1 : 0;
}

// Answers one waiting request; -1 when the context is ending.
static int
handle_request(transport_zap_t *self)
{
    zmq_msg_t frames[ZAP_REQUEST_FRAMES_MAX];
    int count = receive_request(self->handler, frames);
    if (count <= 0)
        return count;
    zap_reply_t reply;
    decide(self, frames, (size_t)count, &reply);
    if (strcmp(reply.status_code, "200") != 0)
        atomic_fetch_add(&self->refused_count, 1); // after the log line, which tests rely on
    zmq_msg_t empty;
    zmq_msg_init(&empty);
    int rc = send_reply(self->handler, count >= 2 ? &frames[1] : &empty, &reply);
    zmq_msg_close(&empty);
    for (int i = 0; i < count && i < ZAP_REQUEST_FRAMES_MAX; i++)
        zmq_msg_close(&frames[i]);
    return rc;
}

static void *
zap_main(void *arg)
{
    transport_zap_t *self = arg;
    // The handler's event loop, unbounded by design: it runs until transport_zap_stop
    // sends on the stop pair, or the context ends under it.
    for (;;) {
        zmq_pollitem_t items[2] = {{self->handler, 0, ZMQ_POLLIN, 0},
                                   {self->stop_receiver, 0, ZMQ_POLLIN, 0}};
        int rc = zmq_poll(items, 2, -1);
        if (rc < 0 && zmq_errno() == EINTR)
            continue;
        if (rc < 0)
            break;
        if (items[1].revents & ZMQ_POLLIN)
            return NULL; // transport_zap_stop
        if ((items[0].revents & ZMQ_POLLIN) && handle_request(self) != 0)
            break;
    }
    if (zmq_errno() != ETERM)
        fprintf(stderr,
                "storemesh: the link authenticator stopped: %s; every link is refused "
                "until the node restarts\n",
                zmq_strerror(zmq_errno()));
    return NULL;
}

static int
open_sockets(transport_zap_t *self, void *zmq_context, char *err, size_t err_size)
{
    int linger_ms = 0;
    int queue = ZAP_QUEUE_REQUESTS_MAX;
    self->handler = zmq_socket(zmq_context, ZMQ_REP);
    if (!self->handler)
        goto fail;
    zmq_setsockopt(self->handler, ZMQ_LINGER, &linger_ms, sizeof linger_ms);
    zmq_setsockopt(self->handler, ZMQ_SNDHWM, &queue, sizeof queue);
    zmq_setsockopt(self->handler, ZMQ_RCVHWM, &queue, sizeof queue);
    if (zmq_bind(self->handler, ZAP_ENDPOINT) != 0) {
        snprintf(err, err_size,
                 "cannot start the link authenticator: %s is taken in this zmq context (%s); "
                 "give each transport its own zmq context",
                 ZAP_ENDPOINT, zmq_strerror(zmq_errno()));
        return -SM_EBUSY;
    }
    char stop_endpoint[64];
    snprintf(stop_endpoint, sizeof stop_endpoint, "inproc://storemesh-zap-stop-%p", (void *)self);
    self->stop_receiver = zmq_socket(zmq_context, ZMQ_PAIR);
    self->stop_sender = zmq_socket(zmq_context, ZMQ_PAIR);
    if (!self->stop_receiver || !self->stop_sender ||
        zmq_bind(self->stop_receiver, stop_endpoint) != 0 ||
        zmq_connect(self->stop_sender, stop_endpoint) != 0)
        goto fail;
    zmq_setsockopt(self->stop_receiver, ZMQ_LINGER, &linger_ms, sizeof linger_ms);
    zmq_setsockopt(self->stop_sender, ZMQ_LINGER, &linger_ms, sizeof linger_ms);
    return 0;
fail:
    snprintf(err, err_size,
             "cannot start the link authenticator: %s; raise the context's "
             "ZMQ_MAX_SOCKETS or the open-file limit",
             zmq_strerror(zmq_errno()));
    return -SM_EIO;
}

static void
close_sockets(transport_zap_t *self)
{
    if (self->handler)
        zmq_close(self->handler);
    if (self->stop_receiver)
        zmq_close(self->stop_receiver);
    if (self->stop_sender)
        zmq_close(self->stop_sender);
}

// Starts the thread with every signal blocked, so signals reach the node's main thread.
static int
start_thread(transport_zap_t *self)
{
    sigset_t all;
    sigset_t saved;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &saved);
    int rc = pthread_create(&self->thread, NULL, zap_main, self);
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    return rc == 0 ? 0 : -SM_EIO;
}

transport_zap_t *
transport_zap_start(void *zmq_context, char *err, size_t err_size)
{
    assert(zmq_context != NULL);
    transport_zap_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, err_size, "cannot start the link authenticator: out of memory");
        return NULL;
    }
    atomic_init(&self->refused_count, 0);
    if (pthread_mutex_init(&self->allowed_mutex, NULL) != 0) {
        snprintf(err, err_size, "cannot start the link authenticator: no mutex");
        goto fail_free;
    }
    // Bound here, before the thread and before the caller binds its ROUTER: a request
    // that arrives before the thread polls waits in the socket.
    if (open_sockets(self, zmq_context, err, err_size) != 0)
        goto fail_close_sockets;
    if (start_thread(self) != 0) {
        snprintf(err, err_size,
                 "cannot start the link authenticator thread; check the "
                 "process's thread limit");
        goto fail_close_sockets;
    }
    return self;
fail_close_sockets:
    close_sockets(self);
    pthread_mutex_destroy(&self->allowed_mutex);
fail_free:
    free(self);
    return NULL;
}

void
transport_zap_stop(transport_zap_t **self_p)
{
    assert(self_p != NULL);
    transport_zap_t *self = *self_p;
    if (!self)
        return;
    // A blocking send on a connected inproc PAIR with an empty queue returns at once; if
    // the context is already ending it fails and the thread has seen ETERM itself.
    zmq_send(self->stop_sender, "", 0, 0);
    pthread_join(self->thread, NULL);
    close_sockets(self);
    pthread_mutex_destroy(&self->allowed_mutex);
    free(self->allowed);
    free(self);
    *self_p = NULL;
}

void
transport_zap_replace(transport_zap_t *self, transport_zap_entry_t **entries_p, size_t count)
{
    assert(self != NULL);
    assert(entries_p != NULL);
    assert(*entries_p != NULL || count == 0);
    pthread_mutex_lock(&self->allowed_mutex);
    transport_zap_entry_t *old = self->allowed;
    self->allowed = *entries_p;
    self->allowed_count = count;
    pthread_mutex_unlock(&self->allowed_mutex);
    *entries_p = NULL;
    free(old);
}

uint64_t
transport_zap_refused_count(const transport_zap_t *self)
{
    assert(self != NULL);
    return atomic_load(&self->refused_count);
}
