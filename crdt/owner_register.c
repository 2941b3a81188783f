#include "owner_register.h"

#include <assert.h>

#include "codec.h"
#include "value_list.h"
#include "view.h"

// Reads state into writes (one per origin). The caller frees writes, also on failure.
static int
owner_register_decode(const uint8_t *state, size_t state_len, value_list_t *writes)
{
    value_list_init(writes, VALUE_LIST_BY_ORIGIN);
    if (state_len == 0)
        return 0;
    codec_reader_t reader;
    codec_reader_init(&reader, state, state_len);
    int rc = codec_get_header(&reader, CRDT_KIND_OWNER);
    if (rc == 0)
        rc = value_list_decode(writes, &reader, 1, SIZE_MAX);
    if (rc != 0)
        return rc;
    return codec_reader_at_end(&reader) ? 0 : -SM_ECORRUPT;
}

static int
owner_register_fold(value_list_t *writes, const crdt_op_t *op)
{
    value_list_item_t write = {
        .stamp = op->stamp,
        .value = (const uint8_t *)op->value,
        .value_len = op->value_len,
    };
    bool found = false;
    size_t index = value_list_search(writes, &write, &found);
    if (!found)
        return value_list_insert_at(writes, index, &write);
    if (value_list_compare(VALUE_LIST_BY_STAMP, &write, &writes->items[index]) > 0)
        writes->items[index] = write;
    return 0;
}

int
owner_register_apply(const uint8_t *state_in, size_t state_in_len, const crdt_op_t *op,
                     crdt_buf_t *state_out)
{
    assert(op != NULL);
    assert(op->kind == CRDT_OP_SET);
    value_list_t writes;
    int rc = owner_register_decode(state_in, state_in_len, &writes);
    if (rc == 0)
        rc = owner_register_fold(&writes, op);
    if (rc == 0) {
        codec_writer_t writer;
        codec_writer_init(&writer, state_out);
        codec_put_header(&writer, CRDT_KIND_OWNER);
        value_list_encode(&writes, &writer);
        rc = writer.rc;
    }
    value_list_free(&writes);
    return rc;
}

int
owner_register_view(const uint8_t *state, size_t state_len, const char *owner, crdt_view_t *view)
{
    assert(owner != NULL);
    assert(view != NULL);
    value_list_item_t key = {0};
    if (crdt_tag_set(&key.stamp.tag, owner, 1) != 0)
        return -SM_EINVAL;
    value_list_t writes;
    int rc = owner_register_decode(state, state_len, &writes);
    bool found = false;
    size_t index = rc == 0 ? value_list_search(&writes, &key, &found) : 0;
    if (found)
        rc = view_add_value(view, writes.items[index].value, writes.items[index].value_len);
    value_list_free(&writes);
    return rc;
}
