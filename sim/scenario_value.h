// scenario_value: the syntax of a scenario file's single values (docs/SIMULATOR.md):
// "72h", "2h30m" and "250ms" durations, "30/h" rates, "0.5%" probabilities, whole
// numbers and decimals. Each parser reads len bytes (no NUL needed) and returns false
// for anything else. No sign, exponent or locale, so a file reads the same
// everywhere. Not for: YAML (scenario_yaml.c reads the events).
#ifndef SIM_SCENARIO_VALUE_H
#define SIM_SCENARIO_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// 100 years: past any rehearsal, and low enough that the sum of two durations never
// overflows or reaches SCENARIO_UNTIL_HEAL.
#define DURATION_MS_MAX (100ull * 365 * 24 * 60 * 60 * 1000)
#define HOUR_MS (60ull * 60 * 1000)

// Digits only, no sign; false past UINT64_MAX.
bool scenario_value_parse_whole_number(const char *text, size_t len, uint64_t *value);
// "72h", "250ms", "2h30m" or a plain whole number of milliseconds; at most
// DURATION_MS_MAX.
bool scenario_value_parse_duration_ms(const char *text, size_t len, uint64_t *ms);
// "12", "0.5", "0.005": at most 15 digits, correctly rounded.
bool scenario_value_parse_decimal(const char *text, size_t len, double *value);
// "30/h", "0.5/h", "2/m", "10/d", or a plain number per hour; at most 1,000 a second.
bool scenario_value_parse_rate_per_hour(const char *text, size_t len, double *per_hour);
// "0.01", "1", "1%", "0.5%": from 0 to 1.
bool scenario_value_parse_probability(const char *text, size_t len, double *probability);
// ms as the largest units first, "1d2h3m4s5ms", or "0"; returns buf (size bytes, at
// least 8; cut short with "..." when too small).
const char *scenario_value_format_duration(uint64_t ms, char *buf, size_t size);

#endif
