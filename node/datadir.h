// datadir: the files of a node's data directory and the lock that says a node is
// running on it. One place for the names, so the CLI, the daemon and the client
// agree:
//   DIR/node.yaml  DIR/node.key  DIR/rules.yaml  DIR/db/ (RocksDB)
//   DIR/node.lock  (flock held by the running node; holds its pid)
//   DIR/control.sock (the control socket while the node runs)
#ifndef NODE_DATADIR_H
#define NODE_DATADIR_H

#include <stdbool.h>
#include <stddef.h>

#define DATADIR_PATH_MAX 4096
// sun_path is 108 bytes; "ipc://" + DIR + "/control.sock" must fit.
#define DATADIR_IPC_DIR_MAX 90

// Writes DIR/NAME into out (DATADIR_PATH_MAX bytes).
void datadir_path(char *out, const char *dir, const char *name);
// The control socket endpoint, "ipc://DIR/control.sock" (DATADIR_PATH_MAX bytes).
void datadir_endpoint(char *out, const char *dir);
// Takes the node lock. The fd (>= 0) keeps it until closed; -1 with err set when
// another process holds it (*held set) or the file cannot be made. A lock held for
// less than 100 ms (a client's datadir_is_locked) is waited out.
int datadir_lock(const char *dir, bool *held, char *err, size_t err_size);
// True when some process holds the node lock on dir. Takes a shared lock for a
// moment to find out.
bool datadir_is_locked(const char *dir);

#endif
