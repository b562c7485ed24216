// tests/formats/onnx_runner.h -- runs one ONNX backend test case through the equivalent dlbhc layer.
//
// An ONNX backend test case is a folder with model.onnx (here: a graph of one node) and
// test_data_set_0/ holding input_<i>.pb and output_<i>.pb, each one TensorProto. input_<i> is the
// i-th graph input that is not an initializer (weights may come either way); output_<i> is the
// i-th graph output. These files were produced by ONNX's own reference implementation (or by
// PyTorch, for the pytorch-* folders), not by anyone working on dlbhc.
//
// The runner maps the node onto a dlbhc layer -- Conv -> ConvolutionLayer, MaxPool/AveragePool/
// GlobalMaxPool/GlobalAveragePool -> PoolingLayer, LRN -> LRNLayer, Gemm -> sgemm with the
// node's transA/transB/alpha/beta (and InnerProductLayer when the node has that form), Relu ->
// ReLULayer, Sigmoid -> SigmoidLayer, Softmax -> SoftmaxLayer, Dropout -> DropoutLayer -- runs it
// on the inputs and compares every output with |ours - expected| <= kOnnxAbsTol + kOnnxRelTol *
// |expected|. Layouts need no conversion: ONNX tensors are row-major (N, C, H, W) and ONNX conv
// weights are (M, C/group, kH, kW), as dlbhc's. A 1-D spatial input (N, C, L) runs as (N, C, 1, L).
//
// A case is skipped, with the reason, only when it needs something Caffe's layers (and so dlbhc's)
// do not have: 3-D spatial inputs, dilations, pads that differ between the two sides of an axis,
// floor rounding in pooling where it gives fewer outputs than Caffe's ceil rule (the windows both
// roundings share are still compared), an average divisor that leaves out the padding
// (count_include_pad = 0 with pads), an even LRN size, or a training-mode dropout mask drawn by
// ONNX's random generator.
#pragma once
#include <string>
#include <vector>

namespace dlbhc {

constexpr double kOnnxAbsTol = 1e-5, kOnnxRelTol = 1e-4;

struct OnnxCaseResult {
    enum Status { kPass, kSkip, kFail };
    Status status = kFail;
    std::string op_type;   // of the node (the first node when there are several)
    std::string reason;    // kSkip: why; kFail: what went wrong; kPass: notes, may be empty
    double max_err = 0.0;  // largest |ours - expected| over the values compared
    int compared = 0;      // output tensors compared (a skip may still compare shared windows)
};

// The ONNX op types the runner maps onto dlbhc layers.
const std::vector<std::string>& onnx_runner_ops();
bool onnx_runner_handles(const std::string& op_type);

// Runs the case in folder `dir`. Unsupported features give kSkip with the reason; unreadable
// files, layer errors and mismatches give kFail with the message. Never throws.
OnnxCaseResult run_onnx_case(const std::string& dir);

}  // namespace dlbhc
