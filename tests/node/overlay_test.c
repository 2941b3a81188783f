#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "overlay.h"
#include "sm_error.h"

Test(overlay, latest_put_wins_and_cfs_are_separate)
{
    overlay_t *overlay = overlay_new();
    cr_assert_not_null(overlay);
    cr_assert_eq(overlay_put(overlay, STORE_CF_STATE, (const uint8_t *)"k", 1,
                             (const uint8_t *)"one", 3), 0);
    cr_assert_eq(overlay_put(overlay, STORE_CF_STATE, (const uint8_t *)"k", 1,
                             (const uint8_t *)"two", 3), 0);
    cr_assert_eq(overlay_put(overlay, STORE_CF_IDEM, (const uint8_t *)"k", 1,
                             (const uint8_t *)"idem", 4), 0);
    const uint8_t *value = NULL;
    size_t len = 0;
    cr_assert_eq(overlay_get(overlay, STORE_CF_STATE, (const uint8_t *)"k", 1, &value, &len), 0);
    cr_assert_eq(len, 3);
    cr_assert_eq(memcmp(value, "two", 3), 0);
    cr_assert_eq(overlay_get(overlay, STORE_CF_IDEM, (const uint8_t *)"k", 1, &value, &len), 0);
    cr_assert_eq(len, 4);
    cr_assert_eq(overlay_get(overlay, STORE_CF_LOG, (const uint8_t *)"k", 1, &value, &len),
                 -SM_ENOTFOUND);
    cr_assert_eq(overlay_count(overlay), 2);
    overlay_destroy(&overlay);
    cr_assert_null(overlay);
}

Test(overlay, grows_and_keeps_every_entry)
{
    overlay_t *overlay = overlay_new();
    char key[32];
    for (int i = 0; i < 5000; i++) {
        int len = snprintf(key, sizeof key, "key-%d", i);
        cr_assert_eq(overlay_put(overlay, STORE_CF_STATE, (const uint8_t *)key, (size_t)len,
                                 (const uint8_t *)&i, sizeof i), 0);
    }
    for (int i = 0; i < 5000; i++) {
        int len = snprintf(key, sizeof key, "key-%d", i);
        const uint8_t *value = NULL;
        size_t value_len = 0;
        cr_assert_eq(overlay_get(overlay, STORE_CF_STATE, (const uint8_t *)key, (size_t)len,
                                 &value, &value_len), 0);
        int stored;
        memcpy(&stored, value, sizeof stored);
        cr_assert_eq(stored, i);
    }
    store_batch_t batch;
    store_batch_init(&batch);
    cr_assert_eq(overlay_to_batch(overlay, &batch), 0);
    cr_assert_eq(batch.count, 5000);
    store_batch_free(&batch);
    overlay_clear(overlay);
    cr_assert_eq(overlay_count(overlay), 0);
    overlay_destroy(&overlay);
}

typedef struct {
    char keys[64][16];
    size_t seen;
} each_t;

static int
note_key(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value, size_t value_len)
{
    (void)value, (void)value_len;
    each_t *each = arg;
    cr_assert_lt(key_len, sizeof each->keys[0]);
    memcpy(each->keys[each->seen], key, key_len);
    each->keys[each->seen++][key_len] = 0;
    return 0;
}

// Key and value share one allocation, which moves when a value outgrows it: after
// seeded rounds of overwrites that grow and shrink values, every key is intact and
// every value is the last one put, against a plain array as the reference.
Test(overlay, values_that_grow_and_shrink_keep_their_keys)
{
    enum { KEYS = 64, ROUNDS = 20000, VALUE_MAX = 300 };
    const uint64_t seed = 7;
    uint64_t rng = seed;
    static uint8_t expected[KEYS][VALUE_MAX];
    size_t expected_len[KEYS] = {0};
    bool present[KEYS] = {false};
    overlay_t *overlay = overlay_new();
    cr_assert_not_null(overlay);
    char key[16];
    for (int round = 0; round < ROUNDS; round++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        size_t k = (size_t)(rng >> 33) % KEYS;
        size_t len = (size_t)(rng >> 45) % (VALUE_MAX + 1);
        for (size_t i = 0; i < len; i++)
            expected[k][i] = (uint8_t)(round + i);
        expected_len[k] = len;
        present[k] = true;
        int key_len = snprintf(key, sizeof key, "key-%02zu", k);
        cr_assert_eq(overlay_put(overlay, STORE_CF_STATE, (const uint8_t *)key, (size_t)key_len,
                                 expected[k], len),
                     0, "seed %llu, round %d", (unsigned long long)seed, round);
    }
    size_t count = 0;
    for (size_t k = 0; k < KEYS; k++) {
        if (!present[k])
            continue;
        count++;
        int key_len = snprintf(key, sizeof key, "key-%02zu", k);
        const uint8_t *value = NULL;
        size_t value_len = 0;
        cr_assert_eq(overlay_get(overlay, STORE_CF_STATE, (const uint8_t *)key, (size_t)key_len,
                                 &value, &value_len),
                     0, "seed %llu: %s", (unsigned long long)seed, key);
        cr_assert_eq(value_len, expected_len[k], "seed %llu: %s", (unsigned long long)seed, key);
        cr_assert(value_len == 0 || memcmp(value, expected[k], value_len) == 0,
                  "seed %llu: %s holds the last value put", (unsigned long long)seed, key);
    }
    cr_assert_eq(overlay_count(overlay), count);
    each_t each = {.seen = 0};
    cr_assert_eq(overlay_each(overlay, STORE_CF_STATE, note_key, &each), 0);
    cr_assert_eq(each.seen, count);
    for (size_t i = 0; i < each.seen; i++) {
        unsigned k = KEYS;
        cr_assert(sscanf(each.keys[i], "key-%02u", &k) == 1 && k < KEYS && present[k],
                  "seed %llu: key '%s' intact", (unsigned long long)seed, each.keys[i]);
    }
    overlay_destroy(&overlay);
}

// A cleared overlay holds nothing (entries cut from its chunks, values that grew
// into blocks of their own), and takes new entries again.
Test(overlay, a_cleared_overlay_is_empty_and_takes_new_entries)
{
    overlay_t *overlay = overlay_new();
    cr_assert_not_null(overlay);
    char key[32];
    uint8_t value[4096];
    for (int pass = 0; pass < 3; pass++) {
        for (int i = 0; i < 5000; i++) {
            int key_len = snprintf(key, sizeof key, "k-%d-%d", pass, i % 2500);
            size_t len = (size_t)(i % 2500 == 7 ? 16 * (i / 2500 + 1) * 100 : i % 40);
            memset(value, 'a' + pass, len);
            cr_assert_eq(overlay_put(overlay, STORE_CF_IDEM, (const uint8_t *)key,
                                     (size_t)key_len, value, len),
                         0);
        }
        cr_assert_eq(overlay_count(overlay), 2500);
        const uint8_t *got = NULL;
        size_t got_len = 0;
        int key_len = snprintf(key, sizeof key, "k-%d-7", pass);
        cr_assert_eq(overlay_get(overlay, STORE_CF_IDEM, (const uint8_t *)key, (size_t)key_len,
                                 &got, &got_len),
                     0);
        cr_assert_eq(got_len, 3200, "the grown value, in its own block");
        cr_assert(got[0] == 'a' + pass && got[got_len - 1] == 'a' + pass);
        overlay_clear(overlay);
        cr_assert_eq(overlay_count(overlay), 0);
        cr_assert_eq(overlay_get(overlay, STORE_CF_IDEM, (const uint8_t *)key, (size_t)key_len,
                                 &got, &got_len),
                     -SM_ENOTFOUND, "pass %d: nothing survives a clear", pass);
    }
    overlay_destroy(&overlay);
}

// Each column family has a table of its own: the same keys in every family, put
// interleaved while the tables grow at different times, stay apart, and a batch
// still takes them in the order they were put.
Test(overlay, column_families_grow_apart_and_keep_insertion_order)
{
    overlay_t *overlay = overlay_new();
    cr_assert_not_null(overlay);
    enum { KEYS = 3000 };
    for (int i = 0; i < KEYS; i++) {
        char key[32];
        int len = snprintf(key, sizeof key, "key-%d", i);
        // Every key in LOG, every third in STATE, every seventh in IDEM.
        store_cf_t cfs[3] = {STORE_CF_LOG, STORE_CF_STATE, STORE_CF_IDEM};
        int every[3] = {1, 3, 7};
        for (int c = 0; c < 3; c++) {
            if (i % every[c])
                continue;
            uint8_t value[2] = {(uint8_t)cfs[c], (uint8_t)(i & 0xff)};
            cr_assert_eq(overlay_put(overlay, cfs[c], (const uint8_t *)key, (size_t)len, value,
                                     sizeof value),
                         0);
        }
    }
    size_t expected = KEYS + (KEYS + 2) / 3 + (KEYS + 6) / 7;
    cr_assert_eq(overlay_count(overlay), expected);
    for (int i = 0; i < KEYS; i++) {
        char key[32];
        int len = snprintf(key, sizeof key, "key-%d", i);
        const uint8_t *value = NULL;
        size_t value_len = 0;
        store_cf_t cfs[4] = {STORE_CF_LOG, STORE_CF_STATE, STORE_CF_IDEM, STORE_CF_SEAL};
        bool present[4] = {true, i % 3 == 0, i % 7 == 0, false};
        for (int c = 0; c < 4; c++) {
            int rc = overlay_get(overlay, cfs[c], (const uint8_t *)key, (size_t)len, &value,
                                 &value_len);
            cr_assert_eq(rc, present[c] ? 0 : -SM_ENOTFOUND, "%s in column family %d", key,
                         (int)cfs[c]);
            if (present[c])
                cr_assert(value_len == 2 && value[0] == (uint8_t)cfs[c] &&
                              value[1] == (uint8_t)(i & 0xff),
                          "%s in column family %d", key, (int)cfs[c]);
        }
    }
    store_batch_t batch;
    store_batch_init(&batch);
    cr_assert_eq(overlay_to_batch(overlay, &batch), 0);
    cr_assert_eq(batch.count, expected);
    // Insertion order: key-0 in LOG, STATE, IDEM; key-1 in LOG; key-2 in LOG; key-3 in
    // LOG, STATE; ...
    cr_assert_eq(batch.puts[0].cf, STORE_CF_LOG);
    cr_assert_eq(batch.puts[1].cf, STORE_CF_STATE);
    cr_assert_eq(batch.puts[2].cf, STORE_CF_IDEM);
    cr_assert_eq(batch.puts[3].cf, STORE_CF_LOG);
    cr_assert_eq(batch.puts[5].cf, STORE_CF_LOG);
    cr_assert_eq(batch.puts[6].cf, STORE_CF_STATE);
    cr_assert_eq(memcmp(store_put_key(&batch, &batch.puts[6]), "key-3", 5), 0);
    store_batch_free(&batch);
    overlay_destroy(&overlay);
}

Test(overlay, a_patch_changes_bytes_in_place_and_only_inside_the_value)
{
    overlay_t *overlay = overlay_new();
    cr_assert_not_null(overlay);
    const uint8_t *key = (const uint8_t *)"state";
    cr_assert_eq(overlay_patch(overlay, STORE_CF_STATE, key, 5, 0, (const uint8_t *)"x", 1),
                 -SM_ENOTFOUND, "an empty overlay has nothing to patch");
    cr_assert_eq(overlay_put(overlay, STORE_CF_STATE, key, 5, (const uint8_t *)"abcdef", 6), 0);
    cr_assert_eq(overlay_put(overlay, STORE_CF_META, key, 5, (const uint8_t *)"meta", 4), 0);
    cr_assert_eq(overlay_patch(overlay, STORE_CF_STATE, key, 5, 2, (const uint8_t *)"XY", 2), 0);
    cr_assert_eq(overlay_patch(overlay, STORE_CF_STATE, key, 5, 4, (const uint8_t *)"Z", 1), 0);
    cr_assert_eq(overlay_patch(overlay, STORE_CF_STATE, key, 5, 6, NULL, 0), 0,
                 "an empty patch at the end is inside");
    cr_assert_eq(overlay_patch(overlay, STORE_CF_STATE, key, 5, 5, (const uint8_t *)"12", 2),
                 -SM_EINVAL, "a patch past the end is refused");
    cr_assert_eq(overlay_patch(overlay, STORE_CF_STATE, key, 5, 7, NULL, 0), -SM_EINVAL);
    cr_assert_eq(overlay_patch(overlay, STORE_CF_STATE, key, 5, SIZE_MAX, (const uint8_t *)"1",
                               1),
                 -SM_EINVAL, "an offset that would wrap is refused");
    cr_assert_eq(overlay_patch(overlay, STORE_CF_STATE, (const uint8_t *)"other", 5, 0,
                               (const uint8_t *)"x", 1),
                 -SM_ENOTFOUND);
    const uint8_t *value = NULL;
    size_t len = 0;
    cr_assert_eq(overlay_get(overlay, STORE_CF_STATE, key, 5, &value, &len), 0);
    cr_assert_eq(len, 6);
    cr_assert_eq(memcmp(value, "abXYZf", 6), 0, "got %.6s", (const char *)value);
    cr_assert_eq(overlay_get(overlay, STORE_CF_META, key, 5, &value, &len), 0);
    cr_assert_eq(memcmp(value, "meta", 4), 0, "another column family's value is untouched");
    cr_assert_eq(overlay_count(overlay), 2);
    overlay_destroy(&overlay);
}

Test(overlay, a_key_hashed_once_finds_its_entry_in_every_overlay)
{
    overlay_t *first = overlay_new();
    overlay_t *second = overlay_new();
    cr_assert(first && second);
    overlay_key_t key = overlay_key(STORE_CF_STATE, (const uint8_t *)"stock\0sku-1\0on_hand", 19);
    const uint8_t *value = NULL;
    size_t len = 0;
    cr_assert_eq(overlay_get_key(first, &key, &value, &len), -SM_ENOTFOUND);
    cr_assert_eq(overlay_put_key(first, &key, (const uint8_t *)"one", 3), 0);
    cr_assert_eq(overlay_put(second, STORE_CF_STATE, key.bytes, key.len, (const uint8_t *)"two", 3),
                 0);
    cr_assert_eq(overlay_get_key(second, &key, &value, &len), 0, "put unkeyed, found keyed");
    cr_assert_eq(memcmp(value, "two", 3), 0);
    cr_assert_eq(overlay_get(first, STORE_CF_STATE, key.bytes, key.len, &value, &len), 0,
                 "put keyed, found unkeyed");
    cr_assert_eq(memcmp(value, "one", 3), 0);
    cr_assert_eq(overlay_patch_key(first, &key, 0, (const uint8_t *)"O", 1), 0);
    cr_assert_eq(overlay_get_key(first, &key, &value, &len), 0);
    cr_assert_eq(memcmp(value, "One", 3), 0);
    overlay_key_t other_cf = overlay_key(STORE_CF_META, key.bytes, key.len);
    cr_assert_eq(overlay_get_key(first, &other_cf, &value, &len), -SM_ENOTFOUND,
                 "the same bytes in another column family are another key");
    overlay_destroy(&first);
    overlay_destroy(&second);
}
