// formats/onnx_weights.h -- the weights (graph initializers) of an ONNX model, without libprotobuf.
//
// Field numbers (onnx.proto):
//   ModelProto   graph 7 (GraphProto)
//   GraphProto   node 1 (NodeProto), initializer 5 (TensorProto)
//   NodeProto    input 1, output 2, name 3, op_type 4 (strings), attribute 5 (AttributeProto)
//   AttributeProto  name 1, f 2 (float), i 3 (int64)
//   TensorProto  dims 1 (int64, packed or not), data_type 2, segment 3 (refused), float_data 4,
//                int32_data 5, int64_data 7, name 8, raw_data 9 (little-endian), double_data 10,
//                data_location 14 (EXTERNAL is refused)
// Element types read: FLOAT (1), DOUBLE (11, converted), INT32 (6), INT64 (7) (converted; a value
// float32 cannot hold exactly is an error). Any other type is an error naming the tensor and type.
//
// Conversion to dlbhc names (onnx_param_name, documented in weights/README.md):
//   "<layer>_w_0" -> "<layer>.weight", "<layer>_b_0" -> "<layer>.bias"   (ONNX model zoo,
//                                                      e.g. bvlcalexnet: conv1_w_0, fc6_b_0)
//   "<layer>_W"   -> "<layer>.weight", "<layer>_b"   -> "<layer>.bias"   (older exporters)
//   "<layer>.weight", "<layer>.bias" unchanged                           (PyTorch)
//   anything else unchanged (and so reported as unused when loaded into a net).
// Fully connected layout: dlbhc (as Caffe) stores an inner-product weight as (O, I). A Gemm node
// computes A' B' with B' = B^T when transB = 1: then B is (O, I) already (bvlcalexnet's fc6..fc8
// are Gemm with transB = 1). With transB = 0, B is (I, O) and is transposed on conversion; so is
// the 2-D second input of a MatMul node. Gemm with alpha or beta other than 1 is an error.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "formats/protowire.h"
#include "formats/weights_file.h"

namespace dlbhc {

// ONNX TensorProto.DataType values read here.
enum OnnxDataType : int { kOnnxFloat = 1, kOnnxInt32 = 6, kOnnxInt64 = 7, kOnnxDouble = 11 };

// Decodes the TensorProto held by field `f` of the message `r` reads (e.g. a GraphProto's
// initializer, or an AttributeProto's t). The result has the tensor's name, dims and values as
// float32; `data_type`, when given, receives the stored element type. Errors are
// std::runtime_error "<file>: byte <offset>: field <n>: tensor '<name>': <what>".
NamedTensor read_onnx_tensor(const pb::Reader& r, const pb::Field& f, int* data_type = nullptr);
// A file holding one bare TensorProto (the ONNX backend test cases' input_0.pb / output_0.pb).
NamedTensor read_onnx_tensor_file(const std::string& path, int* data_type = nullptr);

// The mapping in the file comment; "" stays "".
std::string onnx_param_name(const std::string& initializer_name);

// Reads an .onnx model's initializers, transposes fully connected weights stored (I, O) (see the
// file comment), renames them with onnx_param_name, and skips integer initializers (graph
// constants such as Reshape shapes, listed in the notes). Two initializers mapping to one name is
// an error naming both.
ImportedWeights decode_onnx_weights(const uint8_t* data, size_t size, const std::string& file);
ImportedWeights read_onnx_weights(const std::string& path);

}  // namespace dlbhc
