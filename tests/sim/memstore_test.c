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

// The property test below: a plain sorted array of (cf, key, value), the same order
// as the store's (column family, then key bytes, a shorter key first on a tie).
#define REF_KEY_MAX 32
#define REF_VALUE_MAX 24
#define PROPERTY_ORIGINS 40      // with log and seal, enough prefixes that the hints grow
#define PROPERTY_GAPS_MAX 8      // skipped seqs an origin remembers for gap-fills
#define PROPERTY_UNSYNCED_MAX 12 // unsynced batches before a write is forced to sync

typedef struct {
    store_cf_t cf;
    uint8_t key[REF_KEY_MAX];
    size_t key_len;
    uint8_t value[REF_VALUE_MAX];
    size_t value_len;
} ref_entry_t;

typedef struct {
    ref_entry_t *entries;
    size_t count;
    size_t cap;
} ref_t;

static int
ref_order(const ref_entry_t *entry, store_cf_t cf, const uint8_t *key, size_t key_len)
{
    if (entry->cf != cf)
        return entry->cf < cf ? -1 : 1;
    size_t shorter = entry->key_len < key_len ? entry->key_len : key_len;
    int rc = shorter ? memcmp(entry->key, key, shorter) : 0; // key may be NULL when empty
    if (rc)
        return rc;
    return entry->key_len < key_len ? -1 : entry->key_len > key_len ? 1 : 0;
}

// The index of the first entry at or after (cf, key).
static size_t
ref_lower_bound(const ref_t *ref, store_cf_t cf, const uint8_t *key, size_t key_len)
{
    size_t low = 0;
    size_t high = ref->count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        if (ref_order(&ref->entries[middle], cf, key, key_len) < 0)
            low = middle + 1;
        else
            high = middle;
    }
    return low;
}

static void
ref_put(ref_t *ref, store_cf_t cf, const uint8_t *key, size_t key_len, const uint8_t *value,
        size_t value_len)
{
    cr_assert_leq(key_len, REF_KEY_MAX);
    cr_assert_leq(value_len, REF_VALUE_MAX);
    size_t i = ref_lower_bound(ref, cf, key, key_len);
    if (i == ref->count || ref_order(&ref->entries[i], cf, key, key_len) != 0) {
        if (ref->count == ref->cap) {
            ref->cap = ref->cap ? ref->cap * 2 : 256;
            ref->entries = realloc(ref->entries, ref->cap * sizeof *ref->entries);
            cr_assert_not_null(ref->entries);
        }
        memmove(&ref->entries[i + 1], &ref->entries[i], (ref->count - i) * sizeof *ref->entries);
        ref->count++;
        ref->entries[i] = (ref_entry_t){.cf = cf, .key_len = key_len};
        memcpy(ref->entries[i].key, key, key_len);
    }
    memcpy(ref->entries[i].value, value, value_len);
    ref->entries[i].value_len = value_len;
}

static void
ref_apply(ref_t *ref, const store_batch_t *batch)
{
    for (size_t i = 0; i < batch->count; i++) {
        const store_put_t *put = &batch->puts[i];
        ref_put(ref, put->cf, store_put_key(batch, put), put->key_len, store_put_value(batch, put),
                put->value_len);
    }
}

static void
ref_copy(ref_t *to, const ref_t *from)
{
    if (to->cap < from->count) {
        to->cap = from->cap;
        to->entries = realloc(to->entries, to->cap * sizeof *to->entries);
        cr_assert_not_null(to->entries);
    }
    if (from->count)
        memcpy(to->entries, from->entries, from->count * sizeof *from->entries);
    to->count = from->count;
}

// What a scan handed over, up to limit entries (0: no limit; the scan stops there).
typedef struct {
    ref_t got;
    store_cf_t cf;
    size_t limit;
} collect_t;

static int
collect_entry(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value, size_t value_len)
{
    collect_t *collect = arg;
    ref_t *got = &collect->got;
    cr_assert_leq(key_len, REF_KEY_MAX);
    cr_assert_leq(value_len, REF_VALUE_MAX);
    if (got->count == got->cap) {
        got->cap = got->cap ? got->cap * 2 : 256;
        got->entries = realloc(got->entries, got->cap * sizeof *got->entries);
        cr_assert_not_null(got->entries);
    }
    ref_entry_t *entry = &got->entries[got->count++];
    *entry = (ref_entry_t){.cf = collect->cf, .key_len = key_len, .value_len = value_len};
    memcpy(entry->key, key, key_len);
    memcpy(entry->value, value, value_len);
    return collect->limit && got->count >= collect->limit;
}

static bool
has_prefix(const ref_entry_t *entry, const uint8_t *prefix, size_t prefix_len)
{
    return prefix_len == 0 ||
           (entry->key_len >= prefix_len && memcmp(entry->key, prefix, prefix_len) == 0);
}

// Scans the store as the core does and compares with what the reference holds: every
// entry of cf with prefix, from start (NULL: from the prefix), up to limit entries.
static void
check_scan(memstore_t *mem, const ref_t *ref, store_cf_t cf, const uint8_t *prefix,
           size_t prefix_len, const uint8_t *start, size_t start_len, size_t limit,
           const char *where)
{
    collect_t collect = {.cf = cf, .limit = limit};
    store_reader_t reader = memstore_reader(mem);
    cr_assert_eq(
        reader.scan(reader.ctx, cf, prefix, prefix_len, start, start_len, collect_entry, &collect),
        0);
    size_t i = start ? ref_lower_bound(ref, cf, start, start_len)
                     : ref_lower_bound(ref, cf, prefix, prefix_len);
    size_t count = 0;
    for (; i < ref->count && ref->entries[i].cf == cf; i++, count++) {
        if (!has_prefix(&ref->entries[i], prefix, prefix_len) || (limit && count == limit))
            break;
        cr_assert_lt(count, collect.got.count, "%s: scan of cf %d misses entry %zu", where, cf,
                     count);
        const ref_entry_t *got = &collect.got.entries[count];
        cr_assert_eq(ref_order(got, cf, ref->entries[i].key, ref->entries[i].key_len), 0,
                     "%s: scan of cf %d, entry %zu has the wrong key", where, cf, count);
        cr_assert_eq(got->value_len, ref->entries[i].value_len, "%s", where);
        cr_assert_eq(memcmp(got->value, ref->entries[i].value, got->value_len), 0,
                     "%s: scan of cf %d, entry %zu has the wrong value", where, cf, count);
    }
    cr_assert_eq(count, collect.got.count, "%s: scan of cf %d gives %zu entries, not %zu", where,
                 cf, collect.got.count, count);
    free(collect.got.entries);
}

static void
check_get(memstore_t *mem, const ref_t *ref, store_cf_t cf, const uint8_t *key, size_t key_len,
          const char *where)
{
    store_reader_t reader = memstore_reader(mem);
    uint8_t *value = NULL;
    size_t value_len = 0;
    int rc = reader.get(reader.ctx, cf, key, key_len, &value, &value_len);
    size_t i = ref_lower_bound(ref, cf, key, key_len);
    if (i == ref->count || ref_order(&ref->entries[i], cf, key, key_len) != 0) {
        cr_assert_eq(rc, -SM_ENOTFOUND, "%s: get finds a key never written or undone", where);
        return;
    }
    cr_assert_eq(rc, 0, "%s: get misses a key of cf %d", where, cf);
    cr_assert_eq(value_len, ref->entries[i].value_len, "%s", where);
    cr_assert_eq(memcmp(value, ref->entries[i].value, value_len), 0, "%s: get's value", where);
    free(value);
}

// Origins as the core names them, with some that are prefixes of others ("south-1",
// "south-10"), an empty one, and one with a control byte in it.
static const char *const property_origins[PROPERTY_ORIGINS] = {
    "",        "a",        "ab",      "b",       "cloud",   "north-01", "north-02", "north-10",
    "south-1", "south-10", "south-2", "east",    "west-07", "west-7",   "x\001y",   "zz",
    "east-01", "east-02",  "east-03", "east-04", "east-05", "east-06",  "east-07",  "east-08",
    "east-09", "east-10",  "east-11", "east-12", "west-01", "west-02",  "west-03",  "west-04",
    "west-05", "west-06",  "west-08", "west-09", "west-10", "west-11",  "west-12",  "west-13",
};

typedef struct {
    uint64_t rng;
    uint64_t next_seq[PROPERTY_ORIGINS];                // the last seq appended
    uint64_t gaps[PROPERTY_ORIGINS][PROPERTY_GAPS_MAX]; // seqs skipped, to fill later
    size_t gap_count[PROPERTY_ORIGINS];
    ref_t visible; // what reads must see
    ref_t durable; // what a power loss with nothing kept leaves
    store_batch_t unsynced[PROPERTY_UNSYNCED_MAX];
    size_t unsynced_count;
} property_t;

static size_t
origin_key(uint8_t *out, size_t origin, uint64_t seq)
{
    size_t len = strlen(property_origins[origin]);
    memcpy(out, property_origins[origin], len);
    out[len++] = 0;
    for (int i = 7; i >= 0; i--)
        out[len++] = (uint8_t)(seq >> (8 * i));
    return len;
}

// The key of a log or seal put, mostly the next seq of one origin (the finger and
// the hints), sometimes a gap filled, a skip that makes one, or any seq at all.
static size_t
property_log_key(property_t *p, uint8_t *key)
{
    size_t origin = next_random(&p->rng) % PROPERTY_ORIGINS;
    uint64_t what = next_random(&p->rng) % 20;
    if (what < 2 && p->gap_count[origin] > 0) { // a gap-fill
        size_t gap = next_random(&p->rng) % p->gap_count[origin];
        uint64_t seq = p->gaps[origin][gap];
        p->gaps[origin][gap] = p->gaps[origin][--p->gap_count[origin]];
        return origin_key(key, origin, seq);
    }
    if (what < 4) { // skip some seqs, to fill later or never
        uint64_t skip = 1 + next_random(&p->rng) % 4;
        for (uint64_t s = 0; s < skip && p->gap_count[origin] < PROPERTY_GAPS_MAX; s++)
            p->gaps[origin][p->gap_count[origin]++] = p->next_seq[origin] + 1 + s;
        p->next_seq[origin] += skip;
    }
    if (what == 4) // anywhere, written or not
        return origin_key(key, origin, next_random(&p->rng) % (p->next_seq[origin] + 3));
    return origin_key(key, origin, ++p->next_seq[origin]);
}

// One put of a batch: mostly log and seal appends, with overwrites of what is held,
// keys without a NUL, and state and meta keys in between.
static void
property_put(property_t *p, store_batch_t *batch)
{
    uint8_t key[REF_KEY_MAX];
    size_t key_len = 0;
    store_cf_t cf = STORE_CF_LOG;
    uint64_t what = next_random(&p->rng) % 20;
    if (what < 10) {
        key_len = property_log_key(p, key);
    } else if (what < 14) { // a seal at an origin's latest seq, or at a gap-fill
        cf = STORE_CF_SEAL;
        key_len = property_log_key(p, key);
    } else if (what < 16 && p->visible.count > 0) { // an overwrite
        const ref_entry_t *old = &p->visible.entries[next_random(&p->rng) % p->visible.count];
        cf = old->cf;
        key_len = old->key_len;
        memcpy(key, old->key, key_len);
    } else if (what < 17 && batch->count > 0) { // the batch's last key once more
        const store_put_t *last = &batch->puts[batch->count - 1];
        cf = last->cf;
        key_len = last->key_len;
        memcpy(key, store_put_key(batch, last), key_len);
    } else {
        static const store_cf_t others[] = {STORE_CF_LOG, STORE_CF_SEAL, STORE_CF_STATE,
                                            STORE_CF_META, STORE_CF_IDEM};
        cf = others[next_random(&p->rng) % 5];
        int n = snprintf((char *)key, sizeof key, "k%llu",
                         (unsigned long long)(next_random(&p->rng) % 64));
        key_len = (size_t)n;
    }
    char value[REF_VALUE_MAX];
    int n = snprintf(value, sizeof value, "v%llu",
                     (unsigned long long)(next_random(&p->rng) % 1000000));
    cr_assert_eq(store_batch_put(batch, cf, key, key_len, value, (size_t)n), 0);
}

static void
property_write(property_t *p, memstore_t *mem, memstore_t *shadow, ref_t *shadow_ref,
               const char *where)
{
    store_batch_t batch;
    store_batch_init(&batch);
    size_t puts = 1 + next_random(&p->rng) % 6;
    for (size_t i = 0; i < puts; i++)
        property_put(p, &batch);
    bool sync = next_random(&p->rng) % 2 || p->unsynced_count == PROPERTY_UNSYNCED_MAX;
    cr_assert_eq(memstore_write(mem, &batch, sync), 0, "%s", where);
    ref_apply(&p->visible, &batch);
    if (shadow) {
        cr_assert_eq(memstore_write(shadow, &batch, true), 0, "%s", where);
        ref_apply(shadow_ref, &batch);
    }
    if (sync) {
        for (size_t i = 0; i < p->unsynced_count; i++)
            store_batch_free(&p->unsynced[i]);
        p->unsynced_count = 0;
        ref_copy(&p->durable, &p->visible);
        store_batch_free(&batch);
    } else {
        p->unsynced[p->unsynced_count++] = batch;
    }
}

static void
property_crash(property_t *p, memstore_t *mem, const char *where)
{
    size_t keep = next_random(&p->rng) % (p->unsynced_count + 1);
    cr_assert_eq(memstore_crash(mem, keep), p->unsynced_count - keep, "%s", where);
    for (size_t i = 0; i < p->unsynced_count; i++) {
        if (i < keep)
            ref_apply(&p->durable, &p->unsynced[i]);
        store_batch_free(&p->unsynced[i]);
    }
    p->unsynced_count = 0;
    ref_copy(&p->visible, &p->durable);
}

// Everything the store can be asked, against the reference: whole column families,
// an origin's entries from a seq (as send_batch reads them), and point reads.
static void
property_check(property_t *p, memstore_t *mem, const char *where)
{
    cr_assert(memstore_is_consistent(mem), "%s: the store's structures disagree", where);
    cr_assert_eq(memstore_unsynced_count(mem), p->unsynced_count, "%s", where);
    for (int cf = 0; cf < STORE_CF_COUNT; cf++)
        check_scan(mem, &p->visible, (store_cf_t)cf, NULL, 0, NULL, 0, 0, where);
    for (int i = 0; i < 6; i++) {
        size_t origin = next_random(&p->rng) % PROPERTY_ORIGINS;
        store_cf_t cf = next_random(&p->rng) % 2 ? STORE_CF_LOG : STORE_CF_SEAL;
        uint8_t start[REF_KEY_MAX];
        size_t start_len =
            origin_key(start, origin, next_random(&p->rng) % (p->next_seq[origin] + 3));
        size_t limit = next_random(&p->rng) % 4;
        uint8_t prefix[REF_KEY_MAX];
        // The last scan starts at another origin's key: it ends before the first
        // entry without the prefix, whatever follows.
        size_t prefix_len =
            origin_key(prefix, i == 5 ? next_random(&p->rng) % PROPERTY_ORIGINS : origin, 0) - 8;
        check_scan(mem, &p->visible, cf, prefix, prefix_len, i % 3 ? start : NULL,
                   i % 3 ? start_len : 0, limit, where);
        check_get(mem, &p->visible, cf, start, start_len, where);
        if (p->visible.count > 0) {
            const ref_entry_t *held = &p->visible.entries[next_random(&p->rng) % p->visible.count];
            check_get(mem, &p->visible, held->cf, held->key, held->key_len, where);
        }
    }
}

// Log and seal keys of many origins interleaved, as a node receives them, in order
// and out of it (gap-fills), with overwrites, unsynced batches and power losses that
// undo inserts: every read after every step must match a plain sorted array.
Test(memstore, log_and_seal_keys_of_many_origins_read_back_as_a_sorted_array, .timeout = 120.0)
{
    for (uint64_t seed = 1; seed <= 6; seed++) {
        // Even seeds: pooled bytes, shared with a store that syncs every write and
        // never loses power.
        memstore_pool_t *pool = seed % 2 == 0 ? memstore_pool_new() : NULL;
        memstore_t *mem = pool ? memstore_new_shared(pool) : memstore_new();
        memstore_t *shadow = pool ? memstore_new_shared(pool) : NULL;
        ref_t shadow_ref = {0};
        property_t *p = calloc(1, sizeof *p);
        cr_assert_not_null(p);
        p->rng = seed * 7919;
        for (int step = 0; step < 2500; step++) {
            char where[64];
            snprintf(where, sizeof where, "seed %llu step %d", (unsigned long long)seed, step);
            uint64_t what = next_random(&p->rng) % 100;
            if (what < 75) {
                property_write(p, mem, shadow, &shadow_ref, where);
            } else if (what < 80) {
                memstore_sync(mem);
                ref_copy(&p->durable, &p->visible);
                for (size_t i = 0; i < p->unsynced_count; i++)
                    store_batch_free(&p->unsynced[i]);
                p->unsynced_count = 0;
            } else if (what < 92) {
                property_crash(p, mem, where);
            } else { // an injected error: the write changes nothing
                memstore_fail_next(mem, 1, -SM_EIO);
                store_batch_t batch;
                store_batch_init(&batch);
                property_put(p, &batch);
                cr_assert_eq(memstore_write(mem, &batch, false), -SM_EIO, "%s", where);
                store_batch_free(&batch);
            }
            property_check(p, mem, where);
            if (shadow && step % 100 == 0) {
                cr_assert(memstore_is_consistent(shadow), "%s: shadow", where);
                check_scan(shadow, &shadow_ref, STORE_CF_LOG, NULL, 0, NULL, 0, 0, where);
            }
        }
        for (size_t i = 0; i < p->unsynced_count; i++)
            store_batch_free(&p->unsynced[i]);
        free(p->visible.entries);
        free(p->durable.entries);
        free(p);
        free(shadow_ref.entries);
        memstore_destroy(&shadow);
        memstore_destroy(&mem);
        memstore_pool_destroy(&pool);
    }
}

static void
put_log(memstore_t *mem, const char *origin, uint64_t seq, bool sync)
{
    uint8_t key[REF_KEY_MAX];
    size_t len = strlen(origin);
    memcpy(key, origin, len + 1);
    for (int i = 7; i >= 0; i--)
        key[len + 1 + (size_t)(7 - i)] = (uint8_t)(seq >> (8 * i));
    store_batch_t batch;
    store_batch_init(&batch);
    cr_assert_eq(store_batch_put(&batch, STORE_CF_LOG, key, len + 9, "v", 1), 0);
    cr_assert_eq(memstore_write(mem, &batch, sync), 0);
    store_batch_free(&batch);
}

static int
count_entry(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value, size_t value_len)
{
    (void)key;
    (void)key_len;
    (void)value;
    (void)value_len;
    (*(size_t *)arg)++;
    return 0;
}

// Gap-fills far behind an origin's head leave its hints there (every level's last
// insert), so the next appends of tall nodes would walk thousands of nodes from
// them: they search instead, and the store stays whole through a power loss too.
// Another origin's appends come in between, as on a node, so the finger (on the
// last insert) does not place them.
Test(memstore, appends_after_gap_fills_far_behind_stay_in_order)
{
    memstore_t *mem = memstore_new();
    for (uint64_t seq = 41; seq <= 3000; seq++)
        put_log(mem, "far", seq, true);
    for (uint64_t seq = 1; seq <= 40; seq++) // the gap, filled: the hints are down here
        put_log(mem, "far", seq, seq % 2);
    for (uint64_t seq = 3001; seq <= 3100; seq++) {
        put_log(mem, "far", seq, seq % 3 == 0);
        put_log(mem, "near", seq, true);
    }
    cr_assert(memstore_is_consistent(mem));
    memstore_crash(mem, 0);
    cr_assert(memstore_is_consistent(mem));
    for (uint64_t seq = 3001; seq <= 3200; seq++) {
        put_log(mem, "far", seq, true);
        put_log(mem, "near", seq, true);
    }
    cr_assert(memstore_is_consistent(mem));
    size_t count = 0;
    store_reader_t reader = memstore_reader(mem);
    cr_assert_eq(reader.scan(reader.ctx, STORE_CF_LOG, (const uint8_t *)"far", 4, NULL, 0,
                             count_entry, &count),
                 0);
    cr_assert_eq(count, 3200, "every seq once: %zu", count);
    memstore_destroy(&mem);
}

// A power loss that undoes the entries an origin's hint holds (its newest) drops
// the hint, though older entries of the origin stay: a hint never holds a freed
// node. Hints made after it may have been pushed past it in the hint table, and
// must be shifted back into the hole to be found. Every origin must still read
// whole, and appends must find their place again.
Test(memstore, a_power_loss_drops_the_hints_of_the_entries_it_undoes)
{
    memstore_t *mem = memstore_new();
    char origin[32];
    for (int i = 0; i < 300; i++) { // durable: the hints are made in this order
        snprintf(origin, sizeof origin, "node-%03d", i);
        put_log(mem, origin, 1, true);
    }
    for (int i = 0; i < 300; i += 2) { // unsynced: the hints of even origins hold these
        snprintf(origin, sizeof origin, "node-%03d", i);
        put_log(mem, origin, 2, false);
        put_log(mem, origin, 3, false);
    }
    cr_assert_eq(memstore_crash(mem, 0), 300);
    cr_assert(memstore_is_consistent(mem));
    for (int i = 0; i < 300; i++) {
        snprintf(origin, sizeof origin, "node-%03d", i);
        put_log(mem, origin, 2, true);
    }
    cr_assert(memstore_is_consistent(mem));
    store_reader_t reader = memstore_reader(mem);
    for (int i = 0; i < 300; i++) {
        snprintf(origin, sizeof origin, "node-%03d", i);
        size_t count = 0;
        cr_assert_eq(reader.scan(reader.ctx, STORE_CF_LOG, (const uint8_t *)origin,
                                 strlen(origin) + 1, NULL, 0, count_entry, &count),
                     0);
        cr_assert_eq(count, 2, "%s holds %zu entries", origin, count);
    }
    memstore_destroy(&mem);
}
