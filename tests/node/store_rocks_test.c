// A batch is RocksDB's WriteBatch encoding (store.h), handed to RocksDB as it is, or
// encoded again by store_rocks_write with the store's own column family IDs when
// they differ: either way every put must land in its column family with its exact
// key and value, whatever the lengths (each varint length boundary) and however
// many puts a batch has.
#include <criterion/criterion.h>
#include <rocksdb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sm_error.h"
#include "store_rocks.h"

static char dir[] = "/tmp/sm-store-rocks-test.XXXXXX";

static store_rocks_t *
open_store(void)
{
    cr_assert_not_null(mkdtemp(dir));
    int rc = 0;
    char err[256];
    store_rocks_t *store = store_rocks_open(dir, true, &rc, err, sizeof err);
    cr_assert_not_null(store, "%s", err);
    return store;
}

static void
close_store(store_rocks_t **store)
{
    store_rocks_close(store);
    char command[128];
    snprintf(command, sizeof command, "rm -rf %s", dir);
    cr_assert_eq(system(command), 0);
}

// Deterministic bytes for (cf, index, length), so each value is checkable.
static void
fill(uint8_t *out, size_t len, int cf, size_t index)
{
    uint32_t x = (uint32_t)(cf * 7919 + index * 104729 + len);
    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        out[i] = (uint8_t)(x >> 16);
    }
}

static void
check_every_family_at_each_length_boundary(store_rocks_t *store)
{
    // 0, the varint32 one-byte/two-byte/three-byte edges, and a value of 2 MiB.
    static const size_t lengths[] = {0, 1, 127, 128, 16383, 16384, 2u << 20};
    enum { LENGTHS = sizeof lengths / sizeof lengths[0] };
    store_batch_t batch;
    store_batch_init(&batch);
    uint8_t *value = malloc(2u << 20);
    cr_assert_not_null(value);
    for (int cf = 0; cf < STORE_CF_COUNT; cf++) {
        for (size_t i = 0; i < LENGTHS; i++) {
            char key[64];
            int key_len = snprintf(key, sizeof key, "key-%d-%zu", cf, i);
            fill(value, lengths[i], cf, i);
            cr_assert_eq(store_batch_put(&batch, (store_cf_t)cf, key, (size_t)key_len, value,
                                         lengths[i]),
                         0);
        }
    }
    char err[256];
    cr_assert_eq(store_rocks_write(store, &batch, true, err, sizeof err), 0, "%s", err);
    store_reader_t reader = store_rocks_reader(store);
    uint8_t *expected = malloc(2u << 20);
    cr_assert_not_null(expected);
    for (int cf = 0; cf < STORE_CF_COUNT; cf++) {
        for (size_t i = 0; i < LENGTHS; i++) {
            char key[64];
            int key_len = snprintf(key, sizeof key, "key-%d-%zu", cf, i);
            uint8_t *got = NULL;
            size_t got_len = 0;
            cr_assert_eq(reader.get(reader.ctx, (store_cf_t)cf, (const uint8_t *)key,
                                    (size_t)key_len, &got, &got_len),
                         0, "%s is in column family %d", key, cf);
            fill(expected, lengths[i], cf, i);
            cr_assert_eq(got_len, lengths[i], "%s: %zu bytes, not %zu", key, got_len, lengths[i]);
            cr_assert(got_len == 0 || memcmp(got, expected, got_len) == 0, "%s: its bytes", key);
            free(got);
            // and in no other column family
            int other = (cf + 1) % STORE_CF_COUNT;
            cr_assert_eq(reader.get(reader.ctx, (store_cf_t)other, (const uint8_t *)key,
                                    (size_t)key_len, &got, &got_len),
                         -SM_ENOTFOUND, "%s is not in column family %d", key, other);
        }
    }
    free(expected);
    free(value);
    store_batch_free(&batch);
}

Test(store_rocks, a_batch_lands_in_every_column_family_at_each_length_boundary)
{
    store_rocks_t *store = open_store();
    check_every_family_at_each_length_boundary(store);
    close_store(&store);
}

// A store whose column families RocksDB numbered in another order (created before
// by something else, here in reverse): the batch is encoded again with its IDs.
Test(store_rocks, a_store_with_other_column_family_ids_gets_each_put_in_its_family)
{
    cr_assert_not_null(mkdtemp(dir));
    rocksdb_options_t *options = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(options, 1);
    char *rocks_err = NULL;
    rocksdb_t *db = rocksdb_open(options, dir, &rocks_err);
    cr_assert_null(rocks_err, "%s", rocks_err);
    static const char *const reversed[] = {"seal", "idem", "state", "log"};
    for (size_t i = 0; i < sizeof reversed / sizeof reversed[0]; i++) {
        rocksdb_column_family_handle_t *cf =
            rocksdb_create_column_family(db, options, reversed[i], &rocks_err);
        cr_assert_null(rocks_err, "%s", rocks_err);
        cr_assert_eq(rocksdb_column_family_handle_get_id(cf), i + 1);
        rocksdb_column_family_handle_destroy(cf);
    }
    rocksdb_close(db);
    rocksdb_options_destroy(options);
    int rc = 0;
    char err[256];
    store_rocks_t *store = store_rocks_open(dir, false, &rc, err, sizeof err);
    cr_assert_not_null(store, "%s", err);
    check_every_family_at_each_length_boundary(store);
    close_store(&store);
}


// A put to a key written before replaces it; a batch of many small puts (a group
// commit's worth) is applied whole, in order: the later of two puts to one key wins.
Test(store_rocks, many_puts_apply_in_order_and_replace_earlier_values)
{
    store_rocks_t *store = open_store();
    store_batch_t batch;
    store_batch_init(&batch);
    enum { PUTS = 20000 };
    char key[32], val[32];
    for (int i = 0; i < PUTS; i++) {
        int key_len = snprintf(key, sizeof key, "k%05d", i % (PUTS / 2));
        int val_len = snprintf(val, sizeof val, "v%d", i);
        cr_assert_eq(store_batch_put(&batch, STORE_CF_LOG, key, (size_t)key_len, val,
                                     (size_t)val_len),
                     0);
    }
    char err[256];
    cr_assert_eq(store_rocks_write(store, &batch, false, err, sizeof err), 0, "%s", err);
    store_reader_t reader = store_rocks_reader(store);
    for (int i = 0; i < PUTS / 2; i++) {
        int key_len = snprintf(key, sizeof key, "k%05d", i);
        snprintf(val, sizeof val, "v%d", i + PUTS / 2);
        uint8_t *got = NULL;
        size_t got_len = 0;
        cr_assert_eq(reader.get(reader.ctx, STORE_CF_LOG, (const uint8_t *)key, (size_t)key_len,
                                &got, &got_len),
                     0);
        cr_assert(got_len == strlen(val) && memcmp(got, val, got_len) == 0,
                  "%s holds the later put %s", key, val);
        free(got);
    }
    store_batch_free(&batch);
    close_store(&store);
}
