// report_format: what the report's three writers share (report.c for the text,
// report_json.c, report_svg.c), so that they say the same thing the same way:
// strings escaped for where they go, numbers and durations written by hand, and the
// few figures every format derives from the struct (the last heal, the deepest
// queues). Internal to the report: only sim/report*.c include it; the API is report.h.
#ifndef SIM_REPORT_FORMAT_H
#define SIM_REPORT_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "report.h"

typedef struct {
    char text[48]; // the longest: "18,446,744,073,709,551,615"; room for any format
} report_label_t;

typedef enum { REPORT_ESCAPE_TEXT, REPORT_ESCAPE_JSON, REPORT_ESCAPE_XML } report_escape_t;

// Writes s (at most n bytes, up to a NUL) escaped for its destination; bytes that are
// not UTF-8 become a replacement character. A string longer than chars_max characters
// is cut to end in "..." within them. Returns the characters written, for padding.
size_t report_put_escaped(FILE *out, const char *s, size_t n, report_escape_t escape,
                          size_t chars_max);
// A char array field of the report: never read past its end, even without a NUL.
#define REPORT_PUT_FIELD(out, field, escape)                                                       \
    report_put_escaped((out), (field), sizeof(field), (escape), SIZE_MAX)

// "12,345": grouped in threes whatever the locale.
report_label_t report_count_text(uint64_t value);
// "850ms", "12.5s", "12m 05s", "2h 05m", "3d 2h 05m". Truncated, never rounded up, so
// 59,999 ms reads "59.9s" and not "60.0s".
report_label_t report_duration_text(uint64_t ms);
// "980 B", "4.1 MB" (powers of 1000, truncated).
report_label_t report_bytes_text(uint64_t bytes);
// Whether value can be written as a fixed-point number: finite, not negative, and
// not absurdly large (report_fixed_text asserts it).
bool report_is_fixed(double value);
// "1.500": decimals digits after a '.' in every locale.
report_label_t report_fixed_text(double value, unsigned decimals);
// part as a whole percent of whole, rounded down so a queue short of the limit never
// reads 100%.
report_label_t report_percent_text(uint64_t part, uint64_t whole);
// a + b, or UINT64_MAX when that overflows.
uint64_t report_saturating_add(uint64_t a, uint64_t b);

// Figures read from the report the same way by every format.

// Whether the run measured a wall time worth showing (the text's speed lines, the
// JSON's "speed").
bool report_speed_is_shown(const sim_report_t *self);
// The heal latest in simulated time (the later entry on a tie), or NULL.
const sim_report_heal_t *report_last_heal(const sim_report_t *self);
// How long after heal the mesh converged; only for a heal that did (converged_ms != 0).
uint64_t report_converged_after_ms(const sim_report_heal_t *heal);
// The deepest node that ranks after node `after` (SIZE_MAX: the deepest of all), or
// SIZE_MAX when none is left. Called a few times, so no sorted copy is needed.
size_t report_next_deepest(const sim_report_t *self, size_t after, bool skip_cloud);

#endif
