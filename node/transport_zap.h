// transport_zap: the ZAP handler (ZeroMQ RFC 27) that decides which CURVE clients may
// open a link to this node's ROUTER: only keys on the allow-list (the peer table) get in.
// Each accepted link is tagged with User-Id = the peer's name and the metadata property
// TRANSPORT_ZAP_KEY_PROPERTY = the client's CURVE public key in hex, so the receiving side
// can check every message's sender against the peer table as it is now.
//
// Why a handler of our own in a thread rather than czmq's zauth actor: the handler must be
// bound in the same zmq context as the ROUTER, and zauth lives in czmq's own context
// unless the whole node goes through zsys_init/zsock. A plain REP socket in the caller's
// context, served by one thread with a mutex-protected copy of the allow-list, keeps the
// node on raw libzmq and answers handshakes while the main loop is busy.
//
// Not for: encryption (libzmq's CURVE does it) or anything after the handshake.
// Thread-safety: start, stop and replace are called from one thread; the counter may be
// read from any thread.
#ifndef NODE_TRANSPORT_ZAP_H
#define NODE_TRANSPORT_ZAP_H

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

#include "crdt.h"

// The ZAP domain the ROUTER sets; requests for any other domain are refused.
#define TRANSPORT_ZAP_DOMAIN "storemesh"
// Metadata property the handler attaches to accepted links: the client's CURVE key, hex.
#define TRANSPORT_ZAP_KEY_PROPERTY "X-Peer-Key"
#define TRANSPORT_ZAP_KEY_HEX_SIZE (crypto_box_PUBLICKEYBYTES * 2 + 1) // with the NUL

// One allowed client: the name its links are tagged with and its CURVE (X25519) key.
typedef struct {
    char name[CRDT_NAME_MAX + 1];
    uint8_t curve_public_key[crypto_box_PUBLICKEYBYTES];
} transport_zap_entry_t;

typedef struct transport_zap transport_zap_t;

// Binds inproc://zeromq.zap.01 in zmq_context and starts the handler thread, so when it
// returns every later CURVE handshake in that context is answered by it. The allow-list
// starts empty: everyone is refused until transport_zap_replace. A context holds one
// handler, so one transport per context. NULL with err (the cause and the fix).
transport_zap_t *transport_zap_start(void *zmq_context, char *err, size_t err_size);
// Stops the thread and closes its sockets; call before zmq_ctx_term. Frees *self_p and
// sets it to NULL; a NULL *self_p is fine.
void transport_zap_stop(transport_zap_t **self_p);
// Takes over *entries_p (malloc'd, count entries; NULL when count is 0) as the allow-list
// and sets *entries_p to NULL. Cannot fail. Handshakes from now on see the new list;
// links already open are not touched (the receiver checks each message).
void transport_zap_replace(transport_zap_t *self, transport_zap_entry_t **entries_p, size_t count);
// Handshakes refused since start: unknown keys, foreign domains or mechanisms, malformed
// requests. A client that keeps retrying is counted on every attempt.
uint64_t transport_zap_refused_count(const transport_zap_t *self);

#endif
