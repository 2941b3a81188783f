// rules_reader: walks the YAML of a rules file as libyaml events, one at a time,
// for the rules loader (node/rules.c), and words every problem as the one line
// "NAME:LINE: what is wrong; valid choices: ...". It knows YAML shapes (maps,
// single values, keys), not the rules schema. Not for other YAML files.
//
// Events are streamed rather than loaded into a tree so that a bad file stops at
// its first wrong shape, with that event's own line, before anything large is
// built. Aliases are refused: a rules file is read by auditors, and an alias can
// repeat a whole map many times over.
#ifndef NODE_RULES_READER_H
#define NODE_RULES_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <yaml.h>

typedef struct {
    yaml_parser_t parser;
    yaml_event_t event;       // the current event; valid until the next read
    bool has_event;           // event holds memory to release
    const char *text;         // the file's bytes (borrowed), to place reader errors
    size_t text_len;          // bytes
    const char *display_name; // stands for the path in messages (borrowed)
    char *err;                // receives the one error line (borrowed)
    size_t err_size;          // bytes, including the NUL
} rules_reader_t;

// Checks that text (text_len bytes; no NUL needed) is well-formed YAML, then
// prepares self to read it from the start. All pointers are borrowed until
// rules_reader_close, which is needed only after success. 0; -SM_EINVAL for a
// YAML syntax error; -SM_ENOMEM. The error line is written on failure.
int rules_reader_open(rules_reader_t *self, const char *text, size_t text_len,
                      const char *display_name, char *err, size_t err_size);
// Releases the parser and the current event. Safe after a failed read.
void rules_reader_close(rules_reader_t *self);

// Reads the next event into self->event. 0; -SM_EINVAL for a YAML syntax error
// or an alias; -SM_ENOMEM. The error line is written on failure.
int rules_reader_next(rules_reader_t *self);
// The 1-based line where the current event starts.
int rules_reader_line(const rules_reader_t *self);

// Writes "NAME:LINE: " and the formatted text to err. Always -SM_EINVAL.
int rules_reader_fail(rules_reader_t *self, int line, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
// Writes "NAME: out of memory ...". Always -SM_ENOMEM.
int rules_reader_out_of_memory(rules_reader_t *self);

// Reads the next event, which must open a map. what names the thing in the
// message ("limits", "entity 'stock'"); choices says what belongs in it.
// 0 or a negative SM_E* code with err written.
int rules_reader_expect_mapping(rules_reader_t *self, const char *what, const char *choices);
// Reads the next key of the open map: *key is its text (NUL-terminated, valid
// until the next read) and *line its line, or *key is NULL when the map ends.
// 0 or a negative SM_E* code (a key that is a map or a list, say).
int rules_reader_next_key(rules_reader_t *self, const char **key, int *line);
// Reads the next event, which must be a single value (no map, no list, no NUL
// byte). *value (NUL-terminated) and *value_len stay valid until the next read.
// 0 or a negative SM_E* code.
int rules_reader_expect_scalar(rules_reader_t *self, const char *what, const char **value,
                               size_t *value_len);

// Room for a list of valid keys in a message.
#define RULES_READER_CHOICES_MAX 160

// Joins words with ", " into buf (size bytes), cut short if it must. Returns buf.
const char *rules_reader_join_words(const char *const *words, size_t word_count, char *buf,
                                    size_t size);
// Finds key among keys (key_count of them) of the map that scope names ("limits",
// "entity 'stock'"). seen_lines (key_count entries, 0 for not seen yet) refuses a
// key given twice. 0 and *key_index set, or -SM_EINVAL listing the valid keys.
int rules_reader_match_key(rules_reader_t *self, const char *key, int line, const char *scope,
                           const char *const *keys, size_t key_count, int *seen_lines,
                           size_t *key_index);
// 0 when text (text_len bytes) is a valid name: 1 to CRDT_NAME_MAX bytes of
// [A-Za-z0-9_.-], because names travel in keys and messages. Else -SM_EINVAL
// naming what at line; other_choices leads the valid choices ("origin, or ").
int rules_reader_check_name(rules_reader_t *self, int line, const char *what, const char *text,
                            size_t text_len, const char *other_choices);
// Reads a single value that must be a valid name; *name is malloc'd (caller
// frees). 0 or a negative SM_E* code.
int rules_reader_read_name(rules_reader_t *self, const char *what, char **name);
// Reads a single value of any text; *text is malloc'd (caller frees).
// 0 or a negative SM_E* code.
int rules_reader_read_text(rules_reader_t *self, const char *what, char **text);

// Copies text into buf (size bytes) for quoting in a message: cut short with
// "..." past a few dozen bytes, control bytes shown as '?'. Returns buf.
const char *rules_reader_quote(const char *text, size_t text_len, char *buf, size_t size);

#endif
