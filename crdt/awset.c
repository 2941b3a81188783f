#include "awset.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "tag_set.h"
#include "value_list.h"
#include "view.h"

typedef struct {
    value_list_t adds;    // live adds by element, then stamp; none tombstoned
    tag_set_t tombstones; // add tags removed
    value_list_t dead;    // an origin's latest add of an element, when it is tombstoned
} awset_state_t;

static void
awset_state_free(awset_state_t *state)
{
    value_list_free(&state->adds);
    tag_set_free(&state->tombstones);
    value_list_free(&state->dead);
}

static void normalize_earlier_state(awset_state_t *state);

// Reads state into *out. The caller frees *out, also on failure.
static int
awset_decode(const uint8_t *state, size_t state_len, awset_state_t *out)
{
    value_list_init(&out->adds, VALUE_LIST_BY_VALUE);
    tag_set_init(&out->tombstones);
    value_list_init(&out->dead, VALUE_LIST_BY_VALUE);
    if (state_len == 0)
        return 0;
    codec_reader_t reader;
    codec_reader_init(&reader, state, state_len);
    int rc = codec_get_header(&reader, CRDT_KIND_AWSET);
    if (rc == 0)
        rc = value_list_decode(&out->adds, &reader, 0, SIZE_MAX);
    if (rc == 0)
        rc = tag_set_decode(&out->tombstones, &reader);
    // States written before 2026-12-06 end here (no dead adds).
    bool earlier = rc == 0 && codec_reader_at_end(&reader);
    if (rc == 0 && !earlier)
        rc = value_list_decode(&out->dead, &reader, 0, SIZE_MAX);
    if (rc != 0)
        return rc;
    if (!codec_reader_at_end(&reader))
        return -SM_ECORRUPT;
    for (size_t index = 0; index < out->adds.count; index++) {
        if (tag_set_contains(&out->tombstones, &out->adds.items[index].stamp.tag))
            return -SM_ECORRUPT; // apply never keeps a tombstoned add
    }
    for (size_t index = 0; index < out->dead.count; index++) {
        if (!tag_set_contains(&out->tombstones, &out->dead.items[index].stamp.tag))
            return -SM_ECORRUPT; // apply keeps only tombstoned adds there
    }
    if (earlier)
        normalize_earlier_state(out);
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
    value_list_encode(&state->dead, &writer);
    return writer.rc;
}

// The items of element's value in list are [*first, the index returned): the list
// is sorted by value, then stamp, and a zero stamp sorts before every other.
static size_t
element_range(const value_list_t *list, const value_list_item_t *element, size_t *first)
{
    value_list_item_t probe = {.value = element->value, .value_len = element->value_len};
    bool found = false;
    size_t index = value_list_search(list, &probe, &found);
    *first = index;
    while (index < list->count && value_list_same_value(&list->items[index], element))
        index++;
    return index;
}

static bool
same_origin(const value_list_item_t *a, const value_list_item_t *b)
{
    return strcmp(a->stamp.tag.origin, b->stamp.tag.origin) == 0;
}

// The seq of the latest add of add's element by add's origin in list, or 0.
static uint64_t
latest_of_origin(const value_list_t *list, const value_list_item_t *add)
{
    size_t first = 0;
    size_t end = element_range(list, add, &first);
    uint64_t latest = 0;
    for (size_t index = first; index < end; index++) {
        const value_list_item_t *held = &list->items[index];
        if (same_origin(held, add) && held->stamp.tag.seq > latest)
            latest = held->stamp.tag.seq;
    }
    return latest;
}

// Drops from list the adds of add's element by add's origin (one at most: see
// normalize_earlier_state).
static void
drop_of_origin(value_list_t *list, const value_list_item_t *add)
{
    size_t first = 0;
    size_t end = element_range(list, add, &first);
    for (size_t index = first; index < end;) {
        if (same_origin(&list->items[index], add)) {
            value_list_remove_at(list, index);
            end--;
        } else {
            index++;
        }
    }
}

// States written before 2026-12-06 (no dead list, so no dead adds) may hold several
// adds of an element by one origin: keep each origin's latest alone, as an add would
// have. Once, when such a state is read; every state written since holds one at
// most. Dropping an earlier add never drops a latest one, so one pass will do.
static void
normalize_earlier_state(awset_state_t *state)
{
    value_list_t *adds = &state->adds;
    for (size_t index = 0; index < adds->count;) {
        const value_list_item_t *item = &adds->items[index];
        if (latest_of_origin(adds, item) > item->stamp.tag.seq)
            value_list_remove_at(adds, index);
        else
            index++;
    }
}

static int
insert(value_list_t *list, const value_list_item_t *item)
{
    bool found = false;
    size_t index = value_list_search(list, item, &found);
    return found ? 0 : value_list_insert_at(list, index, item);
}

// An origin's latest add of an element stands for its earlier ones: one origin's
// operations are applied in its order (crdt/field.h), so whoever saw the latest
// saw the earlier, and a remove made after it observes the latest alone. The state
// keeps, per element and origin, that latest add: live, or dead once tombstoned
// (kept so that an earlier add arriving again cannot come back). Before, each add
// stayed: an element re-added on every sale kept an entry per sale, a remove had to
// name them all and was refused past CRDT_OBSERVED_MAX, and the state grew to its
// bound.
static int
awset_add(awset_state_t *state, const crdt_op_t *op)
{
    value_list_item_t add = {
        .stamp = op->stamp,
        .value = (const uint8_t *)op->value,
        .value_len = op->value_len,
    };
    uint64_t latest = latest_of_origin(&state->adds, &add);
    uint64_t latest_dead = latest_of_origin(&state->dead, &add);
    if (latest_dead > latest)
        latest = latest_dead;
    if (latest >= add.stamp.tag.seq)
        return 0; // a repeat, or an add its origin has since made again
    if (latest > 0) {
        drop_of_origin(&state->adds, &add);
        drop_of_origin(&state->dead, &add);
    }
    if (tag_set_contains(&state->tombstones, &op->stamp.tag))
        return insert(&state->dead, &add); // its remove came first
    return insert(&state->adds, &add);
}

static int
awset_remove(awset_state_t *state, const crdt_op_t *op)
{
    int rc = tag_set_add_all(&state->tombstones, op->observed, op->observed_count);
    if (rc != 0)
        return rc;
    size_t kept = 0;
    for (size_t index = 0; rc == 0 && index < state->adds.count; index++) {
        const value_list_item_t *add = &state->adds.items[index];
        if (tag_set_contains(&state->tombstones, &add->stamp.tag))
            rc = insert(&state->dead, add);
        else
            state->adds.items[kept++] = *add;
    }
    if (rc == 0)
        state->adds.count = kept;
    return rc;
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
    size_t live = rc == 0 ? element_range(&decoded.adds, &element, &first) - first : 0;
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
