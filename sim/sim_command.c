// sim_command: what a simulated till sends. A ledger entry holds only the draw
// (kind, key index, amount); the command is rebuilt from it on every attempt, so
// a retry carries exactly the same command ID and content, as a real till would.
// The shapes follow docs/examples/retail-rules.yaml.
#include <stdio.h>
#include <string.h>

#include "sim_internal.h"

static const char *const tags[] = {"vip", "newsletter", "trade", "staff", "student", "senior"};
static const char *const statuses[] = {"open", "packed", "collected", "cancelled"};

void
sim_command_draw(sim_t *sim, sim_node_t *node, sim_command_t *out)
{
    const scenario_workload_t *work = &sim->scenario->workload;
    memset(out, 0, sizeof *out);
    out->node = node->index;
    out->number = ++node->next_number;
    if (node->is_cloud) {
        out->kind = SCENARIO_CMD_PRICE;
    } else {
        double total = 0;
        for (int k = 0; k < SCENARIO_CMD_KINDS; k++)
            if (k != SCENARIO_CMD_PRICE)
                total += work->mix[k];
        double pick = sim_rng_double(&node->workload_rng) * total;
        int kind = SCENARIO_CMD_SALE;
        for (int k = 0; k < SCENARIO_CMD_KINDS; k++) {
            if (k == SCENARIO_CMD_PRICE || work->mix[k] <= 0)
                continue;
            kind = k;
            if (pick < work->mix[k])
                break;
            pick -= work->mix[k];
        }
        out->kind = (uint8_t)kind;
    }
    uint32_t keys = work->keys ? work->keys : 1;
    uint32_t hot = work->hot_keys < keys ? work->hot_keys : keys;
    if (out->kind == SCENARIO_CMD_VOUCHER)
        out->key = (uint32_t)sim_rng_below(&node->workload_rng, work->vouchers ? work->vouchers : 1);
    else if (out->kind == SCENARIO_CMD_ORDER)
        out->key = (uint32_t)sim_rng_below(&node->workload_rng, 8); // this branch's open orders
    else if (hot > 0 && sim_rng_chance(&node->workload_rng, work->hot_share))
        out->key = (uint32_t)sim_rng_below(&node->workload_rng, hot);
    else
        out->key = hot + (uint32_t)sim_rng_below(&node->workload_rng, keys - hot ? keys - hot : 1);
    switch (out->kind) {
    case SCENARIO_CMD_SALE:
        out->amount = -(int32_t)sim_rng_range(&node->workload_rng, 1, 3);
        break;
    case SCENARIO_CMD_RECEIVE:
        out->amount = (int32_t)sim_rng_range(&node->workload_rng, 10, 50);
        break;
    default:
        out->amount = (int32_t)sim_rng_below(&node->workload_rng, 1000000);
        break;
    }
}

void
sim_command_build(const sim_t *sim, const sim_command_t *command, sim_command_text_t *text,
                  core_command_t *out)
{
    const char *node = sim->nodes[command->node].name;
    memset(out, 0, sizeof *out);
    snprintf(text->command_id, sizeof text->command_id, "%s-%u", node, command->number);
    snprintf(text->field, sizeof text->field, "%s", "");
    snprintf(text->op, sizeof text->op, "set");
    text->value[0] = '\0';
    switch ((scenario_command_kind_t)command->kind) {
    case SCENARIO_CMD_SALE:
    case SCENARIO_CMD_RECEIVE:
        snprintf(text->type, sizeof text->type, "stock");
        snprintf(text->key, sizeof text->key, "sku-%05u", command->key);
        snprintf(text->field, sizeof text->field, "on_hand");
        snprintf(text->op, sizeof text->op, "add");
        snprintf(text->value, sizeof text->value, "%d", command->amount);
        break;
    case SCENARIO_CMD_TAG_ADD:
    case SCENARIO_CMD_TAG_REMOVE:
        snprintf(text->type, sizeof text->type, "customer");
        snprintf(text->key, sizeof text->key, "cust-%05u", command->key);
        snprintf(text->field, sizeof text->field, "tags");
        snprintf(text->op, sizeof text->op, "%s",
                 command->kind == SCENARIO_CMD_TAG_ADD ? "add" : "remove");
        snprintf(text->value, sizeof text->value, "%s",
                 tags[(uint32_t)command->amount % (sizeof tags / sizeof *tags)]);
        break;
    case SCENARIO_CMD_EMAIL:
        snprintf(text->type, sizeof text->type, "customer");
        snprintf(text->key, sizeof text->key, "cust-%05u", command->key);
        snprintf(text->field, sizeof text->field, "email");
        snprintf(text->value, sizeof text->value, "c%u.%d@example.com", command->key,
                 command->amount);
        break;
    case SCENARIO_CMD_PHONE:
        snprintf(text->type, sizeof text->type, "customer");
        snprintf(text->key, sizeof text->key, "cust-%05u", command->key);
        snprintf(text->field, sizeof text->field, "phone");
        snprintf(text->value, sizeof text->value, "+44 7700 %06d", command->amount);
        break;
    case SCENARIO_CMD_VOUCHER:
        snprintf(text->type, sizeof text->type, "voucher");
        snprintf(text->key, sizeof text->key, "gv-%05u", command->key);
        snprintf(text->field, sizeof text->field, "redeemed_by");
        snprintf(text->value, sizeof text->value, "%s receipt %u", node, command->number);
        break;
    case SCENARIO_CMD_ORDER:
        snprintf(text->type, sizeof text->type, "order");
        snprintf(text->key, sizeof text->key, "ord-%s-%u", node, command->key);
        snprintf(text->field, sizeof text->field, "status");
        snprintf(text->value, sizeof text->value, "%s",
                 statuses[(uint32_t)command->amount % (sizeof statuses / sizeof *statuses)]);
        break;
    case SCENARIO_CMD_PRICE:
    case SCENARIO_CMD_BRANCH_PRICE:
    default:
        snprintf(text->type, sizeof text->type, "price");
        snprintf(text->key, sizeof text->key, "sku-%05u", command->key);
        snprintf(text->field, sizeof text->field, "amount");
        snprintf(text->value, sizeof text->value, "%d.%02d", 1 + command->amount % 90,
                 command->amount % 100);
        break;
    }
    out->command_id = text->command_id;
    out->source = "till";
    out->type = text->type;
    out->key = text->key;
    out->field = text->field;
    out->op = text->op;
    out->value = text->value;
    out->value_len = strlen(text->value);
    out->has_value = true;
}
