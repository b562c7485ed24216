// tests/test_gradcheck_double.cpp -- the finite-difference gradient check in double precision.
//
// For each layer: the float32 backward pass of nn/ gives the analytic gradient of
// L = sum r * top (r fixed, random); the numeric gradient is the central difference of the same L
// computed by the double-precision reference forward (tests/reference_double.h) with a step of
// 1e-6, accurate to about 1e-9. The reference is first checked to agree with the layer's own float
// forward, so both describe the same function. Each gradient entry must then satisfy
//     |analytic - numeric| <= 1e-5 + 1e-4 * max(|analytic|, |numeric|)
// -- float32 accuracy, a hundred times tighter than the float-only check in gradcheck.h, tight
// enough to see a missing small term. With a step of 1e-6 no ReLU kink or max-pool tie is crossed
// for the inputs used (distinct values, none within 1e-6 of zero).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <numeric>

#include "nn/conv.h"
#include "nn/dropout.h"
#include "nn/inner_product.h"
#include "nn/lrn.h"
#include "nn/pooling.h"
#include "nn/relu.h"
#include "nn/sigmoid.h"
#include "nn/softmax.h"
#include "nn/softmax_loss.h"
#include "tests/reference_double.h"
#include "tests/test_util.h"

using namespace dlbhc;
using refd::Vec;

namespace {

// values[0] is the layer's bottom[0], then its parameters in order. ref maps them to the top.
using RefForward = std::function<Vec(const std::vector<Vec>&)>;

struct DoubleCheck {
    size_t checked = 0, failed = 0;
    double worst = -1e300;
    std::string worst_where, first_failure;
};

DoubleCheck check_double(Layer& layer, Blob& x, Blob& y, const RefForward& ref, bool check_input = true,
                         uint64_t seed = 99, double rtol = 1e-4, double atol = 1e-5, double eps = 1e-6) {
    layer.reshape({&x}, {&y});
    layer.forward({&x}, {&y});
    std::vector<Vec> values{refd::to_double(x.data)};
    for (Param& p : layer.params()) values.push_back(refd::to_double(p.value));

    // The reference must describe the function the layer computes.
    Vec y_ref = ref(values);
    REQUIRE(y_ref.size() == y.count());
    size_t mismatched = 0;
    for (size_t i = 0; i < y_ref.size(); ++i)
        mismatched += !(std::fabs(y_ref[i] - y.data[i]) <= 1e-5 + 1e-4 * std::fabs(y_ref[i]));  // NaN fails
    REQUIRE_MESSAGE(mismatched == 0, "reference forward disagrees with the layer's forward");

    Rng rng(seed);
    Vec r(y.count());
    for (size_t i = 0; i < r.size(); ++i) {
        y.diff[i] = rng.uniform(-1, 1);
        r[i] = y.diff[i];
    }
    x.diff.zero();
    for (Param& p : layer.params()) p.grad.zero();
    layer.set_propagate_down({check_input});
    layer.backward({&y}, {&x});

    std::vector<std::vector<float>> analytic;
    std::vector<std::string> labels;
    analytic.emplace_back(x.diff.data(), x.diff.data() + x.count());
    labels.push_back("input");
    for (Param& p : layer.params()) {
        analytic.emplace_back(p.grad.data(), p.grad.data() + p.grad.count());
        labels.push_back(p.name);
    }
    auto objective = [&]() {
        Vec t = ref(values);
        return std::inner_product(t.begin(), t.end(), r.begin(), 0.0);
    };
    DoubleCheck res;
    for (size_t t = check_input ? 0 : 1; t < values.size(); ++t) {
        for (size_t i = 0; i < values[t].size(); ++i) {
            double saved = values[t][i];
            values[t][i] = saved + eps;
            double fp = objective();
            values[t][i] = saved - eps;
            double fm = objective();
            values[t][i] = saved;
            double numeric = (fp - fm) / (2 * eps), a = analytic[t][i];
            double margin = std::fabs(a - numeric) - (atol + rtol * std::max(std::fabs(a), std::fabs(numeric)));
            ++res.checked;
            char where[160];
            std::snprintf(where, sizeof where, "%s[%zu]: analytic %.9g numeric %.9g", labels[t].c_str(), i, a, numeric);
            if (!(margin <= res.worst)) { res.worst = margin; res.worst_where = where; }
            if (!(margin <= 0) && res.failed++ == 0) res.first_failure = where;  // NaN fails
        }
    }
    return res;
}

#define CHECK_DOUBLE_GRADIENTS(res)                                                                   \
    do {                                                                                              \
        CHECK_MESSAGE((res).failed == 0, (res).failed, " of ", (res).checked, " failed; first: ",    \
                      (res).first_failure);                                                           \
        CHECK((res).checked > 0);                                                                     \
    } while (0)

// Distinct values (a shuffled ramp) so a max-pool window never has a tie.
void fill_distinct(Tensor& t, Rng& rng) {
    std::vector<float> v(t.count());
    for (size_t i = 0; i < v.size(); ++i) v[i] = -1.0f + 2.0f * (float)i / (float)v.size();
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng.below((uint32_t)i)]);
    for (size_t i = 0; i < v.size(); ++i) t[i] = v[i];
}

void fill_params(Layer& layer, Rng& rng) {
    for (Param& p : layer.params()) fill_uniform(p.value, rng, -0.5f, 0.5f);
}

}  // namespace

TEST_CASE("double-precision gradient check: convolution (grouped, per-axis, with and without bias)") {
    Rng rng(1);
    for (bool bias : {true, false}) {
        ConvParam p;
        p.num_output = 6;
        p.kernel_h = 3, p.kernel_w = 2;
        p.stride_h = 2, p.stride_w = 1;
        p.pad_h = 1, p.pad_w = 0;
        p.group = 2;
        p.bias_term = bias;
        ConvolutionLayer layer("conv", p);
        Blob x("x", Shape(2, 4, 7, 6)), y("y");
        fill_uniform(x.data, rng, -1, 1);
        layer.reshape({&x}, {&y});
        fill_params(layer, rng);
        auto res = check_double(layer, x, y, [&](const std::vector<Vec>& v) {
            return refd::conv(v[0], x.shape(), v[1], bias ? v[2] : Vec(), p);
        });
        CHECK_DOUBLE_GRADIENTS(res);
    }
}

TEST_CASE("double-precision gradient check: inner product") {
    Rng rng(2);
    InnerProductParam p;
    p.num_output = 5;
    InnerProductLayer layer("fc", p);
    Blob x("x", Shape(3, 2, 3, 2)), y("y");
    fill_uniform(x.data, rng, -1, 1);
    layer.reshape({&x}, {&y});
    fill_params(layer, rng);
    auto res = check_double(layer, x, y, [&](const std::vector<Vec>& v) { return refd::inner_product(v[0], 3, 12, v[1], v[2], 5); });
    CHECK_DOUBLE_GRADIENTS(res);
}

TEST_CASE("double-precision gradient check: pooling MAX, AVE with padding, global AVE") {
    Rng rng(3);
    PoolingParam cases[] = {PoolingParam::square(PoolingParam::MAX, 3, 2, 1), PoolingParam::square(PoolingParam::AVE, 3, 2, 1),
                            PoolingParam::square(PoolingParam::MAX, 2, 2, 0), PoolingParam{}};
    cases[3].pool = PoolingParam::AVE;
    cases[3].global_pooling = true;
    for (const PoolingParam& p : cases) {
        PoolingLayer layer("pool", p);
        Blob x("x", Shape(2, 3, 7, 6)), y("y");
        fill_distinct(x.data, rng);
        Shape out;
        auto res = check_double(layer, x, y, [&](const std::vector<Vec>& v) { return refd::pool(v[0], x.shape(), p, &out); });
        CHECK_DOUBLE_GRADIENTS(res);
    }
}

TEST_CASE("double-precision gradient check: LRN with a large and with AlexNet's alpha") {
    Rng rng(4);
    for (float alpha : {1.0f, 1e-4f}) {
        LRNParam p;
        p.local_size = 5;
        p.alpha = alpha;
        p.beta = 0.75f;
        LRNLayer layer("norm", p);
        Blob x("x", Shape(2, 7, 3, 3)), y("y");
        fill_uniform(x.data, rng, -2, 2);
        auto res = check_double(layer, x, y, [&](const std::vector<Vec>& v) { return refd::lrn(v[0], x.shape(), p); });
        CHECK_DOUBLE_GRADIENTS(res);
    }
}

TEST_CASE("double-precision gradient check: ReLU, Sigmoid, Softmax, Dropout") {
    Rng rng(5);
    Blob x("x", Shape(2, 5, 3, 2)), y("y");
    fill_away_from_zero(x.data, rng, 0.01f);
    for (float slope : {0.0f, 0.1f}) {
        ReLULayer relu("relu", ReLUParam{slope});
        auto res = check_double(relu, x, y, [&](const std::vector<Vec>& v) { return refd::relu(v[0], slope); });
        CHECK_DOUBLE_GRADIENTS(res);
    }
    SigmoidLayer sig("sigmoid");
    auto rs = check_double(sig, x, y, [&](const std::vector<Vec>& v) { return refd::sigmoid(v[0]); });
    CHECK_DOUBLE_GRADIENTS(rs);
    SoftmaxLayer sm("softmax");
    auto rsm = check_double(sm, x, y, [&](const std::vector<Vec>& v) { return refd::softmax(v[0], x.shape()); });
    CHECK_DOUBLE_GRADIENTS(rsm);
    DropoutLayer drop("drop", DropoutParam{0.4f, 3});
    drop.reshape({&x}, {&y});
    Rng saved = drop.rng();
    drop.forward({&x}, {&y});  // draws the mask the reference uses; check_double's forward redraws it
    std::vector<uint8_t> mask = drop.mask();
    drop.rng() = saved;
    auto rd = check_double(drop, x, y, [&](const std::vector<Vec>& v) { return refd::dropout(v[0], mask, 0.4); });
    CHECK_DOUBLE_GRADIENTS(rd);
}

TEST_CASE("double-precision gradient check: SoftmaxWithLoss") {
    Rng rng(6);
    Blob x("x", Shape(3, 4, 2, 1)), l("l", Shape(3, 1, 2, 1)), loss("loss");
    fill_uniform(x.data, rng, -2, 2);
    for (size_t i = 0; i < l.count(); ++i) l.data[i] = (float)rng.below(4);
    std::vector<float> labels(l.data.data(), l.data.data() + l.count());
    // A two-bottom layer: wrap it so the checker sees one bottom (the scores).
    struct WithLabels : Layer {
        SoftmaxWithLossLayer inner{"loss"};
        Blob* label;
        explicit WithLabels(Blob* l) : Layer("loss"), label(l) {}
        const char* type() const override { return "SoftmaxWithLoss"; }
        LayerShapes shapes(const std::vector<Shape>& b) const override { return inner.shapes({b.at(0), label->shape()}); }
        void reshape(const Blobs& b, const Blobs& t) override { inner.reshape({b[0], label}, t); }
        void forward(const Blobs& b, const Blobs& t) override { inner.forward({b[0], label}, t); }
        void backward(const Blobs& t, const Blobs& b) override { inner.backward(t, {b[0], label}); }
    } layer(&l);
    auto res = check_double(layer, x, loss, [&](const std::vector<Vec>& v) { return Vec{refd::softmax_loss(v[0], x.shape(), labels)}; });
    CHECK_DOUBLE_GRADIENTS(res);
}

TEST_CASE("double-precision gradient check catches a small missing term") {
    // LRN with AlexNet's alpha = 1e-4: the cross-channel term of the gradient is about 1e-4 of the
    // total. Dropping it (a backward with only dy * scale^-beta) must fail this check, although it
    // would pass the float-only check's 2e-2 relative tolerance.
    struct LrnWithoutCrossTerm : Layer {
        LRNLayer inner;
        explicit LrnWithoutCrossTerm(LRNParam p) : Layer("lrn_wrong"), inner("lrn", p) {}
        const char* type() const override { return "LRN"; }
        LayerShapes shapes(const std::vector<Shape>& b) const override { return inner.shapes(b); }
        void reshape(const Blobs& b, const Blobs& t) override { inner.reshape(b, t); }
        void forward(const Blobs& b, const Blobs& t) override { inner.forward(b, t); }
        void backward(const Blobs& t, const Blobs& b) override {
            const Tensor& scale = inner.scale();
            for (size_t i = 0; i < b[0]->count(); ++i)
                b[0]->diff[i] += t[0]->diff[i] * (float)std::pow((double)scale[i], -0.75);
        }
    };
    LRNParam p;
    p.alpha = 1e-4f;
    LrnWithoutCrossTerm layer(p);
    Rng rng(7);
    Blob x("x", Shape(1, 7, 3, 3)), y("y");
    fill_uniform(x.data, rng, -20, 20);  // large activations, as after conv1 with ImageNet weights
    auto res = check_double(layer, x, y, [&](const std::vector<Vec>& v) { return refd::lrn(v[0], x.shape(), p); });
    CHECK(res.failed > 0);
}
