// prop: the property-test harness of tests/crdt. A seeded PRNG (splitmix64), and a
// simulator that generates a random op set for one merge kind from 3-5 origins
// (each origin applies what it has seen and computes its ops' causal context with
// crdt_field_observed), then replays the whole set on several replicas in
// shuffled orders with repeats, and asserts they all end byte-identical.
// Header-only, as each test file is its own binary; every failure message names
// the seed and case index, and prop_run_case replays one case alone.
#ifndef TESTS_CRDT_PROP_H
#define TESTS_CRDT_PROP_H

#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "field.h"
#include "hlc.h"

#define PROP_CASES 1000
#define PROP_ORIGINS_MAX 5
#define PROP_OPS_MAX 160
#define PROP_REPLICAS 4 // besides the origins themselves

typedef struct {
    uint64_t state;
} prop_rng_t;

static inline uint64_t
prop_rng_next(prop_rng_t *rng)
{
    uint64_t z = (rng->state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

// Uniform enough below bound (> 0) for tests.
static inline uint64_t
prop_rng_below(prop_rng_t *rng, uint64_t bound)
{
    return prop_rng_next(rng) % bound;
}

static inline bool
prop_rng_one_in(prop_rng_t *rng, uint64_t odds)
{
    return prop_rng_below(rng, odds) == 0;
}

typedef struct {
    crdt_op_t op;        // value and observed point at the copies below
    size_t origin_index; // into prop_case_t.origins
    char *value_copy;
    crdt_tag_t *observed_copy;
} prop_op_t;

typedef struct {
    crdt_kind_t kind;
    uint64_t seed;
    size_t case_index;
    size_t origin_count;
    const char *origins[PROP_ORIGINS_MAX];
    size_t op_count;
    prop_op_t ops[PROP_OPS_MAX];
    size_t origin_ops[PROP_ORIGINS_MAX][PROP_OPS_MAX]; // op indexes of each origin, by seq
    size_t origin_op_count[PROP_ORIGINS_MAX];
    crdt_buf_t final_state; // what every replica converged to
} prop_case_t;

// An origin while ops are generated: what it has seen and its clock.
typedef struct {
    crdt_buf_t state;
    hlc_t clock;
    uint64_t seq;
    size_t delivered[PROP_ORIGINS_MAX]; // ops of each origin applied here, a prefix
} prop_origin_t;

// Called with the generated case once every replica has converged.
typedef void (*prop_check_fn)(const prop_case_t *c);

// Hot values, so that writes collide; one at the value bound.
static inline const char *
prop_hot_value(prop_rng_t *rng, size_t *len)
{
    static const char *const hot[] = {"red", "green", "blue", ""};
    static char longest[CRDT_VALUE_MAX];
    if (prop_rng_one_in(rng, 16)) {
        memset(longest, 'x', sizeof longest);
        *len = sizeof longest;
        return longest;
    }
    const char *value = hot[prop_rng_below(rng, sizeof hot / sizeof hot[0])];
    *len = strlen(value);
    return value;
}

// An op for unit tests; value is a C string (NULL for none), observed is borrowed.
static inline crdt_op_t
prop_make_op(crdt_op_kind_t kind, const char *origin, uint64_t seq, uint64_t hlc, const char *value)
{
    crdt_op_t op;
    memset(&op, 0, sizeof op);
    op.kind = kind;
    op.stamp.hlc = hlc;
    cr_assert(crdt_tag_set(&op.stamp.tag, origin, seq) == 0);
    op.value = value;
    op.value_len = value == NULL ? 0 : strlen(value);
    return op;
}

// Applies op to *state in place; crdt_field_apply's code, *state unchanged on failure.
static inline int
prop_apply_to(crdt_kind_t kind, crdt_buf_t *state, const crdt_op_t *op)
{
    crdt_buf_t next;
    crdt_buf_init(&next);
    int rc = crdt_field_apply(kind, state->data, state->len, op, &next);
    if (rc != 0) {
        cr_assert(next.len == 0, "a failed apply leaves state_out empty");
        crdt_buf_free(&next);
        return rc;
    }
    crdt_buf_free(state);
    *state = next;
    return 0;
}

static inline bool
prop_buf_equal(const crdt_buf_t *a, const crdt_buf_t *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

// Applies op to state in place; any failure fails the test.
static inline void
prop_apply(const prop_case_t *c, crdt_buf_t *state, const crdt_op_t *op)
{
    crdt_buf_t next;
    crdt_buf_init(&next);
    int rc = crdt_field_apply(c->kind, state->data, state->len, op, &next);
    cr_assert(rc == 0, "seed %" PRIu64 " case %zu: apply of %s:%" PRIu64 " failed: %s", c->seed,
              c->case_index, op->stamp.tag.origin, op->stamp.tag.seq, sm_strerror(rc));
    crdt_buf_free(state);
    *state = next;
}

// Delivers the next count ops of origin source to origin at.
static inline void
prop_deliver(const prop_case_t *c, prop_origin_t *at, size_t source, size_t count)
{
    for (size_t done = 0; done < count; done++) {
        const crdt_op_t *op = &c->ops[c->origin_ops[source][at->delivered[source]]].op;
        prop_apply(c, &at->state, op);
        hlc_observe(&at->clock, op->stamp.hlc);
        at->delivered[source]++;
    }
}

// The op content for c->kind: delta, value, op kind, and its causal context.
static inline void
prop_fill_op(const prop_case_t *c, prop_rng_t *rng, const prop_origin_t *origin, prop_op_t *op)
{
    size_t len = 0;
    const char *value = prop_hot_value(rng, &len);
    op->value_copy = malloc(len + 1);
    cr_assert(op->value_copy != NULL);
    memcpy(op->value_copy, value, len);
    op->value_copy[len] = '\0'; // the models read values as C strings
    op->op.value = op->value_copy;
    op->op.value_len = len;
    op->op.delta = (int64_t)prop_rng_below(rng, 201) - 100;
    op->op.kind = c->kind == CRDT_KIND_COUNTER ? CRDT_OP_ADD : CRDT_OP_SET;
    if (c->kind == CRDT_KIND_AWSET)
        op->op.kind = prop_rng_one_in(rng, 3) ? CRDT_OP_REMOVE : CRDT_OP_ADD;
    size_t count = 0;
    int rc = crdt_field_observed(c->kind, origin->state.data, origin->state.len, op->op.kind,
                                 op->op.value, op->op.value_len, &op->observed_copy, &count);
    cr_assert(rc == 0, "seed %" PRIu64 " case %zu: observed failed: %s", c->seed, c->case_index,
              sm_strerror(rc));
    op->op.observed = op->observed_copy;
    op->op.observed_count = count;
}

// One new op at origin index at, applied there first, as a node does.
static inline void
prop_generate_op(prop_case_t *c, prop_rng_t *rng, prop_origin_t *origins, size_t at,
                 uint64_t time_ms)
{
    prop_origin_t *origin = &origins[at];
    prop_op_t *op = &c->ops[c->op_count];
    memset(op, 0, sizeof *op);
    op->origin_index = at;
    // Some clocks run ahead, some step back to 1970; small times make HLC ties common.
    uint64_t wall_ms = prop_rng_one_in(rng, 8) ? 0 : time_ms + prop_rng_below(rng, 4);
    op->op.stamp.hlc = hlc_now(&origin->clock, wall_ms);
    origin->seq += 1 + prop_rng_below(rng, 3); // the origin's other fields use seqs too
    cr_assert(crdt_tag_set(&op->op.stamp.tag, c->origins[at], origin->seq) == 0);
    prop_fill_op(c, rng, origin, op);
    c->origin_ops[at][c->origin_op_count[at]++] = c->op_count++;
    prop_apply(c, &origin->state, &op->op);
    origin->delivered[at]++;
}

static inline void
prop_generate(prop_case_t *c, prop_rng_t *rng, size_t ops_max, prop_origin_t *origins)
{
    size_t op_count = 1 + prop_rng_below(rng, ops_max);
    uint64_t time_ms = 1;
    for (size_t step = 0; step < op_count; step++) {
        size_t at = prop_rng_below(rng, c->origin_count);
        for (size_t source = 0; source < c->origin_count; source++) {
            size_t unseen = c->origin_op_count[source] - origins[at].delivered[source];
            if (source != at && unseen > 0 && prop_rng_one_in(rng, 2))
                prop_deliver(c, &origins[at], source, prop_rng_below(rng, unseen + 1));
        }
        time_ms += prop_rng_below(rng, 3);
        prop_generate_op(c, rng, origins, at, time_ms);
    }
}

static inline void
prop_assert_same_state(const prop_case_t *c, const crdt_buf_t *expected, const crdt_buf_t *actual,
                       const char *who, size_t index)
{
    cr_assert(prop_buf_equal(expected, actual),
              "seed %" PRIu64 " case %zu (%s): %s %zu ends with %zu state bytes, replica 0 "
              "with %zu, or their bytes differ",
              c->seed, c->case_index, crdt_kind_name(c->kind), who, index, actual->len,
              expected->len);
}

// Applies a random earlier-applied op again, often.
static inline void
prop_maybe_repeat(const prop_case_t *c, prop_rng_t *rng, crdt_buf_t *state, const size_t *applied,
                  size_t applied_count)
{
    while (applied_count > 0 && prop_rng_one_in(rng, 3))
        prop_apply(c, state, &c->ops[applied[prop_rng_below(rng, applied_count)]].op);
}

// Replays every op into state: per-origin seq order with origins interleaved at
// random, or (kinds other than counter may) a fully random order.
static inline void
prop_replay(const prop_case_t *c, prop_rng_t *rng, bool any_order, crdt_buf_t *state)
{
    size_t applied[PROP_OPS_MAX];
    size_t next[PROP_ORIGINS_MAX] = {0};
    size_t order[PROP_OPS_MAX];
    for (size_t index = 0; index < c->op_count; index++)
        order[index] = index;
    for (size_t index = c->op_count; any_order && index > 1; index--) {
        size_t other = prop_rng_below(rng, index);
        size_t swap = order[index - 1];
        order[index - 1] = order[other];
        order[other] = swap;
    }
    for (size_t done = 0; done < c->op_count; done++) {
        size_t pick = order[done];
        if (!any_order) {
            // The r-th op not yet applied decides the origin; that origin's next op goes.
            size_t rank = prop_rng_below(rng, c->op_count - done);
            size_t source = 0;
            while (rank >= c->origin_op_count[source] - next[source]) {
                rank -= c->origin_op_count[source] - next[source];
                source++;
            }
            pick = c->origin_ops[source][next[source]++];
        }
        prop_apply(c, state, &c->ops[pick].op);
        applied[done] = pick;
        prop_maybe_repeat(c, rng, state, applied, done + 1);
    }
}

static inline void
prop_case_free(prop_case_t *c)
{
    for (size_t index = 0; index < c->op_count; index++) {
        free(c->ops[index].value_copy);
        free(c->ops[index].observed_copy);
    }
    crdt_buf_free(&c->final_state);
}

// Runs case case_index of seed: generate, replay on every replica and on every
// origin (catching up on what it missed), compare bytes, then check (may be NULL).
static inline void
prop_run_case(crdt_kind_t kind, uint64_t seed, size_t case_index, size_t ops_max,
              prop_check_fn check)
{
    // Names whose bytewise order differs from their length order, to test origin ties.
    static const char *const names[PROP_ORIGINS_MAX] = {"b", "alpha", "be", "cloud", "a"};
    prop_rng_t rng = {seed * UINT64_C(1000003) + case_index};
    prop_case_t *c = calloc(1, sizeof *c);
    prop_origin_t origins[PROP_ORIGINS_MAX];
    cr_assert(c != NULL);
    memset(origins, 0, sizeof origins);
    c->kind = kind;
    c->seed = seed;
    c->case_index = case_index;
    c->origin_count = 3 + prop_rng_below(&rng, PROP_ORIGINS_MAX - 2);
    for (size_t index = 0; index < c->origin_count; index++) {
        c->origins[index] = names[index];
        crdt_buf_init(&origins[index].state);
        hlc_init(&origins[index].clock, 0);
    }
    prop_generate(c, &rng, ops_max, origins);
    crdt_buf_init(&c->final_state);
    prop_replay(c, &rng, false, &c->final_state);
    for (size_t replica = 1; replica < PROP_REPLICAS; replica++) {
        crdt_buf_t state;
        crdt_buf_init(&state);
        bool any_order = kind != CRDT_KIND_COUNTER && replica % 2 == 1;
        prop_replay(c, &rng, any_order, &state);
        prop_assert_same_state(c, &c->final_state, &state, "replica", replica);
        crdt_buf_free(&state);
    }
    for (size_t at = 0; at < c->origin_count; at++) {
        for (size_t source = 0; source < c->origin_count; source++)
            prop_deliver(c, &origins[at], source,
                         c->origin_op_count[source] - origins[at].delivered[source]);
        prop_assert_same_state(c, &c->final_state, &origins[at].state, "origin", at);
        crdt_buf_free(&origins[at].state);
    }
    if (check != NULL)
        check(c);
    prop_case_free(c);
    free(c);
}

static inline void
prop_run(crdt_kind_t kind, uint64_t seed, size_t ops_max, prop_check_fn check)
{
    for (size_t case_index = 0; case_index < PROP_CASES; case_index++)
        prop_run_case(kind, seed, case_index, ops_max, check);
}

// The view of the converged state; fails the test if it cannot be read.
static inline void
prop_view(const prop_case_t *c, const char *owner, crdt_view_t *view)
{
    int rc = crdt_field_view(c->kind, c->final_state.data, c->final_state.len, owner, view);
    cr_assert(rc == 0, "seed %" PRIu64 " case %zu: view failed: %s", c->seed, c->case_index,
              sm_strerror(rc));
}

// True when some op of the case carries tag in its causal context.
static inline bool
prop_tag_is_observed(const prop_case_t *c, const crdt_tag_t *tag)
{
    for (size_t index = 0; index < c->op_count; index++) {
        const crdt_op_t *op = &c->ops[index].op;
        for (size_t seen = 0; seen < op->observed_count; seen++) {
            if (crdt_tag_equal(&op->observed[seen], tag))
                return true;
        }
    }
    return false;
}

static inline int
prop_string_compare(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

// Sorts strings[0..count) and drops repeats; returns the distinct count.
static inline size_t
prop_sort_distinct(const char **strings, size_t count)
{
    qsort(strings, count, sizeof *strings, prop_string_compare);
    size_t kept = 0;
    for (size_t index = 0; index < count; index++) {
        if (kept == 0 || strcmp(strings[kept - 1], strings[index]) != 0)
            strings[kept++] = strings[index];
    }
    return kept;
}

// Asserts view->values equals expected[0..count).
static inline void
prop_assert_values(const prop_case_t *c, const crdt_view_t *view, const char **expected,
                   size_t count)
{
    cr_assert(view->value_count == count,
              "seed %" PRIu64 " case %zu: view has %zu values, the model %zu", c->seed,
              c->case_index, view->value_count, count);
    for (size_t index = 0; index < count; index++)
        cr_assert(strcmp(view->values[index], expected[index]) == 0,
                  "seed %" PRIu64 " case %zu: value %zu is '%.40s', the model says '%.40s'",
                  c->seed, c->case_index, index, view->values[index], expected[index]);
}

#endif
