// report_svg: the report as an SVG picture (sim_report_svg): queue depth per node over
// simulated time, with the outage bands, the warn and limit lines, the heals and the
// moments of convergence, and a legend. Self-contained: no scripts, fonts or files.
#include "report.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "report_format.h"
#include "sm_error.h"

// The picture, in pixels. The plot leaves room for the legend on the right and,
// under the x axis, for lanes of thin crash and flap bands.
#define SVG_WIDTH 1280
#define SVG_HEIGHT 660
#define PLOT_LEFT 90
#define PLOT_RIGHT 1030
#define PLOT_TOP 96
#define PLOT_BOTTOM 560
#define LANE_TOP (PLOT_BOTTOM + 6)
#define LANE_HEIGHT 5
#define LANES_MAX 4 // more overlapping crashes than this share the last lane
#define X_LABELS_Y (LANE_TOP + LANES_MAX * (LANE_HEIGHT + 1) + 14)
#define LEGEND_LEFT (PLOT_RIGHT + 24)
#define LEGEND_NAME_CHARS_MAX 18 // longer names are cut to end in "..." (whole in the tooltip)
// Off-scale warn and limit lines go in a strip at the top, above a break in the y axis.
#define OFF_SCALE_LIMIT_Y (PLOT_TOP + 10)
#define OFF_SCALE_WARN_Y (PLOT_TOP + 24)
#define AXIS_BREAK_Y (PLOT_TOP + 34)
// A warn or limit line more than this many times the deepest queue would squash every
// queue into the bottom quarter: it goes above a break in the axis instead.
#define OFF_SCALE_FACTOR 4
#define SVG_COLORED_NODES_MAX 10 // more branches than this: faded, with the deepest in colour
#define SVG_HIGHLIGHTED 5
#define Y_TICKS_MAX 6
#define X_TICKS_MAX 10

typedef struct {
    FILE *out;
    uint64_t x_max_ms; // simulated time at the right edge
    uint64_t y_max;    // queue depth at data_top
    uint64_t y_step;   // between horizontal grid lines
    uint64_t peak;     // deepest queue of any node, from the peaks and the samples
    int data_top;      // pixel row of y_max: under the off-scale strip when there is one
    bool warn_off_scale;
    bool limit_off_scale;
} plot_t;

// Node colours: none is red, orange or green, which mark limits and convergence.
static const char *const palette[] = {"#1f77b4", "#9467bd", "#17becf", "#8c564b", "#e377c2",
                                      "#bcbd22", "#393b79", "#7f7f7f", "#637939", "#6b6ecf"};
#define PALETTE_SIZE (sizeof palette / sizeof palette[0])
_Static_assert(SVG_HIGHLIGHTED <= PALETTE_SIZE, "each highlighted node has its own colour");
_Static_assert(SVG_COLORED_NODES_MAX <= PALETTE_SIZE, "each coloured node has its own colour");

#define COLOR_LIMIT "#c0392b"
#define COLOR_WARN "#e67e22"
#define COLOR_CONVERGED "#1e8449"
#define COLOR_CRASH "#8e44ad"
// Text over lines: a white outline keeps it readable where a line crosses it.
#define HALO                                                                                       \
    " stroke=\"#ffffff\" stroke-width=\"3\" stroke-linejoin=\"round\" paint-order=\"stroke\""

static uint64_t
max_u64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

static long
plot_x(const plot_t *plot, uint64_t ms)
{
    double share = (double)(ms < plot->x_max_ms ? ms : plot->x_max_ms) / (double)plot->x_max_ms;
    return PLOT_LEFT + (long)(share * (PLOT_RIGHT - PLOT_LEFT) + 0.5);
}

static long
plot_y(const plot_t *plot, uint64_t depth)
{
    double share = (double)(depth < plot->y_max ? depth : plot->y_max) / (double)plot->y_max;
    return PLOT_BOTTOM - (long)(share * (PLOT_BOTTOM - plot->data_top) + 0.5);
}

static uint64_t
sample_ms_at(const sim_report_t *self, size_t index)
{
    return self->sample_ms != 0 && index > UINT64_MAX / self->sample_ms ? UINT64_MAX
                                                                        : index * self->sample_ms;
}

// The right edge: late enough for every sample, band, heal and the end of the run.
static uint64_t
plot_time_max(const sim_report_t *self)
{
    uint64_t max = max_u64(self->end_ms, self->duration_ms);
    if (self->sample_count > 0)
        max = max_u64(max, sample_ms_at(self, self->sample_count - 1));
    for (size_t i = 0; i < self->band_count; i++)
        max = max_u64(max, max_u64(self->bands[i].start_ms, self->bands[i].end_ms));
    for (size_t i = 0; i < self->heal_count; i++)
        max = max_u64(max, max_u64(self->heals[i].heal_ms, self->heals[i].converged_ms));
    return max ? max : 1;
}

// From the samples too: a sample above the recorded peak must still fit the plot.
static uint64_t
plot_peak(const sim_report_t *self)
{
    uint64_t peak = 0;
    for (size_t i = 0; i < self->node_count; i++) {
        const sim_report_node_t *node = &self->nodes[i];
        peak = max_u64(peak, node->queue_depth_peak);
        for (size_t j = 0; node->samples != NULL && j < self->sample_count; j++)
            peak = max_u64(peak, node->samples[j]);
    }
    return peak;
}

// The smallest 1, 2 or 5 times a power of ten that cuts range into fewer than
// steps_max steps.
static uint64_t
nice_step(uint64_t range, uint64_t steps_max)
{
    static const uint64_t mantissas[] = {1, 2, 5};
    uint64_t power = 1;
    for (int exponent = 0; exponent < 19; exponent++, power *= 10)
        for (size_t i = 0; i < 3; i++)
            if (range / (mantissas[i] * power) < steps_max)
                return mantissas[i] * power;
    return power; // not reached: 5e18 cuts any uint64_t into at most 3 steps
}

static plot_t
plot_scale(const sim_report_t *self, FILE *out)
{
    plot_t plot = {.out = out, .x_max_ms = plot_time_max(self), .peak = plot_peak(self)};
    uint64_t data = plot.peak ? plot.peak : 1;
    uint64_t squash = data > UINT64_MAX / OFF_SCALE_FACTOR ? UINT64_MAX : data * OFF_SCALE_FACTOR;
    plot.warn_off_scale = self->warn_depth > squash;
    plot.limit_off_scale = self->limit_depth > squash;
    uint64_t top = data;
    if (!plot.warn_off_scale)
        top = max_u64(top, self->warn_depth);
    if (!plot.limit_off_scale)
        top = max_u64(top, self->limit_depth);
    uint64_t headroom = report_saturating_add(top, top / 10 + 1);
    plot.y_step = nice_step(headroom, Y_TICKS_MAX);
    uint64_t steps = headroom / plot.y_step + (headroom % plot.y_step != 0);
    plot.y_max = steps > UINT64_MAX / plot.y_step ? UINT64_MAX : steps * plot.y_step;
    plot.data_top = PLOT_TOP;
    if (plot.warn_off_scale || plot.limit_off_scale)
        plot.data_top = AXIS_BREAK_Y + 10;
    return plot;
}

// A step between time ticks that a reader counts in: 6h, 1d, 7d...
static uint64_t
time_step(uint64_t x_max_ms)
{
    static const uint64_t steps[] = {
        1,         2,          5,          10,         20,         50,       100,
        200,       500,        1000,       2000,       5000,       10000,    15000,
        30000,     60000,      120000,     300000,     600000,     900000,   1800000,
        3600000,   7200000,    10800000,   21600000,   43200000,   86400000, 172800000,
        604800000, 1209600000, 2419200000, 7862400000, 31536000000};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
        if (x_max_ms / steps[i] < X_TICKS_MAX)
            return steps[i];
    return x_max_ms / (X_TICKS_MAX - 1);
}

// "0", "500ms", "30s", "1h 30m", "1d 12h": the two largest units, for axis labels.
static report_label_t
tick_text(uint64_t ms)
{
    static const uint64_t sizes[] = {86400000, 3600000, 60000, 1000, 1};
    static const char *const names[] = {"d", "h", "m", "s", "ms"};
    report_label_t label = {"0"};
    size_t at = 0;
    for (size_t i = 0; i < 5 && ms > 0; i++) {
        uint64_t amount = ms / sizes[i];
        ms %= sizes[i];
        if (amount == 0)
            continue;
        at += (size_t)snprintf(label.text + at, sizeof label.text - at, "%s%" PRIu64 "%s",
                               at ? " " : "", amount, names[i]);
        if (at > 0 && i + 1 < 5 && ms / sizes[i + 1] > 0)
            snprintf(label.text + at, sizeof label.text - at, " %" PRIu64 "%s", ms / sizes[i + 1],
                     names[i + 1]);
        break;
    }
    return label;
}

static void
svg_header(const sim_report_t *self, FILE *out)
{
    bool passed = sim_report_passed(self);
    fprintf(out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"11\">\n"
            "<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n"
            "<text x=\"%d\" y=\"30\" font-size=\"18\" font-weight=\"bold\">storemesh-sim: ",
            SVG_WIDTH, SVG_HEIGHT, SVG_WIDTH, SVG_HEIGHT, SVG_WIDTH, SVG_HEIGHT, PLOT_LEFT);
    REPORT_PUT_FIELD(out, self->scenario, REPORT_ESCAPE_XML);
    fprintf(out, ", seed %" PRIu64 ": <tspan fill=\"%s\">%s</tspan></text>\n", self->seed,
            passed ? COLOR_CONVERGED : COLOR_LIMIT, passed ? "PASSED" : "FAILED");
    fprintf(out,
            "<text x=\"%d\" y=\"50\" font-size=\"12\" fill=\"#444444\">Queue depth per node "
            "(operations the cloud has not acknowledged) over simulated time; %s node%s; "
            "fault phase %s",
            PLOT_LEFT, report_count_text(self->node_count).text, self->node_count == 1 ? "" : "s",
            report_duration_text(self->duration_ms).text);
    const sim_report_heal_t *heal = report_last_heal(self);
    if (heal != NULL && heal->converged_ms != 0)
        fprintf(out, "; converged %s after the last heal",
                report_duration_text(report_converged_after_ms(heal)).text);
    else if (heal != NULL)
        fputs("; did not converge after the last heal", out);
    fputs("</text>\n", out);
}

static void
svg_grid(const plot_t *plot, FILE *out)
{
    for (uint64_t step = 0; step <= plot->y_max / plot->y_step; step++) {
        long y = plot_y(plot, step * plot->y_step);
        fprintf(out,
                "<line x1=\"%d\" y1=\"%ld\" x2=\"%d\" y2=\"%ld\" stroke=\"#e6e6e6\"/>"
                "<text x=\"%d\" y=\"%ld\" text-anchor=\"end\">%s</text>\n",
                PLOT_LEFT, y, PLOT_RIGHT, y, PLOT_LEFT - 6, y + 4,
                report_count_text(step * plot->y_step).text);
    }
    uint64_t time_step_ms = time_step(plot->x_max_ms);
    for (uint64_t step = 0; step <= plot->x_max_ms / time_step_ms; step++) {
        long x = plot_x(plot, step * time_step_ms);
        fprintf(out,
                "<line x1=\"%ld\" y1=\"%d\" x2=\"%ld\" y2=\"%d\" stroke=\"#e6e6e6\"/>"
                "<text x=\"%ld\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
                x, PLOT_TOP, x, PLOT_BOTTOM, x, X_LABELS_Y, tick_text(step * time_step_ms).text);
    }
    fprintf(out,
            "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"12\">simulated time "
            "since the start</text>\n"
            "<text x=\"24\" y=\"%d\" text-anchor=\"middle\" font-size=\"12\" "
            "transform=\"rotate(-90 24 %d)\">queue depth (operations waiting for the "
            "cloud)</text>\n",
            (PLOT_LEFT + PLOT_RIGHT) / 2, X_LABELS_Y + 20, (PLOT_TOP + PLOT_BOTTOM) / 2,
            (PLOT_TOP + PLOT_BOTTOM) / 2);
}

static void
svg_band_title(const sim_report_band_t *band, FILE *out)
{
    fputs("<title>", out);
    REPORT_PUT_FIELD(out, band->label, REPORT_ESCAPE_XML);
    fprintf(out, ": %s", report_duration_text(band->start_ms).text);
    fprintf(out, " to %s</title>", report_duration_text(band->end_ms).text);
}

// Partitions as translucent red across the plot; crashes and flaps as thin strips in
// lanes under the x axis, each in the first lane free at its start.
static void
svg_bands(const sim_report_t *self, const plot_t *plot, FILE *out)
{
    uint64_t lane_end_ms[LANES_MAX] = {0};
    bool lane_used[LANES_MAX] = {false};
    for (size_t i = 0; i < self->band_count; i++)
        if (!self->bands[i].whole_mesh) {
            fprintf(out,
                    "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" font-size=\"9\" "
                    "fill=\"%s\">crashes</text>\n",
                    PLOT_LEFT - 6, LANE_TOP + 8, COLOR_CRASH);
            break;
        }
    for (size_t i = 0; i < self->band_count; i++) {
        const sim_report_band_t *band = &self->bands[i];
        long x = plot_x(plot, band->start_ms);
        long width = plot_x(plot, max_u64(band->end_ms, band->start_ms)) - x;
        width = width > 0 ? width : 1;
        if (band->whole_mesh) {
            fprintf(out,
                    "<rect x=\"%ld\" y=\"%d\" width=\"%ld\" height=\"%d\" fill=\"%s\" "
                    "fill-opacity=\"0.13\">",
                    x, PLOT_TOP, width, PLOT_BOTTOM - PLOT_TOP, COLOR_LIMIT);
        } else {
            size_t lane = 0;
            while (lane + 1 < LANES_MAX && lane_used[lane] && lane_end_ms[lane] > band->start_ms)
                lane++;
            lane_used[lane] = true;
            lane_end_ms[lane] = max_u64(lane_end_ms[lane], band->end_ms);
            fprintf(out,
                    "<rect x=\"%ld\" y=\"%zu\" width=\"%ld\" height=\"%d\" fill=\"%s\" "
                    "fill-opacity=\"0.75\">",
                    x, LANE_TOP + lane * (LANE_HEIGHT + 1), width, LANE_HEIGHT, COLOR_CRASH);
        }
        svg_band_title(band, out);
        fputs("</rect>\n", out);
    }
}

// Partition labels at the top of their band, on alternating rows so neighbours do not
// overprint; cut to the band's width.
static void
svg_band_labels(const sim_report_t *self, const plot_t *plot, FILE *out)
{
    size_t shown = 0;
    for (size_t i = 0; i < self->band_count; i++) {
        const sim_report_band_t *band = &self->bands[i];
        if (!band->whole_mesh)
            continue;
        long x = plot_x(plot, band->start_ms);
        long width = plot_x(plot, max_u64(band->end_ms, band->start_ms)) - x;
        size_t chars_max = width > 8 ? (size_t)(width - 8) / 7 : 0; // bold: ~7 px a character
        if (chars_max < 4)
            continue; // too narrow for even "a..."; the band's tooltip has the label
        size_t row = shown++ % 2;
        fprintf(out, "<text x=\"%ld\" y=\"%zu\" fill=\"%s\" font-weight=\"bold\"" HALO ">", x + 4,
                (size_t)plot->data_top + 14 + row * 14, COLOR_LIMIT);
        report_put_escaped(out, band->label, sizeof band->label, REPORT_ESCAPE_XML, chars_max);
        fputs("</text>\n", out);
    }
}

// A warn or limit line at y: on the scale, or in the strip above the axis break.
static void
svg_level(FILE *out, long y, const char *color, const char *dash, const char *name, uint64_t depth,
          bool off_scale)
{
    fprintf(out,
            "<line x1=\"%d\" y1=\"%ld\" x2=\"%d\" y2=\"%ld\" stroke=\"%s\" "
            "stroke-width=\"1.5\"%s/>"
            "<text x=\"%d\" y=\"%ld\" text-anchor=\"end\" fill=\"%s\"" HALO ">%s %s%s</text>\n",
            PLOT_LEFT, y, PLOT_RIGHT, y, color, dash, PLOT_RIGHT - 4, y - 3, color, name,
            report_count_text(depth).text, off_scale ? " (off scale)" : "");
}

static void
svg_levels(const sim_report_t *self, const plot_t *plot, FILE *out)
{
    const char *dashed = " stroke-dasharray=\"7 4\"";
    if (self->warn_depth != 0)
        svg_level(out, plot->warn_off_scale ? OFF_SCALE_WARN_Y : plot_y(plot, self->warn_depth),
                  COLOR_WARN, dashed, "warn", self->warn_depth, plot->warn_off_scale);
    if (self->limit_depth != 0)
        svg_level(out, plot->limit_off_scale ? OFF_SCALE_LIMIT_Y : plot_y(plot, self->limit_depth),
                  COLOR_LIMIT, "", "limit", self->limit_depth, plot->limit_off_scale);
    if (!plot->warn_off_scale && !plot->limit_off_scale)
        return;
    int y = AXIS_BREAK_Y; // the break: a white gap and "//" across the y axis
    fprintf(out,
            "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"6\" fill=\"#ffffff\"/>"
            "<path d=\"M%d %d l10 -5 M%d %d l10 -5\" stroke=\"#333333\"/>\n"
            "<text x=\"%d\" y=\"%d\" fill=\"#555555\"" HALO ">axis broken: the lines above "
            "are not to scale</text>\n",
            PLOT_LEFT - 6, y - 3, PLOT_RIGHT - PLOT_LEFT + 6, PLOT_LEFT - 5, y + 1, PLOT_LEFT - 5,
            y + 5, PLOT_LEFT + 12, y + 4);
}

// Opens the text over a heal's line, above the plot; alternate heals take alternate rows.
static void
svg_heal_label(long x, size_t index, const char *color, FILE *out)
{
    bool near_right = x > PLOT_RIGHT - 130;
    fprintf(out, "<text x=\"%ld\" y=\"%zu\" fill=\"%s\" text-anchor=\"%s\"" HALO ">",
            near_right ? x - 3 : x + 3, (size_t)PLOT_TOP - 6 - index % 2 * 13, color,
            near_right ? "end" : "start");
}

// Each heal as a dotted grey line; its convergence as a green line with the time it
// took, or the heal in red when the mesh did not converge.
static void
svg_heals(const sim_report_t *self, const plot_t *plot, FILE *out)
{
    for (size_t i = 0; i < self->heal_count; i++) {
        const sim_report_heal_t *heal = &self->heals[i];
        bool converged = heal->converged_ms != 0;
        long x = plot_x(plot, converged ? heal->converged_ms : heal->heal_ms);
        long heal_x = plot_x(plot, heal->heal_ms);
        fprintf(out,
                "<line x1=\"%ld\" y1=\"%d\" x2=\"%ld\" y2=\"%d\" stroke=\"%s\" "
                "stroke-width=\"%s\" stroke-dasharray=\"2 3\"><title>heal: ",
                heal_x, PLOT_TOP, heal_x, PLOT_BOTTOM, converged ? "#7f8c8d" : COLOR_LIMIT,
                converged ? "1" : "2");
        REPORT_PUT_FIELD(out, heal->label, REPORT_ESCAPE_XML);
        fprintf(out, " at %s</title></line>\n", report_duration_text(heal->heal_ms).text);
        if (converged)
            fprintf(out,
                    "<line x1=\"%ld\" y1=\"%d\" x2=\"%ld\" y2=\"%d\" stroke=\"%s\" "
                    "stroke-width=\"1.5\"/>\n",
                    x, PLOT_TOP - 16, x, PLOT_BOTTOM, COLOR_CONVERGED);
        svg_heal_label(x, i, converged ? COLOR_CONVERGED : COLOR_LIMIT, out);
        if (converged)
            fprintf(out, "converged +%s",
                    report_duration_text(report_converged_after_ms(heal)).text);
        else
            fputs("did not converge", out);
        fputs("<title>", out);
        REPORT_PUT_FIELD(out, heal->label, REPORT_ESCAPE_XML);
        fputs("</title></text>\n", out);
    }
}

// Polyline points, thinned: a point goes only when it is a corner. A run of equal
// depths needs only its ends, and so does a vertical run within one pixel column.
typedef struct {
    FILE *out;
    long last_x, last_y; // the last point written
    long held_x, held_y; // the newest point: written once the next shows it is a corner
    bool has_last;
    bool has_held;
} points_t;

static bool
is_on_straight_run(const points_t *points, long x, long y)
{
    if (points->last_y == points->held_y && points->held_y == y)
        return true; // x only grows
    if (points->last_x != points->held_x || points->held_x != x)
        return false;
    return (points->last_y <= points->held_y) == (points->held_y <= y);
}

static void
points_add(points_t *points, long x, long y)
{
    if (points->has_held && points->held_x == x && points->held_y == y)
        return;
    if (points->has_held && points->has_last && is_on_straight_run(points, x, y)) {
        points->held_x = x;
        points->held_y = y;
        return;
    }
    if (points->has_held) {
        fprintf(points->out, points->has_last ? " %ld,%ld" : "%ld,%ld", points->held_x,
                points->held_y);
        points->last_x = points->held_x;
        points->last_y = points->held_y;
        points->has_last = true;
    }
    points->held_x = x;
    points->held_y = y;
    points->has_held = true;
}

static void
points_finish(points_t *points)
{
    if (points->has_held)
        fprintf(points->out, points->has_last ? " %ld,%ld" : "%ld,%ld", points->held_x,
                points->held_y);
}

// The samples falling in one pixel column, drawn as their highest and lowest in the
// order they came: no peak disappears however many samples share the column, and a
// line costs at most two points per column.
typedef struct {
    long x;
    long top_y, bottom_y;           // pixel rows: top_y <= bottom_y
    size_t top_index, bottom_index; // the samples they came from
} column_t;

static void
column_flush(const column_t *column, points_t *points)
{
    bool top_first = column->top_index < column->bottom_index;
    points_add(points, column->x, top_first ? column->top_y : column->bottom_y);
    points_add(points, column->x, top_first ? column->bottom_y : column->top_y);
}

static void
svg_points(const sim_report_t *self, const plot_t *plot, const uint64_t *samples, FILE *out)
{
    points_t points = {.out = out};
    column_t column = {.x = -1};
    for (size_t i = 0; i < self->sample_count; i++) {
        long x = plot_x(plot, sample_ms_at(self, i));
        long y = plot_y(plot, samples[i]);
        if (x != column.x) {
            if (column.x >= 0)
                column_flush(&column, &points);
            column = (column_t){x, y, y, i, i};
        } else if (y < column.top_y) {
            column.top_y = y;
            column.top_index = i;
        } else if (y > column.bottom_y) {
            column.bottom_y = y;
            column.bottom_index = i;
        }
    }
    if (column.x >= 0)
        column_flush(&column, &points);
    points_finish(&points);
}

static void
svg_node(const sim_report_t *self, const plot_t *plot, const sim_report_node_t *node,
         const char *style, FILE *out)
{
    if (node->samples == NULL || self->sample_count == 0)
        return;
    fprintf(out, "<polyline fill=\"none\" stroke-linejoin=\"round\" %s points=\"", style);
    svg_points(self, plot, node->samples, out);
    fputs("\"><title>", out);
    REPORT_PUT_FIELD(out, node->name, REPORT_ESCAPE_XML);
    fprintf(out, ": peak %s", report_count_text(node->queue_depth_peak).text);
    fprintf(out, " at %s</title></polyline>\n",
            report_duration_text(node->queue_depth_peak_ms).text);
}

// The deepest SVG_HIGHLIGHTED branches, deepest first; the rest of highlighted is SIZE_MAX.
static void
svg_highlighted(const sim_report_t *self, size_t highlighted[SVG_HIGHLIGHTED])
{
    size_t index = SIZE_MAX;
    for (size_t rank = 0; rank < SVG_HIGHLIGHTED; rank++) {
        index = rank == 0 || index != SIZE_MAX ? report_next_deepest(self, index, true) : SIZE_MAX;
        highlighted[rank] = index;
    }
}

static size_t
branch_count(const sim_report_t *self)
{
    size_t count = 0;
    for (size_t i = 0; i < self->node_count; i++)
        count += !self->nodes[i].is_cloud;
    return count;
}

static bool
is_highlighted(const size_t highlighted[SVG_HIGHLIGHTED], size_t index)
{
    for (size_t rank = 0; rank < SVG_HIGHLIGHTED; rank++)
        if (highlighted[rank] == index)
            return true;
    return false;
}

// Few branches: each in its own colour. Many: faded, and the deepest few in colour on
// top. The cloud is black either way. One polyline per node with samples.
static void
svg_nodes(const sim_report_t *self, const plot_t *plot, FILE *out)
{
    char style[128];
    bool all_colored = branch_count(self) <= SVG_COLORED_NODES_MAX;
    size_t highlighted[SVG_HIGHLIGHTED];
    svg_highlighted(self, highlighted);
    size_t ordinal = 0;
    for (size_t i = 0; i < self->node_count; i++) {
        if (self->nodes[i].is_cloud || (!all_colored && is_highlighted(highlighted, i)))
            continue;
        if (all_colored)
            snprintf(style, sizeof style, "stroke=\"%s\" stroke-width=\"1.5\"",
                     palette[ordinal++ % PALETTE_SIZE]);
        else
            snprintf(style, sizeof style,
                     "stroke=\"#5b7fa8\" stroke-width=\"0.75\" stroke-opacity=\"0.3\"");
        svg_node(self, plot, &self->nodes[i], style, out);
    }
    for (size_t i = 0; i < self->node_count; i++)
        if (self->nodes[i].is_cloud)
            svg_node(self, plot, &self->nodes[i], "stroke=\"#000000\" stroke-width=\"1.5\"", out);
    for (size_t rank = SVG_HIGHLIGHTED; !all_colored && rank-- > 0;) { // the deepest on top
        if (highlighted[rank] == SIZE_MAX)
            continue;
        snprintf(style, sizeof style, "stroke=\"%s\" stroke-width=\"2\"", palette[rank]);
        svg_node(self, plot, &self->nodes[highlighted[rank]], style, out);
    }
}

static int
legend_node(const sim_report_node_t *node, const char *color, int y, FILE *out)
{
    fprintf(out,
            "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2.5\"/>"
            "<text x=\"%d\" y=\"%d\">",
            LEGEND_LEFT, y - 4, LEGEND_LEFT + 18, y - 4, color, LEGEND_LEFT + 24, y);
    report_put_escaped(out, node->name, sizeof node->name, REPORT_ESCAPE_XML,
                       LEGEND_NAME_CHARS_MAX);
    fprintf(out, " (peak %s)<title>", report_count_text(node->queue_depth_peak).text);
    REPORT_PUT_FIELD(out, node->name, REPORT_ESCAPE_XML);
    fputs("</title></text>\n", out);
    return y + 16;
}

static int
legend_heading(const char *text, int y, FILE *out)
{
    fprintf(out, "<text x=\"%d\" y=\"%d\" font-weight=\"bold\">%s</text>\n", LEGEND_LEFT, y, text);
    return y + 16;
}

static int
legend_nodes(const sim_report_t *self, int y, FILE *out)
{
    size_t branches = branch_count(self);
    if (branches <= SVG_COLORED_NODES_MAX) {
        y = legend_heading("Queue depth per node", y, out);
        size_t ordinal = 0;
        for (size_t i = 0; i < self->node_count; i++)
            if (!self->nodes[i].is_cloud)
                y = legend_node(&self->nodes[i], palette[ordinal++ % PALETTE_SIZE], y, out);
    } else {
        char heading[96];
        snprintf(heading, sizeof heading, "Deepest %d of %s branches", SVG_HIGHLIGHTED,
                 report_count_text(branches).text);
        y = legend_heading(heading, y, out);
        size_t highlighted[SVG_HIGHLIGHTED];
        svg_highlighted(self, highlighted);
        for (size_t rank = 0; rank < SVG_HIGHLIGHTED && highlighted[rank] != SIZE_MAX; rank++)
            y = legend_node(&self->nodes[highlighted[rank]], palette[rank], y, out);
        fprintf(out,
                "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#5b7fa8\" "
                "stroke-opacity=\"0.5\"/><text x=\"%d\" y=\"%d\">other %s branches</text>\n",
                LEGEND_LEFT, y - 4, LEGEND_LEFT + 18, y - 4, LEGEND_LEFT + 24, y,
                report_count_text(branches - SVG_HIGHLIGHTED).text);
        y += 16;
    }
    for (size_t i = 0; i < self->node_count; i++)
        if (self->nodes[i].is_cloud)
            y = legend_node(&self->nodes[i], "#000000", y, out);
    return y;
}

typedef enum {
    SWATCH_LINE,
    SWATCH_BLOCK, // as tall as a letter: a partition band
    SWATCH_STRIP, // as thin as a crash lane
} swatch_t;

// One legend entry: a swatch painted with paint (SVG attributes) and its meaning.
static int
legend_mark(swatch_t shape, const char *paint, const char *text, int y, FILE *out)
{
    if (shape == SWATCH_LINE)
        fprintf(out, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" %s/>", LEGEND_LEFT, y - 4,
                LEGEND_LEFT + 18, y - 4, paint);
    else
        fprintf(out, "<rect x=\"%d\" y=\"%d\" width=\"18\" height=\"%d\" %s/>", LEGEND_LEFT,
                shape == SWATCH_BLOCK ? y - 9 : y - 6, shape == SWATCH_BLOCK ? 9 : LANE_HEIGHT,
                paint);
    fprintf(out, "<text x=\"%d\" y=\"%d\">%s</text>\n", LEGEND_LEFT + 24, y, text);
    return y + 16;
}

static void
svg_legend(const sim_report_t *self, FILE *out)
{
    bool partitions = false, crashes = false, unconverged = false;
    for (size_t i = 0; i < self->band_count; i++) {
        partitions |= self->bands[i].whole_mesh;
        crashes |= !self->bands[i].whole_mesh;
    }
    for (size_t i = 0; i < self->heal_count; i++)
        unconverged |= self->heals[i].converged_ms == 0;
    int y = legend_heading("Marks", legend_nodes(self, PLOT_TOP, out) + 10, out);
    if (partitions)
        y = legend_mark(SWATCH_BLOCK, "fill=\"" COLOR_LIMIT "\" fill-opacity=\"0.2\"",
                        "partition (whole mesh)", y, out);
    if (crashes)
        y = legend_mark(SWATCH_STRIP, "fill=\"" COLOR_CRASH "\" fill-opacity=\"0.75\"",
                        "crash or flap (under the axis)", y, out);
    y = legend_mark(SWATCH_LINE, "stroke=\"#7f8c8d\" stroke-dasharray=\"2 3\"",
                    "heal (a fault ends)", y, out);
    y = legend_mark(SWATCH_LINE, "stroke=\"" COLOR_CONVERGED "\" stroke-width=\"1.5\"",
                    "converged (+ time after heal)", y, out);
    if (unconverged)
        y = legend_mark(SWATCH_LINE,
                        "stroke=\"" COLOR_LIMIT "\" stroke-width=\"2\" stroke-dasharray=\"2 3\"",
                        "heal that did not converge", y, out);
    if (self->warn_depth)
        y = legend_mark(SWATCH_LINE,
                        "stroke=\"" COLOR_WARN "\" stroke-width=\"1.5\" stroke-dasharray=\"7 4\"",
                        "queue warns here", y, out);
    if (self->limit_depth)
        legend_mark(SWATCH_LINE, "stroke=\"" COLOR_LIMIT "\" stroke-width=\"1.5\"",
                    "new work refused here", y, out);
}

static void
svg_write(const sim_report_t *self, FILE *out)
{
    plot_t plot = plot_scale(self, out);
    svg_header(self, out);
    svg_grid(&plot, out);
    svg_bands(self, &plot, out);
    svg_levels(self, &plot, out);
    svg_heals(self, &plot, out);
    svg_nodes(self, &plot, out);
    svg_band_labels(self, &plot, out);
    fprintf(out, "<path d=\"M%d %d V%d H%d\" fill=\"none\" stroke=\"#333333\"/>\n", PLOT_LEFT,
            PLOT_TOP, PLOT_BOTTOM, PLOT_RIGHT);
    svg_legend(self, out);
    fputs("</svg>\n", out);
}

static int
svg_failed(const char *path, int error, char *err, size_t err_size)
{
    if (err != NULL && err_size > 0)
        snprintf(err, err_size,
                 "cannot write the report picture '%s': %s; check that its folder exists and "
                 "is writable, or give another path",
                 path, strerror(error));
    return -SM_EIO;
}

int
sim_report_svg(const sim_report_t *self, const char *path, char *err, size_t err_size)
{
    assert(self != NULL);
    assert(path != NULL);
    assert(self->node_count == 0 || self->nodes != NULL);
    assert(self->band_count == 0 || self->bands != NULL);
    assert(self->heal_count == 0 || self->heals != NULL);
    FILE *out = fopen(path, "w");
    if (out == NULL)
        return svg_failed(path, errno, err, err_size);
    errno = 0;
    svg_write(self, out);
    int error = ferror(out) ? (errno != 0 ? errno : EIO) : 0;
    if (fclose(out) != 0 && error == 0)
        error = errno != 0 ? errno : EIO;
    // A picture cut short stays behind (the path may not be a regular file, so we do not
    // delete it); the error says it is not whole.
    return error != 0 ? svg_failed(path, error, err, err_size) : 0;
}
