// search/hamming_filter.cpp -- the bound filter, portable and AVX2 (see hamming_filter.h).
#include "search/hamming_filter.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace dlbhc {
namespace detail {

size_t hamming_filter_portable(const uint16_t* dist, size_t n, uint32_t base, int bound, uint32_t* idx_out,
                               uint16_t* dist_out) {
    size_t c = 0;
    if (bound <= 0) return 0;
    for (size_t i = 0; i < n; ++i)
        if ((int)dist[i] < bound) {
            idx_out[c] = base + (uint32_t)i;
            dist_out[c] = dist[i];
            ++c;
        }
    return c;
}

bool hamming_filter_avx2_supported() {
#if defined(__x86_64__)
    static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi");
    return ok;
#else
    return false;
#endif
}

#if defined(__x86_64__)
__attribute__((target("avx2,bmi"))) size_t hamming_filter_avx2(const uint16_t* dist, size_t n, uint32_t base,
                                                              int bound, uint32_t* idx_out, uint16_t* dist_out) {
    if (bound <= 0) return 0;
    if (bound > 65535) return hamming_filter_portable(dist, n, base, bound, idx_out, dist_out);
    // d < bound  <=>  min(d, bound - 1) == d, in unsigned 16-bit lanes.
    const __m256i lim = _mm256_set1_epi16((short)(uint16_t)(bound - 1));
    size_t c = 0, i = 0;
    for (; i + 64 <= n; i += 64) {
        __m256i d0 = _mm256_loadu_si256((const __m256i*)(dist + i));
        __m256i d1 = _mm256_loadu_si256((const __m256i*)(dist + i + 16));
        __m256i d2 = _mm256_loadu_si256((const __m256i*)(dist + i + 32));
        __m256i d3 = _mm256_loadu_si256((const __m256i*)(dist + i + 48));
        __m256i m0 = _mm256_cmpeq_epi16(_mm256_min_epu16(d0, lim), d0);
        __m256i m1 = _mm256_cmpeq_epi16(_mm256_min_epu16(d1, lim), d1);
        __m256i m2 = _mm256_cmpeq_epi16(_mm256_min_epu16(d2, lim), d2);
        __m256i m3 = _mm256_cmpeq_epi16(_mm256_min_epu16(d3, lim), d3);
        __m256i any = _mm256_or_si256(_mm256_or_si256(m0, m1), _mm256_or_si256(m2, m3));
        if (_mm256_testz_si256(any, any)) continue;
        const __m256i ms[4] = {m0, m1, m2, m3};
        for (int v = 0; v < 4; ++v) {
            // Two mask bits per 16-bit lane: take the lowest, clear both.
            uint32_t mask = (uint32_t)_mm256_movemask_epi8(ms[v]);
            while (mask) {
                size_t j = i + 16 * (size_t)v + (_tzcnt_u32(mask) >> 1);
                idx_out[c] = base + (uint32_t)j;
                dist_out[c] = dist[j];
                ++c;
                mask &= mask - 1;
                mask &= mask - 1;
            }
        }
    }
    return c + hamming_filter_portable(dist + i, n - i, base + (uint32_t)i, bound, idx_out + c, dist_out + c);
}
#endif

}  // namespace detail

size_t hamming_filter_below(const uint16_t* dist, size_t n, uint32_t base, int bound, uint32_t* idx_out,
                            uint16_t* dist_out) {
#if defined(__x86_64__)
    if (detail::hamming_filter_avx2_supported())
        return detail::hamming_filter_avx2(dist, n, base, bound, idx_out, dist_out);
#endif
    return detail::hamming_filter_portable(dist, n, base, bound, idx_out, dist_out);
}

}  // namespace dlbhc
