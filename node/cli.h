// cli: the storemesh command line (docs/CLI.md is its manual). Each command is a
// function that returns the process exit code. Commands other than init, id, run
// and bench talk to the running node through smclient, like any other client.
#ifndef NODE_CLI_H
#define NODE_CLI_H

#include <stdbool.h>
#include <stddef.h>

// Exit codes: a contract with scripts and later tooling (docs/CLI.md).
enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_ENVIRONMENT = 1, // data directory missing/held/unreadable, disk, internal
    CLI_EXIT_USAGE = 2,       // bad usage or bad input: fix the command
    CLI_EXIT_NOT_RUNNING = 3, // no node runs on the data directory
    CLI_EXIT_REFUSED = 4,     // refused by a truth rule or a limit
};

#define CLI_POSITIONAL_MAX 8

typedef struct {
    const char *data;
    const char *name;
    const char *rules;
    const char *listen;
    const char *command_id;
    const char *source;
    const char *batch;
    const char *ops;
    const char *dir;
    bool json;
    bool curve; // id: print the CURVE (X25519) form of the key, as refusals log it
    size_t positional_count;
    const char *positional[CLI_POSITIONAL_MAX];
} cli_args_t;

// Prints "storemesh: " and the message to stderr; returns code.
int cli_fail(int code, const char *format, ...) __attribute__((format(printf, 2, 3)));
// Maps an smclient/sm error to an exit code and prints what to do.
int cli_client_error(int rc, const char *data_dir, const char *context);

int cli_init(const cli_args_t *args);
int cli_id(const cli_args_t *args);
int cli_submit(const cli_args_t *args);
int cli_get(const cli_args_t *args);
int cli_status(const cli_args_t *args);
int cli_audit(const cli_args_t *args);
int cli_digest(const cli_args_t *args);
// `peer add` and `peer remove` (positional[0] says which); `peers`. node/cli_peers.c.
int cli_peer(const cli_args_t *args);
int cli_peers(const cli_args_t *args);

#endif
