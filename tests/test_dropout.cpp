// tests/test_dropout.cpp -- Dropout: test-phase identity, train-phase scaling and mask statistics,
// repeatability from the seed, gradient check with a fixed mask.
#include <doctest/doctest.h>

#include "nn/dropout.h"
#include "tests/gradcheck.h"
#include "tests/test_util.h"

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

TEST_CASE("dropout: gradient check with the mask held fixed, separate and in place") {
    Rng rng(3);
    Blob x("x", Shape(2, 3, 4, 4)), y("y");
    fill_uniform(x.data, rng, -1, 1);
    for (bool in_place : {false, true}) {
        DropoutLayer d("drop", {0.3f, 11});
        Rng saved = d.rng();
        GradCheckOptions opt;
        opt.before_forward = [&]() { d.rng() = saved; };  // every forward draws the same mask
        auto rep = in_place ? check_layer_gradients(d, {&x}, {&x}, opt) : check_layer_gradients(d, {&x}, {&y}, opt);
        CHECK_MESSAGE(rep.ok(0), rep.summary());
    }
    DropoutLayer t("drop_test", {0.3f, 11});
    t.set_phase(Phase::Test);
    auto rep = check_layer_gradients(t, {&x}, {&y});
    CHECK_MESSAGE(rep.ok(0), rep.summary());
    DropoutLayer bad("bad", {1.0f, 1});
    CHECK_THROWS_AS(bad.reshape({&x}, {&y}), std::invalid_argument);
}
