#include "op_pack.h"

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
