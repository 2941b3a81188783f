// report_json: the report as one JSON object for scripts (sim_report_json; the members
// are documented in docs/SIMULATOR.md, "The report"). Two-space indentation, one member per
// line, samples on one line.
#include "report.h"

#include <assert.h>
#include <inttypes.h>

#include "report_format.h"

#define JSON_DEPTH_MAX 4 // report, array, element object, speed: samples are inline

typedef struct {
    FILE *out;
    int depth;
    bool has_members[JSON_DEPTH_MAX + 1]; // per open object or array
} json_t;

// Starts a member (key: a literal of ours, nothing to escape) or an array element.
static void
json_member(json_t *json, const char *key)
{
    if (json->depth > 0) {
        fputs(json->has_members[json->depth] ? ",\n" : "\n", json->out);
        json->has_members[json->depth] = true;
        fprintf(json->out, "%*s", 2 * json->depth, "");
    }
    if (key != NULL)
        fprintf(json->out, "\"%s\": ", key);
}

static void
json_open(json_t *json, const char *key, char bracket)
{
    json_member(json, key);
    fputc(bracket, json->out);
    assert(json->depth < JSON_DEPTH_MAX);
    json->depth++;
    json->has_members[json->depth] = false;
}

static void
json_close(json_t *json, char bracket)
{
    assert(json->depth > 0);
    bool had_members = json->has_members[json->depth];
    json->depth--;
    if (had_members)
        fprintf(json->out, "\n%*s", 2 * json->depth, "");
    fputc(bracket, json->out);
}

static void
json_u64(json_t *json, const char *key, uint64_t value)
{
    json_member(json, key);
    fprintf(json->out, "%" PRIu64, value);
}

static void
json_bool(json_t *json, const char *key, bool value)
{
    json_member(json, key);
    fputs(value ? "true" : "false", json->out);
}

static void
json_string(json_t *json, const char *key, const char *value, size_t size)
{
    json_member(json, key);
    fputc('"', json->out);
    report_put_escaped(json->out, value, size, REPORT_ESCAPE_JSON, SIZE_MAX);
    fputc('"', json->out);
}

#define JSON_FIELD(json, key, field) json_string((json), (key), (field), sizeof(field))

// JSON has no infinity: the rate of an absurdly small wall time is null.
static void
json_number(json_t *json, const char *key, double value, unsigned decimals)
{
    json_member(json, key);
    fputs(report_is_fixed(value) ? report_fixed_text(value, decimals).text : "null", json->out);
}

static void
json_node(json_t *json, const sim_report_t *self, const sim_report_node_t *node)
{
    json_open(json, NULL, '{');
    JSON_FIELD(json, "name", node->name);
    json_bool(json, "is_cloud", node->is_cloud);
    json_u64(json, "queue_depth_peak", node->queue_depth_peak);
    json_u64(json, "queue_depth_peak_ms", node->queue_depth_peak_ms);
    json_u64(json, "offline_ms", node->offline_ms);
    json_u64(json, "warnings", node->warnings);
    json_u64(json, "limits", node->limits);
    json_u64(json, "commands_acked", node->commands_acked);
    json_u64(json, "commands_refused", node->commands_refused);
    json_u64(json, "commands_failed", node->commands_failed);
    json_u64(json, "crashes", node->crashes);
    json_u64(json, "messages_sent", node->messages_sent);
    json_u64(json, "bytes_sent", node->bytes_sent);
    json_member(json, "samples");
    fputc('[', json->out);
    size_t count = node->samples != NULL ? self->sample_count : 0;
    for (size_t i = 0; i < count; i++)
        fprintf(json->out, i ? ", %" PRIu64 : "%" PRIu64, node->samples[i]);
    fputc(']', json->out);
    json_close(json, '}');
}

static void
json_timeline(json_t *json, const sim_report_t *self)
{
    json_open(json, "heals", '[');
    for (size_t i = 0; i < self->heal_count; i++) {
        const sim_report_heal_t *heal = &self->heals[i];
        json_open(json, NULL, '{');
        JSON_FIELD(json, "label", heal->label);
        json_u64(json, "heal_ms", heal->heal_ms);
        json_u64(json, "converged_ms", heal->converged_ms);
        json_bool(json, "converged", heal->converged_ms != 0);
        json_member(json, "converged_after_ms");
        if (heal->converged_ms != 0)
            fprintf(json->out, "%" PRIu64, report_converged_after_ms(heal));
        else
            fputs("null", json->out);
        json_close(json, '}');
    }
    json_close(json, ']');
    json_open(json, "bands", '[');
    for (size_t i = 0; i < self->band_count; i++) {
        json_open(json, NULL, '{');
        JSON_FIELD(json, "label", self->bands[i].label);
        json_u64(json, "start_ms", self->bands[i].start_ms);
        json_u64(json, "end_ms", self->bands[i].end_ms);
        json_bool(json, "whole_mesh", self->bands[i].whole_mesh);
        json_close(json, '}');
    }
    json_close(json, ']');
}

static void
json_lists(json_t *json, const sim_report_t *self)
{
    json_open(json, "checks", '[');
    for (size_t i = 0; i < self->check_count; i++) {
        json_open(json, NULL, '{');
        JSON_FIELD(json, "name", self->checks[i].name);
        json_bool(json, "passed", self->checks[i].passed);
        JSON_FIELD(json, "detail", self->checks[i].detail);
        json_close(json, '}');
    }
    json_close(json, ']');
    json_timeline(json, self);
    json_open(json, "conflicts", '[');
    for (size_t i = 0; i < self->conflict_count; i++) {
        json_open(json, NULL, '{');
        JSON_FIELD(json, "rule", self->conflicts[i].rule);
        json_u64(json, "count", self->conflicts[i].count);
        JSON_FIELD(json, "meaning", self->conflicts[i].meaning);
        json_close(json, '}');
    }
    json_close(json, ']');
    json_open(json, "sometimes", '[');
    for (size_t i = 0; i < self->sometimes_count; i++) {
        json_open(json, NULL, '{');
        JSON_FIELD(json, "name", self->sometimes[i].name);
        json_u64(json, "count", self->sometimes[i].count);
        json_close(json, '}');
    }
    json_close(json, ']');
    json_open(json, "nodes", '[');
    for (size_t i = 0; i < self->node_count; i++)
        json_node(json, self, &self->nodes[i]);
    json_close(json, ']');
}

void
sim_report_json(const sim_report_t *self, FILE *out)
{
    assert(self != NULL);
    assert(out != NULL);
    assert(self->node_count == 0 || self->nodes != NULL);
    assert(self->band_count == 0 || self->bands != NULL);
    json_t json = {.out = out};
    json_open(&json, NULL, '{');
    json_bool(&json, "passed", sim_report_passed(self));
    JSON_FIELD(&json, "scenario", self->scenario);
    json_u64(&json, "seed", self->seed);
    JSON_FIELD(&json, "replay", self->replay);
    json_u64(&json, "duration_ms", self->duration_ms);
    json_u64(&json, "end_ms", self->end_ms);
    json_u64(&json, "warn_depth", self->warn_depth);
    json_u64(&json, "limit_depth", self->limit_depth);
    json_u64(&json, "commands", self->commands);
    json_u64(&json, "messages_delivered", self->messages_delivered);
    json_u64(&json, "messages_lost", self->messages_lost);
    json_u64(&json, "messages_duplicated", self->messages_duplicated);
    json_u64(&json, "bytes_delivered", self->bytes_delivered);
    json_u64(&json, "events", self->events);
    JSON_FIELD(&json, "event_hash", self->event_hash);
    if (report_speed_is_shown(self)) {
        double wall = self->wall_seconds;
        json_open(&json, "speed", '{');
        json_number(&json, "wall_seconds", wall, 3);
        json_number(&json, "simulated_seconds_per_wall_second", (double)self->end_ms / 1000 / wall,
                    1);
        json_number(&json, "commands_per_wall_second", (double)self->commands / wall, 1);
        json_number(&json, "events_per_wall_second", (double)self->events / wall, 1);
        json_close(&json, '}');
    }
    json_u64(&json, "sample_ms", self->sample_ms);
    json_u64(&json, "sample_count", self->sample_count);
    json_lists(&json, self);
    json_close(&json, '}');
    fputc('\n', out);
}
