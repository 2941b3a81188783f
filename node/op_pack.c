#include "op_pack.h"

#include <stdbool.h>
#include <string.h>

#include "wire.h"

static uint64_t
zigzag(int64_t value)
{
    return ((uint64_t)value << 1) ^ (uint64_t)(value >> 63);
}

static size_t
tag_size(const Storemesh__Tag *tag)
{
    return wire_string_field_size(tag->origin) + wire_varint_field_size(tag->seq);
}

// An enum is an int32 on the wire: a negative one takes ten bytes.
static uint64_t
enum_value(int value)
{
    return (uint64_t)(int64_t)value;
}

size_t
op_pack_size(const Storemesh__Operation *op)
{
    size_t size = wire_string_field_size(op->origin) + wire_varint_field_size(op->seq) +
                  wire_varint_field_size(op->hlc) + wire_bytes_field_size(op->rules_hash.len) +
                  wire_bytes_field_size(op->prev_hash.len) +
                  wire_string_field_size(op->command_id) + wire_string_field_size(op->source) +
                  wire_string_field_size(op->type) + wire_string_field_size(op->key) +
                  wire_string_field_size(op->field) + wire_varint_field_size(enum_value(op->op)) +
                  wire_varint_field_size(zigzag(op->delta)) + wire_bytes_field_size(op->value.len);
    for (size_t i = 0; i < op->n_observed; i++) {
        size_t len = tag_size(op->observed[i]);
        size += 1 + varint_size(len) + len; // a repeated message is written even when empty
    }
    return size;
}

size_t
op_pack(const Storemesh__Operation *op, uint8_t *out)
{
    size_t n = 0;
    n += wire_put_string_field(out + n, 1, op->origin);
    n += wire_put_varint_field(out + n, 2, op->seq);
    n += wire_put_varint_field(out + n, 3, op->hlc);
    n += wire_put_bytes_field(out + n, 4, op->rules_hash.data, op->rules_hash.len);
    n += wire_put_bytes_field(out + n, 5, op->prev_hash.data, op->prev_hash.len);
    n += wire_put_string_field(out + n, 6, op->command_id);
    n += wire_put_string_field(out + n, 7, op->source);
    n += wire_put_string_field(out + n, 8, op->type);
    n += wire_put_string_field(out + n, 9, op->key);
    n += wire_put_string_field(out + n, 10, op->field);
    n += wire_put_varint_field(out + n, 11, enum_value(op->op));
    n += wire_put_varint_field(out + n, 12, zigzag(op->delta));
    n += wire_put_bytes_field(out + n, 13, op->value.data, op->value.len);
    for (size_t i = 0; i < op->n_observed; i++) {
        const Storemesh__Tag *tag = op->observed[i];
        n += wire_put_header(out + n, 14, tag_size(tag));
        n += wire_put_string_field(out + n, 1, tag->origin);
        n += wire_put_varint_field(out + n, 2, tag->seq);
    }
    return n;
}

// ---- reading ----

#define OP_UNPACK_TAGS_MAX 64 // more observed tags: protobuf-c decodes it

// A Tag: origin (1), seq (2), in that order, each at most once. An empty one (no
// fields) is what an encoder writes for a tag of zeros.
static wire_fast_t
read_tag(ProtobufCAllocator *allocator, wire_pool_t *pool, const uint8_t *data, size_t len,
         Storemesh__Tag **out)
{
    Storemesh__Tag *tag = wire_take(allocator, sizeof *tag);
    if (!tag)
        return WIRE_FAST_NOMEM;
    storemesh__tag__init(tag);
    wire_reader_t in = {data, data + len};
    unsigned last = 0;
    while (in.at < in.end) { // bounded: every pass consumes bytes
        uint64_t key = 0;
        if (!wire_read_varint(&in, &key) || key >> 3 <= last || key >> 3 > 2)
            return WIRE_FAST_NO;
        last = (unsigned)(key >> 3);
        const uint8_t *span = NULL;
        size_t span_len = 0;
        if (key == (1 << 3 | WIRE_BYTES)) {
            if (!wire_read_span(&in, &span, &span_len))
                return WIRE_FAST_NO;
            if (!(tag->origin = wire_pool_string(pool, span, span_len)))
                return WIRE_FAST_NO; // cannot be: the pool holds the message's length
        } else if (key == (2 << 3 | WIRE_VARINT)) {
            if (!wire_read_varint(&in, &tag->seq))
                return WIRE_FAST_NO;
        } else {
            return WIRE_FAST_NO;
        }
    }
    *out = tag;
    return WIRE_FAST_OK;
}

static wire_fast_t
read_operation(ProtobufCAllocator *allocator, wire_pool_t *pool, wire_reader_t *in,
               Storemesh__Operation *op)
{
    Storemesh__Tag *tags[OP_UNPACK_TAGS_MAX];
    size_t tag_count = 0;
    unsigned last = 0;
    while (in->at < in->end) { // bounded: every pass consumes bytes
        uint64_t key = 0;
        if (!wire_read_varint(in, &key))
            return WIRE_FAST_NO;
        unsigned number = (unsigned)(key >> 3);
        unsigned wire = (unsigned)(key & 7);
        if (number < last || (number == last && number != 14) || number < 1 || number > 14 ||
            key >> 3 > 14)
            return WIRE_FAST_NO; // out of order, repeated, or unknown
        last = number;
        bool text = number == 1 || (number >= 6 && number <= 10);
        bool blob = number == 4 || number == 5 || number == 13;
        if ((text || blob || number == 14) != (wire == WIRE_BYTES) ||
            (!(text || blob || number == 14) && wire != WIRE_VARINT))
            return WIRE_FAST_NO;
        if (wire == WIRE_VARINT) {
            uint64_t value = 0;
            if (!wire_read_varint(in, &value))
                return WIRE_FAST_NO;
            switch (number) {
            case 2:
                op->seq = value;
                break;
            case 3:
                op->hlc = value;
                break;
            case 11: // an enum is an int32: protobuf-c's reading of others is its own
                if (value > INT32_MAX)
                    return WIRE_FAST_NO;
                op->op = (Storemesh__OpKind)value;
                break;
            case 12:
                op->delta = (int64_t)(value >> 1) ^ -(int64_t)(value & 1);
                break;
            default:
                return WIRE_FAST_NO;
            }
            continue;
        }
        const uint8_t *span = NULL;
        size_t span_len = 0;
        if (number == 14) {
            uint64_t n = 0;
            if (!wire_read_varint(in, &n) || n > (uint64_t)(in->end - in->at) ||
                tag_count == OP_UNPACK_TAGS_MAX)
                return WIRE_FAST_NO;
            wire_fast_t rc = read_tag(allocator, pool, in->at, (size_t)n, &tags[tag_count]);
            if (rc != WIRE_FAST_OK)
                return rc;
            tag_count++;
            in->at += n;
            continue;
        }
        if (!wire_read_span(in, &span, &span_len))
            return WIRE_FAST_NO;
        if (text) {
            char *copy = wire_pool_string(pool, span, span_len);
            if (!copy)
                return WIRE_FAST_NO; // cannot be: the pool holds the message's length
            switch (number) {
            case 1: op->origin = copy; break;
            case 6: op->command_id = copy; break;
            case 7: op->source = copy; break;
            case 8: op->type = copy; break;
            case 9: op->key = copy; break;
            default: op->field = copy; break;
            }
        } else {
            ProtobufCBinaryData *out = number == 4 ? &op->rules_hash
                                       : number == 5 ? &op->prev_hash
                                                     : &op->value;
            if (!wire_pool_bytes(pool, span, span_len, out))
                return WIRE_FAST_NO;
        }
    }
    if (tag_count > 0) {
        op->observed = wire_take(allocator, tag_count * sizeof *op->observed);
        if (!op->observed)
            return WIRE_FAST_NOMEM;
        memcpy(op->observed, tags, tag_count * sizeof *tags);
        op->n_observed = tag_count;
    }
    return WIRE_FAST_OK;
}

Storemesh__Operation *
op_unpack(ProtobufCAllocator *allocator, size_t len, const uint8_t *data)
{
    // The operation and the pool for its strings and bytes in one block.
    uint8_t *block = wire_take(allocator, sizeof(Storemesh__Operation) + len);
    if (!block)
        return NULL;
    Storemesh__Operation *op = (Storemesh__Operation *)block;
    storemesh__operation__init(op);
    wire_pool_t pool = wire_pool(block + sizeof *op, len);
    wire_reader_t in = {data, data + len};
    wire_fast_t rc = read_operation(allocator, &pool, &in, op);
    if (rc == WIRE_FAST_OK)
        return op;
    if (rc == WIRE_FAST_NOMEM)
        return NULL;
    // Not the canonical encoding: protobuf-c's decoder says what it is (what the
    // fast path took stays in the arena until it is reset).
    return storemesh__operation__unpack(allocator, len, data);
}
