#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "name_key.h"

static int
sign(int x)
{
    return (x > 0) - (x < 0);
}

static int
keyed(const char *a, const char *b)
{
    return sign(name_key_order(name_key(a), a, name_key(b), b));
}

Test(name_key, orders_as_strcmp_around_the_8_and_16_byte_boundaries)
{
    const char *names[] = {"",           "a",           "b",          "branch-0",
                           "branch-00",  "branch-0042", "branch-0043", "branch-004",
                           "central-07", "central-070", "abcdefghijklmnop", "abcdefghijklmnoq",
                           "abcdefghijklmno", "abcdefghijklmnopq", "abcdefghijklmnopr",
                           "abcdefghijklmnopqrstuvwxyz-0001", "abcdefghijklmnopqrstuvwxyz-0002",
                           "x.y_z-9",    "~",           "cloud"};
    size_t count = sizeof names / sizeof names[0];
    for (size_t i = 0; i < count; i++)
        for (size_t j = 0; j < count; j++)
            cr_assert_eq(keyed(names[i], names[j]), sign(strcmp(names[i], names[j])),
                         "'%s' against '%s'", names[i], names[j]);
}

// Random names over a small alphabet, so that long shared prefixes are common.
Test(name_key, orders_as_strcmp_on_random_names)
{
    const uint64_t seed = 20261206;
    uint64_t state = seed;
    char a[48], b[48];
    for (int round = 0; round < 200000; round++) {
        char *names[2] = {a, b};
        size_t shared = 0;
        for (int n = 0; n < 2; n++) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            size_t len = (size_t)(state >> 33) % 40;
            if (n == 0)
                shared = (size_t)(state >> 20) % (len + 1);
            for (size_t i = 0; i < len; i++) {
                state = state * 6364136223846793005ull + 1442695040888963407ull;
                names[n][i] = n == 1 && i < shared ? a[i] : "ab-0"[(state >> 40) % 4];
            }
            names[n][len] = '\0';
        }
        cr_assert_eq(keyed(a, b), sign(strcmp(a, b)), "seed %llu round %d: '%s' against '%s'",
                     (unsigned long long)seed, round, a, b);
    }
}

// The key itself: the first 16 bytes, NUL-padded, as two big-endian numbers, for
// every length around the word boundaries and with bytes above 0x7f.
Test(name_key, is_the_first_16_bytes_zero_padded_big_endian)
{
    char name[24];
    for (size_t len = 0; len < sizeof name; len++) {
        for (int fill = 0; fill < 3; fill++) {
            memset(name, 0, sizeof name);
            for (size_t i = 0; i < len; i++)
                name[i] = (char)(fill == 0 ? 'a' + i : fill == 1 ? 0x80 + i : 0xff - i);
            uint8_t bytes[16] = {0};
            memcpy(bytes, name, len < 16 ? len : 16);
            uint64_t hi = 0, lo = 0;
            for (size_t i = 0; i < 8; i++) {
                hi = hi << 8 | bytes[i];
                lo = lo << 8 | bytes[8 + i];
            }
            name_key_t key = name_key(name);
            cr_assert_eq(key.hi, hi, "length %zu, fill %d: hi %016llx, want %016llx", len, fill,
                         (unsigned long long)key.hi, (unsigned long long)hi);
            cr_assert_eq(key.lo, lo, "length %zu, fill %d: lo %016llx, want %016llx", len, fill,
                         (unsigned long long)key.lo, (unsigned long long)lo);
        }
    }
}
