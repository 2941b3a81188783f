// Several real node cores in one process, each on its own RocksDB, exchanging
// peer messages through an in-memory network the test controls: convergence,
// relay, authority acknowledgement, and refusal of altered or forged operations.
#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "rules.h"
#include "sm_error.h"
#include "store_rocks.h"
#include "storemesh.pb-c.h"

#define MESH_NODES_MAX 4
#define WIRE_MESSAGES_MAX 4096

typedef struct {
    const char *name;
    char dir[128];
    store_rocks_t *store;
    core_t *core;
    uint8_t public_key[crypto_sign_PUBLICKEYBYTES];
    uint8_t secret_key[crypto_sign_SECRETKEYBYTES];
} node_t;

typedef struct {
    int from;
    int to;
    uint8_t *bytes;
    size_t len;
} wire_t;

typedef struct {
    rules_t *rules;
    node_t nodes[MESH_NODES_MAX];
    int count;
    bool link[MESH_NODES_MAX][MESH_NODES_MAX]; // messages pass from i to j
    wire_t wire[WIRE_MESSAGES_MAX];
    size_t wire_count;
    uint64_t now_ms;
    // tampering: called on every OpsBatch message in flight; may change it
    void (*tamper)(uint8_t *bytes, size_t len);
    uint64_t hellos_full;    // Hellos seen on the wire carrying the whole version vector
    uint64_t hellos_idle;    // Hellos carrying only its digest
    uint64_t hellos_changed; // Hellos carrying the entries changed since the last, and the digest
    size_t changed_entries_max; // the most entries one of those carried
    size_t authority_entries_max; // the most authority entries an idle or changed Hello carried
    size_t ops_batches;           // OpsBatch messages seen on the wire
    size_t ops_batch_ops_max;     // the most operations one of them carried
    size_t writes[MESH_NODES_MAX]; // WRITE effects each node carried out
    bool drop_acks[MESH_NODES_MAX]; // the network loses every Ack this node sends
    size_t acks_dropped;
    // A node whose writes are held: its WRITE effect stays in flight until the test
    // finishes it with mesh_finish_held_write.
    bool hold_writes[MESH_NODES_MAX];
    core_effect_t held[MESH_NODES_MAX];
    bool holding[MESH_NODES_MAX];
} mesh_t;

static int
node_index(const mesh_t *mesh, const char *name)
{
    for (int i = 0; i < mesh->count; i++)
        if (strcmp(mesh->nodes[i].name, name) == 0)
            return i;
    return -1;
}

// The Hello period node_open gives cores; 0: the default. A test that must show
// what happens without the timer sets it far beyond its rounds.
static uint32_t test_anti_entropy_ms;

static void
node_open(mesh_t *mesh, node_t *node)
{
    char err[512];
    int rc = 0;
    node->store = store_rocks_open(node->dir, true, &rc, err, sizeof err);
    cr_assert_not_null(node->store, "%s", err);
    core_config_t config = {.name = node->name,
                            .rules = mesh->rules,
                            .secret_key = node->secret_key,
                            .public_key = node->public_key,
                            .reader = store_rocks_reader(node->store),
                            .sync = false,
                            .anti_entropy_ms = test_anti_entropy_ms};
    node->core = core_new(&config, err, sizeof err);
    cr_assert_not_null(node->core, "%s", err);
}

// Every node trusts every key; links say who talks to whom.
static void
mesh_set_peers(mesh_t *mesh)
{
    for (int i = 0; i < mesh->count; i++) {
        core_peer_t peers[MESH_NODES_MAX];
        size_t count = 0;
        for (int j = 0; j < mesh->count; j++) {
            if (i == j)
                continue;
            peers[count++] = (core_peer_t){.name = mesh->nodes[j].name,
                                           .public_key = mesh->nodes[j].public_key,
                                           .exchange = mesh->link[i][j]};
        }
        cr_assert_eq(core_set_peers(mesh->nodes[i].core, peers, count), 0);
    }
}

static void
mesh_init(mesh_t *mesh, const char *const *names, int count)
{
    memset(mesh, 0, sizeof *mesh);
    cr_assert(sodium_init() >= 0);
    char err[512];
    mesh->rules = rules_load(SM_SOURCE_DIR "/docs/examples/retail-rules.yaml", err, sizeof err);
    cr_assert_not_null(mesh->rules, "%s", err);
    mesh->count = count;
    mesh->now_ms = 1000000;
    for (int i = 0; i < count; i++) {
        node_t *node = &mesh->nodes[i];
        node->name = names[i];
        snprintf(node->dir, sizeof node->dir, "/tmp/sm-replicate-test.XXXXXX");
        cr_assert_not_null(mkdtemp(node->dir));
        crypto_sign_keypair(node->public_key, node->secret_key);
        node_open(mesh, node);
        for (int j = 0; j < count; j++)
            mesh->link[i][j] = i != j;
    }
    mesh_set_peers(mesh);
}

static void
mesh_free(mesh_t *mesh)
{
    for (size_t i = 0; i < mesh->wire_count; i++)
        free(mesh->wire[i].bytes);
    for (int i = 0; i < mesh->count; i++) {
        core_destroy(&mesh->nodes[i].core);
        store_rocks_close(&mesh->nodes[i].store);
        char command[256];
        snprintf(command, sizeof command, "rm -rf '%s'", mesh->nodes[i].dir);
        cr_assert_eq(system(command), 0);
    }
    rules_destroy(&mesh->rules);
}

// Carries out one node's effects; sends go onto the wire.
static void
node_effects(mesh_t *mesh, int index)
{
    node_t *node = &mesh->nodes[index];
    core_flush(node->core, mesh->now_ms);
    core_effect_t effect;
    while (core_next_effect(node->core, &effect)) {
        if (effect.kind == CORE_EFFECT_WRITE && mesh->hold_writes[index]) {
            cr_assert(!mesh->holding[index], "one write in flight at a time");
            mesh->held[index] = effect;
            mesh->holding[index] = true;
        } else if (effect.kind == CORE_EFFECT_WRITE) {
            char err[256];
            int rc = store_rocks_write(node->store, effect.batch, effect.sync, err, sizeof err);
            cr_assert_eq(rc, 0, "%s", err);
            mesh->writes[index]++;
            core_write_done(node->core, effect.batch_id, rc);
            core_flush(node->core, mesh->now_ms);
        } else if (effect.kind == CORE_EFFECT_SEND) {
            int to = node_index(mesh, effect.peer);
            cr_assert_geq(to, 0, "a send to unknown peer %s", effect.peer);
            if (!mesh->link[index][to] || mesh->wire_count >= WIRE_MESSAGES_MAX)
                continue; // the network drops it
            uint8_t *copy = malloc(effect.len);
            memcpy(copy, effect.bytes, effect.len);
            mesh->wire[mesh->wire_count++] =
                (wire_t){.from = index, .to = to, .bytes = copy, .len = effect.len};
        }
    }
}

// Writes a held batch and tells its core, as a slow disk finally would.
static void
mesh_finish_held_write(mesh_t *mesh, int index)
{
    cr_assert(mesh->holding[index]);
    node_t *node = &mesh->nodes[index];
    char err[256];
    const core_effect_t *effect = &mesh->held[index];
    int rc = store_rocks_write(node->store, effect->batch, effect->sync, err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    mesh->holding[index] = false;
    core_write_done(node->core, effect->batch_id, rc);
    core_flush(node->core, mesh->now_ms);
}

// Runs rounds of: tick, effects, deliver everything on the wire. Returns the rounds.
static int
mesh_run(mesh_t *mesh, int rounds_max)
{
    int round = 0;
    for (; round < rounds_max; round++) {
        mesh->now_ms += 250;
        for (int i = 0; i < mesh->count; i++) {
            core_tick(mesh->nodes[i].core, mesh->now_ms);
            node_effects(mesh, i);
        }
        size_t count = mesh->wire_count;
        for (size_t k = 0; k < count; k++) {
            wire_t *message = &mesh->wire[k];
            if (mesh->tamper)
                mesh->tamper(message->bytes, message->len);
            Storemesh__PeerMessage *decoded =
                storemesh__peer_message__unpack(NULL, message->len, message->bytes);
            if (decoded && decoded->body_case == STOREMESH__PEER_MESSAGE__BODY_HELLO) {
                const Storemesh__Hello *hello = decoded->hello;
                if (!hello->have_digest.len) {
                    mesh->hellos_full++;
                } else if (hello->n_have == 0) {
                    mesh->hellos_idle++;
                } else {
                    mesh->hellos_changed++;
                    if (hello->n_have > mesh->changed_entries_max)
                        mesh->changed_entries_max = hello->n_have;
                }
                if (hello->have_digest.len && hello->n_authority_have > mesh->authority_entries_max)
                    mesh->authority_entries_max = hello->n_authority_have;
            }
            if (decoded && decoded->body_case == STOREMESH__PEER_MESSAGE__BODY_OPS) {
                mesh->ops_batches++;
                if (decoded->ops->n_operations > mesh->ops_batch_ops_max)
                    mesh->ops_batch_ops_max = decoded->ops->n_operations;
            }
            bool drop = decoded && decoded->body_case == STOREMESH__PEER_MESSAGE__BODY_ACK &&
                        mesh->drop_acks[message->from];
            storemesh__peer_message__free_unpacked(decoded, NULL);
            if (drop)
                mesh->acks_dropped++;
            else
                core_peer_receive(mesh->nodes[message->to].core, mesh->nodes[message->from].name,
                                  message->bytes, message->len, mesh->now_ms);
            free(message->bytes);
        }
        memmove(mesh->wire, mesh->wire + count, (mesh->wire_count - count) * sizeof *mesh->wire);
        mesh->wire_count -= count;
        for (int i = 0; i < mesh->count; i++)
            node_effects(mesh, i);
    }
    return round;
}

static void
submit(mesh_t *mesh, int index, const char *type, const char *key, const char *field,
       const char *op, const char *value, int times)
{
    node_t *node = &mesh->nodes[index];
    for (int t = 0; t < times; t++) {
        core_command_t command = {.command_id = "",
                                  .source = "test",
                                  .type = type,
                                  .key = key,
                                  .field = field,
                                  .op = op,
                                  .value = value,
                                  .value_len = strlen(value),
                                  .has_value = true};
        cr_assert_eq(core_submit(node->core, (uint64_t)t + 1, &command, 1, mesh->now_ms), 0);
        if (t % 700 == 699)
            node_effects(mesh, index); // several batches, several seals
    }
    node_effects(mesh, index);
}

static void
digest(mesh_t *mesh, int index, char hex[65])
{
    uint64_t fields = 0;
    cr_assert_eq(core_digest(mesh->nodes[index].core, hex, &fields), 0);
}

// Nodes i and j hold byte-identical state.
static void
assert_same_digest(mesh_t *mesh, int i, int j)
{
    char first[65];
    char second[65];
    digest(mesh, i, first);
    digest(mesh, j, second);
    cr_assert_str_eq(first, second, "%s and %s hold the same state", mesh->nodes[i].name,
                     mesh->nodes[j].name);
}

static int64_t
stock(mesh_t *mesh, int index, const char *key)
{
    core_entity_view_t view;
    char message[256];
    cr_assert_eq(core_get(mesh->nodes[index].core, "stock", key, &view, message, sizeof message),
                 0);
    int64_t value = view.field_count ? view.fields[0].view.number : 0;
    core_entity_view_free(&view);
    return value;
}

Test(replicate, two_branches_converge_to_the_same_digest)
{
    static const char *const names[] = {"branch-a", "branch-b"};
    mesh_t mesh;
    mesh_init(&mesh, names, 2);
    submit(&mesh, 0, "stock", "sku-1", "on_hand", "add", "1", 2500);
    submit(&mesh, 1, "stock", "sku-1", "on_hand", "add", "-1", 300);
    submit(&mesh, 1, "customer", "c-1", "tags", "add", "vip", 1);
    mesh_run(&mesh, 40);
    assert_same_digest(&mesh, 0, 1);
    cr_assert_eq(stock(&mesh, 0, "sku-1"), 2200);
    cr_assert_eq(core_counters(mesh.nodes[1].core)->operations_received, 2500);
    core_peer_status_t status[1];
    cr_assert_eq(core_peers_status(mesh.nodes[0].core, mesh.now_ms, status, 1), 1);
    cr_assert(status[0].connected);
    cr_assert_eq(status[0].we_owe, 0);
    cr_assert_eq(status[0].they_owe, 0);
    // Idle rounds send Hellos in the compact form: a digest, not the version vector.
    mesh.hellos_full = 0;
    mesh.hellos_idle = 0;
    mesh.hellos_changed = 0;
    mesh_run(&mesh, 16);
    cr_assert_gt(mesh.hellos_idle, 4, "idle rounds still say hello");
    cr_assert_eq(mesh.hellos_full + mesh.hellos_changed, 0,
                 "an idle round carries no version vector entries");
    mesh.changed_entries_max = 0;
    submit(&mesh, 0, "stock", "sku-1", "on_hand", "add", "1", 1);
    mesh_run(&mesh, 8);
    cr_assert_gt(mesh.hellos_changed, 0, "a changed version vector is announced");
    cr_assert_eq(mesh.changed_entries_max, 1, "with only the entry that changed (%zu)",
                 mesh.changed_entries_max);
    cr_assert_eq(mesh.hellos_full, 0, "not in full: the peer holds the rest");
    cr_assert_eq(stock(&mesh, 1, "sku-1"), 2201);
    mesh_free(&mesh);
}

Test(replicate, operations_travel_through_a_relay)
{
    static const char *const names[] = {"branch-a", "branch-b", "branch-c"};
    mesh_t mesh;
    mesh_init(&mesh, names, 3);
    mesh.link[0][2] = mesh.link[2][0] = false; // a and c cannot see each other
    mesh_set_peers(&mesh);
    submit(&mesh, 0, "stock", "sku-9", "on_hand", "add", "5", 10);
    submit(&mesh, 2, "stock", "sku-9", "on_hand", "add", "-2", 10);
    mesh_run(&mesh, 40);
    char digests[3][65];
    for (int i = 0; i < 3; i++)
        digest(&mesh, i, digests[i]);
    cr_assert_str_eq(digests[0], digests[2], "a and c converge through b");
    cr_assert_str_eq(digests[0], digests[1]);
    cr_assert_eq(stock(&mesh, 0, "sku-9"), 30);
    mesh_free(&mesh);
}

Test(replicate, the_authority_acknowledgement_empties_the_queue)
{
    static const char *const names[] = {"branch-a", "cloud"};
    mesh_t mesh;
    mesh_init(&mesh, names, 2);
    mesh.link[0][1] = mesh.link[1][0] = false; // the cloud is away
    mesh_set_peers(&mesh);
    submit(&mesh, 0, "stock", "sku-1", "on_hand", "add", "1", 50);
    mesh_run(&mesh, 4);
    core_status_t status;
    core_status(mesh.nodes[0].core, mesh.now_ms, &status);
    cr_assert_eq(status.queue_depth, 50, "nothing acknowledged while the cloud is away");
    mesh.link[0][1] = mesh.link[1][0] = true;
    mesh_set_peers(&mesh);
    mesh_run(&mesh, 20);
    core_status(mesh.nodes[0].core, mesh.now_ms, &status);
    cr_assert_eq(status.queue_depth, 0, "the cloud holds everything: the queue is empty");
    mesh_free(&mesh);
}

// A branch that never sees the cloud learns what the cloud holds from its
// neighbour's Hellos, which pass on the cloud's version vector as the entries that
// rose since the last Hello (the change log of the authority's vector). Writes in
// many small rounds make many small changes of it.
// branch-a, branch-b and the cloud, a linked to b alone; after a first exchange,
// twelve rounds in which a writes 3 adds of sku-1 and b 2 of sku-2, then quiet
// rounds. Returns the full Hellos seen before the writes began.
static uint64_t
run_writes_behind_a_relay(mesh_t *mesh, bool drop_cloud_acks)
{
    static const char *const names[] = {"branch-a", "branch-b", "cloud"};
    mesh_init(mesh, names, 3);
    mesh->link[0][2] = mesh->link[2][0] = false; // a reaches the cloud only through b
    mesh->drop_acks[2] = drop_cloud_acks;
    mesh_set_peers(mesh);
    mesh_run(mesh, 4);
    uint64_t full_before = mesh->hellos_full;
    for (int round = 0; round < 12; round++) {
        submit(mesh, 0, "stock", "sku-1", "on_hand", "add", "1", 3);
        submit(mesh, 1, "stock", "sku-2", "on_hand", "add", "1", 2);
        mesh_run(mesh, 2);
    }
    mesh_run(mesh, 12);
    cr_assert_eq(stock(mesh, 2, "sku-1"), 36, "the cloud holds a's writes");
    cr_assert_eq(stock(mesh, 2, "sku-2"), 24, "and b's");
    return full_before;
}

static void
assert_queue_empty(mesh_t *mesh, int index, const char *what)
{
    core_status_t status;
    core_status(mesh->nodes[index].core, mesh->now_ms, &status);
    cr_assert_eq(status.queue_depth, 0, "%s (%llu still queued)", what,
                 (unsigned long long)status.queue_depth);
}

Test(replicate, a_branch_away_from_the_cloud_learns_its_acknowledgement_through_a_relay)
{
    mesh_t mesh;
    run_writes_behind_a_relay(&mesh, false);
    assert_queue_empty(&mesh, 0, "a knows the cloud holds all of them");
    assert_queue_empty(&mesh, 1, "so does b");
    mesh_free(&mesh);
}

// With every Ack of the cloud lost, its Hellos alone tell a branch what it holds:
// the entries a changed-form Hello lists raise what the branch knows the authority
// holds, and the branch passes that on to one that cannot see the cloud. (Without
// that raise, nothing here ever empties a queue.)
Test(replicate, the_clouds_hellos_alone_tell_branches_what_it_holds)
{
    mesh_t mesh;
    uint64_t full_before = run_writes_behind_a_relay(&mesh, true);
    cr_assert_gt(mesh.acks_dropped, 0, "the cloud acknowledged batches, and those were lost");
    cr_assert_eq(mesh.hellos_full, full_before, "the Hellos after the first were not in full");
    assert_queue_empty(&mesh, 1, "b knows the cloud holds its writes");
    assert_queue_empty(&mesh, 0, "a knows it through b");
    mesh_free(&mesh);
}

static void
flip_last_byte(uint8_t *bytes, size_t len)
{
    // Only OpsBatch messages are long; a Hello or Ack of two nodes is short.
    if (len > 400)
        bytes[len / 2] ^= 0x01;
}

Test(replicate, altered_operations_are_refused_and_nothing_is_applied)
{
    static const char *const names[] = {"branch-a", "branch-b"};
    mesh_t mesh;
    mesh_init(&mesh, names, 2);
    submit(&mesh, 0, "stock", "sku-1", "on_hand", "add", "1", 20);
    mesh.tamper = flip_last_byte;
    mesh_run(&mesh, 10);
    const core_replication_counters_t *counters = core_counters(mesh.nodes[1].core);
    cr_assert_eq(counters->operations_received, 0, "nothing altered was applied");
    cr_assert_gt(counters->forged + counters->broken_chain + counters->malformed, 0,
                 "the refusals are counted");
    cr_assert_eq(stock(&mesh, 1, "sku-1"), 0);
    mesh.tamper = NULL;
    mesh_run(&mesh, 10);
    cr_assert_eq(stock(&mesh, 1, "sku-1"), 20, "the intact copy arrives later");
    mesh_free(&mesh);
}

Test(replicate, a_restarted_node_resumes_where_it_stopped)
{
    static const char *const names[] = {"branch-a", "branch-b"};
    mesh_t mesh;
    mesh_init(&mesh, names, 2);
    submit(&mesh, 0, "stock", "sku-1", "on_hand", "add", "1", 1500);
    mesh_run(&mesh, 1); // part of it moves
    core_destroy(&mesh.nodes[1].core);
    store_rocks_close(&mesh.nodes[1].store);
    node_open(&mesh, &mesh.nodes[1]);
    mesh_set_peers(&mesh);
    for (size_t i = 0; i < mesh.wire_count; i++)
        free(mesh.wire[i].bytes);
    mesh.wire_count = 0; // what was in flight to the old process is lost
    mesh_run(&mesh, 40);
    cr_assert_eq(stock(&mesh, 1, "sku-1"), 1500, "no gap and no duplicate after the restart");
    assert_same_digest(&mesh, 0, 1);
    mesh_free(&mesh);
}

Test(replicate, a_link_that_connects_restarts_both_streams_at_once)
{
    static const char *const names[] = {"branch-a", "branch-b"};
    test_anti_entropy_ms = 600000; // no timer Hello within the test: only the link-up
    mesh_t mesh;
    mesh_init(&mesh, names, 2);
    mesh_run(&mesh, 2); // the Hellos on start
    mesh.link[0][1] = mesh.link[1][0] = false;
    submit(&mesh, 0, "stock", "sku-1", "on_hand", "add", "1", 10);
    submit(&mesh, 1, "stock", "sku-2", "on_hand", "add", "1", 20);
    mesh_run(&mesh, 4); // each streams to the other, and the cut link loses it
    mesh.link[0][1] = mesh.link[1][0] = true;
    mesh_run(&mesh, 4);
    cr_assert_eq(stock(&mesh, 1, "sku-1"), 0, "what the cut lost is only sent again on a Hello");
    cr_assert_eq(stock(&mesh, 0, "sku-2"), 0);
    core_peer_link_up(mesh.nodes[0].core, "branch-b"); // as the daemon does on connect
    core_peer_link_up(mesh.nodes[1].core, "branch-a");
    mesh_run(&mesh, 4);
    cr_assert_eq(stock(&mesh, 1, "sku-1"), 10, "the link-up Hello restarts a's stream to b");
    cr_assert_eq(stock(&mesh, 0, "sku-2"), 20, "and b's stream to a");
    test_anti_entropy_ms = 0;
    mesh_free(&mesh);
}

// A Hello whose digest equals ours marks the peer caught up without a walk of our
// origins (on_have's holds_ours). One from a peer that lacks a batch we sent and
// lost must still have it sent again at once: the peer would otherwise get it only
// by grafting at its next Hello, a period later.
Test(replicate, a_hello_that_shows_a_lost_batch_gets_it_sent_again_at_once)
{
    static const char *const names[] = {"branch-a", "branch-b"};
    test_anti_entropy_ms = 600000; // Hellos only when the test moves the clock a period on
    mesh_t mesh;
    mesh_init(&mesh, names, 2);
    mesh_run(&mesh, 2); // the Hellos on start
    submit(&mesh, 0, "stock", "sku-1", "on_hand", "add", "1", 5);
    mesh_run(&mesh, 4);
    cr_assert_eq(stock(&mesh, 1, "sku-1"), 5);
    mesh.link[0][1] = false; // a's next batch to b is lost
    submit(&mesh, 0, "stock", "sku-1", "on_hand", "add", "1", 10);
    mesh_run(&mesh, 4);
    mesh.link[0][1] = true;
    cr_assert_eq(stock(&mesh, 1, "sku-1"), 5);
    // A period on, both say Hello. a's is lost, so that b cannot learn from it what
    // it lacks and ask: only b's Hello can make a send the batch again.
    mesh.now_ms += test_anti_entropy_ms;
    for (int i = 0; i < mesh.count; i++) {
        core_tick(mesh.nodes[i].core, mesh.now_ms);
        node_effects(&mesh, i);
    }
    size_t kept = 0;
    for (size_t k = 0; k < mesh.wire_count; k++) {
        if (mesh.wire[k].from == 0)
            free(mesh.wire[k].bytes);
        else
            mesh.wire[kept++] = mesh.wire[k];
    }
    cr_assert_eq(kept, 1, "b's Hello alone is on the wire");
    mesh.wire_count = kept;
    mesh.hellos_full = mesh.hellos_changed = mesh.hellos_idle = 0;
    mesh_run(&mesh, 3);
    cr_assert_eq(mesh.hellos_full, 0, "a compact Hello, which carries the digest");
    cr_assert_eq(mesh.hellos_changed + mesh.hellos_idle, 1);
    cr_assert_eq(stock(&mesh, 1, "sku-1"), 15, "b's Hello shows the lost batch: a sends it again");
    assert_same_digest(&mesh, 0, 1);
    // Both hold all the other holds: the next round of Hellos sends no operations.
    mesh.ops_batches = 0;
    mesh.now_ms += test_anti_entropy_ms;
    mesh_run(&mesh, 3);
    cr_assert_eq(mesh.ops_batches, 0, "nothing is sent to a peer that holds it all");
    assert_same_digest(&mesh, 0, 1);
    test_anti_entropy_ms = 0;
    mesh_free(&mesh);
}

static uint64_t
repeats_in_mesh(const mesh_t *mesh)
{
    uint64_t repeats = 0;
    for (int i = 0; i < mesh->count; i++)
        repeats += core_counters(mesh->nodes[i].core)->repeats;
    return repeats;
}

// Four nodes, each linked to every other: without pruning, every batch reaches
// each node once directly and twice more through the other two.
Test(replicate, a_mesh_with_many_paths_carries_each_batch_once_after_pruning)
{
    static const char *const names[] = {"branch-a", "branch-b", "branch-c", "cloud"};
    mesh_t mesh;
    mesh_init(&mesh, names, 4);
    mesh_run(&mesh, 2);
    for (int batch = 0; batch < 4; batch++) {
        submit(&mesh, 0, "stock", "sku-1", "on_hand", "add", "1", 5);
        submit(&mesh, 2, "stock", "sku-2", "on_hand", "add", "1", 3);
        mesh_run(&mesh, 3);
    }
    uint64_t learning = repeats_in_mesh(&mesh);
    cr_assert_gt(learning, 0, "the relays push a's first batches too, and are pruned");
    // From here every Hello is idle or changed: a changed Hello whose own or
    // authority entries missed one that rose would not match the digest it carries,
    // and its receiver would ask for a full one.
    mesh.hellos_full = 0;
    mesh.hellos_changed = 0;
    for (int batch = 0; batch < 20; batch++) {
        submit(&mesh, 0, "stock", "sku-1", "on_hand", "add", "1", 5);
        submit(&mesh, 2, "stock", "sku-2", "on_hand", "add", "1", 3);
        mesh_run(&mesh, 3);
    }
    mesh_run(&mesh, 8);
    cr_assert_eq(repeats_in_mesh(&mesh) - learning, 0,
                 "after pruning no node receives a batch twice (%llu repeats)",
                 (unsigned long long)(repeats_in_mesh(&mesh) - learning));
    char first[65];
    digest(&mesh, 0, first);
    for (int i = 1; i < 4; i++) {
        char other[65];
        digest(&mesh, i, other);
        cr_assert_str_eq(first, other, "node %d converged", i);
        cr_assert_eq(stock(&mesh, i, "sku-1"), 120);
        cr_assert_eq(stock(&mesh, i, "sku-2"), 72);
    }
    cr_assert_gt(mesh.hellos_changed, 0, "the writes were announced in changed Hellos");
    cr_assert_eq(mesh.hellos_full, 0, "no Hello failed its digest and was asked for in full (%llu)",
                 (unsigned long long)mesh.hellos_full);
    // The authority's vector, like ours, goes in Hellos as what changed.
    cr_assert_leq(mesh.authority_entries_max, 2, "an idle or changed Hello carried %zu authority entries",
                  mesh.authority_entries_max);
    mesh_free(&mesh);
}

// Once the mesh has pruned down to one path per origin, cutting that path must not
// leave a node without the origin's operations: the node grafts them from a peer
// whose Hello shows it holds more.
Test(replicate, a_cut_in_the_push_path_is_grafted_around)
{
    static const char *const names[] = {"branch-a", "branch-b", "branch-c", "cloud"};
    mesh_t mesh;
    mesh_init(&mesh, names, 4);
    mesh_run(&mesh, 2);
    for (int batch = 0; batch < 6; batch++) {
        submit(&mesh, 0, "stock", "sku-1", "on_hand", "add", "1", 5);
        mesh_run(&mesh, 3);
    }
    mesh_run(&mesh, 8);
    cr_assert_eq(stock(&mesh, 2, "sku-1"), 30);
    uint64_t grafts_before = core_counters(mesh.nodes[2].core)->grafts;
    mesh.link[0][2] = mesh.link[2][0] = false; // a's direct path to c, the one left after pruning
    for (int batch = 0; batch < 4; batch++) {
        submit(&mesh, 0, "stock", "sku-1", "on_hand", "add", "1", 5);
        mesh_run(&mesh, 3);
    }
    mesh_run(&mesh, 12);
    cr_assert_gt(core_counters(mesh.nodes[2].core)->grafts, grafts_before,
                 "c asked b or the cloud to push a's operations again");
    cr_assert_eq(stock(&mesh, 2, "sku-1"), 50, "c has every batch a wrote after the cut");
    assert_same_digest(&mesh, 0, 2);
    mesh_free(&mesh);
}

// A receiver whose disk is slow stages what peers send while its write is in flight,
// and asks its transport to stop reading peers once that reaches
// CORE_STAGED_REMOTE_BYTES_MAX, so a fast sender's credit window waits on the wire
// rather than decoded in memory; the write done, it reads again, and nothing is lost.
Test(replicate, a_receiver_with_a_slow_write_pauses_peer_input_at_its_bound)
{
    static const char *const names[] = {"branch-a", "branch-b"};
    mesh_t mesh;
    mesh_init(&mesh, names, 2);
    mesh_run(&mesh, 2);
    submit(&mesh, 0, "stock", "sku-1", "on_hand", "add", "1", 14000); // 20 batches of 700
    mesh.hold_writes[1] = true;
    submit(&mesh, 1, "stock", "sku-2", "on_hand", "add", "1", 1); // b's own write, held
    cr_assert(mesh.holding[1], "b's write is in flight");
    cr_assert_not(core_peer_input_paused(mesh.nodes[1].core), "nothing from peers staged yet");
    mesh_run(&mesh, 12);
    cr_assert_gt(core_counters(mesh.nodes[0].core)->batches_sent, 0, "a streamed to b");
    cr_assert(core_peer_input_paused(mesh.nodes[1].core),
              "16 batches of credit are more than the staging bound: b pauses its peers");
    mesh.hold_writes[1] = false;
    mesh_finish_held_write(&mesh, 1);
    cr_assert_not(core_peer_input_paused(mesh.nodes[1].core),
                  "the staged batch went to disk: b reads its peers again");
    mesh_run(&mesh, 60);
    cr_assert_eq(stock(&mesh, 1, "sku-1"), 14000);
    cr_assert_eq(stock(&mesh, 0, "sku-2"), 1);
    cr_assert_eq(core_counters(mesh.nodes[1].core)->operations_received, 14000);
    assert_same_digest(&mesh, 0, 1);
    mesh_free(&mesh);
}

// A peer that stops talking is noticed peer_timeout_ms (5 Hello periods here) after
// its last message, and the origins that came from it are grafted from the others;
// also when the clock stepped back an hour while it was still talking, which moves
// the moment it can fall silent back with it.
Test(replicate, a_silent_peer_is_noticed_after_its_timeout_also_after_a_clock_step_back)
{
    static const char *const names[] = {"branch-a", "branch-b", "branch-c"};
    mesh_t mesh;
    mesh_init(&mesh, names, 3);
    mesh_run(&mesh, 4);
    submit(&mesh, 0, "stock", "sku-1", "on_hand", "add", "1", 5);
    mesh_run(&mesh, 8);
    cr_assert_eq(stock(&mesh, 2, "sku-1"), 5, "c took a's operations, from a itself");
    mesh.now_ms -= 3600 * 1000; // every clock steps back an hour (an NTP fix)
    mesh_run(&mesh, 4);         // and a is heard at the new time
    uint64_t grafts = core_counters(mesh.nodes[2].core)->grafts;
    mesh.link[0][2] = mesh.link[2][0] = false; // then c hears nothing more from a
    mesh_run(&mesh, 12);                       // 3 s: a is only quiet
    cr_assert_eq(core_counters(mesh.nodes[2].core)->grafts, grafts, "not silent yet");
    mesh_run(&mesh, 12); // 6 s: past the 5 s timeout
    cr_assert_gt(core_counters(mesh.nodes[2].core)->grafts, grafts,
                 "c noticed that a went silent and asked b for a's operations");
    mesh_free(&mesh);
}

// A group commit larger than CORE_SEAL_OPS_MAX is sealed in runs of that many
// operations: one write on the origin, and peers receive OpsBatches no larger.
Test(replicate, a_large_group_commit_is_sealed_in_runs_a_peer_takes_whole)
{
    static const char *const names[] = {"branch-a", "branch-b"};
    mesh_t mesh;
    mesh_init(&mesh, names, 2);
    enum { COMMANDS = 2 * CORE_SEAL_OPS_MAX + CORE_SEAL_OPS_MAX / 2 };
    cr_assert_geq(CORE_BATCH_COMMANDS_DEFAULT, COMMANDS, "the commands fit one group commit");
    static core_command_t commands[COMMANDS];
    for (size_t i = 0; i < COMMANDS; i++)
        commands[i] = (core_command_t){.command_id = "",
                                       .source = "test",
                                       .type = "stock",
                                       .key = "sku-1",
                                       .field = "on_hand",
                                       .op = "add",
                                       .value = "1",
                                       .value_len = 1,
                                       .has_value = true};
    cr_assert_eq(core_submit(mesh.nodes[0].core, 1, commands, COMMANDS, mesh.now_ms), 0);
    node_effects(&mesh, 0);
    cr_assert_eq(mesh.writes[0], 1, "one group commit wrote all %d commands (got %zu writes)",
                 COMMANDS, mesh.writes[0]);
    mesh_run(&mesh, 12);
    cr_assert_eq(stock(&mesh, 1, "sku-1"), COMMANDS);
    assert_same_digest(&mesh, 0, 1);
    cr_assert_geq(mesh.ops_batches, 3, "three seals, three OpsBatches at least (got %zu)",
                  mesh.ops_batches);
    cr_assert_leq(mesh.ops_batch_ops_max, CORE_SEAL_OPS_MAX,
                  "an OpsBatch of %zu operations; a seal covers %d at most",
                  mesh.ops_batch_ops_max, CORE_SEAL_OPS_MAX);
    mesh_free(&mesh);
}
