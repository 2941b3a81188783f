#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "identity.h"
#include "peers.h"
#include "sm_error.h"

static char dir[64];
static identity_t self;

static void
setup(void)
{
    cr_assert(sodium_init() >= 0);
    snprintf(dir, sizeof dir, "/tmp/sm-peers-test.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    char err[512];
    cr_assert_eq(identity_create(dir, "self", "tcp://127.0.0.1:7400", &self, err, sizeof err), 0,
                 "%s", err);
}

static void
teardown(void)
{
    char command[128];
    snprintf(command, sizeof command, "rm -rf '%s'", dir);
    cr_assert_eq(system(command), 0);
}

TestSuite(peers, .init = setup, .fini = teardown, .timeout = 60.0);

static peer_entry_t
peer(const char *name, int port)
{
    peer_entry_t entry;
    memset(&entry, 0, sizeof entry);
    snprintf(entry.name, sizeof entry.name, "%s", name);
    snprintf(entry.endpoint, sizeof entry.endpoint, "tcp://127.0.0.1:%d", port);
    randombytes_buf(entry.public_key, sizeof entry.public_key);
    return entry;
}

static void
write_peers_file(const char *text)
{
    char path[128];
    snprintf(path, sizeof path, "%s/peers.yaml", dir);
    FILE *file = fopen(path, "w");
    cr_assert_not_null(file);
    cr_assert_eq(fputs(text, file) >= 0, true);
    cr_assert_eq(fclose(file), 0);
}

static char *
read_peers_file(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/peers.yaml", dir);
    FILE *file = fopen(path, "r");
    if (!file)
        return NULL;
    char *text = calloc(1, 1 << 20);
    cr_assert_not_null(text);
    size_t len = fread(text, 1, (1 << 20) - 1, file);
    text[len] = 0;
    fclose(file);
    return text;
}

static void
add_ok(const peer_entry_t *entry)
{
    char err[512];
    cr_assert_eq(peers_add(dir, entry, NULL, err, sizeof err), 0, "add %s: %s", entry->name, err);
}

static void
assert_same(const peer_entry_t *a, const peer_entry_t *b)
{
    cr_assert_str_eq(a->name, b->name);
    cr_assert_str_eq(a->endpoint, b->endpoint);
    cr_assert_arr_eq(a->public_key, b->public_key, sizeof a->public_key);
}

static size_t
load_count(peer_entry_t **peers)
{
    char err[512];
    size_t count = 99;
    cr_assert_eq(peers_load(dir, peers, &count, err, sizeof err), 0, "%s", err);
    return count;
}

static char *
hex_key(const uint8_t *key, char out[PEERS_PUBLIC_KEY_HEX_SIZE + 1])
{
    sodium_bin2hex(out, PEERS_PUBLIC_KEY_HEX_SIZE + 1, key, crypto_sign_PUBLICKEYBYTES);
    return out;
}

Test(peers, missing_file_is_an_empty_table)
{
    peer_entry_t *peers = (peer_entry_t *)1;
    cr_assert_eq(load_count(&peers), 0);
    cr_assert_null(peers);
}

Test(peers, empty_files_are_empty_tables)
{
    const char *texts[] = {"", "# only a comment\n", "peers:\n", "peers: []\n", "peers: ~\n"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        write_peers_file(texts[i]);
        peer_entry_t *peers = NULL;
        cr_assert_eq(load_count(&peers), 0, "'%s'", texts[i]);
        cr_assert_null(peers);
    }
}

Test(peers, add_then_load_round_trips_in_order)
{
    peer_entry_t added[3] = {peer("cloud", 7401), peer("branch-b", 7402), peer("x.y_z-9", 65535)};
    bool replaced = true;
    char err[512];
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq(peers_add(dir, &added[i], &replaced, err, sizeof err), 0, "%s", err);
        cr_assert_eq(replaced, false);
    }
    peer_entry_t *peers = NULL;
    cr_assert_eq(load_count(&peers), 3);
    for (size_t i = 0; i < 3; i++)
        assert_same(&peers[i], &added[i]);
    free(peers);
    char path[128];
    snprintf(path, sizeof path, "%s/peers.yaml.tmp", dir);
    cr_assert_neq(access(path, F_OK), 0, "the temporary file is left behind");
}

Test(peers, add_with_same_name_replaces_in_place)
{
    peer_entry_t a = peer("a", 7401);
    peer_entry_t b = peer("b", 7402);
    add_ok(&a);
    add_ok(&b);
    peer_entry_t a2 = peer("a", 7409);
    bool replaced = false;
    char err[512];
    cr_assert_eq(peers_add(dir, &a2, &replaced, err, sizeof err), 0, "%s", err);
    cr_assert_eq(replaced, true);
    peer_entry_t *peers = NULL;
    cr_assert_eq(load_count(&peers), 2);
    assert_same(&peers[0], &a2);
    assert_same(&peers[1], &b);
    free(peers);
}

Test(peers, remove_keeps_the_others)
{
    peer_entry_t added[3] = {peer("a", 7401), peer("b", 7402), peer("c", 7403)};
    for (size_t i = 0; i < 3; i++)
        add_ok(&added[i]);
    char err[512];
    cr_assert_eq(peers_remove(dir, "b", err, sizeof err), 0, "%s", err);
    peer_entry_t *peers = NULL;
    cr_assert_eq(load_count(&peers), 2);
    assert_same(&peers[0], &added[0]);
    assert_same(&peers[1], &added[2]);
    free(peers);
    cr_assert_eq(peers_remove(dir, "a", err, sizeof err), 0, "%s", err);
    cr_assert_eq(peers_remove(dir, "c", err, sizeof err), 0, "%s", err);
    cr_assert_eq(load_count(&peers), 0);
}

Test(peers, remove_of_unknown_name_lists_the_known_ones)
{
    char err[512];
    cr_assert_eq(peers_remove(dir, "ghost", err, sizeof err), -SM_ENOTFOUND);
    cr_assert_not_null(strstr(err, "no peers"), "%s", err);
    peer_entry_t a = peer("alpha", 7401);
    peer_entry_t b = peer("beta", 7402);
    add_ok(&a);
    add_ok(&b);
    cr_assert_eq(peers_remove(dir, "ghost", err, sizeof err), -SM_ENOTFOUND);
    cr_assert_not_null(strstr(err, "'ghost'"), "%s", err);
    cr_assert_not_null(strstr(err, "alpha, beta"), "%s", err);
    peer_entry_t *peers = NULL;
    cr_assert_eq(load_count(&peers), 2);
    free(peers);
}

Test(peers, remove_message_fits_a_small_buffer)
{
    for (int i = 0; i < 40; i++) {
        char name[32];
        snprintf(name, sizeof name, "a-rather-long-peer-name-%02d", i);
        peer_entry_t entry = peer(name, 7000 + i);
        add_ok(&entry);
    }
    char err[200];
    cr_assert_eq(peers_remove(dir, "ghost", err, sizeof err), -SM_ENOTFOUND);
    cr_assert_lt(strlen(err), sizeof err);
}

Test(peers, refuses_the_node_itself)
{
    char err[512];
    peer_entry_t by_name = peer("self", 7401);
    cr_assert_eq(peers_add(dir, &by_name, NULL, err, sizeof err), -SM_EINVAL);
    cr_assert_not_null(strstr(err, "this node itself"), "%s", err);
    peer_entry_t by_key = peer("other-name", 7401);
    memcpy(by_key.public_key, self.public_key, sizeof by_key.public_key);
    cr_assert_eq(peers_add(dir, &by_key, NULL, err, sizeof err), -SM_EINVAL);
    cr_assert_not_null(strstr(err, "public key"), "%s", err);
    cr_assert_null(read_peers_file(), "a refused add wrote the file");
}

Test(peers, refuses_a_key_used_by_another_name)
{
    peer_entry_t a = peer("a", 7401);
    add_ok(&a);
    peer_entry_t b = peer("b", 7402);
    memcpy(b.public_key, a.public_key, sizeof b.public_key);
    char err[512];
    cr_assert_eq(peers_add(dir, &b, NULL, err, sizeof err), -SM_EDUP);
    cr_assert_not_null(strstr(err, "'a'"), "%s", err);
    peer_entry_t *peers = NULL;
    cr_assert_eq(load_count(&peers), 1);
    free(peers);
    // The same name keeping its key is a replacement, not a duplicate.
    peer_entry_t a_moved = a;
    snprintf(a_moved.endpoint, sizeof a_moved.endpoint, "tcp://[::1]:7500");
    add_ok(&a_moved);
}

Test(peers, refuses_invalid_entries)
{
    char err[512];
    peer_entry_t bad_name = peer("origin", 7401);
    cr_assert_eq(peers_add(dir, &bad_name, NULL, err, sizeof err), -SM_EINVAL);
    peer_entry_t bad_endpoint = peer("a", 7401);
    snprintf(bad_endpoint.endpoint, sizeof bad_endpoint.endpoint, "udp://h:1");
    cr_assert_eq(peers_add(dir, &bad_endpoint, NULL, err, sizeof err), -SM_EINVAL);
    cr_assert_not_null(strstr(err, "tcp://HOST:PORT"), "%s", err);
    cr_assert_null(read_peers_file());
}

Test(peers, checks_endpoints)
{
    const char *good[] = {"tcp://127.0.0.1:7400", "tcp://cloud.example.com:1", "tcp://[::1]:65535",
                          "tcp://host_1:80", "tcp://0.0.0.0:7400"};
    const char *bad[] = {"",
                         "tcp://",
                         "tcp://host",
                         "tcp://host:",
                         "tcp://:7400",
                         "tcp://host:0",
                         "tcp://host:65536",
                         "tcp://host:123456",
                         "tcp://host:+80",
                         "tcp://host:80x",
                         "tcp://*:7400",
                         "tcp://::1:7400",
                         "tcp://[::1:7400",
                         "tcp://[]:7400",
                         "tcp://h st:1",
                         "tcp://h\"st:1",
                         "ipc:///tmp/x",
                         "TCP://host:1",
                         "host:7400"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        cr_assert(peers_endpoint_is_valid(good[i]), "%s", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_not(peers_endpoint_is_valid(bad[i]), "'%s'", bad[i]);
    char longest[IDENTITY_ENDPOINT_MAX + 2];
    memset(longest, 'h', sizeof longest);
    memcpy(longest, "tcp://", 6);
    memcpy(longest + IDENTITY_ENDPOINT_MAX - 5, ":7400", 6);
    cr_assert_eq(strlen(longest), IDENTITY_ENDPOINT_MAX);
    cr_assert(peers_endpoint_is_valid(longest));
    memcpy(longest + IDENTITY_ENDPOINT_MAX - 4, ":7400", 6);
    cr_assert_not(peers_endpoint_is_valid(longest));
}

Test(peers, checks_public_keys)
{
    uint8_t key[crypto_sign_PUBLICKEYBYTES];
    char hex[PEERS_PUBLIC_KEY_HEX_SIZE + 1];
    memset(hex, 'a', PEERS_PUBLIC_KEY_HEX_SIZE);
    hex[PEERS_PUBLIC_KEY_HEX_SIZE] = 0;
    cr_assert(peers_public_key_parse(hex, key));
    cr_assert_eq(key[0], 0xaa);
    hex[5] = 'G';
    cr_assert_not(peers_public_key_parse(hex, key));
    hex[5] = 'A';
    cr_assert(peers_public_key_parse(hex, key), "upper case hex is hex");
    hex[63] = 0;
    cr_assert_not(peers_public_key_parse(hex, key), "63 digits");
    cr_assert_not(peers_public_key_parse("", key));
    char longer[PEERS_PUBLIC_KEY_HEX_SIZE + 3];
    memset(longer, 'b', sizeof longer - 1);
    longer[sizeof longer - 1] = 0;
    cr_assert_not(peers_public_key_parse(longer, key), "66 digits");
}

Test(peers, entry_make_names_the_bad_word)
{
    peer_entry_t entry;
    char err[512];
    char key[PEERS_PUBLIC_KEY_HEX_SIZE + 1];
    hex_key(self.public_key, key);
    cr_assert_eq(peers_entry_make(&entry, "no spaces", "tcp://h:1", key, err, sizeof err),
                 -SM_EINVAL);
    cr_assert_not_null(strstr(err, "'no spaces'"), "%s", err);
    cr_assert_eq(peers_entry_make(&entry, "a", "tcp://*:7400", key, err, sizeof err), -SM_EINVAL);
    cr_assert_not_null(strstr(err, "cannot be dialled"), "%s", err);
    cr_assert_eq(peers_entry_make(&entry, "a", "tcp://h:1", "xyz", err, sizeof err), -SM_EINVAL);
    cr_assert_not_null(strstr(err, "'xyz'"), "%s", err);
    cr_assert_eq(peers_entry_make(&entry, "a", "tcp://h:1", key, err, sizeof err), 0);
    cr_assert_str_eq(entry.name, "a");
    cr_assert_arr_eq(entry.public_key, self.public_key, sizeof entry.public_key);
}

typedef struct {
    const char *text;
    const char *where; // "peers.yaml:LINE:"
    const char *what;  // a piece of the message
} bad_file_t;

Test(peers, bad_files_are_refused_with_their_line)
{
    static const char key_a[] = "1111111111111111111111111111111111111111111111111111111111111111";
    static const char key_b[] = "2222222222222222222222222222222222222222222222222222222222222222";
    char self_key[PEERS_PUBLIC_KEY_HEX_SIZE + 1];
    hex_key(self.public_key, self_key);
    char entry_a[256];
    char entry_b_same_name[256];
    char entry_b_same_key[256];
    char entry_self[256];
    const char *format = "  - name: %s\n    endpoint: tcp://h:1\n    public_key: %s\n";
    snprintf(entry_a, sizeof entry_a, format, "a", key_a);
    snprintf(entry_b_same_name, sizeof entry_b_same_name, format, "a", key_b);
    snprintf(entry_b_same_key, sizeof entry_b_same_key, format, "b", key_a);
    snprintf(entry_self, sizeof entry_self, format, "me", self_key);
    char same_name[600];
    char same_key[600];
    char itself[600];
    snprintf(same_name, sizeof same_name, "peers:\n%s%s", entry_a, entry_b_same_name);
    snprintf(same_key, sizeof same_key, "peers:\n%s%s", entry_a, entry_b_same_key);
    snprintf(itself, sizeof itself, "# c\npeers:\n%s", entry_self);
    const bad_file_t cases[] = {
        {"peers:\n  - name: [a\n", "peers.yaml:3:", "fix the YAML"},
        {"peers:\n  - name: a\n    endpoint: tcp://h:1\n    color: red\n",
         "peers.yaml:4:", "'color'"},
        {"peers:\n  - name: a\n    endpoint: tcp://h:1\n", "peers.yaml:2:", "no public_key"},
        {"peers:\n  - name: a\n    endpoint: tcp://h:1\n    public_key: 12ab\n",
         "peers.yaml:2:", "'12ab'"},
        {"peers:\n  - name: a\n    name: b\n", "peers.yaml:3:", "twice"},
        {"peers:\n  - name: [a, b]\n", "peers.yaml:2:", "one plain value"},
        {"peers:\n  - name: \"a\\0b\"\n", "peers.yaml:2:", "one plain value"},
        {"peers:\n  - just-a-word\n", "peers.yaml:2:", "mapping"},
        {"peers: 3\n", "peers.yaml:1:", "'peers'"},
        {"peer:\n  - name: a\n", "peers.yaml:1:", "'peer'"},
        {"- name: a\n", "peers.yaml:1:", "`peers:`"},
        {same_name, "peers.yaml:5:", "repeats the name"},
        {same_key, "peers.yaml:5:", "repeats the public key"},
        {itself, "peers.yaml:3:", "this node itself"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_peers_file(cases[i].text);
        peer_entry_t *peers = (peer_entry_t *)1;
        size_t count = 7;
        char err[1024] = "";
        cr_assert_eq(peers_load(dir, &peers, &count, err, sizeof err), -SM_ECORRUPT, "case %zu: %s",
                     i, cases[i].text);
        cr_assert_null(peers);
        cr_assert_eq(count, 0);
        cr_assert_not_null(strstr(err, cases[i].where), "case %zu: '%s'", i, err);
        cr_assert_not_null(strstr(err, cases[i].what), "case %zu: '%s'", i, err);
        cr_assert_not_null(strstr(err, dir), "case %zu names the file: '%s'", i, err);
    }
}

Test(peers, a_bad_file_is_never_overwritten)
{
    const char *text = "peers:\n  - name: a\n    oops: 1\n";
    write_peers_file(text);
    peer_entry_t b = peer("b", 7402);
    char err[512];
    cr_assert_eq(peers_add(dir, &b, NULL, err, sizeof err), -SM_ECORRUPT);
    cr_assert_eq(peers_remove(dir, "a", err, sizeof err), -SM_ECORRUPT);
    char *now = read_peers_file();
    cr_assert_str_eq(now, text);
    free(now);
}

Test(peers, reads_hand_written_plain_and_quoted_values)
{
    write_peers_file("# hand written\npeers:\n"
                     "  - name: cloud   # the authority\n"
                     "    endpoint: \"tcp://10.0.0.1:7401\"\n"
                     "    public_key: "
                     "3B6A27BCCEB6A42D62A3A8D02A6F0D73653215771DE243A63AC048A18B59DA29\n"
                     "  - {name: 'b', endpoint: 'tcp://b:2', public_key: "
                     "'3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da30'}\n");
    peer_entry_t *peers = NULL;
    cr_assert_eq(load_count(&peers), 2);
    cr_assert_str_eq(peers[0].name, "cloud");
    cr_assert_str_eq(peers[0].endpoint, "tcp://10.0.0.1:7401");
    cr_assert_eq(peers[0].public_key[0], 0x3b);
    cr_assert_str_eq(peers[1].endpoint, "tcp://b:2");
    cr_assert_eq(peers[1].public_key[31], 0x30);
    free(peers);
}

static void
write_full_table(size_t count)
{
    size_t size = 64 + count * 160;
    char *text = malloc(size);
    cr_assert_not_null(text);
    size_t used = (size_t)snprintf(text, size, "peers:\n");
    for (size_t i = 0; i < count; i++) {
        uint8_t key[crypto_sign_PUBLICKEYBYTES] = {0};
        key[0] = (uint8_t)(i >> 8);
        key[1] = (uint8_t)i;
        key[2] = 0x5a; // never the node's random key in practice
        char hex[PEERS_PUBLIC_KEY_HEX_SIZE + 1];
        used += (size_t)snprintf(text + used, size - used,
                                 "  - name: p%zu\n    endpoint: tcp://h:%zu\n    public_key: %s\n",
                                 i, 1000 + i, hex_key(key, hex));
    }
    write_peers_file(text);
    free(text);
}

Test(peers, the_table_is_bounded)
{
    write_full_table(PEERS_MAX);
    peer_entry_t *peers = NULL;
    cr_assert_eq(load_count(&peers), PEERS_MAX);
    free(peers);
    char err[512];
    peer_entry_t extra = peer("one-too-many", 7401);
    cr_assert_eq(peers_add(dir, &extra, NULL, err, sizeof err), -SM_EFULL);
    cr_assert_not_null(strstr(err, "full"), "%s", err);
    // Replacing an entry of a full table is not growth.
    peer_entry_t again = peer("p7", 9999);
    bool replaced = false;
    cr_assert_eq(peers_add(dir, &again, &replaced, err, sizeof err), 0, "%s", err);
    cr_assert(replaced);
    cr_assert_eq(peers_remove(dir, "p0", err, sizeof err), 0, "%s", err);
    add_ok(&extra);
    cr_assert_eq(load_count(&peers), PEERS_MAX);
    free(peers);

    write_full_table(PEERS_MAX + 1);
    size_t count = 0;
    cr_assert_eq(peers_load(dir, &peers, &count, err, sizeof err), -SM_ECORRUPT);
    char where[64];
    snprintf(where, sizeof where, "peers.yaml:%d:", 2 + 3 * PEERS_MAX);
    cr_assert_not_null(strstr(err, where), "%s", err);
}

Test(peers, changed_sees_a_change_and_not_a_non_change)
{
    uint64_t stamp = 0;
    cr_assert(peers_changed(dir, &stamp), "the first call reports the state");
    cr_assert_not(peers_changed(dir, &stamp), "no file, still no file");
    peer_entry_t a = peer("a", 7401);
    add_ok(&a);
    cr_assert(peers_changed(dir, &stamp), "created");
    cr_assert_not(peers_changed(dir, &stamp));
    cr_assert_not(peers_changed(dir, &stamp));
    peer_entry_t *peers = NULL;
    cr_assert_eq(load_count(&peers), 1);
    free(peers);
    cr_assert_not(peers_changed(dir, &stamp), "reading is not a change");
    // Same length, rewritten quickly: size and perhaps inode and time tick repeat.
    for (int i = 0; i < 20; i++) {
        peer_entry_t moved = peer("a", 7402 + i % 2);
        memcpy(moved.public_key, a.public_key, sizeof a.public_key);
        add_ok(&moved);
        cr_assert(peers_changed(dir, &stamp), "rewrite %d", i);
        cr_assert_not(peers_changed(dir, &stamp));
    }
    char err[512];
    cr_assert_eq(peers_remove(dir, "a", err, sizeof err), 0, "%s", err);
    cr_assert(peers_changed(dir, &stamp), "removed");
    char path[128];
    snprintf(path, sizeof path, "%s/peers.yaml", dir);
    cr_assert_eq(unlink(path), 0);
    cr_assert(peers_changed(dir, &stamp), "deleted");
    cr_assert_not(peers_changed(dir, &stamp));
}

// The guarantee behind peers_changed: a rewrite's modification time is later than
// the old file's, even when the old one's lies ahead of the clock, so that a reused
// inode number of the same size never looks unchanged.
Test(peers, rewrite_moves_the_modification_time_forward)
{
    peer_entry_t a = peer("a", 7401);
    add_ok(&a);
    char path[128];
    snprintf(path, sizeof path, "%s/peers.yaml", dir);
    struct stat before;
    cr_assert_eq(stat(path, &before), 0);
    struct timespec ahead[2] = {{.tv_sec = 0, .tv_nsec = UTIME_OMIT}, before.st_mtim};
    ahead[1].tv_sec += 3600;
    cr_assert_eq(utimensat(AT_FDCWD, path, ahead, 0), 0);
    peer_entry_t moved = a;
    snprintf(moved.endpoint, sizeof moved.endpoint, "tcp://127.0.0.1:7402");
    add_ok(&moved);
    struct stat after;
    cr_assert_eq(stat(path, &after), 0);
    cr_assert(after.st_mtim.tv_sec > ahead[1].tv_sec || (after.st_mtim.tv_sec == ahead[1].tv_sec &&
                                                         after.st_mtim.tv_nsec > ahead[1].tv_nsec),
              "mtime %lld.%09ld is not after %lld.%09ld", (long long)after.st_mtim.tv_sec,
              after.st_mtim.tv_nsec, (long long)ahead[1].tv_sec, ahead[1].tv_nsec);
}

Test(peers, changed_sees_a_hand_edit)
{
    uint64_t stamp = 0;
    write_peers_file("peers: []\n");
    cr_assert(peers_changed(dir, &stamp));
    write_peers_file("peers: []\n# more\n");
    cr_assert(peers_changed(dir, &stamp), "appended");
}

enum { WRITERS = 4, ADDS_PER_WRITER = 25 };

static void
add_many(int writer)
{
    for (int i = 0; i < ADDS_PER_WRITER; i++) {
        char name[32];
        snprintf(name, sizeof name, "w%d-%d", writer, i);
        peer_entry_t entry = peer(name, 7000 + writer * 100 + i);
        char err[512];
        if (peers_add(dir, &entry, NULL, err, sizeof err) != 0) {
            fprintf(stderr, "writer %d: %s\n", writer, err);
            _exit(1);
        }
    }
    _exit(0);
}

Test(peers, concurrent_writers_lose_nothing)
{
    pid_t children[WRITERS];
    for (int w = 0; w < WRITERS; w++) {
        children[w] = fork();
        cr_assert_neq(children[w], -1);
        if (children[w] == 0) {
            randombytes_stir(); // the children must not share key streams
            add_many(w);
        }
    }
    for (int w = 0; w < WRITERS; w++) {
        int status = 0;
        cr_assert_eq(waitpid(children[w], &status, 0), children[w]);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer %d failed", w);
    }
    peer_entry_t *peers = NULL;
    size_t count = load_count(&peers);
    cr_assert_eq(count, WRITERS * ADDS_PER_WRITER);
    for (int w = 0; w < WRITERS; w++) {
        for (int i = 0; i < ADDS_PER_WRITER; i++) {
            char name[32];
            snprintf(name, sizeof name, "w%d-%d", w, i);
            size_t k = 0;
            while (k < count && strcmp(peers[k].name, name) != 0)
                k++;
            cr_assert_lt(k, count, "%s was lost", name);
        }
    }
    free(peers);
}

Test(peers, needs_a_data_directory)
{
    char err[512];
    peer_entry_t *peers = NULL;
    size_t count = 0;
    cr_assert_eq(peers_load("/nonexistent/sm-peers", &peers, &count, err, sizeof err),
                 -SM_ENOTFOUND);
    peer_entry_t a = peer("a", 7401);
    cr_assert_eq(peers_add("/nonexistent/sm-peers", &a, NULL, err, sizeof err), -SM_ENOTFOUND);
    cr_assert_not_null(strstr(err, "node.yaml"), "%s", err);
}
