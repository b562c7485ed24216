// tests/nn/test_pooling.cpp -- Pooling: known answers (MAX, AVE, padding in the divisor, ceil rounding,
// the clip rule), the naive reference of pooling.h on random geometries and on ties, AlexNet's
// output sizes, global pooling and parameter errors. The gradients are checked in
// tests/nn/test_ops.cpp.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "nn/pooling.h"
#include "tests/support/tensors.h"

using namespace dlbhc;

namespace {

void set_values(Tensor& t, const std::vector<float>& v) {
    REQUIRE(t.count() == v.size());
    for (size_t i = 0; i < v.size(); ++i) t[i] = v[i];
}

void check_values(const Tensor& t, const std::vector<float>& want, double tol = 1e-6) {
    REQUIRE(t.count() == want.size());
    for (size_t i = 0; i < want.size(); ++i) {
        INFO("index " << i);
        CHECK(t[i] == doctest::Approx(want[i]).epsilon(tol));
    }
}

// Distinct values (a shuffled ramp) spaced `gap` apart: max pooling then has no ties, and a
// finite-difference step below gap/2 never changes which input wins.
void fill_distinct(Tensor& t, Rng& rng, float gap) {
    const size_t n = t.count();
    std::vector<float> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = ((float)i - (float)n / 2) * gap;
    for (size_t i = n; i > 1; --i) std::swap(v[i - 1], v[rng.below((uint32_t)i)]);
    for (size_t i = 0; i < n; ++i) t[i] = v[i];
}

PoolingParam rect(PoolingParam::Method m, int kh, int kw, int sh, int sw, int ph, int pw) {
    PoolingParam p;
    p.pool = m;
    p.kernel_h = kh; p.kernel_w = kw;
    p.stride_h = sh; p.stride_w = sw;
    p.pad_h = ph; p.pad_w = pw;
    return p;
}

// Runs the layer and the naive reference (pooling.h) on x, forward and backward (with diffs
// pre-filled to check accumulation), and compares. The MAX backward of the reference finds each
// window's first largest input again, so ties are held to Caffe's rule.
void compare_with_reference(const PoolingParam& p, Blob& x, Rng& rng) {
    const Shape s = x.shape();
    INFO("x " << s.str() << " kernel " << p.kernel_h << "x" << p.kernel_w << " stride " << p.stride_h << "," << p.stride_w
              << " pad " << p.pad_h << "," << p.pad_w << (p.pool == PoolingParam::MAX ? " MAX" : " AVE"));
    Blob y("y");
    PoolingLayer layer("pool", p);
    const PoolGeom g = pooling_geometry(s, p);
    // The output size by Caffe's own float formula, apart from pooled_size's integer form.
    auto caffe_size = [](int in, int k, int st, int pad) {
        int o = (int)std::ceil((float)(in + 2 * pad - k) / (float)st) + 1;
        if (o >= 1 && (o - 1) * st >= in + pad) --o;
        return o;
    };
    CHECK(g.OH == caffe_size(s.h, p.kernel_h, p.stride_h, p.pad_h));
    CHECK(g.OW == caffe_size(s.w, p.kernel_w, p.stride_w, p.pad_w));
    if (g.OH < 1 || g.OW < 1) {
        CHECK_THROWS_AS(layer.reshape({&x}, {&y}), std::invalid_argument);
        return;
    }
    layer.reshape({&x}, {&y});
    REQUIRE(y.shape() == Shape(s.n, s.c, g.OH, g.OW));
    layer.forward({&x}, {&y});
    std::vector<double> ry(y.count()), xd(x.data.data(), x.data.data() + x.count());
    pooling_forward_naive(ry.data(), xd.data(), g, p.pool);
    for (size_t i = 0; i < ry.size(); ++i) CHECK(y.data[i] == doctest::Approx(ry[i]).epsilon(1e-5));
    fill_uniform(y.diff, rng, -1, 1);
    fill_uniform(x.diff, rng, -1, 1);
    std::vector<double> rdx(x.diff.data(), x.diff.data() + x.count()), dyd(y.diff.data(), y.diff.data() + y.count());
    layer.backward({&y}, {&x});
    pooling_backward_naive(rdx.data(), dyd.data(), xd.data(), g, p.pool);
    for (size_t i = 0; i < rdx.size(); ++i) CHECK(x.diff[i] == doctest::Approx(rdx[i]).epsilon(1e-5));
}

}  // namespace

TEST_CASE("pooling: MAX known answer, argmax and backward") {
    Blob x("x", Shape(1, 1, 4, 4)), y("y");
    set_values(x.data, {1, 5, 2, 0,  //
                        3, -1, 7, 4,  //
                        9, 8, -2, -3,  //
                        6, 2, 1, 10});
    PoolingLayer layer("pool", PoolingParam::square(PoolingParam::MAX, 2, 2));
    layer.reshape({&x}, {&y});
    REQUIRE(y.shape() == Shape(1, 1, 2, 2));
    layer.forward({&x}, {&y});
    check_values(y.data, {5, 7, 9, 10});
    set_values(y.diff, {1, 2, 3, 4});
    x.diff.zero();
    layer.backward({&y}, {&x});
    std::vector<float> want(16, 0.0f);
    want[1] = 1; want[6] = 2; want[8] = 3; want[15] = 4;
    check_values(x.diff, want);
}

TEST_CASE("pooling: MAX ties go to the first input in row-major order, as Caffe") {
    Blob x("x", Shape(1, 1, 2, 4)), y("y");
    x.data.fill(-7.0f);
    PoolingLayer layer("pool", PoolingParam::square(PoolingParam::MAX, 2, 2));
    layer.reshape({&x}, {&y});
    layer.forward({&x}, {&y});
    check_values(y.data, {-7, -7});
    y.diff.fill(1);
    x.diff.zero();
    layer.backward({&y}, {&x});
    check_values(x.diff, {1, 0, 1, 0, 0, 0, 0, 0});
}

TEST_CASE("pooling: MAX overlapping windows share a winner, gradients add up") {
    // AlexNet's 3x3 stride 2 on 5x5: the four windows all contain the centre.
    Blob x("x", Shape(1, 1, 5, 5)), y("y");
    for (int i = 0; i < 25; ++i) x.data[i] = (float)(i % 7) - 3;
    x.data.at(0, 0, 2, 2) = 100;
    PoolingLayer layer("pool", PoolingParam::square(PoolingParam::MAX, 3, 2));
    layer.reshape({&x}, {&y});
    REQUIRE(y.shape() == Shape(1, 1, 2, 2));
    layer.forward({&x}, {&y});
    check_values(y.data, {100, 100, 100, 100});
    set_values(y.diff, {1, 2, 3, 4});
    x.diff.fill(0.5f);  // backward accumulates
    layer.backward({&y}, {&x});
    std::vector<float> want(25, 0.5f);
    want[12] = 10.5f;
    check_values(x.diff, want);
}

TEST_CASE("pooling: AVE with padding counts the padding in the divisor") {
    // Caffe: 3x3 window, stride 1, pad 1 on 3x3; every window has pool_size 9, corners sum 4 inputs.
    Blob x("x", Shape(1, 1, 3, 3)), y("y");
    set_values(x.data, {1, 2, 3, 4, 5, 6, 7, 8, 9});
    PoolingLayer layer("pool", PoolingParam::square(PoolingParam::AVE, 3, 1, 1));
    layer.reshape({&x}, {&y});
    REQUIRE(y.shape() == Shape(1, 1, 3, 3));
    layer.forward({&x}, {&y});
    std::vector<float> want = {12, 21, 16, 27, 45, 33, 24, 39, 28};
    for (auto& v : want) v /= 9;
    check_values(y.data, want);
    // dy = 1 everywhere: each input gets (number of windows covering it) / 9.
    y.diff.fill(1);
    x.diff.zero();
    layer.backward({&y}, {&x});
    check_values(x.diff, {4.f / 9, 6.f / 9, 4.f / 9, 6.f / 9, 1, 6.f / 9, 4.f / 9, 6.f / 9, 4.f / 9});
}

TEST_CASE("pooling: ceil rounding keeps a partial last window") {
    SUBCASE("no padding: the partial window divides by what it covers") {
        // W = 5, kernel 2, stride 2: OW = ceil(3/2) + 1 = 3; the last window is [4, 6) -> [4, 5).
        CHECK(pooled_size(5, 2, 2, 0) == 3);
        Blob x("x", Shape(1, 1, 1, 5)), y("y");
        set_values(x.data, {1, 2, 3, 4, 5});
        PoolingLayer ave("pool", rect(PoolingParam::AVE, 1, 2, 1, 2, 0, 0));
        ave.reshape({&x}, {&y});
        REQUIRE(y.shape() == Shape(1, 1, 1, 3));
        ave.forward({&x}, {&y});
        check_values(y.data, {1.5f, 3.5f, 5});
        PoolingLayer mx("pool", rect(PoolingParam::MAX, 1, 2, 1, 2, 0, 0));
        mx.reshape({&x}, {&y});
        mx.forward({&x}, {&y});
        check_values(y.data, {2, 4, 5});
    }
    SUBCASE("padding: the divisor counts the pad but not what lies past it") {
        // W = 6, kernel 3, stride 2, pad 1: OW = ceil(5/2) + 1 = 4, windows start at -1, 1, 3, 5.
        // The last covers [5, 8); capped at W + pad = 7 its pool_size is 2 (x5 and one pad).
        CHECK(pooled_size(6, 3, 2, 1) == 4);
        // Once along W (a 1x6 row), once along H (a 6x1 column): the flat answers are the same.
        for (bool along_h : {false, true}) {
            INFO("along " << (along_h ? "H" : "W"));
            Blob x("x", along_h ? Shape(1, 1, 6, 1) : Shape(1, 1, 1, 6)), y("y");
            set_values(x.data, {1, 2, 3, 4, 5, 6});
            auto param = [&](PoolingParam::Method m) {
                return along_h ? rect(m, 3, 1, 2, 1, 1, 0) : rect(m, 1, 3, 1, 2, 0, 1);
            };
            PoolingLayer ave("pool", param(PoolingParam::AVE));
            ave.reshape({&x}, {&y});
            REQUIRE(y.shape() == (along_h ? Shape(1, 1, 4, 1) : Shape(1, 1, 1, 4)));
            ave.forward({&x}, {&y});
            check_values(y.data, {3.f / 3, 9.f / 3, 15.f / 3, 6.f / 2});
            y.diff.fill(1);
            x.diff.zero();
            ave.backward({&y}, {&x});
            check_values(x.diff, {1.f / 3, 2.f / 3, 1.f / 3, 2.f / 3, 1.f / 3, 1.f / 3 + 1.f / 2});

            PoolingLayer mx("pool", param(PoolingParam::MAX));
            mx.reshape({&x}, {&y});
            mx.forward({&x}, {&y});
            check_values(y.data, {2, 4, 6, 6});
            y.diff.fill(1);
            x.diff.zero();
            mx.backward({&y}, {&x});
            check_values(x.diff, {0, 1, 0, 1, 0, 2});
        }
    }
}

TEST_CASE("pooling: the clip rule drops a window that would start in the padding") {
    // W = 4, kernel 3, stride 2, pad 2: ceil(5/2) + 1 = 4 windows, but the 4th would start at
    // 3*2 - 2 = 4 = W (wholly in the padding), so OW = 3. Windows: [-2,1), [0,3), [2,5).
    CHECK(pooled_size(4, 3, 2, 2) == 3);
    Blob x("x", Shape(1, 1, 1, 4)), y("y");
    set_values(x.data, {1, 2, 3, 4});
    PoolingLayer ave("pool", rect(PoolingParam::AVE, 1, 3, 1, 2, 0, 2));
    ave.reshape({&x}, {&y});
    REQUIRE(y.shape() == Shape(1, 1, 1, 3));
    ave.forward({&x}, {&y});
    check_values(y.data, {1.f / 3, 6.f / 3, 7.f / 3});
    PoolingLayer mx("pool", rect(PoolingParam::MAX, 1, 3, 1, 2, 0, 2));
    mx.reshape({&x}, {&y});
    mx.forward({&x}, {&y});
    check_values(y.data, {1, 3, 4});

    // Without a pad the rule only fires when stride > kernel: W = 5, kernel 1, stride 3 would put
    // a third window at 6 (Caffe keeps it and reads past the input); here OW = 2.
    CHECK(pooled_size(5, 1, 3, 0) == 2);
    Blob x5("x", Shape(1, 1, 1, 5));
    set_values(x5.data, {1, 2, 3, 4, 5});
    PoolingLayer sub("pool", rect(PoolingParam::MAX, 1, 1, 1, 3, 0, 0));
    sub.reshape({&x5}, {&y});
    REQUIRE(y.shape() == Shape(1, 1, 1, 2));
    sub.forward({&x5}, {&y});
    check_values(y.data, {1, 4});
}

TEST_CASE("pooling: output sizes of AlexNet/CaffeNet and other common pools") {
    struct Row { int in, kernel, stride, pad, out; };
    const Row rows[] = {
        {55, 3, 2, 0, 27},   // pool1
        {27, 3, 2, 0, 13},   // pool2
        {13, 3, 2, 0, 6},    // pool5
        {112, 3, 2, 0, 56},  // GoogLeNet pool1: (109/2 = 54.5) rounds up
        {28, 3, 1, 1, 28},   // inception pool branch
        {32, 3, 2, 0, 16},   // CIFAR-10 quick: 15.5 rounds up
        {7, 7, 1, 0, 1},
    };
    for (const Row& r : rows) {
        INFO("in " << r.in << " kernel " << r.kernel << " stride " << r.stride << " pad " << r.pad);
        CHECK(pooled_size(r.in, r.kernel, r.stride, r.pad) == r.out);
        Blob x("x", Shape(2, 3, r.in, r.in)), y("y");
        PoolingLayer layer("pool", PoolingParam::square(PoolingParam::MAX, r.kernel, r.stride, r.pad));
        layer.reshape({&x}, {&y});
        CHECK(y.shape() == Shape(2, 3, r.out, r.out));
    }
}

TEST_CASE("pooling: matches an independent naive reference on random geometries") {
    Rng rng(2024);
    int tested = 0;
    for (int trial = 0; trial < 60; ++trial) {
        int kh = 1 + (int)rng.below(4), kw = 1 + (int)rng.below(4);
        PoolingParam p = rect(trial % 2 ? PoolingParam::AVE : PoolingParam::MAX, kh, kw, 1 + (int)rng.below(3),
                              1 + (int)rng.below(3), (int)rng.below((uint32_t)kh), (int)rng.below((uint32_t)kw));
        Blob x("x", Shape(1 + (int)rng.below(2), 1 + (int)rng.below(3), 1 + (int)rng.below(11), 1 + (int)rng.below(11)));
        fill_distinct(x.data, rng, 0.01f);
        compare_with_reference(p, x, rng);
        tested++;
    }
    CHECK(tested == 60);
}

TEST_CASE("pooling: large enough to take the threaded path, matches the reference") {
    Rng rng(99);
    for (auto m : {PoolingParam::MAX, PoolingParam::AVE}) {
        Blob x("x", Shape(8, 32, 27, 27));
        fill_distinct(x.data, rng, 1e-3f);
        compare_with_reference(PoolingParam::square(m, 3, 2), x, rng);
        Blob x2("x", Shape(4, 16, 28, 28));
        fill_uniform(x2.data, rng, -1, 1);
        compare_with_reference(PoolingParam::square(m, 3, 2, 1), x2, rng);
    }
}

TEST_CASE("pooling: the unrolled 3x3 and 2x2 MAX paths keep Caffe's first-maximum rule on ties") {
    // Inputs from {0, 1, 2}: most windows hold several maxima, so a path that picked any but the
    // first (row-major) one would send the gradient to another input than the reference's.
    Rng rng(77);
    const PoolingParam params[] = {
        PoolingParam::square(PoolingParam::MAX, 3, 2),     // CaffeNet's pool1/2/5
        PoolingParam::square(PoolingParam::MAX, 3, 2, 1),  // clipped border windows
        PoolingParam::square(PoolingParam::MAX, 2, 2),     // the small net's pools
        PoolingParam::square(PoolingParam::MAX, 3, 1, 2),  // stride 1, pad 2: mostly clipped
        rect(PoolingParam::MAX, 3, 2, 2, 1, 0, 1),         // 3x2: the general loop
    };
    for (const PoolingParam& p : params)
        for (const Shape& s : {Shape(2, 3, 13, 13), Shape(1, 2, 27, 26), Shape(3, 1, 5, 4)}) {
            Blob x("x", s);
            for (size_t i = 0; i < x.count(); ++i) x.data[i] = (float)rng.below(3);
            compare_with_reference(p, x, rng);
        }
}

TEST_CASE("pooling: reshape to a new input size resizes the argmax buffer") {
    Rng rng(5);
    Blob x("x", Shape(1, 1, 4, 4)), y("y");
    const PoolingParam p = PoolingParam::square(PoolingParam::MAX, 3, 2, 1);
    PoolingLayer layer("pool", p);
    fill_distinct(x.data, rng, 0.1f);
    layer.reshape({&x}, {&y});
    layer.forward({&x}, {&y});
    x.reshape(Shape(3, 2, 9, 7));
    CHECK_THROWS_AS(layer.forward({&x}, {&y}), std::invalid_argument);  // reshape not called
    fill_distinct(x.data, rng, 0.1f);
    layer.reshape({&x}, {&y});
    REQUIRE(y.shape() == Shape(3, 2, 5, 4));
    CHECK(layer.argmax().size() == y.count());
    layer.forward({&x}, {&y});
    const PoolGeom g = pooling_geometry(x.shape(), p);
    Tensor want(y.shape());
    pooling_forward_naive(want.data(), x.data.data(), g, p.pool);
    for (size_t i = 0; i < want.count(); ++i) CHECK(y.data[i] == want[i]);
    fill_uniform(y.diff, rng, -1, 1);
    x.diff.zero();
    layer.backward({&y}, {&x});
    Tensor dx(x.shape());
    pooling_backward_naive(dx.data(), y.diff.data(), x.data.data(), g, p.pool);
    for (size_t i = 0; i < dx.count(); ++i) CHECK(x.diff[i] == doctest::Approx(dx[i]));
}

TEST_CASE("pooling: global pooling") {
    // The window is the whole plane (checked against the naive reference, which reads every input
    // of the plane for the one output); the gradients are in tests/nn/test_ops.cpp.
    Rng rng(8);
    Blob x("x", Shape(2, 3, 4, 5)), y("y");
    fill_distinct(x.data, rng, 0.05f);
    PoolingParam p;
    p.global_pooling = true;
    for (auto m : {PoolingParam::MAX, PoolingParam::AVE}) {
        p.pool = m;
        PoolingLayer layer("pool", p);
        layer.reshape({&x}, {&y});
        REQUIRE(y.shape() == Shape(2, 3, 1, 1));
        CHECK(layer.geometry().KH == 4);
        CHECK(layer.geometry().KW == 5);
        layer.forward({&x}, {&y});
        std::vector<double> want(6), xd(x.data.data(), x.data.data() + x.count());
        pooling_forward_naive(want.data(), xd.data(), layer.geometry(), m);
        for (size_t i = 0; i < want.size(); ++i) CHECK(y.data[i] == doctest::Approx(want[i]).epsilon(1e-6));
    }
}

TEST_CASE("pooling: parameter and wiring errors") {
    Blob x("x", Shape(1, 2, 6, 6)), y("y"), z("z");
    auto throws = [&](const PoolingParam& p) {
        PoolingLayer layer("pool", p);
        CHECK_THROWS_AS(layer.reshape({&x}, {&y}), std::invalid_argument);
    };
    throws(PoolingParam::square(PoolingParam::MAX, 3, 2, 3));  // pad == kernel
    throws(PoolingParam::square(PoolingParam::AVE, 2, 1, 4));  // pad > kernel
    throws(rect(PoolingParam::MAX, 3, 3, 1, 1, 0, 3));         // pad_w == kernel_w
    throws(PoolingParam{});                                    // kernel 0 (not set)
    throws(rect(PoolingParam::MAX, 0, 3, 1, 1, 0, 0));         // kernel_h 0
    throws(PoolingParam::square(PoolingParam::MAX, 3, 0));     // stride 0
    throws(rect(PoolingParam::AVE, 3, 3, 1, 1, -1, 0));        // negative pad
    PoolingParam stochastic = PoolingParam::square(PoolingParam::MAX, 2, 2);
    stochastic.pool = PoolingParam::STOCHASTIC;
    throws(stochastic);
    PoolingParam g;
    g.global_pooling = true;
    g.kernel_h = g.kernel_w = 3;
    throws(g);  // global pooling with a kernel
    g.kernel_h = g.kernel_w = 0;
    g.stride_h = 2;
    throws(g);  // global pooling with a stride
    throws(PoolingParam::square(PoolingParam::MAX, 9, 1));  // 6x6 input, 9x9 window: no output

    PoolingLayer ok("pool", PoolingParam::square(PoolingParam::MAX, 2, 2));
    CHECK_THROWS_AS(ok.reshape({&x}, {&x}), std::invalid_argument);      // in place
    CHECK_THROWS_AS(ok.reshape({&x}, {&y, &z}), std::invalid_argument);  // two tops
    CHECK_THROWS_AS(ok.reshape({}, {&y}), std::invalid_argument);        // no bottom
    // A window larger than the input by less than a stride still gives one (Caffe rounds up).
    Blob small("s", Shape(1, 1, 2, 2));
    PoolingLayer big("pool", PoolingParam::square(PoolingParam::AVE, 3, 2));
    big.reshape({&small}, {&y});
    CHECK(y.shape() == Shape(1, 1, 1, 1));
    set_values(small.data, {1, 2, 3, 4});
    big.forward({&small}, {&y});
    CHECK(y.data[0] == doctest::Approx(10.0 / 4));  // window [0,3) capped at H + pad = 2: divisor 4
}
