#include "rules_limits.h"

#include <assert.h>
#include <stdbool.h>
#include <string.h>

#include "sm_error.h"

enum { LIMIT_MAX_OFFLINE, LIMIT_MAX_QUEUE_DEPTH, LIMIT_WARN_AT, LIMIT_AT_LIMIT, LIMIT_KEY_COUNT };
static const char *const limit_keys[LIMIT_KEY_COUNT] = {"max_offline", "max_queue_depth", "warn_at",
                                                        "at_limit"};

static bool
parse_whole_number(const char *text, size_t text_len, uint64_t *value)
{
    if (text_len == 0)
        return false;
    uint64_t total = 0;
    for (size_t index = 0; index < text_len; index++) {
        if (text[index] < '0' || text[index] > '9')
            return false;
        uint64_t digit = (uint64_t)(text[index] - '0');
        if (total > (UINT64_MAX - digit) / 10)
            return false;
        total = total * 10 + digit;
    }
    *value = total;
    return true;
}

// "72h", "30m", "45s", "7d": a whole number above 0 and one unit letter.
static bool
parse_duration_s(const char *text, size_t text_len, uint64_t *seconds)
{
    if (text_len < 2)
        return false;
    uint64_t unit_s = 0;
    switch (text[text_len - 1]) {
    case 's':
        unit_s = 1;
        break;
    case 'm':
        unit_s = 60;
        break;
    case 'h':
        unit_s = 60 * 60;
        break;
    case 'd':
        unit_s = 24 * 60 * 60;
        break;
    default:
        return false;
    }
    uint64_t count = 0;
    if (!parse_whole_number(text, text_len - 1, &count) || count == 0 ||
        count > UINT64_MAX / unit_s)
        return false;
    *seconds = count * unit_s;
    return true;
}

// "80%": a whole number from 1 to 100 and a percent sign.
static bool
parse_percent(const char *text, size_t text_len, uint32_t *percent)
{
    uint64_t value = 0;
    if (text_len < 2 || text[text_len - 1] != '%')
        return false;
    if (!parse_whole_number(text, text_len - 1, &value) || value < 1 || value > 100)
        return false;
    *percent = (uint32_t)value;
    return true;
}

static int
read_limit(rules_reader_t *reader, size_t key_index, rules_limits_t *limits)
{
    const char *value = NULL;
    size_t value_len = 0;
    int rc = rules_reader_expect_scalar(reader, limit_keys[key_index], &value, &value_len);
    if (rc != 0)
        return rc;
    int line = rules_reader_line(reader);
    char quoted[48];
    rules_reader_quote(value, value_len, quoted, sizeof quoted);
    if (key_index == LIMIT_MAX_OFFLINE &&
        !parse_duration_s(value, value_len, &limits->max_offline_s))
        return rules_reader_fail(reader, line,
                                 "max_offline: expected a duration such as 72h, 30m, 45s or 7d, "
                                 "found '%s'; valid choices: a whole number above 0 followed by "
                                 "s, m, h or d",
                                 quoted);
    if (key_index == LIMIT_MAX_QUEUE_DEPTH &&
        (!parse_whole_number(value, value_len, &limits->max_queue_depth) ||
         limits->max_queue_depth == 0))
        return rules_reader_fail(reader, line,
                                 "max_queue_depth: expected a whole number of operations such as "
                                 "100000, found '%s'; valid choices: digits only, 1 or more",
                                 quoted);
    if (key_index == LIMIT_WARN_AT && !parse_percent(value, value_len, &limits->warn_at_percent))
        return rules_reader_fail(reader, line,
                                 "warn_at: expected a percentage such as 80%%, found '%s'; valid "
                                 "choices: 1%% to 100%%",
                                 quoted);
    if (key_index != LIMIT_AT_LIMIT)
        return 0;
    if (strcmp(value, "refuse-new-work") == 0) {
        limits->at_limit = RULES_AT_LIMIT_REFUSE_NEW_WORK;
    } else if (strcmp(value, "warn-only") == 0) {
        limits->at_limit = RULES_AT_LIMIT_WARN_ONLY;
    } else {
        return rules_reader_fail(reader, line,
                                 "at_limit: unknown action '%s'; valid choices: refuse-new-work, "
                                 "warn-only",
                                 quoted);
    }
    return 0;
}

int
rules_limits_parse(rules_reader_t *reader, rules_limits_t *limits)
{
    assert(reader != NULL);
    assert(limits != NULL);
    char choices[RULES_READER_CHOICES_MAX];
    rules_reader_join_words(limit_keys, LIMIT_KEY_COUNT, choices, sizeof choices);
    int rc = rules_reader_expect_mapping(reader, "limits", choices);
    int seen_lines[LIMIT_KEY_COUNT] = {0};
    // At most LIMIT_KEY_COUNT turns before the map ends: a repeated key is refused.
    while (rc == 0) {
        const char *key = NULL;
        int line = 0;
        size_t key_index = 0;
        rc = rules_reader_next_key(reader, &key, &line);
        if (rc != 0 || key == NULL)
            return rc;
        rc = rules_reader_match_key(reader, key, line, "limits", limit_keys, LIMIT_KEY_COUNT,
                                    seen_lines, &key_index);
        if (rc == 0)
            rc = read_limit(reader, key_index, limits);
    }
    return rc;
}
