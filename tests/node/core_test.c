// The node core driven directly, on a real RocksDB in a temporary directory: the
// submit pipeline, group commit, failure rollback, idempotency and recovery.
#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "core.h"
#include "keys.h"
#include "rules.h"
#include "sm_error.h"
#include "store_rocks.h"

typedef struct {
    char dir[128];
    rules_t *rules;
    store_rocks_t *store;
    core_t *core;
    uint8_t public_key[crypto_sign_PUBLICKEYBYTES];
    uint8_t secret_key[crypto_sign_SECRETKEYBYTES];
    const char *name;
    uint32_t checkpoint_ops; // 0: the core's default
    uint32_t batch_commands_max; // 0: the default
} fixture_t;

static void
open_core(fixture_t *f)
{
    char err[512];
    int rc = 0;
    f->store = store_rocks_open(f->dir, true, &rc, err, sizeof err);
    cr_assert_not_null(f->store, "open store: %s", err);
    core_config_t config = {.name = f->name,
                            .rules = f->rules,
                            .secret_key = f->secret_key,
                            .public_key = f->public_key,
                            .reader = store_rocks_reader(f->store),
                            .sync = true,
                            .checkpoint_ops = f->checkpoint_ops,
                            .batch_commands_max = f->batch_commands_max};
    f->core = core_new(&config, err, sizeof err);
    cr_assert_not_null(f->core, "core_new: %s", err);
}

static void
close_core(fixture_t *f)
{
    core_destroy(&f->core);
    store_rocks_close(&f->store);
}

static void
setup(fixture_t *f, const char *name)
{
    cr_assert_eq(sodium_init() >= 0, true);
    snprintf(f->dir, sizeof f->dir, "/tmp/sm-core-test.XXXXXX");
    cr_assert_not_null(mkdtemp(f->dir));
    char err[512];
    f->rules = rules_load(SM_SOURCE_DIR "/docs/examples/retail-rules.yaml", err, sizeof err);
    cr_assert_not_null(f->rules, "%s", err);
    crypto_sign_keypair(f->public_key, f->secret_key);
    f->name = name;
    open_core(f);
}

static void
teardown(fixture_t *f)
{
    close_core(f);
    rules_destroy(&f->rules);
    char command[256];
    snprintf(command, sizeof command, "rm -rf '%s'", f->dir);
    cr_assert_eq(system(command), 0);
}

static core_command_t
cmd(const char *id, const char *type, const char *key, const char *field, const char *op,
    const char *value)
{
    return (core_command_t){.command_id = id,
                            .source = "test",
                            .type = type,
                            .key = key,
                            .field = field,
                            .op = op,
                            .value = value,
                            .value_len = value ? strlen(value) : 0,
                            .has_value = value != NULL};
}

// Runs the effects loop with writes going to RocksDB, or failing with fail_rc.
// Returns the number of WRITE effects; copies the results of request_id.
static int
pump(fixture_t *f, int fail_rc, uint64_t request_id, core_result_t *results, size_t count)
{
    int writes = 0;
    core_flush(f->core, 1000000);
    core_effect_t effect;
    while (core_next_effect(f->core, &effect)) {
        if (effect.kind == CORE_EFFECT_WRITE) {
            writes++;
            char err[256];
            int rc = fail_rc;
            if (rc == 0)
                rc = store_rocks_write(f->store, effect.batch, effect.sync, err, sizeof err);
            core_write_done(f->core, effect.batch_id, rc);
            core_flush(f->core, 1000000);
        } else if (effect.request_id == request_id) {
            cr_assert_eq(effect.result_count, count);
            memcpy(results, effect.results, count * sizeof *results);
        }
    }
    return writes;
}

static core_result_t
submit_one(fixture_t *f, uint64_t request_id, core_command_t command)
{
    core_result_t result;
    memset(&result, 0xff, sizeof result);
    cr_assert_eq(core_submit(f->core, request_id, &command, 1, 1000000), 0);
    pump(f, 0, request_id, &result, 1);
    return result;
}

static int64_t
counter_value(fixture_t *f, const char *key)
{
    core_entity_view_t view;
    char message[256];
    cr_assert_eq(core_get(f->core, "stock", key, &view, message, sizeof message), 0, "%s",
                 message);
    int64_t value = view.field_count ? view.fields[0].view.number : 0;
    core_entity_view_free(&view);
    return value;
}

Test(core, submit_is_acknowledged_with_audit_id_after_write)
{
    fixture_t f = {0};
    setup(&f, "branch-a");
    core_result_t result = submit_one(&f, 1, cmd("c1", "stock", "s1", "on_hand", "add", "5"));
    cr_assert_eq(result.code, CORE_RESULT_OK, "%s", result.message);
    char expected[AUDIT_ID_MAX];
    audit_id_format(expected, "branch-a", 1);
    cr_assert_str_eq(result.audit_id, expected);
    cr_assert_eq(counter_value(&f, "s1"), 5);
    teardown(&f);
}

Test(core, commands_arriving_together_share_one_write)
{
    fixture_t f = {0};
    setup(&f, "branch-a");
    for (uint64_t i = 1; i <= 3; i++) {
        char id[16];
        snprintf(id, sizeof id, "g%llu", (unsigned long long)i);
        core_command_t command = cmd(id, "stock", "s1", "on_hand", "add", "2");
        cr_assert_eq(core_submit(f.core, i, &command, 1, 1000000), 0);
    }
    core_result_t unused;
    cr_assert_eq(pump(&f, 0, 99, &unused, 1), 1, "three commands, one fsync");
    cr_assert_eq(counter_value(&f, "s1"), 6);
    teardown(&f);
}

Test(core, failed_write_answers_failed_and_leaves_no_gap)
{
    fixture_t f = {0};
    setup(&f, "branch-a");
    core_command_t command = cmd("c1", "stock", "s1", "on_hand", "add", "5");
    core_result_t result;
    cr_assert_eq(core_submit(f.core, 1, &command, 1, 1000000), 0);
    pump(&f, -SM_EIO, 1, &result, 1);
    cr_assert_eq(result.code, CORE_RESULT_FAILED);
    cr_assert_eq(counter_value(&f, "s1"), 0, "nothing of a failed write is visible");
    result = submit_one(&f, 2, command);
    cr_assert_eq(result.code, CORE_RESULT_OK, "%s", result.message);
    cr_assert_eq(result.duplicate, false, "the failed attempt left no idempotency entry");
    char expected[AUDIT_ID_MAX];
    audit_id_format(expected, "branch-a", 1);
    cr_assert_str_eq(result.audit_id, expected, "the sequence did not skip");
    cr_assert_eq(counter_value(&f, "s1"), 5);
    teardown(&f);
}

Test(core, same_command_id_gives_same_audit_id_and_one_effect_across_restart)
{
    fixture_t f = {0};
    setup(&f, "branch-a");
    core_command_t command = cmd("till-7", "stock", "s1", "on_hand", "add", "-3");
    core_result_t first = submit_one(&f, 1, command);
    core_result_t second = submit_one(&f, 2, command);
    close_core(&f);
    open_core(&f);
    core_result_t third = submit_one(&f, 3, command);
    cr_assert_str_eq(first.audit_id, second.audit_id);
    cr_assert_str_eq(first.audit_id, third.audit_id);
    cr_assert_eq(second.duplicate, true);
    cr_assert_eq(third.duplicate, true);
    cr_assert_eq(counter_value(&f, "s1"), -3);
    teardown(&f);
}

Test(core, repeat_inside_one_batch_is_answered_with_the_first_audit_id)
{
    fixture_t f = {0};
    setup(&f, "branch-a");
    core_command_t commands[2] = {cmd("dup", "stock", "s1", "on_hand", "add", "4"),
                                  cmd("dup", "stock", "s1", "on_hand", "add", "4")};
    core_result_t results[2];
    cr_assert_eq(core_submit(f.core, 1, commands, 2, 1000000), 0);
    pump(&f, 0, 1, results, 2);
    cr_assert_eq(results[0].code, CORE_RESULT_OK);
    cr_assert_eq(results[1].code, CORE_RESULT_OK);
    cr_assert_str_eq(results[0].audit_id, results[1].audit_id);
    cr_assert_eq(results[1].duplicate, true);
    cr_assert_eq(counter_value(&f, "s1"), 4);
    teardown(&f);
}

Test(core, reused_command_id_with_other_content_is_refused)
{
    fixture_t f = {0};
    setup(&f, "branch-a");
    submit_one(&f, 1, cmd("x", "stock", "s1", "on_hand", "add", "1"));
    core_result_t result = submit_one(&f, 2, cmd("x", "stock", "s1", "on_hand", "add", "2"));
    cr_assert_eq(result.code, CORE_RESULT_BAD_INPUT);
    cr_assert_not_null(strstr(result.message, "already used"), "%s", result.message);
    cr_assert_eq(counter_value(&f, "s1"), 1);
    teardown(&f);
}

Test(core, restart_continues_the_sequence_and_chain)
{
    fixture_t f = {0};
    setup(&f, "branch-a");
    submit_one(&f, 1, cmd("a", "stock", "s1", "on_hand", "add", "1"));
    submit_one(&f, 2, cmd("b", "stock", "s1", "on_hand", "add", "1"));
    close_core(&f);
    open_core(&f);
    core_result_t result = submit_one(&f, 3, cmd("c", "stock", "s1", "on_hand", "add", "1"));
    cr_assert_eq(strncmp(result.audit_id, "branch-a-3-", 11), 0, "%s", result.audit_id);
    for (int seq = 1; seq <= 3; seq++) {
        char audit_id[AUDIT_ID_MAX];
        audit_id_format(audit_id, "branch-a", (uint64_t)seq);
        core_audit_t audit;
        char message[256];
        cr_assert_eq(core_audit(f.core, audit_id, &audit, message, sizeof message), 0, "%s",
                     message);
        cr_assert_eq(audit.sealed, true, "operation %d is covered by a valid seal", seq);
        core_audit_free(&audit);
    }
    teardown(&f);
}

Test(core, branch_write_to_cloud_owned_price_is_refused_with_explain)
{
    fixture_t f = {0};
    setup(&f, "branch-a");
    core_result_t result = submit_one(&f, 1, cmd("p", "price", "sku", "amount", "set", "9.99"));
    cr_assert_eq(result.code, CORE_RESULT_REFUSED);
    cr_assert_not_null(strstr(result.message, "owned by cloud"), "%s", result.message);
    cr_assert_not_null(strstr(result.message, "Only head office changes a price"), "%s",
                       result.message);
    teardown(&f);
}

Test(core, cloud_may_write_its_price)
{
    fixture_t f = {0};
    setup(&f, "cloud");
    core_result_t result = submit_one(&f, 1, cmd("p", "price", "sku", "amount", "set", "9.99"));
    cr_assert_eq(result.code, CORE_RESULT_OK, "%s", result.message);
    core_status_t status;
    core_status(f.core, 1000000, &status);
    cr_assert_eq(status.queue_depth, 0, "the authority has no queue of its own");
    teardown(&f);
}

Test(core, second_redemption_at_the_same_node_is_refused)
{
    fixture_t f = {0};
    setup(&f, "branch-a");
    core_result_t first = submit_one(&f, 1, cmd("r1", "voucher", "v", "redeemed_by", "set", "t1"));
    core_result_t second = submit_one(&f, 2, cmd("r2", "voucher", "v", "redeemed_by", "set", "t2"));
    cr_assert_eq(first.code, CORE_RESULT_OK);
    cr_assert_eq(second.code, CORE_RESULT_REFUSED);
    cr_assert_not_null(strstr(second.message, "already set to 't1'"), "%s", second.message);
    teardown(&f);
}

Test(core, bad_input_is_refused_without_effect)
{
    fixture_t f = {0};
    setup(&f, "branch-a");
    char digest_before[65];
    char digest_after[65];
    uint64_t fields = 0;
    cr_assert_eq(core_digest(f.core, digest_before, &fields), 0);
    const core_command_t bad[] = {
        cmd("", "stok", "s", "on_hand", "add", "1"),
        cmd("", "stock", "s", "onhand", "add", "1"),
        cmd("", "stock", "s", "on_hand", "set", "1"),
        cmd("", "stock", "s", "on_hand", "add", "1.5"),
        cmd("", "stock", "s", "on_hand", "add", NULL),
        cmd("", "customer", "", "email", "set", "x"),
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        core_result_t result = submit_one(&f, i + 1, bad[i]);
        cr_assert_eq(result.code, CORE_RESULT_BAD_INPUT, "case %zu: %s", i, result.message);
        cr_assert_neq(result.message[0], 0, "case %zu says why", i);
    }
    char big[2000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    core_result_t result = submit_one(&f, 50, cmd("", "customer", "c", "email", "set", big));
    cr_assert_eq(result.code, CORE_RESULT_BAD_INPUT);
    cr_assert_not_null(strstr(result.message, "1024"), "%s", result.message);
    cr_assert_eq(core_digest(f.core, digest_after, &fields), 0);
    cr_assert_str_eq(digest_before, digest_after);
    teardown(&f);
}

Test(core, every_merge_kind_reads_back)
{
    fixture_t f = {0};
    setup(&f, "branch-a");
    cr_assert_eq(submit_one(&f, 1, cmd("", "customer", "c", "email", "set", "a@x")).code, 0);
    cr_assert_eq(submit_one(&f, 2, cmd("", "customer", "c", "email", "set", "b@x")).code, 0);
    cr_assert_eq(submit_one(&f, 3, cmd("", "customer", "c", "tags", "add", "vip")).code, 0);
    cr_assert_eq(submit_one(&f, 4, cmd("", "customer", "c", "tags", "add", "new")).code, 0);
    cr_assert_eq(submit_one(&f, 5, cmd("", "customer", "c", "tags", "remove", "new")).code, 0);
    cr_assert_eq(submit_one(&f, 6, cmd("", "customer", "c", "phone", "set", "1")).code, 0);
    cr_assert_eq(submit_one(&f, 7, cmd("", "customer", "c", "phone", "set", "2")).code, 0);
    core_entity_view_t view;
    char message[256];
    cr_assert_eq(core_get(f.core, "customer", "c", &view, message, sizeof message), 0);
    cr_assert_eq(view.field_count, 3);
    cr_assert_str_eq(view.fields[0].rule->name, "email");
    cr_assert_str_eq(view.fields[0].view.values[0], "b@x");
    cr_assert_eq(view.fields[1].view.value_count, 1);
    cr_assert_str_eq(view.fields[1].view.values[0], "vip");
    cr_assert_eq(view.fields[2].view.value_count, 1, "a local set supersedes the value it saw");
    cr_assert_str_eq(view.fields[2].view.values[0], "2");
    core_entity_view_free(&view);
    cr_assert_eq(submit_one(&f, 8, cmd("", "order", "o", "status", "set", "paid")).code, 0);
    cr_assert_eq(core_get(f.core, "order", "o", &view, message, sizeof message), 0);
    cr_assert_eq(view.field_count, 1);
    cr_assert_str_eq(view.fields[0].view.values[0], "paid");
    core_entity_view_free(&view);
    teardown(&f);
}

// Takes effects until the WRITE; replies seen on the way are counted.
static bool
take_write(fixture_t *f, core_effect_t *write)
{
    core_effect_t effect;
    while (core_next_effect(f->core, &effect)) {
        if (effect.kind == CORE_EFFECT_WRITE) {
            *write = effect;
            return true;
        }
    }
    return false;
}

Test(core, next_batch_is_built_on_the_batch_being_written)
{
    fixture_t f = {0};
    setup(&f, "branch-a");
    core_command_t a = cmd("a", "stock", "s1", "on_hand", "add", "5");
    core_command_t b = cmd("b", "stock", "s1", "on_hand", "add", "7");
    cr_assert_eq(core_submit(f.core, 1, &a, 1, 1000), 0);
    core_flush(f.core, 1000);
    core_effect_t write_a;
    cr_assert(take_write(&f, &write_a));
    cr_assert_eq(core_submit(f.core, 2, &b, 1, 1000), 0);
    core_flush(f.core, 1000);
    core_effect_t none;
    cr_assert_not(take_write(&f, &none), "one write in flight at a time");
    char err[256];
    cr_assert_eq(store_rocks_write(f.store, write_a.batch, true, err, sizeof err), 0);
    core_write_done(f.core, write_a.batch_id, 0);
    core_flush(f.core, 1000);
    core_effect_t write_b;
    cr_assert(take_write(&f, &write_b), "b is sealed once a is on disk");
    cr_assert_eq(counter_value(&f, "s1"), 5, "reads see only what is on disk");
    cr_assert_eq(store_rocks_write(f.store, write_b.batch, true, err, sizeof err), 0);
    core_write_done(f.core, write_b.batch_id, 0);
    cr_assert_eq(counter_value(&f, "s1"), 12, "b was applied on top of a");
    teardown(&f);
}

Test(core, failed_write_also_fails_the_batch_built_on_it)
{
    fixture_t f = {0};
    setup(&f, "branch-a");
    core_command_t a = cmd("a", "stock", "s1", "on_hand", "add", "5");
    core_command_t b = cmd("b", "stock", "s1", "on_hand", "add", "7");
    cr_assert_eq(core_submit(f.core, 1, &a, 1, 1000), 0);
    core_flush(f.core, 1000);
    core_effect_t write_a;
    cr_assert(take_write(&f, &write_a));
    cr_assert_eq(core_submit(f.core, 2, &b, 1, 1000), 0);
    core_flush(f.core, 1000);
    core_write_done(f.core, write_a.batch_id, -SM_EIO);
    core_flush(f.core, 1000);
    int failed = 0;
    core_effect_t effect;
    while (core_next_effect(f.core, &effect)) {
        cr_assert_eq(effect.kind, CORE_EFFECT_REPLY, "nothing is written after a failure");
        cr_assert_eq(effect.results[0].code, CORE_RESULT_FAILED);
        failed++;
    }
    cr_assert_eq(failed, 2);
    core_result_t again_a = submit_one(&f, 3, a);
    core_result_t again_b = submit_one(&f, 4, b);
    cr_assert_eq(again_a.duplicate, false);
    cr_assert_eq(again_b.duplicate, false);
    char expected[AUDIT_ID_MAX];
    audit_id_format(expected, "branch-a", 2);
    cr_assert_str_eq(again_b.audit_id, expected, "no sequence number was lost");
    cr_assert_eq(counter_value(&f, "s1"), 12);
    teardown(&f);
}

// Field states reach storage at checkpoints; in between, reads and the digest see
// them from memory, and a restart rebuilds them from the log past the checkpoint.
Test(core, states_since_the_last_checkpoint_are_rebuilt_from_the_log_on_restart)
{
    fixture_t f = {.checkpoint_ops = 10};
    setup(&f, "branch-a");
    char id[32];
    for (int i = 0; i < 25; i++) { // 25 batches: checkpoints at the first and after 10, 20
        snprintf(id, sizeof id, "till-%d", i);
        core_result_t result = submit_one(&f, (uint64_t)i + 1,
                                          cmd(id, "stock", i % 2 ? "s1" : "s2", "on_hand", "add",
                                              "1"));
        cr_assert_eq(result.code, CORE_RESULT_OK, "%s", result.message);
    }
    core_result_t tag = submit_one(&f, 100, cmd("tag-1", "customer", "c1", "tags", "add", "vip"));
    cr_assert_eq(tag.code, CORE_RESULT_OK, "%s", tag.message);
    uint64_t lag = core_checkpoint_lag(f.core);
    cr_assert(lag > 0 && lag < 10, "operations since the last checkpoint: %llu",
              (unsigned long long)lag);
    char before[65];
    uint64_t fields_before = 0;
    cr_assert_eq(core_digest(f.core, before, &fields_before), 0);
    cr_assert_eq(counter_value(&f, "s1"), 12);
    close_core(&f); // no checkpoint on close: the tail must come back from the log
    open_core(&f);
    cr_assert_eq(core_checkpoint_lag(f.core), lag, "the restart replayed the log tail");
    cr_assert_eq(counter_value(&f, "s1"), 12, "each operation applied exactly once");
    cr_assert_eq(counter_value(&f, "s2"), 13);
    char after[65];
    uint64_t fields_after = 0;
    cr_assert_eq(core_digest(f.core, after, &fields_after), 0);
    cr_assert_str_eq(before, after, "the same state as before the restart");
    cr_assert_eq(fields_before, fields_after);
    core_result_t repeat = submit_one(&f, 200, cmd("till-24", "stock", "s2", "on_hand", "add",
                                                     "1"));
    cr_assert(repeat.duplicate, "a retry after the restart is answered from the log");
    cr_assert_eq(counter_value(&f, "s2"), 13);
    teardown(&f);
}

// An idempotency entry is the log key of the command's operation; a retry is
// compared with that operation. Entries of builds before 2026-12-06 carry a 32-byte
// fingerprint after the log key: they still answer retries and refuse other content.
Test(core, idempotency_entries_old_and_new_answer_retries_and_refuse_other_content)
{
    fixture_t f = {0};
    setup(&f, "branch-a");
    core_result_t result = submit_one(&f, 1, cmd("till-7", "stock", "s1", "on_hand", "add", "-3"));
    cr_assert_eq(result.code, CORE_RESULT_OK, "%s", result.message);
    store_reader_t reader = store_rocks_reader(f.store);
    uint8_t *record = NULL;
    size_t record_len = 0;
    cr_assert_eq(reader.get(reader.ctx, STORE_CF_IDEM, (const uint8_t *)"till-7", 6, &record,
                            &record_len),
                 0);
    static const uint8_t log_key[] = "branch-a\0\0\0\0\0\0\0\0\x01"; // origin \0 seq be64
    cr_assert_eq(record_len, sizeof log_key - 1, "the record is the log key alone");
    cr_assert_eq(memcmp(record, log_key, record_len), 0);
    free(record);

    // Rewrite it as an earlier build wrote it: log key, then BLAKE2b of the content.
    static const char content[] = "stock\0s1\0on_hand\0add\0v\0-3";
    uint8_t old_record[sizeof log_key - 1 + 32];
    memcpy(old_record, log_key, sizeof log_key - 1);
    crypto_generichash(old_record + sizeof log_key - 1, 32, (const uint8_t *)content,
                       sizeof content - 1, NULL, 0);
    store_batch_t batch;
    store_batch_init(&batch);
    cr_assert_eq(store_batch_put(&batch, STORE_CF_IDEM, "till-7", 6, old_record, sizeof old_record),
                 0);
    char err[256];
    cr_assert_eq(store_rocks_write(f.store, &batch, true, err, sizeof err), 0, "%s", err);
    store_batch_free(&batch);

    core_result_t retry = submit_one(&f, 2, cmd("till-7", "stock", "s1", "on_hand", "add", "-3"));
    cr_assert_eq(retry.code, CORE_RESULT_OK, "%s", retry.message);
    cr_assert(retry.duplicate);
    cr_assert_str_eq(retry.audit_id, result.audit_id);
    core_result_t other = submit_one(&f, 3, cmd("till-7", "stock", "s1", "on_hand", "add", "-4"));
    cr_assert_eq(other.code, CORE_RESULT_BAD_INPUT);
    cr_assert_not_null(strstr(other.message, "already used"), "%s", other.message);
    core_result_t moved = submit_one(&f, 4, cmd("till-7", "stock", "s2", "on_hand", "add", "-3"));
    cr_assert_eq(moved.code, CORE_RESULT_BAD_INPUT, "another key is another command");
    cr_assert_eq(counter_value(&f, "s1"), -3);
    teardown(&f);
}

// A retry is compared with the recorded operation whether that is on disk or still
// in a batch being written, for every kind of field: the same VALUE is a repeat,
// another is refused.
Test(core, a_reused_command_id_is_checked_against_the_recorded_operation)
{
    fixture_t f = {0};
    setup(&f, "branch-a");
    core_command_t first[2] = {cmd("e-1", "customer", "c1", "email", "set", "a@example.com"),
                               cmd("t-1", "customer", "c1", "tags", "add", "vip")};
    core_command_t again[4] = {cmd("e-1", "customer", "c1", "email", "set", "a@example.com"),
                               cmd("e-1", "customer", "c1", "email", "set", "b@example.com"),
                               cmd("t-1", "customer", "c1", "tags", "add", "vip"),
                               cmd("t-1", "customer", "c1", "tags", "remove", "vip")};
    // In one request: the repeats find the first operations in the batch being built.
    core_command_t all[6] = {first[0], first[1], again[0], again[1], again[2], again[3]};
    core_result_t results[6];
    cr_assert_eq(core_submit(f.core, 1, all, 6, 1000000), 0);
    pump(&f, 0, 1, results, 6);
    cr_assert_eq(results[2].code, CORE_RESULT_OK, "%s", results[2].message);
    cr_assert(results[2].duplicate);
    cr_assert_str_eq(results[2].audit_id, results[0].audit_id);
    cr_assert_eq(results[3].code, CORE_RESULT_BAD_INPUT);
    cr_assert_eq(results[4].code, CORE_RESULT_OK, "%s", results[4].message);
    cr_assert(results[4].duplicate);
    cr_assert_eq(results[5].code, CORE_RESULT_BAD_INPUT);
    // Again once on disk.
    cr_assert_eq(core_submit(f.core, 2, again, 4, 1000000), 0);
    pump(&f, 0, 2, results, 4);
    cr_assert(results[0].duplicate && results[2].duplicate);
    cr_assert_eq(results[1].code, CORE_RESULT_BAD_INPUT);
    cr_assert_eq(results[3].code, CORE_RESULT_BAD_INPUT);
    teardown(&f);
}

// A tag added at every sale stays one entry per node: after 300 additions it is
// still removable (before 2026-12-06 the removal was refused past 256). A field
// whose state would pass 1 MiB refuses the change with the limit named, and keeps
// what it held.
Test(core, a_re_added_tag_stays_removable_and_a_full_field_refuses_clearly)
{
    fixture_t f = {0};
    setup(&f, "branch-a");
    char id[32];
    for (int i = 0; i < 300; i++) {
        snprintf(id, sizeof id, "vip-%d", i);
        cr_assert_eq(submit_one(&f, (uint64_t)i + 1, cmd(id, "customer", "c-1", "tags", "add", "vip"))
                         .code,
                     CORE_RESULT_OK);
    }
    core_result_t removed =
        submit_one(&f, 1000, cmd("vip-off", "customer", "c-1", "tags", "remove", "vip"));
    cr_assert_eq(removed.code, CORE_RESULT_OK, "%s", removed.message);
    static char value[1001];
    core_result_t result = {0};
    int accepted = 0;
    for (int i = 0; i < 1100; i++) {
        memset(value, 'a' + i % 26, 1000);
        snprintf(value, 8, "%07d", i);
        value[7] = '-';
        snprintf(id, sizeof id, "big-%d", i);
        result = submit_one(&f, 2000 + (uint64_t)i, cmd(id, "customer", "c-2", "tags", "add", value));
        if (result.code != CORE_RESULT_OK)
            break;
        accepted++;
    }
    cr_assert_eq(result.code, CORE_RESULT_REFUSED, "1,100 values of 1,000 bytes pass 1 MiB");
    cr_assert_not_null(strstr(result.message, "size limit"), "%s", result.message);
    cr_assert_not_null(strstr(result.message, "use another key"), "%s", result.message);
    core_entity_view_t view;
    char message[256];
    cr_assert_eq(core_get(f.core, "customer", "c-2", &view, message, sizeof message), 0, "%s",
                 message);
    cr_assert_eq(view.field_count, 1);
    cr_assert_eq(view.fields[0].view.value_count, (size_t)accepted,
                 "every value taken before the limit is still there");
    core_entity_view_free(&view);
    teardown(&f);
}

// RocksDB's batched lookup (the core's idempotency prefetch) finds what a get
// finds, in the order asked, and leaves absent keys NULL.
Test(core, get_many_answers_as_get_does_for_present_and_absent_keys)
{
    fixture_t f = {0};
    setup(&f, "branch-a");
    store_batch_t batch;
    store_batch_init(&batch);
    cr_assert_eq(store_batch_put(&batch, STORE_CF_IDEM, "b", 1, "2", 1), 0);
    cr_assert_eq(store_batch_put(&batch, STORE_CF_IDEM, "a", 1, "one", 3), 0);
    char err[256];
    cr_assert_eq(store_rocks_write(f.store, &batch, true, err, sizeof err), 0, "%s", err);
    store_batch_free(&batch);
    store_reader_t reader = store_rocks_reader(f.store);
    cr_assert_not_null(reader.get_many);
    const uint8_t *keys[4] = {(const uint8_t *)"b", (const uint8_t *)"zz", (const uint8_t *)"a",
                              (const uint8_t *)"b"};
    size_t key_lens[4] = {1, 2, 1, 1};
    uint8_t *values[4];
    size_t lens[4];
    cr_assert_eq(reader.get_many(reader.ctx, STORE_CF_IDEM, 4, keys, key_lens, values, lens), 0);
    cr_assert(values[0] && lens[0] == 1 && memcmp(values[0], "2", 1) == 0);
    cr_assert_null(values[1], "an absent key is NULL");
    cr_assert(values[2] && lens[2] == 3 && memcmp(values[2], "one", 3) == 0);
    cr_assert(values[3] && lens[3] == 1 && memcmp(values[3], "2", 1) == 0);
    for (int i = 0; i < 4; i++)
        free(values[i]);
    cr_assert_eq(reader.get_many(reader.ctx, STORE_CF_LOG, 1, keys, key_lens, values, lens), 0);
    cr_assert_null(values[0], "keys are per column family");
    // Keys already in order (a prefix before its extensions, a repeat) take
    // RocksDB's sorted path: the same answers.
    const uint8_t *sorted[4] = {(const uint8_t *)"a", (const uint8_t *)"a", (const uint8_t *)"b",
                                (const uint8_t *)"ba"};
    size_t sorted_lens[4] = {1, 1, 1, 2};
    cr_assert_eq(reader.get_many(reader.ctx, STORE_CF_IDEM, 4, sorted, sorted_lens, values, lens),
                 0);
    cr_assert(values[0] && lens[0] == 3 && memcmp(values[0], "one", 3) == 0);
    cr_assert(values[1] && lens[1] == 3 && memcmp(values[1], "one", 3) == 0);
    cr_assert(values[2] && lens[2] == 1 && memcmp(values[2], "2", 1) == 0);
    cr_assert_null(values[3], "an absent key after a present prefix is NULL");
    for (int i = 0; i < 4; i++)
        free(values[i]);
    teardown(&f);
}

// Repeats and new commands mixed in a request larger than one lookup ahead
// (CORE_PREFETCH_MAX) and than one batch: each repeat gets its first audit ID,
// each new command one effect.
Test(core, repeats_across_lookup_chunks_and_batches_are_answered_once)
{
    fixture_t f = {.batch_commands_max = 150};
    setup(&f, "branch-a");
    enum { FIRST = 600, SECOND = 700 };
    static char ids[SECOND][16];
    static core_command_t commands[SECOND];
    static core_result_t first[FIRST], second[SECOND];
    for (int i = 0; i < SECOND; i++) {
        snprintf(ids[i], sizeof ids[i], "id-%d", i);
        commands[i] = cmd(ids[i], "stock", "s1", "on_hand", "add", "1");
    }
    cr_assert_eq(core_submit(f.core, 1, commands, FIRST, 1000000), 0);
    cr_assert_geq(pump(&f, 0, 1, first, FIRST), 4, "several batches of 150");
    cr_assert_eq(core_submit(f.core, 2, commands, SECOND, 1000000), 0);
    pump(&f, 0, 2, second, SECOND);
    for (int i = 0; i < SECOND; i++) {
        cr_assert_eq(second[i].code, CORE_RESULT_OK, "command %d: %s", i, second[i].message);
        cr_assert_eq(second[i].duplicate, i < FIRST, "command %d", i);
        if (i < FIRST)
            cr_assert_str_eq(second[i].audit_id, first[i].audit_id, "command %d", i);
    }
    cr_assert_eq(counter_value(&f, "s1"), SECOND);
    teardown(&f);
}

// An empty VALUE (a register set to "") decodes with no data: its retry is still a
// repeat, and another VALUE is refused (the fuzzer found memcmp given NULL here).
Test(core, a_retry_of_an_empty_value_is_a_repeat)
{
    fixture_t f = {0};
    setup(&f, "branch-a");
    core_result_t first = submit_one(&f, 1, cmd("e-0", "customer", "c1", "email", "set", ""));
    cr_assert_eq(first.code, CORE_RESULT_OK, "%s", first.message);
    core_result_t again = submit_one(&f, 2, cmd("e-0", "customer", "c1", "email", "set", ""));
    cr_assert_eq(again.code, CORE_RESULT_OK, "%s", again.message);
    cr_assert(again.duplicate);
    cr_assert_str_eq(again.audit_id, first.audit_id);
    core_result_t other = submit_one(&f, 3, cmd("e-0", "customer", "c1", "email", "set", "x"));
    cr_assert_eq(other.code, CORE_RESULT_BAD_INPUT);
    teardown(&f);
}

// A field state read from storage is checked whole before an add builds on it: the
// add itself reads a counter's entries only as far as its own origin's
// (crdt_field_apply_known), so a damaged entry after it would otherwise be carried
// into every later state.
Test(core, a_damaged_counter_state_in_storage_is_refused_not_built_on)
{
    fixture_t f = {0};
    setup(&f, "branch-a");
    // branch-a's entry, then one of branch-z's whose seq is 0: no apply writes that.
    crdt_buf_t state;
    crdt_buf_init(&state);
    codec_writer_t writer;
    codec_writer_init(&writer, &state);
    codec_put_header(&writer, CRDT_KIND_COUNTER);
    codec_put_count(&writer, 2);
    crdt_tag_t a = {.origin = "branch-a", .seq = 1};
    crdt_tag_t z = {.origin = "branch-z", .seq = 1};
    codec_put_tag(&writer, &a);
    codec_put_i64(&writer, 5);
    codec_put_tag(&writer, &z);
    codec_put_i64(&writer, 7);
    cr_assert_eq(writer.rc, 0);
    memset(state.data + state.len - 16, 0, 8); // branch-z's seq
    uint8_t key[KEYS_MAX];
    size_t key_len = keys_state(key, "stock", "s1", "on_hand");
    store_batch_t batch;
    store_batch_init(&batch);
    cr_assert_eq(store_batch_put(&batch, STORE_CF_STATE, key, key_len, state.data, state.len), 0);
    char err[256];
    cr_assert_eq(store_rocks_write(f.store, &batch, true, err, sizeof err), 0, "%s", err);
    store_batch_free(&batch);

    core_result_t result = submit_one(&f, 1, cmd("till-1", "stock", "s1", "on_hand", "add", "1"));
    cr_assert_eq(result.code, CORE_RESULT_FAILED, "an add on a damaged state is not acknowledged");
    cr_assert_not_null(strstr(result.message, "nothing was recorded"), "%s", result.message);
    store_reader_t reader = store_rocks_reader(f.store);
    uint8_t *stored = NULL;
    size_t stored_len = 0;
    cr_assert_eq(reader.get(reader.ctx, STORE_CF_STATE, key, key_len, &stored, &stored_len), 0);
    cr_assert(stored_len == state.len && memcmp(stored, state.data, state.len) == 0,
              "the state on disk is as it was");
    free(stored);
    crdt_buf_free(&state);
    teardown(&f);
}
