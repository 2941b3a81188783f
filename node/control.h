// control: the control socket's messages (proto/storemesh.proto Request/Response)
// mapped to and from the core, so the daemon only moves frames. docs/CONTROL.md
// documents the messages for client writers.
#ifndef NODE_CONTROL_H
#define NODE_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "storemesh.pb-c.h"

#define CONTROL_ARENA_MAX 64 // allocations one reply may own (plus its value arrays)

// A response and everything it points to; free with control_reply_free.
typedef struct {
    Storemesh__Response response;
    void *owned[CONTROL_ARENA_MAX];
    size_t owned_count;
    void **extra;        // further allocations beyond owned
    size_t extra_count;
    size_t extra_cap;
} control_reply_t;

// Points command's fields at proto's strings (borrowed for proto's lifetime).
void control_command_from_proto(core_command_t *command, const Storemesh__Command *proto);
void control_submit_reply(const core_result_t *results, size_t count, control_reply_t *reply);
// Answers get, status, audit and digest requests from the core's committed state.
void control_answer_read(const core_t *core, const Storemesh__Request *request, uint64_t wall_ms,
                         uint64_t started_ms, control_reply_t *reply);
void control_reply_free(control_reply_t *reply);

// The peer table as the daemon holds it, for peers and status answers.
typedef struct {
    const char *name;
    const char *endpoint;
    const uint8_t *public_key; // 32 bytes
} control_peer_t;

typedef struct {
    const control_peer_t *peers;
    size_t count;
    uint64_t links_refused;
} control_links_t;

// Answers Request.peers from the table and the core's link state.
void control_answer_peers(const core_t *core, const control_links_t *links, uint64_t wall_ms,
                          control_reply_t *reply);
// Adds the links to a status reply made by control_answer_read.
void control_status_add_links(const core_t *core, const control_links_t *links, uint64_t wall_ms,
                              control_reply_t *reply);

#endif
