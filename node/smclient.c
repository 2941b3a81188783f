#include "smclient.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

#include "datadir.h"
#include "sm_error.h"

struct smclient {
    void *context;
    void *socket;
    int timeout_ms;
    uint64_t next_request_id;
    char dir[DATADIR_PATH_MAX];
};

bool
smclient_node_running(const char *data_dir)
{
    return datadir_is_locked(data_dir);
}

static void
not_running_message(const char *data_dir, char *err, size_t err_size)
{
    struct stat info;
    if (stat(data_dir, &info) != 0)
        snprintf(err, err_size,
                 "no node is running on '%s': the directory does not exist. Create it with "
                 "`storemesh init --data %s --name NAME --rules FILE`, then start it with "
                 "`storemesh run --data %s`",
                 data_dir, data_dir, data_dir);
    else
        snprintf(err, err_size,
                 "no node is running on '%s'; start one with `storemesh run --data %s`", data_dir,
                 data_dir);
}

smclient_t *
smclient_new(const char *data_dir, int timeout_ms, int *rc_out, char *err, size_t err_size)
{
    if (!smclient_node_running(data_dir)) {
        not_running_message(data_dir, err, err_size);
        *rc_out = -SM_ENOTRUNNING;
        return NULL;
    }
    smclient_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, err_size, "out of memory");
        *rc_out = -SM_ENOMEM;
        return NULL;
    }
    snprintf(self->dir, sizeof self->dir, "%s", data_dir);
    self->timeout_ms = timeout_ms > 0 ? timeout_ms : SMCLIENT_TIMEOUT_MS_DEFAULT;
    self->context = zmq_ctx_new();
    self->socket = self->context ? zmq_socket(self->context, ZMQ_DEALER) : NULL;
    char endpoint[DATADIR_PATH_MAX];
    datadir_endpoint(endpoint, data_dir);
    int linger_ms = 0;
    if (!self->socket ||
        zmq_setsockopt(self->socket, ZMQ_LINGER, &linger_ms, sizeof linger_ms) != 0 ||
        zmq_connect(self->socket, endpoint) != 0) {
        snprintf(err, err_size, "cannot connect to %s: %s", endpoint, zmq_strerror(zmq_errno()));
        *rc_out = -SM_EIO;
        smclient_destroy(&self);
        return NULL;
    }
    *rc_out = 0;
    return self;
}

void
smclient_destroy(smclient_t **self_p)
{
    smclient_t *self = *self_p;
    if (!self)
        return;
    if (self->socket)
        zmq_close(self->socket);
    if (self->context)
        zmq_ctx_term(self->context);
    free(self);
    *self_p = NULL;
}

// Waits for the answer in short slices, so a node that dies while we wait is
// noticed (its lock is released) instead of waiting out the whole timeout.
#define SMCLIENT_POLL_SLICE_MS 100

int
smclient_send(smclient_t *self, const Storemesh__Request *request, uint64_t *request_id)
{
    Storemesh__Request stamped = *request;
    stamped.request_id = ++self->next_request_id;
    *request_id = stamped.request_id;
    size_t len = storemesh__request__get_packed_size(&stamped);
    uint8_t *bytes = malloc(len ? len : 1);
    if (!bytes)
        return -SM_ENOMEM;
    storemesh__request__pack(&stamped, bytes);
    int sent = zmq_send(self->socket, bytes, len, 0);
    free(bytes);
    return sent < 0 ? -SM_EIO : 0;
}

int
smclient_receive(smclient_t *self, Storemesh__Response **response)
{
    *response = NULL;
    for (int waited_ms = 0; waited_ms < self->timeout_ms; waited_ms += SMCLIENT_POLL_SLICE_MS) {
        zmq_pollitem_t item = {.socket = self->socket, .events = ZMQ_POLLIN};
        int ready = zmq_poll(&item, 1, SMCLIENT_POLL_SLICE_MS);
        if (ready < 0 && zmq_errno() != EINTR)
            return -SM_EIO;
        if (ready > 0) {
            zmq_msg_t message;
            zmq_msg_init(&message);
            if (zmq_msg_recv(&message, self->socket, 0) < 0) {
                zmq_msg_close(&message);
                return -SM_EIO;
            }
            *response = storemesh__response__unpack(NULL, zmq_msg_size(&message),
                                                    zmq_msg_data(&message));
            zmq_msg_close(&message);
            return *response ? 0 : -SM_ECORRUPT;
        }
        if (!smclient_node_running(self->dir))
            return -SM_ENOTRUNNING;
    }
    return -SM_ETIMEDOUT;
}

int
smclient_call(smclient_t *self, const Storemesh__Request *request, Storemesh__Response **response)
{
    uint64_t request_id = 0;
    int rc = smclient_send(self, request, &request_id);
    // Answers to earlier requests (sent with smclient_send) are skipped; bounded by
    // the responses the node can have queued for us.
    for (int skipped = 0; rc == 0 && skipped < 100000; skipped++) {
        rc = smclient_receive(self, response);
        if (rc || (*response)->request_id == request_id)
            return rc;
        smclient_response_free(*response);
        *response = NULL;
    }
    return rc ? rc : -SM_ECORRUPT;
}

void
smclient_response_free(Storemesh__Response *response)
{
    if (response)
        storemesh__response__free_unpacked(response, NULL);
}
