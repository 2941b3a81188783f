// rules: the truth-rules file (YAML) that says, per entity type and field, how
// disagreements resolve, who owns what, and the operator limits. Loaded once at
// start; a bad file stops the node before it starts, with FILE:LINE, what is
// wrong, and the valid choices. Read-only after load; safe to share.
#ifndef NODE_RULES_H
#define NODE_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "field.h"

#define RULES_HASH_BYTES 32 // BLAKE2b-256 of the file's exact bytes
#define RULES_ERROR_MAX 512 // a load error message fits in this many bytes

typedef enum {
    RULES_OWNER_NONE = 0,   // nobody owns the field
    RULES_OWNER_NODE = 1,   // `owner: NAME`: the named node
    RULES_OWNER_ORIGIN = 2, // `owner: origin`: the node that created the entity
} rules_owner_kind_t;

typedef enum {
    RULES_AT_LIMIT_REFUSE_NEW_WORK = 1, // refuse new commands at a limit
    RULES_AT_LIMIT_WARN_ONLY = 2,       // raise an action, keep accepting
} rules_at_limit_t;

typedef struct {
    const char *name;
    crdt_kind_t merge;
    const char *explain;           // may be NULL when the file gives none
    rules_owner_kind_t owner_kind; // set for merge: owner (field's, else entity's owner)
    const char *owner;             // node name for RULES_OWNER_NODE, else NULL
    int line;                      // where the field is declared, for messages
} rules_field_t;

typedef struct {
    const char *name;
    const char *explain;
    rules_owner_kind_t owner_kind; // the entity-level `owner:`, if any
    const char *owner;
    size_t field_count;
    const rules_field_t *fields; // in file order
} rules_entity_t;

typedef struct {
    uint64_t max_offline_s;    // 0 when not set (no offline limit)
    uint64_t max_queue_depth;  // 0 when not set (no queue limit)
    uint32_t warn_at_percent;  // 1..100; 80 when not set
    rules_at_limit_t at_limit; // refuse-new-work when not set
} rules_limits_t;

typedef struct rules rules_t;

// Loads and validates the file at path. NULL on any problem, with err holding one
// line "PATH:LINE: what is wrong; valid choices: ..." (or "PATH: cannot read: ...").
rules_t *rules_load(const char *path, char *err, size_t err_size);
// The same from memory; display_name stands for the path in messages.
rules_t *rules_parse(const char *text, size_t text_len, const char *display_name, char *err,
                     size_t err_size);
// Frees *self_p and sets it to NULL; a NULL *self_p is fine.
void rules_destroy(rules_t **self_p);

const char *rules_mesh(const rules_t *self);      // `mesh:`, never NULL ("" if absent)
const char *rules_authority(const rules_t *self); // `authority:`, NULL if absent
const rules_limits_t *rules_limits(const rules_t *self);
const uint8_t *rules_hash(const rules_t *self); // RULES_HASH_BYTES bytes

size_t rules_entity_count(const rules_t *self);
const rules_entity_t *rules_entity_at(const rules_t *self, size_t index);
// NULL when the type is not declared.
const rules_entity_t *rules_entity(const rules_t *self, const char *type);
// NULL when the entity has no such field.
const rules_field_t *rules_field(const rules_entity_t *entity, const char *field);

#endif
