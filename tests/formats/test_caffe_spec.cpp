// tests/formats/test_caffe_spec.cpp -- Caffe nets from prototxt (nn/caffe_spec, nn/net_builder): the
// malformed fixtures and settings each give their error with file:line:col; the V1 and V2
// fixtures describe the same net; the shipped weights/*.prototxt parse and build, and the
// CaffeNet-DLBHC and small nets equal the ones nn/models.cpp builds in code (blobs, parameters,
// multipliers, fillers and the forward output with the same weights); the run-time overrides.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <string>

#include "formats/caffe_spec.h"
#include "nn/models.h"
#include "formats/net_builder.h"
#include "nn/conv.h"
#include "nn/dropout.h"
#include "nn/lrn.h"
#include "nn/pooling.h"
#include "nn/softmax_loss.h"
#include "tests/support/tensors.h"
#include "tests/support/test_files.h"

using namespace dlbhc;
using dlbhc::test::error_of;

namespace {

std::string fixture(const std::string& name) { return test::repo_path("tests/fixtures/prototxt/" + name); }

#define CHECK_ERROR(expr, expected)                                                   \
    do {                                                                              \
        const std::string msg_ = error_of([&] { (void)(expr); });                     \
        const std::string exp_ = (expected);                                          \
        INFO("error: " << msg_);                                                      \
        INFO("expected to contain: " << exp_);                                        \
        CHECK(msg_.find(exp_) != std::string::npos);                                  \
    } while (0)

// "name:line:col" of the first occurrence of `needle` in `text`.
std::string at(const std::string& name, const std::string& text, const std::string& needle) {
    const size_t pos = text.find(needle);
    REQUIRE(pos != std::string::npos);
    int line = 1, col = 1;
    for (size_t i = 0; i < pos; ++i) {
        if (text[i] == '\n') {
            ++line;
            col = 1;
        } else {
            ++col;
        }
    }
    return name + ":" + std::to_string(line) + ":" + std::to_string(col);
}

// A net with a (2, 4, 8, 8) input "data" followed by `layers`.
std::string net_with(const std::string& layers) {
    return "name: \"t\"\ninput: \"data\"\ninput_shape { dim: 2 dim: 4 dim: 8 dim: 8 }\n" + layers;
}

const char* kConv = "layer { name: \"c\" type: \"Convolution\" bottom: \"data\" top: \"c\" ";

// Blob names and shapes, layer names/types/wiring, and every parameter's shape, multipliers and
// filler must agree. Layers of `b` named in `skip_b` (and their tops) are left out.
void check_same_net(Net& a, Net& b, const std::vector<std::string>& skip_b = {}) {
    auto skipped = [&](const std::string& n) { return std::find(skip_b.begin(), skip_b.end(), n) != skip_b.end(); };
    std::vector<size_t> lb;
    for (size_t i = 0; i < b.layers().size(); ++i)
        if (!skipped(b.layers()[i]->name())) lb.push_back(i);
    REQUIRE(a.layers().size() == lb.size());
    for (size_t i = 0; i < a.layers().size(); ++i) {
        const size_t j = lb[i];
        CAPTURE(a.layers()[i]->name());
        CHECK(a.layers()[i]->name() == b.layers()[j]->name());
        CHECK(std::string(a.layers()[i]->type()) == b.layers()[j]->type());
        REQUIRE(a.bottoms(i).size() == b.bottoms(j).size());
        for (size_t k = 0; k < a.bottoms(i).size(); ++k) CHECK(a.bottoms(i)[k]->name == b.bottoms(j)[k]->name);
        REQUIRE(a.tops(i).size() == b.tops(j).size());
        for (size_t k = 0; k < a.tops(i).size(); ++k) CHECK(a.tops(i)[k]->name == b.tops(j)[k]->name);
    }
    std::map<std::string, Shape> sa, sb;
    for (const auto& n : a.blob_names()) sa[n] = a.blob(n)->shape();
    for (const auto& n : b.blob_names())
        if (!skipped(n)) sb[n] = b.blob(n)->shape();
    CHECK(sa.size() == sb.size());
    for (const auto& kv : sa) {
        CAPTURE(kv.first);
        REQUIRE(sb.count(kv.first));
        CHECK(kv.second == sb[kv.first]);
    }
    std::vector<Param*> pa = a.params(), pb = b.params();
    REQUIRE(pa.size() == pb.size());
    for (size_t i = 0; i < pa.size(); ++i) {
        CAPTURE(pa[i]->name);
        CHECK(pa[i]->name == pb[i]->name);
        CHECK(pa[i]->value.shape() == pb[i]->value.shape());
        CHECK(pa[i]->lr_mult == pb[i]->lr_mult);
        CHECK(pa[i]->decay_mult == pb[i]->decay_mult);
        const FillerParam &fa = pa[i]->filler, &fb = pb[i]->filler;
        CHECK(fa.type == fb.type);
        CHECK(fa.value == fb.value);
        CHECK(fa.mean == fb.mean);
        CHECK(fa.std == fb.std);
        CHECK(fa.min == fb.min);
        CHECK(fa.max == fb.max);
        CHECK(fa.variance_norm == fb.variance_norm);
    }
}

// Copies every parameter of `from` into the same-named parameter of `to`.
void copy_params(Net& from, Net& to) {
    for (Param* p : from.params()) to.param(p->name)->value = p->value;
}

// Same random data and labels in both nets' inputs.
void fill_inputs(Net& a, Net& b, int classes, uint64_t seed) {
    Rng rng(seed);
    Blob* da = a.blob("data");
    fill_uniform(da->data, rng, -50.0f, 50.0f);
    b.blob("data")->data = da->data;
    if (a.has_blob("label")) {
        Blob* la = a.blob("label");
        for (size_t i = 0; i < la->count(); ++i) la->data[i] = (float)rng.below((uint32_t)classes);
        b.blob("label")->data = la->data;
    }
}

}  // namespace

TEST_CASE("caffe_spec: malformed fixture files name the file, line, column and token") {
    struct Case {
        const char* file;
        const char* expected;
    };
    const Case cases[] = {
        {"bad_field_typo.prototxt", "bad_field_typo.prototxt:12:5: unknown field 'kernel_sizee' in convolution_param of layer 'conv1'"},
        {"bad_layer_type.prototxt", "bad_layer_type.prototxt:7:3: field 'type' holds unknown or unsupported layer type 'Convolutoin'"},
        {"bad_missing_brace.prototxt", "bad_missing_brace.prototxt:10:1: expected '}' (to close the message opened at 5:7) but found end of file"},
        {"bad_unterminated_string.prototxt", "bad_unterminated_string.prototxt:6:9: unterminated string"},
        {"bad_number.prototxt", "bad_number.prototxt:11:17: bad number '2O'"},
        {"bad_v1_type.prototxt", "bad_v1_type.prototxt:10:3: field 'type' is the V1 layer type TANH, which dlbhc does not implement"},
        {"bad_depth_bomb.prototxt", "bad_depth_bomb.prototxt:2:407: messages nested deeper than 100 levels"},
    };
    for (const Case& c : cases) CHECK_ERROR(load_net_spec(fixture(c.file)), c.expected);
    CHECK_ERROR(load_net_spec(fixture("no_such_file.prototxt")), "no_such_file.prototxt: cannot open");
}

TEST_CASE("caffe_spec: settings out of range or not implemented are errors at their token") {
    struct Case {
        std::string layers, needle, message;
    };
    const std::string conv = kConv;
    const Case cases[] = {
        {conv + "convolution_param { num_output: 0 kernel_size: 3 } }", "num_output: 0", "field 'num_output' must be in [1, 16777216], got 0"},
        {conv + "convolution_param { num_output: 4 kernel_size: 0 } }", "kernel_size: 0", "field 'kernel_size' must be in [1, 16777216], got 0"},
        {conv + "convolution_param { num_output: 4 } }", "{ num_output: 4 }", "convolution_param of layer 'c' needs kernel_size (or kernel_h and kernel_w)"},
        {conv + "convolution_param { num_output: 4 kernel_size: 3 group: 3 } }", "group: 3", "field 'group' is 3, which does not divide num_output 4"},
        {conv + "convolution_param { num_output: 4 kernel_h: 3 } }", "kernel_h", "field 'kernel_h' needs its partner"},
        {conv + "convolution_param { num_output: 4 kernel_size: 3 kernel_w: 3 } }", "kernel_w", "field 'kernel_w' cannot be combined with kernel_size"},
        {conv + "convolution_param { num_output: 4 kernel_size: 3 kernel_size: 3 kernel_size: 5 } }", "kernel_size: 5",
         "field 'kernel_size' is given 3 times; a 2-D layer takes 1 (both axes) or 2 (h, w)"},
        {conv + "convolution_param { num_output: 4 kernel_size: 3 dilation: 2 } }", "dilation", "field 'dilation' must be 1 (dilated convolution is not implemented)"},
        {conv + "convolution_param { num_output: 4 kernel_size: 3 } pooling_param { pool: MAX } }", "pooling_param",
         "field 'pooling_param' does not apply to layer 'c' of type Convolution (it takes convolution_param)"},
        {conv + "bottum: \"x\" convolution_param { num_output: 4 kernel_size: 3 } }", "bottum", "unknown field 'bottum' in layer 'c'"},
        {conv + "convolution_param { num_output: 4 kernel_size: 3 weight_filler { type: \"msra\" } } }", "type: \"msra\"",
         "field 'type' holds filler type 'msra', which dlbhc does not implement"},
        {conv + "convolution_param { num_output: 4 kernel_size: 3 weight_filler { type: \"gaussian\" sdt: 0.1 } } }", "sdt",
         "unknown field 'sdt' in weight_filler of convolution_param of layer 'c'"},
        {conv + "convolution_param { num_output: 4 kernel_size: 3 bias_filler { type: \"uniform\" min: 1 max: 0 } } }", "{ type: \"uniform\"",
         "bias_filler of convolution_param of layer 'c': uniform filler needs min <= max"},
        {conv + "param { lr_mult: 1 } param { lr_mult: 2 } param { lr_mult: 3 } convolution_param { num_output: 4 kernel_size: 3 } }",
         "layer {", "layer 'c' (Convolution) has 2 learnable blobs but 3 param blocks were given"},
        {conv + "convolution_param { num_output: 4 kernel_size: 3 bias_term: false } param {} param {} }", "layer {",
         "layer 'c' (Convolution) has 1 learnable blobs but 2 param blocks"},
        {conv + "name: \"d\" convolution_param { num_output: 4 kernel_size: 3 } }", "name: \"d\"", "field 'name' is given again"},
        {"layer { name: \"p\" type: \"Pooling\" bottom: \"data\" top: \"p\" pooling_param { pool: STOCHASTIC kernel_size: 2 } }", "pool: STOCHASTIC",
         "field 'pool' is STOCHASTIC, which dlbhc does not implement"},
        {"layer { name: \"p\" type: \"Pooling\" bottom: \"data\" top: \"p\" pooling_param { pool: MIN kernel_size: 2 } }", "pool: MIN",
         "field 'pool' holds 'MIN' but expects one of MAX, AVE, STOCHASTIC"},
        {"layer { name: \"p\" type: \"Pooling\" bottom: \"data\" top: \"p\" pooling_param { kernel_size: 2 pad: 2 } }", "{ kernel_size: 2 pad: 2 }",
         "pooling_param of layer 'p': pad (2, 2) must be smaller than the kernel (2, 2)"},
        {"layer { name: \"p\" type: \"Pooling\" bottom: \"data\" top: \"p\" pooling_param { global_pooling: true stride: 2 } }", "{ global_pooling",
         "pooling_param of layer 'p': global_pooling needs stride 1 and pad 0"},
        {"layer { name: \"p\" type: \"Pooling\" bottom: \"data\" top: \"p\" pooling_param { global_pooling: true kernel_size: 2 } }", "kernel_size",
         "field 'kernel_size' cannot be set with global_pooling"},
        {"layer { name: \"p\" type: \"Pooling\" bottom: \"data\" top: \"p\" pooling_param { kernel_size: 2 round_mode: FLOOR } }", "round_mode",
         "field 'round_mode' is FLOOR; dlbhc implements Caffe's default CEIL rounding only"},
        {"layer { name: \"n\" type: \"LRN\" bottom: \"data\" top: \"n\" lrn_param { local_size: 4 } }", "local_size", "field 'local_size' must be odd, got 4"},
        {"layer { name: \"n\" type: \"LRN\" bottom: \"data\" top: \"n\" lrn_param { norm_region: WITHIN_CHANNEL } }", "norm_region",
         "field 'norm_region' is WITHIN_CHANNEL, which dlbhc does not implement"},
        {"layer { name: \"d\" type: \"Dropout\" bottom: \"data\" top: \"data\" dropout_param { dropout_ratio: 1 } }", "dropout_ratio",
         "field 'dropout_ratio' must be in [0, 1), got 1"},
        {"layer { name: \"s\" type: \"Softmax\" bottom: \"data\" top: \"s\" softmax_param { axis: 2 } }", "axis", "field 'axis' must be 1"},
        {"layer { name: \"r\" type: \"ReLU\" bottom: \"data\" top: \"data\" param { lr_mult: 1 } }", "layer {",
         "layer 'r' (ReLU) has 0 learnable blobs but 1 param blocks were given"},
        {"layer { name: \"r\" type: \"ReLU\" bottom: \"data\" top: \"data\" include { phase: TRAIN } exclude { phase: TEST } }", "exclude",
         "field 'exclude' cannot be combined with include rules"},
        {"layer { name: \"r\" type: \"ReLU\" bottom: \"data\" top: \"data\" include { stage: \"deploy\" } }", "stage",
         "field 'stage' (a NetStateRule level/stage) is not supported"},
        {"layer { name: \"r\" type: \"ReLU\" bottom: \"data\" top: \"data\" include { phase: VALIDATE } }", "phase: VALIDATE",
         "field 'phase' holds 'VALIDATE' but expects one of TRAIN, TEST"},
        {"layer { name: \"a\" type: \"Accuracy\" bottom: \"data\" top: \"a\" }", "layer {", "layer 'a' (Accuracy) takes 2 bottom and 1 top blobs, got 1 and 1"},
        {"layer { name: \"l\" type: \"SoftmaxWithLoss\" bottom: \"data\" bottom: \"label\" loss_param { normalization: FULL } }", "normalization",
         "field 'normalization' is FULL; dlbhc implements VALID (Caffe's default) only"},
        {"layer { type: \"ReLU\" bottom: \"data\" top: \"data\" }", "layer {", "layer block has no name"},
        {"layer { name: \"r\" bottom: \"data\" top: \"data\" }", "layer {", "layer 'r' has no type"},
        {"layer { name: \"r\" type: \"ReLU\" bottom: \"data\" top: \"data\" }\nlayers { name: \"s\" type: RELU bottom: \"data\" top: \"data\" }",
         "layers", "field 'layers' mixes V1 'layers' and V2 'layer' blocks"},
        {"layers { name: \"r\" type: FOO bottom: \"data\" top: \"data\" }", "type: FOO", "field 'type' holds unknown V1 layer type 'FOO'"},
        {"layers { layer { name: \"r\" type: \"relu\" } bottom: \"data\" top: \"data\" }", "layer {",
         "field 'layer' (a V0 layer inside V1 'layers') is the pre-2014 V0 format, which dlbhc does not read"},
        {"layers { name: \"r\" type: RELU bottom: \"data\" top: \"data\" blobs_lr: 1 }", "layers {",
         "layer 'r' (ReLU) has 0 learnable blobs but 1 blobs_lr / weight_decay / param entries were given"},
        {"layer { name: \"d\" type: \"Data\" top: \"data2\" data_param { source: \"x\" } }", "{ source: \"x\" }",
         "data_param of layer 'd' needs batch_size"},
        {"layer { name: \"d\" type: \"Data\" top: \"data2\" data_param { source: \"x\" batch_size: 2 crop_size: 3 } }", "crop_size",
         "field 'crop_size' is the pre-2014 location of this setting; move it to transform_param"},
        {"layer { name: \"d\" type: \"Data\" top: \"data2\" data_param { source: \"x\" batch_size: 2 backend: HDF5 } }", "backend",
         "field 'backend' holds 'HDF5' but expects one of LEVELDB, LMDB"},
        {"layer { name: \"d\" type: \"Data\" top: \"data2\" data_param { source: \"x\" batch_size: 2 } transform_param { mean_file: \"m\" mean_value: 1 } }",
         "mean_file", "field 'mean_file' cannot be combined with mean_value"},
        {"layer { name: \"i\" type: \"Input\" top: \"a\" top: \"b\" input_param { shape { dim: 1 } shape { dim: 2 } shape { dim: 3 } } }",
         "{ shape { dim: 1 }", "input_param of layer 'i': needs one shape for all tops or one per top (2), got 3"},
        {"layer { name: \"i\" type: \"Input\" top: \"a\" input_param { shape { dim: 1 dim: 1 dim: 1 dim: 1 dim: 1 } } }", "{ dim: 1 dim: 1 dim: 1 dim: 1 dim: 1 }",
         "input_param of layer 'i': a shape needs 1 to 4 dims (N, C, H, W), got 5"},
        {"layer { name: \"i\" type: \"Input\" top: \"a\" input_param { shape { dim: 0 } } }", "dim: 0", "field 'dim' must be in [1, 16777216], got 0"},
        {"layerz { }", "layerz", "unknown field 'layerz' in the net (NetParameter)"},
        {"state { phase: TEST }", "state", "field 'state' (NetState) is not supported"},
    };
    for (const Case& c : cases) {
        const std::string text = net_with(c.layers);
        CAPTURE(c.layers);
        const std::string expected = at("t", text, c.needle) + ": " + c.message;
        CHECK_ERROR(parse_net_spec(text, "t"), expected);
    }
    // Net-level inputs.
    CHECK_ERROR(parse_net_spec("input: \"data\"\nlayer { name: \"r\" type: \"ReLU\" bottom: \"data\" top: \"data\" }", "t"),
                "t:1:1: field 'input' has no shape");
    CHECK_ERROR(parse_net_spec("input: \"data\"\ninput_dim: 1\ninput_dim: 3\ninput_dim: 8\n"
                               "layer { name: \"r\" type: \"ReLU\" bottom: \"data\" top: \"data\" }",
                               "t"),
                "t:4:1: field 'input_dim' is given 3 times for 1 inputs (four per input: N, C, H, W)");
    CHECK_ERROR(parse_net_spec("name: \"empty\"", "t"), "t:1:1: the net has no layers");
}

TEST_CASE("caffe_spec: phase rules, data layers and what the spec exposes") {
    NetSpec s = load_net_spec(fixture("small_dlbhc_v2.prototxt"));
    CHECK(s.name == "Small-DLBHC");
    CHECK_FALSE(s.v1);
    CHECK(s.layers.size() == 13);
    CHECK(s.layers_in(Phase::Train).size() == 11);  // TEST data and accuracy left out
    CHECK(s.layers_in(Phase::Test).size() == 12);
    const LayerSpec* train = s.data_layer(Phase::Train);
    const LayerSpec* test = s.data_layer(Phase::Test);
    REQUIRE(train != nullptr);
    REQUIRE(test != nullptr);
    CHECK(train->type == "ImageData");
    CHECK(train->data.source == "train.txt");
    CHECK(train->data.root_folder == "images/");
    CHECK(train->data.batch_size == 64);
    CHECK(train->data.shuffle);
    CHECK_FALSE(train->data.is_color);
    CHECK(train->data.new_height == 28);
    CHECK(train->transform.scale == 0.00390625f);
    CHECK(test->data.source == "test.txt");
    CHECK(test->data.batch_size == 100);
    CHECK_FALSE(test->data.shuffle);
    CHECK(train->loc.line == 7);

    // Caffe's rule semantics: include any matching rule; exclude any matching rule.
    NetSpec r = parse_net_spec(net_with("layer { name: \"a\" type: \"ReLU\" bottom: \"data\" top: \"data\" include { phase: TRAIN } include { phase: TEST } }\n"
                                        "layer { name: \"b\" type: \"ReLU\" bottom: \"data\" top: \"data\" exclude { phase: TEST } }\n"
                                        "layer { name: \"c\" type: \"ReLU\" bottom: \"data\" top: \"data\" include { } }\n"
                                        "layer { name: \"d\" type: \"ReLU\" bottom: \"data\" top: \"data\" exclude { } }\n"),
                               "t");
    CHECK(r.layers[0].in_phase(Phase::Train));
    CHECK(r.layers[0].in_phase(Phase::Test));
    CHECK(r.layers[1].in_phase(Phase::Train));
    CHECK_FALSE(r.layers[1].in_phase(Phase::Test));
    CHECK(r.layers[2].in_phase(Phase::Test));  // a rule without a phase matches every phase
    CHECK_FALSE(r.layers[3].in_phase(Phase::Train));
    CHECK(r.inputs.size() == 1);
    CHECK(r.inputs[0].dims == std::vector<int64_t>{2, 4, 8, 8});

    // Two data layers in one phase are an error naming both.
    NetSpec two = parse_net_spec(
        "layer { name: \"d1\" type: \"Data\" top: \"data\" data_param { source: \"a\" batch_size: 1 } }\n"
        "layer { name: \"d2\" type: \"Data\" top: \"data\" data_param { source: \"b\" batch_size: 1 } }\n",
        "t");
    CHECK_ERROR(two.data_layer(Phase::Train), "t:2:1: layer 'd2' is a second data layer in phase TRAIN (the first is 'd1' at t:1:1)");
}

TEST_CASE("caffe_spec: the V1 and V2 fixtures describe the same net") {
    NetSpec v1 = load_net_spec(fixture("small_dlbhc_v1.prototxt"));
    NetSpec v2 = load_net_spec(fixture("small_dlbhc_v2.prototxt"));
    CHECK(v1.v1);
    CHECK_FALSE(v2.v1);
    REQUIRE(v1.layers.size() == v2.layers.size());
    for (size_t i = 0; i < v1.layers.size(); ++i) CHECK(describe_layer(v1.layers[i]) == describe_layer(v2.layers[i]));
    // The description is specific: it holds the settings that matter.
    CHECK(describe_layer(v2.layers[2]) ==
          "conv1 Convolution bottom[data] top[conv1] param[(lr 1, decay 1) (lr 2, decay 0)] {num_output 20, kernel 5x5, "
          "stride 1x1, pad 0x0, group 1, bias yes, weight_filler xavier(FAN_IN), bias_filler constant(0)}");
    CHECK(describe_layer(v2.layers[0]) ==
          "data ImageData bottom[] top[data label] include[TRAIN] {source \"train.txt\", batch_size 64, rand_skip 0, new 28x28, "
          "shuffle yes, is_color no, root_folder \"images/\"} transform{crop_size 0, mirror no, scale 0.00390625, mean_file \"\", "
          "mean_value []}");
    for (Phase phase : {Phase::Train, Phase::Test}) {
        CAPTURE(phase_name(phase));
        auto a = build_net(v1, phase);
        auto b = build_net(v2, phase);
        check_same_net(*a, *b);
    }
}

// One small net: `dlbhc summary --net small` and `convert --net small` (build_small_dlbhc) describe
// the demo's net, the one `make demo` trains.
TEST_CASE("net_builder: weights/small_dlbhc_train_val.prototxt equals build_small_dlbhc, forward included") {
    NetSpec spec = load_net_spec(test::repo_path("weights/small_dlbhc_train_val.prototxt"));
    CHECK(spec.name == "SmallDLBHC");
    NetBuildOptions opt;
    opt.batch = 4;
    opt.channels = 1, opt.height = opt.width = 28;  // the Data layer leaves the size to its source
    auto built = build_net(spec, Phase::Test, opt);
    DlbhcNetConfig cfg;
    cfg.batch = 4;
    auto code = build_small_dlbhc(cfg, 1, 28);
    CHECK(code->name() == spec.name);
    code->set_phase(Phase::Test);
    CHECK(built->phase() == Phase::Test);
    CHECK(built->blob("data")->shape() == Shape(4, 1, 28, 28));
    CHECK(built->blob("label")->shape() == Shape(4, 1, 1, 1));
    // Layer by layer: names, types, bottoms and tops, every blob's shape, every parameter's shape,
    // multipliers and filler.
    check_same_net(*built, *code);

    Rng rng(11);
    code->init_params(rng);
    copy_params(*code, *built);
    fill_inputs(*code, *built, 10, 5);
    const double loss_code = code->forward();
    const double loss_built = built->forward();
    CHECK(loss_built == doctest::Approx(loss_code).epsilon(1e-6));
    CHECK(max_abs_diff(built->blob("fc8_kevin_encode")->data, code->blob("fc8_kevin_encode")->data) < 1e-6);
    CHECK(max_abs_diff(built->blob("fc7")->data, code->blob("fc7")->data) < 1e-4);
    // The nets are not trivially equal: a changed weight changes the output.
    built->param("fc8_kevin.bias")->value[0] += 1.0f;
    built->forward();
    CHECK(max_abs_diff(built->blob("fc8_kevin_encode")->data, code->blob("fc8_kevin_encode")->data) > 1e-3);
    // The TRAIN phase differs only in the accuracy layer, which the prototxt runs in TEST alone.
    auto train = build_net(spec, Phase::Train, opt);
    code->set_phase(Phase::Train);
    check_same_net(*train, *code, {"accuracy"});
}

TEST_CASE("net_builder: weights/caffenet_dlbhc_train_val.prototxt equals build_caffenet_dlbhc") {
    NetSpec spec = load_net_spec(test::repo_path("weights/caffenet_dlbhc_train_val.prototxt"));
    CHECK(spec.v1);
    CHECK(spec.name == "KevinNet_CIFAR10");
    const LayerSpec* train_data = spec.data_layer(Phase::Train);
    REQUIRE(train_data != nullptr);
    CHECK(train_data->data.batch_size == 32);
    CHECK(train_data->data.backend == "LMDB");
    CHECK(train_data->transform.crop_size == 227);
    CHECK(train_data->transform.mirror);
    CHECK(train_data->transform.mean_file == "data/ilsvrc12/imagenet_mean.binaryproto");
    CHECK_FALSE(spec.data_layer(Phase::Test)->transform.mirror);
    CHECK(find_latent_layer(spec, Phase::Train) == "fc8_kevin");
    CHECK(find_classifier_layer(spec, Phase::Test) == "fc8_pascal");

    // One code-built net (batch 1) against the TEST and then the TRAIN net built from the file.
    // Its 61M weights are drawn from Xavier-uniform (fill(), seeded) rather than init_params: the
    // Gaussian fillers of fc6/fc7 would spend seconds on Box-Muller for no extra coverage. One
    // forward pass each (TEST phase) keeps the sanitizer build's run time reasonable.
    DlbhcNetConfig cfg;
    cfg.batch = 1;
    auto code = build_caffenet_dlbhc(cfg);
    Rng rng(3);
    for (Param* p : code->params())
        fill(p->value.shape().c == 1 && p->value.shape().h == 1 ? FillerParam::uniform(-0.1f, 0.1f) : FillerParam::xavier(),
             p->value, rng);
    NetBuildOptions opt;
    opt.batch = 1;
    {
        // TEST phase: every blob, layer and parameter agrees, and so does the forward pass.
        auto built = build_net(spec, Phase::Test, opt);
        code->set_phase(Phase::Test);
        check_same_net(*built, *code);
        copy_params(*code, *built);
        fill_inputs(*code, *built, 10, 9);
        const double lc = code->forward(), lb = built->forward();
        CHECK(lb == doctest::Approx(lc).epsilon(1e-6));
        CHECK(max_abs_diff(built->blob("fc7")->data, code->blob("fc7")->data) < 1e-4);
        CHECK(max_abs_diff(built->blob("fc8_kevin_encode")->data, code->blob("fc8_kevin_encode")->data) < 1e-6);
        CHECK(built->blob("accuracy")->data[0] == code->blob("accuracy")->data[0]);
        // Not trivially equal: the code varies (neither all 0 nor all 1).
        const Blob* enc = built->blob("fc8_kevin_encode");
        int ones = 0;
        for (size_t i = 0; i < enc->count(); ++i) ones += enc->data[i] > 0.5f;
        CHECK(ones > 0);
        CHECK(ones < (int)enc->count());
    }
    {
        // TRAIN phase: the same net without the TEST-only accuracy layer, and dropout seeded as the
        // code-built net seeds it (drop6 1, drop7 2), so training draws the same masks.
        auto built = build_net(spec, Phase::Train, opt);
        check_same_net(*built, *code, {"accuracy"});
        CHECK_FALSE(built->has_blob("accuracy"));
        CHECK(built->layer("drop6")->phase() == Phase::Train);
        for (const char* d : {"drop6", "drop7"}) {
            CAPTURE(d);
            const Rng& rb = static_cast<DropoutLayer*>(built->layer(d))->rng();
            const Rng& rc = static_cast<DropoutLayer*>(code->layer(d))->rng();
            CHECK(std::equal(rb.s, rb.s + 4, rc.s));
        }
    }
}

TEST_CASE("net_builder: the shipped deploy nets build") {
    // The authors' deploy net: input_dim 10 x 3 x 227 x 227, ends at the sigmoid.
    NetSpec deploy = load_net_spec(test::repo_path("weights/caffenet_dlbhc_deploy.prototxt"));
    CHECK(deploy.inputs.size() == 1);
    CHECK(deploy.inputs[0].dims == std::vector<int64_t>{10, 3, 227, 227});
    NetBuildOptions opt;
    opt.batch = 1;
    opt.latent_bits = 12;
    auto net = build_net(deploy, Phase::Test, opt);
    CHECK(net->blob("data")->shape() == Shape(1, 3, 227, 227));
    CHECK(net->blob("fc7")->shape() == Shape(1, 4096, 1, 1));
    CHECK(net->blob("fc8_kevin_encode")->shape() == Shape(1, 12, 1, 1));
    CHECK(net->param("fc8_kevin.weight")->value.shape() == Shape(12, 4096, 1, 1));
    CHECK(find_classifier_layer(deploy, Phase::Test).empty());
    CHECK_ERROR(build_net(deploy, Phase::Test, [] { NetBuildOptions o; o.num_classes = 10; return o; }()),
                "cannot set classifier outputs to 10 in phase TEST: no layer matches num_classes");
    // Every blob's shape, as CaffeNet computes them (pool before norm).
    const std::vector<std::pair<const char*, Shape>> caffenet = {
        {"conv1", Shape(1, 96, 55, 55)},  {"pool1", Shape(1, 96, 27, 27)},  {"norm1", Shape(1, 96, 27, 27)},
        {"conv2", Shape(1, 256, 27, 27)}, {"pool2", Shape(1, 256, 13, 13)}, {"norm2", Shape(1, 256, 13, 13)},
        {"conv3", Shape(1, 384, 13, 13)}, {"conv4", Shape(1, 384, 13, 13)}, {"conv5", Shape(1, 256, 13, 13)},
        {"pool5", Shape(1, 256, 6, 6)},   {"fc6", Shape(1, 4096, 1, 1)},    {"fc8_kevin", Shape(1, 12, 1, 1)}};
    for (const auto& kv : caffenet) {
        CAPTURE(kv.first);
        CHECK(net->blob(kv.first)->shape() == kv.second);
    }
    CHECK(net->blob_names().size() == caffenet.size() + 3);  // + data, fc7, fc8_kevin_encode
    CHECK(net->layer("pool1")->params().empty());
    CHECK(net->bottoms(3)[0]->name == "pool1");  // norm1 reads pool1
    net.reset();

    // BVLC AlexNet: an Input layer, LRN before pooling, fc8 1000 and a Softmax.
    NetSpec alex = load_net_spec(test::repo_path("weights/bvlc_alexnet_deploy.prototxt"));
    CHECK_FALSE(alex.v1);
    NetBuildOptions one;
    one.batch = 1;
    auto a = build_net(alex, Phase::Test, one);
    CHECK(a->name() == "AlexNet");
    CHECK(a->blob("prob")->shape() == Shape(1, 1000, 1, 1));
    CHECK(a->layers()[2]->name() == "norm1");
    CHECK(a->layers()[3]->name() == "pool1");
    CHECK(a->bottoms(3)[0]->name == "norm1");
    CHECK(a->blob("norm1")->shape() == Shape(1, 96, 55, 55));
    CHECK(a->blob("pool1")->shape() == Shape(1, 96, 27, 27));
    CHECK(a->blob("norm2")->shape() == Shape(1, 256, 27, 27));
    CHECK(a->blob("pool5")->shape() == Shape(1, 256, 6, 6));
    CHECK(a->param("conv2.weight")->value.shape() == Shape(256, 48, 5, 5));
    CHECK(a->param("conv4.weight")->value.shape() == Shape(384, 192, 3, 3));
    CHECK(a->param("fc6.weight")->value.shape() == Shape(4096, 9216, 1, 1));
    CHECK(a->param("conv2.bias")->lr_mult == 2.0f);
    CHECK(a->param("conv2.bias")->decay_mult == 0.0f);
    CHECK(a->params().size() == 16);
    CHECK(find_classifier_layer(alex, Phase::Test) == "fc8");
}

TEST_CASE("net_builder: latent bits, classes, batch and input-size overrides") {
    NetSpec spec = load_net_spec(fixture("small_dlbhc_v1.prototxt"));
    NetBuildOptions opt;
    opt.batch = 3;
    opt.latent_bits = 128;
    opt.num_classes = 100;
    auto net = build_net(spec, Phase::Train, opt);
    CHECK(net->blob("data")->shape() == Shape(3, 1, 28, 28));
    CHECK(net->blob("label")->shape() == Shape(3, 1, 1, 1));
    CHECK(net->blob("fc8_kevin_encode")->shape() == Shape(3, 128, 1, 1));
    CHECK(net->param("fc8_kevin.weight")->value.shape() == Shape(128, 500, 1, 1));
    CHECK(net->param("fc8_pascal.weight")->value.shape() == Shape(100, 128, 1, 1));
    CHECK(net->blob("fc8_pascal")->shape() == Shape(3, 100, 1, 1));
    // Without overrides the file's values hold (TRAIN batch 64).
    auto plain = build_net(spec, Phase::Train);
    CHECK(plain->blob("data")->shape() == Shape(64, 1, 28, 28));
    CHECK(plain->blob("fc8_kevin")->shape() == Shape(64, 48, 1, 1));
    // A 3-channel 32x32 input changes the first convolution and the flattened ip1 input.
    NetBuildOptions rgb;
    rgb.batch = 2;
    rgb.channels = 3;
    rgb.height = rgb.width = 32;
    auto net32 = build_net(spec, Phase::Test, rgb);
    CHECK(net32->blob("data")->shape() == Shape(2, 3, 32, 32));
    CHECK(net32->param("conv1.weight")->value.shape() == Shape(20, 3, 5, 5));
    CHECK(net32->param("ip1.weight")->value.shape() == Shape(500, 1250, 1, 1));
    CHECK(plain->param("ip1.weight")->value.shape() == Shape(500, 800, 1, 1));
    // Dropout layers get seed + k.
    NetSpec d = parse_net_spec(net_with("layer { name: \"d1\" type: \"Dropout\" bottom: \"data\" top: \"data\" }\n"
                                        "layer { name: \"d2\" type: \"Dropout\" bottom: \"data\" top: \"data\" }\n"),
                               "t");
    NetBuildOptions seeded;
    seeded.dropout_seed = 40;
    auto dn = build_net(d, Phase::Train, seeded);
    Rng r40(40), r41(41);
    CHECK(static_cast<DropoutLayer*>(dn->layer("d1"))->rng().s[0] == r40.s[0]);
    CHECK(static_cast<DropoutLayer*>(dn->layer("d2"))->rng().s[0] == r41.s[0]);
    CHECK_ERROR(build_net(d, Phase::Train, [] { NetBuildOptions o; o.latent_bits = 8; return o; }()),
                "no layer matches latent_bits");
    CHECK_ERROR(build_net(spec, Phase::Train, [] { NetBuildOptions o; o.batch = -1; return o; }()), "overrides must be >= 0");
}

TEST_CASE("net_builder: errors found while building name the layer and its position") {
    auto build_text = [](const std::string& text, NetBuildOptions opt = {}) {
        return build_net(parse_net_spec(text, "t"), Phase::Train, opt);
    };
    // Channels not divisible by group (only known once the input shape is).
    std::string text = net_with(std::string(kConv) + "convolution_param { num_output: 6 kernel_size: 3 group: 3 } }");
    CHECK_ERROR(build_text(text), at("t", text, "layer {") + ": Convolution layer 'c': input channels 4 are not divisible by group 3");
    text = net_with("layer { name: \"r\" type: \"ReLU\" bottom: \"nope\" top: \"r\" }");
    CHECK_ERROR(build_text(text), at("t", text, "layer {") + ": net 't', layer 'r': bottom blob 'nope' is not produced");
    text = net_with("layer { name: \"r\" type: \"ReLU\" bottom: \"data\" top: \"data\" }\n"
                    "layer { name: \"r\" type: \"Sigmoid\" bottom: \"data\" top: \"data\" }");
    CHECK_ERROR(build_text(text), "t:5:1: layer 'r': a layer with this name is already active in phase TRAIN (at t:4:1)");
    text = net_with(std::string(kConv) + "param { name: \"shared\" } convolution_param { num_output: 4 kernel_size: 3 } }\n"
                    "layer { name: \"c2\" type: \"Convolution\" bottom: \"c\" top: \"c2\" param { name: \"shared\" } "
                    "convolution_param { num_output: 4 kernel_size: 3 } }");
    CHECK_ERROR(build_text(text), "t:5:1: layer 'c2': shares parameter 'shared' with layer 'c'; parameter sharing is not supported");
    // Sizes are checked before anything is allocated.
    text = net_with("layer { name: \"fc\" type: \"InnerProduct\" bottom: \"data\" top: \"fc\" inner_product_param { num_output: 16777216 } }");
    CHECK_ERROR(build_text(text), "t:4:1: layer 'fc': the weight would hold");
    NetBuildOptions small;
    small.max_tensor_floats = 100;
    CHECK_ERROR(build_text(net_with("layer { name: \"r\" type: \"ReLU\" bottom: \"data\" top: \"data\" }"), small),
                "t:2:1: input 'data': input 'data' would hold 512 floats, more than the limit of 100");
    text = net_with("layer { name: \"p\" type: \"Pooling\" bottom: \"data\" top: \"p\" pooling_param { kernel_size: 16000000 pad: 15999999 stride: 1 } }");
    CHECK_ERROR(build_text(text), "t:4:1: layer 'p': the output would hold");
    // A nonzero loss weight on a second top.
    text = "input: \"data\"\ninput_shape { dim: 2 dim: 3 }\ninput: \"label\"\ninput_shape { dim: 2 }\n"
           "layer { name: \"l\" type: \"SoftmaxWithLoss\" bottom: \"data\" bottom: \"label\" top: \"loss\" top: \"prob\" loss_weight: 1 loss_weight: 0.5 }";
    CHECK_ERROR(build_text(text), "t:5:1: layer 'l': a nonzero loss_weight on top 1 is not supported");
    // A loss layer without a top gets one named after it, as Caffe does; Accuracy top_k reaches the layer.
    text = "input: \"data\"\ninput_shape { dim: 2 dim: 3 }\ninput: \"label\"\ninput_shape { dim: 2 }\n"
           "layer { name: \"l\" type: \"SoftmaxWithLoss\" bottom: \"data\" bottom: \"label\" }\n"
           "layer { name: \"acc\" type: \"Accuracy\" bottom: \"data\" bottom: \"label\" top: \"acc\" accuracy_param { top_k: 2 } }";
    auto net = build_text(text);
    CHECK(net->blob("l")->shape() == Shape(1, 1, 1, 1));
    net->blob("data")->data.fill(0.0f);
    net->blob("data")->data[0] = 1.0f;  // item 0 scores (1, 0.5, 0), label 1: second best
    net->blob("data")->data[1] = 0.5f;  // item 1 scores (0, 0, 0), label 0: ties count against it
    net->blob("label")->data[0] = 1.0f;
    net->blob("label")->data[1] = 0.0f;
    net->forward();
    CHECK(net->blob("acc")->data[0] == 0.5f);  // top_k 2 reached the layer (top 1 would give 0)
    // An ImageData / Data layer without crop or resize needs the size from the options.
    NetSpec nocrop = parse_net_spec("layer { name: \"d\" type: \"Data\" top: \"data\" top: \"label\" data_param { source: \"x\" batch_size: 5 } }\n"
                                    "layer { name: \"r\" type: \"ReLU\" bottom: \"data\" top: \"data\" }",
                                    "t");
    CHECK_ERROR(build_net(nocrop, Phase::Train), "t:1:1: layer 'd': the size of input 'data' is not known from the prototxt");
    NetBuildOptions hw;
    hw.height = 32;
    hw.width = 30;
    auto sized = build_net(nocrop, Phase::Test, hw);
    CHECK(sized->blob("data")->shape() == Shape(5, 3, 32, 30));
    CHECK(sized->blob("label")->shape() == Shape(5, 1, 1, 1));
}

TEST_CASE("caffe_spec: damaged files never crash the reader or the builder") {
    // Seeded random damage to a valid net (bytes replaced, deleted or duplicated, the text cut
    // short): every outcome must be a built net or a std::exception, never a crash or a hang; the
    // sanitizer build checks the memory accesses. Tensors are capped so a damaged size cannot make
    // the builder allocate gigabytes.
    std::ifstream in(fixture("small_dlbhc_v2.prototxt"), std::ios::binary);
    const std::string good((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    REQUIRE(good.size() > 1000);
    const char alphabet[] = "{}:;,<>[]\"'#\\-.0123456789eEx \nabcdefghijklmnopqrstuvwxyz_";
    Rng rng(2024);
    NetBuildOptions opt;
    opt.batch = 2;
    opt.max_tensor_floats = size_t(1) << 22;
    int built = 0, rejected = 0;
    for (int trial = 0; trial < 400; ++trial) {
        std::string text = good;
        const int edits = 1 + (int)rng.below(3);
        for (int e = 0; e < edits && !text.empty(); ++e) {
            const size_t pos = rng.below((uint32_t)text.size());
            switch (rng.below(4)) {
                case 0: text[pos] = alphabet[rng.below(sizeof alphabet - 1)]; break;
                case 1: text.erase(pos, 1 + rng.below(8)); break;
                case 2: text.insert(pos, text.substr(pos, 1 + rng.below(16))); break;
                default: text.resize(pos); break;
            }
        }
        try {
            NetSpec spec = parse_net_spec(text, "damaged");
            for (Phase p : {Phase::Train, Phase::Test}) build_net(spec, p, opt);
            ++built;
        } catch (const std::exception& e) {
            ++rejected;
            CHECK(std::string(e.what()).size() > 10);  // a message, not an empty what()
        }
    }
    MESSAGE("damaged nets: " << built << " still built, " << rejected << " rejected with an error");
    CHECK(rejected > 100);  // most damage must be noticed
}

namespace {

// A net of `layers` ReLU layers after an input of `shape`, in place (all on "data") or each
// writing a new blob.
std::string relu_chain(int layers, bool in_place, const std::string& shape = "dim: 2 dim: 4 dim: 8 dim: 8") {
    std::string text = "name: \"deep\"\ninput: \"data\"\ninput_shape { " + shape + " }\n";
    std::string prev = "data";
    for (int i = 0; i < layers; ++i) {
        const std::string top = in_place ? prev : "r" + std::to_string(i);
        text += "layer { name: \"relu" + std::to_string(i) + "\" type: \"ReLU\" bottom: \"" + prev + "\" top: \"" + top + "\" }\n";
        prev = top;
    }
    return text;
}

// Sets an environment variable for one scope.
struct ScopedEnv {
    std::string name;
    ScopedEnv(const char* n, const char* v) : name(n) { ::setenv(n, v, 1); }
    ~ScopedEnv() { ::unsetenv(name.c_str()); }
};

}  // namespace

TEST_CASE("net_builder: building is linear in the number of layers") {
    // Each added layer used to re-derive the backward flags of every layer before it (and scan
    // every layer name): n (n + 1) / 2 steps for n layers. Now one step per layer.
    for (int n : {1000, 4000}) {
        CAPTURE(n);
        const NetSpec spec = parse_net_spec(relu_chain(n, true), "deep.prototxt");
        const auto t0 = std::chrono::steady_clock::now();
        auto net = build_net(spec, Phase::Train);
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        MESSAGE(n << " in-place ReLU layers built in " << s * 1000 << " ms");
        REQUIRE(net->layers().size() == size_t(n));
        CHECK(net->wiring_steps() == size_t(n));
        CHECK(net->layer("relu" + std::to_string(n - 1)) == net->layers().back().get());
    }
}

TEST_CASE("net_builder: a net above the memory or layer limit is refused before anything is allocated") {
    const std::string text = relu_chain(10, false);  // 11 blobs of 512 floats: 11 x 512 x 4 x 2 = 45,056 bytes
    const NetSpec spec = parse_net_spec(text, "nets/ten.prototxt");
    const NetFootprint fp = net_footprint(spec, Phase::Train);
    CHECK(fp.blob_bytes == 45056);
    CHECK(fp.param_bytes == 0);
    CHECK(fp.layers == 10);
    NetBuildOptions opt;
    opt.max_net_bytes = 45056;
    CHECK(build_net(spec, Phase::Train, opt)->layers().size() == 10);
    opt.max_net_bytes = 45055;
    CHECK_ERROR(build_net(spec, Phase::Train, opt), "nets/ten.prototxt: the net would need 44.0 KiB (45056 bytes: blobs 44.0 KiB");
    CHECK_ERROR(build_net(spec, Phase::Train, opt), "more than the limit of 44.0 KiB (passed at nets/ten.prototxt:13:1: layer 'relu9')");
    CHECK_ERROR(build_net(spec, Phase::Train, opt), "set DLBHC_MAX_NET_BYTES to allow more");

    // 100 layers of 2 GiB each (values and gradients of 2^28 floats): 200 GiB, more than this
    // machine has. Refused at once, so nothing of it was allocated.
    const NetSpec huge = parse_net_spec(relu_chain(100, false, "dim: 1 dim: 1 dim: 16384 dim: 16384"), "huge.prototxt");
    CHECK(net_footprint(huge, Phase::Train).total() == 101 * (uint64_t(2) << 30));
    CHECK_ERROR(build_net(huge, Phase::Train), "huge.prototxt: the net would need 202.0 GiB");
    CHECK_ERROR(build_net(huge, Phase::Train), "more than the limit of 8.0 GiB (passed at huge.prototxt:7:1: layer 'relu3')");

    // The environment sets the limits when the options do not.
    {
        ScopedEnv env("DLBHC_MAX_NET_BYTES", "40K");
        CHECK_ERROR(build_net(spec, Phase::Train), "more than the limit of 40.0 KiB");
        opt.max_net_bytes = 1 << 20;  // the option wins
        CHECK(build_net(spec, Phase::Train, opt)->layers().size() == 10);
    }
    {
        ScopedEnv env("DLBHC_MAX_NET_BYTES", "lots");
        CHECK_ERROR(build_net(spec, Phase::Train),
                    "environment variable DLBHC_MAX_NET_BYTES: expected a positive integer (optionally with a K, M, G or T suffix), found 'lots'");
    }
    {
        ScopedEnv env("DLBHC_MAX_NET_LAYERS", "9");
        CHECK_ERROR(build_net(spec, Phase::Train),
                    "nets/ten.prototxt: 10 layers are active in phase TRAIN, more than the limit of 9; set DLBHC_MAX_NET_LAYERS");
    }
    opt = {};
    opt.max_layers = 9;
    CHECK_ERROR(build_net(spec, Phase::Train, opt), "nets/ten.prototxt: 10 layers are active in phase TRAIN, more than the limit of 9");
    CHECK_ERROR(build_net(parse_net_spec(relu_chain(int(kDefaultMaxNetLayers) + 1, true), "long.prototxt"), Phase::Train),
                "long.prototxt: 10001 layers are active in phase TRAIN, more than the limit of 10000");
}

TEST_CASE("net_builder: the memory estimate matches the built net; CaffeNet at batch 256 is within the default") {
    // The estimate counts what the layers allocate: compare with the tensors of a built small net.
    const NetSpec small = load_net_spec(fixture("small_dlbhc_v2.prototxt"));
    NetBuildOptions o;
    o.batch = 4;
    auto net = build_net(small, Phase::Train, o);
    uint64_t blobs = 0, params = 0;
    for (const std::string& b : net->blob_names()) blobs += 2 * sizeof(float) * net->blob(b)->count();
    for (Param* p : net->params()) params += 2 * sizeof(float) * p->value.count();
    const NetFootprint fp = net_footprint(small, Phase::Train, o);
    CHECK(fp.blob_bytes == blobs);
    CHECK(fp.param_bytes == params);
    CHECK(fp.layers == small.layers_in(Phase::Train).size());

    // CaffeNet-DLBHC at batch 256, from the shapes only (building it would take 3 GiB): 2.9 GiB.
    NetBuildOptions big;
    big.batch = 256;
    const NetFootprint caffenet = net_footprint(load_net_spec(test::repo_path("weights/caffenet_dlbhc_train_val.prototxt")), Phase::Train, big);
    MESSAGE("CaffeNet-DLBHC at batch 256: " << caffenet.total() / double(1 << 20) << " MiB");
    CHECK(caffenet.total() > (uint64_t(2) << 30));
    CHECK(caffenet.total() < kDefaultMaxNetBytes);
}

TEST_CASE("net_builder: the memory estimate counts every top and buffer the layers allocate") {
    // Each layer's own answer (Layer::shapes, Layer::buffer_floats) sizes the estimate, so every
    // top of a layer counts at its real shape (a loss's probabilities, not a second scalar) and
    // the buffers are what the built layers hold.
    const std::string text =
        "name: \"t\"\ninput: \"data\"\ninput_shape { dim: 4 dim: 3 dim: 12 dim: 12 }\ninput: \"label\"\ninput_shape { dim: 4 }\n"
        "layer { name: \"c\" type: \"Convolution\" bottom: \"data\" top: \"c\" convolution_param { num_output: 6 kernel_size: 3 } }\n"
        "layer { name: \"n\" type: \"LRN\" bottom: \"c\" top: \"n\" }\n"
        "layer { name: \"p\" type: \"Pooling\" bottom: \"n\" top: \"p\" pooling_param { kernel_size: 3 stride: 2 } }\n"
        "layer { name: \"fc\" type: \"InnerProduct\" bottom: \"p\" top: \"fc\" inner_product_param { num_output: 5 } }\n"
        "layer { name: \"d\" type: \"Dropout\" bottom: \"fc\" top: \"fc\" }\n"
        "layer { name: \"loss\" type: \"SoftmaxWithLoss\" bottom: \"fc\" bottom: \"label\" top: \"loss\" top: \"prob\" }\n";
    const NetSpec spec = parse_net_spec(text, "t");
    auto net = build_net(spec, Phase::Train);
    uint64_t blobs = 0, buffers = 0;
    for (const std::string& b : net->blob_names()) blobs += 2 * sizeof(float) * net->blob(b)->count();
    for (const auto& layer : net->layers()) {
        if (auto* c = dynamic_cast<ConvolutionLayer*>(layer.get())) buffers += sizeof(float) * c->plan().workspace_floats();
        if (auto* n = dynamic_cast<LRNLayer*>(layer.get())) buffers += sizeof(float) * n->scale().count();
        if (auto* p = dynamic_cast<PoolingLayer*>(layer.get())) buffers += sizeof(int) * p->argmax().size();
        if (auto* d = dynamic_cast<DropoutLayer*>(layer.get())) buffers += d->mask().size();
        if (auto* l = dynamic_cast<SoftmaxWithLossLayer*>(layer.get())) buffers += sizeof(float) * l->prob().count();
    }
    const NetFootprint fp = net_footprint(spec, Phase::Train);
    CHECK(net->blob("prob")->count() == 20);
    CHECK(fp.blob_bytes == blobs);
    CHECK(fp.buffer_bytes == buffers);
    CHECK(fp.layers == 6);

    // A layer's buffers are held to the tensor limit before they are allocated, as its tops and
    // parameters are: here the convolution's columns (9 x 64 floats per image).
    NetBuildOptions small;
    small.max_tensor_floats = 100;
    CHECK_ERROR(build_net(parse_net_spec("input: \"data\"\ninput_shape { dim: 1 dim: 1 dim: 8 dim: 8 }\n"
                                         "layer { name: \"c\" type: \"Convolution\" bottom: \"data\" top: \"c\" "
                                         "convolution_param { num_output: 1 kernel_size: 3 pad: 1 } }",
                                         "t"),
                          Phase::Test, small),
                "t:3:1: layer 'c': its buffers would hold 576 floats, more than the limit of 100");
}
