// tests/search/test_float16.cpp -- our float16 conversion against exact rules and against F16C.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "nn/rng.h"
#include "search/float16.h"

using namespace dlbhc;

static uint32_t fbits(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
}
static float from_bits(uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

TEST_CASE("float16: known values") {
    CHECK(float_to_half(0.0f) == 0x0000);
    CHECK(float_to_half(-0.0f) == 0x8000);
    CHECK(float_to_half(1.0f) == 0x3c00);
    CHECK(float_to_half(-2.0f) == 0xc000);
    CHECK(float_to_half(65504.0f) == 0x7bff);          // largest half
    CHECK(float_to_half(65519.99f) == 0x7bff);         // just below the halfway point
    CHECK(float_to_half(65520.0f) == 0x7c00);          // halfway, ties to even: infinity
    CHECK(float_to_half(1e10f) == 0x7c00);
    CHECK(float_to_half(-INFINITY) == 0xfc00);
    CHECK((float_to_half(NAN) & 0x7e00) == 0x7e00);    // quiet NaN
    CHECK(float_to_half(std::ldexp(1.0f, -24)) == 0x0001);  // smallest subnormal
    CHECK(float_to_half(std::ldexp(1.0f, -25)) == 0x0000);  // tie between 0 and 2^-24: even (0)
    CHECK(float_to_half(std::ldexp(1.5f, -25)) == 0x0001);
    CHECK(float_to_half(std::ldexp(1.0f, -14)) == 0x0400);  // smallest normal
    CHECK(float_to_half(1.0f + std::ldexp(1.0f, -11)) == 0x3c00);      // tie: to even (down)
    CHECK(float_to_half(1.0f + 3 * std::ldexp(1.0f, -11)) == 0x3c02);  // tie: to even (up)
    CHECK(half_to_float(0x3555) == doctest::Approx(0.33325195f).epsilon(1e-7));
    CHECK(half_to_float(0x0001) == std::ldexp(1.0f, -24));
    CHECK(std::isinf(half_to_float(0x7c00)));
    CHECK(std::isnan(half_to_float(0x7c01)));
}

TEST_CASE("float16: every half survives half -> float -> half") {
    for (uint32_t h = 0; h < 65536; ++h) {
        float f = half_to_float((uint16_t)h);
        bool nan = ((h >> 10) & 0x1f) == 0x1f && (h & 0x3ff);
        if (nan) {
            CHECK(std::isnan(f));
            continue;
        }
        REQUIRE(float_to_half(f) == h);
    }
}

TEST_CASE("float16: rounding is to nearest, checked in double arithmetic") {
    Rng rng(41);
    for (int i = 0; i < 200000; ++i) {
        // Random bit patterns over the half range (exponents 2^-26 .. 2^16).
        uint32_t e = 101 + rng.below(42), m = (uint32_t)(rng.next_u64() & 0x7fffff);
        float f = from_bits((e << 23) | m | (rng.below(2) << 31));
        uint16_t h = float_to_half(f);
        double err = std::fabs((double)half_to_float(h) - (double)f);
        if (std::isinf(half_to_float(h))) {
            CHECK(std::fabs(f) >= 65520.0f);
            continue;
        }
        // The neighbours of h are no closer.
        for (int delta : {-1, 1}) {
            uint16_t g = (uint16_t)(h + delta);
            if ((g & 0x7fff) >= 0x7c00 || ((h & 0x7fff) == 0 && delta < 0)) continue;
            double other = std::fabs((double)half_to_float(g) - (double)f);
            REQUIRE(err <= other);
        }
    }
}

TEST_CASE("float16: bulk converters (F16C when present) match the portable code") {
    if (!f16c_supported()) {
        MESSAGE("F16C not supported by this CPU: only the portable converters are tested");
        return;
    }
    Rng rng(42);
    std::vector<float> f(100003);
    for (auto& v : f) v = from_bits((uint32_t)rng.next_u64());  // any pattern: NaN, inf, subnormal
    f[0] = 65520.0f;
    f[1] = std::ldexp(1.0f, -25);
    std::vector<uint16_t> a(f.size()), b(f.size());
    detail::floats_to_halves_portable(f.data(), f.size(), a.data());
    floats_to_halves(f.data(), f.size(), b.data());
    size_t mismatches = 0;
    for (size_t i = 0; i < f.size(); ++i) mismatches += a[i] != b[i];
    CHECK(mismatches == 0);
    std::vector<uint16_t> all(65536);
    for (uint32_t h = 0; h < 65536; ++h) all[h] = (uint16_t)h;
    std::vector<float> x(65536), y(65536);
    detail::halves_to_floats_portable(all.data(), all.size(), x.data());
    halves_to_floats(all.data(), all.size(), y.data());
    mismatches = 0;
    for (size_t i = 0; i < x.size(); ++i) mismatches += fbits(x[i]) != fbits(y[i]);
    CHECK(mismatches == 0);
}
