// op_pack must write exactly the bytes protobuf-c writes for an Operation: the
// operation's hash, and so every chain and seal, is over those bytes. op_unpack
// must read what protobuf-c reads, and refuse what it refuses. Random operations
// from fixed seeds, every field at zero, small, large and absent, and damaged
// copies of their bytes.
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "op_pack.h"
#include "storemesh.pb-c.h"
#include "wire_random.h"

#define CASES 20000
#define SEED 20261206u

typedef struct {
    char strings[8][256];
    uint8_t blobs[3][256];
    char tag_origins[6][256];
    Storemesh__Tag tags[6];
    Storemesh__Tag *pointers[6];
} op_buffers_t;

// A random operation whose strings and bytes live in buffers.
static void
random_operation(prop_rng_t *r, op_buffers_t *b, Storemesh__Operation *op)
{
    storemesh__operation__init(op);
    op->origin = wire_random_text(r, b->strings[0]);
    op->seq = wire_random_number(r);
    op->hlc = wire_random_number(r);
    op->rules_hash = wire_random_bytes(r, b->blobs[0]);
    op->prev_hash = wire_random_bytes(r, b->blobs[1]);
    op->command_id = wire_random_text(r, b->strings[1]);
    op->source = wire_random_text(r, b->strings[2]);
    op->type = wire_random_text(r, b->strings[3]);
    op->key = wire_random_text(r, b->strings[4]);
    op->field = wire_random_text(r, b->strings[5]);
    op->op = (Storemesh__OpKind)((int)(prop_rng_next(r) % 5) - 1); // -1 to 3
    static const int64_t edges[] = {0, 1, -1, INT64_MIN, INT64_MAX, -24};
    op->delta = prop_rng_next(r) % 2 ? edges[prop_rng_next(r) % 6] : (int64_t)prop_rng_next(r);
    op->value = wire_random_bytes(r, b->blobs[2]);
    op->n_observed = prop_rng_next(r) % 7;
    for (size_t i = 0; i < op->n_observed; i++) {
        storemesh__tag__init(&b->tags[i]);
        b->tags[i].origin = wire_random_text(r, b->tag_origins[i]);
        b->tags[i].seq = wire_random_number(r);
        b->pointers[i] = &b->tags[i];
    }
    op->observed = b->pointers;
}

static bool
same_text(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static bool
same_bytes(ProtobufCBinaryData a, ProtobufCBinaryData b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0);
}

// Field by field, and their encodings (which carry unknown fields too).
static bool
same_operation(const Storemesh__Operation *a, const Storemesh__Operation *b)
{
    if (!same_text(a->origin, b->origin) || a->seq != b->seq || a->hlc != b->hlc ||
        !same_bytes(a->rules_hash, b->rules_hash) || !same_bytes(a->prev_hash, b->prev_hash) ||
        !same_text(a->command_id, b->command_id) || !same_text(a->source, b->source) ||
        !same_text(a->type, b->type) || !same_text(a->key, b->key) ||
        !same_text(a->field, b->field) || a->op != b->op || a->delta != b->delta ||
        !same_bytes(a->value, b->value) || a->n_observed != b->n_observed ||
        a->base.n_unknown_fields != b->base.n_unknown_fields)
        return false;
    for (size_t i = 0; i < a->n_observed; i++)
        if (!same_text(a->observed[i]->origin, b->observed[i]->origin) ||
            a->observed[i]->seq != b->observed[i]->seq)
            return false;
    static uint8_t x[8192], y[8192];
    size_t x_len = storemesh__operation__get_packed_size(a);
    size_t y_len = storemesh__operation__get_packed_size(b);
    if (x_len != y_len || x_len > sizeof x)
        return false;
    storemesh__operation__pack(a, x);
    storemesh__operation__pack(b, y);
    return memcmp(x, y, x_len) == 0;
}

Test(op_pack, reads_what_protobuf_c_reads)
{
    prop_rng_t rng = {SEED + 1};
    static op_buffers_t buffers;
    static uint8_t packed[4096 + 64];
    arena_t arena = {0};
    ProtobufCAllocator allocator = arena_protobuf_allocator(&arena);
    size_t fast = 0;
    for (int c = 0; c < CASES; c++) {
        uint64_t case_seed = prop_rng_next(&rng);
        prop_rng_t r = {case_seed};
        Storemesh__Operation op;
        random_operation(&r, &buffers, &op);
        size_t len = storemesh__operation__pack(&op, packed);
        // The bytes as written, then damaged (wire_random_damage).
        for (int damage = 0; damage < 4; damage++) {
            size_t n = wire_random_damage(&r, damage, packed, len);
            arena_reset(&arena);
            Storemesh__Operation *ours = op_unpack(&allocator, n, packed);
            Storemesh__Operation *theirs = storemesh__operation__unpack(NULL, n, packed);
            cr_assert_eq(ours == NULL, theirs == NULL,
                         "case %d damage %d (seed %" PRIu64 "): op_unpack %s, protobuf-c %s", c,
                         damage, case_seed, ours ? "read it" : "refused", theirs ? "read it" : "refused");
            if (ours)
                cr_assert(same_operation(ours, theirs),
                          "case %d damage %d (seed %" PRIu64 "): the operations differ", c, damage,
                          case_seed);
            if (damage == 0) {
                cr_assert(ours && same_operation(ours, &op) == same_operation(theirs, &op),
                          "case %d (seed %" PRIu64 "): not the operation written", c, case_seed);
                fast++;
            }
            storemesh__operation__free_unpacked(theirs, NULL);
            len = storemesh__operation__pack(&op, packed); // undamaged for the next
        }
    }
    cr_assert_eq(fast, CASES);
    arena_release(&arena);
}

Test(op_pack, writes_the_bytes_protobuf_c_writes)
{
    prop_rng_t rng = {SEED};
    static char strings[8][256];
    static uint8_t blobs[3][256];
    static char tag_origins[6][256];
    static uint8_t ours[4096], theirs[4096];
    for (int c = 0; c < CASES; c++) {
        uint64_t case_seed = prop_rng_next(&rng);
        prop_rng_t r = {case_seed};
        Storemesh__Operation op = STOREMESH__OPERATION__INIT;
        op.origin = wire_random_text(&r, strings[0]);
        op.seq = wire_random_number(&r);
        op.hlc = wire_random_number(&r);
        op.rules_hash = wire_random_bytes(&r, blobs[0]);
        op.prev_hash = wire_random_bytes(&r, blobs[1]);
        op.command_id = wire_random_text(&r, strings[1]);
        op.source = wire_random_text(&r, strings[2]);
        op.type = wire_random_text(&r, strings[3]);
        op.key = wire_random_text(&r, strings[4]);
        op.field = wire_random_text(&r, strings[5]);
        op.op = (Storemesh__OpKind)((int)(prop_rng_next(&r) % 5) - 1); // -1 to 3
        static const int64_t edges[] = {0, 1, -1, INT64_MIN, INT64_MAX, -24};
        op.delta = prop_rng_next(&r) % 2 ? edges[prop_rng_next(&r) % 6] : (int64_t)prop_rng_next(&r);
        op.value = wire_random_bytes(&r, blobs[2]);
        Storemesh__Tag tags[6];
        Storemesh__Tag *pointers[6];
        op.n_observed = prop_rng_next(&r) % 7;
        for (size_t i = 0; i < op.n_observed; i++) {
            storemesh__tag__init(&tags[i]);
            tags[i].origin = wire_random_text(&r, tag_origins[i]);
            tags[i].seq = wire_random_number(&r);
            pointers[i] = &tags[i];
        }
        op.observed = pointers;
        size_t expected = storemesh__operation__get_packed_size(&op);
        cr_assert_leq(expected, sizeof theirs);
        cr_assert_eq(op_pack_size(&op), expected, "case %d (seed %" PRIu64 "): size", c,
                     case_seed);
        size_t written = op_pack(&op, ours);
        storemesh__operation__pack(&op, theirs);
        cr_assert_eq(written, expected, "case %d (seed %" PRIu64 "): length", c, case_seed);
        cr_assert_eq(memcmp(ours, theirs, expected), 0, "case %d (seed %" PRIu64 "): bytes", c,
                     case_seed);
    }
}
