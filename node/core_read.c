// core_read: the read side of the core (get, status, audit, digest) and the small
// storage helpers staging shares. Reads see committed state only.
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_internal.h"
#include "keys.h"
#include "sm_error.h"
#include "storemesh.pb-c.h"

int
core_read(const core_t *self, store_cf_t cf, const uint8_t *key, size_t key_len, uint8_t **value,
          size_t *value_len)
{
    return self->reader.get(self->reader.ctx, cf, key, key_len, value, value_len);
}

void
core_hash(uint8_t out[CORE_HASH_BYTES], const uint8_t *bytes, size_t len)
{
    crypto_generichash(out, CORE_HASH_BYTES, bytes, len, NULL, 0);
}

void
core_hash_by(const core_signer_t *signer, uint8_t out[CORE_HASH_BYTES], const uint8_t *bytes,
             size_t len)
{
    if (signer && signer->hash)
        signer->hash(signer->ctx, out, bytes, len);
    else
        crypto_generichash(out, CORE_HASH_BYTES, bytes, len, NULL, 0);
}

void
core_hex(char *out, const uint8_t *bytes, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 0xf];
    }
    out[2 * len] = 0;
}

uint64_t
core_queue_depth(const core_t *self, const core_head_t *head)
{
    if (self->is_authority || head->last_seq <= self->authority_acked_seq)
        return 0;
    return head->last_seq - self->authority_acked_seq;
}

uint64_t
core_offline_seconds(const core_t *self, uint64_t wall_ms)
{
    if (self->is_authority)
        return 0;
    uint64_t since_ms = self->authority_contact_ms > self->created_ms ? self->authority_contact_ms
                                                                      : self->created_ms;
    return wall_ms > since_ms ? (wall_ms - since_ms) / 1000 : 0;
}

int
core_field_owner(const core_t *self, const rules_field_t *rule, const char *type, const char *key,
                 bool use_overlay, char *owner)
{
    owner[0] = 0;
    if (rule->owner_kind == RULES_OWNER_NODE) {
        snprintf(owner, CRDT_NAME_MAX + 1, "%s", rule->owner);
        return 0;
    }
    if (rule->owner_kind != RULES_OWNER_ORIGIN)
        return 0;
    uint8_t creator_key[KEYS_MAX];
    size_t creator_key_len = keys_state(creator_key, type, key, "");
    const uint8_t *staged = NULL;
    uint8_t *stored = NULL;
    size_t state_len = 0;
    if ((!use_overlay ||
         core_pending_get(self, STORE_CF_STATE, creator_key, creator_key_len, &staged,
                          &state_len) != 0) &&
        core_committed_get(self, creator_key, creator_key_len, &staged, &state_len) != 0) {
        int rc = core_read(self, STORE_CF_STATE, creator_key, creator_key_len, &stored, &state_len);
        if (rc == -SM_ENOTFOUND)
            return 0;
        if (rc)
            return rc;
        staged = stored;
    }
    crdt_view_t view;
    int rc = crdt_field_view(CRDT_KIND_FWW, staged, state_len, NULL, &view);
    free(stored);
    if (rc)
        return rc;
    if (view.value_count > 0)
        snprintf(owner, CRDT_NAME_MAX + 1, "%s", view.values[0]);
    crdt_view_free(&view);
    return 0;
}

const char *
core_state_name(core_state_t state)
{
    switch (state) {
    case CORE_STATE_WARN:
        return "warn";
    case CORE_STATE_LIMIT:
        return "limit";
    default:
        return "ok";
    }
}

static core_state_t
level(uint64_t value, uint64_t limit, uint32_t warn_percent)
{
    if (limit == 0)
        return CORE_STATE_OK;
    if (value >= limit)
        return CORE_STATE_LIMIT;
    // value * 100 >= limit * warn, computed without overflow for any uint64.
    if ((long double)value * 100.0L >= (long double)limit * warn_percent)
        return CORE_STATE_WARN;
    return CORE_STATE_OK;
}

static void
add_action(core_status_t *status, const char *format, ...) __attribute__((format(printf, 2, 3)));

static void
add_action(core_status_t *status, const char *format, ...)
{
    if (status->action_count >= CORE_ACTIONS_MAX)
        return;
    va_list args;
    va_start(args, format);
    vsnprintf(status->actions[status->action_count++], CORE_MESSAGE_MAX, format, args);
    va_end(args);
}

void
core_status(const core_t *self, uint64_t wall_ms, core_status_t *status)
{
    memset(status, 0, sizeof *status);
    const rules_limits_t *limits = rules_limits(self->rules);
    const char *authority = rules_authority(self->rules);
    if (!authority)
        authority = "the authority";
    status->queue_depth = core_queue_depth(self, &self->durable);
    status->offline_seconds = core_offline_seconds(self, wall_ms);
    status->last_seq = self->durable.last_seq;
    status->operations = self->durable.operations;
    status->commands_refused = self->commands_refused;
    bool refuses = limits->at_limit == RULES_AT_LIMIT_REFUSE_NEW_WORK;
    core_state_t queue = level(status->queue_depth, limits->max_queue_depth, limits->warn_at_percent);
    core_state_t offline =
        level(status->offline_seconds, limits->max_offline_s, limits->warn_at_percent);
    status->state = queue > offline ? queue : offline;
    status->write_failures = self->write_failures;
    status->writes = self->writes;
    if (self->write_error) {
        status->state = CORE_STATE_LIMIT;
        add_action(status,
                   "Writing to disk fails (%s): new sales are answered 'failed' and are not "
                   "recorded; everything accepted before is safe. Free disk space or fix the "
                   "disk, then restart the node.",
                   sm_strerror(self->write_error));
    }
    if (queue == CORE_STATE_LIMIT)
        add_action(status,
                   "Queue full: %" PRIu64 " sales and changes wait for %s (limit %" PRIu64
                   "). %s Restore the connection to %s; nothing already accepted is lost.",
                   status->queue_depth, authority, limits->max_queue_depth,
                   refuses ? "New work is being refused." : "New work is still accepted.",
                   authority);
    else if (queue == CORE_STATE_WARN)
        add_action(status,
                   "Queue at %" PRIu64 " of %" PRIu64 " operations waiting for %s. Check the "
                   "connection to %s before the limit is reached.",
                   status->queue_depth, limits->max_queue_depth, authority, authority);
    if (offline == CORE_STATE_LIMIT)
        add_action(status,
                   "Offline for %" PRIu64 " h, past the %" PRIu64 " h limit. %s Call IT to restore "
                   "the connection to %s.",
                   status->offline_seconds / 3600, limits->max_offline_s / 3600,
                   refuses ? "New work is being refused." : "New work is still accepted.",
                   authority);
    else if (offline == CORE_STATE_WARN)
        add_action(status,
                   "Offline for %" PRIu64 " h of the %" PRIu64 " h allowed. Check the connection "
                   "to %s.",
                   status->offline_seconds / 3600, limits->max_offline_s / 3600, authority);
}

// ---- get ----

typedef struct {
    const core_t *core;
    const rules_entity_t *entity;
    const char *type;
    const char *key;
    size_t prefix_len;
    uint8_t *states[1024]; // by field index; rules cap fields per entity
    size_t state_lens[1024];
    int rc;
} get_scan_t;

static int
get_scan_entry(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value,
               size_t value_len)
{
    get_scan_t *scan = arg;
    size_t field_len = key_len - scan->prefix_len;
    if (field_len == 0)
        return 0; // the creator record
    for (size_t i = 0; i < scan->entity->field_count && i < 1024; i++) {
        const char *name = scan->entity->fields[i].name;
        if (strlen(name) == field_len && memcmp(name, key + scan->prefix_len, field_len) == 0) {
            scan->states[i] = malloc(value_len ? value_len : 1);
            if (!scan->states[i]) {
                scan->rc = -SM_ENOMEM;
                return 1;
            }
            memcpy(scan->states[i], value, value_len);
            scan->state_lens[i] = value_len;
            return 0;
        }
    }
    return 0; // a field no longer in the rules: kept on disk, not shown
}

int
core_get(const core_t *self, const char *type, const char *key, core_entity_view_t *view,
         char *message, size_t message_size)
{
    memset(view, 0, sizeof *view);
    const rules_entity_t *entity = rules_entity(self->rules, type);
    if (!entity) {
        snprintf(message, message_size, "unknown type '%.64s'; see the rules file for the types",
                 type);
        return -SM_EINVAL;
    }
    if (strlen(key) == 0 || strlen(key) > KEYS_ENTITY_KEY_MAX) {
        snprintf(message, message_size, "KEY must be 1 to %d bytes", KEYS_ENTITY_KEY_MAX);
        return -SM_EINVAL;
    }
    get_scan_t *scan = calloc(1, sizeof *scan);
    view->fields = calloc(entity->field_count ? entity->field_count : 1, sizeof *view->fields);
    if (!scan || !view->fields) {
        free(scan);
        free(view->fields);
        view->fields = NULL;
        return -SM_ENOMEM;
    }
    *scan = (get_scan_t){.core = self, .entity = entity, .type = type, .key = key};
    uint8_t prefix[KEYS_MAX];
    scan->prefix_len = keys_entity_prefix(prefix, type, key);
    int rc = core_state_scan(self, prefix, scan->prefix_len, get_scan_entry, scan);
    if (rc == 0)
        rc = scan->rc;
    for (size_t i = 0; rc == 0 && i < entity->field_count && i < 1024; i++) {
        if (!scan->states[i])
            continue;
        const rules_field_t *rule = &entity->fields[i];
        char owner[CRDT_NAME_MAX + 1];
        rc = core_field_owner(self, rule, type, key, false, owner);
        core_field_view_t *field = &view->fields[view->field_count];
        if (rc == 0)
            rc = crdt_field_view(rule->merge, scan->states[i], scan->state_lens[i], owner,
                                 &field->view);
        if (rc == 0) {
            field->rule = rule;
            view->field_count++;
        }
    }
    for (size_t i = 0; i < 1024; i++)
        free(scan->states[i]);
    free(scan);
    if (rc) {
        snprintf(message, message_size, "cannot read %s '%.64s': %s", type, key, sm_strerror(rc));
        core_entity_view_free(view);
    }
    return rc;
}

void
core_entity_view_free(core_entity_view_t *view)
{
    for (size_t i = 0; i < view->field_count; i++)
        crdt_view_free(&view->fields[i].view);
    free(view->fields);
    memset(view, 0, sizeof *view);
}

// ---- digest ----

typedef struct {
    crypto_generichash_state hash;
    uint64_t count;
} digest_scan_t;

static int
digest_entry(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value, size_t value_len)
{
    digest_scan_t *scan = arg;
    uint8_t lengths[16];
    keys_put_be64(lengths, key_len);
    keys_put_be64(lengths + 8, value_len);
    crypto_generichash_update(&scan->hash, lengths, sizeof lengths);
    crypto_generichash_update(&scan->hash, key, key_len);
    crypto_generichash_update(&scan->hash, value, value_len);
    scan->count++;
    return 0;
}

int
core_digest(const core_t *self, char hex[65], uint64_t *field_count)
{
    digest_scan_t scan = {.count = 0};
    crypto_generichash_init(&scan.hash, NULL, 0, CORE_HASH_BYTES);
    int rc = core_state_scan(self, NULL, 0, digest_entry, &scan);
    if (rc)
        return rc;
    uint8_t out[CORE_HASH_BYTES];
    crypto_generichash_final(&scan.hash, out, sizeof out);
    core_hex(hex, out, sizeof out);
    *field_count = scan.count;
    return 0;
}

// ---- audit ----

// Longest chain walk from an operation to the seal that covers it: a batch is at
// most a few thousand operations, so anything longer is damage.
#define AUDIT_CHAIN_WALK_MAX 100000

typedef struct {
    uint8_t *seal;
    size_t seal_len;
} seal_scan_t;

static int
first_seal(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value, size_t value_len)
{
    (void)key;
    (void)key_len;
    seal_scan_t *scan = arg;
    scan->seal = malloc(value_len);
    if (scan->seal) {
        memcpy(scan->seal, value, value_len);
        scan->seal_len = value_len;
    }
    return 1;
}

static bool
seal_signature_ok(const core_t *self, const Storemesh__Seal *seal)
{
    if (!seal->origin || seal->head_hash.len != CORE_HASH_BYTES ||
        seal->signature.len != crypto_sign_BYTES)
        return false;
    const uint8_t *public_key = self->public_key;
    if (strcmp(seal->origin, self->name) != 0) {
        const core_origin_t *origin = core_origin_find(self, seal->origin);
        if (!origin || !origin->has_key)
            return false; // no key for that origin on this node (docs/CLI.md, peer add)
        public_key = origin->public_key;
    }
    return core_seal_verifies(seal, public_key, &self->signer);
}

// Follows the hash chain from (origin, seq) with hash `hash` to the seal's head.
static bool
chain_reaches_seal(const core_t *self, const char *origin, uint64_t seq, const uint8_t *hash,
                   const Storemesh__Seal *seal)
{
    uint8_t current[CORE_HASH_BYTES];
    memcpy(current, hash, CORE_HASH_BYTES);
    if (seal->seq < seq || seal->seq - seq > AUDIT_CHAIN_WALK_MAX)
        return false;
    for (uint64_t next = seq + 1; next <= seal->seq; next++) {
        uint8_t key[KEYS_MAX];
        uint8_t *bytes = NULL;
        size_t len = 0;
        if (core_read(self, STORE_CF_LOG, key, keys_log(key, origin, next), &bytes, &len))
            return false;
        Storemesh__Operation *op = storemesh__operation__unpack(NULL, len, bytes);
        bool linked = op && op->prev_hash.len == CORE_HASH_BYTES &&
                      memcmp(op->prev_hash.data, current, CORE_HASH_BYTES) == 0;
        storemesh__operation__free_unpacked(op, NULL);
        core_hash(current, bytes, len);
        free(bytes);
        if (!linked)
            return false;
    }
    return memcmp(current, seal->head_hash.data, CORE_HASH_BYTES) == 0;
}

static bool
is_sealed(const core_t *self, const char *origin, uint64_t seq, const uint8_t *hash)
{
    uint8_t prefix[KEYS_MAX];
    size_t prefix_len = strlen(origin) + 1;
    uint8_t start[KEYS_MAX];
    size_t start_len = keys_log(start, origin, seq);
    memcpy(prefix, start, prefix_len);
    seal_scan_t scan = {0};
    if (self->reader.scan(self->reader.ctx, STORE_CF_SEAL, prefix, prefix_len, start, start_len,
                          first_seal, &scan) ||
        !scan.seal)
        return false;
    Storemesh__Seal *seal = storemesh__seal__unpack(NULL, scan.seal_len, scan.seal);
    free(scan.seal);
    bool ok = seal && seal_signature_ok(self, seal) &&
              chain_reaches_seal(self, origin, seq, hash, seal);
    storemesh__seal__free_unpacked(seal, NULL);
    return ok;
}

int
core_audit(const core_t *self, const char *audit_id, core_audit_t *audit, char *message,
           size_t message_size)
{
    memset(audit, 0, sizeof *audit);
    char origin[CRDT_NAME_MAX + 1];
    uint64_t seq = 0;
    if (audit_id_parse(audit_id, origin, &seq)) {
        snprintf(message, message_size,
                 "'%.80s' is not an audit ID (expected NAME-NUMBER-LETTER, e.g. branch-a-42-K); "
                 "check it for a misread character",
                 audit_id);
        return -SM_EINVAL;
    }
    uint8_t key[KEYS_MAX];
    int rc = core_read(self, STORE_CF_LOG, key, keys_log(key, origin, seq), &audit->operation,
                       &audit->operation_len);
    if (rc) {
        snprintf(message, message_size,
                 rc == -SM_ENOTFOUND ? "audit ID %s is not in this node's log (%s); it may not "
                                       "have reached this node yet"
                                     : "cannot read audit ID %s: %s",
                 audit_id, sm_strerror(rc));
        return rc;
    }
    uint8_t hash[CORE_HASH_BYTES];
    core_hash(hash, audit->operation, audit->operation_len);
    core_hex(audit->hash_hex, hash, sizeof hash);
    audit->sealed = is_sealed(self, origin, seq, hash);
    Storemesh__Operation *op =
        storemesh__operation__unpack(NULL, audit->operation_len, audit->operation);
    if (op) {
        const rules_entity_t *entity = rules_entity(self->rules, op->type);
        const rules_field_t *rule = entity ? rules_field(entity, op->field) : NULL;
        snprintf(audit->explain, sizeof audit->explain, "%s",
                 rule && rule->explain ? rule->explain : "");
    }
    storemesh__operation__free_unpacked(op, NULL);
    return 0;
}

void
core_audit_free(core_audit_t *audit)
{
    free(audit->operation);
    memset(audit, 0, sizeof *audit);
}
