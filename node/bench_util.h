// bench_util: what the benchmarks (`storemesh bench local`, `storemesh bench mesh`)
// share: temporary directories, the rules file and the command file they load, the
// operation records of the raw limit and its RocksDB ingest, and running this same
// binary's commands (init, run, submit, ...) as child processes with their stderr in
// one log. Not used by the node itself. Not thread-safe.
#ifndef NODE_BENCH_UTIL_H
#define NODE_BENCH_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define BENCH_HASH_BYTES 32  // BLAKE2b-256, as the node stamps
#define BENCH_RECORD_MAX 512 // bytes of one packed operation; ours is under 200

// Seconds on the monotonic clock since *since.
double bench_seconds_since(const struct timespec *since);
// splitmix64: the same records and commands on every machine.
uint64_t bench_random(uint64_t *state);

// dir/name into out (PATH_MAX bytes); -1 when it does not fit.
int bench_path_join(char *out, const char *dir, const char *name);
// Makes a fresh storemesh-bench.XXXXXX under parent (NULL: $TMPDIR, else /tmp) into
// root (PATH_MAX bytes). 0, or -1 with the cause and the fix printed.
int bench_make_root(const char *parent, char *root);
// Removes path and everything under it; errors are ignored (it is scratch data).
void bench_remove_tree(const char *path);
// The storemesh binary to spawn into exe (PATH_MAX bytes): self_exe when it is a path,
// else /proc/self/exe (a bare name found through PATH cannot be spawned by path).
// 0, or -1 with the cause printed.
int bench_resolve_exe(const char *self_exe, char *exe);

// The retail entities the benchmarks write (stock counters, customer e-mail and
// tags). The queue limit sits above twice ops: no authority acknowledges the queue
// during a run, and refusals are not what we measure. 0, or -1 (errno set).
int bench_write_rules(const char *path, uint64_t ops);
// ops commands, one JSON object a line, as a till and the back office would send
// them: mostly stock moves over 1,000 products, some e-mail changes and loyalty tags
// over 1,000 customers. The same file for the same ops everywhere. 0, or -1.
int bench_write_batch_file(const char *path, uint64_t ops);
// One stamped stock sale of origin as the node stores it (origin, seq, HLC, two
// hashes, command ID, source, type, key, field, op, delta), packed into out
// (BENCH_RECORD_MAX bytes). Its size, or 0 when origin makes it too big.
size_t bench_pack_operation(const char *origin, uint64_t seq, uint64_t *rng, uint8_t *out);
// Writes ops records of origin into a fresh RocksDB at db_dir in synced WriteBatches
// of batch_records, timing the writes alone. 0, or -1 with the cause printed.
int bench_raw_ingest(const char *db_dir, const char *origin, uint64_t ops, uint64_t batch_records,
                     double *seconds, size_t *record_size_bytes);

// ---- child processes ----

typedef struct {
    const char *exe; // the storemesh binary
    const char *log; // every child's stderr is appended here
} bench_children_t;

// Every child started here is noted until it is reaped: once bench_make_root has
// made the run's directory, a SIGINT, SIGTERM or SIGHUP stops the children running
// (SIGTERM), says where the data was kept, and ends the benchmark by that signal.
// A caller that reaps a child itself says so with bench_child_reaped.
void bench_child_reaped(pid_t pid);
// Starts exe with argv, stdin from /dev/null, stdout to out_path (NULL: /dev/null).
// 0 with *pid set, or an errno value.
int bench_spawn(const bench_children_t *children, char *const argv[], const char *out_path,
                pid_t *pid);
// Runs a child to completion: its exit code, or -1 when it could not run or died of
// a signal. *rss_kb (if not NULL) gets its peak RSS.
int bench_run(const bench_children_t *children, char *const argv[], const char *out_path,
              uint64_t *rss_kb);
// `storemesh run --data node_dir`, waiting until it answers `status` (at most 30 s).
// 0 with *pid set, or -1 with the cause printed (the child is reaped).
int bench_node_start(const bench_children_t *children, const char *node_dir, pid_t *pid);
// SIGTERM, then a bounded wait; SIGKILL after it. 0 when the node exited 0.
int bench_node_stop(pid_t pid);
// VmHWM of a running process in kB; 0 when /proc cannot tell.
uint64_t bench_peak_rss_kb(pid_t pid);
// Lines in the file at path; 0 when it cannot be read.
uint64_t bench_count_lines(const char *path);

typedef struct smclient smclient_t;
// A running node's status over client (kept open between calls): 0 with *out
// filled, -1 when it does not answer (the client is then closed: after a timeout
// it may still hold a late answer; the next call opens a new one).
int bench_node_status(smclient_t **client, const char *node_dir, uint64_t *operations,
                      uint64_t *writes);

#endif
