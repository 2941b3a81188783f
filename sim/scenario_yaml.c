// scenario_yaml: the loader's reading primitives over the YAML event stream: maps
// read key by key through a map_spec_t, lists item by item, and single values of
// each kind (duration, range, rate, probability, count, choice, name), each refused
// with FILE:LINE, what was found and the valid choices. Also the loader's growing
// arrays and its out-of-memory message.
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario_internal.h"
#include "scenario_value.h"
#include "sm_error.h"

#define QUOTE_BYTES 48

#define DURATION_CHOICES                                                                           \
    "a whole number and a unit (ms, s, m, h, d) such as 72h, 30m, 10s, 250ms or 3d, parts "        \
    "joined as in 2h30m, or a whole number of milliseconds"

// Returns the grown array (count + 1 entries fit), or NULL with array untouched.
void *
scenario_grow_array(void *array, size_t *cap, size_t count, size_t item_size)
{
    if (count < *cap)
        return array;
    size_t grown_cap = *cap == 0 ? 16 : *cap * 2;
    void *grown = realloc(array, grown_cap * item_size);
    if (grown != NULL)
        *cap = grown_cap;
    return grown;
}

int
scenario_out_of_memory(loader_t *ld)
{
    snprintf(ld->reader.err, ld->reader.err_size,
             "%s: out of memory while loading the scenario; free memory and start again",
             ld->reader.display_name);
    return -SM_ENOMEM;
}

// "WHAT: found X; valid choices: CHOICES" for a value in the wrong shape.
int
scenario_fail_found(loader_t *ld, const char *what, const char *choices)
{
    char found[QUOTE_BYTES + 8];
    const char *text = "nothing";
    if (event_type(ld) == YAML_SEQUENCE_START_EVENT) {
        text = "a list";
    } else if (event_type(ld) == YAML_MAPPING_START_EVENT) {
        text = "a map";
    } else if (event_type(ld) == YAML_SCALAR_EVENT && ld->reader.event.data.scalar.length > 0) {
        size_t len = 0;
        const char *value = event_value(ld, &len);
        char quoted[QUOTE_BYTES];
        snprintf(found, sizeof found, "'%s'",
                 rules_reader_quote(value, len, quoted, sizeof quoted));
        text = found;
    }
    return rules_reader_fail(&ld->reader, event_line(ld), "%s: found %s; valid choices: %s", what,
                             text, choices);
}

// "WHAT: 'VALUE' PROBLEM; valid choices: CHOICES" for a single value that does not parse.
int
scenario_fail_value(loader_t *ld, const char *what, const char *problem, const char *choices)
{
    size_t len = 0;
    const char *value = event_value(ld, &len);
    char quoted[QUOTE_BYTES];
    return rules_reader_fail(&ld->reader, event_line(ld), "%s: '%s' %s; valid choices: %s", what,
                             rules_reader_quote(value, len, quoted, sizeof quoted), problem,
                             choices);
}

// Consumes the next value whole: one event, or a map or list and everything in it.
int
scenario_skip_value(loader_t *ld)
{
    int depth = 0;
    // One turn per event of the value; rules_reader_open bounded the nesting.
    do {
        int rc = next_event(ld);
        if (rc != 0)
            return rc;
        yaml_event_type_t type = event_type(ld);
        if (type == YAML_MAPPING_START_EVENT || type == YAML_SEQUENCE_START_EVENT)
            depth++;
        if (type == YAML_MAPPING_END_EVENT || type == YAML_SEQUENCE_END_EVENT)
            depth--;
    } while (depth > 0);
    return 0;
}

// Reads the keys of a map whose start is the current event, up to its end.
int
scenario_read_map_body(loader_t *ld, const map_spec_t *spec, int *seen_lines, void *arg)
{
    // At most key_count turns: an unknown or repeated key is refused.
    for (;;) {
        const char *key = NULL;
        int line = 0;
        size_t key_index = 0;
        int rc = rules_reader_next_key(&ld->reader, &key, &line);
        if (rc != 0 || key == NULL)
            return rc;
        rc = rules_reader_match_key(&ld->reader, key, line, spec->scope, spec->keys,
                                    spec->key_count, seen_lines, &key_index);
        if (rc == 0)
            rc = spec->read_key(ld, key_index, seen_lines, arg);
        if (rc != 0)
            return rc;
    }
}

// Reads the next event, which must open a map, and then the map; *map_line (when not
// NULL) receives the line where it starts.
int
scenario_read_map(loader_t *ld, const map_spec_t *spec, int *seen_lines, void *arg, int *map_line)
{
    char choices[RULES_READER_CHOICES_MAX];
    rules_reader_join_words(spec->keys, spec->key_count, choices, sizeof choices);
    int rc = rules_reader_expect_mapping(&ld->reader, spec->scope, choices);
    if (rc != 0)
        return rc;
    if (map_line != NULL)
        *map_line = event_line(ld);
    return scenario_read_map_body(ld, spec, seen_lines, arg);
}

// Reads the next event, which must open a list. choices describes the items.
int
scenario_expect_list(loader_t *ld, const char *what, const char *choices)
{
    int rc = next_event(ld);
    if (rc == 0 && event_type(ld) != YAML_SEQUENCE_START_EVENT)
        rc = scenario_fail_found(ld, what, choices);
    return rc;
}

// Reads the next item of an open list: 0 and *more false at the list's end.
int
scenario_next_item(loader_t *ld, bool *more)
{
    int rc = next_event(ld);
    *more = rc == 0 && event_type(ld) != YAML_SEQUENCE_END_EVENT;
    return rc;
}

// Reads the next event, which must be a single value: *value (NUL-terminated) and
// *len stay valid until the next read.
int
scenario_read_scalar(loader_t *ld, const char *what, const char **value, size_t *len)
{
    *value = "";
    *len = 0;
    return rules_reader_expect_scalar(&ld->reader, what, value, len);
}

// The current event is a scalar: parses it as a duration into *ms.
static int
duration_from_event(loader_t *ld, const char *what, bool positive, uint64_t *ms)
{
    size_t len = 0;
    const char *value = event_value(ld, &len);
    if (!scenario_value_parse_duration_ms(value, len, ms))
        return scenario_fail_value(ld, what, "is not a duration",
                                   DURATION_CHOICES ", at most 100 years");
    if (positive && *ms == 0)
        return scenario_fail_value(ld, what, "is not above 0", "a duration above 0, such as 1s");
    return 0;
}

int
scenario_read_duration(loader_t *ld, const char *what, bool positive, uint64_t *ms)
{
    const char *value = NULL;
    size_t len = 0;
    int rc = scenario_read_scalar(ld, what, &value, &len);
    if (rc == 0)
        rc = duration_from_event(ld, what, positive, ms);
    return rc;
}

// "-5m", "+10m", "2s": a duration with an optional sign.
int
scenario_read_signed_duration(loader_t *ld, const char *what, int64_t *ms)
{
    const char *value = NULL;
    size_t len = 0;
    int rc = scenario_read_scalar(ld, what, &value, &len);
    if (rc != 0)
        return rc;
    bool negative = len > 0 && value[0] == '-';
    size_t sign_len = len > 0 && (value[0] == '-' || value[0] == '+') ? 1 : 0;
    uint64_t magnitude = 0;
    if (!scenario_value_parse_duration_ms(value + sign_len, len - sign_len, &magnitude))
        return scenario_fail_value(ld, what, "is not a signed duration",
                                   "an optional + or - and " DURATION_CHOICES
                                   ", such as -5m or +1d");
    *ms = negative ? -(int64_t)magnitude : (int64_t)magnitude;
    return 0;
}

// [min, max] of two durations, or one duration for both; max at most limit_ms.
int
scenario_read_range(loader_t *ld, const char *what, bool positive, uint64_t limit_ms,
                    uint64_t *min_ms, uint64_t *max_ms)
{
    int rc = next_event(ld);
    int line = rc == 0 ? event_line(ld) : 0;
    uint64_t ends_ms[2] = {0, 0};
    size_t end_count = 0;
    if (rc == 0 && event_type(ld) == YAML_SCALAR_EVENT) {
        rc = duration_from_event(ld, what, positive, &ends_ms[0]);
        ends_ms[1] = ends_ms[0];
        end_count = 2;
    } else if (rc == 0 && event_type(ld) != YAML_SEQUENCE_START_EVENT) {
        rc = scenario_fail_found(ld, what, "[min, max] such as [1ms, 4ms], or one duration");
    }
    bool more = end_count == 0;
    // Reads the list's items: two durations, then its end.
    while (rc == 0 && more && (rc = scenario_next_item(ld, &more)) == 0 && more) {
        if (end_count == 2 || event_type(ld) != YAML_SCALAR_EVENT)
            return scenario_fail_found(ld, what, "two durations [min, max] such as [1ms, 4ms]");
        rc = duration_from_event(ld, what, positive, &ends_ms[end_count++]);
    }
    if (rc != 0)
        return rc;
    if (end_count != 2 || ends_ms[0] > ends_ms[1] || ends_ms[1] > limit_ms)
        return rules_reader_fail(&ld->reader, line,
                                 "%s: not a range of two durations, the first not above the "
                                 "second, at most %llu ms; valid choices: [min, max] such as "
                                 "[1ms, 4ms]",
                                 what, (unsigned long long)limit_ms);
    *min_ms = ends_ms[0];
    *max_ms = ends_ms[1];
    return 0;
}

int
scenario_read_range_u32(loader_t *ld, const char *what, uint32_t *min_ms, uint32_t *max_ms)
{
    uint64_t min = 0, max = 0;
    int rc = scenario_read_range(ld, what, false, UINT32_MAX, &min, &max);
    if (rc == 0) {
        *min_ms = (uint32_t)min;
        *max_ms = (uint32_t)max;
    }
    return rc;
}

int
scenario_read_rate(loader_t *ld, const char *what, double *per_hour)
{
    const char *value = NULL;
    size_t len = 0;
    int rc = scenario_read_scalar(ld, what, &value, &len);
    if (rc == 0 && !scenario_value_parse_rate_per_hour(value, len, per_hour))
        rc = scenario_fail_value(
            ld, what, "is not a rate",
            "a number per s, m, h or d such as 30/h, 0.5/h or 2/m, or a plain number "
            "per hour; at most 3600000/h");
    return rc;
}

int
scenario_read_probability(loader_t *ld, const char *what, double *probability)
{
    const char *value = NULL;
    size_t len = 0;
    int rc = scenario_read_scalar(ld, what, &value, &len);
    if (rc == 0 && !scenario_value_parse_probability(value, len, probability))
        rc = scenario_fail_value(ld, what, "is not a probability",
                                 "a number from 0 to 1 such as 0.01, or a percentage such as 1%");
    return rc;
}

int
scenario_read_count(loader_t *ld, const char *what, uint64_t min, uint64_t max, uint64_t *count)
{
    const char *text = NULL;
    size_t len = 0;
    uint64_t value = 0;
    int rc = scenario_read_scalar(ld, what, &text, &len);
    if (rc == 0 &&
        (!scenario_value_parse_whole_number(text, len, &value) || value < min || value > max)) {
        char choices[64];
        snprintf(choices, sizeof choices, "a whole number from %llu to %llu",
                 (unsigned long long)min, (unsigned long long)max);
        return scenario_fail_value(ld, what, "is not a whole number in range", choices);
    }
    if (rc == 0)
        *count = value;
    return rc;
}

int
scenario_read_count_u32(loader_t *ld, const char *what, uint64_t min, uint64_t max, uint32_t *count)
{
    assert(max <= UINT32_MAX);
    uint64_t value = 0;
    int rc = scenario_read_count(ld, what, min, max, &value);
    if (rc == 0)
        *count = (uint32_t)value;
    return rc;
}

int
scenario_read_choice(loader_t *ld, const char *what, const char *const *choices,
                     size_t choice_count, size_t *choice_index)
{
    const char *value = NULL;
    size_t len = 0;
    int rc = scenario_read_scalar(ld, what, &value, &len);
    if (rc != 0)
        return rc;
    for (size_t index = 0; index < choice_count; index++) {
        if (strcmp(value, choices[index]) == 0) {
            *choice_index = index;
            return 0;
        }
    }
    char list[RULES_READER_CHOICES_MAX];
    return scenario_fail_value(ld, what, "is not known",
                               rules_reader_join_words(choices, choice_count, list, sizeof list));
}

// Reads a name into name (SCENARIO_NAME_MAX + 1 bytes).
int
scenario_read_name(loader_t *ld, const char *what, char *name)
{
    const char *value = NULL;
    size_t len = 0;
    int rc = scenario_read_scalar(ld, what, &value, &len);
    if (rc == 0)
        rc = rules_reader_check_name(&ld->reader, event_line(ld), what, value, len, "");
    if (rc == 0)
        memcpy(name, value, len + 1);
    return rc;
}
