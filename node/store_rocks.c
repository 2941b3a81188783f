#include "store_rocks.h"

#include <assert.h>
#include <rocksdb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sm_error.h"

// Memory bounds, chosen so a branch node stays well under 200 MB at any log size and
// its peak grows little with the log (docs/ARCHITECTURE.md, "RocksDB layout"; measured by
// `storemesh bench mesh` and `bench local`). Memtables were most of what a busy
// node's memory grew by, so they are small: 4 MiB for all column families together
// (past that the largest is flushed), at most two per family (one being written,
// one being flushed), 2 MiB for a family that is looked up and rewritten, 1 MiB for
// the appended ones. Against 8 MiB memtables (three per family) this took a quarter
// to a third off both benchmarks' peaks; 512 KiB for the appended families cost
// `bench local` a tenth of its speed (many more flushes of the log), 1 MiB nothing
// measured.
#define ROCKS_BLOCK_CACHE_BYTES (4u << 20)
#define ROCKS_WRITE_BUFFER_BYTES (2u << 20)        // idem and state: looked up, rewritten
#define ROCKS_APPEND_WRITE_BUFFER_BYTES (1u << 20) // log, seal and meta
#define ROCKS_DB_WRITE_BUFFER_BYTES (4u << 20)     // all column families' memtables together
#define ROCKS_WRITE_BUFFERS_MAX 2
// Each file RocksDB writes (the WAL, a flush's or a compaction's output) buffers up
// to this much before a write call: 1 MiB by default, several at once.
#define ROCKS_FILE_WRITE_BUFFER_BYTES (256u << 10)
#define ROCKS_MAX_OPEN_FILES 256

static const char *const cf_names[STORE_CF_COUNT] = {
    [STORE_CF_META] = "default", [STORE_CF_LOG] = "log", [STORE_CF_STATE] = "state",
    [STORE_CF_IDEM] = "idem",    [STORE_CF_SEAL] = "seal",
};

struct store_rocks {
    rocksdb_t *db;
    rocksdb_options_t *options;
    rocksdb_options_t *state_options; // rewritten in place
    rocksdb_options_t *log_options;   // log, seal, meta: appended or small, read by range
    rocksdb_block_based_table_options_t *log_table; // the same without bloom filters
    rocksdb_cache_t *cache;
    rocksdb_block_based_table_options_t *table;
    rocksdb_column_family_handle_t *cfs[STORE_CF_COUNT];
    rocksdb_readoptions_t *read;
    rocksdb_writeoptions_t *write_sync;
    rocksdb_writeoptions_t *write_nosync;
    // Each column family's RocksDB ID is its store_cf_t value (as store_rocks creates
    // them): a batch's arena is then RocksDB's encoding as it is (store.h).
    bool native_cf_ids;
    uint32_t cf_ids[STORE_CF_COUNT];
};

static int
translate(const char *text)
{
    if (strstr(text, "lock") || strstr(text, "LOCK"))
        return -SM_EBUSY;
    if (strstr(text, "does not exist"))
        return -SM_ENOTFOUND;
    return -SM_EIO;
}

store_rocks_t *
store_rocks_open(const char *path, bool create, int *rc, char *err, size_t err_size)
{
    store_rocks_t *self = calloc(1, sizeof *self);
    if (!self) {
        *rc = -SM_ENOMEM;
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    self->options = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(self->options, create);
    rocksdb_options_set_create_missing_column_families(self->options, create);
    rocksdb_options_set_max_open_files(self->options, ROCKS_MAX_OPEN_FILES);
    rocksdb_options_set_write_buffer_size(self->options, ROCKS_WRITE_BUFFER_BYTES);
    rocksdb_options_set_max_write_buffer_number(self->options, ROCKS_WRITE_BUFFERS_MAX);
    rocksdb_options_set_db_write_buffer_size(self->options, ROCKS_DB_WRITE_BUFFER_BYTES);
    rocksdb_options_set_writable_file_max_buffer_size(self->options,
                                                      ROCKS_FILE_WRITE_BUFFER_BYTES);
    rocksdb_options_set_max_background_jobs(self->options, 2);
    rocksdb_options_set_keep_log_file_num(self->options, 4);
    // Debian's librocksdb keeps its assertions on, and on a full disk its own info
    // log write fails and asserts, killing the node. Only fatal messages go to the
    // LOG file; the node reports write errors itself.
    rocksdb_options_set_info_log_level(self->options, 4 /* FATAL_LEVEL */);
    // Most idempotency lookups miss (a new command ID): bloom filters in the memtable
    // and in every table file answer a miss without a search.
    rocksdb_options_set_memtable_whole_key_filtering(self->options, 1);
    rocksdb_options_set_memtable_prefix_bloom_size_ratio(self->options, 0.05);
    // Flushes and compactions compete with the submit path for the CPU of a 2-core
    // branch server. Levels 0 and 1 (the newest 256 MiB or so, which compactions
    // rewrite over and over) are stored uncompressed; from level 2 down, where data
    // settles, LZ4, cheaper than snappy to decode. Compressing level 1 too (when it was
    // the bottom of a young database) cost a sixth of the node's CPU in bench local.
    static const int per_level[] = {rocksdb_no_compression, rocksdb_no_compression,
                                    rocksdb_lz4_compression, rocksdb_lz4_compression,
                                    rocksdb_lz4_compression, rocksdb_lz4_compression,
                                    rocksdb_lz4_compression};
    rocksdb_options_set_compression(self->options, rocksdb_no_compression);
    rocksdb_options_set_compression_per_level(self->options, per_level,
                                              sizeof per_level / sizeof per_level[0]);
    self->cache = rocksdb_cache_create_lru(ROCKS_BLOCK_CACHE_BYTES);
    self->table = rocksdb_block_based_options_create();
    rocksdb_block_based_options_set_block_cache(self->table, self->cache);
    rocksdb_block_based_options_set_filter_policy(self->table,
                                                  rocksdb_filterpolicy_create_bloom(10));
    rocksdb_options_set_block_based_table_factory(self->options, self->table);
    self->read = rocksdb_readoptions_create();
    self->write_sync = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(self->write_sync, 1);
    self->write_nosync = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(self->write_nosync, 0);

    // One writer thread writes; in-place state updates need the memtable unshared.
    rocksdb_options_set_allow_concurrent_memtable_write(self->options, 0);
    // A field state is rewritten on every change to it (a hot SKU many times a
    // second); updating it in place keeps the memtable at one entry per field
    // instead of one per change, which makes the insert search short.
    self->state_options = rocksdb_options_create_copy(self->options);
    rocksdb_options_set_inplace_update_support(self->state_options, 1);
    // The log and the seals are appended in key order and read by range (streaming,
    // audit); a point lookup there is rare (a restart's head check). Bloom filters, in
    // the memtable and in every table file, cost hashing on each write and flush and
    // answer no query worth it. The meta family (a few keys rewritten once a batch:
    // high-water marks, cursors) is read at start and then from the core's memory,
    // so it shares these options.
    self->log_options = rocksdb_options_create_copy(self->options);
    rocksdb_options_set_write_buffer_size(self->log_options, ROCKS_APPEND_WRITE_BUFFER_BYTES);
    rocksdb_options_set_memtable_prefix_bloom_size_ratio(self->log_options, 0);
    rocksdb_options_set_memtable_whole_key_filtering(self->log_options, 0);
    self->log_table = rocksdb_block_based_options_create();
    rocksdb_block_based_options_set_block_cache(self->log_table, self->cache);
    rocksdb_options_set_block_based_table_factory(self->log_options, self->log_table);
    const rocksdb_options_t *cf_options[STORE_CF_COUNT];
    for (int i = 0; i < STORE_CF_COUNT; i++)
        cf_options[i] = i == STORE_CF_STATE  ? self->state_options
                        : i == STORE_CF_IDEM ? self->options
                                             : self->log_options; // log, seal, meta
    char *rocks_err = NULL;
    self->db = rocksdb_open_column_families(self->options, path, STORE_CF_COUNT, cf_names,
                                            cf_options, self->cfs, &rocks_err);
    if (!self->db) {
        *rc = translate(rocks_err ? rocks_err : "");
        snprintf(err, err_size, "%s", rocks_err ? rocks_err : "unknown RocksDB error");
        rocksdb_free(rocks_err);
        store_rocks_close(&self);
        return NULL;
    }
    self->native_cf_ids = true;
    for (int i = 0; i < STORE_CF_COUNT; i++) {
        self->cf_ids[i] = rocksdb_column_family_handle_get_id(self->cfs[i]);
        if (self->cf_ids[i] != (uint32_t)i)
            self->native_cf_ids = false;
    }
    *rc = 0;
    return self;
}

void
store_rocks_close(store_rocks_t **self_p)
{
    store_rocks_t *self = *self_p;
    if (!self)
        return;
    for (int i = 0; i < STORE_CF_COUNT; i++)
        if (self->cfs[i])
            rocksdb_column_family_handle_destroy(self->cfs[i]);
    if (self->db)
        rocksdb_close(self->db);
    rocksdb_writeoptions_destroy(self->write_sync);
    rocksdb_writeoptions_destroy(self->write_nosync);
    rocksdb_readoptions_destroy(self->read);
    rocksdb_options_destroy(self->options);
    if (self->state_options)
        rocksdb_options_destroy(self->state_options);
    if (self->log_options)
        rocksdb_options_destroy(self->log_options);
    if (self->log_table)
        rocksdb_block_based_options_destroy(self->log_table);
    rocksdb_block_based_options_destroy(self->table);
    rocksdb_cache_destroy(self->cache);
    free(self);
    *self_p = NULL;
}

static int
rocks_get(void *ctx, store_cf_t cf, const uint8_t *key, size_t key_len, uint8_t **value,
          size_t *value_len)
{
    store_rocks_t *self = ctx;
    char *rocks_err = NULL;
    size_t len = 0;
    char *found = rocksdb_get_cf(self->db, self->read, self->cfs[cf], (const char *)key, key_len,
                                 &len, &rocks_err);
    if (rocks_err) {
        fprintf(stderr, "storemesh: RocksDB read failed: %s\n", rocks_err);
        rocksdb_free(rocks_err);
        return -SM_EIO;
    }
    if (!found)
        return -SM_ENOTFOUND;
    *value = malloc(len ? len : 1);
    if (!*value) {
        rocksdb_free(found);
        return -SM_ENOMEM;
    }
    memcpy(*value, found, len);
    *value_len = len;
    rocksdb_free(found);
    return 0;
}

// Whether keys are in RocksDB's bytewise order already (command IDs from one till
// often count up): MultiGet then skips its own sort, which showed in the profile.
static bool
keys_sorted(size_t count, const uint8_t *const *keys, const size_t *key_lens)
{
    for (size_t i = 1; i < count; i++) {
        size_t common = key_lens[i - 1] < key_lens[i] ? key_lens[i - 1] : key_lens[i];
        int order = common ? memcmp(keys[i - 1], keys[i], common) : 0;
        if (order > 0 || (order == 0 && key_lens[i - 1] > key_lens[i]))
            return false;
    }
    return true;
}

static int
rocks_get_many(void *ctx, store_cf_t cf, size_t count, const uint8_t *const *keys,
               const size_t *key_lens, uint8_t **values, size_t *value_lens)
{
    store_rocks_t *self = ctx;
    for (size_t i = 0; i < count; i++) {
        values[i] = NULL;
        value_lens[i] = 0;
    }
    rocksdb_pinnableslice_t **found = calloc(count ? count : 1, sizeof *found);
    char **errs = calloc(count ? count : 1, sizeof *errs);
    int rc = found && errs ? 0 : -SM_ENOMEM;
    if (rc == 0)
        rocksdb_batched_multi_get_cf(self->db, self->read, self->cfs[cf], count,
                                     (const char *const *)keys, key_lens, found, errs,
                                     keys_sorted(count, keys, key_lens));
    for (size_t i = 0; rc == 0 && i < count; i++) {
        if (errs[i]) {
            fprintf(stderr, "storemesh: RocksDB read failed: %s\n", errs[i]);
            rc = -SM_EIO;
        } else if (found[i]) {
            size_t len = 0;
            const char *bytes = rocksdb_pinnableslice_value(found[i], &len);
            values[i] = malloc(len ? len : 1);
            if (!values[i])
                rc = -SM_ENOMEM;
            else
                memcpy(values[i], bytes, len);
            value_lens[i] = len;
        }
    }
    for (size_t i = 0; found && errs && i < count; i++) {
        if (found[i])
            rocksdb_pinnableslice_destroy(found[i]);
        free(errs[i]); // strdup'd by RocksDB's C API
        if (rc && values[i]) {
            free(values[i]);
            values[i] = NULL;
        }
    }
    free(found);
    free(errs);
    return rc;
}

static int
rocks_scan(void *ctx, store_cf_t cf, const uint8_t *prefix, size_t prefix_len,
           const uint8_t *start_key, size_t start_key_len, store_scan_fn fn, void *arg)
{
    store_rocks_t *self = ctx;
    rocksdb_iterator_t *it = rocksdb_create_iterator_cf(self->db, self->read, self->cfs[cf]);
    if (start_key)
        rocksdb_iter_seek(it, (const char *)start_key, start_key_len);
    else if (prefix_len)
        rocksdb_iter_seek(it, (const char *)prefix, prefix_len);
    else
        rocksdb_iter_seek_to_first(it);
    // The event loop's reads are bounded by the data; a scan visits each entry once.
    for (; rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t key_len = 0;
        size_t value_len = 0;
        const uint8_t *key = (const uint8_t *)rocksdb_iter_key(it, &key_len);
        if (key_len < prefix_len || (prefix_len > 0 && memcmp(key, prefix, prefix_len) != 0))
            break;
        const uint8_t *value = (const uint8_t *)rocksdb_iter_value(it, &value_len);
        if (fn(arg, key, key_len, value, value_len))
            break;
    }
    char *rocks_err = NULL;
    rocksdb_iter_get_error(it, &rocks_err);
    rocksdb_iter_destroy(it);
    if (rocks_err) {
        fprintf(stderr, "storemesh: RocksDB scan failed: %s\n", rocks_err);
        rocksdb_free(rocks_err);
        return -SM_EIO;
    }
    return 0;
}

store_reader_t
store_rocks_reader(store_rocks_t *self)
{
    return (store_reader_t){
        .get = rocks_get, .scan = rocks_scan, .get_many = rocks_get_many, .ctx = self};
}

// A batch whose column families have other IDs in this store (a store whose
// families were created in another order) is encoded again, with this store's IDs,
// in one exact-size buffer; the format is store.h's. tests/node/store_rocks_test.c
// writes both ways at every varint length boundary and in every column family.
static uint8_t *
encode_with_ids(const store_rocks_t *self, const store_batch_t *batch, size_t *size_out)
{
    size_t size = STORE_BATCH_HEADER_BYTES;
    for (size_t i = 0; i < batch->count; i++) {
        const store_put_t *put = &batch->puts[i];
        size += store_put_encoded_size(self->cf_ids[put->cf], put->key_len, put->value_len);
    }
    uint8_t *rep = calloc(1, size); // the sequence number, which the write assigns, is 0
    if (!rep)
        return NULL;
    store_batch_header_set_count(rep, (uint32_t)batch->count);
    uint8_t *out = rep + STORE_BATCH_HEADER_BYTES;
    for (size_t i = 0; i < batch->count; i++) {
        const store_put_t *put = &batch->puts[i];
        uint8_t *key_at = NULL;
        uint8_t *value_at = NULL;
        out = store_put_encode(out, self->cf_ids[put->cf], store_put_key(batch, put),
                               put->key_len, store_put_value(batch, put), put->value_len,
                               &key_at, &value_at);
    }
    assert((size_t)(out - rep) == size);
    *size_out = size;
    return rep;
}

int
store_rocks_write(store_rocks_t *self, const store_batch_t *batch, bool sync, char *err,
                  size_t err_size)
{
    assert(batch->count <= UINT32_MAX); // bounded by the batch limits, far below
    // RocksDB copies the encoding into its own WriteBatch: the batch's arena, most
    // of the time, is all the node holds besides (before, a second encoding of
    // about 1 MiB a write was built here, on the writer thread).
    static const uint8_t empty[STORE_BATCH_HEADER_BYTES] = {0};
    uint8_t *rep = NULL;
    const uint8_t *bytes = batch->count ? batch->arena : empty;
    size_t size = batch->count ? batch->arena_len : sizeof empty;
    if (batch->count && !self->native_cf_ids) {
        rep = encode_with_ids(self, batch, &size);
        if (!rep) {
            snprintf(err, err_size,
                     "out of memory for a write batch of %zu bytes (not a disk problem: give "
                     "the node more memory)",
                     batch->arena_len);
            return -SM_ENOMEM;
        }
        bytes = rep;
    }
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create_from((const char *)bytes, size);
    free(rep);
    char *rocks_err = NULL;
    rocksdb_write(self->db, sync ? self->write_sync : self->write_nosync, wb, &rocks_err);
    rocksdb_writebatch_destroy(wb);
    if (rocks_err) {
        snprintf(err, err_size, "%s", rocks_err);
        rocksdb_free(rocks_err);
        return -SM_EIO;
    }
    return 0;
}
