// tests/fuzz/target_nn.cpp -- fuzz targets for the model readers in nn/: the prototxt text format
// and Caffe net/solver definitions, the protobuf wire format behind .caffemodel, .binaryproto and
// ONNX, .npy arrays, and dlbhc's own weights files and snapshots.
#include <cstring>

#include "formats/caffe_spec.h"
#include "formats/caffemodel.h"
#include "formats/npy.h"
#include "formats/onnx.h"
#include "formats/onnx_weights.h"
#include "formats/prototxt.h"
#include "formats/snapshot.h"
#include "formats/solver_spec.h"
#include "formats/weights_file.h"
#include "tests/fuzz/targets.h"

namespace dlbhc::fuzz {
namespace {

std::string as_text(const uint8_t* data, size_t size) { return std::string(reinterpret_cast<const char*>(data), size); }

// Same dims and bit-identical values (NaN payloads included).
bool same_tensor(const NamedTensor& a, const NamedTensor& b) {
    return a.dims == b.dims && a.data.size() == b.data.size() &&
           (a.data.empty() || std::memcmp(a.data.data(), b.data.data(), a.data.size() * sizeof(float)) == 0);
}

void check_counts(const NamedTensor& t, const char* who) {
    uint64_t n = 1;
    for (int64_t d : t.dims) {
        if (d < 0) contract_violation(std::string(who) + ": negative dimension accepted");
        n *= (uint64_t)d;
    }
    if (n != t.data.size()) contract_violation(std::string(who) + ": dims disagree with the data size");
}

}  // namespace

void fuzz_prototxt(const uint8_t* data, size_t size) {
    const std::string text = as_text(data, size);
    // The generic text-format parser, then the Caffe net schema on top of it.
    expect_clean_errors([&] { parse_prototxt(text, kFuzzName); });
    expect_clean_errors([&] {
        const NetSpec spec = parse_net_spec(text, kFuzzName);
        for (const auto& l : spec.layers) (void)describe_layer(l);
    });
}

void fuzz_solver(const uint8_t* data, size_t size) {
    expect_clean_errors([&] { parse_solver_spec(as_text(data, size), kFuzzName, "/base"); });
}

void fuzz_caffemodel(const uint8_t* data, size_t size) {
    expect_clean_errors([&] {
        const CaffeModel m = decode_caffemodel(data, size, kFuzzName);
        const ImportedWeights w = caffemodel_to_weights(m, kFuzzName);
        for (const auto& t : w.weights.tensors) check_counts(t, "caffemodel");
    });
}

void fuzz_binaryproto(const uint8_t* data, size_t size) {
    expect_clean_errors([&] {
        const NamedTensor t = decode_binaryproto(data, size, kFuzzName);
        check_counts(t, "binaryproto");
        const ImportedWeights w = mean_to_weights(t, kFuzzName);
        for (const auto& u : w.weights.tensors) check_counts(u, "binaryproto mean");
    });
}

void fuzz_onnx(const uint8_t* data, size_t size) {
    // The same bytes as a ModelProto (graph, initializers, op list) and as a TensorProto (the
    // backend test cases' input_N.pb / output_N.pb files).
    expect_clean_errors([&] { parse_onnx_model(data, size, kFuzzName); });
    expect_clean_errors([&] { parse_onnx_op_types(data, size, kFuzzName); });
    expect_clean_errors([&] {
        const ImportedWeights w = decode_onnx_weights(data, size, kFuzzName);
        for (const auto& t : w.weights.tensors) check_counts(t, "onnx initializer");
    });
    expect_clean_errors([&] {
        const OnnxTensor t = parse_onnx_tensor(data, size, kFuzzName);
        uint64_t n = 1;
        for (int64_t d : t.dims) n *= (uint64_t)d;
        if (n != t.count()) contract_violation("onnx tensor: dims disagree with the data size");
    });
}

void fuzz_npy(const uint8_t* data, size_t size) {
    expect_clean_errors([&] {
        std::string dtype;
        const NamedTensor t = decode_npy(data, size, kFuzzName, &dtype);
        check_counts(t, "npy");
        // What was read writes back and reads again to the same array.
        const std::string again = encode_npy(t.data.data(), t.dims);
        const NamedTensor u = decode_npy(reinterpret_cast<const uint8_t*>(again.data()), again.size(), kFuzzName);
        if (!same_tensor(t, u)) contract_violation("npy: round trip changed the array");
    });
}

void fuzz_weights(const uint8_t* data, size_t size) {
    expect_clean_errors([&] {
        const WeightsFile w = decode_weights(data, size, kFuzzName);
        for (const auto& t : w.tensors) check_counts(t, "weights");
        // A file that reads writes back and reads again to the same content.
        const std::string again = encode_weights(w);
        const WeightsFile v = decode_weights(reinterpret_cast<const uint8_t*>(again.data()), again.size(), kFuzzName);
        if (v.tensors.size() != w.tensors.size() || v.metadata != w.metadata)
            contract_violation("weights: round trip changed the file");
        for (size_t i = 0; i < w.tensors.size(); ++i)
            if (v.tensors[i].name != w.tensors[i].name || !same_tensor(v.tensors[i], w.tensors[i]))
                contract_violation("weights: round trip changed tensor " + w.tensors[i].name);
        // The same bytes as a training snapshot (--resume).
        expect_clean_errors([&] { train_state_from_weights(w, kFuzzName); });
    });
}

}  // namespace dlbhc::fuzz
