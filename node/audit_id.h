// audit_id: the identifier a person reads over the phone to find one command:
// ORIGIN-SEQ-C, where C is a check letter that catches a misread digit or a swap
// (for example "branch-north-1042-K"). It names the origin node and its sequence
// number, so any node can find the operation without a lookup table.
#ifndef NODE_AUDIT_ID_H
#define NODE_AUDIT_ID_H

#include <stddef.h>
#include <stdint.h>

#include "crdt.h"

#define AUDIT_ID_MAX (CRDT_NAME_MAX + 24) // name, '-', 20 digits, '-', letter, NUL

// Writes the audit ID into out (AUDIT_ID_MAX bytes).
void audit_id_format(char *out, const char *origin, uint64_t seq);
// The same for many IDs of one origin (a node stamping its own commands): the
// origin's part of the text and of the check sum is worked out once.
typedef struct {
    char prefix[CRDT_NAME_MAX + 2]; // "ORIGIN-"
    size_t prefix_len;
    uint32_t prefix_sum;
} audit_id_origin_t;
void audit_id_origin_init(audit_id_origin_t *self, const char *origin);
void audit_id_format_origin(char *out, const audit_id_origin_t *origin, uint64_t seq);
// 0 with origin (CRDT_NAME_MAX + 1 bytes) and seq set; -SM_EINVAL when the text is
// not an audit ID or its check letter does not match (a misread).
int audit_id_parse(const char *text, char *origin, uint64_t *seq);

#endif
