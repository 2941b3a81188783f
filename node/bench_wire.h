// bench_wire: the wire side of `storemesh bench mesh`: the raw CURVE stream that is
// half of the raw limit, the TCP byte counters of the nodes' links, and the size of
// the anti-entropy Hello as the core builds it. Measurement only; the node never
// calls it. Not thread-safe.
#ifndef NODE_BENCH_WIRE_H
#define NODE_BENCH_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BENCH_WIRE_FRAME_OPS 100 // operations per raw frame, one seal each (issue 3)

typedef struct {
    uint64_t ops;          // operations streamed (whole frames)
    double seconds;        // first frame sent to last frame verified
    size_t frame_bytes;    // one frame: a PeerMessage with an OpsBatch of 100 and a seal
    size_t operation_size; // bytes of one operation in it
} bench_stream_t;

// Streams at least ops operations of origin in frames of BENCH_WIRE_FRAME_OPS, each a
// PeerMessage as the node sends it, from a CURVE client (DEALER, its own zmq
// context, as in another process) to a CURVE server (ROUTER) over tcp on 127.0.0.1,
// and verifies the Ed25519 seal of every frame on arrival. Frames are signed before
// the clock starts: the origin signed them long before a relay sends them.
// 0, or -1 with the cause printed.
int bench_wire_stream(const char *origin, uint64_t ops, bench_stream_t *out);

// TCP payload bytes (ZMTP framing and CURVE included, TCP/IP headers not) sent and
// acknowledged on the connections to 127.0.0.1:port that are open now, read from the
// kernel's socket diagnostics. 0, or -1 with the cause printed.
int bench_wire_tcp_sent_bytes(uint16_t port, uint64_t *bytes);

// Bytes of a ZMTP frame carrying a payload of payload_bytes under CURVE: the frame
// header plus the MESSAGE command (name, nonce, flags, MAC) around the payload.
size_t bench_wire_curve_frame_bytes(size_t payload_bytes);

typedef struct {
    size_t full_bytes;   // PeerMessage with a full Hello (have and authority_have)
    size_t idle_bytes;   // PeerMessage with an idle Hello (have_digest, no entries)
    bool idle_available; // false: Hello has no have_digest field in this build
} bench_hello_t;

// The Hello one branch sends per anti-entropy period with origins origins
// ("branch-0001".."branch-NNNN") in its version vector and in the authority's, built
// with the same fields the core fills.
void bench_wire_hello(size_t origins, bench_hello_t *out);

#endif
