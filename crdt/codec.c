#include "codec.h"

#include <assert.h>
#include <string.h>

void
codec_writer_init(codec_writer_t *self, crdt_buf_t *buf)
{
    assert(self != NULL);
    assert(buf != NULL);
    self->buf = buf;
    self->rc = 0;
}

static void
writer_append(codec_writer_t *self, const void *data, size_t len)
{
    if (self->rc != 0)
        return;
    self->rc = crdt_buf_append(self->buf, data, len);
}

void
codec_put_u8(codec_writer_t *self, uint8_t value)
{
    writer_append(self, &value, 1);
}

void
codec_put_u32(codec_writer_t *self, uint32_t value)
{
    uint8_t bytes[4] = {
        (uint8_t)(value >> 24),
        (uint8_t)(value >> 16),
        (uint8_t)(value >> 8),
        (uint8_t)value,
    };
    writer_append(self, bytes, sizeof bytes);
}

void
codec_put_u64(codec_writer_t *self, uint64_t value)
{
    uint8_t bytes[8] = {
        (uint8_t)(value >> 56), (uint8_t)(value >> 48), (uint8_t)(value >> 40),
        (uint8_t)(value >> 32), (uint8_t)(value >> 24), (uint8_t)(value >> 16),
        (uint8_t)(value >> 8),  (uint8_t)value,
    };
    writer_append(self, bytes, sizeof bytes);
}

void
codec_put_i64(codec_writer_t *self, int64_t value)
{
    codec_put_u64(self, (uint64_t)value); // two's complement, defined for every value
}

void
codec_put_bytes(codec_writer_t *self, const uint8_t *data, size_t len)
{
    assert(len <= UINT32_MAX);
    codec_put_u32(self, (uint32_t)len);
    writer_append(self, data, len);
}

void
codec_put_count(codec_writer_t *self, size_t count)
{
    assert(count <= UINT32_MAX);
    codec_put_u32(self, (uint32_t)count);
}

void
codec_put_tag(codec_writer_t *self, const crdt_tag_t *tag)
{
    assert(tag != NULL);
    assert(crdt_tag_is_valid(tag));
    codec_put_bytes(self, (const uint8_t *)tag->origin, strlen(tag->origin));
    codec_put_u64(self, tag->seq);
}

void
codec_put_stamp(codec_writer_t *self, const crdt_stamp_t *stamp)
{
    assert(stamp != NULL);
    codec_put_u64(self, stamp->hlc);
    codec_put_tag(self, &stamp->tag);
}

void
codec_put_header(codec_writer_t *self, crdt_kind_t kind)
{
    assert(kind > 0);
    assert(kind <= UINT8_MAX);
    codec_put_u8(self, CODEC_FORMAT_VERSION);
    codec_put_u8(self, (uint8_t)kind);
}

void
codec_reader_init(codec_reader_t *self, const uint8_t *data, size_t len)
{
    assert(self != NULL);
    assert(data != NULL || len == 0);
    self->data = data;
    self->len = len;
    self->pos = 0;
}

bool
codec_reader_at_end(const codec_reader_t *self)
{
    assert(self != NULL);
    return self->pos == self->len;
}

static size_t
reader_remaining(const codec_reader_t *self)
{
    assert(self != NULL);
    assert(self->pos <= self->len);
    return self->len - self->pos;
}

int
codec_get_u8(codec_reader_t *self, uint8_t *value)
{
    assert(value != NULL);
    *value = 0;
    if (reader_remaining(self) < 1)
        return -SM_ECORRUPT;
    *value = self->data[self->pos++];
    return 0;
}

int
codec_get_u32(codec_reader_t *self, uint32_t *value)
{
    assert(value != NULL);
    *value = 0;
    if (reader_remaining(self) < 4)
        return -SM_ECORRUPT;
    const uint8_t *bytes = self->data + self->pos;
    *value = (uint32_t)bytes[0] << 24 | (uint32_t)bytes[1] << 16 | (uint32_t)bytes[2] << 8 |
             (uint32_t)bytes[3];
    self->pos += 4;
    return 0;
}

int
codec_get_u64(codec_reader_t *self, uint64_t *value)
{
    assert(value != NULL);
    *value = 0;
    if (reader_remaining(self) < 8)
        return -SM_ECORRUPT;
    const uint8_t *bytes = self->data + self->pos;
    *value = (uint64_t)bytes[0] << 56 | (uint64_t)bytes[1] << 48 | (uint64_t)bytes[2] << 40 |
             (uint64_t)bytes[3] << 32 | (uint64_t)bytes[4] << 24 | (uint64_t)bytes[5] << 16 |
             (uint64_t)bytes[6] << 8 | (uint64_t)bytes[7];
    self->pos += 8;
    return 0;
}

int
codec_get_i64(codec_reader_t *self, int64_t *value)
{
    uint64_t wide = 0;
    int rc = codec_get_u64(self, &wide);
    // Converting an unsigned value above INT64_MAX is implementation-defined; this is not.
    if (wide <= INT64_MAX)
        *value = (int64_t)wide;
    else
        *value = -(int64_t)(UINT64_MAX - wide) - 1;
    return rc;
}

int
codec_get_bytes(codec_reader_t *self, size_t len_max, const uint8_t **data, size_t *len)
{
    assert(data != NULL);
    assert(len != NULL);
    uint32_t prefix = 0;
    int rc = codec_get_u32(self, &prefix);
    if (rc != 0)
        return rc;
    if (prefix > len_max || prefix > reader_remaining(self))
        return -SM_ECORRUPT;
    *data = self->data + self->pos;
    *len = prefix;
    self->pos += prefix;
    return 0;
}

int
codec_get_value(codec_reader_t *self, const uint8_t **data, size_t *len)
{
    int rc = codec_get_bytes(self, CRDT_VALUE_MAX, data, len);
    if (rc != 0)
        return rc;
    if (*len > 0 && memchr(*data, '\0', *len) != NULL)
        return -SM_ECORRUPT;
    return 0;
}

int
codec_get_count(codec_reader_t *self, size_t item_bytes_min, size_t *count)
{
    assert(item_bytes_min > 0);
    assert(count != NULL);
    uint32_t value = 0;
    int rc = codec_get_u32(self, &value);
    if (rc != 0)
        return rc;
    if (value > reader_remaining(self) / item_bytes_min)
        return -SM_ECORRUPT;
    *count = value;
    return 0;
}

int
codec_get_tag(codec_reader_t *self, crdt_tag_t *tag)
{
    assert(tag != NULL);
    const uint8_t *name = NULL;
    size_t name_len = 0;
    int rc = codec_get_bytes(self, CRDT_NAME_MAX, &name, &name_len);
    if (rc != 0)
        return rc;
    if (name_len == 0 || memchr(name, '\0', name_len) != NULL)
        return -SM_ECORRUPT;
    memset(tag->origin, 0, sizeof tag->origin);
    memcpy(tag->origin, name, name_len);
    rc = codec_get_u64(self, &tag->seq);
    if (rc != 0)
        return rc;
    if (tag->seq == 0)
        return -SM_ECORRUPT;
    return 0;
}

int
codec_get_stamp(codec_reader_t *self, crdt_stamp_t *stamp)
{
    assert(stamp != NULL);
    int rc = codec_get_u64(self, &stamp->hlc);
    if (rc != 0)
        return rc;
    return codec_get_tag(self, &stamp->tag);
}

int
codec_get_header(codec_reader_t *self, crdt_kind_t kind)
{
    uint8_t version = 0;
    uint8_t stored_kind = 0;
    int rc = codec_get_u8(self, &version);
    if (rc == 0)
        rc = codec_get_u8(self, &stored_kind);
    if (rc != 0)
        return rc;
    if (version != CODEC_FORMAT_VERSION || stored_kind != (uint8_t)kind)
        return -SM_ECORRUPT;
    return 0;
}
