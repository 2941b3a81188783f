// daemon: `storemesh run`: the production adapters around the core. It holds the
// data directory's lock, opens RocksDB, serves the control socket
// (ipc://DIR/control.sock, docs/CONTROL.md) and carries out the core's effects with
// real fsyncs, until SIGINT or SIGTERM. Logs go to stderr.
#ifndef NODE_DAEMON_H
#define NODE_DAEMON_H

// Runs the node on data_dir in the foreground. Returns the process exit code
// (docs/CLI.md): 0 after a clean stop, 1 when the data directory is missing, held
// or unreadable, 2 when its rules file is bad.
int daemon_run(const char *data_dir);

#endif
