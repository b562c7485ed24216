// tests/nn/test_filler.cpp -- Rng and the fillers: repeatable from the seed, ranges and moments.
#include <doctest/doctest.h>

#include <cmath>

#include "nn/filler.h"
#include "nn/rng.h"
#include "nn/tensor.h"

using namespace dlbhc;

TEST_CASE("rng: repeatable from the seed, ranges, moments") {
    Rng a(123), b(123), c(124);
    for (int i = 0; i < 10; ++i) CHECK(a.next_u64() == b.next_u64());
    CHECK(a.next_u64() != c.next_u64());
    Rng r(9);
    double sum = 0, sumsq = 0;
    const int n = 200000;
    int out_of_range = 0;
    for (int i = 0; i < n; ++i) {
        float u = r.uniform();
        out_of_range += u < 0.0f || u >= 1.0f;
        out_of_range += r.below(7) >= 7u;
        double g = r.gaussian(2.0f, 3.0f);
        sum += g;
        sumsq += g * g;
    }
    CHECK(out_of_range == 0);
    double mean = sum / n, var = sumsq / n - mean * mean;
    CHECK(mean == doctest::Approx(2.0).epsilon(0.02));       // std error 3/sqrt(2e5) = 0.007
    CHECK(std::sqrt(var) == doctest::Approx(3.0).epsilon(0.01));
}

TEST_CASE("fillers: constant, gaussian, uniform, xavier, errors") {
    Rng rng(5);
    Tensor t(Shape(64, 32, 3, 3));  // fan_in = 288, fan_out = 576
    fill(FillerParam::constant(0.25f), t, rng);
    for (size_t i = 0; i < t.count(); ++i) REQUIRE(t[i] == 0.25f);

    fill(FillerParam::gaussian(0.01f, 1.0f), t, rng);
    double sum = 0, sumsq = 0;
    for (size_t i = 0; i < t.count(); ++i) { sum += t[i]; sumsq += (double)t[i] * t[i]; }
    double mean = sum / t.count(), sd = std::sqrt(sumsq / t.count() - mean * mean);
    CHECK(mean == doctest::Approx(1.0).epsilon(1e-3));
    CHECK(sd == doctest::Approx(0.01).epsilon(0.03));

    fill(FillerParam::uniform(-2.0f, 3.0f), t, rng);
    float lo = 1e9f, hi = -1e9f;
    for (size_t i = 0; i < t.count(); ++i) { lo = std::fmin(lo, t[i]); hi = std::fmax(hi, t[i]); }
    CHECK(lo >= -2.0f);
    CHECK(hi < 3.0f);
    CHECK(lo < -1.99f);
    CHECK(hi > 2.99f);

    fill(FillerParam::xavier(), t, rng);
    float s = (float)std::sqrt(3.0 / 288);
    lo = 1e9f; hi = -1e9f;
    for (size_t i = 0; i < t.count(); ++i) { lo = std::fmin(lo, t[i]); hi = std::fmax(hi, t[i]); }
    CHECK(lo >= -s);
    CHECK(hi < s);
    CHECK(hi > 0.99f * s);
    FillerParam fo = FillerParam::xavier();
    fo.variance_norm = "FAN_OUT";
    fill(fo, t, rng);
    hi = 0;
    for (size_t i = 0; i < t.count(); ++i) hi = std::fmax(hi, std::fabs(t[i]));
    CHECK(hi <= (float)std::sqrt(3.0 / 576));
    CHECK(hi > 0.99f * (float)std::sqrt(3.0 / 576));

    FillerParam bad;
    bad.type = "msra-ish";
    CHECK_THROWS_WITH_AS(fill(bad, t, rng), doctest::Contains("unknown type 'msra-ish'"), std::invalid_argument);
    Rng r1(77), r2(77);
    Tensor a(Shape(10)), b(Shape(10));
    fill(FillerParam::gaussian(1), a, r1);
    fill(FillerParam::gaussian(1), b, r2);
    for (int i = 0; i < 10; ++i) CHECK(a[i] == b[i]);
}
