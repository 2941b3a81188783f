#include "fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sm_error.h"

#ifndef SM_SOURCE_DIR
#error "SM_SOURCE_DIR must name the source tree (set by tests/fuzz/CMakeLists.txt)"
#endif

static void
fixture_fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz fixture: %s: %s\n", what, detail);
    abort();
}

const rules_t *
fixture_rules(void)
{
    static rules_t *rules;
    if (!rules) {
        char err[512];
        rules = rules_load(SM_SOURCE_DIR "/docs/examples/retail-rules.yaml", err, sizeof err);
        if (!rules)
            fixture_fail("cannot load docs/examples/retail-rules.yaml", err);
    }
    return rules;
}

void
fixture_keypair(const char *name, uint8_t public_key[crypto_sign_PUBLICKEYBYTES],
                uint8_t secret_key[crypto_sign_SECRETKEYBYTES])
{
    static const char domain[] = "storemesh-fuzz-key";
    uint8_t seed[crypto_sign_SEEDBYTES];
    crypto_generichash_state state;
    crypto_generichash_init(&state, NULL, 0, sizeof seed);
    crypto_generichash_update(&state, (const uint8_t *)domain, sizeof domain);
    crypto_generichash_update(&state, (const uint8_t *)name, strlen(name));
    crypto_generichash_final(&state, seed, sizeof seed);
    crypto_sign_seed_keypair(public_key, secret_key, seed);
}

static void
node_start(fixture_node_t *node)
{
    char err[512];
    int rc = 0;
    node->store = store_rocks_open(node->dir, true, &rc, err, sizeof err);
    if (!node->store)
        fixture_fail("cannot open RocksDB", err);
    core_config_t config = {.name = node->name,
                            .rules = fixture_rules(),
                            .secret_key = node->secret_key,
                            .public_key = node->public_key,
                            .reader = store_rocks_reader(node->store),
                            .sync = false};
    node->core = core_new(&config, err, sizeof err);
    if (!node->core)
        fixture_fail("core_new", err);
}

void
fixture_node_open(fixture_node_t *node, const char *name)
{
    if (sodium_init() < 0)
        fixture_fail("sodium_init", "libsodium cannot start");
    memset(node, 0, sizeof *node);
    snprintf(node->name, sizeof node->name, "%s", name);
    const char *tmp = getenv("TMPDIR");
    snprintf(node->dir, sizeof node->dir, "%s/sm-fuzz-%s.XXXXXX", tmp && *tmp ? tmp : "/tmp", name);
    if (!mkdtemp(node->dir))
        fixture_fail("cannot make a temporary directory", node->dir);
    fixture_keypair(name, node->public_key, node->secret_key);
    node_start(node);
}

void
fixture_node_restart(fixture_node_t *node)
{
    core_destroy(&node->core);
    store_rocks_close(&node->store);
    node_start(node);
}

void
fixture_node_close(fixture_node_t *node)
{
    core_destroy(&node->core);
    store_rocks_close(&node->store);
    if (node->dir[0]) {
        char command[sizeof node->dir + 16];
        snprintf(command, sizeof command, "rm -rf '%s'", node->dir);
        if (system(command) != 0)
            fprintf(stderr, "fuzz fixture: could not remove '%s'; remove it by hand\n", node->dir);
        node->dir[0] = 0;
    }
}

void
fixture_node_set_peers(fixture_node_t *node, const char *const *links, size_t link_count,
                       const char *const *key_only, size_t key_only_count)
{
    uint8_t keys[FIXTURE_PEERS_MAX][crypto_sign_PUBLICKEYBYTES];
    uint8_t secret[crypto_sign_SECRETKEYBYTES];
    core_peer_t peers[FIXTURE_PEERS_MAX];
    size_t count = 0;
    if (link_count + key_only_count > FIXTURE_PEERS_MAX)
        fixture_fail("fixture_node_set_peers", "more peers than FIXTURE_PEERS_MAX");
    for (size_t i = 0; i < link_count + key_only_count; i++) {
        bool exchange = i < link_count;
        const char *name = exchange ? links[i] : key_only[i - link_count];
        fixture_keypair(name, keys[count], secret);
        peers[count] = (core_peer_t){.name = name, .public_key = keys[count], .exchange = exchange};
        count++;
    }
    int rc = core_set_peers(node->core, peers, count);
    if (rc)
        fixture_fail("core_set_peers", sm_strerror(rc));
}

void
fixture_node_drain(fixture_node_t *node, uint64_t now_ms, fixture_effect_fn fn, void *arg)
{
    core_flush(node->core, now_ms);
    core_effect_t effect;
    size_t count = 0;
    while (core_next_effect(node->core, &effect)) {
        if (++count > FIXTURE_EFFECTS_MAX)
            fixture_fail("fixture_node_drain", "the core hands out effects without end");
        if (effect.kind == CORE_EFFECT_WRITE) {
            char err[512];
            int rc = store_rocks_write(node->store, effect.batch, effect.sync, err, sizeof err);
            if (rc)
                fixture_fail("cannot write to RocksDB", err);
            core_write_done(node->core, effect.batch_id, rc);
            core_flush(node->core, now_ms);
        } else if (fn) {
            fn(arg, node, &effect);
        }
    }
}

int
fixture_node_submit(fixture_node_t *node, uint64_t request_id, const char *type, const char *key,
                    const char *field, const char *op, const char *value, uint64_t now_ms)
{
    core_command_t command = {.command_id = "",
                              .source = "fuzz",
                              .type = type,
                              .key = key,
                              .field = field,
                              .op = op,
                              .value = value ? value : "",
                              .value_len = value ? strlen(value) : 0,
                              .has_value = value != NULL};
    return core_submit(node->core, request_id, &command, 1, now_ms);
}

static fixture_node_t shared_node;
static uint64_t shared_now_ms = FIXTURE_START_MS;

static void
shared_close(void)
{
    fixture_node_close(&shared_node);
}

static void
expect_accepted(void *arg, const fixture_node_t *node, const core_effect_t *effect)
{
    (void)arg;
    (void)node;
    for (size_t i = 0; effect->kind == CORE_EFFECT_REPLY && i < effect->result_count; i++)
        if (effect->results[i].code != CORE_RESULT_OK)
            fixture_fail("a seed command was refused", effect->results[i].message);
}

// A few operations of every merge kind the rules let branch-1 write.
static void
shared_seed(fixture_node_t *node)
{
    static const char *const commands[][5] = {
        {"stock", "sku-1", "on_hand", "add", "5"},
        {"stock", "sku-1", "on_hand", "add", "-2"},
        {"customer", "c-1", "email", "set", "a@example.com"},
        {"customer", "c-1", "tags", "add", "vip"},
        {"customer", "c-1", "phone", "set", "555-0100"},
        {"voucher", "v-1", "redeemed_by", "set", "branch-1"},
        {"order", "o-1", "status", "set", "open"},
    };
    size_t count = sizeof commands / sizeof commands[0];
    for (size_t i = 0; i < count; i++) {
        const char *const *c = commands[i];
        if (fixture_node_submit(node, i + 1, c[0], c[1], c[2], c[3], c[4], shared_now_ms))
            fixture_fail("seeding the shared core", "core_submit refused");
        if (i % 3 == 2) // several batches, several seals
            fixture_node_drain(node, shared_now_ms, expect_accepted, NULL);
    }
    fixture_node_drain(node, shared_now_ms, expect_accepted, NULL);
}

fixture_node_t *
fixture_shared(void)
{
    if (shared_node.core)
        return &shared_node;
    fixture_node_open(&shared_node, FIXTURE_NODE);
    atexit(shared_close);
    static const char *const links[] = {FIXTURE_PEER};
    static const char *const key_only[] = {FIXTURE_RELAYED};
    fixture_node_set_peers(&shared_node, links, 1, key_only, 1);
    shared_seed(&shared_node);
    return &shared_node;
}

uint64_t
fixture_clock_advance(uint64_t step_ms)
{
    shared_now_ms += step_ms;
    return shared_now_ms;
}
