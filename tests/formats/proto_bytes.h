// tests/formats/proto_bytes.h -- protobuf messages written by hand (with formats/protowire.h's
// writers) for the tests of the Caffe and ONNX readers: fields, packed values, ONNX tensors.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "formats/protowire.h"

namespace dlbhc {
namespace test {

// A varint field.
inline std::string varint_field(uint32_t number, uint64_t v) {
    std::string s;
    pb::put_key(s, number, pb::kVarint);
    pb::put_varint(s, v);
    return s;
}

// A packed repeated varint field (negative values as 10-byte two's complement, as protobuf does).
inline std::string packed_varints(uint32_t number, const std::vector<int64_t>& v) {
    std::string body;
    for (int64_t x : v) pb::put_varint(body, uint64_t(x));
    std::string s;
    pb::put_len(s, number, body);
    return s;
}

// The bytes of packed floats: little-endian, as the host.
inline std::string float_bytes(const std::vector<float>& v) {
    std::string s(v.size() * 4, '\0');
    if (!v.empty()) std::memcpy(&s[0], v.data(), s.size());
    return s;
}

// An ONNX TensorProto's dims, data_type and name; the caller appends the values.
inline std::string onnx_tensor_head(const std::vector<int64_t>& dims, int data_type, const std::string& name = "t") {
    std::string s = packed_varints(1, dims);
    s += varint_field(2, uint64_t(data_type));
    pb::put_len(s, 8, name);
    return s;
}

}  // namespace test
}  // namespace dlbhc
