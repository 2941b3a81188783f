// core_stage: one command's path into a batch: idempotency, validation against the
// rules, ownership, limits, then stamp (seq, HLC, rules hash, chain link), apply to
// the field state, and stage log, state and idempotency puts.
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_internal.h"
#include "keys.h"
#include "op_pack.h"
#include "sm_error.h"
#include "storemesh.pb-c.h"

// An idempotency record is the log key of the command's operation, origin \0 seq
// be64. Builds before 2026-12-06 appended a 32-byte BLAKE2b fingerprint of the
// command; such records are still read, and the fingerprint is ignored.
#define IDEM_RECORD_MAX (CRDT_NAME_MAX + 1 + 8)

static void
answer(core_t *self, core_result_t *result, core_result_code_t code, const char *format, ...)
    __attribute__((format(printf, 4, 5)));

static void
answer(core_t *self, core_result_t *result, core_result_code_t code, const char *format, ...)
{
    result->code = code;
    result->duplicate = false;
    result->audit_id[0] = 0;
    va_list args;
    va_start(args, format);
    vsnprintf(result->message, sizeof result->message, format, args);
    va_end(args);
    if (code == CORE_RESULT_REFUSED)
        self->commands_refused++;
}

static bool
is_utf8_text(const char *text, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = (uint8_t)text[i];
        size_t extra = c < 0x80 ? 0 : (c >> 5) == 0x6 ? 1 : (c >> 4) == 0xe ? 2 : (c >> 3) == 0x1e ? 3 : 9;
        if (c == 0 || extra == 9 || i + extra >= len + (extra ? 0 : 1))
            return false;
        for (size_t k = 1; k <= extra; k++)
            if (((uint8_t)text[i + k] >> 6) != 0x2)
                return false;
        i += extra + 1;
    }
    return true;
}

static bool
is_plain_text(const char *text, size_t max_len)
{
    size_t len = strlen(text);
    if (len == 0 || len > max_len)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((uint8_t)text[i] < 0x20 || text[i] == 0x7f)
            return false;
    return is_utf8_text(text, len);
}

static void
list_choices(char *out, size_t out_size, const rules_t *rules, const rules_entity_t *entity)
{
    size_t used = 0;
    out[0] = 0;
    size_t count = entity ? entity->field_count : rules_entity_count(rules);
    for (size_t i = 0; i < count && used + 2 < out_size; i++) {
        const char *name = entity ? entity->fields[i].name : rules_entity_at(rules, i)->name;
        int n = snprintf(out + used, out_size - used, "%s%s", i ? ", " : "", name);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

static const char *
op_word_for(crdt_kind_t kind)
{
    switch (kind) {
    case CRDT_KIND_COUNTER:
        return "'add' with an integer VALUE";
    case CRDT_KIND_AWSET:
        return "'add' or 'remove' with an element as VALUE";
    default:
        return "'set' with a VALUE";
    }
}

static bool
parse_op(const char *word, crdt_op_kind_t *op)
{
    if (strcmp(word, "add") == 0)
        *op = CRDT_OP_ADD;
    else if (strcmp(word, "remove") == 0)
        *op = CRDT_OP_REMOVE;
    else if (strcmp(word, "set") == 0)
        *op = CRDT_OP_SET;
    else
        return false;
    return true;
}

static bool
parse_delta(const char *text, int64_t *delta)
{
    if (!*text)
        return false;
    errno = 0;
    char *end = NULL;
    long long value = strtoll(text, &end, 10);
    if (errno || *end || end == text || text[0] == ' ' || text[0] == '+')
        return false;
    *delta = (int64_t)value;
    return true;
}

typedef struct {
    const rules_entity_t *entity;
    const rules_field_t *rule;
    crdt_op_kind_t op;
    int64_t delta;
} checked_t;

// Checks a command against the rules; false with the result answered.
static bool
validate(core_t *self, const core_command_t *command, core_result_t *result, checked_t *checked)
{
    char choices[CORE_MESSAGE_MAX / 2];
    if (command->source[0] && !is_plain_text(command->source, CRDT_NAME_MAX)) {
        answer(self, result, CORE_RESULT_BAD_INPUT,
               "source must be 1 to %d bytes of printable text", CRDT_NAME_MAX);
        return false;
    }
    checked->entity = rules_entity(self->rules, command->type);
    if (!checked->entity) {
        list_choices(choices, sizeof choices, self->rules, NULL);
        answer(self, result, CORE_RESULT_BAD_INPUT,
               "unknown type '%.64s'; the rules file declares: %s", command->type, choices);
        return false;
    }
    checked->rule = rules_field(checked->entity, command->field);
    if (!checked->rule) {
        list_choices(choices, sizeof choices, self->rules, checked->entity);
        answer(self, result, CORE_RESULT_BAD_INPUT,
               "type '%s' has no field '%.64s'; its fields are: %s", command->type,
               command->field, choices);
        return false;
    }
    if (!is_plain_text(command->key, KEYS_ENTITY_KEY_MAX)) {
        answer(self, result, CORE_RESULT_BAD_INPUT,
               "KEY must be 1 to %d bytes of printable text (no control characters)",
               KEYS_ENTITY_KEY_MAX);
        return false;
    }
    crdt_kind_t kind = checked->rule->merge;
    if (!parse_op(command->op, &checked->op) || !crdt_kind_accepts(kind, checked->op)) {
        answer(self, result, CORE_RESULT_BAD_INPUT,
               "%s.%s merges as %s, which takes %s; got OP '%.32s'", command->type,
               command->field, crdt_kind_name(kind), op_word_for(kind), command->op);
        return false;
    }
    if (!command->has_value) {
        answer(self, result, CORE_RESULT_BAD_INPUT, "'%s' on %s.%s needs a VALUE", command->op,
               command->type, command->field);
        return false;
    }
    if (command->value_len > CRDT_VALUE_MAX) {
        answer(self, result, CORE_RESULT_BAD_INPUT,
               "VALUE is %zu bytes; the limit is %d bytes (docs/RULES.md): shorten it",
               command->value_len, CRDT_VALUE_MAX);
        return false;
    }
    if (!is_utf8_text(command->value, command->value_len)) {
        answer(self, result, CORE_RESULT_BAD_INPUT,
               "VALUE must be UTF-8 text without NUL bytes: re-encode it");
        return false;
    }
    checked->delta = 0;
    if (kind == CRDT_KIND_COUNTER && !parse_delta(command->value, &checked->delta)) {
        answer(self, result, CORE_RESULT_BAD_INPUT,
               "%s.%s is a counter: VALUE must be a whole number such as 5 or -2; got '%.64s'",
               command->type, command->field, command->value);
        return false;
    }
    return true;
}

static int
add_waiter(core_t *self, core_request_t *request, size_t index)
{
    core_batch_t *batch = self->staging;
    if (batch->waiter_count == batch->waiter_cap) {
        size_t cap = batch->waiter_cap ? batch->waiter_cap * 2 : 256;
        core_waiter_t *waiters = realloc(batch->waiters, cap * sizeof *waiters);
        if (!waiters)
            return -SM_ENOMEM;
        batch->waiters = waiters;
        batch->waiter_cap = cap;
    }
    batch->waiters[batch->waiter_count++] = (core_waiter_t){.request = request, .index = index};
    request->unresolved++;
    return 0;
}

void
core_prefetch_drop(core_t *self)
{
    for (size_t i = 0; i < self->prefetch.count; i++) {
        free(self->prefetch.values[i]);
        self->prefetch.values[i] = NULL;
    }
    self->prefetch.request = NULL;
    self->prefetch.count = 0;
}

int
core_prefetch(core_t *self, const core_request_t *request, size_t first)
{
    assert(self->prefetch.count == 0);
    if (!self->reader.get_many || CORE_BUG(self, CORE_BUG_NO_DEDUP))
        return 0;
    size_t room = self->batch_commands_max > self->staging->waiter_count
                      ? self->batch_commands_max - self->staging->waiter_count
                      : 1;
    size_t count = request->count - first;
    count = count < room ? count : room;
    count = count < CORE_PREFETCH_MAX ? count : CORE_PREFETCH_MAX;
    const uint8_t *keys[CORE_PREFETCH_MAX];
    size_t key_lens[CORE_PREFETCH_MAX];
    size_t slots[CORE_PREFETCH_MAX]; // of each key, in the prefetch
    uint8_t *values[CORE_PREFETCH_MAX];
    size_t lens[CORE_PREFETCH_MAX];
    size_t keys_count = 0;
    for (size_t i = 0; i < count; i++) {
        const char *id = request->commands[first + i].command_id;
        size_t len = strlen(id);
        self->prefetch.looked_up[i] = len > 0 && len <= CORE_COMMAND_ID_MAX;
        self->prefetch.values[i] = NULL;
        self->prefetch.lens[i] = 0;
        if (self->prefetch.looked_up[i]) {
            keys[keys_count] = (const uint8_t *)id;
            key_lens[keys_count] = len;
            slots[keys_count++] = i;
        }
    }
    int rc = keys_count ? self->reader.get_many(self->reader.ctx, STORE_CF_IDEM, keys_count, keys,
                                                key_lens, values, lens)
                        : 0;
    if (rc)
        return rc;
    for (size_t k = 0; k < keys_count; k++) {
        self->prefetch.values[slots[k]] = values[k];
        self->prefetch.lens[slots[k]] = lens[k];
    }
    self->prefetch.request = request;
    self->prefetch.first = first;
    self->prefetch.count = count;
    return 0;
}

// A command ID's entry in storage: from the prefetch when it holds the command
// (*record borrowed, *owned NULL), else read now (*owned is *record; caller frees).
static int
read_idem(const core_t *self, const core_request_t *request, size_t index, const uint8_t *key,
          size_t key_len, const uint8_t **record, size_t *record_len, uint8_t **owned)
{
    *owned = NULL;
    size_t slot = index - self->prefetch.first;
    if (self->prefetch.request == request && index >= self->prefetch.first &&
        slot < self->prefetch.count && self->prefetch.looked_up[slot]) {
        if (!self->prefetch.values[slot])
            return -SM_ENOTFOUND;
        *record = self->prefetch.values[slot];
        *record_len = self->prefetch.lens[slot];
        return 0;
    }
    int rc = core_read(self, STORE_CF_IDEM, key, key_len, owned, record_len);
    *record = *owned;
    return rc;
}

// The operation a command was recorded as, decoded: from the batches not yet on
// disk (a repeat within a few milliseconds, rare: a bounded scan of their puts) or
// from the log. NULL with *rc set when it cannot be read.
static Storemesh__Operation *
recorded_operation(const core_t *self, const uint8_t *log_key, size_t log_key_len, int *rc)
{
    const core_batch_t *batches[2] = {self->staging, self->in_flight};
    for (size_t b = 0; b < 2; b++) {
        const store_batch_t *batch = batches[b] ? &batches[b]->batch : NULL;
        for (size_t i = 0; batch && i < batch->count; i++) {
            const store_put_t *put = &batch->puts[i];
            if (put->cf == STORE_CF_LOG && put->key_len == log_key_len &&
                memcmp(store_put_key(batch, put), log_key, log_key_len) == 0) {
                Storemesh__Operation *op = storemesh__operation__unpack(
                    NULL, put->value_len, store_put_value(batch, put));
                *rc = op ? 0 : -SM_ECORRUPT;
                return op;
            }
        }
    }
    uint8_t *bytes = NULL;
    size_t len = 0;
    *rc = core_read(self, STORE_CF_LOG, log_key, log_key_len, &bytes, &len);
    if (*rc == -SM_ENOTFOUND)
        *rc = -SM_ECORRUPT; // an idempotency entry names an operation the log lacks
    if (*rc)
        return NULL;
    Storemesh__Operation *op = storemesh__operation__unpack(NULL, len, bytes);
    free(bytes);
    *rc = op ? 0 : -SM_ECORRUPT;
    return op;
}

// Whether command is the one recorded as op: the same type, key, field, OP and
// VALUE (for a counter, the same delta). The client's source is not compared.
static bool
same_command(const core_t *self, const Storemesh__Operation *op, const core_command_t *command)
{
    crdt_op_kind_t kind;
    if (!command->has_value || !parse_op(command->op, &kind) || (int)op->op != (int)kind ||
        strcmp(op->type, command->type) != 0 || strcmp(op->key, command->key) != 0 ||
        strcmp(op->field, command->field) != 0)
        return false;
    const rules_entity_t *entity = rules_entity(self->rules, command->type);
    const rules_field_t *rule = entity ? rules_field(entity, command->field) : NULL;
    if (rule && rule->merge == CRDT_KIND_COUNTER) {
        int64_t delta = 0;
        return op->value.len == 0 && parse_delta(command->value, &delta) && delta == op->delta;
    }
    // An empty VALUE decodes with no data pointer, which memcmp must not be given.
    return op->value.len == command->value_len &&
           (command->value_len == 0 ||
            memcmp(op->value.data, command->value, command->value_len) == 0);
}

// A known command ID answers with its first audit ID. 1 when answered (or staged
// to be answered with this batch), 0 when the ID is new, <0 on a storage error.
static int
answer_repeat(core_t *self, core_request_t *request, size_t index, const core_command_t *command)
{
    core_result_t *result = &request->results[index];
    const uint8_t *key = (const uint8_t *)command->command_id;
    size_t key_len = strlen(command->command_id);
    const uint8_t *record = NULL;
    size_t record_len = 0;
    uint8_t *stored = NULL;
    if (CORE_BUG(self, CORE_BUG_NO_DEDUP))
        return 0; // every repeat is taken for a new command
    bool in_batch = core_pending_get(self, STORE_CF_IDEM, key, key_len, &record, &record_len) == 0;
    if (!in_batch) {
        int rc = read_idem(self, request, index, key, key_len, &record, &record_len, &stored);
        if (rc == -SM_ENOTFOUND)
            return 0;
        if (rc)
            return rc;
    }
    // The log key, then nothing or an earlier build's fingerprint.
    const uint8_t *nul = memchr(record, 0, record_len < CRDT_NAME_MAX + 1 ? record_len
                                                                          : CRDT_NAME_MAX + 1);
    size_t log_key_len = nul ? (size_t)(nul - record) + 1 + 8 : 0;
    char origin[CRDT_NAME_MAX + 1];
    uint64_t seq = 0;
    if (!nul || (record_len != log_key_len && record_len != log_key_len + CORE_HASH_BYTES) ||
        keys_log_parse(record, log_key_len, origin, &seq) != 0) {
        free(stored);
        return -SM_ECORRUPT;
    }
    int rc = 0;
    Storemesh__Operation *op = recorded_operation(self, record, log_key_len, &rc);
    free(stored);
    if (!op)
        return rc;
    bool same = same_command(self, op, command);
    storemesh__operation__free_unpacked(op, NULL);
    char audit_id[AUDIT_ID_MAX];
    audit_id_format(audit_id, origin, seq);
    if (!same) {
        answer(self, result, CORE_RESULT_BAD_INPUT,
               "command ID '%.128s' was already used for a different command (audit ID %s); "
               "give this command a new command ID",
               command->command_id, audit_id);
        return 1;
    }
    result->code = CORE_RESULT_OK;
    result->duplicate = true;
    snprintf(result->audit_id, sizeof result->audit_id, "%s", audit_id);
    result->message[0] = 0;
    if (in_batch)
        return add_waiter(self, request, index) ? -SM_ENOMEM : 1;
    return 1;
}

static bool
within_limits(core_t *self, core_result_t *result)
{
    const rules_limits_t *limits = rules_limits(self->rules);
    if (limits->at_limit != RULES_AT_LIMIT_REFUSE_NEW_WORK || self->is_authority)
        return true;
    const char *authority = rules_authority(self->rules);
    uint64_t depth = core_queue_depth(self, &self->staged);
    if (limits->max_queue_depth && depth >= limits->max_queue_depth) {
        answer(self, result, CORE_RESULT_REFUSED,
               "queue full: %" PRIu64 " operations wait for %s to acknowledge them (limit %" PRIu64
               "), so new work is refused. Nothing already accepted is lost. Restore the "
               "connection to %s; the queue empties as it catches up",
               depth, authority ? authority : "the authority", limits->max_queue_depth,
               authority ? authority : "the authority");
        return false;
    }
    uint64_t offline_s = core_offline_seconds(self, self->now_ms);
    if (limits->max_offline_s && offline_s >= limits->max_offline_s) {
        answer(self, result, CORE_RESULT_REFUSED,
               "offline too long: no exchange with %s for %" PRIu64 " s (limit %" PRIu64
               " s), so new work is refused. Nothing already accepted is lost. Restore the "
               "connection to %s",
               authority ? authority : "the authority", offline_s, limits->max_offline_s,
               authority ? authority : "the authority");
        return false;
    }
    return true;
}

static bool
owner_allows(core_t *self, const checked_t *checked, const core_command_t *command,
             core_result_t *result, int *rc)
{
    const rules_field_t *rule = checked->rule;
    if (rule->merge != CRDT_KIND_OWNER)
        return true;
    char owner[CRDT_NAME_MAX + 1];
    *rc = core_field_owner(self, rule, command->type, command->key, true, owner);
    if (*rc)
        return false;
    if (owner[0] == 0 || strcmp(owner, self->name) == 0)
        return true;
    answer(self, result, CORE_RESULT_REFUSED,
           "%s.%s of %s '%.64s' is owned by %s%s and this node is %s, so the change is refused: "
           "%s Make the change on %s",
           command->type, command->field, command->type, command->key, owner,
           rule->owner_kind == RULES_OWNER_ORIGIN ? " (the node that created it)" : "",
           self->name, rule->explain ? rule->explain : "", owner);
    return false;
}

// Reads a field state of merge kind `kind`: the batches not yet on disk, then the
// cache, then storage. *state is borrowed until the next change to an overlay or
// the cache; when it came from storage, *owned holds it and the caller frees
// *owned. An absent state has length 0. Every state it gives is known to the crdt
// layer (crdt_field_apply_known): written by an apply here, or checked with
// crdt_field_check when it came from storage (-SM_ECORRUPT when it fails).
static int read_state(core_t *self, crdt_kind_t kind, const uint8_t *key, size_t key_len,
                      const uint8_t **state, size_t *state_len, uint8_t **owned);

// A first-writer-wins field already written here refuses a second write at once:
// the till learns now, not after replication, that the voucher is spent. Writes
// made concurrently elsewhere still meet in the merge and become conflicts.
static bool
first_write_allows(core_t *self, const checked_t *checked, const core_command_t *command,
                   core_result_t *result, int *rc)
{
    if (checked->rule->merge != CRDT_KIND_FWW)
        return true;
    uint8_t key[KEYS_MAX];
    size_t key_len = keys_state(key, command->type, command->key, command->field);
    const uint8_t *state = NULL;
    uint8_t *owned = NULL;
    size_t state_len = 0;
    *rc = read_state(self, CRDT_KIND_FWW, key, key_len, &state, &state_len, &owned);
    if (*rc || state_len == 0) {
        free(owned);
        return *rc == 0;
    }
    crdt_view_t view;
    *rc = crdt_field_view(CRDT_KIND_FWW, state, state_len, NULL, &view);
    free(owned);
    if (*rc)
        return false;
    bool allowed = view.value_count == 0;
    if (!allowed)
        answer(self, result, CORE_RESULT_REFUSED,
               "%s.%s of '%.64s' is already set to '%.128s'; only the first write stands: %s",
               command->type, command->field, command->key, view.values[0],
               checked->rule->explain ? checked->rule->explain : "");
    crdt_view_free(&view);
    return allowed;
}

static bool
entity_has_origin_owner(const rules_entity_t *entity)
{
    for (size_t i = 0; i < entity->field_count; i++)
        if (entity->fields[i].merge == CRDT_KIND_OWNER &&
            entity->fields[i].owner_kind == RULES_OWNER_ORIGIN)
            return true;
    return false;
}

// read_state for a state key hashed once (overlay_key), which the caller may use
// again for the overlay it writes the state to.
static int
read_state_key(core_t *self, crdt_kind_t kind, const overlay_key_t *keyed,
               const uint8_t **state, size_t *state_len, uint8_t **owned)
{
    assert(keyed->cf == STORE_CF_STATE);
    const uint8_t *key = keyed->bytes;
    size_t key_len = keyed->len;
    *state = NULL;
    *state_len = 0;
    *owned = NULL;
    if (core_pending_get_key(self, keyed, state, state_len) == 0)
        return 0;
    if (overlay_get_key(self->dirty, keyed, state, state_len) == 0)
        return 0; // committed since the last checkpoint
    if (overlay_get_key(self->state_cache, keyed, state, state_len) == 0)
        return 0;
    int rc = core_read(self, STORE_CF_STATE, key, key_len, owned, state_len);
    if (rc == -SM_ENOTFOUND) {
        *state_len = 0;
        return 0;
    }
    if (rc == 0)
        rc = crdt_field_check(kind, *owned, *state_len); // what the cache holds is known
    if (rc) {
        free(*owned);
        *owned = NULL;
        *state_len = 0;
        return rc;
    }
    *state = *owned;
    if (overlay_count(self->state_cache) >= CORE_STATE_CACHE_ENTRIES_MAX)
        overlay_clear(self->state_cache);
    if (overlay_put_key(self->state_cache, keyed, *owned, *state_len))
        overlay_clear(self->state_cache);
    return 0;
}

static int
read_state(core_t *self, crdt_kind_t kind, const uint8_t *key, size_t key_len,
           const uint8_t **state, size_t *state_len, uint8_t **owned)
{
    overlay_key_t keyed = overlay_key(STORE_CF_STATE, key, key_len);
    return read_state_key(self, kind, &keyed, state, state_len, owned);
}

// Applies op to the state at key into the overlay. The crdt layer is pure, so a
// refusal here leaves nothing behind.
static int
apply_to_overlay(core_t *self, crdt_kind_t kind, const uint8_t *key, size_t key_len,
                 const crdt_op_t *op, crdt_buf_t *scratch)
{
    const uint8_t *state = NULL;
    uint8_t *owned = NULL;
    size_t state_len = 0;
    int rc = read_state(self, kind, key, key_len, &state, &state_len, &owned);
    if (rc == 0)
        rc = crdt_field_apply_known(kind, state, state_len, op, scratch);
    free(owned);
    return rc;
}

typedef struct {
    uint8_t state_key[KEYS_MAX];
    size_t state_key_len;
    uint8_t creator_key[KEYS_MAX];
    size_t creator_key_len; // 0 when the entity type keeps no creator
    crdt_buf_t *field_state;   // the core's scratch buffers, reused command after command
    crdt_buf_t *creator_state;
    crdt_buf_t *packed;        // the Operation bytes
} staging_t;

static int
pack_operation(core_t *self, const core_command_t *command, const checked_t *checked,
               const crdt_stamp_t *stamp, const crdt_tag_t *observed, size_t observed_count,
               staging_t *out)
{
    Storemesh__Operation op = STOREMESH__OPERATION__INIT;
    op.origin = self->name;
    op.seq = stamp->tag.seq;
    op.hlc = stamp->hlc;
    op.rules_hash = (ProtobufCBinaryData){RULES_HASH_BYTES, (uint8_t *)rules_hash(self->rules)};
    op.prev_hash = (ProtobufCBinaryData){CORE_HASH_BYTES, self->staged.chain_head};
    op.command_id = (char *)command->command_id;
    op.source = (char *)command->source;
    op.type = (char *)command->type;
    op.key = (char *)command->key;
    op.field = (char *)command->field;
    op.op = (Storemesh__OpKind)checked->op;
    op.delta = checked->delta;
    if (checked->rule->merge != CRDT_KIND_COUNTER)
        op.value = (ProtobufCBinaryData){command->value_len, (uint8_t *)command->value};
    Storemesh__Tag tags[CRDT_OBSERVED_MAX];
    Storemesh__Tag *tag_pointers[CRDT_OBSERVED_MAX];
    for (size_t i = 0; i < observed_count; i++) {
        storemesh__tag__init(&tags[i]);
        tags[i].origin = (char *)observed[i].origin;
        tags[i].seq = observed[i].seq;
        tag_pointers[i] = &tags[i];
    }
    op.n_observed = observed_count;
    op.observed = tag_pointers;
    size_t packed_len = op_pack_size(&op);
    crdt_buf_reset(out->packed);
    if (crdt_buf_reserve(out->packed, packed_len))
        return -SM_ENOMEM;
    out->packed->len = op_pack(&op, out->packed->data);
    assert(out->packed->len == packed_len);
    return 0;
}

// Computes everything the command changes without changing anything yet.
static int
prepare(core_t *self, const core_command_t *command, const checked_t *checked,
        const crdt_stamp_t *stamp, staging_t *out)
{
    crdt_kind_t kind = checked->rule->merge;
    out->state_key_len = keys_state(out->state_key, command->type, command->key, command->field);
    const uint8_t *state = NULL;
    uint8_t *owned = NULL;
    size_t state_len = 0;
    int rc = read_state(self, kind, out->state_key, out->state_key_len, &state, &state_len,
                        &owned);
    if (rc)
        return rc;
    crdt_tag_t *observed = NULL;
    size_t observed_count = 0;
    rc = crdt_field_observed(kind, state, state_len, checked->op, command->value,
                             command->value_len, &observed, &observed_count);
    crdt_op_t op = {.stamp = *stamp,
                    .kind = checked->op,
                    .delta = checked->delta,
                    .value = command->value,
                    .value_len = command->value_len,
                    .observed = observed,
                    .observed_count = observed_count};
    if (rc == 0)
        rc = crdt_field_apply_known(kind, state, state_len, &op, out->field_state);
    free(owned);
    if (rc == 0)
        rc = pack_operation(self, command, checked, stamp, observed, observed_count, out);
    free(observed);
    if (rc || !entity_has_origin_owner(checked->entity))
        return rc;
    // The entity's creator: a first-writer-wins register of origin names, so every
    // node agrees on it whatever order the creating operations arrive in.
    out->creator_key_len = keys_state(out->creator_key, command->type, command->key, "");
    crdt_op_t creator_op = {.stamp = *stamp,
                            .kind = CRDT_OP_SET,
                            .value = self->name,
                            .value_len = strlen(self->name)};
    return apply_to_overlay(self, CRDT_KIND_FWW, out->creator_key, out->creator_key_len,
                            &creator_op, out->creator_state);
}

static int
commit_staging(core_t *self, const core_command_t *command, const crdt_stamp_t *stamp,
               const staging_t *staging)
{
    int rc = overlay_put(self->staging->overlay, STORE_CF_STATE, staging->state_key,
                         staging->state_key_len,
                         staging->field_state->data, staging->field_state->len);
    if (rc == 0 && staging->creator_key_len)
        rc = overlay_put(self->staging->overlay, STORE_CF_STATE, staging->creator_key,
                         staging->creator_key_len, staging->creator_state->data,
                         staging->creator_state->len);
    uint8_t log_key[KEYS_MAX];
    size_t log_key_len = keys_log(log_key, self->name, stamp->tag.seq);
    if (rc == 0)
        rc = store_batch_put(&self->staging->batch, STORE_CF_LOG, log_key, log_key_len,
                             staging->packed->data, staging->packed->len);
    if (rc == 0 && command->command_id[0]) {
        assert(log_key_len <= IDEM_RECORD_MAX);
        rc = overlay_put(self->staging->overlay, STORE_CF_IDEM,
                         (const uint8_t *)command->command_id, strlen(command->command_id),
                         log_key, log_key_len);
    }
    if (rc)
        return rc;
    self->staged.last_seq = stamp->tag.seq;
    core_hash(self->staged.chain_head, staging->packed->data, staging->packed->len);
    self->staged.operations++;
    return 0;
}

// Turns an apply failure into the client's answer; true when answered.
static bool
answer_apply_error(core_t *self, core_result_t *result, const core_command_t *command, int rc)
{
    if (rc == -SM_ERANGE) {
        answer(self, result, CORE_RESULT_BAD_INPUT,
               "%s.%s of '%.64s' would overflow a 64-bit counter; use a smaller VALUE",
               command->type, command->field, command->key);
        return true;
    }
    if (rc == -SM_EFULL || rc == -SM_EINVAL) {
        answer(self, result, CORE_RESULT_REFUSED,
               "%s.%s of '%.64s' is at a size limit (%s): its state would pass 1 MiB, or the "
               "change would have to replace more than %d current values or additions at once "
               "(docs/ARCHITECTURE.md, Limits); this field of this key cannot take it, so use "
               "another key",
               command->type, command->field, command->key, sm_strerror(rc), CRDT_OBSERVED_MAX);
        return true;
    }
    return false;
}

int
core_stage_command(core_t *self, core_request_t *request, size_t index,
                   const core_command_t *command)
{
    core_result_t *result = &request->results[index];
    if (strlen(command->command_id) > CORE_COMMAND_ID_MAX ||
        (command->command_id[0] && !is_plain_text(command->command_id, CORE_COMMAND_ID_MAX))) {
        answer(self, result, CORE_RESULT_BAD_INPUT,
               "command ID must be 1 to %d bytes of printable text", CORE_COMMAND_ID_MAX);
        return 0;
    }
    if (command->command_id[0]) {
        int rc = answer_repeat(self, request, index, command);
        if (rc != 0)
            return rc < 0 ? rc : 0;
    }
    checked_t checked;
    if (!validate(self, command, result, &checked))
        return 0;
    int rc = 0;
    if (!owner_allows(self, &checked, command, result, &rc))
        return rc;
    if (!first_write_allows(self, &checked, command, result, &rc))
        return rc;
    if (!within_limits(self, result))
        return 0;

    crdt_stamp_t stamp = {.hlc = hlc_now(&self->hlc, self->now_ms)};
    crdt_tag_set(&stamp.tag, self->name, self->staged.last_seq + 1);
    staging_t staging = {.field_state = &self->scratch[0],
                         .creator_state = &self->scratch[1],
                         .packed = &self->scratch[2]};
    rc = prepare(self, command, &checked, &stamp, &staging);
    if (rc && answer_apply_error(self, result, command, rc))
        return 0;
    if (rc == 0)
        rc = commit_staging(self, command, &stamp, &staging);
    // A peer takes a run of operations up to a seal whole: a large group commit is
    // sealed in runs of CORE_SEAL_OPS_MAX, so what a peer stages stays that size.
    if (rc == 0 && self->staged.last_seq - self->staged.sealed_seq >= CORE_SEAL_OPS_MAX)
        rc = core_seal(self);
    if (rc)
        return rc;
    result->code = CORE_RESULT_OK;
    result->duplicate = false;
    result->message[0] = 0;
    audit_id_format_origin(result->audit_id, &self->audit_origin, stamp.tag.seq);
    return add_waiter(self, request, index);
}

// ---- operations of other origins ----

// Fills tags from the operation's causal context; false when one is not valid.
static bool
observed_from_proto(const Storemesh__Operation *op, crdt_tag_t *tags)
{
    if (op->n_observed > CRDT_OBSERVED_MAX)
        return false;
    for (size_t i = 0; i < op->n_observed; i++) {
        const Storemesh__Tag *tag = op->observed[i];
        if (!tag || !tag->origin || crdt_tag_set(&tags[i], tag->origin, tag->seq) != 0)
            return false;
    }
    return true;
}

// Writes patch into the staging overlay's copy of the state at key: where it lies
// already, or after copying state (the one read_state gave, from elsewhere) there.
static int
patch_staged(core_t *self, const overlay_key_t *key, const uint8_t *state, size_t state_len,
             const crdt_patch_t *patch)
{
    overlay_t *staged = self->staging->overlay;
    // read_state looks in the staging overlay first: absent there, state lies elsewhere.
    int rc = overlay_patch_key(staged, key, patch->offset, patch->bytes, patch->len);
    if (rc == -SM_ENOTFOUND) {
        rc = overlay_put_key(staged, key, state, state_len);
        if (rc == 0)
            rc = overlay_patch_key(staged, key, patch->offset, patch->bytes, patch->len);
    }
    assert(rc != -SM_EINVAL); // the patch lies inside the state it was made for
    return rc;
}

// Merges into the staging overlay; a merge the state refuses is counted and leaves
// the state as it was, the same on every node that holds the operation. A counter
// add that changes a few bytes in place patches the staged copy (crdt_field_apply_patch)
// instead of writing the state out whole and copying that in. The key is hashed
// once for every overlay it is looked up in and the one it is written to.
static int
merge_remote(core_t *self, crdt_kind_t kind, const uint8_t *key, size_t key_len,
             const crdt_op_t *op)
{
    crdt_buf_t *scratch = &self->scratch[0];
    overlay_key_t keyed = overlay_key(STORE_CF_STATE, key, key_len);
    const uint8_t *state = NULL;
    uint8_t *owned = NULL;
    size_t state_len = 0;
    crdt_patch_t patch;
    int rc = read_state_key(self, kind, &keyed, &state, &state_len, &owned);
    if (rc == 0)
        rc = crdt_field_apply_patch(kind, state, state_len, op, scratch, &patch);
    if (rc == CRDT_PATCHED)
        rc = patch_staged(self, &keyed, state, state_len, &patch);
    else if (rc == 0)
        rc = overlay_put_key(self->staging->overlay, &keyed, scratch->data, scratch->len);
    else if (rc != -SM_ENOMEM && rc != -SM_EIO) {
        self->counters.apply_failed++;
        rc = 0;
    }
    free(owned);
    return rc;
}

int
core_stage_remote(core_t *self, const uint8_t *bytes, size_t len, const Storemesh__Operation *op)
{
    if (self->states_lost) // see stage_pending
        return -SM_ENOMEM;
    uint8_t log_key[KEYS_MAX];
    size_t log_key_len = keys_log(log_key, op->origin, op->seq);
    int rc = store_batch_put(&self->staging->batch, STORE_CF_LOG, log_key, log_key_len, bytes, len);
    if (rc)
        return rc;
    self->staged.operations++;
    return core_merge_operation(self, op);
}

int
core_merge_operation(core_t *self, const Storemesh__Operation *op)
{
    hlc_observe(&self->hlc, op->hlc);
    const rules_entity_t *entity = rules_entity(self->rules, op->type);
    const rules_field_t *rule = entity ? rules_field(entity, op->field) : NULL;
    crdt_tag_t observed[CRDT_OBSERVED_MAX];
    size_t key_length = strlen(op->key);
    if (!rule || key_length == 0 || key_length > KEYS_ENTITY_KEY_MAX ||
        !observed_from_proto(op, observed)) {
        // Logged (the chain stays whole) but not merged: another rules file, or damage.
        self->counters.apply_failed++;
        return 0;
    }
    crdt_op_t merge = {.stamp = {.hlc = op->hlc},
                       .kind = (crdt_op_kind_t)op->op,
                       .delta = op->delta,
                       .value = (const char *)op->value.data,
                       .value_len = op->value.len,
                       .observed = observed,
                       .observed_count = op->n_observed};
    crdt_tag_set(&merge.stamp.tag, op->origin, op->seq);
    if (CORE_BUG(self, CORE_BUG_MERGE_BY_ARRIVAL) && rule->merge == CRDT_KIND_LWW)
        merge.stamp.hlc = hlc_now(&self->hlc, self->now_ms); // arrival order decides
    uint8_t key[KEYS_MAX];
    size_t key_len = keys_state(key, op->type, op->key, op->field);
    int rc = merge_remote(self, rule->merge, key, key_len, &merge);
    if (rc || !entity_has_origin_owner(entity))
        return rc;
    crdt_op_t creator = {.stamp = merge.stamp,
                         .kind = CRDT_OP_SET,
                         .value = op->origin,
                         .value_len = strlen(op->origin)};
    key_len = keys_state(key, op->type, op->key, "");
    return merge_remote(self, CRDT_KIND_FWW, key, key_len, &creator);
}
