// formats/caffe_params.cpp -- the per-type settings blocks of a Caffe layer. See caffe_params.h.
#include "formats/caffe_params.h"

#include <climits>
#include <cmath>
#include <cstdio>

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

void read_hw(const Msg& m, const std::string& rep, const std::string& hname, const std::string& wname, int def,
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

void check_axis_one(const Msg& m, const std::string& name) {
    const PtxField* f = m.find(name);
    if (f && f->as_int64() != 1) f->fail("must be 1 (dlbhc works on (N, C, H, W) with channels on axis 1), got " + f->text);
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
