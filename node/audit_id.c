#include "audit_id.h"

#include <stdio.h>
#include <string.h>

#include "sm_error.h"

// Letters that are hard to confuse when spoken (no I, O, Q, S, Z).
static const char check_letters[] = "ABCDEFGHJKLMNPRTUVWXY";

static char
check_letter(const char *origin, uint64_t seq)
{
    // Position-weighted sum over the text, so a swap of two characters changes it.
    char body[AUDIT_ID_MAX];
    snprintf(body, sizeof body, "%s-%llu", origin, (unsigned long long)seq);
    uint32_t sum = 0;
    for (size_t i = 0; body[i]; i++)
        sum = (sum * 31u + (uint8_t)body[i] * (uint32_t)(i + 1)) % 1000003u;
    return check_letters[sum % (sizeof check_letters - 1)];
}

void
audit_id_format(char *out, const char *origin, uint64_t seq)
{
    snprintf(out, AUDIT_ID_MAX, "%s-%llu-%c", origin, (unsigned long long)seq,
             check_letter(origin, seq));
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
    if (value == 0 || check_letter(origin, value) != letter)
        return -SM_EINVAL;
    *seq = value;
    return 0;
}
