#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "counter.h"
#include "field.h"
#include "prop.h"

static crdt_op_t
add_op(const char *origin, uint64_t seq, uint64_t hlc, int64_t delta)
{
    crdt_op_t op = prop_make_op(CRDT_OP_ADD, origin, seq, hlc, NULL);
    op.delta = delta;
    return op;
}

static int64_t
view_number(const crdt_buf_t *state)
{
    crdt_view_t view;
    cr_assert(crdt_field_view(CRDT_KIND_COUNTER, state->data, state->len, NULL, &view) == 0);
    cr_assert(view.is_number);
    int64_t number = view.number;
    crdt_view_free(&view);
    return number;
}

static void
check_sum_model(const prop_case_t *c)
{
    int64_t sum = 0;
    for (size_t index = 0; index < c->op_count; index++)
        sum += c->ops[index].op.delta;
    crdt_view_t view;
    prop_view(c, NULL, &view);
    cr_assert(view.is_number);
    cr_assert(view.number == sum, "seed %" PRIu64 " case %zu: sum %" PRId64 ", model %" PRId64,
              c->seed, c->case_index, view.number, sum);
    crdt_view_free(&view);
}

Test(counter, replicas_converge_in_any_order) { prop_run(CRDT_KIND_COUNTER, 101, 40, NULL); }

Test(counter, converged_sum_matches_model)
{
    prop_run(CRDT_KIND_COUNTER, 102, 40, check_sum_model);
}

Test(counter, merge_is_commutative)
{
    crdt_op_t a = add_op("a", 1, 10, 5);
    crdt_op_t b = add_op("b", 1, 10, -7);
    crdt_buf_t ab, ba;
    crdt_buf_init(&ab);
    crdt_buf_init(&ba);
    cr_assert(prop_apply_to(CRDT_KIND_COUNTER, &ab, &a) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_COUNTER, &ab, &b) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_COUNTER, &ba, &b) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_COUNTER, &ba, &a) == 0);
    cr_assert(prop_buf_equal(&ab, &ba));
    cr_assert(view_number(&ab) == -2);
    crdt_buf_free(&ab);
    crdt_buf_free(&ba);
}

Test(counter, apply_is_idempotent)
{
    crdt_op_t first = add_op("a", 1, 10, 5);
    crdt_op_t second = add_op("a", 2, 11, 3);
    crdt_buf_t state, once;
    crdt_buf_init(&state);
    crdt_buf_init(&once);
    cr_assert(prop_apply_to(CRDT_KIND_COUNTER, &state, &first) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_COUNTER, &state, &second) == 0);
    cr_assert(crdt_buf_append(&once, state.data, state.len) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_COUNTER, &state, &second) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_COUNTER, &state, &first) == 0);
    cr_assert(prop_buf_equal(&state, &once));
    cr_assert(view_number(&state) == 8);
    crdt_buf_free(&state);
    crdt_buf_free(&once);
}

Test(counter, op_at_or_below_high_water_is_a_repeat)
{
    crdt_buf_t state;
    crdt_buf_init(&state);
    crdt_op_t later = add_op("a", 7, 10, 5);
    crdt_op_t earlier = add_op("a", 3, 9, 100);
    cr_assert(prop_apply_to(CRDT_KIND_COUNTER, &state, &later) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_COUNTER, &state, &earlier) == 0);
    cr_assert(view_number(&state) == 5);
    crdt_buf_free(&state);
}

Test(counter, origin_sum_overflow_is_erange)
{
    crdt_buf_t state;
    crdt_buf_init(&state);
    crdt_op_t max = add_op("a", 1, 10, INT64_MAX);
    crdt_op_t one = add_op("a", 2, 11, 1);
    crdt_op_t min = add_op("b", 1, 10, INT64_MIN);
    crdt_op_t minus_one = add_op("b", 2, 11, -1);
    cr_assert(prop_apply_to(CRDT_KIND_COUNTER, &state, &max) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_COUNTER, &state, &one) == -SM_ERANGE);
    cr_assert(prop_apply_to(CRDT_KIND_COUNTER, &state, &min) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_COUNTER, &state, &minus_one) == -SM_ERANGE);
    cr_assert(view_number(&state) == -1);
    crdt_buf_free(&state);
}

Test(counter, view_sum_overflow_across_origins_is_erange)
{
    crdt_buf_t state;
    crdt_buf_init(&state);
    crdt_op_t a = add_op("a", 1, 10, INT64_MAX);
    crdt_op_t b = add_op("b", 1, 10, 1);
    cr_assert(prop_apply_to(CRDT_KIND_COUNTER, &state, &a) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_COUNTER, &state, &b) == 0);
    crdt_view_t view;
    cr_assert(crdt_field_view(CRDT_KIND_COUNTER, state.data, state.len, NULL, &view) == -SM_ERANGE);
    cr_assert(view.value_count == 0);
    crdt_buf_free(&state);
}

Test(counter, empty_state_views_as_zero)
{
    crdt_view_t view;
    cr_assert(crdt_field_view(CRDT_KIND_COUNTER, NULL, 0, NULL, &view) == 0);
    cr_assert(view.is_number);
    cr_assert(view.number == 0);
    crdt_view_free(&view);
}

Test(counter, rejects_set_and_remove_ops)
{
    crdt_buf_t state;
    crdt_buf_init(&state);
    crdt_op_t set = prop_make_op(CRDT_OP_SET, "a", 1, 10, "x");
    crdt_op_t remove = prop_make_op(CRDT_OP_REMOVE, "a", 1, 10, "x");
    cr_assert(prop_apply_to(CRDT_KIND_COUNTER, &state, &set) == -SM_EINVAL);
    cr_assert(prop_apply_to(CRDT_KIND_COUNTER, &state, &remove) == -SM_EINVAL);
    cr_assert(state.len == 0);
}

Test(counter, ignores_op_value)
{
    static char huge[CRDT_VALUE_MAX + 1];
    crdt_buf_t state;
    crdt_buf_init(&state);
    crdt_op_t op = add_op("a", 1, 10, 4);
    op.value = huge; // zero bytes, and too long: a counter does not look
    op.value_len = sizeof huge;
    cr_assert(prop_apply_to(CRDT_KIND_COUNTER, &state, &op) == 0);
    cr_assert(view_number(&state) == 4);
    crdt_buf_free(&state);
}

Test(counter, corrupt_state_is_ecorrupt)
{
    crdt_buf_t state, out;
    crdt_buf_init(&state);
    crdt_buf_init(&out);
    crdt_op_t a = add_op("a", 1, 10, 1);
    crdt_op_t b = add_op("b", 1, 10, 1);
    cr_assert(prop_apply_to(CRDT_KIND_COUNTER, &state, &a) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_COUNTER, &state, &b) == 0);
    crdt_op_t c = add_op("c", 1, 10, 1);
    for (size_t len = 0; len < state.len; len++) {
        // Every truncation but the empty state (a new field) is refused.
        int rc = crdt_field_apply(CRDT_KIND_COUNTER, state.data, len, &c, &out);
        cr_assert(rc == (len == 0 ? 0 : -SM_ECORRUPT), "truncated to %zu: %d", len, rc);
    }
    uint8_t trailing[256];
    memcpy(trailing, state.data, state.len);
    trailing[state.len] = 0;
    cr_assert(crdt_field_apply(CRDT_KIND_COUNTER, trailing, state.len + 1, &c, &out) ==
              -SM_ECORRUPT);
    crdt_buf_free(&state);
    crdt_buf_free(&out);
}

Test(counter, unsorted_origins_are_ecorrupt)
{
    crdt_buf_t state, out;
    crdt_buf_init(&state);
    crdt_buf_init(&out);
    crdt_op_t a = add_op("a", 1, 10, 1);
    crdt_op_t b = add_op("b", 1, 10, 1);
    cr_assert(prop_apply_to(CRDT_KIND_COUNTER, &state, &a) == 0);
    cr_assert(prop_apply_to(CRDT_KIND_COUNTER, &state, &b) == 0);
    // header (2), count (4), then entries of 4 + 1 + 8 + 8 bytes: rename "b" to "a".
    size_t second_name = 2 + 4 + 21 + 4;
    cr_assert(state.data[second_name] == 'b');
    state.data[second_name] = 'a';
    crdt_op_t c = add_op("c", 1, 10, 1);
    cr_assert(crdt_field_apply(CRDT_KIND_COUNTER, state.data, state.len, &c, &out) == -SM_ECORRUPT);
    crdt_buf_free(&state);
    crdt_buf_free(&out);
}

// The equivalence check below: counter_apply edits the encoded state in place of
// decoding it, folding the op and encoding it again. reference_apply is that old
// path, kept here as it was, and the two must agree on every input, valid or not.
#define EQUIV_SEED UINT64_C(0xC0C0A11CE5EED)
#define EQUIV_STATES 2500
#define EQUIV_ORIGINS_MAX 250
#define EQUIV_OPS_PER_STATE 6
#define EQUIV_MUTATIONS_PER_STATE 6
#define EQUIV_ENTRY_BYTES_MIN (CODEC_TAG_BYTES_MIN + 8)

typedef struct {
    crdt_tag_t high_water;
    int64_t sum;
} reference_entry_t;

typedef struct {
    reference_entry_t *entries; // sorted by origin, room for one more
    size_t count;
} reference_state_t;

static int
reference_origin_compare(const crdt_tag_t *a, const crdt_tag_t *b)
{
    return strncmp(a->origin, b->origin, sizeof a->origin);
}

static int
reference_decode(const uint8_t *state, size_t state_len, reference_state_t *out)
{
    codec_reader_t reader;
    codec_reader_init(&reader, state, state_len);
    size_t count = 0;
    out->entries = NULL;
    out->count = 0;
    if (state_len > 0) {
        int rc = codec_get_header(&reader, CRDT_KIND_COUNTER);
        if (rc == 0)
            rc = codec_get_count(&reader, EQUIV_ENTRY_BYTES_MIN, &count);
        if (rc != 0)
            return rc;
        if (count == 0)
            return -SM_ECORRUPT;
    }
    out->entries = calloc(count + 1, sizeof *out->entries);
    if (out->entries == NULL)
        return -SM_ENOMEM;
    for (size_t index = 0; index < count; index++) {
        reference_entry_t *entry = &out->entries[index];
        int rc = codec_get_tag(&reader, &entry->high_water);
        if (rc == 0)
            rc = codec_get_i64(&reader, &entry->sum);
        if (rc != 0)
            return rc;
        if (index > 0 && reference_origin_compare(&entry[-1].high_water, &entry->high_water) >= 0)
            return -SM_ECORRUPT;
        out->count = index + 1;
    }
    return codec_reader_at_end(&reader) ? 0 : -SM_ECORRUPT;
}

// Also records where each entry starts in entry_pos (count of them), when not NULL.
static int
reference_encode(const reference_state_t *state, crdt_buf_t *out, size_t *entry_pos)
{
    codec_writer_t writer;
    codec_writer_init(&writer, out);
    codec_put_header(&writer, CRDT_KIND_COUNTER);
    codec_put_count(&writer, state->count);
    for (size_t index = 0; index < state->count; index++) {
        if (entry_pos != NULL)
            entry_pos[index] = out->len;
        codec_put_tag(&writer, &state->entries[index].high_water);
        codec_put_i64(&writer, state->entries[index].sum);
    }
    return writer.rc;
}

static int
reference_sum_add(int64_t a, int64_t b, int64_t *sum)
{
    if ((b > 0 && a > INT64_MAX - b) || (b < 0 && a < INT64_MIN - b))
        return -SM_ERANGE;
    *sum = a + b;
    return 0;
}

static int
reference_fold(reference_state_t *state, const crdt_op_t *op)
{
    size_t index = 0;
    while (index < state->count &&
           reference_origin_compare(&state->entries[index].high_water, &op->stamp.tag) < 0)
        index++;
    reference_entry_t *entry = &state->entries[index];
    if (index < state->count && reference_origin_compare(&entry->high_water, &op->stamp.tag) == 0) {
        if (op->stamp.tag.seq <= entry->high_water.seq)
            return 0;
        int rc = reference_sum_add(entry->sum, op->delta, &entry->sum);
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

static int
reference_apply(const uint8_t *state_in, size_t state_in_len, const crdt_op_t *op,
                crdt_buf_t *state_out)
{
    reference_state_t state;
    int rc = reference_decode(state_in, state_in_len, &state);
    if (rc == 0)
        rc = reference_fold(&state, op);
    if (rc == 0)
        rc = reference_encode(&state, state_out, NULL);
    free(state.entries);
    return rc;
}

// What the checks saw, so the test can show every outcome was reached.
typedef struct {
    size_t changed;  // rc 0, state changed
    size_t repeats;  // rc 0, state unchanged
    size_t erange;   // -SM_ERANGE
    size_t ecorrupt; // -SM_ECORRUPT
    size_t known;    // states counter_check passed, so counter_apply_known took them too
    size_t unknown;  // states it refused, which counter_apply refused as well
    size_t patched;  // known states crdt_field_apply_patch gave a patch for
    size_t patched_repeats; // ... and found a repeat
} equiv_tally_t;

// crdt_field_apply_patch on a known state: its result, whole or as a patch of the
// state, is exactly counter_apply's (want, want_rc).
static void
patch_check(const uint8_t *state, size_t state_len, const crdt_op_t *op, size_t case_index,
            const char *what, int want_rc, const crdt_buf_t *want, equiv_tally_t *tally)
{
    crdt_buf_t got;
    crdt_buf_init(&got);
    crdt_patch_t patch;
    memset(&patch, 0xa5, sizeof patch);
    int rc = crdt_field_apply_patch(CRDT_KIND_COUNTER, state, state_len, op, &got, &patch);
    if (rc != CRDT_PATCHED) {
        cr_assert(rc == want_rc && prop_buf_equal(&got, want),
                  "seed 0x%" PRIx64 " case %zu (%s): crdt_field_apply_patch rc %d, %zu bytes; "
                  "counter_apply rc %d, %zu bytes",
                  EQUIV_SEED, case_index, what, rc, got.len, want_rc, want->len);
        crdt_buf_free(&got);
        return;
    }
    cr_assert(want_rc == 0, "seed 0x%" PRIx64 " case %zu (%s): a patch, but the apply gave %d",
              EQUIV_SEED, case_index, what, want_rc);
    cr_assert(got.len == 0, "seed 0x%" PRIx64 " case %zu (%s): a patch and %zu bytes written",
              EQUIV_SEED, case_index, what, got.len);
    cr_assert(patch.len <= CRDT_PATCH_BYTES_MAX && patch.offset <= state_len &&
                  patch.len <= state_len - patch.offset,
              "seed 0x%" PRIx64 " case %zu (%s): patch of %zu bytes at %zu outside %zu",
              EQUIV_SEED, case_index, what, patch.len, patch.offset, state_len);
    uint8_t *patched = malloc(state_len ? state_len : 1);
    cr_assert(patched != NULL);
    if (state_len)
        memcpy(patched, state, state_len);
    memcpy(patched + patch.offset, patch.bytes, patch.len);
    cr_assert(want->len == state_len && memcmp(patched, want->data, state_len) == 0,
              "seed 0x%" PRIx64 " case %zu (%s): the patched state differs from the apply's",
              EQUIV_SEED, case_index, what);
    free(patched);
    crdt_buf_free(&got);
    tally->patched++;
    if (patch.len == 0)
        tally->patched_repeats++;
}

static void
equiv_check(const uint8_t *state, size_t state_len, const crdt_op_t *op, size_t case_index,
            const char *what, equiv_tally_t *tally)
{
    crdt_buf_t got, want;
    crdt_buf_init(&got);
    crdt_buf_init(&want);
    int got_rc = counter_apply(state, state_len, op, &got);
    int want_rc = reference_apply(state, state_len, op, &want);
    cr_assert(got_rc == want_rc,
              "seed 0x%" PRIx64 " case %zu (%s, origin '%s' seq %" PRIu64 "): rc %d, reference %d",
              EQUIV_SEED, case_index, what, op->stamp.tag.origin, op->stamp.tag.seq, got_rc,
              want_rc);
    cr_assert(prop_buf_equal(&got, &want),
              "seed 0x%" PRIx64 " case %zu (%s): %zu bytes differ from the reference's %zu",
              EQUIV_SEED, case_index, what, got.len, want.len);
    // The shortcut for known states (crdt_field_apply_known): a state counter_check
    // passes gives exactly what counter_apply gives; one it refuses is refused by
    // counter_apply too, and is never handed to the shortcut, which still must read
    // nothing outside it (the ASan build runs this test).
    crdt_buf_t fast;
    crdt_buf_init(&fast);
    int fast_rc = counter_apply_known(state, state_len, op, &fast);
    int check_rc = counter_check(state, state_len);
    if (check_rc == 0) {
        cr_assert(fast_rc == got_rc && prop_buf_equal(&fast, &got),
                  "seed 0x%" PRIx64 " case %zu (%s): counter_apply_known rc %d, %zu bytes; "
                  "counter_apply rc %d, %zu bytes",
                  EQUIV_SEED, case_index, what, fast_rc, fast.len, got_rc, got.len);
        tally->known++;
        patch_check(state, state_len, op, case_index, what, got_rc, &got, tally);
    } else {
        cr_assert(got_rc == check_rc,
                  "seed 0x%" PRIx64 " case %zu (%s): counter_check rc %d, counter_apply rc %d",
                  EQUIV_SEED, case_index, what, check_rc, got_rc);
        tally->unknown++;
    }
    crdt_buf_free(&fast);
    if (got_rc == -SM_ERANGE)
        tally->erange++;
    else if (got_rc == -SM_ECORRUPT)
        tally->ecorrupt++;
    else if (got.len == state_len && (state_len == 0 || memcmp(got.data, state, state_len) == 0))
        tally->repeats++;
    else
        tally->changed++;
    crdt_buf_free(&got);
    crdt_buf_free(&want);
}

// A name from a small alphabet, so shared prefixes ("a", "ab") are common; the high
// bytes check that the order is unsigned.
static void
equiv_random_name(prop_rng_t *rng, char name[CRDT_NAME_MAX + 1])
{
    static const char alphabet[] = {'a', 'b', 'z', '\x01', '\x7f', '\x80', '\xff'};
    // Short names, node-name lengths (7 to 20: the comparison takes words, then the
    // last eight bytes in common) and the longest.
    size_t len = prop_rng_one_in(rng, 8)   ? CRDT_NAME_MAX
                 : prop_rng_one_in(rng, 3) ? 7 + prop_rng_below(rng, 14)
                                           : 1 + prop_rng_below(rng, 6);
    memset(name, 0, CRDT_NAME_MAX + 1);
    // Node-name lengths share a long prefix, as "branch-0041" and "branch-0042" do,
    // so names often differ only in their last bytes.
    size_t shared = len >= 7 && len <= 20 ? len - 1 - prop_rng_below(rng, 3) : 0;
    for (size_t index = 0; index < len; index++)
        name[index] = index < shared ? 'b' : alphabet[prop_rng_below(rng, sizeof alphabet)];
}

static uint64_t
equiv_random_seq(prop_rng_t *rng)
{
    switch (prop_rng_below(rng, 5)) {
    case 0:
        return 1;
    case 1:
        return 1 + prop_rng_below(rng, 100);
    case 2:
        return UINT64_MAX - prop_rng_below(rng, 2);
    default:
        return prop_rng_next(rng) | 1;
    }
}

// Sums and deltas: small, zero, at and near both int64 limits, or anything.
static int64_t
equiv_random_i64(prop_rng_t *rng)
{
    int64_t small = (int64_t)prop_rng_below(rng, 5);
    switch (prop_rng_below(rng, 6)) {
    case 0:
        return small - 2;
    case 1:
        return INT64_MAX - small;
    case 2:
        return INT64_MIN + small;
    case 3:
        return 0;
    default:
        return (int64_t)(prop_rng_next(rng) >> 1) - (int64_t)(prop_rng_next(rng) >> 1);
    }
}

static int
equiv_entry_compare(const void *a, const void *b)
{
    const reference_entry_t *left = a;
    const reference_entry_t *right = b;
    return reference_origin_compare(&left->high_water, &right->high_water);
}

// 1..EQUIV_ORIGINS_MAX distinct origins, sorted, with random seqs and sums.
static void
equiv_random_state(prop_rng_t *rng, reference_state_t *state)
{
    size_t count = 1 + prop_rng_below(rng, EQUIV_ORIGINS_MAX);
    state->entries = calloc(count + 1, sizeof *state->entries);
    cr_assert(state->entries != NULL);
    for (size_t index = 0; index < count; index++) {
        reference_entry_t *entry = &state->entries[index];
        equiv_random_name(rng, entry->high_water.origin);
        entry->high_water.seq = equiv_random_seq(rng);
        entry->sum = equiv_random_i64(rng);
    }
    qsort(state->entries, count, sizeof *state->entries, equiv_entry_compare);
    state->count = 0;
    for (size_t index = 0; index < count; index++) {
        if (state->count > 0 &&
            equiv_entry_compare(&state->entries[state->count - 1], &state->entries[index]) == 0)
            continue;
        state->entries[state->count++] = state->entries[index];
    }
}

static bool
equiv_has_origin(const reference_state_t *state, const crdt_tag_t *tag)
{
    for (size_t index = 0; index < state->count; index++) {
        if (reference_origin_compare(&state->entries[index].high_water, tag) == 0)
            return true;
    }
    return false;
}

// A seq below, at or above the high-water mark, as far as the mark allows.
static uint64_t
equiv_seq_near(prop_rng_t *rng, uint64_t high_water)
{
    switch (prop_rng_below(rng, 4)) {
    case 0:
        return high_water > 1 ? 1 + prop_rng_below(rng, high_water - 1) : high_water;
    case 1:
        return high_water;
    case 2:
        return high_water < UINT64_MAX ? high_water + 1 : high_water;
    default:
        return high_water < UINT64_MAX
                   ? high_water + 1 + prop_rng_below(rng, UINT64_MAX - high_water)
                   : high_water;
    }
}

// A name that sorts just before or after an entry's (a prefix of it, it with a
// byte more, or it with one byte changed anywhere, so that names agree on their
// first words and differ in a later one), so new origins land first, last and
// between neighbours; else random.
static void
equiv_new_name(prop_rng_t *rng, const reference_state_t *state, char name[CRDT_NAME_MAX + 1])
{
    equiv_random_name(rng, name);
    if (state->count == 0 || prop_rng_one_in(rng, 4))
        return;
    const char *near = state->entries[prop_rng_below(rng, state->count)].high_water.origin;
    size_t len = strlen(near);
    memcpy(name, near, len + 1);
    switch (prop_rng_below(rng, 3)) {
    case 0:
        if (len > 1) {
            name[len - 1 - prop_rng_below(rng, len - 1)] = '\0';
            break;
        }
        __attribute__((fallthrough)); // too short to cut
    case 1:
        if (len < CRDT_NAME_MAX)
            name[len] = prop_rng_one_in(rng, 2) ? '\x01' : '\xff';
        break;
    default:
        name[prop_rng_below(rng, len)] = prop_rng_one_in(rng, 2) ? '\x01' : '\xff';
        break;
    }
}

// An op of an origin the state holds (when it holds any), or of a new one.
static crdt_op_t
equiv_random_op(prop_rng_t *rng, const reference_state_t *state)
{
    crdt_op_t op = prop_make_op(CRDT_OP_ADD, "x", 1, 10, NULL);
    op.delta = equiv_random_i64(rng);
    if (state->count > 0 && prop_rng_one_in(rng, 2)) {
        const crdt_tag_t *known = &state->entries[prop_rng_below(rng, state->count)].high_water;
        op.stamp.tag = *known;
        op.stamp.tag.seq = equiv_seq_near(rng, known->seq);
        return op;
    }
    for (size_t attempt = 0; attempt < 8; attempt++) {
        char name[CRDT_NAME_MAX + 1];
        equiv_new_name(rng, state, name);
        cr_assert(crdt_tag_set(&op.stamp.tag, name, equiv_random_seq(rng)) == 0);
        if (!equiv_has_origin(state, &op.stamp.tag))
            break;
    }
    return op;
}

// Writes value big-endian at bytes[pos..pos+4).
static void
equiv_poke_u32(uint8_t *bytes, size_t pos, uint32_t value)
{
    for (size_t index = 0; index < 4; index++)
        bytes[pos + index] = (uint8_t)(value >> (24 - 8 * index));
}

static void
equiv_append(crdt_buf_t *out, const uint8_t *data, size_t len)
{
    cr_assert(crdt_buf_append(out, data, len) == 0);
}

// The encoded state with entries first < second swapped: out of order, or (same
// origin) still in order but not strictly.
static void
equiv_swap_entries(const crdt_buf_t *state, const size_t *entry_pos, size_t count, size_t first,
                   size_t second, crdt_buf_t *out)
{
    size_t first_end = first + 1 < count ? entry_pos[first + 1] : state->len;
    size_t second_end = second + 1 < count ? entry_pos[second + 1] : state->len;
    const uint8_t *bytes = state->data;
    equiv_append(out, bytes, entry_pos[first]);
    equiv_append(out, bytes + entry_pos[second], second_end - entry_pos[second]);
    equiv_append(out, bytes + first_end, entry_pos[second] - first_end);
    equiv_append(out, bytes + entry_pos[first], first_end - entry_pos[first]);
    equiv_append(out, bytes + second_end, state->len - second_end);
}

// The encoded state with entry `index` twice, and the count one up when asked.
static void
equiv_duplicate_entry(const crdt_buf_t *state, const size_t *entry_pos, size_t count, size_t index,
                      bool is_counted, crdt_buf_t *out)
{
    size_t end = index + 1 < count ? entry_pos[index + 1] : state->len;
    equiv_append(out, state->data, end);
    equiv_append(out, state->data + entry_pos[index], end - entry_pos[index]);
    equiv_append(out, state->data + end, state->len - end);
    if (is_counted)
        equiv_poke_u32(out->data, CODEC_HEADER_BYTES, (uint32_t)count + 1);
}

// One random corruption of a valid encoded state (count >= 1 entries starting at
// entry_pos) into out; names it in *what.
static void
equiv_mutate(prop_rng_t *rng, const reference_state_t *model, const crdt_buf_t *state,
             const size_t *entry_pos, crdt_buf_t *out, const char **what)
{
    size_t count = model->count;
    size_t index = prop_rng_below(rng, count);
    size_t name_len = strlen(model->entries[index].high_water.origin);
    size_t name_pos = entry_pos[index] + 4;
    crdt_buf_reset(out);
    if (prop_rng_one_in(rng, 11)) {
        *what = "truncated";
        equiv_append(out, state->data, prop_rng_below(rng, state->len));
        return;
    }
    if (count >= 2 && prop_rng_one_in(rng, 5)) {
        size_t first = prop_rng_below(rng, count - 1);
        size_t second = first + 1 + prop_rng_below(rng, count - first - 1);
        *what = "swapped";
        equiv_swap_entries(state, entry_pos, count, first, second, out);
        return;
    }
    if (prop_rng_one_in(rng, 8)) {
        *what = "duplicated";
        equiv_duplicate_entry(state, entry_pos, count, index, !prop_rng_one_in(rng, 4), out);
        return;
    }
    if (prop_rng_one_in(rng, 12)) {
        static const uint8_t empty_counter[] = {
            CODEC_FORMAT_VERSION, CRDT_KIND_COUNTER, 0, 0, 0, 0};
        *what = "count 0";
        equiv_append(out, empty_counter, sizeof empty_counter);
        return;
    }
    equiv_append(out, state->data, state->len);
    switch (prop_rng_below(rng, 7)) {
    case 0:
        *what = "trailing bytes";
        equiv_append(out, (const uint8_t[]){0, 0xff, 1}, 1 + prop_rng_below(rng, 3));
        break;
    case 1:
        *what = "count changed";
        equiv_poke_u32(out->data, CODEC_HEADER_BYTES,
                       prop_rng_one_in(rng, 3)
                           ? (uint32_t)prop_rng_next(rng)
                           : (uint32_t)(count - 1 + 2 * prop_rng_below(rng, 2)));
        break;
    case 2:
        *what = "name length changed";
        equiv_poke_u32(out->data, entry_pos[index],
                       (uint32_t[]){0, CRDT_NAME_MAX + 1, (uint32_t)name_len - 1,
                                    (uint32_t)name_len + 1, UINT32_MAX}[prop_rng_below(rng, 5)]);
        break;
    case 3:
        *what = "NUL in a name";
        out->data[name_pos + prop_rng_below(rng, name_len)] = 0;
        break;
    case 4:
        *what = "seq 0";
        memset(out->data + name_pos + name_len, 0, 8);
        break;
    case 5:
        *what = "header changed";
        out->data[prop_rng_below(rng, CODEC_HEADER_BYTES)] ^=
            (uint8_t)(1 + prop_rng_below(rng, 255));
        break;
    default:
        *what = "bit flipped";
        out->data[prop_rng_below(rng, out->len)] ^= (uint8_t)(1u << prop_rng_below(rng, 8));
        break;
    }
}

// One case: a random state (empty one time in 20), ops on it, then ops on
// corrupted copies of it.
static void
equiv_run_case(size_t case_index, equiv_tally_t *tally)
{
    prop_rng_t rng = {EQUIV_SEED ^ (case_index * UINT64_C(0x9E3779B97F4A7C15))};
    reference_state_t model = {NULL, 0};
    if (prop_rng_one_in(&rng, 20))
        model.entries = calloc(1, sizeof *model.entries);
    else
        equiv_random_state(&rng, &model);
    cr_assert(model.entries != NULL);
    crdt_buf_t state, mutated;
    crdt_buf_init(&state);
    crdt_buf_init(&mutated);
    size_t *entry_pos = calloc(model.count + 1, sizeof *entry_pos);
    cr_assert(entry_pos != NULL);
    if (model.count > 0)
        cr_assert(reference_encode(&model, &state, entry_pos) == 0);
    for (size_t op_index = 0; op_index < EQUIV_OPS_PER_STATE; op_index++) {
        crdt_op_t op = equiv_random_op(&rng, &model);
        equiv_check(state.data, state.len, &op, case_index, "valid", tally);
    }
    for (size_t mutation = 0; model.count > 0 && mutation < EQUIV_MUTATIONS_PER_STATE; mutation++) {
        const char *what = NULL;
        equiv_mutate(&rng, &model, &state, entry_pos, &mutated, &what);
        crdt_op_t op = equiv_random_op(&rng, &model);
        equiv_check(mutated.data, mutated.len, &op, case_index, what, tally);
    }
    free(entry_pos);
    free(model.entries);
    crdt_buf_free(&state);
    crdt_buf_free(&mutated);
}

Test(counter, apply_matches_decode_fold_encode_reference, .timeout = 120.0)
{
    equiv_tally_t tally = {0};
    for (size_t case_index = 0; case_index < EQUIV_STATES; case_index++)
        equiv_run_case(case_index, &tally);
    // Every outcome is reached often, or the comparison proves little.
    cr_assert(tally.changed > 1000, "changed %zu", tally.changed);
    cr_assert(tally.repeats > 1000, "repeats %zu", tally.repeats);
    cr_assert(tally.erange > 100, "erange %zu", tally.erange);
    cr_assert(tally.ecorrupt > 1000, "ecorrupt %zu", tally.ecorrupt);
    cr_assert(tally.known > 1000, "known %zu", tally.known);
    cr_assert(tally.unknown > 1000, "unknown %zu", tally.unknown);
    cr_assert(tally.patched > 1000, "patched %zu", tally.patched);
    cr_assert(tally.patched_repeats > 100, "patched repeats %zu", tally.patched_repeats);
}
