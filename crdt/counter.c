#include "counter.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

// Smallest encoded entry: a tag (origin and high-water seq) and a sum.
#define COUNTER_ENTRY_BYTES_MIN (CODEC_TAG_BYTES_MIN + 8)

typedef struct {
    crdt_tag_t high_water; // the origin, and the largest seq folded into sum
    int64_t sum;           // of every delta the origin added up to high_water.seq
} counter_entry_t;

typedef struct {
    counter_entry_t *entries; // sorted by origin, one per origin
    size_t count;
} counter_state_t;

static void
counter_state_free(counter_state_t *state)
{
    free(state->entries);
    state->entries = NULL;
    state->count = 0;
}

static int
origin_compare(const crdt_tag_t *a, const crdt_tag_t *b)
{
    return strncmp(a->origin, b->origin, sizeof a->origin);
}

// Reads state into *out, with room for one more entry. The caller frees *out, also
// on failure.
static int
counter_decode(const uint8_t *state, size_t state_len, counter_state_t *out)
{
    codec_reader_t reader;
    codec_reader_init(&reader, state, state_len);
    size_t count = 0;
    out->entries = NULL;
    out->count = 0;
    if (state_len > 0) {
        int rc = codec_get_header(&reader, CRDT_KIND_COUNTER);
        if (rc == 0)
            rc = codec_get_count(&reader, COUNTER_ENTRY_BYTES_MIN, &count);
        if (rc != 0)
            return rc;
        if (count == 0)
            return -SM_ECORRUPT; // an encoded counter always has an entry
    }
    out->entries = calloc(count + 1, sizeof *out->entries);
    if (out->entries == NULL)
        return -SM_ENOMEM;
    for (size_t index = 0; index < count; index++) {
        counter_entry_t *entry = &out->entries[index];
        int rc = codec_get_tag(&reader, &entry->high_water);
        if (rc == 0)
            rc = codec_get_i64(&reader, &entry->sum);
        if (rc != 0)
            return rc;
        if (index > 0 && origin_compare(&entry[-1].high_water, &entry->high_water) >= 0)
            return -SM_ECORRUPT;
        out->count = index + 1;
    }
    return codec_reader_at_end(&reader) ? 0 : -SM_ECORRUPT;
}

static int
counter_encode(const counter_state_t *state, crdt_buf_t *out)
{
    codec_writer_t writer;
    codec_writer_init(&writer, out);
    codec_put_header(&writer, CRDT_KIND_COUNTER);
    codec_put_count(&writer, state->count);
    for (size_t index = 0; index < state->count; index++) {
        codec_put_tag(&writer, &state->entries[index].high_water);
        codec_put_i64(&writer, state->entries[index].sum);
    }
    return writer.rc;
}

// a + b, or -SM_ERANGE when it leaves int64.
static int
sum_add(int64_t a, int64_t b, int64_t *sum)
{
    if ((b > 0 && a > INT64_MAX - b) || (b < 0 && a < INT64_MIN - b))
        return -SM_ERANGE;
    *sum = a + b;
    return 0;
}

// Folds op into state: a new origin's entry, or a later op of a known origin.
static int
counter_fold(counter_state_t *state, const crdt_op_t *op)
{
    size_t index = 0;
    while (index < state->count &&
           origin_compare(&state->entries[index].high_water, &op->stamp.tag) < 0)
        index++;
    counter_entry_t *entry = &state->entries[index];
    if (index < state->count && origin_compare(&entry->high_water, &op->stamp.tag) == 0) {
        if (op->stamp.tag.seq <= entry->high_water.seq)
            return 0; // a repeat
        int rc = sum_add(entry->sum, op->delta, &entry->sum);
        if (rc != 0)
            return rc;
        entry->high_water.seq = op->stamp.tag.seq;
        return 0;
    }
    memmove(entry + 1, entry, (state->count - index) * sizeof *entry);
    entry->high_water = op->stamp.tag;
    entry->sum = op->delta;
    state->count++;
    return 0;
}

int
counter_apply(const uint8_t *state_in, size_t state_in_len, const crdt_op_t *op,
              crdt_buf_t *state_out)
{
    assert(op != NULL);
    assert(op->kind == CRDT_OP_ADD);
    counter_state_t state;
    int rc = counter_decode(state_in, state_in_len, &state);
    if (rc == 0)
        rc = counter_fold(&state, op);
    if (rc == 0)
        rc = counter_encode(&state, state_out);
    counter_state_free(&state);
    return rc;
}

int
counter_view(const uint8_t *state, size_t state_len, crdt_view_t *view)
{
    assert(view != NULL);
    counter_state_t decoded;
    int rc = counter_decode(state, state_len, &decoded);
    int64_t total = 0;
    for (size_t index = 0; rc == 0 && index < decoded.count; index++)
        rc = sum_add(total, decoded.entries[index].sum, &total);
    counter_state_free(&decoded);
    if (rc != 0)
        return rc;
    view->is_number = true;
    view->number = total;
    return 0;
}
