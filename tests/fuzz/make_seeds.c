// make_seeds: writes the checked-in seed corpus of the fuzz targets
// (tests/fuzz/corpus/<target>/) from real cores, so every seed is what a node
// really sends or stores:
//   fuzz_peer_message, fuzz_peer_signed: the PeerMessages "cloud" sends "branch-1"
//       in a three-node mesh (Hellos, Acks, OpsBatches of its own and relayed from
//       "branch-2", with real seals);
//   fuzz_control_request: a Request of each kind, packed as the CLI would;
//   fuzz_operation: Operation and Seal bytes from those batches, and field states of
//       every merge kind read back from branch-1's RocksDB.
// Keys come from the node names (fixture.h), so the seals verify in the targets.
// Deterministic: the same source writes the same bytes.
//
// usage: fuzz_make_seeds CORPUS_DIR   (run by hand after a format change; commit the result)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "audit_id.h"
#include "fixture.h"
#include "storemesh.pb-c.h"

#define MESH_NODES 3
#define WIRE_MESSAGES_MAX 4096
#define MESH_ROUNDS 20
#define SEEDS_PER_KIND_MAX 4 // of each kind of peer message, and seals
#define SEEDS_VARIED_MAX 12  // of operations and states, to meet every merge kind

typedef struct {
    int from;
    int to;
    uint8_t *bytes;
    size_t len;
} wire_t;

typedef struct {
    fixture_node_t nodes[MESH_NODES]; // branch-1, cloud, branch-2
    wire_t wire[WIRE_MESSAGES_MAX];
    size_t wire_count;
    uint64_t now_ms;
    int sending; // the node whose effects are being drained
    const char *corpus;
    size_t counts[16]; // seeds written per kind (seed_kind_t)
} mesh_t;

typedef enum {
    SEED_HELLO,
    SEED_HELLO_IDLE, // a digest of the version vector instead of the vector
    SEED_ACK,
    SEED_OPS_OWN,
    SEED_OPS_RELAYED,
    SEED_OPERATION,
    SEED_SEAL,
    SEED_STATE,
} seed_kind_t;

static const char *const seed_names[] = {"hello",       "hello-idle", "ack",  "ops-own",
                                         "ops-relayed", "operation",  "seal", "state"};

static void
die(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_make_seeds: %s: %s\n", what, detail);
    exit(1);
}

static void
write_seed(const char *corpus, const char *target, const char *name, const uint8_t *bytes,
           size_t len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", corpus, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        die("cannot make directory", path);
    snprintf(path, sizeof path, "%s/%s/%s", corpus, target, name);
    FILE *file = fopen(path, "wb");
    if (!file || fwrite(bytes, 1, len, file) != len || fclose(file) != 0)
        die("cannot write", path);
}

// Writes bytes as the next seed of kind for each target listed; false when that
// kind has enough.
static bool
seed_add(mesh_t *mesh, seed_kind_t kind, const char *const *targets, size_t target_count,
         const uint8_t *bytes, size_t len)
{
    size_t max =
        kind == SEED_OPERATION || kind == SEED_STATE ? SEEDS_VARIED_MAX : SEEDS_PER_KIND_MAX;
    if (mesh->counts[kind] >= max)
        return false;
    char name[64];
    snprintf(name, sizeof name, "%s-%zu", seed_names[kind], ++mesh->counts[kind]);
    for (size_t i = 0; i < target_count; i++)
        write_seed(mesh->corpus, targets[i], name, bytes, len);
    return true;
}

static const char *const peer_targets[] = {"fuzz_peer_message", "fuzz_peer_signed"};
static const char *const operation_targets[] = {"fuzz_operation"};

// A message from the cloud to branch-1 becomes a seed, and its operations and seal too.
static void
record(mesh_t *mesh, const uint8_t *bytes, size_t len)
{
    Storemesh__PeerMessage *message = storemesh__peer_message__unpack(NULL, len, bytes);
    if (!message)
        die("the cloud sent", "a message that does not decode");
    seed_kind_t kind = SEED_HELLO;
    if (message->body_case == STOREMESH__PEER_MESSAGE__BODY_HELLO && message->hello->n_have == 0)
        kind = SEED_HELLO_IDLE;
    else if (message->body_case == STOREMESH__PEER_MESSAGE__BODY_ACK)
        kind = SEED_ACK;
    else if (message->body_case == STOREMESH__PEER_MESSAGE__BODY_OPS)
        kind = strcmp(message->ops->origin, FIXTURE_PEER) == 0 ? SEED_OPS_OWN : SEED_OPS_RELAYED;
    if (seed_add(mesh, kind, peer_targets, 2, bytes, len) &&
        message->body_case == STOREMESH__PEER_MESSAGE__BODY_OPS) {
        const Storemesh__OpsBatch *ops = message->ops;
        for (size_t i = 0; i < ops->n_operations; i++)
            seed_add(mesh, SEED_OPERATION, operation_targets, 1, ops->operations[i].data,
                     ops->operations[i].len);
        seed_add(mesh, SEED_SEAL, operation_targets, 1, ops->seal.data, ops->seal.len);
    }
    storemesh__peer_message__free_unpacked(message, NULL);
}

static int
node_index(const mesh_t *mesh, const char *name)
{
    for (int i = 0; i < MESH_NODES; i++)
        if (strcmp(mesh->nodes[i].name, name) == 0)
            return i;
    die("a send to an unknown peer", name);
    return -1;
}

static void
on_effect(void *arg, const fixture_node_t *node, const core_effect_t *effect)
{
    mesh_t *mesh = arg;
    for (size_t i = 0; effect->kind == CORE_EFFECT_REPLY && i < effect->result_count; i++)
        if (effect->results[i].code != CORE_RESULT_OK)
            die(node->name, effect->results[i].message); // every seed command is valid
    if (effect->kind != CORE_EFFECT_SEND)
        return;
    if (mesh->wire_count >= WIRE_MESSAGES_MAX)
        die("the mesh", "more messages in flight than WIRE_MESSAGES_MAX");
    uint8_t *copy = malloc(effect->len ? effect->len : 1);
    if (!copy)
        die("the mesh", "out of memory");
    memcpy(copy, effect->bytes, effect->len);
    mesh->wire[mesh->wire_count++] = (wire_t){.from = mesh->sending,
                                              .to = node_index(mesh, effect->peer),
                                              .bytes = copy,
                                              .len = effect->len};
}

static void
mesh_drain(mesh_t *mesh)
{
    for (int i = 0; i < MESH_NODES; i++) {
        mesh->sending = i;
        fixture_node_drain(&mesh->nodes[i], mesh->now_ms, on_effect, mesh);
    }
}

static void
mesh_round(mesh_t *mesh)
{
    mesh->now_ms += 250;
    for (int i = 0; i < MESH_NODES; i++)
        core_tick(mesh->nodes[i].core, mesh->now_ms);
    mesh_drain(mesh);
    size_t count = mesh->wire_count;
    for (size_t k = 0; k < count; k++) {
        wire_t *message = &mesh->wire[k];
        if (message->from == 1 && message->to == 0)
            record(mesh, message->bytes, message->len);
        core_peer_receive(mesh->nodes[message->to].core, mesh->nodes[message->from].name,
                          message->bytes, message->len, mesh->now_ms);
        free(message->bytes);
    }
    memmove(mesh->wire, mesh->wire + count, (mesh->wire_count - count) * sizeof *mesh->wire);
    mesh->wire_count -= count;
    mesh_drain(mesh);
}

static void
submit(mesh_t *mesh, int index, const char *type, const char *key, const char *field,
       const char *op, const char *value)
{
    static uint64_t request_id;
    if (fixture_node_submit(&mesh->nodes[index], ++request_id, type, key, field, op, value,
                            mesh->now_ms) != 0)
        die("core_submit", "refused a seed command");
}

static void
mesh_open(mesh_t *mesh)
{
    static const char *const names[MESH_NODES] = {FIXTURE_NODE, FIXTURE_PEER, FIXTURE_RELAYED};
    for (int i = 0; i < MESH_NODES; i++)
        fixture_node_open(&mesh->nodes[i], names[i]);
    static const char *const cloud_only[] = {FIXTURE_PEER};
    static const char *const branch_1[] = {FIXTURE_NODE};
    static const char *const branch_2[] = {FIXTURE_RELAYED};
    static const char *const branches[] = {FIXTURE_NODE, FIXTURE_RELAYED};
    fixture_node_set_peers(&mesh->nodes[0], cloud_only, 1, branch_2, 1);
    fixture_node_set_peers(&mesh->nodes[1], branches, 2, NULL, 0);
    fixture_node_set_peers(&mesh->nodes[2], cloud_only, 1, branch_1, 1);
}

// Writes on every node, in several batches, then lets the mesh converge.
static void
mesh_work(mesh_t *mesh)
{
    submit(mesh, 1, "price", "sku-1", "amount", "set", "9.99");
    submit(mesh, 1, "stock", "sku-1", "on_hand", "add", "100");
    mesh_drain(mesh);
    submit(mesh, 1, "customer", "c-1", "email", "set", "cloud@example.com");
    submit(mesh, 2, "stock", "sku-1", "on_hand", "add", "-1");
    submit(mesh, 2, "customer", "c-1", "tags", "add", "new");
    mesh_drain(mesh);
    submit(mesh, 2, "customer", "c-1", "phone", "set", "555-0199");
    submit(mesh, 2, "voucher", "v-1", "redeemed_by", "set", "branch-2");
    submit(mesh, 2, "order", "o-2", "status", "set", "open");
    submit(mesh, 0, "voucher", "v-1", "redeemed_by", "set", "branch-1");
    submit(mesh, 0, "customer", "c-1", "tags", "add", "vip");
    mesh_drain(mesh);
    for (int round = 0; round < MESH_ROUNDS / 2; round++)
        mesh_round(mesh);
    // A restarted branch-1 cannot match the cloud's idle Hello: it asks for the full one.
    fixture_node_restart(&mesh->nodes[0]);
    static const char *const cloud_only[] = {FIXTURE_PEER};
    static const char *const branch_2[] = {FIXTURE_RELAYED};
    fixture_node_set_peers(&mesh->nodes[0], cloud_only, 1, branch_2, 1);
    submit(mesh, 0, "customer", "c-1", "tags", "remove", "new");
    submit(mesh, 0, "customer", "c-1", "phone", "set", "555-0100");
    submit(mesh, 1, "stock", "sku-2", "on_hand", "add", "7");
    for (int round = 0; round < MESH_ROUNDS / 2; round++)
        mesh_round(mesh);
}

static int
state_seed(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value, size_t value_len)
{
    (void)key;
    (void)key_len;
    mesh_t *mesh = arg;
    seed_add(mesh, SEED_STATE, operation_targets, 1, value, value_len);
    return mesh->counts[SEED_STATE] >= SEEDS_VARIED_MAX ? 1 : 0;
}

// Writes request, with the next request ID, as a seed of fuzz_control_request.
static void
request_seed(const char *corpus, const char *name, Storemesh__Request *request)
{
    static uint64_t request_id;
    request->version = 1;
    request->request_id = ++request_id;
    size_t len = storemesh__request__get_packed_size(request);
    uint8_t bytes[4096];
    if (len > sizeof bytes)
        die("request seed too large", name);
    storemesh__request__pack(request, bytes);
    write_seed(corpus, "fuzz_control_request", name, bytes, len);
}

// A submit of three commands: a counter, a set removal, a register (no command ID).
static void
submit_seed(const char *corpus)
{
    Storemesh__Command commands[3];
    Storemesh__Command *pointers[3];
    static const char *const words[3][6] = {
        {"cmd-1", "stock", "sku-1", "on_hand", "add", "-2"},
        {"cmd-2", "customer", "c-1", "tags", "remove", "vip"},
        {"", "voucher", "v-9", "redeemed_by", "set", "till-4"},
    };
    for (int i = 0; i < 3; i++) {
        storemesh__command__init(&commands[i]);
        commands[i].command_id = (char *)words[i][0];
        commands[i].source = "till-4";
        commands[i].type = (char *)words[i][1];
        commands[i].key = (char *)words[i][2];
        commands[i].field = (char *)words[i][3];
        commands[i].op = (char *)words[i][4];
        commands[i].value = (ProtobufCBinaryData){strlen(words[i][5]), (uint8_t *)words[i][5]};
        commands[i].has_value = true;
        pointers[i] = &commands[i];
    }
    Storemesh__SubmitRequest submit = STOREMESH__SUBMIT_REQUEST__INIT;
    submit.n_commands = 3;
    submit.commands = pointers;
    Storemesh__Request request = STOREMESH__REQUEST__INIT;
    request.body_case = STOREMESH__REQUEST__BODY_SUBMIT;
    request.submit = &submit;
    request_seed(corpus, "submit", &request);
}

// One request of each read kind.
static void
read_seeds(const char *corpus)
{
    Storemesh__GetRequest get = STOREMESH__GET_REQUEST__INIT;
    get.type = "customer";
    get.key = "c-1";
    char audit_id[AUDIT_ID_MAX];
    audit_id_format(audit_id, FIXTURE_NODE, 2);
    Storemesh__AuditRequest audit = STOREMESH__AUDIT_REQUEST__INIT;
    audit.audit_id = audit_id;
    Storemesh__StatusRequest status = STOREMESH__STATUS_REQUEST__INIT;
    Storemesh__DigestRequest digest = STOREMESH__DIGEST_REQUEST__INIT;
    Storemesh__PeersRequest peers = STOREMESH__PEERS_REQUEST__INIT;
    Storemesh__Request requests[5];
    for (int i = 0; i < 5; i++)
        storemesh__request__init(&requests[i]);
    requests[0].body_case = STOREMESH__REQUEST__BODY_GET;
    requests[0].get = &get;
    requests[1].body_case = STOREMESH__REQUEST__BODY_STATUS;
    requests[1].status = &status;
    requests[2].body_case = STOREMESH__REQUEST__BODY_AUDIT;
    requests[2].audit = &audit;
    requests[3].body_case = STOREMESH__REQUEST__BODY_DIGEST;
    requests[3].digest = &digest;
    requests[4].body_case = STOREMESH__REQUEST__BODY_PEERS;
    requests[4].peers = &peers;
    static const char *const names[5] = {"get", "status", "audit", "digest", "peers"};
    for (int i = 0; i < 5; i++)
        request_seed(corpus, names[i], &requests[i]);
}

int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR (tests/fuzz/corpus)\n", argv[0]);
        return 2;
    }
    static mesh_t mesh;
    mesh.corpus = argv[1];
    mesh.now_ms = FIXTURE_START_MS;
    if (mkdir(mesh.corpus, 0755) != 0 && errno != EEXIST)
        die("cannot make directory", mesh.corpus);
    mesh_open(&mesh);
    mesh_work(&mesh);
    store_reader_t reader = store_rocks_reader(mesh.nodes[0].store);
    if (reader.scan(reader.ctx, STORE_CF_STATE, NULL, 0, NULL, 0, state_seed, &mesh) != 0)
        die("cannot scan", "branch-1's states");
    submit_seed(mesh.corpus);
    read_seeds(mesh.corpus);
    for (size_t kind = 0; kind <= SEED_STATE; kind++)
        printf("%s: %zu seeds\n", seed_names[kind], mesh.counts[kind]);
    for (int i = 0; i < MESH_NODES; i++)
        fixture_node_close(&mesh.nodes[i]);
    for (size_t k = 0; k < mesh.wire_count; k++)
        free(mesh.wire[k].bytes);
    return 0;
}
