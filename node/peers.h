// peers: the peer table of a node, kept in DIR/peers.yaml. It is both the node's
// allow-list (only these keys may connect) and its dial list (these endpoints are
// dialled). `storemesh peer add/remove` edit it, whether or not the node runs; the
// running node notices a change with peers_changed and reloads it with peers_load.
// Not for the live state of links (connected, owed operations): the daemon keeps
// that and answers Request.peers on the control socket.
//
// The file (docs/CLI.md, "The peers file"):
//
//   # storemesh peers: the allow-list and dial list of this node. ...
//   peers:
//     - name: "cloud"                        # identity_name_is_valid
//       endpoint: "tcp://127.0.0.1:7401"     # tcp://HOST:PORT, port 1-65535
//       public_key: "3b6a27bc..."            # Ed25519, 64 hex digits, as `storemesh id` prints
//
// An empty file, a file of comments, `peers:` or `peers: []` is an empty table; so is
// a missing file. Names and keys are unique in the table, and the node itself (its
// name or key in DIR/node.yaml) is never in it. Writes rewrite the whole file
// atomically (DIR/peers.yaml.tmp, fsync, rename, fsync of DIR) under an flock on
// DIR/peers.lock, so concurrent writers never lose an entry and a reader sees the old
// or the new table, never half of one; a rewrite keeps the entries in order but not
// hand-written comments. Readers take no lock.
#ifndef NODE_PEERS_H
#define NODE_PEERS_H

#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crdt.h"
#include "identity.h"

// A chain has hundreds of branches; a mesh link per peer costs a socket and a
// version vector exchange, so a table beyond this is a mistake, not a topology.
#define PEERS_MAX 1024
// A written entry is under 450 bytes; this leaves room for hand-written comments.
#define PEERS_FILE_SIZE_BYTES_MAX (1u << 20)
#define PEERS_PUBLIC_KEY_HEX_SIZE (2 * crypto_sign_PUBLICKEYBYTES) // hex digits, no NUL

typedef struct {
    char name[CRDT_NAME_MAX + 1];                   // NUL-terminated; identity_name_is_valid
    char endpoint[IDENTITY_ENDPOINT_MAX + 1];       // NUL-terminated; peers_endpoint_is_valid
    uint8_t public_key[crypto_sign_PUBLICKEYBYTES]; // Ed25519
} peer_entry_t;

// The endpoint of a key-only entry: no link to that node (it is neither dialled nor
// let in), but operations of that origin relayed by other peers are verified with its
// key. Every node of a mesh needs the key of every origin it receives.
#define PEERS_ENDPOINT_NONE "none"
bool peers_is_key_only(const peer_entry_t *peer);

// True when endpoint is PEERS_ENDPOINT_NONE or tcp://HOST:PORT, at most IDENTITY_ENDPOINT_MAX bytes: HOST a
// host name or IPv4 address ([A-Za-z0-9._-]) or a bracketed IPv6 address, PORT a
// decimal number 1-65535. `*` (listen on all interfaces) cannot be dialled: false.
bool peers_endpoint_is_valid(const char *endpoint);
// True when hex is exactly 64 hex digits; then out holds the 32 bytes.
bool peers_public_key_parse(const char *hex, uint8_t out[crypto_sign_PUBLICKEYBYTES]);
// Fills out from command-line words after checking each. 0, or -SM_EINVAL with err
// naming the bad word and what is expected.
int peers_entry_make(peer_entry_t *out, const char *name, const char *endpoint,
                     const char *public_key_hex, char *err, size_t err_size);

// Reads DIR/peers.yaml. 0 with *peers (the caller's to free(); NULL when *count is 0)
// and *count in file order; a missing file is an empty table. -SM_ECORRUPT with err
// "FILE:LINE: what is wrong; what to do" for bad YAML, an unknown or missing key, a
// bad value, a repeated name or key, the node itself, more than PEERS_MAX entries or
// a file over PEERS_FILE_SIZE_BYTES_MAX. It reads DIR/node.yaml to know the node
// itself: identity_load's -SM_ENOTFOUND/-SM_ECORRUPT/-SM_EIO when that fails, and
// -SM_EIO when peers.yaml exists but cannot be read. -SM_ENOMEM.
int peers_load(const char *dir, peer_entry_t **peers, size_t *count, char *err, size_t err_size);
// Adds peer, or replaces the entry of the same name (*replaced, which may be NULL,
// says which). 0; -SM_EINVAL when peer is not valid or is the node itself; -SM_EDUP
// when another name already has its key; -SM_EFULL when the table holds PEERS_MAX
// entries; peers_load's errors (a bad file is never overwritten); -SM_EIO when the
// file cannot be written (the old table stays). err says what to do.
int peers_add(const char *dir, const peer_entry_t *peer, bool *replaced, char *err,
              size_t err_size);
// Removes the entry called name. 0; -SM_ENOTFOUND with err listing the known names;
// peers_load's errors; -SM_EIO as peers_add.
int peers_remove(const char *dir, const char *name, char *err, size_t err_size);

// Cheap (one stat): true when DIR/peers.yaml (its inode, size and modification time,
// or its absence) differs from *stamp, which it then updates. Start with *stamp = 0:
// the first call returns true. Every rewrite by peers_add/peers_remove changes the
// stamp (the modification time only moves forward); a hand edit changes it unless
// it keeps the size, the inode and the time stamp tick.
bool peers_changed(const char *dir, uint64_t *stamp);

#endif
