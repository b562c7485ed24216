// formats/layer_registry.cpp -- one section per Caffe layer type (the reader of its settings
// block, its description, its factory), then the table of rows. See layer_registry.h.
//
// A reader first rejects unknown and repeated fields (naming file:line:col), then reads the values
// with Caffe's defaults, then checks their ranges at their tokens; `what` names the block in errors
// ("convolution_param of layer 'conv1'"). Rules that need the input shape are the nn/ layer's and
// are checked when the net is built.
#include "formats/layer_registry.h"

#include <stdexcept>

#include "formats/caffe_params.h"
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

namespace dlbhc {

namespace {

// The rows, in the order they are defined below (the order error messages list the types). Each
// row adds itself where it is written, so a new layer type is one row and nothing else in this
// file: `const Row kTanH{{"TanH", ...}};`. They are added while this file's globals are
// initialised, before main.
std::vector<LayerType>& registry() {
    static std::vector<LayerType> rows;
    return rows;
}
struct Row {
    explicit Row(const LayerType& t) { registry().push_back(t); }
};

using Msg = PtxMessage;
using namespace caffe;

std::string block_what(const char* name, const std::string& where) { return std::string(name) + " of " + where; }

// The settings block `name` of a layer whose type needs one.
const Msg& required_block(const Msg& m, const LayerSpec& l, const char* name, const std::string& where) {
    const Msg* b = m.get_message(name);
    if (!b) fail_at(l.loc, where + " (" + l.type + ") needs a " + name + " block");
    return *b;
}

std::string hw(int h, int w) { return std::to_string(h) + "x" + std::to_string(w); }

// ---- Convolution -----------------------------------------------------------------------------

ConvParam read_conv(const Msg& m, const std::string& what) {
    check_fields_once(m,
                      {"num_output", "bias_term", "pad", "kernel_size", "stride", "dilation", "group", "weight_filler",
                       "bias_filler", "pad_h", "pad_w", "kernel_h", "kernel_w", "stride_h", "stride_w", "engine", "axis",
                       "force_nd_im2col"},
                      {"pad", "kernel_size", "stride", "dilation"}, what);
    ConvParam p;
    if (!m.find("num_output")) fail_at(m.loc, what + " needs num_output");
    p.num_output = int_in(m, "num_output", 0, 1, kMaxOutputs);
    p.bias_term = m.get_bool("bias_term", true);
    read_hw(m, "kernel_size", "kernel_h", "kernel_w", 0, 1, true, what, p.kernel_h, p.kernel_w);
    read_hw(m, "stride", "stride_h", "stride_w", 1, 1, false, what, p.stride_h, p.stride_w);
    read_hw(m, "pad", "pad_h", "pad_w", 0, 0, false, what, p.pad_h, p.pad_w);
    for (const PtxField* f : m.all("dilation"))
        if (f->as_int64() != 1) f->fail("must be 1 (dilated convolution is not implemented), got " + f->text);
    p.group = int_in(m, "group", 1, 1, kMaxOutputs);
    if (p.num_output % p.group != 0)
        m.find("group")->fail("is " + std::to_string(p.group) + ", which does not divide num_output " +
                              std::to_string(p.num_output));
    if (const PtxField* f = m.find("weight_filler")) p.weight_filler = read_filler(*f, what);
    if (const PtxField* f = m.find("bias_filler")) p.bias_filler = read_filler(*f, what);
    check_engine(m);
    check_axis_one(m);
    if (m.get_bool("force_nd_im2col", false)) m.find("force_nd_im2col")->fail("must be false (N-D im2col is not implemented)");
    return p;
}

const Row kConvolution{{
    "Convolution", "CONVOLUTION", {"convolution_param"}, ConvolutionLayer::kBlobs, false,
    [](const Msg& m, LayerSpec& l, const std::string& where) {
        l.type_settings = read_conv(required_block(m, l, "convolution_param", where), block_what("convolution_param", where));
    },
    [](const LayerSpec& l) -> size_t { return l.settings<ConvParam>().bias_term ? 2 : 1; },
    [](const LayerSpec& l) {
        const ConvParam& c = l.settings<ConvParam>();
        return " {num_output " + std::to_string(c.num_output) + ", kernel " + hw(c.kernel_h, c.kernel_w) + ", stride " +
               hw(c.stride_h, c.stride_w) + ", pad " + hw(c.pad_h, c.pad_w) + ", group " + std::to_string(c.group) +
               ", bias " + (c.bias_term ? "yes" : "no") + ", weight_filler " + describe_filler(c.weight_filler) +
               ", bias_filler " + describe_filler(c.bias_filler) + "}";
    },
    [](const LayerSpec& l, LayerSeeds&) -> std::unique_ptr<Layer> {
        return std::make_unique<ConvolutionLayer>(l.name, l.settings<ConvParam>());
    },
    nullptr,
}};

// ---- Pooling ---------------------------------------------------------------------------------

PoolingParam read_pool(const Msg& m, const std::string& what) {
    check_fields_once(m,
                      {"pool", "pad", "pad_h", "pad_w", "kernel_size", "kernel_h", "kernel_w", "stride", "stride_h",
                       "stride_w", "engine", "global_pooling", "round_mode"},
                      {}, what);
    PoolingParam p;
    const std::string method = enum_of(m, "pool", {"MAX", "AVE", "STOCHASTIC"}, "MAX");
    if (method == "STOCHASTIC") m.find("pool")->fail("is STOCHASTIC, which dlbhc does not implement (MAX or AVE)");
    p.pool = method == "MAX" ? PoolingParam::MAX : PoolingParam::AVE;
    p.global_pooling = m.get_bool("global_pooling", false);
    if (p.global_pooling) {
        for (const char* k : {"kernel_size", "kernel_h", "kernel_w"})
            if (const PtxField* f = m.find(k)) f->fail("cannot be set with global_pooling (the kernel is the whole input)");
        p.kernel_h = p.kernel_w = 0;
    } else {
        read_hw(m, "kernel_size", "kernel_h", "kernel_w", 0, 1, true, what, p.kernel_h, p.kernel_w);
    }
    read_hw(m, "stride", "stride_h", "stride_w", 1, 1, false, what, p.stride_h, p.stride_w);
    read_hw(m, "pad", "pad_h", "pad_w", 0, 0, false, what, p.pad_h, p.pad_w);
    // The layer's rules between fields (pad < kernel; global pooling with stride 1, pad 0).
    const std::string rule = pooling_param_check(p);
    if (!rule.empty()) fail_at(m.loc, what + ": " + rule);
    check_engine(m);
    const std::string round = enum_of(m, "round_mode", {"CEIL", "FLOOR"}, "CEIL");
    if (round != "CEIL") m.find("round_mode")->fail("is FLOOR; dlbhc implements Caffe's default CEIL rounding only");
    return p;
}

const Row kPooling{{
    "Pooling", "POOLING", {"pooling_param"}, PoolingLayer::kBlobs, false,
    [](const Msg& m, LayerSpec& l, const std::string& where) {
        l.type_settings = read_pool(required_block(m, l, "pooling_param", where), block_what("pooling_param", where));
    },
    nullptr,
    [](const LayerSpec& l) {
        const PoolingParam& p = l.settings<PoolingParam>();
        return std::string(" {") + (p.pool == PoolingParam::MAX ? "MAX" : "AVE") +
               (p.global_pooling ? ", global" : ", kernel " + hw(p.kernel_h, p.kernel_w)) + ", stride " +
               hw(p.stride_h, p.stride_w) + ", pad " + hw(p.pad_h, p.pad_w) + "}";
    },
    [](const LayerSpec& l, LayerSeeds&) -> std::unique_ptr<Layer> {
        return std::make_unique<PoolingLayer>(l.name, l.settings<PoolingParam>());
    },
    nullptr,
}};

// ---- InnerProduct ----------------------------------------------------------------------------

InnerProductParam read_inner_product(const Msg& m, const std::string& what) {
    check_fields_once(m, {"num_output", "bias_term", "weight_filler", "bias_filler", "axis", "transpose"}, {}, what);
    InnerProductParam p;
    if (!m.find("num_output")) fail_at(m.loc, what + " needs num_output");
    p.num_output = int_in(m, "num_output", 0, 1, kMaxOutputs);
    p.bias_term = m.get_bool("bias_term", true);
    if (const PtxField* f = m.find("weight_filler")) p.weight_filler = read_filler(*f, what);
    if (const PtxField* f = m.find("bias_filler")) p.bias_filler = read_filler(*f, what);
    check_axis_one(m);
    if (m.get_bool("transpose", false)) m.find("transpose")->fail("must be false (weights are stored (O, I))");
    return p;
}

const Row kInnerProduct{{
    "InnerProduct", "INNER_PRODUCT", {"inner_product_param"}, InnerProductLayer::kBlobs, false,
    [](const Msg& m, LayerSpec& l, const std::string& where) {
        l.type_settings = read_inner_product(required_block(m, l, "inner_product_param", where),
                                             block_what("inner_product_param", where));
    },
    [](const LayerSpec& l) -> size_t { return l.settings<InnerProductParam>().bias_term ? 2 : 1; },
    [](const LayerSpec& l) {
        const InnerProductParam& p = l.settings<InnerProductParam>();
        return " {num_output " + std::to_string(p.num_output) + ", bias " + (p.bias_term ? "yes" : "no") +
               ", weight_filler " + describe_filler(p.weight_filler) + ", bias_filler " + describe_filler(p.bias_filler) + "}";
    },
    [](const LayerSpec& l, LayerSeeds&) -> std::unique_ptr<Layer> {
        return std::make_unique<InnerProductLayer>(l.name, l.settings<InnerProductParam>());
    },
    nullptr,
}};

// ---- LRN -------------------------------------------------------------------------------------

LRNParam read_lrn(const Msg& m, const std::string& what) {
    check_fields_once(m, {"local_size", "alpha", "beta", "norm_region", "k", "engine"}, {}, what);
    LRNParam p;
    p.local_size = int_in(m, "local_size", 5, 1, 1 << 16);
    if (p.local_size % 2 == 0) m.find("local_size")->fail("must be odd, got " + std::to_string(p.local_size));
    p.alpha = finite_float(m, "alpha", 1.0f);
    p.beta = finite_float(m, "beta", 0.75f);
    p.k = finite_float(m, "k", 1.0f);
    if (p.alpha < 0) m.find("alpha")->fail("must be >= 0");
    if (!(p.k > 0)) m.find("k")->fail("must be > 0");
    const std::string region = enum_of(m, "norm_region", {"ACROSS_CHANNELS", "WITHIN_CHANNEL"}, "ACROSS_CHANNELS");
    if (region != "ACROSS_CHANNELS")
        m.find("norm_region")->fail("is WITHIN_CHANNEL, which dlbhc does not implement (ACROSS_CHANNELS only)");
    check_engine(m);
    return p;
}

const Row kLRN{{
    "LRN", "LRN", {"lrn_param"}, LRNLayer::kBlobs, false,
    [](const Msg& m, LayerSpec& l, const std::string& where) {
        const Msg* b = m.get_message("lrn_param");
        l.type_settings = b ? read_lrn(*b, block_what("lrn_param", where)) : LRNParam{};
    },
    nullptr,
    [](const LayerSpec& l) {
        const LRNParam& p = l.settings<LRNParam>();
        return " {local_size " + std::to_string(p.local_size) + ", alpha " + fmt(p.alpha) + ", beta " + fmt(p.beta) +
               ", k " + fmt(p.k) + "}";
    },
    [](const LayerSpec& l, LayerSeeds&) -> std::unique_ptr<Layer> {
        return std::make_unique<LRNLayer>(l.name, l.settings<LRNParam>());
    },
    nullptr,
}};

// ---- Dropout ---------------------------------------------------------------------------------

DropoutParam read_dropout(const Msg& m, const std::string& what) {
    check_fields_once(m, {"dropout_ratio", "scale_train"}, {}, what);
    DropoutParam p;
    p.dropout_ratio = finite_float(m, "dropout_ratio", 0.5f);
    if (!(p.dropout_ratio >= 0 && p.dropout_ratio < 1)) m.find("dropout_ratio")->fail("must be in [0, 1), got " + m.find("dropout_ratio")->text);
    if (!m.get_bool("scale_train", true)) m.find("scale_train")->fail("must be true (dlbhc scales at training time, as Caffe's default)");
    return p;
}

const Row kDropout{{
    "Dropout", "DROPOUT", {"dropout_param"}, DropoutLayer::kBlobs, false,
    [](const Msg& m, LayerSpec& l, const std::string& where) {
        const Msg* b = m.get_message("dropout_param");
        l.type_settings = b ? read_dropout(*b, block_what("dropout_param", where)) : DropoutParam{};
    },
    nullptr,
    [](const LayerSpec& l) { return " {dropout_ratio " + fmt(l.settings<DropoutParam>().dropout_ratio) + "}"; },
    [](const LayerSpec& l, LayerSeeds& seeds) -> std::unique_ptr<Layer> {
        DropoutParam p = l.settings<DropoutParam>();
        p.seed = seeds.next();
        return std::make_unique<DropoutLayer>(l.name, p);
    },
    nullptr,
}};

// ---- ReLU, Sigmoid, Softmax ------------------------------------------------------------------

ReLUParam read_relu(const Msg& m, const std::string& what) {
    check_fields_once(m, {"negative_slope", "engine"}, {}, what);
    check_engine(m);
    ReLUParam p;
    p.negative_slope = finite_float(m, "negative_slope", 0.0f);
    return p;
}

const Row kReLU{{
    "ReLU", "RELU", {"relu_param"}, ReLULayer::kBlobs, false,
    [](const Msg& m, LayerSpec& l, const std::string& where) {
        const Msg* b = m.get_message("relu_param");
        l.type_settings = b ? read_relu(*b, block_what("relu_param", where)) : ReLUParam{};
    },
    nullptr,
    [](const LayerSpec& l) { return " {negative_slope " + fmt(l.settings<ReLUParam>().negative_slope) + "}"; },
    [](const LayerSpec& l, LayerSeeds&) -> std::unique_ptr<Layer> {
        return std::make_unique<ReLULayer>(l.name, l.settings<ReLUParam>());
    },
    nullptr,
}};

const Row kSigmoid{{
    "Sigmoid", "SIGMOID", {"sigmoid_param"}, SigmoidLayer::kBlobs, false,
    [](const Msg& m, LayerSpec&, const std::string& where) {
        if (const Msg* b = m.get_message("sigmoid_param")) {
            check_fields_once(*b, {"engine"}, {}, block_what("sigmoid_param", where));
            check_engine(*b);
        }
    },
    nullptr,
    nullptr,
    [](const LayerSpec& l, LayerSeeds&) -> std::unique_ptr<Layer> { return std::make_unique<SigmoidLayer>(l.name); },
    nullptr,
}};

// softmax_param: axis 1 only; nothing to keep.
void read_softmax(const Msg& m, const std::string& what) {
    check_fields_once(m, {"axis", "engine"}, {}, what);
    check_axis_one(m);
    check_engine(m);
}

const Row kSoftmax{{
    "Softmax", "SOFTMAX", {"softmax_param"}, SoftmaxLayer::kBlobs, false,
    [](const Msg& m, LayerSpec&, const std::string& where) {
        if (const Msg* b = m.get_message("softmax_param")) read_softmax(*b, block_what("softmax_param", where));
    },
    nullptr,
    nullptr,
    [](const LayerSpec& l, LayerSeeds&) -> std::unique_ptr<Layer> { return std::make_unique<SoftmaxLayer>(l.name); },
    nullptr,
}};

// ---- SoftmaxWithLoss, Accuracy ---------------------------------------------------------------

SoftmaxLossParam read_loss(const Msg& m, const std::string& what) {
    check_fields_once(m, {"ignore_label", "normalization", "normalize"}, {}, what);
    SoftmaxLossParam p;
    if (const PtxField* f = m.find("ignore_label")) {
        p.has_ignore_label = true;
        p.ignore_label = f->as_int();
    }
    const std::string norm = enum_of(m, "normalization", {"FULL", "VALID", "BATCH_SIZE", "NONE"}, "VALID");
    if (norm != "VALID") m.find("normalization")->fail("is " + norm + "; dlbhc implements VALID (Caffe's default) only");
    if (const PtxField* f = m.find("normalize"))
        if (!f->as_bool()) f->fail("is false (BATCH_SIZE normalisation); dlbhc implements VALID (normalize: true) only");
    return p;
}

const Row kSoftmaxWithLoss{{
    "SoftmaxWithLoss", "SOFTMAX_LOSS", {"softmax_param", "loss_param"}, SoftmaxWithLossLayer::kBlobs, true,
    [](const Msg& m, LayerSpec& l, const std::string& where) {
        if (const Msg* b = m.get_message("softmax_param")) read_softmax(*b, block_what("softmax_param", where));
        const Msg* b = m.get_message("loss_param");
        l.type_settings = b ? read_loss(*b, block_what("loss_param", where)) : SoftmaxLossParam{};
    },
    nullptr,
    [](const LayerSpec& l) {
        const SoftmaxLossParam& p = l.settings<SoftmaxLossParam>();
        return p.has_ignore_label ? " {ignore_label " + std::to_string(p.ignore_label) + "}" : std::string();
    },
    [](const LayerSpec& l, LayerSeeds&) -> std::unique_ptr<Layer> {
        return std::make_unique<SoftmaxWithLossLayer>(l.name, l.settings<SoftmaxLossParam>());
    },
    nullptr,
}};

AccuracyParam read_accuracy(const Msg& m, const std::string& what) {
    check_fields_once(m, {"top_k", "axis", "ignore_label"}, {}, what);
    check_axis_one(m);
    if (const PtxField* f = m.find("ignore_label")) f->fail("is not supported by dlbhc's Accuracy layer");
    AccuracyParam p;
    p.top_k = int_in(m, "top_k", 1, 1, kMaxOutputs);
    return p;
}

const Row kAccuracy{{
    "Accuracy", "ACCURACY", {"accuracy_param"}, AccuracyLayer::kBlobs, false,
    [](const Msg& m, LayerSpec& l, const std::string& where) {
        const Msg* b = m.get_message("accuracy_param");
        l.type_settings = b ? read_accuracy(*b, block_what("accuracy_param", where)) : AccuracyParam{};
    },
    nullptr,
    [](const LayerSpec& l) { return " {top_k " + std::to_string(l.settings<AccuracyParam>().top_k) + "}"; },
    [](const LayerSpec& l, LayerSeeds&) -> std::unique_ptr<Layer> {
        return std::make_unique<AccuracyLayer>(l.name, l.settings<AccuracyParam>());
    },
    nullptr,
}};

// ---- SSDH's losses: K1_EuclideanLoss, K2_EuclideanLoss -------------------------------------

// The authors' layers are Caffe's EuclideanLoss underneath and take its loss_param; dlbhc
// implements only the default normalisation, which the formulas of nn/k1_euclidean_loss.h and
// nn/k2_euclidean_loss.h already fix, so the block may state nothing else.
void read_euclidean_loss_param(const Msg& m, const std::string& where) {
    if (const Msg* b = m.get_message("loss_param")) {
        const std::string what = block_what("loss_param", where);
        check_fields_once(*b, {"normalization", "normalize"}, {}, what);
        const std::string norm = enum_of(*b, "normalization", {"FULL", "VALID", "BATCH_SIZE", "NONE"}, "VALID");
        if (norm != "VALID") b->find("normalization")->fail("is " + norm + "; this layer's normalisation is fixed (the count of bottom[0])");
        if (const PtxField* f = b->find("normalize"))
            if (!f->as_bool()) f->fail("is false; this layer's normalisation is fixed (the count of bottom[0])");
    }
}

const Row kK1EuclideanLoss{{
    "K1_EuclideanLoss", nullptr, {"loss_param"}, K1EuclideanLossLayer::kBlobs, true,
    [](const Msg& m, LayerSpec&, const std::string& where) { read_euclidean_loss_param(m, where); },
    nullptr,
    nullptr,
    [](const LayerSpec& l, LayerSeeds&) -> std::unique_ptr<Layer> { return std::make_unique<K1EuclideanLossLayer>(l.name); },
    nullptr,
}};

const Row kK2EuclideanLoss{{
    "K2_EuclideanLoss", nullptr, {"loss_param"}, K2EuclideanLossLayer::kBlobs, true,
    [](const Msg& m, LayerSpec&, const std::string& where) { read_euclidean_loss_param(m, where); },
    nullptr,
    nullptr,
    [](const LayerSpec& l, LayerSeeds&) -> std::unique_ptr<Layer> { return std::make_unique<K2EuclideanLossLayer>(l.name); },
    nullptr,
}};

// ---- Reshape ---------------------------------------------------------------------------------

ReshapeParam read_reshape(const Msg& m, const std::string& what) {
    check_fields_once(m, {"shape", "axis", "num_axes"}, {}, what);
    if (const PtxField* f = m.find("axis"))
        if (f->as_int64() != 0) f->fail("must be 0 (reshaping a range of axes is not implemented), got " + f->text);
    if (const PtxField* f = m.find("num_axes"))
        if (f->as_int64() != -1) f->fail("must be -1 (reshaping a range of axes is not implemented), got " + f->text);
    const PtxField* shape = m.find("shape");
    if (!shape) fail_at(m.loc, what + " needs a shape { dim ... }");
    const Msg& s = shape->as_message();
    s.check_fields({"dim"}, "shape of " + what);
    ReshapeParam p;
    for (const PtxField* f : s.all("dim")) {
        const int64_t d = f->as_int64();
        if (d < -1 || d > kMaxDim)
            f->fail("must be -1 (infer), 0 (copy) or a size up to " + std::to_string(kMaxDim) + ", got " + std::to_string(d));
        p.dims.push_back((int)d);
    }
    const std::string rule = reshape_param_check(p);
    if (!rule.empty()) fail_at(s.loc, what + ": " + rule);
    return p;
}

const Row kReshape{{
    "Reshape", nullptr, {"reshape_param"}, ReshapeLayer::kBlobs, false,
    [](const Msg& m, LayerSpec& l, const std::string& where) {
        l.type_settings = read_reshape(required_block(m, l, "reshape_param", where), block_what("reshape_param", where));
    },
    nullptr,
    [](const LayerSpec& l) {
        std::string s = " {shape (";
        const std::vector<int>& d = l.settings<ReshapeParam>().dims;
        for (size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
        return s + ")}";
    },
    [](const LayerSpec& l, LayerSeeds&) -> std::unique_ptr<Layer> {
        return std::make_unique<ReshapeLayer>(l.name, l.settings<ReshapeParam>());
    },
    nullptr,
}};

// ---- the net's inputs: Input, Data, ImageData ------------------------------------------------

const Row kInput{{
    "Input", nullptr, {"input_param"}, {0, 0, 1, 64}, false,
    [](const Msg& m, LayerSpec& l, const std::string& where) {
        const Msg* b = m.get_message("input_param");
        if (!b) fail_at(l.loc, where + " (Input) needs an input_param block with one shape per top");
        const std::string what = block_what("input_param", where);
        b->check_fields({"shape"}, what);
        for (const PtxField* f : b->all("shape")) l.input_shapes.push_back(read_blob_shape(*f, what));
        if (l.input_shapes.size() != 1 && l.input_shapes.size() != l.top.size() && !l.top.empty())
            fail_at(b->loc, what + ": needs one shape for all tops or one per top (" + std::to_string(l.top.size()) +
                                "), got " + std::to_string(l.input_shapes.size()));
    },
    nullptr,
    [](const LayerSpec& l) {
        std::string s = " {";
        for (size_t i = 0; i < l.input_shapes.size(); ++i) {
            s += i ? " (" : "(";
            for (size_t k = 0; k < l.input_shapes[i].size(); ++k) s += (k ? ", " : "") + std::to_string(l.input_shapes[i][k]);
            s += ")";
        }
        return s + "}";
    },
    nullptr,
    [](const LayerSpec& l) {
        std::vector<std::vector<int64_t>> dims;
        for (size_t i = 0; i < l.top.size(); ++i) dims.push_back(l.input_shapes.size() == 1 ? l.input_shapes[0] : l.input_shapes[i]);
        return dims;
    },
}};

// The transform_param block of a data layer, when it has one.
void read_transform_block(const Msg& m, LayerSpec& l, const std::string& where) {
    if (const Msg* t = m.get_message("transform_param")) l.transform = read_transform(*t, block_what("transform_param", where));
}

std::string describe_data(const LayerSpec& l) {
    const DataSourceSpec& d = l.data;
    std::string s = " {source \"" + d.source + "\", batch_size " + std::to_string(d.batch_size) + ", rand_skip " +
                    std::to_string(d.rand_skip);
    if (l.type == "Data")
        s += ", backend " + d.backend;
    else
        s += ", new " + hw(d.new_height, d.new_width) + ", shuffle " + (d.shuffle ? "yes" : "no") + ", is_color " +
             (d.is_color ? "yes" : "no") + ", root_folder \"" + d.root_folder + "\"";
    s += "}";
    if (l.transform.present) {
        const TransformSpec& tr = l.transform;
        s += " transform{crop_size " + std::to_string(tr.crop_size) + ", mirror " + (tr.mirror ? "yes" : "no") +
             ", scale " + fmt(tr.scale) + ", mean_file \"" + tr.mean_file + "\", mean_value [";
        for (size_t i = 0; i < tr.mean_value.size(); ++i) s += std::string(i ? " " : "") + fmt(tr.mean_value[i]);
        s += "]" + std::string(tr.force_color ? ", force_color" : "") + (tr.force_gray ? ", force_gray" : "") + "}";
    }
    return s;
}

// A data layer's tops: the images (batch, C, H, W) and, when there is a second top, the labels
// (batch). C is 3, or 1 for grey images; H and W the crop, else ImageData's resize, else 0 (not
// known from the file).
std::vector<std::vector<int64_t>> data_inputs(const LayerSpec& l) {
    const DataSourceSpec& d = l.data;
    const int64_t c = (l.type == "ImageData" && !d.is_color) || l.transform.force_gray ? 1 : 3;
    int64_t h = 0, w = 0;
    if (l.transform.crop_size > 0) h = w = l.transform.crop_size;
    else if (l.type == "ImageData" && d.new_height > 0) h = d.new_height, w = d.new_width;
    std::vector<std::vector<int64_t>> dims = {{d.batch_size, c, h, w}};
    if (l.top.size() > 1) dims.push_back({d.batch_size});
    return dims;
}

const Row kData{{
    "Data", "DATA", {"data_param", "transform_param"}, {0, 0, 1, 2}, false,
    [](const Msg& m, LayerSpec& l, const std::string& where) {
        l.data = read_data_param(required_block(m, l, "data_param", where), block_what("data_param", where));
        read_transform_block(m, l, where);
    },
    nullptr, describe_data, nullptr, data_inputs,
}};

const Row kImageData{{
    "ImageData", "IMAGE_DATA", {"image_data_param", "transform_param"}, {0, 0, 1, 2}, false,
    [](const Msg& m, LayerSpec& l, const std::string& where) {
        l.data = read_image_data_param(required_block(m, l, "image_data_param", where), block_what("image_data_param", where));
        read_transform_block(m, l, where);
    },
    nullptr, describe_data, nullptr, data_inputs,
}};

}  // namespace

// ---- the table -------------------------------------------------------------------------------

const std::vector<LayerType>& layer_types() { return registry(); }

const LayerType* find_layer_type(const std::string& type) {
    for (const LayerType& t : layer_types())
        if (type == t.type) return &t;
    return nullptr;
}

const LayerType* find_layer_type_v1(const std::string& v1) {
    for (const LayerType& t : layer_types())
        if (t.v1 && v1 == t.v1) return &t;
    return nullptr;
}

const LayerType& layer_type_of(const LayerSpec& l) {
    const LayerType* t = find_layer_type(l.type);
    if (!t) throw std::logic_error("layer '" + l.name + "' has type '" + l.type + "', which has no row in the layer registry");
    return *t;
}

}  // namespace dlbhc
