#include "rules_reader.h"

#include <assert.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "crdt.h"
#include "sm_error.h"

// A quoted value in a message is cut here: enough to recognise a typo, short
// enough that the whole line fits in RULES_ERROR_MAX with the path around it.
#define QUOTE_BYTES_MAX 40
// A rules file nests 5 levels (file, entities, TYPE, fields, FIELD). The margin
// lets a value in the wrong shape reach the loader's clearer message; the limit
// stops libyaml from growing its stacks for a file of brackets.
#define RULES_READER_DEPTH_MAX 16

static int
line_from_index(size_t line_index)
{
    // The loader bounds files to 1 MiB, so this only guards the conversion.
    return line_index >= (size_t)INT_MAX ? INT_MAX : (int)line_index + 1;
}

// Reader errors (bad UTF-8, control bytes) carry a byte offset, not a line.
static int
line_at_offset(const rules_reader_t *self, size_t offset)
{
    size_t end = offset < self->text_len ? offset : self->text_len;
    size_t newline_count = 0;
    for (size_t index = 0; index < end; index++) {
        if (self->text[index] == '\n')
            newline_count++;
    }
    return line_from_index(newline_count);
}

int
rules_reader_fail(rules_reader_t *self, int line, const char *format, ...)
{
    int used = snprintf(self->err, self->err_size, "%s:%d: ", self->display_name, line);
    if (used >= 0 && (size_t)used < self->err_size) {
        va_list args;
        va_start(args, format);
        vsnprintf(self->err + used, self->err_size - (size_t)used, format, args);
        va_end(args);
    }
    return -SM_EINVAL;
}

int
rules_reader_out_of_memory(rules_reader_t *self)
{
    snprintf(self->err, self->err_size,
             "%s: out of memory while loading the rules; free memory and start again",
             self->display_name);
    return -SM_ENOMEM;
}

static int
fail_syntax(rules_reader_t *self)
{
    const yaml_parser_t *parser = &self->parser;
    if (parser->error == YAML_MEMORY_ERROR)
        return rules_reader_out_of_memory(self);
    const char *problem = parser->problem != NULL ? parser->problem : "the text does not parse";
    if (parser->error == YAML_READER_ERROR) {
        return rules_reader_fail(self, line_at_offset(self, parser->problem_offset),
                                 "YAML syntax error: %s; valid choices: save the file as "
                                 "UTF-8 text without control characters",
                                 problem);
    }
    int line = line_from_index(parser->problem_mark.line);
    if (parser->context == NULL) {
        return rules_reader_fail(self, line,
                                 "YAML syntax error: %s; valid choices: fix the indentation "
                                 "(spaces, not tabs), colons and quotes on this line or above",
                                 problem);
    }
    return rules_reader_fail(self, line,
                             "YAML syntax error: %s (%s at line %d); valid choices: "
                             "fix the indentation (spaces, not tabs), colons and quotes on this "
                             "line or above",
                             problem, parser->context, line_from_index(parser->context_mark.line));
}

// Reads the whole text once for YAML syntax alone, so that a syntax error is
// reported before a rules problem above it: a bad indent can turn the line
// above it into a strange value, and the indent is what needs fixing. The text
// is small (the loader bounds it), so the second pass costs little. Each turn
// consumes one event; the stream end or an error stops the loop.
static int
check_syntax(rules_reader_t *self)
{
    int depth = 0;
    for (;;) {
        yaml_event_t event;
        if (!yaml_parser_parse(&self->parser, &event))
            return fail_syntax(self);
        yaml_event_type_t type = event.type;
        int line = line_from_index(event.start_mark.line);
        yaml_event_delete(&event);
        if (type == YAML_STREAM_END_EVENT)
            return 0;
        if (type == YAML_MAPPING_START_EVENT || type == YAML_SEQUENCE_START_EVENT)
            depth++;
        if (type == YAML_MAPPING_END_EVENT || type == YAML_SEQUENCE_END_EVENT)
            depth--;
        if (depth > RULES_READER_DEPTH_MAX)
            return rules_reader_fail(self, line,
                                     "nested more than %d levels deep; valid choices: the layout "
                                     "in docs/RULES.md, which is 5 levels deep",
                                     RULES_READER_DEPTH_MAX);
    }
}

int
rules_reader_open(rules_reader_t *self, const char *text, size_t text_len, const char *display_name,
                  char *err, size_t err_size)
{
    assert(self != NULL);
    assert(text != NULL);
    assert(display_name != NULL);
    assert(err != NULL);
    assert(err_size > 0);
    memset(self, 0, sizeof *self);
    self->text = text;
    self->text_len = text_len;
    self->display_name = display_name;
    self->err = err;
    self->err_size = err_size;
    if (!yaml_parser_initialize(&self->parser))
        return rules_reader_out_of_memory(self);
    yaml_parser_set_input_string(&self->parser, (const unsigned char *)text, text_len);
    int rc = check_syntax(self);
    yaml_parser_delete(&self->parser);
    if (rc != 0)
        return rc;
    if (!yaml_parser_initialize(&self->parser))
        return rules_reader_out_of_memory(self);
    yaml_parser_set_input_string(&self->parser, (const unsigned char *)text, text_len);
    return 0;
}

void
rules_reader_close(rules_reader_t *self)
{
    if (self->has_event)
        yaml_event_delete(&self->event);
    self->has_event = false;
    yaml_parser_delete(&self->parser);
}

int
rules_reader_next(rules_reader_t *self)
{
    if (self->has_event)
        yaml_event_delete(&self->event);
    self->has_event = false;
    if (!yaml_parser_parse(&self->parser, &self->event))
        return fail_syntax(self);
    self->has_event = true;
    if (self->event.type == YAML_ALIAS_EVENT) {
        const char *anchor = (const char *)self->event.data.alias.anchor;
        char quoted[QUOTE_BYTES_MAX + 4];
        return rules_reader_fail(self, rules_reader_line(self),
                                 "the alias *%s is not supported in a rules file; valid "
                                 "choices: write the value out in full",
                                 rules_reader_quote(anchor, strlen(anchor), quoted, sizeof quoted));
    }
    return 0;
}

int
rules_reader_line(const rules_reader_t *self)
{
    assert(self->has_event);
    return line_from_index(self->event.start_mark.line);
}

// Names the current event for "... found X" messages.
static const char *
found_text(const rules_reader_t *self, char *buf, size_t size)
{
    const yaml_event_t *event = &self->event;
    char quoted[QUOTE_BYTES_MAX + 4];
    switch (event->type) {
    case YAML_SEQUENCE_START_EVENT:
        return "a list";
    case YAML_MAPPING_START_EVENT:
        return "a map";
    case YAML_SCALAR_EVENT:
        if (event->data.scalar.length == 0)
            return "nothing";
        snprintf(buf, size, "the value '%s'",
                 rules_reader_quote((const char *)event->data.scalar.value,
                                    event->data.scalar.length, quoted, sizeof quoted));
        return buf;
    default:
        return "nothing";
    }
}

int
rules_reader_expect_mapping(rules_reader_t *self, const char *what, const char *choices)
{
    int rc = rules_reader_next(self);
    if (rc != 0)
        return rc;
    if (self->event.type == YAML_MAPPING_START_EVENT)
        return 0;
    char found[QUOTE_BYTES_MAX + 32];
    return rules_reader_fail(self, rules_reader_line(self),
                             "%s must be a map of 'key: value' lines, found %s; valid choices: %s",
                             what, found_text(self, found, sizeof found), choices);
}

static int
check_no_nul(rules_reader_t *self, const char *what)
{
    if (memchr(self->event.data.scalar.value, '\0', self->event.data.scalar.length) == NULL)
        return 0;
    return rules_reader_fail(self, rules_reader_line(self),
                             "%s contains a NUL byte; valid choices: plain text", what);
}

int
rules_reader_next_key(rules_reader_t *self, const char **key, int *line)
{
    *key = NULL;
    int rc = rules_reader_next(self);
    if (rc != 0)
        return rc;
    *line = rules_reader_line(self);
    if (self->event.type == YAML_MAPPING_END_EVENT)
        return 0;
    if (self->event.type != YAML_SCALAR_EVENT) {
        char found[QUOTE_BYTES_MAX + 32];
        return rules_reader_fail(self, *line,
                                 "a key must be a single word, found %s; valid choices: "
                                 "'key: value' lines",
                                 found_text(self, found, sizeof found));
    }
    rc = check_no_nul(self, "a key");
    if (rc != 0)
        return rc;
    *key = (const char *)self->event.data.scalar.value;
    return 0;
}

int
rules_reader_expect_scalar(rules_reader_t *self, const char *what, const char **value,
                           size_t *value_len)
{
    int rc = rules_reader_next(self);
    if (rc != 0)
        return rc;
    if (self->event.type != YAML_SCALAR_EVENT) {
        char found[QUOTE_BYTES_MAX + 32];
        return rules_reader_fail(self, rules_reader_line(self),
                                 "%s must be a single value, found %s; valid choices: one "
                                 "value after the colon",
                                 what, found_text(self, found, sizeof found));
    }
    rc = check_no_nul(self, what);
    if (rc != 0)
        return rc;
    *value = (const char *)self->event.data.scalar.value;
    *value_len = self->event.data.scalar.length;
    return 0;
}

const char *
rules_reader_quote(const char *text, size_t text_len, char *buf, size_t size)
{
    assert(size > 4);
    size_t keep = text_len;
    if (keep > QUOTE_BYTES_MAX)
        keep = QUOTE_BYTES_MAX;
    if (keep > size - 4)
        keep = size - 4;
    // Cut at a character boundary so the message stays valid UTF-8.
    while (keep < text_len && keep > 0 && ((unsigned char)text[keep] & 0xC0) == 0x80)
        keep--;
    for (size_t index = 0; index < keep; index++) {
        unsigned char byte = (unsigned char)text[index];
        buf[index] = (byte < 0x20 || byte == 0x7F) ? '?' : (char)byte;
    }
    if (keep < text_len) {
        memcpy(buf + keep, "...", 4);
    } else {
        buf[keep] = '\0';
    }
    return buf;
}

const char *
rules_reader_join_words(const char *const *words, size_t word_count, char *buf, size_t size)
{
    assert(size > 0);
    buf[0] = '\0';
    size_t used = 0;
    for (size_t index = 0; index < word_count && used < size; index++) {
        int wrote = snprintf(buf + used, size - used, "%s%s", index == 0 ? "" : ", ", words[index]);
        if (wrote < 0)
            break;
        used += (size_t)wrote;
    }
    return buf;
}

int
rules_reader_match_key(rules_reader_t *self, const char *key, int line, const char *scope,
                       const char *const *keys, size_t key_count, int *seen_lines,
                       size_t *key_index)
{
    for (size_t index = 0; index < key_count; index++) {
        if (strcmp(key, keys[index]) != 0)
            continue;
        if (seen_lines[index] != 0)
            return rules_reader_fail(self, line,
                                     "key '%s' appears twice in %s (first at line %d); valid "
                                     "choices: keep one",
                                     keys[index], scope, seen_lines[index]);
        seen_lines[index] = line;
        *key_index = index;
        return 0;
    }
    char choices[RULES_READER_CHOICES_MAX];
    char quoted[QUOTE_BYTES_MAX + 4];
    return rules_reader_fail(self, line, "unknown key '%s' in %s; valid choices: %s",
                             rules_reader_quote(key, strlen(key), quoted, sizeof quoted), scope,
                             rules_reader_join_words(keys, key_count, choices, sizeof choices));
}

static bool
is_name_byte(char byte)
{
    return (byte >= 'a' && byte <= 'z') || (byte >= 'A' && byte <= 'Z') ||
           (byte >= '0' && byte <= '9') || byte == '_' || byte == '.' || byte == '-';
}

// NULL when text is a valid name, else what is wrong with it.
static const char *
name_problem(const char *text, size_t text_len)
{
    if (text_len == 0)
        return "it is empty";
    if (text_len > CRDT_NAME_MAX)
        return "it is too long";
    for (size_t index = 0; index < text_len; index++) {
        if (!is_name_byte(text[index]))
            return "it has a character outside A-Z a-z 0-9 _ . -";
    }
    return NULL;
}

int
rules_reader_check_name(rules_reader_t *self, int line, const char *what, const char *text,
                        size_t text_len, const char *other_choices)
{
    const char *problem = name_problem(text, text_len);
    if (problem == NULL)
        return 0;
    char quoted[QUOTE_BYTES_MAX + 4];
    return rules_reader_fail(self, line,
                             "%s '%s' is not a valid name: %s; valid choices: %s1 to %d bytes of "
                             "A-Z a-z 0-9 _ . -",
                             what, rules_reader_quote(text, text_len, quoted, sizeof quoted),
                             problem, other_choices, CRDT_NAME_MAX);
}

int
rules_reader_read_name(rules_reader_t *self, const char *what, char **name)
{
    const char *value = NULL;
    size_t value_len = 0;
    int rc = rules_reader_expect_scalar(self, what, &value, &value_len);
    if (rc == 0)
        rc = rules_reader_check_name(self, rules_reader_line(self), what, value, value_len, "");
    if (rc != 0)
        return rc;
    *name = strdup(value);
    return *name != NULL ? 0 : rules_reader_out_of_memory(self);
}

int
rules_reader_read_text(rules_reader_t *self, const char *what, char **text)
{
    const char *value = NULL;
    size_t value_len = 0;
    int rc = rules_reader_expect_scalar(self, what, &value, &value_len);
    if (rc != 0)
        return rc;
    *text = strdup(value);
    return *text != NULL ? 0 : rules_reader_out_of_memory(self);
}
