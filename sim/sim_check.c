// sim_check: the checkers, run after the final heal and quiescence. They trust
// the simulator's ledger of what the tills sent and were told, and read each
// node's storage directly; they do not take a node's word for anything.
#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "crdt.h"
#include "keys.h"
#include "sim_internal.h"
#include "sm_error.h"
#include "storemesh.pb-c.h"

static const char *const mark_names[MARK_COUNT] = {
    [MARK_GAP_FILLED_BY_RELAY] = "gap-filled-by-relay",
    [MARK_RESUMED_CATCH_UP] = "resumed-catch-up",
    [MARK_CLOCK_JUMP_BACK_THEN_ACK] = "clock-jump-back-then-ack",
    [MARK_CONFLICT] = "conflict",
    [MARK_CRASH_BETWEEN_WRITE_AND_ACK] = "crash-between-write-and-ack",
    [MARK_RETRY_ANSWERED_FROM_LOG] = "retry-answered-from-log",
    [MARK_DISK_ERROR_REFUSED] = "disk-error-refused",
    [MARK_RELAYED_OPERATIONS] = "relayed-operations",
    [MARK_STATES_REPLAYED] = "states-replayed",
};

const char *
sim_mark_name(sim_mark_t mark)
{
    return mark < MARK_COUNT ? mark_names[mark] : "?";
}

bool
sim_check_converged(sim_t *sim)
{
    uint64_t total = 0;
    for (size_t i = 0; i < sim->node_count; i++) {
        if (!sim->nodes[i].up)
            return false;
        core_status_t status;
        core_status(sim->nodes[i].core, 0, &status);
        total += status.last_seq;
    }
    for (size_t i = 0; i < sim->node_count; i++) {
        core_status_t status;
        core_status(sim->nodes[i].core, 0, &status);
        if (status.operations != total)
            return false;
    }
    return true;
}

bool
sim_check_digests(sim_t *sim, char *detail, size_t detail_size)
{
    char first[65] = "";
    for (size_t i = 0; i < sim->node_count; i++) {
        char hex[65];
        uint64_t fields = 0;
        if (!sim->nodes[i].up || core_digest(sim->nodes[i].core, hex, &fields) != 0) {
            snprintf(detail, detail_size, "%s is down or its state cannot be read",
                     sim->nodes[i].name);
            return false;
        }
        if (i == 0) {
            memcpy(first, hex, sizeof first);
        } else if (strcmp(first, hex) != 0) {
            snprintf(detail, detail_size, "digest of %s is %.16s..., of %s %.16s...",
                     sim->nodes[0].name, first, sim->nodes[i].name, hex);
            return false;
        }
    }
    snprintf(detail, detail_size, "%zu nodes show digest %.16s...", sim->node_count, first);
    return true;
}

// ---- the reference log (node 0's), copied out ----

typedef struct {
    uint8_t *key;
    size_t key_len;
    uint8_t *value;
    size_t value_len;
} entry_t;

typedef struct {
    entry_t *entries;
    size_t count, cap;
    int rc;
} log_copy_t;

static int
copy_entry(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value, size_t value_len)
{
    log_copy_t *copy = arg;
    if (copy->count == copy->cap) {
        size_t cap = copy->cap ? copy->cap * 2 : 1024;
        entry_t *grown = realloc(copy->entries, cap * sizeof *grown);
        if (!grown) {
            copy->rc = -SM_ENOMEM;
            return 1;
        }
        copy->entries = grown;
        copy->cap = cap;
    }
    entry_t *entry = &copy->entries[copy->count];
    entry->key = malloc(key_len + value_len + 1);
    if (!entry->key) {
        copy->rc = -SM_ENOMEM;
        return 1;
    }
    memcpy(entry->key, key, key_len);
    memcpy(entry->key + key_len, value, value_len);
    entry->key_len = key_len;
    entry->value = entry->key + key_len;
    entry->value_len = value_len;
    copy->count++;
    return 0;
}

static void
log_copy_free(log_copy_t *copy)
{
    for (size_t i = 0; i < copy->count; i++)
        free(copy->entries[i].key);
    free(copy->entries);
}

typedef struct {
    const log_copy_t *reference;
    size_t index;
    bool same;
} compare_t;

static int
compare_entry(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value, size_t value_len)
{
    compare_t *compare = arg;
    const entry_t *entry =
        compare->index < compare->reference->count ? &compare->reference->entries[compare->index] : NULL;
    compare->index++;
    if (!entry || entry->key_len != key_len || entry->value_len != value_len ||
        memcmp(entry->key, key, key_len) != 0 || memcmp(entry->value, value, value_len) != 0) {
        compare->same = false;
        return 1;
    }
    return 0;
}

// ---- checks ----

static sim_report_check_t *
check_add(sim_t *sim, const char *name)
{
    assert(sim->report.check_count < sizeof sim->checks / sizeof *sim->checks);
    sim_report_check_t *check = &sim->checks[sim->report.check_count++];
    snprintf(check->name, sizeof check->name, "%s", name);
    check->passed = true;
    check->detail[0] = '\0';
    return check;
}

#define FAIL(check, ...)                                                                           \
    do {                                                                                           \
        if ((check)->passed) {                                                                     \
            (check)->passed = false;                                                               \
            snprintf((check)->detail, sizeof (check)->detail, __VA_ARGS__);                        \
        }                                                                                          \
    } while (0)

// Ledger index of "NODE-NUMBER", or UINT32_MAX.
static uint32_t
ledger_find(const sim_t *sim, uint32_t **by_number, const uint32_t *counts, const char *command_id,
            uint32_t *node_out)
{
    const char *dash = strrchr(command_id, '-');
    if (!dash)
        return UINT32_MAX;
    char name[SCENARIO_NAME_MAX + 1];
    size_t len = (size_t)(dash - command_id);
    if (len == 0 || len > SCENARIO_NAME_MAX)
        return UINT32_MAX;
    memcpy(name, command_id, len);
    name[len] = '\0';
    char *end = NULL;
    unsigned long number = strtoul(dash + 1, &end, 10);
    if (!end || *end != '\0')
        return UINT32_MAX;
    for (size_t i = 0; i < sim->node_count; i++) {
        if (strcmp(sim->nodes[i].name, name) != 0)
            continue;
        *node_out = (uint32_t)i;
        if (number == 0 || number > counts[i])
            return UINT32_MAX;
        return by_number[i][number - 1];
    }
    return UINT32_MAX;
}

typedef struct {
    char type[16];
    char key[96];
} entity_ref_t;

static int
compare_entity(const void *a, const void *b)
{
    const entity_ref_t *x = a;
    const entity_ref_t *y = b;
    int rc = strcmp(x->type, y->type);
    return rc ? rc : strcmp(x->key, y->key);
}

// The standing redemption of each voucher: the smallest stamp among those in the log.
typedef struct {
    char key[96];
    crdt_stamp_t stamp;
    char value[96];
    uint64_t writes;
} voucher_t;

static voucher_t *
voucher_find(voucher_t **vouchers, size_t *count, size_t *cap, const char *key)
{
    for (size_t i = 0; i < *count; i++)
        if (strcmp((*vouchers)[i].key, key) == 0)
            return &(*vouchers)[i];
    if (*count == *cap) {
        size_t next = *cap ? *cap * 2 : 64;
        voucher_t *grown = realloc(*vouchers, next * sizeof *grown);
        if (!grown)
            return NULL;
        *vouchers = grown;
        *cap = next;
    }
    voucher_t *voucher = &(*vouchers)[(*count)++];
    memset(voucher, 0, sizeof *voucher);
    snprintf(voucher->key, sizeof voucher->key, "%s", key);
    return voucher;
}

int
sim_check_all(sim_t *sim)
{
    sim_node_t *reference = &sim->nodes[0];
    int rc = 0;

    sim_report_check_t *check = check_add(sim, "nodes-restart");
    if (sim->restart_failures)
        FAIL(check, "%" PRIu64 " restarts failed; first: %.180s", sim->restart_failures,
             sim->restart_detail);
    else
        snprintf(check->detail, sizeof check->detail, "every power loss recovered from storage");

    check = check_add(sim, "converged");
    char detail[256];
    if (!sim_check_converged(sim))
        FAIL(check, "after the heal phase (%" PRIu64 " ms) the nodes do not hold the same operations",
             sim->scenario->heal_ms);
    else if (!sim_check_digests(sim, detail, sizeof detail))
        FAIL(check, "same operations, different state: %.200s", detail);
    else
        snprintf(check->detail, sizeof check->detail, "%s", detail);

    check = check_add(sim, "quiet-points");
    if (sim->quiet_point_failures)
        FAIL(check, "%" PRIu64 " quiet points with unequal digests; first %.160s",
             sim->quiet_point_failures, sim->quiet_point_detail);
    else
        snprintf(check->detail, sizeof check->detail,
                 "digests equal at every convergence after a heal");

    if (!reference->up) {
        check = check_add(sim, "acknowledged-not-lost");
        FAIL(check, "%s is down at the end: nothing to check against", reference->name);
        return 0;
    }

    // Node 0's log, and every other node's log compared with it byte for byte.
    log_copy_t log = {0};
    store_reader_t reader = memstore_reader(reference->store);
    rc = reader.scan(reader.ctx, STORE_CF_LOG, NULL, 0, NULL, 0, copy_entry, &log);
    if (rc == 0)
        rc = log.rc;
    if (rc) {
        log_copy_free(&log);
        return rc;
    }
    check = check_add(sim, "logs-identical");
    for (size_t i = 1; i < sim->node_count; i++) {
        if (!sim->nodes[i].up)
            continue;
        compare_t compare = {.reference = &log, .same = true};
        store_reader_t other = memstore_reader(sim->nodes[i].store);
        other.scan(other.ctx, STORE_CF_LOG, NULL, 0, NULL, 0, compare_entry, &compare);
        if (!compare.same || compare.index != log.count) {
            FAIL(check, "the log of %s differs from %s's at entry %zu of %zu", sim->nodes[i].name,
                 reference->name, compare.index, log.count);
            break;
        }
    }
    if (check->passed)
        snprintf(check->detail, sizeof check->detail,
                 "%zu operations, byte-identical on %zu nodes", log.count, sim->node_count);

    // The ledger by (node, number).
    uint32_t **by_number = calloc(sim->node_count, sizeof *by_number);
    uint32_t *counts = calloc(sim->node_count, sizeof *counts);
    uint8_t *seen = calloc(sim->ledger_count + 1, 1);
    uint64_t *found_seq = calloc(sim->ledger_count + 1, sizeof *found_seq);
    entity_ref_t *entities = calloc(log.count + 1, sizeof *entities);
    size_t entity_count = 0;
    voucher_t *vouchers = NULL;
    size_t voucher_count = 0;
    size_t voucher_cap = 0;
    int64_t *stock_sums = NULL;
    if (!by_number || !counts || !seen || !found_seq || !entities) {
        rc = -SM_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < sim->node_count; i++) {
        counts[i] = sim->nodes[i].next_number;
        by_number[i] = calloc(counts[i] + 1, sizeof **by_number);
        if (!by_number[i]) {
            rc = -SM_ENOMEM;
            goto done;
        }
    }
    for (size_t i = 0; i < sim->ledger_count; i++) {
        const sim_command_t *command = &sim->ledger[i];
        by_number[command->node][command->number - 1] = (uint32_t)i;
    }

    sim_report_check_t *contiguous = check_add(sim, "sequences-contiguous");
    sim_report_check_t *invented = check_add(sim, "nothing-invented");
    sim_report_check_t *once = check_add(sim, "applied-exactly-once");
    sim_report_check_t *owners = check_add(sim, "owner-fields-by-owner");
    char last_origin[CRDT_NAME_MAX + 1] = "";
    uint64_t last_seq = 0;
    uint64_t email_multi = 0;
    for (size_t i = 0; i < log.count; i++) {
        const entry_t *entry = &log.entries[i];
        char origin[CRDT_NAME_MAX + 1];
        uint64_t seq = 0;
        if (keys_log_parse(entry->key, entry->key_len, origin, &seq) != 0) {
            FAIL(contiguous, "a log key does not parse at entry %zu", i);
            continue;
        }
        if (strcmp(origin, last_origin) != 0) {
            snprintf(last_origin, sizeof last_origin, "%s", origin);
            last_seq = 0;
        }
        if (seq != last_seq + 1)
            FAIL(contiguous, "%s jumps from #%" PRIu64 " to #%" PRIu64, origin, last_seq, seq);
        last_seq = seq;
        Storemesh__Operation *op =
            storemesh__operation__unpack(NULL, entry->value_len, entry->value);
        if (!op || !op->command_id || !op->type || !op->key || !op->field) {
            FAIL(invented, "operation %s #%" PRIu64 " does not decode", origin, seq);
            storemesh__operation__free_unpacked(op, NULL);
            continue;
        }
        uint32_t node = UINT32_MAX;
        uint32_t index = ledger_find(sim, by_number, counts, op->command_id, &node);
        if (index == UINT32_MAX || strcmp(sim->nodes[node].name, origin) != 0) {
            FAIL(invented, "operation %s #%" PRIu64 " carries command ID '%s', which no till of %s sent",
                 origin, seq, op->command_id, origin);
        } else {
            sim_command_text_t text;
            core_command_t expected;
            sim_command_build(sim, &sim->ledger[index], &text, &expected);
            if (strcmp(op->type, expected.type) != 0 || strcmp(op->key, expected.key) != 0 ||
                strcmp(op->field, expected.field) != 0)
                FAIL(invented, "operation %s #%" PRIu64 " (%s) is not what its till sent", origin,
                     seq, op->command_id);
            if (seen[index]++)
                FAIL(once, "command %s is in the log twice (%s #%" PRIu64 " and #%" PRIu64 ")",
                     op->command_id, origin, found_seq[index], seq);
            else
                found_seq[index] = seq;
        }
        const char *authority = rules_authority(sim->rules);
        if (strcmp(op->type, "price") == 0 && (!authority || strcmp(origin, authority) != 0))
            FAIL(owners, "price %s was written by %s (#%" PRIu64 "), not by its owner %s", op->key,
                 origin, seq, authority ? authority : "?");
        if (strcmp(op->type, "order") == 0) {
            char owner[96];
            snprintf(owner, sizeof owner, "%s", op->key + (strncmp(op->key, "ord-", 4) ? 0 : 4));
            char *dash = strrchr(owner, '-');
            if (dash)
                *dash = '\0';
            if (strcmp(owner, origin) != 0)
                FAIL(owners, "order %s was written by %s, not by the branch that took it", op->key,
                     origin);
        }
        if (strcmp(op->type, "voucher") == 0 && op->value.len < 96) {
            voucher_t *voucher = voucher_find(&vouchers, &voucher_count, &voucher_cap, op->key);
            if (!voucher) {
                rc = -SM_ENOMEM;
                storemesh__operation__free_unpacked(op, NULL);
                goto done;
            }
            crdt_stamp_t stamp = {.hlc = op->hlc};
            crdt_tag_set(&stamp.tag, origin, seq);
            if (voucher->writes++ == 0 || crdt_stamp_compare(&stamp, &voucher->stamp) < 0) {
                voucher->stamp = stamp;
                memcpy(voucher->value, op->value.data, op->value.len);
                voucher->value[op->value.len] = '\0';
            }
        }
        if (entity_count == 0 || strcmp(entities[entity_count - 1].type, op->type) != 0 ||
            strcmp(entities[entity_count - 1].key, op->key) != 0) {
            snprintf(entities[entity_count].type, sizeof entities[entity_count].type, "%s", op->type);
            snprintf(entities[entity_count].key, sizeof entities[entity_count].key, "%s", op->key);
            entity_count++;
        }
        storemesh__operation__free_unpacked(op, NULL);
    }
    if (contiguous->passed)
        snprintf(contiguous->detail, sizeof contiguous->detail,
                 "every origin's sequence runs from 1 without a gap");
    if (invented->passed)
        snprintf(invented->detail, sizeof invented->detail,
                 "every operation is a command a till sent, with its content");
    if (owners->passed)
        snprintf(owners->detail, sizeof owners->detail,
                 "prices only by the cloud, orders only by the branch that took them");

    sim_report_check_t *acked = check_add(sim, "acknowledged-not-lost");
    sim_report_check_t *answers = check_add(sim, "answers-consistent");
    uint64_t acked_count = 0;
    uint64_t unresolved = 0;
    uint64_t branch_price_refused = 0;
    for (size_t i = 0; i < sim->ledger_count; i++) {
        const sim_command_t *command = &sim->ledger[i];
        if (command->answered_twice_differently)
            FAIL(answers, "command %s-%u got two different audit IDs",
                 sim->nodes[command->node].name, command->number);
        if (command->state == CMD_BAD_INPUT)
            FAIL(answers, "command %s-%u was called bad input; the workload sends only valid ones",
                 sim->nodes[command->node].name, command->number);
        if (command->state == CMD_PENDING || command->state == CMD_RETRY)
            unresolved++;
        if (command->state == CMD_REFUSED && command->kind == SCENARIO_CMD_BRANCH_PRICE)
            branch_price_refused++;
        if (command->state != CMD_ACKED)
            continue;
        acked_count++;
        if (!seen[i])
            FAIL(acked, "command %s-%u was acknowledged as %s #%" PRIu64 " but no node holds it",
                 sim->nodes[command->node].name, command->number, sim->nodes[command->node].name,
                 command->seq);
        else if (found_seq[i] != command->seq)
            FAIL(acked, "command %s-%u was acknowledged as #%" PRIu64 " but the log holds it at #%" PRIu64,
                 sim->nodes[command->node].name, command->number, command->seq, found_seq[i]);
    }
    if (unresolved)
        FAIL(answers, "%" PRIu64 " commands still have no final answer after the heal phase",
             unresolved);
    if (acked->passed)
        snprintf(acked->detail, sizeof acked->detail,
                 "%" PRIu64 " acknowledged commands, each on every node at its audit ID", acked_count);
    if (answers->passed)
        snprintf(answers->detail, sizeof answers->detail,
                 "every retry got the same audit ID; every command has a final answer");

    // State checks on the reference: counters equal the sum of their logged deltas
    // (exactly once), a voucher's standing redemption is the earliest.
    qsort(entities, entity_count, sizeof *entities, compare_entity);
    size_t key_space = (size_t)sim->scenario->workload.keys + 1;
    stock_sums = calloc(key_space, sizeof *stock_sums);
    if (!stock_sums) {
        rc = -SM_ENOMEM;
        goto done;
    }
    for (size_t k = 0; k < sim->ledger_count; k++) {
        const sim_command_t *command = &sim->ledger[k];
        if (seen[k] && command->key < key_space &&
            (command->kind == SCENARIO_CMD_SALE || command->kind == SCENARIO_CMD_RECEIVE))
            stock_sums[command->key] += command->amount;
    }
    sim_report_check_t *vouchers_check = check_add(sim, "one-redemption-per-voucher");
    uint64_t voucher_conflicts = 0;
    uint64_t phone_conflicts = 0;
    uint64_t counter_fields = 0;
    for (size_t i = 0; i < entity_count; i++) {
        if (i > 0 && compare_entity(&entities[i - 1], &entities[i]) == 0)
            continue;
        core_entity_view_t view = {0};
        char message[256];
        if (core_get(reference->core, entities[i].type, entities[i].key, &view, message,
                     sizeof message) != 0) {
            FAIL(once, "%s %.60s cannot be read: %.120s", entities[i].type, entities[i].key, message);
            continue;
        }
        for (size_t f = 0; f < view.field_count; f++) {
            const core_field_view_t *field = &view.fields[f];
            if (field->rule->merge == CRDT_KIND_COUNTER) {
                counter_fields++;
                unsigned long sku = strtoul(entities[i].key + 4, NULL, 10);
                int64_t expected = sku < key_space ? stock_sums[sku] : INT64_MIN;
                if (field->view.number != expected)
                    FAIL(once, "%s %s on_hand is %" PRId64 " but its logged commands add up to %" PRId64,
                         entities[i].type, entities[i].key, field->view.number, expected);
            }
            if (field->rule->merge == CRDT_KIND_FWW) {
                voucher_conflicts += field->view.conflict_count;
                voucher_t *voucher = voucher_find(&vouchers, &voucher_count, &voucher_cap,
                                                  entities[i].key);
                if (!voucher) {
                    rc = -SM_ENOMEM;
                    core_entity_view_free(&view);
                    goto done;
                }
                if (field->view.value_count != 1)
                    FAIL(vouchers_check, "voucher %s shows %zu standing redemptions", entities[i].key,
                         field->view.value_count);
                else if (strcmp(field->view.values[0], voucher->value) != 0)
                    FAIL(vouchers_check,
                         "voucher %s stands redeemed by '%s' but the earliest redemption is '%s'",
                         entities[i].key, field->view.values[0], voucher->value);
            }
            if (field->rule->merge == CRDT_KIND_KEEPBOTH && field->view.value_count > 1)
                phone_conflicts++;
            if (field->rule->merge == CRDT_KIND_LWW)
                email_multi++;
        }
        core_entity_view_free(&view);
    }
    if (once->passed)
        snprintf(once->detail, sizeof once->detail,
                 "no command twice in the log; %" PRIu64 " counters equal their logged deltas",
                 counter_fields);
    if (vouchers_check->passed)
        snprintf(vouchers_check->detail, sizeof vouchers_check->detail,
                 "%zu vouchers, each with the earliest redemption standing", voucher_count);

    if (voucher_conflicts > 0 || phone_conflicts > 0)
        sim->sometimes[MARK_CONFLICT] += voucher_conflicts + phone_conflicts;
    size_t c = 0;
    sim->conflicts[c++] = (sim_report_conflict_t){.count = voucher_conflicts};
    snprintf(sim->conflicts[c - 1].rule, sizeof sim->conflicts[c - 1].rule,
             "voucher.redeemed_by (first-writer-wins)");
    snprintf(sim->conflicts[c - 1].meaning, sizeof sim->conflicts[c - 1].meaning,
             "redemptions that lost to an earlier one: refund or recover each");
    sim->conflicts[c++] = (sim_report_conflict_t){.count = phone_conflicts};
    snprintf(sim->conflicts[c - 1].rule, sizeof sim->conflicts[c - 1].rule,
             "customer.phone (keep-both)");
    snprintf(sim->conflicts[c - 1].meaning, sizeof sim->conflicts[c - 1].meaning,
             "customers with more than one phone number kept: someone must choose");
    sim->conflicts[c++] = (sim_report_conflict_t){.count = branch_price_refused};
    snprintf(sim->conflicts[c - 1].rule, sizeof sim->conflicts[c - 1].rule,
             "price.amount (owner: cloud)");
    snprintf(sim->conflicts[c - 1].meaning, sizeof sim->conflicts[c - 1].meaning,
             "branch price changes refused at the till: only head office sets prices");
    sim->conflicts[c++] = (sim_report_conflict_t){.count = email_multi};
    snprintf(sim->conflicts[c - 1].rule, sizeof sim->conflicts[c - 1].rule,
             "customer.email (last-writer-wins)");
    snprintf(sim->conflicts[c - 1].meaning, sizeof sim->conflicts[c - 1].meaning,
             "e-mail fields written; the latest write stands everywhere");
    sim->report.conflict_count = c;

    for (int m = 0; m < MARK_COUNT; m++) {
        snprintf(sim->marks[m].name, sizeof sim->marks[m].name, "%s", mark_names[m]);
        sim->marks[m].count = sim->sometimes[m];
    }
    sim->report.sometimes_count = MARK_COUNT;

done:
    for (size_t i = 0; by_number && i < sim->node_count; i++)
        free(by_number[i]);
    free(by_number);
    free(counts);
    free(seen);
    free(found_seq);
    free(entities);
    free(vouchers);
    free(stock_sums);
    log_copy_free(&log);
    return rc;
}
