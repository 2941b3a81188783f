// crash_driver: acceptance 2 of issue 2 (crash safety). It starts a real
// `storemesh run`, submits counter adds (stock sku-crash on_hand add 1, command IDs
// "c-N") in single- and multi-command requests from SUBMITTERS concurrent clients
// (so group commit, and a batch staged behind the one being written, are hit) while
// another thread SIGKILLs the node at a seeded random moment. It restarts the node
// and retries every command that got no answer with the same command ID, as a till
// would. At the end every acknowledged audit ID must be found and name its own
// command, and the counter must equal the number of distinct commands exactly.
//
// usage: crash_driver [STOREMESH [RULES]]
//   STOREMESH defaults to $STOREMESH; RULES to $SM_SOURCE_DIR/docs/examples/retail-rules.yaml.
//   $CRASH_SEED (default below) and $CRASH_CYCLES (default 24) replay or vary a run.
// The driver never opens RocksDB: only the node processes do.
#define _XOPEN_SOURCE 700 // nftw, to remove the temporary directory

#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "crash_driver.h"

#define SEED_DEFAULT UINT64_C(0x5eed0002)
#define CYCLES_DEFAULT 24
#define CYCLES_MAX 1000
#define COMMANDS_MAX 100000     // distinct commands in one run
#define CYCLE_COMMANDS_MAX 3000 // new commands per cycle, so a slow kill cannot run away
#define CALL_TIMEOUT_MS 1000    // a till's patience; after it, the till retries
#define READY_WAIT_MS 15000     // a node answers Status within this after starting
#define STOP_WAIT_MS 15000      // a node exits within this after SIGTERM
#define RUN_WAIT_MS 110000      // the whole run (CTest's TIMEOUT is larger)
#define LATE_TIMEOUTS_MAX 10    // timeouts while the node still runs, per cycle
#define SUBMITTERS 3            // concurrent clients: batches are staged while one is written

static driver_t *g_driver; // for die(): one driver per process

static uint64_t
rng_next(driver_t *d)
{
    // splitmix64: tiny, and the same sequence on every machine.
    uint64_t z = (d->rng += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static long
rng_below(driver_t *d, long bound)
{
    return (long)(rng_next(d) % (uint64_t)bound);
}

static int
remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void
print_log_tail(const driver_t *d)
{
    FILE *log = fopen(d->log_path, "r");
    if (!log)
        return;
    char lines[20][512];
    size_t count = 0;
    while (fgets(lines[count % 20], sizeof lines[0], log))
        count++;
    fclose(log);
    fprintf(stderr, "--- last node log lines (%s) ---\n", d->log_path);
    for (size_t i = count > 20 ? count - 20 : 0; i < count; i++)
        fputs(lines[i % 20], stderr);
}

void
die(const char *format, ...)
{
    driver_t *d = g_driver;
    va_list args;
    va_start(args, format);
    fprintf(stderr, "FAIL: crash_driver: ");
    vfprintf(stderr, format, args);
    va_end(args);
    fprintf(stderr,
            "\n  seed 0x%" PRIx64 " (replay: CRASH_SEED=0x%" PRIx64 "), cycle %d, %zu commands\n",
            d->seed, d->seed, d->cycle, d->command_count);
    print_log_tail(d);
    if (d->node.pid > 0)
        kill(d->node.pid, SIGKILL);
    if (getenv("CRASH_KEEP"))
        fprintf(stderr, "  kept %s\n", d->root);
    else
        nftw(d->root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    exit(1);
}

// ---- the node process ----

static void
node_spawn(driver_t *d, char *const argv[])
{
    int rc = child_spawn(&d->node, d->storemesh, argv, d->log_path);
    if (rc != 0)
        die("cannot start '%s': %s", d->storemesh, strerror(rc));
}

static void
node_start(driver_t *d)
{
    char *argv[] = {(char *)d->storemesh, "run", "--data", d->data_dir, NULL};
    node_spawn(d, argv);
}

// Waits (bounded) for the node to exit, reaps it, returns its wait status.
static int
node_reap(driver_t *d, long wait_ms)
{
    int status = 0;
    if (child_reap(&d->node, wait_ms, &status) != 0)
        die("node pid %d still running %ld ms after it should have stopped", (int)d->node.pid,
            wait_ms);
    return status;
}

static void
killer_start_or_die(killer_t *killer, pid_t pid, long delay_ms)
{
    int rc = killer_start(killer, pid, delay_ms);
    if (rc != 0)
        die("cannot start the killer thread: %s", strerror(rc));
}

// ---- talking to the node ----

static smclient_t *
client_new(driver_t *d, int timeout_ms)
{
    char err[SMCLIENT_ERROR_MAX];
    int rc = 0;
    smclient_t *client = smclient_new(d->data_dir, timeout_ms, &rc, err, sizeof err);
    return client; // NULL while the node is not (yet) there: the caller retries
}

// Waits until the node answers Status. False when it exited meanwhile (killed early).
static bool
node_wait_ready(driver_t *d)
{
    struct timespec since;
    clock_gettime(CLOCK_MONOTONIC, &since);
    Storemesh__StatusRequest status = STOREMESH__STATUS_REQUEST__INIT;
    Storemesh__Request request = STOREMESH__REQUEST__INIT;
    request.version = 1;
    request.body_case = STOREMESH__REQUEST__BODY_STATUS;
    request.status = &status;
    while (elapsed_ms(&since) < READY_WAIT_MS) {
        if (child_has_exited(&d->node))
            return false;
        smclient_t *client = client_new(d, 300);
        Storemesh__Response *response = NULL;
        int rc = client ? smclient_call(client, &request, &response) : -1;
        bool ready = rc == 0 && response->body_case == STOREMESH__RESPONSE__BODY_STATUS;
        if (rc == 0)
            smclient_response_free(response);
        smclient_destroy(&client);
        if (ready)
            return true;
        sleep_ms(20);
    }
    die("node did not answer Status within %d ms of starting", READY_WAIT_MS);
    return false;
}

int
call(smclient_t *client, Storemesh__Request *request, Storemesh__Response **response)
{
    request->version = 1;
    return smclient_call(client, request, response);
}

// ---- submitting ----

void
batch_add(batch_t *b, size_t index)
{
    size_t i = b->count++;
    b->index[i] = index;
    snprintf(b->id_text[i], sizeof b->id_text[i], "c-%zu", index);
    Storemesh__Command c = STOREMESH__COMMAND__INIT;
    c.command_id = b->id_text[i];
    c.source = "till-crash";
    c.type = "stock";
    c.key = "sku-crash";
    c.field = "on_hand";
    c.op = "add";
    c.value.data = (uint8_t *)"1";
    c.value.len = 1;
    c.has_value = true;
    b->commands[i] = c;
    b->command_ptrs[i] = &b->commands[i];
}

// Chooses what to send next: first whatever went unanswered (the till's retry),
// then new commands, now and then a repeat of an acknowledged one. May choose
// nothing when every allowed command is in flight. Called with d->lock held.
static void
batch_choose(driver_t *d, batch_t *b, size_t cycle_first)
{
    b->count = 0;
    long want = rng_below(d, 2) == 0 ? 1 : 2 + rng_below(d, REQUEST_COMMANDS_MAX - 1);
    for (size_t i = 0; i < d->command_count && b->count < (size_t)want; i++) {
        if (d->commands[i].state == COMMAND_UNANSWERED)
            batch_add(b, i);
    }
    if (b->count == 0 && d->acked > 0 && rng_below(d, 16) == 0) {
        size_t i = (size_t)rng_below(d, (long)d->command_count);
        if (d->commands[i].state == COMMAND_ACKED)
            batch_add(b, i);
    }
    bool room = d->command_count - cycle_first < CYCLE_COMMANDS_MAX;
    while (room && b->count < (size_t)want && d->command_count < COMMANDS_MAX)
        batch_add(b, d->command_count++);
    for (size_t i = 0; i < b->count; i++) {
        if (d->commands[b->index[i]].state != COMMAND_ACKED)
            d->commands[b->index[i]].state = COMMAND_IN_FLIGHT;
    }
}

static void
record_result(driver_t *d, size_t index, const Storemesh__CommandResult *result)
{
    command_t *c = &d->commands[index];
    if (result->code != STOREMESH__RESULT_CODE__RESULT_OK)
        die("c-%zu: result code %d: %s", index, (int)result->code, result->message);
    if (strlen(result->audit_id) == 0 || strlen(result->audit_id) >= AUDIT_TEXT_MAX)
        die("c-%zu: acknowledged without a usable audit ID", index);
    if (c->state == COMMAND_ACKED) {
        if (strcmp(c->audit_id, result->audit_id) != 0)
            die("c-%zu: acknowledged as %s, repeated as %s", index, c->audit_id, result->audit_id);
        if (!result->duplicate)
            die("c-%zu: a repeat of an acknowledged command was not marked duplicate", index);
        d->repeats++;
        return;
    }
    if (result->duplicate && !c->retried)
        die("c-%zu: a new command was answered as a duplicate (%s)", index, result->audit_id);
    if (result->duplicate)
        d->retried_duplicates++; // written before the kill, answered by its audit ID now
    c->state = COMMAND_ACKED;
    snprintf(c->audit_id, sizeof c->audit_id, "%s", result->audit_id);
    d->acked++;
}

static void
mark_unanswered(driver_t *d, const batch_t *b)
{
    for (size_t i = 0; i < b->count; i++) {
        command_t *c = &d->commands[b->index[i]];
        if (c->state == COMMAND_ACKED)
            continue;
        if (!c->retried)
            d->retried++;
        c->state = COMMAND_UNANSWERED;
        c->retried = true;
    }
}

// Sends one batch. 0 when answered (and recorded); the smclient code otherwise.
int
submit_batch(driver_t *d, smclient_t *client, batch_t *b)
{
    Storemesh__SubmitRequest submit = STOREMESH__SUBMIT_REQUEST__INIT;
    submit.n_commands = b->count;
    submit.commands = b->command_ptrs;
    Storemesh__Request request = STOREMESH__REQUEST__INIT;
    request.body_case = STOREMESH__REQUEST__BODY_SUBMIT;
    request.submit = &submit;
    Storemesh__Response *response = NULL;
    int rc = call(client, &request, &response);
    pthread_mutex_lock(&d->lock);
    if (rc != 0) {
        mark_unanswered(d, b);
        pthread_mutex_unlock(&d->lock);
        return rc;
    }
    if (response->body_case == STOREMESH__RESPONSE__BODY_ERROR)
        die("submit of %zu commands answered with an error: %s", b->count, response->error);
    if (response->body_case != STOREMESH__RESPONSE__BODY_SUBMIT)
        die("submit answered with body %d", (int)response->body_case);
    if (response->submit->n_results != b->count)
        die("submit of %zu commands got %zu results", b->count, response->submit->n_results);
    for (size_t i = 0; i < b->count; i++)
        record_result(d, b->index[i], response->submit->results[i]);
    pthread_mutex_unlock(&d->lock);
    smclient_response_free(response);
    return 0;
}

// ---- one crash cycle ----

typedef struct {
    driver_t *d;
    killer_t *killer;
    size_t cycle_first; // the first command issued in this cycle
    pthread_t thread;
} submitter_t;

static bool
node_gone(driver_t *d, killer_t *killer)
{
    if (killer_fired(killer))
        return true;
    pthread_mutex_lock(&d->lock);
    bool exited = child_has_exited(&d->node);
    pthread_mutex_unlock(&d->lock);
    return exited;
}

// One till: submits until the node stops answering after the killer fired (or died).
static void *
submitter_main(void *arg)
{
    submitter_t *s = arg;
    driver_t *d = s->d;
    struct timespec since;
    clock_gettime(CLOCK_MONOTONIC, &since);
    smclient_t *client = client_new(d, CALL_TIMEOUT_MS);
    int late = 0;
    batch_t b;
    for (;;) { // bounded by the elapsed-time check: the killer fires within 400 ms
        if (elapsed_ms(&since) > 30000)
            die("node still answering 30 s after the killer was due");
        if (!client) {
            if (node_gone(d, s->killer))
                break;
            sleep_ms(20);
            client = client_new(d, CALL_TIMEOUT_MS);
            continue;
        }
        pthread_mutex_lock(&d->lock);
        batch_choose(d, &b, s->cycle_first);
        pthread_mutex_unlock(&d->lock);
        if (b.count == 0) { // the cycle's quota is used, or all of it is in flight
            if (node_gone(d, s->killer))
                break;
            sleep_ms(5);
            continue;
        }
        if (submit_batch(d, client, &b) == 0) {
            late = 0;
            continue;
        }
        smclient_destroy(&client);
        if (node_gone(d, s->killer))
            break;
        if (++late > LATE_TIMEOUTS_MAX)
            die("%d requests in a row went unanswered while the node was running", late);
        pthread_mutex_lock(&d->lock);
        d->late_timeouts++; // slow, not dead: retry with the same command IDs
        pthread_mutex_unlock(&d->lock);
        client = client_new(d, CALL_TIMEOUT_MS);
    }
    smclient_destroy(&client);
    return NULL;
}

// SUBMITTERS tills submit at once until the killer has struck.
static void
submit_until_killed(driver_t *d, killer_t *killer, size_t cycle_first)
{
    submitter_t submitters[SUBMITTERS];
    for (int i = 0; i < SUBMITTERS; i++) {
        submitters[i] = (submitter_t){.d = d, .killer = killer, .cycle_first = cycle_first};
        if (pthread_create(&submitters[i].thread, NULL, submitter_main, &submitters[i]) != 0)
            die("cannot start submitter thread %d", i);
    }
    for (int i = 0; i < SUBMITTERS; i++)
        pthread_join(submitters[i].thread, NULL);
}

static void
run_cycle(driver_t *d)
{
    size_t cycle_first = d->command_count;
    killer_t killer;
    node_start(d);
    bool early = rng_below(d, 8) == 0; // kill while it opens the store and recovers
    if (early)
        killer_start_or_die(&killer, d->node.pid, rng_below(d, 80));
    bool ready = node_wait_ready(d);
    if (!early) {
        long delay_ms = rng_below(d, 5) == 0 ? rng_below(d, 5) : 20 + rng_below(d, 300);
        killer_start_or_die(&killer, d->node.pid, delay_ms);
    }
    if (ready)
        submit_until_killed(d, &killer, cycle_first);
    killer_join(&killer);
    int status = node_reap(d, STOP_WAIT_MS);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
        die("the node exited by itself (wait status 0x%x) instead of being killed", status);
    d->kills++;
    if (!ready)
        d->early_kills++;
}

static void
finish_and_verify(driver_t *d)
{
    d->cycle = -1; // the final check
    node_start(d);
    if (!node_wait_ready(d))
        die("node exited while starting for the final check");
    smclient_t *client = client_new(d, 10000);
    if (!client)
        die("cannot connect for the final check");
    crash_check(d, client);
    smclient_destroy(&client);
    kill(d->node.pid, SIGTERM);
    int status = node_reap(d, STOP_WAIT_MS);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        die("node did not exit 0 after SIGTERM (wait status 0x%x)", status);
}

// ---- setup ----

static void
init_node(driver_t *d)
{
    char *argv[] = {
        (char *)d->storemesh, "init", "--data", d->data_dir, "--name", NODE_NAME, "--rules",
        (char *)d->rules,     NULL};
    node_spawn(d, argv);
    int status = node_reap(d, 30000);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        die("storemesh init failed (wait status 0x%x)", status);
}

// dir/name into out (PATH_MAX bytes); false when it does not fit.
static bool
path_join(char *out, const char *dir, const char *name)
{
    int len = snprintf(out, PATH_MAX, "%s/%s", dir, name);
    return len > 0 && len < PATH_MAX;
}

static void
setup(driver_t *d, int argc, char **argv)
{
    static char rules[PATH_MAX];
    d->storemesh = argc > 1 ? argv[1] : getenv("STOREMESH");
    const char *source_dir = getenv("SM_SOURCE_DIR");
    bool fits = argc > 2 ? snprintf(rules, sizeof rules, "%s", argv[2]) < (int)sizeof rules
                         : path_join(rules, source_dir ? source_dir : ".",
                                     "docs/examples/retail-rules.yaml");
    d->rules = rules;
    const char *seed = getenv("CRASH_SEED");
    d->seed = seed ? strtoull(seed, NULL, 0) : SEED_DEFAULT;
    d->rng = d->seed;
    const char *tmp = getenv("TMPDIR");
    fits = fits && path_join(d->root, tmp && *tmp ? tmp : "/tmp", "sm-crash.XXXXXX");
    if (!fits)
        die("a path is longer than PATH_MAX");
    if (!mkdtemp(d->root))
        die("cannot make a temporary directory '%s': %s", d->root, strerror(errno));
    if (!path_join(d->data_dir, d->root, "node") || !path_join(d->log_path, d->root, "node.log"))
        die("a path is longer than PATH_MAX");
    d->commands = calloc(COMMANDS_MAX, sizeof *d->commands);
    if (!d->commands)
        die("out of memory");
    d->node.pid = -1;
    pthread_mutex_init(&d->lock, NULL);
    clock_gettime(CLOCK_MONOTONIC, &d->started);
}

int
main(int argc, char **argv)
{
    static driver_t driver;
    driver_t *d = &driver;
    g_driver = d;
    setup(d, argc, argv);
    if (!d->storemesh) {
        fprintf(stderr, "usage: crash_driver STOREMESH [RULES] (or set STOREMESH)\n");
        return 2;
    }
    const char *cycles_text = getenv("CRASH_CYCLES");
    int cycles = cycles_text ? atoi(cycles_text) : CYCLES_DEFAULT;
    if (cycles < 1 || cycles > CYCLES_MAX)
        die("CRASH_CYCLES must be 1..%d", CYCLES_MAX);
    printf("crash_driver: seed 0x%" PRIx64 ", %d cycles, %s\n", d->seed, cycles, d->root);
    fflush(stdout);
    init_node(d);
    for (d->cycle = 0; d->cycle < cycles; d->cycle++) {
        if (elapsed_ms(&d->started) > RUN_WAIT_MS)
            die("the run took over %d ms", RUN_WAIT_MS);
        run_cycle(d);
    }
    finish_and_verify(d);
    printf("crash_driver: ok in %ld ms: %zu kills (%zu while starting), %zu commands, all "
           "acknowledged once; %zu went unanswered and were retried with the same command "
           "ID (%zu of them had been written: answered as duplicates); %zu repeats of "
           "acknowledged commands; %zu slow answers; counter = %zu\n",
           elapsed_ms(&d->started), d->kills, d->early_kills, d->command_count, d->retried,
           d->retried_duplicates, d->repeats, d->late_timeouts, d->command_count);
    nftw(d->root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(d->commands);
    return 0;
}
