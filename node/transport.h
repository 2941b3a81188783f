// transport: a node's links to its peers over ZeroMQ with CurveZMQ. The node binds one
// ROUTER (CURVE server) on its listen endpoint and receives only there; it dials one
// DEALER (CURVE client) per peer and sends only there, so each pair of nodes has two TCP
// connections, one per direction. The node's Ed25519 key pair (node.key) also gives its
// CURVE keys (crypto_sign_ed25519_*_to_curve25519), so one key pair signs and links.
//
// Who may link in: only keys in the peer table. A ZAP handler (transport_zap) answers
// every handshake from its own thread and is running before the ROUTER binds; the ROUTER
// also sets ZMQ_ZAP_ENFORCE_DOMAIN, so with no handler it would refuse everyone rather
// than let anyone in. Every received message is attributed from the link's
// authentication (its User-Id and key), never from its payload, and is checked against
// the table as it is now, so a removed or re-keyed peer's messages stop arriving even on
// a link opened before the change.
//
// Not for: framing, ordering across links, delivery guarantees or retries. A message
// sent may be lost (a queue at its limit, a link that drops); anti-entropy above this
// module sends again. This is a production adapter, outside the deterministic core: the
// daemon carries the core's "send these bytes to that peer" effects out with it, and the
// partition simulator swaps in a network of its own.
//
// Not thread-safe: one thread calls every function but transport_refused_count. One
// transport per zmq context (a context holds one ZAP handler).
#ifndef NODE_TRANSPORT_H
#define NODE_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crdt.h"
#include "sm_error.h"

// Largest message in bytes. Bigger sends are refused; a peer that sends a bigger frame
// has its link dropped by libzmq (ZMQ_MAXMSGSIZE) and must reconnect. 16 MiB holds any
// anti-entropy batch with room to spare and bounds what one frame can make us allocate.
#define TRANSPORT_FRAME_BYTES_MAX (16u * 1024u * 1024u)
// Messages queued per peer in each direction (ZMQ_SNDHWM on its DEALER, ZMQ_RCVHWM on the
// ROUTER, which applies per connected peer). Anti-entropy keeps at most its credit window
// (8 OpsBatches, docs/PROTOCOL.md) plus a Hello or Ack in flight per link, so 64 is only
// reached when a peer ignores credit or stops reading; the memory it can pin is 64 times
// the batch size per peer and direction, far below 64 * TRANSPORT_FRAME_BYTES_MAX.
#define TRANSPORT_QUEUE_FRAMES_MAX 64
// Peers in the table. Each costs a DEALER (zmq's default ZMQ_MAX_SOCKETS is 1023 per
// context) and two TCP connections plus a mailbox descriptor (mind `ulimit -n`).
#define TRANSPORT_PEERS_MAX 512
#define TRANSPORT_ENDPOINT_MAX 255
// Messages one transport_receive call may drop before it returns, so a call stays bounded.
#define TRANSPORT_RECEIVE_DROPS_MAX 64

typedef struct {
    char name[CRDT_NAME_MAX + 1];              // NUL-terminated; links are tagged with it
    char endpoint[TRANSPORT_ENDPOINT_MAX + 1]; // tcp://host:port, NUL-terminated
    uint8_t public_key[32];                    // the peer's Ed25519 public key
} transport_peer_t;

typedef struct transport transport_t;

// Starts the ZAP handler in zmq_context (borrowed; it must outlive the transport), then
// binds the ROUTER on listen_endpoint (tcp://host:port). Everyone is refused until
// transport_set_peers. NULL with err naming the endpoint, the cause and the fix (port in
// use, a context that already has a ZAP handler, a public key that does not match the
// secret key).
transport_t *transport_new(void *zmq_context, const char *listen_endpoint,
                           const uint8_t ed25519_secret_key[64],
                           const uint8_t ed25519_public_key[32], char *err, size_t err_size);
// Closes every socket (queued messages are dropped: ZMQ_LINGER is 0) and stops the ZAP
// handler; call before zmq_ctx_term. Frees *self_p and sets it to NULL; NULL is fine.
void transport_destroy(transport_t **self_p);
// Replaces the peer table (peers is borrowed): the allow-list and the dial list. New
// peers are dialled, removed ones disconnected and refused from now on, peers whose
// endpoint or key changed are dialled anew (their queued messages are dropped); unchanged
// peers keep their link and queue. A peer unreachable or refusing us is redialled with
// backoff (0.5 s doubling to 5 s); none reachable is normal. 0; -SM_EINVAL when an entry
// is bad (name, endpoint, key, a duplicate name or key, more than TRANSPORT_PEERS_MAX),
// logged to stderr with the entry; -SM_ENOMEM (also: the context is out of sockets). On
// error the table in force before the call stays in force, links included.
int transport_set_peers(transport_t *self, const transport_peer_t *peers, size_t count);
// Queues a copy of bytes for peer_name without blocking. Messages are queued only on a
// link that is up (ZMQ_IMMEDIATE): nothing stale piles up while a peer is away to be
// replayed when it returns, and what was queued when a link drops is lost with it.
// 0; -SM_ENOTFOUND (not in the table); -SM_EINVAL (len > TRANSPORT_FRAME_BYTES_MAX);
// -SM_EFULL (the link is down, or its queue holds TRANSPORT_QUEUE_FRAMES_MAX: the message
// is dropped and anti-entropy sends again later); -SM_EIO (the zmq context is ending).
int transport_send(transport_t *self, const char *peer_name, const uint8_t *bytes, size_t len);
// True when a send to peer_name would be queued now: its outbound link has completed the
// CURVE handshake and its queue has room. False for a name not in the table. A change from
// false to true is the moment to send a Hello ("on connect").
bool transport_can_send(transport_t *self, const char *peer_name);
typedef void (*transport_up_fn)(void *arg, const char *peer_name);
// Looks at every outbound link: calls up_fn (may be NULL) for each one whose CURVE
// handshake completed since the last call ("on connect": the moment to send a Hello);
// dials anew a link that has been down for a few seconds (libzmq gives up on a link
// whose handshake was refused, as happens while both ends of a healed cut add each
// other), and at once one to a peer we have just heard from (it is up: libzmq's
// redial backoff would otherwise keep our replies from it for seconds). Call it
// every few tens of milliseconds; it costs one getsockopt per link.
void transport_check_links(transport_t *self, uint64_t now_ms, transport_up_fn up_fn, void *arg);
// The ROUTER, for zmq_poll (ZMQ_POLLIN) in the caller's loop; never send or receive on it.
// Poll with zmq_poll, not ZMQ_FD, which is edge-triggered. Valid until transport_destroy.
void *transport_socket(transport_t *self);
// Takes one received message without blocking: 0 with peer_name (CRDT_NAME_MAX + 1 bytes:
// the sender's name in the table now) and *bytes (malloc'd, never NULL, the caller frees)
// and *len set. Messages whose sender's key is no longer in the table, with more than one
// frame, or over TRANSPORT_FRAME_BYTES_MAX are dropped and counted. -SM_ENOTFOUND when
// none is waiting, or after dropping TRANSPORT_RECEIVE_DROPS_MAX in this call (zmq_poll
// reports the rest); -SM_ENOMEM (that message is lost); -SM_EIO (the context is ending).
int transport_receive(transport_t *self, char *peer_name, uint8_t **bytes, size_t *len);
// Handshakes refused since transport_new: keys not on the allow-list (each retry counts),
// and any malformed or foreign ZAP request. Safe from any thread.
uint64_t transport_refused_count(const transport_t *self);
// Messages transport_receive dropped since transport_new (see there).
uint64_t transport_dropped_count(const transport_t *self);

#endif
