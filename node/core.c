#include "core.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_internal.h"
#include "keys.h"
#include "sm_error.h"
#include "storemesh.pb-c.h"

// ---- recovery ----

// self record: last_seq be64 | chain_head 32 | hlc_last be64 | operations be64
#define SELF_RECORD_BYTES (8 + CORE_HASH_BYTES + 8 + 8)

static int
read_u64_meta(const core_t *self, const char *key, uint64_t *out)
{
    uint8_t *value = NULL;
    size_t value_len = 0;
    int rc = core_read(self, STORE_CF_META, (const uint8_t *)key, strlen(key), &value, &value_len);
    if (rc == -SM_ENOTFOUND) {
        *out = 0;
        return 0;
    }
    if (rc)
        return rc;
    if (value_len < 8) {
        free(value);
        return -SM_ECORRUPT;
    }
    *out = keys_get_be64(value);
    if (strcmp(key, KEYS_META_AUTHORITY) == 0 && value_len >= 16)
        ((core_t *)self)->authority_contact_ms = keys_get_be64(value + 8);
    free(value);
    return 0;
}

static int
recover_head(core_t *self, char *err, size_t err_size)
{
    uint8_t *value = NULL;
    size_t value_len = 0;
    int rc = core_read(self, STORE_CF_META, (const uint8_t *)KEYS_META_SELF,
                       strlen(KEYS_META_SELF), &value, &value_len);
    if (rc == -SM_ENOTFOUND) {
        hlc_init(&self->hlc, 0);
        return 0; // a new node: nothing stamped yet
    }
    if (rc) {
        snprintf(err, err_size, "cannot read this node's head from storage: %s", sm_strerror(rc));
        return rc;
    }
    if (value_len != SELF_RECORD_BYTES) {
        free(value);
        snprintf(err, err_size,
                 "this node's head record is %zu bytes, expected %d: the data directory is "
                 "corrupt or from another version; restore it from a backup",
                 value_len, SELF_RECORD_BYTES);
        return -SM_ECORRUPT;
    }
    self->durable.last_seq = keys_get_be64(value);
    memcpy(self->durable.chain_head, value + 8, CORE_HASH_BYTES);
    hlc_init(&self->hlc, keys_get_be64(value + 8 + CORE_HASH_BYTES));
    self->durable.operations = keys_get_be64(value + 16 + CORE_HASH_BYTES);
    self->durable.sealed_seq = self->durable.last_seq;
    free(value);
    return 0;
}

// The head record and the log must agree: operation last_seq exists, last_seq + 1
// does not. They are written in one atomic batch, so a mismatch is corruption.
static int
check_log_matches_head(core_t *self, char *err, size_t err_size)
{
    uint8_t key[KEYS_MAX];
    uint8_t *value = NULL;
    size_t value_len = 0;
    if (self->durable.last_seq > 0) {
        size_t len = keys_log(key, self->name, self->durable.last_seq);
        int rc = core_read(self, STORE_CF_LOG, key, len, &value, &value_len);
        if (rc) {
            snprintf(err, err_size,
                     "operation %s #%llu named by the head record is missing (%s): the data "
                     "directory is damaged; restore it from a backup",
                     self->name, (unsigned long long)self->durable.last_seq, sm_strerror(rc));
            return rc ? rc : -SM_ECORRUPT;
        }
        uint8_t hash[CORE_HASH_BYTES];
        core_hash(hash, value, value_len);
        free(value);
        if (memcmp(hash, self->durable.chain_head, CORE_HASH_BYTES) != 0) {
            snprintf(err, err_size,
                     "operation %s #%llu does not match the chain head: the log was altered; "
                     "restore the data directory from a backup",
                     self->name, (unsigned long long)self->durable.last_seq);
            return -SM_ECORRUPT;
        }
    }
    size_t len = keys_log(key, self->name, self->durable.last_seq + 1);
    int rc = core_read(self, STORE_CF_LOG, key, len, &value, &value_len);
    if (rc == 0) {
        free(value);
        snprintf(err, err_size,
                 "the log holds operation %s #%llu past the head record: the data directory is "
                 "damaged; restore it from a backup",
                 self->name, (unsigned long long)self->durable.last_seq + 1);
        return -SM_ECORRUPT;
    }
    return rc == -SM_ENOTFOUND ? 0 : rc;
}

core_t *
core_new(const core_config_t *config, char *err, size_t err_size)
{
    assert(config->rules != NULL);
    assert(config->reader.get != NULL);
    if (sodium_init() < 0) {
        snprintf(err, err_size, "libsodium failed to initialise; check the installation");
        return NULL;
    }
    core_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    if (strlen(config->name) == 0 || strlen(config->name) > CRDT_NAME_MAX) {
        snprintf(err, err_size, "node name '%s' must be 1 to %d bytes", config->name,
                 CRDT_NAME_MAX);
        goto fail_free;
    }
    strcpy(self->name, config->name);
    self->own_key = name_key(self->name);
    audit_id_origin_init(&self->audit_origin, self->name);
    arena_init(&self->decode_arena, 64 * 1024); // most peer messages are a few KiB
    // A Hello's two vectors (one whole, for a full Hello) with 200 origins: 22 KiB.
    arena_init(&self->message_arena, 32 * 1024);
    self->rules = config->rules;
    memcpy(self->secret_key, config->secret_key, sizeof self->secret_key);
    memcpy(self->public_key, config->public_key, sizeof self->public_key);
    self->reader = config->reader;
    self->sync = config->sync;
    self->batch_commands_max =
        config->batch_commands_max ? config->batch_commands_max : CORE_BATCH_COMMANDS_DEFAULT;
    self->anti_entropy_ms = config->anti_entropy_ms ? config->anti_entropy_ms : CORE_ANTI_ENTROPY_MS;
    self->peer_timeout_ms = config->peer_timeout_ms ? config->peer_timeout_ms
                                                    : 5 * self->anti_entropy_ms;
    self->signer = config->signer;
    self->bugs = config->bugs;
    const char *authority = rules_authority(config->rules);
    self->is_authority = authority && strcmp(authority, self->name) == 0;
    self->state_cache = overlay_new();
    self->names = name_pool_new();
    for (int i = 0; i < 2; i++) {
        self->batches[i].overlay = overlay_new();
        store_batch_init(&self->batches[i].batch);
    }
    self->staging = &self->batches[0];
    self->staging->id = 1;
    if (!self->state_cache || !self->names || !self->batches[0].overlay ||
        !self->batches[1].overlay) {
        snprintf(err, err_size, "out of memory");
        goto fail_free;
    }
    if (recover_head(self, err, err_size) || check_log_matches_head(self, err, err_size))
        goto fail_free;
    int rc = read_u64_meta(self, KEYS_META_CREATED_MS, &self->created_ms);
    if (rc == 0)
        rc = read_u64_meta(self, KEYS_META_AUTHORITY, &self->authority_acked_seq);
    if (rc) {
        snprintf(err, err_size, "cannot read node metadata: %s", sm_strerror(rc));
        goto fail_free;
    }
    if (core_origins_load(self, err, err_size))
        goto fail_free;
    self->checkpoint_ops = config->checkpoint_ops ? config->checkpoint_ops : CORE_CHECKPOINT_OPS;
    self->dirty_bytes_max =
        config->checkpoint_bytes ? config->checkpoint_bytes : CORE_CHECKPOINT_BYTES;
    if (core_checkpoint_load(self, err, err_size))
        goto fail_free;
    self->staged = self->durable;
    return self;

fail_free:
    core_destroy(&self);
    return NULL;
}

static void
request_free(core_request_t *request)
{
    if (!request)
        return;
    free(request->strings);
    free(request->commands);
    free(request->results);
    free(request);
}

void
core_destroy(core_t **self_p)
{
    core_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->request_count; i++)
        request_free(self->requests[i]);
    for (size_t i = 0; i < self->ready_count; i++)
        request_free(self->ready[i]);
    request_free(self->handed_out);
    free(self->requests);
    free(self->ready);
    for (int i = 0; i < 2; i++) {
        free(self->batches[i].waiters);
        overlay_destroy(&self->batches[i].overlay);
        store_batch_free(&self->batches[i].batch);
    }
    core_origins_free(self);
    core_replicate_free(self);
    name_pool_destroy(&self->names); // after every version vector that points into it
    overlay_destroy(&self->state_cache);
    overlay_destroy(&self->dirty);
    for (int i = 0; i < 3; i++)
        crdt_buf_free(&self->scratch[i]);
    sodium_memzero(self->secret_key, sizeof self->secret_key);
    free(self);
    *self_p = NULL;
}

// ---- submit ----

// The bytes command_copy needs for a command's strings (each with its NUL).
static size_t
command_bytes(const core_command_t *in, size_t lengths[6])
{
    const char *strings[6] = {in->command_id, in->source, in->type, in->key, in->field, in->op};
    size_t total = in->value_len + 1;
    for (int i = 0; i < 6; i++) {
        lengths[i] = strings[i] ? strlen(strings[i]) : 0;
        total += lengths[i] + 1;
    }
    return total;
}

// Copies a command's strings to cursor (command_bytes of them); returns the end.
// One block for a whole request: a malloc per command cost more than the copy.
static char *
command_copy(core_command_t *out, const core_command_t *in, const size_t lengths[6], char *cursor)
{
    const char *strings[6] = {in->command_id, in->source, in->type, in->key, in->field, in->op};
    const char **slots[6] = {&out->command_id, &out->source, &out->type,
                             &out->key,        &out->field,  &out->op};
    for (int i = 0; i < 6; i++) {
        if (lengths[i])
            memcpy(cursor, strings[i], lengths[i]);
        cursor[lengths[i]] = 0;
        *slots[i] = cursor;
        cursor += lengths[i] + 1;
    }
    if (in->value_len)
        memcpy(cursor, in->value, in->value_len);
    cursor[in->value_len] = 0;
    out->value = cursor;
    out->value_len = in->value_len;
    out->has_value = in->has_value;
    return cursor + in->value_len + 1;
}

static int
push_pointer(core_request_t ***array, size_t *count, size_t *cap, core_request_t *request)
{
    if (*count == *cap) {
        size_t new_cap = *cap ? *cap * 2 : 16;
        core_request_t **grown = realloc(*array, new_cap * sizeof *grown);
        if (!grown)
            return -SM_ENOMEM;
        *array = grown;
        *cap = new_cap;
    }
    (*array)[(*count)++] = request;
    return 0;
}

int
core_submit(core_t *self, uint64_t request_id, const core_command_t *commands, size_t count,
            uint64_t wall_ms)
{
    assert(count > 0);
    core_tick(self, wall_ms);
    if (count > CORE_REQUEST_COMMANDS_MAX ||
        self->pending_commands + count > CORE_PENDING_COMMANDS_MAX)
        return -SM_EFULL;
    core_request_t *request = calloc(1, sizeof *request);
    if (!request)
        return -SM_ENOMEM;
    request->request_id = request_id;
    request->commands = calloc(count, sizeof *request->commands);
    // Not calloc: a result is mostly its message buffer, read only up to its NUL,
    // and zeroing 600 bytes a command showed in the submit path's profile.
    request->results = malloc(count * sizeof *request->results);
    size_t(*lengths)[6] = malloc(count * sizeof *lengths); // measured once, then copied
    if (!request->commands || !request->results || !lengths) {
        free(lengths);
        goto fail_free;
    }
    size_t total = 0;
    for (size_t i = 0; i < count; i++)
        total += command_bytes(&commands[i], lengths[i]);
    request->strings = malloc(total);
    if (!request->strings) {
        free(lengths);
        goto fail_free;
    }
    char *cursor = request->strings;
    for (size_t i = 0; i < count; i++) {
        cursor = command_copy(&request->commands[i], &commands[i], lengths[i], cursor);
        core_result_t *result = &request->results[i];
        result->code = 0;
        result->duplicate = false;
        result->audit_id[0] = 0;
        result->message[0] = 0;
    }
    assert(cursor == request->strings + total);
    free(lengths);
    request->count = count;
    if (push_pointer(&self->requests, &self->request_count, &self->request_cap, request))
        goto fail_free;
    self->pending_commands += count;
    return 0;

fail_free:
    request_free(request);
    return -SM_ENOMEM;
}

void
core_tick(core_t *self, uint64_t wall_ms)
{
    self->now_ms = wall_ms;
    core_replicate_tick(self);
}

bool
core_is_busy(const core_t *self)
{
    return self->request_count > 0 || self->in_flight || self->staging->waiter_count > 0 ||
           self->staging->remote_operations > 0;
}

bool
core_peer_input_paused(const core_t *self)
{
    return self->in_flight != NULL && self->staging->remote_operations > 0 &&
           self->staging->batch.size_bytes >= CORE_STAGED_REMOTE_BYTES_MAX;
}

int
core_pending_get_key(const core_t *self, const overlay_key_t *key, const uint8_t **value,
                     size_t *value_len)
{
    if (overlay_get_key(self->staging->overlay, key, value, value_len) == 0)
        return 0;
    if (self->in_flight)
        return overlay_get_key(self->in_flight->overlay, key, value, value_len);
    return -SM_ENOTFOUND;
}

int
core_pending_get(const core_t *self, store_cf_t cf, const uint8_t *key, size_t key_len,
                 const uint8_t **value, size_t *value_len)
{
    overlay_key_t keyed = overlay_key(cf, key, key_len);
    return core_pending_get_key(self, &keyed, value, value_len);
}

// Moves requests whose every command is answered from requests to ready, in order.
static void
collect_ready(core_t *self)
{
    size_t kept = 0;
    for (size_t i = 0; i < self->request_count; i++) {
        core_request_t *request = self->requests[i];
        if (request->staged == request->count && request->unresolved == 0) {
            if (push_pointer(&self->ready, &self->ready_count, &self->ready_cap, request) == 0)
                continue;
            // Out of memory for the ready list: keep it and try on the next flush.
        }
        self->requests[kept++] = request;
    }
    self->request_count = kept;
}

static void
result_set(core_result_t *result, core_result_code_t code, const char *message)
{
    result->code = code;
    snprintf(result->message, sizeof result->message, "%s", message);
}

// Puts into the staging batch the Ed25519 seal over this origin's chain head as
// staged: at the end of every batch with operations of ours, and within one every
// CORE_SEAL_OPS_MAX of them.
int
core_seal(core_t *self)
{
    uint8_t message[CORE_SEAL_MESSAGE_MAX];
    size_t len = core_seal_message(message, self->name, self->staged.last_seq,
                                   self->staged.chain_head);
    uint8_t signature[crypto_sign_BYTES];
    if (self->signer.sign)
        self->signer.sign(self->signer.ctx, signature, message, len, self->secret_key);
    else
        crypto_sign_detached(signature, NULL, message, len, self->secret_key);

    Storemesh__Seal seal = STOREMESH__SEAL__INIT;
    seal.origin = self->name;
    seal.seq = self->staged.last_seq;
    seal.head_hash = (ProtobufCBinaryData){CORE_HASH_BYTES, self->staged.chain_head};
    seal.signature = (ProtobufCBinaryData){sizeof signature, signature};
    uint8_t packed[256];
    assert(storemesh__seal__get_packed_size(&seal) <= sizeof packed);
    size_t packed_len = storemesh__seal__pack(&seal, packed);
    uint8_t key[KEYS_MAX];
    size_t key_len = keys_log(key, self->name, self->staged.last_seq);
    int rc =
        store_batch_put(&self->staging->batch, STORE_CF_SEAL, key, key_len, packed, packed_len);
    if (rc == 0)
        self->staged.sealed_seq = self->staged.last_seq;
    return rc;
}

static int
put_head(core_t *self)
{
    uint8_t record[SELF_RECORD_BYTES];
    keys_put_be64(record, self->staged.last_seq);
    memcpy(record + 8, self->staged.chain_head, CORE_HASH_BYTES);
    keys_put_be64(record + 8 + CORE_HASH_BYTES, self->hlc.last);
    keys_put_be64(record + 16 + CORE_HASH_BYTES, self->staged.operations);
    int rc = store_batch_put(&self->staging->batch, STORE_CF_META, KEYS_META_SELF,
                             strlen(KEYS_META_SELF), record, sizeof record);
    if (rc)
        return rc;
    uint8_t authority[16]; // what the authority acknowledged, and when we last heard it
    keys_put_be64(authority, self->authority_acked_seq);
    keys_put_be64(authority + 8, self->authority_contact_ms);
    rc = store_batch_put(&self->staging->batch, STORE_CF_META, KEYS_META_AUTHORITY,
                         strlen(KEYS_META_AUTHORITY), authority, sizeof authority);
    if (rc)
        return rc;
    uint8_t vv_key[KEYS_MAX];
    uint8_t vv_value[8 + CORE_HASH_BYTES]; // the same record as other origins' (core_origins.c)
    keys_put_be64(vv_value, self->staged.last_seq);
    memcpy(vv_value + 8, self->staged.chain_head, CORE_HASH_BYTES);
    return store_batch_put(&self->staging->batch, STORE_CF_META, vv_key,
                           keys_vv(vv_key, self->name), vv_value, sizeof vv_value);
}

static void
batch_reset(core_batch_t *batch)
{
    batch->waiter_count = 0;
    batch->origin_update_count = 0;
    batch->remote_operations = 0;
    overlay_clear(batch->overlay);
    store_batch_clear(&batch->batch);
}

static void
fail_waiters(core_batch_t *batch, const char *message)
{
    for (size_t i = 0; i < batch->waiter_count; i++) {
        core_waiter_t *waiter = &batch->waiters[i];
        core_result_t *result = &waiter->request->results[waiter->index];
        result->duplicate = false;
        result->audit_id[0] = 0;
        result_set(result, CORE_RESULT_FAILED, message);
        waiter->request->unresolved--;
    }
}

// A write failed (or a batch could not be built): every command not yet on disk
// is answered "failed" and the head rolls back to what storage holds. The staging
// batch goes too: it was built on top of the failed one.
void
core_fail_pending(core_t *self, int rc)
{
    char message[CORE_MESSAGE_MAX];
    snprintf(message, sizeof message,
             "the node could not store this command (%s); nothing was recorded. Check the "
             "node's log and disk space, then retry with the same command ID",
             sm_strerror(rc));
    if (self->in_flight) {
        fail_waiters(self->in_flight, message);
        batch_reset(self->in_flight);
        self->in_flight = NULL;
        self->write_handed_out = false;
    }
    fail_waiters(self->staging, message);
    batch_reset(self->staging);
    self->staged = self->durable;
    core_origins_rollback(self);
}

// Stages waiting commands, oldest request first, until the batch is full.
static int
stage_requests(core_t *self)
{
    for (size_t r = 0; r < self->request_count; r++) {
        core_request_t *request = self->requests[r];
        while (request->staged < request->count) {
            if (self->staging->waiter_count >= self->batch_commands_max)
                return 0;
            size_t index = request->staged++;
            self->pending_commands--;
            // Field states since the last checkpoint were lost to memory: a restart
            // rebuilds them from the log; until then nothing is staged on them.
            int rc = self->states_lost ? -SM_ENOMEM : 0;
            if (rc == 0 && (self->prefetch.request != request ||
                            index >= self->prefetch.first + self->prefetch.count)) {
                core_prefetch_drop(self);
                rc = core_prefetch(self, request, index);
            }
            if (rc == 0)
                rc = core_stage_command(self, request, index, &request->commands[index]);
            if (rc) {
                result_set(&request->results[index], CORE_RESULT_FAILED,
                           "the node could not stage this command (storage or memory error); "
                           "nothing was recorded. Check the node's log, then retry with the "
                           "same command ID");
                return rc;
            }
        }
    }
    return 0;
}

static int
stage_pending(core_t *self)
{
    int rc = stage_requests(self);
    core_prefetch_drop(self);
    return rc;
}

// Completes the staging batch (states, head, seal) and makes it the one in flight.
static int
seal_staging(core_t *self)
{
    core_batch_t *batch = self->staging;
    int rc = core_checkpoint_seal(self, batch);
    if (rc == 0)
        rc = put_head(self);
    if (rc == 0)
        rc = core_origins_put(self);
    // Only a batch with this node's own operations gets a new seal; other origins'
    // seals arrived with their operations.
    if (rc == 0 && self->staged.last_seq > self->staged.sealed_seq)
        rc = core_seal(self);
    if (rc)
        return rc;
    batch->head = self->staged;
    self->in_flight = batch;
    self->write_handed_out = false;
    self->staging = batch == &self->batches[0] ? &self->batches[1] : &self->batches[0];
    assert(self->staging->waiter_count == 0);
    self->staging->id = batch->id + 1;
    return 0;
}

void
core_flush(core_t *self, uint64_t wall_ms)
{
    core_tick(self, wall_ms);
    int rc = stage_pending(self);
    if (rc == 0 && !self->in_flight &&
        (self->staging->waiter_count > 0 || self->staging->remote_operations > 0))
        rc = seal_staging(self);
    if (rc)
        core_fail_pending(self, rc);
    collect_ready(self);
}

// The batch is on disk: its field states become the cache's committed values.
static void
cache_committed_states(core_t *self, const store_batch_t *batch)
{
    for (size_t i = 0; i < batch->count; i++) {
        const store_put_t *put = &batch->puts[i];
        if (put->cf != STORE_CF_STATE)
            continue;
        if (overlay_count(self->state_cache) >= CORE_STATE_CACHE_ENTRIES_MAX)
            overlay_clear(self->state_cache);
        if (overlay_put(self->state_cache, STORE_CF_STATE, store_put_key(batch, put),
                        put->key_len, store_put_value(batch, put), put->value_len) != 0) {
            overlay_clear(self->state_cache); // never serve a stale state
            return;
        }
    }
}

void
core_write_done(core_t *self, uint64_t batch_id, int rc)
{
    assert(self->in_flight != NULL);
    assert(batch_id == self->in_flight->id);
    self->write_error = rc;
    if (rc) {
        self->write_failures++;
        core_fail_pending(self, rc);
        collect_ready(self);
        return;
    }
    self->writes++;
    core_batch_t *batch = self->in_flight;
    for (size_t i = 0; i < batch->waiter_count; i++)
        batch->waiters[i].request->unresolved--;
    self->durable = batch->head;
    core_origins_commit(self, batch);
    self->have_generation++;
    core_checkpoint_committed(self, batch);
    cache_committed_states(self, &batch->batch);
    core_replicate_after_write(self, batch);
    batch_reset(batch);
    self->in_flight = NULL;
    self->write_handed_out = false;
    collect_ready(self);
}

bool
core_next_effect(core_t *self, core_effect_t *effect)
{
    request_free(self->handed_out);
    self->handed_out = NULL;
    memset(effect, 0, sizeof *effect);
    if (self->ready_count > 0) {
        core_request_t *request = self->ready[0];
        memmove(self->ready, self->ready + 1, (self->ready_count - 1) * sizeof *self->ready);
        self->ready_count--;
        self->handed_out = request;
        effect->kind = CORE_EFFECT_REPLY;
        effect->request_id = request->request_id;
        effect->result_count = request->count;
        effect->results = request->results;
        return true;
    }
    free(self->send_handed_out.bytes);
    self->send_handed_out.bytes = NULL;
    if (self->send_count > 0) {
        self->send_handed_out = self->sends[self->send_head];
        self->send_count--;
        self->send_head = self->send_count ? self->send_head + 1 : 0;
        effect->kind = CORE_EFFECT_SEND;
        effect->peer = self->send_handed_out.peer;
        effect->bytes = self->send_handed_out.bytes;
        effect->len = self->send_handed_out.len;
        return true;
    }
    if (self->in_flight && !self->write_handed_out) {
        self->write_handed_out = true;
        effect->kind = CORE_EFFECT_WRITE;
        effect->batch_id = self->in_flight->id;
        effect->batch = &self->in_flight->batch;
        effect->sync = self->sync && !CORE_BUG(self, CORE_BUG_ACK_BEFORE_SYNC);
        return true;
    }
    return false;
}

const char *
core_name(const core_t *self)
{
    return self->name;
}

const rules_t *
core_rules(const core_t *self)
{
    return self->rules;
}
