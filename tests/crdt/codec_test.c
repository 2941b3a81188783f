#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "codec.h"

Test(codec, integers_are_fixed_width_big_endian)
{
    crdt_buf_t buf;
    crdt_buf_init(&buf);
    codec_writer_t writer;
    codec_writer_init(&writer, &buf);
    codec_put_u8(&writer, 0x01);
    codec_put_u32(&writer, 0x02030405);
    codec_put_u64(&writer, UINT64_C(0x060708090A0B0C0D));
    codec_put_i64(&writer, -2);
    cr_assert(writer.rc == 0);
    const uint8_t expected[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B,
                                0x0C, 0x0D, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE};
    cr_assert(buf.len == sizeof expected);
    cr_assert(memcmp(buf.data, expected, sizeof expected) == 0);
    crdt_buf_free(&buf);
}

Test(codec, integers_round_trip)
{
    const int64_t signed_values[] = {0, 1, -1, INT64_MAX, INT64_MIN, 123456789};
    crdt_buf_t buf;
    crdt_buf_init(&buf);
    codec_writer_t writer;
    codec_writer_init(&writer, &buf);
    for (size_t index = 0; index < 6; index++) {
        codec_put_i64(&writer, signed_values[index]);
        codec_put_u64(&writer, (uint64_t)index * UINT64_C(0x0101010101010101));
        codec_put_u32(&writer, UINT32_MAX - (uint32_t)index);
    }
    cr_assert(writer.rc == 0);
    codec_reader_t reader;
    codec_reader_init(&reader, buf.data, buf.len);
    for (size_t index = 0; index < 6; index++) {
        int64_t signed_value = 0;
        uint64_t wide = 0;
        uint32_t narrow = 0;
        cr_assert(codec_get_i64(&reader, &signed_value) == 0);
        cr_assert(codec_get_u64(&reader, &wide) == 0);
        cr_assert(codec_get_u32(&reader, &narrow) == 0);
        cr_assert(signed_value == signed_values[index]);
        cr_assert(wide == (uint64_t)index * UINT64_C(0x0101010101010101));
        cr_assert(narrow == UINT32_MAX - (uint32_t)index);
    }
    cr_assert(codec_reader_at_end(&reader));
    crdt_buf_free(&buf);
}

Test(codec, reading_past_the_end_is_ecorrupt)
{
    const uint8_t bytes[7] = {0};
    codec_reader_t reader;
    codec_reader_init(&reader, bytes, sizeof bytes);
    uint64_t wide = 0;
    uint32_t narrow = 0;
    uint8_t byte = 0;
    cr_assert(codec_get_u64(&reader, &wide) == -SM_ECORRUPT);
    cr_assert(codec_get_u32(&reader, &narrow) == 0);
    cr_assert(codec_get_u32(&reader, &narrow) == -SM_ECORRUPT);
    cr_assert(codec_get_u8(&reader, &byte) == 0);
    cr_assert(codec_get_u8(&reader, &byte) == 0);
    cr_assert(codec_get_u8(&reader, &byte) == 0);
    cr_assert(codec_reader_at_end(&reader));
    cr_assert(codec_get_u8(&reader, &byte) == -SM_ECORRUPT);
    codec_reader_init(&reader, NULL, 0);
    cr_assert(codec_get_u8(&reader, &byte) == -SM_ECORRUPT);
}

Test(codec, bytes_round_trip_and_are_bounds_checked)
{
    crdt_buf_t buf;
    crdt_buf_init(&buf);
    codec_writer_t writer;
    codec_writer_init(&writer, &buf);
    codec_put_bytes(&writer, (const uint8_t *)"hello", 5);
    codec_put_bytes(&writer, NULL, 0);
    cr_assert(writer.rc == 0);
    cr_assert(buf.len == 4 + 5 + 4);
    codec_reader_t reader;
    const uint8_t *data = NULL;
    size_t len = 0;
    codec_reader_init(&reader, buf.data, buf.len);
    cr_assert(codec_get_bytes(&reader, 4, &data, &len) == -SM_ECORRUPT); // over len_max
    codec_reader_init(&reader, buf.data, buf.len);
    cr_assert(codec_get_bytes(&reader, 5, &data, &len) == 0);
    cr_assert(len == 5);
    cr_assert(memcmp(data, "hello", 5) == 0);
    cr_assert(codec_get_bytes(&reader, 5, &data, &len) == 0);
    cr_assert(len == 0);
    cr_assert(codec_reader_at_end(&reader));
    codec_reader_init(&reader, buf.data, 8); // the prefix says 5, only 4 follow
    cr_assert(codec_get_bytes(&reader, 100, &data, &len) == -SM_ECORRUPT);
    crdt_buf_free(&buf);
}

Test(codec, value_with_a_nul_byte_is_ecorrupt)
{
    const uint8_t bytes[] = {0, 0, 0, 3, 'a', 0, 'b'};
    codec_reader_t reader;
    codec_reader_init(&reader, bytes, sizeof bytes);
    const uint8_t *data = NULL;
    size_t len = 0;
    cr_assert(codec_get_value(&reader, &data, &len) == -SM_ECORRUPT);
}

Test(codec, count_beyond_the_remaining_bytes_is_ecorrupt)
{
    const uint8_t bytes[] = {0, 0, 0, 3, 1, 2, 3, 4, 5, 6};
    codec_reader_t reader;
    size_t count = 0;
    codec_reader_init(&reader, bytes, sizeof bytes);
    cr_assert(codec_get_count(&reader, 2, &count) == 0);
    cr_assert(count == 3);
    codec_reader_init(&reader, bytes, sizeof bytes);
    cr_assert(codec_get_count(&reader, 3, &count) == -SM_ECORRUPT);
}

Test(codec, tag_round_trips_without_padding)
{
    crdt_stamp_t stamp = {.hlc = 77};
    cr_assert(crdt_tag_set(&stamp.tag, "branch-3", 42) == 0);
    crdt_buf_t buf;
    crdt_buf_init(&buf);
    codec_writer_t writer;
    codec_writer_init(&writer, &buf);
    codec_put_stamp(&writer, &stamp);
    cr_assert(writer.rc == 0);
    cr_assert(buf.len == 8 + 4 + 8 + 8);
    crdt_stamp_t read;
    memset(&read, 0xAB, sizeof read);
    codec_reader_t reader;
    codec_reader_init(&reader, buf.data, buf.len);
    cr_assert(codec_get_stamp(&reader, &read) == 0);
    cr_assert(memcmp(&read.tag, &stamp.tag, sizeof read.tag) == 0);
    cr_assert(read.hlc == 77);
    crdt_buf_free(&buf);
}

Test(codec, invalid_tags_are_ecorrupt)
{
    crdt_tag_t tag;
    codec_reader_t reader;
    const uint8_t empty_name[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    codec_reader_init(&reader, empty_name, sizeof empty_name);
    cr_assert(codec_get_tag(&reader, &tag) == -SM_ECORRUPT);
    const uint8_t nul_in_name[] = {0, 0, 0, 2, 'a', 0, 0, 0, 0, 0, 0, 0, 0, 1};
    codec_reader_init(&reader, nul_in_name, sizeof nul_in_name);
    cr_assert(codec_get_tag(&reader, &tag) == -SM_ECORRUPT);
    const uint8_t seq_zero[] = {0, 0, 0, 1, 'a', 0, 0, 0, 0, 0, 0, 0, 0};
    codec_reader_init(&reader, seq_zero, sizeof seq_zero);
    cr_assert(codec_get_tag(&reader, &tag) == -SM_ECORRUPT);
    uint8_t long_name[4 + CRDT_NAME_MAX + 1 + 8];
    memset(long_name, 'n', sizeof long_name);
    long_name[0] = long_name[1] = long_name[2] = 0;
    long_name[3] = CRDT_NAME_MAX + 1;
    codec_reader_init(&reader, long_name, sizeof long_name);
    cr_assert(codec_get_tag(&reader, &tag) == -SM_ECORRUPT);
}

Test(codec, header_of_another_version_or_kind_is_ecorrupt)
{
    crdt_buf_t buf;
    crdt_buf_init(&buf);
    codec_writer_t writer;
    codec_writer_init(&writer, &buf);
    codec_put_header(&writer, CRDT_KIND_AWSET);
    cr_assert(writer.rc == 0);
    cr_assert(buf.len == CODEC_HEADER_BYTES);
    cr_assert(buf.data[0] == CODEC_FORMAT_VERSION);
    codec_reader_t reader;
    codec_reader_init(&reader, buf.data, buf.len);
    cr_assert(codec_get_header(&reader, CRDT_KIND_AWSET) == 0);
    codec_reader_init(&reader, buf.data, buf.len);
    cr_assert(codec_get_header(&reader, CRDT_KIND_LWW) == -SM_ECORRUPT);
    buf.data[0] = CODEC_FORMAT_VERSION + 1;
    codec_reader_init(&reader, buf.data, buf.len);
    cr_assert(codec_get_header(&reader, CRDT_KIND_AWSET) == -SM_ECORRUPT);
    crdt_buf_free(&buf);
}
