#include "memstore.h"

#include <assert.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hash_bytes.h"
#include "sm_error.h"

// A skip list ordered by (column family, key bytes). Node heights come from a hash
// of the key, not from a random source, so a run is the same every time.
#define MEMSTORE_LEVELS_MAX 24
#define MEMSTORE_HEIGHT_SEED 0x68656967687473ull // "heights": not a column family
// Prefix hints (see prefix_hint_t) keep nodes of this many lowest levels: a taller
// node, one insert in 4^4 = 256, is placed by a search from the head instead.
#define MEMSTORE_HINT_LEVELS 4
// ... and this many of the latest at each level: with two, a seek of the newest
// node's key (the seal a replication batch ends at) starts from the one before it.
#define MEMSTORE_HINT_DEPTH 2
// Prefixes (origins, for log and seal keys) hinted at most; keys of further prefixes
// are found by a full search, as before hints. A mesh has a few hundred origins.
#define MEMSTORE_HINTS_MAX 65536
// Nodes a search from a hint may walk past before it gives up for a search from the
// head: the greatest hinted node below a key may lie far behind it.
#define MEMSTORE_HINT_STEPS_MAX 64

// A log or seal entry's key and value bytes, shared by every store of a pool that
// holds them (the same operation is on every node of a mesh).
typedef struct blob {
    struct blob *chain; // next in its pool bucket
    uint64_t hash;
    uint32_t refs;
    uint32_t key_len;
    size_t value_len;
    uint8_t bytes[]; // key, then value
} blob_t;

// Stores of one pool may be used on different threads at once (a simulation's
// windows, sim_window.h): the pool's table and counts are the mutex's.
struct memstore_pool {
    pthread_mutex_t mutex;
    blob_t **buckets;
    size_t bucket_count; // a power of two
    size_t blob_count;
    uint64_t bytes_shared; // bytes a pool-less store would have copied again
};

typedef struct mem_node {
    store_cf_t cf;
    uint8_t *key;
    size_t key_len;
    uint8_t *value;
    size_t value_len;
    blob_t *blob; // key and value live in it (pooled), or NULL: both malloc'd
    int height;
    struct mem_node *next[]; // height entries
} mem_node_t;

// Log and seal keys are an origin's name, a NUL, then its sequence number. A node
// receives the operations of many origins interleaved, so the key written last is
// seldom next to the one written now, but the keys written last with the same
// origin usually are, and the replication that follows a write reads from there.
// A hint per (column family, key prefix through the first NUL) keeps, for each low
// level, the latest nodes inserted with that prefix that are tall enough for it: a
// search starts from one of them below the key instead of from the head.
typedef struct {
    uint64_t hash; // of cf and prefix
    store_cf_t cf;
    size_t prefix_len; // bytes, through the NUL
    // last[level][0] is the node last inserted with this prefix whose height is above
    // level, last[level][1] the one before it. NULL: none yet, or removed since
    // (removal clears it: never a freed node); an entry with every one NULL is dropped.
    mem_node_t *last[MEMSTORE_HINT_LEVELS][MEMSTORE_HINT_DEPTH];
    uint8_t prefix[]; // prefix_len bytes
} prefix_hint_t;

// What one unsynced put replaced, so a power loss can put it back.
typedef struct {
    store_cf_t cf;
    uint8_t *key;
    size_t key_len;
    bool existed;
    uint8_t *old_value;
    size_t old_value_len;
} undo_t;

typedef struct {
    undo_t *undo;
    size_t count;
} unsynced_batch_t;

struct memstore {
    memstore_pool_t *pool; // borrowed; NULL: nothing shared
    mem_node_t *head;
    // The node set_value last inserted or overwrote, and its predecessor at each of
    // the finger_levels lowest levels (itself below its height). A key that falls
    // between it and its successor (the next operation of the same origin, as a
    // batch writes them), and is no taller than finger_levels, is inserted without
    // a search. NULL after a removal. A node placed from a prefix hint knows its
    // predecessors only below its own height, so the finger it leaves covers
    // those: without it, each operation of a batch after the first was placed
    // from the hint again (hashing its origin, walking from the hinted node).
    mem_node_t *finger_node;
    mem_node_t *finger[MEMSTORE_LEVELS_MAX];
    int finger_levels;
    prefix_hint_t *finger_hint; // finger_node's prefix hint, or NULL: not known
    // Field states and meta records are rewritten in place all the time: an index
    // by key finds them without a search (linear probing; NULL: empty).
    mem_node_t **index;
    size_t index_cap; // a power of two, or 0
    size_t index_count;
    // Prefix hints by (cf, prefix), linear probing (NULL: empty); every entry
    // refers to at least one node held, so there are at most as many as log and
    // seal entries, and at most MEMSTORE_HINTS_MAX.
    prefix_hint_t **hints;
    size_t hints_cap; // a power of two, or 0
    size_t hints_count;
    unsynced_batch_t *unsynced; // write order
    size_t unsynced_count;
    size_t unsynced_cap;
    size_t fail_count; // writes still to fail
    int fail_rc;
};

static int
compare(store_cf_t cf_a, const uint8_t *a, size_t a_len, store_cf_t cf_b, const uint8_t *b,
        size_t b_len)
{
    if (cf_a != cf_b)
        return cf_a < cf_b ? -1 : 1;
    size_t shorter = a_len < b_len ? a_len : b_len;
    int rc = shorter ? memcmp(a, b, shorter) : 0;
    if (rc)
        return rc;
    return a_len < b_len ? -1 : a_len > b_len ? 1 : 0;
}

static int
height_of(const uint8_t *key, size_t key_len)
{
    // A seed of its own: the index's slots come from key_hash's low bits.
    uint64_t h = hash_bytes(MEMSTORE_HEIGHT_SEED, key, key_len);
    int height = 1;
    while (height < MEMSTORE_LEVELS_MAX && (h & 3) == 0) { // p = 1/4 per level
        height++;
        h >>= 2;
    }
    return height;
}

static uint64_t
key_hash(store_cf_t cf, const uint8_t *key, size_t key_len)
{
    return hash_bytes((uint64_t)cf, key, key_len);
}

memstore_pool_t *
memstore_pool_new(void)
{
    memstore_pool_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->bucket_count = 1024;
    self->buckets = calloc(self->bucket_count, sizeof *self->buckets);
    if (!self->buckets || pthread_mutex_init(&self->mutex, NULL) != 0) {
        free(self->buckets);
        free(self);
        return NULL;
    }
    return self;
}

void
memstore_pool_destroy(memstore_pool_t **self_p)
{
    memstore_pool_t *self = *self_p;
    if (!self)
        return;
    assert(self->blob_count == 0); // every store of the pool was destroyed first
    pthread_mutex_destroy(&self->mutex);
    free(self->buckets);
    free(self);
    *self_p = NULL;
}

static void
pool_grow(memstore_pool_t *pool)
{
    size_t count = pool->bucket_count * 2;
    blob_t **buckets = calloc(count, sizeof *buckets);
    if (!buckets)
        return; // longer chains, still correct
    for (size_t i = 0; i < pool->bucket_count; i++) {
        blob_t *blob = pool->buckets[i];
        while (blob) { // bounded by the blobs held
            blob_t *next = blob->chain;
            size_t index = (size_t)blob->hash & (count - 1);
            blob->chain = buckets[index];
            buckets[index] = blob;
            blob = next;
        }
    }
    free(pool->buckets);
    pool->buckets = buckets;
    pool->bucket_count = count;
}

// The pooled copy of (key, value), with one more reference; NULL when out of memory.
static blob_t *
pool_take(memstore_pool_t *pool, store_cf_t cf, const uint8_t *key, size_t key_len,
          const uint8_t *value, size_t value_len)
{
    // By the key alone: a log or seal key names one operation (origin, seq), so it
    // spreads blobs as well as the whole entry would, and the compare that confirms
    // a match reads the value anyway. Hashing each stored operation whole was 2% of
    // a 200-node run's instructions.
    uint64_t hash = key_hash(cf, key, key_len);
    pthread_mutex_lock(&pool->mutex);
    size_t index = (size_t)hash & (pool->bucket_count - 1);
    for (blob_t *blob = pool->buckets[index]; blob; blob = blob->chain) {
        if (blob->hash == hash && blob->key_len == key_len && blob->value_len == value_len &&
            memcmp(blob->bytes, key, key_len) == 0 &&
            memcmp(blob->bytes + key_len, value, value_len) == 0) {
            blob->refs++;
            pool->bytes_shared += key_len + value_len;
            pthread_mutex_unlock(&pool->mutex);
            return blob;
        }
    }
    blob_t *blob = malloc(sizeof *blob + key_len + value_len);
    if (!blob) {
        pthread_mutex_unlock(&pool->mutex);
        return NULL;
    }
    *blob = (blob_t){.hash = hash, .refs = 1, .key_len = (uint32_t)key_len, .value_len = value_len};
    memcpy(blob->bytes, key, key_len);
    if (value_len)
        memcpy(blob->bytes + key_len, value, value_len);
    blob->chain = pool->buckets[index];
    pool->buckets[index] = blob;
    if (++pool->blob_count > pool->bucket_count)
        pool_grow(pool);
    pthread_mutex_unlock(&pool->mutex);
    return blob;
}

static void
pool_release(memstore_pool_t *pool, blob_t *blob)
{
    pthread_mutex_lock(&pool->mutex);
    if (--blob->refs > 0) {
        pthread_mutex_unlock(&pool->mutex);
        return;
    }
    blob_t **link = &pool->buckets[(size_t)blob->hash & (pool->bucket_count - 1)];
    while (*link != blob) // the blob is in its bucket's chain
        link = &(*link)->chain;
    *link = blob->chain;
    pool->blob_count--;
    pthread_mutex_unlock(&pool->mutex);
    free(blob);
}

// Log and seal entries are the same bytes on every node: shared when pooled.
static bool
pooled_cf(const memstore_t *self, store_cf_t cf)
{
    return self->pool && (cf == STORE_CF_LOG || cf == STORE_CF_SEAL);
}

static void
node_free(memstore_t *self, mem_node_t *node)
{
    if (node->blob) {
        pool_release(self->pool, node->blob);
    } else {
        free(node->key);
        free(node->value);
    }
    free(node);
}

memstore_t *
memstore_new_shared(memstore_pool_t *pool)
{
    memstore_t *self = memstore_new();
    if (self)
        self->pool = pool;
    return self;
}

memstore_t *
memstore_new(void)
{
    memstore_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->head = calloc(1, sizeof *self->head + MEMSTORE_LEVELS_MAX * sizeof(mem_node_t *));
    if (!self->head) {
        free(self);
        return NULL;
    }
    self->head->height = MEMSTORE_LEVELS_MAX;
    return self;
}

static void
drop_unsynced(memstore_t *self, size_t from)
{
    for (size_t b = from; b < self->unsynced_count; b++) {
        for (size_t i = 0; i < self->unsynced[b].count; i++) {
            free(self->unsynced[b].undo[i].key);
            free(self->unsynced[b].undo[i].old_value);
        }
        free(self->unsynced[b].undo);
    }
    self->unsynced_count = from;
}

static void hints_free(memstore_t *self);

void
memstore_destroy(memstore_t **self_p)
{
    memstore_t *self = *self_p;
    if (!self)
        return;
    drop_unsynced(self, 0);
    free(self->unsynced);
    mem_node_t *node = self->head->next[0];
    while (node) { // bounded by the entries held
        mem_node_t *next = node->next[0];
        node_free(self, node);
        node = next;
    }
    free(self->head);
    free(self->index);
    hints_free(self);
    free(self);
    *self_p = NULL;
}

// The last node before (cf, key) at every level, in update[].
static mem_node_t *
find(const memstore_t *self, store_cf_t cf, const uint8_t *key, size_t key_len,
     mem_node_t **update)
{
    mem_node_t *node = self->head;
    for (int level = MEMSTORE_LEVELS_MAX - 1; level >= 0; level--) {
        while (node->next[level] && compare(node->next[level]->cf, node->next[level]->key,
                                            node->next[level]->key_len, cf, key, key_len) < 0)
            node = node->next[level];
        if (update)
            update[level] = node;
    }
    return node->next[0];
}

static mem_node_t *
find_exact(const memstore_t *self, store_cf_t cf, const uint8_t *key, size_t key_len,
           mem_node_t **update)
{
    mem_node_t *node = find(self, cf, key, key_len, update);
    if (node && compare(node->cf, node->key, node->key_len, cf, key, key_len) == 0)
        return node;
    return NULL;
}

static uint8_t *
copy_bytes(const uint8_t *bytes, size_t len)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (copy && len)
        memcpy(copy, bytes, len);
    return copy;
}

// True when (cf, key) belongs right after the finger node: then the finger is
// its predecessor at every level (nothing lies between them at level 0, so
// nothing at any level).
static bool
finger_fits(const memstore_t *self, store_cf_t cf, const uint8_t *key, size_t key_len)
{
    const mem_node_t *node = self->finger_node;
    if (!node || compare(node->cf, node->key, node->key_len, cf, key, key_len) >= 0)
        return false;
    const mem_node_t *next = node->next[0];
    if (next && compare(next->cf, next->key, next->key_len, cf, key, key_len) <= 0)
        return false;
    return self->finger_levels == MEMSTORE_LEVELS_MAX ||
           height_of(key, key_len) <= self->finger_levels;
}

// node becomes the finger; update[] holds its predecessors below levels (at least
// its height).
static void
finger_set(memstore_t *self, mem_node_t *node, mem_node_t *const *update, int levels,
           prefix_hint_t *hint)
{
    assert(levels >= node->height && levels <= MEMSTORE_LEVELS_MAX);
    for (int level = 0; level < levels; level++)
        self->finger[level] = level < node->height ? node : update[level];
    self->finger_node = node;
    self->finger_levels = levels;
    self->finger_hint = hint;
}

// True when (cf, key) has hint's prefix.
static bool
hint_covers(const prefix_hint_t *hint, store_cf_t cf, const uint8_t *key, size_t key_len)
{
    // The prefix ends at the key's first NUL: the bytes before it hold none.
    return cf == hint->cf && key_len >= hint->prefix_len &&
           memcmp(key, hint->prefix, hint->prefix_len) == 0;
}

static bool
indexed_cf(store_cf_t cf)
{
    return cf == STORE_CF_STATE || cf == STORE_CF_META;
}

static size_t
index_slot(const memstore_t *self, store_cf_t cf, const uint8_t *key, size_t key_len)
{
    return (size_t)key_hash(cf, key, key_len) & (self->index_cap - 1);
}

static mem_node_t *
index_get(const memstore_t *self, store_cf_t cf, const uint8_t *key, size_t key_len)
{
    if (self->index_cap == 0)
        return NULL;
    // Bounded: the table is at most half full, so an empty slot comes.
    for (size_t i = index_slot(self, cf, key, key_len);; i = (i + 1) & (self->index_cap - 1)) {
        mem_node_t *node = self->index[i];
        if (!node || compare(node->cf, node->key, node->key_len, cf, key, key_len) == 0)
            return node;
    }
}

static void
index_place(mem_node_t **index, size_t cap, mem_node_t *node)
{
    size_t i = (size_t)key_hash(node->cf, node->key, node->key_len) & (cap - 1);
    while (index[i])
        i = (i + 1) & (cap - 1);
    index[i] = node;
}

// 0 or -SM_ENOMEM (the node is then not indexed, and the store must not be used).
static int
index_put(memstore_t *self, mem_node_t *node)
{
    if (2 * (self->index_count + 1) > self->index_cap) {
        size_t cap = self->index_cap ? self->index_cap * 2 : 64;
        mem_node_t **grown = calloc(cap, sizeof *grown);
        if (!grown)
            return -SM_ENOMEM;
        for (size_t i = 0; i < self->index_cap; i++)
            if (self->index[i])
                index_place(grown, cap, self->index[i]);
        free(self->index);
        self->index = grown;
        self->index_cap = cap;
    }
    index_place(self->index, self->index_cap, node);
    self->index_count++;
    return 0;
}

// Removes node, shifting back the entries of its probe run (no tombstones).
static void
index_remove(memstore_t *self, const mem_node_t *node)
{
    if (self->index_cap == 0)
        return;
    size_t mask = self->index_cap - 1;
    size_t i = index_slot(self, node->cf, node->key, node->key_len);
    while (self->index[i] != node) { // bounded: an empty slot ends the run
        if (!self->index[i])
            return; // never indexed (index_put ran out of memory)
        i = (i + 1) & mask;
    }
    self->index[i] = NULL;
    self->index_count--;
    for (size_t j = (i + 1) & mask; self->index[j]; j = (j + 1) & mask) {
        mem_node_t *moved = self->index[j];
        size_t home = index_slot(self, moved->cf, moved->key, moved->key_len);
        // moved may fill the hole at i when its home is not in (i, j] cyclically
        bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            self->index[i] = moved;
            self->index[j] = NULL;
            i = j;
        }
    }
}

static int
compare_node(const mem_node_t *node, store_cf_t cf, const uint8_t *key, size_t key_len)
{
    return compare(node->cf, node->key, node->key_len, cf, key, key_len);
}

// The length of key's hinted prefix (through its first NUL), or 0: not hinted.
static size_t
hint_prefix_len(store_cf_t cf, const uint8_t *key, size_t key_len)
{
    if (cf != STORE_CF_LOG && cf != STORE_CF_SEAL)
        return 0;
    const uint8_t *nul = key_len ? memchr(key, 0, key_len) : NULL;
    return nul ? (size_t)(nul - key) + 1 : 0;
}

// The slot of (cf, prefix)'s hint, or the empty slot where it would go.
static size_t
hint_slot(const memstore_t *self, uint64_t hash, store_cf_t cf, const uint8_t *prefix,
          size_t prefix_len)
{
    assert(self->hints_cap > 0);
    size_t mask = self->hints_cap - 1;
    // Bounded: the table is at most half full, so an empty slot comes.
    for (size_t i = (size_t)hash & mask;; i = (i + 1) & mask) {
        const prefix_hint_t *hint = self->hints[i];
        if (!hint || (hint->hash == hash && hint->cf == cf && hint->prefix_len == prefix_len &&
                      memcmp(hint->prefix, prefix, prefix_len) == 0))
            return i;
    }
}

// The hint for key's prefix, or NULL.
static prefix_hint_t *
hint_get(const memstore_t *self, store_cf_t cf, const uint8_t *key, size_t key_len)
{
    size_t prefix_len = hint_prefix_len(cf, key, key_len);
    if (prefix_len == 0 || self->hints_count == 0)
        return NULL;
    uint64_t hash = key_hash(cf, key, prefix_len);
    return self->hints[hint_slot(self, hash, cf, key, prefix_len)];
}

// Doubles the table when one more entry would fill it past half. False when out of
// memory.
static bool
hints_reserve(memstore_t *self)
{
    if (2 * (self->hints_count + 1) <= self->hints_cap)
        return true;
    size_t cap = self->hints_cap ? self->hints_cap * 2 : 64;
    prefix_hint_t **grown = calloc(cap, sizeof *grown);
    if (!grown)
        return false;
    for (size_t i = 0; i < self->hints_cap; i++) {
        prefix_hint_t *hint = self->hints[i];
        if (!hint)
            continue;
        size_t j = (size_t)hint->hash & (cap - 1);
        while (grown[j]) // bounded: the new table is at most half full
            j = (j + 1) & (cap - 1);
        grown[j] = hint;
    }
    free(self->hints);
    self->hints = grown;
    self->hints_cap = cap;
    return true;
}

// A new, empty hint for (cf, prefix), or NULL when out of memory or at the limit.
static prefix_hint_t *
hint_add(memstore_t *self, uint64_t hash, store_cf_t cf, const uint8_t *prefix, size_t prefix_len)
{
    if (self->hints_count >= MEMSTORE_HINTS_MAX || !hints_reserve(self))
        return NULL;
    prefix_hint_t *hint = calloc(1, sizeof *hint + prefix_len);
    if (!hint)
        return NULL;
    *hint = (prefix_hint_t){.hash = hash, .cf = cf, .prefix_len = prefix_len};
    memcpy(hint->prefix, prefix, prefix_len);
    self->hints[hint_slot(self, hash, cf, prefix, prefix_len)] = hint;
    self->hints_count++;
    return hint;
}

// Remembers node, just inserted, as the latest of its prefix in hint (NULL: look it up,
// or add it), and returns that hint. Without memory for a new hint it is not
// remembered (NULL): the prefix's keys are then found by searches from the head.
static prefix_hint_t *
hint_note(memstore_t *self, prefix_hint_t *hint, mem_node_t *node)
{
    if (!hint) {
        size_t prefix_len = hint_prefix_len(node->cf, node->key, node->key_len);
        if (prefix_len == 0)
            return NULL;
        hint = hint_get(self, node->cf, node->key, node->key_len);
        if (!hint)
            hint = hint_add(self, key_hash(node->cf, node->key, prefix_len), node->cf,
                            node->key, prefix_len);
        if (!hint)
            return NULL;
    }
    for (int level = 0; level < MEMSTORE_HINT_LEVELS && level < node->height; level++) {
        mem_node_t **latest = hint->last[level];
        memmove(latest + 1, latest, (MEMSTORE_HINT_DEPTH - 1) * sizeof *latest);
        latest[0] = node;
    }
    return hint;
}

// Empties slot i, shifting back the entries of its probe run (no tombstones).
static void
hints_remove_slot(memstore_t *self, size_t i)
{
    size_t mask = self->hints_cap - 1;
    self->hints[i] = NULL;
    self->hints_count--;
    for (size_t j = (i + 1) & mask; self->hints[j]; j = (j + 1) & mask) {
        size_t home = (size_t)self->hints[j]->hash & mask;
        // the entry at j may fill the hole at i when its home is not in (i, j] cyclically
        bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            self->hints[i] = self->hints[j];
            self->hints[j] = NULL;
            i = j;
        }
    }
}

// Forgets node, about to be freed, wherever its prefix's hint holds it.
static void
hint_forget(memstore_t *self, const mem_node_t *node)
{
    size_t prefix_len = hint_prefix_len(node->cf, node->key, node->key_len);
    if (prefix_len == 0 || self->hints_count == 0)
        return;
    uint64_t hash = key_hash(node->cf, node->key, prefix_len);
    size_t i = hint_slot(self, hash, node->cf, node->key, prefix_len);
    prefix_hint_t *hint = self->hints[i];
    if (!hint)
        return;
    bool held = false;
    for (int level = 0; level < MEMSTORE_HINT_LEVELS; level++) {
        for (int j = 0; j < MEMSTORE_HINT_DEPTH; j++) {
            if (hint->last[level][j] == node)
                hint->last[level][j] = NULL;
            held = held || hint->last[level][j];
        }
    }
    if (held)
        return;
    hints_remove_slot(self, i);
    free(hint);
}

static void
hints_free(memstore_t *self)
{
    for (size_t i = 0; i < self->hints_cap; i++)
        free(self->hints[i]);
    free(self->hints);
}

// A node of hint below (cf, key) that is at least levels tall, or NULL. The first
// found is taken: the lowest level's latest nodes are the nearest when inserts come
// in key order, as an origin's do.
static mem_node_t *
hint_start(const prefix_hint_t *hint, int levels, store_cf_t cf, const uint8_t *key, size_t key_len)
{
    for (int level = levels - 1; level < MEMSTORE_HINT_LEVELS; level++) {
        for (int i = 0; i < MEMSTORE_HINT_DEPTH; i++) {
            mem_node_t *node = hint->last[level][i];
            if (node && compare_node(node, cf, key, key_len) < 0)
                return node;
        }
    }
    return NULL;
}

// Searches for (cf, key) from a node of its prefix's hint instead of from the head:
// *found is the first node at or after it, and update[0..levels-1] (when not NULL)
// its predecessors. False when no hinted node that tall lies below the key, or the
// key lies too far beyond it: then a search from the head must do.
static bool
hint_search(const prefix_hint_t *hint, int levels, store_cf_t cf, const uint8_t *key,
            size_t key_len, mem_node_t **update, mem_node_t **found)
{
    if (levels > MEMSTORE_HINT_LEVELS)
        return false;
    mem_node_t *node = hint_start(hint, levels, cf, key, key_len);
    if (!node)
        return false;
    // node is below the key and has every level walked: each level's predecessor is
    // at or after it, as in a search from the head.
    int top = node->height < MEMSTORE_HINT_LEVELS ? node->height : MEMSTORE_HINT_LEVELS;
    int steps = 0;
    for (int level = top - 1; level >= 0; level--) {
        while (node->next[level] && compare_node(node->next[level], cf, key, key_len) < 0) {
            if (++steps > MEMSTORE_HINT_STEPS_MAX)
                return false;
            node = node->next[level];
        }
        if (update && level < levels)
            update[level] = node;
    }
    *found = node->next[0];
    return true;
}

// The first node at or after (cf, key), or NULL: from key's prefix hint when that
// shows the place, else by a search.
static mem_node_t *
seek(const memstore_t *self, store_cf_t cf, const uint8_t *key, size_t key_len)
{
    const prefix_hint_t *hint = hint_get(self, cf, key, key_len);
    mem_node_t *node = NULL;
    if (hint && hint_search(hint, 1, cf, key, key_len, NULL, &node))
        return node;
    return find(self, cf, key, key_len, NULL);
}

// (cf, key)'s node, or NULL.
static mem_node_t *
lookup(const memstore_t *self, store_cf_t cf, const uint8_t *key, size_t key_len)
{
    mem_node_t *node = seek(self, cf, key, key_len);
    return node && compare_node(node, cf, key, key_len) == 0 ? node : NULL;
}

static int set_value_at(memstore_t *self, mem_node_t *node, mem_node_t **update, store_cf_t cf,
                        const uint8_t *key, size_t key_len, const uint8_t *value,
                        size_t value_len);

// Removes (cf, key) if it is held (a power loss undoing its insert). Never allocates.
static void
remove_key(memstore_t *self, store_cf_t cf, const uint8_t *key, size_t key_len)
{
    mem_node_t *update[MEMSTORE_LEVELS_MAX];
    mem_node_t *node = find_exact(self, cf, key, key_len, update);
    if (!node)
        return;
    for (int level = 0; level < node->height; level++)
        update[level]->next[level] = node->next[level];
    self->finger_node = NULL; // it may have been the finger, or one of its levels
    self->finger_hint = NULL;  // hint_forget may free it
    if (indexed_cf(cf))
        index_remove(self, node);
    hint_forget(self, node);
    node_free(self, node);
}

// Links a new node for (cf, key) after update[] (its predecessors below levels, at
// least its height), then remembers it as the finger, in its prefix's hint (NULL:
// looked up) and in the index. 0 or -SM_ENOMEM.
static int
insert_node(memstore_t *self, mem_node_t **update, int levels, prefix_hint_t *hint, store_cf_t cf,
            const uint8_t *key, size_t key_len, const uint8_t *value, size_t value_len)
{
    int rc = set_value_at(self, NULL, update, cf, key, key_len, value, value_len);
    if (rc)
        return rc;
    mem_node_t *node = update[0]->next[0]; // the node inserted follows its predecessor
    hint = hint_note(self, hint, node);
    finger_set(self, node, update, levels, hint);
    return indexed_cf(cf) ? index_put(self, node) : 0;
}

// Sets (cf, key) to value (NULL value: removes it). 0 or -SM_ENOMEM.
static int
set_value(memstore_t *self, store_cf_t cf, const uint8_t *key, size_t key_len,
          const uint8_t *value, size_t value_len)
{
    if (!value) {
        remove_key(self, cf, key, key_len);
        return 0;
    }
    mem_node_t *node = indexed_cf(cf) ? index_get(self, cf, key, key_len) : NULL;
    if (node) // an overwrite in place: the skip list does not change
        return set_value_at(self, node, NULL, cf, key, key_len, value, value_len);
    mem_node_t *update[MEMSTORE_LEVELS_MAX];
    if (finger_fits(self, cf, key, key_len)) {
        memcpy(update, self->finger, (size_t)self->finger_levels * sizeof *update);
        // The finger's hint, when the key has its prefix (the next operation of the
        // same origin): hint_note need not look it up.
        prefix_hint_t *hint = self->finger_hint;
        if (hint && !hint_covers(hint, cf, key, key_len))
            hint = NULL;
        return insert_node(self, update, self->finger_levels, hint, cf, key, key_len, value,
                           value_len);
    }
    prefix_hint_t *hint = hint_get(self, cf, key, key_len);
    int height = height_of(key, key_len);
    if (hint && hint_search(hint, height, cf, key, key_len, update, &node)) {
        if (node && compare_node(node, cf, key, key_len) == 0) // an overwrite: nothing moves
            return set_value_at(self, node, NULL, cf, key, key_len, value, value_len);
        return insert_node(self, update, height, hint, cf, key, key_len, value, value_len);
    }
    node = find_exact(self, cf, key, key_len, update);
    if (!node)
        return insert_node(self, update, MEMSTORE_LEVELS_MAX, hint, cf, key, key_len, value,
                           value_len);
    int rc = set_value_at(self, node, update, cf, key, key_len, value, value_len);
    if (rc == 0)
        finger_set(self, node, update, MEMSTORE_LEVELS_MAX, NULL);
    return rc;
}

// set_value for a value: node is (cf, key)'s node or NULL, update its predecessors.
static int
set_value_at(memstore_t *self, mem_node_t *node, mem_node_t **update, store_cf_t cf,
             const uint8_t *key, size_t key_len, const uint8_t *value, size_t value_len)
{
    if (!value)
        return 0;
    if (pooled_cf(self, cf)) {
        blob_t *blob = pool_take(self->pool, cf, key, key_len, value, value_len);
        if (!blob)
            return -SM_ENOMEM;
        if (node) { // an overwrite: the node now points into the new blob
            if (node->blob)
                pool_release(self->pool, node->blob);
            else {
                free(node->key);
                free(node->value);
            }
        } else {
            int height = height_of(key, key_len);
            // Not zeroed: every field is set here and below (zeroing a million new
            // nodes was 1% of a 200-node run's instructions).
            node = malloc(sizeof *node + (size_t)height * sizeof(mem_node_t *));
            if (!node) {
                pool_release(self->pool, blob);
                return -SM_ENOMEM;
            }
            node->cf = cf;
            node->height = height;
            for (int level = 0; level < height; level++) {
                node->next[level] = update[level]->next[level];
                update[level]->next[level] = node;
            }
        }
        node->blob = blob;
        node->key = blob->bytes;
        node->key_len = key_len;
        node->value = blob->bytes + key_len;
        node->value_len = value_len;
        return 0;
    }
    if (node && value_len == node->value_len) {
        // The same size (a head record, a version-vector entry, a counter whose
        // origins did not change): overwritten in place. A malloc, and a free of a
        // block written long ago (a cache miss), were 3% of chain-200's wall time.
        memmove(node->value, value, value_len);
        return 0;
    }
    uint8_t *copy = copy_bytes(value, value_len);
    if (!copy)
        return -SM_ENOMEM;
    if (node) {
        free(node->value);
        node->value = copy;
        node->value_len = value_len;
        return 0;
    }
    int height = height_of(key, key_len);
    node = malloc(sizeof *node + (size_t)height * sizeof(mem_node_t *)); // all set below
    uint8_t *key_copy = node ? copy_bytes(key, key_len) : NULL;
    if (!key_copy) {
        free(node);
        free(copy);
        return -SM_ENOMEM;
    }
    *node = (mem_node_t){.cf = cf, .key = key_copy, .key_len = key_len, .value = copy,
                         .value_len = value_len, .height = height};
    for (int level = 0; level < height; level++) {
        node->next[level] = update[level]->next[level];
        update[level]->next[level] = node;
    }
    return 0;
}

static int
record_undo(unsynced_batch_t *batch, const memstore_t *self, const store_batch_t *writes,
            const store_put_t *put)
{
    const uint8_t *key = store_put_key(writes, put);
    undo_t *undo = &batch->undo[batch->count];
    const mem_node_t *old = lookup(self, put->cf, key, put->key_len);
    *undo = (undo_t){.cf = put->cf, .key_len = put->key_len, .existed = old != NULL};
    undo->key = copy_bytes(key, put->key_len);
    if (old)
        undo->old_value = copy_bytes(old->value, old->value_len);
    undo->old_value_len = old ? old->value_len : 0;
    if (!undo->key || (old && !undo->old_value)) {
        free(undo->key);
        free(undo->old_value);
        return -SM_ENOMEM;
    }
    batch->count++;
    return 0;
}

// Puts undo entries back newest first: the state before the batch.
static void
undo_batch(memstore_t *self, unsynced_batch_t *batch)
{
    for (size_t i = batch->count; i > 0; i--) {
        const undo_t *undo = &batch->undo[i - 1];
        int rc = set_value(self, undo->cf, undo->key, undo->key_len,
                           undo->existed ? undo->old_value : NULL, undo->old_value_len);
        assert(rc == 0 || undo->existed); // removal never allocates
        (void)rc;
    }
}

int
memstore_write(memstore_t *self, const store_batch_t *batch, bool sync)
{
    if (self->fail_count > 0) {
        self->fail_count--;
        return self->fail_rc;
    }
    if (sync && self->unsynced_count == 0) {
        // Durable at once, with nothing unsynced before it: no undo records. Out of
        // memory half way leaves the store unusable (every later call fails), never
        // half written in a way anyone reads as valid.
        for (size_t i = 0; i < batch->count; i++) {
            const store_put_t *put = &batch->puts[i];
            int rc = set_value(self, put->cf, store_put_key(batch, put), put->key_len,
                               store_put_value(batch, put), put->value_len);
            if (rc) {
                self->fail_count = SIZE_MAX;
                self->fail_rc = rc;
                return rc;
            }
        }
        return 0;
    }
    // Every write is undoable until synced: a failure half way (out of memory) is
    // undone too, so a batch is never half applied.
    if (self->unsynced_count == self->unsynced_cap) {
        size_t cap = self->unsynced_cap ? self->unsynced_cap * 2 : 16;
        unsynced_batch_t *grown = realloc(self->unsynced, cap * sizeof *grown);
        if (!grown)
            return -SM_ENOMEM;
        self->unsynced = grown;
        self->unsynced_cap = cap;
    }
    unsynced_batch_t *record = &self->unsynced[self->unsynced_count];
    record->count = 0;
    record->undo = calloc(batch->count ? batch->count : 1, sizeof *record->undo);
    if (!record->undo)
        return -SM_ENOMEM;
    self->unsynced_count++;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < batch->count; i++) {
        const store_put_t *put = &batch->puts[i];
        rc = record_undo(record, self, batch, put);
        if (rc == 0)
            rc = set_value(self, put->cf, store_put_key(batch, put), put->key_len,
                           store_put_value(batch, put), put->value_len);
    }
    if (rc) {
        undo_batch(self, record);
        drop_unsynced(self, self->unsynced_count - 1);
        return rc;
    }
    if (sync)
        memstore_sync(self);
    return 0;
}

void
memstore_sync(memstore_t *self)
{
    drop_unsynced(self, 0);
}

size_t
memstore_crash(memstore_t *self, size_t keep_unsynced)
{
    size_t lost = 0;
    // Bounded by the unsynced batches held.
    while (self->unsynced_count > keep_unsynced) {
        undo_batch(self, &self->unsynced[self->unsynced_count - 1]);
        drop_unsynced(self, self->unsynced_count - 1);
        lost++;
    }
    drop_unsynced(self, 0); // what survived is on disk now
    return lost;
}

void
memstore_fail_next(memstore_t *self, size_t count, int rc)
{
    assert(rc < 0);
    self->fail_count = count;
    self->fail_rc = rc;
}

size_t
memstore_unsynced_count(const memstore_t *self)
{
    return self->unsynced_count;
}

// Each level holds, in ascending key order, exactly the nodes of the level below that
// are tall enough for it; each node's height is its key's.
static bool
levels_consistent(const memstore_t *self)
{
    const mem_node_t *last[MEMSTORE_LEVELS_MAX];
    for (int level = 0; level < MEMSTORE_LEVELS_MAX; level++)
        last[level] = self->head;
    for (const mem_node_t *node = self->head->next[0]; node; node = node->next[0]) {
        if (node->height != height_of(node->key, node->key_len))
            return false;
        if (last[0] != self->head && compare_node(last[0], node->cf, node->key, node->key_len) >= 0)
            return false;
        for (int level = 0; level < node->height; level++) {
            if (last[level]->next[level] != node)
                return false;
            last[level] = node;
        }
    }
    for (int level = 0; level < MEMSTORE_LEVELS_MAX; level++)
        if (last[level]->next[level])
            return false;
    return true;
}

// The finger, when set, is a node held, its predecessor at each level it covers
// (at least its height), and its prefix's hint when it names one.
static bool
finger_consistent(const memstore_t *self)
{
    const mem_node_t *node = self->finger_node;
    if (!node)
        return true;
    if (self->finger_levels < node->height || self->finger_levels > MEMSTORE_LEVELS_MAX)
        return false;
    mem_node_t *update[MEMSTORE_LEVELS_MAX];
    if (find_exact(self, node->cf, node->key, node->key_len, update) != node)
        return false;
    for (int level = 0; level < self->finger_levels; level++)
        if (self->finger[level] != (level < node->height ? node : update[level]))
            return false;
    return !self->finger_hint ||
           self->finger_hint == hint_get(self, node->cf, node->key, node->key_len);
}

// The index holds every state and meta node and nothing else.
static bool
index_consistent(const memstore_t *self)
{
    size_t indexed = 0;
    for (const mem_node_t *node = self->head->next[0]; node; node = node->next[0]) {
        if (!indexed_cf(node->cf))
            continue;
        indexed++;
        if (index_get(self, node->cf, node->key, node->key_len) != node)
            return false;
    }
    size_t used = 0;
    for (size_t i = 0; i < self->index_cap; i++)
        used += self->index[i] != NULL;
    return used == indexed && used == self->index_count;
}

// node is held, has hint's prefix and is tall enough for level.
static bool
hint_holds(const memstore_t *self, const prefix_hint_t *hint, int level, const mem_node_t *node)
{
    return find_exact(self, node->cf, node->key, node->key_len, NULL) == node &&
           node->height > level && node->cf == hint->cf &&
           hint_prefix_len(node->cf, node->key, node->key_len) == hint->prefix_len &&
           memcmp(node->key, hint->prefix, hint->prefix_len) == 0;
}

// Every hint is found at its prefix, holds at least one node, and only nodes held
// that have its prefix and are tall enough for the level it holds them at.
static bool
hints_consistent(const memstore_t *self)
{
    size_t used = 0;
    for (size_t i = 0; i < self->hints_cap; i++) {
        const prefix_hint_t *hint = self->hints[i];
        if (!hint)
            continue;
        used++;
        if (hint->hash != key_hash(hint->cf, hint->prefix, hint->prefix_len) ||
            hint_slot(self, hint->hash, hint->cf, hint->prefix, hint->prefix_len) != i)
            return false;
        size_t held = 0;
        for (int level = 0; level < MEMSTORE_HINT_LEVELS; level++) {
            for (int j = 0; j < MEMSTORE_HINT_DEPTH; j++) {
                const mem_node_t *node = hint->last[level][j];
                if (!node)
                    continue;
                held++;
                if (!hint_holds(self, hint, level, node))
                    return false;
            }
        }
        if (held == 0)
            return false;
    }
    return used == self->hints_count && used <= MEMSTORE_HINTS_MAX;
}

bool
memstore_is_consistent(const memstore_t *self)
{
    return levels_consistent(self) && finger_consistent(self) && index_consistent(self) &&
           hints_consistent(self);
}

static int
mem_get(void *ctx, store_cf_t cf, const uint8_t *key, size_t key_len, uint8_t **value,
        size_t *value_len)
{
    const mem_node_t *node =
        indexed_cf(cf) ? index_get(ctx, cf, key, key_len) : lookup(ctx, cf, key, key_len);
    if (!node)
        return -SM_ENOTFOUND;
    *value = copy_bytes(node->value, node->value_len);
    if (!*value)
        return -SM_ENOMEM;
    *value_len = node->value_len;
    return 0;
}

static int
mem_scan(void *ctx, store_cf_t cf, const uint8_t *prefix, size_t prefix_len,
         const uint8_t *start_key, size_t start_key_len, store_scan_fn fn, void *arg)
{
    const memstore_t *self = ctx;
    const mem_node_t *node =
        start_key ? seek(self, cf, start_key, start_key_len) : seek(self, cf, prefix, prefix_len);
    for (; node && node->cf == cf; node = node->next[0]) {
        if (node->key_len < prefix_len || (prefix_len && memcmp(node->key, prefix, prefix_len)))
            break;
        if (fn(arg, node->key, node->key_len, node->value, node->value_len))
            break;
    }
    return 0;
}

store_reader_t
memstore_reader(memstore_t *self)
{
    return (store_reader_t){.get = mem_get, .scan = mem_scan, .ctx = self};
}
