// tests/formats/test_ssdh_spec.cpp -- what SSDH's net files need from the prototxt reader and the
// builder: the authors' train_val.prototxt (kept outside the repository) read and built unchanged;
// K1_EuclideanLoss, K2_EuclideanLoss and Reshape rows, propagate_down, loss_weight on every loss,
// several losses summed, top names with spaces and colons; each setting that is wrong or not
// implemented an error at its token.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>

#include "formats/caffe_spec.h"
#include "formats/net_builder.h"
#include "nn/reshape.h"
#include "nn/solver.h"
#include "tests/support/test_files.h"

using namespace dlbhc;
using dlbhc::test::error_of;

namespace {

#define CHECK_ERROR(expr, expected)                               \
    do {                                                          \
        const std::string msg_ = error_of([&] { (void)(expr); }); \
        const std::string exp_ = (expected);                      \
        INFO("error: " << msg_);                                  \
        INFO("expected to contain: " << exp_);                    \
        CHECK(msg_.find(exp_) != std::string::npos);              \
    } while (0)

// A net with a (3, 8) input "a" (as sigmoid outputs) followed by `layers`.
std::string net_with(const std::string& layers) {
    return "name: \"t\"\ninput: \"a\"\ninput_shape { dim: 3 dim: 8 }\n" + layers;
}

std::unique_ptr<Net> build_text(const std::string& text) { return build_net(parse_net_spec(text, "t"), Phase::Train); }

const LayerSpec& layer_named(const NetSpec& spec, const std::string& name) {
    for (const LayerSpec& l : spec.layers)
        if (l.name == name) return l;
    FAIL("no layer " << name);
    return spec.layers.front();
}

// SSDH's head on input "a": the three layers of the authors' file, with their spellings.
const char* kSsdhHead =
    "layer { bottom: \"a\" bottom: \"a\" name: \"loss_1\" type: \"K1_EuclideanLoss\" propagate_down: 1 propagate_down: 0\n"
    "        top: \"loss: forcing-binary\" loss_weight: 1 }\n"
    "layer { name: \"r\" type: \"Reshape\" bottom: \"a\" top: \"r\" reshape_param { shape { dim: 0 dim: 1 dim: 1 dim: -1 } } }\n"
    "layer { name: \"avg\" type: \"Pooling\" bottom: \"r\" top: \"avg\" pooling_param { pool: AVE kernel_h: 1 kernel_w: 8 } }\n"
    "layer { bottom: \"avg\" bottom: \"avg\" name: \"loss_2\" type: \"K2_EuclideanLoss\" propagate_down: 1 propagate_down: 0\n"
    "        top: \"loss: 50%-fire-rate\" loss_weight: 2 }\n";

}  // namespace

TEST_CASE("ssdh spec: the authors' train_val.prototxt reads and builds unchanged (when the reference copy is present)") {
    const std::string path = test::shared_path("ssdh/train_val.prototxt");
    if (!std::ifstream(path).good()) {
        MESSAGE("skipped: " << path << " is not present (the authors' file is not part of the repository; "
                                       "set DLBHC_SHARED_DIR to the folder holding ssdh/)");
        return;
    }
    const NetSpec spec = load_net_spec(path);
    CHECK(spec.name == "SSDH");
    const LayerSpec& k1 = layer_named(spec, "loss_1");
    CHECK(k1.type == "K1_EuclideanLoss");
    CHECK(k1.top == std::vector<std::string>{"loss: forcing-binary"});
    CHECK(k1.propagate_down == std::vector<bool>{true, false});
    CHECK(k1.loss_weight == std::vector<float>{1});
    CHECK(layer_named(spec, "loss_2").top == std::vector<std::string>{"loss: 50%-fire-rate"});
    CHECK(layer_named(spec, "latent_sigmoid_reshape").settings<ReshapeParam>().dims == std::vector<int>{0, 1, 1, -1});
    CHECK(layer_named(spec, "loss").top == std::vector<std::string>{"loss: classfication-error"});
    CHECK(find_latent_layer(spec, Phase::Train) == "latent");
    CHECK(find_classifier_layer(spec, Phase::Train) == "fc9");
    // Built at batch 2 (the file's 32 would take 860 MiB for nothing here), both phases.
    NetBuildOptions opt;
    opt.batch = 2;
    for (Phase phase : {Phase::Train, Phase::Test}) {
        CAPTURE(phase_name(phase));
        auto net = build_net(spec, phase, opt);
        CHECK(net->blob("latent_sigmoid_reshape")->shape() == Shape(2, 1, 1, 48));
        CHECK(net->blob("latent_sigmoid_avg")->shape() == Shape(2, 1, 1, 1));
        CHECK(net->blob("loss: forcing-binary")->shape() == Shape(1, 1, 1, 1));
        CHECK(net->param("fc9.weight")->lr_mult == 10.0f);
        // The first bottom of each SSDH loss is differentiated, the second (the same blob) not.
        CHECK(net->layer("loss_1")->propagate_down(0));
        CHECK_FALSE(net->layer("loss_1")->propagate_down(1));
        CHECK_FALSE(net->layer("loss_2")->propagate_down(1));
    }
}

TEST_CASE("ssdh spec: several weighted losses are summed, each reported by its top name") {
    const std::string text = net_with(kSsdhHead);
    auto net = build_text(text);
    Tensor& a = net->blob("a")->data;
    for (size_t i = 0; i < a.count(); ++i) a[i] = i % 2 ? 0.9f : 0.2f;  // every code's mean 0.55
    const double total = net->forward();
    // K1 = -(1 / (2 * 24)) * (12 * 0.16 + 12 * 0.09) = -0.0625; K2 = (1 / (2 * 3)) * 3 * 0.0025.
    const std::vector<Net::LossOutput> outs = net->loss_outputs();
    REQUIRE(outs.size() == 2);
    CHECK(outs[0].top == "loss: forcing-binary");
    CHECK(outs[0].weight == 1.0f);
    CHECK(std::fabs(outs[0].value - -0.0625) < 1e-7);
    CHECK(outs[1].top == "loss: 50%-fire-rate");
    CHECK(outs[1].weight == 2.0f);
    CHECK(std::fabs(outs[1].value - 0.00125) < 1e-7);
    CHECK(std::fabs(total - (-0.0625 + 2 * 0.00125)) < 1e-7);
    // Gradient: d/da = -(a - 0.5) / 24 from K1 plus 2 * (0.55 - 0.5) / 3 / 8 through the mean.
    net->set_input_needs_grad("a");
    net->forward();
    net->backward();
    const float expect_hi = (float)(-(0.9 - 0.5) / 24 + 2 * 0.05 / 3 / 8), expect_lo = (float)(-(0.2 - 0.5) / 24 + 2 * 0.05 / 3 / 8);
    const Tensor& da = net->blob("a")->diff;
    for (size_t i = 0; i < da.count(); ++i) {
        CAPTURE(i);
        CHECK(std::fabs(da[i] - (i % 2 ? expect_hi : expect_lo)) < 1e-7);
    }
    // describe_layer keeps propagate_down and the reshape, so two nets that differ in them differ.
    const NetSpec spec = parse_net_spec(text, "t");
    CHECK(describe_layer(layer_named(spec, "loss_1")).find("propagate_down[1 0]") != std::string::npos);
    CHECK(describe_layer(layer_named(spec, "r")).find("{shape (0, 1, 1, -1)}") != std::string::npos);
}

TEST_CASE("ssdh spec: propagate_down 0 stops the gradient to that bottom; the layer's own parameters still learn") {
    const std::string fc = "layer { name: \"fc\" type: \"InnerProduct\" bottom: \"s\" top: \"fc\" %s inner_product_param { num_output: 2 } }\n";
    auto text_with = [&](const char* prop) {
        char buf[512];
        std::snprintf(buf, sizeof buf, fc.c_str(), prop);
        return net_with("layer { name: \"ip\" type: \"InnerProduct\" bottom: \"a\" top: \"s\" inner_product_param { num_output: 4 } }\n" +
                        std::string(buf) + "layer { name: \"l\" type: \"K2_EuclideanLoss\" bottom: \"fc\" bottom: \"fc\" top: \"l\" }\n");
    };
    for (bool held : {false, true}) {
        CAPTURE(held);
        auto net = build_text(text_with(held ? "propagate_down: false" : ""));
        Rng rng(3);
        net->init_params(rng);
        for (Param* p : net->params())
            for (size_t i = 0; i < p->value.count(); ++i) p->value[i] = rng.uniform(-1, 1);
        Tensor& a = net->blob("a")->data;
        for (size_t i = 0; i < a.count(); ++i) a[i] = rng.uniform(-1, 1);
        net->forward();
        net->zero_param_grads();
        net->backward();
        auto norm = [](const Tensor& t) {
            double s = 0;
            for (size_t i = 0; i < t.count(); ++i) s += std::fabs(t[i]);
            return s;
        };
        CHECK(norm(net->param("fc.weight")->grad) > 0);
        CHECK((norm(net->param("ip.weight")->grad) == 0) == held);
        CHECK((norm(net->blob("s")->diff) == 0) == held);
    }
}

TEST_CASE("ssdh spec: wrong or unimplemented settings of the new layers are errors at their token") {
    struct Case {
        std::string layers, message;
    };
    const std::string k1 = "layer { name: \"k\" type: \"K1_EuclideanLoss\" bottom: \"a\" ";
    const std::string rs = "layer { name: \"r\" type: \"Reshape\" bottom: \"a\" top: \"r\" ";
    const Case cases[] = {
        {k1 + "bottom: \"a\" propagate_down: 1 }", "t:4:68: field 'propagate_down' is given 1 times for 2 bottoms (Caffe: none, or one per bottom)"},
        {k1 + "bottom: \"a\" propagate_down: 2 propagate_down: 0 }", "t:4:68: field 'propagate_down' expects true or false"},
        {k1 + "}", "t:4:1: layer 'k' (K1_EuclideanLoss) takes 2 bottom and 0 to 1 top blobs, got 1 and 0"},
        {k1 + "bottom: \"a\" loss_param { normalization: FULL } }", "field 'normalization' is FULL; this layer's normalisation is fixed"},
        {k1 + "bottom: \"a\" reshape_param { } }", "field 'reshape_param' does not apply to layer 'k' of type K1_EuclideanLoss (it takes loss_param)"},
        {rs + "}", "layer 'r' (Reshape) needs a reshape_param block"},
        {rs + "reshape_param { } }", "reshape_param of layer 'r' needs a shape { dim ... }"},
        {rs + "reshape_param { shape { dim: -1 dim: -1 } } }", "reshape_param of layer 'r': more than one dim is -1 (at most one can be inferred)"},
        {rs + "reshape_param { shape { dim: 2 dim: -2 } } }", "field 'dim' must be -1 (infer), 0 (copy) or a size up to 16777216, got -2"},
        {rs + "reshape_param { shape { } } }", "reshape_param of layer 'r': shape has no dim"},
        {rs + "reshape_param { shape { dim: 1 dim: 1 dim: 1 dim: 1 dim: -1 } } }", "shape has 5 dims; dlbhc's blobs have at most 4"},
        {rs + "reshape_param { axis: 1 shape { dim: -1 } } }", "field 'axis' must be 0 (reshaping a range of axes is not implemented), got 1"},
        {rs + "reshape_param { num_axes: 1 shape { dim: -1 } } }", "field 'num_axes' must be -1"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.layers);
        CHECK_ERROR(parse_net_spec(net_with(c.layers), "t"), c.message);
    }
    // Rules that need the input shape, when the net is built.
    const Case built[] = {
        {rs + "reshape_param { shape { dim: 5 dim: -1 } } }",
         "Reshape layer 'r': shape (5, -1) does not fit the input (3, 8, 1, 1) (24 values): the other dims make 5, which does not divide it"},
        {rs + "reshape_param { shape { dim: 0 dim: 7 } } }", "shape (0, 7) does not fit the input (3, 8, 1, 1) (24 values): the dims make 21 values"},
        {"layer { name: \"ip\" type: \"InnerProduct\" bottom: \"a\" top: \"ip\" inner_product_param { num_output: 2 } }\n" + k1 +
             "bottom: \"ip\" }",
         "K1_EuclideanLoss layer 'k': the bottoms must hold the same number of values"},
    };
    for (const Case& c : built) {
        CAPTURE(c.layers);
        CHECK_ERROR(build_text(net_with(c.layers)), c.message);
    }
}

namespace {

// Every layer of the DLBHC net appears in the SSDH net, in the same order, and every parameter is
// the same (name, shape, multipliers, filler): the SSDH net is the DLBHC net plus its losses.
void check_ssdh_extends(const std::string& dlbhc_file, const std::string& ssdh_file, int image_side) {
    NetBuildOptions opt;
    opt.batch = 2;
    opt.height = opt.width = image_side;
    auto a = build_net(load_net_spec(test::repo_path(dlbhc_file)), Phase::Train, opt);
    auto b = build_net(load_net_spec(test::repo_path(ssdh_file)), Phase::Train, opt);
    std::vector<std::string> la, lb;
    for (const auto& l : a->layers()) la.push_back(l->name());
    for (const auto& l : b->layers())
        if (std::find(la.begin(), la.end(), l->name()) != la.end()) lb.push_back(l->name());
    CHECK(la == lb);
    const std::vector<Param*> pa = a->params(), pb = b->params();
    REQUIRE(pa.size() == pb.size());
    for (size_t i = 0; i < pa.size(); ++i) {
        CAPTURE(pa[i]->name);
        CHECK(pa[i]->name == pb[i]->name);
        CHECK(pa[i]->value.shape() == pb[i]->value.shape());
        CHECK(pa[i]->lr_mult == pb[i]->lr_mult);
        CHECK(pa[i]->decay_mult == pb[i]->decay_mult);
        CHECK(pa[i]->filler.type == pb[i]->filler.type);
        CHECK(pa[i]->filler.std == pb[i]->filler.std);
        CHECK(pa[i]->filler.value == pb[i]->filler.value);
    }
    // The three losses, by the authors' top names, each with weight 1.
    b->forward();
    const std::vector<Net::LossOutput> outs = b->loss_outputs();
    REQUIRE(outs.size() == 3);
    CHECK(outs[0].top == "loss: forcing-binary");
    CHECK(outs[1].top == "loss: 50%-fire-rate");
    CHECK(outs[2].top == "loss: classfication-error");
    for (const auto& o : outs) CHECK(o.weight == 1.0f);
}

}  // namespace

TEST_CASE("ssdh spec: the shipped SSDH nets are the DLBHC nets plus SSDH's two losses") {
    check_ssdh_extends("weights/small_dlbhc_train_val.prototxt", "weights/small_ssdh_train_val.prototxt", 28);
    check_ssdh_extends("weights/caffenet_dlbhc_train_val.prototxt", "weights/caffenet_ssdh_train_val.prototxt", 227);
}

TEST_CASE("ssdh spec: the full-size SSDH net from its fillers trains: finite total loss, falling") {
    // CaffeNet at 227 x 227, batch 2, one fixed random batch: a few SGD steps must lower the
    // weighted sum of the three losses (the same batch each time, so that the fall is the
    // optimiser's and not the data's). The solver is the authors' but for the rate (0.01 rather
    // than 0.001, so that 4 steps from random weights move the loss measurably).
    NetBuildOptions opt;
    opt.batch = 2;
    auto net = build_net(load_net_spec(test::repo_path("weights/caffenet_ssdh_train_val.prototxt")), Phase::Train, opt);
    Rng rng(5);
    net->init_params(rng);
    Tensor& x = net->blob("data")->data;
    for (size_t i = 0; i < x.count(); ++i) x[i] = rng.uniform(-100, 100);
    net->blob("label")->data[0] = 3, net->blob("label")->data[1] = 7;
    SolverParam sp;
    sp.base_lr = 0.01, sp.momentum = 0.9, sp.weight_decay = 5e-4, sp.max_iter = 100;
    SGDSolver sgd(*net, sp);
    std::vector<double> losses;
    for (int it = 0; it < 4; ++it) losses.push_back(sgd.step());
    INFO("total losses: " << losses[0] << " " << losses[1] << " " << losses[2] << " " << losses[3]);
    for (double l : losses) CHECK(std::isfinite(l));
    CHECK(losses[3] < losses[0]);
    CHECK(losses[2] < losses[0]);
    const std::vector<Net::LossOutput> outs = net->loss_outputs();
    REQUIRE(outs.size() == 3);
    double sum = 0;
    for (const auto& o : outs) sum += o.weight * o.value;
    CHECK(std::fabs(sum - losses[3]) < 1e-6);
}
