#include "json_flat.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    const char *start;
    const char *p;
    const char *end;
    char *out; // the next free byte of the caller's scratch
    char *problem;
} reader_t;

static int
fail(reader_t *r, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(r->problem, JSON_FLAT_PROBLEM_MAX, format, args);
    va_end(args);
    return -1;
}

static int
syntax(reader_t *r, const char *expected)
{
    if (r->p >= r->end)
        return fail(r, "malformed JSON: the line ends inside the object (expected %s)", expected);
    return fail(r, "malformed JSON at byte %zu: expected %s", (size_t)(r->p - r->start) + 1,
                expected);
}

static void
skip_space(reader_t *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

static int
hex4(reader_t *r, unsigned *code)
{
    if (r->end - r->p < 4)
        return syntax(r, "four hex digits after \\u");
    unsigned value = 0;
    for (int i = 0; i < 4; i++) {
        char c = r->p[i];
        unsigned digit = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                         : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                         : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                                : 16u;
        if (digit == 16)
            return syntax(r, "four hex digits after \\u");
        value = value * 16 + digit;
    }
    r->p += 4;
    *code = value;
    return 0;
}

// One \u escape (the "\u" already read), a surrogate pair whole, as UTF-8.
static int
unicode_escape(reader_t *r)
{
    unsigned code = 0;
    if (hex4(r, &code))
        return -1;
    if (code >= 0xDC00 && code <= 0xDFFF)
        return fail(r, "malformed JSON at byte %zu: a lone low surrogate \\u%04X",
                    (size_t)(r->p - r->start) - 5, code);
    if (code >= 0xD800 && code <= 0xDBFF) {
        unsigned low = 0;
        if (r->end - r->p < 2 || r->p[0] != '\\' || r->p[1] != 'u')
            return fail(r, "malformed JSON at byte %zu: a high surrogate \\u%04X without its pair",
                        (size_t)(r->p - r->start) - 5, code);
        r->p += 2;
        if (hex4(r, &low))
            return -1;
        if (low < 0xDC00 || low > 0xDFFF)
            return fail(r, "malformed JSON at byte %zu: \\u%04X does not complete a surrogate pair",
                        (size_t)(r->p - r->start) - 5, low);
        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
    }
    if (code == 0)
        return fail(r, "a string holds \\u0000, which no field may contain");
    // A \uXXXX escape is 6 bytes and at most 3 of UTF-8; a pair is 12 and 4.
    char *out = r->out;
    if (code < 0x80) {
        *out++ = (char)code;
    } else if (code < 0x800) {
        *out++ = (char)(0xC0 | (code >> 6));
        *out++ = (char)(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
        *out++ = (char)(0xE0 | (code >> 12));
        *out++ = (char)(0x80 | ((code >> 6) & 0x3F));
        *out++ = (char)(0x80 | (code & 0x3F));
    } else {
        *out++ = (char)(0xF0 | (code >> 18));
        *out++ = (char)(0x80 | ((code >> 12) & 0x3F));
        *out++ = (char)(0x80 | ((code >> 6) & 0x3F));
        *out++ = (char)(0x80 | (code & 0x3F));
    }
    r->out = out;
    return 0;
}

// A string at r->p (its opening quote), decoded into the scratch and NUL-terminated.
// The quotes pay for the NUL, so the scratch never needs more than the line.
static int
string(reader_t *r, const char **text, size_t *len)
{
    if (r->p >= r->end || *r->p != '"')
        return syntax(r, "'\"'");
    r->p++;
    char *start = r->out;
    for (;;) {
        // Plain characters in a run (most strings have no escape at all).
        const char *run = r->p;
        while (run < r->end && *run != '"' && *run != '\\' && (unsigned char)*run >= 0x20)
            run++;
        if (run > r->p) {
            memcpy(r->out, r->p, (size_t)(run - r->p));
            r->out += run - r->p;
            r->p = run;
        }
        if (r->p >= r->end)
            return fail(r, "malformed JSON: the line ends inside a string");
        unsigned char c = (unsigned char)*r->p++;
        if (c == '"')
            break;
        if (c < 0x20)
            return fail(r, "malformed JSON at byte %zu: a control character in a string "
                           "(write it as an escape, such as \\n)",
                        (size_t)(r->p - r->start));
        if (c != '\\') {
            *r->out++ = (char)c;
            continue;
        }
        if (r->p >= r->end)
            return fail(r, "malformed JSON: the line ends inside a string");
        char escape = *r->p++;
        static const char from[] = "\"\\/bfnrt";
        static const char to[] = "\"\\/\b\f\n\r\t";
        const char *found = escape ? strchr(from, escape) : NULL;
        if (found) {
            *r->out++ = to[found - from];
        } else if (escape == 'u') {
            if (unicode_escape(r))
                return -1;
        } else {
            return fail(r, "malformed JSON at byte %zu: '\\%c' is not a JSON escape",
                        (size_t)(r->p - r->start) - 1, escape);
        }
    }
    *text = start;
    *len = (size_t)(r->out - start);
    *r->out++ = '\0';
    return 0;
}

// An integer's text: -?(0|[1-9][0-9]*), not followed by a fraction or an exponent.
// False when it is not one (the caller says what was expected).
static bool
integer(reader_t *r, const char **text, size_t *len)
{
    const char *p = r->p;
    if (p < r->end && *p == '-')
        p++;
    const char *digits = p;
    while (p < r->end && *p >= '0' && *p <= '9')
        p++;
    if (p == digits || (*digits == '0' && p - digits > 1))
        return false;
    if (p < r->end && (*p == '.' || *p == 'e' || *p == 'E'))
        return false;
    size_t n = (size_t)(p - r->p);
    memcpy(r->out, r->p, n); // n bytes of the line and no quotes: room for the NUL
    *text = r->out;
    *len = n;
    r->out[n] = '\0';
    r->out += n + 1;
    r->p = p;
    return true;
}

static int
unknown_key(reader_t *r, const char *key, const char *const *keys, size_t key_count)
{
    char valid[JSON_FLAT_PROBLEM_MAX] = "";
    size_t used = 0;
    for (size_t i = 0; i < key_count && used < sizeof valid; i++)
        used += (size_t)snprintf(valid + used, sizeof valid - used, "%s%s", i ? ", " : "",
                                 keys[i]);
    return fail(r, "unknown key '%.40s'; valid keys: %s", key, valid);
}

static int
member(reader_t *r, const char *const *keys, size_t key_count, uint32_t integer_keys,
       json_flat_t *out)
{
    const char *key = NULL;
    size_t key_len = 0;
    char *key_out = r->out;
    if (string(r, &key, &key_len))
        return -1;
    size_t k = 0;
    while (k < key_count && !(strlen(keys[k]) == key_len && memcmp(keys[k], key, key_len) == 0))
        k++;
    if (k == key_count)
        return unknown_key(r, key, keys, key_count);
    if (out->text[k])
        return fail(r, "key '%s' appears twice; give each key once", keys[k]);
    r->out = key_out; // the key's bytes are not needed once matched
    skip_space(r);
    if (r->p >= r->end || *r->p != ':')
        return syntax(r, "':'");
    r->p++;
    skip_space(r);
    bool may_be_integer = k < 32 && (integer_keys & (1u << k));
    if (r->p < r->end && *r->p == '"')
        return string(r, &out->text[k], &out->len[k]);
    if (may_be_integer && integer(r, &out->text[k], &out->len[k])) {
        out->integer[k] = true;
        return 0;
    }
    return fail(r, "'%s' must be a string%s", keys[k], may_be_integer ? " or an integer" : "");
}

int
json_flat_parse(const char *text, size_t len, const char *const *keys, size_t key_count,
                uint32_t integer_keys, char *scratch, json_flat_t *out, char *problem)
{
    assert(text != NULL && keys != NULL && scratch != NULL && out != NULL && problem != NULL);
    assert(key_count <= JSON_FLAT_KEYS_MAX);
    memset(out, 0, sizeof *out);
    reader_t r = {.start = text, .p = text, .end = text + len, .out = scratch, .problem = problem};
    skip_space(&r);
    if (r.p >= r.end || *r.p != '{')
        return fail(&r, "not a JSON object");
    r.p++;
    skip_space(&r);
    if (r.p < r.end && *r.p == '}') {
        r.p++;
    } else {
        // Bounded by the line: every turn reads at least a key.
        for (;;) {
            if (member(&r, keys, key_count, integer_keys, out))
                return -1;
            skip_space(&r);
            if (r.p < r.end && *r.p == ',') {
                r.p++;
                skip_space(&r);
                continue;
            }
            if (r.p < r.end && *r.p == '}') {
                r.p++;
                break;
            }
            return syntax(&r, "',' or '}'");
        }
    }
    skip_space(&r);
    if (r.p < r.end)
        return fail(&r, "malformed JSON at byte %zu: text after the object (one object a line)",
                    (size_t)(r.p - r.start) + 1);
    assert((size_t)(r.out - scratch) <= len + 1);
    return 0;
}
