// memstore: the partition simulator's storage, behind the same store interface the
// node core uses on RocksDB (node/store.h), and no kinder than RocksDB: a batch is
// applied all or nothing; a batch written without sync is visible to reads but
// lives only in the "page cache" until a later synced write or memstore_sync; a
// power loss (memstore_crash) drops the unsynced batches, or keeps a prefix of them
// (a torn tail: RocksDB's WAL recovers a prefix of its records), as the caller's
// seeded choice says. I/O errors can be injected for the next writes. A
// differential test (tests/sim/memstore_test.c) runs one script through this and
// through real RocksDB. Deterministic: no clock, no randomness of its own.
#ifndef SIM_MEMSTORE_H
#define SIM_MEMSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

typedef struct memstore memstore_t;

// A pool lets many stores share the bytes of their log and seal entries: every
// node of a simulated mesh holds the same operations, and a 200-node run would
// otherwise keep 200 copies of each. Sharing changes nothing a reader sees.
typedef struct memstore_pool memstore_pool_t;
// NULL only when memory is exhausted.
memstore_pool_t *memstore_pool_new(void);
// Every store made with the pool must be destroyed first.
void memstore_pool_destroy(memstore_pool_t **self_p);

// NULL only when memory is exhausted.
memstore_t *memstore_new(void);
// A store whose log and seal entries live in pool (borrowed; it outlives the store).
memstore_t *memstore_new_shared(memstore_pool_t *pool);
void memstore_destroy(memstore_t **self_p);
store_reader_t memstore_reader(memstore_t *self);

// Applies batch atomically. With sync, it and every earlier unsynced batch become
// durable. 0; the injected error (see memstore_fail_next) with nothing applied;
// -SM_ENOMEM.
int memstore_write(memstore_t *self, const store_batch_t *batch, bool sync);
// Makes every unsynced batch durable (an fsync of the WAL).
void memstore_sync(memstore_t *self);
// A power loss: unsynced batches are lost, except the first keep_unsynced of them
// (in write order), which survive whole. Returns how many were lost.
size_t memstore_crash(memstore_t *self, size_t keep_unsynced);
// The next count writes fail with rc (e.g. -SM_EIO for a full disk) and change nothing.
void memstore_fail_next(memstore_t *self, size_t count, int rc);
size_t memstore_unsynced_count(const memstore_t *self);
// For tests: true when the store's own structures agree with each other (the skip
// list's levels, its finger, the state and meta index, the prefix hints that place
// log and seal keys). Takes time in proportion to the entries held.
bool memstore_is_consistent(const memstore_t *self);

#endif
