#include "transport.h"

#include <assert.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "identity.h"
#include "transport_zap.h"

// Draft in libzmq 4.3's header but built into Debian's library; transport_new fails if
// the library refuses it, because without it a ROUTER whose ZAP handler is gone would
// accept anyone who knows its public key.
#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93
#endif

// ZMQ_MAXMSGSIZE limits the frame on the wire, which under CURVE is the encrypted
// MESSAGE command: the payload plus 33 bytes (command name, nonce, MAC, flags).
#define TRANSPORT_WIRE_OVERHEAD_BYTES 64
#define TRANSPORT_RECONNECT_MS 500           // first redial after a failed or lost link
#define TRANSPORT_RECONNECT_MS_MAX 5000      // redial backoff doubles up to this: a healed
                                             // link is back within seconds
#define TRANSPORT_HEARTBEAT_MS 5000          // ZMTP PING on a quiet link
#define TRANSPORT_HEARTBEAT_TIMEOUT_MS 15000 // a link silent this long is dropped (3 pings)
#define TRANSPORT_HANDSHAKE_MS 10000         // CURVE + ZAP must finish within this

_Static_assert(TRANSPORT_ENDPOINT_MAX == IDENTITY_ENDPOINT_MAX, "endpoints come from node.yaml");
_Static_assert(sizeof(((transport_peer_t *)0)->public_key) == crypto_sign_PUBLICKEYBYTES,
               "peers carry Ed25519 public keys");

typedef struct {
    transport_peer_t peer;
    uint8_t curve_public_key[crypto_box_PUBLICKEYBYTES]; // the peer's key as a CURVE server
    char curve_key_hex[TRANSPORT_ZAP_KEY_HEX_SIZE];      // the same, as the ZAP handler tags it
    void *dealer;  // CURVE client dialling peer.endpoint; owned
    void *monitor; // PAIR receiving the dealer's connect events; owned with it
    uint64_t down_since_ms; // when the link was first seen down; 0 while up
    uint64_t dialled_ms;    // when the dealer was last opened anew by transport_check_links
    bool up;                // the dealer's state at the last transport_check_links
    bool backing_off;       // the dealer waits out a redial interval: no handshake under way
    bool heard;             // a message came in from this peer since then
} transport_link_t;

struct transport {
    void *zmq_context; // borrowed
    void *router;      // CURVE server on the listen endpoint; receives only
    transport_zap_t *zap;
    transport_link_t *links; // the peer table, sorted by name (names are unique)
    size_t link_count;       // entries in links
    uint8_t curve_public_key[crypto_box_PUBLICKEYBYTES];
    uint8_t curve_secret_key[crypto_box_SECRETKEYBYTES]; // wiped on destroy
    uint64_t dropped_count;                              // messages dropped on receipt
    uint64_t monitor_serial; // names each dealer's monitor endpoint
};

static void close_dealer(void *dealer, void *monitor);

static int
compare_link_names(const void *a, const void *b)
{
    return strcmp(((const transport_link_t *)a)->peer.name,
                  ((const transport_link_t *)b)->peer.name);
}

static transport_link_t *
find_link(transport_link_t *links, size_t count, const char *name)
{
    transport_link_t key;
    if (count == 0 || strlen(name) > CRDT_NAME_MAX)
        return NULL;
    memcpy(key.peer.name, name, strlen(name) + 1);
    return bsearch(&key, links, count, sizeof *links, compare_link_names);
}

// Options every socket of the transport sets; the header and the defines above say why.
static int
set_common_options(void *socket)
{
    const int options[][2] = {
        {ZMQ_SNDHWM, TRANSPORT_QUEUE_FRAMES_MAX},
        {ZMQ_RCVHWM, TRANSPORT_QUEUE_FRAMES_MAX},
        {ZMQ_LINGER, 0},
        {ZMQ_RECONNECT_IVL, TRANSPORT_RECONNECT_MS},
        {ZMQ_RECONNECT_IVL_MAX, TRANSPORT_RECONNECT_MS_MAX},
        {ZMQ_HEARTBEAT_IVL, TRANSPORT_HEARTBEAT_MS},
        {ZMQ_HEARTBEAT_TIMEOUT, TRANSPORT_HEARTBEAT_TIMEOUT_MS},
        {ZMQ_HEARTBEAT_TTL, TRANSPORT_HEARTBEAT_TIMEOUT_MS},
        {ZMQ_HANDSHAKE_IVL, TRANSPORT_HANDSHAKE_MS},
    };
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++)
        if (zmq_setsockopt(socket, options[i][0], &options[i][1], sizeof options[i][1]) != 0)
            return -1;
    const int64_t wire_bytes_max = TRANSPORT_FRAME_BYTES_MAX + TRANSPORT_WIRE_OVERHEAD_BYTES;
    return zmq_setsockopt(socket, ZMQ_MAXMSGSIZE, &wire_bytes_max, sizeof wire_bytes_max);
}

static int
set_server_options(transport_t *self)
{
    const int on = 1;
    void *router = self->router;
    if (set_common_options(router) != 0 ||
        zmq_setsockopt(router, ZMQ_CURVE_SERVER, &on, sizeof on) != 0 ||
        zmq_setsockopt(router, ZMQ_CURVE_SECRETKEY, self->curve_secret_key,
                       sizeof self->curve_secret_key) != 0 ||
        zmq_setsockopt(router, ZMQ_ZAP_DOMAIN, TRANSPORT_ZAP_DOMAIN,
                       strlen(TRANSPORT_ZAP_DOMAIN)) != 0)
        return -1;
    return zmq_setsockopt(router, ZMQ_ZAP_ENFORCE_DOMAIN, &on, sizeof on);
}

static int
derive_curve_keys(transport_t *self, const uint8_t *ed25519_secret_key,
                  const uint8_t *ed25519_public_key, char *err, size_t err_size)
{
    uint8_t derived_public_key[crypto_box_PUBLICKEYBYTES];
    int rc = crypto_sign_ed25519_pk_to_curve25519(self->curve_public_key, ed25519_public_key);
    if (rc == 0)
        rc = crypto_sign_ed25519_sk_to_curve25519(self->curve_secret_key, ed25519_secret_key);
    if (rc == 0)
        rc = crypto_scalarmult_base(derived_public_key, self->curve_secret_key);
    if (rc != 0 || memcmp(derived_public_key, self->curve_public_key, sizeof derived_public_key)) {
        snprintf(err, err_size,
                 "the node's public key is not a valid Ed25519 key or does not match node.key; "
                 "restore node.yaml and node.key from the same `storemesh init`");
        return -SM_EINVAL;
    }
    return 0;
}

static int
bind_router(transport_t *self, const char *listen_endpoint, char *err, size_t err_size)
{
    self->router = zmq_socket(self->zmq_context, ZMQ_ROUTER);
    if (!self->router || set_server_options(self) != 0) {
        snprintf(err, err_size,
                 "cannot listen on '%.256s': %s; this libzmq lacks CURVE or "
                 "ZMQ_ZAP_ENFORCE_DOMAIN, or the context is out of sockets",
                 listen_endpoint, zmq_strerror(zmq_errno()));
        return -SM_EIO;
    }
    if (zmq_bind(self->router, listen_endpoint) != 0) {
        int code = zmq_errno();
        snprintf(err, err_size, "cannot listen on '%.256s': %s; %s", listen_endpoint,
                 zmq_strerror(code),
                 code == EADDRINUSE ? "another process holds that port: stop it or change "
                                      "`listen` in node.yaml"
                                    : "check `listen` in node.yaml (tcp://host:port, a local "
                                      "address)");
        return code == EADDRINUSE ? -SM_EBUSY : -SM_EINVAL;
    }
    return 0;
}

transport_t *
transport_new(void *zmq_context, const char *listen_endpoint, const uint8_t ed25519_secret_key[64],
              const uint8_t ed25519_public_key[32], char *err, size_t err_size)
{
    assert(zmq_context != NULL);
    assert(listen_endpoint != NULL);
    assert(ed25519_secret_key != NULL);
    assert(ed25519_public_key != NULL);
    if (sodium_init() < 0) {
        snprintf(err, err_size, "cannot initialise libsodium");
        return NULL;
    }
    transport_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, err_size, "cannot listen on '%.256s': out of memory", listen_endpoint);
        return NULL;
    }
    self->zmq_context = zmq_context;
    if (derive_curve_keys(self, ed25519_secret_key, ed25519_public_key, err, err_size) != 0)
        goto fail_free;
    // The handler must answer before the first client can reach the ROUTER: a CURVE
    // server with no ZAP handler would accept any client that knows its public key.
    self->zap = transport_zap_start(zmq_context, err, err_size);
    if (!self->zap)
        goto fail_free;
    if (bind_router(self, listen_endpoint, err, err_size) != 0)
        goto fail_close_router;
    return self;
fail_close_router:
    if (self->router)
        zmq_close(self->router);
    transport_zap_stop(&self->zap);
fail_free:
    sodium_memzero(self->curve_secret_key, sizeof self->curve_secret_key);
    free(self);
    return NULL;
}

void
transport_destroy(transport_t **self_p)
{
    assert(self_p != NULL);
    transport_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->link_count; i++)
        close_dealer(self->links[i].dealer, self->links[i].monitor);
    free(self->links);
    zmq_close(self->router);
    transport_zap_stop(&self->zap);
    sodium_memzero(self->curve_secret_key, sizeof self->curve_secret_key);
    free(self);
    *self_p = NULL;
}

void *
transport_socket(transport_t *self)
{
    assert(self != NULL);
    return self->router;
}

uint64_t
transport_refused_count(const transport_t *self)
{
    assert(self != NULL);
    return transport_zap_refused_count(self->zap);
}

uint64_t
transport_dropped_count(const transport_t *self)
{
    assert(self != NULL);
    return self->dropped_count;
}

// Checks one table entry and fills link from it (no dealer yet); logs what is wrong.
static int
link_from_peer(const transport_peer_t *peer, transport_link_t *link)
{
    if (!memchr(peer->name, '\0', sizeof peer->name) || !identity_name_is_valid(peer->name)) {
        fprintf(stderr,
                "storemesh: peer name '%.*s' is not 1..%d characters of "
                "[A-Za-z0-9_.-]; fix it in peers.yaml\n",
                CRDT_NAME_MAX, peer->name, CRDT_NAME_MAX);
        return -SM_EINVAL;
    }
    if (!memchr(peer->endpoint, '\0', sizeof peer->endpoint) ||
        strncmp(peer->endpoint, "tcp://", 6) != 0) {
        fprintf(stderr,
                "storemesh: peer '%s' has endpoint '%.*s', not tcp://host:port; "
                "fix it with `storemesh peer add`\n",
                peer->name, TRANSPORT_ENDPOINT_MAX, peer->endpoint);
        return -SM_EINVAL;
    }
    *link = (transport_link_t){.peer = *peer};
    if (crypto_sign_ed25519_pk_to_curve25519(link->curve_public_key, peer->public_key) != 0) {
        fprintf(stderr,
                "storemesh: peer '%s' has a public key that is not a valid Ed25519 "
                "key; copy it again from `storemesh id` on that node\n",
                peer->name);
        return -SM_EINVAL;
    }
    sodium_bin2hex(link->curve_key_hex, sizeof link->curve_key_hex, link->curve_public_key,
                   sizeof link->curve_public_key);
    return 0;
}

// Two entries may not share a name (links are tagged by name) or a CURVE key (the ZAP
// handler could not tell them apart). links is sorted by name; count <= TRANSPORT_PEERS_MAX
// keeps the quadratic key check small.
static int
check_unique(const transport_link_t *links, size_t count)
{
    for (size_t i = 1; i < count; i++) {
        if (strcmp(links[i - 1].peer.name, links[i].peer.name) == 0) {
            fprintf(stderr, "storemesh: peer '%s' is listed twice; remove one entry\n",
                    links[i].peer.name);
            return -SM_EINVAL;
        }
    }
    for (size_t i = 0; i < count; i++) {
        for (size_t j = i + 1; j < count; j++) {
            if (memcmp(links[i].curve_public_key, links[j].curve_public_key,
                       sizeof links[i].curve_public_key) == 0) {
                fprintf(stderr,
                        "storemesh: peers '%s' and '%s' have the same key; remove the wrong "
                        "entry\n",
                        links[i].peer.name, links[j].peer.name);
                return -SM_EINVAL;
            }
        }
    }
    return 0;
}

// A checked copy of peers, sorted by name, with no dealers; *links_out is malloc'd.
static int
links_from_peers(const transport_peer_t *peers, size_t count, transport_link_t **links_out)
{
    if (count > TRANSPORT_PEERS_MAX) {
        fprintf(stderr, "storemesh: %zu peers is more than the %d a node links to; remove some\n",
                count, TRANSPORT_PEERS_MAX);
        return -SM_EINVAL;
    }
    transport_link_t *links = calloc(count ? count : 1, sizeof *links);
    if (!links)
        return -SM_ENOMEM;
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++)
        rc = link_from_peer(&peers[i], &links[i]);
    if (rc == 0) {
        qsort(links, count, sizeof *links, compare_link_names); // unique names: no ties
        rc = check_unique(links, count);
    }
    if (rc != 0) {
        free(links);
        return rc;
    }
    *links_out = links;
    return 0;
}

static transport_zap_entry_t *
allowed_from_links(const transport_link_t *links, size_t count)
{
    transport_zap_entry_t *allowed = calloc(count ? count : 1, sizeof *allowed);
    for (size_t i = 0; allowed && i < count; i++) {
        memcpy(allowed[i].name, links[i].peer.name, sizeof allowed[i].name);
        memcpy(allowed[i].curve_public_key, links[i].curve_public_key,
               sizeof allowed[i].curve_public_key);
    }
    return allowed;
}

static void
close_dealer(void *dealer, void *monitor)
{
    if (monitor) {
        zmq_socket_monitor(dealer, NULL, 0);
        zmq_close(monitor);
    }
    zmq_close(dealer); // linger 0: what it queued is dropped
}

// A PAIR that receives the dealer's connect events, connected before the dealer dials
// so none is missed; NULL when the context refuses (the link works without it, only
// the redial on hearing from the peer waits for the stale timer).
static void *
open_monitor(transport_t *self, void *dealer)
{
    char address[96];
    snprintf(address, sizeof address, "inproc://storemesh-link-%p-%llu", (void *)self,
             (unsigned long long)++self->monitor_serial);
    if (zmq_socket_monitor(dealer, address,
                           ZMQ_EVENT_CONNECT_RETRIED | ZMQ_EVENT_CONNECT_DELAYED |
                               ZMQ_EVENT_CONNECTED) != 0)
        return NULL;
    void *monitor = zmq_socket(self->zmq_context, ZMQ_PAIR);
    if (monitor && zmq_connect(monitor, address) == 0)
        return monitor;
    if (monitor)
        zmq_close(monitor);
    zmq_socket_monitor(dealer, NULL, 0);
    return NULL;
}

static int
open_dealer(transport_t *self, transport_link_t *link)
{
    void *dealer = zmq_socket(self->zmq_context, ZMQ_DEALER);
    if (!dealer) {
        fprintf(stderr,
                "storemesh: cannot open a link to peer '%s': %s; raise the zmq "
                "context's ZMQ_MAX_SOCKETS or the open-file limit\n",
                link->peer.name, zmq_strerror(zmq_errno()));
        return -SM_ENOMEM;
    }
    const int immediate = 1; // queue only on a link that is up; see transport_send
    void *monitor = NULL;
    bool ok = set_common_options(dealer) == 0 &&
              zmq_setsockopt(dealer, ZMQ_IMMEDIATE, &immediate, sizeof immediate) == 0 &&
              zmq_setsockopt(dealer, ZMQ_CURVE_SERVERKEY, link->curve_public_key,
                             sizeof link->curve_public_key) == 0 &&
              zmq_setsockopt(dealer, ZMQ_CURVE_PUBLICKEY, self->curve_public_key,
                             sizeof self->curve_public_key) == 0 &&
              zmq_setsockopt(dealer, ZMQ_CURVE_SECRETKEY, self->curve_secret_key,
                             sizeof self->curve_secret_key) == 0 &&
              ((monitor = open_monitor(self, dealer)), true) &&
              zmq_connect(dealer, link->peer.endpoint) == 0;
    if (!ok) {
        fprintf(stderr,
                "storemesh: cannot dial peer '%s' at '%s': %s; fix its endpoint with "
                "`storemesh peer add`\n",
                link->peer.name, link->peer.endpoint, zmq_strerror(zmq_errno()));
        close_dealer(dealer, monitor);
        return -SM_EINVAL;
    }
    link->dealer = dealer;
    link->monitor = monitor;
    link->backing_off = false;
    link->up = false;
    return 0;
}

// The link in force for the same peer at the same endpoint with the same key, if any.
static transport_link_t *
unchanged_link(transport_t *self, const transport_link_t *link)
{
    transport_link_t *old = find_link(self->links, self->link_count, link->peer.name);
    if (!old || strcmp(old->peer.endpoint, link->peer.endpoint) != 0 ||
        memcmp(old->peer.public_key, link->peer.public_key, sizeof old->peer.public_key) != 0)
        return NULL;
    return old;
}

// Gives each new link a dealer: the one in force when the peer is unchanged, else a new
// one. On failure closes the new ones only; the table in force is untouched.
static int
links_dial(transport_t *self, transport_link_t *links, size_t count)
{
    int rc = 0;
    size_t dialled = 0;
    for (; dialled < count && rc == 0; dialled++) {
        transport_link_t *old = unchanged_link(self, &links[dialled]);
        if (old) {
            links[dialled].dealer = old->dealer;
            links[dialled].monitor = old->monitor;
            links[dialled].down_since_ms = old->down_since_ms;
            links[dialled].dialled_ms = old->dialled_ms;
            links[dialled].up = old->up;
            links[dialled].backing_off = old->backing_off;
        } else
            rc = open_dealer(self, &links[dialled]);
    }
    for (size_t i = 0; rc != 0 && i < dialled; i++)
        if (links[i].dealer && !unchanged_link(self, &links[i]))
            close_dealer(links[i].dealer, links[i].monitor);
    return rc;
}

// Makes links the table in force, closing the dealers of removed or changed peers.
static void
links_commit(transport_t *self, transport_link_t *links, size_t count)
{
    for (size_t i = 0; i < self->link_count; i++) {
        transport_link_t *old = &self->links[i];
        transport_link_t *kept = find_link(links, count, old->peer.name);
        if (!kept || kept->dealer != old->dealer)
            close_dealer(old->dealer, old->monitor);
    }
    free(self->links);
    self->links = links;
    self->link_count = count;
}

int
transport_set_peers(transport_t *self, const transport_peer_t *peers, size_t count)
{
    assert(self != NULL);
    assert(peers != NULL || count == 0);
    transport_link_t *links = NULL;
    int rc = links_from_peers(peers, count, &links);
    if (rc != 0)
        return rc;
    transport_zap_entry_t *allowed = allowed_from_links(links, count);
    if (!allowed) {
        rc = -SM_ENOMEM;
        goto fail_free_links;
    }
    rc = links_dial(self, links, count);
    if (rc != 0)
        goto fail_free_allowed;
    // Nothing can fail from here: the allow-list and the dial list change together.
    transport_zap_replace(self->zap, &allowed, count);
    links_commit(self, links, count);
    return 0;
fail_free_allowed:
    free(allowed);
fail_free_links:
    free(links);
    return rc;
}

int
transport_send(transport_t *self, const char *peer_name, const uint8_t *bytes, size_t len)
{
    assert(self != NULL);
    assert(peer_name != NULL);
    assert(bytes != NULL || len == 0);
    transport_link_t *link = find_link(self->links, self->link_count, peer_name);
    if (!link)
        return -SM_ENOTFOUND;
    if (len > TRANSPORT_FRAME_BYTES_MAX)
        return -SM_EINVAL;
    if (zmq_send(link->dealer, len ? bytes : (const uint8_t *)"", len, ZMQ_DONTWAIT) >= 0)
        return 0;
    return zmq_errno() == EAGAIN ? -SM_EFULL : -SM_EIO;
}

// libzmq stops redialling a CURVE client whose handshake a ZAP handler refused (the
// peer had not yet added us: the usual case while a cut heals, when each side's
// table changes a second apart). A link down for this long is dialled anew.
#define TRANSPORT_REDIAL_STALE_MS 3000
// A peer we hear from is up, so a dealer waiting out libzmq's redial backoff (up to
// TRANSPORT_RECONNECT_MS_MAX) towards it is dialled anew at once: only while it waits,
// never during a handshake, and not twice within this long.
#define TRANSPORT_REDIAL_HEARD_MS 100
#define TRANSPORT_MONITOR_EVENTS_MAX 64 // monitor events taken per link per check

static bool
dealer_up(void *dealer)
{
    int events = 0;
    size_t events_size = sizeof events;
    return zmq_getsockopt(dealer, ZMQ_EVENTS, &events, &events_size) == 0 &&
           (events & ZMQ_POLLOUT) != 0;
}

// Takes the dealer's connect events: whether it is waiting out a redial interval.
static void
drain_monitor(transport_link_t *link)
{
    for (int i = 0; link->monitor && i < TRANSPORT_MONITOR_EVENTS_MAX; i++) {
        zmq_msg_t frame;
        zmq_msg_init(&frame);
        if (zmq_msg_recv(&frame, link->monitor, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&frame);
            return;
        }
        uint16_t event = 0; // the first frame: event (u16), value (u32), host order
        if (zmq_msg_size(&frame) >= sizeof event)
            memcpy(&event, zmq_msg_data(&frame), sizeof event);
        bool more = zmq_msg_more(&frame);
        zmq_msg_close(&frame);
        while (more) { // the endpoint
            zmq_msg_init(&frame);
            more = zmq_msg_recv(&frame, link->monitor, ZMQ_DONTWAIT) >= 0 && zmq_msg_more(&frame);
            zmq_msg_close(&frame);
        }
        if (event == ZMQ_EVENT_CONNECT_RETRIED)
            link->backing_off = true;
        else if (event == ZMQ_EVENT_CONNECT_DELAYED || event == ZMQ_EVENT_CONNECTED)
            link->backing_off = false;
    }
}

static void
redial(transport_t *self, transport_link_t *link, uint64_t now_ms)
{
    void *old = link->dealer;
    void *old_monitor = link->monitor;
    if (open_dealer(self, link) == 0)
        close_dealer(old, old_monitor); // queued messages go: anti-entropy sends again
    else
        link->dealer = old;
    link->down_since_ms = now_ms;
    link->dialled_ms = now_ms;
}

void
transport_check_links(transport_t *self, uint64_t now_ms, transport_up_fn up_fn, void *arg)
{
    for (size_t i = 0; i < self->link_count; i++) {
        transport_link_t *link = &self->links[i];
        bool heard = link->heard;
        link->heard = false;
        if (link->dialled_ms == 0)
            link->dialled_ms = now_ms; // first seen: dialled by transport_set_peers
        drain_monitor(link);
        bool up = dealer_up(link->dealer);
        bool came_up = up && !link->up;
        link->up = up;
        if (up) {
            link->down_since_ms = 0;
            if (came_up && up_fn)
                up_fn(arg, link->peer.name);
            continue;
        }
        if (heard && link->backing_off && now_ms - link->dialled_ms >= TRANSPORT_REDIAL_HEARD_MS) {
            redial(self, link, now_ms);
            continue;
        }
        if (link->down_since_ms == 0) {
            link->down_since_ms = now_ms;
            continue;
        }
        if (now_ms - link->down_since_ms >= TRANSPORT_REDIAL_STALE_MS)
            redial(self, link, now_ms);
    }
}

bool
transport_can_send(transport_t *self, const char *peer_name)
{
    assert(self != NULL);
    assert(peer_name != NULL);
    transport_link_t *link = find_link(self->links, self->link_count, peer_name);
    int events = 0;
    size_t events_size = sizeof events;
    if (!link || zmq_getsockopt(link->dealer, ZMQ_EVENTS, &events, &events_size) != 0)
        return false;
    return (events & ZMQ_POLLOUT) != 0;
}

// The link a message came in on, from the authentication its connection passed (never
// from the payload): the entry with the User-Id's name if it still has the key the ZAP
// handler tagged the connection with, else the entry that has that key now (a peer
// renamed in the table). NULL when the key is no longer in the table.
static transport_link_t *
sender_link(transport_t *self, zmq_msg_t *frame)
{
    const char *user_id = zmq_msg_gets(frame, "User-Id");
    const char *key_hex = zmq_msg_gets(frame, TRANSPORT_ZAP_KEY_PROPERTY);
    if (!user_id || !key_hex)
        return NULL; // not accepted by our handler, which ZMQ_ZAP_ENFORCE_DOMAIN rules out
    transport_link_t *link = find_link(self->links, self->link_count, user_id);
    if (link && strcmp(link->curve_key_hex, key_hex) == 0)
        return link;
    for (size_t i = 0; i < self->link_count; i++)
        if (strcmp(self->links[i].curve_key_hex, key_hex) == 0)
            return &self->links[i];
    return NULL;
}

#define RECEIVE_DROPPED 1 // receive_one's answer for a message it took and dropped

// Takes the routing-id frame and the payload frame of one message. 0 with *payload
// initialised (the caller closes it); -SM_ENOTFOUND; -SM_EIO; RECEIVE_DROPPED when the
// peer sent several frames (all drained: libzmq delivers a message whole).
static int
receive_payload(void *router, zmq_msg_t *payload)
{
    zmq_msg_t frame;
    zmq_msg_init(&frame);
    int rc = zmq_msg_recv(&frame, router, ZMQ_DONTWAIT);
    int more = rc >= 0 && zmq_msg_more(&frame);
    zmq_msg_close(&frame);
    if (rc < 0)
        return zmq_errno() == EAGAIN ? -SM_ENOTFOUND : -SM_EIO;
    assert(more); // a ROUTER prefixes every message with its routing id
    zmq_msg_init(payload);
    if (zmq_msg_recv(payload, router, 0) < 0) {
        zmq_msg_close(payload);
        return -SM_EIO;
    }
    if (!zmq_msg_more(payload))
        return 0;
    zmq_msg_close(payload);
    for (more = 1; more;) {
        zmq_msg_init(&frame);
        more = zmq_msg_recv(&frame, router, 0) >= 0 && zmq_msg_more(&frame);
        zmq_msg_close(&frame);
    }
    return RECEIVE_DROPPED;
}

static int
receive_one(transport_t *self, char *peer_name, uint8_t **bytes, size_t *len)
{
    zmq_msg_t payload;
    int rc = receive_payload(self->router, &payload);
    if (rc != 0)
        return rc;
    transport_link_t *link = sender_link(self, &payload);
    size_t size = zmq_msg_size(&payload);
    if (link)
        link->heard = true;
    // ZMQ_MAXMSGSIZE allows the CURVE overhead with some slack; the payload limit is ours.
    if (!link || size > TRANSPORT_FRAME_BYTES_MAX) {
        zmq_msg_close(&payload);
        return RECEIVE_DROPPED;
    }
    uint8_t *copy = malloc(size ? size : 1);
    if (copy) {
        memcpy(copy, zmq_msg_data(&payload), size);
        memcpy(peer_name, link->peer.name, sizeof link->peer.name);
        *bytes = copy;
        *len = size;
    }
    zmq_msg_close(&payload);
    return copy ? 0 : -SM_ENOMEM;
}

int
transport_receive(transport_t *self, char *peer_name, uint8_t **bytes, size_t *len)
{
    assert(self != NULL);
    assert(peer_name != NULL);
    assert(bytes != NULL);
    assert(len != NULL);
    for (size_t dropped = 0; dropped < TRANSPORT_RECEIVE_DROPS_MAX; dropped++) {
        int rc = receive_one(self, peer_name, bytes, len);
        if (rc != RECEIVE_DROPPED)
            return rc;
        self->dropped_count++;
    }
    return -SM_ENOTFOUND;
}
