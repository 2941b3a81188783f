// libFuzzer target: the peer-message decoder and everything behind it. The input is
// one frame as it arrives from the authenticated peer "cloud" (a PeerMessage:
// Hello, OpsBatch or Ack, docs/PROTOCOL.md), handed to a real core on a real
// RocksDB; the effects it causes (writes, Acks, streamed batches) are carried out.
// Bad input must be counted and dropped, never stop the node.
//
// The core lives for the whole process, so an input meets the state earlier inputs
// left; a crash found here replays from its input on a fresh core in most cases, and
// from the run's corpus otherwise.
#include <stddef.h>
#include <stdint.h>

#include "fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fixture_node_t *node = fixture_shared();
    uint64_t now_ms = fixture_clock_advance(250);
    core_tick(node->core, now_ms); // Hellos to the cloud now and then: the send path too
    core_peer_receive(node->core, FIXTURE_PEER, data, size, now_ms);
    fixture_node_drain(node, now_ms, NULL, NULL);
    return 0;
}
