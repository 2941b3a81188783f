// The simulator's operator report: the text an operator reads first, the JSON scripts
// read (checked with jq when the machine has it), the SVG someone glances at, and the
// promise that the same figures give the same bytes.
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report.h"
#include "sm_error.h"

#define SMALL_SAMPLES 76 // one an hour over 75 simulated hours
#define HOUR_MS 3600000ull
#define FAULT_PHASE_MS (74 * HOUR_MS) // "3d 2h 00m"
#define SVG_SIZE_BYTES_MAX (2u * 1024 * 1024)

// A 3-node rehearsal: the cloud isolated for the whole fault phase, one branch crash,
// two heals (the first never converged), one failed check.
typedef struct {
    sim_report_t report;
    sim_report_node_t nodes[3];
    uint64_t samples[3][SMALL_SAMPLES];
    sim_report_band_t bands[2];
    sim_report_heal_t heals[2];
    sim_report_conflict_t conflicts[1];
    sim_report_check_t checks[2];
    sim_report_sometimes_t sometimes[2];
} small_t;

static void
small_nodes(small_t *small)
{
    sim_report_node_t *nodes = small->nodes;
    nodes[0] = (sim_report_node_t){.name = "cloud",
                                   .is_cloud = true,
                                   .commands_acked = 40,
                                   .messages_sent = 5000,
                                   .bytes_sent = 2500000};
    nodes[1] = (sim_report_node_t){.name = "branch-a",
                                   .queue_depth_peak = 912,
                                   .queue_depth_peak_ms = 27 * HOUR_MS + 600000, // 1d 3h 10m
                                   .offline_ms = FAULT_PHASE_MS + 300000,        // 3d 2h 05m
                                   .warnings = 1,
                                   .commands_acked = 12345,
                                   .commands_refused = 17,
                                   .commands_failed = 2,
                                   .crashes = 0,
                                   .messages_sent = 4321,
                                   .bytes_sent = 4100000};
    nodes[2] = (sim_report_node_t){.name = "branch-b",
                                   .queue_depth_peak = 45,
                                   .queue_depth_peak_ms = 850,
                                   .offline_ms = 750000, // 12m 30s
                                   .commands_acked = 300,
                                   .crashes = 1,
                                   .messages_sent = 99,
                                   .bytes_sent = 999};
    for (size_t i = 0; i < SMALL_SAMPLES; i++) {
        small->samples[0][i] = 0;
        small->samples[1][i] = i <= 27 ? i * 33 : i < 74 ? 912 : 0;
        small->samples[2][i] = i == 1 ? 45 : 0;
    }
    for (size_t n = 0; n < 3; n++)
        nodes[n].samples = small->samples[n];
}

static void
small_report(small_t *small)
{
    memset(small, 0, sizeof *small);
    small_nodes(small);
    small->bands[0] = (sim_report_band_t){0, FAULT_PHASE_MS, "cloud isolated", true};
    small->bands[1] = (sim_report_band_t){1800000, HOUR_MS, "branch-b power loss", false};
    small->heals[0] = (sim_report_heal_t){HOUR_MS, 0, "branch-b power back"};
    small->heals[1] = (sim_report_heal_t){FAULT_PHASE_MS, FAULT_PHASE_MS + 200000, "cloud back"};
    small->conflicts[0] =
        (sim_report_conflict_t){"voucher.redeemed_by (first-writer-wins)", 3,
                                "redemptions that lost to an earlier one: refund"};
    small->checks[0] = (sim_report_check_t){"acknowledged-not-lost", true, "12,685 operations"};
    small->checks[1] =
        (sim_report_check_t){"converged", false, "branch-b and cloud differ on 2 keys"};
    small->sometimes[0] = (sim_report_sometimes_t){"gap-filled-by-relay", 4};
    small->sometimes[1] = (sim_report_sometimes_t){"clock-jump-backwards", 0};
    sim_report_t *report = &small->report;
    snprintf(report->scenario, sizeof report->scenario, "cloud-outage-3d");
    report->seed = 7;
    snprintf(report->replay, sizeof report->replay,
             "storemesh-sim run sim/scenarios/cloud-outage-3d.yaml --seed 7");
    report->duration_ms = FAULT_PHASE_MS;
    report->end_ms = 75 * HOUR_MS;
    report->warn_depth = 800;
    report->limit_depth = 1000;
    report->nodes = small->nodes;
    report->node_count = 3;
    report->sample_ms = HOUR_MS;
    report->sample_count = SMALL_SAMPLES;
    report->bands = small->bands;
    report->band_count = 2;
    report->heals = small->heals;
    report->heal_count = 2;
    report->conflicts = small->conflicts;
    report->conflict_count = 1;
    report->checks = small->checks;
    report->check_count = 2;
    report->sometimes = small->sometimes;
    report->sometimes_count = 2;
    report->commands = 12700;
    report->messages_delivered = 9000;
    report->messages_lost = 420;
    report->messages_duplicated = 12;
    report->bytes_delivered = 6600000;
    report->events = 123456;
    memset(report->event_hash, 'a', 64);
}

typedef void (*writer_t)(const sim_report_t *, FILE *);

// What a writer produced, NUL-terminated; the caller frees it.
static char *
output_of(writer_t writer, const sim_report_t *report)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    cr_assert_not_null(out);
    writer(report, out);
    cr_assert_eq(fclose(out), 0);
    return text;
}

static char *
file_contents(const char *path, size_t *size)
{
    FILE *in = fopen(path, "rb");
    cr_assert_not_null(in, "cannot open %s", path);
    cr_assert_eq(fseek(in, 0, SEEK_END), 0);
    long length = ftell(in);
    cr_assert_geq(length, 0);
    rewind(in);
    char *bytes = malloc((size_t)length + 1);
    cr_assert_not_null(bytes);
    cr_assert_eq(fread(bytes, 1, (size_t)length, in), (size_t)length);
    bytes[length] = '\0';
    fclose(in);
    *size = (size_t)length;
    return bytes;
}

static size_t
occurrences(const char *haystack, const char *needle)
{
    size_t count = 0;
    for (const char *at = strstr(haystack, needle); at != NULL; at = strstr(at + 1, needle))
        count++;
    return count;
}

// The line of text that starts with prefix, copied into line.
static bool
line_starting(const char *text, const char *prefix, char *line, size_t size)
{
    const char *at = text;
    while (at != NULL && *at != '\0') {
        if (strncmp(at, prefix, strlen(prefix)) == 0) {
            snprintf(line, size, "%.*s", (int)strcspn(at, "\n"), at);
            return true;
        }
        at = strchr(at, '\n');
        at = at != NULL ? at + 1 : NULL;
    }
    return false;
}

static bool
has_program(const char *name)
{
    char command[128];
    snprintf(command, sizeof command, "command -v %s >/dev/null 2>&1", name);
    return system(command) == 0;
}

// Whether jq says filter holds for the JSON in path.
static bool
jq_holds(const char *path, const char *filter)
{
    char command[2048];
    snprintf(command, sizeof command, "jq -e '%s' '%s' >/dev/null", filter, path);
    return system(command) == 0;
}

// Without jq: brackets balance outside strings and strings hold no raw control bytes.
static void
assert_json_shape(const char *json)
{
    int depth = 0;
    bool in_string = false;
    for (const char *at = json; *at != '\0'; at++) {
        if (in_string) {
            cr_assert_geq((unsigned char)*at, 0x20, "raw control byte in a string");
            if (*at == '\\')
                at++;
            else if (*at == '"')
                in_string = false;
            continue;
        }
        in_string = *at == '"';
        depth += *at == '{' || *at == '[';
        depth -= *at == '}' || *at == ']';
        cr_assert_geq(depth, 0);
    }
    cr_assert_not(in_string);
    cr_assert_eq(depth, 0);
    cr_assert_eq(json[0], '{');
}

static void
temp_path(char *path, size_t size, const char *name)
{
    snprintf(path, size, "/tmp/sm-report-test-%ld-%s", (long)getpid(), name);
}

static char *
svg_of(const sim_report_t *report, size_t *size)
{
    char path[256];
    temp_path(path, sizeof path, "picture.svg");
    char err[512] = "";
    cr_assert_eq(sim_report_svg(report, path, err, sizeof err), 0, "%s", err);
    char *svg = file_contents(path, size);
    unlink(path);
    return svg;
}

Test(report, text_starts_with_the_summary_line)
{
    small_t small;
    small_report(&small);
    char *text = output_of(sim_report_text, &small.report);
    const char *expected = "storemesh-sim: scenario cloud-outage-3d seed 7: FAILED (3 nodes, "
                           "3d 2h 00m fault phase, converged 3m 20s after the last heal)\n";
    cr_assert(strncmp(text, expected, strlen(expected)) == 0, "got:\n%s", text);
    free(text);
}

Test(report, text_of_a_passed_run_has_no_replay)
{
    small_t small;
    small_report(&small);
    small.checks[1].passed = true;
    cr_assert(sim_report_passed(&small.report));
    char *text = output_of(sim_report_text, &small.report);
    cr_assert(strstr(text, "seed 7: PASSED (") != NULL, "%s", text);
    cr_assert_null(strstr(text, "FAILED"));
    cr_assert_null(strstr(text, "Replay:"));
    free(text);
}

Test(report, text_lists_checks_and_ends_with_the_replay_command)
{
    small_t small;
    small_report(&small);
    cr_assert_not(sim_report_passed(&small.report));
    char *text = output_of(sim_report_text, &small.report);
    cr_assert(strstr(text, "Checks (2, 1 failed)\n") != NULL, "%s", text);
    cr_assert(strstr(text, "  PASS  acknowledged-not-lost  12,685 operations\n") != NULL, "%s",
              text);
    cr_assert(strstr(text, "  FAIL  converged              branch-b and cloud differ on 2 keys\n"),
              "%s", text);
    const char *replay =
        "\nReplay: storemesh-sim run sim/scenarios/cloud-outage-3d.yaml --seed 7\n";
    size_t text_len = strlen(text), replay_len = strlen(replay);
    cr_assert_geq(text_len, replay_len);
    cr_assert_str_eq(text + text_len - replay_len, replay);
    free(text);
}

Test(report, text_shows_each_heal)
{
    small_t small;
    small_report(&small);
    char *text = output_of(sim_report_text, &small.report);
    cr_assert(strstr(text, "Heals (2)\n") != NULL, "%s", text);
    cr_assert(strstr(text, "  branch-b power back  healed at 1h 00m      did not converge\n"), "%s",
              text);
    cr_assert(strstr(text, "  cloud back           healed at 3d 2h 00m   converged after 3m 20s\n"),
              "%s", text);
    free(text);
}

Test(report, text_formats_durations_for_people)
{
    static const struct {
        uint64_t ms;
        const char *text;
    } cases[] = {
        {0, "0ms"},          {850, "850ms"},          {1000, "1s"},
        {12500, "12.5s"},    {59999, "59.9s"},        {60000, "1m 00s"},
        {750000, "12m 30s"}, {3599999, "59m 59s"},    {3600000, "1h 00m"},
        {7500000, "2h 05m"}, {86400000, "1d 0h 00m"}, {266700000, "3d 2h 05m"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        small_t small;
        small_report(&small);
        small.heals[1].converged_ms = small.heals[1].heal_ms + cases[i].ms;
        char *text = output_of(sim_report_text, &small.report);
        char expected[128];
        snprintf(expected, sizeof expected, "fault phase, converged %s after the last heal)\n",
                 cases[i].text);
        cr_assert(strstr(text, expected) != NULL, "%llu ms: want \"%s\" in\n%.200s",
                  (unsigned long long)cases[i].ms, cases[i].text, text);
        free(text);
    }
}

Test(report, text_node_table_has_a_row_per_node_and_a_total)
{
    small_t small;
    small_report(&small);
    char *text = output_of(sim_report_text, &small.report);
    char line[512];
    const char *table =
        strstr(text, "\nNodes (3; queues warn at 800; new work refused at 1,000)\n");
    cr_assert_not_null(table, "%s", text);
    cr_assert(line_starting(table, "  node ", line, sizeof line), "%s", text);
    cr_assert(strstr(line, "peak queue") != NULL && strstr(line, "acked/refused/failed"), "%s",
              line);
    cr_assert(line_starting(table, "  branch-a ", line, sizeof line), "%s", text);
    cr_assert(strstr(line, " 912 ") && strstr(line, " 91% ") && strstr(line, " 1d 3h 10m "), "%s",
              line);
    cr_assert(strstr(line, " 3d 2h 05m ") && strstr(line, " 12,345/17/2 "), "%s", line);
    cr_assert(strstr(line, " 4,321 ") && strstr(line, " 4.1 MB"), "%s", line);
    cr_assert(line_starting(table, "  branch-b ", line, sizeof line), "%s", text);
    cr_assert(strstr(line, " 850ms ") && strstr(line, " 12m 30s ") && strstr(line, " 999 B"), "%s",
              line);
    cr_assert(line_starting(table, "  all 3 nodes ", line, sizeof line), "%s", text);
    cr_assert(strstr(line, " 912 ") && strstr(line, " 12,685/17/2 ") && strstr(line, " 6.6 MB"),
              "%s", line);
    free(text);
}

Test(report, text_counts_conflicts_traffic_and_rare_paths)
{
    small_t small;
    small_report(&small);
    char *text = output_of(sim_report_text, &small.report);
    cr_assert(strstr(text, "Conflicts by rule (3)\n"
                           "             3  voucher.redeemed_by (first-writer-wins)\n"
                           "                redemptions that lost to an earlier one: refund\n"),
              "%s", text);
    cr_assert(strstr(text, "  messages  9,000 delivered, 420 lost, 12 duplicated\n"), "%s", text);
    cr_assert(strstr(text, "  bytes     6.6 MB delivered, 519 B per command\n"), "%s", text);
    cr_assert(strstr(text, "  gap-filled-by-relay   4\n"), "%s", text);
    cr_assert(strstr(text, "  clock-jump-backwards  not reached\n"), "%s", text);
    char hash_line[128] = "  123,456 events; event log hash ";
    memset(hash_line + strlen(hash_line), 'a', 64);
    strcat(hash_line, "\n");
    cr_assert(strstr(text, hash_line), "%s", text);
    free(text);
}

Test(report, speed_is_shown_only_with_a_wall_time)
{
    small_t small;
    small_report(&small);
    char *text = output_of(sim_report_text, &small.report);
    char *json = output_of(sim_report_json, &small.report);
    cr_assert_null(strstr(text, "Speed"));
    cr_assert_null(strstr(json, "\"speed\""));
    free(text);
    free(json);

    small.report.wall_seconds = 2.5;
    text = output_of(sim_report_text, &small.report);
    json = output_of(sim_report_json, &small.report);
    cr_assert(strstr(text, "\nSpeed (wall clock; not part of the event log)\n"
                           "  3d 3h 00m simulated in 2.500 s wall\n"
                           "  108,000 simulated s per wall s, 5,080 commands per wall s, "
                           "49,382 events per wall s\n"),
              "%s", text);
    cr_assert(strstr(json, "\"speed\": {\n    \"wall_seconds\": 2.500,\n"
                           "    \"simulated_seconds_per_wall_second\": 108000.0,\n"
                           "    \"commands_per_wall_second\": 5080.0,\n"
                           "    \"events_per_wall_second\": 49382.4\n  }"),
              "%s", json);
    free(text);
    free(json);
}

Test(report, json_holds_every_figure)
{
    small_t small;
    small_report(&small);
    char *json = output_of(sim_report_json, &small.report);
    assert_json_shape(json);
    const char *start = "{\n  \"passed\": false,\n  \"scenario\": \"cloud-outage-3d\",\n";
    cr_assert(strncmp(json, start, strlen(start)) == 0, "%s", json);
    cr_assert(strstr(json, "\"samples\": [0, 33, 66, 99,") != NULL);
    if (!has_program("jq")) {
        cr_log_warn("jq is not installed: checked the JSON's shape only");
        free(json);
        return;
    }
    char path[256];
    temp_path(path, sizeof path, "report.json");
    FILE *out = fopen(path, "w");
    cr_assert_not_null(out);
    sim_report_json(&small.report, out);
    cr_assert_eq(fclose(out), 0);
    static const char *const facts[] = {
        ".passed == false and .scenario == \"cloud-outage-3d\" and .seed == 7",
        ".replay == \"storemesh-sim run sim/scenarios/cloud-outage-3d.yaml --seed 7\"",
        ".duration_ms == 266400000 and .end_ms == 270000000",
        ".warn_depth == 800 and .limit_depth == 1000 and .sample_ms == 3600000",
        ".sample_count == 76 and has(\"speed\") == false",
        ".commands == 12700 and .messages_lost == 420 and .bytes_delivered == 6600000",
        ".events == 123456 and (.event_hash | length) == 64",
        "[.checks[].passed] == [true, false] and .checks[1].name == \"converged\"",
        ".heals[0].converged == false and .heals[0].converged_after_ms == null",
        ".heals[1].converged_ms == 266600000 and .heals[1].converged_after_ms == 200000",
        ".bands[0].whole_mesh and (.bands[1].whole_mesh | not) and .bands[1].start_ms == 1800000",
        ".conflicts[0].count == 3 and .conflicts[0].rule == \"voucher.redeemed_by "
        "(first-writer-wins)\"",
        ".sometimes[1] == {\"name\": \"clock-jump-backwards\", \"count\": 0}",
        "[.nodes[].name] == [\"cloud\", \"branch-a\", \"branch-b\"] and .nodes[0].is_cloud",
        ".nodes[1].queue_depth_peak == 912 and .nodes[1].commands_refused == 17",
        ".nodes[1].bytes_sent == 4100000 and .nodes[2].crashes == 1 and .nodes[2].offline_ms == "
        "750000",
        "(.nodes[1].samples | length) == 76 and .nodes[1].samples[30] == 912",
    };
    for (size_t i = 0; i < sizeof facts / sizeof facts[0]; i++)
        cr_expect(jq_holds(path, facts[i]), "jq: %s", facts[i]);
    unlink(path);
    free(json);
}

Test(report, json_escapes_strings)
{
    small_t small;
    small_report(&small);
    snprintf(small.report.scenario, sizeof small.report.scenario,
             "a\"b\\c\x01"
             "d\ne\xff");
    char *json = output_of(sim_report_json, &small.report);
    assert_json_shape(json);
    cr_assert(strstr(json, "\"scenario\": \"a\\\"b\\\\c\\u0001d\\u000ae\\ufffd\",\n"), "%s", json);
    if (has_program("jq")) {
        char path[256];
        temp_path(path, sizeof path, "escaped.json");
        FILE *out = fopen(path, "w");
        cr_assert_not_null(out);
        fputs(json, out);
        cr_assert_eq(fclose(out), 0);
        cr_assert(jq_holds(path, ".scenario == \"a\\\"b\\\\c\\u0001d\\ne\\ufffd\""));
        unlink(path);
    }
    free(json);
}

Test(report, a_name_without_its_nul_is_read_only_to_its_end)
{
    small_t small;
    small_report(&small);
    memset(small.nodes[1].name, 'x', sizeof small.nodes[1].name); // no NUL
    char *text = output_of(sim_report_text, &small.report);
    char *json = output_of(sim_report_json, &small.report);
    char name[SIM_REPORT_NAME_MAX + 4] = "";
    memset(name + 1, 'x', SIM_REPORT_NAME_MAX + 1); // all 64 bytes, then the next field's
    name[0] = '"';
    name[SIM_REPORT_NAME_MAX + 2] = '"';
    cr_assert(strstr(json, name) != NULL, "%s", json);
    name[0] = name[SIM_REPORT_NAME_MAX + 2] = ' ';
    cr_assert(strstr(text, name) != NULL, "%s", text);
    free(text);
    free(json);
}

Test(report, svg_draws_nodes_bands_limits_and_convergence)
{
    small_t small;
    small_report(&small);
    size_t size = 0;
    char *svg = svg_of(&small.report, &size);
    cr_assert(strncmp(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\"", 39) == 0, "%.80s", svg);
    cr_assert_str_eq(svg + size - 7, "</svg>\n");
    cr_assert_eq(occurrences(svg, "<polyline"), 3);
    cr_assert(strstr(svg, "cloud-outage-3d, seed 7: <tspan fill=\"#c0392b\">FAILED</tspan>"));
    cr_assert(strstr(svg, ">cloud isolated</text>"), "the partition's label at the top");
    cr_assert(strstr(svg, "<title>branch-b power loss: 30m 00s to 1h 00m</title></rect>"));
    cr_assert(strstr(svg, ">converged +3m 20s<title>cloud back</title></text>"));
    cr_assert(strstr(svg, ">did not converge<title>branch-b power back</title></text>"));
    cr_assert(strstr(svg, ">limit 1,000</text>"));
    cr_assert(strstr(svg, ">warn 800</text>"));
    cr_assert(strstr(svg, "stroke=\"#000000\" stroke-width=\"1.5\" points="), "the cloud in black");
    cr_assert_null(strstr(svg, "<script"));
    cr_assert_null(strstr(svg, "href"));
    free(svg);
}

Test(report, svg_is_well_formed_xml_even_with_markup_in_names)
{
    if (!has_program("xmllint"))
        cr_skip_test("xmllint is not installed");
    small_t small;
    small_report(&small);
    snprintf(small.nodes[2].name, sizeof small.nodes[2].name, "<b>&\"north\"\x01\xc3");
    snprintf(small.bands[0].label, sizeof small.bands[0].label, "cloud <isolated> & co");
    char path[256];
    temp_path(path, sizeof path, "markup.svg");
    char err[512] = "";
    cr_assert_eq(sim_report_svg(&small.report, path, err, sizeof err), 0, "%s", err);
    char command[512];
    snprintf(command, sizeof command, "xmllint --noout '%s'", path);
    cr_assert_eq(system(command), 0);
    size_t size = 0;
    char *svg = file_contents(path, &size);
    cr_assert(strstr(svg, "&lt;b&gt;&amp;&quot;north&quot;?\xef\xbf\xbd") != NULL);
    unlink(path);
    free(svg);
}

Test(report, svg_cuts_long_names_and_labels_and_keeps_them_whole_in_the_tooltip)
{
    small_t small;
    small_report(&small);
    snprintf(small.nodes[1].name, sizeof small.nodes[1].name,
             "branch-amsterdam-centraal-station-east");
    small.bands[0].end_ms = 10 * HOUR_MS; // 125 pixels of 940: room for 16 characters
    snprintf(small.bands[0].label, sizeof small.bands[0].label,
             "cloud isolated by a backhoe in the car park");
    size_t size = 0;
    char *svg = svg_of(&small.report, &size);
    cr_assert(strstr(svg, ">branch-amsterda... (peak 912)<title>"
                          "branch-amsterdam-centraal-station-east</title>"),
              "%s", svg);
    cr_assert(strstr(svg, ">cloud isolate...</text>"), "%s", svg);
    cr_assert(strstr(svg, "<title>cloud isolated by a backhoe in the car park: 0ms to 10h 00m"));
    free(svg);
}

Test(report, svg_puts_a_far_limit_above_an_axis_break)
{
    small_t small;
    small_report(&small);
    small.report.warn_depth = 80000;
    small.report.limit_depth = 100000;
    size_t size = 0;
    char *svg = svg_of(&small.report, &size);
    cr_assert(strstr(svg, ">limit 100,000 (off scale)</text>"), "limit labelled off scale");
    cr_assert(strstr(svg, ">warn 80,000 (off scale)</text>"));
    cr_assert(strstr(svg, "axis broken"));
    cr_assert(strstr(svg, ">1,000</text>"), "the y axis still reaches the deepest queue (912)");
    cr_assert_null(strstr(svg, ">100,000</text>"), "no y tick at the limit");
    free(svg);
}

Test(report, svg_reports_a_path_it_cannot_write)
{
    small_t small;
    small_report(&small);
    char err[512] = "";
    const char *path = "/nonexistent-sm-report-dir/picture.svg";
    cr_assert_eq(sim_report_svg(&small.report, path, err, sizeof err), -SM_EIO);
    cr_assert(strstr(err, "'/nonexistent-sm-report-dir/picture.svg'") != NULL, "%s", err);
    cr_assert(strstr(err, strerror(ENOENT)) != NULL, "%s", err);
    if (access("/dev/full", W_OK) == 0) { // opens, then every write fails
        err[0] = '\0';
        cr_assert_eq(sim_report_svg(&small.report, "/dev/full", err, sizeof err), -SM_EIO);
        cr_assert(strstr(err, "'/dev/full'") != NULL, "%s", err);
        cr_assert(strstr(err, strerror(ENOSPC)) != NULL, "%s", err);
    }
}

// 200 nodes, 500 samples each, every sample different from its neighbours: the worst
// case for the picture's size.
typedef struct {
    sim_report_t report;
    sim_report_node_t *nodes;
    uint64_t *samples;
} large_t;

#define LARGE_NODES 200
#define LARGE_SAMPLES 500

static void
large_report(large_t *large)
{
    memset(large, 0, sizeof *large);
    large->nodes = calloc(LARGE_NODES, sizeof large->nodes[0]);
    large->samples = calloc((size_t)LARGE_NODES * LARGE_SAMPLES, sizeof large->samples[0]);
    cr_assert_not_null(large->nodes);
    cr_assert_not_null(large->samples);
    uint64_t state = 7;
    for (size_t n = 0; n < LARGE_NODES; n++) {
        sim_report_node_t *node = &large->nodes[n];
        snprintf(node->name, sizeof node->name, n == 0 ? "cloud" : "branch-%03zu", n);
        node->is_cloud = n == 0;
        node->samples = large->samples + n * LARGE_SAMPLES;
        for (size_t i = 0; i < LARGE_SAMPLES; i++) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            node->samples[i] = (state >> 33) % (1000 + n * 40);
            if (node->samples[i] > node->queue_depth_peak) {
                node->queue_depth_peak = node->samples[i];
                node->queue_depth_peak_ms = i * 60000;
            }
        }
        node->commands_acked = 1000 + n;
    }
    sim_report_t *report = &large->report;
    snprintf(report->scenario, sizeof report->scenario, "mesh-200");
    report->duration_ms = report->end_ms = (LARGE_SAMPLES - 1) * 60000ull;
    report->warn_depth = 8000;
    report->limit_depth = 10000;
    report->nodes = large->nodes;
    report->node_count = LARGE_NODES;
    report->sample_ms = 60000;
    report->sample_count = LARGE_SAMPLES;
}

static void
large_free(large_t *large)
{
    free(large->nodes);
    free(large->samples);
}

Test(report, large_mesh_shows_the_deepest_queues_and_a_small_picture, .timeout = 60.0)
{
    large_t large;
    large_report(&large);
    char *text = output_of(sim_report_text, &large.report);
    cr_assert(strstr(text, "\n  ... and 190 more (use --json for all)\n"), "%s", text);
    cr_assert_eq(occurrences(text, "\n  branch-"), 10);
    char line[512];
    cr_assert(line_starting(text, "  branch-", line, sizeof line));
    cr_assert(strncmp(line, "  branch-199 ", 13) == 0, "deepest first: %s", line);
    cr_assert(line_starting(text, "  all 200 nodes ", line, sizeof line), "%s", text);
    cr_assert(strstr(line, " 219,900/0/0 "), "acked summed over all nodes: %s", line);

    size_t size = 0;
    char *svg = svg_of(&large.report, &size);
    cr_assert_lt(size, SVG_SIZE_BYTES_MAX, "%zu bytes", size);
    cr_assert_eq(occurrences(svg, "<polyline"), LARGE_NODES);
    cr_assert(strstr(svg, ">Deepest 5 of 199 branches</text>"));
    cr_assert_eq(occurrences(svg, "stroke-opacity=\"0.3\" points="), LARGE_NODES - 1 - 5,
                 "all but the cloud and the deepest 5 faded");
    cr_assert(strstr(svg, ">branch-199 (peak "), "the deepest in the legend");
    char *json = output_of(sim_report_json, &large.report);
    assert_json_shape(json);
    cr_assert_eq(occurrences(json, "\"samples\": ["), LARGE_NODES);
    free(json);
    free(svg);
    free(text);
    large_free(&large);
}

// The polyline points of the node whose tooltip starts with title, copied into points.
static void
points_of(const char *svg, const char *title, char *points, size_t size)
{
    const char *end = strstr(svg, title);
    cr_assert_not_null(end, "no %s", title);
    const char *start = NULL;
    for (const char *at = strstr(svg, "points=\""); at != NULL && at < end;
         at = strstr(at + 1, "points=\""))
        start = at + strlen("points=\"");
    cr_assert_not_null(start);
    snprintf(points, size, "%.*s", (int)strcspn(start, "\""), start);
}

// The number of "x,y" points, and the highest (smallest) y among them.
static size_t
parse_points(const char *points, long *top_y)
{
    size_t count = 0;
    int used = 0;
    long x, y;
    *top_y = LONG_MAX;
    for (const char *at = points; sscanf(at, "%ld,%ld%n", &x, &y, &used) == 2; at += used) {
        count++;
        *top_y = y < *top_y ? y : *top_y;
    }
    return count;
}

Test(report, flat_stretches_are_thinned_but_a_spike_is_kept)
{
    large_t large;
    large_report(&large);
    large.report.node_count = 2;
    large.report.warn_depth = large.report.limit_depth = 0;
    for (size_t i = 0; i < LARGE_SAMPLES; i++)
        large.nodes[1].samples[i] = i == 250 ? 9000 : 5;
    large.nodes[1].queue_depth_peak = 9000;
    size_t size = 0;
    char *svg = svg_of(&large.report, &size);
    char points[4096];
    points_of(svg, "<title>branch-001: peak 9,000", points, sizeof points);
    // Flat, up to the spike, down, flat: five corners out of 500 samples.
    long top_y = 0;
    cr_assert_eq(parse_points(points, &top_y), 5, "%s", points);
    cr_assert_lt(top_y, 200, "the spike reaches up the plot: %s", points);
    free(svg);
    large_free(&large);
}

Test(report, many_samples_in_one_pixel_keep_their_highest)
{
    large_t large;
    large_report(&large);
    large.report.node_count = 2;
    large.report.sample_count = 50;
    large.report.sample_ms = 1;
    large.report.duration_ms = large.report.end_ms = 7 * 24 * HOUR_MS; // samples in 1 pixel
    large.report.warn_depth = large.report.limit_depth = 0;
    for (size_t i = 0; i < 50; i++)
        large.nodes[1].samples[i] = i == 20 ? 9000 : 5;
    large.nodes[1].queue_depth_peak = 9000;
    size_t size = 0;
    char *svg = svg_of(&large.report, &size);
    char points[4096];
    points_of(svg, "<title>branch-001: peak 9,000", points, sizeof points);
    long top_y = 0;
    cr_assert_eq(parse_points(points, &top_y), 2, "lowest and highest in one column: %s", points);
    cr_assert_lt(top_y, 200, "the spike reaches up the plot: %s", points);
    free(svg);
    large_free(&large);
}

Test(report, same_figures_give_the_same_bytes)
{
    small_t first, second;
    small_report(&first);
    small_report(&second); // other addresses, same figures
    first.report.wall_seconds = second.report.wall_seconds = 1.25;
    writer_t writers[] = {sim_report_text, sim_report_json};
    for (size_t i = 0; i < 2; i++) {
        char *a = output_of(writers[i], &first.report);
        char *b = output_of(writers[i], &second.report);
        cr_assert_str_eq(a, b);
        free(a);
        free(b);
    }
    size_t size_a = 0, size_b = 0;
    char *a = svg_of(&first.report, &size_a);
    char *b = svg_of(&second.report, &size_b);
    cr_assert_eq(size_a, size_b);
    cr_assert_eq(memcmp(a, b, size_a), 0);
    free(a);
    free(b);
}
