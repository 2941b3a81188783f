#include "identity.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "core.h"
#include "sm_error.h"

#define IDENTITY_FILE_MAX 65536

bool
identity_name_is_valid(const char *name)
{
    size_t len = strlen(name);
    // "origin" is the rules file's word for "the node that created the entity".
    if (len == 0 || len > CRDT_NAME_MAX || strcmp(name, "origin") == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

static int
write_file(const char *path, const char *text, mode_t mode, char *err, size_t err_size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
    if (fd < 0) {
        snprintf(err, err_size, "cannot create '%s': %s; check the directory's permissions", path,
                 strerror(errno));
        return -SM_EIO;
    }
    size_t len = strlen(text);
    ssize_t written = write(fd, text, len);
    int sync_rc = fsync(fd);
    close(fd);
    if (written != (ssize_t)len || sync_rc != 0) {
        snprintf(err, err_size, "cannot write '%s': %s; check free disk space", path,
                 strerror(errno));
        return -SM_EIO;
    }
    return 0;
}

int
identity_create(const char *dir, const char *name, const char *listen, identity_t *out,
                char *err, size_t err_size)
{
    if (sodium_init() < 0) {
        snprintf(err, err_size, "libsodium failed to initialise");
        return -SM_EIO;
    }
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", name);
    snprintf(out->listen, sizeof out->listen, "%s", listen);
    out->fsync = true;
    out->batch_commands_max = CORE_BATCH_COMMANDS_DEFAULT;
    crypto_sign_keypair(out->public_key, out->secret_key);

    char public_hex[2 * crypto_sign_PUBLICKEYBYTES + 1];
    char secret_hex[2 * crypto_sign_SECRETKEYBYTES + 2];
    sodium_bin2hex(public_hex, sizeof public_hex, out->public_key, sizeof out->public_key);
    sodium_bin2hex(secret_hex, sizeof secret_hex, out->secret_key, sizeof out->secret_key);
    strcat(secret_hex, "\n");

    char path[4096];
    snprintf(path, sizeof path, "%s/node.key", dir);
    int rc = write_file(path, secret_hex, 0600, err, err_size);
    sodium_memzero(secret_hex, sizeof secret_hex);
    if (rc)
        return rc;
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "# storemesh node settings, written by `storemesh init`. See docs/OPERATIONS.md.\n"
             "name: %s\n"
             "listen: \"%s\"\n"
             "public_key: %s\n"
             "commit:\n"
             "  fsync: true              # acknowledge a command only once it is on disk\n"
             "  batch_commands_max: %d # commands that share one fsync at most (group commit)\n",
             name, listen, public_hex, CORE_BATCH_COMMANDS_DEFAULT);
    snprintf(path, sizeof path, "%s/node.yaml", dir);
    return write_file(path, yaml, 0644, err, err_size);
}

static int
read_small_file(const char *path, char **text, size_t *len, char *err, size_t err_size)
{
    FILE *file = fopen(path, "rb");
    if (!file) {
        int code = errno;
        snprintf(err, err_size, "cannot read '%s': %s; is this a data directory made by `storemesh init`?",
                 path, strerror(code));
        return code == ENOENT ? -SM_ENOTFOUND : -SM_EIO;
    }
    *text = malloc(IDENTITY_FILE_MAX + 1);
    if (!*text) {
        fclose(file);
        return -SM_ENOMEM;
    }
    *len = fread(*text, 1, IDENTITY_FILE_MAX + 1, file);
    fclose(file);
    if (*len > IDENTITY_FILE_MAX) {
        free(*text);
        snprintf(err, err_size, "'%s' is larger than %d bytes; it is not a node file", path,
                 IDENTITY_FILE_MAX);
        return -SM_ECORRUPT;
    }
    (*text)[*len] = 0;
    return 0;
}

static const char *
scalar(yaml_document_t *doc, yaml_node_t *node)
{
    (void)doc;
    return node && node->type == YAML_SCALAR_NODE ? (const char *)node->data.scalar.value : NULL;
}

static int
apply_setting(identity_t *out, const char *section, const char *key, const char *value,
              const char *path, int line, char *err, size_t err_size)
{
    bool ok = value != NULL;
    if (!section && strcmp(key, "name") == 0)
        ok = ok && identity_name_is_valid(value) &&
             snprintf(out->name, sizeof out->name, "%s", value) > 0;
    else if (!section && strcmp(key, "listen") == 0)
        ok = ok && strlen(value) <= IDENTITY_ENDPOINT_MAX &&
             snprintf(out->listen, sizeof out->listen, "%s", value) >= 0;
    else if (!section && strcmp(key, "public_key") == 0)
        ok = ok && sodium_hex2bin(out->public_key, sizeof out->public_key, value, strlen(value),
                                  NULL, NULL, NULL) == 0;
    else if (section && strcmp(key, "fsync") == 0) {
        ok = ok && (strcmp(value, "true") == 0 || strcmp(value, "false") == 0);
        out->fsync = ok && strcmp(value, "true") == 0;
    } else if (section && strcmp(key, "batch_commands_max") == 0) {
        long n = ok ? strtol(value, NULL, 10) : 0;
        ok = n >= 1 && n <= 10000;
        out->batch_commands_max = (uint32_t)n;
    } else {
        snprintf(err, err_size,
                 "%s:%d: unknown setting '%s'; valid: name, listen, public_key, commit.fsync, "
                 "commit.batch_commands_max",
                 path, line, key);
        return -SM_ECORRUPT;
    }
    if (!ok) {
        snprintf(err, err_size,
                 "%s:%d: bad value for '%s' (name: [A-Za-z0-9_.-], public_key: 64 hex digits, "
                 "fsync: true|false, batch_commands_max: 1..10000)",
                 path, line, key);
        return -SM_ECORRUPT;
    }
    return 0;
}

static int
walk_mapping(yaml_document_t *doc, yaml_node_t *map, const char *section, identity_t *out,
             const char *path, char *err, size_t err_size)
{
    for (yaml_node_pair_t *pair = map->data.mapping.pairs.start;
         pair < map->data.mapping.pairs.top; pair++) {
        yaml_node_t *key_node = yaml_document_get_node(doc, pair->key);
        yaml_node_t *value_node = yaml_document_get_node(doc, pair->value);
        const char *key = scalar(doc, key_node);
        int line = key_node ? (int)key_node->start_mark.line + 1 : 0;
        if (!key)
            continue;
        int rc;
        if (!section && strcmp(key, "commit") == 0 && value_node &&
            value_node->type == YAML_MAPPING_NODE)
            rc = walk_mapping(doc, value_node, "commit", out, path, err, err_size);
        else
            rc = apply_setting(out, section, key, scalar(doc, value_node), path, line, err,
                               err_size);
        if (rc)
            return rc;
    }
    return 0;
}

static int
load_settings(const char *dir, identity_t *out, char *err, size_t err_size)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/node.yaml", dir);
    char *text = NULL;
    size_t len = 0;
    int rc = read_small_file(path, &text, &len, err, err_size);
    if (rc)
        return rc;
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(err, err_size, "%s:%zu: %s; fix the YAML", path, parser.problem_mark.line + 1,
                 parser.problem ? parser.problem : "syntax error");
        yaml_parser_delete(&parser);
        free(text);
        return -SM_ECORRUPT;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root || root->type != YAML_MAPPING_NODE) {
        snprintf(err, err_size, "%s: expected a mapping of settings", path);
        rc = -SM_ECORRUPT;
    } else {
        rc = walk_mapping(&doc, root, NULL, out, path, err, err_size);
    }
    if (rc == 0 && out->name[0] == 0) {
        snprintf(err, err_size, "%s: no 'name:' setting; add the node's name", path);
        rc = -SM_ECORRUPT;
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    free(text);
    return rc;
}

int
identity_load(const char *dir, bool with_secret, identity_t *out, char *err, size_t err_size)
{
    memset(out, 0, sizeof *out);
    out->fsync = true;
    out->batch_commands_max = CORE_BATCH_COMMANDS_DEFAULT;
    int rc = load_settings(dir, out, err, err_size);
    if (rc || !with_secret)
        return rc;
    char path[4096];
    snprintf(path, sizeof path, "%s/node.key", dir);
    char *text = NULL;
    size_t len = 0;
    rc = read_small_file(path, &text, &len, err, err_size);
    if (rc)
        return rc;
    size_t bin_len = 0;
    rc = sodium_hex2bin(out->secret_key, sizeof out->secret_key, text, len, "\n", &bin_len, NULL);
    sodium_memzero(text, len);
    free(text);
    uint8_t derived[crypto_sign_PUBLICKEYBYTES];
    if (rc || bin_len != sizeof out->secret_key ||
        crypto_sign_ed25519_sk_to_pk(derived, out->secret_key) != 0 ||
        memcmp(derived, out->public_key, sizeof derived) != 0) {
        snprintf(err, err_size,
                 "%s does not hold the secret key matching node.yaml's public_key; restore both "
                 "files from the same backup",
                 path);
        return -SM_ECORRUPT;
    }
    return 0;
}
