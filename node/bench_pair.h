// bench_pair: two real nodes for `storemesh bench mesh`, a source and a sink, each
// this binary (`init`, `peer add` both ways, `run`) listening on its own port of
// 127.0.0.1, linked over CurveZMQ with seal checks on. A backlog goes into the
// source with `submit --batch` while the sink is down (not timed); then the sink
// starts and the clock runs until its status counts the whole backlog. What the
// catch-up cost is read while both still run. Not thread-safe.
#ifndef NODE_BENCH_PAIR_H
#define NODE_BENCH_PAIR_H

#include <stdbool.h>
#include <stdint.h>

#include "bench_util.h"

#define BENCH_PAIR_PORT_FIRST 27800 // the nodes listen on free ports from here up
#define BENCH_PAIR_PORT_LAST 28799

typedef struct {
    uint64_t ops;                  // the backlog
    double link_seconds;           // sink start to its first operation on disk
    double catch_up_seconds;       // sink start to the whole backlog on disk
    uint64_t source_loaded_rss_kb; // VmHWM once the backlog is in, before the sink starts
    uint64_t source_rss_kb;        // VmHWM, the load included
    uint64_t sink_rss_kb;          // VmHWM
    uint64_t wire_sent_bytes;      // TCP payload (ZMTP, CURVE) source to sink, the catch-up's
    uint64_t wire_back_bytes;      // TCP payload sink to source (Hellos, Acks)
    bool has_core_bytes;           // the source's `status --json` has bytes_sent
    uint64_t core_bytes_sent;      // its bytes_sent: PeerMessage bytes handed to the transport
    double source_cpu_seconds;     // user + system over the node's life
    double sink_cpu_seconds;
    double idle_bytes_per_second; // both ways, after the catch-up; 0 unless asked for
} bench_catch_up_t;

// Makes dir (which must not exist) and two nodes in it sharing the rules file rules,
// loads ops commands into the source, times the sink's catch-up into *out, stops
// both. With measure_idle it then also leaves both idle for a few anti-entropy
// periods and measures the bytes of their link. *port_cursor is the first port to
// try; it moves past the ports taken. 0, or -1 with the cause printed (children->log
// holds the nodes' side). The caller removes dir.
int bench_pair_catch_up(const bench_children_t *children, const char *rules, const char *dir,
                        uint64_t ops, bool measure_idle, uint16_t *port_cursor,
                        bench_catch_up_t *out);

#endif
