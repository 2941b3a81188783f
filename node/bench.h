// bench: `storemesh bench local`, the benchmark users run on their own hardware.
// In one run it measures the limit - raw RocksDB ingest of operation-sized records
// in WriteBatches of 1,000 with sync on, the durability the node promises - and the
// node's `submit --batch` throughput for the same number of commands, then prints
// their ratio and the node's peak RSS next to the goals (ratio >= 0.50, RSS < 200 MB).
// It drives the node as a user would: it runs this same binary (init, run, submit)
// as child processes. Not a test: it reports, it does not judge.
#ifndef NODE_BENCH_H
#define NODE_BENCH_H

// argv[0] is the word "local"; then the options
//   --ops N       commands and raw records (default 1000000)
//   --dir DIR     where the temporary data goes (default $TMPDIR, else /tmp)
//   --rules FILE  rules for the node (default: built-in retail subset whose queue
//                 limit is above N, since nothing acknowledges the queue meanwhile)
//   --keep        leave the temporary data behind
// self_exe is the storemesh binary to run (NULL or a bare name: /proc/self/exe).
// Returns the process exit code: 0 when the benchmark completed, 1 when it could not
// run (a child failed, disk full), 2 for bad usage.
// Opens RocksDB only after every child it forks has finished.
int bench_local_main(int argc, char **argv, const char *self_exe);

#endif
