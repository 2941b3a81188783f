// scenario: the scenario loader's entry (API in scenario.h). Reads the file into
// memory and parses it in three passes (declare, link, fault: see pass_t), with the
// checks and defaults between them; the top-level keys that name nothing are read
// here. The topology, partitions, faults, workload, names and value syntax live in
// scenario_*.c, which share scenario_internal.h.
#include "scenario.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crdt.h"
#include "scenario_internal.h"
#include "scenario_value.h"
#include "sm_error.h"

_Static_assert(SCENARIO_NAME_MAX == CRDT_NAME_MAX, "node names travel as origins");

// A hand-written scenario is a few KiB; a megabyte means a wrong path.
#define SCENARIO_FILE_BYTES_MAX (1024 * 1024)
// Report samples per node over the fault and heal phases: the picture cannot show
// more points, and each costs 8 bytes per node.
#define SCENARIO_SAMPLES_MAX 20000

#define HEAL_MS_DEFAULT HOUR_MS
#define ANTI_ENTROPY_MS_DEFAULT 1000
#define PEER_TIMEOUT_PERIODS_DEFAULT 5 // peer_timeout: this many anti-entropy periods
#define SAMPLE_COUNT_DEFAULT 500       // sample: the fault phase over this many, whole seconds

// workload.mix when the file gives none, in the order of scenario_command_kind_t.
static const double mix_default[SCENARIO_CMD_KINDS] = {60, 10, 5, 2, 5, 3, 5, 5, 0, 1};

// In the order of TOP_* (scenario_internal.h).
static const char *const top_keys[TOP_KEY_COUNT] = {
    "name",         "description",  "rules",    "duration",      "heal",
    "anti_entropy", "peer_timeout", "sample",   "write_latency", "signatures",
    "seed",         "topology",     "workload", "faults",        "random"};

static int
read_description(loader_t *ld)
{
    const char *value = NULL;
    size_t len = 0;
    int rc = rules_reader_expect_scalar(&ld->reader, "description", &value, &len);
    if (rc == 0 && len >= sizeof ld->out->description)
        return rules_reader_fail(&ld->reader, event_line(ld),
                                 "description: %zu bytes, too long; valid choices: at most %zu "
                                 "bytes",
                                 len, sizeof ld->out->description - 1);
    if (rc == 0)
        memcpy(ld->out->description, value, len + 1);
    return rc;
}

// Resolves rules against the scenario file's folder, and checks it can be read.
static int
read_rules_path(loader_t *ld)
{
    scenario_t *out = ld->out;
    const char *value = NULL;
    size_t len = 0;
    int rc = rules_reader_expect_scalar(&ld->reader, "rules", &value, &len);
    if (rc != 0)
        return rc;
    const char *slash = strrchr(out->path, '/');
    size_t folder_len = value[0] == '/' || slash == NULL ? 0 : (size_t)(slash - out->path) + 1;
    if (len == 0 || folder_len + len >= sizeof out->rules_path)
        return scenario_fail_value(
            ld, "rules", "is not a usable path",
            "the path of a rules file relative to the scenario's folder, such as "
            "../../docs/examples/retail-rules.yaml");
    memcpy(out->rules_path, out->path, folder_len);
    memcpy(out->rules_path + folder_len, value, len + 1);
    if (access(out->rules_path, R_OK) != 0)
        return rules_reader_fail(&ld->reader, event_line(ld),
                                 "rules: cannot read '%s': %s; valid choices: the path of a rules "
                                 "file relative to the scenario's folder, such as "
                                 "../../docs/examples/retail-rules.yaml",
                                 out->rules_path, strerror(errno));
    return 0;
}

// A period the core takes in 32-bit milliseconds (core_config_t).
static int
read_core_period(loader_t *ld, const char *what, uint64_t *ms)
{
    int rc = scenario_read_duration(ld, what, true, ms);
    if (rc == 0 && *ms > UINT32_MAX)
        rc = scenario_fail_value(ld, what, "is too long for the core", "at most 49d");
    return rc;
}

static int
read_top_key(loader_t *ld, size_t key_index, int *seen_lines, void *arg)
{
    (void)arg;
    scenario_t *out = ld->out;
    if (key_index == TOP_TOPOLOGY) {
        ld->topology_line = seen_lines[TOP_TOPOLOGY]; // messages about the whole topology
        return scenario_parse_topology(ld);
    }
    if ((key_index == TOP_FAULTS) != (ld->pass == PASS_FAULT))
        return scenario_skip_value(ld);
    size_t signatures = 0;
    static const char *const signature_choices[] = {"ed25519", "simulated"};
    int rc = 0;
    switch (key_index) {
    case TOP_NAME:
        return scenario_read_name(ld, "name", out->name);
    case TOP_DESCRIPTION:
        return read_description(ld);
    case TOP_RULES:
        return read_rules_path(ld);
    case TOP_DURATION:
        return scenario_read_duration(ld, "duration", true, &out->duration_ms);
    case TOP_HEAL:
        return scenario_read_duration(ld, "heal", true, &out->heal_ms);
    case TOP_ANTI_ENTROPY:
        return read_core_period(ld, "anti_entropy", &out->anti_entropy_ms);
    case TOP_PEER_TIMEOUT:
        return read_core_period(ld, "peer_timeout", &out->peer_timeout_ms);
    case TOP_SAMPLE:
        return scenario_read_duration(ld, "sample", true, &out->sample_ms);
    case TOP_WRITE_LATENCY:
        return scenario_read_range_u32(ld, "write_latency", &out->write_ms_min, &out->write_ms_max);
    case TOP_SIGNATURES:
        rc = scenario_read_choice(ld, "signatures", signature_choices, 2, &signatures);
        out->ed25519 = signatures == 0;
        return rc;
    case TOP_SEED:
        return scenario_read_count(ld, "seed", 0, UINT64_MAX, &out->seed);
    case TOP_WORKLOAD:
        return scenario_parse_workload(ld);
    case TOP_RANDOM:
        return scenario_parse_random(ld);
    default:
        assert(key_index == TOP_FAULTS);
        return scenario_parse_faults(ld);
    }
}

static const map_spec_t top_spec = {"the top level", top_keys, TOP_KEY_COUNT, read_top_key};

static int
parse_document(loader_t *ld)
{
    int rc = next_event(ld); // the stream start
    if (rc == 0)
        rc = next_event(ld);
    if (rc != 0)
        return rc;
    if (event_type(ld) == YAML_STREAM_END_EVENT)
        return rules_reader_fail(&ld->reader, 1,
                                 "the file holds no scenario; valid choices: name, rules, "
                                 "duration, topology and the keys in docs/SIMULATOR.md");
    assert(event_type(ld) == YAML_DOCUMENT_START_EVENT); // libyaml's grammar
    int scratch_lines[TOP_KEY_COUNT] = {0};
    bool declare = ld->pass == PASS_DECLARE;
    rc = scenario_read_map(ld, &top_spec, declare ? ld->top_lines : scratch_lines, NULL,
                           declare ? &ld->root_line : NULL);
    if (rc == 0)
        rc = next_event(ld);
    if (rc == 0)
        rc = next_event(ld);
    if (rc == 0 && event_type(ld) != YAML_STREAM_END_EVENT)
        return rules_reader_fail(&ld->reader, event_line(ld),
                                 "a second YAML document starts here; valid choices: one "
                                 "document per scenario file (remove the extra ---)");
    return rc;
}

static int
run_pass(loader_t *ld, pass_t pass, const char *text, size_t text_len, char *err, size_t err_size)
{
    ld->pass = pass;
    int rc = rules_reader_open(&ld->reader, text, text_len, ld->out->path, err, err_size);
    if (rc != 0)
        return rc;
    rc = parse_document(ld);
    rules_reader_close(&ld->reader);
    return rc;
}

// Required keys, and the defaults that depend on other keys.
static int
finish_settings(loader_t *ld)
{
    static const size_t required[] = {TOP_NAME, TOP_RULES, TOP_DURATION, TOP_TOPOLOGY};
    static const char *const examples[] = {
        "name: small", "rules: ../../docs/examples/retail-rules.yaml", "duration: 72h",
        "topology: with cloud, regions or nodes"};
    scenario_t *out = ld->out;
    for (size_t index = 0; index < sizeof required / sizeof required[0]; index++) {
        if (ld->top_lines[required[index]] == 0)
            return rules_reader_fail(&ld->reader, ld->root_line,
                                     "the scenario has no %s; valid choices: add %s",
                                     top_keys[required[index]], examples[index]);
    }
    if (out->peer_timeout_ms == 0)
        out->peer_timeout_ms = PEER_TIMEOUT_PERIODS_DEFAULT * out->anti_entropy_ms;
    if (out->peer_timeout_ms > UINT32_MAX)
        return rules_reader_fail(&ld->reader, ld->top_lines[TOP_ANTI_ENTROPY],
                                 "anti_entropy: the default peer_timeout (%d periods) is too long "
                                 "for the core; valid choices: peer_timeout of at most 49d",
                                 PEER_TIMEOUT_PERIODS_DEFAULT);
    if (out->peer_timeout_ms <= out->anti_entropy_ms)
        return rules_reader_fail(&ld->reader, ld->top_lines[TOP_PEER_TIMEOUT],
                                 "peer_timeout: not longer than anti_entropy; valid choices: "
                                 "several anti_entropy periods (the default is 5)");
    if (out->sample_ms == 0) {
        uint64_t seconds =
            (out->duration_ms + SAMPLE_COUNT_DEFAULT * 1000 - 1) / (SAMPLE_COUNT_DEFAULT * 1000);
        out->sample_ms = (seconds > 0 ? seconds : 1) * 1000;
    }
    if ((out->duration_ms + out->heal_ms) / out->sample_ms > SCENARIO_SAMPLES_MAX)
        return rules_reader_fail(
            &ld->reader, ld->top_lines[TOP_SAMPLE] != 0 ? ld->top_lines[TOP_SAMPLE] : ld->root_line,
            "sample: more than %d samples over duration and heal; valid "
            "choices: a longer sample period",
            SCENARIO_SAMPLES_MAX);
    return 0;
}

static void
set_defaults(scenario_t *out)
{
    out->heal_ms = HEAL_MS_DEFAULT;
    out->anti_entropy_ms = ANTI_ENTROPY_MS_DEFAULT;
    out->write_ms_min = 1;
    out->write_ms_max = 3;
    out->ed25519 = true;
    out->seed = 1;
    out->cloud = UINT32_MAX;
    scenario_workload_t *work = &out->workload;
    work->branch_per_hour = 60;
    work->cloud_per_hour = 5;
    memcpy(work->mix, mix_default, sizeof work->mix);
    work->keys = 200;
    work->hot_keys = 5;
    work->hot_share = 0.3;
    work->vouchers = 100;
    work->retry_ms = 30 * 1000;
    work->batch_max = 1;
    out->random.crash_down_ms_min = 60 * 1000;
    out->random.crash_down_ms_max = 10 * 60 * 1000;
    out->random.link_cut_ms_min = 60 * 1000;
    out->random.link_cut_ms_max = 10 * 60 * 1000;
}

static int
fail_unreadable(const char *path, int errno_value, char *err, size_t err_size)
{
    snprintf(err, err_size,
             "%s: cannot read the scenario: %s; check the path (shipped scenarios are in "
             "sim/scenarios/)",
             path, strerror(errno_value));
    return -SM_EIO;
}

static int
read_text(const char *path, char **text, size_t *text_len, char *err, size_t err_size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail_unreadable(path, errno, err, err_size);
    // One byte more than allowed tells an oversized file from one at the limit.
    size_t cap = SCENARIO_FILE_BYTES_MAX + 1;
    char *buf = malloc(cap);
    size_t len = 0;
    int rc = 0;
    if (buf == NULL) {
        snprintf(err, err_size, "%s: out of memory; free memory and start again", path);
        rc = -SM_ENOMEM;
    }
    // Each turn reads at least one byte, stops, or retries an interrupted read.
    while (rc == 0 && len < cap) {
        ssize_t got = read(fd, buf + len, cap - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            rc = fail_unreadable(path, errno, err, err_size);
        if (got <= 0)
            break;
        len += (size_t)got;
    }
    close(fd);
    if (rc == 0 && len > SCENARIO_FILE_BYTES_MAX) {
        snprintf(err, err_size,
                 "%s: larger than %d bytes, the limit for a scenario file; check the path", path,
                 SCENARIO_FILE_BYTES_MAX);
        rc = -SM_EINVAL;
    }
    if (rc != 0) {
        free(buf);
        return rc;
    }
    *text = buf;
    *text_len = len;
    return 0;
}

static int
load_text(loader_t *ld, const char *text, size_t text_len, char *err, size_t err_size)
{
    int rc = run_pass(ld, PASS_DECLARE, text, text_len, err, err_size);
    if (rc == 0)
        rc = finish_settings(ld);
    if (rc == 0)
        rc = scenario_build_nodes(ld);
    if (rc == 0)
        rc = scenario_generate_links(ld);
    if (rc == 0)
        rc = run_pass(ld, PASS_LINK, text, text_len, err, err_size);
    if (rc == 0)
        rc = scenario_finish_links(ld);
    if (rc == 0)
        rc = run_pass(ld, PASS_FAULT, text, text_len, err, err_size);
    if (rc == 0)
        rc = scenario_sort_faults(ld);
    return rc;
}

int
scenario_load(const char *path, scenario_t *out, char *err, size_t err_size)
{
    assert(path != NULL);
    assert(out != NULL);
    assert(err != NULL);
    assert(err_size > 0);
    memset(out, 0, sizeof *out);
    set_defaults(out);
    err[0] = '\0';
    if (strlen(path) >= sizeof out->path) {
        snprintf(err, err_size, "%.64s...: the path is longer than %zu bytes; use a shorter path",
                 path, sizeof out->path - 1);
        return -SM_EINVAL;
    }
    memcpy(out->path, path, strlen(path) + 1);
    char *text = NULL;
    size_t text_len = 0;
    int rc = read_text(path, &text, &text_len, err, err_size);
    if (rc != 0)
        return rc;
    loader_t ld = {.out = out, .hub_links = true, .latency_ms_min = 5, .latency_ms_max = 30};
    rc = load_text(&ld, text, text_len, err, err_size);
    free(text);
    free(ld.plans);
    free(ld.extras);
    free(ld.members);
    free(ld.sides);
    if (rc != 0)
        scenario_free(out);
    return rc;
}

void
scenario_free(scenario_t *self)
{
    if (self == NULL)
        return;
    for (size_t index = 0; self->faults != NULL && index < self->fault_count; index++)
        free(self->faults[index].cuts);
    free(self->faults);
    free(self->links);
    free(self->nodes);
    free(self->regions);
    memset(self, 0, sizeof *self);
    self->cloud = UINT32_MAX;
}
