// name_pool: one stable copy of each node name a core has met, so that version
// vectors hold a pointer to the name instead of a 64-byte copy of it. A vector
// entry shrank from 128 to 32 bytes: a cloud keeps several vectors of every
// origin for each of its hundreds of peers, and walking and copying them was
// the simulator's largest cost after the merge. Names live until the pool goes.
// Bounded: at most NAME_POOL_MAX names, so a peer naming ever new origins
// cannot grow it without end.
#ifndef NODE_NAME_POOL_H
#define NODE_NAME_POOL_H

#include <stddef.h>

#include "name_key.h"

// Four times the origins a core takes (CORE_ORIGINS_MAX): names a vector held and
// dropped stay in the pool.
#define NAME_POOL_MAX 16384

typedef struct name_pool name_pool_t;

// NULL only when memory is exhausted.
name_pool_t *name_pool_new(void);
void name_pool_destroy(name_pool_t **self_p);

// The pool's copy of name (1 to CRDT_NAME_MAX bytes, as the caller checked), the
// same pointer for the same name for the pool's life. NULL when out of memory or
// when the pool holds NAME_POOL_MAX names already.
const char *name_pool_intern(name_pool_t *self, const char *name);
size_t name_pool_count(const name_pool_t *self);

#endif
