#include "sim_rng.h"

#include <math.h>

static uint64_t
splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t
rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void
sim_rng_init(sim_rng_t *self, uint64_t seed, sim_stream_t stream, uint64_t index)
{
    uint64_t state = seed;
    uint64_t mixed = splitmix64(&state) ^ ((uint64_t)stream * 0xd6e8feb86659fd93ull);
    state = mixed;
    mixed = splitmix64(&state) ^ (index * 0xa0761d6478bd642full);
    state = mixed;
    for (int i = 0; i < 4; i++)
        self->s[i] = splitmix64(&state);
}

uint64_t
sim_rng_next(sim_rng_t *self)
{
    uint64_t *s = self->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t
sim_rng_below(sim_rng_t *self, uint64_t bound)
{
    if (bound == 0)
        return 0;
    // Lemire's multiply-shift: no modulo bias worth the name at these bounds.
    return (uint64_t)(((unsigned __int128)sim_rng_next(self) * bound) >> 64);
}

uint64_t
sim_rng_range(sim_rng_t *self, uint64_t low, uint64_t high)
{
    if (high <= low)
        return low;
    return low + sim_rng_below(self, high - low + 1);
}

double
sim_rng_double(sim_rng_t *self)
{
    return (double)(sim_rng_next(self) >> 11) * (1.0 / 9007199254740992.0);
}

bool
sim_rng_chance(sim_rng_t *self, double probability)
{
    if (probability <= 0)
        return false;
    return sim_rng_double(self) < probability;
}

uint64_t
sim_rng_exponential(sim_rng_t *self, double mean)
{
    double u = sim_rng_double(self);
    double value = -log(1.0 - u) * mean;
    if (value < 1)
        return 1;
    if (value > 1e15)
        return (uint64_t)1e15;
    return (uint64_t)value;
}
