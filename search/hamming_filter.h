// search/hamming_filter.h -- "which of these distances are below the bound?", the inner step
// of every Hamming search after the distance kernel.
//
// Writes every i < n with dist[i] < bound to idx_out (as base + i) and dist_out, in order, and
// returns how many; both outputs must have room for n entries. Almost every code fails the test
// once a k-NN bound is tight, so the fast versions test 64 distances at a time and only then
// look for the survivors (AVX2: a compare mask and count-trailing-zeros over its set bits).
// Portable version: detail::hamming_filter_portable (the reference for the tests).
#pragma once
#include <cstddef>
#include <cstdint>

namespace dlbhc {

size_t hamming_filter_below(const uint16_t* dist, size_t n, uint32_t base, int bound, uint32_t* idx_out,
                            uint16_t* dist_out);

namespace detail {
size_t hamming_filter_portable(const uint16_t* dist, size_t n, uint32_t base, int bound, uint32_t* idx_out,
                               uint16_t* dist_out);
#if defined(__x86_64__)
size_t hamming_filter_avx2(const uint16_t* dist, size_t n, uint32_t base, int bound, uint32_t* idx_out,
                           uint16_t* dist_out);
#endif
bool hamming_filter_avx2_supported();
}  // namespace detail

}  // namespace dlbhc
