// formats/onnx.cpp -- ONNX ModelProto / TensorProto decoding; field numbers and rules in onnx.h.
#include "formats/onnx.h"

#include <cstring>
#include <limits>
#include <stdexcept>

#include "formats/protowire.h"
#include "io/file_io.h"

namespace dlbhc {

namespace {

[[noreturn]] void fail_at(const std::string& file, size_t offset, const std::string& msg) {
    throw std::runtime_error(file + ": byte " + std::to_string(offset) + ": " + msg);
}

// Bytes per element in raw_data; 0 for a type this reader does not accept.
size_t element_bytes(int t) {
    using namespace onnx_type;
    switch (t) {
    case kUint8: case kInt8: case kBool: return 1;
    case kUint16: case kInt16: return 2;
    case kFloat: case kInt32: case kUint32: return 4;
    case kInt64: case kDouble: case kUint64: return 8;
    default: return 0;
    }
}

// The typed field that holds values of type t when raw_data is not used (onnx.proto's comments).
uint32_t typed_field_for(int t) {
    using namespace onnx_type;
    switch (t) {
    case kFloat: return 4;                                                            // float_data
    case kDouble: return 10;                                                          // double_data
    case kInt64: return 7;                                                            // int64_data
    case kUint32: case kUint64: return 11;                                            // uint64_data
    default: return 5;  // int32_data: INT32, INT16, INT8, UINT16, UINT8, BOOL
    }
}

const char* field_name(uint32_t n) {
    switch (n) {
    case 4: return "float_data";
    case 5: return "int32_data";
    case 7: return "int64_data";
    case 9: return "raw_data";
    case 10: return "double_data";
    case 11: return "uint64_data";
    default: return "?";
    }
}

std::string join_dims(const std::vector<int64_t>& d) {
    std::string s = "(";
    for (size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
    return s + ")";
}

// Decodes raw little-endian elements of type t into the tensor's value vector.
void decode_raw(OnnxTensor& t, const uint8_t* p, size_t count) {
    using namespace onnx_type;
    const size_t eb = element_bytes(t.data_type);
    if (t.is_float()) t.floats.resize(count);
    else t.ints.resize(count);
    for (size_t k = 0; k < count; ++k, p += eb) {
        uint64_t u = 0;
        for (size_t b = 0; b < eb; ++b) u |= uint64_t(p[b]) << (8 * b);
        switch (t.data_type) {
        case kFloat: { uint32_t v = uint32_t(u); float x; std::memcpy(&x, &v, 4); t.floats[k] = x; break; }
        case kDouble: { double x; std::memcpy(&x, &u, 8); t.floats[k] = float(x); break; }
        case kInt8: t.ints[k] = int8_t(uint8_t(u)); break;
        case kInt16: t.ints[k] = int16_t(uint16_t(u)); break;
        case kInt32: t.ints[k] = int32_t(uint32_t(u)); break;
        case kInt64: case kUint64: t.ints[k] = int64_t(u); break;  // UINT64 above 2^63 wraps, as documented
        default: t.ints[k] = int64_t(u); break;                    // UINT8, UINT16, UINT32, BOOL
        }
    }
}

// One TensorProto from reader r; `where` is the byte offset that names the tensor in errors.
OnnxTensor read_tensor(pb::Reader r, size_t where) {
    const std::string& file = r.file();
    OnnxTensor t;
    std::vector<float> fdata;
    std::vector<double> ddata;
    std::vector<int64_t> idata;  // int32_data, int64_data or uint64_data
    pb::Field f, raw;
    bool has_raw = false, has_type = false;
    uint32_t typed = 0;  // the typed value field seen, 0 for none
    auto note_typed = [&](const pb::Field& g) {
        if (typed && typed != g.number)
            r.fail(g, std::string("tensor has values in both ") + field_name(typed) + " and " + field_name(g.number));
        typed = g.number;
    };
    while (r.next(f)) {
        switch (f.number) {
        case 1: r.append_ints(f, t.dims); break;
        case 2: t.data_type = int(r.as_int(f)); has_type = true; break;
        case 3: r.fail(f, "segmented tensors (TensorProto.segment) are not supported");
        case 4: note_typed(f); r.append_floats(f, fdata); break;
        case 5: case 7: case 11: note_typed(f); r.append_ints(f, idata); break;
        case 6: r.fail(f, "string tensors (string_data) are not supported");
        case 8: t.name = r.as_string(f); break;
        case 9:
            if (f.type != pb::kLen) r.fail(f, "raw_data should be bytes (wire type 2), found wire type " + std::to_string(f.type));
            raw = f;
            has_raw = true;
            break;
        case 10: note_typed(f); r.append_doubles(f, ddata); break;
        case 14:
            if (r.as_int(f) != 0) r.fail(f, "external data (data_location EXTERNAL) is not supported");
            break;
        default: break;  // doc_string, external_data entries, ...: not needed
        }
    }
    const std::string what = "tensor" + (t.name.empty() ? std::string() : " '" + t.name + "'");
    if (!has_type || t.data_type == onnx_type::kUndefined)
        fail_at(file, where, what + ": no data_type (field 2)");
    if (element_bytes(t.data_type) == 0)
        fail_at(file, where, what + ": unsupported data_type " + std::to_string(t.data_type) + " (" +
                                 onnx_type_name(t.data_type) +
                                 "); supported: FLOAT, DOUBLE, INT8/16/32/64, UINT8/16/32/64, BOOL");
    // The element count, checked for negative dims and overflow before anything is sized from it.
    uint64_t count = 1;
    for (int64_t d : t.dims) {
        if (d < 0) fail_at(file, where, what + ": negative dimension in dims " + join_dims(t.dims));
        // (count * 8 bytes must still fit: the raw_data size check multiplies by the element size)
        if (d != 0 && count > std::numeric_limits<uint64_t>::max() / 8 / uint64_t(d))
            fail_at(file, where, what + ": dims " + join_dims(t.dims) + " overflow");
        count *= uint64_t(d);
    }
    const std::string expect = what + " " + onnx_type_name(t.data_type) + " " + join_dims(t.dims) + ": dims give " +
                               std::to_string(count) + " values";
    if (has_raw) {
        if (typed) r.fail(raw, what + ": values in both raw_data and " + field_name(typed));
        const uint64_t need = count * element_bytes(t.data_type);
        if (raw.size != need)
            r.fail(raw, expect + " = " + std::to_string(need) + " bytes, raw_data has " + std::to_string(raw.size) +
                            " bytes");
        decode_raw(t, raw.data, size_t(count));
        return t;
    }
    if (typed && typed != typed_field_for(t.data_type))
        fail_at(file, where, what + ": " + onnx_type_name(t.data_type) + " values found in " + field_name(typed) +
                                 "; expected " + field_name(typed_field_for(t.data_type)) + " or raw_data");
    size_t have = t.data_type == onnx_type::kFloat ? fdata.size()
                  : t.data_type == onnx_type::kDouble ? ddata.size()
                                                      : idata.size();
    if (have != count) fail_at(file, where, expect + ", found " + std::to_string(have));
    if (t.data_type == onnx_type::kFloat) t.floats = std::move(fdata);
    else if (t.data_type == onnx_type::kDouble) t.floats.assign(ddata.begin(), ddata.end());
    else t.ints = std::move(idata);
    return t;
}

OnnxAttribute read_attribute(pb::Reader r) {
    OnnxAttribute a;
    pb::Field f;
    bool has_f = false, has_i = false, has_s = false, has_t = false;
    while (r.next(f)) {
        switch (f.number) {
        case 1: a.name = r.as_string(f); break;
        case 2: a.f = r.as_float(f); has_f = true; break;
        case 3: a.i = r.as_int(f); has_i = true; break;
        case 4: a.s = r.as_string(f); has_s = true; break;
        case 5: a.t = read_tensor(r.sub(f), f.offset); has_t = true; break;
        case 7: r.append_floats(f, a.floats); break;
        case 8: r.append_ints(f, a.ints); break;
        case 20: a.type = int(r.as_int(f)); break;
        default: break;  // graphs, string/tensor lists, doc_string: not used by the nodes read here
        }
    }
    if (a.type == OnnxAttribute::kUndefined) {  // IR version 1 files: infer from the field present
        if (has_f) a.type = OnnxAttribute::kFloat;
        else if (has_i) a.type = OnnxAttribute::kInt;
        else if (has_s) a.type = OnnxAttribute::kString;
        else if (has_t) a.type = OnnxAttribute::kTensor;
        else if (!a.floats.empty()) a.type = OnnxAttribute::kFloats;
        else if (!a.ints.empty()) a.type = OnnxAttribute::kInts;
    }
    return a;
}

OnnxNode read_node(pb::Reader r) {
    OnnxNode n;
    pb::Field f;
    while (r.next(f)) {
        switch (f.number) {
        case 1: n.inputs.push_back(r.as_string(f)); break;
        case 2: n.outputs.push_back(r.as_string(f)); break;
        case 3: n.name = r.as_string(f); break;
        case 4: n.op_type = r.as_string(f); break;
        case 5: n.attributes.push_back(read_attribute(r.sub(f))); break;
        case 7: n.domain = r.as_string(f); break;
        default: break;
        }
    }
    return n;
}

// ValueInfoProto: only the name (field 1).
std::string read_value_info_name(pb::Reader r) {
    pb::Field f;
    std::string name;
    while (r.next(f))
        if (f.number == 1) name = r.as_string(f);
    return name;
}

OnnxGraph read_graph(pb::Reader r) {
    OnnxGraph g;
    pb::Field f;
    while (r.next(f)) {
        switch (f.number) {
        case 1: g.nodes.push_back(read_node(r.sub(f))); break;
        case 2: g.name = r.as_string(f); break;
        case 5: g.initializers.push_back(read_tensor(r.sub(f), f.offset)); break;
        case 11: g.inputs.push_back(read_value_info_name(r.sub(f))); break;
        case 12: g.outputs.push_back(read_value_info_name(r.sub(f))); break;
        default: break;
        }
    }
    return g;
}

// The whole file, opened as an InputFile (io/file_io.h). Errors start with the path.
std::vector<uint8_t> read_whole_file(const std::string& path) {
    return InputFile(path, path).read_all(std::numeric_limits<size_t>::max());
}

}  // namespace

std::string onnx_type_name(int t) {
    static const char* names[] = {"UNDEFINED", "FLOAT",  "UINT8",  "INT8",      "UINT16",     "INT16",
                                  "INT32",     "INT64",  "STRING", "BOOL",      "FLOAT16",    "DOUBLE",
                                  "UINT32",    "UINT64", "COMPLEX64", "COMPLEX128", "BFLOAT16"};
    if (t >= 0 && t < int(sizeof(names) / sizeof(names[0]))) return names[t];
    return "type " + std::to_string(t);
}

std::vector<float> OnnxTensor::to_floats() const {
    if (is_float()) return floats;
    return std::vector<float>(ints.begin(), ints.end());
}

std::string OnnxTensor::dims_str() const { return join_dims(dims); }

const OnnxAttribute* OnnxNode::find(const std::string& n) const {
    for (const auto& a : attributes)
        if (a.name == n) return &a;
    return nullptr;
}

namespace {
const OnnxAttribute* typed_attr(const OnnxNode& node, const std::string& name, int type, const char* type_name) {
    const OnnxAttribute* a = node.find(name);
    if (a && a->type != type)
        throw std::invalid_argument(node.op_type + " node '" + node.name + "': attribute '" + name + "' should be " +
                                    type_name + ", found attribute type " + std::to_string(a->type));
    return a;
}
}  // namespace

int64_t OnnxNode::get_int(const std::string& n, int64_t dflt) const {
    const OnnxAttribute* a = typed_attr(*this, n, OnnxAttribute::kInt, "INT");
    return a ? a->i : dflt;
}

float OnnxNode::get_float(const std::string& n, float dflt) const {
    const OnnxAttribute* a = typed_attr(*this, n, OnnxAttribute::kFloat, "FLOAT");
    return a ? a->f : dflt;
}

std::string OnnxNode::get_string(const std::string& n, const std::string& dflt) const {
    const OnnxAttribute* a = typed_attr(*this, n, OnnxAttribute::kString, "STRING");
    return a ? a->s : dflt;
}

std::vector<int64_t> OnnxNode::get_ints(const std::string& n, const std::vector<int64_t>& dflt) const {
    const OnnxAttribute* a = typed_attr(*this, n, OnnxAttribute::kInts, "INTS");
    return a ? a->ints : dflt;
}

const OnnxTensor* OnnxGraph::initializer(const std::string& n) const {
    for (const auto& t : initializers)
        if (t.name == n) return &t;
    return nullptr;
}

OnnxModel parse_onnx_model(const uint8_t* data, size_t size, const std::string& file) {
    pb::Reader r(data, size, file);
    OnnxModel m;
    pb::Field f;
    bool has_graph = false;
    while (r.next(f)) {
        switch (f.number) {
        case 1: m.ir_version = r.as_int(f); break;
        case 2: m.producer_name = r.as_string(f); break;
        case 7:
            if (has_graph) r.fail(f, "a second graph in one ModelProto");
            m.graph = read_graph(r.sub(f));
            has_graph = true;
            break;
        case 8: {  // OperatorSetIdProto
            pb::Reader o = r.sub(f);
            pb::Field g;
            std::string domain;
            int64_t version = 0;
            while (o.next(g)) {
                if (g.number == 1) domain = o.as_string(g);
                else if (g.number == 2) version = o.as_int(g);
            }
            if (domain.empty() || domain == "ai.onnx") m.opset = version;
            break;
        }
        default: break;
        }
    }
    if (!has_graph) fail_at(file, size, "not an ONNX model: no graph (ModelProto field 7)");
    return m;
}

std::vector<std::string> parse_onnx_op_types(const uint8_t* data, size_t size, const std::string& file) {
    pb::Reader r(data, size, file);
    std::vector<std::string> ops;
    pb::Field f, g, h;
    bool has_graph = false;
    while (r.next(f)) {
        if (f.number != 7) continue;
        has_graph = true;
        pb::Reader gr = r.sub(f);
        while (gr.next(g)) {
            if (g.number != 1) continue;
            pb::Reader nr = gr.sub(g);
            std::string op;
            while (nr.next(h))
                if (h.number == 4) op = nr.as_string(h);
            ops.push_back(op);
        }
    }
    if (!has_graph) fail_at(file, size, "not an ONNX model: no graph (ModelProto field 7)");
    return ops;
}

std::vector<std::string> read_onnx_op_types(const std::string& path) {
    std::vector<uint8_t> bytes = read_whole_file(path);
    return parse_onnx_op_types(bytes.data(), bytes.size(), path);
}

OnnxModel read_onnx_model(const std::string& path) {
    std::vector<uint8_t> bytes = read_whole_file(path);
    return parse_onnx_model(bytes.data(), bytes.size(), path);
}

OnnxTensor parse_onnx_tensor(const uint8_t* data, size_t size, const std::string& file, size_t base) {
    return read_tensor(pb::Reader(data, size, file, base), base);
}

OnnxTensor read_onnx_tensor(const std::string& path) {
    std::vector<uint8_t> bytes = read_whole_file(path);
    return parse_onnx_tensor(bytes.data(), bytes.size(), path);
}

}  // namespace dlbhc
