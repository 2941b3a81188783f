// rules_entity: one entry under `entities:` in a rules file: the entity type's
// explain, owner and fields; each field's merge kind, explain and owner; and which
// owner each `merge: owner` field ends up with. Internal to node/rules.c, which
// owns the list of entity types and the rest of the file.
#ifndef NODE_RULES_ENTITY_H
#define NODE_RULES_ENTITY_H

#include "rules.h"
#include "rules_reader.h"

// Fields per entity type: far above any business model we serve; low enough
// that a lookup by linear scan stays cheap and a runaway generator is caught.
#define RULES_ENTITY_FIELDS_MAX 1024

// One entity type as the loader holds it.
typedef struct {
    rules_entity_t view;   // what rules_entity_at shows; view.fields is fields
    rules_field_t *fields; // owned, in file order
    size_t field_cap;      // slots allocated in fields
    int line;              // where the type is declared, for messages
} rules_entity_slot_t;

// Reads the map under an entity type's name into entity (view.name and line
// already set). Refuses unknown keys, a field without merge or with an unknown
// one, `merge: owner` with no owner on the field or the entity, `owner:` on a
// field that is not `merge: owner`, repeated or bad field names, no fields, and
// more than RULES_ENTITY_FIELDS_MAX fields. 0, or a negative SM_E* code with the
// reader's error written; entity may then hold part of what was read.
int rules_entity_parse(rules_reader_t *reader, rules_entity_slot_t *entity);
// Frees what entity owns (its strings and fields), not entity itself.
void rules_entity_slot_free(rules_entity_slot_t *entity);

#endif
