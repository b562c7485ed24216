// formats/onnx_weights.h -- the weights (graph initializers) of an ONNX model, without libprotobuf.
//
// Who does what: formats/onnx.h decodes every TensorProto (its one decoder: raw_data and the
// typed fields, the checks against dims, refusal of segments and external data, strict
// conversions). This file asks it for FLOAT (1), DOUBLE (11), INT32 (6) and INT64 (7) tensors
// (another type is an error naming the tensor and the type), converts the values to float32 with
// OnnxTensor::to_floats (an integer float32 cannot hold exactly, or a finite DOUBLE beyond
// float32's range, is an error naming the tensor and the element index), and reads the graph
// itself, lightly: of ModelProto only graph 7; of GraphProto node 1 and initializer 5; of
// NodeProto input 1, name 3, op_type 4 and the numeric attributes (AttributeProto name 1, f 2,
// i 3). (formats/onnx.h's parse_onnx_model would also decode every node's tensor attributes,
// failing a weights import on a Constant node of a type that has nothing to do with weights.)
//
// Conversion to dlbhc names (onnx_param_name, documented in docs/formats.md, "Caffe and ONNX weights"):
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

#include "formats/onnx.h"
#include "formats/protowire.h"
#include "formats/weights_file.h"

namespace dlbhc {

// ONNX TensorProto.DataType values read here.
enum OnnxDataType : int {
    kOnnxFloat = onnx_type::kFloat, kOnnxInt32 = onnx_type::kInt32, kOnnxInt64 = onnx_type::kInt64,
    kOnnxDouble = onnx_type::kDouble,
};

// decode_onnx_tensor (formats/onnx.h) for the types above, as a NamedTensor: the tensor's name,
// dims and values as float32; `data_type`, when given, receives the stored element type. Errors
// are std::runtime_error "<file>: byte <offset>: field <n>: tensor '<name>': <what>".
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
