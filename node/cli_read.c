// cli_read: `get`, `status`, `audit` and `digest`: ask the running node, print for
// people (text) or programs (--json).
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "hlc.h"
#include "smclient.h"
#include "sm_error.h"

// Sends request; 0 with *response holding the expected body, or an exit code.
static int
ask(const cli_args_t *args, Storemesh__Request *request, Storemesh__Response__BodyCase expected,
    Storemesh__Response **response)
{
    char err[SMCLIENT_ERROR_MAX];
    int rc = 0;
    smclient_t *client = smclient_new(args->data, SMCLIENT_TIMEOUT_MS_DEFAULT, &rc, err, sizeof err);
    if (!client)
        return cli_fail(rc == -SM_ENOTRUNNING ? CLI_EXIT_NOT_RUNNING : CLI_EXIT_ENVIRONMENT, "%s",
                        err);
    request->version = 1;
    rc = smclient_call(client, request, response);
    smclient_destroy(&client);
    if (rc)
        return cli_client_error(rc, args->data, "request");
    if ((*response)->body_case == STOREMESH__RESPONSE__BODY_ERROR) {
        int code = cli_fail(CLI_EXIT_ENVIRONMENT, "%s", (*response)->error);
        smclient_response_free(*response);
        return code;
    }
    if ((*response)->body_case != expected) {
        smclient_response_free(*response);
        return cli_fail(CLI_EXIT_ENVIRONMENT,
                        "the node answered with the wrong message; is it the same version?");
    }
    return 0;
}

static void
print_json(json_object *object)
{
    printf("%s\n", json_object_to_json_string_ext(object, JSON_C_TO_STRING_PLAIN |
                                                              JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(object);
}

static json_object *
json_strings(char **values, size_t count)
{
    json_object *array = json_object_new_array();
    for (size_t i = 0; i < count; i++)
        json_object_array_add(array, json_object_new_string(values[i]));
    return array;
}

static json_object *
field_json(const Storemesh__FieldValue *field)
{
    if (field->is_number)
        return json_object_new_int64(field->number);
    if (field->is_list)
        return json_strings(field->values, field->n_values);
    return field->n_values ? json_object_new_string(field->values[0]) : json_object_new_null();
}

static void
print_get_text(const cli_args_t *args, const Storemesh__GetReply *get)
{
    printf("%s %s\n", args->positional[0], args->positional[1]);
    if (get->n_fields == 0)
        printf("  (nothing recorded yet)\n");
    for (size_t i = 0; i < get->n_fields; i++) {
        const Storemesh__FieldValue *field = get->fields[i];
        printf("  %-14s %-18s ", field->name, field->merge);
        if (field->is_number) {
            printf("%lld", (long long)field->number);
        } else if (field->is_list) {
            printf("[");
            for (size_t k = 0; k < field->n_values; k++)
                printf("%s%s", k ? ", " : "", field->values[k]);
            printf("]");
        } else {
            printf("%s", field->n_values ? field->values[0] : "(none)");
        }
        if (field->is_list && field->n_values > 1 && strcmp(field->merge, "keep-both") == 0)
            printf("   <- %zu values kept: someone must choose one", field->n_values);
        for (size_t k = 0; k < field->n_conflicts; k++)
            printf("\n  %-14s conflict: %s (did not stand)", "", field->conflicts[k]);
        printf("\n");
    }
}

int
cli_get(const cli_args_t *args)
{
    if (args->positional_count != 2)
        return cli_fail(CLI_EXIT_USAGE, "usage: storemesh get --data DIR TYPE KEY [--json]");
    Storemesh__GetRequest get = STOREMESH__GET_REQUEST__INIT;
    get.type = (char *)args->positional[0];
    get.key = (char *)args->positional[1];
    Storemesh__Request request = STOREMESH__REQUEST__INIT;
    request.body_case = STOREMESH__REQUEST__BODY_GET;
    request.get = &get;
    Storemesh__Response *response = NULL;
    int code = ask(args, &request, STOREMESH__RESPONSE__BODY_GET, &response);
    if (code)
        return code;
    const Storemesh__GetReply *reply = response->get;
    if (reply->code != STOREMESH__RESULT_CODE__RESULT_OK) {
        code = cli_fail(reply->code == STOREMESH__RESULT_CODE__RESULT_BAD_INPUT
                            ? CLI_EXIT_USAGE
                            : CLI_EXIT_ENVIRONMENT,
                        "%s", reply->message);
    } else if (args->json) {
        json_object *object = json_object_new_object();
        json_object *fields = json_object_new_object();
        json_object *conflicts = NULL;
        json_object_object_add(object, "type", json_object_new_string(args->positional[0]));
        json_object_object_add(object, "key", json_object_new_string(args->positional[1]));
        for (size_t i = 0; i < reply->n_fields; i++) {
            json_object_object_add(fields, reply->fields[i]->name, field_json(reply->fields[i]));
            if (reply->fields[i]->n_conflicts) {
                conflicts = conflicts ? conflicts : json_object_new_object();
                json_object_object_add(conflicts, reply->fields[i]->name,
                                       json_strings(reply->fields[i]->conflicts,
                                                    reply->fields[i]->n_conflicts));
            }
        }
        json_object_object_add(object, "fields", fields);
        if (conflicts)
            json_object_object_add(object, "conflicts", conflicts);
        print_json(object);
    } else {
        print_get_text(args, reply);
    }
    smclient_response_free(response);
    return code;
}

static void
print_peer_lines(const Storemesh__StatusReply *status)
{
    size_t links = 0;
    for (size_t i = 0; i < status->n_peers; i++)
        links += strcmp(status->peers[i]->endpoint, "none") != 0;
    if (links == 0) {
        printf("  peers: none linked (add one with `storemesh peer add`)\n");
        return;
    }
    printf("  peers:\n");
    for (size_t i = 0; i < status->n_peers; i++) {
        const Storemesh__PeerStatus *peer = status->peers[i];
        if (strcmp(peer->endpoint, "none") == 0)
            continue;
        printf("    %-16s %-13s we owe %llu, they owe %llu operations\n", peer->name,
               peer->connected ? "connected" : "NOT CONNECTED", (unsigned long long)peer->we_owe,
               (unsigned long long)peer->they_owe);
    }
}

static void
print_status_text(const Storemesh__StatusReply *status)
{
    static const char *const banners[] = {"OK", "WARNING", "AT LIMIT"};
    int level = strcmp(status->state, "limit") == 0  ? 2
                : strcmp(status->state, "warn") == 0 ? 1
                                                     : 0;
    printf("storemesh node %s: %s\n", status->node, banners[level]);
    bool authority = strcmp(status->node, status->authority) == 0;
    const char *head_office = status->authority[0] ? status->authority : "the authority";
    if (authority) {
        printf("  this node is the authority (%s): it has no queue of its own\n", status->node);
    } else {
        // Heard from within the link timeout (5 s) counts as online.
        if (status->offline_seconds <= 5)
            printf("  ONLINE: in contact with %s\n", head_office);
        else
            printf("  OFFLINE from %s for %llu h %02llu min (limit %llu h)\n", head_office,
                   (unsigned long long)status->offline_seconds / 3600,
                   (unsigned long long)(status->offline_seconds % 3600) / 60,
                   (unsigned long long)status->limits->max_offline_seconds / 3600);
        printf("  queue: %llu of %llu operations waiting for %s (warn at %u%%, then %s)\n",
               (unsigned long long)status->queue_depth,
               (unsigned long long)status->limits->max_queue_depth, head_office,
               status->limits->warn_at_percent, status->limits->at_limit);
    }
    printf("  log: %llu operations, this node's last sequence %llu\n",
           (unsigned long long)status->operations, (unsigned long long)status->last_seq);
    printf("  commands refused since start: %llu\n",
           (unsigned long long)status->commands_refused);
    print_peer_lines(status);
    if (status->links_refused || status->operations_refused)
        printf("  refused since start: %llu link attempts by unknown keys, %llu forged or altered "
               "operations\n",
               (unsigned long long)status->links_refused,
               (unsigned long long)status->operations_refused);
    for (size_t i = 0; i < status->n_actions; i++)
        printf("  ACTION: %s\n", status->actions[i]);
    if (status->n_actions == 0)
        printf("  no action needed\n");
}

static json_object *
peers_json(const Storemesh__StatusReply *status)
{
    json_object *array = json_object_new_array();
    for (size_t i = 0; i < status->n_peers; i++) {
        const Storemesh__PeerStatus *peer = status->peers[i];
        json_object *object = json_object_new_object();
        json_object_object_add(object, "name", json_object_new_string(peer->name));
        json_object_object_add(object, "endpoint", json_object_new_string(peer->endpoint));
        json_object_object_add(object, "connected", json_object_new_boolean(peer->connected));
        json_object_object_add(object, "last_exchange_ms",
                               json_object_new_uint64(peer->last_exchange_ms));
        json_object_object_add(object, "we_owe", json_object_new_uint64(peer->we_owe));
        json_object_object_add(object, "they_owe", json_object_new_uint64(peer->they_owe));
        json_object_array_add(array, object);
    }
    return array;
}

int
cli_status(const cli_args_t *args)
{
    if (args->positional_count)
        return cli_fail(CLI_EXIT_USAGE, "usage: storemesh status --data DIR [--json]");
    Storemesh__StatusRequest status = STOREMESH__STATUS_REQUEST__INIT;
    Storemesh__Request request = STOREMESH__REQUEST__INIT;
    request.body_case = STOREMESH__REQUEST__BODY_STATUS;
    request.status = &status;
    Storemesh__Response *response = NULL;
    int code = ask(args, &request, STOREMESH__RESPONSE__BODY_STATUS, &response);
    if (code)
        return code;
    const Storemesh__StatusReply *reply = response->status;
    if (!reply->limits) {
        smclient_response_free(response);
        return cli_fail(CLI_EXIT_ENVIRONMENT, "the node's status carries no limits");
    }
    if (args->json) {
        json_object *object = json_object_new_object();
        json_object *limits = json_object_new_object();
        json_object_object_add(object, "node", json_object_new_string(reply->node));
        json_object_object_add(object, "state", json_object_new_string(reply->state));
        json_object_object_add(object, "queue_depth", json_object_new_uint64(reply->queue_depth));
        json_object_object_add(object, "offline_seconds",
                               json_object_new_uint64(reply->offline_seconds));
        json_object_object_add(limits, "max_queue_depth",
                               json_object_new_uint64(reply->limits->max_queue_depth));
        json_object_object_add(limits, "max_offline_seconds",
                               json_object_new_uint64(reply->limits->max_offline_seconds));
        json_object_object_add(limits, "warn_at_percent",
                               json_object_new_int(reply->limits->warn_at_percent));
        json_object_object_add(limits, "at_limit", json_object_new_string(reply->limits->at_limit));
        json_object_object_add(object, "limits", limits);
        json_object_object_add(object, "actions", json_strings(reply->actions, reply->n_actions));
        json_object_object_add(object, "peers", peers_json(reply));
        json_object_object_add(object, "links_refused",
                               json_object_new_uint64(reply->links_refused));
        json_object_object_add(object, "operations_refused",
                               json_object_new_uint64(reply->operations_refused));
        json_object_object_add(object, "bytes_sent", json_object_new_uint64(reply->bytes_sent));
        json_object_object_add(object, "operations_received",
                               json_object_new_uint64(reply->operations_received));
        json_object_object_add(object, "mesh", json_object_new_string(reply->mesh));
        json_object_object_add(object, "authority", json_object_new_string(reply->authority));
        json_object_object_add(object, "operations", json_object_new_uint64(reply->operations));
        json_object_object_add(object, "last_seq", json_object_new_uint64(reply->last_seq));
        json_object_object_add(object, "commands_refused",
                               json_object_new_uint64(reply->commands_refused));
        json_object_object_add(object, "writes", json_object_new_uint64(reply->writes));
        json_object_object_add(object, "write_failures",
                               json_object_new_uint64(reply->write_failures));
        json_object_object_add(object, "uptime_seconds",
                               json_object_new_uint64(reply->uptime_seconds));
        json_object_object_add(object, "rules_hash", json_object_new_string(reply->rules_hash));
        print_json(object);
    } else {
        print_status_text(reply);
    }
    smclient_response_free(response);
    return CLI_EXIT_OK;
}

static const char *
op_name(Storemesh__OpKind op)
{
    switch (op) {
    case STOREMESH__OP_KIND__OP_KIND_ADD:
        return "add";
    case STOREMESH__OP_KIND__OP_KIND_REMOVE:
        return "remove";
    case STOREMESH__OP_KIND__OP_KIND_SET:
        return "set";
    default:
        return "?";
    }
}

static void
hex(char *out, const ProtobufCBinaryData *bytes)
{
    size_t len = bytes->len > 32 ? 32 : bytes->len;
    for (size_t i = 0; i < len; i++)
        snprintf(out + 2 * i, 3, "%02x", bytes->data[i]);
    out[2 * len] = 0;
}

static void
format_time(char *out, size_t out_size, uint64_t hlc)
{
    time_t seconds = (time_t)(hlc_wall_ms(hlc) / 1000);
    struct tm utc;
    gmtime_r(&seconds, &utc);
    strftime(out, out_size, "%Y-%m-%dT%H:%M:%SZ", &utc);
}

static void
print_audit(const cli_args_t *args, const Storemesh__AuditReply *reply,
            const Storemesh__Operation *op)
{
    char when[32];
    char value[1100];
    char rules_hex[65];
    char prev_hex[65];
    format_time(when, sizeof when, op->hlc);
    hex(rules_hex, &op->rules_hash);
    hex(prev_hex, &op->prev_hash);
    if (op->op == STOREMESH__OP_KIND__OP_KIND_ADD && op->value.len == 0)
        snprintf(value, sizeof value, "%lld", (long long)op->delta);
    else
        snprintf(value, sizeof value, "%.*s", (int)op->value.len, (const char *)op->value.data);
    if (args->json) {
        json_object *object = json_object_new_object();
        json_object_object_add(object, "audit_id", json_object_new_string(reply->audit_id));
        json_object_object_add(object, "origin", json_object_new_string(op->origin));
        json_object_object_add(object, "seq", json_object_new_uint64(op->seq));
        json_object_object_add(object, "hlc", json_object_new_uint64(op->hlc));
        json_object_object_add(object, "time", json_object_new_string(when));
        json_object_object_add(object, "command_id", json_object_new_string(op->command_id));
        json_object_object_add(object, "source", json_object_new_string(op->source));
        json_object_object_add(object, "type", json_object_new_string(op->type));
        json_object_object_add(object, "key", json_object_new_string(op->key));
        json_object_object_add(object, "field", json_object_new_string(op->field));
        json_object_object_add(object, "op", json_object_new_string(op_name(op->op)));
        json_object_object_add(object, "value", json_object_new_string(value));
        json_object_object_add(object, "rules_hash", json_object_new_string(rules_hex));
        json_object_object_add(object, "prev_hash", json_object_new_string(prev_hex));
        json_object_object_add(object, "hash", json_object_new_string(reply->hash));
        json_object_object_add(object, "sealed", json_object_new_boolean(reply->sealed));
        json_object_object_add(object, "rule", json_object_new_string(reply->explain));
        print_json(object);
        return;
    }
    printf("audit ID     %s\n", reply->audit_id);
    printf("what         %s %s %s %s %s\n", op->type, op->key, op->field, op_name(op->op), value);
    printf("where, when  node %s, operation #%llu, %s\n", op->origin,
           (unsigned long long)op->seq, when);
    printf("asked by     %s (command ID %s)\n", op->source[0] ? op->source : "-",
           op->command_id[0] ? op->command_id : "-");
    printf("rule         %s\n", reply->explain[0] ? reply->explain : "-");
    printf("signature    %s\n", reply->sealed ? "verified: signed by its origin, chain intact"
                                              : "NOT verified (origin key unknown here, or damage)");
    printf("hash         %s\n", reply->hash);
    printf("previous     %s\n", prev_hex);
    printf("rules file   %s\n", rules_hex);
}

int
cli_audit(const cli_args_t *args)
{
    if (args->positional_count != 1)
        return cli_fail(CLI_EXIT_USAGE, "usage: storemesh audit --data DIR AUDIT_ID [--json]");
    Storemesh__AuditRequest audit = STOREMESH__AUDIT_REQUEST__INIT;
    audit.audit_id = (char *)args->positional[0];
    Storemesh__Request request = STOREMESH__REQUEST__INIT;
    request.body_case = STOREMESH__REQUEST__BODY_AUDIT;
    request.audit = &audit;
    Storemesh__Response *response = NULL;
    int code = ask(args, &request, STOREMESH__RESPONSE__BODY_AUDIT, &response);
    if (code)
        return code;
    const Storemesh__AuditReply *reply = response->audit;
    if (reply->code != STOREMESH__RESULT_CODE__RESULT_OK) {
        // Not found is not bad usage: the ID may not have arrived yet. Exit 4 says
        // "the node says no" to scripts; the message says why.
        code = cli_fail(reply->code == STOREMESH__RESULT_CODE__RESULT_BAD_INPUT ? CLI_EXIT_USAGE
                        : reply->code == STOREMESH__RESULT_CODE__RESULT_REFUSED
                            ? CLI_EXIT_REFUSED
                            : CLI_EXIT_ENVIRONMENT,
                        "%s", reply->message);
        smclient_response_free(response);
        return code;
    }
    Storemesh__Operation *op =
        storemesh__operation__unpack(NULL, reply->operation.len, reply->operation.data);
    if (!op) {
        code = cli_fail(CLI_EXIT_ENVIRONMENT, "the stored operation for %s does not decode",
                        reply->audit_id);
    } else {
        print_audit(args, reply, op);
    }
    storemesh__operation__free_unpacked(op, NULL);
    smclient_response_free(response);
    return code;
}

int
cli_digest(const cli_args_t *args)
{
    if (args->positional_count)
        return cli_fail(CLI_EXIT_USAGE, "usage: storemesh digest --data DIR");
    Storemesh__DigestRequest digest = STOREMESH__DIGEST_REQUEST__INIT;
    Storemesh__Request request = STOREMESH__REQUEST__INIT;
    request.body_case = STOREMESH__REQUEST__BODY_DIGEST;
    request.digest = &digest;
    Storemesh__Response *response = NULL;
    int code = ask(args, &request, STOREMESH__RESPONSE__BODY_DIGEST, &response);
    if (code)
        return code;
    printf("%s\n", response->digest->digest);
    smclient_response_free(response);
    return CLI_EXIT_OK;
}
