// formats/caffe_spec.cpp -- NetParameter (V1 and V2 layer layouts) -> NetSpec. See caffe_spec.h.
#include "formats/caffe_spec.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "formats/caffe_params.h"
#include "formats/layer_registry.h"

namespace dlbhc {

namespace {

using Msg = PtxMessage;
using namespace caffe;

// ---- layer types -----------------------------------------------------------------------------

// caffe.proto's V1LayerParameter.LayerType: the enum's names and numbers (a file may give either).
// Which of them dlbhc reads is the registry's (LayerType::v1).
struct V1Type {
    const char* name;
    int number;
};
const V1Type kV1Types[] = {
    {"NONE", 0},          {"ABSVAL", 35},      {"ACCURACY", 1},      {"ARGMAX", 30},
    {"BNLL", 2},          {"CONCAT", 3},       {"CONTRASTIVE_LOSS", 37}, {"CONVOLUTION", 4},
    {"DATA", 5},          {"DECONVOLUTION", 39}, {"DROPOUT", 6},     {"DUMMY_DATA", 32},
    {"EUCLIDEAN_LOSS", 7}, {"ELTWISE", 25},    {"EXP", 38},          {"FLATTEN", 8},
    {"HDF5_DATA", 9},     {"HDF5_OUTPUT", 10}, {"HINGE_LOSS", 28},   {"IM2COL", 11},
    {"IMAGE_DATA", 12},   {"INFOGAIN_LOSS", 13}, {"INNER_PRODUCT", 14}, {"LRN", 15},
    {"MEMORY_DATA", 29},  {"MULTINOMIAL_LOGISTIC_LOSS", 16}, {"MVN", 34}, {"POOLING", 17},
    {"POWER", 26},        {"RELU", 18},        {"SIGMOID", 19},      {"SIGMOID_CROSS_ENTROPY_LOSS", 27},
    {"SILENCE", 36},      {"SOFTMAX", 20},     {"SOFTMAX_LOSS", 21}, {"SPLIT", 22},
    {"SLICE", 33},        {"TANH", 23},        {"WINDOW_DATA", 24},  {"THRESHOLD", 31},
};

const LayerType& type_from_v1(const PtxField& f) {
    const std::string e = f.as_enum();  // identifier, or a number's text
    for (const V1Type& t : kV1Types) {
        if (e != t.name && e != std::to_string(t.number)) continue;
        if (const LayerType* row = find_layer_type_v1(t.name)) return *row;
        std::vector<std::string> ok;
        for (const V1Type& u : kV1Types)
            if (find_layer_type_v1(u.name)) ok.push_back(u.name);
        f.fail("is the V1 layer type " + std::string(t.name) + ", which dlbhc does not implement (supported: " + join(ok) + ")");
    }
    f.fail("holds unknown V1 layer type '" + e + "'");
}

const LayerType& type_from_v2(const PtxField& f) {
    const std::string type = f.as_string();
    if (const LayerType* row = find_layer_type(type)) return *row;
    std::vector<std::string> ok;
    for (const LayerType& t : layer_types()) ok.push_back(t.type);
    f.fail("holds unknown or unsupported layer type '" + type + "' (supported: " + join(ok) + ")");
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

void check_blob_counts(const LayerSpec& l, const LayerType& t) {
    auto range = [](int lo, int hi) { return lo == hi ? std::to_string(lo) : std::to_string(lo) + " to " + std::to_string(hi); };
    const BlobCounts& k = t.blobs;
    const int min_top = t.auto_top ? 0 : k.min_top;  // no top: Caffe names one after the layer
    const int bottoms = (int)l.bottom.size(), tops = (int)l.top.size();
    if (bottoms < k.min_bottom || bottoms > k.max_bottom || tops < min_top || tops > k.max_top)
        fail_at(l.loc, "layer '" + l.name + "' (" + l.type + ") takes " + range(k.min_bottom, k.max_bottom) + " bottom and " +
                           range(min_top, k.max_top) + " top blobs, got " + std::to_string(bottoms) + " and " +
                           std::to_string(tops));
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
    const LayerType& row = v1 ? type_from_v1(*tf) : type_from_v2(*tf);
    l.type = row.type;

    // Every field must be a common one or a block of this type.
    std::vector<std::string> known = {"name", "type", "bottom", "top", "loss_weight", "propagate_down", "include", "exclude", "param"};
    if (v1) known.insert(known.end(), {"blobs_lr", "weight_decay"});
    const std::vector<std::string>& blocks = row.blocks;
    known.insert(known.end(), blocks.begin(), blocks.end());
    for (const auto& f : m.fields) {
        bool ok = false;
        for (const auto& k : known) ok = ok || k == f.name;
        if (!ok && f.name.size() > 6 && f.name.compare(f.name.size() - 6, 6, "_param") == 0)
            f.fail("does not apply to " + where + " of type " + l.type +
                   (blocks.empty() ? std::string(" (it takes no settings block)") : " (it takes " + join(blocks) + ")"));
    }
    check_fields_once(m, known,
                      {"bottom", "top", "loss_weight", "propagate_down", "include", "exclude", "param", "blobs_lr", "weight_decay"},
                      where);

    l.bottom = m.get_strings("bottom");
    l.top = m.get_strings("top");
    for (const PtxField* f : m.all("loss_weight")) {
        float w = f->as_float();
        if (!std::isfinite(w)) f->fail("must be finite");
        l.loss_weight.push_back(w);
    }
    for (const PtxField* f : m.all("propagate_down")) l.propagate_down.push_back(f->as_bool());
    if (!l.propagate_down.empty() && l.propagate_down.size() != l.bottom.size())
        m.all("propagate_down").back()->fail("is given " + std::to_string(l.propagate_down.size()) + " times for " +
                                             std::to_string(l.bottom.size()) + " bottoms (Caffe: none, or one per bottom)");
    l.include = read_rules(m, "include", where);
    l.exclude = read_rules(m, "exclude", where);
    if (!l.include.empty() && !l.exclude.empty())
        m.all("exclude")[0]->fail("cannot be combined with include rules (Caffe: one or the other)");
    if (v1) read_params_v1(m, l);
    else read_params_v2(m, l, where);

    row.read(m, l, where);
    check_blob_counts(l, row);

    const size_t nparams = row.learnable_blobs ? row.learnable_blobs(l) : 0;
    if (l.param.size() > nparams)
        fail_at(l.loc, where + " (" + l.type + ") has " + std::to_string(nparams) + " learnable blobs but " +
                           std::to_string(l.param.size()) + (v1 ? " blobs_lr / weight_decay / param entries" : " param blocks") +
                           " were given");
    const size_t ntops = row.auto_top ? std::max<size_t>(l.top.size(), 1) : l.top.size();
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
    if (!l.propagate_down.empty()) {
        s += " propagate_down[";
        for (size_t i = 0; i < l.propagate_down.size(); ++i) s += std::string(i ? " " : "") + (l.propagate_down[i] ? "1" : "0");
        s += "]";
    }
    s += describe_rules("include", l.include) + describe_rules("exclude", l.exclude);
    const LayerType* row = find_layer_type(l.type);
    if (row && row->describe) s += row->describe(l);
    return s;
}

}  // namespace dlbhc
