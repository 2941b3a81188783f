#include "control.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sm_error.h"

#include <sodium.h>

// Every allocation of a reply goes through here so one call frees it all. On
// exhaustion the reply degrades to an error message rather than crashing.
static void *
reply_alloc(control_reply_t *reply, size_t size)
{
    void *block = calloc(1, size ? size : 1);
    if (!block)
        return NULL;
    if (reply->owned_count < CONTROL_ARENA_MAX) {
        reply->owned[reply->owned_count++] = block;
        return block;
    }
    if (reply->extra_count == reply->extra_cap) {
        size_t cap = reply->extra_cap ? reply->extra_cap * 2 : 64;
        void **grown = realloc(reply->extra, cap * sizeof *grown);
        if (!grown) {
            free(block);
            return NULL;
        }
        reply->extra = grown;
        reply->extra_cap = cap;
    }
    reply->extra[reply->extra_count++] = block;
    return block;
}

static char *
reply_strdup(control_reply_t *reply, const char *text)
{
    size_t len = strlen(text);
    char *copy = reply_alloc(reply, len + 1);
    if (copy)
        memcpy(copy, text, len + 1);
    return copy;
}

static void
reply_init(control_reply_t *reply)
{
    memset(reply, 0, sizeof *reply);
    storemesh__response__init(&reply->response);
}

void
control_reply_free(control_reply_t *reply)
{
    for (size_t i = 0; i < reply->owned_count; i++)
        free(reply->owned[i]);
    for (size_t i = 0; i < reply->extra_count; i++)
        free(reply->extra[i]);
    free(reply->extra);
    memset(reply, 0, sizeof *reply);
}

static void
reply_error(control_reply_t *reply, const char *message)
{
    control_reply_free(reply);
    reply_init(reply);
    reply->response.body_case = STOREMESH__RESPONSE__BODY_ERROR;
    reply->response.error = (char *)message; // static text
}

void
control_command_from_proto(core_command_t *command, const Storemesh__Command *proto)
{
    command->command_id = proto->command_id;
    command->source = proto->source;
    command->type = proto->type;
    command->key = proto->key;
    command->field = proto->field;
    command->op = proto->op;
    command->value = (const char *)proto->value.data;
    command->value_len = proto->value.len;
    command->has_value = proto->has_value;
    if (!command->value)
        command->value = "";
}

void
control_submit_reply(const core_result_t *results, size_t count, control_reply_t *reply)
{
    reply_init(reply);
    Storemesh__SubmitReply *submit = reply_alloc(reply, sizeof *submit);
    Storemesh__CommandResult **items = reply_alloc(reply, count * sizeof *items);
    Storemesh__CommandResult *storage = reply_alloc(reply, count * sizeof *storage);
    if (!submit || !items || !storage) {
        reply_error(reply, "the node is out of memory; retry with the same command IDs");
        return;
    }
    storemesh__submit_reply__init(submit);
    for (size_t i = 0; i < count; i++) {
        storemesh__command_result__init(&storage[i]);
        storage[i].code = (Storemesh__ResultCode)results[i].code;
        storage[i].duplicate = results[i].duplicate;
        storage[i].audit_id = (char *)results[i].audit_id;
        storage[i].message = (char *)results[i].message;
        items[i] = &storage[i];
    }
    // The strings point into the core's results, which live until the next effect;
    // the daemon packs the reply before asking for one.
    submit->n_results = count;
    submit->results = items;
    reply->response.body_case = STOREMESH__RESPONSE__BODY_SUBMIT;
    reply->response.submit = submit;
}

static char **
copy_strings(control_reply_t *reply, char *const *strings, size_t count)
{
    char **out = reply_alloc(reply, count * sizeof *out);
    for (size_t i = 0; out && i < count; i++)
        out[i] = reply_strdup(reply, strings[i]);
    return out;
}

static void
answer_get(const core_t *core, const Storemesh__GetRequest *get, control_reply_t *reply)
{
    Storemesh__GetReply *out = reply_alloc(reply, sizeof *out);
    if (!out)
        return reply_error(reply, "out of memory");
    storemesh__get_reply__init(out);
    reply->response.body_case = STOREMESH__RESPONSE__BODY_GET;
    reply->response.get = out;
    core_entity_view_t view;
    char message[CORE_MESSAGE_MAX];
    int rc = core_get(core, get->type, get->key, &view, message, sizeof message);
    if (rc) {
        out->code = rc == -SM_EINVAL ? STOREMESH__RESULT_CODE__RESULT_BAD_INPUT
                                     : STOREMESH__RESULT_CODE__RESULT_FAILED;
        out->message = reply_strdup(reply, message);
        return;
    }
    out->fields = reply_alloc(reply, (view.field_count ? view.field_count : 1) * sizeof *out->fields);
    for (size_t i = 0; out->fields && i < view.field_count; i++) {
        const core_field_view_t *field = &view.fields[i];
        Storemesh__FieldValue *value = reply_alloc(reply, sizeof *value);
        if (!value)
            break;
        storemesh__field_value__init(value);
        value->name = reply_strdup(reply, field->rule->name);
        value->merge = reply_strdup(reply, crdt_kind_name(field->rule->merge));
        value->is_number = field->view.is_number;
        value->number = field->view.number;
        value->is_list = field->rule->merge == CRDT_KIND_AWSET ||
                         field->rule->merge == CRDT_KIND_KEEPBOTH;
        value->n_values = field->view.value_count;
        value->values = copy_strings(reply, field->view.values, field->view.value_count);
        value->n_conflicts = field->view.conflicts ? field->view.conflict_count : 0;
        value->conflicts = copy_strings(reply, field->view.conflicts, value->n_conflicts);
        out->fields[out->n_fields++] = value;
    }
    core_entity_view_free(&view);
}

static void
answer_status(const core_t *core, uint64_t wall_ms, uint64_t started_ms, control_reply_t *reply)
{
    Storemesh__StatusReply *out = reply_alloc(reply, sizeof *out);
    Storemesh__Limits *limits = reply_alloc(reply, sizeof *limits);
    core_status_t *status = reply_alloc(reply, sizeof *status);
    char **actions = reply_alloc(reply, CORE_ACTIONS_MAX * sizeof *actions);
    char *hash_hex = reply_alloc(reply, 2 * RULES_HASH_BYTES + 1);
    if (!out || !limits || !status || !actions || !hash_hex)
        return reply_error(reply, "out of memory");
    storemesh__status_reply__init(out);
    storemesh__limits__init(limits);
    core_status(core, wall_ms, status);
    const rules_t *rules = core_rules(core);
    const rules_limits_t *rule_limits = rules_limits(rules);
    out->node = (char *)core_name(core);
    out->state = (char *)core_state_name(status->state);
    out->queue_depth = status->queue_depth;
    out->offline_seconds = status->offline_seconds;
    limits->max_queue_depth = rule_limits->max_queue_depth;
    limits->max_offline_seconds = rule_limits->max_offline_s;
    limits->warn_at_percent = rule_limits->warn_at_percent;
    limits->at_limit =
        rule_limits->at_limit == RULES_AT_LIMIT_WARN_ONLY ? "warn-only" : "refuse-new-work";
    out->limits = limits;
    for (size_t i = 0; i < status->action_count; i++)
        actions[i] = status->actions[i];
    out->n_actions = status->action_count;
    out->actions = actions;
    out->mesh = (char *)rules_mesh(rules);
    out->authority = (char *)(rules_authority(rules) ? rules_authority(rules) : "");
    out->operations = status->operations;
    out->last_seq = status->last_seq;
    out->commands_refused = status->commands_refused;
    out->writes = status->writes;
    out->write_failures = status->write_failures;
    out->uptime_seconds = wall_ms > started_ms ? (wall_ms - started_ms) / 1000 : 0;
    const uint8_t *hash = rules_hash(rules);
    for (int i = 0; i < RULES_HASH_BYTES; i++)
        snprintf(hash_hex + 2 * i, 3, "%02x", hash[i]);
    out->rules_hash = hash_hex;
    reply->response.body_case = STOREMESH__RESPONSE__BODY_STATUS;
    reply->response.status = out;
}

static void
answer_audit(const core_t *core, const Storemesh__AuditRequest *audit, control_reply_t *reply)
{
    Storemesh__AuditReply *out = reply_alloc(reply, sizeof *out);
    core_audit_t *found = reply_alloc(reply, sizeof *found);
    if (!out || !found)
        return reply_error(reply, "out of memory");
    storemesh__audit_reply__init(out);
    reply->response.body_case = STOREMESH__RESPONSE__BODY_AUDIT;
    reply->response.audit = out;
    char message[CORE_MESSAGE_MAX];
    int rc = core_audit(core, audit->audit_id, found, message, sizeof message);
    out->audit_id = reply_strdup(reply, audit->audit_id);
    if (rc) {
        out->code = rc == -SM_EINVAL      ? STOREMESH__RESULT_CODE__RESULT_BAD_INPUT
                    : rc == -SM_ENOTFOUND ? STOREMESH__RESULT_CODE__RESULT_REFUSED
                                          : STOREMESH__RESULT_CODE__RESULT_FAILED;
        out->message = reply_strdup(reply, message);
        return;
    }
    uint8_t *bytes = reply_alloc(reply, found->operation_len);
    if (bytes)
        memcpy(bytes, found->operation, found->operation_len);
    out->operation = (ProtobufCBinaryData){bytes ? found->operation_len : 0, bytes};
    out->hash = reply_strdup(reply, found->hash_hex);
    out->sealed = found->sealed;
    out->explain = reply_strdup(reply, found->explain);
    core_audit_free(found);
}

static void
answer_digest(const core_t *core, control_reply_t *reply)
{
    Storemesh__DigestReply *out = reply_alloc(reply, sizeof *out);
    char *hex = reply_alloc(reply, 65);
    if (!out || !hex)
        return reply_error(reply, "out of memory");
    storemesh__digest_reply__init(out);
    uint64_t fields = 0;
    if (core_digest(core, hex, &fields))
        return reply_error(reply, "cannot read the state to digest it; see the node's log");
    out->digest = hex;
    out->fields = fields;
    reply->response.body_case = STOREMESH__RESPONSE__BODY_DIGEST;
    reply->response.digest = out;
}

void
control_answer_read(const core_t *core, const Storemesh__Request *request, uint64_t wall_ms,
                    uint64_t started_ms, control_reply_t *reply)
{
    reply_init(reply);
    switch (request->body_case) {
    case STOREMESH__REQUEST__BODY_GET:
        return answer_get(core, request->get, reply);
    case STOREMESH__REQUEST__BODY_STATUS:
        return answer_status(core, wall_ms, started_ms, reply);
    case STOREMESH__REQUEST__BODY_AUDIT:
        return answer_audit(core, request->audit, reply);
    case STOREMESH__REQUEST__BODY_DIGEST:
        return answer_digest(core, reply);
    default:
        return reply_error(reply, "unknown request kind; this node speaks version 1 "
                                  "(docs/CONTROL.md)");
    }
}

// One PeerStatus per link in the table, with the core's view of it.
static Storemesh__PeerStatus **
peer_statuses(const core_t *core, const control_links_t *links, uint64_t wall_ms,
              control_reply_t *reply, size_t *count)
{
    *count = 0;
    size_t table = links->count;
    core_peer_status_t *live = reply_alloc(reply, (table ? table : 1) * sizeof *live);
    Storemesh__PeerStatus **out = reply_alloc(reply, (table ? table : 1) * sizeof *out);
    if (!live || !out)
        return NULL;
    size_t live_count = core_peers_status(core, wall_ms, live, table);
    if (live_count > table)
        live_count = table;
    for (size_t i = 0; i < table; i++) {
        const control_peer_t *peer = &links->peers[i];
        Storemesh__PeerStatus *status = reply_alloc(reply, sizeof *status);
        char *key_hex = reply_alloc(reply, 2 * crypto_sign_PUBLICKEYBYTES + 1);
        if (!status || !key_hex)
            return NULL;
        storemesh__peer_status__init(status);
        status->name = reply_strdup(reply, peer->name);
        status->endpoint = reply_strdup(reply, peer->endpoint);
        sodium_bin2hex(key_hex, 2 * crypto_sign_PUBLICKEYBYTES + 1, peer->public_key,
                       crypto_sign_PUBLICKEYBYTES);
        status->public_key = key_hex;
        for (size_t k = 0; k < live_count; k++) {
            if (strcmp(live[k].name, peer->name) != 0)
                continue;
            status->connected = live[k].connected;
            status->last_exchange_ms = live[k].last_receive_ms;
            status->we_owe = live[k].we_owe;
            status->they_owe = live[k].they_owe;
        }
        out[(*count)++] = status;
    }
    return out;
}

void
control_answer_peers(const core_t *core, const control_links_t *links, uint64_t wall_ms,
                     control_reply_t *reply)
{
    reply_init(reply);
    Storemesh__PeersReply *out = reply_alloc(reply, sizeof *out);
    if (!out)
        return reply_error(reply, "out of memory");
    storemesh__peers_reply__init(out);
    out->peers = peer_statuses(core, links, wall_ms, reply, &out->n_peers);
    if (!out->peers && links->count)
        return reply_error(reply, "out of memory");
    reply->response.body_case = STOREMESH__RESPONSE__BODY_PEERS;
    reply->response.peers = out;
}

void
control_status_add_links(const core_t *core, const control_links_t *links, uint64_t wall_ms,
                         control_reply_t *reply)
{
    if (reply->response.body_case != STOREMESH__RESPONSE__BODY_STATUS)
        return;
    Storemesh__StatusReply *status = reply->response.status;
    status->peers = peer_statuses(core, links, wall_ms, reply, &status->n_peers);
    if (!status->peers)
        status->n_peers = 0;
    status->links_refused = links->links_refused;
    const core_replication_counters_t *counters = core_counters(core);
    status->operations_refused =
        counters->forged + counters->broken_chain + counters->unknown_origin;
    status->bytes_sent = counters->bytes_sent;
    status->operations_received = counters->operations_received;
}
