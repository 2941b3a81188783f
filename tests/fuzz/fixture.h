// fixture: real node cores on real RocksDB databases in temporary directories, for the
// libFuzzer targets (tests/fuzz/fuzz_*.c) and the seed generator (make_seeds.c).
//
// The fuzz targets share one core per process (fixture_shared): opening RocksDB for
// every input would cost more than the input itself. It is "branch-1" of the example
// retail rules, linked to "cloud" (the rules' authority) and trusting "branch-2"'s key
// for relayed operations. Every key is derived from the node's name, so the seed
// corpus the generator writes carries seals that verify in the fuzz targets.
//
// A failure of the environment (no temporary directory, RocksDB cannot open or write)
// aborts with a message: it is not a finding, and a fuzz run must not go on without it.
#ifndef TESTS_FUZZ_FIXTURE_H
#define TESTS_FUZZ_FIXTURE_H

#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "rules.h"
#include "store_rocks.h"

#define FIXTURE_NODE "branch-1"
#define FIXTURE_PEER "cloud"       // a link, and the rules' authority
#define FIXTURE_RELAYED "branch-2" // key only: its operations come through the cloud
#define FIXTURE_PEERS_MAX 4
#define FIXTURE_EFFECTS_MAX 100000 // effects one drain carries out; more is a runaway core
// The clock starts here: early enough that a core without `storemesh init`'s
// creation time is not yet offline for too long (the rules allow 72 h).
#define FIXTURE_START_MS 1000000ULL

typedef struct {
    char name[CRDT_NAME_MAX + 1];
    char dir[256]; // the temporary data directory, removed by fixture_node_close
    store_rocks_t *store;
    core_t *core;
    uint8_t public_key[crypto_sign_PUBLICKEYBYTES];
    uint8_t secret_key[crypto_sign_SECRETKEYBYTES];
} fixture_node_t;

// Called for each REPLY and SEND effect a drain meets; the effect is borrowed for the call.
typedef void (*fixture_effect_fn)(void *arg, const fixture_node_t *node,
                                  const core_effect_t *effect);

// The example retail rules, loaded once; never NULL.
const rules_t *fixture_rules(void);
// The Ed25519 key pair of a node name, the same in every process.
void fixture_keypair(const char *name, uint8_t public_key[crypto_sign_PUBLICKEYBYTES],
                     uint8_t secret_key[crypto_sign_SECRETKEYBYTES]);
// Opens a core named name on a new temporary RocksDB (sync off: the fuzz runs need
// speed, not durability).
void fixture_node_open(fixture_node_t *node, const char *name);
// Closes and reopens the core and the store on the same directory, as a node restart.
// The peer table is empty again (set it).
void fixture_node_restart(fixture_node_t *node);
// Closes the core and the store and removes the directory.
void fixture_node_close(fixture_node_t *node);
// Sets node's peer table: links (exchange) and key-only names, keys from fixture_keypair.
void fixture_node_set_peers(fixture_node_t *node, const char *const *links, size_t link_count,
                            const char *const *key_only, size_t key_only_count);
// Flushes and carries out every effect: WRITEs go to the store and are reported done;
// REPLYs and SENDs go to fn (may be NULL). Aborts after FIXTURE_EFFECTS_MAX effects.
void fixture_node_drain(fixture_node_t *node, uint64_t now_ms, fixture_effect_fn fn, void *arg);
// Submits one command as request request_id (not drained); the core's rc.
int fixture_node_submit(fixture_node_t *node, uint64_t request_id, const char *type,
                        const char *key, const char *field, const char *op, const char *value,
                        uint64_t now_ms);

// The per-process branch-1 core, created at the first call with a few operations of
// its own (so a peer's Hello makes it stream from RocksDB) and removed at exit.
fixture_node_t *fixture_shared(void);
// The shared clock: advances by step_ms and returns the new time. The peer targets step
// 250 ms (a quarter of the anti-entropy period, so Hellos go out every few inputs).
uint64_t fixture_clock_advance(uint64_t step_ms);

#endif
