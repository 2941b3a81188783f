// crdt: the vocabulary shared by every merge kind: who did an operation (a tag),
// when in causal order (a stamp), what it asks (an op), and a growable byte buffer
// that holds a field's encoded state. Pure, deterministic, libc only.
//
// Ordering: stamps compare by HLC time, then by origin name (bytewise), then by
// sequence number. Every node that compares the same two stamps gets the same
// answer, which is what makes every merge byte-identical everywhere.
#ifndef CRDT_CRDT_H
#define CRDT_CRDT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sm_error.h"

// Node names travel in every operation; 63 bytes keeps a tag in one cache line.
#define CRDT_NAME_MAX 63
// Largest value (register value, set element) in bytes; documented in docs/RULES.md.
#define CRDT_VALUE_MAX 1024
// Most tags one op may carry as observed context (a remove, a keep-both set).
#define CRDT_OBSERVED_MAX 256

// Identifies one operation everywhere: its origin node and that origin's sequence.
typedef struct {
    char origin[CRDT_NAME_MAX + 1]; // NUL-terminated, NUL-padded (hashed as is)
    uint64_t seq;                   // 1-based, per origin
} crdt_tag_t;

// A tag with its hybrid-logical-clock time, for ordering.
typedef struct {
    uint64_t hlc; // see hlc.h: wall ms << 16 | logical counter
    crdt_tag_t tag;
} crdt_stamp_t;

typedef enum {
    CRDT_OP_ADD = 1,    // counter: add delta; set: add value
    CRDT_OP_REMOVE = 2, // set: remove value (the adds in observed)
    CRDT_OP_SET = 3,    // every register kind
} crdt_op_kind_t;

typedef struct {
    crdt_stamp_t stamp;
    crdt_op_kind_t kind;
    int64_t delta;              // counter add only
    const char *value;          // set/remove element or register value; not NUL-terminated
    size_t value_len;           // <= CRDT_VALUE_MAX
    const crdt_tag_t *observed; // causal context: tags this op supersedes (remove,
                                // keep-both set); borrowed for the call
    size_t observed_count;      // <= CRDT_OBSERVED_MAX
} crdt_op_t;

typedef struct {
    uint8_t *data;
    size_t len; // bytes in use
    size_t cap; // bytes allocated
} crdt_buf_t;

void crdt_buf_init(crdt_buf_t *self);
void crdt_buf_free(crdt_buf_t *self);
void crdt_buf_reset(crdt_buf_t *self); // len = 0, keeps memory
// 0 or -SM_ENOMEM.
int crdt_buf_append(crdt_buf_t *self, const void *data, size_t len);
// Makes room for len_max bytes in all, so appends up to it do not reallocate.
// 0 or -SM_ENOMEM.
int crdt_buf_reserve(crdt_buf_t *self, size_t len_max);

// Sets tag->origin from a NUL-terminated name, zero-padding the rest.
// 0, or -SM_EINVAL when the name is empty or longer than CRDT_NAME_MAX.
int crdt_tag_set(crdt_tag_t *tag, const char *origin, uint64_t seq);
// <0, 0, >0 by (origin bytewise, seq); the padding after the origin is not compared.
int crdt_tag_compare(const crdt_tag_t *a, const crdt_tag_t *b);
bool crdt_tag_equal(const crdt_tag_t *a, const crdt_tag_t *b);
// True when origin holds 1..CRDT_NAME_MAX bytes, is NUL-padded to the end, and
// seq >= 1: what crdt_tag_set produces for a seq >= 1.
bool crdt_tag_is_valid(const crdt_tag_t *tag);
// <0, 0, >0 by (hlc, origin, seq).
int crdt_stamp_compare(const crdt_stamp_t *a, const crdt_stamp_t *b);

#endif
