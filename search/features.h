// search/features.h -- a read-only view of N feature vectors (the fc7 activations, D = 4096),
// stored as float32 or as float16 (half the memory; see float16.h).
#pragma once
#include <cstddef>
#include <cstdint>

namespace dlbhc {

// The values are also the on-disk codes of the index file format (docs/formats.md, "Index files").
enum class FeatureType : uint32_t { None = 0, F32 = 1, F16 = 2 };

inline size_t feature_type_bytes(FeatureType t) { return t == FeatureType::F32 ? 4 : t == FeatureType::F16 ? 2 : 0; }
inline const char* feature_type_name(FeatureType t) {
    return t == FeatureType::F32 ? "float32" : t == FeatureType::F16 ? "float16" : "none";
}

// (N, D) row-major; data points to float (F32) or uint16_t half bits (F16). Owned elsewhere.
struct FeatureView {
    const void* data = nullptr;
    size_t n = 0;
    int dim = 0;
    FeatureType type = FeatureType::None;
    const void* row(size_t i) const {
        return (const char*)data + i * (size_t)dim * feature_type_bytes(type);
    }
};

}  // namespace dlbhc
