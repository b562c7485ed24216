// formats/caffe_spec.cpp -- NetParameter (V1 and V2 layer layouts) -> NetSpec. See caffe_spec.h.
#include "formats/caffe_spec.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "formats/caffe_params.h"

namespace dlbhc {

namespace {

using Msg = PtxMessage;
using namespace caffe;

// ---- layer types -----------------------------------------------------------------------------

const std::vector<std::string> kSupportedTypes = {"Convolution", "Pooling", "InnerProduct", "LRN", "Dropout",
                                                  "ReLU", "Sigmoid", "Softmax", "SoftmaxWithLoss", "Accuracy",
                                                  "Input", "Data", "ImageData"};

// caffe.proto's V1LayerParameter.LayerType: name, number, and the V2 type string where dlbhc has
// the layer (nullptr: a Caffe layer dlbhc does not implement).
struct V1Type {
    const char* name;
    int number;
    const char* v2;
};
const V1Type kV1Types[] = {
    {"NONE", 0, nullptr},          {"ABSVAL", 35, nullptr},       {"ACCURACY", 1, "Accuracy"},
    {"ARGMAX", 30, nullptr},       {"BNLL", 2, nullptr},          {"CONCAT", 3, nullptr},
    {"CONTRASTIVE_LOSS", 37, nullptr}, {"CONVOLUTION", 4, "Convolution"}, {"DATA", 5, "Data"},
    {"DECONVOLUTION", 39, nullptr}, {"DROPOUT", 6, "Dropout"},    {"DUMMY_DATA", 32, nullptr},
    {"EUCLIDEAN_LOSS", 7, nullptr}, {"ELTWISE", 25, nullptr},     {"EXP", 38, nullptr},
    {"FLATTEN", 8, nullptr},       {"HDF5_DATA", 9, nullptr},     {"HDF5_OUTPUT", 10, nullptr},
    {"HINGE_LOSS", 28, nullptr},   {"IM2COL", 11, nullptr},       {"IMAGE_DATA", 12, "ImageData"},
    {"INFOGAIN_LOSS", 13, nullptr}, {"INNER_PRODUCT", 14, "InnerProduct"}, {"LRN", 15, "LRN"},
    {"MEMORY_DATA", 29, nullptr},  {"MULTINOMIAL_LOGISTIC_LOSS", 16, nullptr}, {"MVN", 34, nullptr},
    {"POOLING", 17, "Pooling"},    {"POWER", 26, nullptr},        {"RELU", 18, "ReLU"},
    {"SIGMOID", 19, "Sigmoid"},    {"SIGMOID_CROSS_ENTROPY_LOSS", 27, nullptr}, {"SILENCE", 36, nullptr},
    {"SOFTMAX", 20, "Softmax"},    {"SOFTMAX_LOSS", 21, "SoftmaxWithLoss"}, {"SPLIT", 22, nullptr},
    {"SLICE", 33, nullptr},        {"TANH", 23, nullptr},         {"WINDOW_DATA", 24, nullptr},
    {"THRESHOLD", 31, nullptr},
};

std::string v2_type_from_v1(const PtxField& f) {
    const std::string e = f.as_enum();  // identifier, or a number's text
    for (const V1Type& t : kV1Types) {
        if (e != t.name && e != std::to_string(t.number)) continue;
        if (!t.v2) {
            std::vector<std::string> ok;
            for (const V1Type& u : kV1Types)
                if (u.v2) ok.push_back(u.name);
            f.fail("is the V1 layer type " + std::string(t.name) + ", which dlbhc does not implement (supported: " +
                   join(ok) + ")");
        }
        return t.v2;
    }
    f.fail("holds unknown V1 layer type '" + e + "'");
}

// The *_param block each type accepts (everything else ending in _param is rejected).
std::vector<std::string> blocks_for(const std::string& type) {
    if (type == "Convolution") return {"convolution_param"};
    if (type == "Pooling") return {"pooling_param"};
    if (type == "InnerProduct") return {"inner_product_param"};
    if (type == "LRN") return {"lrn_param"};
    if (type == "Dropout") return {"dropout_param"};
    if (type == "ReLU") return {"relu_param"};
    if (type == "Sigmoid") return {"sigmoid_param"};
    if (type == "Softmax") return {"softmax_param"};
    if (type == "SoftmaxWithLoss") return {"softmax_param", "loss_param"};
    if (type == "Accuracy") return {"accuracy_param"};
    if (type == "Data") return {"data_param", "transform_param"};
    if (type == "ImageData") return {"image_data_param", "transform_param"};
    if (type == "Input") return {"input_param"};
    return {};
}

std::vector<PhaseRule> read_rules(const Msg& layer, const std::string& name, const std::string& where) {
    std::vector<PhaseRule> rules;
    for (const PtxField* f : layer.all(name)) {
        const Msg& m = f->as_message();
        for (const auto& g : m.fields)
            if (g.name == "min_level" || g.name == "max_level" || g.name == "stage" || g.name == "not_stage")
                g.fail("(a NetStateRule level/stage) is not supported by dlbhc; only phase rules are");
        check_fields_once(m, {"phase"}, {}, name + " of " + where);
        PhaseRule r;
        if (m.find("phase")) {
            r.has_phase = true;
            r.phase = enum_of(m, "phase", {"TRAIN", "TEST"}, "TRAIN") == "TRAIN" ? Phase::Train : Phase::Test;
        }
        rules.push_back(r);
    }
    return rules;
}

// ---- one layer -------------------------------------------------------------------------------

void check_blob_counts(const LayerSpec& l, size_t bmin, size_t bmax, size_t tmin, size_t tmax) {
    auto range = [](size_t lo, size_t hi) {
        return lo == hi ? std::to_string(lo) : std::to_string(lo) + " to " + std::to_string(hi);
    };
    if (l.bottom.size() < bmin || l.bottom.size() > bmax || l.top.size() < tmin || l.top.size() > tmax)
        fail_at(l.loc, "layer '" + l.name + "' (" + l.type + ") takes " + range(bmin, bmax) + " bottom and " +
                           range(tmin, tmax) + " top blobs, got " + std::to_string(l.bottom.size()) + " and " +
                           std::to_string(l.top.size()));
}

void read_params_v2(const Msg& m, LayerSpec& l, const std::string& where) {
    for (const PtxField* f : m.all("param")) {
        const Msg& p = f->as_message();
        check_fields_once(p, {"name", "lr_mult", "decay_mult"}, {}, "param of " + where);
        ParamSpec s;
        s.lr_mult = finite_float(p, "lr_mult", 1.0f);
        s.decay_mult = finite_float(p, "decay_mult", 1.0f);
        l.param.push_back(s);
        l.param_name.push_back(p.get_string("name", ""));
    }
}

void read_params_v1(const Msg& m, LayerSpec& l) {
    const std::vector<const PtxField*> lr = m.all("blobs_lr"), wd = m.all("weight_decay"), names = m.all("param");
    const size_t n = std::max(lr.size(), std::max(wd.size(), names.size()));
    for (size_t i = 0; i < n; ++i) {
        ParamSpec s;
        if (i < lr.size()) s.lr_mult = lr[i]->as_float();
        if (i < wd.size()) s.decay_mult = wd[i]->as_float();
        if (!std::isfinite(s.lr_mult) || !std::isfinite(s.decay_mult))
            fail_at(l.loc, "layer '" + l.name + "': blobs_lr / weight_decay must be finite");
        l.param.push_back(s);
        l.param_name.push_back(i < names.size() ? names[i]->as_string() : "");
    }
}

LayerSpec read_layer(const PtxField& field, bool v1) {
    const Msg& m = field.as_message();
    LayerSpec l;
    l.loc = field.loc;
    if (v1 && m.count("layer"))
        m.find("layer")->fail("(a V0 layer inside V1 'layers') is the pre-2014 V0 format, which dlbhc does not read; "
                              "convert the file with Caffe's upgrade_net_proto_text");
    l.name = m.get_string("name", "");
    if (l.name.empty()) fail_at(l.loc, std::string(v1 ? "layers" : "layer") + " block has no name");
    const std::string where = "layer '" + l.name + "'";
    const PtxField* tf = m.find("type");
    if (!tf) fail_at(l.loc, where + " has no type");
    if (v1) {
        l.type = v2_type_from_v1(*tf);
    } else {
        l.type = tf->as_string();
        bool ok = false;
        for (const auto& t : kSupportedTypes) ok = ok || t == l.type;
        if (!ok) tf->fail("holds unknown or unsupported layer type '" + l.type + "' (supported: " + join(kSupportedTypes) + ")");
    }

    // Every field must be a common one or a block of this type.
    std::vector<std::string> known = {"name", "type", "bottom", "top", "loss_weight", "include", "exclude", "param"};
    if (v1) known.insert(known.end(), {"blobs_lr", "weight_decay"});
    const std::vector<std::string> blocks = blocks_for(l.type);
    known.insert(known.end(), blocks.begin(), blocks.end());
    for (const auto& f : m.fields) {
        bool ok = false;
        for (const auto& k : known) ok = ok || k == f.name;
        if (!ok && f.name.size() > 6 && f.name.compare(f.name.size() - 6, 6, "_param") == 0)
            f.fail("does not apply to " + where + " of type " + l.type +
                   (blocks.empty() ? std::string(" (it takes no settings block)") : " (it takes " + join(blocks) + ")"));
    }
    check_fields_once(m, known, {"bottom", "top", "loss_weight", "include", "exclude", "param", "blobs_lr", "weight_decay"}, where);

    l.bottom = m.get_strings("bottom");
    l.top = m.get_strings("top");
    for (const PtxField* f : m.all("loss_weight")) {
        float w = f->as_float();
        if (!std::isfinite(w)) f->fail("must be finite");
        l.loss_weight.push_back(w);
    }
    l.include = read_rules(m, "include", where);
    l.exclude = read_rules(m, "exclude", where);
    if (!l.include.empty() && !l.exclude.empty())
        m.all("exclude")[0]->fail("cannot be combined with include rules (Caffe: one or the other)");
    if (v1) read_params_v1(m, l);
    else read_params_v2(m, l, where);

    auto block = [&](const char* name) { return m.get_message(name); };
    auto block_what = [&](const char* name) { return std::string(name) + " of " + where; };
    const std::string& t = l.type;
    if (t == "Convolution") {
        const Msg* b = block("convolution_param");
        if (!b) fail_at(l.loc, where + " (Convolution) needs a convolution_param block");
        l.conv = read_conv(*b, block_what("convolution_param"));
        check_blob_counts(l, 1, 1, 1, 1);
    } else if (t == "Pooling") {
        const Msg* b = block("pooling_param");
        if (!b) fail_at(l.loc, where + " (Pooling) needs a pooling_param block");
        l.pool = read_pool(*b, block_what("pooling_param"));
        check_blob_counts(l, 1, 1, 1, 1);
    } else if (t == "InnerProduct") {
        const Msg* b = block("inner_product_param");
        if (!b) fail_at(l.loc, where + " (InnerProduct) needs an inner_product_param block");
        l.inner_product = read_inner_product(*b, block_what("inner_product_param"));
        check_blob_counts(l, 1, 1, 1, 1);
    } else if (t == "LRN") {
        if (const Msg* b = block("lrn_param")) l.lrn = read_lrn(*b, block_what("lrn_param"));
        else l.lrn = LRNParam{};
        check_blob_counts(l, 1, 1, 1, 1);
    } else if (t == "Dropout") {
        if (const Msg* b = block("dropout_param")) l.dropout = read_dropout(*b, block_what("dropout_param"));
        check_blob_counts(l, 1, 1, 1, 1);
    } else if (t == "ReLU") {
        if (const Msg* b = block("relu_param")) l.relu = read_relu(*b, block_what("relu_param"));
        check_blob_counts(l, 1, 1, 1, 1);
    } else if (t == "Sigmoid") {
        if (const Msg* b = block("sigmoid_param")) {
            check_fields_once(*b, {"engine"}, {}, block_what("sigmoid_param"));
            check_engine(*b);
        }
        check_blob_counts(l, 1, 1, 1, 1);
    } else if (t == "Softmax") {
        if (const Msg* b = block("softmax_param")) read_softmax(*b, block_what("softmax_param"));
        check_blob_counts(l, 1, 1, 1, 1);
    } else if (t == "SoftmaxWithLoss") {
        if (const Msg* b = block("softmax_param")) read_softmax(*b, block_what("softmax_param"));
        if (const Msg* b = block("loss_param")) l.loss = read_loss(*b, block_what("loss_param"));
        check_blob_counts(l, 2, 2, 0, 2);  // no top: Caffe names one automatically
    } else if (t == "Accuracy") {
        if (const Msg* b = block("accuracy_param")) l.accuracy_top_k = read_accuracy(*b, block_what("accuracy_param"));
        check_blob_counts(l, 2, 2, 1, 1);
    } else if (t == "Data" || t == "ImageData") {
        const char* pname = t == "Data" ? "data_param" : "image_data_param";
        const Msg* b = block(pname);
        if (!b) fail_at(l.loc, where + " (" + t + ") needs a " + pname + " block");
        l.data = t == "Data" ? read_data_param(*b, block_what(pname)) : read_image_data_param(*b, block_what(pname));
        if (const Msg* tb = block("transform_param")) l.transform = read_transform(*tb, block_what("transform_param"));
        check_blob_counts(l, 0, 0, 1, 2);
    } else if (t == "Input") {
        const Msg* b = block("input_param");
        if (!b) fail_at(l.loc, where + " (Input) needs an input_param block with one shape per top");
        b->check_fields({"shape"}, block_what("input_param"));
        for (const PtxField* f : b->all("shape")) l.input_shapes.push_back(read_blob_shape(*f, block_what("input_param")));
        check_blob_counts(l, 0, 0, 1, 64);
        if (l.input_shapes.size() != 1 && l.input_shapes.size() != l.top.size())
            fail_at(b->loc, block_what("input_param") + ": needs one shape for all tops or one per top (" +
                                std::to_string(l.top.size()) + "), got " + std::to_string(l.input_shapes.size()));
    }

    // Learnable blobs: weight (+ bias) for Convolution / InnerProduct, none otherwise.
    size_t nparams = 0;
    if (t == "Convolution") nparams = l.conv.bias_term ? 2 : 1;
    if (t == "InnerProduct") nparams = l.inner_product.bias_term ? 2 : 1;
    if (l.param.size() > nparams)
        fail_at(l.loc, where + " (" + t + ") has " + std::to_string(nparams) + " learnable blobs but " +
                           std::to_string(l.param.size()) + (v1 ? " blobs_lr / weight_decay / param entries" : " param blocks") +
                           " were given");
    const size_t ntops = t == "SoftmaxWithLoss" ? std::max<size_t>(l.top.size(), 1) : l.top.size();
    if (l.loss_weight.size() > ntops)
        fail_at(l.loc, where + " has " + std::to_string(l.loss_weight.size()) + " loss_weight entries but " +
                           std::to_string(ntops) + " tops");
    return l;
}

// ---- net-level inputs ------------------------------------------------------------------------

std::vector<NetInputSpec> read_inputs(const Msg& root) {
    std::vector<NetInputSpec> inputs;
    const std::vector<const PtxField*> names = root.all("input"), shapes = root.all("input_shape"),
                                       dims = root.all("input_dim");
    if (names.empty()) {
        if (!shapes.empty()) shapes[0]->fail("is given without an 'input' name");
        if (!dims.empty()) dims[0]->fail("is given without an 'input' name");
        return inputs;
    }
    if (!shapes.empty() && !dims.empty()) dims[0]->fail("cannot be combined with input_shape (give one or the other)");
    if (shapes.empty() && dims.empty())
        names[0]->fail("has no shape: give input_shape { dim ... } or four input_dim per input");
    if (!shapes.empty() && shapes.size() != names.size())
        shapes.back()->fail("is given " + std::to_string(shapes.size()) + " times for " + std::to_string(names.size()) +
                            " inputs (one per input)");
    if (!dims.empty() && dims.size() != 4 * names.size())
        dims.back()->fail("is given " + std::to_string(dims.size()) + " times for " + std::to_string(names.size()) +
                          " inputs (four per input: N, C, H, W)");
    for (size_t i = 0; i < names.size(); ++i) {
        NetInputSpec in;
        in.name = names[i]->as_string();
        in.loc = names[i]->loc;
        if (in.name.empty()) names[i]->fail("is empty");
        if (!shapes.empty()) {
            in.dims = read_blob_shape(*shapes[i], "input_shape");
        } else {
            for (size_t k = 0; k < 4; ++k) {
                const PtxField* f = dims[4 * i + k];
                int64_t d = f->as_int64();
                if (d < 1 || d > kMaxDim) f->fail("must be in [1, " + std::to_string(kMaxDim) + "], got " + std::to_string(d));
                in.dims.push_back(d);
            }
        }
        inputs.push_back(in);
    }
    return inputs;
}

std::string fmt(float v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.9g", (double)v);
    return buf;
}

std::string describe_filler(const FillerParam& f) {
    if (f.type == "constant") return "constant(" + fmt(f.value) + ")";
    if (f.type == "gaussian") return "gaussian(mean " + fmt(f.mean) + ", std " + fmt(f.std) + ")";
    if (f.type == "uniform") return "uniform(" + fmt(f.min) + ", " + fmt(f.max) + ")";
    if (f.type == "xavier") return "xavier(" + f.variance_norm + ")";
    return f.type;
}

std::string list(const std::vector<std::string>& v) { return "[" + join(v, " ") + "]"; }

std::string describe_rules(const char* what, const std::vector<PhaseRule>& rules) {
    if (rules.empty()) return "";
    std::string s = std::string(" ") + what + "[";
    for (size_t i = 0; i < rules.size(); ++i)
        s += std::string(i ? " " : "") + (rules[i].has_phase ? phase_name(rules[i].phase) : "any");
    return s + "]";
}

}  // namespace

// ---- public ----------------------------------------------------------------------------------

const char* phase_name(Phase p) { return p == Phase::Train ? "TRAIN" : "TEST"; }

bool LayerSpec::in_phase(Phase p) const {
    if (!include.empty()) {
        for (const PhaseRule& r : include)
            if (!r.has_phase || r.phase == p) return true;
        return false;
    }
    for (const PhaseRule& r : exclude)
        if (!r.has_phase || r.phase == p) return false;
    return true;
}

std::vector<const LayerSpec*> NetSpec::layers_in(Phase p) const {
    std::vector<const LayerSpec*> v;
    for (const LayerSpec& l : layers)
        if (l.in_phase(p)) v.push_back(&l);
    return v;
}

const LayerSpec* NetSpec::data_layer(Phase p) const {
    const LayerSpec* found = nullptr;
    for (const LayerSpec* l : layers_in(p)) {
        if (l->type != "Data" && l->type != "ImageData") continue;
        if (found)
            fail_at(l->loc, "layer '" + l->name + "' is a second data layer in phase " + phase_name(p) + " (the first is '" +
                                found->name + "' at " + found->loc.str() + "); dlbhc feeds one data layer per phase");
        found = l;
    }
    return found;
}

NetSpec net_spec_from_ptx(const PtxMessage& root) {
    NetSpec spec;
    spec.file = root.loc.file;
    for (const auto& f : root.fields)
        if (f.name == "state")
            f.fail("(NetState) is not supported; choose the phase when building the net");
    check_fields_once(root, {"name", "input", "input_shape", "input_dim", "force_backward", "debug_info", "layer", "layers"},
                      {"input", "input_shape", "input_dim", "layer", "layers"}, "the net (NetParameter)");
    spec.name = root.get_string("name", "");
    root.get_bool("force_backward", false);
    root.get_bool("debug_info", false);
    const std::vector<const PtxField*> v2 = root.all("layer"), v1 = root.all("layers");
    if (!v2.empty() && !v1.empty())
        (v1[0]->loc.line > v2[0]->loc.line ? v1[0] : v2[0])
            ->fail("mixes V1 'layers' and V2 'layer' blocks in one net; use one layout");
    spec.v1 = !v1.empty();
    spec.inputs = read_inputs(root);
    for (const PtxField* f : spec.v1 ? v1 : v2) spec.layers.push_back(read_layer(*f, spec.v1));
    if (spec.layers.empty()) fail_at(root.loc, "the net has no layers");
    return spec;
}

NetSpec parse_net_spec(const std::string& text, const std::string& name) {
    return net_spec_from_ptx(parse_prototxt(text, name));
}

NetSpec load_net_spec(const std::string& path) {
    return net_spec_from_ptx(
        load_prototxt(path, {}, "a net description", "did you swap --net and --weights?"));
}

std::string describe_layer(const LayerSpec& l) {
    std::string s = l.name + " " + l.type + " bottom" + list(l.bottom) + " top" + list(l.top);
    if (!l.param.empty()) {
        s += " param[";
        for (size_t i = 0; i < l.param.size(); ++i)
            s += std::string(i ? " " : "") + "(lr " + fmt(l.param[i].lr_mult) + ", decay " + fmt(l.param[i].decay_mult) +
                 (l.param_name[i].empty() ? "" : ", name " + l.param_name[i]) + ")";
        s += "]";
    }
    if (!l.loss_weight.empty()) {
        s += " loss_weight[";
        for (size_t i = 0; i < l.loss_weight.size(); ++i) s += std::string(i ? " " : "") + fmt(l.loss_weight[i]);
        s += "]";
    }
    s += describe_rules("include", l.include) + describe_rules("exclude", l.exclude);
    const std::string& t = l.type;
    if (t == "Convolution") {
        const ConvParam& c = l.conv;
        s += " {num_output " + std::to_string(c.num_output) + ", kernel " + std::to_string(c.kernel_h) + "x" +
             std::to_string(c.kernel_w) + ", stride " + std::to_string(c.stride_h) + "x" + std::to_string(c.stride_w) +
             ", pad " + std::to_string(c.pad_h) + "x" + std::to_string(c.pad_w) + ", group " + std::to_string(c.group) +
             ", bias " + (c.bias_term ? "yes" : "no") + ", weight_filler " + describe_filler(c.weight_filler) +
             ", bias_filler " + describe_filler(c.bias_filler) + "}";
    } else if (t == "Pooling") {
        const PoolingParam& p = l.pool;
        s += std::string(" {") + (p.pool == PoolingParam::MAX ? "MAX" : "AVE") +
             (p.global_pooling ? ", global"
                               : ", kernel " + std::to_string(p.kernel_h) + "x" + std::to_string(p.kernel_w)) +
             ", stride " + std::to_string(p.stride_h) + "x" + std::to_string(p.stride_w) + ", pad " +
             std::to_string(p.pad_h) + "x" + std::to_string(p.pad_w) + "}";
    } else if (t == "InnerProduct") {
        const InnerProductParam& p = l.inner_product;
        s += " {num_output " + std::to_string(p.num_output) + ", bias " + (p.bias_term ? "yes" : "no") +
             ", weight_filler " + describe_filler(p.weight_filler) + ", bias_filler " + describe_filler(p.bias_filler) + "}";
    } else if (t == "LRN") {
        s += " {local_size " + std::to_string(l.lrn.local_size) + ", alpha " + fmt(l.lrn.alpha) + ", beta " +
             fmt(l.lrn.beta) + ", k " + fmt(l.lrn.k) + "}";
    } else if (t == "Dropout") {
        s += " {dropout_ratio " + fmt(l.dropout.dropout_ratio) + "}";
    } else if (t == "ReLU") {
        s += " {negative_slope " + fmt(l.relu.negative_slope) + "}";
    } else if (t == "SoftmaxWithLoss") {
        s += l.loss.has_ignore_label ? " {ignore_label " + std::to_string(l.loss.ignore_label) + "}" : "";
    } else if (t == "Accuracy") {
        s += " {top_k " + std::to_string(l.accuracy_top_k) + "}";
    } else if (t == "Data" || t == "ImageData") {
        const DataSourceSpec& d = l.data;
        s += " {source \"" + d.source + "\", batch_size " + std::to_string(d.batch_size) + ", rand_skip " +
             std::to_string(d.rand_skip);
        if (t == "Data") s += ", backend " + d.backend;
        else
            s += ", new " + std::to_string(d.new_height) + "x" + std::to_string(d.new_width) + ", shuffle " +
                 (d.shuffle ? "yes" : "no") + ", is_color " + (d.is_color ? "yes" : "no") + ", root_folder \"" +
                 d.root_folder + "\"";
        s += "}";
        if (l.transform.present) {
            const TransformSpec& tr = l.transform;
            s += " transform{crop_size " + std::to_string(tr.crop_size) + ", mirror " + (tr.mirror ? "yes" : "no") +
                 ", scale " + fmt(tr.scale) + ", mean_file \"" + tr.mean_file + "\", mean_value [";
            for (size_t i = 0; i < tr.mean_value.size(); ++i) s += std::string(i ? " " : "") + fmt(tr.mean_value[i]);
            s += "]" + std::string(tr.force_color ? ", force_color" : "") + (tr.force_gray ? ", force_gray" : "") + "}";
        }
    } else if (t == "Input") {
        s += " {";
        for (size_t i = 0; i < l.input_shapes.size(); ++i) {
            s += i ? " (" : "(";
            for (size_t k = 0; k < l.input_shapes[i].size(); ++k)
                s += (k ? ", " : "") + std::to_string(l.input_shapes[i][k]);
            s += ")";
        }
        s += "}";
    }
    return s;
}

}  // namespace dlbhc
