// tests/formats/onnx_runner.cpp -- maps one ONNX node onto a dlbhc layer and compares with ONNX's outputs.
// What is mapped, and what is skipped and why, is listed in onnx_runner.h.
#include "tests/formats/onnx_runner.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <map>
#include <stdexcept>

#include "nn/conv.h"
#include "nn/dropout.h"
#include "nn/gemm.h"
#include "nn/inner_product.h"
#include "nn/lrn.h"
#include "formats/onnx.h"
#include "io/path.h"
#include "nn/pooling.h"
#include "nn/relu.h"
#include "nn/sigmoid.h"
#include "nn/softmax.h"

namespace dlbhc {

namespace {

using Dims = std::vector<int64_t>;

// One output tensor computed by dlbhc, to be compared with the node output of the same name.
struct Produced {
    std::string output;  // node output name
    Dims dims;           // ONNX dims (the rank of the ONNX tensor, not dlbhc's 4-D shape)
    std::vector<double> values;
    std::string via;     // the dlbhc code that computed it, for messages
};

// What an op adapter did: skip reasons (empty for a full run), outputs, notes for the report.
struct Outcome {
    std::vector<std::string> skip;
    std::vector<Produced> outs;
    std::vector<std::string> notes;
};

std::string dims_str(const Dims& d) {
    std::string s = "(";
    for (size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
    return s + ")";
}

std::string join(const std::vector<std::string>& v, const char* sep) {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + v[i];
    return s;
}

int to_int(int64_t v, const std::string& what) {
    if (v < 0 || v > INT_MAX) throw std::runtime_error(what + " = " + std::to_string(v) + " is out of range");
    return int(v);
}

int64_t product(const Dims& d, size_t from, size_t to) {
    int64_t p = 1;
    for (size_t i = from; i < to && i < d.size(); ++i) p *= d[i];
    return p;
}

// The node, its input values (initializers and test inputs) and its expected outputs.
struct Case {
    const OnnxModel* model = nullptr;
    const OnnxNode* node = nullptr;
    std::map<std::string, OnnxTensor> values, expected;

    int64_t opset() const { return model->opset; }
    const OnnxNode& n() const { return *node; }
    // Node input i, or null when the node leaves it out (absent or empty name).
    const OnnxTensor* in(size_t i) const {
        if (i >= node->inputs.size() || node->inputs[i].empty()) return nullptr;
        auto it = values.find(node->inputs[i]);
        if (it == values.end())
            throw std::runtime_error("node input '" + node->inputs[i] + "' is neither an initializer nor a test input");
        return &it->second;
    }
    const OnnxTensor& need(size_t i, const char* what) const {
        const OnnxTensor* t = in(i);
        if (!t) throw std::runtime_error(node->op_type + ": required input " + std::to_string(i) + " (" + what + ") missing");
        return *t;
    }
    std::string out_name(size_t i) const { return i < node->outputs.size() ? node->outputs[i] : std::string(); }
    // Expected value of node output i, or null when the test does not check it.
    const OnnxTensor* expect(size_t i) const {
        auto it = expected.find(out_name(i));
        return it == expected.end() ? nullptr : &it->second;
    }
};

Case load_case(const OnnxModel& m, const std::string& dir) {
    Case c;
    c.model = &m;
    c.node = &m.graph.nodes.at(0);
    for (const auto& t : m.graph.initializers) c.values[t.name] = t;
    const std::string set = dir + "/test_data_set_0/";
    size_t k = 0;
    for (const auto& name : m.graph.inputs) {
        if (m.graph.initializer(name)) continue;
        c.values[name] = read_onnx_tensor(set + "input_" + std::to_string(k++) + ".pb");
    }
    if (path_exists(set + "input_" + std::to_string(k) + ".pb"))
        throw std::runtime_error(set + ": more input files than the graph's " + std::to_string(k) + " non-initializer inputs");
    for (size_t i = 0; i < m.graph.outputs.size(); ++i)
        c.expected[m.graph.outputs[i]] = read_onnx_tensor(set + "output_" + std::to_string(i) + ".pb");
    return c;
}

void load_blob(Blob& b, const OnnxTensor& t, Shape s) {
    if (s.count() != t.count())
        throw std::runtime_error("tensor '" + t.name + "' " + t.dims_str() + " does not fill shape " + s.str());
    b.reshape(s);
    std::vector<float> v = t.to_floats();
    std::copy(v.begin(), v.end(), b.data.data());
}

void load_param(Param& p, const OnnxTensor& t, const char* what) {
    if (p.value.count() != t.count())
        throw std::runtime_error(std::string(what) + " " + t.dims_str() + " does not match the layer's parameter " +
                                 p.value.shape().str());
    std::vector<float> v = t.to_floats();
    std::copy(v.begin(), v.end(), p.value.data());
}

std::vector<double> values_of(const Tensor& t) { return std::vector<double>(t.data(), t.data() + t.count()); }

// ---- Conv and pooling geometry -----------------------------------------------------------------

// An ONNX Conv/Pool node's spatial attributes mapped onto Caffe's 2-D geometry. A 1-D input
// (N, C, L) becomes (N, C, 1, L) with a 1 x k kernel.
struct Geo {
    int nd = 2;  // ONNX spatial rank: 1 or 2
    int N = 0, C = 0, H = 1, W = 1, KH = 1, KW = 1, SH = 1, SW = 1, PH = 0, PW = 0;
};

// Resolves kernel, strides, dilations and pads (explicit or from auto_pad) for input dims x.
// Appends a skip reason for each thing Caffe lacks; returns false when the node cannot run.
bool resolve_geometry(const OnnxNode& node, const Dims& x, const Dims& kernel, Geo& g, std::vector<std::string>& skip) {
    const bool conv = node.op_type == "Conv";
    if (x.size() < 3) throw std::runtime_error("input " + dims_str(x) + " has no spatial axis");
    const size_t nd = x.size() - 2;
    if (nd > 2) {
        skip.push_back(std::to_string(nd) + "-D input " + dims_str(x) + " (Caffe's layers are 2-D)");
        return false;
    }
    if (kernel.size() != nd)
        throw std::runtime_error("kernel_shape " + dims_str(kernel) + " does not fit the input's " + std::to_string(nd) +
                                 " spatial axes");
    const Dims strides = node.get_ints("strides", Dims(nd, 1));
    const Dims dil = node.get_ints("dilations", Dims(nd, 1));
    if (strides.size() != nd || dil.size() != nd)
        throw std::runtime_error("strides " + dims_str(strides) + " / dilations " + dims_str(dil) + " do not fit " +
                                 std::to_string(nd) + " spatial axes");
    bool ok = true;
    if (std::any_of(dil.begin(), dil.end(), [](int64_t d) { return d != 1; })) {
        skip.push_back("dilations " + dims_str(dil) +
                       (conv ? " (Caffe's convolution has a dilation field, dlbhc's does not: no net here uses it)"
                             : " (Caffe's pooling has none)"));
        ok = false;
    }
    const std::string auto_pad = node.get_string("auto_pad", "NOTSET");
    Dims begin(nd, 0), end(nd, 0);
    if (auto_pad == "NOTSET") {
        const Dims pads = node.get_ints("pads", Dims(2 * nd, 0));
        if (pads.size() != 2 * nd) throw std::runtime_error("pads " + dims_str(pads) + " should have " + std::to_string(2 * nd) + " values");
        for (size_t i = 0; i < nd; ++i) begin[i] = pads[i], end[i] = pads[i + nd];
    } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
        // ONNX: output = ceil(in / stride); the total padding that needs is split in two, the odd
        // pixel going after (SAME_UPPER) or before (SAME_LOWER).
        for (size_t i = 0; i < nd; ++i) {
            const int64_t in = x[2 + i], s = strides[i], k = (kernel[i] - 1) * dil[i] + 1;
            const int64_t out = (in + s - 1) / s;
            const int64_t total = std::max<int64_t>(0, (out - 1) * s + k - in);
            const int64_t small = total / 2, big = total - small;
            begin[i] = auto_pad == "SAME_UPPER" ? small : big;
            end[i] = auto_pad == "SAME_UPPER" ? big : small;
        }
    } else if (auto_pad != "VALID") {
        throw std::runtime_error("unknown auto_pad '" + auto_pad + "'");
    }
    if (begin != end) {
        skip.push_back("asymmetric pads: begin " + dims_str(begin) + ", end " + dims_str(end) +
                       (auto_pad == "NOTSET" ? std::string() : " (from auto_pad " + auto_pad + ")") +
                       " (Caffe pads both sides of an axis equally)");
        ok = false;
    }
    g.nd = int(nd);
    g.N = to_int(x[0], "N");
    g.C = to_int(x[1], "C");
    if (nd == 1) {
        g.W = to_int(x[2], "L");
        g.KW = to_int(kernel[0], "kernel");
        g.SW = to_int(strides[0], "stride");
        g.PW = to_int(begin[0], "pad");
    } else {
        g.H = to_int(x[2], "H");
        g.W = to_int(x[3], "W");
        g.KH = to_int(kernel[0], "kernel_h");
        g.KW = to_int(kernel[1], "kernel_w");
        g.SH = to_int(strides[0], "stride_h");
        g.SW = to_int(strides[1], "stride_w");
        g.PH = to_int(begin[0], "pad_h");
        g.PW = to_int(begin[1], "pad_w");
    }
    return ok;
}

// ONNX dims (N, C, [OH,] OW) for a 1-D or 2-D spatial output.
Dims spatial_dims(const Geo& g, int c, int oh, int ow) {
    if (g.nd == 1) return {g.N, c, ow};
    return {g.N, c, oh, ow};
}

// ---- The op adapters ---------------------------------------------------------------------------

Outcome run_conv(const Case& c) {
    Outcome o;
    const OnnxTensor& X = c.need(0, "X");
    const OnnxTensor& Wt = c.need(1, "W");
    const OnnxTensor* B = c.in(2);
    if (Wt.dims.size() < 3) throw std::runtime_error("W " + Wt.dims_str() + " should be (M, C/group, k...)");
    const Dims kernel = c.n().get_ints("kernel_shape", Dims(Wt.dims.begin() + 2, Wt.dims.end()));
    Geo g;
    if (!resolve_geometry(c.n(), X.dims, kernel, g, o.skip)) return o;

    ConvParam p;
    p.num_output = to_int(Wt.dims[0], "M");
    p.kernel_h = g.KH, p.kernel_w = g.KW;
    p.stride_h = g.SH, p.stride_w = g.SW;
    p.pad_h = g.PH, p.pad_w = g.PW;
    p.group = to_int(c.n().get_int("group", 1), "group");
    p.bias_term = B != nullptr;
    ConvolutionLayer L("onnx_conv", p);
    Blob x("x"), y("y");
    load_blob(x, X, Shape(g.N, g.C, g.H, g.W));
    L.reshape({&x}, {&y});
    load_param(L.param(0), Wt, "W");
    if (B) load_param(L.param(1), *B, "B");
    L.forward({&x}, {&y});
    const Shape s = y.shape();
    o.outs.push_back({c.out_name(0), spatial_dims(g, s.c, s.h, s.w), values_of(y.data), "ConvolutionLayer"});
    if (g.nd == 1) o.notes.push_back("1-D, run as (N, C, 1, L)");
    if (p.group > 1) o.notes.push_back("group " + std::to_string(p.group));
    if (!B) o.notes.push_back("no bias");
    return o;
}

Outcome run_pool(const Case& c, bool is_max, bool global) {
    Outcome o;
    const OnnxTensor& X = c.need(0, "X");
    const OnnxTensor* want = c.expect(0);
    if (!want) throw std::runtime_error("the test gives no expected value for output 0");
    PoolingParam p;
    p.pool = is_max ? PoolingParam::MAX : PoolingParam::AVE;
    Geo g;
    int OHt = 0, OWt = 0;  // the output size ONNX wants (from the expected tensor)
    bool crop = false;
    if (global) {
        // Global pooling reads a whole plane; any number of spatial axes is one plane of their product.
        if (X.dims.size() < 3) throw std::runtime_error("input " + X.dims_str() + " has no spatial axis");
        g.nd = 2;
        g.N = to_int(X.dims[0], "N");
        g.C = to_int(X.dims[1], "C");
        g.H = X.dims.size() == 4 ? to_int(X.dims[2], "H") : 1;
        g.W = to_int(X.dims.size() == 4 ? X.dims[3] : product(X.dims, 2, X.dims.size()), "W");
        if (X.dims.size() != 4) o.notes.push_back("spatial axes flattened into one plane");
        p.global_pooling = true;
    } else {
        const Dims kernel = c.n().get_ints("kernel_shape", {});
        if (kernel.empty()) throw std::runtime_error("no kernel_shape attribute");
        if (!resolve_geometry(c.n(), X.dims, kernel, g, o.skip)) return o;
        const bool ceil_mode = c.n().get_int("ceil_mode", 0) != 0;
        if (!is_max && c.n().get_int("count_include_pad", 0) == 0 && (g.PH > 0 || g.PW > 0)) {
            o.skip.push_back("count_include_pad=0 with pads: ONNX divides by the input pixels in the window only, "
                             "Caffe's AVE divisor counts the padding (the count_include_pad=1 cases are Caffe's rule)");
            return o;
        }
        if (g.PH >= g.KH || g.PW >= g.KW) {
            o.skip.push_back("pad >= kernel (Caffe requires pad < kernel)");
            return o;
        }
        if (want->dims.size() != X.dims.size())
            throw std::runtime_error("expected output " + want->dims_str() + " and input " + X.dims_str() + " differ in rank");
        OHt = g.nd == 1 ? 1 : to_int(want->dims[2], "expected OH");
        OWt = to_int(want->dims[g.nd == 1 ? 2 : 3], "expected OW");
        const int OH = pooled_size(g.H, g.KH, g.SH, g.PH), OW = pooled_size(g.W, g.KW, g.SW, g.PW);
        if (OH != OHt || OW != OWt) {
            const std::string sz = g.nd == 1 ? std::to_string(OWt) : std::to_string(OHt) + "x" + std::to_string(OWt);
            const std::string cz = g.nd == 1 ? std::to_string(OW) : std::to_string(OH) + "x" + std::to_string(OW);
            o.skip.push_back(ceil_mode ? "ceil_mode: ONNX's ceil gives " + sz + " outputs, Caffe's rule " + cz
                                       : "floor rounding (ceil_mode=0; Caffe always rounds up): ONNX gives " + sz +
                                             " outputs, Caffe " + cz);
            if (OH < OHt || OW < OWt) return o;
            // Caffe's extra last row/column is a window ONNX drops; every other window is the same
            // in both, so those are still compared.
            crop = true;
        }
        p.kernel_h = g.KH, p.kernel_w = g.KW;
        p.stride_h = g.SH, p.stride_w = g.SW;
        p.pad_h = g.PH, p.pad_w = g.PW;
        if (g.nd == 1) o.notes.push_back("1-D, run as (N, C, 1, L)");
        if (ceil_mode) o.notes.push_back("ceil_mode");
        if (!is_max && (g.PH > 0 || g.PW > 0)) o.notes.push_back("count_include_pad=1");
    }
    PoolingLayer L("onnx_pool", p);
    Blob x("x"), y("y");
    load_blob(x, X, Shape(g.N, g.C, g.H, g.W));
    L.reshape({&x}, {&y});
    L.forward({&x}, {&y});
    const PoolGeom& pg = L.geometry();
    if (!crop) OHt = pg.OH, OWt = pg.OW;

    // Output 0 (and MaxPool's Indices, output 1), cut to OHt x OWt.
    std::vector<int> argmax;
    const bool want_indices = is_max && !global && c.expect(1) != nullptr;
    if (want_indices) {
        // The layer keeps its argmax private; the kernel it runs gives the same one.
        std::vector<float> tmp(y.count());
        argmax.resize(y.count());
        maxpool_forward(tmp.data(), argmax.data(), x.data.data(), pg);
    }
    const bool col_major = c.n().get_int("storage_order", 0) != 0;
    std::vector<double> vals, idx;
    for (int n = 0; n < pg.N; ++n)
        for (int ch = 0; ch < pg.C; ++ch)
            for (int oh = 0; oh < OHt; ++oh)
                for (int ow = 0; ow < OWt; ++ow) {
                    const size_t o_i = ((size_t(n) * pg.C + ch) * pg.OH + oh) * pg.OW + ow;
                    vals.push_back(y.data[o_i]);
                    if (!want_indices) continue;
                    // ONNX Indices: flat over (N, C, H, W), row-major (storage_order 0) or with the
                    // spatial axes column-major (storage_order 1); padding not counted.
                    const int h = argmax[o_i] / pg.W, w = argmax[o_i] % pg.W;
                    const double plane = (double(n) * pg.C + ch) * pg.H * pg.W;
                    idx.push_back(plane + (col_major ? double(w) * pg.H + h : double(h) * pg.W + w));
                }
    Dims dims = global ? Dims(X.dims.size(), 1) : spatial_dims(g, pg.C, OHt, OWt);
    if (global) dims[0] = pg.N, dims[1] = pg.C;
    o.outs.push_back({c.out_name(0), dims, vals, "PoolingLayer"});
    if (want_indices) {
        o.outs.push_back({c.out_name(1), dims, idx, "maxpool_forward argmax"});
        o.notes.push_back(std::string("Indices checked") + (col_major ? " (storage_order=1)" : ""));
    }
    return o;
}

Outcome run_lrn(const Case& c) {
    Outcome o;
    const OnnxTensor& X = c.need(0, "X");
    const int64_t size = c.n().get_int("size", 0);
    if (size < 1) throw std::runtime_error("LRN needs a size >= 1");
    if (size % 2 == 0) {
        o.skip.push_back("even size " + std::to_string(size) + " (an off-centre window; Caffe requires an odd local_size)");
        return o;
    }
    if (X.dims.size() < 2) throw std::runtime_error("input " + X.dims_str() + " has no channel axis");
    // ONNX LRN: y = x / (bias + alpha / size * sum of x^2 over the size channels around)^beta,
    // the window clipped at the first and last channel -- Caffe's ACROSS_CHANNELS with k = bias.
    LRNParam p;
    p.local_size = int(size);
    p.alpha = c.n().get_float("alpha", 1e-4f);
    p.beta = c.n().get_float("beta", 0.75f);
    p.k = c.n().get_float("bias", 1.0f);
    LRNLayer L("onnx_lrn", p);
    Blob x("x"), y("y");
    load_blob(x, X, Shape(to_int(X.dims[0], "N"), to_int(X.dims[1], "C"), to_int(product(X.dims, 2, X.dims.size()), "H*W"), 1));
    L.reshape({&x}, {&y});
    L.forward({&x}, {&y});
    o.outs.push_back({c.out_name(0), X.dims, values_of(y.data), "LRNLayer"});
    return o;
}

// Writes C (broadcast to (M, N) as ONNX's unidirectional broadcasting) into y.
void broadcast_c(const OnnxTensor& C, int M, int N, std::vector<float>& y) {
    Dims d = C.dims;
    if (d.size() > 2) throw std::runtime_error("C " + C.dims_str() + " has more than 2 axes");
    while (d.size() < 2) d.insert(d.begin(), 1);
    if ((d[0] != 1 && d[0] != M) || (d[1] != 1 && d[1] != N))
        throw std::runtime_error("C " + C.dims_str() + " does not broadcast to (" + std::to_string(M) + ", " +
                                 std::to_string(N) + ")");
    const std::vector<float> v = C.to_floats();
    for (int i = 0; i < M; ++i)
        for (int j = 0; j < N; ++j) y[size_t(i) * N + j] = v[size_t(d[0] == 1 ? 0 : i) * d[1] + (d[1] == 1 ? 0 : j)];
}

Outcome run_gemm(const Case& c) {
    Outcome o;
    const OnnxTensor& A = c.need(0, "A");
    const OnnxTensor& B = c.need(1, "B");
    const OnnxTensor* C = c.in(2);
    const float alpha = c.n().get_float("alpha", 1.0f), beta = c.n().get_float("beta", 1.0f);
    const bool ta = c.n().get_int("transA", 0) != 0, tb = c.n().get_int("transB", 0) != 0;
    if (A.dims.size() != 2 || B.dims.size() != 2)
        throw std::runtime_error("Gemm needs 2-D A and B, found " + A.dims_str() + " and " + B.dims_str());
    const int M = to_int(A.dims[ta ? 1 : 0], "M"), K = to_int(A.dims[ta ? 0 : 1], "K");
    const int Kb = to_int(B.dims[tb ? 1 : 0], "K"), N = to_int(B.dims[tb ? 0 : 1], "N");
    if (K != Kb) throw std::runtime_error("A " + A.dims_str() + " and B " + B.dims_str() + " disagree on K");
    // Y = alpha op(A) op(B) + beta C: C is broadcast into Y first, then sgemm accumulates onto it.
    std::vector<float> y(size_t(M) * N, 0.0f);
    if (C) broadcast_c(*C, M, N, y);
    const std::vector<float> a = A.to_floats(), b = B.to_floats();
    sgemm(ta, tb, M, N, K, alpha, a.data(), ta ? M : K, b.data(), tb ? K : N, C ? beta : 0.0f, y.data(), N);
    o.outs.push_back({c.out_name(0), {M, N}, std::vector<double>(y.begin(), y.end()), "sgemm"});
    o.notes.push_back(std::string("transA=") + (ta ? "1" : "0") + " transB=" + (tb ? "1" : "0"));

    // Caffe's InnerProduct is y = x w^T + b: Gemm with transB=1, alpha=1 and a bias vector of N (beta=1).
    const bool ip_bias = C && beta == 1.0f && C->count() == size_t(N) && (C->dims == Dims{N} || C->dims == Dims{1, N});
    if (!ta && tb && alpha == 1.0f && (!C || ip_bias)) {
        InnerProductParam ip;
        ip.num_output = N;
        ip.bias_term = C != nullptr;
        InnerProductLayer L("onnx_fc", ip);
        Blob x("x"), out("y");
        load_blob(x, A, Shape(M, K, 1, 1));
        L.reshape({&x}, {&out});
        load_param(L.param(0), B, "B");
        if (C) load_param(L.param(1), *C, "C");
        L.forward({&x}, {&out});
        o.outs.push_back({c.out_name(0), {M, N}, values_of(out.data), "InnerProductLayer"});
        o.notes.push_back("also InnerProductLayer");
    }
    return o;
}

Outcome run_elementwise(const Case& c, Layer& L) {
    Outcome o;
    const OnnxTensor& X = c.need(0, "X");
    Blob x("x"), y("y");
    load_blob(x, X, Shape(to_int(int64_t(X.count()), "count")));
    L.reshape({&x}, {&y});
    L.forward({&x}, {&y});
    o.outs.push_back({c.out_name(0), X.dims, values_of(y.data), L.type() + std::string("Layer")});
    return o;
}

Outcome run_softmax(const Case& c) {
    Outcome o;
    const OnnxTensor& X = c.need(0, "X");
    const int64_t r = int64_t(X.dims.size());
    // Opset 13 changed Softmax: before, the axes from `axis` on are flattened into one (default
    // axis 1); from 13 on it normalises along the one axis (default -1).
    const bool per_axis = c.opset() >= 13;
    int64_t axis = c.n().get_int("axis", per_axis ? -1 : 1);
    if (axis < 0) axis += r;
    if (axis < 0 || axis >= r) throw std::runtime_error("axis out of range for input " + X.dims_str());
    // dlbhc's Softmax normalises over C of (N, C, H, W) for each (n, h, w): the tensor is viewed as
    // (outer, K, inner, 1), no data moved.
    const int64_t outer = product(X.dims, 0, size_t(axis));
    const int64_t K = per_axis ? X.dims[size_t(axis)] : product(X.dims, size_t(axis), size_t(r));
    const int64_t inner = per_axis ? product(X.dims, size_t(axis) + 1, size_t(r)) : 1;
    SoftmaxLayer L("onnx_softmax");
    Blob x("x"), y("y");
    load_blob(x, X, Shape(to_int(outer, "outer"), to_int(K, "K"), to_int(inner, "inner"), 1));
    L.reshape({&x}, {&y});
    L.forward({&x}, {&y});
    o.outs.push_back({c.out_name(0), X.dims, values_of(y.data), "SoftmaxLayer"});
    o.notes.push_back("axis " + std::to_string(axis) + (per_axis ? "" : " (opset " + std::to_string(c.opset()) + ": axes flattened)") +
                      " as (" + std::to_string(outer) + ", " + std::to_string(K) + ", " + std::to_string(inner) + ")");
    return o;
}

Outcome run_dropout(const Case& c) {
    Outcome o;
    const OnnxTensor& X = c.need(0, "X");
    float ratio = 0.5f;
    bool training = false;
    if (c.opset() >= 12) {  // ratio and training_mode are inputs 1 and 2
        if (const OnnxTensor* r = c.in(1)) ratio = r->to_floats().at(0);
        if (const OnnxTensor* t = c.in(2)) training = t->to_floats().at(0) != 0.0f;
    } else {
        ratio = c.n().get_float("ratio", 0.5f);
        training = c.opset() < 7 && c.n().get_int("is_test", 0) == 0;
    }
    if (training && ratio > 0.0f) {
        o.skip.push_back("training mode, ratio " + std::to_string(ratio) +
                         ": the expected mask was drawn by ONNX's random generator, which dlbhc's Rng cannot reproduce");
        return o;
    }
    DropoutParam p;
    p.dropout_ratio = training ? ratio : 0.5f;  // in inference the ratio plays no part
    DropoutLayer L("onnx_dropout", p);
    L.set_phase(training ? Phase::Train : Phase::Test);
    Blob x("x"), y("y");
    load_blob(x, X, Shape(to_int(int64_t(X.count()), "count")));
    L.reshape({&x}, {&y});
    L.forward({&x}, {&y});
    o.outs.push_back({c.out_name(0), X.dims, values_of(y.data), training ? "DropoutLayer (Train)" : "DropoutLayer (Test)"});
    if (c.expect(1)) {
        std::vector<double> mask(X.count(), 1.0);
        if (training) std::copy(L.mask().begin(), L.mask().end(), mask.begin());
        o.outs.push_back({c.out_name(1), X.dims, mask, training ? "DropoutLayer mask" : "all-true inference mask"});
    }
    o.notes.push_back(training ? "training mode with ratio 0, mask from the layer" : "inference (identity)");
    return o;
}

Outcome dispatch(const Case& c) {
    const std::string& op = c.n().op_type;
    if (op == "Conv") return run_conv(c);
    if (op == "MaxPool") return run_pool(c, true, false);
    if (op == "AveragePool") return run_pool(c, false, false);
    if (op == "GlobalMaxPool") return run_pool(c, true, true);
    if (op == "GlobalAveragePool") return run_pool(c, false, true);
    if (op == "LRN") return run_lrn(c);
    if (op == "Gemm") return run_gemm(c);
    if (op == "Relu") {
        ReLULayer L("onnx_relu");
        return run_elementwise(c, L);
    }
    if (op == "Sigmoid") {
        SigmoidLayer L("onnx_sigmoid");
        return run_elementwise(c, L);
    }
    if (op == "Softmax") return run_softmax(c);
    if (op == "Dropout") return run_dropout(c);
    throw std::logic_error("dispatch: no adapter for " + op);
}

// Compares one produced tensor with its expected value; returns "" or what differs.
std::string compare(const Produced& p, const OnnxTensor& want, double& max_err) {
    const std::string who = "output '" + p.output + "' (" + p.via + ")";
    if (p.dims != want.dims) return who + ": dims " + dims_str(p.dims) + ", expected " + want.dims_str();
    const std::vector<float> w = want.to_floats();
    if (w.size() != p.values.size()) return who + ": " + std::to_string(p.values.size()) + " values, expected " + std::to_string(w.size());
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < w.size(); ++i) {
        const double d = std::fabs(p.values[i] - double(w[i]));
        max_err = std::isnan(d) ? INFINITY : std::max(max_err, d);
        if (!(d <= kOnnxAbsTol + kOnnxRelTol * std::fabs(double(w[i])))) {
            if (!bad) first = i;
            ++bad;
        }
    }
    if (!bad) return "";
    return who + ": " + std::to_string(bad) + " of " + std::to_string(w.size()) + " values differ; first at " +
           std::to_string(first) + ": ours " + std::to_string(p.values[first]) + ", expected " + std::to_string(w[first]);
}

}  // namespace

const std::vector<std::string>& onnx_runner_ops() {
    static const std::vector<std::string> ops = {"Conv", "MaxPool", "AveragePool", "GlobalMaxPool", "GlobalAveragePool",
                                                 "LRN",  "Gemm",    "Relu",        "Sigmoid",       "Softmax",
                                                 "Dropout"};
    return ops;
}

bool onnx_runner_handles(const std::string& op) {
    const auto& ops = onnx_runner_ops();
    return std::find(ops.begin(), ops.end(), op) != ops.end();
}

OnnxCaseResult run_onnx_case(const std::string& dir) {
    OnnxCaseResult r;
    try {
        const OnnxModel m = read_onnx_model(dir + "/model.onnx");
        const auto& nodes = m.graph.nodes;
        if (nodes.empty()) throw std::runtime_error(dir + "/model.onnx: the graph has no node");
        r.op_type = nodes[0].op_type;
        if (nodes.size() != 1) {
            std::vector<std::string> ops;
            for (const auto& n : nodes) ops.push_back(n.op_type);
            r.status = OnnxCaseResult::kSkip;
            r.reason = std::to_string(nodes.size()) + " nodes (" + join(ops, ", ") + "); the runner runs single-node models";
            return r;
        }
        if (!onnx_runner_handles(r.op_type)) {
            r.status = OnnxCaseResult::kSkip;
            r.reason = "op " + r.op_type + " is not mapped onto a dlbhc layer";
            return r;
        }
        const Case c = load_case(m, dir);
        const Outcome o = dispatch(c);
        std::vector<std::string> problems;
        for (const auto& p : o.outs) {
            auto it = c.expected.find(p.output);
            if (it == c.expected.end()) {
                problems.push_back("output '" + p.output + "' (" + p.via + ") has no expected value");
                continue;
            }
            std::string d = compare(p, it->second, r.max_err);
            if (!d.empty()) problems.push_back(d);
            ++r.compared;
        }
        // A full run must account for every output the test checks.
        if (o.skip.empty())
            for (size_t i = 0; i < c.n().outputs.size(); ++i) {
                const bool checked = c.expect(i) == nullptr ||
                                     std::any_of(o.outs.begin(), o.outs.end(), [&](const Produced& p) { return p.output == c.out_name(i); });
                if (!checked) problems.push_back("output '" + c.out_name(i) + "' is expected but was not computed");
            }
        if (!problems.empty()) {
            r.status = OnnxCaseResult::kFail;
            r.reason = join(problems, "; ");
        } else if (!o.skip.empty()) {
            r.status = OnnxCaseResult::kSkip;
            r.reason = join(o.skip, "; ");
            if (r.compared) r.reason += " [the windows both share were compared and match]";
        } else {
            r.status = OnnxCaseResult::kPass;
            r.reason = join(o.notes, ", ");
        }
    } catch (const std::exception& e) {
        r.status = OnnxCaseResult::kFail;
        r.reason = e.what();
    }
    return r;
}

}  // namespace dlbhc
