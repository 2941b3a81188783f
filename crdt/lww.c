#include "lww.h"

#include <assert.h>

#include "codec.h"
#include "value_list.h"
#include "view.h"

// Reads the winning write; *present is false for an empty state.
static int
lww_decode(const uint8_t *state, size_t state_len, value_list_item_t *winner, bool *present)
{
    *present = false;
    if (state_len == 0)
        return 0;
    codec_reader_t reader;
    codec_reader_init(&reader, state, state_len);
    int rc = codec_get_header(&reader, CRDT_KIND_LWW);
    if (rc == 0)
        rc = codec_get_stamp(&reader, &winner->stamp);
    if (rc == 0)
        rc = codec_get_value(&reader, &winner->value, &winner->value_len);
    if (rc != 0)
        return rc;
    if (!codec_reader_at_end(&reader))
        return -SM_ECORRUPT;
    *present = true;
    return 0;
}

int
lww_apply(const uint8_t *state_in, size_t state_in_len, const crdt_op_t *op, crdt_buf_t *state_out)
{
    assert(op != NULL);
    assert(op->kind == CRDT_OP_SET);
    value_list_item_t winner = {0};
    bool present = false;
    int rc = lww_decode(state_in, state_in_len, &winner, &present);
    if (rc != 0)
        return rc;
    value_list_item_t candidate = {
        .stamp = op->stamp,
        .value = (const uint8_t *)op->value,
        .value_len = op->value_len,
    };
    if (!present || value_list_compare(VALUE_LIST_BY_STAMP, &candidate, &winner) > 0)
        winner = candidate;
    codec_writer_t writer;
    codec_writer_init(&writer, state_out);
    codec_put_header(&writer, CRDT_KIND_LWW);
    codec_put_stamp(&writer, &winner.stamp);
    codec_put_bytes(&writer, winner.value, winner.value_len);
    return writer.rc;
}

int
lww_view(const uint8_t *state, size_t state_len, crdt_view_t *view)
{
    assert(view != NULL);
    value_list_item_t winner = {0};
    bool present = false;
    int rc = lww_decode(state, state_len, &winner, &present);
    if (rc != 0 || !present)
        return rc;
    return view_add_value(view, winner.value, winner.value_len);
}
