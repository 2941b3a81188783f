// The scenario loader: every shipped scenario loads with the facts it promises,
// each kind of bad file is refused with FILE:LINE and the valid choices, values in
// every unit parse, links are deduplicated, and partitions cut the right links.
#include <criterion/criterion.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scenario.h"
#include "sm_error.h"

#ifndef SM_SOURCE_DIR
#define SM_SOURCE_DIR "."
#endif

#define SCENARIOS_DIR SM_SOURCE_DIR "/sim/scenarios/"
#define ERR_BYTES 512

// A square of explicit nodes a-b-c-d-a. Sorted links: 0 a-b, 1 a-d, 2 b-c, 3 c-d.
#define SQUARE                                                                                     \
    "topology:\n"                                                                                  \
    "  nodes: [a, b, c, d]\n"                                                                      \
    "  links: [[a, b], [b, c], [c, d], [d, a]]\n"

// A cloud and a ring of three branches: town-01, town-02, town-03. Lines 4 to 7 of a
// body written after the header.
#define TOWN                                                                                       \
    "topology:\n"                                                                                  \
    "  cloud: cloud\n"                                                                             \
    "  regions:\n"                                                                                 \
    "    - {name: town, branches: 3}\n"

static const char *
rules_file(void)
{
    static char path[PATH_MAX];
    if (path[0] == '\0')
        cr_assert_not_null(realpath(SM_SOURCE_DIR "/docs/examples/retail-rules.yaml", path));
    return path;
}

// Writes text to a new temporary file named in path (at least 32 bytes).
static void
write_temp(char *path, size_t size, const char *text)
{
    snprintf(path, size, "/tmp/scenario_test.XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    size_t len = strlen(text);
    cr_assert_eq(write(fd, text, len), (ssize_t)len);
    close(fd);
}

// Loads text as a scenario file; the temporary file is removed again.
static int
load_text(const char *text, char *path, size_t path_size, scenario_t *scenario, char *err)
{
    write_temp(path, path_size, text);
    int rc = scenario_load(path, scenario, err, ERR_BYTES);
    unlink(path);
    return rc;
}

// Loads a three-line header (name, rules, duration: 1h) followed by body, whose
// first line is line 4.
static int
load_body(const char *body, char *path, size_t path_size, scenario_t *scenario, char *err)
{
    char text[8192];
    int len =
        snprintf(text, sizeof text, "name: t\nrules: %s\nduration: 1h\n%s", rules_file(), body);
    cr_assert_lt((size_t)len, sizeof text);
    return load_text(text, path, path_size, scenario, err);
}

static void
load_body_ok(const char *body, scenario_t *scenario)
{
    char path[64];
    char err[ERR_BYTES];
    int rc = load_body(body, path, sizeof path, scenario, err);
    cr_assert_eq(rc, 0, "rc %d: %s", rc, err);
}

static void
load_shipped(const char *file, scenario_t *scenario)
{
    char err[ERR_BYTES];
    int rc = scenario_load(file, scenario, err, sizeof err);
    cr_assert_eq(rc, 0, "%s: rc %d: %s", file, rc, err);
    cr_assert_eq(access(scenario->rules_path, R_OK), 0, "%s", scenario->rules_path);
    cr_assert_eq(scenario->cloud, 0);
    cr_assert(scenario->nodes[0].is_cloud);
    cr_assert_str_eq(scenario->nodes[0].name, "cloud"); // the rules' authority
}

// The error starts "PATH:LINE: ", contains what, and its valid choices contain choices.
static void
assert_refusal(int rc, const char *err, const char *path, int line, const char *what,
               const char *choices)
{
    cr_assert_eq(rc, -SM_EINVAL, "rc %d: %s", rc, err);
    char prefix[96];
    snprintf(prefix, sizeof prefix, "%s:%d: ", path, line);
    cr_assert_eq(strncmp(err, prefix, strlen(prefix)), 0, "expected '%s...', got: %s", prefix, err);
    cr_assert_not_null(strstr(err, what), "expected '%s' in: %s", what, err);
    const char *valid = strstr(err, "; valid choices: ");
    cr_assert_not_null(valid, "no valid choices in: %s", err);
    cr_assert_not_null(strstr(valid, choices), "expected choices '%s' in: %s", choices, err);
}

static void
expect_refused(const char *body, int line, const char *what, const char *choices)
{
    char path[64];
    char err[ERR_BYTES];
    scenario_t scenario;
    int rc = load_body(body, path, sizeof path, &scenario, err);
    assert_refusal(rc, err, path, line, what, choices);
    cr_assert_null(scenario.nodes); // scenario_load cleaned up after itself
    cr_assert_null(scenario.faults);
}

static const scenario_link_t *
find_link(const scenario_t *scenario, const char *a, const char *b)
{
    for (size_t index = 0; index < scenario->link_count; index++) {
        const scenario_link_t *link = &scenario->links[index];
        const char *name_a = scenario->nodes[link->a].name;
        const char *name_b = scenario->nodes[link->b].name;
        if ((strcmp(name_a, a) == 0 && strcmp(name_b, b) == 0) ||
            (strcmp(name_a, b) == 0 && strcmp(name_b, a) == 0))
            return link;
    }
    return NULL;
}

static void
assert_cut(const scenario_fault_t *fault, size_t cut_index, uint32_t link, scenario_cut_dir_t dir)
{
    cr_assert_lt(cut_index, fault->cut_count);
    cr_assert_eq(fault->cuts[cut_index].link, link, "cut %zu", cut_index);
    cr_assert_eq(fault->cuts[cut_index].dir, dir, "cut %zu", cut_index);
}

Test(shipped, small_is_a_cloud_and_three_branches_with_an_outage_and_a_clock_jump)
{
    scenario_t scenario;
    load_shipped(SCENARIOS_DIR "small.yaml", &scenario);
    cr_assert_str_eq(scenario.name, "small");
    cr_assert_eq(scenario.node_count, 4);
    cr_assert_eq(scenario.link_count, 6); // ring of 3 and 3 cloud links
    cr_assert_eq(scenario.duration_ms, 10 * 60 * 1000);
    cr_assert_eq(scenario.heal_ms, 5 * 60 * 1000);
    cr_assert_eq(scenario.workload.hot_keys, 2);
    cr_assert_eq(scenario.workload.vouchers, 40);
    cr_assert_float_eq(scenario.workload.branch_per_hour, 600, 1e-9);
    cr_assert_float_eq(scenario.random.loss, 0.02, 1e-12);
    cr_assert_eq(scenario.random.crash_down_ms_min, 10 * 1000);
    cr_assert_eq(scenario.random.link_cut_ms_max, 2 * 60 * 1000);
    cr_assert_eq(scenario.fault_count, 3);
    const scenario_fault_t *outage = &scenario.faults[0];
    cr_assert_eq(outage->kind, SCENARIO_FAULT_PARTITION);
    cr_assert_eq(outage->at_ms, 2 * 60 * 1000);
    cr_assert_eq(outage->cut_count, 3);
    cr_assert_str_eq(outage->label, "cloud isolated");
    cr_assert_eq(scenario.faults[1].kind, SCENARIO_FAULT_CLOCK_JUMP);
    cr_assert_eq(scenario.faults[1].jump_to_ms, 0);
    cr_assert_str_eq(scenario.faults[1].label, "clock town-02 jumps to 1970-01-01");
    scenario_free(&scenario);
}

Test(shipped, cloud_outage_3d_isolates_the_cloud_of_50_branches_for_72h)
{
    scenario_t scenario;
    load_shipped(SCENARIOS_DIR "cloud-outage-3d.yaml", &scenario);
    cr_assert_eq(scenario.node_count, 51);
    cr_assert_eq(scenario.region_count, 6);
    cr_assert_eq(scenario.link_count, 50 + 10 + 50); // rings, hubs, cloud links
    cr_assert_eq(scenario.anti_entropy_ms, 10 * 1000);
    cr_assert_eq(scenario.sample_ms, 5 * 60 * 1000);
    cr_assert_eq(scenario.fault_count, 1);
    cr_assert_eq(scenario.faults[0].duration_ms, 72 * 3600 * 1000ull);
    cr_assert_eq(scenario.faults[0].cut_count, 50);
    scenario_free(&scenario);
}

Test(shipped, fibre_cut_cuts_only_the_link_between_the_regions)
{
    scenario_t scenario;
    load_shipped(SCENARIOS_DIR "fibre-cut.yaml", &scenario);
    cr_assert_eq(scenario.node_count, 17);
    cr_assert_eq(scenario.link_count, 8 + 8 + 1 + 8); // rings, the hub link, west to cloud
    cr_assert_null(find_link(&scenario, "cloud", "east-01"));
    cr_assert_eq(scenario.fault_count, 1);
    const scenario_fault_t *cut = &scenario.faults[0];
    cr_assert_eq(cut->kind, SCENARIO_FAULT_PARTITION);
    cr_assert_eq(cut->cut_count, 1);
    const scenario_link_t *fibre = find_link(&scenario, "east-01", "west-01");
    cr_assert_not_null(fibre);
    assert_cut(cut, 0, (uint32_t)(fibre - scenario.links), SCENARIO_CUT_BOTH);
    cr_assert_str_eq(cut->label, "east | west,cloud");
    scenario_free(&scenario);
}

Test(shipped, flapping_link_flaps_the_middle_of_a_line)
{
    scenario_t scenario;
    load_shipped(SCENARIOS_DIR "flapping-link.yaml", &scenario);
    cr_assert_eq(scenario.node_count, 5);
    cr_assert_eq(scenario.link_count, 4); // cloud-01-02-03-04
    cr_assert_eq(scenario.fault_count, 1);
    const scenario_fault_t *flap = &scenario.faults[0];
    cr_assert_eq(flap->kind, SCENARIO_FAULT_FLAP);
    const scenario_link_t *middle = &scenario.links[flap->link];
    cr_assert_str_eq(scenario.nodes[middle->a].name, "street-02");
    cr_assert_str_eq(scenario.nodes[middle->b].name, "street-03");
    cr_assert_eq(flap->at_ms, 10 * 60 * 1000);
    cr_assert_eq(flap->duration_ms, 110 * 60 * 1000); // until 2h
    cr_assert_eq(flap->every_ms, 2 * 60 * 1000);
    cr_assert_eq(flap->down_ms, 40 * 1000);
    cr_assert_eq(scenario.duration_ms, 150 * 60 * 1000);
    cr_assert_gt(scenario.random.loss, 0);
    scenario_free(&scenario);
}

Test(shipped, crash_chaos_crashes_the_cloud_and_meshes_six_branches)
{
    scenario_t scenario;
    load_shipped(SCENARIOS_DIR "crash-chaos.yaml", &scenario);
    cr_assert_eq(scenario.node_count, 7);
    cr_assert_eq(scenario.link_count, 15 + 6); // mesh of 6, cloud links
    cr_assert_float_eq(scenario.random.crash_per_hour, 6, 1e-9);
    cr_assert_eq(scenario.random.crash_down_ms_min, 5 * 1000);
    cr_assert_float_eq(scenario.random.disk_error, 0.01, 1e-12);
    size_t cloud_crashes = 0;
    for (size_t index = 0; index < scenario.fault_count; index++) {
        cr_assert_eq(scenario.faults[index].kind, SCENARIO_FAULT_CRASH);
        cloud_crashes += scenario.faults[index].node == scenario.cloud;
    }
    cr_assert_geq(cloud_crashes, 1);
    scenario_free(&scenario);
}

Test(shipped, clock_skew_skews_jumps_and_shares_hot_keys)
{
    scenario_t scenario;
    load_shipped(SCENARIOS_DIR "clock-skew.yaml", &scenario);
    cr_assert_eq(scenario.node_count, 5);
    cr_assert_eq(scenario.fault_count, 4);
    cr_assert_eq(scenario.faults[0].kind, SCENARIO_FAULT_CLOCK_SKEW);
    cr_assert_eq(scenario.faults[0].skew_ms, 10 * 60 * 1000);
    cr_assert_eq(scenario.faults[1].skew_ms, -10 * 60 * 1000);
    cr_assert_eq(scenario.faults[2].kind, SCENARIO_FAULT_CLOCK_JUMP);
    cr_assert_eq(scenario.faults[2].at_ms, 30 * 60 * 1000);
    cr_assert_eq(scenario.faults[3].kind, SCENARIO_FAULT_CLOCK_SKEW);
    cr_assert_eq(scenario.faults[3].skew_ms, 24 * 3600 * 1000);
    cr_assert_gt(scenario.workload.hot_share, 0.5);
    cr_assert_gt(scenario.workload.mix[SCENARIO_CMD_EMAIL], 0);
    scenario_free(&scenario);
}

Test(shipped, chain_200_has_200_branches_an_outage_and_a_fibre_cut)
{
    scenario_t scenario;
    load_shipped(SCENARIOS_DIR "chain-200.yaml", &scenario);
    cr_assert_eq(scenario.node_count, 201);
    cr_assert_eq(scenario.link_count, 200 + 45 + 200); // rings, hubs, cloud links
    cr_assert_not(scenario.ed25519);
    cr_assert_eq(scenario.anti_entropy_ms, 5 * 60 * 1000);
    cr_assert_eq(scenario.peer_timeout_ms, 20 * 60 * 1000);
    cr_assert_eq(scenario.fault_count, 2);
    cr_assert_eq(scenario.faults[0].cut_count, 200);
    cr_assert_eq(scenario.faults[1].at_ms, 48 * 3600 * 1000ull);
    cr_assert_eq(scenario.faults[1].cut_count, 100 + 25); // cloud links of one half, hubs
    cr_assert_float_eq(scenario.random.loss, 0.001, 1e-12);
    scenario_free(&scenario);
}

Test(shipped, every_file_in_the_folder_loads)
{
    DIR *dir = opendir(SCENARIOS_DIR);
    cr_assert_not_null(dir);
    size_t loaded = 0;
    for (struct dirent *entry = readdir(dir); entry != NULL; entry = readdir(dir)) {
        size_t len = strlen(entry->d_name);
        if (len < 5 || strcmp(entry->d_name + len - 5, ".yaml") != 0)
            continue;
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s%s", SCENARIOS_DIR, entry->d_name);
        scenario_t scenario;
        load_shipped(path, &scenario);
        scenario_free(&scenario);
        loaded++;
    }
    closedir(dir);
    cr_assert_geq(loaded, 7);
}

// The doc's complete example, with its rules path made absolute, loads as annotated:
// the doc and the loader cannot drift apart.
Test(docs, complete_example_loads)
{
    FILE *file = fopen(SM_SOURCE_DIR "/docs/SIMULATOR.md", "r");
    cr_assert_not_null(file);
    static char doc[65536];
    size_t doc_len = fread(doc, 1, sizeof doc - 1, file);
    fclose(file);
    doc[doc_len] = '\0';
    const char *section = strstr(doc, "### A complete example");
    cr_assert_not_null(section);
    const char *start = strstr(section, "```yaml\n");
    cr_assert_not_null(start);
    start += strlen("```yaml\n");
    const char *end = strstr(start, "\n```");
    cr_assert_not_null(end);
    const char *relative = "../../docs/examples/retail-rules.yaml";
    const char *rules = strstr(start, relative);
    cr_assert(rules != NULL && rules < end);
    char text[8192];
    int len = snprintf(text, sizeof text, "%.*s%s%.*s\n", (int)(rules - start), start, rules_file(),
                       (int)(end - rules - strlen(relative)), rules + strlen(relative));
    cr_assert_lt((size_t)len, sizeof text);
    char path[64];
    char err[ERR_BYTES];
    scenario_t scenario;
    int rc = load_text(text, path, sizeof path, &scenario, err);
    cr_assert_eq(rc, 0, "rc %d: %s", rc, err);
    cr_assert_eq(scenario.node_count, 1 + 25 + 25 + 1); // cloud, north, south, depot
    cr_assert_str_eq(scenario.nodes[51].name, "depot");
    cr_assert_eq(scenario.fault_count, 7);
    cr_assert_eq(scenario.faults[0].kind, SCENARIO_FAULT_CLOCK_SKEW); // at: 0 sorts first
    cr_assert_eq(scenario.peer_timeout_ms, 50 * 1000);
    scenario_free(&scenario);
}

Test(values, defaults_fill_every_optional_key)
{
    scenario_t scenario;
    load_body_ok("topology: {nodes: [a, b], links: [[a, b]]}\n", &scenario);
    cr_assert_eq(scenario.heal_ms, 3600 * 1000);
    cr_assert_eq(scenario.anti_entropy_ms, 1000);
    cr_assert_eq(scenario.peer_timeout_ms, 5000);
    cr_assert_eq(scenario.sample_ms, 8000); // 1h / 500 = 7.2s, rounded up
    cr_assert_eq(scenario.write_ms_min, 1);
    cr_assert_eq(scenario.write_ms_max, 3);
    cr_assert(scenario.ed25519);
    cr_assert_eq(scenario.seed, 1);
    cr_assert_eq(scenario.cloud, UINT32_MAX);
    cr_assert_eq(scenario.links[0].latency_ms_min, 5);
    cr_assert_eq(scenario.links[0].latency_ms_max, 30);
    const scenario_workload_t *work = &scenario.workload;
    cr_assert_float_eq(work->branch_per_hour, 60, 1e-9);
    cr_assert_float_eq(work->cloud_per_hour, 5, 1e-9);
    cr_assert_float_eq(work->mix[SCENARIO_CMD_SALE], 60, 1e-9);
    cr_assert_float_eq(work->mix[SCENARIO_CMD_BRANCH_PRICE], 1, 1e-9);
    cr_assert_float_eq(work->mix[SCENARIO_CMD_PRICE], 0, 1e-9);
    cr_assert_eq(work->keys, 200);
    cr_assert_eq(work->hot_keys, 5);
    cr_assert_float_eq(work->hot_share, 0.3, 1e-12);
    cr_assert_eq(work->vouchers, 100);
    cr_assert_eq(work->retry_ms, 30 * 1000);
    cr_assert_eq(work->batch_max, 1);
    cr_assert_float_eq(scenario.random.loss, 0, 1e-12);
    cr_assert_float_eq(scenario.random.crash_per_hour, 0, 1e-12);
    cr_assert_eq(scenario.fault_count, 0);
    cr_assert_str_eq(scenario.regions[0], "default");
    scenario_free(&scenario);
}

Test(values, durations_parse_in_every_unit)
{
    scenario_t scenario;
    load_body_ok("heal: 2h30m\n"
                 "anti_entropy: 250ms\n"
                 "peer_timeout: 1500\n"
                 "sample: 10s\n"
                 "write_latency: [1ms, 4ms]\n"
                 "topology: {nodes: [a, b], links: [[a, b]], latency: 10ms}\n"
                 "workload: {retry: 3d}\n"
                 "random: {jitter: 50ms, clock_skew: 2s, crash_down: [1m, 30m]}\n"
                 "faults:\n"
                 "  - {at: 0, clock: a, skew: -5m}\n"
                 "  - {at: 1m, clock: b, jump_to: 1d}\n",
                 &scenario);
    cr_assert_eq(scenario.heal_ms, 150 * 60 * 1000);
    cr_assert_eq(scenario.anti_entropy_ms, 250);
    cr_assert_eq(scenario.peer_timeout_ms, 1500);
    cr_assert_eq(scenario.sample_ms, 10 * 1000);
    cr_assert_eq(scenario.write_ms_max, 4);
    cr_assert_eq(scenario.links[0].latency_ms_min, 10); // one value: both ends
    cr_assert_eq(scenario.links[0].latency_ms_max, 10);
    cr_assert_eq(scenario.workload.retry_ms, 3 * 24 * 3600 * 1000ull);
    cr_assert_eq(scenario.random.jitter_ms, 50);
    cr_assert_eq(scenario.random.clock_skew_ms, 2000);
    cr_assert_eq(scenario.random.crash_down_ms_max, 30 * 60 * 1000);
    cr_assert_eq(scenario.faults[0].skew_ms, -5 * 60 * 1000);
    cr_assert_str_eq(scenario.faults[0].label, "clock a skewed -5m");
    cr_assert_eq(scenario.faults[1].jump_to_ms, 24 * 3600 * 1000);
    cr_assert_str_eq(scenario.faults[1].label, "clock b jumps to 1970-01-02");
    scenario_free(&scenario);
}

Test(values, rates_and_probabilities_parse)
{
    scenario_t scenario;
    load_body_ok("topology: {nodes: [a, b], links: [[a, b]]}\n"
                 "workload: {branch_rate: 0.5/h, cloud_rate: 2/m, hot_share: 1}\n"
                 "random: {crash_rate: 7, link_cut_rate: 48/d, loss: 1%, duplicate: 0.005,\n"
                 "         disk_error: 0.5%}\n",
                 &scenario);
    cr_assert_float_eq(scenario.workload.branch_per_hour, 0.5, 1e-12);
    cr_assert_float_eq(scenario.workload.cloud_per_hour, 120, 1e-9);
    cr_assert_float_eq(scenario.workload.hot_share, 1, 1e-12);
    cr_assert_float_eq(scenario.random.crash_per_hour, 7, 1e-12);
    cr_assert_float_eq(scenario.random.link_cut_per_hour, 2, 1e-12);
    cr_assert_float_eq(scenario.random.loss, 0.01, 1e-15);
    cr_assert_float_eq(scenario.random.duplicate, 0.005, 1e-15);
    cr_assert_float_eq(scenario.random.disk_error, 0.005, 1e-15);
    scenario_free(&scenario);
}

Test(values, a_mix_sets_only_the_kinds_it_names)
{
    scenario_t scenario;
    load_body_ok("topology: {nodes: [a, b], links: [[a, b]]}\n"
                 "workload: {mix: {voucher: 3, price: 1.5}, batch: 10000}\n",
                 &scenario);
    cr_assert_float_eq(scenario.workload.mix[SCENARIO_CMD_VOUCHER], 3, 1e-12);
    cr_assert_float_eq(scenario.workload.mix[SCENARIO_CMD_PRICE], 1.5, 1e-12);
    cr_assert_float_eq(scenario.workload.mix[SCENARIO_CMD_SALE], 0, 1e-12);
    cr_assert_eq(scenario.workload.batch_max, 10000);
    scenario_free(&scenario);
}

Test(values, bad_duration_is_refused)
{
    expect_refused("heal: 72x\n" SQUARE, 4, "heal: '72x' is not a duration", "2h30m");
    expect_refused("heal: 1h30\n" SQUARE, 4, "'1h30' is not a duration", "ms, s, m, h, d");
    expect_refused("heal: -1h\n" SQUARE, 4, "'-1h' is not a duration", "72h");
    expect_refused("heal: 0\n" SQUARE, 4, "'0' is not above 0", "above 0");
    expect_refused("anti_entropy: 50d\n" SQUARE, 4, "'50d' is too long for the core", "49d");
    expect_refused("write_latency: [4ms, 1ms]\n" SQUARE, 4, "write_latency: not a range",
                   "[1ms, 4ms]");
}

Test(values, bad_rate_is_refused)
{
    expect_refused(SQUARE "workload: {branch_rate: 30/w}\n", 7, "branch_rate: '30/w' is not a rate",
                   "30/h");
}

Test(values, probability_outside_0_to_1_is_refused)
{
    expect_refused(SQUARE "random:\n  loss: 1.5\n", 8, "loss: '1.5' is not a probability",
                   "from 0 to 1");
    expect_refused(SQUARE "random:\n  duplicate: 150%\n", 8, "'150%' is not a probability", "1%");
}

Test(values, all_zero_mix_is_refused)
{
    expect_refused(SQUARE "workload:\n  mix: {sale: 0, price: 0}\n", 8, "mix: every weight is 0",
                   "sale, receive, tag_add");
}

Test(values, hot_keys_above_keys_is_refused)
{
    expect_refused(SQUARE "workload:\n  keys: 3\n  hot_keys: 4\n", 9,
                   "hot_keys: 4 is more than keys", "from 0 to keys");
}

Test(topology, nodes_come_cloud_first_then_regions_then_explicit_nodes)
{
    scenario_t scenario;
    load_body_ok("topology:\n"
                 "  nodes: [x, y]\n"
                 "  links: [[x, y], [y, a-01]]\n"
                 "  regions:\n"
                 "    - {name: a, branches: 2}\n"
                 "    - {name: b, branches: 2}\n"
                 "  cloud: hq\n",
                 &scenario);
    static const char *const names[] = {"hq", "a-01", "a-02", "b-01", "b-02", "x", "y"};
    static const uint32_t regions[] = {0, 1, 1, 2, 2, 3, 3};
    cr_assert_eq(scenario.node_count, 7);
    for (size_t index = 0; index < 7; index++) {
        cr_assert_str_eq(scenario.nodes[index].name, names[index]);
        cr_assert_eq(scenario.nodes[index].region, regions[index], "%s", names[index]);
        cr_assert_eq(scenario.nodes[index].is_cloud, index == 0);
    }
    static const char *const region_names[] = {"cloud", "a", "b", "default"};
    cr_assert_eq(scenario.region_count, 4);
    for (size_t index = 0; index < 4; index++)
        cr_assert_str_eq(scenario.regions[index], region_names[index]);
    cr_assert_eq(scenario.cloud, 0);
    scenario_free(&scenario);
}

Test(topology, branch_names_have_three_digits_past_99)
{
    scenario_t scenario;
    load_body_ok("topology:\n  regions: [{name: big, branches: 100}, {name: s, branches: 99}]\n",
                 &scenario);
    cr_assert_str_eq(scenario.nodes[0].name, "big-001");
    cr_assert_str_eq(scenario.nodes[99].name, "big-100");
    cr_assert_str_eq(scenario.nodes[100].name, "s-01");
    cr_assert_str_eq(scenario.nodes[198].name, "s-99");
    scenario_free(&scenario);
}

Test(topology, links_are_sorted_and_deduplicated)
{
    scenario_t scenario;
    load_body_ok(TOWN "  links: [[town-02, town-01], [town-01, town-02], [cloud, town-03]]\n"
                      "  cloud_links: all\n",
                 &scenario);
    cr_assert_eq(scenario.link_count, 6); // the ring and the cloud links only
    for (size_t index = 0; index < scenario.link_count; index++) {
        cr_assert_lt(scenario.links[index].a, scenario.links[index].b);
        if (index > 0) {
            const scenario_link_t *prev = &scenario.links[index - 1];
            const scenario_link_t *link = &scenario.links[index];
            cr_assert(prev->a < link->a || (prev->a == link->a && prev->b < link->b));
        }
    }
    scenario_free(&scenario);
}

Test(topology, shapes_hubs_and_cloud_links_make_the_documented_links)
{
    scenario_t scenario;
    load_body_ok("topology:\n"
                 "  cloud: cloud\n"
                 "  regions:\n"
                 "    - {name: r, branches: 4, links: ring}\n"
                 "    - {name: l, branches: 4, links: line}\n"
                 "    - {name: m, branches: 4, links: mesh}\n"
                 "    - {name: n, branches: 1, links: none}\n"
                 "  cloud_links: [n, r-02]\n",
                 &scenario);
    // ring 4, line 3, mesh 6, hubs among 4 regions 6, cloud links 2
    cr_assert_eq(scenario.link_count, 4 + 3 + 6 + 6 + 2);
    cr_assert_not_null(find_link(&scenario, "r-04", "r-01"));
    cr_assert_null(find_link(&scenario, "l-04", "l-01"));
    cr_assert_not_null(find_link(&scenario, "m-01", "m-03"));
    cr_assert_not_null(find_link(&scenario, "l-01", "n-01")); // hub link
    cr_assert_not_null(find_link(&scenario, "cloud", "r-02"));
    cr_assert_null(find_link(&scenario, "cloud", "r-01"));
    scenario_free(&scenario);
}

Test(topology, region_links_none_leaves_regions_apart_unless_linked)
{
    scenario_t scenario;
    load_body_ok("topology:\n"
                 "  regions: [{name: p, branches: 2}, {name: q, branches: 2}]\n"
                 "  region_links: none\n"
                 "  links: [[p-02, q-02]]\n",
                 &scenario);
    cr_assert_eq(scenario.link_count, 3);
    cr_assert_null(find_link(&scenario, "p-01", "q-01"));
    scenario_free(&scenario);
}

Test(topology, duplicate_node_names_are_refused)
{
    expect_refused(TOWN "  nodes: [x, town-02]\n", 8, "node 'town-02' is declared twice",
                   "names that differ");
}

Test(topology, more_nodes_than_the_limit_are_refused)
{
    expect_refused("topology:\n  regions:\n    - {name: a, branches: 1000}\n"
                   "    - {name: b, branches: 1000}\n",
                   4, "topology has 2000 nodes", "1 to 1024 nodes");
}

Test(topology, empty_topology_is_refused)
{
    expect_refused("topology:\n  latency: [5ms, 10ms]\n", 4, "topology has 0 nodes",
                   "cloud, regions and nodes");
}

Test(topology, unknown_node_in_links_is_refused_with_the_node_names)
{
    expect_refused(TOWN "  links: [[town-01, town-9]]\n", 8, "a link: 'town-9' names no node",
                   "cloud, town-01, town-02, town-03");
}

Test(topology, a_node_with_no_path_is_refused)
{
    expect_refused("topology:\n  nodes: [a, b, c]\n  links: [[a, b]]\n", 4,
                   "node 'c' has no path of links to 'a'", "topology.links");
}

Test(topology, reserved_region_names_are_refused)
{
    expect_refused("topology:\n  regions:\n    - {name: default, branches: 2}\n", 6,
                   "region name: 'default' is reserved", "north");
}

Test(topology, cloud_links_without_a_cloud_are_refused)
{
    expect_refused("topology:\n  nodes: [a, b]\n  links: [[a, b]]\n  cloud_links: [a]\n", 7,
                   "cloud_links: the topology has no cloud", "cloud: NAME");
}

Test(topology, unknown_key_is_refused_with_the_valid_keys)
{
    expect_refused(TOWN "  region_link: hub\n", 8, "unknown key 'region_link' in topology",
                   "cloud, regions, cloud_links, region_links, nodes, links, latency");
}

Test(faults, isolate_cuts_every_link_to_the_rest)
{
    scenario_t scenario;
    load_body_ok(SQUARE "faults: [{at: 1m, isolate: a}]\n", &scenario);
    const scenario_fault_t *fault = &scenario.faults[0];
    cr_assert_eq(fault->kind, SCENARIO_FAULT_PARTITION);
    cr_assert_eq(fault->cut_count, 2);
    assert_cut(fault, 0, 0, SCENARIO_CUT_BOTH); // a-b
    assert_cut(fault, 1, 1, SCENARIO_CUT_BOTH); // a-d
    cr_assert_eq(fault->duration_ms, SCENARIO_UNTIL_HEAL);
    cr_assert_str_eq(fault->label, "a isolated");
    scenario_free(&scenario);
}

Test(faults, split_cuts_between_groups_and_spares_nodes_in_none)
{
    scenario_t scenario;
    load_body_ok(SQUARE "faults: [{at: 1m, for: 10m, split: [[a, b], [c]]}]\n", &scenario);
    const scenario_fault_t *fault = &scenario.faults[0];
    cr_assert_eq(fault->cut_count, 1);
    assert_cut(fault, 0, 2, SCENARIO_CUT_BOTH); // b-c; d is in no group
    cr_assert_eq(fault->duration_ms, 10 * 60 * 1000);
    cr_assert_str_eq(fault->label, "a,b | c");
    scenario_free(&scenario);
}

Test(faults, split_by_region_name_cuts_the_region_off)
{
    scenario_t scenario;
    load_body_ok(TOWN "  nodes: [x]\n  links: [[x, town-01]]\n  cloud_links: [town]\n"
                      "faults: [{at: 0, split: [[default], [cloud, town]]}]\n",
                 &scenario);
    const scenario_fault_t *fault = &scenario.faults[0];
    cr_assert_eq(fault->cut_count, 1);
    const scenario_link_t *link = &scenario.links[fault->cuts[0].link];
    cr_assert_str_eq(scenario.nodes[link->a].name, "town-01");
    cr_assert_str_eq(scenario.nodes[link->b].name, "x");
    scenario_free(&scenario);
}

Test(faults, one_way_cuts_only_the_named_direction)
{
    scenario_t scenario;
    load_body_ok(SQUARE "faults:\n"
                        "  - {at: 1m, one_way: {from: [a], to: [b]}}\n"
                        "  - {at: 2m, one_way: {to: a, from: b}}\n"
                        "  - {at: 3m, one_way: {from: [a, c], to: [b, d]}}\n",
                 &scenario);
    const scenario_fault_t *faults = scenario.faults;
    cr_assert_eq(faults[0].cut_count, 1);
    assert_cut(&faults[0], 0, 0, SCENARIO_CUT_A_TO_B);
    cr_assert_str_eq(faults[0].label, "a -> b cut");
    cr_assert_eq(faults[1].cut_count, 1);
    assert_cut(&faults[1], 0, 0, SCENARIO_CUT_B_TO_A);
    cr_assert_str_eq(faults[1].label, "b -> a cut");
    cr_assert_eq(faults[2].cut_count, 4);
    assert_cut(&faults[2], 0, 0, SCENARIO_CUT_A_TO_B); // a -> b
    assert_cut(&faults[2], 1, 1, SCENARIO_CUT_A_TO_B); // a -> d
    assert_cut(&faults[2], 2, 2, SCENARIO_CUT_B_TO_A); // c -> b
    assert_cut(&faults[2], 3, 3, SCENARIO_CUT_A_TO_B); // c -> d
    scenario_free(&scenario);
}

Test(faults, are_sorted_by_time_keeping_file_order_on_ties)
{
    scenario_t scenario;
    load_body_ok(SQUARE "faults:\n"
                        "  - {at: 30m, crash: a}\n"
                        "  - {at: 10m, crash: b}\n"
                        "  - {at: 10m, crash: c}\n"
                        "  - {at: 0, crash: d, for: 1m}\n",
                 &scenario);
    static const char *const labels[] = {"crash d", "crash b", "crash c", "crash a"};
    cr_assert_eq(scenario.fault_count, 4);
    for (size_t index = 0; index < 4; index++)
        cr_assert_str_eq(scenario.faults[index].label, labels[index]);
    cr_assert_eq(scenario.faults[0].duration_ms, 60 * 1000);
    cr_assert_eq(scenario.faults[1].duration_ms, SCENARIO_UNTIL_HEAL);
    scenario_free(&scenario);
}

Test(faults, may_come_before_the_topology_in_the_file)
{
    scenario_t scenario;
    load_body_ok("faults: [{at: 5m, until: 20m, flap: [c, b], every: 5m, down: 1m}]\n" SQUARE,
                 &scenario);
    const scenario_fault_t *fault = &scenario.faults[0];
    cr_assert_eq(fault->kind, SCENARIO_FAULT_FLAP);
    cr_assert_eq(fault->link, 2); // b-c
    cr_assert_eq(fault->duration_ms, 15 * 60 * 1000);
    cr_assert_str_eq(fault->label, "flap c-b");
    scenario_free(&scenario);
}

Test(faults, unknown_name_is_refused_with_names_cut_short)
{
    expect_refused("topology:\n  cloud: cloud\n  regions: [{name: north, branches: 40}]\n"
                   "faults: [{at: 1m, isolate: [north, nowhere]}]\n",
                   7, "isolate: 'nowhere' names no node or region",
                   "cloud, north, cloud, north-01, north-02");
    char path[64];
    char err[ERR_BYTES];
    scenario_t scenario;
    int rc = load_body("topology:\n  cloud: cloud\n  regions: [{name: north, branches: 40}]\n"
                       "faults: [{at: 1m, isolate: [nowhere]}]\n",
                       path, sizeof path, &scenario, err);
    cr_assert_eq(rc, -SM_EINVAL);
    cr_assert_not_null(strstr(err, "..."), "%s", err);
    cr_assert_null(strstr(err, "north-40"), "%s", err);
}

Test(faults, flap_on_a_pair_that_is_not_a_link_is_refused)
{
    expect_refused(SQUARE "faults:\n  - {at: 1m, flap: [a, c], every: 5m, down: 1m}\n", 8,
                   "flap: a and c are not linked", "a link of a: b, d");
}

Test(faults, at_beyond_the_duration_is_refused)
{
    expect_refused(SQUARE "faults:\n  - {at: 2h, crash: a}\n", 8,
                   "at: not before the end of the fault phase (duration 1h)", "below the duration");
}

Test(faults, ending_after_the_fault_phase_is_refused)
{
    expect_refused(SQUARE "faults:\n  - {at: 30m, for: 31m, crash: a}\n", 8,
                   "ends after the fault phase", "no for/until");
}

Test(faults, two_kinds_in_one_fault_are_refused)
{
    expect_refused(SQUARE "faults:\n  - at: 1m\n    crash: a\n    isolate: [b]\n", 10,
                   "a fault has one kind, found crash (line 9) and isolate", "write two faults");
}

Test(faults, a_key_of_another_kind_is_refused)
{
    expect_refused(SQUARE "faults:\n  - {at: 1m, crash: a, every: 5m}\n", 8,
                   "every does not apply to a crash fault", "remove it");
}

Test(faults, a_node_in_two_groups_is_refused)
{
    expect_refused(SQUARE "faults:\n  - {at: 1m, split: [[a, b], [b, c]]}\n", 8,
                   "split: node 'b' is on two sides", "one side at most");
}

Test(faults, a_partition_that_cuts_nothing_is_refused)
{
    expect_refused(SQUARE "faults:\n  - {at: 1m, split: [[a], [c]]}\n", 8, "'a | c' cuts no link",
                   "links to the other side");
}

Test(faults, unknown_key_is_refused_with_the_valid_keys)
{
    expect_refused(SQUARE "faults:\n  - {at: 1m, crash: a, fro: 5m}\n", 8,
                   "unknown key 'fro' in a fault", "at, for, until, isolate, split, one_way");
}

Test(faults, a_clock_fault_needs_jump_to_or_skew)
{
    expect_refused(SQUARE "faults:\n  - {at: 1m, clock: a}\n", 8,
                   "a clock fault needs one of jump_to and skew", "jump_to: 0");
}

Test(load, unreadable_file_is_an_io_error_naming_the_path)
{
    scenario_t scenario;
    char err[ERR_BYTES];
    int rc = scenario_load("/nonexistent/scenario.yaml", &scenario, err, sizeof err);
    cr_assert_eq(rc, -SM_EIO);
    cr_assert_not_null(strstr(err, "/nonexistent/scenario.yaml: cannot read"), "%s", err);
    cr_assert_not_null(strstr(err, "check the path"), "%s", err);
}

Test(load, yaml_syntax_error_names_its_line)
{
    expect_refused(SQUARE "faults: [{at: 1m, crash: a}\n", 8, "YAML syntax error", "indentation");
}

Test(load, missing_required_key_is_refused)
{
    char path[64];
    char err[ERR_BYTES];
    scenario_t scenario;
    char text[512];
    int len = snprintf(text, sizeof text, "name: t\nrules: %s\n" SQUARE, rules_file());
    cr_assert_lt((size_t)len, sizeof text);
    int rc = load_text(text, path, sizeof path, &scenario, err);
    assert_refusal(rc, err, path, 1, "the scenario has no duration", "duration: 72h");
}

Test(load, unknown_top_level_key_is_refused_with_the_valid_keys)
{
    expect_refused("durration: 2h\n" SQUARE, 4, "unknown key 'durration' in the top level",
                   "name, description, rules, duration, heal");
}

Test(load, rules_path_resolves_against_the_scenario_folder)
{
    scenario_t scenario;
    load_shipped(SCENARIOS_DIR "small.yaml", &scenario);
    cr_assert_str_eq(scenario.rules_path, SCENARIOS_DIR "../../docs/examples/retail-rules.yaml");
    cr_assert_str_eq(scenario.path, SCENARIOS_DIR "small.yaml");
    scenario_free(&scenario);
}

Test(load, missing_rules_file_is_refused)
{
    char path[64];
    char err[ERR_BYTES];
    scenario_t scenario;
    int rc = load_text("name: t\nrules: no-such-rules.yaml\nduration: 1h\n" SQUARE, path,
                       sizeof path, &scenario, err);
    assert_refusal(rc, err, path, 2, "rules: cannot read '/tmp/no-such-rules.yaml'",
                   "relative to the scenario's folder");
}

Test(free, is_safe_on_a_zeroed_scenario_and_twice)
{
    scenario_t scenario;
    memset(&scenario, 0, sizeof scenario);
    scenario_free(&scenario);
    load_body_ok(SQUARE "faults: [{at: 1m, isolate: a}]\n", &scenario);
    scenario_free(&scenario);
    cr_assert_null(scenario.faults);
    cr_assert_eq(scenario.node_count, 0);
    scenario_free(&scenario);
}

Test(command_kind, names_match_the_mix_keys)
{
    static const char *const names[SCENARIO_CMD_KINDS] = {
        "sale",  "receive", "tag_add", "tag_remove", "email",
        "phone", "voucher", "order",   "price",      "branch_price"};
    for (int kind = 0; kind < SCENARIO_CMD_KINDS; kind++)
        cr_assert_str_eq(scenario_command_kind_name((scenario_command_kind_t)kind), names[kind]);
}
