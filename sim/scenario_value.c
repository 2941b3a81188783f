// scenario_value: the scenario file's values as text: whole numbers, durations,
// decimals, rates and probabilities parsed, and a duration written back for a label
// or a message. Plain libc, no YAML: the loader calls these on a scalar's bytes.
#include "scenario_value.h"

#include <stdio.h>
#include <string.h>

#include "scenario_words.h"

// 1,000 commands a second at one node: beyond it a run of hours never finishes.
#define RATE_PER_HOUR_MAX 3600000.0
// Decimal digits in a number such as 0.005: exact as a double up to 15.
#define DECIMAL_DIGITS_MAX 15

static bool
is_digit(char byte)
{
    return byte >= '0' && byte <= '9';
}

bool
scenario_value_parse_whole_number(const char *text, size_t len, uint64_t *value)
{
    if (len == 0)
        return false;
    uint64_t total = 0;
    for (size_t index = 0; index < len; index++) {
        if (!is_digit(text[index]))
            return false;
        uint64_t digit = (uint64_t)(text[index] - '0');
        if (total > (UINT64_MAX - digit) / 10)
            return false;
        total = total * 10 + digit;
    }
    *value = total;
    return true;
}

// The unit at the start of text: its length and size in ms, or 0 for none.
static size_t
duration_unit(const char *text, size_t len, uint64_t *unit_ms)
{
    if (len >= 2 && text[0] == 'm' && text[1] == 's') {
        *unit_ms = 1;
        return 2;
    }
    static const char letters[] = {'s', 'm', 'h', 'd'};
    static const uint64_t sizes_ms[] = {1000, 60 * 1000, HOUR_MS, 24 * HOUR_MS};
    for (size_t index = 0; len > 0 && index < sizeof letters; index++) {
        if (text[0] == letters[index]) {
            *unit_ms = sizes_ms[index];
            return 1;
        }
    }
    return 0;
}

// "72h", "250ms", "2h30m": parts of a whole number and a unit; or a plain whole
// number of milliseconds. At most DURATION_MS_MAX.
bool
scenario_value_parse_duration_ms(const char *text, size_t len, uint64_t *ms)
{
    uint64_t total = 0;
    size_t index = 0;
    // One turn per "NUMBER UNIT" part; each consumes at least one byte.
    while (index < len) {
        uint64_t count = 0;
        size_t start = index;
        for (; index < len && is_digit(text[index]); index++) {
            if (count > DURATION_MS_MAX)
                return false;
            count = count * 10 + (uint64_t)(text[index] - '0');
        }
        uint64_t unit_ms = 0;
        size_t unit_len = duration_unit(text + index, len - index, &unit_ms);
        if (index == start || (unit_len == 0 && (start != 0 || index != len)))
            return false;
        if (unit_len == 0)
            unit_ms = 1; // the whole text is a plain number
        index += unit_len;
        if (count > DURATION_MS_MAX / unit_ms || total + count * unit_ms > DURATION_MS_MAX)
            return false;
        total += count * unit_ms;
    }
    *ms = total;
    return len > 0;
}

// "12", "0.5", "0.005": digits, optionally a dot and digits. No sign, exponent or
// locale, so a file reads the same everywhere; the value is the correctly rounded
// quotient of two exact integers.
bool
scenario_value_parse_decimal(const char *text, size_t len, double *value)
{
    uint64_t mantissa = 0;
    uint64_t scale = 1;
    size_t digit_count = 0;
    bool after_dot = false;
    for (size_t index = 0; index < len; index++) {
        if (text[index] == '.' && !after_dot && index > 0 && index + 1 < len) {
            after_dot = true;
            continue;
        }
        if (!is_digit(text[index]) || ++digit_count > DECIMAL_DIGITS_MAX)
            return false;
        mantissa = mantissa * 10 + (uint64_t)(text[index] - '0');
        if (after_dot)
            scale *= 10;
    }
    *value = (double)mantissa / (double)scale;
    return digit_count > 0;
}

// "30/h", "0.5/h", "2/m", "10/d", or a plain number per hour.
bool
scenario_value_parse_rate_per_hour(const char *text, size_t len, double *per_hour)
{
    const char *slash = memchr(text, '/', len);
    double per_unit = 0;
    if (!scenario_value_parse_decimal(text, slash != NULL ? (size_t)(slash - text) : len,
                                      &per_unit))
        return false;
    double units_per_hour = 1;
    if (slash != NULL) {
        size_t unit_len = len - (size_t)(slash - text) - 1;
        static const char letters[] = {'s', 'm', 'h', 'd'};
        static const double per_hour_factors[] = {3600, 60, 1, 1.0 / 24};
        units_per_hour = 0;
        for (size_t index = 0; unit_len == 1 && index < sizeof letters; index++) {
            if (slash[1] == letters[index])
                units_per_hour = per_hour_factors[index];
        }
        if (units_per_hour == 0)
            return false;
    }
    *per_hour = per_unit * units_per_hour;
    return *per_hour <= RATE_PER_HOUR_MAX;
}

// "0.01", "1", "1%", "0.5%": from 0 to 1.
bool
scenario_value_parse_probability(const char *text, size_t len, double *probability)
{
    bool percent = len > 0 && text[len - 1] == '%';
    double value = 0;
    if (!scenario_value_parse_decimal(text, percent ? len - 1 : len, &value))
        return false;
    if (percent)
        value /= 100;
    *probability = value;
    return value <= 1;
}

const char *
scenario_value_format_duration(uint64_t ms, char *buf, size_t size)
{
    static const char *const units[] = {"d", "h", "m", "s", "ms"};
    static const uint64_t sizes_ms[] = {24 * HOUR_MS, HOUR_MS, 60 * 1000, 1000, 1};
    scenario_words_t words;
    scenario_words_init(&words, buf, size);
    for (size_t index = 0; index < 5; index++) {
        char part[32];
        snprintf(part, sizeof part, "%llu%s", (unsigned long long)(ms / sizes_ms[index]),
                 units[index]);
        if (ms / sizes_ms[index] != 0)
            scenario_words_add(&words, "", part);
        ms %= sizes_ms[index];
    }
    if (words.used == 0)
        scenario_words_add(&words, "", "0");
    return buf;
}
