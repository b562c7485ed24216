// tests/nn/test_dropout.cpp -- Dropout: test-phase identity, train-phase scaling and mask statistics,
// repeatability from the seed, the ratio's range. The gradients are in tests/nn/test_ops.cpp.
#include <doctest/doctest.h>

#include <cmath>

#include "nn/dropout.h"
#include "tests/support/tensors.h"

using namespace dlbhc;

TEST_CASE("dropout: identity at test time") {
    Rng rng(1);
    Blob x("x", Shape(4, 10, 3, 3)), y("y");
    fill_uniform(x.data, rng, -1, 1);
    DropoutLayer d("drop", {0.5f, 42});
    d.set_phase(Phase::Test);
    d.reshape({&x}, {&y});
    d.forward({&x}, {&y});
    CHECK(max_abs_diff(x.data, y.data) == 0.0);
}

TEST_CASE("dropout: training keeps about 1-p of the units, scaled by 1/(1-p), repeatably") {
    Rng rng(2);
    Blob x("x", Shape(100, 1000)), y("y"), y2("y2");
    fill_uniform(x.data, rng, 0.5f, 1.5f);
    for (float p : {0.5f, 0.2f}) {
        DropoutLayer d("drop", {p, 7}), d2("drop2", {p, 7});
        d.reshape({&x}, {&y});
        d.forward({&x}, {&y});
        size_t kept = 0;
        for (size_t i = 0; i < x.count(); ++i) {
            if (y.data[i] != 0) {
                ++kept;
                CHECK_MESSAGE(y.data[i] == x.data[i] * (1.0f / (1.0f - p)), "element ", i);
                CHECK(d.mask()[i] == 1);
            } else {
                CHECK(d.mask()[i] == 0);
            }
        }
        double frac = (double)kept / x.count();
        // 100,000 Bernoulli draws: the standard deviation of frac is below 0.0016.
        CHECK(frac == doctest::Approx(1.0 - p).epsilon(0.01));
        d2.reshape({&x}, {&y2});
        d2.forward({&x}, {&y2});
        CHECK(max_abs_diff(y.data, y2.data) == 0.0);  // same seed, same mask
        d2.forward({&x}, {&y2});
        CHECK(max_abs_diff(y.data, y2.data) > 0.0);   // the next draw differs
    }
}

TEST_CASE("dropout: a dropout_ratio outside [0, 1) is refused") {
    // The gradients, with the drawn mask, in place and at TEST, are in tests/nn/test_ops.cpp.
    Blob x("x", Shape(2, 3, 4, 4)), y("y");
    for (float ratio : {1.0f, 1.5f, -0.1f, NAN}) {
        DropoutLayer bad("bad", {ratio, 1});
        CHECK_THROWS_WITH_AS(bad.reshape({&x}, {&y}), doctest::Contains("dropout_ratio must be in [0, 1)"), std::invalid_argument);
    }
    DropoutLayer zero("zero", {0.0f, 1});
    CHECK_NOTHROW(zero.reshape({&x}, {&y}));
}
