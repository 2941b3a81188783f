// smclient: the control-socket API of a local storemesh node, as a small C library
// (target storemesh_client). Point-of-sale apps and the storemesh CLI use it alike.
// It speaks protobuf (proto/storemesh.proto: Request/Response) over a ZeroMQ
// DEALER socket to ipc://DATA_DIR/control.sock. docs/CONTROL.md documents the
// messages. One client per thread.
#ifndef NODE_SMCLIENT_H
#define NODE_SMCLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "storemesh.pb-c.h"

#define SMCLIENT_TIMEOUT_MS_DEFAULT 30000
#define SMCLIENT_ERROR_MAX 512

typedef struct smclient smclient_t;

// True when a node process holds DATA_DIR (its lock file is locked).
bool smclient_node_running(const char *data_dir);

// Connects to the node on data_dir. NULL with err set: -SM_ENOTRUNNING when no node
// runs there (err says how to start one), or another failure; *rc_out gets the code.
smclient_t *smclient_new(const char *data_dir, int timeout_ms, int *rc_out, char *err,
                         size_t err_size);
// Frees *self_p and sets it to NULL; a NULL *self_p is fine.
void smclient_destroy(smclient_t **self_p);

// Sends request and waits for its response (*response: free with
// smclient_response_free). 0; -SM_ETIMEDOUT when the node did not answer in time
// (the request may or may not have been carried out: retry with the same command
// IDs); -SM_ENOTRUNNING when the node went away; -SM_ECORRUPT for an unreadable
// answer. The client must be destroyed after a timeout (its socket may hold a late
// answer).
int smclient_call(smclient_t *self, const Storemesh__Request *request,
                  Storemesh__Response **response);
void smclient_response_free(Storemesh__Response *response);

// Pipelining: send several requests, then collect their responses, which carry
// the request_id each request was sent with (responses to submits may arrive in
// another order than the requests when the node refuses one outright).
// smclient_send stamps a fresh request_id into *request_id. 0 or -SM_EIO/-SM_ENOMEM.
int smclient_send(smclient_t *self, const Storemesh__Request *request, uint64_t *request_id);
// The next response, whichever request it answers. Errors as smclient_call.
int smclient_receive(smclient_t *self, Storemesh__Response **response);

#endif
