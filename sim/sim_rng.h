// sim_rng: the simulator's seeded random streams. One run seed derives an
// independent stream per subsystem and per node (sim_rng_init), so adding a fault
// or a node does not reshuffle the workload of the others. xoshiro256** seeded
// through splitmix64: fast, and the same numbers on every machine.
#ifndef SIM_RNG_H
#define SIM_RNG_H

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    SIM_STREAM_NETWORK = 1,
    SIM_STREAM_STORAGE = 2,
    SIM_STREAM_CLOCK = 3,
    SIM_STREAM_WORKLOAD = 4,
    SIM_STREAM_FAULTS = 5,
    SIM_STREAM_KEYS = 6,
    SIM_STREAM_SENDS = 7, // per link direction: 2 * link (a to b), 2 * link + 1 (b to a)
} sim_stream_t;

typedef struct {
    uint64_t s[4];
} sim_rng_t;

// The stream for (seed, stream, index): index is a node or link number.
void sim_rng_init(sim_rng_t *self, uint64_t seed, sim_stream_t stream, uint64_t index);
uint64_t sim_rng_next(sim_rng_t *self);
// Uniform in [0, bound); 0 when bound is 0.
uint64_t sim_rng_below(sim_rng_t *self, uint64_t bound);
// Uniform in [low, high] (high >= low).
uint64_t sim_rng_range(sim_rng_t *self, uint64_t low, uint64_t high);
// Uniform in [0, 1).
double sim_rng_double(sim_rng_t *self);
bool sim_rng_chance(sim_rng_t *self, double probability);
// Exponentially distributed with the given mean (the gap between Poisson arrivals),
// at least 1.
uint64_t sim_rng_exponential(sim_rng_t *self, double mean);

#endif
