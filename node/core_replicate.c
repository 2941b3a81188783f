// core_replicate: anti-entropy between peers, as events in and effects out. On a
// timer and on connect each side says what it holds (Hello: a version vector);
// each streams what the other lacks in batches that end at a sealed chain head
// (OpsBatch), within the credit the receiver granted; the receiver verifies the
// seal's Ed25519 signature and every hash link against the origin's public key,
// over the exact bytes the origin signed, before anything is applied, writes them
// with their state changes in a group-commit batch, and answers with an Ack once
// they are on disk. docs/PROTOCOL.md is the wire description.
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_internal.h"
#include "keys.h"
#include "op_pack.h"
#include "peer_pack.h"
#include "sm_string.h"
#include "sm_error.h"
#include "storemesh.pb-c.h"

// Largest OpsBatch in operations we accept: a batch ends at its seal, which an origin
// of this build writes every CORE_SEAL_OPS_MAX operations at most; earlier builds
// sealed whole group commits of up to 10,000 commands (node.yaml batch_commands_max).
#define CORE_OPS_BATCH_MAX 10000
// Other origins' operations staged and not yet written; above it, incoming
// batches are dropped and sent again after the next Hello.
#define CORE_STAGED_REMOTE_MAX 40000
// A peer's Hello shows it ahead on an origin we took operations of within this
// long: the rest may still be on its way to us, so we graft only if it has not
// come by the peer's next Hello.
#define CORE_GRAFT_GRACE_MS 2000

// ---- version vectors ----

// 32 bytes: vectors of hundreds of origins are walked and copied on every Hello,
// so the name is the core's interned copy (name_pool.h) and the digest's
// per-entry hashes sit apart, only in the vectors that are digested.
typedef struct {
    name_key_t key;     // name_key(origin)
    const char *origin; // in the core's name pool
    uint64_t seq;
} vv_entry_t;

typedef struct {
    uint64_t hashed_seq; // the seq hash is of (0: none; the entry is not in the sum)
    uint64_t hash[4];    // entry_hash(origin, hashed_seq)
} vv_hash_t;

// Entries changed since the last digest, by name, beyond which a digest walks them all.
#define VV_DIRTY_MAX 32
// Raises a change log remembers (a power of two), beyond which a Hello walks the
// whole vector.
#define VV_CHANGES_MAX 256

// The names of the last VV_CHANGES_MAX raises of a vector, the raise that made its
// changes count c at name[c % VV_CHANGES_MAX]. Kept for the authority's vector
// only: each Hello to each peer names the entries that rose since the last one to
// it, and a cloud walked all 201 of them for each of its 200 peers to find them.
typedef struct {
    const char *name[VV_CHANGES_MAX]; // in the core's name pool
    uint64_t floor; // changes counts at or below this have no record (a clear or a copy)
} vv_change_log_t;

struct core_vv {
    name_pool_t *names;  // the core's: where entries' names live
    vv_entry_t *entries; // sorted by origin
    vv_hash_t *hashes;   // NULL, or cap of them beside entries (vv_digest makes them)
    // With hashes: the names of the entries added or changed since the last digest
    // (what it must hash again), or VV_DIRTY_MAX + 1 when there were more. A
    // digest of a 200-origin vector after a Hello that raised a few entries walked
    // all 200 for them (3% of chain-200).
    const char *dirty[VV_DIRTY_MAX];
    size_t dirty_count;
    size_t count;
    size_t cap;
    uint64_t changes;        // bumped by every raise that changed something
    bool digest_valid;       // digest is vv_digest's answer at digest_changes
    uint64_t sum[4];         // of the hashes of the entries with hashed_seq > 0
    uint64_t digest_changes;
    uint8_t digest[CORE_HASH_BYTES];
    vv_change_log_t *log; // NULL: not kept (vv_keep_log)
};

static struct core_vv *
vv_new(name_pool_t *names)
{
    struct core_vv *vv = calloc(1, sizeof(struct core_vv));
    if (vv)
        vv->names = names;
    return vv;
}

static void
vv_free(struct core_vv *vv)
{
    if (vv) {
        free(vv->entries);
        free(vv->hashes);
        free(vv->log);
    }
    free(vv);
}

// Starts vv's change log. 0 or -SM_ENOMEM.
static int
vv_keep_log(struct core_vv *vv)
{
    if (vv->log)
        return 0;
    vv->log = calloc(1, sizeof *vv->log);
    if (!vv->log)
        return -SM_ENOMEM;
    vv->log->floor = vv->changes;
    return 0;
}

// vv->changes was bumped by a raise of the entry named name (the pool's copy).
static void
vv_log_change(struct core_vv *vv, const char *name)
{
    if (vv->log)
        vv->log->name[vv->changes % VV_CHANGES_MAX] = name;
}

// True when vv's change log names every raise after its changes count was since:
// the names at changes since + 1 .. vv->changes are log->name[c % VV_CHANGES_MAX].
static bool
vv_log_reaches(const struct core_vv *vv, uint64_t since)
{
    return vv->log && since >= vv->log->floor && since <= vv->changes &&
           vv->changes - since <= VV_CHANGES_MAX;
}

// vv->changes was bumped by something that is no single raise: no record reaches
// back past it.
static void
vv_log_gap(struct core_vv *vv)
{
    if (vv->log)
        vv->log->floor = vv->changes;
}

// Notes that the entry named origin (the pool's copy) changed since the last digest.
static void
vv_mark_dirty(struct core_vv *vv, const char *origin)
{
    if (!vv->hashes || vv->dirty_count > VV_DIRTY_MAX)
        return; // the next digest walks every entry anyway
    if (vv->dirty_count == VV_DIRTY_MAX)
        vv->dirty_count = VV_DIRTY_MAX + 1;
    else
        vv->dirty[vv->dirty_count++] = origin;
}

// Room for cap entries (and their hashes when vv keeps them). 0 or -SM_ENOMEM.
static int
vv_reserve(struct core_vv *vv, size_t cap)
{
    if (vv->cap >= cap)
        return 0;
    vv_entry_t *grown = realloc(vv->entries, cap * sizeof *grown);
    if (!grown)
        return -SM_ENOMEM;
    vv->entries = grown;
    if (vv->hashes) {
        vv_hash_t *hashes = realloc(vv->hashes, cap * sizeof *hashes);
        if (!hashes)
            return -SM_ENOMEM; // entries grew, cap did not: still consistent
        vv->hashes = hashes;
    }
    vv->cap = cap;
    return 0;
}

// strcmp's sign for the entry's name against (key, name).
static int
entry_order(const vv_entry_t *entry, name_key_t key, const char *name)
{
    return name_key_order(entry->key, entry->origin, key, name);
}

static size_t
vv_lower_bound_keyed(const struct core_vv *vv, name_key_t key, const char *origin)
{
    size_t low = 0;
    size_t high = vv->count;
    while (low < high) {
        size_t mid = low + (high - low) / 2;
        if (entry_order(&vv->entries[mid], key, origin) < 0)
            low = mid + 1;
        else
            high = mid;
    }
    return low;
}

static size_t
vv_lower_bound(const struct core_vv *vv, const char *origin)
{
    return vv_lower_bound_keyed(vv, name_key(origin), origin);
}

static uint64_t
vv_get(const struct core_vv *vv, const char *origin)
{
    name_key_t key = name_key(origin);
    size_t index = vv_lower_bound_keyed(vv, key, origin);
    if (index < vv->count && entry_order(&vv->entries[index], key, origin) == 0)
        return vv->entries[index].seq;
    return 0;
}

// Where origin is or belongs in vv: *hint when that is the place (a sorted list of
// raises walks along vv with one or two compares each), else a binary search.
static size_t
vv_position(const struct core_vv *vv, name_key_t key, const char *origin, size_t hint)
{
    if (hint <= vv->count) {
        int at = hint < vv->count ? entry_order(&vv->entries[hint], key, origin) : 1;
        if (at >= 0 && (hint == 0 || entry_order(&vv->entries[hint - 1], key, origin) < 0))
            return hint;
    }
    return vv_lower_bound_keyed(vv, key, origin);
}

// vv_get, looking at hint first (vv_position).
static uint64_t
vv_get_at(const struct core_vv *vv, name_key_t key, const char *origin, size_t hint)
{
    size_t index = vv_position(vv, key, origin, hint);
    if (index < vv->count && entry_order(&vv->entries[index], key, origin) == 0)
        return vv->entries[index].seq;
    return 0;
}

// Raises origin to at least seq; *hint (may be NULL) is where to look first and is
// left just after origin's entry. 0, -SM_EFULL (more origins than any mesh has),
// -SM_ENOMEM, -SM_EINVAL (a name that is not a node name).
static int
vv_raise_hinted(struct core_vv *vv, const char *origin, uint64_t seq, size_t *hint)
{
    // Version vectors travel sorted, so most new entries go at the end.
    name_key_t key = name_key(origin);
    size_t index = vv_position(vv, key, origin, hint ? *hint : vv->count);
    if (index < vv->count && entry_order(&vv->entries[index], key, origin) == 0) {
        if (seq > vv->entries[index].seq) {
            vv->entries[index].seq = seq;
            vv->changes++;
            vv_mark_dirty(vv, vv->entries[index].origin);
            vv_log_change(vv, vv->entries[index].origin);
        }
        if (hint)
            *hint = index + 1;
        return 0;
    }
    size_t len = strlen(origin);
    if (len == 0 || len > CRDT_NAME_MAX)
        return -SM_EINVAL;
    if (vv->count >= CORE_ORIGINS_MAX + 1)
        return -SM_EFULL;
    if (vv->count == vv->cap && vv_reserve(vv, vv->cap ? vv->cap * 2 : 16))
        return -SM_ENOMEM;
    const char *name = name_pool_intern(vv->names, origin);
    if (!name)
        return -SM_EFULL; // NAME_POOL_MAX names met, or out of memory
    memmove(&vv->entries[index + 1], &vv->entries[index],
            (vv->count - index) * sizeof *vv->entries);
    if (vv->hashes) {
        memmove(&vv->hashes[index + 1], &vv->hashes[index],
                (vv->count - index) * sizeof *vv->hashes);
        vv->hashes[index] = (vv_hash_t){0};
    }
    vv->count++;
    vv->entries[index] = (vv_entry_t){.key = key, .origin = name, .seq = seq};
    vv->changes++;
    vv_mark_dirty(vv, name);
    vv_log_change(vv, name);
    if (hint)
        *hint = index + 1;
    return 0;
}

static int
vv_raise(struct core_vv *vv, const char *origin, uint64_t seq)
{
    return vv_raise_hinted(vv, origin, seq, NULL);
}

static void sum_sub(uint64_t sum[4], const uint64_t sub[4]);

// Empties vv, keeping its arrays (each entry added later clears its own hash).
static void
vv_clear(struct core_vv *vv)
{
    vv->count = 0;
    memset(vv->sum, 0, sizeof vv->sum);
    vv->dirty_count = 0; // what is added next marks itself
    vv->digest_valid = false;
    vv->changes++;
    vv_log_gap(vv);
}

// Takes origin's entry out of vv (used as a set of names, not as a version vector).
static void
vv_remove(struct core_vv *vv, const char *origin)
{
    size_t index = vv_lower_bound(vv, origin);
    if (index >= vv->count || strcmp(vv->entries[index].origin, origin) != 0)
        return;
    if (vv->hashes) {
        if (vv->hashes[index].hashed_seq)
            sum_sub(vv->sum, vv->hashes[index].hash);
        memmove(&vv->hashes[index], &vv->hashes[index + 1],
                (vv->count - index - 1) * sizeof *vv->hashes);
    }
    memmove(&vv->entries[index], &vv->entries[index + 1],
            (vv->count - index - 1) * sizeof *vv->entries);
    vv->count--;
    vv->changes++;
    vv_log_gap(vv);
}

static int vv_copy_into(struct core_vv *dst, const struct core_vv *src, bool with_hashes);

// A copy of vv (its changes count carries on, so caches keyed on it stay honest).
// NULL when out of memory.
static struct core_vv *
vv_copy(const struct core_vv *vv)
{
    struct core_vv *copy = vv_new(vv->names);
    if (copy && vv_copy_into(copy, vv, true) != 0)
        vv_free(copy), copy = NULL;
    return copy;
}

// An empty version vector, with the entries array of the one kept in slot when
// there is one: graft_behind builds two for every Hello taken (slots 0 and 1) and
// on_have rebuilds a peer's stream position (slot 2); a calloc, the reallocs as
// they grew and a free each showed in the simulator's profile.
static struct core_vv *
vv_take_spare(core_t *self, int slot)
{
    struct core_vv *vv = self->vv_spare[slot];
    self->vv_spare[slot] = NULL;
    if (!vv)
        return vv_new(self->names);
    vv_entry_t *entries = vv->entries;
    vv_hash_t *hashes = vv->hashes;
    size_t cap = vv->cap;
    free(vv->log);
    memset(vv, 0, sizeof *vv); // as vv_new makes it
    vv->names = self->names;
    vv->entries = entries;
    vv->hashes = hashes; // each raise that adds an entry clears its hash
    vv->cap = cap;
    return vv;
}

static void
vv_give_spare(core_t *self, int slot, struct core_vv *vv)
{
    if (self->vv_spare[slot] || !vv)
        vv_free(vv);
    else
        self->vv_spare[slot] = vv;
}

// dst (from vv_take_spare) becomes what vv_copy(src) would return, with room for
// as many entries again: the copy is raised by the batches in flight and then by
// the stream, and an exact-size copy was reallocated (copied again) at once.
// Without with_hashes the copy keeps no entry hashes (its first digest, if it ever
// has one, hashes every entry): a stream position is never digested, and copying
// the hashes of a 200-origin vector at every Hello was more than half the bytes.
static int
vv_copy_into(struct core_vv *dst, const struct core_vv *src, bool with_hashes)
{
    assert(dst->names == src->names); // one core's vectors
    if (!src->hashes || !with_hashes) { // no hashes in the copy: its sum is zero
        free(dst->hashes);
        dst->hashes = NULL;
    }
    if (dst->cap < src->count + 1 && vv_reserve(dst, src->count < 8 ? 16 : 2 * src->count))
        return -SM_ENOMEM;
    if (src->hashes && with_hashes && !dst->hashes) {
        dst->hashes = malloc(dst->cap * sizeof *dst->hashes);
        if (!dst->hashes)
            return -SM_ENOMEM;
    }
    if (src->count) {
        memcpy(dst->entries, src->entries, src->count * sizeof *dst->entries);
        if (dst->hashes)
            memcpy(dst->hashes, src->hashes, src->count * sizeof *dst->hashes);
    }
    dst->count = src->count;
    dst->changes = src->changes + 1;
    vv_log_gap(dst);
    if (dst->hashes) { // with the entries' hashes it holds
        memcpy(dst->dirty, src->dirty, sizeof dst->dirty);
        dst->dirty_count = src->dirty_count;
        memcpy(dst->sum, src->sum, sizeof dst->sum);
    } else {
        dst->dirty_count = 0;
        memset(dst->sum, 0, sizeof dst->sum);
    }
    return 0;
}

static int
vv_raise_from_proto(struct core_vv *vv, Storemesh__VvEntry *const *entries, size_t count)
{
    if (count > CORE_ORIGINS_MAX + 1)
        return -SM_EFULL;
    // An empty vector built from a full Hello takes room for them all at once: it
    // grew 16, 32, ... 256, copied at each step (1% of chain-200). A vector that
    // holds entries already grows by doubling as it did (most of a Hello's entries
    // are there: reserving for all of them again cost chain-200 70 MB).
    if (vv->count == 0 && vv->cap < count && vv_reserve(vv, count))
        return -SM_ENOMEM;
    size_t hint = 0; // entries come sorted by origin (any order is still taken)
    for (size_t i = 0; i < count; i++) {
        if (!entries[i] || !entries[i]->origin)
            return -SM_ECORRUPT;
        int rc = vv_raise_hinted(vv, entries[i]->origin, entries[i]->seq, &hint);
        if (rc)
            return rc;
    }
    return 0;
}

// ---- what this node holds ----

// What we hold of origin: on disk, or (staged) with the writes not yet on disk
// included, which is what an incoming batch is checked against.
static uint64_t
origin_seq(const core_t *self, const char *origin, bool staged)
{
    if (strcmp(origin, self->name) == 0)
        return self->durable.last_seq;
    const core_origin_t *found = core_origin_find(self, origin);
    return !found ? 0 : staged ? found->staged_seq : found->durable_seq;
}

static uint64_t
held_seq(const core_t *self, const char *origin)
{
    return origin_seq(self, origin, false);
}

static uint64_t
staged_seq(const core_t *self, const char *origin)
{
    return origin_seq(self, origin, true);
}

// Version vector entries for a message being built; storage holds count + 1
// entries. From the core's message arena, which send_hello and send_ack reset:
// a Hello with hundreds of origins took two callocs, zeroed, every time.
typedef struct {
    Storemesh__VvEntry *storage;
    Storemesh__VvEntry **pointers;
    size_t count;
} proto_vv_t;

static int
proto_vv_alloc(core_t *self, proto_vv_t *out, size_t count)
{
    out->count = 0;
    out->storage = arena_alloc(&self->message_arena, (count + 1) * sizeof *out->storage);
    out->pointers = arena_alloc(&self->message_arena, (count + 1) * sizeof *out->pointers);
    return out->storage && out->pointers ? 0 : -SM_ENOMEM;
}

static void
proto_vv_add(proto_vv_t *out, const char *origin, uint64_t seq)
{
    Storemesh__VvEntry *entry = &out->storage[out->count];
    storemesh__vv_entry__init(entry);
    entry->origin = (char *)origin;
    entry->seq = seq;
    out->pointers[out->count++] = entry;
}

// Calls fn for every origin we hold operations of, this node included, in name
// order; with since_generation > 0, only for those that advanced after that
// have_generation (and for this node) (the canonical order of version vectors on the wire and in digests).
typedef void (*have_fn)(void *arg, const char *origin, uint64_t seq);

// Sets the bit of each origin (by index, so in name order) that a write after
// since_generation advanced, from the advances ring, in the first
// (origin_count + 63) / 64 words of marks. False when the ring does not hold every
// advance since then (or since_generation is 0): the caller walks the table.
static bool
advanced_since(const core_t *self, uint64_t since_generation,
               uint64_t marks[CORE_ORIGINS_MAX / 64])
{
    if (since_generation == 0 || since_generation < self->advances_from)
        return false;
    memset(marks, 0, (self->origin_count + 63) / 64 * sizeof *marks);
    for (size_t n = self->advance_count; n > 0; n--) {
        const core_advance_t *advance =
            &self->advances[(self->advance_start + n - 1) % CORE_ADVANCES_MAX];
        if (advance->generation <= since_generation)
            break;
        assert(advance->index < self->origin_count);
        marks[advance->index / 64] |= UINT64_C(1) << (advance->index % 64);
    }
    return true;
}

// our_have_each for since_generation > 0 from the advances ring, when it holds
// every advance since then: the same calls in the same order. False: it does not.
static bool
our_have_each_advanced(const core_t *self, uint64_t since_generation, have_fn fn, void *arg)
{
    uint64_t marks[CORE_ORIGINS_MAX / 64];
    if (!advanced_since(self, since_generation, marks))
        return false;
    bool own_done = self->durable.last_seq == 0;
    for (size_t word = 0; word < (self->origin_count + 63) / 64; word++) {
        for (uint64_t bits = marks[word]; bits != 0; bits &= bits - 1) {
            size_t i = word * 64 + (size_t)__builtin_ctzll(bits);
            if (!own_done && i >= self->own_rank) { // our name sorts before this one
                fn(arg, self->name, self->durable.last_seq);
                own_done = true;
            }
            const core_origin_t *origin = &self->origins[i];
            if (origin->durable_seq > 0 && origin->advanced_generation > since_generation)
                fn(arg, origin->name, origin->durable_seq);
        }
    }
    if (!own_done)
        fn(arg, self->name, self->durable.last_seq);
    return true;
}

static void
our_have_each(const core_t *self, uint64_t since_generation, have_fn fn, void *arg)
{
    if (our_have_each_advanced(self, since_generation, fn, arg))
        return;
    bool own_done = self->durable.last_seq == 0;
    name_key_t own_key = self->own_key;
    for (size_t i = 0; i < self->origin_count; i++) {
        const core_origin_t *origin = &self->origins[i];
        if (!own_done) {
            if (name_key_order(own_key, self->name, origin->key, origin->name) < 0) {
                fn(arg, self->name, self->durable.last_seq);
                own_done = true;
            }
        }
        if (origin->durable_seq > 0 && origin->advanced_generation > since_generation)
            fn(arg, origin->name, origin->durable_seq);
    }
    if (!own_done)
        fn(arg, self->name, self->durable.last_seq);
}

// A version vector's digest (docs/PROTOCOL.md "Messages"): the sum, modulo 2^256,
// of BLAKE2b-256(origin, NUL, seq as big-endian u64) over its entries with seq > 0,
// each hash read as a little-endian number. A sum, not one hash over the list, so
// that a raise changes it by one entry's hash: a 200-origin vector raised by a
// few entries per Hello had its whole digest recomputed, 12% of a simulation.
static void
entry_hash(const core_signer_t *signer, const char *origin, uint64_t seq, uint64_t out[4])
{
    uint8_t bytes[CRDT_NAME_MAX + 1 + 8];
    size_t len = strlen(origin) + 1;
    memcpy(bytes, origin, len);
    keys_put_be64(bytes + len, seq);
    uint8_t hash[CORE_HASH_BYTES];
    core_hash_by(signer, hash, bytes, len + 8);
    for (int word = 0; word < 4; word++) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        memcpy(&out[word], hash + word * 8, 8); // a load, not 8 shifts (a Hello digests many)
#else
        out[word] = 0;
        for (int i = 7; i >= 0; i--)
            out[word] = out[word] << 8 | hash[word * 8 + i];
#endif
    }
}

static void
sum_add(uint64_t sum[4], const uint64_t add[4])
{
    uint64_t carry = 0;
    for (int word = 0; word < 4; word++) {
        uint64_t before = sum[word];
        sum[word] = before + add[word] + carry;
        carry = sum[word] < before || (carry && sum[word] == before);
    }
}

static void
sum_sub(uint64_t sum[4], const uint64_t sub[4])
{
    uint64_t borrow = 0;
    for (int word = 0; word < 4; word++) {
        uint64_t before = sum[word];
        sum[word] = before - sub[word] - borrow;
        borrow = before < sub[word] || (borrow && before == sub[word]);
    }
}

static void
sum_bytes(const uint64_t sum[4], uint8_t out[CORE_HASH_BYTES])
{
    for (int word = 0; word < 4; word++)
        for (int i = 0; i < 8; i++)
            out[word * 8 + i] = (uint8_t)(sum[word] >> (8 * i));
}

// Brings an entry's hash, and the sum holding it, up to its seq.
static void
entry_rehash(const core_signer_t *signer, uint64_t sum[4], uint64_t *hashed_seq, uint64_t hash[4],
             const char *origin, uint64_t seq)
{
    if (*hashed_seq == seq)
        return;
    if (*hashed_seq)
        sum_sub(sum, hash);
    if (seq) {
        entry_hash(signer, origin, seq, hash);
        sum_add(sum, hash);
    }
    *hashed_seq = seq;
}

// Cached in the vv until it changes: an idle link compares digests every round.
// Only the entries raised since the last digest are hashed again.
static void
vv_digest(const core_signer_t *signer, struct core_vv *vv, uint8_t out[CORE_HASH_BYTES])
{
    if (!vv) {
        memset(out, 0, CORE_HASH_BYTES);
        return;
    }
    if (vv->digest_valid && vv->digest_changes == vv->changes) {
        memcpy(out, vv->digest, CORE_HASH_BYTES);
        return;
    }
    bool walk = !vv->hashes || vv->dirty_count > VV_DIRTY_MAX;
    if (!vv->hashes && vv->cap > 0) { // the first digest of this vector: none hashed yet
        vv->hashes = calloc(vv->cap, sizeof *vv->hashes);
        if (!vv->hashes) { // out of memory: an all-zero digest, which no peer matches
            memset(out, 0, CORE_HASH_BYTES);
            return;
        }
    }
    // Only entries added or raised since the last digest can be hashed at another
    // seq than they hold: those named in dirty, or every entry after an overflow.
    for (size_t n = 0; n < (walk ? vv->count : vv->dirty_count); n++) {
        size_t i = n;
        if (!walk) {
            const char *origin = vv->dirty[n];
            name_key_t key = name_key(origin);
            i = vv_lower_bound_keyed(vv, key, origin);
            if (i >= vv->count || vv->entries[i].origin != origin)
                continue; // removed since
        }
        const vv_entry_t *entry = &vv->entries[i];
        vv_hash_t *hash = &vv->hashes[i];
        entry_rehash(signer, vv->sum, &hash->hashed_seq, hash->hash, entry->origin, entry->seq);
    }
    vv->dirty_count = 0;
    sum_bytes(vv->sum, out);
    memcpy(vv->digest, out, CORE_HASH_BYTES);
    vv->digest_changes = vv->changes;
    vv->digest_valid = true;
}

// The entries of vv above told (which was brought up to vv when vv's changes count
// was since), in vv's order, from vv's change log: only an entry raised since can
// be above told. False, with out untouched, when the log does not reach back that
// far: the caller walks the whole of vv instead.
static bool
authority_changed_from_log(const struct core_vv *vv, const struct core_vv *told, uint64_t since,
                           proto_vv_t *out)
{
    const vv_change_log_t *log = vv->log;
    if (!vv_log_reaches(vv, since))
        return false;
    // Where each raised entry sits in vv now, each once, in vv's order (insertion
    // sort: at most VV_CHANGES_MAX, usually a few).
    size_t at[VV_CHANGES_MAX];
    size_t found = 0;
    for (uint64_t c = since + 1; c <= vv->changes; c++) {
        const char *name = log->name[c % VV_CHANGES_MAX];
        size_t index = vv_lower_bound(vv, name);
        assert(index < vv->count && vv->entries[index].origin == name); // entries stay
        size_t k = found;
        while (k > 0 && at[k - 1] > index)
            k--;
        if (k > 0 && at[k - 1] == index)
            continue; // raised more than once
        memmove(&at[k + 1], &at[k], (found - k) * sizeof *at);
        at[k] = index;
        found++;
    }
    for (size_t i = 0; i < found; i++) {
        const vv_entry_t *entry = &vv->entries[at[i]];
        if (entry->seq > vv_get(told, entry->origin))
            proto_vv_add(out, entry->origin, entry->seq);
    }
    return true;
}

// The authority's version vector for a Hello to peer: whole in a full Hello (or
// when none was told yet), else only the entries that rose since what our Hellos
// told it (found from the vector's change log, or by a walk of it when the log does
// not reach back to the last Hello); told then holds what the peer will hold, and
// digest_out is over that. Unchanged since the last Hello: no walk at all.
static int
authority_for_hello(core_t *self, core_peer_state_t *peer, bool full, proto_vv_t *out,
                    uint8_t digest_out[CORE_HASH_BYTES])
{
    const struct core_vv *vv = self->authority_have;
    size_t count = vv ? vv->count : 0;
    if (proto_vv_alloc(self, out, count))
        return -SM_ENOMEM;
    if (full || !peer->authority_told) {
        struct core_vv *told = vv ? vv_copy(vv) : vv_new(self->names);
        if (!told)
            return -SM_ENOMEM;
        for (size_t i = 0; i < count; i++)
            proto_vv_add(out, vv->entries[i].origin, vv->entries[i].seq);
        vv_free(peer->authority_told);
        peer->authority_told = told;
    } else if (vv && vv->changes != peer->authority_told_changes) {
        struct core_vv *told = peer->authority_told;
        if (!authority_changed_from_log(vv, told, peer->authority_told_changes, out)) {
            size_t k = 0; // both sorted by origin: walk them together
            for (size_t i = 0; i < count; i++) {
                const vv_entry_t *entry = &vv->entries[i];
                int order = 1;
                while (k < told->count &&
                       (order = entry_order(&told->entries[k], entry->key, entry->origin)) < 0)
                    k++;
                uint64_t held = k < told->count && order == 0 ? told->entries[k].seq : 0;
                if (entry->seq > held)
                    proto_vv_add(out, entry->origin, entry->seq);
            }
        }
        int rc = vv_raise_from_proto(told, out->pointers, out->count);
        if (rc)
            return rc;
    }
    peer->authority_told_changes = vv ? vv->changes : 0;
    vv_digest(&self->signer, peer->authority_told, digest_out);
    return 0;
}

// Takes a Hello's authority entries into what the peer has told us: replaced by a
// full Hello, raised by the others. False when the digest it carries names
// something else (a Hello of its was lost, or we restarted): then we ask for its
// full Hello. A sender that sends no digest is not checked.
static bool
authority_heard_matches(core_t *self, core_peer_state_t *peer, const Storemesh__Hello *hello,
                        bool full)
{
    const core_signer_t *signer = &self->signer;
    if (!peer->authority_heard) {
        peer->authority_heard = vv_new(self->names);
        if (!peer->authority_heard)
            return true; // out of memory: its next Hello is checked instead
    } else if (full) {
        vv_clear(peer->authority_heard); // its arrays stay for the entries to come
    }
    if (vv_raise_from_proto(peer->authority_heard, hello->authority_have, hello->n_authority_have))
        return false;
    if (hello->authority_digest.len != CORE_HASH_BYTES)
        return true;
    uint8_t held[CORE_HASH_BYTES];
    vv_digest(signer, peer->authority_heard, held);
    return memcmp(held, hello->authority_digest.data, CORE_HASH_BYTES) == 0;
}

// Brings have_sum from have_digest_generation up to have_generation by rehashing
// only the origins the advances ring shows advanced since (a walk of every origin
// touched 201 cold entries for each round of a cloud's or branch's Hellos). False
// when the ring does not hold every advance since then: the caller sums them all.
static bool
have_sum_from_advances(core_t *self)
{
    if (!self->have_digest_valid || self->have_digest_generation < self->advances_from)
        return false;
    for (size_t n = self->advance_count; n > 0; n--) {
        const core_advance_t *advance =
            &self->advances[(self->advance_start + n - 1) % CORE_ADVANCES_MAX];
        if (advance->generation <= self->have_digest_generation)
            break;
        assert(advance->index < self->origin_count);
        core_origin_t *origin = &self->origins[advance->index];
        // An origin advanced twice is hashed once: the second call finds it done.
        entry_rehash(&self->signer, self->have_sum, &origin->have_hashed_seq, origin->have_hash,
                     origin->name, origin->durable_seq);
    }
    return true;
}

// Our durable version vector's digest: what a peer computes over what it stores
// for us after a full Hello. Cached until a write changes what we hold; each
// origin's hash is kept with it and redone only when its durable seq moved.
static void
our_have_digest(core_t *self, uint8_t out[CORE_HASH_BYTES])
{
    if (!self->have_digest_valid || self->have_digest_generation != self->have_generation) {
        if (!have_sum_from_advances(self)) {
            memset(self->have_sum, 0, sizeof self->have_sum);
            for (size_t i = 0; i < self->origin_count; i++) {
                core_origin_t *origin = &self->origins[i];
                uint64_t unused[4] = {0};
                entry_rehash(&self->signer, unused, &origin->have_hashed_seq, origin->have_hash,
                             origin->name, origin->durable_seq);
                if (origin->have_hashed_seq)
                    sum_add(self->have_sum, origin->have_hash);
            }
        }
        uint64_t sum[4];
        memcpy(sum, self->have_sum, sizeof sum);
        if (self->durable.last_seq > 0) {
            uint64_t own[4];
            entry_hash(&self->signer, self->name, self->durable.last_seq, own);
            sum_add(sum, own);
        }
        sum_bytes(sum, self->have_digest);
        self->have_digest_generation = self->have_generation;
        self->have_digest_valid = true;
    }
    memcpy(out, self->have_digest, CORE_HASH_BYTES);
}

// ---- sending ----

// The table is sorted by name (core_set_peers): a cloud with hundreds of peers
// finds one per message.
static core_peer_state_t *
peer_find(const core_t *self, const char *name)
{
    name_key_t key = name_key(name);
    size_t low = 0;
    size_t high = self->peer_count;
    while (low < high) {
        size_t mid = low + (high - low) / 2;
        const core_peer_state_t *peer = &self->peers[mid];
        int order = name_key_order(peer->name_key, peer->name, key, name);
        if (order == 0)
            return &self->peers[mid];
        if (order < 0)
            low = mid + 1;
        else
            high = mid;
    }
    return NULL;
}

static int
compare_peer_names(const void *a, const void *b)
{
    return strcmp(((const core_peer_state_t *)a)->name, ((const core_peer_state_t *)b)->name);
}

static core_peer_state_t *
link_find(const core_t *self, const char *name)
{
    core_peer_state_t *peer = peer_find(self, name);
    return peer && peer->exchange ? peer : NULL;
}

// Puts a packed message (taken over) for peer in the send queue; dropped when the
// queue is full (anti-entropy sends it again), never blocking the core.
static void
queue_send_packed(core_t *self, const char *peer, uint8_t *bytes, size_t len)
{
    if (!self->sends) {
        self->sends = calloc(CORE_SEND_QUEUE_MAX, sizeof *self->sends);
        if (!self->sends) {
            free(bytes);
            return;
        }
    }
    if (self->send_count >= CORE_SEND_QUEUE_MAX) {
        free(bytes);
        return;
    }
    self->counters.messages_sent++;
    self->counters.bytes_sent += len;
    if (self->send_head + self->send_count == CORE_SEND_QUEUE_MAX) {
        // At the end of the array: move what is queued to its front.
        memmove(self->sends, self->sends + self->send_head, self->send_count * sizeof *self->sends);
        self->send_head = 0;
    }
    core_send_t *send = &self->sends[self->send_head + self->send_count++];
    sm_strlcpy(send->peer, peer, sizeof send->peer);
    send->bytes = bytes;
    send->len = len;
}

// The message's bytes (malloc'd), or NULL when out of memory.
static uint8_t *
pack_message(Storemesh__PeerMessage *message, size_t *len)
{
    message->version = 1;
    *len = peer_message_pack_size(message);
    uint8_t *bytes = malloc(*len ? *len : 1);
    if (bytes)
        peer_message_pack(message, bytes);
    return bytes;
}

// Packs message for peer into the send queue, as queue_send_packed.
static void
queue_send(core_t *self, const char *peer, Storemesh__PeerMessage *message)
{
    if (self->send_count >= CORE_SEND_QUEUE_MAX)
        return;
    size_t len = 0;
    uint8_t *bytes = pack_message(message, &len);
    if (bytes)
        queue_send_packed(self, peer, bytes, len);
}

typedef enum {
    ACK_WRITTEN, // what a write advanced, or a repeat from the peer we had it from
    ACK_GAP,     // rewind to what we hold
    ACK_PRUNE,   // a repeat we had from another peer first: stop pushing these
    ACK_GRAFT,   // behind it for a Hello period: push these again
} ack_kind_t;

// An Ack: where we now stand on the origins named (those a batch just advanced,
// the one a repeat or gap was about, or those grafted), and fresh credit. The
// authority's version vector travels in Hellos only, so an Ack costs O(origins named).
static void
send_ack(core_t *self, core_peer_state_t *peer, const char *const *origins, size_t count,
         ack_kind_t kind)
{
    bool gap = kind == ACK_GAP;
    arena_reset(&self->message_arena);
    proto_vv_t have = {0};
    if (proto_vv_alloc(self, &have, count) == 0) {
        for (size_t i = 0; i < count; i++) {
            uint64_t seq = held_seq(self, origins[i]);
            // A gap or graft names the origin even when nothing of it is held.
            if (seq > 0 || gap || kind == ACK_GRAFT)
                proto_vv_add(&have, origins[i], seq);
        }
        Storemesh__PeerMessage message = STOREMESH__PEER_MESSAGE__INIT;
        Storemesh__Ack ack = STOREMESH__ACK__INIT;
        ack.n_have = have.count;
        ack.have = have.pointers;
        ack.credit = CORE_PEER_CREDIT_BATCHES;
        ack.gap = gap;
        ack.prune = kind == ACK_PRUNE;
        ack.graft = kind == ACK_GRAFT;
        message.body_case = STOREMESH__PEER_MESSAGE__BODY_ACK;
        message.ack = &ack;
        queue_send(self, peer->name, &message);
    }
}

typedef struct {
    proto_vv_t *out;             // the entries to send
    const struct core_vv *since; // what our last Hello gave the peer; NULL: send all
    size_t since_at;             // since's entries before this one are behind us
    struct core_vv *now;         // with no since: our whole version vector, built
    size_t hint;
    int rc;
} hello_have_t;

// Both lists are sorted by name: since is searched onward from where the last
// origin was found, in steps that double, then by halves. A walk along it read
// every entry in between, a cold line for each two, when a Hello names a few
// origins of 200; the doubling keeps a Hello that names most of them a walk.
static uint64_t
since_seq(hello_have_t *have, const char *origin)
{
    const struct core_vv *since = have->since;
    name_key_t key = name_key(origin);
    size_t low = have->since_at; // the entries before low sort before origin
    size_t high = low;
    // Bounded: high at least doubles its distance from since_at each turn.
    for (size_t step = 1;
         high < since->count && entry_order(&since->entries[high], key, origin) < 0; step *= 2) {
        low = high + 1;
        high = low + step;
    }
    if (high > since->count)
        high = since->count;
    while (low < high) { // entries[high] (if any) sorts at or after origin
        size_t mid = low + (high - low) / 2;
        if (entry_order(&since->entries[mid], key, origin) < 0)
            low = mid + 1;
        else
            high = mid;
    }
    have->since_at = low;
    return low < since->count && entry_order(&since->entries[low], key, origin) == 0
               ? since->entries[low].seq
               : 0;
}

static void
add_changed(void *arg, const char *origin, uint64_t seq)
{
    hello_have_t *have = arg;
    if (have->since) {
        if (seq > since_seq(have, origin))
            proto_vv_add(have->out, origin, seq);
        return;
    }
    proto_vv_add(have->out, origin, seq);
    if (have->rc == 0)
        have->rc = vv_raise_hinted(have->now, origin, seq, &have->hint);
}

// A Hello: our version vector in full; or, when the peer holds what our last Hello
// said, only the entries that changed since (none at all when idle) with the digest
// of the whole, which the peer checks after raising what it holds for us by them.
// The authority's vector goes the same way (authority_for_hello).
static void
send_hello(core_t *self, core_peer_state_t *peer)
{
    peer->batches_unacked = 0; // the Hello says where we stand on everything
    arena_reset(&self->message_arena);
    proto_vv_t have = {0};
    proto_vv_t authority = {0};
    uint8_t digest[CORE_HASH_BYTES];
    uint8_t authority_digest[CORE_HASH_BYTES];
    our_have_digest(self, digest);
    bool known = peer->full_sent && !peer->wants_full; // it took our last Hello
    bool idle = known && memcmp(peer->full_digest, digest, CORE_HASH_BYTES) == 0;
    bool delta = known && peer->last_hello != NULL;
    hello_have_t changed = {.out = &have, .since = delta ? peer->last_hello : NULL};
    int rc = 0;
    if (idle) {
        rc = proto_vv_alloc(self, &have, 0);
    } else {
        changed.now = delta ? NULL : vv_new(self->names);
        rc = delta || changed.now ? proto_vv_alloc(self, &have, self->origin_count + 1)
                                  : -SM_ENOMEM;
        if (rc == 0)
            our_have_each(self, delta ? peer->hello_generation : 0, add_changed, &changed);
        rc = rc ? rc : changed.rc;
    }
    // The receiver reads the form from have_digest: full unless idle or changed.
    if (rc == 0)
        rc = authority_for_hello(self, peer, !(idle || delta), &authority, authority_digest);
    if (rc == 0) {
        peer->full_sent = true;
        peer->hello_generation = self->have_generation;
        memcpy(peer->full_digest, digest, CORE_HASH_BYTES);
        peer->wants_full = false;
        if (delta) { // what it holds of ours now: the last Hello raised by this one
            vv_raise_from_proto(peer->last_hello, have.pointers, have.count);
        } else if (!idle) {
            vv_free(peer->last_hello);
            peer->last_hello = changed.now;
            changed.now = NULL;
        }
        Storemesh__PeerMessage message = STOREMESH__PEER_MESSAGE__INIT;
        Storemesh__Hello hello_body = STOREMESH__HELLO__INIT;
        hello_body.node = self->name;
        hello_body.mesh = (char *)rules_mesh(self->rules);
        hello_body.rules_hash =
            (ProtobufCBinaryData){RULES_HASH_BYTES, (uint8_t *)rules_hash(self->rules)};
        hello_body.n_have = have.count;
        hello_body.have = have.pointers;
        hello_body.n_authority_have = authority.count;
        hello_body.authority_have = authority.pointers;
        hello_body.authority_digest = (ProtobufCBinaryData){CORE_HASH_BYTES, authority_digest};
        hello_body.credit = CORE_PEER_CREDIT_BATCHES;
        if (idle || delta)
            hello_body.have_digest = (ProtobufCBinaryData){CORE_HASH_BYTES, digest};
        hello_body.want_full = peer->need_their_full;
        message.body_case = STOREMESH__PEER_MESSAGE__BODY_HELLO;
        message.hello = &hello_body;
        queue_send(self, peer->name, &message);
    }
    vv_free(changed.now);
}

typedef struct {
    uint64_t next_seq; // the seq expected next
    uint64_t last_seq; // the seal's seq: the last operation of the batch
    ProtobufCBinaryData *operations;
    size_t count;
    int rc;
} ops_scan_t;

static int
collect_operation(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value,
                  size_t value_len)
{
    ops_scan_t *scan = arg;
    char origin[CRDT_NAME_MAX + 1];
    uint64_t seq = 0;
    if (keys_log_parse(key, key_len, origin, &seq) || seq != scan->next_seq) {
        scan->rc = -SM_ECORRUPT; // a hole in our own log: never send across it
        return 1;
    }
    uint8_t *copy = malloc(value_len ? value_len : 1);
    if (!copy) {
        scan->rc = -SM_ENOMEM;
        return 1;
    }
    memcpy(copy, value, value_len);
    scan->operations[scan->count++] = (ProtobufCBinaryData){value_len, copy};
    scan->next_seq++;
    return seq == scan->last_seq;
}

typedef struct {
    uint64_t seq;
    uint8_t *bytes;
    size_t len;
} seal_found_t;

static int
first_seal_from(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value,
                size_t value_len)
{
    seal_found_t *found = arg;
    char origin[CRDT_NAME_MAX + 1];
    if (keys_log_parse(key, key_len, origin, &found->seq))
        return 1;
    found->bytes = malloc(value_len ? value_len : 1);
    if (found->bytes) {
        memcpy(found->bytes, value, value_len);
        found->len = value_len;
    }
    return 1;
}

// The planted CORE_BUG_RELAY_DROPS_ONE: leaves out every operation whose seq is a
// multiple of 50, as a careless relay would.
static void
drop_every_50th(ops_scan_t *scan, uint64_t first_seq)
{
    size_t kept = 0;
    for (size_t i = 0; i < scan->count; i++) {
        if ((first_seq + i) % 50 == 0) {
            free(scan->operations[i].data);
            continue;
        }
        scan->operations[kept++] = scan->operations[i];
    }
    scan->count = kept;
}

// Sends origin's operations from first_seq to the first seal at or after it.
// Returns the seal's seq, or 0 when nothing could be sent.
static uint64_t
send_batch(core_t *self, const core_peer_state_t *peer, const char *origin, uint64_t first_seq)
{
    core_batch_message_t *last = &self->last_batch;
    if (last->bytes && last->generation == self->have_generation && last->first_seq == first_seq &&
        strcmp(last->origin, origin) == 0) {
        // The same operations from the same storage: the same bytes, not read again.
        uint8_t *copy = malloc(last->len ? last->len : 1);
        if (!copy)
            return 0;
        memcpy(copy, last->bytes, last->len);
        queue_send_packed(self, peer->name, copy, last->len);
        self->counters.batches_sent++;
        return last->last_seq;
    }
    uint8_t prefix[KEYS_MAX];
    uint8_t start[KEYS_MAX];
    size_t start_len = keys_log(start, origin, first_seq);
    size_t prefix_len = strlen(origin) + 1;
    memcpy(prefix, start, prefix_len);
    seal_found_t seal = {0};
    if (self->reader.scan(self->reader.ctx, STORE_CF_SEAL, prefix, prefix_len, start, start_len,
                          first_seal_from, &seal) ||
        !seal.bytes || seal.seq < first_seq || seal.seq - first_seq >= CORE_OPS_BATCH_MAX) {
        free(seal.bytes);
        return 0;
    }
    ops_scan_t scan = {.next_seq = first_seq, .last_seq = seal.seq};
    scan.operations = calloc(seal.seq - first_seq + 1, sizeof *scan.operations);
    uint64_t sent = 0;
    if (scan.operations &&
        self->reader.scan(self->reader.ctx, STORE_CF_LOG, prefix, prefix_len, start, start_len,
                          collect_operation, &scan) == 0 &&
        scan.rc == 0 && scan.count == seal.seq - first_seq + 1) {
        if (CORE_BUG(self, CORE_BUG_RELAY_DROPS_ONE) && strcmp(origin, self->name) != 0)
            drop_every_50th(&scan, first_seq);
        Storemesh__OpsBatch ops = STOREMESH__OPS_BATCH__INIT;
        ops.origin = (char *)origin;
        ops.first_seq = first_seq;
        ops.n_operations = scan.count;
        ops.operations = scan.operations;
        ops.seal = (ProtobufCBinaryData){seal.len, seal.bytes};
        Storemesh__PeerMessage message = STOREMESH__PEER_MESSAGE__INIT;
        message.body_case = STOREMESH__PEER_MESSAGE__BODY_OPS;
        message.ops = &ops;
        size_t len = 0;
        uint8_t *bytes = pack_message(&message, &len);
        uint8_t *kept = bytes ? malloc(len ? len : 1) : NULL;
        free(last->bytes);
        *last = (core_batch_message_t){0};
        if (kept) {
            memcpy(kept, bytes, len);
            *last = (core_batch_message_t){.first_seq = first_seq,
                                           .last_seq = seal.seq,
                                           .generation = self->have_generation,
                                           .bytes = kept,
                                           .len = len};
            sm_strlcpy(last->origin, origin, sizeof last->origin);
        }
        if (bytes)
            queue_send_packed(self, peer->name, bytes, len);
        self->counters.batches_sent++;
        sent = seal.seq;
    }
    for (size_t i = 0; scan.operations && i < scan.count; i++)
        free(scan.operations[i].data);
    free(scan.operations);
    free(seal.bytes);
    return sent;
}

// Whether to stream origin to the peer: we hold more than we sent it, it is not the
// peer's own, and the peer did not prune it (sent again only once it grafts it).
// The prune lookup is made only for an origin it lacks.
static bool
sendable(const core_peer_state_t *peer, const char *origin, uint64_t held, uint64_t sent)
{
    return held > sent && strcmp(origin, peer->name) != 0 && vv_get(peer->lazy, origin) == 0;
}

// vv_get(vv, origin->name) for an entry of our origin table. A peer's sent vector
// mostly holds the same names as the table, with ours among them, so the entry
// usually sits at the origin's index or one past it: two compares instead of a
// binary search. A cloud looks up every peer's vector for each origin a write
// advanced (the searches were 4% of chain-200).
static size_t
origin_hint(const core_t *self, const core_origin_t *origin)
{
    size_t hint = (size_t)(origin - self->origins);
    return hint >= self->own_rank ? hint + 1 : hint; // our own name sorts before it
}

static uint64_t
vv_get_origin(const core_t *self, const struct core_vv *vv, const core_origin_t *origin)
{
    return vv_get_at(vv, origin->key, origin->name, origin_hint(self, origin));
}

// vv_raise for an entry of our origin table, looked for at its index first.
static int
vv_raise_origin(const core_t *self, struct core_vv *vv, const core_origin_t *origin, uint64_t seq)
{
    size_t hint = origin_hint(self, origin);
    return vv_raise_hinted(vv, origin->name, seq, &hint);
}

// The first origin (this node, then the others by name) the peer lacks, or NULL.
static const char *
next_lacking(const core_t *self, const core_peer_state_t *peer, uint64_t *from_seq)
{
    // Our entry sits at own_rank in a vector that holds every origin we know.
    uint64_t own_sent = vv_get_at(peer->sent, self->own_key, self->name, self->own_rank);
    if (sendable(peer, self->name, self->durable.last_seq, own_sent)) {
        *from_seq = own_sent + 1;
        return self->name;
    }
    if (peer->caught_up && self->just_written &&
        peer->caught_up_generation + 1 == self->have_generation) {
        // It lacked nothing before the write just done: only what that write
        // advanced can be new to it (a cloud with hundreds of peers and origins
        // walked them all for every peer at every write).
        for (size_t i = 0; i < self->just_written_count; i++) {
            const core_origin_t *origin = self->just_written[i];
            uint64_t sent = vv_get_origin(self, peer->sent, origin);
            if (sendable(peer, origin->name, origin->durable_seq, sent)) {
                *from_seq = sent + 1;
                return origin->name;
            }
        }
        return NULL;
    }
    if (peer->caught_up) { // only origins that advanced since it lacked nothing
        // Found from the advances ring when it reaches back that far: a walk of the
        // table read a cold line of every origin for every peer at every write.
        uint64_t marks[CORE_ORIGINS_MAX / 64];
        bool marked = advanced_since(self, peer->caught_up_generation, marks);
        for (size_t i = 0; i < self->origin_count; i++) {
            if (marked) {
                uint64_t bits = marks[i / 64] >> (i % 64);
                if (bits == 0) { // none at or after i in this word: on to the next
                    i = (i / 64 + 1) * 64 - 1;
                    continue;
                }
                i += (size_t)__builtin_ctzll(bits);
            }
            const core_origin_t *origin = &self->origins[i];
            if (origin->advanced_generation <= peer->caught_up_generation)
                continue;
            uint64_t sent = vv_get_origin(self, peer->sent, origin);
            if (sendable(peer, origin->name, origin->durable_seq, sent)) {
                *from_seq = sent + 1;
                return origin->name;
            }
        }
        return NULL;
    }
    // Both lists are sorted by name: walk them together.
    const struct core_vv *sent_vv = peer->sent;
    size_t k = 0;
    for (size_t i = 0; i < self->origin_count; i++) {
        const core_origin_t *origin = &self->origins[i];
        if (origin->durable_seq == 0)
            continue;
        int order = 1;
        while (k < sent_vv->count &&
               (order = entry_order(&sent_vv->entries[k], origin->key, origin->name)) < 0)
            k++;
        uint64_t sent = k < sent_vv->count && order == 0 ? sent_vv->entries[k].seq : 0;
        if (sendable(peer, origin->name, origin->durable_seq, sent)) {
            *from_seq = sent + 1;
            return origin->name;
        }
    }
    return NULL;
}

// How long a batch sent counts as crossing a Hello rather than lost: half a Hello
// period, at most CORE_GRAFT_GRACE_MS (a batch crosses a link in milliseconds).
static uint64_t
pending_keep_ms(const core_t *self)
{
    return self->anti_entropy_ms / 2 < CORE_GRAFT_GRACE_MS ? self->anti_entropy_ms / 2
                                                          : CORE_GRAFT_GRACE_MS;
}

// Streams what the peer lacks while it has credit: the flow control that keeps a
// slow peer from making us queue without bound.
static void
pump(core_t *self, core_peer_state_t *peer)
{
    if (!peer->hello_seen || !peer->exchange)
        return;
    if (peer->caught_up && peer->caught_up_generation == self->have_generation)
        return; // it lacked nothing, and we hold nothing new since
    // Bounded by the credit (CORE_PEER_CREDIT_BATCHES) and the send queue.
    while (peer->in_flight < peer->credit && self->send_count < CORE_SEND_QUEUE_MAX) {
        uint64_t from_seq = 0;
        const char *origin = next_lacking(self, peer, &from_seq);
        if (!origin) {
            peer->caught_up = true;
            peer->caught_up_generation = self->have_generation;
            return;
        }
        char name[CRDT_NAME_MAX + 1];
        sm_strlcpy(name, origin, sizeof name); // vv_raise may move origin names
        uint64_t sent = send_batch(self, peer, name, from_seq);
        if (sent == 0 || vv_raise(peer->sent, name, sent))
            return;
        assert(peer->pending_count < CORE_PEER_CREDIT_BATCHES);
        sm_strlcpy(peer->pending[peer->pending_count].origin, name, CRDT_NAME_MAX + 1);
        peer->pending[peer->pending_count].sent_ms = self->now_ms;
        peer->pending[peer->pending_count++].last_seq = sent;
        peer->in_flight = (uint32_t)peer->pending_count;
    }
}

// ---- receiving ----

size_t
core_seal_message(uint8_t out[CORE_SEAL_MESSAGE_MAX], const char *origin, uint64_t seq,
                  const uint8_t head[CORE_HASH_BYTES])
{
    static const char domain[] = "storemesh-seal-v1";
    size_t name_len = strlen(origin) + 1;
    assert(name_len <= CRDT_NAME_MAX + 1);
    size_t len = 0;
    memcpy(out, domain, sizeof domain); // includes the NUL
    len += sizeof domain;
    memcpy(out + len, origin, name_len);
    len += name_len;
    keys_put_be64(out + len, seq);
    len += 8;
    memcpy(out + len, head, CORE_HASH_BYTES);
    return len + CORE_HASH_BYTES;
}

bool
core_seal_verifies(const Storemesh__Seal *seal, const uint8_t *public_key,
                   const core_signer_t *signer)
{
    if (!seal->origin || strlen(seal->origin) == 0 || strlen(seal->origin) > CRDT_NAME_MAX ||
        seal->head_hash.len != CORE_HASH_BYTES || seal->signature.len != crypto_sign_BYTES)
        return false;
    uint8_t message[CORE_SEAL_MESSAGE_MAX];
    size_t len = core_seal_message(message, seal->origin, seal->seq, seal->head_hash.data);
    if (signer && signer->verify)
        return signer->verify(signer->ctx, seal->signature.data, message, len, public_key);
    return crypto_sign_verify_detached(seal->signature.data, message, len, public_key) == 0;
}

// Decodes every operation and checks the hash chain: each links to the one before,
// the first new one links to what we hold, and the last is the sealed head.
// Returns the decoded operations (free each) or NULL when the chain does not hold.
static Storemesh__Operation **
verify_chain(const core_signer_t *signer, const Storemesh__OpsBatch *ops,
             const core_origin_t *origin, const Storemesh__Seal *seal,
             ProtobufCAllocator *allocator)
{
    Storemesh__Operation **decoded = calloc(ops->n_operations, sizeof *decoded);
    if (!decoded)
        return NULL;
    uint8_t previous[CORE_HASH_BYTES];
    bool ok = true;
    for (size_t i = 0; ok && i < ops->n_operations; i++) {
        const ProtobufCBinaryData *bytes = &ops->operations[i];
        Storemesh__Operation *op = op_unpack(allocator, bytes->len, bytes->data);
        decoded[i] = op;
        uint64_t seq = ops->first_seq + i;
        ok = op && op->origin && strcmp(op->origin, ops->origin) == 0 && op->seq == seq &&
             op->prev_hash.len == CORE_HASH_BYTES && op->type && op->key && op->field;
        if (ok && i > 0)
            ok = memcmp(op->prev_hash.data, previous, CORE_HASH_BYTES) == 0;
        if (ok && seq == origin->staged_seq + 1)
            ok = memcmp(op->prev_hash.data, origin->staged_head, CORE_HASH_BYTES) == 0;
        core_hash_by(signer, previous, bytes->data, bytes->len);
        if (ok && seq == origin->staged_seq)
            ok = memcmp(previous, origin->staged_head, CORE_HASH_BYTES) == 0;
    }
    if (ok)
        ok = memcmp(previous, seal->head_hash.data, CORE_HASH_BYTES) == 0;
    if (ok)
        return decoded;
    free(decoded); // the operations are in the decode arena
    return NULL;
}

static int
stage_verified(core_t *self, core_origin_t *origin, const Storemesh__OpsBatch *ops,
               Storemesh__Operation **decoded, const Storemesh__Seal *seal)
{
    size_t applied = 0;
    for (size_t i = 0; i < ops->n_operations; i++) {
        if (decoded[i]->seq <= origin->staged_seq)
            continue; // already held: the overlap was checked against our head
        int rc = core_stage_remote(self, ops->operations[i].data, ops->operations[i].len,
                                   decoded[i]);
        if (rc)
            return rc;
        applied++;
    }
    uint8_t key[KEYS_MAX];
    size_t key_len = keys_log(key, origin->name, seal->seq);
    int rc = store_batch_put(&self->staging->batch, STORE_CF_SEAL, key, key_len, ops->seal.data,
                             ops->seal.len);
    if (rc == 0)
        rc = core_origin_stage(self, origin, seal->seq, seal->head_hash.data);
    self->staging->remote_operations += applied;
    self->counters.operations_received += applied;
    return rc;
}

static void
on_ops(core_t *self, core_peer_state_t *peer, const Storemesh__OpsBatch *ops)
{
    if (!ops->origin || ops->n_operations == 0 || ops->n_operations > CORE_OPS_BATCH_MAX ||
        ops->first_seq == 0 || ops->first_seq > UINT64_MAX - ops->n_operations) {
        self->counters.malformed++;
        return;
    }
    if (strcmp(ops->origin, self->name) == 0)
        return; // our own operations coming back: we hold them
    // Only origins whose key we hold get a table entry: a peer cannot fill the table
    // with made-up names and crowd out real origins.
    core_origin_t *origin = core_origin_find(self, ops->origin);
    if (!origin && peer_find(self, ops->origin))
        origin = core_origin_add(self, ops->origin);
    if (!origin || !origin->has_key) {
        self->counters.unknown_origin++;
        return;
    }
    uint64_t last_seq = ops->first_seq + ops->n_operations - 1;
    // The sender holds what it sends (only operations on its disk are sent): never
    // send them back to it. Without this every operation crossed each link twice.
    vv_raise_origin(self, peer->their_have, origin, last_seq);
    vv_raise_origin(self, peer->sent, origin, last_seq);
    if (last_seq <= origin->staged_seq) {
        // A repeat. Had from another peer first, it came twice over two paths: that
        // peer stops pushing this origin to us (the first path stays), and the mesh
        // carries each operation about once per node instead of once per link.
        self->counters.repeats++;
        bool twice = origin->last_from[0] && strcmp(origin->last_from, peer->name) != 0;
        send_ack(self, peer, (const char *const *)&ops->origin, 1, twice ? ACK_PRUNE : ACK_WRITTEN);
        return;
    }
    if (ops->first_seq > origin->staged_seq + 1) {
        self->counters.gaps++; // ask for what is missing: it sends from what we hold
        if (strcmp(peer->gap_origin, ops->origin) != 0 || peer->gap_held != origin->staged_seq) {
            sm_strlcpy(peer->gap_origin, ops->origin, sizeof peer->gap_origin);
            peer->gap_held = origin->staged_seq;
            send_ack(self, peer, (const char *const *)&ops->origin, 1, ACK_GAP);
        }
        return;
    }
    peer->batches_unacked++; // acknowledged once on disk (core_replicate_after_write)
    if (self->staging->remote_operations >= CORE_STAGED_REMOTE_MAX)
        return; // full for now: it comes again after the next Hello
    ProtobufCAllocator arena = arena_protobuf_allocator(&self->decode_arena);
    ProtobufCAllocator *allocator = &arena;
    Storemesh__Seal *seal = storemesh__seal__unpack(allocator, ops->seal.len, ops->seal.data);
    if (!seal || seal->seq != last_seq || !seal->origin || strcmp(seal->origin, ops->origin) != 0 ||
        !core_seal_verifies(seal, origin->public_key, &self->signer)) {
        fprintf(stderr,
                "storemesh: refused operations %s #%llu-%llu from %s: the signature does not "
                "verify against %s's key (forged or altered); nothing was applied\n",
                ops->origin, (unsigned long long)ops->first_seq, (unsigned long long)last_seq,
                peer->name, ops->origin);
        self->counters.forged++;
        return;
    }
    Storemesh__Operation **decoded = verify_chain(&self->signer, ops, origin, seal, allocator);
    if (!decoded) {
        fprintf(stderr,
                "storemesh: refused operations %s #%llu-%llu from %s: the hash chain is broken "
                "(altered, reordered or missing operations); nothing was applied\n",
                ops->origin, (unsigned long long)ops->first_seq, (unsigned long long)last_seq,
                peer->name);
        self->counters.broken_chain++;
    } else {
        int rc = stage_verified(self, origin, ops, decoded, seal);
        if (rc == 0) {
            sm_strlcpy(origin->last_from, peer->name, sizeof origin->last_from);
            origin->staged_ms = self->now_ms;
        }
        free(decoded);
        if (rc)
            core_fail_pending(self, rc);
    }
}

// A Hello or an Ack: what the peer holds, what it knows the authority holds, and
// how much it will take.
// A gap Ack: the peer holds less of these origins than we streamed (another
// peer's batches, or ours, were lost or overtaken). Stream them again from what it
// holds, now rather than at the next Hello; the batches in flight for them are void.
static void
rewind_sent(core_peer_state_t *peer, Storemesh__VvEntry *const *have, size_t count)
{
    for (size_t i = 0; i < count && i <= CORE_ORIGINS_MAX; i++) {
        if (!have[i] || !have[i]->origin)
            continue;
        size_t index = vv_lower_bound(peer->sent, have[i]->origin);
        if (index < peer->sent->count &&
            strcmp(peer->sent->entries[index].origin, have[i]->origin) == 0 &&
            peer->sent->entries[index].seq > have[i]->seq) {
            peer->sent->entries[index].seq = have[i]->seq;
            peer->sent->changes++;
            vv_mark_dirty(peer->sent, peer->sent->entries[index].origin);
        }
        size_t kept = 0;
        for (size_t k = 0; k < peer->pending_count; k++)
            if (strcmp(peer->pending[k].origin, have[i]->origin) != 0)
                peer->pending[kept++] = peer->pending[k];
        peer->pending_count = kept;
        peer->in_flight = (uint32_t)kept;
    }
    peer->caught_up = false; // sent went back: look at every origin again
}

// A Hello (hello true) carries the peer's whole version vector, or NULL have for
// the idle form (the one we hold already); an Ack carries only the origins that
// advanced, raised into what we hold for it. holds_ours: the Hello showed the
// peer holding everything we hold.
static void
on_have(core_t *self, core_peer_state_t *peer, Storemesh__VvEntry *const *have, size_t have_count,
        Storemesh__VvEntry *const *authority, size_t authority_count, uint32_t credit,
        bool hello, bool holds_ours)
{
    struct core_vv *their = peer->their_have;
    struct core_vv *old_have = NULL;
    if (hello && have) {
        their = vv_new(self->names);
        if (!their || vv_raise_from_proto(their, have, have_count)) {
            vv_free(their);
            self->counters.malformed++;
            return;
        }
        old_have = peer->their_have;
        peer->their_have = their;
        peer->authority_raised = false; // a new vector, with no change log
    } else if (!hello && (vv_raise_from_proto(their, have, have_count) ||
                          vv_raise_from_proto(peer->sent, have, have_count))) {
        self->counters.malformed++;
        return;
    }
    // An Ack settles the batches it shows held and leaves the rest in flight, so
    // credit never exceeds what the peer has room for (batches beyond it would be
    // dropped and sent again). A Hello restarts the stream from what it holds, so
    // a lost batch is sent again; but a batch sent a moment ago is more likely
    // crossing the Hello than lost, and sending it again made the peer take every
    // batch in flight twice at each Hello: those stay in flight (a lost one shows
    // as a gap when the next arrives, or is sent again at the next Hello).
    size_t kept = 0;
    for (size_t i = 0; i < peer->pending_count; i++) {
        bool keep = peer->pending[i].last_seq > vv_get(their, peer->pending[i].origin);
        if (keep && hello) {
            keep = peer->pending[i].sent_ms + pending_keep_ms(self) > self->now_ms;
            for (size_t k = 0; keep && k < i; k++) // an older one of its origin went: so does it
                if (strcmp(peer->pending[k].origin, peer->pending[i].origin) == 0 &&
                    !peer->pending[k].kept)
                    keep = false;
        }
        peer->pending[i].kept = keep;
    }
    for (size_t i = 0; i < peer->pending_count; i++)
        if (peer->pending[i].kept)
            peer->pending[kept++] = peer->pending[i];
    peer->pending_count = kept;
    peer->in_flight = (uint32_t)kept;
    if (hello) {
        struct core_vv *sent = vv_take_spare(self, 2);
        if (sent && vv_copy_into(sent, their, false)) {
            vv_give_spare(self, 2, sent);
            sent = NULL;
        }
        for (size_t i = 0; sent && i < kept; i++)
            if (vv_raise(sent, peer->pending[i].origin, peer->pending[i].last_seq)) {
                vv_give_spare(self, 2, sent); // out of memory: keep the old stream position
                sent = NULL;
            }
        // sent may have gone back: look at every origin again, unless the peer
        // holds all we hold. Then sent, which is at least what it holds, lacks
        // nothing, as the walk would find after reading every origin's entry (a
        // cold line each: 6% of the L1 misses of chain-200's 24-hour cut).
        peer->caught_up = false;
        if (sent) {
            vv_give_spare(self, 2, peer->sent);
            peer->sent = sent;
            if (holds_ours) {
                peer->caught_up = true;
                peer->caught_up_generation = self->have_generation;
            }
        }
    }
    peer->hello_seen = true;
    peer->credit = credit < CORE_PEER_CREDIT_BATCHES ? credit : CORE_PEER_CREDIT_BATCHES;
    vv_raise_from_proto(self->authority_have, authority, authority_count);
    const char *authority_name = rules_authority(self->rules);
    if (authority_name && strcmp(peer->name, authority_name) == 0)
        vv_raise_from_proto(self->authority_have, have, have_count);
    vv_free(old_have);
    uint64_t acked = vv_get(self->authority_have, self->name);
    if (acked > self->authority_acked_seq)
        self->authority_acked_seq = acked;
}

// A prune: stop pushing these origins to the peer as we write them. A graft:
// push them again, from what it holds (the Ack's have raised sent to there).
static void
set_lazy(core_peer_state_t *peer, Storemesh__VvEntry *const *have, size_t count, bool prune)
{
    for (size_t i = 0; i < count && i <= CORE_ORIGINS_MAX; i++) {
        if (!have[i] || !have[i]->origin)
            continue;
        if (prune)
            vv_raise(peer->lazy, have[i]->origin, 1); // a bad name is refused: nothing to do
        else
            vv_remove(peer->lazy, have[i]->origin);
    }
    if (!prune)
        peer->caught_up = false; // look at the grafted origins again
}

typedef struct {
    const core_t *core;
    struct core_vv *behind; // being built: ahead, but we took some of it just now
    struct core_vv *graft;  // being built: ahead, and nothing came to us for a while
    int rc;
} behind_scan_t;

// The peer holds their_seq of origin. When that is more than we hold and nothing of
// the origin came to us within the grace (CORE_GRAFT_GRACE_MS, at most half a Hello
// period: a batch crossing a few hops is long there by then), the path that pushed it to us
// is gone (a link cut, or a peer that stopped): graft it now. Otherwise the rest may
// be on its way: note it, and graft at the peer's next Hello if it still has not come.
static void
note_ahead(behind_scan_t *scan, const char *origin, uint64_t their_seq)
{
    const core_t *self = scan->core;
    if (scan->rc || their_seq <= staged_seq(self, origin) || strcmp(origin, self->name) == 0)
        return;
    const core_origin_t *found = core_origin_find(self, origin);
    bool recent = found && found->staged_ms + pending_keep_ms(self) > self->now_ms;
    scan->rc = vv_raise(scan->behind, origin, their_seq); // looked at again at its next Hello
    if (scan->rc == 0 && !recent)
        scan->rc = vv_raise(scan->graft, origin, their_seq);
}

// After a Hello from the peer has been taken: push-path repair (docs/PROTOCOL.md
// "Sending"). Looks at the entries its Hello listed (all of them in a full Hello)
// and at those it was ahead on at its previous Hello; O(those entries).
static void
graft_behind(core_t *self, core_peer_state_t *peer, const Storemesh__Hello *hello, bool full)
{
    const struct core_vv *old = peer->behind;
    behind_scan_t scan = {
        .core = self, .behind = vv_take_spare(self, 0), .graft = vv_take_spare(self, 1)};
    if (!scan.behind || !scan.graft) {
        vv_give_spare(self, 0, scan.behind);
        vv_give_spare(self, 1, scan.graft);
        return; // out of memory: looked at again at its next Hello
    }
    for (size_t i = 0; i < old->count && scan.rc == 0; i++) {
        const char *origin = old->entries[i].origin;
        uint64_t their_seq = vv_get(peer->their_have, origin);
        if (old->entries[i].seq > staged_seq(self, origin)) {
            // A whole period, and still not here: graft, and look again at its next
            // Hello (a graft can be lost too, and an idle Hello lists nothing).
            scan.rc = vv_raise(scan.graft, origin, 1);
            if (scan.rc == 0)
                scan.rc = vv_raise(scan.behind, origin, their_seq);
        } else {
            note_ahead(&scan, origin, their_seq);
        }
    }
    const struct core_vv *their = peer->their_have;
    for (size_t i = 0; full && i < their->count; i++)
        note_ahead(&scan, their->entries[i].origin, their->entries[i].seq);
    for (size_t i = 0; !full && i < hello->n_have; i++)
        note_ahead(&scan, hello->have[i]->origin, hello->have[i]->seq);
    if (scan.rc == 0 && scan.graft->count > 0) {
        const char **names = calloc(scan.graft->count, sizeof *names);
        if (names) {
            for (size_t i = 0; i < scan.graft->count; i++)
                names[i] = scan.graft->entries[i].origin;
            send_ack(self, peer, names, scan.graft->count, ACK_GRAFT);
            self->counters.grafts += scan.graft->count;
            free(names);
        }
    }
    if (scan.rc == 0) {
        vv_give_spare(self, 0, peer->behind);
        peer->behind = scan.behind;
        scan.behind = NULL;
    }
    vv_give_spare(self, 0, scan.behind);
    vv_give_spare(self, 1, scan.graft);
}

// The authority's Hello raised what we hold for it (their_have): so is what we
// know it holds. Only the entries raised since the last time, from their_have's
// change log when it reaches back that far, else all of them: the same raises,
// as authority_have only grows and was at least their_have after the last time.
// A walk of all 200 entries for every Hello of the cloud was 3.5% of the
// instructions of chain-200's 24-hour cut.
static void
raise_authority_from(core_t *self, core_peer_state_t *peer)
{
    struct core_vv *their = peer->their_have;
    uint64_t since = peer->authority_raised_changes;
    bool missed = false; // a raise failed (out of memory, too many origins)
    if (peer->authority_raised && vv_log_reaches(their, since)) {
        for (uint64_t c = since + 1; c <= their->changes; c++) {
            const char *name = their->log->name[c % VV_CHANGES_MAX];
            if (vv_raise(self->authority_have, name, vv_get(their, name)))
                missed = true;
        }
    } else {
        size_t hint = 0; // both sorted: one walk
        for (size_t i = 0; i < their->count; i++)
            if (vv_raise_hinted(self->authority_have, their->entries[i].origin,
                                their->entries[i].seq, &hint))
                missed = true;
        if (vv_keep_log(their))
            missed = true;
    }
    // A raise missed, or no log: the next Hello walks them all again.
    peer->authority_raised = !missed;
    peer->authority_raised_changes = their->changes;
}

static void
on_hello(core_t *self, core_peer_state_t *peer, const Storemesh__Hello *hello)
{
    if (hello->rules_hash.len != RULES_HASH_BYTES ||
        memcmp(hello->rules_hash.data, rules_hash(self->rules), RULES_HASH_BYTES) != 0)
        self->counters.rules_mismatch++;
    if (hello->want_full)
        peer->wants_full = true;
    bool full = hello->have_digest.len != CORE_HASH_BYTES;
    bool matches = true;
    if (!full) {
        // The changed or idle form: what we hold for it, raised by the entries it
        // lists (none when idle: then the cached digest answers), must be its whole
        // version vector, which the digest names. Raised in place: every entry is
        // what it holds now, so what we hold stays true even when it does not match.
        if (hello->n_have && vv_raise_from_proto(peer->their_have, hello->have, hello->n_have)) {
            self->counters.malformed++;
            return;
        }
        uint8_t held[CORE_HASH_BYTES];
        vv_digest(&self->signer, peer->their_have, held);
        matches = peer->hello_seen && memcmp(held, hello->have_digest.data, CORE_HASH_BYTES) == 0;
    }
    if (!authority_heard_matches(self, peer, hello, full))
        matches = false;
    if (!matches) {
        peer->need_their_full = true; // we do not hold what it built on: ask
        send_hello(self, peer);
        return;
    }
    if (full) {
        on_have(self, peer, hello->have, hello->n_have, hello->authority_have,
                hello->n_authority_have, hello->credit, true, false);
        peer->need_their_full = false;
    } else {
        const char *authority_name = rules_authority(self->rules);
        if (authority_name && strcmp(peer->name, authority_name) == 0 && hello->n_have)
            raise_authority_from(self, peer);
        // Its digest names what it holds (checked above against what we hold for
        // it); equal to ours, it holds all we hold.
        uint8_t ours[CORE_HASH_BYTES];
        our_have_digest(self, ours);
        bool holds_ours = memcmp(ours, hello->have_digest.data, CORE_HASH_BYTES) == 0;
        on_have(self, peer, NULL, 0, hello->authority_have, hello->n_authority_have,
                hello->credit, true, holds_ours);
    }
    graft_behind(self, peer, hello, full);
    if (peer->wants_full)
        send_hello(self, peer);
}

void
core_peer_receive(core_t *self, const char *peer_name, const uint8_t *bytes, size_t len,
                  uint64_t wall_ms)
{
    self->now_ms = wall_ms;
    core_peer_state_t *peer = link_find(self, peer_name);
    if (!peer) {
        self->counters.unknown_peer++;
        return;
    }
    // Everything decoded from this message lives in the arena until the next one
    // (so nothing decoded into it is given to free_unpacked, which would only walk
    // it: 2.5% of a simulation's instructions).
    arena_reset(&self->decode_arena);
    ProtobufCAllocator arena = arena_protobuf_allocator(&self->decode_arena);
    Storemesh__PeerMessage *message = peer_message_unpack(&arena, len, bytes);
    if (!message || message->version != 1) {
        self->counters.malformed++;
        return;
    }
    peer->last_receive_ms = wall_ms;
    peer->silent = false;
    if (wall_ms + self->peer_timeout_ms < self->next_silence_ms)
        self->next_silence_ms = wall_ms + self->peer_timeout_ms; // a clock stepped back
    const char *authority_name = rules_authority(self->rules);
    if (authority_name && strcmp(peer_name, authority_name) == 0)
        self->authority_contact_ms = wall_ms;
    if (message->body_case == STOREMESH__PEER_MESSAGE__BODY_HELLO) {
        on_hello(self, peer, message->hello);
    } else if (message->body_case == STOREMESH__PEER_MESSAGE__BODY_ACK) {
        const Storemesh__Ack *ack = message->ack;
        // Not on a graft: a peer catching up on a long backlog grafts at each of its
        // Hellos, and a rewind would send every batch in flight again each time.
        // What was lost is sent again from its Hello, which restarts the stream.
        if (ack->gap)
            rewind_sent(peer, ack->have, ack->n_have);
        if (ack->prune || ack->graft)
            set_lazy(peer, ack->have, ack->n_have, ack->prune);
        on_have(self, peer, ack->have, ack->n_have, ack->authority_have, ack->n_authority_have,
                ack->credit, false, false);
    } else if (message->body_case == STOREMESH__PEER_MESSAGE__BODY_OPS) {
        on_ops(self, peer, message->ops);
    } else {
        self->counters.malformed++;
    }
    pump(self, peer);
}

// ---- timers, writes, peers ----

void
core_peer_link_up(core_t *self, const char *peer_name)
{
    core_peer_state_t *peer = link_find(self, peer_name);
    if (!peer)
        return;
    // What we sent while the link was down is gone, and so perhaps is its Hello:
    // ask for its whole version vector, whose arrival restarts our stream to it,
    // and tell it ours, which restarts its stream to us. Without this both wait
    // for the next timer, a second or (in a simulation) minutes away.
    peer->need_their_full = true;
    vv_free(peer->authority_told); // and the authority's vector whole, as it may have restarted
    peer->authority_told = NULL;
    // Its prunes and what it was behind on were about a link, perhaps a life, that
    // is gone: push it everything again until it prunes anew.
    peer->lazy->count = 0;
    peer->lazy->changes++;
    peer->behind->count = 0;
    peer->caught_up = false;
    // Nothing sent before the link came up is in flight: the Hello it answers with
    // would otherwise keep the freshest batches waiting for an Ack that never comes.
    peer->pending_count = 0;
    peer->in_flight = 0;
    send_hello(self, peer);
}

// A peer went silent (peer_timeout_ms without a message): the origins it was
// pushing to us reach us no more. Graft them from every peer still heard from, at
// once, rather than one Hello period per hop later (docs/PROTOCOL.md "Sending").
static void
graft_from_others(core_t *self, const core_peer_state_t *silent)
{
    const char **names = calloc(self->origin_count ? self->origin_count : 1, sizeof *names);
    if (!names)
        return;
    size_t count = 0;
    for (size_t i = 0; i < self->origin_count; i++)
        if (strcmp(self->origins[i].last_from, silent->name) == 0)
            names[count++] = self->origins[i].name;
    for (size_t k = 0; count > 0 && k < self->exchange_count; k++) {
        core_peer_state_t *peer = &self->peers[self->exchange_peers[k]];
        if (peer == silent || peer->silent || peer->last_receive_ms == 0)
            continue;
        send_ack(self, peer, names, count, ACK_GRAFT);
        self->counters.grafts += count;
    }
    free(names);
}

void
core_replicate_tick(core_t *self)
{
    if (self->now_ms >= self->next_silence_ms) {
        uint64_t next = UINT64_MAX;
        for (size_t k = 0; k < self->exchange_count; k++) {
            core_peer_state_t *peer = &self->peers[self->exchange_peers[k]];
            if (peer->silent || peer->last_receive_ms == 0)
                continue;
            uint64_t deadline = peer->last_receive_ms + self->peer_timeout_ms;
            if (self->now_ms >= deadline) {
                peer->silent = true; // until its next message
                graft_from_others(self, peer);
            } else if (deadline < next) {
                next = deadline;
            }
        }
        self->next_silence_ms = next;
    }
    // A wall clock stepped back (an NTP fix, a dead RTC battery reading 1970) would
    // otherwise silence our Hellos until it caught up again, years later: the
    // partition simulator found that. Re-arm the timer from the clock as it reads now.
    if (self->next_hello_ms > self->now_ms + self->anti_entropy_ms)
        self->next_hello_ms = self->now_ms;
    if (self->peer_count == 0 || self->now_ms < self->next_hello_ms)
        return;
    self->next_hello_ms = self->now_ms + self->anti_entropy_ms;
    for (size_t k = 0; k < self->exchange_count; k++) {
        core_peer_state_t *peer = &self->peers[self->exchange_peers[k]];
        send_hello(self, peer);
        pump(self, peer);
    }
}

void
core_replicate_after_write(core_t *self, const core_batch_t *batch)
{
    // The origins this batch advanced: what an Ack to the peers that sent them says.
    const char *names[64];
    const char **origins = names;
    size_t count = batch->origin_update_count;
    if (count > sizeof names / sizeof *names) {
        origins = malloc(count * sizeof *origins);
        if (!origins)
            count = 0; // the next Hello tells them instead
    }
    for (size_t i = 0; i < count; i++)
        origins[i] = batch->origin_updates[i].name;
    // And their entries in our table, found once for all peers (next_lacking's
    // hint, for this loop only; the table does not change during it).
    const core_origin_t *found_here[64];
    const core_origin_t **found = found_here;
    if (batch->origin_update_count > sizeof found_here / sizeof *found_here)
        found = malloc(batch->origin_update_count * sizeof *found);
    size_t found_count = 0;
    for (size_t i = 0; found && i < batch->origin_update_count; i++) {
        const core_origin_t *origin = core_origin_find(self, batch->origin_updates[i].name);
        if (origin)
            found[found_count++] = origin;
    }
    self->just_written = found;
    self->just_written_count = found_count;
    for (size_t k = 0; k < self->exchange_count; k++) {
        core_peer_state_t *peer = &self->peers[self->exchange_peers[k]];
        // Every CORE_ACK_EVERY_BATCHES batches, before its credit runs out; the
        // next Hello tells it about the rest. Acking every batch doubled the
        // messages of a mesh at low rates, where each batch is one operation.
        if (peer->batches_unacked >= CORE_ACK_EVERY_BATCHES) {
            peer->batches_unacked = 0;
            send_ack(self, peer, origins, count, ACK_WRITTEN);
        }
        pump(self, peer); // new operations on disk: stream them
    }
    self->just_written = NULL;
    self->just_written_count = 0;
    if (found != found_here)
        free(found);
    if (origins != names)
        free(origins);
}

static void
peer_state_free(core_peer_state_t *peer)
{
    vv_free(peer->their_have);
    vv_free(peer->sent);
    vv_free(peer->last_hello);
    vv_free(peer->authority_told);
    vv_free(peer->authority_heard);
    vv_free(peer->lazy);
    vv_free(peer->behind);
    peer->lazy = NULL;
    peer->behind = NULL;
    peer->their_have = NULL;
    peer->sent = NULL;
    peer->last_hello = NULL;
    peer->authority_told = NULL;
    peer->authority_heard = NULL;
}

int
core_set_peers(core_t *self, const core_peer_t *peers, size_t count)
{
    if (count > CORE_PEERS_MAX)
        return -SM_EFULL;
    if (!self->authority_have && !(self->authority_have = vv_new(self->names)))
        return -SM_ENOMEM;
    if (vv_keep_log(self->authority_have))
        return -SM_ENOMEM;
    core_peer_state_t *table = calloc(count ? count : 1, sizeof *table);
    uint32_t *exchange = malloc((count ? count : 1) * sizeof *exchange);
    if (!table || !exchange) {
        free(table);
        free(exchange);
        return -SM_ENOMEM;
    }
    for (size_t i = 0; i < count; i++) {
        core_peer_state_t *old = peer_find(self, peers[i].name);
        if (old && memcmp(old->public_key, peers[i].public_key, sizeof old->public_key) == 0) {
            table[i] = *old; // keep its stream state
            old->their_have = NULL;
            old->sent = NULL;
            old->last_hello = NULL;
            old->authority_told = NULL;
            old->authority_heard = NULL;
            old->lazy = NULL;
            old->behind = NULL;
        } else {
            table[i].their_have = vv_new(self->names);
            table[i].sent = vv_new(self->names);
            table[i].lazy = vv_new(self->names);
            table[i].behind = vv_new(self->names);
            snprintf(table[i].name, sizeof table[i].name, "%s", peers[i].name);
            table[i].name_key = name_key(table[i].name);
            memcpy(table[i].public_key, peers[i].public_key, sizeof table[i].public_key);
        }
        table[i].exchange = peers[i].exchange;
        if (!table[i].their_have || !table[i].sent || !table[i].lazy || !table[i].behind) {
            for (size_t k = 0; k <= i; k++)
                peer_state_free(&table[k]);
            free(table);
            free(exchange);
            return -SM_ENOMEM;
        }
        core_origin_t *origin = core_origin_find(self, peers[i].name);
        if (origin) {
            origin->has_key = true;
            memcpy(origin->public_key, peers[i].public_key, sizeof origin->public_key);
        }
    }
    for (size_t i = 0; i < self->peer_count; i++)
        peer_state_free(&self->peers[i]);
    free(self->peers);
    qsort(table, count, sizeof *table, compare_peer_names);
    self->peers = table;
    self->peer_count = count;
    free(self->exchange_peers);
    self->exchange_peers = exchange;
    self->exchange_count = 0;
    for (size_t i = 0; i < count; i++)
        if (table[i].exchange)
            exchange[self->exchange_count++] = (uint32_t)i;
    self->next_hello_ms = 0; // greet the new table at the next tick
    self->next_silence_ms = 0;
    return 0;
}

size_t
core_peers_status(const core_t *self, uint64_t wall_ms, core_peer_status_t *out, size_t max)
{
    size_t links = 0;
    for (size_t i = 0; i < self->peer_count; i++) {
        const core_peer_state_t *peer = &self->peers[i];
        if (!peer->exchange)
            continue;
        if (links >= max) {
            links++;
            continue;
        }
        core_peer_status_t *status = &out[links++];
        memset(status, 0, sizeof *status);
        status->name = peer->name;
        status->last_receive_ms = peer->last_receive_ms;
        status->connected = peer->last_receive_ms > 0 &&
                            wall_ms < peer->last_receive_ms + self->peer_timeout_ms;
        if (!peer->hello_seen)
            continue;
        uint64_t ours = self->durable.last_seq;
        uint64_t theirs = vv_get(peer->their_have, self->name);
        if (strcmp(peer->name, self->name) != 0 && ours > theirs)
            status->we_owe += ours - theirs;
        for (size_t k = 0; k < self->origin_count; k++) {
            const core_origin_t *origin = &self->origins[k];
            theirs = vv_get(peer->their_have, origin->name);
            if (strcmp(origin->name, peer->name) != 0 && origin->durable_seq > theirs)
                status->we_owe += origin->durable_seq - theirs;
        }
        for (size_t k = 0; k < peer->their_have->count; k++) {
            const vv_entry_t *entry = &peer->their_have->entries[k];
            uint64_t held = held_seq(self, entry->origin);
            if (entry->seq > held)
                status->they_owe += entry->seq - held;
        }
    }
    return links;
}

const core_replication_counters_t *
core_counters(const core_t *self)
{
    return &self->counters;
}

void
core_replicate_free(core_t *self)
{
    arena_release(&self->decode_arena);
    arena_release(&self->message_arena);
    for (int slot = 0; slot < 3; slot++) {
        vv_free(self->vv_spare[slot]);
        self->vv_spare[slot] = NULL;
    }
    for (size_t i = 0; i < self->peer_count; i++)
        peer_state_free(&self->peers[i]);
    free(self->peers);
    self->peers = NULL;
    self->peer_count = 0;
    free(self->exchange_peers);
    self->exchange_peers = NULL;
    self->exchange_count = 0;
    vv_free(self->authority_have);
    self->authority_have = NULL;
    for (size_t i = 0; self->sends && i < self->send_count; i++)
        free(self->sends[self->send_head + i].bytes);
    free(self->sends);
    self->sends = NULL;
    self->send_head = 0;
    free(self->send_handed_out.bytes);
    self->send_handed_out.bytes = NULL;
    free(self->last_batch.bytes);
    self->last_batch = (core_batch_message_t){0};
}
