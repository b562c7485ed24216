// io/xxhash64.cpp -- XXH64 after the public specification (xxhash.com, doc/xxhash_spec.md).
#include "io/xxhash64.h"
#include "io/byte_order.h"

#include <cstring>

namespace dlbhc {

static const uint64_t P1 = 0x9E3779B185EBCA87ull, P2 = 0xC2B2AE3D27D4EB4Full, P3 = 0x165667B19E3779F9ull,
                      P4 = 0x85EBCA77C2B2AE63ull, P5 = 0x27D4EB2F165667C5ull;

static inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
// xxHash reads its input as little-endian words.
static inline uint64_t read64(const unsigned char* p) { return load_le64(p); }
static inline uint32_t read32(const unsigned char* p) { return load_le32(p); }
static inline uint64_t round1(uint64_t acc, uint64_t input) { return rotl(acc + input * P2, 31) * P1; }
static inline uint64_t merge(uint64_t h, uint64_t v) { return (h ^ round1(0, v)) * P1 + P4; }

// The tail (< 32 bytes) and the final avalanche, given the accumulated h.
static uint64_t finish(uint64_t h, const unsigned char* p, size_t n) {
    for (; n >= 8; p += 8, n -= 8) h = rotl(h ^ round1(0, read64(p)), 27) * P1 + P4;
    if (n >= 4) {
        h = rotl(h ^ ((uint64_t)read32(p) * P1), 23) * P2 + P3;
        p += 4;
        n -= 4;
    }
    for (; n > 0; ++p, --n) h = rotl(h ^ (*p * P5), 11) * P1;
    h ^= h >> 33;
    h *= P2;
    h ^= h >> 29;
    h *= P3;
    h ^= h >> 32;
    return h;
}

static inline void stripe(uint64_t v[4], const unsigned char* p) {
    v[0] = round1(v[0], read64(p));
    v[1] = round1(v[1], read64(p + 8));
    v[2] = round1(v[2], read64(p + 16));
    v[3] = round1(v[3], read64(p + 24));
}

static inline uint64_t converge(const uint64_t v[4]) {
    uint64_t h = rotl(v[0], 1) + rotl(v[1], 7) + rotl(v[2], 12) + rotl(v[3], 18);
    for (int i = 0; i < 4; ++i) h = merge(h, v[i]);
    return h;
}

XxHash64::XxHash64(uint64_t seed) : seed_(seed) {
    v_[0] = seed + P1 + P2;
    v_[1] = seed + P2;
    v_[2] = seed;
    v_[3] = seed - P1;
}

void XxHash64::update(const void* data, size_t n) {
    if (n == 0) return;  // data may be null then (memcpy must not see a null pointer)
    const unsigned char* p = (const unsigned char*)data;
    total_ += n;
    if (buffered_) {
        size_t take = 32 - buffered_ < n ? 32 - buffered_ : n;
        std::memcpy(buf_ + buffered_, p, take);
        buffered_ += take;
        p += take;
        n -= take;
        if (buffered_ < 32) return;
        stripe(v_, buf_);
        buffered_ = 0;
    }
    for (; n >= 32; p += 32, n -= 32) stripe(v_, p);
    std::memcpy(buf_, p, n);
    buffered_ = n;
}

uint64_t XxHash64::digest() const {
    uint64_t h = total_ >= 32 ? converge(v_) : seed_ + P5;
    return finish(h + total_, buf_, buffered_);
}

uint64_t xxhash64(const void* data, size_t n, uint64_t seed) {
    XxHash64 h(seed);
    h.update(data, n);
    return h.digest();
}

}  // namespace dlbhc
