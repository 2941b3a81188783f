// cli_submit: `storemesh submit`, one command from the arguments or many from a
// JSON-lines file. Batch lines are sent CLI_BATCH_REQUEST_COMMANDS at a time, so a
// million-line file streams through in constant memory.
#include <assert.h>
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "cli.h"
#include "json_flat.h"
#include "smclient.h"
#include "sm_error.h"

#define CLI_BATCH_REQUEST_COMMANDS 1000
#define CLI_BATCH_LINE_MAX 8192 // a line holds one command; values are at most 1 KiB

static int
exit_for_result(Storemesh__ResultCode code)
{
    switch (code) {
    case STOREMESH__RESULT_CODE__RESULT_OK:
        return CLI_EXIT_OK;
    case STOREMESH__RESULT_CODE__RESULT_BAD_INPUT:
        return CLI_EXIT_USAGE;
    case STOREMESH__RESULT_CODE__RESULT_REFUSED:
        return CLI_EXIT_REFUSED;
    default:
        return CLI_EXIT_ENVIRONMENT;
    }
}

// Sends commands and returns the response, or an exit code with the problem printed.
static int
send_commands(smclient_t *client, const char *data_dir, Storemesh__Command **commands, size_t count,
              Storemesh__Response **response)
{
    Storemesh__SubmitRequest submit = STOREMESH__SUBMIT_REQUEST__INIT;
    submit.n_commands = count;
    submit.commands = commands;
    Storemesh__Request request = STOREMESH__REQUEST__INIT;
    request.version = 1;
    request.body_case = STOREMESH__REQUEST__BODY_SUBMIT;
    request.submit = &submit;
    int rc = smclient_call(client, &request, response);
    if (rc)
        return cli_client_error(rc, data_dir, "submit");
    if ((*response)->body_case == STOREMESH__RESPONSE__BODY_ERROR) {
        int code = cli_fail(CLI_EXIT_ENVIRONMENT, "the node refused the request: %s",
                            (*response)->error);
        smclient_response_free(*response);
        *response = NULL;
        return code;
    }
    if ((*response)->body_case != STOREMESH__RESPONSE__BODY_SUBMIT ||
        (*response)->submit->n_results != count) {
        smclient_response_free(*response);
        *response = NULL;
        return cli_fail(CLI_EXIT_ENVIRONMENT, "the node answered with the wrong message; is it the "
                                              "same storemesh version as this CLI?");
    }
    return 0;
}

static smclient_t *
connect_or_fail(const char *data_dir, int *code)
{
    char err[SMCLIENT_ERROR_MAX];
    int rc = 0;
    smclient_t *client = smclient_new(data_dir, SMCLIENT_TIMEOUT_MS_DEFAULT, &rc, err, sizeof err);
    if (!client)
        *code = cli_fail(rc == -SM_ENOTRUNNING ? CLI_EXIT_NOT_RUNNING : CLI_EXIT_ENVIRONMENT, "%s",
                         err);
    return client;
}

static int
submit_one(const cli_args_t *args)
{
    if (args->positional_count < 4 || args->positional_count > 5)
        return cli_fail(CLI_EXIT_USAGE,
                        "usage: storemesh submit --data DIR [--command-id ID] [--source NAME] "
                        "TYPE KEY FIELD OP [VALUE]");
    Storemesh__Command command = STOREMESH__COMMAND__INIT;
    command.command_id = (char *)(args->command_id ? args->command_id : "");
    command.source = (char *)(args->source ? args->source : "");
    command.type = (char *)args->positional[0];
    command.key = (char *)args->positional[1];
    command.field = (char *)args->positional[2];
    command.op = (char *)args->positional[3];
    if (args->positional_count == 5) {
        command.has_value = true;
        command.value = (ProtobufCBinaryData){strlen(args->positional[4]),
                                              (uint8_t *)args->positional[4]};
    }
    int code = 0;
    smclient_t *client = connect_or_fail(args->data, &code);
    if (!client)
        return code;
    Storemesh__Command *commands[1] = {&command};
    Storemesh__Response *response = NULL;
    code = send_commands(client, args->data, commands, 1, &response);
    if (code == 0) {
        const Storemesh__CommandResult *result = response->submit->results[0];
        code = exit_for_result(result->code);
        if (code == CLI_EXIT_OK)
            printf("%s\n", result->audit_id);
        else
            cli_fail(code, "%s: %s", code == CLI_EXIT_REFUSED ? "refused" : "not accepted",
                     result->message);
    }
    smclient_response_free(response);
    smclient_destroy(&client);
    return code;
}

// ---- batch ----

typedef struct {
    Storemesh__Command commands[CLI_BATCH_REQUEST_COMMANDS];
    Storemesh__Command *pointers[CLI_BATCH_REQUEST_COMMANDS];
    arena_t strings; // the decoded strings commands point at; reset with the batch
    size_t lines[CLI_BATCH_REQUEST_COMMANDS];
    size_t count;
    int worst; // the exit code so far
} batch_t;

static void
batch_note(batch_t *batch, int code)
{
    // Bad input outranks a refusal, which outranks success (docs/CLI.md).
    static const int rank[] = {[CLI_EXIT_OK] = 0, [CLI_EXIT_REFUSED] = 1, [CLI_EXIT_USAGE] = 2,
                               [CLI_EXIT_ENVIRONMENT] = 3, [CLI_EXIT_NOT_RUNNING] = 4};
    if (rank[code] > rank[batch->worst])
        batch->worst = code;
}

static void
batch_clear(batch_t *batch)
{
    arena_reset(&batch->strings);
    batch->count = 0;
}

// The keys of a batch line, in json_flat's order; "value" may be an integer.
enum { KEY_COMMAND_ID, KEY_SOURCE, KEY_TYPE, KEY_KEY, KEY_FIELD, KEY_OP, KEY_VALUE, KEY_COUNT };
static const char *const batch_keys[KEY_COUNT] = {"command_id", "source", "type", "key",
                                                  "field",      "op",     "value"};

// Fills command from one parsed line; NULL, or what is wrong with the line.
static const char *
command_from_line(const json_flat_t *line, Storemesh__Command *command)
{
    static char problem[96];
    static const int required[] = {KEY_TYPE, KEY_KEY, KEY_FIELD, KEY_OP};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        if (!line->text[required[i]]) {
            snprintf(problem, sizeof problem, "missing \"%s\" (required: type, key, field, op)",
                     batch_keys[required[i]]);
            return problem;
        }
    char **slots[] = {[KEY_COMMAND_ID] = &command->command_id, [KEY_SOURCE] = &command->source,
                      [KEY_TYPE] = &command->type,             [KEY_KEY] = &command->key,
                      [KEY_FIELD] = &command->field,           [KEY_OP] = &command->op};
    for (int k = 0; k < KEY_VALUE; k++)
        if (line->text[k])
            *slots[k] = (char *)line->text[k];
    if (line->text[KEY_VALUE]) {
        command->has_value = true;
        command->value =
            (ProtobufCBinaryData){line->len[KEY_VALUE], (uint8_t *)line->text[KEY_VALUE]};
    }
    return NULL;
}

// Prints the results of one answered batch, in line order.
static int
batch_report(batch_t *batch, const Storemesh__Response *response, const char *file_name)
{
    int code = 0;
    if (response->body_case == STOREMESH__RESPONSE__BODY_ERROR)
        code = cli_fail(CLI_EXIT_ENVIRONMENT,
                        "%s:%zu-%zu: not recorded, the node refused the request: %s", file_name,
                        batch->lines[0], batch->lines[batch->count - 1], response->error);
    else if (response->body_case != STOREMESH__RESPONSE__BODY_SUBMIT ||
             response->submit->n_results != batch->count)
        code = cli_fail(CLI_EXIT_ENVIRONMENT, "the node answered with the wrong message; is it "
                                              "the same storemesh version as this CLI?");
    if (code) {
        batch_note(batch, code);
        return code;
    }
    for (size_t i = 0; i < batch->count; i++) {
        const Storemesh__CommandResult *result = response->submit->results[i];
        int result_code = exit_for_result(result->code);
        batch_note(batch, result_code);
        if (result_code == CLI_EXIT_OK)
            printf("%s\n", result->audit_id);
        else
            fprintf(stderr, "%s:%zu: %s: %s\n", file_name, batch->lines[i],
                    result_code == CLI_EXIT_REFUSED ? "refused" : "not accepted", result->message);
    }
    return 0;
}

// Requests in flight at once: the CLI parses the next lines while the node writes,
// and the node has enough waiting to fill its next group commit (4,000 commands by
// default) while one is on its way to disk. 4 left the node idle between writes.
#define CLI_BATCH_WINDOW 8

typedef struct {
    batch_t batch;
    uint64_t request_id;
    bool in_flight;
    Storemesh__Response *response;
} slot_t;

typedef struct {
    slot_t *slots; // CLI_BATCH_WINDOW
    size_t filling; // the slot lines go into
    size_t oldest;  // the oldest slot in flight
    int worst;      // exit code across all slots
    smclient_t *client;
    const char *data_dir;
    const char *file_name;
} pipeline_t;

static void
pipeline_note(pipeline_t *pipe, int code)
{
    batch_t scratch = {.worst = pipe->worst};
    batch_note(&scratch, code);
    pipe->worst = scratch.worst;
}

// Waits for the oldest request's answer (storing others that arrive first) and
// reports it. 0, or an exit code when the node cannot be heard.
static int
pipeline_finish_oldest(pipeline_t *pipe)
{
    slot_t *oldest = &pipe->slots[pipe->oldest];
    assert(oldest->in_flight);
    // Bounded: each answer fills one of CLI_BATCH_WINDOW slots.
    for (int received = 0; !oldest->response && received <= CLI_BATCH_WINDOW; received++) {
        Storemesh__Response *response = NULL;
        int rc = smclient_receive(pipe->client, &response);
        if (rc)
            return cli_client_error(rc, pipe->data_dir, "submit");
        bool matched = false;
        for (size_t i = 0; i < CLI_BATCH_WINDOW; i++) {
            slot_t *slot = &pipe->slots[i];
            if (slot->in_flight && !slot->response && slot->request_id == response->request_id) {
                slot->response = response;
                matched = true;
            }
        }
        if (!matched)
            smclient_response_free(response); // a stale answer
    }
    if (!oldest->response)
        return cli_fail(CLI_EXIT_ENVIRONMENT, "the node's answers do not match the requests");
    int code = batch_report(&oldest->batch, oldest->response, pipe->file_name);
    pipeline_note(pipe, oldest->batch.worst);
    smclient_response_free(oldest->response);
    oldest->response = NULL;
    oldest->in_flight = false;
    batch_clear(&oldest->batch);
    oldest->batch.worst = 0;
    pipe->oldest = (pipe->oldest + 1) % CLI_BATCH_WINDOW;
    return code;
}

static int
pipeline_send_filling(pipeline_t *pipe)
{
    slot_t *slot = &pipe->slots[pipe->filling];
    pipeline_note(pipe, slot->batch.worst); // lines refused while parsing
    slot->batch.worst = 0;
    if (slot->batch.count == 0)
        return 0;
    Storemesh__SubmitRequest submit = STOREMESH__SUBMIT_REQUEST__INIT;
    submit.n_commands = slot->batch.count;
    submit.commands = slot->batch.pointers;
    Storemesh__Request request = STOREMESH__REQUEST__INIT;
    request.version = 1;
    request.body_case = STOREMESH__REQUEST__BODY_SUBMIT;
    request.submit = &submit;
    int rc = smclient_send(pipe->client, &request, &slot->request_id);
    if (rc)
        return cli_client_error(rc, pipe->data_dir, "submit");
    slot->in_flight = true;
    pipe->filling = (pipe->filling + 1) % CLI_BATCH_WINDOW;
    if (pipe->slots[pipe->filling].in_flight)
        return pipeline_finish_oldest(pipe);
    return 0;
}

static int
pipeline_drain(pipeline_t *pipe)
{
    int code = pipeline_send_filling(pipe);
    for (size_t i = 0; code == 0 && i < CLI_BATCH_WINDOW; i++)
        if (pipe->slots[pipe->oldest].in_flight)
            code = pipeline_finish_oldest(pipe);
    return code;
}

static bool
is_blank(const char *line)
{
    for (; *line; line++)
        if (*line != ' ' && *line != '\t' && *line != '\r' && *line != '\n')
            return false;
    return true;
}

static void
batch_add_line(batch_t *batch, const char *file_name, size_t line_number, const char *line)
{
    size_t index = batch->count;
    Storemesh__Command *command = &batch->commands[index];
    storemesh__command__init(command);
    size_t len = strlen(line);
    char *scratch = arena_alloc(&batch->strings, len + 1); // decoding never grows a line
    json_flat_t parsed;
    char problem[JSON_FLAT_PROBLEM_MAX];
    const char *wrong = problem;
    if (!scratch)
        wrong = "out of memory";
    else if (json_flat_parse(line, len, batch_keys, KEY_COUNT, 1u << KEY_VALUE, scratch, &parsed,
                             problem) == 0)
        wrong = command_from_line(&parsed, command);
    if (wrong) {
        fprintf(stderr, "%s:%zu: not accepted: %s; nothing from this line was applied\n",
                file_name, line_number, wrong);
        batch_note(batch, CLI_EXIT_USAGE);
        return;
    }
    batch->pointers[index] = command;
    batch->lines[index] = line_number;
    batch->count++;
}

static int
read_lines(pipeline_t *pipe, FILE *file, char *line)
{
    size_t line_number = 0;
    // Bounded by the file: one pass, one line at a time.
    while (fgets(line, CLI_BATCH_LINE_MAX + 2, file)) {
        batch_t *batch = &pipe->slots[pipe->filling].batch;
        line_number++;
        size_t len = strlen(line);
        if (len > CLI_BATCH_LINE_MAX) {
            fprintf(stderr, "%s:%zu: not accepted: line longer than %d bytes\n", pipe->file_name,
                    line_number, CLI_BATCH_LINE_MAX);
            batch_note(batch, CLI_EXIT_USAGE);
            while (len && line[len - 1] != '\n' && fgets(line, CLI_BATCH_LINE_MAX + 2, file))
                len = strlen(line);
            continue;
        }
        if (is_blank(line))
            continue;
        batch_add_line(batch, pipe->file_name, line_number, line);
        if (batch->count == CLI_BATCH_REQUEST_COMMANDS) {
            int code = pipeline_send_filling(pipe);
            if (code)
                return code;
        }
    }
    if (ferror(file))
        return cli_fail(CLI_EXIT_USAGE, "cannot read '%s': %s", pipe->file_name, strerror(errno));
    return pipeline_drain(pipe);
}

static int
submit_batch(const cli_args_t *args)
{
    if (args->positional_count)
        return cli_fail(CLI_EXIT_USAGE, "submit --batch FILE takes no other arguments");
    FILE *file = strcmp(args->batch, "-") == 0 ? stdin : fopen(args->batch, "r");
    if (!file)
        return cli_fail(CLI_EXIT_USAGE, "cannot read batch file '%s': %s", args->batch,
                        strerror(errno));
    // Large buffers: a million lines in 4 KiB reads and writes were some 40,000
    // system calls, each costly on a virtual machine.
    static char in_buffer[1 << 20], out_buffer[1 << 16];
    setvbuf(file, in_buffer, _IOFBF, sizeof in_buffer);
    setvbuf(stdout, out_buffer, _IOFBF, sizeof out_buffer);
    // Each request in flight packs and unpacks buffers of a few hundred KiB. With
    // glibc's adaptive thresholds every free gave the heap's top back (brk) and the
    // next request faulted it in again: 468 brk calls for a million commands, each
    // a TLB flush across CPUs, 5% of the client's time. Keep them: the window
    // bounds what is held.
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    int code = 0;
    pipeline_t pipe = {.data_dir = args->data, .file_name = args->batch};
    pipe.client = connect_or_fail(args->data, &code);
    char *line = NULL;
    if (pipe.client) {
        pipe.slots = calloc(CLI_BATCH_WINDOW, sizeof *pipe.slots);
        line = malloc(CLI_BATCH_LINE_MAX + 2);
        code = pipe.slots && line
                   ? read_lines(&pipe, file, line)
                   : cli_fail(CLI_EXIT_ENVIRONMENT, "out of memory");
    }
    if (code == 0)
        code = pipe.worst;
    for (size_t i = 0; pipe.slots && i < CLI_BATCH_WINDOW; i++) {
        arena_release(&pipe.slots[i].batch.strings);
        smclient_response_free(pipe.slots[i].response);
    }
    free(pipe.slots);
    free(line);
    smclient_destroy(&pipe.client);
    if (file != stdin)
        fclose(file);
    return code;
}

int
cli_submit(const cli_args_t *args)
{
    return args->batch ? submit_batch(args) : submit_one(args);
}
