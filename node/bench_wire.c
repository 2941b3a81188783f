#include "bench_wire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "bench_util.h"
#include "storemesh.pb-c.h"

// Distinct frames the sender sends round and round: 3.7 MB of them, more than the
// caches hold, and signed before the clock starts.
#define BENCH_WIRE_RING_FRAMES 256
// The high-water marks of the node's transport (TRANSPORT_QUEUE_FRAMES_MAX), so the
// raw stream may queue as much as a link does and no more.
#define BENCH_WIRE_QUEUE_FRAMES 64
#define BENCH_WIRE_FRAME_BYTES_MAX (16 << 20) // docs/PROTOCOL.md's frame limit
#define BENCH_WIRE_RECEIVE_TIMEOUT_MS 10000   // a stalled stream is a failure, not a wait
#define BENCH_WIRE_LINGER_MS 10000            // the sender's frames drain before it closes
#define BENCH_WIRE_Z85_SIZE 41                // a CURVE key in Z85, with its NUL
#define BENCH_WIRE_SEAL_MAX 256               // one packed Seal
#define BENCH_WIRE_DIAG_BUFFER_BYTES 32768    // one netlink read of socket diagnostics
// The ZMTP CURVE MESSAGE command around a payload: "\x07MESSAGE", an 8-byte short
// nonce, and the box (16-byte MAC, 1 byte of flags).
#define BENCH_WIRE_CURVE_MESSAGE_BYTES 33
#define BENCH_WIRE_SEQ_BASE UINT64_C(1000000) // Hello seqs: a branch a few months old

static const char seal_domain[] = "storemesh-seal-v1";

// "storemesh-seal-v1\0" origin "\0" seq(be64) head_hash, as the core signs a seal.
static size_t
seal_message(uint8_t *out, const char *origin, uint64_t seq, const uint8_t *head_hash)
{
    size_t len = 0;
    memcpy(out, seal_domain, sizeof seal_domain);
    len += sizeof seal_domain;
    size_t name_len = strlen(origin) + 1;
    memcpy(out + len, origin, name_len);
    len += name_len;
    for (int i = 0; i < 8; i++)
        out[len++] = (uint8_t)(seq >> (56 - 8 * i));
    memcpy(out + len, head_hash, BENCH_HASH_BYTES);
    return len + BENCH_HASH_BYTES;
}

typedef struct {
    uint8_t *bytes;
    size_t len;
} frame_t;

// A PeerMessage with BENCH_WIRE_FRAME_OPS operations from first_seq and their seal.
static int
frame_build(const char *origin, uint64_t first_seq, const uint8_t *secret_key, frame_t *out,
            size_t *operation_size)
{
    static uint8_t records[BENCH_WIRE_FRAME_OPS][BENCH_RECORD_MAX];
    ProtobufCBinaryData operations[BENCH_WIRE_FRAME_OPS];
    uint64_t rng = first_seq;
    for (size_t i = 0; i < BENCH_WIRE_FRAME_OPS; i++) {
        size_t len = bench_pack_operation(origin, first_seq + i, &rng, records[i]);
        if (len == 0)
            return -1;
        operations[i] = (ProtobufCBinaryData){len, records[i]};
        *operation_size = len;
    }
    uint64_t last_seq = first_seq + BENCH_WIRE_FRAME_OPS - 1;
    uint8_t head[BENCH_HASH_BYTES];
    const ProtobufCBinaryData *last = &operations[BENCH_WIRE_FRAME_OPS - 1];
    crypto_generichash(head, sizeof head, last->data, last->len, NULL, 0);
    uint8_t message[sizeof seal_domain + BENCH_RECORD_MAX + 8 + BENCH_HASH_BYTES];
    uint8_t signature[crypto_sign_BYTES];
    crypto_sign_detached(signature, NULL, message, seal_message(message, origin, last_seq, head),
                         secret_key);
    Storemesh__Seal seal = STOREMESH__SEAL__INIT;
    seal.origin = (char *)origin;
    seal.seq = last_seq;
    seal.head_hash = (ProtobufCBinaryData){sizeof head, head};
    seal.signature = (ProtobufCBinaryData){sizeof signature, signature};
    uint8_t seal_bytes[BENCH_WIRE_SEAL_MAX];
    if (storemesh__seal__get_packed_size(&seal) > sizeof seal_bytes)
        return -1;
    Storemesh__OpsBatch ops = STOREMESH__OPS_BATCH__INIT;
    ops.origin = (char *)origin;
    ops.first_seq = first_seq;
    ops.n_operations = BENCH_WIRE_FRAME_OPS;
    ops.operations = operations;
    ops.seal = (ProtobufCBinaryData){storemesh__seal__pack(&seal, seal_bytes), seal_bytes};
    Storemesh__PeerMessage peer_message = STOREMESH__PEER_MESSAGE__INIT;
    peer_message.version = 1;
    peer_message.body_case = STOREMESH__PEER_MESSAGE__BODY_OPS;
    peer_message.ops = &ops;
    out->len = storemesh__peer_message__get_packed_size(&peer_message);
    out->bytes = malloc(out->len);
    if (!out->bytes)
        return -1;
    storemesh__peer_message__pack(&peer_message, out->bytes);
    return 0;
}

// What a receiver must do before it trusts a frame: decode it, decode its seal and
// check the seal's signature against the origin's key (the one check per frame).
static bool
frame_verifies(const uint8_t *bytes, size_t len, const uint8_t *public_key)
{
    Storemesh__PeerMessage *message = storemesh__peer_message__unpack(NULL, len, bytes);
    bool ok = message && message->version == 1 &&
              message->body_case == STOREMESH__PEER_MESSAGE__BODY_OPS && message->ops->origin &&
              message->ops->n_operations == BENCH_WIRE_FRAME_OPS;
    Storemesh__Seal *seal = NULL;
    if (ok)
        seal = storemesh__seal__unpack(NULL, message->ops->seal.len, message->ops->seal.data);
    ok = ok && seal && seal->origin && strlen(seal->origin) < BENCH_RECORD_MAX &&
         seal->seq == message->ops->first_seq + BENCH_WIRE_FRAME_OPS - 1 &&
         seal->head_hash.len == BENCH_HASH_BYTES && seal->signature.len == crypto_sign_BYTES;
    if (ok) {
        uint8_t signed_bytes[sizeof seal_domain + BENCH_RECORD_MAX + 8 + BENCH_HASH_BYTES];
        size_t signed_len =
            seal_message(signed_bytes, seal->origin, seal->seq, seal->head_hash.data);
        ok = crypto_sign_verify_detached(seal->signature.data, signed_bytes, signed_len,
                                         public_key) == 0;
    }
    storemesh__seal__free_unpacked(seal, NULL);
    storemesh__peer_message__free_unpacked(message, NULL);
    return ok;
}

typedef struct {
    const frame_t *ring;
    uint64_t frames;
    char endpoint[256];
    char server_public[BENCH_WIRE_Z85_SIZE];
    char client_public[BENCH_WIRE_Z85_SIZE];
    char client_secret[BENCH_WIRE_Z85_SIZE];
    int rc; // 0, or -1 when a send failed
} sender_t;

static int
set_queue_options(void *socket)
{
    const int queue = BENCH_WIRE_QUEUE_FRAMES;
    const int64_t size_max = BENCH_WIRE_FRAME_BYTES_MAX + 64;
    return zmq_setsockopt(socket, ZMQ_SNDHWM, &queue, sizeof queue) |
           zmq_setsockopt(socket, ZMQ_RCVHWM, &queue, sizeof queue) |
           zmq_setsockopt(socket, ZMQ_MAXMSGSIZE, &size_max, sizeof size_max);
}

// The sending node: its own zmq context (its own I/O thread), a CURVE client.
static void *
sender_main(void *arg)
{
    sender_t *sender = arg;
    void *context = zmq_ctx_new();
    void *dealer = context ? zmq_socket(context, ZMQ_DEALER) : NULL;
    const int linger = BENCH_WIRE_LINGER_MS;
    sender->rc = -1;
    if (dealer && set_queue_options(dealer) == 0 &&
        zmq_setsockopt(dealer, ZMQ_LINGER, &linger, sizeof linger) == 0 &&
        zmq_setsockopt(dealer, ZMQ_CURVE_SERVERKEY, sender->server_public, 41) == 0 &&
        zmq_setsockopt(dealer, ZMQ_CURVE_PUBLICKEY, sender->client_public, 41) == 0 &&
        zmq_setsockopt(dealer, ZMQ_CURVE_SECRETKEY, sender->client_secret, 41) == 0 &&
        zmq_connect(dealer, sender->endpoint) == 0 && zmq_send(dealer, "go", 2, 0) == 2) {
        sender->rc = 0;
        // Bounded by frames; each send waits while the link's queue is full.
        for (uint64_t i = 0; i < sender->frames && sender->rc == 0; i++) {
            const frame_t *frame = &sender->ring[i % BENCH_WIRE_RING_FRAMES];
            if (zmq_send(dealer, frame->bytes, frame->len, 0) != (int)frame->len)
                sender->rc = -1;
        }
    }
    if (dealer)
        zmq_close(dealer);
    if (context)
        zmq_ctx_term(context);
    return NULL;
}

// The next payload from the ROUTER (its identity frame dropped) into msg. 0 or -1.
static int
receive_payload(void *router, zmq_msg_t *msg)
{
    if (zmq_msg_recv(msg, router, 0) < 0 || !zmq_msg_more(msg))
        return -1;
    return zmq_msg_recv(msg, router, 0) < 0 ? -1 : 0;
}

// Receives sender->frames frames after the "go" frame and verifies each; *seconds
// from the "go" frame's arrival to the last frame verified.
static int
receive_frames(void *router, const sender_t *sender, const uint8_t *public_key, double *seconds)
{
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    int rc = receive_payload(router, &msg);
    struct timespec started;
    clock_gettime(CLOCK_MONOTONIC, &started);
    for (uint64_t i = 0; rc == 0 && i < sender->frames; i++) {
        rc = receive_payload(router, &msg);
        if (rc == 0 && !frame_verifies(zmq_msg_data(&msg), zmq_msg_size(&msg), public_key)) {
            fprintf(stderr, "raw stream: frame %llu did not verify\n", (unsigned long long)i);
            rc = -1;
        }
    }
    *seconds = bench_seconds_since(&started);
    zmq_msg_close(&msg);
    if (rc != 0)
        fprintf(stderr, "raw stream: receiving failed: %s\n", zmq_strerror(zmq_errno()));
    return rc;
}

// Binds a CURVE server on a free port of 127.0.0.1; its endpoint into sender. NULL on
// failure.
static void *
router_open(void *context, const char *server_secret, sender_t *sender)
{
    void *router = zmq_socket(context, ZMQ_ROUTER);
    const int on = 1;
    const int timeout_ms = BENCH_WIRE_RECEIVE_TIMEOUT_MS;
    size_t endpoint_size = sizeof sender->endpoint;
    if (router && set_queue_options(router) == 0 &&
        zmq_setsockopt(router, ZMQ_CURVE_SERVER, &on, sizeof on) == 0 &&
        zmq_setsockopt(router, ZMQ_CURVE_SECRETKEY, server_secret, 41) == 0 &&
        zmq_setsockopt(router, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms) == 0 &&
        zmq_bind(router, "tcp://127.0.0.1:*") == 0 &&
        zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, sender->endpoint, &endpoint_size) == 0)
        return router;
    fprintf(stderr, "raw stream: cannot bind a CURVE server on 127.0.0.1: %s\n",
            zmq_strerror(zmq_errno()));
    if (router)
        zmq_close(router);
    return NULL;
}

static int
stream_run(sender_t *sender, const uint8_t *public_key, double *seconds)
{
    char server_secret[BENCH_WIRE_Z85_SIZE];
    if (zmq_curve_keypair(sender->server_public, server_secret) != 0 ||
        zmq_curve_keypair(sender->client_public, sender->client_secret) != 0) {
        fprintf(stderr, "raw stream: this libzmq has no CURVE: %s\n", zmq_strerror(zmq_errno()));
        return -1;
    }
    void *context = zmq_ctx_new();
    void *router = context ? router_open(context, server_secret, sender) : NULL;
    pthread_t thread;
    int rc = router && pthread_create(&thread, NULL, sender_main, sender) == 0 ? 0 : -1;
    if (rc == 0) {
        rc = receive_frames(router, sender, public_key, seconds);
        pthread_join(thread, NULL);
        rc |= sender->rc;
    }
    if (router)
        zmq_close(router);
    if (context)
        zmq_ctx_term(context);
    return rc;
}

int
bench_wire_stream(const char *origin, uint64_t ops, bench_stream_t *out)
{
    memset(out, 0, sizeof *out);
    uint8_t public_key[crypto_sign_PUBLICKEYBYTES], secret_key[crypto_sign_SECRETKEYBYTES];
    if (sodium_init() < 0 || crypto_sign_keypair(public_key, secret_key) != 0)
        return -1;
    frame_t *ring = calloc(BENCH_WIRE_RING_FRAMES, sizeof *ring);
    int rc = ring ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < BENCH_WIRE_RING_FRAMES; i++)
        rc = frame_build(origin, 1 + i * BENCH_WIRE_FRAME_OPS, secret_key, &ring[i],
                         &out->operation_size);
    sender_t *sender = calloc(1, sizeof *sender);
    if (rc == 0 && sender) {
        sender->ring = ring;
        sender->frames = (ops + BENCH_WIRE_FRAME_OPS - 1) / BENCH_WIRE_FRAME_OPS;
        rc = stream_run(sender, public_key, &out->seconds);
        out->ops = sender->frames * BENCH_WIRE_FRAME_OPS;
        out->frame_bytes = ring[0].len;
    } else {
        rc = -1;
    }
    for (size_t i = 0; ring && i < BENCH_WIRE_RING_FRAMES; i++)
        free(ring[i].bytes);
    free(ring);
    free(sender);
    sodium_memzero(secret_key, sizeof secret_key);
    return rc;
}

// ---- TCP counters ----

// Adds the bytes acknowledged on every socket in one netlink answer whose peer port
// is port. 1 when the dump is complete, 0 when more follows, -1 on an error.
static int
sum_diag_answer(const uint8_t *buffer, size_t len, uint16_t port, uint64_t *bytes)
{
    const struct nlmsghdr *header = (const struct nlmsghdr *)buffer;
    for (; NLMSG_OK(header, len); header = NLMSG_NEXT(header, len)) {
        if (header->nlmsg_type == NLMSG_DONE)
            return 1;
        if (header->nlmsg_type == NLMSG_ERROR)
            return -1;
        const struct inet_diag_msg *diag = NLMSG_DATA(header);
        if (ntohs(diag->id.idiag_dport) != port)
            continue;
        const struct rtattr *attr = (const struct rtattr *)(diag + 1);
        unsigned int attr_len = header->nlmsg_len - NLMSG_LENGTH(sizeof *diag);
        for (; RTA_OK(attr, attr_len); attr = RTA_NEXT(attr, attr_len)) {
            if (attr->rta_type != INET_DIAG_INFO)
                continue;
            struct tcp_info info;
            memset(&info, 0, sizeof info);
            size_t got = RTA_PAYLOAD(attr) < sizeof info ? RTA_PAYLOAD(attr) : sizeof info;
            memcpy(&info, RTA_DATA(attr), got);
            *bytes += info.tcpi_bytes_acked;
        }
    }
    return 0;
}

int
bench_wire_tcp_sent_bytes(uint16_t port, uint64_t *bytes)
{
    *bytes = 0;
    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0) {
        fprintf(stderr, "cannot read TCP counters (netlink sock_diag): %s\n", strerror(errno));
        return -1;
    }
    struct {
        struct nlmsghdr header;
        struct inet_diag_req_v2 request;
    } query;
    memset(&query, 0, sizeof query);
    query.header.nlmsg_len = sizeof query;
    query.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    query.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    query.request.sdiag_family = AF_INET;
    query.request.sdiag_protocol = IPPROTO_TCP;
    query.request.idiag_states = ~0u; // every state: a listener has no peer port anyway
    query.request.idiag_ext = 1 << (INET_DIAG_INFO - 1);
    int rc = send(fd, &query, sizeof query, 0) == (ssize_t)sizeof query ? 0 : -1;
    static uint8_t buffer[BENCH_WIRE_DIAG_BUFFER_BYTES] __attribute__((aligned(8)));
    // Bounded by the sockets on the machine: the kernel ends the dump with NLMSG_DONE.
    while (rc == 0) {
        ssize_t got = recv(fd, buffer, sizeof buffer, 0);
        if (got <= 0) {
            rc = -1;
            break;
        }
        int done = sum_diag_answer(buffer, (size_t)got, port, bytes);
        if (done != 0) {
            rc = done > 0 ? 0 : -1;
            break;
        }
    }
    if (rc != 0)
        fprintf(stderr, "cannot read TCP counters (netlink sock_diag): %s\n", strerror(errno));
    close(fd);
    return rc;
}

size_t
bench_wire_curve_frame_bytes(size_t payload_bytes)
{
    size_t body = BENCH_WIRE_CURVE_MESSAGE_BYTES + payload_bytes;
    return body + (body > 255 ? 9 : 2); // flags, then a 1- or 8-byte size
}

// ---- Hello ----

// Sets Hello's have_digest through the descriptor, so this builds whether or not the
// field is in the .proto yet. False when it is not.
static bool
hello_set_digest(Storemesh__Hello *hello, const uint8_t *digest)
{
    const ProtobufCFieldDescriptor *field = protobuf_c_message_descriptor_get_field_by_name(
        &storemesh__hello__descriptor, "have_digest");
    if (!field || field->type != PROTOBUF_C_TYPE_BYTES || field->label == PROTOBUF_C_LABEL_REPEATED)
        return false;
    ProtobufCBinaryData *value = (ProtobufCBinaryData *)((uint8_t *)hello + field->offset);
    *value = (ProtobufCBinaryData){BENCH_HASH_BYTES, (uint8_t *)digest};
    if (field->quantifier_offset)
        *(protobuf_c_boolean *)((uint8_t *)hello + field->quantifier_offset) = 1;
    return true;
}

static size_t
hello_packed_size(Storemesh__Hello *hello)
{
    Storemesh__PeerMessage message = STOREMESH__PEER_MESSAGE__INIT;
    message.version = 1;
    message.body_case = STOREMESH__PEER_MESSAGE__BODY_HELLO;
    message.hello = hello;
    return storemesh__peer_message__get_packed_size(&message);
}

void
bench_wire_hello(size_t origins, bench_hello_t *out)
{
    memset(out, 0, sizeof *out);
    char(*names)[32] = calloc(origins ? origins : 1, sizeof *names);
    Storemesh__VvEntry *entries = calloc(origins ? origins : 1, sizeof *entries);
    Storemesh__VvEntry **pointers = calloc(origins ? origins : 1, sizeof *pointers);
    if (!names || !entries || !pointers)
        goto done;
    for (size_t i = 0; i < origins; i++) {
        snprintf(names[i], sizeof names[i], "branch-%04zu", i + 1);
        storemesh__vv_entry__init(&entries[i]);
        entries[i].origin = names[i];
        entries[i].seq = BENCH_WIRE_SEQ_BASE + i * 7919; // each branch at its own count
        pointers[i] = &entries[i];
    }
    uint8_t rules_hash[BENCH_HASH_BYTES] = {0}, digest[BENCH_HASH_BYTES] = {0};
    Storemesh__Hello hello = STOREMESH__HELLO__INIT;
    hello.node = names[0];
    hello.mesh = "bench";
    hello.rules_hash = (ProtobufCBinaryData){sizeof rules_hash, rules_hash};
    hello.credit = 8; // CORE_PEER_CREDIT_BATCHES
    // A branch knows every origin, and the authority (the cloud) holds every origin.
    hello.n_have = origins;
    hello.have = pointers;
    hello.n_authority_have = origins;
    hello.authority_have = pointers;
    out->full_bytes = hello_packed_size(&hello);
    // Idle: nothing changed since the last full Hello, so neither vector goes again.
    hello.n_have = 0;
    hello.n_authority_have = 0;
    out->idle_available = hello_set_digest(&hello, digest);
    if (out->idle_available)
        out->idle_bytes = hello_packed_size(&hello);
done:
    free(names);
    free(entries);
    free(pointers);
}
