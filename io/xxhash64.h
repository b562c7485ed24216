// io/xxhash64.h -- the XXH64 checksum (Yann Collet's xxHash, 64-bit variant), own code.
//
// Used for the index file checksums: fast (several GB/s in plain C++, so verifying a large index
// costs about as much as reading it) and specified publicly, so a file can be checked by any
// xxHash implementation (e.g. `xxh64sum` over a section's bytes). Seed 0 throughout.
#pragma once
#include <cstddef>
#include <cstdint>

namespace dlbhc {

// Fuzzing builds (compiled with -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION, the convention of
// libFuzzer and OSS-Fuzz; see docs/robustness.md, "Fuzzing") let the readers go on past a checksum
// mismatch, so that the fuzzer reaches the parsing behind the checksums: a mutated file almost
// never has a matching XXH64 or CRC-32. The readers must be safe on any bytes anyway; the
// checksums only report damage. The product build always verifies.
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
constexpr bool kVerifyChecksums = false;
#else
constexpr bool kVerifyChecksums = true;
#endif

// One shot.
uint64_t xxhash64(const void* data, size_t n, uint64_t seed = 0);

// Streaming: update() any number of times, digest() gives the same value as the one-shot call
// over the concatenated bytes.
class XxHash64 {
public:
    explicit XxHash64(uint64_t seed = 0);
    void update(const void* data, size_t n);
    uint64_t digest() const;

private:
    uint64_t v_[4];
    uint64_t seed_;
    uint64_t total_ = 0;
    unsigned char buf_[32];
    size_t buffered_ = 0;
};

}  // namespace dlbhc
