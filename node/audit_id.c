#include "audit_id.h"

#include <string.h>

#include "sm_error.h"

// Letters that are hard to confuse when spoken (no I, O, Q, S, Z).
static const char check_letters[] = "ABCDEFGHJKLMNPRTUVWXY";

// Writes seq in decimal at out; returns the number of digits (no NUL).
static size_t
put_decimal(char *out, uint64_t seq)
{
    char digits[20];
    size_t count = 0;
    do {
        digits[count++] = (char)('0' + seq % 10);
        seq /= 10;
    } while (seq > 0);
    for (size_t i = 0; i < count; i++)
        out[i] = digits[count - 1 - i];
    return count;
}

// Position-weighted sum over "ORIGIN-SEQ", so a swap of two characters changes it;
// sum_from continues it from the state after the first `from` characters.
static uint32_t
sum_from(uint32_t sum, const char *body, size_t from, size_t len)
{
    for (size_t i = from; i < len; i++)
        sum = (sum * 31u + (uint8_t)body[i] * (uint32_t)(i + 1)) % 1000003u;
    return sum;
}

static char
check_letter(const char *body, size_t len)
{
    return check_letters[sum_from(0, body, 0, len) % (sizeof check_letters - 1)];
}

// "ORIGIN-SEQ" into out (AUDIT_ID_MAX bytes); returns its length.
static size_t
put_body(char *out, const char *origin, uint64_t seq)
{
    size_t len = strnlen(origin, CRDT_NAME_MAX);
    memcpy(out, origin, len);
    out[len++] = '-';
    return len + put_decimal(out + len, seq);
}

void
audit_id_format(char *out, const char *origin, uint64_t seq)
{
    size_t len = put_body(out, origin, seq);
    char letter = check_letter(out, len);
    out[len++] = '-';
    out[len++] = letter;
    out[len] = 0;
}

void
audit_id_origin_init(audit_id_origin_t *self, const char *origin)
{
    size_t len = strnlen(origin, CRDT_NAME_MAX);
    memcpy(self->prefix, origin, len);
    self->prefix[len++] = '-';
    self->prefix_len = len;
    self->prefix_sum = sum_from(0, self->prefix, 0, len);
}

void
audit_id_format_origin(char *out, const audit_id_origin_t *origin, uint64_t seq)
{
    memcpy(out, origin->prefix, origin->prefix_len);
    size_t len = origin->prefix_len + put_decimal(out + origin->prefix_len, seq);
    uint32_t sum = sum_from(origin->prefix_sum, out, origin->prefix_len, len);
    out[len++] = '-';
    out[len++] = check_letters[sum % (sizeof check_letters - 1)];
    out[len] = 0;
}

int
audit_id_parse(const char *text, char *origin, uint64_t *seq)
{
    size_t len = strlen(text);
    if (len < 5 || len >= AUDIT_ID_MAX || text[len - 2] != '-')
        return -SM_EINVAL;
    char letter = text[len - 1];
    if (letter >= 'a' && letter <= 'z')
        letter = (char)(letter - 'a' + 'A');
    const char *dash = NULL;
    for (size_t i = len - 2; i > 0; i--) {
        if (text[i - 1] == '-') {
            dash = text + i - 1;
            break;
        }
        if (text[i - 1] < '0' || text[i - 1] > '9')
            return -SM_EINVAL;
    }
    if (!dash || dash == text || dash + 1 == text + len - 2)
        return -SM_EINVAL;
    size_t name_len = (size_t)(dash - text);
    if (name_len > CRDT_NAME_MAX)
        return -SM_EINVAL;
    uint64_t value = 0;
    for (const char *p = dash + 1; p < text + len - 2; p++) {
        if (value > (UINT64_MAX - 9) / 10)
            return -SM_EINVAL;
        value = value * 10 + (uint64_t)(*p - '0');
    }
    memcpy(origin, text, name_len);
    origin[name_len] = 0;
    char body[AUDIT_ID_MAX];
    size_t body_len = put_body(body, origin, value);
    if (value == 0 || check_letter(body, body_len) != letter)
        return -SM_EINVAL;
    *seq = value;
    return 0;
}
