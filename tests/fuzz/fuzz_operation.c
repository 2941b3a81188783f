// libFuzzer target: the Operation and Seal decoders and the merge code behind them,
// without a node. The input is tried three ways:
//   - as an Operation: turned into a crdt_op_t as the core does for another
//     origin's operation (core_stage_remote), applied to a new field of every merge
//     kind, viewed, and applied again, which must leave the state byte-identical
//     (field.h: an op already reflected changes nothing);
//   - as an Operation read by op_unpack (the core's decoder for received
//     operations), which must accept exactly what protobuf-c accepts and give an
//     operation that encodes to the same bytes;
//   - as a Seal: decoded and its fields read;
//   - as a stored field state of every merge kind (what RocksDB hands back): viewed,
//     asked for observed tags, and given one op of each kind and the decoded one.
// Every result code is allowed except a crash, a leak, a sanitizer report, or a
// broken contract (reported with abort()).
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "crdt.h"
#include "field.h"
#include "op_pack.h"
#include "storemesh.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define KIND_FIRST CRDT_KIND_COUNTER
#define KIND_LAST CRDT_KIND_OWNER
#define VIEW_OWNER "cloud" // the owner an owner register shows when the op names none

static void
contract_broken(const char *what, crdt_kind_t kind)
{
    fprintf(stderr, "fuzz_operation: %s (merge kind %s)\n", what, crdt_kind_name(kind));
    abort();
}

// Reads every byte of a view, so a view pointing at freed or short memory shows.
static void
view_touch(const crdt_view_t *view)
{
    size_t total = 0;
    for (size_t i = 0; i < view->value_count; i++)
        total += strlen(view->values[i]);
    for (size_t i = 0; view->conflicts && i < view->conflict_count; i++)
        total += strlen(view->conflicts[i]);
    if (total > SIZE_MAX / 2)
        abort(); // never: keeps the reads from being optimised away
}

static void
view_state(crdt_kind_t kind, const uint8_t *state, size_t len, const char *owner)
{
    crdt_view_t view;
    if (crdt_field_view(kind, state, len, owner, &view) == 0) {
        view_touch(&view);
        crdt_view_free(&view);
    }
}

// The causal context, as core_stage.c's observed_from_proto fills it.
static bool
observed_from_proto(const Storemesh__Operation *op, crdt_tag_t *tags)
{
    if (op->n_observed > CRDT_OBSERVED_MAX)
        return false;
    for (size_t i = 0; i < op->n_observed; i++) {
        const Storemesh__Tag *tag = op->observed[i];
        if (!tag || !tag->origin || crdt_tag_set(&tags[i], tag->origin, tag->seq) != 0)
            return false;
    }
    return true;
}

// A new field of each kind takes op, shows it, and takes it again unchanged; the
// fuzzed state takes it too.
static void
apply_operation(const crdt_op_t *op, const char *owner, const uint8_t *state, size_t len)
{
    crdt_buf_t first, again;
    crdt_buf_init(&first);
    crdt_buf_init(&again);
    for (int k = KIND_FIRST; k <= KIND_LAST; k++) {
        crdt_kind_t kind = (crdt_kind_t)k;
        if (crdt_field_apply(kind, NULL, 0, op, &first) == 0) {
            if (first.len == 0)
                contract_broken("a successful apply wrote an empty state", kind);
            view_state(kind, first.data, first.len, owner);
            if (crdt_field_apply(kind, first.data, first.len, op, &again) != 0)
                contract_broken("applying an op already reflected failed", kind);
            if (again.len != first.len || memcmp(again.data, first.data, first.len) != 0)
                contract_broken("applying an op already reflected changed the state", kind);
        }
        if (crdt_field_apply(kind, state, len, op, &again) == 0)
            view_state(kind, again.data, again.len, owner);
    }
    crdt_buf_free(&first);
    crdt_buf_free(&again);
}

static void
try_operation(const uint8_t *data, size_t size)
{
    Storemesh__Operation *proto = storemesh__operation__unpack(NULL, size, data);
    if (!proto)
        return;
    crdt_tag_t observed[CRDT_OBSERVED_MAX];
    if (observed_from_proto(proto, observed)) {
        crdt_op_t op = {.stamp = {.hlc = proto->hlc},
                        .kind = (crdt_op_kind_t)proto->op,
                        .delta = proto->delta,
                        .value = (const char *)proto->value.data,
                        .value_len = proto->value.len,
                        .observed = observed,
                        .observed_count = proto->n_observed};
        memset(&op.stamp.tag, 0, sizeof op.stamp.tag);
        // An origin that does not fit leaves the tag invalid: apply must refuse it.
        crdt_tag_set(&op.stamp.tag, proto->origin ? proto->origin : "", proto->seq);
        bool owner_ok = proto->origin && proto->origin[0] && strlen(proto->origin) <= CRDT_NAME_MAX;
        apply_operation(&op, owner_ok ? proto->origin : VIEW_OWNER, data, size);
    }
    storemesh__operation__free_unpacked(proto, NULL);
}

static void
try_seal(const uint8_t *data, size_t size)
{
    Storemesh__Seal *seal = storemesh__seal__unpack(NULL, size, data);
    if (!seal)
        return;
    size_t total = seal->origin ? strlen(seal->origin) : 0;
    for (size_t i = 0; i < seal->head_hash.len; i++)
        total += seal->head_hash.data[i];
    for (size_t i = 0; i < seal->signature.len; i++)
        total += seal->signature.data[i];
    if (total == SIZE_MAX)
        abort(); // never: keeps the reads from being optimised away
    storemesh__seal__free_unpacked(seal, NULL);
}

// One valid op of each op kind, from an origin no state in the corpus names.
static void
try_state(const uint8_t *data, size_t size)
{
    const crdt_tag_t tag = {.origin = "branch-9", .seq = 7};
    const crdt_op_t ops[] = {
        {.stamp = {.hlc = 1, .tag = tag},
         .kind = CRDT_OP_ADD,
         .delta = -3,
         .value = "x",
         .value_len = 1},
        {.stamp = {.hlc = 1, .tag = tag},
         .kind = CRDT_OP_REMOVE,
         .value = "x",
         .value_len = 1,
         .observed = &tag,
         .observed_count = 1},
        {.stamp = {.hlc = UINT64_MAX, .tag = tag},
         .kind = CRDT_OP_SET,
         .value = "y",
         .value_len = 1,
         .observed = &tag,
         .observed_count = 1},
    };
    crdt_buf_t out;
    crdt_buf_init(&out);
    for (int k = KIND_FIRST; k <= KIND_LAST; k++) {
        crdt_kind_t kind = (crdt_kind_t)k;
        view_state(kind, data, size, VIEW_OWNER);
        for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
            crdt_tag_t *tags = NULL;
            size_t count = 0;
            if (crdt_field_observed(kind, data, size, ops[i].kind, "x", 1, &tags, &count) == 0 &&
                count > 0 && tags == NULL)
                contract_broken("observed tags counted but not handed out", kind);
            free(tags);
            if (crdt_field_apply(kind, data, size, &ops[i], &out) == 0)
                view_state(kind, out.data, out.len, VIEW_OWNER);
        }
    }
    crdt_buf_free(&out);
}

static void
decoders_disagree(const char *what)
{
    fprintf(stderr, "fuzz_operation: %s\n", what);
    abort();
}

static void
try_op_unpack(const uint8_t *data, size_t size)
{
    static arena_t arena;
    arena_reset(&arena);
    ProtobufCAllocator allocator = arena_protobuf_allocator(&arena);
    Storemesh__Operation *ours = op_unpack(&allocator, size, data);
    Storemesh__Operation *theirs = storemesh__operation__unpack(NULL, size, data);
    if ((ours == NULL) != (theirs == NULL))
        decoders_disagree(ours ? "op_unpack read what protobuf-c refuses"
                               : "op_unpack refused what protobuf-c reads");
    if (ours) {
        size_t len = storemesh__operation__get_packed_size(ours);
        uint8_t *a = malloc(len ? len : 1);
        uint8_t *b = malloc(len ? len : 1);
        if (!a || !b || storemesh__operation__get_packed_size(theirs) != len)
            decoders_disagree("op_unpack's operation encodes to another length");
        storemesh__operation__pack(ours, a);
        storemesh__operation__pack(theirs, b);
        if (memcmp(a, b, len) != 0)
            decoders_disagree("op_unpack's operation encodes to other bytes");
        free(a);
        free(b);
    }
    storemesh__operation__free_unpacked(theirs, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    try_operation(data, size);
    try_op_unpack(data, size);
    try_seal(data, size);
    try_state(data, size);
    return 0;
}
