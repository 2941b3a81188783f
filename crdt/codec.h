// codec: the byte format of field states. Fixed-width big-endian integers and
// u32-length-prefixed byte strings, so one value has exactly one encoding and
// states compare and hash byte for byte. Decoding is bounds-checked: bytes that
// do not fit give -SM_ECORRUPT, never a crash. Not for wire messages (proto/).
//
// Every state starts with a header: CODEC_FORMAT_VERSION, then the merge kind, so
// a state read back under a different version or kind is refused, not misread.
#ifndef CRDT_CODEC_H
#define CRDT_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "field.h"

#define CODEC_FORMAT_VERSION 1
#define CODEC_HEADER_BYTES 2
// Smallest encoded tag: name length (4), one name byte, seq (8).
#define CODEC_TAG_BYTES_MIN 13
// Smallest encoded stamp: hlc (8) and a tag.
#define CODEC_STAMP_BYTES_MIN (8 + CODEC_TAG_BYTES_MIN)

// Appends to buf. The first failure (-SM_ENOMEM) sticks in rc and later puts do
// nothing, so an encoder checks once at the end.
typedef struct {
    crdt_buf_t *buf; // borrowed
    int rc;          // 0, or the first error
} codec_writer_t;

void codec_writer_init(codec_writer_t *self, crdt_buf_t *buf);
void codec_put_u8(codec_writer_t *self, uint8_t value);
void codec_put_u32(codec_writer_t *self, uint32_t value);
void codec_put_u64(codec_writer_t *self, uint64_t value);
void codec_put_i64(codec_writer_t *self, int64_t value);
// u32 length, then the bytes. len <= UINT32_MAX.
void codec_put_bytes(codec_writer_t *self, const uint8_t *data, size_t len);
// A count of items that follow. count <= UINT32_MAX.
void codec_put_count(codec_writer_t *self, size_t count);
// The origin name (without padding), then seq.
void codec_put_tag(codec_writer_t *self, const crdt_tag_t *tag);
// hlc, then the tag.
void codec_put_stamp(codec_writer_t *self, const crdt_stamp_t *stamp);
void codec_put_header(codec_writer_t *self, crdt_kind_t kind);

// Reads a borrowed byte range front to back.
typedef struct {
    const uint8_t *data; // borrowed for the reader's life
    size_t len;
    size_t pos; // bytes consumed
} codec_reader_t;

void codec_reader_init(codec_reader_t *self, const uint8_t *data, size_t len);
bool codec_reader_at_end(const codec_reader_t *self);
// Each get: 0, or -SM_ECORRUPT when the bytes run out or break the format.
int codec_get_u8(codec_reader_t *self, uint8_t *value);
int codec_get_u32(codec_reader_t *self, uint32_t *value);
int codec_get_u64(codec_reader_t *self, uint64_t *value);
int codec_get_i64(codec_reader_t *self, int64_t *value);
// *data points into the reader's bytes (valid as long as they are); at most len_max.
int codec_get_bytes(codec_reader_t *self, size_t len_max, const uint8_t **data, size_t *len);
// A value as crdt_op_t allows: at most CRDT_VALUE_MAX bytes, none of them NUL.
int codec_get_value(codec_reader_t *self, const uint8_t **data, size_t *len);
// A count of items each at least item_bytes_min long, so a corrupt count cannot
// claim more items than the remaining bytes hold.
int codec_get_count(codec_reader_t *self, size_t item_bytes_min, size_t *count);
// A tag with a valid origin name (1..CRDT_NAME_MAX bytes, no NUL; stored
// NUL-padded) and seq >= 1.
int codec_get_tag(codec_reader_t *self, crdt_tag_t *tag);
int codec_get_stamp(codec_reader_t *self, crdt_stamp_t *stamp);
// The header for kind.
int codec_get_header(codec_reader_t *self, crdt_kind_t kind);

#endif
