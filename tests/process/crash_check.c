// crash_check: the end of a crash-safety run (see crash_driver.c): every command is
// acknowledged once, every audit ID holds its own command, the counter is exact.
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crash_driver.h"
#include "sm_error.h"

static void
retry_unanswered(driver_t *d, smclient_t *client)
{
    batch_t b;
    size_t next = 0;
    for (;;) { // bounded: each pass acknowledges up to REQUEST_COMMANDS_MAX commands
        b.count = 0;
        for (; next < d->command_count && b.count < REQUEST_COMMANDS_MAX; next++) {
            if (d->commands[next].state != COMMAND_ACKED)
                batch_add(&b, next);
        }
        if (b.count == 0)
            return;
        int rc = submit_batch(d, client, &b);
        if (rc != 0)
            die("retry after the last restart failed: %s", sm_strerror(rc));
    }
}

static Storemesh__Response *
request_or_die(smclient_t *client, Storemesh__Request *request, int body_case, const char *what)
{
    Storemesh__Response *response = NULL;
    int rc = call(client, request, &response);
    if (rc != 0)
        die("%s: no answer: %s", what, sm_strerror(rc));
    if ((int)response->body_case != body_case)
        die("%s: answered with body %d (%s)", what, (int)response->body_case,
            response->body_case == STOREMESH__RESPONSE__BODY_ERROR ? response->error : "");
    return response;
}

static void
check_operation(driver_t *d, size_t index, const ProtobufCBinaryData *bytes, uint8_t *seq_seen)
{
    Storemesh__Operation *op = storemesh__operation__unpack(NULL, bytes->len, bytes->data);
    if (!op)
        die("c-%zu: the stored operation does not decode", index);
    char want_id[32];
    snprintf(want_id, sizeof want_id, "c-%zu", index);
    if (strcmp(op->command_id, want_id) != 0)
        die("audit ID %s holds command '%s', expected %s", d->commands[index].audit_id,
            op->command_id, want_id);
    if (strcmp(op->origin, NODE_NAME) != 0 || strcmp(op->key, "sku-crash") != 0 ||
        op->op != STOREMESH__OP_KIND__OP_KIND_ADD || op->delta != 1)
        die("c-%zu: stored operation is not 'add 1 to stock sku-crash'", index);
    if (op->seq == 0 || op->seq > d->command_count)
        die("c-%zu: seq %" PRIu64 " outside 1..%zu", index, op->seq, d->command_count);
    if (seq_seen[op->seq - 1])
        die("c-%zu: seq %" PRIu64 " holds two commands", index, op->seq);
    seq_seen[op->seq - 1] = 1;
    storemesh__operation__free_unpacked(op, NULL);
}

// Every acknowledged audit ID is found and holds its own command, once.
static void
verify_audits(driver_t *d, smclient_t *client)
{
    uint8_t *seq_seen = calloc(d->command_count + 1, 1);
    if (!seq_seen)
        die("out of memory");
    for (size_t i = 0; i < d->command_count; i++) {
        command_t *c = &d->commands[i];
        if (c->state != COMMAND_ACKED)
            die("c-%zu was never acknowledged", i);
        Storemesh__AuditRequest audit = STOREMESH__AUDIT_REQUEST__INIT;
        audit.audit_id = c->audit_id;
        Storemesh__Request request = STOREMESH__REQUEST__INIT;
        request.body_case = STOREMESH__REQUEST__BODY_AUDIT;
        request.audit = &audit;
        Storemesh__Response *response =
            request_or_die(client, &request, STOREMESH__RESPONSE__BODY_AUDIT, "audit");
        const Storemesh__AuditReply *reply = response->audit;
        if (reply->code != STOREMESH__RESULT_CODE__RESULT_OK)
            die("acknowledged audit ID %s (c-%zu) not found: %s", c->audit_id, i, reply->message);
        check_operation(d, i, &reply->operation, seq_seen);
        smclient_response_free(response);
    }
    free(seq_seen);
}

static void
verify_counter(driver_t *d, smclient_t *client)
{
    Storemesh__GetRequest get = STOREMESH__GET_REQUEST__INIT;
    get.type = "stock";
    get.key = "sku-crash";
    Storemesh__Request request = STOREMESH__REQUEST__INIT;
    request.body_case = STOREMESH__REQUEST__BODY_GET;
    request.get = &get;
    Storemesh__Response *response =
        request_or_die(client, &request, STOREMESH__RESPONSE__BODY_GET, "get");
    const Storemesh__GetReply *reply = response->get;
    if (reply->code != STOREMESH__RESULT_CODE__RESULT_OK || reply->n_fields != 1 ||
        !reply->fields[0]->is_number || strcmp(reply->fields[0]->name, "on_hand") != 0)
        die("get stock sku-crash: unexpected reply (%s)", reply->message);
    int64_t value = reply->fields[0]->number;
    smclient_response_free(response);
    if (value != (int64_t)d->command_count)
        die("counter is %" PRId64 ", expected %zu (one per distinct command)", value,
            d->command_count);

    Storemesh__StatusRequest status = STOREMESH__STATUS_REQUEST__INIT;
    request.body_case = STOREMESH__REQUEST__BODY_STATUS;
    request.status = &status;
    response = request_or_die(client, &request, STOREMESH__RESPONSE__BODY_STATUS, "status");
    uint64_t last_seq = response->status->last_seq;
    smclient_response_free(response);
    if (last_seq != d->command_count)
        die("last_seq is %" PRIu64 ", expected %zu (one operation per command)", last_seq,
            d->command_count);
}

void
crash_check(driver_t *d, smclient_t *client)
{
    retry_unanswered(d, client);
    verify_audits(d, client);
    verify_counter(d, client);
}
