// crash_driver: the shared parts of the crash-safety driver (crash_driver.c runs
// the crash cycles, crash_check.c checks the outcome). See crash_driver.c.
#ifndef TESTS_PROCESS_CRASH_DRIVER_H
#define TESTS_PROCESS_CRASH_DRIVER_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "child.h"
#include "smclient.h"

#define REQUEST_COMMANDS_MAX 20 // commands in one multi-command request
#define AUDIT_TEXT_MAX 128      // bytes of an audit ID as the node answers it
#define NODE_NAME "branch-crash"

// calloc'd commands start NEW; every one ends ACKED before the final check. A command
// is in at most one request at a time (IN_FLIGHT), as one till sends it.
typedef enum {
    COMMAND_NEW = 0,
    COMMAND_IN_FLIGHT = 1,
    COMMAND_UNANSWERED = 2,
    COMMAND_ACKED = 3,
} command_state_t;

typedef struct {
    command_state_t state;
    bool retried;                  // it went unanswered at least once
    char audit_id[AUDIT_TEXT_MAX]; // when ACKED
} command_t;

// Shared by the submitter threads: lock guards everything after it.
typedef struct {
    const char *storemesh;
    const char *rules;
    uint64_t seed;           // replays the run's decisions (not the machine's timing)
    uint64_t rng;            // splitmix64 state, seeded with seed
    int cycle;               // for messages; -1 during the final check
    char root[PATH_MAX];     // temporary directory of the run
    char data_dir[PATH_MAX]; // root/node
    char log_path[PATH_MAX]; // root/node.log: every node's stderr
    pthread_mutex_t lock;
    child_t node;
    command_t *commands;
    size_t command_count; // commands issued so far: c-0 .. c-(count-1)
    // For the summary: kills (early: before the node answered), acknowledged
    // commands, commands that went unanswered (and how many of those proved written
    // before the kill), repeats of acknowledged commands, timeouts of a live node.
    size_t kills, early_kills, acked, retried, retried_duplicates, repeats, late_timeouts;
    struct timespec started;
} driver_t;

// One submit request under construction; the strings live in id_text.
typedef struct {
    size_t count;
    size_t index[REQUEST_COMMANDS_MAX]; // command numbers
    char id_text[REQUEST_COMMANDS_MAX][32];
    Storemesh__Command commands[REQUEST_COMMANDS_MAX];
    Storemesh__Command *command_ptrs[REQUEST_COMMANDS_MAX];
} batch_t;

// Prints the failure with the seed and the node's last log lines, kills the node,
// removes the temporary directory (unless $CRASH_KEEP is set) and exits 1.
__attribute__((format(printf, 1, 2))) _Noreturn void die(const char *format, ...);
// Appends command c-INDEX (add 1 to stock sku-crash on_hand) to b.
void batch_add(batch_t *b, size_t index);
// Sends b as one request and records the results (taking d->lock to record). 0 when
// answered; the smclient code otherwise (the commands are then marked unanswered).
int submit_batch(driver_t *d, smclient_t *client, batch_t *b);
// smclient_call with the protocol version set.
int call(smclient_t *client, Storemesh__Request *request, Storemesh__Response **response);

// After the last restart: retries every unanswered command, then checks that every
// acknowledged audit ID holds its own command, that each command is one operation,
// and that the counter equals the number of distinct commands. Dies otherwise.
void crash_check(driver_t *d, smclient_t *client);

#endif
