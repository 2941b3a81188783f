// report: the text an operator reads first (sim_report_text) and the verdict
// (sim_report_passed). The JSON is written by report_json.c and the picture by
// report_svg.c; all three take their escaping and number formats from
// report_format.c, so the output depends only on the struct.
#include "report.h"

#include <assert.h>
#include <inttypes.h>
#include <string.h>

#include "report_format.h"

// With more nodes than this the text table shows only the deepest queues.
#define TEXT_NODES_ALL_MAX 20
#define TEXT_NODES_DEEPEST 10

static uint64_t
rounded(double value)
{
    if (!(value > 0))
        return 0;
    return value >= 1.8e19 ? UINT64_MAX : (uint64_t)(value + 0.5);
}

bool
sim_report_passed(const sim_report_t *self)
{
    assert(self != NULL);
    assert(self->check_count == 0 || self->checks != NULL);
    for (size_t i = 0; i < self->check_count; i++)
        if (!self->checks[i].passed)
            return false;
    return true;
}

static void
text_summary(const sim_report_t *self, FILE *out)
{
    fputs("storemesh-sim: scenario ", out);
    REPORT_PUT_FIELD(out, self->scenario, REPORT_ESCAPE_TEXT);
    fprintf(out, " seed %" PRIu64 ": %s (%s node%s, %s fault phase, ", self->seed,
            sim_report_passed(self) ? "PASSED" : "FAILED", report_count_text(self->node_count).text,
            self->node_count == 1 ? "" : "s", report_duration_text(self->duration_ms).text);
    const sim_report_heal_t *heal = report_last_heal(self);
    if (heal == NULL)
        fputs("no heals)\n", out);
    else if (heal->converged_ms == 0)
        fputs("did not converge after the last heal)\n", out);
    else
        fprintf(out, "converged %s after the last heal)\n",
                report_duration_text(report_converged_after_ms(heal)).text);
}

static void
text_checks(const sim_report_t *self, FILE *out)
{
    size_t failed = 0, name_width = 0;
    for (size_t i = 0; i < self->check_count; i++) {
        failed += !self->checks[i].passed;
        size_t len = strnlen(self->checks[i].name, sizeof self->checks[i].name);
        name_width = len > name_width ? len : name_width;
    }
    fprintf(out, "\nChecks (%zu, %zu failed)\n", self->check_count, failed);
    if (self->check_count == 0)
        fputs("  none ran\n", out);
    for (size_t i = 0; i < self->check_count; i++) {
        const sim_report_check_t *check = &self->checks[i];
        fprintf(out, "  %s  ", check->passed ? "PASS" : "FAIL");
        size_t chars = REPORT_PUT_FIELD(out, check->name, REPORT_ESCAPE_TEXT);
        fprintf(out, "%*s  ", (int)(name_width - (chars < name_width ? chars : name_width)), "");
        REPORT_PUT_FIELD(out, check->detail, REPORT_ESCAPE_TEXT);
        fputc('\n', out);
    }
}

static void
text_heals(const sim_report_t *self, FILE *out)
{
    size_t label_width = 0;
    for (size_t i = 0; i < self->heal_count; i++) {
        size_t len = strnlen(self->heals[i].label, sizeof self->heals[i].label);
        label_width = len > label_width ? len : label_width;
    }
    fprintf(out, "\nHeals (%zu)\n", self->heal_count);
    if (self->heal_count == 0)
        fputs("  none\n", out);
    for (size_t i = 0; i < self->heal_count; i++) {
        const sim_report_heal_t *heal = &self->heals[i];
        fputs("  ", out);
        size_t chars = REPORT_PUT_FIELD(out, heal->label, REPORT_ESCAPE_TEXT);
        fprintf(out, "%*s  healed at %-11s ",
                (int)(label_width - (chars < label_width ? chars : label_width)), "",
                report_duration_text(heal->heal_ms).text);
        if (heal->converged_ms == 0)
            fputs("did not converge\n", out);
        else
            fprintf(out, "converged after %s\n",
                    report_duration_text(report_converged_after_ms(heal)).text);
    }
}

// Widest name among the rows shown, in bytes (close enough for padding).
static size_t
text_name_width(const sim_report_t *self, bool deepest_only)
{
    size_t width = strlen("all 1,000 nodes");
    size_t index = deepest_only ? report_next_deepest(self, SIZE_MAX, false) : 0;
    for (size_t shown = 0; index < self->node_count; shown++) {
        if (deepest_only && shown == TEXT_NODES_DEEPEST)
            break;
        size_t len = strnlen(self->nodes[index].name, sizeof self->nodes[index].name);
        width = len > width ? len : width;
        index = deepest_only ? report_next_deepest(self, index, false) : index + 1;
    }
    return width;
}

static void
text_node_row(const sim_report_t *self, const sim_report_node_t *node, size_t name_width, FILE *out)
{
    fputs("  ", out);
    size_t chars = REPORT_PUT_FIELD(out, node->name, REPORT_ESCAPE_TEXT);
    char outcomes[160]; // three labels and two slashes
    snprintf(outcomes, sizeof outcomes, "%s/%s/%s", report_count_text(node->commands_acked).text,
             report_count_text(node->commands_refused).text,
             report_count_text(node->commands_failed).text);
    fprintf(out, "%*s %10s %6s %12s %12s %6s %7s %22s %7s %11s %10s\n",
            (int)(name_width - (chars < name_width ? chars : name_width)), "",
            report_count_text(node->queue_depth_peak).text,
            report_percent_text(node->queue_depth_peak, self->limit_depth).text,
            node->queue_depth_peak ? report_duration_text(node->queue_depth_peak_ms).text : "-",
            node->offline_ms ? report_duration_text(node->offline_ms).text : "-",
            report_count_text(node->warnings).text, report_count_text(node->limits).text, outcomes,
            report_count_text(node->crashes).text, report_count_text(node->messages_sent).text,
            report_bytes_text(node->bytes_sent).text);
}

// The last row: the deepest peak and longest offline time of any node, the rest summed.
static sim_report_node_t
text_nodes_total(const sim_report_t *self)
{
    sim_report_node_t total = {.samples = NULL};
    snprintf(total.name, sizeof total.name, "all %s nodes",
             report_count_text(self->node_count).text);
    size_t deepest = report_next_deepest(self, SIZE_MAX, false);
    if (deepest != SIZE_MAX) {
        total.queue_depth_peak = self->nodes[deepest].queue_depth_peak;
        total.queue_depth_peak_ms = self->nodes[deepest].queue_depth_peak_ms;
    }
    for (size_t i = 0; i < self->node_count; i++) {
        const sim_report_node_t *node = &self->nodes[i];
        total.offline_ms =
            node->offline_ms > total.offline_ms ? node->offline_ms : total.offline_ms;
        total.warnings = report_saturating_add(total.warnings, node->warnings);
        total.limits = report_saturating_add(total.limits, node->limits);
        total.commands_acked = report_saturating_add(total.commands_acked, node->commands_acked);
        total.commands_refused =
            report_saturating_add(total.commands_refused, node->commands_refused);
        total.commands_failed = report_saturating_add(total.commands_failed, node->commands_failed);
        total.crashes = report_saturating_add(total.crashes, node->crashes);
        total.messages_sent = report_saturating_add(total.messages_sent, node->messages_sent);
        total.bytes_sent = report_saturating_add(total.bytes_sent, node->bytes_sent);
    }
    return total;
}

static void
text_nodes_heading(const sim_report_t *self, size_t name_width, FILE *out)
{
    fprintf(out, "\nNodes (%s", report_count_text(self->node_count).text);
    if (self->warn_depth)
        fprintf(out, "; queues warn at %s", report_count_text(self->warn_depth).text);
    if (self->limit_depth)
        fprintf(out, "; new work refused at %s", report_count_text(self->limit_depth).text);
    if (!self->warn_depth && !self->limit_depth)
        fputs("; no queue limit", out);
    fprintf(out, ")\n  %-*s %10s %6s %12s %12s %6s %7s %22s %7s %11s %10s\n", (int)name_width,
            "node", "peak queue", "%limit", "peak at", "offline", "warned", "limited",
            "acked/refused/failed", "crashes", "messages", "sent");
}

static void
text_nodes(const sim_report_t *self, FILE *out)
{
    assert(self->node_count == 0 || self->nodes != NULL);
    bool deepest_only = self->node_count > TEXT_NODES_ALL_MAX;
    size_t name_width = text_name_width(self, deepest_only);
    text_nodes_heading(self, name_width, out);
    if (!deepest_only) {
        for (size_t i = 0; i < self->node_count; i++)
            text_node_row(self, &self->nodes[i], name_width, out);
    } else {
        size_t index = report_next_deepest(self, SIZE_MAX, false);
        for (size_t shown = 0; shown < TEXT_NODES_DEEPEST; shown++) {
            text_node_row(self, &self->nodes[index], name_width, out);
            index = report_next_deepest(self, index, false);
        }
        fprintf(out, "  ... and %s more (use --json for all)\n",
                report_count_text(self->node_count - TEXT_NODES_DEEPEST).text);
    }
    if (self->node_count < 2)
        return;
    sim_report_node_t total = text_nodes_total(self);
    text_node_row(self, &total, name_width, out);
    fputs("  (last row: the deepest queue and longest offline time of any node; the other "
          "columns summed)\n",
          out);
}

static void
text_conflicts(const sim_report_t *self, FILE *out)
{
    uint64_t total = 0;
    for (size_t i = 0; i < self->conflict_count; i++)
        total = report_saturating_add(total, self->conflicts[i].count);
    fprintf(out, "\nConflicts by rule (%s)\n", report_count_text(total).text);
    if (self->conflict_count == 0)
        fputs("  none\n", out);
    for (size_t i = 0; i < self->conflict_count; i++) {
        const sim_report_conflict_t *conflict = &self->conflicts[i];
        fprintf(out, "  %12s  ", report_count_text(conflict->count).text);
        REPORT_PUT_FIELD(out, conflict->rule, REPORT_ESCAPE_TEXT);
        if (conflict->meaning[0] != '\0') {
            fprintf(out, "\n  %12s  ", "");
            REPORT_PUT_FIELD(out, conflict->meaning, REPORT_ESCAPE_TEXT);
        }
        fputc('\n', out);
    }
}

static void
text_traffic(const sim_report_t *self, FILE *out)
{
    fprintf(out, "\nTraffic\n  commands  %s sent by clients\n",
            report_count_text(self->commands).text);
    fprintf(out, "  messages  %s delivered, %s lost, %s duplicated\n",
            report_count_text(self->messages_delivered).text,
            report_count_text(self->messages_lost).text,
            report_count_text(self->messages_duplicated).text);
    fprintf(out, "  bytes     %s delivered, %s per command\n",
            report_bytes_text(self->bytes_delivered).text,
            self->commands ? report_bytes_text(self->bytes_delivered / self->commands).text : "-");
}

static void
text_sometimes(const sim_report_t *self, FILE *out)
{
    size_t name_width = 0;
    for (size_t i = 0; i < self->sometimes_count; i++) {
        size_t len = strnlen(self->sometimes[i].name, sizeof self->sometimes[i].name);
        name_width = len > name_width ? len : name_width;
    }
    fputs("\nRare paths reached (sometimes)\n", out);
    if (self->sometimes_count == 0)
        fputs("  none counted\n", out);
    for (size_t i = 0; i < self->sometimes_count; i++) {
        fputs("  ", out);
        size_t chars = REPORT_PUT_FIELD(out, self->sometimes[i].name, REPORT_ESCAPE_TEXT);
        uint64_t count = self->sometimes[i].count;
        fprintf(out, "%*s  %s\n", (int)(name_width - (chars < name_width ? chars : name_width)), "",
                count ? report_count_text(count).text : "not reached");
    }
}

static void
text_end(const sim_report_t *self, FILE *out)
{
    // "event log hash <hex>" on one line: scripts (tests/sim/sim_lib.sh) look for it.
    fprintf(out, "\nEvent log\n  %s events; event log hash ", report_count_text(self->events).text);
    if (self->event_hash[0] == '\0')
        fputs("(none)", out);
    REPORT_PUT_FIELD(out, self->event_hash, REPORT_ESCAPE_TEXT);
    fputc('\n', out);
    if (report_speed_is_shown(self)) {
        double wall = self->wall_seconds;
        fprintf(out,
                "\nSpeed (wall clock; not part of the event log)\n  %s simulated in %s s wall\n",
                report_duration_text(self->end_ms).text, report_fixed_text(wall, 3).text);
        fprintf(out, "  %s simulated s per wall s, %s commands per wall s, %s events per wall s\n",
                report_count_text(rounded((double)self->end_ms / 1000.0 / wall)).text,
                report_count_text(rounded((double)self->commands / wall)).text,
                report_count_text(rounded((double)self->events / wall)).text);
    }
    if (!sim_report_passed(self)) {
        fputs("\nReplay: ", out);
        REPORT_PUT_FIELD(out, self->replay, REPORT_ESCAPE_TEXT);
        fputc('\n', out);
    }
}

void
sim_report_text(const sim_report_t *self, FILE *out)
{
    assert(self != NULL);
    assert(out != NULL);
    assert(self->heal_count == 0 || self->heals != NULL);
    assert(self->conflict_count == 0 || self->conflicts != NULL);
    assert(self->sometimes_count == 0 || self->sometimes != NULL);
    text_summary(self, out);
    text_checks(self, out);
    text_heals(self, out);
    text_nodes(self, out);
    text_conflicts(self, out);
    text_traffic(self, out);
    text_sometimes(self, out);
    text_end(self, out);
}
