// formats/onnx.h -- a reader for ONNX files (ModelProto and TensorProto), without libprotobuf.
//
// Who does what: this file holds dlbhc's one TensorProto decoder (decode_onnx_tensor,
// parse_onnx_tensor) and the ModelProto reader the ONNX backend conformance tests use
// (tests/formats/onnx_runner.h). formats/onnx_weights.h builds on the decoder: it turns a model's
// initializers into dlbhc weights (float32, renamed, fully connected weights transposed) and
// reads only the nodes' names, inputs and numeric attributes itself.
//
// ONNX stores a model as a protobuf ModelProto (onnx.proto). This reader decodes the subset that
// single-node backend test cases and weight extraction need, with formats/protowire.h underneath:
//   ModelProto     ir_version 1, producer_name 2, graph 7, opset_import 8
//   OperatorSetIdProto  domain 1, version 2
//   GraphProto     node 1, name 2, initializer 5, input 11, output 12
//   ValueInfoProto name 1 (the type, field 2, is not read: shapes come from the tensors)
//   NodeProto      input 1, output 2, name 3, op_type 4, attribute 5, domain 7
//   AttributeProto name 1, f 2, i 3, s 4, t 5, floats 7, ints 8, type 20
//   TensorProto    dims 1, data_type 2, segment 3 (refused), float_data 4, int32_data 5,
//                  string_data 6 (refused), int64_data 7, name 8, raw_data 9, double_data 10,
//                  uint64_data 11, data_location 14 (EXTERNAL refused)
// (field numbers checked against onnx.proto). Fields not listed are skipped by wire type.
//
// Tensor element types (TensorProto.DataType) decoded: FLOAT 1, UINT8 2, INT8 3, UINT16 4,
// INT16 5, INT32 6, INT64 7, BOOL 9, DOUBLE 11, UINT32 12, UINT64 13; a caller may accept fewer
// (formats/onnx_weights.h takes FLOAT, DOUBLE, INT32 and INT64). Every other type (STRING,
// FLOAT16, BFLOAT16, COMPLEX, ...) and external data are errors.
// Values arrive either in raw_data (fixed-width little-endian, io/byte_order.h) or in the typed
// field for their type; the number of values must equal the product of dims (the empty dims of a
// scalar give 1). Conversions are strict, never silent:
//   FLOAT and DOUBLE are kept as float32 in `floats`; a finite DOUBLE that overflows float32 is
//   an error naming the tensor and the element index (infinities and NaN pass through).
//   Integer and BOOL values are kept as int64 in `ints`; int32_data holds 32-bit varints (as
//   protobuf reads them); a value outside its type's range (INT8 300, BOOL 2, a UINT64 above
//   2^63 - 1, which int64 cannot hold) is an error naming the tensor and the index.
//   OnnxTensor::to_floats converts integers to float32 only when exact (|v| <= 2^24 always is);
//   otherwise it throws, naming the tensor and the index.
//
// Errors are std::runtime_error "<file>: byte <offset>: <what>" (the offset of the offending
// field; a tensor that is a field of a message adds "field <n>: " as pb::Reader::fail does);
// nothing is allocated from a header count before it is checked against the bytes that actually
// hold the values.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "formats/protowire.h"

namespace dlbhc {

namespace onnx_type {
enum : int {
    kUndefined = 0, kFloat = 1, kUint8 = 2, kInt8 = 3, kUint16 = 4, kInt16 = 5, kInt32 = 6, kInt64 = 7,
    kString = 8, kBool = 9, kFloat16 = 10, kDouble = 11, kUint32 = 12, kUint64 = 13,
};
// Sets of element types, as bit masks: what a caller of the decoder accepts.
constexpr uint32_t bit(int t) { return uint32_t(1) << t; }
constexpr uint32_t kAllTypes = bit(kFloat) | bit(kUint8) | bit(kInt8) | bit(kUint16) | bit(kInt16) | bit(kInt32) |
                               bit(kInt64) | bit(kBool) | bit(kDouble) | bit(kUint32) | bit(kUint64);
}  // namespace onnx_type

// The name of a TensorProto.DataType ("FLOAT", "INT64", ...; "type 99" for an unknown number).
std::string onnx_type_name(int data_type);

// One TensorProto, row-major.
struct OnnxTensor {
    std::string name;
    std::vector<int64_t> dims;  // empty for a scalar
    int data_type = onnx_type::kUndefined;
    std::vector<float> floats;  // FLOAT and DOUBLE tensors: product(dims) values
    std::vector<int64_t> ints;  // integer and BOOL tensors: product(dims) values
    // Where the tensor was read, "<file>: byte <offset>" (": field <n>" added for a field of a
    // message): the prefix of errors found after decoding (to_floats).
    std::string where;

    bool is_float() const { return data_type == onnx_type::kFloat || data_type == onnx_type::kDouble; }
    size_t count() const { return is_float() ? floats.size() : ints.size(); }
    // The values as float32, whatever the type. An integer float32 cannot hold exactly (2^24 + 1,
    // say) throws std::runtime_error "<where>: tensor '<name>': integer <v> at index <i> cannot be
    // held exactly by float32".
    std::vector<float> to_floats() const;
    std::string dims_str() const;  // "(1, 3, 5, 5)"; "()" for a scalar
};

// The value of one node attribute; `type` is AttributeProto.AttributeType (FLOAT 1, INT 2,
// STRING 3, TENSOR 4, FLOATS 6, INTS 7). Old files without the type field get it from the value
// field that is present. Graph, sparse-tensor and list-of-string/tensor attributes are kept with
// their type only (no node used here has one).
struct OnnxAttribute {
    enum Type : int { kUndefined = 0, kFloat = 1, kInt = 2, kString = 3, kTensor = 4, kFloats = 6, kInts = 7 };
    std::string name;
    int type = kUndefined;
    float f = 0.0f;
    int64_t i = 0;
    std::string s;
    OnnxTensor t;
    std::vector<float> floats;
    std::vector<int64_t> ints;
};

struct OnnxNode {
    std::string name, op_type, domain;
    std::vector<std::string> inputs, outputs;  // an empty input name means "not given"
    std::vector<OnnxAttribute> attributes;

    // The attribute called `name`, or null.
    const OnnxAttribute* find(const std::string& name) const;
    // Typed getters: the default when the attribute is absent; std::invalid_argument naming the
    // node and attribute when it is present with another type.
    int64_t get_int(const std::string& name, int64_t dflt) const;
    float get_float(const std::string& name, float dflt) const;
    std::string get_string(const std::string& name, const std::string& dflt) const;
    std::vector<int64_t> get_ints(const std::string& name, const std::vector<int64_t>& dflt) const;
};

struct OnnxGraph {
    std::string name;
    std::vector<OnnxNode> nodes;
    std::vector<OnnxTensor> initializers;
    std::vector<std::string> inputs, outputs;  // names of the graph's inputs and outputs, in order

    // The initializer called `name`, or null.
    const OnnxTensor* initializer(const std::string& name) const;
};

struct OnnxModel {
    int64_t ir_version = 0;
    std::string producer_name;
    // Opset version of the default ("" or "ai.onnx") domain; 0 when the model imports none.
    int64_t opset = 0;
    OnnxGraph graph;
};

// Decodes a ModelProto from [data, data + size); `file` names the source in errors.
OnnxModel parse_onnx_model(const uint8_t* data, size_t size, const std::string& file);
// Reads and decodes a .onnx file. Throws std::runtime_error naming the file when it cannot be read.
OnnxModel read_onnx_model(const std::string& path);

// The op_type of every node of the model's graph, in order, without decoding tensors or
// attributes: a cheap look at what a model contains (e.g. to pick test cases).
std::vector<std::string> parse_onnx_op_types(const uint8_t* data, size_t size, const std::string& file);
std::vector<std::string> read_onnx_op_types(const std::string& path);

// Decodes the TensorProto held by field `f` of the message `parent` reads (a GraphProto's
// initializer, an AttributeProto's t). `accept` is the set of element types the caller takes
// (onnx_type::bit); another type is an error that lists them.
OnnxTensor decode_onnx_tensor(const pb::Reader& parent, const pb::Field& f, uint32_t accept = onnx_type::kAllTypes);
// Decodes one TensorProto from [data, data + size), `base` being its offset within `file`.
OnnxTensor parse_onnx_tensor(const uint8_t* data, size_t size, const std::string& file, size_t base = 0,
                             uint32_t accept = onnx_type::kAllTypes);
// Reads a .pb file holding one TensorProto (the ONNX backend tests' input_N.pb / output_N.pb).
OnnxTensor read_onnx_tensor(const std::string& path);

}  // namespace dlbhc
