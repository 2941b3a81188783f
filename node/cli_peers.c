// cli_peers: `peer add`, `peer remove` and `peers`. The table lives in DIR/peers.yaml
// (node/peers.h) and is edited directly, whether or not the node runs; `peers` adds
// the running node's live view of each link when the node gives one.
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cli.h"
#include "identity.h"
#include "peers.h"
#include "sm_error.h"
#include "smclient.h"

// `peers` waits this long for the live view, then prints the file alone: a node
// that cannot say how its links are must not stop the operator seeing the table.
#define CLI_PEERS_LIVE_TIMEOUT_MS 3000
#define CLI_PEERS_ERROR_MAX 4096 // room for the list of known names on `remove`

static const char peer_usage[] =
    "usage: storemesh peer add --data DIR NAME ENDPOINT PUBLIC_KEY\n"
    "       storemesh peer add --data DIR NAME PUBLIC_KEY ENDPOINT   (as `storemesh id` prints)\n"
    "       storemesh peer remove --data DIR NAME";

static int
exit_code(int rc)
{
    switch (rc) {
    case -SM_EINVAL:    // a bad word, or the node itself
    case -SM_EDUP:      // the key belongs to another name
    case -SM_ENOTFOUND: // no such peer (the data directory was checked before)
    case -SM_ECORRUPT:  // a bad peers.yaml: fix it, like a bad rules file
        return CLI_EXIT_USAGE;
    case -SM_EFULL:
        return CLI_EXIT_REFUSED;
    default:
        return CLI_EXIT_ENVIRONMENT;
    }
}

// A data directory made by `storemesh init`: 0, or the exit code after saying so.
static int
check_data_dir(const char *dir)
{
    identity_t self;
    char err[1024];
    if (identity_load(dir, false, &self, err, sizeof err) != 0)
        return cli_fail(CLI_EXIT_ENVIRONMENT, "%s", err);
    return 0;
}

static bool
is_endpoint_word(const char *word)
{
    return strstr(word, "://") != NULL || strcmp(word, PEERS_ENDPOINT_NONE) == 0;
}

static int
peer_add(const cli_args_t *args)
{
    if (args->positional_count != 4)
        return cli_fail(CLI_EXIT_USAGE, "peer add takes three words after --data DIR\n%s",
                        peer_usage);
    const char *name = args->positional[1];
    // `storemesh id` prints NAME PUBLIC_KEY ENDPOINT; the order is NAME
    // ENDPOINT PUBLIC_KEY. Both work, so `peer add --data D $(storemesh id --data O)`
    // does.
    bool id_order = is_endpoint_word(args->positional[3]) && !is_endpoint_word(args->positional[2]);
    const char *endpoint = args->positional[id_order ? 3 : 2];
    const char *public_key = args->positional[id_order ? 2 : 3];
    char err[CLI_PEERS_ERROR_MAX];
    peer_entry_t peer;
    int rc = peers_entry_make(&peer, name, endpoint, public_key, err, sizeof err);
    if (rc)
        return cli_fail(CLI_EXIT_USAGE, "%s", err);
    int code = check_data_dir(args->data);
    if (code)
        return code;
    bool replaced = false;
    rc = peers_add(args->data, &peer, &replaced, err, sizeof err);
    if (rc)
        return cli_fail(exit_code(rc), "%s", err);
    bool running = smclient_node_running(args->data);
    char key_hex[PEERS_PUBLIC_KEY_HEX_SIZE + 1];
    sodium_bin2hex(key_hex, sizeof key_hex, peer.public_key, sizeof peer.public_key);
    fprintf(stderr, "storemesh: peer %s %s (%s %s); %s\n", peer.name,
            replaced ? "updated" : "added", peer.endpoint, key_hex,
            running ? "the running node takes the change within seconds"
                    : "the node uses it once started");
    return CLI_EXIT_OK;
}

static int
peer_remove(const cli_args_t *args)
{
    if (args->positional_count != 2)
        return cli_fail(CLI_EXIT_USAGE, "peer remove takes one NAME after --data DIR\n%s",
                        peer_usage);
    int code = check_data_dir(args->data);
    if (code)
        return code;
    char err[CLI_PEERS_ERROR_MAX];
    int rc = peers_remove(args->data, args->positional[1], err, sizeof err);
    if (rc)
        return cli_fail(exit_code(rc), "%s", err);
    fprintf(stderr, "storemesh: peer %s removed; %s\n", args->positional[1],
            smclient_node_running(args->data) ? "the running node drops it within seconds"
                                              : "the node will not dial or admit it");
    return CLI_EXIT_OK;
}

int
cli_peer(const cli_args_t *args)
{
    const char *verb = args->positional_count ? args->positional[0] : "";
    if (strcmp(verb, "add") == 0)
        return peer_add(args);
    if (strcmp(verb, "remove") == 0)
        return peer_remove(args);
    return cli_fail(CLI_EXIT_USAGE, "peer needs 'add' or 'remove', not '%s'\n%s", verb, peer_usage);
}

// The node's live view (free with smclient_response_free), or NULL with *why_unknown
// saying why there is none.
static Storemesh__Response *
ask_live(const char *dir, const char **why_unknown)
{
    *why_unknown = "node not running";
    if (!smclient_node_running(dir))
        return NULL;
    char err[SMCLIENT_ERROR_MAX];
    int rc = 0;
    smclient_t *client = smclient_new(dir, CLI_PEERS_LIVE_TIMEOUT_MS, &rc, err, sizeof err);
    if (!client)
        return NULL;
    Storemesh__PeersRequest peers = STOREMESH__PEERS_REQUEST__INIT;
    Storemesh__Request request = STOREMESH__REQUEST__INIT;
    request.version = 1;
    request.body_case = STOREMESH__REQUEST__BODY_PEERS;
    request.peers = &peers;
    Storemesh__Response *response = NULL;
    rc = smclient_call(client, &request, &response);
    smclient_destroy(&client);
    if (rc) {
        *why_unknown = rc == -SM_ENOTRUNNING ? "node not running" : "the node did not answer";
        return NULL;
    }
    if (response->body_case != STOREMESH__RESPONSE__BODY_PEERS || !response->peers) {
        *why_unknown = "the running node gave no peer status";
        smclient_response_free(response);
        return NULL;
    }
    return response;
}

// The node's status of this entry; NULL when the node does not know the entry yet
// (it reloads peers.yaml within seconds): a status under the same name but for an
// older key is not this peer's.
static const Storemesh__PeerStatus *
find_live(const Storemesh__Response *live, const char *name, const char *key_hex)
{
    for (size_t i = 0; live && i < live->peers->n_peers; i++) {
        const Storemesh__PeerStatus *status = live->peers->peers[i];
        if (strcmp(status->name, name) == 0)
            return status->public_key[0] && strcasecmp(status->public_key, key_hex) != 0 ? NULL
                                                                                         : status;
    }
    return NULL;
}

static void
format_time(char *out, size_t out_size, uint64_t wall_ms)
{
    time_t seconds = (time_t)(wall_ms / 1000);
    struct tm utc;
    gmtime_r(&seconds, &utc);
    strftime(out, out_size, "%Y-%m-%dT%H:%M:%SZ", &utc);
}

static json_object *
peer_json(const peer_entry_t *peer, const char *key_hex, const Storemesh__PeerStatus *status)
{
    json_object *object = json_object_new_object();
    json_object_object_add(object, "name", json_object_new_string(peer->name));
    json_object_object_add(object, "endpoint", json_object_new_string(peer->endpoint));
    json_object_object_add(object, "public_key", json_object_new_string(key_hex));
    char when[32];
    if (status && status->last_exchange_ms)
        format_time(when, sizeof when, status->last_exchange_ms);
    json_object_object_add(object, "connected",
                           status ? json_object_new_boolean(status->connected) : NULL);
    json_object_object_add(object, "last_exchange",
                           status && status->last_exchange_ms ? json_object_new_string(when)
                                                              : NULL);
    json_object_object_add(object, "we_owe",
                           status ? json_object_new_uint64(status->we_owe) : NULL);
    json_object_object_add(object, "they_owe",
                           status ? json_object_new_uint64(status->they_owe) : NULL);
    return object;
}

static void
print_peer_text(const peer_entry_t *peer, const char *key_hex, const Storemesh__PeerStatus *status,
                const char *why_unknown)
{
    printf("%s %s %s\n", peer->name, peer->endpoint, key_hex);
    if (peers_is_key_only(peer)) {
        printf("  key only: no link; its operations are accepted when relayed by others\n");
        return;
    }
    if (!status) {
        printf("  connected, last exchange, operations owed: unknown (%s)\n", why_unknown);
        return;
    }
    char when[32] = "never";
    if (status->last_exchange_ms)
        format_time(when, sizeof when, status->last_exchange_ms);
    printf("  connected %s, last exchange %s, we owe %llu operations, they owe %llu\n",
           status->connected ? "yes" : "no", when, (unsigned long long)status->we_owe,
           (unsigned long long)status->they_owe);
}

static void
print_peers(const cli_args_t *args, const peer_entry_t *peers, size_t count,
            const Storemesh__Response *live, const char *why_unknown)
{
    json_object *array = args->json ? json_object_new_array() : NULL;
    if (!args->json && count == 0)
        printf("no peers: add one with `storemesh peer add --data %s NAME ENDPOINT PUBLIC_KEY`\n",
               args->data);
    for (size_t i = 0; i < count; i++) {
        char key_hex[PEERS_PUBLIC_KEY_HEX_SIZE + 1];
        sodium_bin2hex(key_hex, sizeof key_hex, peers[i].public_key, sizeof peers[i].public_key);
        const Storemesh__PeerStatus *status = find_live(live, peers[i].name, key_hex);
        if (array)
            json_object_array_add(array, peer_json(&peers[i], key_hex, status));
        else
            print_peer_text(&peers[i], key_hex, status,
                            live ? "the node has not loaded this peer yet" : why_unknown);
    }
    if (array) {
        printf("%s\n", json_object_to_json_string_ext(array, JSON_C_TO_STRING_PLAIN |
                                                                 JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(array);
    }
}

int
cli_peers(const cli_args_t *args)
{
    if (args->positional_count)
        return cli_fail(CLI_EXIT_USAGE, "usage: storemesh peers --data DIR [--json]");
    int code = check_data_dir(args->data);
    if (code)
        return code;
    char err[CLI_PEERS_ERROR_MAX];
    peer_entry_t *peers = NULL;
    size_t count = 0;
    int rc = peers_load(args->data, &peers, &count, err, sizeof err);
    if (rc)
        return cli_fail(exit_code(rc), "%s", err);
    const char *why_unknown = NULL;
    Storemesh__Response *live = count ? ask_live(args->data, &why_unknown) : NULL;
    print_peers(args, peers, count, live, why_unknown);
    if (live)
        smclient_response_free(live);
    free(peers);
    return CLI_EXIT_OK;
}
