// peer_pack: a PeerMessage's protobuf encoding (Hello, OpsBatch, Ack;
// docs/PROTOCOL.md), written and read directly. Peers written in other languages
// read these with any protobuf library, so the bytes must be exactly what
// protobuf-c writes (the canonical proto3 encoding: fields in number order, zero
// values left out; wire.h); peer_pack_test checks both directions against
// protobuf-c on random and damaged messages. It exists for speed: protobuf-c's
// table-driven passes were 16% of a simulated 200-branch mesh's instructions,
// Hellos and Acks most of it.
#ifndef NODE_PEER_PACK_H
#define NODE_PEER_PACK_H

#include <stddef.h>
#include <stdint.h>

#include "storemesh.pb-c.h"
#include "wire.h"

// Bytes peer_message_pack writes for message: one the core built (no unknown
// fields; a body case set has its body).
size_t peer_message_pack_size(const Storemesh__PeerMessage *message);
// Writes message into out (peer_message_pack_size(message) bytes); returns that
// length.
size_t peer_message_pack(const Storemesh__PeerMessage *message, uint8_t *out);

// Decodes a PeerMessage into memory from allocator (an arena: nothing is freed one
// by one; not NULL). The same result as storemesh__peer_message__unpack, which it
// hands anything but the canonical encoding to (as op_unpack; repeated fields in
// one run each, at most one body). NULL when the bytes are not a PeerMessage or
// memory ran out.
Storemesh__PeerMessage *peer_message_unpack(ProtobufCAllocator *allocator, size_t len,
                                            const uint8_t *data);

// The fast path alone, for tests: WIRE_FAST_OK and *out set for the canonical
// encoding, WIRE_FAST_NO for anything else (nothing decoded: protobuf-c decides).
wire_fast_t peer_message_read(ProtobufCAllocator *allocator, size_t len, const uint8_t *data,
                              Storemesh__PeerMessage **out);

#endif
