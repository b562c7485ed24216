// tests/nn/test_inner_product.cpp -- the fully connected layer: known answer, fast against naive,
// flatten order, errors. The gradients are checked in tests/nn/test_ops.cpp.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "nn/inner_product.h"
#include "tests/support/tensors.h"

using namespace dlbhc;

namespace {

InnerProductParam make_param(int num_output, bool bias = true) {
    InnerProductParam p;
    p.num_output = num_output;
    p.bias_term = bias;
    return p;
}

}  // namespace

TEST_CASE("inner product: hand-computed forward and backward") {
    // x (2, 3), w (2, 3), b (2): y = x w^T + b.
    Blob x("x", Shape(2, 3)), y("y");
    const float xv[6] = {1, 2, 3, 4, 5, 6}, wv[6] = {1, 0, -1, 0.5f, 0.5f, 0.5f};
    for (int i = 0; i < 6; ++i) x.data[i] = xv[i];
    InnerProductLayer ip("fc", make_param(2));
    ip.reshape({&x}, {&y});
    REQUIRE(y.shape() == Shape(2, 2, 1, 1));
    REQUIRE(ip.param(0).value.shape() == Shape(2, 3, 1, 1));
    REQUIRE(ip.param(1).value.shape() == Shape(2, 1, 1, 1));
    for (int i = 0; i < 6; ++i) ip.param(0).value[i] = wv[i];
    ip.param(1).value[0] = 10;
    ip.param(1).value[1] = -1;
    ip.forward({&x}, {&y});
    // row 0: (1 - 3) + 10 = 8, (1 + 2 + 3)/2 - 1 = 2; row 1: (4 - 6) + 10 = 8, 15/2 - 1 = 6.5
    const float want[4] = {8, 2, 8, 6.5f};
    for (int i = 0; i < 4; ++i) CHECK(y.data[i] == want[i]);

    // dy = [[1, 0], [0, 2]]
    y.diff.zero();
    y.diff[0] = 1;
    y.diff[3] = 2;
    x.diff.zero();
    ip.param(0).grad.zero();
    ip.param(1).grad.zero();
    ip.backward({&y}, {&x});
    // dw = dy^T x = [[1, 2, 3], [8, 10, 12]]; db = [1, 2]; dx = dy w = [[1, 0, -1], [1, 1, 1]].
    const float dw[6] = {1, 2, 3, 8, 10, 12}, dx[6] = {1, 0, -1, 1, 1, 1};
    for (int i = 0; i < 6; ++i) CHECK(ip.param(0).grad[i] == dw[i]);
    CHECK(ip.param(1).grad[0] == 1);
    CHECK(ip.param(1).grad[1] == 2);
    for (int i = 0; i < 6; ++i) CHECK(x.diff[i] == dx[i]);
}

TEST_CASE("inner product: flattens (N, C, H, W) in (C, H, W) order") {
    // Output o has a single weight 1 at input index o: y[n][o] must be x.at(n, c, h, w) for
    // o = (c * H + h) * W + w, the order Caffe's fc6 reads pool5 in.
    const int N = 2, C = 3, H = 2, W = 4, I = C * H * W;
    Blob x("x", Shape(N, C, H, W)), y("y");
    Rng rng(31);
    fill_uniform(x.data, rng, -1, 1);
    InnerProductLayer ip("fc", make_param(I, false));
    ip.reshape({&x}, {&y});
    REQUIRE(y.shape() == Shape(N, I));
    ip.param(0).value.zero();
    for (int o = 0; o < I; ++o) ip.param(0).value[(size_t)o * I + o] = 1.0f;
    ip.forward({&x}, {&y});
    int bad = 0;
    for (int n = 0; n < N; ++n)
        for (int c = 0; c < C; ++c)
            for (int h = 0; h < H; ++h)
                for (int w = 0; w < W; ++w) bad += y.data.at(n, (c * H + h) * W + w, 0, 0) != x.data.at(n, c, h, w);
    CHECK(bad == 0);
}

TEST_CASE("inner product: fast kernels match the naive ones") {
    struct Cfg {
        int N, I, O;
        bool bias;
    };
    // Includes sizes past the GEMM blocks (K > 256, N > 512) and its threading threshold, and the
    // forward's dot-product path for batches of at most 4 (I not a multiple of its 16 lanes,
    // large enough to be threaded), next to batch 5 on the GEMM.
    const Cfg cfgs[] = {{1, 1, 1, true},      {3, 7, 5, false},      {8, 300, 70, true},    {33, 65, 17, true},
                        {16, 520, 600, true}, {1, 9217, 40, true},   {4, 1000, 300, false}, {5, 1000, 300, true},
                        {2, 15, 3, true}};
    Rng rng(32);
    for (const Cfg& c : cfgs) {
        INFO("N " << c.N << " I " << c.I << " O " << c.O << (c.bias ? "" : " no bias"));
        Tensor x(Shape(c.N, c.I)), w(Shape(c.O, c.I)), b(Shape(c.O)), y_f(Shape(c.N, c.O)), y_r(Shape(c.N, c.O));
        fill_uniform(x, rng, -1, 1);
        fill_uniform(w, rng, -1, 1);
        fill_uniform(b, rng, -1, 1);
        const float* bias = c.bias ? b.data() : nullptr;
        y_f.fill(NAN);
        inner_product_forward(y_f.data(), x.data(), w.data(), bias, c.N, c.I, c.O);
        inner_product_forward_naive(y_r.data(), x.data(), w.data(), bias, c.N, c.I, c.O);
        CHECK(rel_err(y_f, y_r) < 1e-5);

        Tensor dy(Shape(c.N, c.O)), dx0(x.shape()), dw0(w.shape()), db0(b.shape());
        fill_uniform(dy, rng, -1, 1);
        fill_uniform(dx0, rng, -1, 1);
        fill_uniform(dw0, rng, -1, 1);
        fill_uniform(db0, rng, -1, 1);
        Tensor dx_f = dx0, dw_f = dw0, db_f = db0, dx_r = dx0, dw_r = dw0, db_r = db0;
        inner_product_backward(dx_f.data(), dw_f.data(), c.bias ? db_f.data() : nullptr, dy.data(), x.data(), w.data(),
                               c.N, c.I, c.O);
        inner_product_backward_naive(dx_r.data(), dw_r.data(), c.bias ? db_r.data() : nullptr, dy.data(), x.data(),
                                     w.data(), c.N, c.I, c.O);
        CHECK(rel_err(dx_f, dx_r) < 1e-5);
        CHECK(rel_err(dw_f, dw_r) < 1e-5);
        CHECK(rel_err(db_f, db_r) < 1e-5);
        CHECK(max_abs_diff(dw_f, dw0) > 0);  // accumulated onto the starting values
        if (!c.bias) CHECK(max_abs_diff(db_f, db0) == 0);
    }
}

TEST_CASE("inner product: propagate_down false leaves the bottom diff, grads accumulate") {
    Rng rng(34);
    Blob x("x", Shape(4, 6)), y("y");
    fill_uniform(x.data, rng, -1, 1);
    InnerProductLayer ip("fc", make_param(3));
    ip.reshape({&x}, {&y});
    for (Param& p : ip.params()) fill_uniform(p.value, rng, -1, 1);
    ip.forward({&x}, {&y});
    fill_uniform(y.diff, rng, -1, 1);
    ip.set_propagate_down({false});
    x.diff.fill(5.0f);
    ip.param(0).grad.zero();
    ip.param(1).grad.zero();
    ip.backward({&y}, {&x});
    Tensor dw1 = ip.param(0).grad;
    ip.backward({&y}, {&x});
    for (size_t i = 0; i < x.count(); ++i) CHECK(x.diff[i] == 5.0f);
    for (size_t i = 0; i < dw1.count(); ++i) CHECK(ip.param(0).grad[i] == doctest::Approx(2 * dw1[i]));
}

TEST_CASE("inner product: bad configurations give clear errors") {
    Blob x("pool5", Shape(2, 3, 2, 2)), y("y"), z("z");
    InnerProductLayer zero("fcX", make_param(0));
    CHECK_THROWS_WITH_AS(zero.reshape({&x}, {&y}), doctest::Contains("InnerProduct layer 'fcX': num_output must be > 0"),
                         std::invalid_argument);
    InnerProductLayer ip("fc", make_param(4));
    CHECK_THROWS_WITH_AS(ip.reshape({&x}, {&y, &z}), doctest::Contains("expects 1 bottom and 1 top"), std::invalid_argument);
    CHECK_THROWS_WITH_AS(ip.reshape({&x}, {&x}), doctest::Contains("in place"), std::invalid_argument);
    ip.reshape({&x}, {&y});
    Blob x2("pool5", Shape(2, 3, 3, 3));
    CHECK_THROWS_WITH_AS(ip.reshape({&x2}, {&y}), doctest::Contains("weights were set up for 12"), std::invalid_argument);
    // A different batch size is fine.
    Blob x3("pool5", Shape(5, 3, 2, 2));
    CHECK_NOTHROW(ip.reshape({&x3}, {&y}));
    CHECK(y.shape() == Shape(5, 4));
}
