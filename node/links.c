#include "links.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peers.h"
#include "sm_error.h"
#include "transport.h"

struct links {
    char dir[4096];
    void *zmq_context;
    const identity_t *identity; // borrowed for the links' lifetime
    transport_t *transport;     // NULL while the table is empty: nobody may link in
                                // then, so the node does not hold its port
    peer_entry_t *peers; // the table in force
    size_t peer_count;
    control_peer_t *view; // the same, for control answers
    uint64_t stamp;       // peers_changed's
    uint64_t next_refresh_ms;
    uint64_t next_check_ms;
};

// Applies a newly loaded table to the transport and the core; keeps the old one
// when either refuses it.
static int
apply(links_t *self, core_t *core, peer_entry_t *peers, size_t count)
{
    transport_peer_t *links = calloc(count ? count : 1, sizeof *links);
    core_peer_t *core_peers = calloc(count ? count : 1, sizeof *core_peers);
    control_peer_t *view = calloc(count ? count : 1, sizeof *view);
    int rc = links && core_peers && view ? 0 : -SM_ENOMEM;
    size_t link_count = 0;
    for (size_t i = 0; i < count; i++)
        link_count += !peers_is_key_only(&peers[i]);
    if (rc == 0 && link_count > 0 && !self->transport) {
        char err[512];
        self->transport = transport_new(self->zmq_context, self->identity->listen,
                                        self->identity->secret_key, self->identity->public_key,
                                        err, sizeof err);
        if (!self->transport) {
            fprintf(stderr, "storemesh: cannot open the mesh links: %s\n", err);
            rc = -SM_EIO;
        }
    }
    size_t linked = 0;
    for (size_t i = 0; rc == 0 && i < count; i++) {
        bool key_only = peers_is_key_only(&peers[i]);
        if (!key_only) {
            transport_peer_t *link = &links[linked++];
            snprintf(link->name, sizeof link->name, "%s", peers[i].name);
            snprintf(link->endpoint, sizeof link->endpoint, "%s", peers[i].endpoint);
            memcpy(link->public_key, peers[i].public_key, sizeof link->public_key);
        }
        core_peers[i] = (core_peer_t){
            .name = peers[i].name, .public_key = peers[i].public_key, .exchange = !key_only};
        view[i] = (control_peer_t){
            .name = peers[i].name, .endpoint = peers[i].endpoint, .public_key = peers[i].public_key};
    }
    if (rc == 0 && self->transport)
        rc = transport_set_peers(self->transport, links, linked);
    if (rc == 0)
        rc = core_set_peers(core, core_peers, count);
    free(links);
    free(core_peers);
    if (rc) {
        free(view);
        return rc;
    }
    free(self->peers);
    free(self->view);
    self->peers = peers;
    self->peer_count = count;
    self->view = view;
    return 0;
}

static int
reload(links_t *self, core_t *core, char *err, size_t err_size)
{
    peer_entry_t *peers = NULL;
    size_t count = 0;
    int rc = peers_load(self->dir, &peers, &count, err, err_size);
    if (rc == 0) {
        rc = apply(self, core, peers, count);
        if (rc)
            snprintf(err, err_size, "%s", rc == -SM_EIO ? "the listen endpoint cannot be opened"
                                                        : sm_strerror(rc));
    }
    if (rc) {
        free(peers);
        return rc;
    }
    fprintf(stderr, "storemesh: peer table loaded: %zu peer%s\n", count, count == 1 ? "" : "s");
    return 0;
}

links_t *
links_new(void *zmq_context, const char *dir, const identity_t *identity, core_t *core, char *err,
          size_t err_size)
{
    links_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    snprintf(self->dir, sizeof self->dir, "%s", dir);
    self->zmq_context = zmq_context;
    self->identity = identity;
    peers_changed(dir, &self->stamp);
    if (reload(self, core, err, err_size)) {
        links_destroy(&self);
        return NULL;
    }
    return self;
}

void
links_destroy(links_t **self_p)
{
    links_t *self = *self_p;
    if (!self)
        return;
    transport_destroy(&self->transport);
    free(self->peers);
    free(self->view);
    free(self);
    *self_p = NULL;
}

void *
links_socket(links_t *self)
{
    return self->transport ? transport_socket(self->transport) : NULL;
}

void
links_receive(links_t *self, core_t *core, uint64_t wall_ms)
{
    if (!self->transport)
        return;
    for (int i = 0; i < LINKS_RECEIVE_MESSAGES_MAX && !core_peer_input_paused(core); i++) {
        char peer[CRDT_NAME_MAX + 1];
        uint8_t *bytes = NULL;
        size_t len = 0;
        if (transport_receive(self->transport, peer, &bytes, &len) != 0)
            return;
        core_peer_receive(core, peer, bytes, len, wall_ms);
        free(bytes);
    }
}

void
links_send(links_t *self, const char *peer, const uint8_t *bytes, size_t len)
{
    if (self->transport)
        transport_send(self->transport, peer, bytes, len);
}

static void
link_up(void *arg, const char *peer_name)
{
    core_peer_link_up(arg, peer_name);
}

void
links_refresh(links_t *self, core_t *core, uint64_t wall_ms)
{
    if (self->transport && wall_ms >= self->next_check_ms) {
        self->next_check_ms = wall_ms + LINKS_CHECK_MS;
        transport_check_links(self->transport, wall_ms, link_up, core);
    }
    if (wall_ms < self->next_refresh_ms)
        return;
    self->next_refresh_ms = wall_ms + LINKS_REFRESH_MS;
    if (!peers_changed(self->dir, &self->stamp))
        return;
    char err[1024];
    if (reload(self, core, err, sizeof err)) {
        fprintf(stderr,
                "storemesh: the changed peer table was not taken (%s); the previous one stays "
                "in force, and it is tried again in a second\n",
                err);
        self->stamp = 0; // try again at the next refresh
    }
}

void
links_view(const links_t *self, control_links_t *out)
{
    out->peers = self->view;
    out->count = self->peer_count;
    out->links_refused = self->transport ? transport_refused_count(self->transport) : 0;
}
