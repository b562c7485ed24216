// tests/nn/test_ops.cpp -- the op table: every layer type on the configurations that matter, each
// row checked by tests/nn/op_harness.h (shapes, forward against the one reference of its type, the
// nn/ naive kernel in double; backward against central differences of that reference; +=); and
// the harness shown to fail on a wrong forward, a wrong or non-accumulating backward, a backward
// missing a small term, and a layer whose shapes() disagrees with its reshape.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "nn/accuracy.h"
#include "nn/conv.h"
#include "nn/dropout.h"
#include "nn/inner_product.h"
#include "nn/k1_euclidean_loss.h"
#include "nn/k2_euclidean_loss.h"
#include "nn/lrn.h"
#include "nn/pooling.h"
#include "nn/relu.h"
#include "nn/reshape.h"
#include "nn/sigmoid.h"
#include "nn/softmax.h"
#include "nn/softmax_loss.h"
#include "tests/nn/layer_params.h"
#include "tests/nn/op_harness.h"

using namespace dlbhc;

namespace {

void run_rows(const std::vector<OpCase>& rows) {
    for (const OpCase& c : rows) {
        const OpReport rep = run_op(c);
        CHECK_MESSAGE(rep.ok(), c.name, ": ", rep.summary());
        CHECK_MESSAGE(rep.gradient_checked > 0, c.name, ": no gradient was checked");
    }
}

std::string hw(int h, int w) { return std::to_string(h) + "x" + std::to_string(w); }

// ---- rows ------------------------------------------------------------------------------------

OpCase conv_row(Shape in, const ConvParam& p, ConvAlgo algo) {
    OpCase c;
    c.name = "Convolution in " + in.str() + " oc " + std::to_string(p.num_output) + " kernel " + hw(p.kernel_h, p.kernel_w) +
             " stride " + hw(p.stride_h, p.stride_w) + " pad " + hw(p.pad_h, p.pad_w) + " group " +
             std::to_string(p.group) + (p.bias_term ? "" : " no bias") + (algo == ConvAlgo::Winograd ? " Winograd" : " GEMM");
    c.make = [=] {
        auto layer = std::make_unique<ConvolutionLayer>("conv", p);
        layer->set_algo(algo);
        return layer;
    };
    c.bottom = {in};
    c.reference = [=](const Layer&, const std::vector<Vec>& x, const std::vector<Vec>& w) {
        Vec y(conv_output_shape(in, p).count());
        conv_forward_naive(y.data(), x[0].data(), w[0].data(), p.bias_term ? w[1].data() : nullptr, in, p);
        return std::vector<Vec>{y};
    };
    return c;
}

OpCase inner_product_row(Shape in, int num_output, bool bias) {
    InnerProductParam p;
    p.num_output = num_output;
    p.bias_term = bias;
    OpCase c;
    c.name = "InnerProduct in " + in.str() + " num_output " + std::to_string(num_output) + (bias ? "" : " no bias");
    c.make = [=] { return std::make_unique<InnerProductLayer>("fc", p); };
    c.bottom = {in};
    c.reference = [=](const Layer&, const std::vector<Vec>& x, const std::vector<Vec>& w) {
        Vec y((size_t)in.n * num_output);
        inner_product_forward_naive(y.data(), x[0].data(), w[0].data(), bias ? w[1].data() : nullptr, in.n,
                                    (int)in.chw(), num_output);
        return std::vector<Vec>{y};
    };
    return c;
}

PoolingParam pool_param(PoolingParam::Method m, int kh, int kw, int sh, int sw, int ph, int pw) {
    PoolingParam p;
    p.pool = m;
    p.kernel_h = kh, p.kernel_w = kw;
    p.stride_h = sh, p.stride_w = sw;
    p.pad_h = ph, p.pad_w = pw;
    return p;
}

PoolingParam global_pool(PoolingParam::Method m) {
    PoolingParam p;
    p.pool = m;
    p.global_pooling = true;
    return p;
}

OpCase pooling_row(Shape in, const PoolingParam& p) {
    OpCase c;
    c.name = std::string("Pooling ") + (p.pool == PoolingParam::MAX ? "MAX" : "AVE") + " in " + in.str() +
             (p.global_pooling ? " global"
                               : " kernel " + hw(p.kernel_h, p.kernel_w) + " stride " + hw(p.stride_h, p.stride_w) +
                                     " pad " + hw(p.pad_h, p.pad_w));
    c.make = [=] { return std::make_unique<PoolingLayer>("pool", p); };
    c.bottom = {in};
    c.fill = distinct(1e-3f);  // no ties: a max never changes hands within a step
    c.reference = [=](const Layer&, const std::vector<Vec>& x, const std::vector<Vec>&) {
        const PoolGeom g = pooling_geometry(in, p);
        Vec y((size_t)g.N * g.C * g.OH * g.OW);
        pooling_forward_naive(y.data(), x[0].data(), g, p.pool);
        return std::vector<Vec>{y};
    };
    return c;
}

OpCase lrn_row(Shape in, int local_size, float alpha, float beta, float k, float range) {
    LRNParam p;
    p.local_size = local_size, p.alpha = alpha, p.beta = beta, p.k = k;
    OpCase c;
    c.name = "LRN in " + in.str() + " local_size " + std::to_string(local_size) + " alpha " + std::to_string(alpha) +
             " beta " + std::to_string(beta) + " k " + std::to_string(k);
    c.make = [=] { return std::make_unique<LRNLayer>("norm", p); };
    c.bottom = {in};
    c.fill = uniform_in(-range, range);
    c.reference = [=](const Layer&, const std::vector<Vec>& x, const std::vector<Vec>&) {
        Vec y(in.count()), scale(in.count());
        lrn_forward_naive(y.data(), scale.data(), x[0].data(), in, p);
        return std::vector<Vec>{y};
    };
    return c;
}

OpCase relu_row(Shape in, float slope, bool in_place) {
    OpCase c;
    c.name = "ReLU in " + in.str() + " negative_slope " + std::to_string(slope) + (in_place ? " in place" : "");
    c.make = [=] { return std::make_unique<ReLULayer>("relu", ReLUParam{slope}); };
    c.bottom = {in};
    c.in_place = in_place;
    c.fill = away_from_zero(0.01f);  // the kink at 0 lies far outside every step
    c.reference = [=](const Layer&, const std::vector<Vec>& x, const std::vector<Vec>&) {
        Vec y(x[0].size());
        relu_forward_naive(y.data(), x[0].data(), y.size(), slope);
        return std::vector<Vec>{y};
    };
    return c;
}

OpCase sigmoid_row(Shape in, bool in_place) {
    OpCase c;
    c.name = "Sigmoid in " + in.str() + (in_place ? " in place" : "");
    c.make = [] { return std::make_unique<SigmoidLayer>("sigmoid"); };
    c.bottom = {in};
    c.in_place = in_place;
    c.fill = uniform_in(-3, 3);
    c.reference = [](const Layer&, const std::vector<Vec>& x, const std::vector<Vec>&) {
        Vec y(x[0].size());
        sigmoid_forward_naive(y.data(), x[0].data(), y.size());
        return std::vector<Vec>{y};
    };
    return c;
}

OpCase softmax_row(Shape in) {
    OpCase c;
    c.name = "Softmax in " + in.str();
    c.make = [] { return std::make_unique<SoftmaxLayer>("softmax"); };
    c.bottom = {in};
    c.fill = uniform_in(-2, 2);
    c.reference = [=](const Layer&, const std::vector<Vec>& x, const std::vector<Vec>&) {
        Vec y(x[0].size());
        softmax_forward_naive(y.data(), x[0].data(), in);
        return std::vector<Vec>{y};
    };
    return c;
}

// Labels: integers in [0, classes).
std::function<void(size_t, Tensor&, Rng&)> scores_and_labels(int classes, float range) {
    return [=](size_t i, Tensor& t, Rng& rng) {
        for (size_t j = 0; j < t.count(); ++j) t[j] = i == 0 ? rng.uniform(-range, range) : (float)rng.below(classes);
    };
}

OpCase softmax_loss_row(Shape in, const SoftmaxLossParam& p, size_t tops) {
    OpCase c;
    c.name = "SoftmaxWithLoss in " + in.str() + (p.has_ignore_label ? " ignore_label " + std::to_string(p.ignore_label) : "") +
             (tops == 2 ? " with probabilities" : "");
    c.make = [=] { return std::make_unique<SoftmaxWithLossLayer>("loss", p); };
    c.bottom = {in, Shape(in.n, 1, in.h, in.w)};
    c.tops = tops;
    c.top_has_gradient = {true, false};  // as Caffe, backward reads the loss's gradient alone
    c.fill = scores_and_labels(in.c, 2);
    c.reference = [=](const Layer&, const std::vector<Vec>& x, const std::vector<Vec>&) {
        std::vector<Vec> y = {Vec{softmax_loss_naive(x[0].data(), x[1].data(), in, p)}};
        if (tops == 2) {
            y.emplace_back(x[0].size());
            softmax_forward_naive(y[1].data(), x[0].data(), in);
        }
        return y;
    };
    return c;
}

OpCase dropout_row(Shape in, float ratio, bool in_place, Phase phase) {
    OpCase c;
    c.name = "Dropout in " + in.str() + " ratio " + std::to_string(ratio) + (in_place ? " in place" : "") +
             (phase == Phase::Test ? " TEST" : " TRAIN");
    c.make = [=] { return std::make_unique<DropoutLayer>("drop", DropoutParam{ratio, 11}); };
    c.bottom = {in};
    c.in_place = in_place;
    c.phase = phase;
    // The reference applies the mask the layer drew in its forward (identity at TEST).
    c.reference = [=](const Layer& layer, const std::vector<Vec>& x, const std::vector<Vec>&) {
        if (layer.phase() == Phase::Test) return std::vector<Vec>{x[0]};
        Vec y(x[0].size());
        dropout_forward_naive(y.data(), x[0].data(), static_cast<const DropoutLayer&>(layer).mask().data(), y.size(), ratio);
        return std::vector<Vec>{y};
    };
    return c;
}

OpCase accuracy_row(int n, int classes, int top_k) {
    OpCase c;
    c.name = "Accuracy " + std::to_string(n) + " x " + std::to_string(classes) + " top_k " + std::to_string(top_k);
    c.make = [=] { return std::make_unique<AccuracyLayer>("accuracy", top_k); };
    c.bottom = {Shape(n, classes), Shape(n)};
    // Distinct scores (no ties), labels in range.
    c.fill = [=](size_t i, Tensor& t, Rng& rng) {
        if (i == 0) distinct(0.01f)(i, t, rng);
        else scores_and_labels(classes, 1)(1, t, rng);
    };
    c.reference = [=](const Layer&, const std::vector<Vec>& x, const std::vector<Vec>&) {
        return std::vector<Vec>{{accuracy_naive(x[0].data(), x[1].data(), n, classes, top_k)}};
    };
    return c;
}


// SSDH's losses: bottom 0 is differentiated, bottom 1 (the same blob in the authors' net) is not
// read, so its values must change nothing and it gets no gradient.
OpCase ssdh_loss_row(bool k1, Shape in) {
    OpCase c;
    c.name = std::string(k1 ? "K1_EuclideanLoss" : "K2_EuclideanLoss") + " in " + in.str();
    c.make = [=]() -> std::unique_ptr<Layer> {
        if (k1) return std::make_unique<K1EuclideanLossLayer>("loss_1");
        return std::make_unique<K2EuclideanLossLayer>("loss_2");
    };
    c.bottom = {in, in};
    c.fill = uniform_in(0, 1);  // sigmoid outputs (the losses are smooth everywhere)
    c.reference = [=](const Layer&, const std::vector<Vec>& x, const std::vector<Vec>&) {
        return std::vector<Vec>{{k1 ? k1_euclidean_loss_naive(x[0].data(), x[0].size())
                                    : k2_euclidean_loss_naive(x[0].data(), x[0].size())}};
    };
    return c;
}

OpCase reshape_row(Shape in, std::vector<int> dims) {
    OpCase c;
    c.name = "Reshape in " + in.str() + " dims";
    for (int d : dims) c.name += " " + std::to_string(d);
    c.make = [=] { return std::make_unique<ReshapeLayer>("reshape", ReshapeParam{dims}); };
    c.bottom = {in};
    c.reference = [](const Layer&, const std::vector<Vec>& x, const std::vector<Vec>&) { return std::vector<Vec>{x[0]}; };
    return c;
}
}  // namespace

TEST_CASE("ops: Convolution (GEMM and Winograd; grouped, per-axis, pointwise, with and without bias)") {
    struct Cfg {
        Shape in;
        ConvParam p;
    };
    const Cfg cfgs[] = {
        {Shape(2, 4, 7, 6), conv_param(6, 3, 2, 2, 1, 1, 0, 2)},
        {Shape(2, 4, 7, 6), conv_param(6, 3, 2, 2, 1, 1, 0, 2, false)},
        {Shape(2, 3, 5, 6), conv_param(4, 3, 3, 1, 1, 1, 1)},
        {Shape(2, 3, 5, 6), conv_param(4, 3, 3, 1, 1, 1, 1, 1, false)},
        {Shape(1, 4, 7, 5), conv_param(6, 2, 3, 2, 1, 0, 1, 2)},
        {Shape(2, 4, 6, 6), conv_param(4, 3, 2, 2, 2, 1, 0, 2, false)},
        {Shape(1, 6, 5, 4), conv_param(3, 1, 1, 1, 1, 0, 0, 3)},  // pointwise, 3 groups
        {Shape(2, 4, 6, 5), conv_param(4, 3, 3, 1, 1, 1, 0, 2)},  // Winograd: groups, ragged tiles
    };
    std::vector<OpCase> rows;
    for (const Cfg& cfg : cfgs)
        for (ConvAlgo algo : {ConvAlgo::Gemm, ConvAlgo::Winograd})
            if (algo == ConvAlgo::Gemm || conv_winograd_possible(cfg.p)) rows.push_back(conv_row(cfg.in, cfg.p, algo));
    CHECK(rows.size() == 11);
    run_rows(rows);
}

TEST_CASE("ops: InnerProduct (the batch-4 product and the GEMM, with and without bias)") {
    run_rows({inner_product_row(Shape(3, 2, 3, 2), 5, true), inner_product_row(Shape(3, 2, 3, 2), 5, false),
              inner_product_row(Shape(6, 7), 4, true)});
}

TEST_CASE("ops: Pooling (MAX without ties, AVE with padding, rectangular, partial windows, global)") {
    using M = PoolingParam::Method;
    std::vector<OpCase> rows;
    for (M m : {PoolingParam::MAX, PoolingParam::AVE}) {
        rows.push_back(pooling_row(Shape(2, 3, 7, 6), PoolingParam::square(m, 3, 2, 1)));
        rows.push_back(pooling_row(Shape(2, 3, 7, 6), PoolingParam::square(m, 2, 2, 0)));
        rows.push_back(pooling_row(Shape(2, 2, 7, 7), PoolingParam::square(m, 3, 2)));     // AlexNet's pool
        rows.push_back(pooling_row(Shape(2, 2, 6, 6), PoolingParam::square(m, 3, 2, 1)));  // partial last window
        rows.push_back(pooling_row(Shape(2, 3, 5, 4), pool_param(m, 2, 3, 1, 2, 1, 0)));   // rectangular, overlapping
        rows.push_back(pooling_row(Shape(2, 3, 7, 6), global_pool(m)));
        rows.push_back(pooling_row(Shape(2, 3, 4, 5), global_pool(m)));
    }
    run_rows(rows);
}

TEST_CASE("ops: LRN (AlexNet's alpha, a large alpha, fewer channels than the window, other beta and k)") {
    run_rows({lrn_row(Shape(2, 7, 3, 3), 5, 1.0f, 0.75f, 1.0f, 2), lrn_row(Shape(2, 7, 3, 3), 5, 1e-4f, 0.75f, 1.0f, 2),
              lrn_row(Shape(2, 7, 3, 4), 5, 1e-4f, 0.75f, 1.0f, 1), lrn_row(Shape(2, 7, 3, 4), 5, 1.0f, 0.75f, 1.0f, 2),
              lrn_row(Shape(1, 3, 2, 5), 5, 1.0f, 0.75f, 1.0f, 2), lrn_row(Shape(2, 5, 2, 2), 3, 2.0f, 0.5f, 2.0f, 2),
              lrn_row(Shape(1, 4, 3, 3), 1, 1.0f, 1.0f, 1.0f, 2)});
}

TEST_CASE("ops: ReLU (plain and leaky, separate and in place, away from the kink)") {
    std::vector<OpCase> rows;
    for (float slope : {0.0f, 0.1f, 0.25f})
        for (bool in_place : {false, true}) rows.push_back(relu_row(Shape(2, 3, 4, 5), slope, in_place));
    run_rows(rows);
}

TEST_CASE("ops: Sigmoid (separate and in place)") {
    run_rows({sigmoid_row(Shape(2, 4, 3, 3), false), sigmoid_row(Shape(2, 4, 3, 3), true), sigmoid_row(Shape(2, 5, 3, 2), false)});
}

TEST_CASE("ops: Softmax (over channels, with spatial positions)") {
    run_rows({softmax_row(Shape(2, 5, 3, 2)), softmax_row(Shape(2, 4, 2, 3)), softmax_row(Shape(3, 10))});
}

TEST_CASE("ops: SoftmaxWithLoss (spatial labels, ignore_label, the probabilities as a second top)") {
    SoftmaxLossParam ignore;
    ignore.has_ignore_label = true;
    ignore.ignore_label = 3;
    run_rows({softmax_loss_row(Shape(3, 4, 2, 1), {}, 1), softmax_loss_row(Shape(3, 4, 2, 2), {}, 1),
              softmax_loss_row(Shape(3, 4, 2, 2), ignore, 1), softmax_loss_row(Shape(4, 5), {}, 2)});
}

TEST_CASE("ops: K1_EuclideanLoss and K2_EuclideanLoss (SSDH's losses; the second bottom is not read)") {
    run_rows({ssdh_loss_row(true, Shape(4, 6)), ssdh_loss_row(true, Shape(3, 48)), ssdh_loss_row(true, Shape(2, 3, 2, 2)),
              ssdh_loss_row(false, Shape(5)), ssdh_loss_row(false, Shape(7, 1, 1, 1)), ssdh_loss_row(false, Shape(2, 3))});
}

TEST_CASE("ops: Reshape (0 copies an axis, -1 is inferred, fewer than 4 dims) and SSDH's 1 x K AVE pooling") {
    run_rows({reshape_row(Shape(3, 8), {0, 1, 1, -1}), reshape_row(Shape(2, 3, 2, 2), {0, -1}),
              reshape_row(Shape(2, 3, 2, 2), {4, 6}), reshape_row(Shape(2, 3, 2, 2), {-1, 2, 0, 3}),
              pooling_row(Shape(3, 1, 1, 8), pool_param(PoolingParam::AVE, 1, 8, 1, 1, 0, 0))});
}

TEST_CASE("ops: Dropout (the drawn mask, separate and in place; identity at TEST)") {
    run_rows({dropout_row(Shape(2, 5, 3, 2), 0.4f, false, Phase::Train), dropout_row(Shape(2, 3, 4, 4), 0.3f, false, Phase::Train),
              dropout_row(Shape(2, 3, 4, 4), 0.3f, true, Phase::Train), dropout_row(Shape(2, 3, 4, 4), 0.3f, false, Phase::Test)});
}

TEST_CASE("ops: Accuracy (no gradient: shapes and forward only)") {
    for (const OpCase& c : {accuracy_row(7, 5, 1), accuracy_row(7, 5, 2), accuracy_row(3, 2, 1)}) {
        const OpReport rep = run_op(c);
        CHECK_MESSAGE(rep.ok(), c.name, ": ", rep.summary());
        CHECK(rep.gradient_checked == 0);
    }
}

// ---- the harness can fail ----------------------------------------------------------------------

namespace {

// A ReLU whose backward is off: doubled, NaN, or written (=) instead of added (+=).
struct BadReLU : ReLULayer {
    enum Fault { Doubled, NotANumber, Overwrites } fault;
    explicit BadReLU(Fault f) : ReLULayer("bad"), fault(f) {}
    void backward(const Blobs& top, const Blobs& bottom) override {
        for (size_t i = 0; i < bottom[0]->count(); ++i) {
            const float d = top[0]->data[i] > 0 ? top[0]->diff[i] : 0.0f;
            if (fault == Doubled) bottom[0]->diff[i] += 2 * d;
            if (fault == NotANumber) bottom[0]->diff[i] = NAN;
            if (fault == Overwrites) bottom[0]->diff[i] = d;
        }
    }
};

// A Sigmoid whose forward is off by 1e-3.
struct BadSigmoid : SigmoidLayer {
    BadSigmoid() : SigmoidLayer("bad") {}
    void forward(const Blobs& bottom, const Blobs& top) override {
        SigmoidLayer::forward(bottom, top);
        for (size_t i = 0; i < top[0]->count(); ++i) top[0]->data[i] += 1e-3f;
    }
};

}  // namespace

TEST_CASE("ops: the harness fails a wrong, NaN or non-accumulating backward") {
    for (BadReLU::Fault f : {BadReLU::Doubled, BadReLU::NotANumber, BadReLU::Overwrites}) {
        CAPTURE(int(f));
        OpCase c = relu_row(Shape(1, 2, 3, 3), 0.0f, false);
        c.make = [=] { return std::make_unique<BadReLU>(f); };
        const OpReport rep = run_op(c);
        CHECK_FALSE(rep.ok());
        CHECK(rep.forward_failed == 0);
        CHECK(rep.gradient_failed > 0);
    }
}

TEST_CASE("ops: the harness fails a wrong forward") {
    OpCase c = sigmoid_row(Shape(1, 2, 3, 3), false);
    c.make = [] { return std::make_unique<BadSigmoid>(); };
    const OpReport rep = run_op(c);
    CHECK_FALSE(rep.ok());
    CHECK(rep.forward_failed == rep.forward_checked);
}

TEST_CASE("ops: the harness fails a backward missing a small term (LRN with AlexNet's alpha)") {
    // With alpha = 1e-4 the cross-channel term of LRN's gradient is about 1e-4 of the total (large
    // activations, as after conv1 with ImageNet weights). A backward with only dy * scale^-beta
    // must fail, although a float-only check with a 2e-2 tolerance would pass it.
    struct LrnWithoutCrossTerm : LRNLayer {
        explicit LrnWithoutCrossTerm(LRNParam p) : LRNLayer("lrn_wrong", p) {}
        void backward(const Blobs& t, const Blobs& b) override {
            for (size_t i = 0; i < b[0]->count(); ++i)
                b[0]->diff[i] += t[0]->diff[i] * (float)std::pow((double)scale()[i], -0.75);
        }
    };
    OpCase c = lrn_row(Shape(1, 7, 3, 3), 5, 1e-4f, 0.75f, 1.0f, 20);
    c.seed = 7;
    const OpReport good = run_op(c);
    CHECK_MESSAGE(good.ok(), good.summary());
    c.make = [] {
        LRNParam p;
        p.alpha = 1e-4f;
        return std::make_unique<LrnWithoutCrossTerm>(p);
    };
    const OpReport bad = run_op(c);
    CHECK(bad.forward_failed == 0);
    CHECK(bad.gradient_failed > 0);
}

TEST_CASE("ops: the harness fails a layer whose shapes() disagrees with its reshape") {
    // The builder sizes a net from shapes() alone: a layer that answers one thing and allocates
    // another would make the memory limit and the tensor checks wrong.
    struct Misstated : Layer {
        bool wrong_top, wrong_param;
        Misstated(bool t, bool p) : Layer("misstated"), wrong_top(t), wrong_param(p) {}
        const char* type() const override { return "Misstated"; }
        LayerShapes shapes(const std::vector<Shape>& b) const override {
            Shape top = b.at(0);
            if (wrong_top) top.w += 1;
            return {"", {top}, {{"weight", Shape(wrong_param ? 3 : 2)}}};
        }
        void reshape(const Blobs& b, const Blobs& t) override {
            t[0]->reshape(b[0]->shape());
            ensure_param(0, "weight", Shape(2), FillerParam::constant(0));
        }
        void forward(const Blobs& b, const Blobs& t) override { t[0]->data = b[0]->data; }
        void backward(const Blobs& t, const Blobs& b) override {
            for (size_t i = 0; i < b[0]->count(); ++i) b[0]->diff[i] += t[0]->diff[i];
        }
    };
    for (int fault = 0; fault < 3; ++fault) {
        CAPTURE(fault);
        OpCase c;
        c.name = "misstated";
        c.make = [=] { return std::make_unique<Misstated>(fault == 1, fault == 2); };
        c.bottom = {Shape(1, 2, 2, 2)};
        c.reference = [](const Layer&, const std::vector<Vec>& x, const std::vector<Vec>&) { return std::vector<Vec>{x[0]}; };
        const OpReport rep = run_op(c);
        CHECK(rep.ok() == (fault == 0));
        CHECK(rep.other_failed == (fault == 0 ? 0u : 1u));
    }
}
