#include "keepboth.h"

#include <assert.h>
#include <stdlib.h>

#include "codec.h"
#include "tag_set.h"
#include "value_list.h"
#include "view.h"

typedef struct {
    value_list_t values;  // current values by value, then stamp; none superseded
    tag_set_t superseded; // tags of values some set has replaced
} keepboth_state_t;

static void
keepboth_state_free(keepboth_state_t *state)
{
    value_list_free(&state->values);
    tag_set_free(&state->superseded);
}

// Reads state into *out. The caller frees *out, also on failure.
static int
keepboth_decode(const uint8_t *state, size_t state_len, keepboth_state_t *out)
{
    value_list_init(&out->values, VALUE_LIST_BY_VALUE);
    tag_set_init(&out->superseded);
    if (state_len == 0)
        return 0;
    codec_reader_t reader;
    codec_reader_init(&reader, state, state_len);
    int rc = codec_get_header(&reader, CRDT_KIND_KEEPBOTH);
    if (rc == 0)
        rc = value_list_decode(&out->values, &reader, 0, SIZE_MAX);
    if (rc == 0)
        rc = tag_set_decode(&out->superseded, &reader);
    if (rc != 0)
        return rc;
    if (!codec_reader_at_end(&reader))
        return -SM_ECORRUPT;
    for (size_t index = 0; index < out->values.count; index++) {
        if (tag_set_contains(&out->superseded, &out->values.items[index].stamp.tag))
            return -SM_ECORRUPT; // apply never keeps a superseded value
    }
    return 0;
}

// Supersedes op->observed, then adds op's own value unless it is superseded too.
static int
keepboth_fold(keepboth_state_t *state, const crdt_op_t *op)
{
    int rc = tag_set_add_all(&state->superseded, op->observed, op->observed_count);
    if (rc != 0)
        return rc;
    size_t kept = 0;
    for (size_t index = 0; index < state->values.count; index++) {
        const value_list_item_t *value = &state->values.items[index];
        if (!tag_set_contains(&state->superseded, &value->stamp.tag))
            state->values.items[kept++] = *value;
    }
    state->values.count = kept;
    if (tag_set_contains(&state->superseded, &op->stamp.tag))
        return 0;
    value_list_item_t write = {
        .stamp = op->stamp,
        .value = (const uint8_t *)op->value,
        .value_len = op->value_len,
    };
    bool found = false;
    size_t index = value_list_search(&state->values, &write, &found);
    if (found)
        return 0;
    return value_list_insert_at(&state->values, index, &write);
}

int
keepboth_apply(const uint8_t *state_in, size_t state_in_len, const crdt_op_t *op,
               crdt_buf_t *state_out)
{
    assert(op != NULL);
    assert(op->kind == CRDT_OP_SET);
    keepboth_state_t state;
    int rc = keepboth_decode(state_in, state_in_len, &state);
    if (rc == 0)
        rc = keepboth_fold(&state, op);
    if (rc == 0) {
        codec_writer_t writer;
        codec_writer_init(&writer, state_out);
        codec_put_header(&writer, CRDT_KIND_KEEPBOTH);
        value_list_encode(&state.values, &writer);
        tag_set_encode(&state.superseded, &writer);
        rc = writer.rc;
    }
    keepboth_state_free(&state);
    return rc;
}

int
keepboth_view(const uint8_t *state, size_t state_len, crdt_view_t *view)
{
    assert(view != NULL);
    keepboth_state_t decoded;
    int rc = keepboth_decode(state, state_len, &decoded);
    for (size_t index = 0; rc == 0 && index < decoded.values.count; index++) {
        const value_list_item_t *value = &decoded.values.items[index];
        if (index > 0 && value_list_same_value(value - 1, value))
            continue;
        rc = view_add_value(view, value->value, value->value_len);
    }
    if (rc == 0 && view->value_count > 1)
        view->conflict_count = view->value_count;
    keepboth_state_free(&decoded);
    return rc;
}

int
keepboth_observed(const uint8_t *state, size_t state_len, crdt_tag_t **tags, size_t *count)
{
    assert(tags != NULL);
    assert(count != NULL);
    *tags = NULL;
    *count = 0;
    keepboth_state_t decoded;
    int rc = keepboth_decode(state, state_len, &decoded);
    size_t current = decoded.values.count;
    if (rc == 0 && current > CRDT_OBSERVED_MAX)
        rc = -SM_EFULL;
    if (rc == 0 && current > 0) {
        *tags = calloc(current, sizeof **tags);
        rc = *tags == NULL ? -SM_ENOMEM : 0;
    }
    for (size_t index = 0; rc == 0 && index < current; index++)
        (*tags)[index] = decoded.values.items[index].stamp.tag;
    if (rc == 0)
        *count = current;
    keepboth_state_free(&decoded);
    return rc;
}
