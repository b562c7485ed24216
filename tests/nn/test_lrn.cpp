// tests/nn/test_lrn.cpp -- LRN across channels: hand-computed answers, fast against naive (forward and
// backward), the size of the cross-channel term, parameter errors. The finite-difference gradients
// (AlexNet's alpha and a large one) are checked in tests/nn/test_ops.cpp.
#include <doctest/doctest.h>

#include <cmath>
#include <stdexcept>
#include <vector>

#include "nn/lrn.h"
#include "tests/support/tensors.h"

using namespace dlbhc;

namespace {

LRNParam lrn(int local_size, float alpha, float beta, float k) {
    LRNParam p;
    p.local_size = local_size;
    p.alpha = alpha;
    p.beta = beta;
    p.k = k;
    return p;
}

// Largest |a - b| / max(1, |b|).
double max_rel_diff(const float* a, const float* b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; ++i)
        m = worst(m, std::fabs((double)a[i] - b[i]) / std::fmax(1.0, std::fabs((double)b[i])));
    return m;
}

}  // namespace

TEST_CASE("lrn: known answer on a hand-computed input") {
    // One pixel, channels x = (1, 2, 3) at pixel 0 and (0, 0, 0) at pixel 1; n = 3, alpha = 3 (so
    // alpha/n = 1), beta = 1, k = 1:
    //   scale = (1 + 1+4, 1 + 1+4+9, 1 + 4+9) = (6, 15, 14),  y = (1/6, 2/15, 3/14).
    Blob x("x", Shape(1, 3, 1, 2)), y("y");
    const float xv[3] = {1, 2, 3};
    for (int c = 0; c < 3; ++c) {
        x.data.at(0, c, 0, 0) = xv[c];
        x.data.at(0, c, 0, 1) = 0;
    }
    LRNParam p = lrn(3, 3.0f, 1.0f, 1.0f);
    LRNLayer layer("norm", p);
    layer.reshape({&x}, {&y});
    REQUIRE(y.shape() == x.shape());
    layer.forward({&x}, {&y});
    const double want_scale[3] = {6, 15, 14}, want_y[3] = {1.0 / 6, 2.0 / 15, 3.0 / 14};
    for (int c = 0; c < 3; ++c) {
        CHECK(layer.scale().at(0, c, 0, 0) == doctest::Approx(want_scale[c]));
        CHECK(y.data.at(0, c, 0, 0) == doctest::Approx(want_y[c]));
        CHECK(layer.scale().at(0, c, 0, 1) == doctest::Approx(1.0));  // k alone
        CHECK(y.data.at(0, c, 0, 1) == 0);
    }
    // dy = (1, 0, 0) at pixel 0: y0 = x0 / (1 + x0^2 + x1^2), so
    //   dx0 = (6 - 2*1) / 36 = 1/9,  dx1 = -x0 * 2 x1 / 36 = -1/9,  dx2 = 0 (channel 0 is outside 2's window).
    y.diff.zero();
    y.diff.at(0, 0, 0, 0) = 1;
    x.diff.fill(0.25f);  // backward accumulates
    layer.backward({&y}, {&x});
    CHECK(x.diff.at(0, 0, 0, 0) == doctest::Approx(0.25 + 1.0 / 9));
    CHECK(x.diff.at(0, 1, 0, 0) == doctest::Approx(0.25 - 1.0 / 9));
    CHECK(x.diff.at(0, 2, 0, 0) == doctest::Approx(0.25));
    for (int c = 0; c < 3; ++c) CHECK(x.diff.at(0, c, 0, 1) == doctest::Approx(0.25));

    // The naive reference gives the same numbers.
    Tensor ny(x.shape()), ns(x.shape()), ndx(x.shape());
    lrn_forward_naive(ny.data(), ns.data(), x.data.data(), x.shape(), p);
    for (int c = 0; c < 3; ++c) CHECK(ny.at(0, c, 0, 0) == doctest::Approx(want_y[c]));
    lrn_backward_naive(ndx.data(), y.diff.data(), x.data.data(), x.shape(), p);
    CHECK(ndx.at(0, 0, 0, 0) == doctest::Approx(1.0 / 9));
    CHECK(ndx.at(0, 1, 0, 0) == doctest::Approx(-1.0 / 9));
}

TEST_CASE("lrn: known answer with Caffe's beta 0.75 and one channel") {
    // C = 1 < local_size 5: the window is just the channel itself, the divisor stays n = 5.
    // alpha = 5, k = 2, x = 2: scale = 2 + (5/5) * 4 = 6, y = 2 * 6^-0.75.
    Blob x("x", Shape(1, 1, 1, 1)), y("y");
    x.data[0] = 2;
    LRNLayer layer("norm", lrn(5, 5.0f, 0.75f, 2.0f));
    layer.reshape({&x}, {&y});
    layer.forward({&x}, {&y});
    CHECK(layer.scale()[0] == doctest::Approx(6.0));
    CHECK(y.data[0] == doctest::Approx(2.0 * std::pow(6.0, -0.75)));
}

TEST_CASE("lrn: fast kernels match the naive reference, forward and backward") {
    struct Case { Shape s; LRNParam p; };
    const Case cases[] = {
        {Shape(2, 1, 3, 3), lrn(5, 1.0f, 0.75f, 1.0f)},      // C = 1 < local_size
        {Shape(1, 2, 4, 5), lrn(5, 2.0f, 0.75f, 1.0f)},      // C = 2 < local_size
        {Shape(2, 4, 3, 3), lrn(5, 1.0f, 0.75f, 1.0f)},      // C = 4 < local_size
        {Shape(2, 3, 5, 2), lrn(3, 1.0f, 0.5f, 2.0f)},
        {Shape(1, 7, 3, 3), lrn(1, 1.0f, 0.75f, 1.0f)},      // local_size 1: each channel alone
        {Shape(2, 8, 17, 19), lrn(5, 1e-4f, 0.75f, 1.0f)},   // AlexNet's; 323 pixels span two tiles
        {Shape(2, 8, 17, 19), lrn(5, 1.0f, 0.75f, 1.0f)},
        {Shape(1, 11, 2, 3), lrn(7, 3.0f, 1.5f, 0.5f)},
        {Shape(1, 96, 27, 27), lrn(5, 1.0f, 0.75f, 1.0f)},   // norm1's size: the threaded path
        {Shape(3, 20, 16, 17), lrn(9, 2.0f, 0.75f, 1.0f)},   // a ring of 9 ratios; 272 pixels: a 16-pixel tail tile
        {Shape(2, 13, 1, 255), lrn(11, 0.5f, 0.6f, 2.0f)},   // local_size 11 < C, the general power
        {Shape(1, 3, 1, 17), lrn(7, 1e-4f, 0.75f, 1.0f)},    // window wider than the channels
    };
    Rng rng(31);
    for (const Case& cs : cases) {
        const Shape s = cs.s;
        INFO("x " << s.str() << " local_size " << cs.p.local_size << " alpha " << cs.p.alpha << " beta "
                  << cs.p.beta << " k " << cs.p.k);
        Tensor x(s), y(s), scale(s), ny(s), nscale(s), dy(s), dx(s), ndx(s);
        fill_uniform(x, rng, -2, 2);
        fill_uniform(dy, rng, -1, 1);
        fill_uniform(dx, rng, -1, 1);
        ndx = dx;  // both accumulate onto the same starting values
        lrn_forward(y.data(), scale.data(), x.data(), s, cs.p);
        lrn_forward_naive(ny.data(), nscale.data(), x.data(), s, cs.p);
        CHECK(max_rel_diff(scale.data(), nscale.data(), s.count()) < 1e-6);
        CHECK(max_rel_diff(y.data(), ny.data(), s.count()) < 1e-6);
        lrn_backward(dx.data(), dy.data(), x.data(), y.data(), scale.data(), s, cs.p);
        lrn_backward_naive(ndx.data(), dy.data(), x.data(), s, cs.p);
        CHECK(max_rel_diff(dx.data(), ndx.data(), s.count()) < 1e-5);
    }
}

TEST_CASE("lrn: the SIMD power s^(-0.75) matches pow in double to a few ulp, every lane") {
    // Values from k = 1 up (scale >= k > 0 in the layer), including 1 itself, exact powers of 16
    // (where the identity is exact), large and small; n = 37 covers 16-wide, 4-wide and scalar lanes.
    std::vector<float> s = {1.0f, 16.0f, 256.0f, 1.0f / 16, 0.5f, 2.0f, 1e-3f, 1e6f, 3.3e9f};
    Rng rng(9);
    while (s.size() < 37) s.push_back(std::exp(rng.uniform(-8, 20)));
    std::vector<float> out(s.size(), NAN), in_place = s;
    lrn_pow_m075(out.data(), s.data(), (int)s.size());
    lrn_pow_m075(in_place.data(), in_place.data(), (int)s.size());  // out may equal s
    double worst_rel = 0;
    for (size_t i = 0; i < s.size(); ++i) {
        const double want = std::pow((double)s[i], -0.75);
        worst_rel = worst(worst_rel, std::fabs(out[i] - want) / want);
        CHECK(in_place[i] == out[i]);
    }
    CHECK(worst_rel < 3e-7);  // about 2.5 ulp of float
    CHECK(out[0] == 1.0f);
    CHECK(out[1] == 0.125f);  // 16^-0.75 = 1/8, exactly
    CHECK(out[2] == 1.0f / 64);
    CHECK(out[3] == 8.0f);
}

TEST_CASE("lrn: the layer uses the fast kernels and accumulates into bottom diff") {
    Rng rng(4);
    const Shape s(2, 6, 4, 3);
    LRNParam p = lrn(5, 1.0f, 0.75f, 1.0f);
    Blob x("x", s), y("y");
    fill_uniform(x.data, rng, -1, 1);
    LRNLayer layer("norm", p);
    layer.reshape({&x}, {&y});
    layer.forward({&x}, {&y});
    Tensor ny(s), ns(s), ndx(s);
    lrn_forward_naive(ny.data(), ns.data(), x.data.data(), s, p);
    CHECK(max_abs_diff(y.data, ny) < 1e-6);
    CHECK(max_abs_diff(layer.scale(), ns) < 1e-6);
    fill_uniform(y.diff, rng, -1, 1);
    x.diff.fill(1.0f);
    ndx.fill(1.0f);
    layer.backward({&y}, {&x});
    lrn_backward_naive(ndx.data(), y.diff.data(), x.data.data(), s, p);
    CHECK(max_abs_diff(x.diff, ndx) < 1e-5);
    // propagate_down off: bottom diff untouched.
    layer.set_propagate_down({false});
    Tensor before = x.diff;
    layer.backward({&y}, {&x});
    CHECK(max_abs_diff(x.diff, before) == 0);
}

TEST_CASE("lrn: with a large alpha the cross-channel term is a real part of the gradient") {
    // Guards the gradient check above against passing with the second term missing: here it
    // changes dx by far more than the check's tolerance.
    Rng rng(23);
    const Shape s(1, 6, 2, 2);
    LRNParam p = lrn(5, 1.0f, 0.75f, 1.0f);
    Tensor x(s), y(s), scale(s), dy(s), dx(s);
    fill_uniform(x, rng, -2, 2);
    fill_uniform(dy, rng, -1, 1);
    lrn_forward(y.data(), scale.data(), x.data(), s, p);
    lrn_backward(dx.data(), dy.data(), x.data(), y.data(), scale.data(), s, p);
    double largest = 0;
    for (size_t i = 0; i < s.count(); ++i)
        largest = worst(largest, std::fabs(dx[i] - dy[i] * std::pow((double)scale[i], -0.75)));
    CHECK(largest > 0.1);
}

TEST_CASE("lrn: parameter and wiring errors") {
    Blob x("x", Shape(1, 4, 2, 2)), y("y");
    auto throws = [&](const LRNParam& p) {
        LRNLayer layer("norm", p);
        CHECK_THROWS_AS(layer.reshape({&x}, {&y}), std::invalid_argument);
    };
    for (int even : {0, 2, 4, 6}) throws(lrn(even, 1e-4f, 0.75f, 1.0f));
    throws(lrn(-1, 1e-4f, 0.75f, 1.0f));
    throws(lrn(5, 1e-4f, 0.75f, 0.0f));   // k = 0: scale could be 0
    throws(lrn(5, -1.0f, 0.75f, 1.0f));   // negative alpha: scale could be <= 0
    LRNParam within;
    within.norm_region = LRNParam::WITHIN_CHANNEL;
    throws(within);
    try {
        LRNLayer layer("norm", within);
        layer.reshape({&x}, {&y});
        FAIL("WITHIN_CHANNEL accepted");
    } catch (const std::invalid_argument& e) {
        CHECK(std::string(e.what()).find("WITHIN_CHANNEL") != std::string::npos);
    }
    LRNLayer ok("norm", LRNParam{});
    CHECK_NOTHROW(ok.reshape({&x}, {&y}));
    CHECK_THROWS_AS(ok.reshape({&x}, {&x}), std::invalid_argument);  // in place
    Blob other("o", Shape(1, 4, 3, 3));
    CHECK_THROWS_AS(ok.forward({&other}, {&y}), std::invalid_argument);  // shape changed, no reshape
}
