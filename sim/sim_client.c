// sim_client: the tills. Each node has one: it draws commands from the workload,
// records them in the ledger (the simulator's own account, which the checks trust
// instead of the nodes), submits them to its node and reads the answers; a command
// left without an answer by a crash, or refused as busy or failed, is sent again.
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "audit_id.h"
#include "sim_internal.h"
#include "sm_error.h"

static int
grow(void **array, size_t *cap, size_t count, size_t size)
{
    if (count < *cap)
        return 0;
    size_t next = *cap ? *cap * 2 : 16;
    void *grown = realloc(*array, next * size);
    if (!grown)
        return -SM_ENOMEM;
    *array = grown;
    *cap = next;
    return 0;
}

// ---- the ledger ----

static uint32_t
ledger_add(sim_t *sim, const sim_command_t *command)
{
    if (grow((void **)&sim->ledger, &sim->ledger_cap, sim->ledger_count, sizeof *sim->ledger)) {
        sim_stop_out_of_memory(sim);
        return UINT32_MAX;
    }
    sim->ledger[sim->ledger_count] = *command;
    return (uint32_t)sim->ledger_count++;
}

void
sim_want_retry(sim_t *sim, sim_node_t *node, uint32_t entry)
{
    sim_command_t *command = &sim->ledger[entry];
    command->state = CMD_RETRY;
    if (grow((void **)&node->retry, &node->retry_cap, node->retry_count, sizeof *node->retry)) {
        sim_stop_out_of_memory(sim);
        return;
    }
    node->retry[node->retry_count++] = entry;
    if (node->up)
        sim_schedule(sim, sim_now(sim) + sim->scenario->workload.retry_ms, EV_RETRY, node->index, 0,
                     0, NULL, 0);
}

// ---- clients ----

void
sim_on_reply(sim_t *sim, sim_node_t *node, const core_effect_t *effect)
{
    size_t index = 0;
    while (index < node->request_count && node->requests[index].request_id != effect->request_id)
        index++;
    if (index == node->request_count)
        return; // answered in an earlier life (cannot happen: the core died with it)
    sim_request_t request = node->requests[index];
    memmove(&node->requests[index], &node->requests[index + 1],
            (node->request_count - index - 1) * sizeof *node->requests);
    node->request_count--;
    assert(effect->result_count == request.count);
    for (size_t i = 0; i < request.count && i < effect->result_count; i++) {
        sim_command_t *command = &sim->ledger[request.commands[i]];
        const core_result_t *result = &effect->results[i];
        switch (result->code) {
        case CORE_RESULT_OK: {
            char origin[CRDT_NAME_MAX + 1];
            uint64_t seq = 0;
            if (audit_id_parse(result->audit_id, origin, &seq) != 0 ||
                strcmp(origin, node->name) != 0) {
                command->answered_twice_differently = true;
                break;
            }
            if (command->seq != 0 && command->seq != seq)
                command->answered_twice_differently = true;
            if (command->seq == 0)
                command->seq = seq;
            if (result->duplicate && command->was_unknown)
                SIM_COUNT(sim->sometimes[MARK_RETRY_ANSWERED_FROM_LOG], 1);
            command->state = CMD_ACKED;
            node->report.commands_acked++;
            if (node->clock_went_back)
                SIM_COUNT(sim->sometimes[MARK_CLOCK_JUMP_BACK_THEN_ACK], 1);
            break;
        }
        case CORE_RESULT_REFUSED:
            command->state = CMD_REFUSED;
            node->report.commands_refused++;
            break;
        case CORE_RESULT_BAD_INPUT:
            command->state = CMD_BAD_INPUT;
            break;
        case CORE_RESULT_FAILED:
        default:
            node->report.commands_failed++;
            SIM_COUNT(sim->sometimes[MARK_DISK_ERROR_REFUSED], 1);
            sim_want_retry(sim, node, request.commands[i]);
            break;
        }
    }
    free(request.commands);
}

static void
submit(sim_t *sim, sim_node_t *node, const uint32_t *entries, size_t count)
{
    core_command_t *commands = calloc(count, sizeof *commands);
    sim_command_text_t *texts = calloc(count, sizeof *texts);
    sim_request_t request = {.request_id = ++node->next_request_id,
                             .commands = malloc(count * sizeof(uint32_t)),
                             .count = count};
    if (!commands || !texts || !request.commands ||
        grow((void **)&node->requests, &node->request_cap, node->request_count,
             sizeof *node->requests)) {
        free(commands);
        free(texts);
        free(request.commands);
        sim_stop_out_of_memory(sim);
        return;
    }
    for (size_t i = 0; i < count; i++) {
        sim_command_t *command = &sim->ledger[entries[i]];
        command->state = CMD_PENDING;
        command->attempts++;
        sim_command_build(sim, command, &texts[i], &commands[i]);
        request.commands[i] = entries[i];
    }
    int rc = core_submit(node->core, request.request_id, commands, count, sim_wall_ms(sim, node));
    free(commands);
    free(texts);
    if (rc) { // busy: the till tries again later
        for (size_t i = 0; i < count; i++)
            sim_want_retry(sim, node, request.commands[i]);
        free(request.commands);
        return;
    }
    node->requests[node->request_count++] = request;
    sim_drain(sim, node);
}

void
sim_on_client(sim_t *sim, sim_node_t *node)
{
    const scenario_workload_t *work = &sim->scenario->workload;
    double rate = node->is_cloud ? work->cloud_per_hour : work->branch_per_hour;
    if (rate <= 0 || sim->healing)
        return;
    sim_schedule(sim, sim_now(sim) + sim_rng_exponential(&node->workload_rng, 3600000.0 / rate),
                 EV_CLIENT, node->index, 0, 0, NULL, 0);
    if (!node->up)
        return; // the till cannot reach its node: the sale waits on paper
    uint32_t batch = work->batch_max ? work->batch_max : 1;
    uint32_t entries[64];
    if (batch > 64)
        batch = 64;
    size_t count = 0;
    for (uint32_t i = 0; i < batch; i++) {
        sim_command_t command;
        sim_command_draw(sim, node, &command);
        command.first_ms = sim_now(sim);
        uint32_t entry = ledger_add(sim, &command);
        if (entry == UINT32_MAX)
            return;
        entries[count++] = entry;
    }
    sim->report.commands += count;
    submit(sim, node, entries, count);
}

void
sim_on_retry(sim_t *sim, sim_node_t *node)
{
    if (!node->up || node->retry_count == 0)
        return;
    uint32_t entries[64];
    size_t count = 0;
    while (node->retry_count > 0 && count < 64) {
        uint32_t entry = node->retry[0];
        memmove(&node->retry[0], &node->retry[1], (node->retry_count - 1) * sizeof *node->retry);
        node->retry_count--;
        if (sim->ledger[entry].state == CMD_RETRY)
            entries[count++] = entry;
    }
    for (size_t i = 0; i < count; i++)
        submit(sim, node, &entries[i], 1);
    if (node->retry_count > 0)
        sim_schedule(sim, sim_now(sim) + 100, EV_RETRY, node->index, 0, 0, NULL, 0);
}
