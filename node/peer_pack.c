#include "peer_pack.h"

#include <assert.h>
#include <stdbool.h>
#include <string.h>

// ---- writing ----

// A version-vector entry: its origin's length is measured once and handed on.
static size_t
entry_size(const Storemesh__VvEntry *entry, size_t origin_len)
{
    return wire_bytes_field_size(origin_len) + wire_varint_field_size(entry->seq);
}

static size_t
origin_len(const Storemesh__VvEntry *entry)
{
    return entry->origin ? strlen(entry->origin) : 0;
}

static size_t
entries_size(Storemesh__VvEntry *const *entries, size_t count)
{
    size_t size = 0;
    for (size_t i = 0; i < count; i++)
        size += wire_element_size(entry_size(entries[i], origin_len(entries[i])));
    return size;
}

static size_t
put_entries(uint8_t *out, unsigned number, Storemesh__VvEntry *const *entries, size_t count)
{
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        const Storemesh__VvEntry *entry = entries[i];
        size_t len = origin_len(entry);
        n += wire_put_header(out + n, number, entry_size(entry, len));
        n += wire_put_bytes_field(out + n, 1, entry->origin, len);
        n += wire_put_varint_field(out + n, 2, entry->seq);
    }
    return n;
}

static size_t
hello_size(const Storemesh__Hello *hello)
{
    return wire_string_field_size(hello->node) + wire_string_field_size(hello->mesh) +
           wire_bytes_field_size(hello->rules_hash.len) +
           entries_size(hello->have, hello->n_have) +
           entries_size(hello->authority_have, hello->n_authority_have) +
           wire_varint_field_size(hello->credit) + wire_bytes_field_size(hello->have_digest.len) +
           wire_varint_field_size(hello->want_full ? 1 : 0) +
           wire_bytes_field_size(hello->authority_digest.len);
}

static size_t
put_hello(uint8_t *out, const Storemesh__Hello *hello)
{
    size_t n = 0;
    n += wire_put_string_field(out + n, 1, hello->node);
    n += wire_put_string_field(out + n, 2, hello->mesh);
    n += wire_put_bytes_field(out + n, 3, hello->rules_hash.data, hello->rules_hash.len);
    n += put_entries(out + n, 4, hello->have, hello->n_have);
    n += put_entries(out + n, 5, hello->authority_have, hello->n_authority_have);
    n += wire_put_varint_field(out + n, 6, hello->credit);
    n += wire_put_bytes_field(out + n, 7, hello->have_digest.data, hello->have_digest.len);
    n += wire_put_varint_field(out + n, 8, hello->want_full ? 1 : 0);
    n += wire_put_bytes_field(out + n, 9, hello->authority_digest.data,
                              hello->authority_digest.len);
    return n;
}

static size_t
ops_size(const Storemesh__OpsBatch *ops)
{
    size_t size = wire_string_field_size(ops->origin) + wire_varint_field_size(ops->first_seq) +
                  wire_bytes_field_size(ops->seal.len);
    for (size_t i = 0; i < ops->n_operations; i++)
        size += wire_element_size(ops->operations[i].len);
    return size;
}

static size_t
put_ops(uint8_t *out, const Storemesh__OpsBatch *ops)
{
    size_t n = 0;
    n += wire_put_string_field(out + n, 1, ops->origin);
    n += wire_put_varint_field(out + n, 2, ops->first_seq);
    for (size_t i = 0; i < ops->n_operations; i++)
        n += wire_put_element(out + n, 3, ops->operations[i].data, ops->operations[i].len);
    n += wire_put_bytes_field(out + n, 4, ops->seal.data, ops->seal.len);
    return n;
}

static size_t
ack_size(const Storemesh__Ack *ack)
{
    return entries_size(ack->have, ack->n_have) +
           entries_size(ack->authority_have, ack->n_authority_have) +
           wire_varint_field_size(ack->credit) + wire_varint_field_size(ack->gap ? 1 : 0) +
           wire_varint_field_size(ack->prune ? 1 : 0) + wire_varint_field_size(ack->graft ? 1 : 0);
}

static size_t
put_ack(uint8_t *out, const Storemesh__Ack *ack)
{
    size_t n = 0;
    n += put_entries(out + n, 1, ack->have, ack->n_have);
    n += put_entries(out + n, 2, ack->authority_have, ack->n_authority_have);
    n += wire_put_varint_field(out + n, 3, ack->credit);
    n += wire_put_varint_field(out + n, 4, ack->gap ? 1 : 0);
    n += wire_put_varint_field(out + n, 5, ack->prune ? 1 : 0);
    n += wire_put_varint_field(out + n, 6, ack->graft ? 1 : 0);
    return n;
}

// The body's field number and size; 0 for no body (protobuf-c writes none for an
// unset case or a NULL body).
static unsigned
body_of(const Storemesh__PeerMessage *message, size_t *size)
{
    assert(message->base.n_unknown_fields == 0);
    switch (message->body_case) {
    case STOREMESH__PEER_MESSAGE__BODY_HELLO:
        if (!message->hello)
            return 0;
        assert(message->hello->base.n_unknown_fields == 0);
        *size = hello_size(message->hello);
        return 2;
    case STOREMESH__PEER_MESSAGE__BODY_OPS:
        if (!message->ops)
            return 0;
        assert(message->ops->base.n_unknown_fields == 0);
        *size = ops_size(message->ops);
        return 3;
    case STOREMESH__PEER_MESSAGE__BODY_ACK:
        if (!message->ack)
            return 0;
        assert(message->ack->base.n_unknown_fields == 0);
        *size = ack_size(message->ack);
        return 4;
    default:
        return 0;
    }
}

size_t
peer_message_pack_size(const Storemesh__PeerMessage *message)
{
    size_t body = 0;
    unsigned number = body_of(message, &body);
    return wire_varint_field_size(message->version) + (number ? wire_element_size(body) : 0);
}

size_t
peer_message_pack(const Storemesh__PeerMessage *message, uint8_t *out)
{
    size_t n = wire_put_varint_field(out, 1, message->version);
    size_t body = 0;
    unsigned number = body_of(message, &body);
    if (number == 0)
        return n;
    n += wire_put_header(out + n, number, body);
    size_t written = number == 2   ? put_hello(out + n, message->hello)
                     : number == 3 ? put_ops(out + n, message->ops)
                                   : put_ack(out + n, message->ack);
    assert(written == body);
    return n + written;
}

// ---- reading ----

// A field's key: its number and wire type, checked against what the field is.
// False for anything out of place: not above the last field read (a repeated
// field comes in one run, read whole), past max, or the wrong wire type.
static bool
read_key(wire_reader_t *in, unsigned *last, unsigned max, const bool *is_bytes, unsigned *number)
{
    uint64_t key = 0;
    if (!wire_read_varint(in, &key) || key >> 3 <= *last || key >> 3 > max)
        return false;
    *number = (unsigned)(key >> 3);
    *last = *number;
    return (key & 7) == (is_bytes[*number] ? WIRE_BYTES : WIRE_VARINT);
}

// A uint32 field: protobuf-c keeps the low 32 bits of a longer varint; the
// canonical encoding has none.
static bool
read_uint32(wire_reader_t *in, uint32_t *out)
{
    uint64_t value = 0;
    if (!wire_read_varint(in, &value) || value > UINT32_MAX)
        return false;
    *out = (uint32_t)value;
    return true;
}

// A bool field: 1 (an encoder writes no other; protobuf-c reads any non-zero
// varint as true, and 0 as false).
static bool
read_bool(wire_reader_t *in, protobuf_c_boolean *out)
{
    uint64_t value = 0;
    if (!wire_read_varint(in, &value) || value > 1)
        return false;
    *out = value == 1;
    return true;
}

static wire_fast_t
read_string(ProtobufCAllocator *allocator, wire_reader_t *in, char **out)
{
    const uint8_t *span = NULL;
    size_t len = 0;
    if (!wire_read_span(in, &span, &len))
        return WIRE_FAST_NO;
    *out = wire_take_string(allocator, span, len);
    return *out ? WIRE_FAST_OK : WIRE_FAST_NOMEM;
}

static wire_fast_t
read_bytes(ProtobufCAllocator *allocator, wire_reader_t *in, ProtobufCBinaryData *out)
{
    const uint8_t *span = NULL;
    size_t len = 0;
    if (!wire_read_span(in, &span, &len))
        return WIRE_FAST_NO;
    return wire_take_bytes(allocator, span, len, out) ? WIRE_FAST_OK : WIRE_FAST_NOMEM;
}

// How many elements the run of field number's elements holds from in (its first
// key already read): each a length and its bytes, then the same one-byte key
// again or something else.
static bool
count_run(wire_reader_t in, unsigned number, size_t *count)
{
    uint8_t key = (uint8_t)(number << 3 | WIRE_BYTES);
    *count = 0;
    for (;;) { // bounded: every pass consumes bytes
        const uint8_t *data = NULL;
        size_t len = 0;
        if (!wire_read_element(&in, &data, &len))
            return false;
        (*count)++;
        if (in.at == in.end || *in.at != key)
            return true;
        in.at++;
    }
}

// The next element of a run count_run counted (i from 0): in is at the first
// one's length, or just past the element before, whose key count_run read.
static bool
run_element(wire_reader_t *in, size_t i, const uint8_t **data, size_t *len)
{
    if (i > 0)
        in->at++; // the key
    return wire_read_element(in, data, len);
}

// Reads one field of a message (its key read: number, 1 to the message's last);
// what read_fields calls for each.
typedef wire_fast_t (*field_fn)(ProtobufCAllocator *allocator, wire_reader_t *in, unsigned number,
                                void *message);

// A message's fields, in number order, each at most once (a repeated field in one
// run, read whole by fn), up to field max; is_bytes[n]: field n is length-delimited.
static wire_fast_t
read_fields(ProtobufCAllocator *allocator, wire_reader_t in, unsigned max, const bool *is_bytes,
            field_fn fn, void *message)
{
    unsigned last = 0;
    while (in.at < in.end) { // bounded: every pass consumes bytes
        unsigned number = 0;
        if (!read_key(&in, &last, max, is_bytes, &number))
            return WIRE_FAST_NO;
        wire_fast_t rc = fn(allocator, &in, number, message);
        if (rc != WIRE_FAST_OK)
            return rc;
    }
    return WIRE_FAST_OK;
}

static wire_fast_t
ok_if(bool ok)
{
    return ok ? WIRE_FAST_OK : WIRE_FAST_NO;
}

// A VvEntry: origin (1), seq (2). An empty one is what an encoder writes for an
// entry of zeros.
static wire_fast_t
entry_field(ProtobufCAllocator *allocator, wire_reader_t *in, unsigned number, void *message)
{
    Storemesh__VvEntry *entry = message;
    if (number == 1)
        return read_string(allocator, in, &entry->origin);
    return ok_if(wire_read_varint(in, &entry->seq));
}

static wire_fast_t
read_entry(ProtobufCAllocator *allocator, const uint8_t *data, size_t len,
           Storemesh__VvEntry *entry)
{
    static const bool is_bytes[3] = {false, true, false};
    storemesh__vv_entry__init(entry);
    return read_fields(allocator, (wire_reader_t){data, data + len}, 2, is_bytes, entry_field,
                       entry);
}

// A run of VvEntry elements of field number (its first key read), into entries in
// one block from the allocator.
static wire_fast_t
read_entries(ProtobufCAllocator *allocator, wire_reader_t *in, unsigned number,
             Storemesh__VvEntry ***entries, size_t *count)
{
    size_t n = 0;
    if (!count_run(*in, number, &n))
        return WIRE_FAST_NO;
    Storemesh__VvEntry *block = wire_take(allocator, n * sizeof *block);
    Storemesh__VvEntry **pointers = block ? wire_take(allocator, n * sizeof *pointers) : NULL;
    if (!pointers)
        return WIRE_FAST_NOMEM;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *data = NULL;
        size_t len = 0;
        if (!run_element(in, i, &data, &len))
            return WIRE_FAST_NO; // count_run read it: not reached
        wire_fast_t rc = read_entry(allocator, data, len, &block[i]);
        if (rc != WIRE_FAST_OK)
            return rc;
        pointers[i] = &block[i];
    }
    *entries = pointers;
    *count = n;
    return WIRE_FAST_OK;
}

static wire_fast_t
hello_field(ProtobufCAllocator *allocator, wire_reader_t *in, unsigned number, void *message)
{
    Storemesh__Hello *hello = message;
    switch (number) {
    case 1: return read_string(allocator, in, &hello->node);
    case 2: return read_string(allocator, in, &hello->mesh);
    case 3: return read_bytes(allocator, in, &hello->rules_hash);
    case 4: return read_entries(allocator, in, 4, &hello->have, &hello->n_have);
    case 5: return read_entries(allocator, in, 5, &hello->authority_have, &hello->n_authority_have);
    case 6: return ok_if(read_uint32(in, &hello->credit));
    case 7: return read_bytes(allocator, in, &hello->have_digest);
    case 8: return ok_if(read_bool(in, &hello->want_full));
    default: return read_bytes(allocator, in, &hello->authority_digest);
    }
}

static wire_fast_t
read_hello(ProtobufCAllocator *allocator, wire_reader_t in, Storemesh__Hello *hello)
{
    static const bool is_bytes[10] = {false, true, true,  true, true,
                                      true,  false, true, false, true};
    storemesh__hello__init(hello);
    return read_fields(allocator, in, 9, is_bytes, hello_field, hello);
}

// The run of operations (field 3, its first key read): exact bytes, any length.
static wire_fast_t
read_operations(ProtobufCAllocator *allocator, wire_reader_t *in, Storemesh__OpsBatch *ops)
{
    size_t n = 0;
    if (!count_run(*in, 3, &n))
        return WIRE_FAST_NO;
    ops->operations = wire_take(allocator, n * sizeof *ops->operations);
    if (!ops->operations)
        return WIRE_FAST_NOMEM;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *data = NULL;
        size_t len = 0;
        if (!run_element(in, i, &data, &len))
            return WIRE_FAST_NO; // count_run read it: not reached
        if (!wire_take_bytes(allocator, data, len, &ops->operations[i]))
            return WIRE_FAST_NOMEM;
    }
    ops->n_operations = n;
    return WIRE_FAST_OK;
}

static wire_fast_t
ops_field(ProtobufCAllocator *allocator, wire_reader_t *in, unsigned number, void *message)
{
    Storemesh__OpsBatch *ops = message;
    switch (number) {
    case 1: return read_string(allocator, in, &ops->origin);
    case 2: return ok_if(wire_read_varint(in, &ops->first_seq));
    case 3: return read_operations(allocator, in, ops);
    default: return read_bytes(allocator, in, &ops->seal);
    }
}

static wire_fast_t
read_ops(ProtobufCAllocator *allocator, wire_reader_t in, Storemesh__OpsBatch *ops)
{
    static const bool is_bytes[5] = {false, true, false, true, true};
    storemesh__ops_batch__init(ops);
    return read_fields(allocator, in, 4, is_bytes, ops_field, ops);
}

static wire_fast_t
ack_field(ProtobufCAllocator *allocator, wire_reader_t *in, unsigned number, void *message)
{
    Storemesh__Ack *ack = message;
    switch (number) {
    case 1: return read_entries(allocator, in, 1, &ack->have, &ack->n_have);
    case 2: return read_entries(allocator, in, 2, &ack->authority_have, &ack->n_authority_have);
    case 3: return ok_if(read_uint32(in, &ack->credit));
    case 4: return ok_if(read_bool(in, &ack->gap));
    case 5: return ok_if(read_bool(in, &ack->prune));
    default: return ok_if(read_bool(in, &ack->graft));
    }
}

static wire_fast_t
read_ack(ProtobufCAllocator *allocator, wire_reader_t in, Storemesh__Ack *ack)
{
    static const bool is_bytes[7] = {false, true, true, false, false, false, false};
    storemesh__ack__init(ack);
    return read_fields(allocator, in, 6, is_bytes, ack_field, ack);
}

// A PeerMessage: version (1), then one body at most (numbers only rise past it,
// and 4 is the last).
static wire_fast_t
message_field(ProtobufCAllocator *allocator, wire_reader_t *in, unsigned number, void *message)
{
    Storemesh__PeerMessage *peer_message = message;
    if (number == 1)
        return ok_if(read_uint32(in, &peer_message->version));
    const uint8_t *body = NULL;
    size_t body_len = 0;
    if (peer_message->body_case != STOREMESH__PEER_MESSAGE__BODY__NOT_SET ||
        !wire_read_element(in, &body, &body_len))
        return WIRE_FAST_NO;
    wire_reader_t body_in = {body, body + body_len};
    if (number == 2) {
        peer_message->body_case = STOREMESH__PEER_MESSAGE__BODY_HELLO;
        peer_message->hello = wire_take(allocator, sizeof *peer_message->hello);
        return peer_message->hello ? read_hello(allocator, body_in, peer_message->hello)
                                   : WIRE_FAST_NOMEM;
    }
    if (number == 3) {
        peer_message->body_case = STOREMESH__PEER_MESSAGE__BODY_OPS;
        peer_message->ops = wire_take(allocator, sizeof *peer_message->ops);
        return peer_message->ops ? read_ops(allocator, body_in, peer_message->ops)
                                 : WIRE_FAST_NOMEM;
    }
    peer_message->body_case = STOREMESH__PEER_MESSAGE__BODY_ACK;
    peer_message->ack = wire_take(allocator, sizeof *peer_message->ack);
    return peer_message->ack ? read_ack(allocator, body_in, peer_message->ack) : WIRE_FAST_NOMEM;
}

wire_fast_t
peer_message_read(ProtobufCAllocator *allocator, size_t len, const uint8_t *data,
                  Storemesh__PeerMessage **out)
{
    static const bool is_bytes[5] = {false, false, true, true, true};
    Storemesh__PeerMessage *message = wire_take(allocator, sizeof *message);
    if (!message)
        return WIRE_FAST_NOMEM;
    storemesh__peer_message__init(message);
    wire_reader_t in = {data, data + len};
    wire_fast_t rc = read_fields(allocator, in, 4, is_bytes, message_field, message);
    if (rc == WIRE_FAST_OK)
        *out = message;
    return rc;
}

Storemesh__PeerMessage *
peer_message_unpack(ProtobufCAllocator *allocator, size_t len, const uint8_t *data)
{
    Storemesh__PeerMessage *message = NULL;
    wire_fast_t rc = peer_message_read(allocator, len, data, &message);
    if (rc == WIRE_FAST_OK)
        return message;
    if (rc == WIRE_FAST_NOMEM)
        return NULL;
    // Not the canonical encoding: protobuf-c's decoder says what it is (what the
    // fast path took stays in the arena until it is reset).
    return storemesh__peer_message__unpack(allocator, len, data);
}
