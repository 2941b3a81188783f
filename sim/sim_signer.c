#include "sim_signer.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"

// Open addressing over 32-byte digests of (signature, message, key); cleared whole
// when it is half full, so memory stays bounded.
#define MEMO_SLOTS (1u << 20)

typedef struct {
    uint8_t digest[16]; // first 16 bytes of the BLAKE2b digest; all zero: empty
    bool valid;
} memo_slot_t;

// Nodes running on different threads (sim_window.h) share one signer: the memo is
// the mutex's, the counts are atomic.
struct sim_signer {
    bool ed25519;
    pthread_mutex_t mutex;
    memo_slot_t *slots;
    size_t used;
    uint64_t hits;
    uint64_t checks;
};

// ---- the hash memo ----
//
// Every simulated node hashes every operation it receives (its hash chain) and the
// version-vector entries of its Hellos: 200 nodes hash the same bytes 200 times, a
// tenth of a run. Each thread keeps a direct-mapped memo of BLAKE2b-256 results; an
// entry is used only when the input bytes are the same (compared whole), so the
// answer is always the one crypto_generichash gives. Per thread, so no lock: a
// run's windows (sim_window.h) hash on two threads at once.
#define HASH_MEMO_SLOTS (1u << 14)
#define HASH_MEMO_INPUT_MAX 224 // an operation is about 150 bytes; longer ones are hashed

typedef struct {
    uint64_t tag; // a quick hash of the input; 0: empty
    uint32_t len;
    uint8_t out[32];
    uint8_t input[HASH_MEMO_INPUT_MAX];
} hash_slot_t;

static _Thread_local hash_slot_t *hash_memo;
static pthread_key_t hash_memo_key; // frees a helper thread's memo when it ends
static pthread_once_t hash_memo_once = PTHREAD_ONCE_INIT;
static bool hash_memo_key_made;

static void
hash_memo_make_key(void)
{
    hash_memo_key_made = pthread_key_create(&hash_memo_key, free) == 0;
}

static uint64_t
quick_hash(const uint8_t *bytes, size_t len)
{
    uint64_t h = 0x9E3779B97F4A7C15ull ^ len;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) { // bounded by len
        uint64_t word;
        memcpy(&word, bytes + i, 8);
        h = (h ^ word) * 0xBF58476D1CE4E5B9ull;
        h ^= h >> 29;
    }
    uint64_t tail = 0;
    memcpy(&tail, bytes + i, len - i);
    h = (h ^ tail) * 0x94D049BB133111EBull;
    h ^= h >> 32;
    return h ? h : 1;
}

sim_signer_t *
sim_signer_new(bool ed25519)
{
    if (sodium_init() < 0)
        return NULL;
    sim_signer_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->ed25519 = ed25519;
    if (pthread_mutex_init(&self->mutex, NULL) != 0) {
        free(self);
        return NULL;
    }
    if (ed25519) {
        self->slots = calloc(MEMO_SLOTS, sizeof *self->slots);
        if (!self->slots) {
            pthread_mutex_destroy(&self->mutex);
            free(self);
            return NULL;
        }
    }
    return self;
}

void
sim_signer_destroy(sim_signer_t **self_p)
{
    if (!*self_p)
        return;
    pthread_mutex_destroy(&(*self_p)->mutex);
    free((*self_p)->slots);
    // This thread's hash memo (a helper's goes with its thread). The next run on
    // this thread makes another.
    if (hash_memo_key_made)
        pthread_setspecific(hash_memo_key, NULL);
    free(hash_memo);
    hash_memo = NULL;
    free(*self_p);
    *self_p = NULL;
}

static void
simulated_tag(uint8_t signature[64], const uint8_t *message, size_t len,
              const uint8_t *public_key)
{
    crypto_generichash(signature, 64, message, len, public_key, 32);
}

static void
sign_hook(void *ctx, uint8_t signature[64], const uint8_t *message, size_t len,
          const uint8_t *secret_key)
{
    sim_signer_t *self = ctx;
    if (self->ed25519)
        crypto_sign_detached(signature, NULL, message, len, secret_key);
    else
        simulated_tag(signature, message, len, secret_key + 32); // the public half
}

static bool
verify_hook(void *ctx, const uint8_t signature[64], const uint8_t *message, size_t len,
            const uint8_t *public_key)
{
    sim_signer_t *self = ctx;
    __atomic_fetch_add(&self->checks, 1, __ATOMIC_RELAXED);
    if (!self->ed25519) {
        uint8_t expected[64];
        simulated_tag(expected, message, len, public_key);
        return sodium_memcmp(expected, signature, 64) == 0;
    }
    crypto_generichash_state state;
    uint8_t digest[32];
    crypto_generichash_init(&state, NULL, 0, sizeof digest);
    crypto_generichash_update(&state, signature, 64);
    crypto_generichash_update(&state, public_key, 32);
    crypto_generichash_update(&state, message, len);
    crypto_generichash_final(&state, digest, sizeof digest);
    static const uint8_t zero[16];
    if (memcmp(digest, zero, 16) == 0)
        digest[0] = 1; // all zero marks an empty slot
    pthread_mutex_lock(&self->mutex);
    size_t index = (size_t)(keys_get_be64(digest + 16) & (MEMO_SLOTS - 1));
    for (;;) {
        memo_slot_t *slot = &self->slots[index];
        if (memcmp(slot->digest, zero, 16) == 0)
            break;
        if (memcmp(slot->digest, digest, 16) == 0) {
            self->hits++;
            bool valid = slot->valid;
            pthread_mutex_unlock(&self->mutex);
            return valid;
        }
        index = (index + 1) & (MEMO_SLOTS - 1);
    }
    pthread_mutex_unlock(&self->mutex);
    bool valid = crypto_sign_verify_detached(signature, message, len, public_key) == 0;
    pthread_mutex_lock(&self->mutex);
    // Another thread may have memoised it meanwhile: look again for its slot.
    index = (size_t)(keys_get_be64(digest + 16) & (MEMO_SLOTS - 1));
    while (memcmp(self->slots[index].digest, zero, 16) != 0 &&
           memcmp(self->slots[index].digest, digest, 16) != 0)
        index = (index + 1) & (MEMO_SLOTS - 1);
    if (memcmp(self->slots[index].digest, digest, 16) == 0) {
        pthread_mutex_unlock(&self->mutex);
        return valid;
    }
    if (self->used >= MEMO_SLOTS / 2) {
        memset(self->slots, 0, MEMO_SLOTS * sizeof *self->slots);
        self->used = 0;
        index = (size_t)(keys_get_be64(digest + 16) & (MEMO_SLOTS - 1));
    }
    memcpy(self->slots[index].digest, digest, 16);
    self->slots[index].valid = valid;
    self->used++;
    pthread_mutex_unlock(&self->mutex);
    return valid;
}

static void
hash_hook(void *ctx, uint8_t out[32], const uint8_t *bytes, size_t len)
{
    (void)ctx;
    if (len > HASH_MEMO_INPUT_MAX) {
        crypto_generichash(out, 32, bytes, len, NULL, 0);
        return;
    }
    if (!hash_memo) {
        pthread_once(&hash_memo_once, hash_memo_make_key);
        hash_memo = calloc(HASH_MEMO_SLOTS, sizeof *hash_memo);
        if (hash_memo && hash_memo_key_made)
            pthread_setspecific(hash_memo_key, hash_memo);
    }
    uint64_t tag = quick_hash(bytes, len);
    hash_slot_t *slot = hash_memo ? &hash_memo[tag & (HASH_MEMO_SLOTS - 1)] : NULL;
    if (slot && slot->tag == tag && slot->len == len && memcmp(slot->input, bytes, len) == 0) {
        memcpy(out, slot->out, 32);
        return;
    }
    crypto_generichash(out, 32, bytes, len, NULL, 0);
    if (slot) {
        slot->tag = tag;
        slot->len = (uint32_t)len;
        memcpy(slot->out, out, 32);
        memcpy(slot->input, bytes, len);
    }
}

core_signer_t
sim_signer_hooks(sim_signer_t *self)
{
    return (core_signer_t){.sign = sign_hook, .verify = verify_hook, .hash = hash_hook, .ctx = self};
}

uint64_t
sim_signer_hits(const sim_signer_t *self)
{
    return self->hits;
}

uint64_t
sim_signer_checks(const sim_signer_t *self)
{
    return self->checks;
}

void
sim_keys_derive(uint64_t seed, const char *name, uint8_t public_key[32], uint8_t secret_key[64])
{
    uint8_t material[crypto_sign_SEEDBYTES];
    uint8_t seed_bytes[8];
    keys_put_be64(seed_bytes, seed);
    crypto_generichash_state state;
    crypto_generichash_init(&state, (const uint8_t *)"storemesh-sim-key", 17, sizeof material);
    crypto_generichash_update(&state, seed_bytes, sizeof seed_bytes);
    crypto_generichash_update(&state, (const uint8_t *)name, strlen(name));
    crypto_generichash_final(&state, material, sizeof material);
    crypto_sign_seed_keypair(public_key, secret_key, material);
}
