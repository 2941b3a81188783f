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
