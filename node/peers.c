#include "peers.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "datadir.h"
#include "sm_error.h"

#define PEERS_FILE "peers.yaml"
#define PEERS_FILE_TMP "peers.yaml.tmp"
#define PEERS_FILE_LOCK "peers.lock"
#define PEERS_STAMP_MISSING 1u // peers_changed's stamp for "no file"; real stamps are >= 2

static const char peers_header[] =
    "# storemesh peers: the allow-list and dial list of this node. Edit with\n"
    "# `storemesh peer add/remove` (they rewrite this file; comments are not kept).\n"
    "# public_key: Ed25519, 64 hex digits, as printed by `storemesh id` on that node.\n";

static bool
host_is_valid(const char *host, size_t len)
{
    bool bracketed = len >= 3 && host[0] == '[' && host[len - 1] == ']';
    if (len == 0 || (host[0] == '[' && !bracketed))
        return false;
    for (size_t i = bracketed ? 1 : 0; i < (bracketed ? len - 1 : len); i++) {
        char c = host[i];
        bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        bool ok = bracketed ? hex || c == ':' || c == '.'
                            : hex || (c >= 'g' && c <= 'z') || (c >= 'G' && c <= 'Z') || c == '.' ||
                                  c == '-' || c == '_';
        if (!ok)
            return false;
    }
    return true;
}

bool
peers_is_key_only(const peer_entry_t *peer)
{
    return strcmp(peer->endpoint, PEERS_ENDPOINT_NONE) == 0;
}

bool
peers_endpoint_is_valid(const char *endpoint)
{
    assert(endpoint != NULL);
    if (strcmp(endpoint, PEERS_ENDPOINT_NONE) == 0)
        return true; // a key-only entry: no link
    if (strlen(endpoint) > IDENTITY_ENDPOINT_MAX || strncmp(endpoint, "tcp://", 6) != 0)
        return false;
    const char *host = endpoint + 6;
    const char *colon = strrchr(host, ':');
    if (!colon || !host_is_valid(host, (size_t)(colon - host)))
        return false;
    const char *port = colon + 1;
    size_t digits = strlen(port);
    if (digits == 0 || digits > 5)
        return false;
    unsigned long value = 0;
    for (size_t i = 0; i < digits; i++) {
        if (port[i] < '0' || port[i] > '9')
            return false;
        value = value * 10 + (unsigned long)(port[i] - '0');
    }
    return value >= 1 && value <= 65535;
}

bool
peers_public_key_parse(const char *hex, uint8_t out[crypto_sign_PUBLICKEYBYTES])
{
    assert(hex != NULL);
    if (strlen(hex) != PEERS_PUBLIC_KEY_HEX_SIZE)
        return false;
    size_t bin_len = 0;
    return sodium_hex2bin(out, crypto_sign_PUBLICKEYBYTES, hex, PEERS_PUBLIC_KEY_HEX_SIZE, NULL,
                          &bin_len, NULL) == 0 &&
           bin_len == crypto_sign_PUBLICKEYBYTES;
}

int
peers_entry_make(peer_entry_t *out, const char *name, const char *endpoint,
                 const char *public_key_hex, char *err, size_t err_size)
{
    memset(out, 0, sizeof *out);
    if (!identity_name_is_valid(name)) {
        snprintf(err, err_size,
                 "peer name '%.80s' is not valid: use 1 to %d characters from A-Z a-z 0-9 _ . - "
                 "(and not the reserved word 'origin'), as `storemesh id` prints it",
                 name, CRDT_NAME_MAX);
        return -SM_EINVAL;
    }
    if (strncmp(endpoint, "tcp://*:", 8) == 0) {
        snprintf(err, err_size,
                 "endpoint '%.80s' means \"listen on every interface\" and cannot be dialled; give "
                 "an address the other node is reachable at, such as tcp://192.0.2.10:7400",
                 endpoint);
        return -SM_EINVAL;
    }
    if (!peers_endpoint_is_valid(endpoint)) {
        snprintf(err, err_size,
                 "endpoint '%.80s' is not tcp://HOST:PORT (HOST a name, an IPv4 address or "
                 "[IPv6 address], PORT 1-65535, at most %d bytes); give the address the other "
                 "node listens on, as `storemesh id` prints it",
                 endpoint, IDENTITY_ENDPOINT_MAX);
        return -SM_EINVAL;
    }
    if (!peers_public_key_parse(public_key_hex, out->public_key)) {
        snprintf(err, err_size,
                 "public key '%.80s' is not %u hex digits; copy it from `storemesh id --data DIR` "
                 "on the other node",
                 public_key_hex, PEERS_PUBLIC_KEY_HEX_SIZE);
        return -SM_EINVAL;
    }
    snprintf(out->name, sizeof out->name, "%s", name);
    snprintf(out->endpoint, sizeof out->endpoint, "%s", endpoint);
    return 0;
}

// A scalar's text; NULL for a list, a mapping, or text holding a NUL ("\0" in quotes),
// which C strings would silently cut short.
static const char *
scalar(yaml_node_t *node)
{
    if (!node || node->type != YAML_SCALAR_NODE)
        return NULL;
    const char *text = (const char *)node->data.scalar.value;
    return strlen(text) == node->data.scalar.length ? text : NULL;
}

static int
line_of(yaml_node_t *node)
{
    return node ? (int)node->start_mark.line + 1 : 0;
}

// One `- name: .. endpoint: .. public_key: ..` item into out.
static int
parse_entry(yaml_document_t *doc, yaml_node_t *item, const char *path, peer_entry_t *out, char *err,
            size_t err_size)
{
    if (item->type != YAML_MAPPING_NODE) {
        snprintf(err, err_size, "%s:%d: a peer is a mapping of name, endpoint and public_key", path,
                 line_of(item));
        return -SM_ECORRUPT;
    }
    const char *words[3] = {NULL, NULL, NULL}; // name, endpoint, public_key
    static const char *const keys[3] = {"name", "endpoint", "public_key"};
    for (yaml_node_pair_t *pair = item->data.mapping.pairs.start;
         pair < item->data.mapping.pairs.top; pair++) {
        yaml_node_t *key_node = yaml_document_get_node(doc, pair->key);
        const char *key = scalar(key_node);
        size_t k = 0;
        while (k < 3 && !(key && strcmp(key, keys[k]) == 0))
            k++;
        const char *value = scalar(yaml_document_get_node(doc, pair->value));
        const char *problem = k == 3     ? "is not a peer's key (name, endpoint, public_key)"
                              : words[k] ? "is given twice in this peer; keep one"
                              : !value   ? "must be one plain value (not a list, a mapping or "
                                           "text holding \\0)"
                                         : NULL;
        if (problem) {
            snprintf(err, err_size, "%s:%d: '%.80s' %s", path, line_of(key_node), key ? key : "?",
                     problem);
            return -SM_ECORRUPT;
        }
        words[k] = value;
    }
    for (size_t k = 0; k < 3; k++) {
        if (!words[k]) {
            snprintf(err, err_size, "%s:%d: this peer has no %s; add it", path, line_of(item),
                     keys[k]);
            return -SM_ECORRUPT;
        }
    }
    char why[512];
    if (peers_entry_make(out, words[0], words[1], words[2], why, sizeof why) != 0) {
        snprintf(err, err_size, "%s:%d: %s", path, line_of(item), why);
        return -SM_ECORRUPT;
    }
    return 0;
}

// Names and keys unique, and none of them the node itself.
static int
check_entry(const peer_entry_t *peers, size_t index, const identity_t *self, const char *path,
            int line, char *err, size_t err_size)
{
    const peer_entry_t *entry = &peers[index];
    const char *clash = NULL;
    if (strcmp(entry->name, self->name) == 0 ||
        memcmp(entry->public_key, self->public_key, sizeof entry->public_key) == 0)
        clash = "is this node itself (same name or public key as node.yaml)";
    for (size_t i = 0; i < index && !clash; i++) {
        if (strcmp(peers[i].name, entry->name) == 0)
            clash = "repeats the name of an earlier peer";
        else if (memcmp(peers[i].public_key, entry->public_key, sizeof entry->public_key) == 0)
            clash = "repeats the public key of an earlier peer";
    }
    if (!clash)
        return 0;
    snprintf(err, err_size, "%s:%d: peer '%s' %s; remove this entry", path, line, entry->name,
             clash);
    return -SM_ECORRUPT;
}

// The `peers:` value of the root mapping, or NULL for an empty table.
static int
find_list(yaml_document_t *doc, const char *path, yaml_node_t **list, char *err, size_t err_size)
{
    *list = NULL;
    yaml_node_t *root = yaml_document_get_root_node(doc);
    if (!root || (root->type == YAML_SCALAR_NODE && root->data.scalar.length == 0))
        return 0;
    if (root->type != YAML_MAPPING_NODE) {
        snprintf(err, err_size, "%s:%d: expected `peers:` followed by a list of peers", path,
                 line_of(root));
        return -SM_ECORRUPT;
    }
    for (yaml_node_pair_t *pair = root->data.mapping.pairs.start;
         pair < root->data.mapping.pairs.top; pair++) {
        yaml_node_t *key_node = yaml_document_get_node(doc, pair->key);
        const char *key = scalar(key_node);
        yaml_node_t *value = yaml_document_get_node(doc, pair->value);
        const char *text = scalar(value);
        bool empty = text && (text[0] == 0 || strcmp(text, "~") == 0 || strcmp(text, "null") == 0);
        if (!key || strcmp(key, "peers") != 0 || *list || !value ||
            (value->type != YAML_SEQUENCE_NODE && !empty)) {
            snprintf(err, err_size,
                     "%s:%d: expected one `peers:` key holding a list of peers; remove or fix "
                     "'%.80s'",
                     path, line_of(key_node), key ? key : "?");
            return -SM_ECORRUPT;
        }
        *list = value->type == YAML_SEQUENCE_NODE ? value : NULL;
    }
    return 0;
}

static int
parse_table(yaml_document_t *doc, const identity_t *self, const char *path, peer_entry_t **peers,
            size_t *count, char *err, size_t err_size)
{
    yaml_node_t *list = NULL;
    int rc = find_list(doc, path, &list, err, err_size);
    size_t items =
        list ? (size_t)(list->data.sequence.items.top - list->data.sequence.items.start) : 0;
    if (rc || items == 0)
        return rc;
    if (items > PEERS_MAX) {
        yaml_node_t *extra =
            yaml_document_get_node(doc, list->data.sequence.items.start[PEERS_MAX]);
        snprintf(err, err_size, "%s:%d: more than %d peers (PEERS_MAX); remove some", path,
                 line_of(extra), PEERS_MAX);
        return -SM_ECORRUPT;
    }
    *peers = calloc(items, sizeof **peers);
    if (!*peers)
        return -SM_ENOMEM;
    for (size_t i = 0; i < items && rc == 0; i++) {
        yaml_node_t *item = yaml_document_get_node(doc, list->data.sequence.items.start[i]);
        rc = parse_entry(doc, item, path, &(*peers)[i], err, err_size);
        if (rc == 0)
            rc = check_entry(*peers, i, self, path, line_of(item), err, err_size);
    }
    if (rc) {
        free(*peers);
        *peers = NULL;
        return rc;
    }
    *count = items;
    return 0;
}

// The file's text, NUL-terminated (the caller frees), or NULL in *text when it is missing.
static int
read_file(const char *path, char **text, size_t *len, char *err, size_t err_size)
{
    *text = NULL;
    FILE *file = fopen(path, "rb");
    if (!file) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, err_size, "cannot read '%s': %s; check the data directory's permissions",
                 path, strerror(errno));
        return -SM_EIO;
    }
    *text = malloc(PEERS_FILE_SIZE_BYTES_MAX + 1);
    *len = *text ? fread(*text, 1, PEERS_FILE_SIZE_BYTES_MAX + 1, file) : 0;
    bool failed = ferror(file) != 0;
    fclose(file);
    if (!*text)
        return -SM_ENOMEM;
    int rc = 0;
    if (failed) {
        snprintf(err, err_size, "cannot read '%s': I/O error; check the disk", path);
        rc = -SM_EIO;
    } else if (*len > PEERS_FILE_SIZE_BYTES_MAX) {
        snprintf(err, err_size,
                 "%s: larger than %u bytes; it is not a peers file: fix or remove it", path,
                 PEERS_FILE_SIZE_BYTES_MAX);
        rc = -SM_ECORRUPT;
    }
    if (rc) {
        free(*text);
        *text = NULL;
        return rc;
    }
    (*text)[*len] = 0;
    return 0;
}

static int
load_table(const char *dir, identity_t *self, peer_entry_t **peers, size_t *count, char *err,
           size_t err_size)
{
    *peers = NULL;
    *count = 0;
    int rc = identity_load(dir, false, self, err, err_size);
    char path[DATADIR_PATH_MAX];
    datadir_path(path, dir, PEERS_FILE);
    char *text = NULL;
    size_t len = 0;
    if (rc == 0)
        rc = read_file(path, &text, &len, err, err_size);
    if (rc || !text)
        return rc;
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(err, err_size, "%s:%zu: %s; fix the YAML (docs/CLI.md shows the format)", path,
                 parser.problem_mark.line + 1, parser.problem ? parser.problem : "syntax error");
        rc = -SM_ECORRUPT;
    } else {
        rc = parse_table(&doc, self, path, peers, count, err, err_size);
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    free(text);
    return rc;
}

int
peers_load(const char *dir, peer_entry_t **peers, size_t *count, char *err, size_t err_size)
{
    assert(dir != NULL);
    identity_t self;
    return load_table(dir, &self, peers, count, err, err_size);
}

// Makes the new file's modification time later than the old one's, so that
// peers_changed sees every rewrite even when the inode number is reused and the
// size is the same within one time stamp tick.
static int
advance_mtime(int fd, const char *path)
{
    struct stat old;
    struct stat now;
    if (stat(path, &old) != 0 || fstat(fd, &now) != 0)
        return 0; // no old file: nothing to be later than
    struct timespec steps[2] = {{.tv_sec = 0, .tv_nsec = 1}, {.tv_sec = 1, .tv_nsec = 0}};
    for (size_t i = 0; i < 2; i++) { // 1 ns, then 1 s for file systems that keep seconds
        bool later =
            now.st_mtim.tv_sec > old.st_mtim.tv_sec ||
            (now.st_mtim.tv_sec == old.st_mtim.tv_sec && now.st_mtim.tv_nsec > old.st_mtim.tv_nsec);
        if (later)
            return 0;
        struct timespec times[2] = {{.tv_sec = 0, .tv_nsec = UTIME_OMIT}, old.st_mtim};
        times[1].tv_sec += steps[i].tv_sec;
        times[1].tv_nsec += steps[i].tv_nsec;
        if (times[1].tv_nsec >= 1000000000) {
            times[1].tv_sec++;
            times[1].tv_nsec -= 1000000000;
        }
        if (futimens(fd, times) != 0 || fstat(fd, &now) != 0)
            return -SM_EIO;
    }
    return 0;
}

static int
write_entries(FILE *file, const peer_entry_t *peers, size_t count)
{
    fputs(peers_header, file);
    fputs(count ? "peers:\n" : "peers: []\n", file);
    for (size_t i = 0; i < count; i++) {
        // Checked words hold no quote or backslash, so double quotes need no escapes.
        char key_hex[PEERS_PUBLIC_KEY_HEX_SIZE + 1];
        sodium_bin2hex(key_hex, sizeof key_hex, peers[i].public_key, sizeof peers[i].public_key);
        fprintf(file, "  - name: \"%s\"\n    endpoint: \"%s\"\n    public_key: \"%s\"\n",
                peers[i].name, peers[i].endpoint, key_hex);
    }
    return fflush(file) == 0 && !ferror(file) ? 0 : -SM_EIO;
}

static int
sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -SM_EIO;
    int rc = fsync(fd) == 0 ? 0 : -SM_EIO;
    close(fd);
    return rc;
}

// Replaces DIR/peers.yaml with the table: the old file stays whole on any failure.
static int
write_table(const char *dir, const peer_entry_t *peers, size_t count, char *err, size_t err_size)
{
    char path[DATADIR_PATH_MAX];
    char tmp[DATADIR_PATH_MAX];
    datadir_path(path, dir, PEERS_FILE);
    datadir_path(tmp, dir, PEERS_FILE_TMP);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    FILE *file = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!file) {
        snprintf(err, err_size, "cannot create '%s': %s; check the data directory's permissions",
                 tmp, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -SM_EIO;
    }
    int rc = write_entries(file, peers, count);
    if (rc == 0)
        rc = advance_mtime(fd, path);
    if (rc == 0 && fsync(fd) != 0)
        rc = -SM_EIO;
    int code = errno;
    if (fclose(file) != 0 && rc == 0) {
        code = errno;
        rc = -SM_EIO;
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        code = errno;
        rc = -SM_EIO;
    }
    if (rc) {
        unlink(tmp);
        snprintf(err, err_size,
                 "cannot write '%s': %s; check free disk space (the old table is "
                 "unchanged)",
                 path, strerror(code));
        return rc;
    }
    if (sync_dir(dir) != 0) {
        snprintf(err, err_size,
                 "'%s' written but the directory '%s' could not be synced: %s; "
                 "check the disk",
                 path, dir, strerror(errno));
        return -SM_EIO;
    }
    return 0;
}

// Takes the flock that serialises writers: 0 with *fd to close, or an error with err
// set. Only in a data directory (node.yaml readable), so that a wrong --data creates
// nothing.
static int
lock_table(const char *dir, int *fd, char *err, size_t err_size)
{
    identity_t self;
    int rc = identity_load(dir, false, &self, err, err_size);
    if (rc)
        return rc;
    char path[DATADIR_PATH_MAX];
    datadir_path(path, dir, PEERS_FILE_LOCK);
    *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (*fd < 0) {
        snprintf(err, err_size, "cannot open '%s': %s; check the data directory's permissions",
                 path, strerror(errno));
        return -SM_EIO;
    }
    if (flock(*fd, LOCK_EX) != 0) {
        snprintf(err, err_size, "cannot lock '%s': %s", path, strerror(errno));
        close(*fd);
        *fd = -1;
        return -SM_EIO;
    }
    return 0;
}

static size_t
find_name(const peer_entry_t *peers, size_t count, const char *name)
{
    size_t i = 0;
    while (i < count && strcmp(peers[i].name, name) != 0)
        i++;
    return i;
}

// May peer go into the table at index (count: appended)? 0, or the refusal.
static int
check_new_entry(const char *dir, const identity_t *self, const peer_entry_t *peers, size_t count,
                const peer_entry_t *peer, size_t index, char *err, size_t err_size)
{
    if (strcmp(peer->name, self->name) == 0 ||
        memcmp(peer->public_key, self->public_key, sizeof self->public_key) == 0) {
        snprintf(err, err_size,
                 "'%s' is this node itself (its %s is in %s/node.yaml); run `storemesh id` on the "
                 "other node and add what it prints",
                 peer->name, strcmp(peer->name, self->name) == 0 ? "name" : "public key", dir);
        return -SM_EINVAL;
    }
    for (size_t i = 0; i < count; i++) {
        if (i != index &&
            memcmp(peers[i].public_key, peer->public_key, sizeof self->public_key) == 0) {
            snprintf(err, err_size,
                     "that public key already belongs to peer '%s'; if the node was renamed, "
                     "remove it first: storemesh peer remove --data %s %s",
                     peers[i].name, dir, peers[i].name);
            return -SM_EDUP;
        }
    }
    if (index == count && count >= PEERS_MAX) {
        snprintf(err, err_size,
                 "the peer table is full (%d peers, PEERS_MAX); remove a peer before adding one",
                 PEERS_MAX);
        return -SM_EFULL;
    }
    return 0;
}

int
peers_add(const char *dir, const peer_entry_t *peer, bool *replaced, char *err, size_t err_size)
{
    assert(dir != NULL);
    assert(peer != NULL);
    char key_hex[PEERS_PUBLIC_KEY_HEX_SIZE + 1];
    sodium_bin2hex(key_hex, sizeof key_hex, peer->public_key, sizeof peer->public_key);
    assert(memchr(peer->name, 0, sizeof peer->name) != NULL);
    assert(memchr(peer->endpoint, 0, sizeof peer->endpoint) != NULL);
    peer_entry_t checked;
    int rc = peers_entry_make(&checked, peer->name, peer->endpoint, key_hex, err, err_size);
    int lock = -1;
    if (rc == 0)
        rc = lock_table(dir, &lock, err, err_size);
    if (rc)
        return rc;
    identity_t self;
    peer_entry_t *peers = NULL;
    size_t count = 0;
    rc = load_table(dir, &self, &peers, &count, err, err_size);
    size_t index = find_name(peers, count, peer->name);
    if (rc == 0)
        rc = check_new_entry(dir, &self, peers, count, &checked, index, err, err_size);
    if (rc == 0 && index == count) {
        peer_entry_t *grown = realloc(peers, (count + 1) * sizeof *peers);
        rc = grown ? 0 : -SM_ENOMEM;
        peers = grown ? grown : peers;
    }
    if (rc == 0) {
        peers[index] = checked;
        rc = write_table(dir, peers, index == count ? count + 1 : count, err, err_size);
    }
    if (rc == 0 && replaced)
        *replaced = index < count;
    free(peers);
    close(lock);
    return rc;
}

static void
describe_unknown_name(const char *dir, const peer_entry_t *peers, size_t count, const char *name,
                      char *err, size_t err_size)
{
    if (count == 0) {
        snprintf(err, err_size, "no peer is called '%.80s': this node has no peers", name);
        return;
    }
    int used = snprintf(err, err_size,
                        "no peer is called '%.80s' (`storemesh peers --data %s` lists them); "
                        "known peers: ",
                        name, dir);
    for (size_t i = 0; i < count && used >= 0 && (size_t)used < err_size; i++)
        used += snprintf(err + used, err_size - (size_t)used, "%s%s", i ? ", " : "", peers[i].name);
}

int
peers_remove(const char *dir, const char *name, char *err, size_t err_size)
{
    assert(dir != NULL);
    assert(name != NULL);
    int lock = -1;
    int rc = lock_table(dir, &lock, err, err_size);
    if (rc)
        return rc;
    identity_t self;
    peer_entry_t *peers = NULL;
    size_t count = 0;
    rc = load_table(dir, &self, &peers, &count, err, err_size);
    size_t index = find_name(peers, count, name);
    if (rc == 0 && index == count) {
        describe_unknown_name(dir, peers, count, name, err, err_size);
        rc = -SM_ENOTFOUND;
    }
    if (rc == 0) {
        memmove(&peers[index], &peers[index + 1], (count - index - 1) * sizeof *peers);
        rc = write_table(dir, peers, count - 1, err, err_size);
    }
    free(peers);
    close(lock);
    return rc;
}

static uint64_t
mix(uint64_t hash, uint64_t value)
{
    hash ^= value + 0x9e3779b97f4a7c15u + (hash << 6) + (hash >> 2);
    return hash;
}

bool
peers_changed(const char *dir, uint64_t *stamp)
{
    assert(dir != NULL);
    assert(stamp != NULL);
    char path[DATADIR_PATH_MAX];
    datadir_path(path, dir, PEERS_FILE);
    struct stat info;
    uint64_t now = PEERS_STAMP_MISSING;
    if (stat(path, &info) == 0) {
        now = mix(mix(0, (uint64_t)info.st_dev), (uint64_t)info.st_ino);
        now = mix(mix(now, (uint64_t)info.st_size), (uint64_t)info.st_mtim.tv_sec);
        now = mix(now, (uint64_t)info.st_mtim.tv_nsec);
        now = now <= PEERS_STAMP_MISSING ? now + 2 : now;
    }
    bool changed = now != *stamp;
    *stamp = now;
    return changed;
}
