#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "crdt.h"

Test(crdt, buf_append_grows_and_keeps_bytes)
{
    crdt_buf_t buf;
    crdt_buf_init(&buf);
    cr_assert(buf.data == NULL);
    for (int index = 0; index < 1000; index++) {
        uint8_t byte = (uint8_t)index;
        cr_assert(crdt_buf_append(&buf, &byte, 1) == 0);
    }
    cr_assert(buf.len == 1000);
    cr_assert(buf.cap >= buf.len);
    for (int index = 0; index < 1000; index++)
        cr_assert(buf.data[index] == (uint8_t)index);
    cr_assert(crdt_buf_append(&buf, NULL, 0) == 0);
    cr_assert(buf.len == 1000);
    crdt_buf_free(&buf);
    cr_assert(buf.data == NULL);
    cr_assert(buf.len == 0);
    cr_assert(buf.cap == 0);
}

Test(crdt, buf_reset_keeps_memory)
{
    crdt_buf_t buf;
    crdt_buf_init(&buf);
    cr_assert(crdt_buf_append(&buf, "hello", 5) == 0);
    size_t cap = buf.cap;
    crdt_buf_reset(&buf);
    cr_assert(buf.len == 0);
    cr_assert(buf.cap == cap);
    cr_assert(buf.data != NULL);
    crdt_buf_free(&buf);
}

Test(crdt, buf_reserve_makes_room_once)
{
    crdt_buf_t buf;
    crdt_buf_init(&buf);
    cr_assert(crdt_buf_reserve(&buf, 5000) == 0);
    cr_assert(buf.cap >= 5000);
    uint8_t *data = buf.data;
    uint8_t chunk[1000] = {0};
    for (int index = 0; index < 5; index++)
        cr_assert(crdt_buf_append(&buf, chunk, sizeof chunk) == 0);
    cr_assert(buf.data == data);
    crdt_buf_free(&buf);
}

Test(crdt, tag_set_pads_the_origin_with_zeros)
{
    crdt_tag_t tag;
    memset(&tag, 0xAB, sizeof tag);
    cr_assert(crdt_tag_set(&tag, "cloud", 7) == 0);
    cr_assert_str_eq(tag.origin, "cloud");
    for (size_t index = 5; index < sizeof tag.origin; index++)
        cr_assert(tag.origin[index] == '\0');
    cr_assert(tag.seq == 7);
    cr_assert(crdt_tag_is_valid(&tag));
}

Test(crdt, tag_set_rejects_empty_and_long_names)
{
    crdt_tag_t tag;
    char name[CRDT_NAME_MAX + 2];
    memset(name, 'n', sizeof name);
    name[CRDT_NAME_MAX + 1] = '\0';
    cr_assert(crdt_tag_set(&tag, "", 1) == -SM_EINVAL);
    cr_assert(crdt_tag_set(&tag, name, 1) == -SM_EINVAL);
    name[CRDT_NAME_MAX] = '\0';
    cr_assert(crdt_tag_set(&tag, name, 1) == 0);
    cr_assert(strlen(tag.origin) == CRDT_NAME_MAX);
}

Test(crdt, tag_is_valid_rejects_what_tag_set_never_makes)
{
    crdt_tag_t tag;
    cr_assert(crdt_tag_set(&tag, "a", 1) == 0);
    tag.origin[10] = 'x'; // garbage after the terminator
    cr_assert(!crdt_tag_is_valid(&tag));
    cr_assert(crdt_tag_set(&tag, "a", 0) == 0);
    cr_assert(!crdt_tag_is_valid(&tag));
    memset(tag.origin, 'x', sizeof tag.origin); // no terminator
    tag.seq = 1;
    cr_assert(!crdt_tag_is_valid(&tag));
    memset(tag.origin, 0, sizeof tag.origin);
    cr_assert(!crdt_tag_is_valid(&tag));
}

Test(crdt, tag_compare_is_bytewise_then_seq)
{
    crdt_tag_t a, ab, b, high, a2;
    cr_assert(crdt_tag_set(&a, "a", 9) == 0);
    cr_assert(crdt_tag_set(&ab, "ab", 1) == 0);
    cr_assert(crdt_tag_set(&b, "b", 1) == 0);
    cr_assert(crdt_tag_set(&high, "\xc3\xa9", 1) == 0); // bytes above ASCII sort last
    cr_assert(crdt_tag_set(&a2, "a", 10) == 0);
    cr_assert(crdt_tag_compare(&a, &ab) < 0);
    cr_assert(crdt_tag_compare(&ab, &b) < 0);
    cr_assert(crdt_tag_compare(&b, &high) < 0);
    cr_assert(crdt_tag_compare(&a, &a2) < 0);
    cr_assert(crdt_tag_compare(&a2, &a) > 0);
    cr_assert(crdt_tag_compare(&a, &a) == 0);
    cr_assert(crdt_tag_equal(&a, &a));
    cr_assert(!crdt_tag_equal(&a, &a2));
}

Test(crdt, stamp_compare_is_hlc_then_origin_then_seq)
{
    crdt_stamp_t early = {.hlc = 10};
    crdt_stamp_t late = {.hlc = 11};
    cr_assert(crdt_tag_set(&early.tag, "z", 99) == 0);
    cr_assert(crdt_tag_set(&late.tag, "a", 1) == 0);
    cr_assert(crdt_stamp_compare(&early, &late) < 0);
    crdt_stamp_t tie_a = {.hlc = 10};
    crdt_stamp_t tie_b = {.hlc = 10};
    cr_assert(crdt_tag_set(&tie_a.tag, "a", 5) == 0);
    cr_assert(crdt_tag_set(&tie_b.tag, "b", 1) == 0);
    cr_assert(crdt_stamp_compare(&tie_a, &tie_b) < 0);
    cr_assert(crdt_stamp_compare(&tie_b, &tie_a) > 0);
    tie_b = tie_a;
    tie_b.tag.seq = 6;
    cr_assert(crdt_stamp_compare(&tie_a, &tie_b) < 0);
    cr_assert(crdt_stamp_compare(&tie_a, &tie_a) == 0);
}
