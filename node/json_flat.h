// json_flat: reads one flat JSON object, as a line of `storemesh submit --batch`
// holds: members whose values are strings, or integers where the caller allows
// them, with keys from a fixed list. A strict RFC 8259 reader for that subset,
// with no object tree: json-c spent about 1.5 µs and a dozen mallocs a line on
// building and freeing one, most of the CLI's time on a million-line file.
// Decoded strings go into a buffer the caller gives; nothing is allocated.
#ifndef NODE_JSON_FLAT_H
#define NODE_JSON_FLAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_FLAT_KEYS_MAX 16
#define JSON_FLAT_PROBLEM_MAX 160 // bytes of a problem description

typedef struct {
    const char *text[JSON_FLAT_KEYS_MAX]; // decoded, NUL-terminated; NULL: absent
    size_t len[JSON_FLAT_KEYS_MAX];       // bytes of text, without the NUL
    bool integer[JSON_FLAT_KEYS_MAX];     // a JSON integer: text holds its digits
} json_flat_t;

// Parses text[0..len): one object, then only whitespace. keys[i]'s value lands in
// out->text[i]; a key with bit i of integer_keys set may also be an integer. A
// string containing \u0000 is refused (the fields are C strings). Decoded strings
// are written to scratch, which must hold len + 1 bytes (decoding never grows
// them). 0, or -1 with problem (JSON_FLAT_PROBLEM_MAX bytes) saying what is wrong
// and where: a syntax error, an unknown or repeated key, a value of the wrong type.
int json_flat_parse(const char *text, size_t len, const char *const *keys, size_t key_count,
                    uint32_t integer_keys, char *scratch, json_flat_t *out, char *problem);

#endif
