// io/byte_order.h -- fixed-width little- and big-endian loads and stores for the file formats.
//
// Every dlbhc format (index, weights, snapshots, batcher state) and most foreign ones (gzip, npy,
// protobuf fixed32/64, ONNX raw_data, xxHash input) are little-endian; IDX (MNIST) is big-endian.
// Written as byte shifts, which g++ folds into one plain load or store on a host of the same
// order, so the readers stay correct on big-endian hosts at no cost on little-endian ones.
#pragma once
#include <cstdint>
#include <cstring>

namespace dlbhc {

inline uint16_t load_le16(const uint8_t* p) { return uint16_t(p[0] | p[1] << 8); }
inline uint32_t load_le32(const uint8_t* p) {
    return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
inline uint64_t load_le64(const uint8_t* p) { return uint64_t(load_le32(p)) | uint64_t(load_le32(p + 4)) << 32; }
inline uint32_t load_be32(const uint8_t* p) {
    return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}

inline float load_le_f32(const uint8_t* p) {
    const uint32_t u = load_le32(p);
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}
inline double load_le_f64(const uint8_t* p) {
    const uint64_t u = load_le64(p);
    double d;
    std::memcpy(&d, &u, 8);
    return d;
}

inline void store_le32(uint8_t* p, uint32_t v) {
    for (int i = 0; i < 4; ++i) p[i] = uint8_t(v >> (8 * i));
}
inline void store_le64(uint8_t* p, uint64_t v) {
    for (int i = 0; i < 8; ++i) p[i] = uint8_t(v >> (8 * i));
}

}  // namespace dlbhc
