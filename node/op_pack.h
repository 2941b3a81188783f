// op_pack: an Operation's protobuf encoding, written directly. An operation's hash
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

#endif
