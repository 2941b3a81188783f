#include "awset.h"

#include <assert.h>
#include <stdlib.h>

#include "codec.h"
#include "tag_set.h"
#include "value_list.h"
#include "view.h"

typedef struct {
    value_list_t adds;    // live adds by element, then stamp; none tombstoned
    tag_set_t tombstones; // add tags removed
} awset_state_t;

static void
awset_state_free(awset_state_t *state)
{
    value_list_free(&state->adds);
    tag_set_free(&state->tombstones);
}

// Reads state into *out. The caller frees *out, also on failure.
static int
awset_decode(const uint8_t *state, size_t state_len, awset_state_t *out)
{
    value_list_init(&out->adds, VALUE_LIST_BY_VALUE);
    tag_set_init(&out->tombstones);
    if (state_len == 0)
        return 0;
    codec_reader_t reader;
    codec_reader_init(&reader, state, state_len);
    int rc = codec_get_header(&reader, CRDT_KIND_AWSET);
    if (rc == 0)
        rc = value_list_decode(&out->adds, &reader, 0, SIZE_MAX);
    if (rc == 0)
        rc = tag_set_decode(&out->tombstones, &reader);
    if (rc != 0)
        return rc;
    if (!codec_reader_at_end(&reader))
        return -SM_ECORRUPT;
    for (size_t index = 0; index < out->adds.count; index++) {
        if (tag_set_contains(&out->tombstones, &out->adds.items[index].stamp.tag))
            return -SM_ECORRUPT; // apply never keeps a tombstoned add
    }
    return 0;
}

static int
awset_encode(const awset_state_t *state, crdt_buf_t *out)
{
    codec_writer_t writer;
    codec_writer_init(&writer, out);
    codec_put_header(&writer, CRDT_KIND_AWSET);
    value_list_encode(&state->adds, &writer);
    tag_set_encode(&state->tombstones, &writer);
    return writer.rc;
}

static int
awset_add(awset_state_t *state, const crdt_op_t *op)
{
    if (tag_set_contains(&state->tombstones, &op->stamp.tag))
        return 0; // its remove came first
    value_list_item_t add = {
        .stamp = op->stamp,
        .value = (const uint8_t *)op->value,
        .value_len = op->value_len,
    };
    bool found = false;
    size_t index = value_list_search(&state->adds, &add, &found);
    if (found)
        return 0;
    return value_list_insert_at(&state->adds, index, &add);
}

static int
awset_remove(awset_state_t *state, const crdt_op_t *op)
{
    int rc = tag_set_add_all(&state->tombstones, op->observed, op->observed_count);
    if (rc != 0)
        return rc;
    size_t kept = 0;
    for (size_t index = 0; index < state->adds.count; index++) {
        const value_list_item_t *add = &state->adds.items[index];
        if (!tag_set_contains(&state->tombstones, &add->stamp.tag))
            state->adds.items[kept++] = *add;
    }
    state->adds.count = kept;
    return 0;
}

int
awset_apply(const uint8_t *state_in, size_t state_in_len, const crdt_op_t *op,
            crdt_buf_t *state_out)
{
    assert(op != NULL);
    awset_state_t state;
    int rc = awset_decode(state_in, state_in_len, &state);
    if (rc == 0 && op->kind == CRDT_OP_ADD)
        rc = awset_add(&state, op);
    else if (rc == 0)
        rc = awset_remove(&state, op);
    if (rc == 0)
        rc = awset_encode(&state, state_out);
    awset_state_free(&state);
    return rc;
}

int
awset_view(const uint8_t *state, size_t state_len, crdt_view_t *view)
{
    assert(view != NULL);
    awset_state_t decoded;
    int rc = awset_decode(state, state_len, &decoded);
    for (size_t index = 0; rc == 0 && index < decoded.adds.count; index++) {
        const value_list_item_t *add = &decoded.adds.items[index];
        if (index > 0 && value_list_same_value(add - 1, add))
            continue;
        rc = view_add_value(view, add->value, add->value_len);
    }
    awset_state_free(&decoded);
    return rc;
}

int
awset_observed(const uint8_t *state, size_t state_len, const char *value, size_t value_len,
               crdt_tag_t **tags, size_t *count)
{
    assert(tags != NULL);
    assert(count != NULL);
    *tags = NULL;
    *count = 0;
    awset_state_t decoded;
    int rc = awset_decode(state, state_len, &decoded);
    const value_list_item_t element = {.value = (const uint8_t *)value, .value_len = value_len};
    size_t first = 0;
    size_t live = 0;
    for (size_t index = 0; rc == 0 && index < decoded.adds.count; index++) {
        if (!value_list_same_value(&decoded.adds.items[index], &element))
            continue;
        if (live == 0)
            first = index;
        live++; // the adds of one element are adjacent: the list is sorted by element
    }
    if (rc == 0 && live > CRDT_OBSERVED_MAX)
        rc = -SM_EFULL;
    if (rc == 0 && live > 0) {
        *tags = calloc(live, sizeof **tags);
        rc = *tags == NULL ? -SM_ENOMEM : 0;
    }
    for (size_t index = 0; rc == 0 && index < live; index++)
        (*tags)[index] = decoded.adds.items[first + index].stamp.tag;
    if (rc == 0)
        *count = live;
    awset_state_free(&decoded);
    return rc;
}
