// tests/nn/test_solver.cpp -- SGD with momentum, weight decay, lr_mult/decay_mult and every learning-
// rate policy, against steps computed by hand.
#include <doctest/doctest.h>

#include <cmath>

#include "nn/net.h"
#include "nn/solver.h"

using namespace dlbhc;

namespace {
// A layer with one parameter of two values whose gradient is always g (the loss is 0); it isolates
// the solver's arithmetic from any layer maths.
struct FixedGradLayer : Layer {
    float g0, g1;
    FixedGradLayer(float a, float b) : Layer("fixed"), g0(a), g1(b) {}
    const char* type() const override { return "FixedGrad"; }
    bool is_loss() const override { return true; }
    LayerShapes shapes(const std::vector<Shape>&) const override { return {"", {Shape(1)}, {{"weight", Shape(2)}}}; }
    void reshape(const Blobs&, const Blobs& top) override {
        ensure_param(0, "weight", Shape(2), FillerParam::constant(0));
        top[0]->reshape(Shape(1));
    }
    void forward(const Blobs&, const Blobs& top) override { top[0]->data[0] = 0; }
    void backward(const Blobs&, const Blobs&) override {
        params_[0].grad[0] += g0;
        params_[0].grad[1] += g1;
    }
};
}  // namespace

TEST_CASE("solver: learning-rate policies against hand-computed values") {
    SolverParam p;
    p.base_lr = 0.01;
    p.gamma = 0.1;
    CHECK(learning_rate(p, 12345) == doctest::Approx(0.01));
    p.lr_policy = "step";
    p.stepsize = 3;
    CHECK(learning_rate(p, 0) == doctest::Approx(0.01));
    CHECK(learning_rate(p, 2) == doctest::Approx(0.01));
    CHECK(learning_rate(p, 3) == doctest::Approx(0.001));
    CHECK(learning_rate(p, 6) == doctest::Approx(0.0001));
    p.lr_policy = "multistep";
    p.stepvalue = {2, 5};
    CHECK(learning_rate(p, 1) == doctest::Approx(0.01));
    CHECK(learning_rate(p, 2) == doctest::Approx(0.001));
    CHECK(learning_rate(p, 4) == doctest::Approx(0.001));
    CHECK(learning_rate(p, 5) == doctest::Approx(0.0001));
    p.lr_policy = "inv";
    p.gamma = 1e-4;
    p.power = 0.75;
    // 0.01 * (1 + 1e-4 * 100)^-0.75 = 0.01 * 1.01^-0.75 = 0.0099256500
    CHECK(learning_rate(p, 100) == doctest::Approx(0.0099256500).epsilon(1e-7));
    CHECK(learning_rate(p, 0) == doctest::Approx(0.01));
    p.lr_policy = "poly";
    p.max_iter = 100;
    p.power = 2;
    CHECK(learning_rate(p, 50) == doctest::Approx(0.0025));
    p.lr_policy = "exp";
    p.gamma = 0.5;
    CHECK(learning_rate(p, 3) == doctest::Approx(0.00125));
    p.lr_policy = "sometimes";
    CHECK_THROWS_WITH_AS(learning_rate(p, 0), doctest::Contains("unknown lr_policy 'sometimes'"), std::invalid_argument);
    p.lr_policy = "multistep";
    p.stepvalue = {5, 2};
    CHECK_THROWS_AS(learning_rate(p, 3), std::invalid_argument);
}

TEST_CASE("solver: momentum, weight decay, lr_mult and decay_mult, two steps by hand") {
    Net net;
    auto* layer = net.add(std::make_unique<FixedGradLayer>(0.5f, 0.25f), {}, {"loss"});
    Param& w = layer->param(0);
    w.value[0] = 1.0f;
    w.value[1] = -2.0f;
    w.lr_mult = 2.0f;
    w.decay_mult = 0.5f;
    SolverParam p;
    p.base_lr = 0.1;
    p.momentum = 0.9;
    p.weight_decay = 0.01;
    SGDSolver s(net, p);
    s.step();
    // g' = g + 0.01*0.5*w; v = 0.9 v + 0.1*2*g'; w -= v
    // w0: g' = 0.505,  v = 0.101,   w = 0.899      w1: g' = 0.24,    v = 0.048,    w = -2.048
    CHECK(w.value[0] == doctest::Approx(0.899).epsilon(1e-6));
    CHECK(w.value[1] == doctest::Approx(-2.048).epsilon(1e-6));
    s.step();
    // w0: g' = 0.504495, v = 0.0909 + 0.100899 = 0.191799, w = 0.707201
    // w1: g' = 0.23976,  v = 0.0432 + 0.047952 = 0.091152, w = -2.139152
    CHECK(w.value[0] == doctest::Approx(0.707201).epsilon(1e-6));
    CHECK(w.value[1] == doctest::Approx(-2.139152).epsilon(1e-6));
    CHECK(s.iter() == 2);
    CHECK(s.history()[0][0] == doctest::Approx(0.191799).epsilon(1e-6));
}

TEST_CASE("solver: the step policy changes the rate at the right iteration; L1 decay") {
    Net net;
    auto* layer = net.add(std::make_unique<FixedGradLayer>(1.0f, -1.0f), {}, {"loss"});
    Param& w = layer->param(0);
    SolverParam p;
    p.base_lr = 1.0;
    p.lr_policy = "step";
    p.gamma = 0.5;
    p.stepsize = 2;
    SGDSolver s(net, p);
    // no momentum: w -= rate * g, rates 1, 1, 0.5, 0.5, 0.25 -> total 3.25
    for (int i = 0; i < 5; ++i) s.step();
    CHECK(w.value[0] == doctest::Approx(-3.25));
    CHECK(w.value[1] == doctest::Approx(3.25));

    Net net2;
    auto* l2 = net2.add(std::make_unique<FixedGradLayer>(0.0f, 0.0f), {}, {"loss"});
    l2->param(0).value[0] = 2.0f;
    l2->param(0).value[1] = -3.0f;
    SolverParam q;
    q.base_lr = 0.5;
    q.weight_decay = 0.1;
    q.regularization_type = "L1";
    SGDSolver s2(net2, q);
    s2.step();  // g' = 0.1 * sign(w): w0 = 2 - 0.05, w1 = -3 + 0.05
    CHECK(l2->param(0).value[0] == doctest::Approx(1.95));
    CHECK(l2->param(0).value[1] == doctest::Approx(-2.95));
    q.regularization_type = "L3";
    CHECK_THROWS_AS(SGDSolver(net2, q), std::invalid_argument);
}

TEST_CASE("solver: gradient clipping scales to the global norm") {
    Net net;
    auto* layer = net.add(std::make_unique<FixedGradLayer>(3.0f, 4.0f), {}, {"loss"});
    SolverParam p;
    p.base_lr = 1.0;
    p.clip_gradients = 1.0;  // |g| = 5 -> g = (0.6, 0.8)
    SGDSolver s(net, p);
    s.step();
    CHECK(layer->param(0).value[0] == doctest::Approx(-0.6));
    CHECK(layer->param(0).value[1] == doctest::Approx(-0.8));
}
