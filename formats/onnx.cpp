// formats/onnx.cpp -- ONNX ModelProto / TensorProto decoding; field numbers and rules in onnx.h.
#include "formats/onnx.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <utility>

#include "formats/protowire.h"
#include "io/byte_order.h"
#include "io/file_io.h"

namespace dlbhc {

namespace {

[[noreturn]] void fail_at(const std::string& file, size_t offset, const std::string& msg) {
    throw std::runtime_error(file + ": byte " + std::to_string(offset) + ": " + msg);
}

// Bytes per element in raw_data; 0 for a type this reader does not decode.
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

// True when type t (any number read from a file) is decoded here and accepted by the caller.
bool accepted(int t, uint32_t accept) {
    return t > 0 && t < 32 && (accept & onnx_type::bit(t)) && element_bytes(t) != 0;
}

// "FLOAT, DOUBLE, INT32 or INT64": the types in `accept`, floating types first.
std::string type_list(uint32_t accept) {
    using namespace onnx_type;
    std::vector<int> types;
    for (int t : {kFloat, kDouble, kInt8, kInt16, kInt32, kInt64, kUint8, kUint16, kUint32, kUint64, kBool})
        if (accept & bit(t)) types.push_back(t);
    std::string s;
    for (size_t i = 0; i < types.size(); ++i)
        s += (i == 0 ? "" : i + 1 == types.size() ? " or " : ", ") + onnx_type_name(types[i]);
    return s;
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

// The shortest decimal form that reads back as v ("1e+300", not "1.0000000000000001e+300").
std::string number(double v) {
    char buf[32];
    for (int digits = 1; digits <= 17; ++digits) {
        std::snprintf(buf, sizeof buf, "%.*g", digits, v);
        if (std::strtod(buf, nullptr) == v) break;
    }
    return buf;
}

std::string label(const OnnxTensor& t) { return "tensor" + (t.name.empty() ? std::string() : " '" + t.name + "'"); }

// Throws "<where>: tensor '<name>': <msg>": every error about the tensor as a whole or one value.
[[noreturn]] void tensor_fail(const OnnxTensor& t, const std::string& msg) {
    throw std::runtime_error(t.where + ": " + label(t) + ": " + msg);
}

// DOUBLE to float32: a finite value beyond float32's range is an error, not an infinity.
float narrow(const OnnxTensor& t, double v, size_t k) {
    const float x = float(v);
    if (std::isfinite(v) && !std::isfinite(x))
        tensor_fail(t, "value " + number(v) + " at index " + std::to_string(k) + " does not fit in float32");
    return x;
}

// What a TensorProto holds on the wire, gathered before any check (fields come in any order).
struct TensorWire {
    std::vector<float> f;    // float_data
    std::vector<double> d;   // double_data
    std::vector<int64_t> i;  // int32_data, int64_data or uint64_data
    pb::Field raw, location;
    bool has_raw = false, has_type = false;
    int64_t location_value = 0;  // data_location: 0 DEFAULT, 1 EXTERNAL
    uint32_t typed = 0;          // bit n set: typed value field n seen
};

TensorWire scan_tensor(pb::Reader& r, OnnxTensor& t) {
    TensorWire w;
    pb::Field f;
    while (r.next(f)) {
        switch (f.number) {
        case 1: r.append_ints(f, t.dims); break;
        case 2: t.data_type = int(r.as_int(f)); w.has_type = true; break;
        case 3: r.fail(f, "tensor segments (TensorProto.segment) are not supported");
        case 4: r.append_floats(f, w.f); w.typed |= 1u << 4; break;
        case 5: case 7: case 11: r.append_ints(f, w.i); w.typed |= 1u << f.number; break;
        case 6: r.fail(f, "string tensors (string_data) are not supported");
        case 8: t.name = r.as_string(f); break;
        case 9:
            if (f.type != pb::kLen) r.fail(f, "raw_data: expected bytes (wire type 2), found wire type " + std::to_string(f.type));
            w.raw = f;
            w.has_raw = true;
            break;
        case 10: r.append_doubles(f, w.d); w.typed |= 1u << 10; break;
        case 14: w.location = f; w.location_value = r.as_int(f); break;
        default: break;  // doc_string, external_data entries, ...: not needed
        }
    }
    return w;
}

// The header checks: can the values be read here at all, and do they sit in the right field.
void check_layout(const pb::Reader& r, const OnnxTensor& t, const TensorWire& w, uint32_t accept) {
    const std::string what = label(t), type = onnx_type_name(t.data_type);
    if (w.location_value == 1)
        r.fail(w.location, what + ": external data (data_location EXTERNAL) is not supported; save the model with its "
                                  "weights inside");
    if (w.location_value != 0) r.fail(w.location, what + ": unknown data_location " + std::to_string(w.location_value));
    if (!w.has_type || t.data_type == onnx_type::kUndefined) tensor_fail(t, "no data_type (field 2)");
    if (!accepted(t.data_type, accept))
        tensor_fail(t, "unsupported data_type " + std::to_string(t.data_type) + " (" + type + "); expected " +
                           type_list(accept));
    for (int64_t d : t.dims)
        if (d < 0) tensor_fail(t, "negative dimension in dims " + join_dims(t.dims));
    const uint32_t field = typed_field_for(t.data_type);
    for (uint32_t n : {4u, 5u, 7u, 10u, 11u})
        if ((w.typed & (1u << n)) && n != field)
            tensor_fail(t, "holds values in a field that does not match its data_type " + type + " (" + type +
                               " values found in " + field_name(n) + "; expected " + field_name(field) + " or raw_data)");
    if (w.has_raw && w.typed)
        tensor_fail(t, std::string("holds values both in raw_data and in a typed field (values in both raw_data and ") +
                           field_name(field) + ")");
}

// The element count dims give, checked against the values present before anything is sized
// from it; a product beyond 2^64 is reported, not wrapped.
uint64_t check_count(const pb::Reader& r, const OnnxTensor& t, const TensorWire& w) {
    const size_t eb = element_bytes(t.data_type);
    const std::string type = onnx_type_name(t.data_type), dims = join_dims(t.dims);
    if (w.has_raw && w.raw.size % eb)
        tensor_fail(t, "raw_data of " + std::to_string(w.raw.size) + " bytes is not a whole number of " +
                           std::to_string(eb) + "-byte " + type + " values");
    const uint32_t field = typed_field_for(t.data_type);
    const uint64_t have = w.has_raw ? w.raw.size / eb : field == 4 ? w.f.size() : field == 10 ? w.d.size() : w.i.size();
    uint64_t count = 1;
    bool overflow = false;
    if (std::find(t.dims.begin(), t.dims.end(), 0) != t.dims.end()) count = 0;  // (2^40, 2^40, 0) holds nothing
    for (size_t k = 0; count && k < t.dims.size() && !overflow; ++k) {
        overflow = count > std::numeric_limits<uint64_t>::max() / uint64_t(t.dims[k]);
        count *= uint64_t(t.dims[k]);
    }
    if (overflow)
        tensor_fail(t, "shape " + dims + " needs more than 2^64 values, found " + std::to_string(have) +
                           " (its dims overflow 64 bits)");
    if (count == have) return count;
    const std::string give = "dims give " + std::to_string(count) + " values";
    if (w.has_raw) {
        const bool fits = count <= std::numeric_limits<uint64_t>::max() / eb;
        r.fail(w.raw, label(t) + " " + type + " " + dims + ": " + give + " = " +
                          (fits ? std::to_string(count * eb) : std::string("more than 2^64")) + " bytes, raw_data has " +
                          std::to_string(w.raw.size) + " bytes");
    }
    tensor_fail(t, "shape " + dims + " needs " + std::to_string(count) + " values, found " + std::to_string(have) + " (" +
                       type + " " + give + ", found " + std::to_string(have) + " in " + field_name(field) + ")");
}

// The range of integer type t as held in int64 (a UINT64 above 2^63 - 1 does not fit).
std::pair<int64_t, int64_t> int_range(int t) {
    using namespace onnx_type;
    switch (t) {
    case kInt8: return {INT8_MIN, INT8_MAX};
    case kUint8: return {0, UINT8_MAX};
    case kInt16: return {INT16_MIN, INT16_MAX};
    case kUint16: return {0, UINT16_MAX};
    case kInt32: return {INT32_MIN, INT32_MAX};
    case kUint32: return {0, UINT32_MAX};
    case kBool: return {0, 1};
    case kUint64: return {0, INT64_MAX};
    default: return {INT64_MIN, INT64_MAX};  // INT64
    }
}

// An integer outside its type's range (INT8 300 or INT32 2^40 in int32_data, BOOL 2, UINT64 2^63)
// is an error rather than a value wrapped into range.
void check_int_range(const OnnxTensor& t) {
    using namespace onnx_type;
    const std::pair<int64_t, int64_t> range = int_range(t.data_type);
    const bool is_unsigned = t.data_type == kUint32 || t.data_type == kUint64;  // uint64_data: show as unsigned
    for (size_t k = 0; k < t.ints.size(); ++k) {
        const int64_t v = t.ints[k];
        if (v >= range.first && v <= range.second) continue;
        tensor_fail(t, "value " + (is_unsigned ? std::to_string(uint64_t(v)) : std::to_string(v)) + " at index " +
                           std::to_string(k) + " is out of range for " + onnx_type_name(t.data_type) +
                           (t.data_type == kUint64 ? " as held here (int64)" : ""));
    }
}

// Decodes `count` little-endian elements of the tensor's type from raw_data (io/byte_order.h).
void decode_raw(OnnxTensor& t, const uint8_t* p, size_t count) {
    using namespace onnx_type;
    const size_t eb = element_bytes(t.data_type);
    if (t.is_float()) t.floats.resize(count);
    else t.ints.resize(count);
    for (size_t k = 0; k < count; ++k, p += eb) {
        switch (t.data_type) {
        case kFloat: t.floats[k] = load_le_f32(p); break;
        case kDouble: t.floats[k] = narrow(t, load_le_f64(p), k); break;
        case kInt8: t.ints[k] = int8_t(p[0]); break;
        case kInt16: t.ints[k] = int16_t(load_le16(p)); break;
        case kUint16: t.ints[k] = load_le16(p); break;
        case kInt32: t.ints[k] = int32_t(load_le32(p)); break;
        case kUint32: t.ints[k] = load_le32(p); break;
        case kInt64: case kUint64: t.ints[k] = int64_t(load_le64(p)); break;  // UINT64 >= 2^63: check_int_range
        default: t.ints[k] = p[0]; break;                                     // UINT8, BOOL
        }
    }
}

// Moves the typed field's values (their number already checked) into the tensor.
void take_typed(OnnxTensor& t, TensorWire& w) {
    if (t.data_type == onnx_type::kFloat) {
        t.floats = std::move(w.f);
    } else if (t.data_type == onnx_type::kDouble) {
        t.floats.resize(w.d.size());
        for (size_t k = 0; k < w.d.size(); ++k) t.floats[k] = narrow(t, w.d[k], k);
    } else {
        t.ints = std::move(w.i);
    }
}

// One TensorProto from reader r; `where` ("<file>: byte <offset>[: field <n>]") names it in errors.
OnnxTensor read_tensor(pb::Reader r, const std::string& where, uint32_t accept) {
    OnnxTensor t;
    t.where = where;
    TensorWire w = scan_tensor(r, t);
    check_layout(r, t, w, accept);
    const uint64_t count = check_count(r, t, w);
    if (w.has_raw) decode_raw(t, w.raw.data, size_t(count));
    else take_typed(t, w);
    if (!t.is_float()) check_int_range(t);
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
        case 5: a.t = decode_onnx_tensor(r, f); has_t = true; break;
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
        case 5: g.initializers.push_back(decode_onnx_tensor(r, f)); break;
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
    std::vector<float> out(ints.size());
    for (size_t k = 0; k < ints.size(); ++k) {
        const float x = float(ints[k]);
        // Exact when x converts back to the same integer (2^63, which INT64_MAX rounds to, is not an int64).
        if (!(x < 0x1p63f) || int64_t(x) != ints[k])
            tensor_fail(*this, "integer " + std::to_string(ints[k]) + " at index " + std::to_string(k) +
                                   " cannot be held exactly by float32");
        out[k] = x;
    }
    return out;
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

OnnxTensor decode_onnx_tensor(const pb::Reader& parent, const pb::Field& f, uint32_t accept) {
    // The prefix pb::Reader::fail gives errors about field f.
    const std::string where = parent.file() + ": byte " + std::to_string(f.offset) + ": field " + std::to_string(f.number);
    return read_tensor(parent.sub(f), where, accept);
}

OnnxTensor parse_onnx_tensor(const uint8_t* data, size_t size, const std::string& file, size_t base, uint32_t accept) {
    return read_tensor(pb::Reader(data, size, file, base), file + ": byte " + std::to_string(base), accept);
}

OnnxTensor read_onnx_tensor(const std::string& path) {
    std::vector<uint8_t> bytes = read_whole_file(path);
    return parse_onnx_tensor(bytes.data(), bytes.size(), path);
}

}  // namespace dlbhc
