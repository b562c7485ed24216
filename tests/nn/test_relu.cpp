// tests/nn/test_relu.cpp -- ReLU: known answer, against the naive reference; the float gradient
// checker (tests/nn/gradcheck.h) failing a wrong backward. ReLU's gradients are checked in
// tests/nn/test_ops.cpp.
#include <doctest/doctest.h>

#include <cfloat>
#include <cmath>

#include "nn/relu.h"
#include "tests/nn/gradcheck.h"
#include "tests/support/tensors.h"

using namespace dlbhc;

TEST_CASE("relu: known answer, plain and leaky") {
    Blob x("x", Shape(1, 1, 1, 4)), y("y");
    float in[4] = {-2, -0.5f, 0.5f, 3};
    for (int i = 0; i < 4; ++i) x.data[i] = in[i];
    ReLULayer plain("r");
    plain.reshape({&x}, {&y});
    plain.forward({&x}, {&y});
    float want[4] = {0, 0, 0.5f, 3};
    for (int i = 0; i < 4; ++i) CHECK(y.data[i] == want[i]);
    ReLULayer leaky("r", ReLUParam{0.1f});
    leaky.forward({&x}, {&y});
    float want2[4] = {-0.2f, -0.05f, 0.5f, 3};
    for (int i = 0; i < 4; ++i) CHECK(y.data[i] == doctest::Approx(want2[i]));
}

TEST_CASE("relu: against a plain reference on random shapes, forward and accumulating backward") {
    Rng rng(4);
    const Shape shapes[] = {Shape(1, 1, 1, 1), Shape(3, 7, 5, 2), Shape(2, 16, 31, 9), Shape(5, 4099)};
    for (const Shape& s : shapes) {
        for (float slope : {0.0f, 0.1f}) {
            Blob x("x", s), y("y");
            fill_uniform(x.data, rng, -2, 2);
            fill_uniform(x.diff, rng, -1, 1);  // backward must add to what is there
            Tensor dx0 = x.diff;
            ReLULayer layer("relu", ReLUParam{slope});
            layer.reshape({&x}, {&y});
            layer.forward({&x}, {&y});
            fill_uniform(y.diff, rng, -1, 1);
            layer.backward({&y}, {&x});
            size_t bad = 0;
            for (size_t i = 0; i < s.count(); ++i) {
                float xi = x.data[i];
                // Exact: max(x,0) + slope*min(x,0) adds an exact 0 whether or not it is fused.
                float want_y;
                relu_forward_naive(&want_y, &xi, 1, slope);
                // dx0 + slope*dy is a multiply-add that the compiler may fuse into one rounding
                // (g++'s default on aarch64) or not (x86-64 without FMA), in the layer and here
                // alike; fused and unfused differ by at most one rounding of the product plus one
                // of the sum, so allow FLT_EPSILON (two half-ulps) of each.
                float term = xi > 0 ? y.diff[i] : slope * y.diff[i];
                float want_dx = dx0[i] + term;
                float tol = FLT_EPSILON * (std::fabs(term) + std::fabs(want_dx));
                bad += y.data[i] != want_y || !(std::fabs(x.diff[i] - want_dx) <= tol);
            }
            CHECK_MESSAGE(bad == 0, "shape ", s.str(), " slope ", slope);
        }
    }
}

TEST_CASE("gradcheck: a wrong backward is caught") {
    // A layer that claims dy/dx = 2 for y = x: the checker must report failures.
    struct WrongLayer : Layer {
        WrongLayer() : Layer("wrong") {}
        const char* type() const override { return "Wrong"; }
        LayerShapes shapes(const std::vector<Shape>& b) const override { return {"", {b.at(0)}, {}}; }
        void reshape(const Blobs& b, const Blobs& t) override { t[0]->reshape(b[0]->shape()); }
        void forward(const Blobs& b, const Blobs& t) override { t[0]->data = b[0]->data; }
        void backward(const Blobs& t, const Blobs& b) override {
            for (size_t i = 0; i < b[0]->count(); ++i) b[0]->diff[i] += 2 * t[0]->diff[i];
        }
    } layer;
    Blob x("x", Shape(1, 2, 3, 3)), y("y");
    Rng rng(1);
    fill_uniform(x.data, rng, -1, 1);
    auto rep = check_layer_gradients(layer, {&x}, {&y});
    CHECK(rep.failed == rep.checked);
    CHECK_FALSE(rep.ok(0));

    // A backward that writes NaN must fail too (every comparison with NaN is false).
    struct NanLayer : WrongLayer {
        void backward(const Blobs&, const Blobs& b) override {
            for (size_t i = 0; i < b[0]->count(); ++i) b[0]->diff[i] = NAN;
        }
    } nan_layer;
    auto rep2 = check_layer_gradients(nan_layer, {&x}, {&y});
    CHECK(rep2.failed == rep2.checked);
    CHECK_FALSE(rep2.ok(0));
    Tensor a(Shape(3)), b(Shape(3));
    a[1] = NAN;
    CHECK(max_abs_diff(a, b) == INFINITY);
}
