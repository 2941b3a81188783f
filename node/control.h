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

#endif
