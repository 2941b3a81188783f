// name_key: a node name's first 16 bytes as two big-endian numbers, NUL-padded, so
// that names order as their keys do and two integer compares settle almost every
// comparison. Version vectors, the peer table and the origin table are searched by
// name on every message: strcmp was the simulator's largest single cost, and an
// 8-byte prefix did not tell apart names such as "branch-0042" and "branch-0043".
// Only names that agree on 16 bytes, both at least that long, need strcmp.
#ifndef NODE_NAME_KEY_H
#define NODE_NAME_KEY_H

#include <stdint.h>
#include <string.h>

typedef struct {
    uint64_t hi; // bytes 0..7
    uint64_t lo; // bytes 8..15
} name_key_t;

// Reads no byte past the name's NUL (names sit in pools and decoded messages, not
// in padded buffers), and stops there: the zero bytes are shifted in. Filling a
// 16-byte copy and then shifting all of it took three times the instructions, and
// keys are made on every version vector lookup (6% of chain-200's).
static inline name_key_t
name_key(const char *name)
{
    uint64_t hi = 0;
    size_t i = 0;
    for (; i < 8 && name[i]; i++)
        hi = hi << 8 | (uint8_t)name[i];
    if (i < 8)
        return (name_key_t){i ? hi << (8 * (8 - i)) : 0, 0};
    uint64_t lo = 0;
    size_t k = 0;
    for (; k < 8 && name[8 + k]; k++)
        lo = lo << 8 | (uint8_t)name[8 + k];
    return (name_key_t){hi, k == 8 ? lo : k ? lo << (8 * (8 - k)) : 0};
}

// strcmp's sign for (a_key, a) against (b_key, b), each key name_key of its name.
static inline int
name_key_order(name_key_t a_key, const char *a, name_key_t b_key, const char *b)
{
    if (a_key.hi != b_key.hi)
        return a_key.hi < b_key.hi ? -1 : 1;
    if (a_key.lo != b_key.lo)
        return a_key.lo < b_key.lo ? -1 : 1;
    // Equal keys: the same first 16 bytes. A zero last byte means both names end
    // there, so they are equal; otherwise both go on past byte 16.
    if ((a_key.lo & 0xff) == 0)
        return 0;
    return strcmp(a + 16, b + 16);
}

#endif
