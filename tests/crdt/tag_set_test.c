#include <criterion/criterion.h>
#include <stdint.h>

#include "tag_set.h"

static crdt_tag_t
tag(const char *origin, uint64_t seq)
{
    crdt_tag_t result;
    cr_assert(crdt_tag_set(&result, origin, seq) == 0);
    return result;
}

Test(tag_set, add_all_sorts_and_drops_repeats)
{
    tag_set_t set;
    tag_set_init(&set);
    crdt_tag_t first[] = {tag("b", 1), tag("a", 2), tag("b", 1), tag("a", 1)};
    cr_assert(tag_set_add_all(&set, first, 4) == 0);
    crdt_tag_t second[] = {tag("a", 2), tag("c", 1)};
    cr_assert(tag_set_add_all(&set, second, 2) == 0);
    cr_assert(set.count == 4);
    crdt_tag_t expected[] = {tag("a", 1), tag("a", 2), tag("b", 1), tag("c", 1)};
    for (size_t index = 0; index < 4; index++)
        cr_assert(crdt_tag_equal(&set.tags[index], &expected[index]));
    cr_assert(tag_set_contains(&set, &expected[2]));
    crdt_tag_t absent = tag("b", 2);
    cr_assert(!tag_set_contains(&set, &absent));
    cr_assert(tag_set_add_all(&set, NULL, 0) == 0);
    cr_assert(set.count == 4);
    tag_set_free(&set);
}

Test(tag_set, encoding_round_trips)
{
    tag_set_t set, read;
    tag_set_init(&set);
    tag_set_init(&read);
    crdt_tag_t tags[] = {tag("z", 3), tag("cloud", 9)};
    cr_assert(tag_set_add_all(&set, tags, 2) == 0);
    crdt_buf_t buf;
    crdt_buf_init(&buf);
    codec_writer_t writer;
    codec_writer_init(&writer, &buf);
    tag_set_encode(&set, &writer);
    cr_assert(writer.rc == 0);
    codec_reader_t reader;
    codec_reader_init(&reader, buf.data, buf.len);
    cr_assert(tag_set_decode(&read, &reader) == 0);
    cr_assert(codec_reader_at_end(&reader));
    cr_assert(read.count == 2);
    cr_assert(crdt_tag_equal(&read.tags[0], &tags[1]));
    cr_assert(crdt_tag_equal(&read.tags[1], &tags[0]));
    tag_set_free(&set);
    tag_set_free(&read);
    crdt_buf_free(&buf);
}

Test(tag_set, unsorted_or_repeated_encoding_is_ecorrupt)
{
    crdt_tag_t tags[] = {tag("b", 1), tag("a", 1), tag("a", 1)};
    for (size_t start = 0; start < 2; start++) {
        crdt_buf_t buf;
        crdt_buf_init(&buf);
        codec_writer_t writer;
        codec_writer_init(&writer, &buf);
        codec_put_count(&writer, 2);
        codec_put_tag(&writer, &tags[start]);
        codec_put_tag(&writer, &tags[start + 1]);
        cr_assert(writer.rc == 0);
        tag_set_t read;
        tag_set_init(&read);
        codec_reader_t reader;
        codec_reader_init(&reader, buf.data, buf.len);
        cr_assert(tag_set_decode(&read, &reader) == -SM_ECORRUPT);
        tag_set_free(&read);
        crdt_buf_free(&buf);
    }
}
