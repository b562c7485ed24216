// tests/nn/test_net.cpp -- the Net: wiring and its errors, a whole-net gradient check through every
// layer kind, a training sanity check (overfitting 64 random samples), CaffeNet-DLBHC shapes.
#include <doctest/doctest.h>

#include <cmath>

#include "nn/accuracy.h"
#include "nn/conv.h"
#include "nn/dropout.h"
#include "nn/inner_product.h"
#include "nn/lrn.h"
#include "nn/models.h"
#include "nn/pooling.h"
#include "nn/relu.h"
#include "nn/sigmoid.h"
#include "nn/softmax.h"
#include "nn/softmax_loss.h"
#include "nn/solver.h"
#include "tests/nn/gradcheck.h"
#include "tests/support/tensors.h"

using namespace dlbhc;

namespace {

ConvParam conv_param(int num_output, int kernel, int stride, int pad, int group, FillerParam wf) {
    ConvParam p = ConvParam::square(num_output, kernel, stride, pad, group);
    p.weight_filler = wf;
    p.bias_filler = FillerParam::uniform(-0.1f, 0.1f);
    return p;
}

InnerProductParam ip_param(int num_output, FillerParam wf) {
    InnerProductParam p;
    p.num_output = num_output;
    p.weight_filler = wf;
    p.bias_filler = FillerParam::uniform(-0.1f, 0.1f);
    return p;
}

}  // namespace

TEST_CASE("net: wiring, names and errors") {
    Net net("wiring");
    net.add_input("data", Shape(2, 3, 4, 4));
    net.add_input("label", Shape(2));
    net.add(std::make_unique<InnerProductLayer>("fc", ip_param(5, FillerParam::gaussian(0.1f))), {"data"}, {"fc"});
    net.add(std::make_unique<ReLULayer>("relu"), {"fc"}, {"fc"});  // in place
    net.add(std::make_unique<SoftmaxWithLossLayer>("loss"), {"fc", "label"}, {"loss"});
    CHECK(net.blob("fc")->shape() == Shape(2, 5, 1, 1));
    CHECK(net.param("fc.weight")->value.shape() == Shape(5, 48, 1, 1));
    CHECK(net.param("fc.bias")->value.shape() == Shape(5, 1, 1, 1));
    CHECK(net.params().size() == 2);
    CHECK(net.layer("relu")->type() == std::string("ReLU"));
    CHECK_THROWS_WITH_AS(net.blob("nope"), doctest::Contains("no blob named 'nope'"), std::out_of_range);
    CHECK_THROWS_AS(net.layer("nope"), std::out_of_range);
    CHECK_THROWS_WITH_AS(net.add(std::make_unique<ReLULayer>("r2"), {"missing"}, {"x"}),
                         doctest::Contains("bottom blob 'missing'"), std::invalid_argument);
    CHECK_THROWS_WITH_AS(net.add(std::make_unique<SigmoidLayer>("s"), {"data"}, {"fc"}),
                         doctest::Contains("already exists"), std::invalid_argument);
    CHECK_THROWS_WITH_AS(net.add(std::make_unique<SoftmaxLayer>("sm"), {"fc"}, {"fc"}),
                         doctest::Contains("cannot run in place"), std::invalid_argument);
    CHECK_THROWS_AS(net.add(std::make_unique<ReLULayer>("relu"), {"fc"}, {"fc2"}), std::invalid_argument);
    // The input needs no gradient, so the first layer skips its data gradient.
    CHECK_FALSE(net.layer("fc")->propagate_down(0));
    CHECK_FALSE(net.layer("loss")->propagate_down(1));
    CHECK(net.layer("loss")->propagate_down(0));
    net.set_input_needs_grad("data");
    CHECK(net.layer("fc")->propagate_down(0));
}

TEST_CASE("net: a layer that rejects its input leaves the net unchanged") {
    Net net("rollback");
    net.add_input("data", Shape(1, 3, 4, 4));
    ConvParam p;
    p.num_output = 2;
    p.kernel_h = p.kernel_w = 7;  // larger than the 4x4 input
    CHECK_THROWS_WITH_AS(net.add(std::make_unique<ConvolutionLayer>("conv", p), {"data"}, {"c"}),
                         doctest::Contains("larger than the padded input"), std::invalid_argument);
    CHECK_FALSE(net.has_blob("c"));
    CHECK(net.layers().empty());
    p.kernel_h = p.kernel_w = 3;
    net.add(std::make_unique<ConvolutionLayer>("conv", p), {"data"}, {"c"});  // the name is free again
    CHECK(net.blob("c")->shape() == Shape(1, 2, 2, 2));
    CHECK_THROWS_AS(net.add(std::make_unique<SigmoidLayer>("s"), {"c"}, {"t", "t"}), std::invalid_argument);
}

TEST_CASE("net: a weighted non-loss top adds weight * sum to the loss, as Caffe") {
    Net net("weights");
    net.add_input("data", Shape(2, 3));
    net.set_input_needs_grad("data");
    net.add(std::make_unique<SigmoidLayer>("sig"), {"data"}, {"sig"}, 0.5f);
    Blob* x = net.blob("data");
    float v[6] = {0, 1, -1, 2, -2, 0.5f};
    double want = 0;
    for (int i = 0; i < 6; ++i) {
        x->data[i] = v[i];
        want += 0.5 / (1 + std::exp(-(double)v[i]));
    }
    CHECK(net.forward() == doctest::Approx(want));
    net.backward();
    for (int i = 0; i < 6; ++i) {
        double s = 1 / (1 + std::exp(-(double)v[i]));
        CHECK(x->diff[i] == doctest::Approx(0.5 * s * (1 - s)));
    }
}

TEST_CASE("net: whole-net gradient check through every layer kind") {
    // data (2,4,9,9) -> conv 3x3 pad 1 group 2 -> ReLU -> LRN -> max pool 3/2 -> conv 1x1 -> sigmoid
    //   -> ave pool 2/1 pad 1 -> fc 6 -> dropout -> fc 3 -> SoftmaxWithLoss, plus a side branch
    //   Softmax -> fc 2 weighted into the loss, and an Accuracy layer (no gradient).
    Net net("all-layers");
    net.add_input("data", Shape(2, 4, 9, 9));
    net.add_input("label", Shape(2));
    net.add(std::make_unique<ConvolutionLayer>("conv1", conv_param(6, 3, 1, 1, 2, FillerParam::gaussian(0.3f))), {"data"}, {"conv1"});
    net.add(std::make_unique<ReLULayer>("relu1"), {"conv1"}, {"conv1"});
    LRNParam lp;
    lp.local_size = 3;
    lp.alpha = 0.5f;
    net.add(std::make_unique<LRNLayer>("norm1", lp), {"conv1"}, {"norm1"});
    net.add(std::make_unique<PoolingLayer>("pool1", PoolingParam::square(PoolingParam::MAX, 3, 2)), {"norm1"}, {"pool1"});
    net.add(std::make_unique<ConvolutionLayer>("conv2", conv_param(4, 1, 1, 0, 1, FillerParam::gaussian(0.5f))), {"pool1"}, {"conv2"});
    net.add(std::make_unique<SigmoidLayer>("sig2"), {"conv2"}, {"conv2"});
    net.add(std::make_unique<PoolingLayer>("pool2", PoolingParam::square(PoolingParam::AVE, 2, 1, 1)), {"conv2"}, {"pool2"});
    net.add(std::make_unique<InnerProductLayer>("fc1", ip_param(6, FillerParam::gaussian(0.5f))), {"pool2"}, {"fc1"});
    auto* drop = static_cast<DropoutLayer*>(net.add(std::make_unique<DropoutLayer>("drop", DropoutParam{0.3f, 5}), {"fc1"}, {"fc1"}));
    net.add(std::make_unique<InnerProductLayer>("fc2", ip_param(3, FillerParam::gaussian(0.5f))), {"fc1"}, {"fc2"});
    net.add(std::make_unique<SoftmaxWithLossLayer>("loss"), {"fc2", "label"}, {"loss"});
    net.add(std::make_unique<SoftmaxLayer>("prob"), {"fc2"}, {"prob"});
    // A weighted non-loss top adds 0.5 * sum(fc3) to the loss (Caffe's rule); the sum of softmax
    // outputs alone is constant, so an fc layer after it makes the branch's gradient non-trivial.
    net.add(std::make_unique<InnerProductLayer>("fc3", ip_param(2, FillerParam::gaussian(0.5f))), {"prob"}, {"fc3"}, 0.5f);
    net.add(std::make_unique<AccuracyLayer>("acc"), {"fc2", "label"}, {"acc"}, 0.0f);
    Rng rng(42);
    net.init_params(rng);
    fill_uniform(net.blob("data")->data, rng, -1, 1);
    net.blob("label")->data[0] = 1;
    net.blob("label")->data[1] = 2;
    net.set_input_needs_grad("data");
    Rng saved = drop->rng();
    GradCheckOptions opt;
    opt.before_forward = [&]() { drop->rng() = saved; };
    opt.skip_kinks = true;  // ReLU and max-pool kinks cannot be placed by hand inside a net
    opt.eps = 1e-3;
    opt.max_points_per_tensor = 60;
    auto rep = check_net_gradients(net, {"data"}, opt);
    CHECK_MESSAGE(rep.ok(opt.max_skip_fraction), rep.summary());
    MESSAGE(rep.summary());
    CHECK(rep.checked > 200);
}

TEST_CASE("net: a small conv net overfits 64 random labelled samples") {
    // Random inputs and labels carry no pattern, so the only way down is memorising them: a check
    // that forward, backward and the solver work together. Stated bound: the loss starts near
    // ln 4 = 1.386 and falls below 0.05 within 300 full-batch iterations.
    // data (64, 1, 10, 10) -> conv 8 3x3 -> ReLU -> max 2/2 -> (64, 8, 4, 4) -> fc 32 -> ReLU
    //   -> fc8_kevin 16 -> Sigmoid -> fc 4 -> SoftmaxWithLoss
    Net net("overfit");
    net.add_input("data", Shape(64, 1, 10, 10));
    net.add_input("label", Shape(64));
    net.add(std::make_unique<ConvolutionLayer>("conv1", conv_param(8, 3, 1, 0, 1, FillerParam::xavier())), {"data"}, {"conv1"});
    net.add(std::make_unique<ReLULayer>("relu1"), {"conv1"}, {"conv1"});
    net.add(std::make_unique<PoolingLayer>("pool1", PoolingParam::square(PoolingParam::MAX, 2, 2)), {"conv1"}, {"pool1"});
    net.add(std::make_unique<InnerProductLayer>("ip1", ip_param(32, FillerParam::xavier())), {"pool1"}, {"ip1"});
    net.add(std::make_unique<ReLULayer>("relu2"), {"ip1"}, {"ip1"});
    net.add(std::make_unique<InnerProductLayer>("fc8_kevin", ip_param(16, FillerParam::xavier())), {"ip1"}, {"fc8_kevin"});
    net.add(std::make_unique<SigmoidLayer>("encode"), {"fc8_kevin"}, {"fc8_kevin"});
    net.add(std::make_unique<InnerProductLayer>("fc8", ip_param(4, FillerParam::xavier())), {"fc8_kevin"}, {"fc8"});
    net.add(std::make_unique<SoftmaxWithLossLayer>("loss"), {"fc8", "label"}, {"loss"});
    net.add(std::make_unique<AccuracyLayer>("accuracy"), {"fc8", "label"}, {"accuracy"}, 0.0f);
    Rng rng(2024);
    net.init_params(rng);
    fill_uniform(net.blob("data")->data, rng, -1, 1);
    for (int i = 0; i < 64; ++i) net.blob("label")->data[i] = (float)(i % 4);
    SolverParam sp;
    sp.base_lr = 0.1;
    sp.momentum = 0.9;
    SGDSolver solver(net, sp);
    double first = solver.step(), loss = first;
    int iters = 1;
    while (iters < 300 && loss > 0.05) {
        loss = solver.step();
        ++iters;
    }
    MESSAGE("overfit: loss ", first, " -> ", loss, " after ", iters, " iterations");
    CHECK(first > 1.0);
    CHECK(loss < 0.05);
    net.set_phase(Phase::Test);
    net.forward();
    CHECK(net.blob("accuracy")->data[0] == doctest::Approx(1.0));
}

TEST_CASE("models: the small DLBHC net trains on a batch") {
    DlbhcNetConfig cfg;
    cfg.batch = 8;
    cfg.latent_bits = 12;
    cfg.num_classes = 3;
    auto net = build_small_dlbhc(cfg, 1, 28);
    CHECK(net->blob("pool2")->shape() == Shape(8, 64, 4, 4));
    CHECK(net->blob("fc8_kevin_encode")->shape() == Shape(8, 12, 1, 1));
    Rng rng(3);
    net->init_params(rng);
    fill_uniform(net->blob("data")->data, rng, -1, 1);
    for (int i = 0; i < 8; ++i) net->blob("label")->data[i] = (float)(i % 3);
    SolverParam sp;
    sp.base_lr = 0.05;
    sp.momentum = 0.9;
    SGDSolver solver(*net, sp);
    double first = solver.step(), loss = first;
    for (int i = 0; i < 59; ++i) loss = solver.step();
    MESSAGE("small DLBHC net, 8 samples: loss ", first, " -> ", loss, " in 60 iterations");
    CHECK(loss < 0.5 * first);
}

TEST_CASE("models: CaffeNet-DLBHC shapes and parameter counts match Caffe's") {
    DlbhcNetConfig cfg;
    cfg.batch = 2;
    cfg.latent_bits = 48;
    cfg.num_classes = 10;
    auto net = build_caffenet_dlbhc(cfg);
    CHECK(net->blob("conv1")->shape() == Shape(2, 96, 55, 55));
    CHECK(net->blob("pool1")->shape() == Shape(2, 96, 27, 27));
    CHECK(net->blob("pool2")->shape() == Shape(2, 256, 13, 13));
    CHECK(net->blob("pool5")->shape() == Shape(2, 256, 6, 6));
    CHECK(net->blob("fc7")->shape() == Shape(2, 4096, 1, 1));
    CHECK(net->blob("fc8_kevin_encode")->shape() == Shape(2, 48, 1, 1));
    CHECK(net->blob("fc8_pascal")->shape() == Shape(2, 10, 1, 1));
    // Parameter counts of BVLC CaffeNet: conv1 34,944 ... fc7 16,781,312.
    auto count = [&](const std::string& layer) {
        size_t n = 0;
        for (const Param& p : net->layer(layer)->params()) n += p.value.count();
        return n;
    };
    CHECK(count("conv1") == 34944);
    CHECK(count("conv2") == 307456);
    CHECK(count("conv3") == 885120);
    CHECK(count("conv4") == 663936);
    CHECK(count("conv5") == 442624);
    CHECK(count("fc6") == 37752832);
    CHECK(count("fc7") == 16781312);
    CHECK(count("fc8_kevin") == 4096 * 48 + 48);
    CHECK(net->param("conv2.weight")->value.shape() == Shape(256, 48, 5, 5));
    CHECK(net->param("fc8_pascal.weight")->lr_mult == 10.0f);
    CHECK(net->param("fc8_pascal.bias")->lr_mult == 20.0f);
    CHECK(net->param("fc8_pascal.bias")->decay_mult == 0.0f);
    CHECK(net->param("conv1.bias")->lr_mult == 2.0f);
    cfg.alexnet_order = true;
    auto alex = build_caffenet_dlbhc(cfg);
    CHECK(alex->blob("norm1")->shape() == Shape(2, 96, 55, 55));  // LRN before pooling
    CHECK(alex->blob("pool5")->shape() == Shape(2, 256, 6, 6));
}
