// links: the daemon's side of the mesh: the peer table from DIR/peers.yaml and the
// CurveZMQ transport, fed into the core. It reloads the table when the file changes
// (`storemesh peer add/remove` work while the node runs) and hands received peer
// messages to the core and the core's SEND effects to the transport.
#ifndef NODE_LINKS_H
#define NODE_LINKS_H

#include <stdint.h>

#include "control.h"
#include "core.h"
#include "identity.h"

#define LINKS_RECEIVE_MESSAGES_MAX 8 // peer messages taken per loop turn
#define LINKS_REFRESH_MS 1000          // how often peers.yaml is checked for changes
#define LINKS_CHECK_MS 50              // how often the links are checked for connects

typedef struct links links_t;

// Loads the peer table; binds the listen endpoint (identity->listen, borrowed for the
// links' lifetime) once the table has a peer. NULL with err (names the endpoint or the
// file and the fix).
links_t *links_new(void *zmq_context, const char *dir, const identity_t *identity, core_t *core,
                   char *err, size_t err_size);
void links_destroy(links_t **self_p);
// The socket to poll for peer messages; NULL while the table is empty.
void *links_socket(links_t *self);
// Hands waiting peer messages (up to LINKS_RECEIVE_MESSAGES_MAX) to the core.
void links_receive(links_t *self, core_t *core, uint64_t wall_ms);
// Carries out a SEND effect; a message the transport cannot queue is dropped (the
// core's anti-entropy sends again).
void links_send(links_t *self, const char *peer, const uint8_t *bytes, size_t len);
// Tells the core about links that just connected (every LINKS_CHECK_MS), redials
// links that are down, and reloads the peer table when peers.yaml changed (at most
// every LINKS_REFRESH_MS).
void links_refresh(links_t *self, core_t *core, uint64_t wall_ms);
// The table for control answers; valid until the next links_refresh.
void links_view(const links_t *self, control_links_t *out);

#endif
