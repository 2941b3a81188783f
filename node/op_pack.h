// op_pack: an Operation's protobuf encoding, written and read directly. An operation's hash
// is taken over its exact bytes, so these must be the bytes protobuf-c writes (the
// canonical proto3 encoding: fields in number order, zero values left out);
// op_pack_test checks that against storemesh__operation__pack on random
// operations. It exists for speed: protobuf-c's table-driven size and pack passes
// were a tenth of the node's submit path.
#ifndef NODE_OP_PACK_H
#define NODE_OP_PACK_H

#include <stddef.h>
#include <stdint.h>

#include "storemesh.pb-c.h"

// Bytes op_pack writes for op.
size_t op_pack_size(const Storemesh__Operation *op);
// Writes op into out (op_pack_size(op) bytes); returns that length.
size_t op_pack(const Storemesh__Operation *op, uint8_t *out);

// Decodes an Operation into memory from allocator (an arena: nothing is freed one
// by one; not NULL). The same result as storemesh__operation__unpack, which it
// hands anything but the canonical encoding to (fields in number order, each
// once, no unknown fields, no empty bytes written out, varints in their shortest
// form: wire.h), so it decodes what op_pack and protobuf-c write without
// protobuf-c's table walk: a third of what taking in a peer's operations cost.
// op_pack_test compares the two on random and damaged operations. NULL when the
// bytes are not an Operation or memory ran out.
Storemesh__Operation *op_unpack(ProtobufCAllocator *allocator, size_t len, const uint8_t *data);

#endif
