// bench_mesh: `storemesh bench mesh`, the replication benchmark users run on their
// own hardware. In one run it prints, side by side:
// - the raw limit: RocksDB ingest of operation-sized records in synced WriteBatches
//   of 1,000 (what a receiving node writes at least per sync: a whole OpsBatch, which
//   is its origin's group commit), and a CURVE stream over tcp loopback of the same
//   operations in frames of 100 with one Ed25519 seal check per frame (bench_wire);
//   the pipeline runs at the slower of the two. A sync per 100 is shown beside it;
// - node to node (bench_pair): two real nodes over tcp loopback with CURVE and seal
//   checks on; N commands go into the source while the sink is down (not timed), then
//   the sink starts and the clock runs until its status counts N operations: the
//   replication rate, which is also the catch-up of an N-operation backlog, and its
//   ratio to the raw limit;
// - bytes on the wire per operation (TCP payload of the source's link to the sink,
//   read from the kernel) against the operation's size, and the source's bytes_sent;
// - catch-up time and both nodes' peak RSS at N/100, N/10 and N backlog operations;
// - the bytes one idle anti-entropy round costs with 10, 100 and 1,000 origins (the
//   Hello as the core builds it), and the idle link of two real nodes.
// Each next to its goal (issue 3). Not a test: it reports, it does not judge.
#ifndef NODE_BENCH_MESH_H
#define NODE_BENCH_MESH_H

// argv[0] is the word "mesh"; then the options
//   --ops N    operations of the biggest backlog and of the raw limit (default 1000000)
//   --dir DIR  where the temporary data goes (default $TMPDIR, else /tmp)
//   --keep     leave the temporary data behind
// The nodes listen on free ports of 127.0.0.1 from 27800 up. self_exe is the
// storemesh binary to run (NULL or a bare name: /proc/self/exe). Returns the process
// exit code: 0 when the benchmark completed, 1 when it could not run (a child failed,
// no free port, disk full), 2 for bad usage. Opens RocksDB only after every node
// exited.
int bench_mesh_main(int argc, char **argv, const char *self_exe);

#endif
