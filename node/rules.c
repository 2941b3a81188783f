#include "rules.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rules_entity.h"
#include "rules_limits.h"
#include "rules_reader.h"
#include "sm_error.h"

// A hand-written rules file is a few KiB; a megabyte means a wrong path or a
// generated file nobody reviewed.
#define RULES_FILE_BYTES_MAX (1024 * 1024)
// Far above any business model we serve; low enough that a linear lookup by
// name stays cheap and a runaway generator is caught.
#define RULES_ENTITIES_MAX 1024
#define RULES_WARN_AT_PERCENT_DEFAULT 80

_Static_assert(RULES_HASH_BYTES == crypto_generichash_BYTES, "rules_hash is BLAKE2b-256");

struct rules {
    char *mesh;      // NULL when absent; rules_mesh shows ""
    char *authority; // NULL when absent
    rules_limits_t limits;
    uint8_t hash[RULES_HASH_BYTES];
    rules_entity_slot_t *entities; // owned, in file order
    size_t entity_count;
    size_t entity_cap; // slots allocated in entities
};

enum { TOP_MESH, TOP_AUTHORITY, TOP_LIMITS, TOP_ENTITIES, TOP_KEY_COUNT };
static const char *const top_keys[TOP_KEY_COUNT] = {"mesh", "authority", "limits", "entities"};

static int
add_entity(rules_reader_t *reader, rules_t *rules, const char *name, int line,
           rules_entity_slot_t **entity)
{
    int rc = rules_reader_check_name(reader, line, "entity type", name, strlen(name), "");
    if (rc != 0)
        return rc;
    for (size_t index = 0; index < rules->entity_count; index++) {
        if (strcmp(rules->entities[index].view.name, name) == 0)
            return rules_reader_fail(reader, line,
                                     "entity '%s' is declared twice (first at line %d); valid "
                                     "choices: one declaration per entity type",
                                     name, rules->entities[index].line);
    }
    if (rules->entity_count == RULES_ENTITIES_MAX)
        return rules_reader_fail(reader, line,
                                 "more than %d entity types; valid choices: at most %d entity "
                                 "types in one rules file",
                                 RULES_ENTITIES_MAX, RULES_ENTITIES_MAX);
    if (rules->entity_count == rules->entity_cap) {
        size_t cap = rules->entity_cap == 0 ? 8 : rules->entity_cap * 2;
        if (cap > RULES_ENTITIES_MAX)
            cap = RULES_ENTITIES_MAX;
        rules_entity_slot_t *grown = realloc(rules->entities, cap * sizeof *grown);
        if (grown == NULL)
            return rules_reader_out_of_memory(reader);
        rules->entities = grown;
        rules->entity_cap = cap;
    }
    rules_entity_slot_t *slot = &rules->entities[rules->entity_count];
    memset(slot, 0, sizeof *slot);
    slot->view.name = strdup(name);
    if (slot->view.name == NULL)
        return rules_reader_out_of_memory(reader);
    slot->line = line;
    rules->entity_count++;
    *entity = slot;
    return 0;
}

static int
parse_entities(rules_reader_t *reader, rules_t *rules)
{
    int rc = rules_reader_expect_mapping(reader, "entities",
                                         "one 'TYPE:' line per entity type, with explain, owner "
                                         "and fields under it");
    // One turn per entity; add_entity stops the loop at RULES_ENTITIES_MAX.
    while (rc == 0) {
        const char *key = NULL;
        int line = 0;
        rules_entity_slot_t *entity = NULL;
        rc = rules_reader_next_key(reader, &key, &line);
        if (rc != 0 || key == NULL)
            return rc;
        rc = add_entity(reader, rules, key, line, &entity);
        if (rc == 0)
            rc = rules_entity_parse(reader, entity);
    }
    return rc;
}

static int
read_top_key(rules_reader_t *reader, size_t key_index, rules_t *rules)
{
    switch (key_index) {
    case TOP_MESH:
        return rules_reader_read_name(reader, "mesh", &rules->mesh);
    case TOP_AUTHORITY:
        return rules_reader_read_name(reader, "authority", &rules->authority);
    case TOP_LIMITS:
        return rules_limits_parse(reader, &rules->limits);
    default:
        assert(key_index == TOP_ENTITIES);
        return parse_entities(reader, rules);
    }
}

static int
parse_top(rules_reader_t *reader, rules_t *rules)
{
    char choices[RULES_READER_CHOICES_MAX];
    rules_reader_join_words(top_keys, TOP_KEY_COUNT, choices, sizeof choices);
    int rc = rules_reader_expect_mapping(reader, "the file", choices);
    if (rc != 0)
        return rc;
    int root_line = rules_reader_line(reader);
    int seen_lines[TOP_KEY_COUNT] = {0};
    // At most TOP_KEY_COUNT turns before the map ends: a repeated key is refused.
    for (;;) {
        const char *key = NULL;
        int line = 0;
        size_t key_index = 0;
        rc = rules_reader_next_key(reader, &key, &line);
        if (rc != 0 || key == NULL)
            break;
        rc = rules_reader_match_key(reader, key, line, "the top level", top_keys, TOP_KEY_COUNT,
                                    seen_lines, &key_index);
        if (rc == 0)
            rc = read_top_key(reader, key_index, rules);
        if (rc != 0)
            return rc;
    }
    if (rc == 0 && rules->entity_count == 0) {
        int line = seen_lines[TOP_ENTITIES] != 0 ? seen_lines[TOP_ENTITIES] : root_line;
        return rules_reader_fail(reader, line,
                                 "no entities declared; valid choices: entities: with at least "
                                 "one entity type and its fields");
    }
    return rc;
}

static int
parse_document(rules_reader_t *reader, rules_t *rules)
{
    int rc = rules_reader_next(reader); // the stream start
    if (rc == 0)
        rc = rules_reader_next(reader);
    if (rc != 0)
        return rc;
    if (reader->event.type == YAML_STREAM_END_EVENT)
        return rules_reader_fail(reader, 1,
                                 "the file holds no rules; valid choices: mesh, authority, "
                                 "limits, entities");
    assert(reader->event.type == YAML_DOCUMENT_START_EVENT); // libyaml's grammar
    rc = parse_top(reader, rules);
    if (rc == 0)
        rc = rules_reader_next(reader);
    if (rc != 0)
        return rc;
    assert(reader->event.type == YAML_DOCUMENT_END_EVENT); // the root map ended
    rc = rules_reader_next(reader);
    if (rc != 0)
        return rc;
    if (reader->event.type != YAML_STREAM_END_EVENT)
        return rules_reader_fail(reader, rules_reader_line(reader),
                                 "a second YAML document starts here; valid choices: one "
                                 "document per rules file (remove the extra ---)");
    return 0;
}

static void
fail_too_big(const char *display_name, char *err, size_t err_size)
{
    snprintf(err, err_size,
             "%s: the file is larger than %d bytes, the limit for a rules file; check the path",
             display_name, RULES_FILE_BYTES_MAX);
}

static int
read_file(const char *path, char **text, size_t *text_len, char *err, size_t err_size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, err_size, "%s: cannot read: %s; check the path", path, strerror(errno));
        return -SM_EIO;
    }
    // One byte more than allowed tells an oversized file from one at the limit.
    size_t cap = RULES_FILE_BYTES_MAX + 1;
    char *buf = malloc(cap);
    size_t len = 0;
    int rc = 0;
    if (buf == NULL) {
        snprintf(err, err_size, "%s: cannot read: out of memory; free memory and start again",
                 path);
        rc = -SM_ENOMEM;
    }
    // Each turn reads at least one byte, stops, or retries an interrupted read.
    while (rc == 0 && len < cap) {
        ssize_t got = read(fd, buf + len, cap - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            snprintf(err, err_size, "%s: cannot read: %s; check the path", path, strerror(errno));
            rc = -SM_EIO;
        } else if (got == 0) {
            break;
        } else {
            len += (size_t)got;
        }
    }
    close(fd);
    if (rc == 0 && len > RULES_FILE_BYTES_MAX) {
        fail_too_big(path, err, err_size);
        rc = -SM_EFULL;
    }
    if (rc != 0) {
        free(buf);
        return rc;
    }
    *text = buf;
    *text_len = len;
    return 0;
}

rules_t *
rules_load(const char *path, char *err, size_t err_size)
{
    assert(path != NULL);
    assert(err != NULL);
    assert(err_size > 0);
    char *text = NULL;
    size_t text_len = 0;
    if (read_file(path, &text, &text_len, err, err_size) != 0)
        return NULL;
    rules_t *rules = rules_parse(text, text_len, path, err, err_size);
    free(text);
    return rules;
}

rules_t *
rules_parse(const char *text, size_t text_len, const char *display_name, char *err, size_t err_size)
{
    assert(text != NULL);
    assert(display_name != NULL);
    assert(err != NULL);
    assert(err_size > 0);
    err[0] = '\0';
    if (text_len > RULES_FILE_BYTES_MAX) {
        fail_too_big(display_name, err, err_size);
        return NULL;
    }
    if (sodium_init() < 0) {
        snprintf(err, err_size, "%s: cannot start libsodium to hash the rules; check the install",
                 display_name);
        return NULL;
    }
    rules_t *rules = calloc(1, sizeof *rules);
    if (rules == NULL) {
        snprintf(err, err_size, "%s: out of memory while loading the rules", display_name);
        return NULL;
    }
    rules->limits.warn_at_percent = RULES_WARN_AT_PERCENT_DEFAULT;
    rules->limits.at_limit = RULES_AT_LIMIT_REFUSE_NEW_WORK;
    crypto_generichash(rules->hash, sizeof rules->hash, (const unsigned char *)text, text_len, NULL,
                       0);
    rules_reader_t reader;
    int rc = rules_reader_open(&reader, text, text_len, display_name, err, err_size);
    if (rc == 0) {
        rc = parse_document(&reader, rules);
        rules_reader_close(&reader);
    }
    if (rc != 0)
        rules_destroy(&rules);
    return rules;
}

void
rules_destroy(rules_t **self_p)
{
    assert(self_p != NULL);
    rules_t *self = *self_p;
    if (self == NULL)
        return;
    for (size_t index = 0; index < self->entity_count; index++)
        rules_entity_slot_free(&self->entities[index]);
    free(self->entities);
    free(self->mesh);
    free(self->authority);
    free(self);
    *self_p = NULL;
}

const char *
rules_mesh(const rules_t *self)
{
    assert(self != NULL);
    return self->mesh != NULL ? self->mesh : "";
}

const char *
rules_authority(const rules_t *self)
{
    assert(self != NULL);
    return self->authority;
}

const rules_limits_t *
rules_limits(const rules_t *self)
{
    assert(self != NULL);
    return &self->limits;
}

const uint8_t *
rules_hash(const rules_t *self)
{
    assert(self != NULL);
    return self->hash;
}

size_t
rules_entity_count(const rules_t *self)
{
    assert(self != NULL);
    return self->entity_count;
}

const rules_entity_t *
rules_entity_at(const rules_t *self, size_t index)
{
    assert(self != NULL);
    assert(index < self->entity_count);
    return &self->entities[index].view;
}

const rules_entity_t *
rules_entity(const rules_t *self, const char *type)
{
    assert(self != NULL);
    assert(type != NULL);
    for (size_t index = 0; index < self->entity_count; index++) {
        if (strcmp(self->entities[index].view.name, type) == 0)
            return &self->entities[index].view;
    }
    return NULL;
}

const rules_field_t *
rules_field(const rules_entity_t *entity, const char *field)
{
    assert(entity != NULL);
    assert(field != NULL);
    for (size_t index = 0; index < entity->field_count; index++) {
        if (strcmp(entity->fields[index].name, field) == 0)
            return &entity->fields[index];
    }
    return NULL;
}
