// op_pack must write exactly the bytes protobuf-c writes for an Operation: the
// operation's hash, and so every chain and seal, is over those bytes. Random
// operations from fixed seeds, every field at zero, small, large and absent.
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../crdt/prop.h"
#include "op_pack.h"
#include "storemesh.pb-c.h"

#define CASES 20000
#define SEED 20261206u

// 0, a small number, or any 64-bit number.
static uint64_t
number(prop_rng_t *rng)
{
    switch (prop_rng_next(rng) % 4) {
    case 0:
        return 0;
    case 1:
        return prop_rng_next(rng) % 300;
    case 2:
        return prop_rng_next(rng) >> (prop_rng_next(rng) % 64);
    default:
        return prop_rng_next(rng);
    }
}

// NULL, "", or up to 200 non-NUL bytes (some past 127, some past 127 in length).
static char *
text(prop_rng_t *rng, char *buffer)
{
    uint64_t pick = prop_rng_next(rng) % 8;
    if (pick == 0)
        return NULL;
    size_t len = pick == 1 ? 0 : prop_rng_next(rng) % 201;
    for (size_t i = 0; i < len; i++)
        buffer[i] = (char)(1 + prop_rng_next(rng) % 255);
    buffer[len] = 0;
    return buffer;
}

static ProtobufCBinaryData
bytes(prop_rng_t *rng, uint8_t *buffer)
{
    size_t len = prop_rng_next(rng) % 3 == 0 ? 0 : prop_rng_next(rng) % 160;
    for (size_t i = 0; i < len; i++)
        buffer[i] = (uint8_t)prop_rng_next(rng);
    return (ProtobufCBinaryData){len, buffer};
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
        op.origin = text(&r, strings[0]);
        op.seq = number(&r);
        op.hlc = number(&r);
        op.rules_hash = bytes(&r, blobs[0]);
        op.prev_hash = bytes(&r, blobs[1]);
        op.command_id = text(&r, strings[1]);
        op.source = text(&r, strings[2]);
        op.type = text(&r, strings[3]);
        op.key = text(&r, strings[4]);
        op.field = text(&r, strings[5]);
        op.op = (Storemesh__OpKind)((int)(prop_rng_next(&r) % 5) - 1); // -1 to 3
        static const int64_t edges[] = {0, 1, -1, INT64_MIN, INT64_MAX, -24};
        op.delta = prop_rng_next(&r) % 2 ? edges[prop_rng_next(&r) % 6] : (int64_t)prop_rng_next(&r);
        op.value = bytes(&r, blobs[2]);
        Storemesh__Tag tags[6];
        Storemesh__Tag *pointers[6];
        op.n_observed = prop_rng_next(&r) % 7;
        for (size_t i = 0; i < op.n_observed; i++) {
            storemesh__tag__init(&tags[i]);
            tags[i].origin = text(&r, tag_origins[i]);
            tags[i].seq = number(&r);
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
