#include "fww.h"

#include <assert.h>

#include "codec.h"
#include "value_list.h"
#include "view.h"

// Reads state into writes (by stamp). The caller frees writes, also on failure.
static int
fww_decode(const uint8_t *state, size_t state_len, value_list_t *writes)
{
    value_list_init(writes, VALUE_LIST_BY_STAMP);
    if (state_len == 0)
        return 0;
    codec_reader_t reader;
    codec_reader_init(&reader, state, state_len);
    int rc = codec_get_header(&reader, CRDT_KIND_FWW);
    if (rc == 0)
        rc = value_list_decode(writes, &reader, 1, FWW_WRITES_MAX);
    if (rc != 0)
        return rc;
    return codec_reader_at_end(&reader) ? 0 : -SM_ECORRUPT;
}

// Adds op's write unless it is already kept or falls beyond the cap.
static int
fww_fold(value_list_t *writes, const crdt_op_t *op)
{
    value_list_item_t write = {
        .stamp = op->stamp,
        .value = (const uint8_t *)op->value,
        .value_len = op->value_len,
    };
    bool found = false;
    size_t index = value_list_search(writes, &write, &found);
    if (found || index == FWW_WRITES_MAX)
        return 0;
    int rc = value_list_insert_at(writes, index, &write);
    if (rc != 0)
        return rc;
    if (writes->count > FWW_WRITES_MAX)
        value_list_remove_at(writes, writes->count - 1);
    return 0;
}

int
fww_apply(const uint8_t *state_in, size_t state_in_len, const crdt_op_t *op, crdt_buf_t *state_out)
{
    assert(op != NULL);
    assert(op->kind == CRDT_OP_SET);
    value_list_t writes;
    int rc = fww_decode(state_in, state_in_len, &writes);
    if (rc == 0)
        rc = fww_fold(&writes, op);
    if (rc == 0) {
        codec_writer_t writer;
        codec_writer_init(&writer, state_out);
        codec_put_header(&writer, CRDT_KIND_FWW);
        value_list_encode(&writes, &writer);
        rc = writer.rc;
    }
    value_list_free(&writes);
    return rc;
}

int
fww_view(const uint8_t *state, size_t state_len, crdt_view_t *view)
{
    assert(view != NULL);
    value_list_t writes;
    int rc = fww_decode(state, state_len, &writes);
    for (size_t index = 0; rc == 0 && index < writes.count; index++) {
        const value_list_item_t *write = &writes.items[index];
        if (index == 0)
            rc = view_add_value(view, write->value, write->value_len);
        else
            rc = view_add_conflict(view, &write->stamp.tag, write->value, write->value_len);
    }
    value_list_free(&writes);
    return rc;
}
