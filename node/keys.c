#include "keys.h"

#include <assert.h>
#include <string.h>

#include "sm_error.h"

static size_t
put_name(uint8_t *out, const char *name)
{
    size_t len = strlen(name);
    memcpy(out, name, len);
    out[len] = 0;
    return len + 1;
}

size_t
keys_log(uint8_t *out, const char *origin, uint64_t seq)
{
    assert(strlen(origin) <= CRDT_NAME_MAX);
    size_t len = put_name(out, origin);
    keys_put_be64(out + len, seq);
    return len + 8;
}

int
keys_log_parse(const uint8_t *key, size_t key_len, char *origin, uint64_t *seq)
{
    if (key_len < 10 || key_len > CRDT_NAME_MAX + 9 || key[key_len - 9] != 0)
        return -SM_ECORRUPT;
    size_t name_len = key_len - 9;
    if (memchr(key, 0, name_len))
        return -SM_ECORRUPT;
    memcpy(origin, key, name_len);
    origin[name_len] = 0;
    *seq = keys_get_be64(key + key_len - 8);
    return 0;
}

size_t
keys_entity_prefix(uint8_t *out, const char *type, const char *key)
{
    assert(strlen(type) <= CRDT_NAME_MAX);
    assert(strlen(key) <= KEYS_ENTITY_KEY_MAX);
    size_t len = put_name(out, type);
    return len + put_name(out + len, key);
}

size_t
keys_state(uint8_t *out, const char *type, const char *key, const char *field)
{
    assert(strlen(field) <= CRDT_NAME_MAX);
    size_t len = keys_entity_prefix(out, type, key);
    size_t field_len = strlen(field);
    memcpy(out + len, field, field_len);
    return len + field_len;
}

size_t
keys_vv(uint8_t *out, const char *origin)
{
    assert(strlen(origin) <= CRDT_NAME_MAX);
    memcpy(out, KEYS_META_VV_PREFIX, KEYS_META_VV_PREFIX_LEN);
    size_t len = strlen(origin);
    memcpy(out + KEYS_META_VV_PREFIX_LEN, origin, len);
    return KEYS_META_VV_PREFIX_LEN + len;
}
