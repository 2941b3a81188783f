// The peer transport on real sockets over 127.0.0.1: CURVE links between transports,
// the ZAP allow-list, peer table changes, and the documented error paths. Each test binds
// ports from its own range (TEST_PORT_BASE + 10 * its index) and gives every node its own
// zmq context, as separate processes would have.
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "sm_error.h"
#include "transport.h"

#define TEST_PORT_BASE 27000
#define WAIT_MS 5000   // bound for something that must happen (a link coming up)
#define SILENCE_MS 500 // how long something that must not happen is watched for

typedef struct {
    void *context;
    transport_t *transport;
    char name[CRDT_NAME_MAX + 1];
    char endpoint[TRANSPORT_ENDPOINT_MAX + 1];
    uint8_t public_key[crypto_sign_PUBLICKEYBYTES];
    uint8_t secret_key[crypto_sign_SECRETKEYBYTES];
} node_t;

static uint64_t
now_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;
}

static void
sleep_ms(long ms)
{
    struct timespec pause = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&pause, NULL);
}

static void
endpoint_for(char *endpoint, int test_index, int port_offset)
{
    snprintf(endpoint, TRANSPORT_ENDPOINT_MAX + 1, "tcp://127.0.0.1:%d",
             TEST_PORT_BASE + 10 * test_index + port_offset);
}

// A node with fresh keys, not yet listening.
static void
node_init(node_t *node, const char *name, int test_index, int port_offset)
{
    cr_assert(sodium_init() >= 0);
    memset(node, 0, sizeof *node);
    snprintf(node->name, sizeof node->name, "%s", name);
    endpoint_for(node->endpoint, test_index, port_offset);
    crypto_sign_keypair(node->public_key, node->secret_key);
}

static void
node_start(node_t *node)
{
    char err[512] = "";
    node->context = zmq_ctx_new();
    cr_assert_not_null(node->context);
    node->transport = transport_new(node->context, node->endpoint, node->secret_key,
                                    node->public_key, err, sizeof err);
    cr_assert_not_null(node->transport, "transport_new %s: %s", node->endpoint, err);
}

static void
node_stop(node_t *node)
{
    transport_destroy(&node->transport);
    cr_assert_null(node->transport);
    if (node->context)
        cr_assert_eq(zmq_ctx_term(node->context), 0);
    node->context = NULL;
}

static transport_peer_t
peer_of(const node_t *node)
{
    transport_peer_t peer;
    memset(&peer, 0, sizeof peer);
    snprintf(peer.name, sizeof peer.name, "%s", node->name);
    snprintf(peer.endpoint, sizeof peer.endpoint, "%s", node->endpoint);
    memcpy(peer.public_key, node->public_key, sizeof peer.public_key);
    return peer;
}

static void
list_one(node_t *node, const node_t *other)
{
    transport_peer_t peer = peer_of(other);
    cr_assert_eq(transport_set_peers(node->transport, &peer, 1), 0);
}

// Sends text to peer_name once its link is up; fails the test after WAIT_MS.
static void
send_when_linked(node_t *from, const char *peer_name, const char *text)
{
    uint64_t deadline_ms = now_ms() + WAIT_MS;
    int rc = -SM_EFULL;
    while (rc == -SM_EFULL && now_ms() < deadline_ms) {
        rc = transport_send(from->transport, peer_name, (const uint8_t *)text, strlen(text));
        if (rc == -SM_EFULL) {
            // As the daemon does every 50 ms: libzmq stops redialling a link whose
            // handshake was refused (the peer took its new table a moment later).
            transport_check_links(from->transport, now_ms(), NULL, NULL);
            sleep_ms(10);
        }
    }
    cr_assert_eq(rc, 0, "%s could not send to %s: %s", from->name, peer_name, sm_strerror(rc));
}

// Waits up to timeout_ms for one message; 0 with name and *bytes set, or -SM_ENOTFOUND.
static int
receive_within(node_t *node, int timeout_ms, char *name, uint8_t **bytes, size_t *len)
{
    uint64_t deadline_ms = now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        int rc = transport_receive(node->transport, name, bytes, len);
        if (rc != -SM_ENOTFOUND)
            return rc;
        uint64_t now = now_ms();
        if (now >= deadline_ms)
            return -SM_ENOTFOUND;
        zmq_pollitem_t item = {transport_socket(node->transport), 0, ZMQ_POLLIN, 0};
        zmq_poll(&item, 1, (long)(deadline_ms - now));
    }
}

static void
expect_message(node_t *node, const char *from_name, const char *text)
{
    char name[CRDT_NAME_MAX + 1];
    uint8_t *bytes = NULL;
    size_t len = 0;
    int rc = receive_within(node, WAIT_MS, name, &bytes, &len);
    cr_assert_eq(rc, 0, "%s received nothing: %s", node->name, sm_strerror(rc));
    cr_expect_str_eq(name, from_name);
    cr_expect_eq(len, strlen(text));
    cr_expect_eq(memcmp(bytes, text, len), 0, "got '%.*s'", (int)len, (const char *)bytes);
    free(bytes);
}

static void
expect_silence(node_t *node)
{
    char name[CRDT_NAME_MAX + 1];
    uint8_t *bytes = NULL;
    size_t len = 0;
    int rc = receive_within(node, SILENCE_MS, name, &bytes, &len);
    cr_expect_eq(rc, -SM_ENOTFOUND, "%s received '%.*s' from %s", node->name, (int)len,
                 (const char *)bytes, name);
    if (rc == 0)
        free(bytes);
}

static void
wait_refused_at_least(node_t *node, uint64_t count)
{
    uint64_t deadline_ms = now_ms() + WAIT_MS;
    while (transport_refused_count(node->transport) < count && now_ms() < deadline_ms)
        sleep_ms(10);
    cr_assert_geq(transport_refused_count(node->transport), count);
}

Test(transport, linked_nodes_exchange_messages_both_ways, .timeout = 30.0)
{
    node_t a, b;
    node_init(&a, "branch-a", 0, 0);
    node_init(&b, "branch-b", 0, 1);
    node_start(&a);
    node_start(&b);
    list_one(&a, &b);
    list_one(&b, &a);
    send_when_linked(&a, "branch-b", "first from a");
    cr_assert_eq(transport_send(a.transport, "branch-b", (const uint8_t *)"second from a", 13), 0);
    send_when_linked(&b, "branch-a", "from b");
    expect_message(&b, "branch-a", "first from a");
    expect_message(&b, "branch-a", "second from a"); // in order on one link
    expect_message(&a, "branch-b", "from b");
    cr_expect(transport_can_send(a.transport, "branch-b"));
    // A handshake can be refused only in the moment between the two list_one calls
    // (a dialled b before b listed a; CI hit it once): at most one each. Once both
    // are linked, no more.
    uint64_t refused_a = transport_refused_count(a.transport);
    uint64_t refused_b = transport_refused_count(b.transport);
    cr_expect_leq(refused_a, 1);
    cr_expect_leq(refused_b, 1);
    cr_assert_eq(transport_send(a.transport, "branch-b", (const uint8_t *)"again", 5), 0);
    cr_assert_eq(transport_send(b.transport, "branch-a", (const uint8_t *)"again", 5), 0);
    expect_message(&b, "branch-a", "again");
    expect_message(&a, "branch-b", "again");
    cr_expect_eq(transport_refused_count(a.transport), refused_a);
    cr_expect_eq(transport_refused_count(b.transport), refused_b);
    node_stop(&a);
    node_stop(&b);
}

// A raw CURVE DEALER with the given key pair that knows server's public key; it queues
// one message, "let me in", before the handshake.
static void *
raw_client_connect(void *context, const node_t *server, const uint8_t curve_public_key[32],
                   const uint8_t curve_secret_key[32])
{
    uint8_t server_curve_key[crypto_box_PUBLICKEYBYTES];
    cr_assert_eq(crypto_sign_ed25519_pk_to_curve25519(server_curve_key, server->public_key), 0);
    void *dealer = zmq_socket(context, ZMQ_DEALER);
    cr_assert_not_null(dealer);
    int linger_ms = 0;
    zmq_setsockopt(dealer, ZMQ_LINGER, &linger_ms, sizeof linger_ms);
    cr_assert_eq(zmq_setsockopt(dealer, ZMQ_CURVE_SERVERKEY, server_curve_key, 32), 0);
    cr_assert_eq(zmq_setsockopt(dealer, ZMQ_CURVE_PUBLICKEY, curve_public_key, 32), 0);
    cr_assert_eq(zmq_setsockopt(dealer, ZMQ_CURVE_SECRETKEY, curve_secret_key, 32), 0);
    cr_assert_eq(zmq_connect(dealer, server->endpoint), 0);
    // Queued before the handshake (ZMQ_IMMEDIATE is off here): sent if it were let in.
    cr_assert_eq(zmq_send(dealer, "let me in", 9, ZMQ_DONTWAIT), 9);
    return dealer;
}

// Reads stderr (redirected) up to the line "end"; counts lines that contain needle.
static int
stderr_lines_containing(const char *needle)
{
    fprintf(stderr, "end\n");
    fflush(stderr);
    FILE *captured = cr_get_redirected_stderr();
    char line[1024];
    int count = 0;
    while (fgets(line, sizeof line, captured) && strcmp(line, "end\n") != 0)
        count += strstr(line, needle) != NULL;
    return count;
}

Test(transport, refuses_and_logs_a_client_key_not_on_the_allow_list, .timeout = 30.0,
     .init = cr_redirect_stderr)
{
    node_t server, listed;
    node_init(&server, "cloud", 1, 0);
    node_init(&listed, "branch-a", 1, 1);
    node_start(&server);
    list_one(&server, &listed);
    void *context = zmq_ctx_new();
    uint8_t intruder_key[crypto_box_PUBLICKEYBYTES];
    uint8_t intruder_secret_key[crypto_box_SECRETKEYBYTES];
    crypto_box_keypair(intruder_key, intruder_secret_key);
    void *first = raw_client_connect(context, &server, intruder_key, intruder_secret_key);
    wait_refused_at_least(&server, 1);
    // The same key again, at once: refused and counted, but not logged a second time.
    void *second = raw_client_connect(context, &server, intruder_key, intruder_secret_key);
    wait_refused_at_least(&server, 2);
    expect_silence(&server);
    cr_expect_eq(transport_dropped_count(server.transport), 0, "nothing got as far as a read");
    zmq_close(first);
    zmq_close(second);
    cr_assert_eq(zmq_ctx_term(context), 0);
    uint64_t refused = transport_refused_count(server.transport);
    node_stop(&server);
    char hex[crypto_box_PUBLICKEYBYTES * 2 + 1];
    sodium_bin2hex(hex, sizeof hex, intruder_key, sizeof intruder_key);
    char expected[256];
    snprintf(expected, sizeof expected, "refused a link from unknown key %s (its CURVE form", hex);
    cr_expect_eq(stderr_lines_containing(expected), 1,
                 "one line per key per minute (%llu refusals)", (unsigned long long)refused);
}

Test(transport, a_removed_peer_is_no_longer_heard_and_is_refused, .timeout = 30.0)
{
    node_t a, b;
    node_init(&a, "branch-a", 2, 0);
    node_init(&b, "branch-b", 2, 1);
    node_start(&a);
    node_start(&b);
    list_one(&a, &b);
    list_one(&b, &a);
    send_when_linked(&b, "branch-a", "before");
    expect_message(&a, "branch-b", "before");
    cr_assert_eq(transport_set_peers(a.transport, NULL, 0), 0); // a removes b
    cr_expect_eq(transport_send(a.transport, "branch-b", (const uint8_t *)"x", 1), -SM_ENOTFOUND);
    // b's link into a was opened before the removal; what it carries is dropped now.
    cr_assert_eq(transport_send(b.transport, "branch-a", (const uint8_t *)"after", 5), 0);
    expect_silence(&a);
    cr_expect_geq(transport_dropped_count(a.transport), 1);
    // b dials anew: the handshake itself is refused.
    uint64_t refused = transport_refused_count(a.transport);
    cr_assert_eq(transport_set_peers(b.transport, NULL, 0), 0);
    list_one(&b, &a);
    wait_refused_at_least(&a, refused + 1);
    cr_expect(!transport_can_send(b.transport, "branch-a"));
    node_stop(&a);
    node_stop(&b);
}

Test(transport, a_changed_endpoint_is_dialled_anew, .timeout = 30.0)
{
    node_t a, b;
    node_init(&a, "branch-a", 3, 0);
    node_init(&b, "branch-b", 3, 1);
    node_start(&a);
    node_start(&b);
    list_one(&a, &b);
    list_one(&b, &a);
    send_when_linked(&a, "branch-b", "at the old address");
    expect_message(&b, "branch-a", "at the old address");
    // b moves: same key, new port. a still dials the old one until its table changes.
    node_stop(&b);
    endpoint_for(b.endpoint, 3, 2);
    node_start(&b);
    list_one(&b, &a);
    sleep_ms(SILENCE_MS);
    cr_expect(!transport_can_send(a.transport, "branch-b"), "nothing listens at the old port");
    cr_expect_eq(transport_send(a.transport, "branch-b", (const uint8_t *)"lost", 4), -SM_EFULL);
    list_one(&a, &b);
    send_when_linked(&a, "branch-b", "at the new address");
    expect_message(&b, "branch-a", "at the new address");
    node_stop(&a);
    node_stop(&b);
}

Test(transport, a_changed_key_is_dialled_anew, .timeout = 30.0)
{
    node_t a, b;
    node_init(&a, "branch-a", 4, 0);
    node_init(&b, "branch-b", 4, 1);
    node_start(&a);
    node_start(&b);
    list_one(&a, &b);
    list_one(&b, &a);
    send_when_linked(&a, "branch-b", "old key");
    expect_message(&b, "branch-a", "old key");
    // b is re-initialised at the same address with a new key pair.
    node_stop(&b);
    crypto_sign_keypair(b.public_key, b.secret_key);
    node_start(&b);
    list_one(&b, &a);
    sleep_ms(SILENCE_MS);
    cr_expect(!transport_can_send(a.transport, "branch-b"), "the old server key fails CURVE");
    list_one(&a, &b);
    send_when_linked(&a, "branch-b", "new key");
    expect_message(&b, "branch-a", "new key");
    node_stop(&a);
    node_stop(&b);
}

Test(transport, a_frame_at_the_size_limit_arrives_and_a_bigger_one_is_refused, .timeout = 30.0)
{
    node_t a, b;
    node_init(&a, "branch-a", 5, 0);
    node_init(&b, "branch-b", 5, 1);
    node_start(&a);
    node_start(&b);
    list_one(&a, &b);
    list_one(&b, &a);
    send_when_linked(&a, "branch-b", "hello");
    expect_message(&b, "branch-a", "hello");
    uint8_t *big = malloc(TRANSPORT_FRAME_BYTES_MAX + 1);
    cr_assert_not_null(big);
    for (size_t i = 0; i <= TRANSPORT_FRAME_BYTES_MAX; i++)
        big[i] = (uint8_t)(i * 31u);
    cr_expect_eq(transport_send(a.transport, "branch-b", big, TRANSPORT_FRAME_BYTES_MAX + 1),
                 -SM_EINVAL);
    cr_assert_eq(transport_send(a.transport, "branch-b", big, TRANSPORT_FRAME_BYTES_MAX), 0);
    char name[CRDT_NAME_MAX + 1];
    uint8_t *bytes = NULL;
    size_t len = 0;
    cr_assert_eq(receive_within(&b, WAIT_MS, name, &bytes, &len), 0);
    cr_expect_str_eq(name, "branch-a");
    cr_assert_eq(len, TRANSPORT_FRAME_BYTES_MAX);
    cr_expect_eq(memcmp(bytes, big, len), 0);
    free(bytes);
    free(big);
    node_stop(&a);
    node_stop(&b);
}

Test(transport, send_to_a_name_not_in_the_table_is_enotfound, .timeout = 30.0)
{
    node_t a, b;
    node_init(&a, "branch-a", 6, 0);
    node_init(&b, "branch-b", 6, 1); // listed, never started
    node_start(&a);
    cr_expect_eq(transport_send(a.transport, "branch-b", (const uint8_t *)"x", 1), -SM_ENOTFOUND);
    list_one(&a, &b);
    cr_expect_eq(transport_send(a.transport, "nobody", (const uint8_t *)"x", 1), -SM_ENOTFOUND);
    cr_expect(!transport_can_send(a.transport, "nobody"));
    // Listed but unreachable: not queued, so nothing stale waits for its return.
    cr_expect_eq(transport_send(a.transport, "branch-b", (const uint8_t *)"x", 1), -SM_EFULL);
    char name[CRDT_NAME_MAX + 1];
    uint8_t *bytes = NULL;
    size_t len = 0;
    cr_expect_eq(transport_receive(a.transport, name, &bytes, &len), -SM_ENOTFOUND);
    node_stop(&a);
}

Test(transport, a_bad_peer_table_is_refused_and_the_old_one_stays, .timeout = 30.0)
{
    node_t a, b;
    node_init(&a, "branch-a", 7, 0);
    node_init(&b, "branch-b", 7, 1);
    node_start(&a);
    node_start(&b);
    list_one(&a, &b);
    list_one(&b, &a);
    transport_peer_t good = peer_of(&b);
    transport_peer_t twice[2] = {good, good};
    cr_expect_eq(transport_set_peers(a.transport, twice, 2), -SM_EINVAL);
    transport_peer_t same_key[2] = {good, good};
    snprintf(same_key[1].name, sizeof same_key[1].name, "branch-c");
    cr_expect_eq(transport_set_peers(a.transport, same_key, 2), -SM_EINVAL);
    transport_peer_t bad_key = good;
    memset(bad_key.public_key, 0, sizeof bad_key.public_key); // a small-order point
    cr_expect_eq(transport_set_peers(a.transport, &bad_key, 1), -SM_EINVAL);
    transport_peer_t bad_endpoint = good;
    snprintf(bad_endpoint.endpoint, sizeof bad_endpoint.endpoint, "udp://127.0.0.1:1");
    cr_expect_eq(transport_set_peers(a.transport, &bad_endpoint, 1), -SM_EINVAL);
    transport_peer_t no_port = good;
    snprintf(no_port.endpoint, sizeof no_port.endpoint, "tcp://127.0.0.1");
    cr_expect_eq(transport_set_peers(a.transport, &no_port, 1), -SM_EINVAL);
    transport_peer_t bad_name = good;
    snprintf(bad_name.name, sizeof bad_name.name, "has space");
    cr_expect_eq(transport_set_peers(a.transport, &bad_name, 1), -SM_EINVAL);
    // The table from before is still in force, link included.
    send_when_linked(&a, "branch-b", "still linked");
    expect_message(&b, "branch-a", "still linked");
    node_stop(&a);
    node_stop(&b);
}

Test(transport, listening_on_a_port_in_use_names_the_endpoint, .timeout = 30.0)
{
    node_t a, b;
    node_init(&a, "branch-a", 8, 0);
    node_init(&b, "branch-b", 8, 0); // same port
    node_start(&a);
    char err[512] = "";
    b.context = zmq_ctx_new();
    b.transport = transport_new(b.context, b.endpoint, b.secret_key, b.public_key, err, sizeof err);
    cr_expect_null(b.transport);
    cr_expect(strstr(err, a.endpoint) != NULL, "err: %s", err);
    cr_expect(strstr(err, "in use") != NULL, "err: %s", err);
    node_stop(&b);
    node_stop(&a);
}

Test(transport, a_second_transport_in_one_context_is_refused, .timeout = 30.0)
{
    node_t a, b;
    node_init(&a, "branch-a", 9, 0);
    node_init(&b, "branch-b", 9, 1);
    node_start(&a);
    char err[512] = "";
    transport_t *second =
        transport_new(a.context, b.endpoint, b.secret_key, b.public_key, err, sizeof err);
    cr_expect_null(second);
    cr_expect(strstr(err, "own zmq context") != NULL, "err: %s", err);
    transport_destroy(&second);
    node_stop(&a);
}

Test(transport, a_secret_key_that_does_not_match_the_public_key_is_refused, .timeout = 30.0)
{
    node_t a, b;
    node_init(&a, "branch-a", 10, 0);
    node_init(&b, "branch-b", 10, 1);
    char err[512] = "";
    a.context = zmq_ctx_new();
    a.transport = transport_new(a.context, a.endpoint, a.secret_key, b.public_key, err, sizeof err);
    cr_expect_null(a.transport);
    cr_expect(strstr(err, "node.key") != NULL, "err: %s", err);
    node_stop(&a);
}

Test(transport, a_renamed_peer_is_heard_under_its_new_name, .timeout = 30.0)
{
    node_t a, b;
    node_init(&a, "branch-a", 11, 0);
    node_init(&b, "branch-b", 11, 1);
    node_start(&a);
    node_start(&b);
    list_one(&a, &b);
    list_one(&b, &a);
    send_when_linked(&b, "branch-a", "as b");
    expect_message(&a, "branch-b", "as b");
    // Same key, new name in a's table: b's link into a, authenticated under the old name,
    // carries on and is attributed to the entry that holds the key now.
    snprintf(b.name, sizeof b.name, "branch-b2");
    list_one(&a, &b);
    cr_assert_eq(transport_send(b.transport, "branch-a", (const uint8_t *)"as b2", 5), 0);
    expect_message(&a, "branch-b2", "as b2");
    cr_expect_eq(transport_dropped_count(a.transport), 0);
    node_stop(&a);
    node_stop(&b);
}

Test(transport, a_multi_frame_message_from_a_listed_peer_is_dropped, .timeout = 30.0)
{
    node_t a, b;
    node_init(&a, "branch-a", 12, 0);
    node_init(&b, "branch-b", 12, 1); // never started: a raw client holds its keys
    node_start(&a);
    list_one(&a, &b);
    uint8_t curve_public_key[crypto_box_PUBLICKEYBYTES];
    uint8_t curve_secret_key[crypto_box_SECRETKEYBYTES];
    cr_assert_eq(crypto_sign_ed25519_pk_to_curve25519(curve_public_key, b.public_key), 0);
    cr_assert_eq(crypto_sign_ed25519_sk_to_curve25519(curve_secret_key, b.secret_key), 0);
    void *context = zmq_ctx_new();
    void *client = raw_client_connect(context, &a, curve_public_key, curve_secret_key);
    cr_assert_eq(zmq_send(client, "part 1", 6, ZMQ_SNDMORE), 6);
    cr_assert_eq(zmq_send(client, "part 2", 6, 0), 6);
    cr_assert_eq(zmq_send(client, "single", 6, 0), 6);
    expect_message(&a, "branch-b", "let me in");
    expect_message(&a, "branch-b", "single");
    cr_expect_eq(transport_dropped_count(a.transport), 1);
    zmq_close(client);
    cr_assert_eq(zmq_ctx_term(context), 0);
    node_stop(&a);
}

typedef struct {
    int count;
    char name[CRDT_NAME_MAX + 1];
} ups_t;

static void
count_up(void *arg, const char *peer_name)
{
    ups_t *ups = arg;
    ups->count++;
    snprintf(ups->name, sizeof ups->name, "%s", peer_name);
}

// The daemon's "on connect": a link to a peer that was down is reported once when its
// handshake completes (after a message from the peer, which also redials a link still
// waiting out libzmq's backoff), and not again while it stays up.
Test(transport, a_link_that_connects_is_reported_once, .timeout = 30.0)
{
    node_t a, b;
    node_init(&a, "branch-a", 13, 0);
    node_init(&b, "branch-b", 13, 1);
    node_start(&a);
    list_one(&a, &b);
    ups_t ups = {0};
    for (int i = 0; i < 60; i++) { // b is down: a's dial fails and backs off
        transport_check_links(a.transport, now_ms(), count_up, &ups);
        sleep_ms(20);
    }
    cr_assert_eq(ups.count, 0, "a link to a node that is down was reported up");
    node_start(&b);
    list_one(&b, &a);
    send_when_linked(&b, "branch-a", "hello from b");
    expect_message(&a, "branch-b", "hello from b");
    uint64_t deadline_ms = now_ms() + WAIT_MS;
    while (ups.count == 0 && now_ms() < deadline_ms) {
        transport_check_links(a.transport, now_ms(), count_up, &ups);
        sleep_ms(10);
    }
    cr_assert_eq(ups.count, 1, "a's link to b was not reported up");
    cr_expect_str_eq(ups.name, "branch-b");
    cr_assert_eq(transport_send(a.transport, "branch-b", (const uint8_t *)"back", 4), 0);
    expect_message(&b, "branch-a", "back");
    for (int i = 0; i < 20; i++) {
        transport_check_links(a.transport, now_ms(), count_up, &ups);
        sleep_ms(10);
    }
    cr_expect_eq(ups.count, 1, "a link that stays up is reported once");
    node_stop(&a);
    node_stop(&b);
}
