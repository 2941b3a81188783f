// identity: a node's name, key pair and settings in its data directory:
//   node.yaml  name, listen endpoint, public key, commit policy (text, editable)
//   node.key   the Ed25519 secret key, hex, mode 0600 (never leaves the machine)
// `storemesh init` creates them; every other command reads them.
#ifndef NODE_IDENTITY_H
#define NODE_IDENTITY_H

#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crdt.h"

#define IDENTITY_ENDPOINT_MAX 255
#define IDENTITY_LISTEN_DEFAULT "tcp://127.0.0.1:7400"

typedef struct {
    char name[CRDT_NAME_MAX + 1];
    char listen[IDENTITY_ENDPOINT_MAX + 1];
    uint8_t public_key[crypto_sign_PUBLICKEYBYTES];
    uint8_t secret_key[crypto_sign_SECRETKEYBYTES]; // zero unless loaded with the secret
    bool fsync;                  // commit.fsync: acknowledge only after fsync (default true)
    uint32_t batch_commands_max; // commit.batch_commands_max (default CORE_BATCH_COMMANDS_DEFAULT)
} identity_t;

// True when name is 1..CRDT_NAME_MAX bytes of [A-Za-z0-9_.-].
bool identity_name_is_valid(const char *name);
// Makes a key pair and writes node.yaml and node.key into dir (which must exist).
// 0, or -SM_EIO with err set.
int identity_create(const char *dir, const char *name, const char *listen, identity_t *out,
                    char *err, size_t err_size);
// Reads node.yaml (and node.key when with_secret). 0; -SM_ENOTFOUND, -SM_ECORRUPT or
// -SM_EIO with err naming the file, the problem and the fix.
int identity_load(const char *dir, bool with_secret, identity_t *out, char *err, size_t err_size);

#endif
