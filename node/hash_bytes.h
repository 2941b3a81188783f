// hash_bytes: a 64-bit hash of a byte string for in-memory tables (the overlays'
// slots, the storage model's index, blob pool and node heights, the name pool),
// eight bytes at a time. Not for anything stored or sent: words are read in the
// host's byte order, so another machine gives other hashes. No table here depends
// on one for what it returns or the order it returns it in, only for where it looks.
//
// FNV-1a (a multiply per byte) was 6% of a 200-branch simulation's instructions:
// every key a core stages, merges or reads is hashed in up to three overlays, and
// every key the storage model writes is hashed for its height and its index slot.
#ifndef NODE_HASH_BYTES_H
#define NODE_HASH_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t
hash_bytes_word(uint64_t h, uint64_t word)
{
    h = (h ^ word) * 0xff51afd7ed558ccdull;
    return h ^ (h >> 32);
}

// seed tells apart tables or key spaces (a column family) that share a function.
static inline uint64_t
hash_bytes(uint64_t seed, const uint8_t *bytes, size_t len)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ seed;
    uint64_t word;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        memcpy(&word, bytes + i, sizeof word);
        h = hash_bytes_word(h, word);
    }
    if (i < len) {
        if (len >= 8) {
            // The last eight bytes, overlapping the words before: a fixed-size load
            // (a variable-length memcpy is a call).
            memcpy(&word, bytes + len - 8, sizeof word);
        } else {
            word = 0;
            for (size_t k = 0; k < len; k++)
                word |= (uint64_t)bytes[k] << (8 * k);
        }
        h = hash_bytes_word(h, word);
    }
    // The length, so that keys that differ only in trailing zero bytes differ; then
    // murmur3's finaliser, so that every bit reaches the low bits (slots) and the
    // high ones (the overlays' slot tags).
    h = (h ^ ((uint64_t)len << 8 | 0xff)) * 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

#endif
