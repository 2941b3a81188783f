// sim_signer: how simulated nodes get their keys and check seals. Keys come from
// the run seed and the node name (libsodium's seeded key generation), never from
// a random source. Seals are checked either with real Ed25519, memoised (one
// seal is checked by every node of the mesh; the answer of a pure function is
// remembered, so a 200-node run pays for each check once), or, for very long
// runs, with a simulated signer: a keyed BLAKE2b-512 tag under the origin's
// public key. The simulated signer proves nothing about cryptography (real
// signatures are tested with real sockets and in the node tests); it keeps the
// replication code paths, seal layout and chain checks exactly as they are.
#ifndef SIM_SIGNER_H
#define SIM_SIGNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core.h"

typedef struct sim_signer sim_signer_t;

// NULL only when memory is exhausted. ed25519 false: the simulated signer.
sim_signer_t *sim_signer_new(bool ed25519);
void sim_signer_destroy(sim_signer_t **self_p);
// The core_signer_t to hand to core_new; borrows self.
core_signer_t sim_signer_hooks(sim_signer_t *self);
// Seal checks answered from memory / computed, since sim_signer_new.
uint64_t sim_signer_hits(const sim_signer_t *self);
uint64_t sim_signer_checks(const sim_signer_t *self);

// The key pair of node name in a run with seed (public 32 bytes, secret 64).
void sim_keys_derive(uint64_t seed, const char *name, uint8_t public_key[32],
                     uint8_t secret_key[64]);

#endif
