#include "sim_signer.h"

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

struct sim_signer {
    bool ed25519;
    memo_slot_t *slots;
    size_t used;
    uint64_t hits;
    uint64_t checks;
};

sim_signer_t *
sim_signer_new(bool ed25519)
{
    if (sodium_init() < 0)
        return NULL;
    sim_signer_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->ed25519 = ed25519;
    if (ed25519) {
        self->slots = calloc(MEMO_SLOTS, sizeof *self->slots);
        if (!self->slots) {
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
    free((*self_p)->slots);
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
    self->checks++;
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
    size_t index = (size_t)(keys_get_be64(digest + 16) & (MEMO_SLOTS - 1));
    for (;;) {
        memo_slot_t *slot = &self->slots[index];
        if (memcmp(slot->digest, zero, 16) == 0)
            break;
        if (memcmp(slot->digest, digest, 16) == 0) {
            self->hits++;
            return slot->valid;
        }
        index = (index + 1) & (MEMO_SLOTS - 1);
    }
    bool valid = crypto_sign_verify_detached(signature, message, len, public_key) == 0;
    if (self->used >= MEMO_SLOTS / 2) {
        memset(self->slots, 0, MEMO_SLOTS * sizeof *self->slots);
        self->used = 0;
        index = (size_t)(keys_get_be64(digest + 16) & (MEMO_SLOTS - 1));
    }
    memcpy(self->slots[index].digest, digest, 16);
    self->slots[index].valid = valid;
    self->used++;
    return valid;
}

core_signer_t
sim_signer_hooks(sim_signer_t *self)
{
    return (core_signer_t){.sign = sign_hook, .verify = verify_hook, .ctx = self};
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
