// scenario_workload: what the clients do: the command rates at branches and the
// cloud, the mix of command kinds, the keys and vouchers they touch, retries and
// batching. The names of the command kinds are the mix's keys.
#include <assert.h>
#include <string.h>

#include "scenario_internal.h"
#include "scenario_value.h"

// Distinct keys per kind, and vouchers: the checkers remember every one.
#define WORKLOAD_KEYS_MAX 1000000
#define WORKLOAD_BATCH_MAX 10000

static const char *const command_kind_names[SCENARIO_CMD_KINDS] = {
    "sale",  "receive", "tag_add", "tag_remove", "email",
    "phone", "voucher", "order",   "price",      "branch_price"};

enum {
    WORK_BRANCH_RATE,
    WORK_CLOUD_RATE,
    WORK_MIX,
    WORK_KEYS,
    WORK_HOT_KEYS,
    WORK_HOT_SHARE,
    WORK_VOUCHERS,
    WORK_RETRY,
    WORK_BATCH,
    WORK_KEY_COUNT
};
static const char *const workload_keys[WORK_KEY_COUNT] = {"branch_rate", "cloud_rate", "mix",
                                                          "keys",        "hot_keys",   "hot_share",
                                                          "vouchers",    "retry",      "batch"};

static int
read_mix_key(loader_t *ld, size_t key_index, int *seen_lines, void *arg)
{
    (void)seen_lines;
    double *mix = arg;
    const char *what = command_kind_names[key_index];
    const char *value = NULL;
    size_t len = 0;
    int rc = scenario_read_scalar(ld, what, &value, &len);
    if (rc == 0 && !scenario_value_parse_decimal(value, len, &mix[key_index]))
        rc = scenario_fail_value(ld, what, "is not a weight",
                                 "a number of 0 or more such as 5 or 0.5");
    return rc;
}

static const map_spec_t mix_spec = {"mix", command_kind_names, SCENARIO_CMD_KINDS, read_mix_key};

// line: where the mix key is.
static int
parse_mix(loader_t *ld, double *mix, int line)
{
    int seen_lines[SCENARIO_CMD_KINDS] = {0};
    memset(mix, 0, SCENARIO_CMD_KINDS * sizeof *mix);
    int rc = scenario_read_map(ld, &mix_spec, seen_lines, mix, NULL);
    double sum = 0;
    for (size_t index = 0; index < SCENARIO_CMD_KINDS; index++)
        sum += mix[index];
    if (rc == 0 && sum <= 0) {
        char choices[RULES_READER_CHOICES_MAX];
        return rules_reader_fail(&ld->reader, line,
                                 "mix: every weight is 0; valid choices: a weight above 0 for one "
                                 "of %s",
                                 rules_reader_join_words(command_kind_names, SCENARIO_CMD_KINDS,
                                                         choices, sizeof choices));
    }
    return rc;
}

static int
read_workload_key(loader_t *ld, size_t key_index, int *seen_lines, void *arg)
{
    (void)arg;
    scenario_workload_t *work = &ld->out->workload;
    switch (key_index) {
    case WORK_BRANCH_RATE:
        return scenario_read_rate(ld, "branch_rate", &work->branch_per_hour);
    case WORK_CLOUD_RATE:
        return scenario_read_rate(ld, "cloud_rate", &work->cloud_per_hour);
    case WORK_MIX:
        return parse_mix(ld, work->mix, seen_lines[WORK_MIX]);
    case WORK_KEYS:
        return scenario_read_count_u32(ld, "keys", 1, WORKLOAD_KEYS_MAX, &work->keys);
    case WORK_HOT_KEYS:
        return scenario_read_count_u32(ld, "hot_keys", 0, WORKLOAD_KEYS_MAX, &work->hot_keys);
    case WORK_HOT_SHARE:
        return scenario_read_probability(ld, "hot_share", &work->hot_share);
    case WORK_VOUCHERS:
        return scenario_read_count_u32(ld, "vouchers", 1, WORKLOAD_KEYS_MAX, &work->vouchers);
    case WORK_RETRY:
        return scenario_read_duration(ld, "retry", true, &work->retry_ms);
    default:
        assert(key_index == WORK_BATCH);
        return scenario_read_count_u32(ld, "batch", 1, WORKLOAD_BATCH_MAX, &work->batch_max);
    }
}

static const map_spec_t workload_spec = {"workload", workload_keys, WORK_KEY_COUNT,
                                         read_workload_key};

int
scenario_parse_workload(loader_t *ld)
{
    int seen_lines[WORK_KEY_COUNT] = {0};
    int rc = scenario_read_map(ld, &workload_spec, seen_lines, NULL, NULL);
    const scenario_workload_t *work = &ld->out->workload;
    if (rc == 0 && work->hot_keys > work->keys) {
        int line =
            seen_lines[WORK_HOT_KEYS] != 0 ? seen_lines[WORK_HOT_KEYS] : seen_lines[WORK_KEYS];
        return rules_reader_fail(&ld->reader, line,
                                 "hot_keys: %u is more than keys (%u); valid choices: hot_keys "
                                 "from 0 to keys",
                                 work->hot_keys, work->keys);
    }
    return rc;
}

const char *
scenario_command_kind_name(scenario_command_kind_t kind)
{
    assert((unsigned)kind < SCENARIO_CMD_KINDS);
    return command_kind_names[kind];
}
