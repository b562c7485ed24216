// formats/onnx_weights.cpp -- see onnx_weights.h for the field numbers and the conversion rules.
#include "formats/onnx_weights.h"

#include <cmath>
#include <cstring>
#include <map>
#include <set>
#include <stdexcept>

#include "io/file_io.h"

namespace dlbhc {

static std::string type_name(int t) {
    static const char* names[] = {"UNDEFINED", "FLOAT",  "UINT8",  "INT8",      "UINT16",     "INT16",
                                  "INT32",     "INT64",  "STRING", "BOOL",      "FLOAT16",    "DOUBLE",
                                  "UINT32",    "UINT64", "COMPLEX64", "COMPLEX128", "BFLOAT16"};
    if (t >= 0 && t < (int)(sizeof names / sizeof names[0])) return names[t];
    return "type " + std::to_string(t);
}

NamedTensor read_onnx_tensor(const pb::Reader& parent, const pb::Field& tf, int* data_type_out) {
    pb::Reader r = parent.sub(tf);
    NamedTensor t;
    int64_t data_type = 0;
    std::vector<float> floats;
    std::vector<double> doubles;
    std::vector<int64_t> ints;  // int32_data or int64_data
    const uint8_t* raw = nullptr;
    size_t raw_size = 0;
    bool has_raw = false;
    int typed_fields = 0;
    pb::Field f;
    while (r.next(f)) {
        switch (f.number) {
        case 1: r.append_ints(f, t.dims); break;
        case 2: data_type = r.as_int(f); break;
        case 3: r.fail(f, "tensor segments (TensorProto.segment) are not supported");
        case 4: r.append_floats(f, floats); typed_fields |= 1; break;
        case 5: r.append_ints(f, ints); typed_fields |= 2; break;
        case 7: r.append_ints(f, ints); typed_fields |= 4; break;
        case 8: t.name = r.as_string(f); break;
        case 9:
            if (f.type != pb::kLen) r.fail(f, "raw_data: expected bytes (wire type 2)");
            raw = f.data;
            raw_size = f.size;
            has_raw = true;
            break;
        case 10: r.append_doubles(f, doubles); typed_fields |= 8; break;
        case 14:
            if (r.as_int(f) == 1)
                r.fail(f, "tensor '" + t.name + "': external data (data_location EXTERNAL) is not supported; "
                          "save the model with its weights inside");
            break;
        default: break;  // doc_string, external_data entries, unknown fields
        }
    }
    auto fail = [&](const std::string& m) { parent.fail(tf, "tensor '" + t.name + "': " + m); };
    for (int64_t d : t.dims)
        if (d < 0) fail("negative dimension in " + t.shape_str());
    size_t item = 0;
    int typed_bit = 0;
    switch (data_type) {
    case kOnnxFloat: item = 4; typed_bit = 1; break;
    case kOnnxInt32: item = 4; typed_bit = 2; break;
    case kOnnxInt64: item = 8; typed_bit = 4; break;
    case kOnnxDouble: item = 8; typed_bit = 8; break;
    default:
        fail("unsupported data_type " + std::to_string(data_type) + " (" + type_name((int)data_type) +
             "); expected FLOAT, DOUBLE, INT32 or INT64");
    }
    if (typed_fields & ~typed_bit)
        fail("holds values in a field that does not match its data_type " + type_name((int)data_type));
    if (has_raw && typed_fields) fail("holds values both in raw_data and in a typed field");
    const uint64_t have = has_raw ? raw_size / item
                          : data_type == kOnnxFloat ? floats.size()
                          : data_type == kOnnxDouble ? doubles.size()
                                                     : ints.size();
    if (has_raw && raw_size % item)
        fail("raw_data of " + std::to_string(raw_size) + " bytes is not a whole number of " + std::to_string(item) +
             "-byte " + type_name((int)data_type) + " values");
    uint64_t count = 0;
    const bool fits = dims_product(t.dims, &count);
    if (!fits || count != have)
        fail("shape " + t.shape_str() + " needs " + (fits ? std::to_string(count) : std::string("more than 2^64")) +
             " values, found " + std::to_string(have));

    t.data.resize((size_t)count);
    auto from_int = [&](int64_t v, size_t i) {
        float x = (float)v;
        if ((double)x != (double)v || v > (int64_t(1) << 53) || v < -(int64_t(1) << 53))
            fail("integer " + std::to_string(v) + " at index " + std::to_string(i) + " cannot be held exactly by float32");
        t.data[i] = x;
    };
    auto from_double = [&](double v, size_t i) {
        float x = (float)v;
        if (std::isfinite(v) && !std::isfinite(x))
            fail("value " + std::to_string(v) + " at index " + std::to_string(i) + " does not fit in float32");
        t.data[i] = x;
    };
    for (size_t i = 0; i < count; ++i) {
        switch (data_type) {
        case kOnnxFloat:
            if (has_raw) std::memcpy(&t.data[i], raw + 4 * i, 4);
            else t.data[i] = floats[i];
            break;
        case kOnnxDouble: {
            double v;
            if (has_raw) std::memcpy(&v, raw + 8 * i, 8);
            else v = doubles[i];
            from_double(v, i);
            break;
        }
        case kOnnxInt32: {
            int64_t v;
            if (has_raw) {
                int32_t v32;
                std::memcpy(&v32, raw + 4 * i, 4);
                v = v32;
            } else {
                v = (int32_t)ints[i];  // int32_data holds sign-extended varints
            }
            from_int(v, i);
            break;
        }
        default: {
            int64_t v;
            if (has_raw) std::memcpy(&v, raw + 8 * i, 8);
            else v = ints[i];
            from_int(v, i);
        }
        }
    }
    if (data_type_out) *data_type_out = (int)data_type;
    return t;
}

NamedTensor read_onnx_tensor_file(const std::string& path, int* data_type) {
    MappedFile m(path, "ONNX tensor file");
    pb::Reader whole(m.data(), m.size(), path);
    pb::Field f;  // the whole file is the TensorProto
    f.number = 1;
    f.type = pb::kLen;
    f.data = m.data();
    f.size = m.size();
    return read_onnx_tensor(whole, f, data_type);
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

struct OnnxNode {
    std::string name, op;
    std::vector<std::string> inputs;
    std::map<std::string, double> attrs;  // the numeric (f / i) attributes
    size_t offset = 0;
};

OnnxNode decode_node(const pb::Reader& parent, const pb::Field& nf) {
    pb::Reader r = parent.sub(nf);
    OnnxNode n;
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

double attr(const OnnxNode& n, const char* key, double def) {
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
    std::vector<OnnxNode> nodes;
    std::vector<pb::Field> inits;
    while (graph.next(f)) {
        if (f.number == 1) nodes.push_back(decode_node(graph, f));
        else if (f.number == 5) inits.push_back(f);
    }

    // Which initializers hold a fully connected weight stored (I, O).
    std::map<std::string, std::string> transpose;  // initializer -> why
    std::set<std::string> gemm_ok;
    for (const OnnxNode& n : nodes) {
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
            out.notes.push_back("initializer " + t.name + " (" + type_name(dt) + " " + t.shape_str() +
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
