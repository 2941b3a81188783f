// peer_pack must write exactly the bytes protobuf-c writes for a PeerMessage (a
// peer in another language reads them with its own protobuf library, and the
// simulator's byte counts are the wire's), and peer_message_unpack must read what
// protobuf-c reads and refuse what it refuses. Random Hellos, OpsBatches and Acks
// from fixed seeds, every field at zero, small, large and absent, and damaged
// copies of their bytes; then the non-canonical encodings the fast path hands to
// protobuf-c, one by one.
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "peer_pack.h"
#include "storemesh.pb-c.h"
#include "wire_random.h"

#define CASES 20000
#define SEED 20261207u
#define ENTRIES_MAX 40
#define OPERATIONS_MAX 12

typedef struct {
    char strings[3][256];
    uint8_t blobs[4][256];
    char origins[2][ENTRIES_MAX][256];
    Storemesh__VvEntry entries[2][ENTRIES_MAX];
    Storemesh__VvEntry *pointers[2][ENTRIES_MAX];
    uint8_t operations[OPERATIONS_MAX][256];
    ProtobufCBinaryData operation_data[OPERATIONS_MAX];
    Storemesh__Hello hello;
    Storemesh__OpsBatch ops;
    Storemesh__Ack ack;
} message_buffers_t;

// list (0 or 1) of up to ENTRIES_MAX entries, some with no origin or seq.
static size_t
random_entries(prop_rng_t *r, message_buffers_t *b, int list, Storemesh__VvEntry ***out)
{
    size_t count = prop_rng_next(r) % 3 == 0 ? 0 : prop_rng_next(r) % (ENTRIES_MAX + 1);
    for (size_t i = 0; i < count; i++) {
        Storemesh__VvEntry *entry = &b->entries[list][i];
        storemesh__vv_entry__init(entry);
        entry->origin = wire_random_text(r, b->origins[list][i]);
        entry->seq = wire_random_number(r);
        b->pointers[list][i] = entry;
    }
    *out = b->pointers[list];
    return count;
}

// A bool as the core might hold one: false, true, or another non-zero int.
static protobuf_c_boolean
random_bool(prop_rng_t *r)
{
    static const protobuf_c_boolean values[] = {0, 1, 0, 1, 2, -1};
    return values[prop_rng_next(r) % 6];
}

// A random message of each body (or none) whose strings and bytes live in b.
static void
random_message(prop_rng_t *r, message_buffers_t *b, Storemesh__PeerMessage *message)
{
    storemesh__peer_message__init(message);
    static const uint32_t versions[] = {0, 1, 1, 1, 2, UINT32_MAX};
    message->version = versions[prop_rng_next(r) % 6];
    switch (prop_rng_next(r) % 7) {
    case 0:
        return; // no body
    case 1:
    case 2: {
        Storemesh__Hello *hello = &b->hello;
        storemesh__hello__init(hello);
        hello->node = wire_random_text(r, b->strings[0]);
        hello->mesh = wire_random_text(r, b->strings[1]);
        hello->rules_hash = wire_random_bytes(r, b->blobs[0]);
        hello->n_have = random_entries(r, b, 0, &hello->have);
        hello->n_authority_have = random_entries(r, b, 1, &hello->authority_have);
        hello->credit = (uint32_t)wire_random_number(r);
        hello->have_digest = wire_random_bytes(r, b->blobs[1]);
        hello->want_full = random_bool(r);
        hello->authority_digest = wire_random_bytes(r, b->blobs[2]);
        message->body_case = STOREMESH__PEER_MESSAGE__BODY_HELLO;
        message->hello = hello;
        return;
    }
    case 3:
    case 4: {
        Storemesh__OpsBatch *ops = &b->ops;
        storemesh__ops_batch__init(ops);
        ops->origin = wire_random_text(r, b->strings[2]);
        ops->first_seq = wire_random_number(r);
        ops->n_operations = prop_rng_next(r) % (OPERATIONS_MAX + 1);
        for (size_t i = 0; i < ops->n_operations; i++)
            b->operation_data[i] = wire_random_bytes(r, b->operations[i]); // some empty
        ops->operations = b->operation_data;
        ops->seal = wire_random_bytes(r, b->blobs[3]);
        message->body_case = STOREMESH__PEER_MESSAGE__BODY_OPS;
        message->ops = ops;
        return;
    }
    default: {
        Storemesh__Ack *ack = &b->ack;
        storemesh__ack__init(ack);
        ack->n_have = random_entries(r, b, 0, &ack->have);
        ack->n_authority_have = random_entries(r, b, 1, &ack->authority_have);
        ack->credit = (uint32_t)wire_random_number(r);
        ack->gap = random_bool(r);
        ack->prune = random_bool(r);
        ack->graft = random_bool(r);
        message->body_case = STOREMESH__PEER_MESSAGE__BODY_ACK;
        message->ack = ack;
        return;
    }
    }
}

// The counts and the case directly; every value through protobuf-c's encoding of
// both (which carries unknown fields too).
static bool
same_message(const Storemesh__PeerMessage *a, const Storemesh__PeerMessage *b)
{
    if (a->version != b->version || a->body_case != b->body_case ||
        a->base.n_unknown_fields != b->base.n_unknown_fields)
        return false;
    if (a->body_case == STOREMESH__PEER_MESSAGE__BODY_HELLO &&
        (a->hello->n_have != b->hello->n_have ||
         a->hello->n_authority_have != b->hello->n_authority_have))
        return false;
    if (a->body_case == STOREMESH__PEER_MESSAGE__BODY_OPS &&
        a->ops->n_operations != b->ops->n_operations)
        return false;
    if (a->body_case == STOREMESH__PEER_MESSAGE__BODY_ACK &&
        (a->ack->n_have != b->ack->n_have || a->ack->n_authority_have != b->ack->n_authority_have))
        return false;
    static uint8_t x[65536], y[65536];
    size_t x_len = storemesh__peer_message__get_packed_size(a);
    size_t y_len = storemesh__peer_message__get_packed_size(b);
    if (x_len != y_len || x_len > sizeof x)
        return false;
    storemesh__peer_message__pack(a, x);
    storemesh__peer_message__pack(b, y);
    return memcmp(x, y, x_len) == 0;
}

Test(peer_pack, writes_the_bytes_protobuf_c_writes)
{
    prop_rng_t rng = {SEED};
    static message_buffers_t buffers;
    static uint8_t ours[65536], theirs[65536];
    size_t bodies[5] = {0};
    for (int c = 0; c < CASES; c++) {
        uint64_t case_seed = prop_rng_next(&rng);
        prop_rng_t r = {case_seed};
        Storemesh__PeerMessage message;
        random_message(&r, &buffers, &message);
        bodies[message.body_case == 0 ? 0 : message.body_case - 1]++;
        size_t expected = storemesh__peer_message__get_packed_size(&message);
        cr_assert_leq(expected, sizeof theirs);
        cr_assert_eq(peer_message_pack_size(&message), expected,
                     "case %d (seed %" PRIu64 "): size %zu, protobuf-c %zu", c, case_seed,
                     peer_message_pack_size(&message), expected);
        size_t written = peer_message_pack(&message, ours);
        storemesh__peer_message__pack(&message, theirs);
        cr_assert_eq(written, expected, "case %d (seed %" PRIu64 "): length", c, case_seed);
        cr_assert_eq(memcmp(ours, theirs, expected), 0, "case %d (seed %" PRIu64 "): bytes", c,
                     case_seed);
    }
    // Every body was written many times (cases 1 to 6 of random_message's 7).
    cr_assert_gt(bodies[0], CASES / 20);
    cr_assert_gt(bodies[1], CASES / 5);
    cr_assert_gt(bodies[2], CASES / 5);
    cr_assert_gt(bodies[3], CASES / 5);
}

Test(peer_pack, reads_what_protobuf_c_reads)
{
    prop_rng_t rng = {SEED + 1};
    static message_buffers_t buffers;
    static uint8_t packed[65536 + 64];
    arena_t arena = {0};
    ProtobufCAllocator allocator = arena_protobuf_allocator(&arena);
    size_t damaged_read = 0, damaged_refused = 0;
    for (int c = 0; c < CASES; c++) {
        uint64_t case_seed = prop_rng_next(&rng);
        prop_rng_t r = {case_seed};
        Storemesh__PeerMessage message;
        random_message(&r, &buffers, &message);
        size_t len = storemesh__peer_message__pack(&message, packed);
        // The bytes as written, then damaged (wire_random_damage).
        for (int damage = 0; damage < 4; damage++) {
            size_t n = wire_random_damage(&r, damage, packed, len);
            arena_reset(&arena);
            Storemesh__PeerMessage *ours = peer_message_unpack(&allocator, n, packed);
            Storemesh__PeerMessage *theirs = storemesh__peer_message__unpack(NULL, n, packed);
            cr_assert_eq(ours == NULL, theirs == NULL,
                         "case %d damage %d (seed %" PRIu64 "): peer_message_unpack %s, "
                         "protobuf-c %s",
                         c, damage, case_seed, ours ? "read it" : "refused",
                         theirs ? "read it" : "refused");
            if (ours)
                cr_assert(same_message(ours, theirs),
                          "case %d damage %d (seed %" PRIu64 "): the messages differ", c, damage,
                          case_seed);
            if (damage == 0) {
                // What an encoder writes is read by the fast path, and is the message.
                Storemesh__PeerMessage *fast = NULL;
                arena_reset(&arena);
                cr_assert_eq(peer_message_read(&allocator, n, packed, &fast), WIRE_FAST_OK,
                             "case %d (seed %" PRIu64 "): not read by the fast path", c,
                             case_seed);
                cr_assert(same_message(fast, &message),
                          "case %d (seed %" PRIu64 "): not the message written", c, case_seed);
            } else if (ours) {
                damaged_read++;
            } else {
                damaged_refused++;
            }
            storemesh__peer_message__free_unpacked(theirs, NULL);
            len = storemesh__peer_message__pack(&message, packed); // undamaged for the next
        }
    }
    // The damage reached both outcomes often.
    cr_assert_gt(damaged_read, CASES / 10);
    cr_assert_gt(damaged_refused, CASES / 10);
    arena_release(&arena);
}

// Decodes bytes both ways; asserts the fast path said no and the results agree.
static void
check_handed_over(const char *what, const uint8_t *bytes, size_t len, bool protobuf_c_reads)
{
    arena_t arena = {0};
    ProtobufCAllocator allocator = arena_protobuf_allocator(&arena);
    Storemesh__PeerMessage *fast = NULL;
    cr_assert_eq(peer_message_read(&allocator, len, bytes, &fast), WIRE_FAST_NO,
                 "%s: the fast path read it", what);
    arena_reset(&arena);
    Storemesh__PeerMessage *ours = peer_message_unpack(&allocator, len, bytes);
    Storemesh__PeerMessage *theirs = storemesh__peer_message__unpack(NULL, len, bytes);
    cr_assert_eq(theirs != NULL, protobuf_c_reads, "%s: protobuf-c %s", what,
                 theirs ? "read it" : "refused it");
    cr_assert_eq(ours != NULL, theirs != NULL, "%s: peer_message_unpack disagrees", what);
    if (ours)
        cr_assert(same_message(ours, theirs), "%s: the messages differ", what);
    storemesh__peer_message__free_unpacked(theirs, NULL);
    arena_release(&arena);
}

Test(peer_pack, hands_what_is_not_canonical_to_protobuf_c)
{
    // version 1; an Ack (field 4) whose have (field 1) holds entries {"a", 5}.
    // A run of have split by credit (3): protobuf-c joins the two runs.
    static const uint8_t split_run[] = {0x08, 0x01, 0x22, 0x0e, 0x0a, 0x05, 0x0a, 0x01, 'a',
                                        0x10, 0x05, 0x18, 0x10, 0x0a, 0x03, 0x0a, 0x01, 'b'};
    check_handed_over("a repeated field in two runs", split_run, sizeof split_run, true);
    // Fields out of order: credit before version.
    static const uint8_t out_of_order[] = {0x22, 0x02, 0x18, 0x10, 0x08, 0x01};
    check_handed_over("fields out of order", out_of_order, sizeof out_of_order, true);
    // Two bodies, a Hello then an Ack: protobuf-c keeps the last.
    static const uint8_t two_bodies[] = {0x08, 0x01, 0x12, 0x02, 0x30,
                                         0x04, 0x22, 0x02, 0x18, 0x10};
    check_handed_over("two bodies", two_bodies, sizeof two_bodies, true);
    // A version in two bytes where one does (0x81 0x00 is 1).
    static const uint8_t long_varint[] = {0x08, 0x81, 0x00, 0x22, 0x00};
    check_handed_over("a varint not in its shortest form", long_varint, sizeof long_varint, true);
    // A body's length in six bytes: protobuf-c reads at most five.
    static const uint8_t long_length[] = {0x08, 0x01, 0x22, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
    check_handed_over("a length in six bytes", long_length, sizeof long_length, false);
    // An unknown field (15) in an Ack: protobuf-c keeps it.
    static const uint8_t unknown[] = {0x08, 0x01, 0x22, 0x02, 0x78, 0x07};
    check_handed_over("an unknown field", unknown, sizeof unknown, true);
    // want_full written as 2: protobuf-c reads true.
    static const uint8_t bool_two[] = {0x08, 0x01, 0x12, 0x02, 0x40, 0x02};
    check_handed_over("a bool of 2", bool_two, sizeof bool_two, true);
    // credit past 32 bits: protobuf-c keeps the low ones.
    static const uint8_t wide_credit[] = {0x08, 0x01, 0x12, 0x06, 0x30,
                                          0x81, 0x80, 0x80, 0x80, 0x10};
    check_handed_over("a uint32 past 32 bits", wide_credit, sizeof wide_credit, true);
    // An empty Hello node name written out.
    static const uint8_t empty_string[] = {0x08, 0x01, 0x12, 0x02, 0x0a, 0x00};
    check_handed_over("an empty string written out", empty_string, sizeof empty_string, true);
    // A seq with the wire type of a fixed64.
    static const uint8_t wrong_wire[] = {0x08, 0x01, 0x1a, 0x09, 0x11, 1, 2, 3, 4, 5, 6, 7, 8};
    check_handed_over("the wrong wire type", wrong_wire, sizeof wrong_wire, false);
}
