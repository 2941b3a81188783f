// json_flat: the reader of `submit --batch` lines. Accepted lines decode to the
// exact strings a JSON encoder was given (a seeded round trip through every escape
// form), and each kind of bad line is refused with what is wrong.
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_flat.h"

static const char *const keys[] = {"command_id", "source", "type", "key", "field", "op", "value"};
#define KEY_COUNT 7
#define VALUE_KEY 6

static int
parse(const char *line, json_flat_t *out, char *scratch, char *problem)
{
    return json_flat_parse(line, strlen(line), keys, KEY_COUNT, 1u << VALUE_KEY, scratch, out,
                           problem);
}

Test(json_flat, a_batch_line_decodes_to_its_fields)
{
    char scratch[512];
    char problem[JSON_FLAT_PROBLEM_MAX];
    json_flat_t out;
    const char *line = " {\"command_id\":\"till1-0001\", \"type\":\"stock\",\"key\":\"sku-42\","
                       "\"field\":\"on_hand\",\"op\":\"add\",\"value\":-3}\r\n";
    cr_assert_eq(parse(line, &out, scratch, problem), 0, "%s", problem);
    cr_assert_str_eq(out.text[0], "till1-0001");
    cr_assert_null(out.text[1], "source is absent");
    cr_assert_str_eq(out.text[2], "stock");
    cr_assert_str_eq(out.text[5], "add");
    cr_assert_str_eq(out.text[VALUE_KEY], "-3");
    cr_assert(out.integer[VALUE_KEY]);
    cr_assert_eq(out.len[VALUE_KEY], 2);
    cr_assert_eq(parse("{}", &out, scratch, problem), 0, "an empty object parses");
    cr_assert_eq(parse("{\"value\":\"a\\\"b\\\\c\\/d\\n\\t\\u00e9\\ud83d\\ude00\"}", &out, scratch,
                       problem),
                 0, "%s", problem);
    cr_assert_str_eq(out.text[VALUE_KEY], "a\"b\\c/d\n\t\xc3\xa9\xf0\x9f\x98\x80");
    cr_assert_not(out.integer[VALUE_KEY]);
}

typedef struct {
    const char *line;
    const char *expected; // a part of the problem
} bad_line_t;

Test(json_flat, each_kind_of_bad_line_is_refused_with_the_reason)
{
    static const bad_line_t bad[] = {
        {"[1,2,3]", "not a JSON object"},
        {"not json at all", "not a JSON object"},
        {"", "not a JSON object"},
        {"{\"type\":\"stock\",", "the line ends inside the object"},
        {"{\"type\":\"stock\"", "expected ',' or '}'"},
        {"{\"type\" \"stock\"}", "expected ':'"},
        {"{type:\"stock\"}", "expected '\"'"},
        {"{\"type\":\"sto", "the line ends inside a string"},
        {"{\"type\":\"a\tb\"}", "control character"},
        {"{\"type\":\"a\\qb\"}", "'\\q' is not a JSON escape"},
        {"{\"type\":\"\\u12\"}", "four hex digits"},
        {"{\"type\":\"\\u0000\"}", "\\u0000"},
        {"{\"type\":\"\\udc00\"}", "lone low surrogate"},
        {"{\"type\":\"\\ud800x\"}", "without its pair"},
        {"{\"type\":\"\\ud800\\u0041\"}", "does not complete a surrogate pair"},
        {"{\"typo\":\"stock\"}", "unknown key 'typo'; valid keys: command_id, source, type"},
        {"{\"type\":\"a\",\"type\":\"b\"}", "key 'type' appears twice"},
        {"{\"type\":3}", "'type' must be a string"},
        {"{\"value\":1.5}", "'value' must be a string or an integer"},
        {"{\"value\":1e3}", "'value' must be a string or an integer"},
        {"{\"value\":01}", "'value' must be a string or an integer"},
        {"{\"value\":true}", "'value' must be a string or an integer"},
        {"{\"value\":-}", "'value' must be a string or an integer"},
        {"{\"value\":\"1\"} x", "text after the object"},
        {"{\"value\":\"1\"}{\"value\":\"2\"}", "text after the object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char scratch[128];
        char problem[JSON_FLAT_PROBLEM_MAX] = "";
        json_flat_t out;
        cr_assert_eq(parse(bad[i].line, &out, scratch, problem), -1, "accepted: %s", bad[i].line);
        cr_assert_not_null(strstr(problem, bad[i].expected), "%s: said '%s', expected '%s'",
                           bad[i].line, problem, bad[i].expected);
    }
}

static uint64_t
next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

// UTF-8 for code (no surrogates); returns the bytes written.
static size_t
utf8(unsigned code, char *out)
{
    if (code < 0x80) {
        out[0] = (char)code;
        return 1;
    }
    if (code < 0x800) {
        out[0] = (char)(0xC0 | (code >> 6));
        out[1] = (char)(0x80 | (code & 0x3F));
        return 2;
    }
    if (code < 0x10000) {
        out[0] = (char)(0xE0 | (code >> 12));
        out[1] = (char)(0x80 | ((code >> 6) & 0x3F));
        out[2] = (char)(0x80 | (code & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (code >> 18));
    out[1] = (char)(0x80 | ((code >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((code >> 6) & 0x3F));
    out[3] = (char)(0x80 | (code & 0x3F));
    return 4;
}

// Appends code to the JSON text in one of the forms an encoder may choose.
static size_t
encode(unsigned code, uint64_t *rng, char *out)
{
    static const char simple_from[] = "\"\\/\b\f\n\r\t";
    static const char simple_to[] = "\"\\/bfnrt";
    const char *simple = code && code < 0x80 ? strchr(simple_from, (int)code) : NULL;
    uint64_t form = next_random(rng) % 3;
    if (simple && (form == 0 || code < 0x20 || code == '"' || code == '\\')) {
        out[0] = '\\';
        out[1] = simple_to[simple - simple_from];
        return 2;
    }
    if (form == 1 || code < 0x20) {
        if (code < 0x10000)
            return (size_t)sprintf(out, "\\u%04x", code);
        unsigned v = code - 0x10000;
        return (size_t)sprintf(out, "\\u%04X\\u%04x", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
    }
    return utf8(code, out);
}

Test(json_flat, a_seeded_round_trip_through_every_escape_form)
{
    const uint64_t seed = 20261125;
    uint64_t rng = seed;
    for (int round = 0; round < 2000; round++) {
        char expected[KEY_COUNT][256];
        size_t expected_len[KEY_COUNT];
        char line[8192];
        size_t used = (size_t)sprintf(line, "%s{", next_random(&rng) % 2 ? " " : "");
        bool present[KEY_COUNT] = {false};
        bool first = true;
        for (int k = 0; k < KEY_COUNT; k++) {
            if (next_random(&rng) % 4 == 0)
                continue;
            present[k] = true;
            used += (size_t)sprintf(line + used, "%s\"%s\"%s:%s\"", first ? "" : ",", keys[k],
                                    next_random(&rng) % 2 ? " " : "",
                                    next_random(&rng) % 2 ? "\t" : "");
            first = false;
            size_t len = 0;
            size_t chars = next_random(&rng) % 20;
            for (size_t c = 0; c < chars; c++) {
                unsigned code;
                uint64_t kind = next_random(&rng) % 4;
                if (kind == 0)
                    code = 1 + (unsigned)(next_random(&rng) % 0x7F);
                else if (kind == 1)
                    code = 0x80 + (unsigned)(next_random(&rng) % 0x780);
                else if (kind == 2)
                    code = 0xE000 + (unsigned)(next_random(&rng) % 0x2000);
                else
                    code = 0x10000 + (unsigned)(next_random(&rng) % 0x100000);
                len += utf8(code, expected[k] + len);
                used += encode(code, &rng, line + used);
            }
            expected[k][len] = '\0';
            expected_len[k] = len;
            line[used++] = '"';
        }
        used += (size_t)sprintf(line + used, "}\n");
        char scratch[8192];
        char problem[JSON_FLAT_PROBLEM_MAX] = "";
        json_flat_t out;
        int rc = json_flat_parse(line, used, keys, KEY_COUNT, 1u << VALUE_KEY, scratch, &out,
                                 problem);
        cr_assert_eq(rc, 0, "seed %llu round %d: %s: %s", (unsigned long long)seed, round, line,
                     problem);
        for (int k = 0; k < KEY_COUNT; k++) {
            if (!present[k]) {
                cr_assert_null(out.text[k], "seed %llu round %d", (unsigned long long)seed, round);
                continue;
            }
            cr_assert_eq(out.len[k], expected_len[k], "seed %llu round %d key %s",
                         (unsigned long long)seed, round, keys[k]);
            cr_assert_eq(memcmp(out.text[k], expected[k], expected_len[k] + 1), 0,
                         "seed %llu round %d key %s", (unsigned long long)seed, round, keys[k]);
        }
    }
}
