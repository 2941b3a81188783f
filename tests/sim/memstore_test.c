// The simulator's storage against real RocksDB: one seeded script of batches
// (synced and unsynced), point reads and prefix scans run through both, and every
// answer must be the same. Then the crash model: what a power loss keeps.
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memstore.h"
#include "sm_error.h"
#include "store_rocks.h"

static uint64_t
next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

typedef struct {
    char text[4096];
    size_t len;
} scan_out_t;

static int
append_entry(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value,
             size_t value_len)
{
    scan_out_t *out = arg;
    int n = snprintf(out->text + out->len, sizeof out->text - out->len, "%.*s=%.*s;",
                     (int)key_len, (const char *)key, (int)value_len, (const char *)value);
    if (n < 0 || (size_t)n >= sizeof out->text - out->len)
        return 1;
    out->len += (size_t)n;
    return out->len > 3000; // bounded output, same on both sides
}

static void
random_key(uint64_t *rng, char *key, size_t size)
{
    static const char *const prefixes[] = {"a", "ab", "b", "stock\001sku", "vv\001x"};
    snprintf(key, size, "%s%llu", prefixes[next_random(rng) % 5],
             (unsigned long long)(next_random(rng) % 40));
}

Test(memstore, agrees_with_rocksdb_on_a_seeded_script)
{
    for (uint64_t seed = 1; seed <= 20; seed++) {
        char dir[64];
        snprintf(dir, sizeof dir, "/tmp/sm-memstore-test.XXXXXX");
        cr_assert_not_null(mkdtemp(dir));
        char err[256];
        int rc = 0;
        store_rocks_t *rocks = store_rocks_open(dir, true, &rc, err, sizeof err);
        cr_assert_not_null(rocks, "%s", err);
        // Even seeds: the store shares log and seal bytes with a second store through a
        // pool (as the simulator's nodes do), which takes every write too.
        memstore_pool_t *pool = seed % 2 == 0 ? memstore_pool_new() : NULL;
        memstore_t *mem = pool ? memstore_new_shared(pool) : memstore_new();
        memstore_t *shadow = pool ? memstore_new_shared(pool) : NULL;
        store_reader_t rocks_reader = store_rocks_reader(rocks);
        store_reader_t mem_reader = memstore_reader(mem);
        uint64_t rng = seed;
        for (int step = 0; step < 400; step++) {
            uint64_t what = next_random(&rng) % 10;
            store_cf_t cf = (store_cf_t)(next_random(&rng) % STORE_CF_COUNT);
            char key[64];
            random_key(&rng, key, sizeof key);
            if (what < 5) {
                store_batch_t batch;
                store_batch_init(&batch);
                int puts = 1 + (int)(next_random(&rng) % 5);
                for (int p = 0; p < puts; p++) {
                    char value[32];
                    random_key(&rng, key, sizeof key);
                    snprintf(value, sizeof value, "v%llu", (unsigned long long)next_random(&rng));
                    cr_assert_eq(store_batch_put(&batch, cf, key, strlen(key), value,
                                                 strlen(value)), 0);
                }
                bool sync = next_random(&rng) % 2;
                cr_assert_eq(store_rocks_write(rocks, &batch, sync, err, sizeof err), 0);
                cr_assert_eq(memstore_write(mem, &batch, sync), 0);
                if (shadow)
                    cr_assert_eq(memstore_write(shadow, &batch, !sync), 0);
                store_batch_free(&batch);
            } else if (what < 8) {
                uint8_t *a = NULL;
                uint8_t *b = NULL;
                size_t a_len = 0;
                size_t b_len = 0;
                int rc_a = rocks_reader.get(rocks_reader.ctx, cf, (const uint8_t *)key,
                                            strlen(key), &a, &a_len);
                int rc_b = mem_reader.get(mem_reader.ctx, cf, (const uint8_t *)key, strlen(key),
                                          &b, &b_len);
                cr_assert_eq(rc_a, rc_b, "seed %llu step %d: get '%s'", (unsigned long long)seed,
                             step, key);
                if (rc_a == 0) {
                    cr_assert_eq(a_len, b_len);
                    cr_assert_eq(memcmp(a, b, a_len), 0, "seed %llu step %d",
                                 (unsigned long long)seed, step);
                }
                free(a);
                free(b);
            } else {
                size_t prefix_len = 1 + next_random(&rng) % 3;
                if (prefix_len > strlen(key))
                    prefix_len = strlen(key);
                scan_out_t from_rocks = {0};
                scan_out_t from_mem = {0};
                bool with_start = next_random(&rng) % 2;
                rocks_reader.scan(rocks_reader.ctx, cf, (const uint8_t *)key, prefix_len,
                                  with_start ? (const uint8_t *)key : NULL,
                                  with_start ? strlen(key) : 0, append_entry, &from_rocks);
                mem_reader.scan(mem_reader.ctx, cf, (const uint8_t *)key, prefix_len,
                                with_start ? (const uint8_t *)key : NULL,
                                with_start ? strlen(key) : 0, append_entry, &from_mem);
                cr_assert_str_eq(from_rocks.text, from_mem.text, "seed %llu step %d: scan '%.*s'",
                                 (unsigned long long)seed, step, (int)prefix_len, key);
            }
        }
        if (shadow) { // a power loss of the other store must not touch this one's bytes
            memstore_crash(shadow, 0);
            for (int cf = 0; cf < STORE_CF_COUNT; cf++) {
                scan_out_t from_rocks = {0};
                scan_out_t from_mem = {0};
                rocks_reader.scan(rocks_reader.ctx, (store_cf_t)cf, NULL, 0, NULL, 0,
                                  append_entry, &from_rocks);
                mem_reader.scan(mem_reader.ctx, (store_cf_t)cf, NULL, 0, NULL, 0, append_entry,
                                &from_mem);
                cr_assert_str_eq(from_rocks.text, from_mem.text,
                                 "seed %llu: column family %d after the shared store's power loss",
                                 (unsigned long long)seed, cf);
            }
        }
        memstore_destroy(&shadow);
        memstore_destroy(&mem);
        memstore_pool_destroy(&pool);
        store_rocks_close(&rocks);
        char command[128];
        snprintf(command, sizeof command, "rm -rf '%s'", dir);
        cr_assert_eq(system(command), 0);
    }
}

static void
put_one(memstore_t *mem, const char *key, const char *value, bool sync)
{
    store_batch_t batch;
    store_batch_init(&batch);
    cr_assert_eq(store_batch_put(&batch, STORE_CF_LOG, key, strlen(key), value, strlen(value)),
                 0);
    cr_assert_eq(memstore_write(mem, &batch, sync), 0);
    store_batch_free(&batch);
}

static bool
has(memstore_t *mem, const char *key, const char *value)
{
    store_reader_t reader = memstore_reader(mem);
    uint8_t *got = NULL;
    size_t len = 0;
    if (reader.get(reader.ctx, STORE_CF_LOG, (const uint8_t *)key, strlen(key), &got, &len))
        return false;
    bool same = len == strlen(value) && memcmp(got, value, len) == 0;
    free(got);
    return same;
}

Test(memstore, a_power_loss_drops_unsynced_batches_only)
{
    memstore_t *mem = memstore_new();
    put_one(mem, "a", "1", true);
    put_one(mem, "a", "2", false);
    put_one(mem, "b", "1", false);
    cr_assert(has(mem, "a", "2"), "unsynced writes are visible before the crash");
    cr_assert_eq(memstore_crash(mem, 0), 2);
    cr_assert(has(mem, "a", "1"), "the synced value is back");
    cr_assert_not(has(mem, "b", "1"), "the unsynced insert is gone");
    memstore_destroy(&mem);
}

Test(memstore, a_torn_tail_keeps_a_prefix_of_whole_batches)
{
    memstore_t *mem = memstore_new();
    put_one(mem, "x", "1", false);
    put_one(mem, "y", "1", false);
    put_one(mem, "z", "1", false);
    cr_assert_eq(memstore_crash(mem, 1), 2);
    cr_assert(has(mem, "x", "1"));
    cr_assert_not(has(mem, "y", "1"));
    cr_assert_not(has(mem, "z", "1"));
    put_one(mem, "w", "1", false);
    cr_assert_eq(memstore_unsynced_count(mem), 1, "what survived a crash is durable");
    memstore_destroy(&mem);
}

Test(memstore, an_injected_error_writes_nothing)
{
    memstore_t *mem = memstore_new();
    memstore_fail_next(mem, 1, -SM_EIO);
    store_batch_t batch;
    store_batch_init(&batch);
    cr_assert_eq(store_batch_put(&batch, STORE_CF_LOG, "k", 1, "v", 1), 0);
    cr_assert_eq(memstore_write(mem, &batch, true), -SM_EIO);
    cr_assert_not(has(mem, "k", "v"));
    cr_assert_eq(memstore_write(mem, &batch, true), 0, "only the next write fails");
    cr_assert(has(mem, "k", "v"));
    store_batch_free(&batch);
    memstore_destroy(&mem);
}

static bool
cf_has(memstore_t *mem, store_cf_t cf, const char *key, const char *value)
{
    store_reader_t reader = memstore_reader(mem);
    uint8_t *got = NULL;
    size_t len = 0;
    if (reader.get(reader.ctx, cf, (const uint8_t *)key, strlen(key), &got, &len))
        return false;
    bool same = len == strlen(value) && memcmp(got, value, len) == 0;
    free(got);
    return same;
}

// Field states and meta records are found through an index, the log through the
// skip list with a finger on the last insert: a power loss that undoes inserts and
// overwrites in both, over enough keys that the index grows, must leave every key
// readable as it was, and scans in key order.
Test(memstore, the_state_index_and_the_log_finger_survive_a_power_loss)
{
    memstore_t *mem = memstore_new();
    store_batch_t batch;
    store_batch_init(&batch);
    char key[32];
    char value[32];
    for (int i = 0; i < 300; i++) { // synced: 300 states, 300 log entries in order
        snprintf(key, sizeof key, "s%03d", i);
        snprintf(value, sizeof value, "old%d", i);
        cr_assert_eq(store_batch_put(&batch, i % 2 ? STORE_CF_STATE : STORE_CF_META, key,
                                     strlen(key), value, strlen(value)), 0);
        snprintf(key, sizeof key, "o\001%08d", i);
        cr_assert_eq(store_batch_put(&batch, STORE_CF_LOG, key, strlen(key), value,
                                     strlen(value)), 0);
    }
    cr_assert_eq(memstore_write(mem, &batch, true), 0);
    store_batch_clear(&batch);
    for (int i = 150; i < 450; i++) { // unsynced: overwrites and new keys
        snprintf(key, sizeof key, "s%03d", i);
        cr_assert_eq(store_batch_put(&batch, i % 2 ? STORE_CF_STATE : STORE_CF_META, key,
                                     strlen(key), "new", 3), 0);
        snprintf(key, sizeof key, "o\001%08d", i);
        cr_assert_eq(store_batch_put(&batch, STORE_CF_LOG, key, strlen(key), "new", 3), 0);
    }
    cr_assert_eq(memstore_write(mem, &batch, false), 0);
    cr_assert(cf_has(mem, STORE_CF_STATE, "s399", "new"));
    cr_assert(cf_has(mem, STORE_CF_META, "s200", "new"));
    cr_assert_eq(memstore_crash(mem, 0), 1);
    for (int i = 0; i < 450; i++) {
        snprintf(key, sizeof key, "s%03d", i);
        snprintf(value, sizeof value, "old%d", i);
        store_cf_t cf = i % 2 ? STORE_CF_STATE : STORE_CF_META;
        if (i < 300)
            cr_assert(cf_has(mem, cf, key, value), "%s is back to %s", key, value);
        else
            cr_assert_not(cf_has(mem, cf, key, "new"), "%s is gone", key);
    }
    // Writing again after the crash: the index and the finger start over cleanly.
    store_batch_clear(&batch);
    for (int i = 300; i < 310; i++) {
        snprintf(key, sizeof key, "s%03d", i);
        cr_assert_eq(store_batch_put(&batch, STORE_CF_STATE, key, strlen(key), "again", 5), 0);
    }
    cr_assert_eq(memstore_write(mem, &batch, true), 0);
    cr_assert(cf_has(mem, STORE_CF_STATE, "s305", "again"));
    scan_out_t scan = {0};
    store_reader_t reader = memstore_reader(mem);
    reader.scan(reader.ctx, STORE_CF_LOG, (const uint8_t *)"o\001", 2, NULL, 0, append_entry,
                &scan);
    cr_assert(strncmp(scan.text, "o\00100000000=old0;o\00100000001=old1;", 32) == 0,
              "the log scans in key order: %.64s", scan.text);
    cr_assert_null(strstr(scan.text, "new"), "no undone log entry is left");
    store_batch_free(&batch);
    memstore_destroy(&mem);
}
