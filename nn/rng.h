// nn/rng.h -- the explicit, seeded random generator used everywhere randomness is needed.
//
// No rand(), no global state: every user (fillers, dropout, data shuffling) is handed an Rng, so a
// run is repeatable bit for bit from its seed, and the whole state (4 words) can be saved in a
// snapshot. The generator is xoshiro256** (Blackman & Vigna), seeded through splitmix64.
#pragma once
#include <cstdint>

namespace dlbhc {

class Rng {
public:
    explicit Rng(uint64_t seed = 1) { seed_with(seed); }
    void seed_with(uint64_t seed);

    uint64_t next_u64();
    // Uniform in [0, 1) with 24 random bits (exactly representable as float).
    float uniform() { return (float)(next_u64() >> 40) * (1.0f / 16777216.0f); }
    // Uniform in [a, b).
    float uniform(float a, float b) { return a + (b - a) * uniform(); }
    // Uniform integer in [0, n), n > 0 (Lemire's multiply-shift; bias below 2^-32 for n < 2^32).
    uint32_t below(uint32_t n) { return (uint32_t)(((next_u64() >> 32) * (uint64_t)n) >> 32); }
    // Normal(mean, std) by the Box-Muller transform; one draw per call, no cached spare, so the
    // state stays the four words below.
    float gaussian(float mean, float std);

    // The complete state, for snapshots.
    uint64_t s[4];
};

}  // namespace dlbhc
