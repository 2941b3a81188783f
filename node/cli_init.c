// cli_init: `storemesh init` and `storemesh id`.
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "datadir.h"
#include "identity.h"
#include "keys.h"
#include "rules.h"
#include "sm_error.h"
#include "store_rocks.h"

#define CLI_RULES_FILE_MAX (1u << 20)

static bool
dir_is_empty(const char *path)
{
    DIR *dir = opendir(path);
    if (!dir)
        return false;
    struct dirent *entry;
    bool empty = true;
    while ((entry = readdir(dir)) != NULL) {
        if (strcmp(entry->d_name, ".") && strcmp(entry->d_name, "..")) {
            empty = false;
            break;
        }
    }
    closedir(dir);
    return empty;
}

static int
copy_rules(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb");
    if (!in)
        return cli_fail(CLI_EXIT_USAGE, "cannot read rules file '%s': %s", from, strerror(errno));
    char *text = malloc(CLI_RULES_FILE_MAX);
    size_t len = text ? fread(text, 1, CLI_RULES_FILE_MAX, in) : 0;
    fclose(in);
    FILE *out = text ? fopen(to, "wb") : NULL;
    bool ok = out && fwrite(text, 1, len, out) == len;
    if (out && fclose(out) != 0)
        ok = false;
    free(text);
    if (!ok)
        return cli_fail(CLI_EXIT_ENVIRONMENT, "cannot write '%s': %s; check free disk space", to,
                        strerror(errno));
    return 0;
}

static int
create_database(const char *dir)
{
    char path[DATADIR_PATH_MAX];
    datadir_path(path, dir, "db");
    char err[1024];
    int rc = 0;
    store_rocks_t *store = store_rocks_open(path, true, &rc, err, sizeof err);
    if (!store)
        return cli_fail(CLI_EXIT_ENVIRONMENT, "cannot create the database '%s': %s", path, err);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint8_t created_ms[8];
    keys_put_be64(created_ms, (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u);
    store_batch_t batch;
    store_batch_init(&batch);
    rc = store_batch_put(&batch, STORE_CF_META, KEYS_META_CREATED_MS, strlen(KEYS_META_CREATED_MS),
                         created_ms, sizeof created_ms);
    if (rc == 0)
        rc = store_rocks_write(store, &batch, true, err, sizeof err);
    store_batch_free(&batch);
    store_rocks_close(&store);
    if (rc)
        return cli_fail(CLI_EXIT_ENVIRONMENT, "cannot write the database '%s': %s", path, err);
    return 0;
}

int
cli_init(const cli_args_t *args)
{
    if (!args->name || !args->rules || args->positional_count)
        return cli_fail(CLI_EXIT_USAGE,
                        "usage: storemesh init --data DIR --name NAME --rules FILE "
                        "[--listen ENDPOINT]");
    if (!identity_name_is_valid(args->name))
        return cli_fail(CLI_EXIT_USAGE,
                        "node name '%s' is not valid: use 1 to %d characters from A-Z a-z 0-9 "
                        "_ . - (and not the reserved word 'origin')",
                        args->name, CRDT_NAME_MAX);
    const char *listen = args->listen ? args->listen : IDENTITY_LISTEN_DEFAULT;
    if (strlen(listen) > IDENTITY_ENDPOINT_MAX || strncmp(listen, "tcp://", 6) != 0)
        return cli_fail(CLI_EXIT_USAGE,
                        "--listen '%s' is not a ZeroMQ tcp endpoint such as tcp://0.0.0.0:7400",
                        listen);
    if (strlen(args->data) > DATADIR_IPC_DIR_MAX)
        return cli_fail(CLI_EXIT_USAGE,
                        "data directory path is longer than %d bytes, too long for the control "
                        "socket; use a shorter path",
                        DATADIR_IPC_DIR_MAX);
    char err[1024];
    rules_t *rules = rules_load(args->rules, err, sizeof err);
    if (!rules)
        return cli_fail(CLI_EXIT_USAGE, "rules file refused: %s", err);
    rules_destroy(&rules);
    struct stat info;
    if (stat(args->data, &info) == 0) {
        if (!S_ISDIR(info.st_mode) || !dir_is_empty(args->data))
            return cli_fail(CLI_EXIT_ENVIRONMENT,
                            "'%s' already exists and is not an empty directory; init makes a new "
                            "node: choose a new --data path",
                            args->data);
    } else if (mkdir(args->data, 0700) != 0) {
        return cli_fail(CLI_EXIT_ENVIRONMENT, "cannot create '%s': %s; check the parent directory",
                        args->data, strerror(errno));
    }
    char path[DATADIR_PATH_MAX];
    datadir_path(path, args->data, "rules.yaml");
    int code = copy_rules(args->rules, path);
    if (code)
        return code;
    identity_t identity;
    if (identity_create(args->data, args->name, listen, &identity, err, sizeof err))
        return cli_fail(CLI_EXIT_ENVIRONMENT, "%s", err);
    code = create_database(args->data);
    if (code)
        return code;
    char public_hex[2 * crypto_sign_PUBLICKEYBYTES + 1];
    sodium_bin2hex(public_hex, sizeof public_hex, identity.public_key, sizeof identity.public_key);
    sodium_memzero(identity.secret_key, sizeof identity.secret_key);
    fprintf(stderr,
            "storemesh: node %s initialised in %s (public key %s); start it with `storemesh run "
            "--data %s`\n",
            args->name, args->data, public_hex, args->data);
    return CLI_EXIT_OK;
}

int
cli_id(const cli_args_t *args)
{
    identity_t identity;
    char err[1024];
    int rc = identity_load(args->data, false, &identity, err, sizeof err);
    if (rc)
        return cli_fail(CLI_EXIT_ENVIRONMENT, "%s", err);
    char public_hex[2 * crypto_sign_PUBLICKEYBYTES + 1];
    sodium_bin2hex(public_hex, sizeof public_hex, identity.public_key, sizeof identity.public_key);
    if (args->curve) { // what a node that refused this one logs: match the two
        uint8_t curve[crypto_box_PUBLICKEYBYTES];
        if (crypto_sign_ed25519_pk_to_curve25519(curve, identity.public_key) != 0)
            return cli_fail(CLI_EXIT_ENVIRONMENT,
                            "the public key in node.yaml is not a valid Ed25519 key; restore "
                            "node.yaml and node.key from the same `storemesh init`");
        char curve_hex[2 * crypto_box_PUBLICKEYBYTES + 1];
        sodium_bin2hex(curve_hex, sizeof curve_hex, curve, sizeof curve);
        printf("%s %s\n", identity.name, curve_hex);
        return CLI_EXIT_OK;
    }
    printf("%s %s %s\n", identity.name, public_hex, identity.listen);
    return CLI_EXIT_OK;
}
