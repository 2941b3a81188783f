// store_rocks: the production storage adapter: the store interface on RocksDB, with
// one column family per kind of record (see store.h) and explicit options, so the
// node's memory and fsync behaviour do not depend on library defaults.
// Open it only in the process that uses it, after any fork().
#ifndef NODE_STORE_ROCKS_H
#define NODE_STORE_ROCKS_H

#include <stdbool.h>
#include <stddef.h>

#include "store.h"

typedef struct store_rocks store_rocks_t;

// Opens (create: creates) the database at path. NULL with *rc and err set:
// -SM_ENOTFOUND (no database there), -SM_EBUSY (held by another process), -SM_EIO.
store_rocks_t *store_rocks_open(const char *path, bool create, int *rc, char *err, size_t err_size);
void store_rocks_close(store_rocks_t **self_p);
store_reader_t store_rocks_reader(store_rocks_t *self);
// Writes batch atomically; with sync, returns only once it is on disk. 0, or with
// err set: -SM_EIO (RocksDB's text, e.g. "No space left on device"), -SM_ENOMEM.
int store_rocks_write(store_rocks_t *self, const store_batch_t *batch, bool sync, char *err,
                      size_t err_size);

#endif
