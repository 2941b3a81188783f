#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "value_list.h"

static value_list_item_t
item(const char *origin, uint64_t seq, uint64_t hlc, const char *value)
{
    value_list_item_t result = {
        .stamp.hlc = hlc, .value = (const uint8_t *)value, .value_len = strlen(value)};
    cr_assert(crdt_tag_set(&result.stamp.tag, origin, seq) == 0);
    return result;
}

static void
insert(value_list_t *list, const value_list_item_t *added)
{
    bool found = false;
    size_t index = value_list_search(list, added, &found);
    cr_assert(!found);
    cr_assert(value_list_insert_at(list, index, added) == 0);
}

Test(value_list, by_value_orders_bytes_then_stamp)
{
    value_list_t list;
    value_list_init(&list, VALUE_LIST_BY_VALUE);
    value_list_item_t items[] = {item("a", 1, 5, "pear"), item("a", 2, 1, "app"),
                                 item("b", 1, 1, "apple"), item("a", 3, 0, "pear")};
    for (size_t index = 0; index < 4; index++)
        insert(&list, &items[index]);
    const size_t expected[] = {1, 2, 3, 0};
    for (size_t index = 0; index < 4; index++)
        cr_assert(value_list_compare(VALUE_LIST_BY_VALUE, &list.items[index],
                                     &items[expected[index]]) == 0);
    cr_assert(value_list_same_value(&list.items[2], &list.items[3]));
    value_list_free(&list);
}

Test(value_list, by_stamp_orders_stamp_then_bytes)
{
    value_list_item_t early = item("z", 1, 1, "b");
    value_list_item_t late = item("a", 1, 2, "a");
    value_list_item_t same_stamp_bigger = item("z", 1, 1, "c");
    cr_assert(value_list_compare(VALUE_LIST_BY_STAMP, &early, &late) < 0);
    cr_assert(value_list_compare(VALUE_LIST_BY_STAMP, &early, &same_stamp_bigger) < 0);
    cr_assert(value_list_compare(VALUE_LIST_BY_STAMP, &early, &early) == 0);
}

Test(value_list, by_origin_finds_the_origins_item)
{
    value_list_t list;
    value_list_init(&list, VALUE_LIST_BY_ORIGIN);
    value_list_item_t items[] = {item("cloud", 4, 9, "x"), item("branch", 2, 1, "y")};
    insert(&list, &items[0]);
    insert(&list, &items[1]);
    value_list_item_t key = item("cloud", 99, 0, "");
    bool found = false;
    size_t index = value_list_search(&list, &key, &found);
    cr_assert(found);
    cr_assert(index == 1);
    value_list_remove_at(&list, 0);
    cr_assert(list.count == 1);
    cr_assert_str_eq(list.items[0].stamp.tag.origin, "cloud");
    value_list_free(&list);
}

Test(value_list, decode_rejects_repeats_and_counts_out_of_range)
{
    value_list_item_t one = item("a", 1, 1, "v");
    crdt_buf_t buf;
    crdt_buf_init(&buf);
    codec_writer_t writer;
    codec_writer_init(&writer, &buf);
    codec_put_count(&writer, 2);
    codec_put_stamp(&writer, &one.stamp);
    codec_put_bytes(&writer, one.value, one.value_len);
    codec_put_stamp(&writer, &one.stamp);
    codec_put_bytes(&writer, one.value, one.value_len);
    cr_assert(writer.rc == 0);
    value_list_t read;
    value_list_init(&read, VALUE_LIST_BY_STAMP);
    codec_reader_t reader;
    codec_reader_init(&reader, buf.data, buf.len);
    cr_assert(value_list_decode(&read, &reader, 0, 10) == -SM_ECORRUPT);
    codec_reader_init(&reader, buf.data, buf.len);
    cr_assert(value_list_decode(&read, &reader, 0, 1) == -SM_ECORRUPT);
    codec_reader_init(&reader, buf.data, buf.len);
    cr_assert(value_list_decode(&read, &reader, 3, 10) == -SM_ECORRUPT);
    value_list_free(&read);
    crdt_buf_free(&buf);
}
