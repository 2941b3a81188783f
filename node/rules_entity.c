#include "rules_entity.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sm_error.h"

// Room for "field 'ENTITY.FIELD'" with both names at their longest.
#define SCOPE_MAX (2 * CRDT_NAME_MAX + 16)

enum { ENTITY_EXPLAIN, ENTITY_OWNER, ENTITY_FIELDS, ENTITY_KEY_COUNT };
static const char *const entity_keys[ENTITY_KEY_COUNT] = {"explain", "owner", "fields"};

enum { FIELD_MERGE, FIELD_EXPLAIN, FIELD_OWNER, FIELD_KEY_COUNT };
static const char *const field_keys[FIELD_KEY_COUNT] = {"merge", "explain", "owner"};

// The six merge kinds as a rules file spells them, from crdt's own names.
static const char *
merge_kinds_text(char *buf, size_t size)
{
    const char *names[CRDT_KIND_OWNER] = {0};
    size_t name_count = 0;
    for (int kind = CRDT_KIND_COUNTER; kind <= CRDT_KIND_OWNER; kind++) {
        const char *name = crdt_kind_name((crdt_kind_t)kind);
        if (name != NULL)
            names[name_count++] = name;
    }
    return rules_reader_join_words(names, name_count, buf, size);
}

// `owner:` is the word origin (the node that created the entity) or a node name.
static int
read_owner(rules_reader_t *reader, const char *what, rules_owner_kind_t *kind, const char **owner)
{
    const char *value = NULL;
    size_t value_len = 0;
    int rc = rules_reader_expect_scalar(reader, what, &value, &value_len);
    if (rc != 0)
        return rc;
    if (strcmp(value, "origin") == 0) {
        *kind = RULES_OWNER_ORIGIN;
        return 0;
    }
    rc = rules_reader_check_name(reader, rules_reader_line(reader), what, value, value_len,
                                 "origin, or a node name of ");
    if (rc != 0)
        return rc;
    char *name = strdup(value);
    if (name == NULL)
        return rules_reader_out_of_memory(reader);
    *kind = RULES_OWNER_NODE;
    *owner = name;
    return 0;
}

static int
read_merge(rules_reader_t *reader, const char *scope, rules_field_t *field)
{
    const char *value = NULL;
    size_t value_len = 0;
    int rc = rules_reader_expect_scalar(reader, "merge", &value, &value_len);
    if (rc != 0 || crdt_kind_parse(value, &field->merge) == 0)
        return rc;
    char quoted[48];
    char kinds[RULES_READER_CHOICES_MAX];
    return rules_reader_fail(reader, rules_reader_line(reader),
                             "%s has unknown merge kind '%s'; valid choices: %s", scope,
                             rules_reader_quote(value, value_len, quoted, sizeof quoted),
                             merge_kinds_text(kinds, sizeof kinds));
}

static int
read_field_key(rules_reader_t *reader, size_t key_index, const char *scope, rules_field_t *field)
{
    char *explain = NULL;
    int rc = 0;
    switch (key_index) {
    case FIELD_MERGE:
        return read_merge(reader, scope, field);
    case FIELD_EXPLAIN:
        rc = rules_reader_read_text(reader, "explain", &explain);
        field->explain = explain;
        return rc;
    default:
        assert(key_index == FIELD_OWNER);
        return read_owner(reader, "owner", &field->owner_kind, &field->owner);
    }
}

// What a field's map must say once it has all been read.
static int
check_field(rules_reader_t *reader, const char *scope, const rules_field_t *field,
            const int *seen_lines)
{
    char kinds[RULES_READER_CHOICES_MAX];
    if (seen_lines[FIELD_MERGE] == 0)
        return rules_reader_fail(reader, field->line, "%s has no merge; valid choices: %s", scope,
                                 merge_kinds_text(kinds, sizeof kinds));
    if (seen_lines[FIELD_OWNER] != 0 && field->merge != CRDT_KIND_OWNER)
        return rules_reader_fail(reader, seen_lines[FIELD_OWNER],
                                 "%s has owner: but merge: %s, and owner applies only to merge: "
                                 "owner; valid choices: remove owner:, or use merge: owner",
                                 scope, crdt_kind_name(field->merge));
    return 0;
}

static int
parse_field(rules_reader_t *reader, const char *entity_name, rules_field_t *field)
{
    char scope[SCOPE_MAX];
    char choices[RULES_READER_CHOICES_MAX];
    snprintf(scope, sizeof scope, "field '%s.%s'", entity_name, field->name);
    rules_reader_join_words(field_keys, FIELD_KEY_COUNT, choices, sizeof choices);
    int rc = rules_reader_expect_mapping(reader, scope, choices);
    int seen_lines[FIELD_KEY_COUNT] = {0};
    // At most FIELD_KEY_COUNT turns before the map ends: a repeated key is refused.
    while (rc == 0) {
        const char *key = NULL;
        int line = 0;
        size_t key_index = 0;
        rc = rules_reader_next_key(reader, &key, &line);
        if (rc != 0 || key == NULL)
            break;
        rc = rules_reader_match_key(reader, key, line, scope, field_keys, FIELD_KEY_COUNT,
                                    seen_lines, &key_index);
        if (rc == 0)
            rc = read_field_key(reader, key_index, scope, field);
    }
    return rc != 0 ? rc : check_field(reader, scope, field, seen_lines);
}

static int
add_field(rules_reader_t *reader, rules_entity_slot_t *entity, const char *name, int line,
          rules_field_t **field)
{
    int rc = rules_reader_check_name(reader, line, "field name", name, strlen(name), "");
    if (rc != 0)
        return rc;
    const rules_field_t *twin = rules_field(&entity->view, name);
    if (twin != NULL)
        return rules_reader_fail(reader, line,
                                 "field '%s.%s' is declared twice (first at line %d); valid "
                                 "choices: one declaration per field",
                                 entity->view.name, name, twin->line);
    if (entity->view.field_count == RULES_ENTITY_FIELDS_MAX)
        return rules_reader_fail(reader, line,
                                 "entity '%s' has more than %d fields; valid choices: at most %d "
                                 "fields per entity type",
                                 entity->view.name, RULES_ENTITY_FIELDS_MAX,
                                 RULES_ENTITY_FIELDS_MAX);
    if (entity->view.field_count == entity->field_cap) {
        size_t cap = entity->field_cap == 0 ? 8 : entity->field_cap * 2;
        if (cap > RULES_ENTITY_FIELDS_MAX)
            cap = RULES_ENTITY_FIELDS_MAX;
        rules_field_t *grown = realloc(entity->fields, cap * sizeof *grown);
        if (grown == NULL)
            return rules_reader_out_of_memory(reader);
        entity->fields = grown;
        entity->field_cap = cap;
        entity->view.fields = grown;
    }
    rules_field_t *slot = &entity->fields[entity->view.field_count];
    memset(slot, 0, sizeof *slot);
    slot->name = strdup(name);
    if (slot->name == NULL)
        return rules_reader_out_of_memory(reader);
    slot->line = line;
    entity->view.field_count++;
    *field = slot;
    return 0;
}

static int
parse_fields(rules_reader_t *reader, rules_entity_slot_t *entity)
{
    char scope[SCOPE_MAX];
    snprintf(scope, sizeof scope, "fields of entity '%s'", entity->view.name);
    int rc = rules_reader_expect_mapping(reader, scope,
                                         "one 'NAME:' line per field, with merge, explain and "
                                         "owner under it");
    // One turn per field; add_field stops the loop at RULES_ENTITY_FIELDS_MAX.
    while (rc == 0) {
        const char *key = NULL;
        int line = 0;
        rules_field_t *field = NULL;
        rc = rules_reader_next_key(reader, &key, &line);
        if (rc != 0 || key == NULL)
            break;
        rc = add_field(reader, entity, key, line, &field);
        if (rc == 0)
            rc = parse_field(reader, entity->view.name, field);
    }
    return rc;
}

// A `merge: owner` field without its own owner takes the entity's, which may
// come before or after `fields:` in the file; so this runs once the map is read.
static int
resolve_owners(rules_reader_t *reader, rules_entity_slot_t *entity)
{
    const rules_entity_t *view = &entity->view;
    for (size_t index = 0; index < view->field_count; index++) {
        rules_field_t *field = &entity->fields[index];
        if (field->merge != CRDT_KIND_OWNER || field->owner_kind != RULES_OWNER_NONE)
            continue;
        if (view->owner_kind == RULES_OWNER_NONE)
            return rules_reader_fail(reader, field->line,
                                     "field '%s.%s' has merge: owner but neither it nor entity "
                                     "'%s' names an owner; valid choices: owner: origin, or "
                                     "owner: NODE (a node name), on the field or its entity",
                                     view->name, field->name, view->name);
        field->owner_kind = view->owner_kind;
        if (view->owner_kind == RULES_OWNER_NODE) {
            field->owner = strdup(view->owner);
            if (field->owner == NULL)
                return rules_reader_out_of_memory(reader);
        }
    }
    return 0;
}

static int
read_entity_key(rules_reader_t *reader, size_t key_index, rules_entity_slot_t *entity)
{
    char *explain = NULL;
    int rc = 0;
    switch (key_index) {
    case ENTITY_EXPLAIN:
        rc = rules_reader_read_text(reader, "explain", &explain);
        entity->view.explain = explain;
        return rc;
    case ENTITY_OWNER:
        return read_owner(reader, "owner", &entity->view.owner_kind, &entity->view.owner);
    default:
        assert(key_index == ENTITY_FIELDS);
        return parse_fields(reader, entity);
    }
}

int
rules_entity_parse(rules_reader_t *reader, rules_entity_slot_t *entity)
{
    assert(reader != NULL);
    assert(entity != NULL);
    assert(entity->view.name != NULL);
    char scope[SCOPE_MAX];
    char choices[RULES_READER_CHOICES_MAX];
    snprintf(scope, sizeof scope, "entity '%s'", entity->view.name);
    rules_reader_join_words(entity_keys, ENTITY_KEY_COUNT, choices, sizeof choices);
    int rc = rules_reader_expect_mapping(reader, scope, choices);
    int seen_lines[ENTITY_KEY_COUNT] = {0};
    // At most ENTITY_KEY_COUNT turns before the map ends: a repeated key is refused.
    while (rc == 0) {
        const char *key = NULL;
        int line = 0;
        size_t key_index = 0;
        rc = rules_reader_next_key(reader, &key, &line);
        if (rc != 0 || key == NULL)
            break;
        rc = rules_reader_match_key(reader, key, line, scope, entity_keys, ENTITY_KEY_COUNT,
                                    seen_lines, &key_index);
        if (rc == 0)
            rc = read_entity_key(reader, key_index, entity);
    }
    if (rc != 0)
        return rc;
    if (entity->view.field_count == 0)
        return rules_reader_fail(reader, entity->line,
                                 "entity '%s' declares no fields; valid choices: fields: with at "
                                 "least one field and its merge",
                                 entity->view.name);
    return resolve_owners(reader, entity);
}

static void
free_text(const char *text)
{
    free((char *)text); // the loader strdup'd it; views show it as const
}

void
rules_entity_slot_free(rules_entity_slot_t *entity)
{
    assert(entity != NULL);
    for (size_t index = 0; index < entity->view.field_count; index++) {
        free_text(entity->fields[index].name);
        free_text(entity->fields[index].explain);
        free_text(entity->fields[index].owner);
    }
    free(entity->fields);
    free_text(entity->view.name);
    free_text(entity->view.explain);
    free_text(entity->view.owner);
    memset(entity, 0, sizeof *entity);
}
