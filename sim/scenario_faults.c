// scenario_faults: the faults on the timeline (the fault pass reads them once every
// link is known) and the faults at random rates. A fault's map is read into a draft,
// then checked as a whole: one kind, only the keys that kind takes, and an end inside
// the fault phase. The faults end sorted by their start, file order breaking ties.
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "scenario_internal.h"
#include "scenario_value.h"

enum {
    RANDOM_LOSS,
    RANDOM_DUPLICATE,
    RANDOM_JITTER,
    RANDOM_CRASH_RATE,
    RANDOM_CRASH_DOWN,
    RANDOM_LINK_CUT_RATE,
    RANDOM_LINK_CUT_FOR,
    RANDOM_CLOCK_SKEW,
    RANDOM_DISK_ERROR,
    RANDOM_KEY_COUNT
};
static const char *const random_keys[RANDOM_KEY_COUNT] = {
    "loss",          "duplicate",    "jitter",     "crash_rate", "crash_down",
    "link_cut_rate", "link_cut_for", "clock_skew", "disk_error"};

enum {
    FAULT_AT,
    FAULT_FOR,
    FAULT_UNTIL,
    FAULT_ISOLATE,
    FAULT_SPLIT,
    FAULT_ONE_WAY,
    FAULT_FLAP,
    FAULT_EVERY,
    FAULT_DOWN,
    FAULT_CRASH,
    FAULT_CLOCK,
    FAULT_JUMP_TO,
    FAULT_SKEW,
    FAULT_KEY_COUNT
};
static const char *const fault_keys[FAULT_KEY_COUNT] = {
    "at",    "for",  "until", "isolate", "split",   "one_way", "flap",
    "every", "down", "crash", "clock",   "jump_to", "skew"};
#define FAULT_KINDS "isolate, split, one_way, flap, crash, clock"

static int
read_random_key(loader_t *ld, size_t key_index, int *seen_lines, void *arg)
{
    (void)seen_lines;
    (void)arg;
    scenario_random_t *random = &ld->out->random;
    uint64_t jitter_ms = 0;
    int rc = 0;
    switch (key_index) {
    case RANDOM_LOSS:
        return scenario_read_probability(ld, "loss", &random->loss);
    case RANDOM_DUPLICATE:
        return scenario_read_probability(ld, "duplicate", &random->duplicate);
    case RANDOM_JITTER:
        rc = scenario_read_duration(ld, "jitter", false, &jitter_ms);
        if (rc == 0 && jitter_ms > UINT32_MAX)
            rc = scenario_fail_value(ld, "jitter", "is too long", "at most 49d");
        random->jitter_ms = (uint32_t)jitter_ms;
        return rc;
    case RANDOM_CRASH_RATE:
        return scenario_read_rate(ld, "crash_rate", &random->crash_per_hour);
    case RANDOM_CRASH_DOWN:
        return scenario_read_range(ld, "crash_down", true, DURATION_MS_MAX,
                                   &random->crash_down_ms_min, &random->crash_down_ms_max);
    case RANDOM_LINK_CUT_RATE:
        return scenario_read_rate(ld, "link_cut_rate", &random->link_cut_per_hour);
    case RANDOM_LINK_CUT_FOR:
        return scenario_read_range(ld, "link_cut_for", true, DURATION_MS_MAX,
                                   &random->link_cut_ms_min, &random->link_cut_ms_max);
    case RANDOM_CLOCK_SKEW:
        return scenario_read_duration(ld, "clock_skew", false, &random->clock_skew_ms);
    default:
        assert(key_index == RANDOM_DISK_ERROR);
        return scenario_read_probability(ld, "disk_error", &random->disk_error);
    }
}

static const map_spec_t random_spec = {"random", random_keys, RANDOM_KEY_COUNT, read_random_key};

int
scenario_parse_random(loader_t *ld)
{
    int seen_lines[RANDOM_KEY_COUNT] = {0};
    return scenario_read_map(ld, &random_spec, seen_lines, NULL, NULL);
}

// A fault being read: the kind comes from whichever key names it.
typedef struct {
    scenario_fault_t *fault;
    int kind_key; // FAULT_ISOLATE .. FAULT_CLOCK, or -1 until one is read
    uint64_t until_ms;
} fault_draft_t;

// Writes fault->label, cut short with "..." when long names do not fit.
void
scenario_set_label(scenario_fault_t *fault, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    int wrote = vsnprintf(fault->label, sizeof fault->label, format, args);
    va_end(args);
    if (wrote >= 0 && (size_t)wrote >= sizeof fault->label)
        memcpy(fault->label + sizeof fault->label - 4, "...", 4);
}

static int
read_fault_kind(loader_t *ld, fault_draft_t *draft, size_t key_index, const int *seen_lines)
{
    scenario_fault_t *fault = draft->fault;
    int line = seen_lines[key_index];
    if (draft->kind_key >= 0)
        return rules_reader_fail(&ld->reader, line,
                                 "a fault has one kind, found %s (line %d) and %s; valid "
                                 "choices: one of " FAULT_KINDS " per fault (write two faults)",
                                 fault_keys[draft->kind_key], seen_lines[draft->kind_key],
                                 fault_keys[key_index]);
    draft->kind_key = (int)key_index;
    fault->kind = SCENARIO_FAULT_PARTITION;
    int rc = 0;
    switch (key_index) {
    case FAULT_ISOLATE:
        return scenario_parse_isolate(ld, fault, line);
    case FAULT_SPLIT:
        return scenario_parse_split(ld, fault, line);
    case FAULT_ONE_WAY:
        return scenario_parse_one_way(ld, fault, line);
    case FAULT_FLAP:
        fault->kind = SCENARIO_FAULT_FLAP;
        return scenario_parse_flap(ld, fault, line);
    case FAULT_CRASH:
        fault->kind = SCENARIO_FAULT_CRASH;
        rc = scenario_read_node(ld, "crash", &fault->node);
        if (rc == 0)
            scenario_set_label(fault, "crash %s", ld->out->nodes[fault->node].name);
        return rc;
    default:
        assert(key_index == FAULT_CLOCK);
        fault->kind = SCENARIO_FAULT_CLOCK_JUMP; // or SKEW: finish_fault decides
        return scenario_read_node(ld, "clock", &fault->node);
    }
}

static int
read_fault_key(loader_t *ld, size_t key_index, int *seen_lines, void *arg)
{
    fault_draft_t *draft = arg;
    scenario_fault_t *fault = draft->fault;
    switch (key_index) {
    case FAULT_AT:
        return scenario_read_duration(ld, "at", false, &fault->at_ms);
    case FAULT_FOR:
        return scenario_read_duration(ld, "for", true, &fault->duration_ms);
    case FAULT_UNTIL:
        return scenario_read_duration(ld, "until", true, &draft->until_ms);
    case FAULT_EVERY:
        return scenario_read_duration(ld, "every", true, &fault->every_ms);
    case FAULT_DOWN:
        return scenario_read_duration(ld, "down", true, &fault->down_ms);
    case FAULT_JUMP_TO:
        return scenario_read_duration(ld, "jump_to", false, &fault->jump_to_ms);
    case FAULT_SKEW:
        return scenario_read_signed_duration(ld, "skew", &fault->skew_ms);
    default:
        return read_fault_kind(ld, draft, key_index, seen_lines);
    }
}

static const map_spec_t fault_spec = {"a fault", fault_keys, FAULT_KEY_COUNT, read_fault_key};

// The keys other than at that a fault of the kind that kind_key names may have.
static bool
fault_key_applies(int kind_key, size_t key_index)
{
    switch (key_index) {
    case FAULT_FOR:
    case FAULT_UNTIL:
        return kind_key != FAULT_CLOCK;
    case FAULT_EVERY:
    case FAULT_DOWN:
        return kind_key == FAULT_FLAP;
    case FAULT_JUMP_TO:
    case FAULT_SKEW:
        return kind_key == FAULT_CLOCK;
    default:
        return true;
    }
}

// The clock fault's kind and label, once both its keys may have been read.
static int
finish_clock(loader_t *ld, scenario_fault_t *fault, const int *seen_lines)
{
    bool jump = seen_lines[FAULT_JUMP_TO] != 0;
    if (jump == (seen_lines[FAULT_SKEW] != 0))
        return rules_reader_fail(&ld->reader, seen_lines[FAULT_CLOCK],
                                 "a clock fault needs one of jump_to and skew; valid choices: "
                                 "jump_to: 0 (the clock reads 1970-01-01), or skew: -5m");
    const char *name = ld->out->nodes[fault->node].name;
    fault->kind = jump ? SCENARIO_FAULT_CLOCK_JUMP : SCENARIO_FAULT_CLOCK_SKEW;
    if (!jump) {
        char skew[40];
        // |skew_ms| fits: parsing bounded it by DURATION_MS_MAX.
        uint64_t magnitude = (uint64_t)(fault->skew_ms < 0 ? -fault->skew_ms : fault->skew_ms);
        scenario_set_label(fault, "clock %s skewed %s%s", name, fault->skew_ms < 0 ? "-" : "+",
                           scenario_value_format_duration(magnitude, skew, sizeof skew));
        return 0;
    }
    time_t seconds = (time_t)(fault->jump_to_ms / 1000);
    struct tm when;
    char date[40] = "?";
    if (gmtime_r(&seconds, &when) != NULL)
        strftime(date, sizeof date,
                 fault->jump_to_ms % (24 * HOUR_MS) == 0 ? "%Y-%m-%d" : "%Y-%m-%d %H:%M:%S", &when);
    scenario_set_label(fault, "clock %s jumps to %s", name, date);
    return 0;
}

// Sets duration_ms from for or until, and checks the fault ends in the fault phase.
static int
finish_fault_time(loader_t *ld, fault_draft_t *draft, const int *seen_lines)
{
    scenario_fault_t *fault = draft->fault;
    uint64_t phase_ms = ld->out->duration_ms;
    char text[40];
    if (fault->at_ms >= phase_ms)
        return rules_reader_fail(&ld->reader, seen_lines[FAULT_AT],
                                 "at: not before the end of the fault phase (duration %s); "
                                 "valid choices: at below the duration",
                                 scenario_value_format_duration(phase_ms, text, sizeof text));
    if (seen_lines[FAULT_FOR] != 0 && seen_lines[FAULT_UNTIL] != 0)
        return rules_reader_fail(&ld->reader, seen_lines[FAULT_UNTIL],
                                 "a fault has for (line %d) and until; valid choices: one of them",
                                 seen_lines[FAULT_FOR]);
    if (seen_lines[FAULT_UNTIL] != 0 && draft->until_ms <= fault->at_ms)
        return rules_reader_fail(&ld->reader, seen_lines[FAULT_UNTIL],
                                 "until: not after at; valid choices: a time after at");
    if (seen_lines[FAULT_UNTIL] != 0)
        fault->duration_ms = draft->until_ms - fault->at_ms;
    int line = seen_lines[FAULT_UNTIL] != 0 ? seen_lines[FAULT_UNTIL] : seen_lines[FAULT_FOR];
    if (line == 0) {
        bool is_clock = draft->kind_key == FAULT_CLOCK; // a clock change has no duration
        fault->duration_ms = is_clock ? 0 : SCENARIO_UNTIL_HEAL;
    } else if (fault->at_ms + fault->duration_ms > phase_ms) {
        return rules_reader_fail(&ld->reader, line,
                                 "the fault ends after the fault phase (duration %s); valid "
                                 "choices: an end within it, or no for/until to last until the "
                                 "heal phase",
                                 scenario_value_format_duration(phase_ms, text, sizeof text));
    }
    return 0;
}

static int
finish_fault(loader_t *ld, fault_draft_t *draft, const int *seen_lines, int line)
{
    scenario_fault_t *fault = draft->fault;
    if (draft->kind_key < 0 || seen_lines[FAULT_AT] == 0)
        return rules_reader_fail(&ld->reader, line,
                                 "a fault needs at and one kind; valid choices: at: 1h and one "
                                 "of " FAULT_KINDS);
    for (size_t index = FAULT_FOR; index < FAULT_KEY_COUNT; index++) {
        if (seen_lines[index] != 0 && !fault_key_applies(draft->kind_key, index))
            return rules_reader_fail(&ld->reader, seen_lines[index],
                                     "%s does not apply to a %s fault; valid choices: remove it",
                                     fault_keys[index], fault_keys[draft->kind_key]);
    }
    if (draft->kind_key == FAULT_FLAP &&
        (fault->every_ms == 0 || fault->down_ms == 0 || fault->down_ms >= fault->every_ms))
        return rules_reader_fail(&ld->reader, line,
                                 "a flap needs every and down, down shorter than every; valid "
                                 "choices: every: 5m, down: 1m");
    int rc = 0;
    if (draft->kind_key == FAULT_CLOCK)
        rc = finish_clock(ld, fault, seen_lines);
    if (rc == 0)
        rc = finish_fault_time(ld, draft, seen_lines);
    return rc;
}

// The current event opens a fault's map.
static int
parse_fault(loader_t *ld)
{
    scenario_t *out = ld->out;
    int line = event_line(ld);
    if (out->fault_count == SCENARIO_FAULTS_MAX)
        return rules_reader_fail(&ld->reader, line,
                                 "more than %d faults; valid choices: at most %d, or random: "
                                 "rates for many small faults",
                                 SCENARIO_FAULTS_MAX, SCENARIO_FAULTS_MAX);
    scenario_fault_t *faults =
        scenario_grow_array(out->faults, &ld->fault_cap, out->fault_count, sizeof *faults);
    if (faults == NULL)
        return scenario_out_of_memory(ld);
    out->faults = faults;
    fault_draft_t draft = {.fault = &faults[out->fault_count++], .kind_key = -1};
    memset(draft.fault, 0, sizeof *draft.fault);
    int seen_lines[FAULT_KEY_COUNT] = {0};
    int rc = scenario_read_map_body(ld, &fault_spec, seen_lines, &draft);
    if (rc == 0)
        rc = finish_fault(ld, &draft, seen_lines, line);
    return rc;
}

int
scenario_parse_faults(loader_t *ld)
{
    const char *item = "a list of faults such as {at: 1h, for: 2h, isolate: [cloud]}";
    int rc = scenario_expect_list(ld, "faults", item);
    bool more = true;
    // One turn per fault; parse_fault stops at SCENARIO_FAULTS_MAX.
    while (rc == 0 && (rc = scenario_next_item(ld, &more)) == 0 && more) {
        if (event_type(ld) != YAML_MAPPING_START_EVENT)
            return scenario_fail_found(ld, "a fault", item);
        rc = parse_fault(ld);
    }
    return rc;
}

typedef struct {
    uint64_t at_ms;
    size_t index; // position in the file: ties keep it
} fault_order_t;

static int
compare_fault_order(const void *left, const void *right)
{
    const fault_order_t *l = left;
    const fault_order_t *r = right;
    if (l->at_ms != r->at_ms)
        return l->at_ms < r->at_ms ? -1 : 1;
    return l->index < r->index ? -1 : l->index > r->index;
}

int
scenario_sort_faults(loader_t *ld)
{
    scenario_t *out = ld->out;
    if (out->fault_count < 2)
        return 0;
    fault_order_t *order = calloc(out->fault_count, sizeof *order);
    scenario_fault_t *sorted = calloc(out->fault_count, sizeof *sorted);
    if (order == NULL || sorted == NULL) {
        free(order);
        free(sorted);
        return scenario_out_of_memory(ld);
    }
    for (size_t index = 0; index < out->fault_count; index++)
        order[index] = (fault_order_t){.at_ms = out->faults[index].at_ms, .index = index};
    qsort(order, out->fault_count, sizeof *order, compare_fault_order);
    for (size_t index = 0; index < out->fault_count; index++)
        sorted[index] = out->faults[order[index].index];
    free(out->faults);
    free(order);
    out->faults = sorted;
    return 0;
}
