#include "op_pack.h"

#include <stdbool.h>
#include <string.h>

#include "varint.h"

enum { WIRE_VARINT = 0, WIRE_BYTES = 2 };

static uint64_t
zigzag(int64_t value)
{
    return ((uint64_t)value << 1) ^ (uint64_t)(value >> 63);
}

// Field sizes and writers; a zero value (0, "", no bytes) is left out, as proto3
// encoders do for fields without presence. Field numbers here are below 16, so
// every tag is one byte.
static size_t
bytes_field_size(size_t len)
{
    return len ? 1 + varint_size(len) + len : 0;
}

static size_t
string_field_size(const char *text)
{
    return text ? bytes_field_size(strlen(text)) : 0;
}

static size_t
varint_field_size(uint64_t value)
{
    return value ? 1 + varint_size(value) : 0;
}

static size_t
put_bytes_field(uint8_t *out, unsigned number, const void *data, size_t len)
{
    if (len == 0)
        return 0;
    size_t n = 0;
    out[n++] = (uint8_t)(number << 3 | WIRE_BYTES);
    n += varint_put(out + n, len);
    memcpy(out + n, data, len);
    return n + len;
}

static size_t
put_string_field(uint8_t *out, unsigned number, const char *text)
{
    return text ? put_bytes_field(out, number, text, strlen(text)) : 0;
}

static size_t
put_varint_field(uint8_t *out, unsigned number, uint64_t value)
{
    if (value == 0)
        return 0;
    out[0] = (uint8_t)(number << 3 | WIRE_VARINT);
    return 1 + varint_put(out + 1, value);
}

static size_t
tag_size(const Storemesh__Tag *tag)
{
    return string_field_size(tag->origin) + varint_field_size(tag->seq);
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
    size_t size = string_field_size(op->origin) + varint_field_size(op->seq) +
                  varint_field_size(op->hlc) + bytes_field_size(op->rules_hash.len) +
                  bytes_field_size(op->prev_hash.len) + string_field_size(op->command_id) +
                  string_field_size(op->source) + string_field_size(op->type) +
                  string_field_size(op->key) + string_field_size(op->field) +
                  varint_field_size(enum_value(op->op)) + varint_field_size(zigzag(op->delta)) +
                  bytes_field_size(op->value.len);
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
    n += put_string_field(out + n, 1, op->origin);
    n += put_varint_field(out + n, 2, op->seq);
    n += put_varint_field(out + n, 3, op->hlc);
    n += put_bytes_field(out + n, 4, op->rules_hash.data, op->rules_hash.len);
    n += put_bytes_field(out + n, 5, op->prev_hash.data, op->prev_hash.len);
    n += put_string_field(out + n, 6, op->command_id);
    n += put_string_field(out + n, 7, op->source);
    n += put_string_field(out + n, 8, op->type);
    n += put_string_field(out + n, 9, op->key);
    n += put_string_field(out + n, 10, op->field);
    n += put_varint_field(out + n, 11, enum_value(op->op));
    n += put_varint_field(out + n, 12, zigzag(op->delta));
    n += put_bytes_field(out + n, 13, op->value.data, op->value.len);
    for (size_t i = 0; i < op->n_observed; i++) {
        const Storemesh__Tag *tag = op->observed[i];
        out[n++] = (uint8_t)(14 << 3 | WIRE_BYTES);
        n += varint_put(out + n, tag_size(tag));
        n += put_string_field(out + n, 1, tag->origin);
        n += put_varint_field(out + n, 2, tag->seq);
    }
    return n;
}

// ---- reading ----

typedef struct {
    const uint8_t *at;
    const uint8_t *end;
} reader_t;

// False when the varint runs past the end or past 64 bits.
static bool
read_varint_long(reader_t *in, uint64_t *out)
{
    uint64_t value = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) { // at most ten bytes
        if (in->at == in->end)
            return false;
        uint8_t byte = *in->at++;
        if (shift == 63 && byte > 1)
            return false;
        value |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *out = value;
            return true;
        }
    }
    return false;
}

// Tags and lengths are one byte nearly always.
static inline bool
read_varint(reader_t *in, uint64_t *out)
{
    if (in->at < in->end && *in->at < 0x80) {
        *out = *in->at++;
        return true;
    }
    return read_varint_long(in, out);
}

// A length-delimited field's bytes; false when they run past the end, or are
// empty (a canonical encoder leaves an empty string or bytes field out).
static bool
read_span(reader_t *in, const uint8_t **data, size_t *len)
{
    uint64_t n = 0;
    if (!read_varint(in, &n) || n == 0 || n > (uint64_t)(in->end - in->at))
        return false;
    *data = in->at;
    *len = (size_t)n;
    in->at += n;
    return true;
}

static void *
take(ProtobufCAllocator *allocator, size_t size)
{
    return allocator->alloc(allocator->allocator_data, size ? size : 1);
}

static char *
take_string(ProtobufCAllocator *allocator, const uint8_t *data, size_t len)
{
    char *text = take(allocator, len + 1);
    if (text) {
        memcpy(text, data, len);
        text[len] = '\0';
    }
    return text;
}

static bool
take_bytes(ProtobufCAllocator *allocator, const uint8_t *data, size_t len, ProtobufCBinaryData *out)
{
    out->data = take(allocator, len);
    out->len = len;
    if (out->data)
        memcpy(out->data, data, len);
    return out->data != NULL;
}

#define OP_UNPACK_TAGS_MAX 64 // more observed tags: protobuf-c decodes it

typedef enum { FAST_OK, FAST_NO, FAST_NOMEM } fast_t;

// A Tag: origin (1), seq (2), in that order, each at most once. An empty one (no
// fields) is what an encoder writes for a tag of zeros.
static fast_t
read_tag(ProtobufCAllocator *allocator, const uint8_t *data, size_t len, Storemesh__Tag **out)
{
    Storemesh__Tag *tag = take(allocator, sizeof *tag);
    if (!tag)
        return FAST_NOMEM;
    storemesh__tag__init(tag);
    reader_t in = {data, data + len};
    unsigned last = 0;
    while (in.at < in.end) { // bounded: every pass consumes bytes
        uint64_t key = 0;
        if (!read_varint(&in, &key) || key >> 3 <= last || key >> 3 > 2)
            return FAST_NO;
        last = (unsigned)(key >> 3);
        const uint8_t *span = NULL;
        size_t span_len = 0;
        if (key == (1 << 3 | WIRE_BYTES)) {
            if (!read_span(&in, &span, &span_len))
                return FAST_NO;
            if (!(tag->origin = take_string(allocator, span, span_len)))
                return FAST_NOMEM;
        } else if (key == (2 << 3 | WIRE_VARINT)) {
            if (!read_varint(&in, &tag->seq))
                return FAST_NO;
        } else {
            return FAST_NO;
        }
    }
    *out = tag;
    return FAST_OK;
}

static fast_t
read_operation(ProtobufCAllocator *allocator, reader_t *in, Storemesh__Operation *op)
{
    Storemesh__Tag *tags[OP_UNPACK_TAGS_MAX];
    size_t tag_count = 0;
    unsigned last = 0;
    while (in->at < in->end) { // bounded: every pass consumes bytes
        uint64_t key = 0;
        if (!read_varint(in, &key))
            return FAST_NO;
        unsigned number = (unsigned)(key >> 3);
        unsigned wire = (unsigned)(key & 7);
        if (number < last || (number == last && number != 14) || number < 1 || number > 14 ||
            key >> 3 > 14)
            return FAST_NO; // out of order, repeated, or unknown
        last = number;
        bool text = number == 1 || (number >= 6 && number <= 10);
        bool blob = number == 4 || number == 5 || number == 13;
        if ((text || blob || number == 14) != (wire == WIRE_BYTES) ||
            (!(text || blob || number == 14) && wire != WIRE_VARINT))
            return FAST_NO;
        if (wire == WIRE_VARINT) {
            uint64_t value = 0;
            if (!read_varint(in, &value))
                return FAST_NO;
            switch (number) {
            case 2:
                op->seq = value;
                break;
            case 3:
                op->hlc = value;
                break;
            case 11: // an enum is an int32: protobuf-c's reading of others is its own
                if (value > INT32_MAX)
                    return FAST_NO;
                op->op = (Storemesh__OpKind)value;
                break;
            case 12:
                op->delta = (int64_t)(value >> 1) ^ -(int64_t)(value & 1);
                break;
            default:
                return FAST_NO;
            }
            continue;
        }
        const uint8_t *span = NULL;
        size_t span_len = 0;
        if (number == 14) {
            uint64_t n = 0;
            if (!read_varint(in, &n) || n > (uint64_t)(in->end - in->at) ||
                tag_count == OP_UNPACK_TAGS_MAX)
                return FAST_NO;
            fast_t rc = read_tag(allocator, in->at, (size_t)n, &tags[tag_count]);
            if (rc != FAST_OK)
                return rc;
            tag_count++;
            in->at += n;
            continue;
        }
        if (!read_span(in, &span, &span_len))
            return FAST_NO;
        if (text) {
            char *copy = take_string(allocator, span, span_len);
            if (!copy)
                return FAST_NOMEM;
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
            if (!take_bytes(allocator, span, span_len, out))
                return FAST_NOMEM;
        }
    }
    if (tag_count > 0) {
        op->observed = take(allocator, tag_count * sizeof *op->observed);
        if (!op->observed)
            return FAST_NOMEM;
        memcpy(op->observed, tags, tag_count * sizeof *tags);
        op->n_observed = tag_count;
    }
    return FAST_OK;
}

Storemesh__Operation *
op_unpack(ProtobufCAllocator *allocator, size_t len, const uint8_t *data)
{
    Storemesh__Operation *op = take(allocator, sizeof *op);
    if (!op)
        return NULL;
    storemesh__operation__init(op);
    reader_t in = {data, data + len};
    fast_t rc = read_operation(allocator, &in, op);
    if (rc == FAST_OK)
        return op;
    if (rc == FAST_NOMEM)
        return NULL;
    // Not the canonical encoding: protobuf-c's decoder says what it is (what the
    // fast path took stays in the arena until it is reset).
    return storemesh__operation__unpack(allocator, len, data);
}
