// formats/onnx_weights.cpp -- see onnx_weights.h for the field numbers and the conversion rules.
#include "formats/onnx_weights.h"

#include <cstring>
#include <map>
#include <set>
#include <stdexcept>

#include "io/file_io.h"

namespace dlbhc {

namespace {

// The element types an initializer may have: weights (FLOAT, DOUBLE) and the graph constants
// that are skipped (INT32, INT64).
constexpr uint32_t kInitializerTypes = onnx_type::bit(kOnnxFloat) | onnx_type::bit(kOnnxDouble) |
                                       onnx_type::bit(kOnnxInt32) | onnx_type::bit(kOnnxInt64);

// The decoded tensor as dlbhc weights: float32 values, integers converted only when exact.
NamedTensor to_named(OnnxTensor t, int* data_type) {
    NamedTensor n;
    n.data = t.is_float() ? std::move(t.floats) : t.to_floats();
    n.name = std::move(t.name);
    n.dims = std::move(t.dims);
    if (data_type) *data_type = t.data_type;
    return n;
}

}  // namespace

NamedTensor read_onnx_tensor(const pb::Reader& parent, const pb::Field& f, int* data_type) {
    return to_named(decode_onnx_tensor(parent, f, kInitializerTypes), data_type);
}

NamedTensor read_onnx_tensor_file(const std::string& path, int* data_type) {
    MappedFile m(path, "ONNX tensor file");  // the whole file is the TensorProto
    return to_named(parse_onnx_tensor(m.data(), m.size(), path, 0, kInitializerTypes), data_type);
}

std::string onnx_param_name(const std::string& n) {
    auto ends = [&](const char* s) {
        size_t k = std::strlen(s);
        return n.size() > k && n.compare(n.size() - k, k, s) == 0;
    };
    auto stem = [&](const char* s) { return n.substr(0, n.size() - std::strlen(s)); };
    if (ends("_w_0")) return stem("_w_0") + ".weight";
    if (ends("_b_0")) return stem("_b_0") + ".bias";
    if (ends("_W")) return stem("_W") + ".weight";
    if (ends("_b")) return stem("_b") + ".bias";
    return n;
}

namespace {

struct NodeSummary {
    std::string name, op;
    std::vector<std::string> inputs;
    std::map<std::string, double> attrs;  // the numeric (f / i) attributes
    size_t offset = 0;
};

NodeSummary decode_node(const pb::Reader& parent, const pb::Field& nf) {
    pb::Reader r = parent.sub(nf);
    NodeSummary n;
    n.offset = nf.offset;
    pb::Field f;
    while (r.next(f)) {
        if (f.number == 1) n.inputs.push_back(r.as_string(f));
        else if (f.number == 3) n.name = r.as_string(f);
        else if (f.number == 4) n.op = r.as_string(f);
        else if (f.number == 5) {
            pb::Reader a = r.sub(f);
            pb::Field af;
            std::string key;
            double v = 0;
            bool numeric = false;
            while (a.next(af)) {
                if (af.number == 1) key = a.as_string(af);
                else if (af.number == 2) v = a.as_float(af), numeric = true;
                else if (af.number == 3) v = (double)a.as_int(af), numeric = true;
            }
            if (numeric) n.attrs[key] = v;
        }
    }
    return n;
}

double attr(const NodeSummary& n, const char* key, double def) {
    auto it = n.attrs.find(key);
    return it == n.attrs.end() ? def : it->second;
}

void transpose2d(NamedTensor& t) {
    const size_t rows = (size_t)t.dims[0], cols = (size_t)t.dims[1];
    std::vector<float> out(t.data.size());
    for (size_t i = 0; i < rows; ++i)
        for (size_t j = 0; j < cols; ++j) out[j * rows + i] = t.data[i * cols + j];
    t.data.swap(out);
    std::swap(t.dims[0], t.dims[1]);
}

}  // namespace

ImportedWeights decode_onnx_weights(const uint8_t* data, size_t size, const std::string& file) {
    pb::Reader model(data, size, file);
    pb::Field f, graph_field;
    bool has_graph = false;
    while (model.next(f))
        if (f.number == 7) {
            graph_field = f;
            has_graph = true;
        }
    if (!has_graph)
        throw std::runtime_error(file + ": expected an ONNX ModelProto with a graph (field 7), found none" +
                                 (size ? " (is this an .onnx file?)" : std::string(" (empty file)")));
    pb::Reader graph = model.sub(graph_field);
    std::vector<NodeSummary> nodes;
    std::vector<pb::Field> inits;
    while (graph.next(f)) {
        if (f.number == 1) nodes.push_back(decode_node(graph, f));
        else if (f.number == 5) inits.push_back(f);
    }

    // Which initializers hold a fully connected weight stored (I, O).
    std::map<std::string, std::string> transpose;  // initializer -> why
    std::set<std::string> gemm_ok;
    for (const NodeSummary& n : nodes) {
        const std::string nn = "node '" + n.name + "' (" + n.op + ", byte " + std::to_string(n.offset) + ")";
        if (n.op == "Gemm" && n.inputs.size() >= 2) {
            if (attr(n, "alpha", 1.0) != 1.0 || attr(n, "beta", 1.0) != 1.0)
                throw std::runtime_error(file + ": " + nn + ": Gemm with alpha " + std::to_string(attr(n, "alpha", 1)) +
                                         " and beta " + std::to_string(attr(n, "beta", 1)) +
                                         " is not an inner product; expected alpha = beta = 1");
            if (attr(n, "transB", 0) == 0) transpose[n.inputs[1]] = nn + " has transB = 0";
            else gemm_ok.insert(n.inputs[1]);
        } else if (n.op == "MatMul" && n.inputs.size() >= 2) {
            transpose[n.inputs[1]] = nn + " multiplies by it on the right";
        }
    }

    ImportedWeights out;
    out.format = "onnx (ModelProto.graph.initializer)";
    std::map<std::string, std::string> mapped_from;
    for (const pb::Field& tf : inits) {
        int dt = 0;
        NamedTensor t = read_onnx_tensor(graph, tf, &dt);
        if (dt == kOnnxInt32 || dt == kOnnxInt64) {
            out.notes.push_back("initializer " + t.name + " (" + onnx_type_name(dt) + " " + t.shape_str() +
                                "): a graph constant, not a weight; skipped");
            continue;
        }
        std::string origin = "initializer " + t.name + " " + t.shape_str();
        auto tr = transpose.find(t.name);
        if (tr != transpose.end()) {
            if (gemm_ok.count(t.name))
                throw std::runtime_error(file + ": initializer '" + t.name +
                                         "' is used both transposed and not by Gemm/MatMul nodes");
            if (t.dims.size() != 2)
                throw std::runtime_error(file + ": initializer '" + t.name + "' " + t.shape_str() + ": " + tr->second +
                                         ", expected a 2-D (inputs, outputs) matrix");
            transpose2d(t);
            origin += ", transposed (" + tr->second + ")";
            out.notes.push_back(t.name + ": transposed to (outputs, inputs) because " + tr->second);
        }
        const std::string onnx_name = t.name;
        t.name = onnx_param_name(onnx_name);
        if (t.name.empty()) throw std::runtime_error(file + ": an initializer has no name");
        auto prev = mapped_from.find(t.name);
        if (prev != mapped_from.end())
            throw std::runtime_error(file + ": initializers '" + prev->second + "' and '" + onnx_name +
                                     "' both map to the name '" + t.name + "'");
        mapped_from[t.name] = onnx_name;
        out.weights.tensors.push_back(std::move(t));
        out.origin.push_back(origin);
    }
    out.weights.source = file;
    return out;
}

ImportedWeights read_onnx_weights(const std::string& path) {
    MappedFile m(path, "ONNX file");
    return decode_onnx_weights(m.data(), m.size(), path);
}

}  // namespace dlbhc
