// report_format: escaping, number and duration formatting, and the figures every
// report format derives alike (contracts in report_format.h).
// The output depends only on the struct: no pointers, no clock, no locale. Numbers are
// formatted by hand ("12,345", "3d 2h 05m", "1.5") so that a "," decimal locale can
// neither break the JSON nor make two runs differ. Strings from the scenario are
// escaped for where they go (terminal, JSON, XML) and bounded by their array size.
#include "report_format.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>

// Bytes in the valid UTF-8 sequence at s (n bytes available), or 0 when there is none.
static size_t
utf8_sequence_len(const unsigned char *s, size_t n)
{
    if (s[0] < 0x80)
        return 1;
    size_t len = (s[0] & 0xe0) == 0xc0   ? 2
                 : (s[0] & 0xf0) == 0xe0 ? 3
                 : (s[0] & 0xf8) == 0xf0 ? 4
                                         : 0;
    if (len == 0 || len > n)
        return 0;
    uint32_t code = s[0] & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        code = code << 6 | (s[i] & 0x3f);
    }
    static const uint32_t shortest[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < shortest[len] || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff))
        return 0;
    return len;
}

static void
put_ascii(FILE *out, unsigned char c, report_escape_t escape)
{
    bool control = c < 0x20 || c == 0x7f;
    if (escape == REPORT_ESCAPE_JSON && (control || c == '"' || c == '\\')) {
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else
            fprintf(out, "\\u%04x", c);
    } else if (escape == REPORT_ESCAPE_XML && (c == '&' || c == '<' || c == '>' || c == '"')) {
        fputs(c == '&' ? "&amp;" : c == '<' ? "&lt;" : c == '>' ? "&gt;" : "&quot;", out);
    } else {
        fputc(control ? '?' : c, out); // XML 1.0 forbids most controls; terminals obey them
    }
}

// Characters in s (at most n bytes, up to a NUL), a byte that is not UTF-8 counting as one.
static size_t
char_count(const unsigned char *s, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n && s[i] != '\0'; count++) {
        size_t len = utf8_sequence_len(s + i, n - i);
        i += len ? len : 1;
    }
    return count;
}

size_t
report_put_escaped(FILE *out, const char *s, size_t n, report_escape_t escape, size_t chars_max)
{
    const unsigned char *bytes = (const unsigned char *)s;
    size_t total = char_count(bytes, n);
    size_t kept = total <= chars_max ? total : chars_max > 3 ? chars_max - 3 : 0;
    size_t i = 0;
    for (size_t chars = 0; chars < kept; chars++) {
        size_t len = utf8_sequence_len(bytes + i, n - i);
        if (len == 1)
            put_ascii(out, bytes[i], escape);
        else if (len > 1)
            fwrite(bytes + i, 1, len, out);
        else
            fputs(escape == REPORT_ESCAPE_TEXT   ? "?"
                  : escape == REPORT_ESCAPE_JSON ? "\\ufffd"
                                                 : "\xef\xbf\xbd",
                  out);
        i += len ? len : 1;
    }
    if (kept == total)
        return total;
    fputs("...", out);
    return kept + 3;
}

report_label_t
report_count_text(uint64_t value)
{
    char digits[24];
    int len = snprintf(digits, sizeof digits, "%" PRIu64, value);
    report_label_t label;
    size_t at = 0;
    for (int i = 0; i < len; i++) {
        if (i > 0 && (len - i) % 3 == 0)
            label.text[at++] = ',';
        label.text[at++] = digits[i];
    }
    label.text[at] = '\0';
    return label;
}

report_label_t
report_duration_text(uint64_t ms)
{
    report_label_t label;
    uint64_t seconds = ms / 1000, minutes = seconds / 60, hours = minutes / 60;
    if (ms < 1000)
        snprintf(label.text, sizeof label.text, "%" PRIu64 "ms", ms);
    else if (seconds < 60 && ms % 1000 >= 100)
        snprintf(label.text, sizeof label.text, "%" PRIu64 ".%" PRIu64 "s", seconds,
                 ms % 1000 / 100);
    else if (seconds < 60)
        snprintf(label.text, sizeof label.text, "%" PRIu64 "s", seconds);
    else if (minutes < 60)
        snprintf(label.text, sizeof label.text, "%" PRIu64 "m %02" PRIu64 "s", minutes,
                 seconds % 60);
    else if (hours < 24)
        snprintf(label.text, sizeof label.text, "%" PRIu64 "h %02" PRIu64 "m", hours, minutes % 60);
    else
        snprintf(label.text, sizeof label.text, "%" PRIu64 "d %" PRIu64 "h %02" PRIu64 "m",
                 hours / 24, hours % 24, minutes % 60);
    return label;
}

report_label_t
report_bytes_text(uint64_t bytes)
{
    static const char *const units[] = {"kB", "MB", "GB", "TB", "PB", "EB"};
    report_label_t label;
    if (bytes < 1000) {
        snprintf(label.text, sizeof label.text, "%" PRIu64 " B", bytes);
        return label;
    }
    uint64_t divisor = 1000;
    size_t unit = 0;
    while (unit + 1 < sizeof units / sizeof units[0] && bytes / divisor >= 1000) {
        divisor *= 1000;
        unit++;
    }
    snprintf(label.text, sizeof label.text, "%" PRIu64 ".%" PRIu64 " %s", bytes / divisor,
             bytes % divisor / (divisor / 10), units[unit]);
    return label;
}

// Above this a fixed-point number is not written (a rate of an absurd wall time);
// below it, value * 1000 fits a uint64_t.
#define FIXED_MAX 1e15

bool
report_is_fixed(double value)
{
    return isfinite(value) && value >= 0 && value < FIXED_MAX;
}

report_label_t
report_fixed_text(double value, unsigned decimals)
{
    static const uint64_t scales[] = {1, 10, 100, 1000};
    assert(decimals < sizeof scales / sizeof scales[0]);
    assert(report_is_fixed(value));
    report_label_t label;
    uint64_t scaled = (uint64_t)(value * (double)scales[decimals] + 0.5);
    snprintf(label.text, sizeof label.text, "%" PRIu64, scaled / scales[decimals]);
    if (decimals > 0)
        snprintf(label.text + strlen(label.text), sizeof label.text - strlen(label.text),
                 ".%0*" PRIu64, (int)decimals, scaled % scales[decimals]);
    return label;
}

report_label_t
report_percent_text(uint64_t part, uint64_t whole)
{
    report_label_t label;
    if (whole == 0) {
        snprintf(label.text, sizeof label.text, "-");
        return label;
    }
    uint64_t percent = part <= UINT64_MAX / 100 ? part * 100 / whole : part / whole * 100;
    snprintf(label.text, sizeof label.text, "%" PRIu64 "%%", percent);
    return label;
}

uint64_t
report_saturating_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

bool
report_speed_is_shown(const sim_report_t *self)
{
    return report_is_fixed(self->wall_seconds) && self->wall_seconds > 0;
}

const sim_report_heal_t *
report_last_heal(const sim_report_t *self)
{
    const sim_report_heal_t *last = NULL;
    for (size_t i = 0; i < self->heal_count; i++)
        if (last == NULL || self->heals[i].heal_ms >= last->heal_ms)
            last = &self->heals[i];
    return last;
}

uint64_t
report_converged_after_ms(const sim_report_heal_t *heal)
{
    assert(heal->converged_ms != 0);
    return heal->converged_ms > heal->heal_ms ? heal->converged_ms - heal->heal_ms : 0;
}

// Whether node a has a deeper queue peak than node b; ties keep scenario order.
static bool
ranks_before(const sim_report_t *self, size_t a, size_t b)
{
    uint64_t peak_a = self->nodes[a].queue_depth_peak, peak_b = self->nodes[b].queue_depth_peak;
    return peak_a > peak_b || (peak_a == peak_b && a < b);
}

size_t
report_next_deepest(const sim_report_t *self, size_t after, bool skip_cloud)
{
    size_t best = SIZE_MAX;
    for (size_t i = 0; i < self->node_count; i++) {
        if (skip_cloud && self->nodes[i].is_cloud)
            continue;
        if (after != SIZE_MAX && !ranks_before(self, after, i))
            continue;
        if (best == SIZE_MAX || ranks_before(self, i, best))
            best = i;
    }
    return best;
}
