// formats/caffe_params.cpp -- the per-type settings blocks of a Caffe layer. See caffe_params.h.
#include "formats/caffe_params.h"

#include <climits>
#include <cmath>

namespace dlbhc {
namespace caffe {

using Msg = PtxMessage;

std::string join(const std::vector<std::string>& v, const char* sep) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
    return s;
}

// ---- value helpers ---------------------------------------------------------------------------

// An integer field within [lo, hi], or def when absent.
int int_in(const Msg& m, const std::string& name, int def, int64_t lo, int64_t hi) {
    const PtxField* f = m.find(name);
    if (!f) return def;
    const int64_t v = f->as_int64();
    if (v < lo || v > hi)
        f->fail(hi >= INT_MAX ? "must be >= " + std::to_string(lo) + ", got " + std::to_string(v)
                              : "must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " + std::to_string(v));
    return (int)v;
}

float finite_float(const Msg& m, const std::string& name, float def) {
    const PtxField* f = m.find(name);
    if (!f) return def;
    const float v = f->as_float();
    if (!std::isfinite(v)) f->fail("must be a finite number, got " + f->text);
    return v;
}

// An enum field whose accepted values are `names` (numbers map to their index).
std::string enum_of(const Msg& m, const std::string& name, const std::vector<std::string>& names, const std::string& def) {
    const PtxField* f = m.find(name);
    if (!f) return def;
    const std::string e = f->as_enum();
    for (size_t i = 0; i < names.size(); ++i)
        if (e == names[i] || e == std::to_string(i)) return names[i];
    f->fail("holds '" + e + "' but expects one of " + join(names));
}

// Fields that may not appear more than once: every field in `known` not in `repeated`.
void check_fields_once(const Msg& m, const std::vector<std::string>& known, const std::vector<std::string>& repeated,
                       const std::string& what) {
    m.check_fields(known, what);
    for (const auto& k : known) {
        bool rep = false;
        for (const auto& r : repeated) rep = rep || r == k;
        if (!rep) m.find(k);  // throws on a repeat
    }
}

void fail_at(const PtxLocation& loc, const std::string& msg) { ptx_fail(loc, msg); }

// ---- parameter blocks ------------------------------------------------------------------------

FillerParam read_filler(const PtxField& field, const std::string& where) {
    const Msg& m = field.as_message();
    const std::string what = field.name + " of " + where;
    check_fields_once(m, {"type", "value", "min", "max", "mean", "std", "sparse", "variance_norm"}, {}, what);
    FillerParam p;
    p.type = m.get_string("type", "constant");
    if (p.type != "constant" && p.type != "gaussian" && p.type != "uniform" && p.type != "xavier")
        m.find("type")->fail("holds filler type '" + p.type +
                             "', which dlbhc does not implement (constant, gaussian, uniform, xavier)");
    p.value = finite_float(m, "value", 0.0f);
    p.min = finite_float(m, "min", 0.0f);
    p.max = finite_float(m, "max", 1.0f);
    p.mean = finite_float(m, "mean", 0.0f);
    p.std = finite_float(m, "std", 1.0f);
    if (m.get_int("sparse", -1) != -1) m.find("sparse")->fail("(sparse filling) is not supported; only -1 (off)");
    p.variance_norm = enum_of(m, "variance_norm", {"FAN_IN", "FAN_OUT", "AVERAGE"}, "FAN_IN");
    if (p.type == "gaussian" && p.std < 0) m.find("std")->fail("must be >= 0 for a gaussian filler");
    if (p.type == "uniform" && p.min > p.max)
        fail_at(m.loc, what + ": uniform filler needs min <= max, got min " + std::to_string(p.min) + " and max " +
                           std::to_string(p.max));
    return p;
}

// Caffe's 2-D size settings: `rep` (repeated in ConvolutionParameter, singular in
// PoolingParameter) holding 1 value for both axes or 2 for (h, w), or the pair hname/wname.
static void read_hw(const Msg& m, const std::string& rep, const std::string& hname, const std::string& wname, int def,
             int lo, bool required, const std::string& what, int& h, int& w) {
    const std::vector<const PtxField*> vals = m.all(rep);
    const PtxField* hf = m.find(hname);
    const PtxField* wf = m.find(wname);
    if (hf || wf) {
        if (!vals.empty()) (hf ? hf : wf)->fail("cannot be combined with " + rep + " (give " + rep + ", or " + hname + " and " + wname + ")");
        if (!hf || !wf) (hf ? hf : wf)->fail("needs its partner: give both " + hname + " and " + wname);
        h = int_in(m, hname, def, lo, kMaxDim);
        w = int_in(m, wname, def, lo, kMaxDim);
        return;
    }
    if (vals.empty()) {
        if (required) fail_at(m.loc, what + " needs " + rep + " (or " + hname + " and " + wname + ")");
        h = w = def;
        return;
    }
    if (vals.size() > 2) vals[2]->fail("is given " + std::to_string(vals.size()) + " times; a 2-D layer takes 1 (both axes) or 2 (h, w)");
    auto value = [&](const PtxField* f) {
        int64_t v = f->as_int64();
        if (v < lo || v > kMaxDim)
            f->fail("must be in [" + std::to_string(lo) + ", " + std::to_string(kMaxDim) + "], got " + std::to_string(v));
        return (int)v;
    };
    h = value(vals[0]);
    w = value(vals.size() == 2 ? vals[1] : vals[0]);
}

void check_engine(const Msg& m) { enum_of(m, "engine", {"DEFAULT", "CAFFE", "CUDNN"}, "DEFAULT"); }

static void check_axis_one(const Msg& m, const std::string& name = "axis") {
    const PtxField* f = m.find(name);
    if (f && f->as_int64() != 1) f->fail("must be 1 (dlbhc works on (N, C, H, W) with channels on axis 1), got " + f->text);
}

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
    if (!p.global_pooling && (p.pad_h >= p.kernel_h || p.pad_w >= p.kernel_w))
        fail_at(m.loc, what + ": pad (" + std::to_string(p.pad_h) + ", " + std::to_string(p.pad_w) +
                           ") must be smaller than the kernel (" + std::to_string(p.kernel_h) + ", " +
                           std::to_string(p.kernel_w) + ")");
    check_engine(m);
    const std::string round = enum_of(m, "round_mode", {"CEIL", "FLOOR"}, "CEIL");
    if (round != "CEIL") m.find("round_mode")->fail("is FLOOR; dlbhc implements Caffe's default CEIL rounding only");
    return p;
}

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

DropoutParam read_dropout(const Msg& m, const std::string& what) {
    check_fields_once(m, {"dropout_ratio", "scale_train"}, {}, what);
    DropoutParam p;
    p.dropout_ratio = finite_float(m, "dropout_ratio", 0.5f);
    if (!(p.dropout_ratio >= 0 && p.dropout_ratio < 1)) m.find("dropout_ratio")->fail("must be in [0, 1), got " + m.find("dropout_ratio")->text);
    if (!m.get_bool("scale_train", true)) m.find("scale_train")->fail("must be true (dlbhc scales at training time, as Caffe's default)");
    return p;
}

ReLUParam read_relu(const Msg& m, const std::string& what) {
    check_fields_once(m, {"negative_slope", "engine"}, {}, what);
    check_engine(m);
    ReLUParam p;
    p.negative_slope = finite_float(m, "negative_slope", 0.0f);
    return p;
}

void read_softmax(const Msg& m, const std::string& what) {
    check_fields_once(m, {"axis", "engine"}, {}, what);
    check_axis_one(m);
    check_engine(m);
}

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

int read_accuracy(const Msg& m, const std::string& what) {
    check_fields_once(m, {"top_k", "axis", "ignore_label"}, {}, what);
    check_axis_one(m);
    if (const PtxField* f = m.find("ignore_label")) f->fail("is not supported by dlbhc's Accuracy layer");
    return int_in(m, "top_k", 1, 1, kMaxOutputs);
}

// Old data-layer fields that Caffe moved into transform_param.
static void reject_old_transform_fields(const Msg& m) {
    for (const char* k : {"scale", "mean_file", "crop_size", "mirror"})
        if (const PtxField* f = m.find(k)) f->fail("is the pre-2014 location of this setting; move it to transform_param");
}

DataSourceSpec read_data_param(const Msg& m, const std::string& what) {
    check_fields_once(m, {"source", "batch_size", "rand_skip", "backend", "prefetch", "force_encoded_color", "scale",
                          "mean_file", "crop_size", "mirror"},
                      {}, what);
    reject_old_transform_fields(m);
    DataSourceSpec d;
    if (!m.find("source")) fail_at(m.loc, what + " needs source");
    d.source = m.get_string("source", "");
    if (!m.find("batch_size")) fail_at(m.loc, what + " needs batch_size");
    d.batch_size = int_in(m, "batch_size", 0, 1, kMaxOutputs);
    d.rand_skip = int_in(m, "rand_skip", 0, 0, INT_MAX);
    d.backend = enum_of(m, "backend", {"LEVELDB", "LMDB"}, "LEVELDB");
    int_in(m, "prefetch", 4, 1, 1024);
    if (m.get_bool("force_encoded_color", false)) m.find("force_encoded_color")->fail("must be false (not supported)");
    return d;
}

DataSourceSpec read_image_data_param(const Msg& m, const std::string& what) {
    check_fields_once(m, {"source", "batch_size", "rand_skip", "shuffle", "new_height", "new_width", "is_color",
                          "root_folder", "scale", "mean_file", "crop_size", "mirror"},
                      {}, what);
    reject_old_transform_fields(m);
    DataSourceSpec d;
    d.backend = "";
    if (!m.find("source")) fail_at(m.loc, what + " needs source");
    d.source = m.get_string("source", "");
    d.batch_size = int_in(m, "batch_size", 1, 1, kMaxOutputs);
    d.rand_skip = int_in(m, "rand_skip", 0, 0, INT_MAX);
    d.shuffle = m.get_bool("shuffle", false);
    d.new_height = int_in(m, "new_height", 0, 0, (int)kMaxDim);
    d.new_width = int_in(m, "new_width", 0, 0, (int)kMaxDim);
    if ((d.new_height > 0) != (d.new_width > 0))
        fail_at(m.loc, what + ": new_height and new_width must be given together (got " + std::to_string(d.new_height) +
                           " and " + std::to_string(d.new_width) + ")");
    d.is_color = m.get_bool("is_color", true);
    d.root_folder = m.get_string("root_folder", "");
    return d;
}

TransformSpec read_transform(const Msg& m, const std::string& what) {
    check_fields_once(m, {"scale", "mirror", "crop_size", "mean_file", "mean_value", "force_color", "force_gray"},
                      {"mean_value"}, what);
    TransformSpec t;
    t.present = true;
    t.scale = finite_float(m, "scale", 1.0f);
    t.mirror = m.get_bool("mirror", false);
    t.crop_size = int_in(m, "crop_size", 0, 0, (int)kMaxDim);
    t.mean_file = m.get_string("mean_file", "");
    for (const PtxField* f : m.all("mean_value")) {
        float v = f->as_float();
        if (!std::isfinite(v)) f->fail("must be finite");
        t.mean_value.push_back(v);
    }
    if (!t.mean_file.empty() && !t.mean_value.empty())
        m.find("mean_file")->fail("cannot be combined with mean_value (give one or the other)");
    t.force_color = m.get_bool("force_color", false);
    t.force_gray = m.get_bool("force_gray", false);
    if (t.force_color && t.force_gray) m.find("force_gray")->fail("cannot be combined with force_color");
    return t;
}

// A BlobShape message { dim: ... }: 1 to 4 dims, each in [1, kMaxDim].
std::vector<int64_t> read_blob_shape(const PtxField& field, const std::string& what) {
    const Msg& m = field.as_message();
    m.check_fields({"dim"}, what);
    std::vector<int64_t> dims;
    for (const PtxField* f : m.all("dim")) {
        int64_t d = f->as_int64();
        if (d < 1 || d > kMaxDim) f->fail("must be in [1, " + std::to_string(kMaxDim) + "], got " + std::to_string(d));
        dims.push_back(d);
    }
    if (dims.empty() || dims.size() > 4)
        fail_at(m.loc, what + ": a shape needs 1 to 4 dims (N, C, H, W), got " + std::to_string(dims.size()));
    return dims;
}

}  // namespace caffe
}  // namespace dlbhc
