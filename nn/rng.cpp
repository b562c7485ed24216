// nn/rng.cpp -- xoshiro256** with splitmix64 seeding.
#include "nn/rng.h"

#include <cmath>

namespace dlbhc {

static uint64_t splitmix64(uint64_t& x) {
    uint64_t z = (x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void Rng::seed_with(uint64_t seed) {
    uint64_t x = seed;
    for (auto& w : s) w = splitmix64(x);
}

uint64_t Rng::next_u64() {
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

float Rng::gaussian(float mean, float std) {
    // u1 in (0, 1] so log(u1) is finite.
    double u1 = ((next_u64() >> 11) + 1) * (1.0 / 9007199254740992.0);
    double u2 = (next_u64() >> 11) * (1.0 / 9007199254740992.0);
    double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
    return (float)(mean + std * z);
}

}  // namespace dlbhc
