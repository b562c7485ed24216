// hash/hamming_x86.cpp -- the x86 Hamming kernels (POPCNT, AVX2, AVX-512BW, AVX-512 VPOPCNTDQ).
//
// Each function carries its own target attribute, so this file builds without -march and the
// instructions run only when hamming.cpp's dispatcher has checked the CPU. Every kernel has the
// contract of HammingBatchFn (hamming.h) and is tested against detail::hamming_batch_portable,
// the plain reference beside it.
//
// Layout reminders: codes are (n, W) uint64 row-major; a 256-bit register holds 4 words, a 512-bit
// one 8 words. The fast paths exist for W = 1, 2, 4 (codes of up to 64, 128, 256 bits: the
// lengths the paper and FAISS users use); other W go through a generic word loop.
#if defined(__x86_64__)
// GCC 12's own AVX-512 headers trip -Wmaybe-uninitialized on _mm512_undefined_epi32 once inlined
// (GCC bug 105593, fixed in GCC 13); the warning is about the header, not this code.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include "hash/hamming.h"

namespace dlbhc {
namespace detail {
namespace {

// ---------------------------------------------------------------- POPCNT, one word at a time.

template <int W>
__attribute__((target("popcnt"))) void popcnt_fixed(const uint64_t* q, const uint64_t* c, size_t n,
                                                    uint16_t* out) {
    uint64_t qq[W];
    for (int w = 0; w < W; ++w) qq[w] = q[w];
    for (size_t i = 0; i < n; ++i, c += W) {
        int d = 0;
        for (int w = 0; w < W; ++w) d += __builtin_popcountll(qq[w] ^ c[w]);
        out[i] = (uint16_t)d;
    }
}

__attribute__((target("popcnt"))) void popcnt_any(const uint64_t* q, const uint64_t* c, size_t n,
                                                  int words, uint16_t* out) {
    for (size_t i = 0; i < n; ++i, c += words) {
        int d = 0;
        for (int w = 0; w < words; ++w) d += __builtin_popcountll(q[w] ^ c[w]);
        out[i] = (uint16_t)d;
    }
}

// ---------------------------------------------------------------- AVX2 helpers.

// Per-byte popcount by two 16-entry look-ups (low and high nibble), W. Mula's method.
__attribute__((target("avx2"))) inline __m256i popcount_bytes256(__m256i v) {
    const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,  //
                                         0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i nib = _mm256_set1_epi8(0x0f);
    __m256i lo = _mm256_and_si256(v, nib);
    __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), nib);
    return _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi));
}

// Popcount of each 64-bit lane (VPSADBW sums the 8 byte counts of a lane).
__attribute__((target("avx2"))) inline __m256i popcount_lanes256(__m256i v) {
    return _mm256_sad_epu8(popcount_bytes256(v), _mm256_setzero_si256());
}

// v0..v3 hold the counts of 16 consecutive codes, v_j lane l = code 4j + l (each < 2^16).
// Stores them as 16 uint16 in code order. The shifts put the four vectors into the four 16-bit
// slots of each lane (no saturation, unlike PACKUS); the byte shuffle and the dword permutation
// then transpose the 4x4 block of slots.
__attribute__((target("avx2"))) inline void store16_counts256(__m256i v0, __m256i v1, __m256i v2,
                                                              __m256i v3, uint16_t* out) {
    __m256i x = _mm256_or_si256(_mm256_or_si256(v0, _mm256_slli_epi64(v1, 16)),
                                _mm256_or_si256(_mm256_slli_epi64(v2, 32), _mm256_slli_epi64(v3, 48)));
    const __m256i slots = _mm256_setr_epi8(0, 1, 8, 9, 2, 3, 10, 11, 4, 5, 12, 13, 6, 7, 14, 15,  //
                                           0, 1, 8, 9, 2, 3, 10, 11, 4, 5, 12, 13, 6, 7, 14, 15);
    x = _mm256_shuffle_epi8(x, slots);
    x = _mm256_permutevar8x32_epi32(x, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i*)out, x);
}

// s = lane counts of codes (a, b), t = of codes (c, d), W = 2: returns [a, b, c, d].
__attribute__((target("avx2"))) inline __m256i sum_pairs256(__m256i s, __m256i t) {
    __m256i lo = _mm256_permute2x128_si256(s, t, 0x20);  // [a0 a1 c0 c1]
    __m256i hi = _mm256_permute2x128_si256(s, t, 0x31);  // [b0 b1 d0 d1]
    return _mm256_add_epi64(_mm256_unpacklo_epi64(lo, hi), _mm256_unpackhi_epi64(lo, hi));
}

// s0..s3 = lane counts of four W = 4 codes: returns their sums [c0, c1, c2, c3].
__attribute__((target("avx2"))) inline __m256i sum_quads256(__m256i s0, __m256i s1, __m256i s2, __m256i s3) {
    __m256i t01 = _mm256_add_epi64(_mm256_unpacklo_epi64(s0, s1), _mm256_unpackhi_epi64(s0, s1));
    __m256i t23 = _mm256_add_epi64(_mm256_unpacklo_epi64(s2, s3), _mm256_unpackhi_epi64(s2, s3));
    return _mm256_add_epi64(_mm256_permute2x128_si256(t01, t23, 0x20),
                            _mm256_permute2x128_si256(t01, t23, 0x31));
}

__attribute__((target("avx2"))) inline __m256i load256(const uint64_t* p) {
    return _mm256_loadu_si256((const __m256i*)p);
}

// Generic W: 4 words per step, lane counts accumulated, scalar POPCNT for the last W % 4 words.
__attribute__((target("avx2,popcnt"))) void avx2_any(const uint64_t* q, const uint64_t* c, size_t n,
                                                     int words, uint16_t* out) {
    int full = words & ~3;
    for (size_t i = 0; i < n; ++i, c += words) {
        __m256i acc = _mm256_setzero_si256();
        for (int w = 0; w < full; w += 4)
            acc = _mm256_add_epi64(acc, popcount_lanes256(_mm256_xor_si256(load256(q + w), load256(c + w))));
        alignas(32) uint64_t lanes[4];
        _mm256_store_si256((__m256i*)lanes, acc);
        uint64_t d = lanes[0] + lanes[1] + lanes[2] + lanes[3];
        for (int w = full; w < words; ++w) d += (uint64_t)__builtin_popcountll(q[w] ^ c[w]);
        out[i] = (uint16_t)d;
    }
}

__attribute__((target("avx2,popcnt"))) void avx2_w1(const uint64_t* q, const uint64_t* c, size_t n,
                                                    uint16_t* out) {
    const __m256i qv = _mm256_set1_epi64x((long long)q[0]);
    size_t i = 0;
    for (; i + 16 <= n; i += 16, c += 16) {
        __m256i v0 = popcount_lanes256(_mm256_xor_si256(qv, load256(c)));
        __m256i v1 = popcount_lanes256(_mm256_xor_si256(qv, load256(c + 4)));
        __m256i v2 = popcount_lanes256(_mm256_xor_si256(qv, load256(c + 8)));
        __m256i v3 = popcount_lanes256(_mm256_xor_si256(qv, load256(c + 12)));
        store16_counts256(v0, v1, v2, v3, out + i);
    }
    popcnt_fixed<1>(q, c, n - i, out + i);
}

__attribute__((target("avx2,popcnt"))) void avx2_w2(const uint64_t* q, const uint64_t* c, size_t n,
                                                    uint16_t* out) {
    const __m256i qv = _mm256_setr_epi64x((long long)q[0], (long long)q[1], (long long)q[0], (long long)q[1]);
    size_t i = 0;
    for (; i + 16 <= n; i += 16, c += 32) {
        __m256i v[4];
        for (int j = 0; j < 4; ++j) {
            const uint64_t* p = c + 8 * j;  // codes 4j .. 4j+3
            __m256i s = popcount_lanes256(_mm256_xor_si256(qv, load256(p)));
            __m256i t = popcount_lanes256(_mm256_xor_si256(qv, load256(p + 4)));
            v[j] = sum_pairs256(s, t);
        }
        store16_counts256(v[0], v[1], v[2], v[3], out + i);
    }
    popcnt_fixed<2>(q, c, n - i, out + i);
}

__attribute__((target("avx2,popcnt"))) void avx2_w4(const uint64_t* q, const uint64_t* c, size_t n,
                                                    uint16_t* out) {
    const __m256i qv = load256(q);
    size_t i = 0;
    for (; i + 16 <= n; i += 16, c += 64) {
        __m256i v[4];
        for (int j = 0; j < 4; ++j) {
            const uint64_t* p = c + 16 * j;  // codes 4j .. 4j+3
            v[j] = sum_quads256(popcount_lanes256(_mm256_xor_si256(qv, load256(p))),
                                popcount_lanes256(_mm256_xor_si256(qv, load256(p + 4))),
                                popcount_lanes256(_mm256_xor_si256(qv, load256(p + 8))),
                                popcount_lanes256(_mm256_xor_si256(qv, load256(p + 12))));
        }
        store16_counts256(v[0], v[1], v[2], v[3], out + i);
    }
    popcnt_fixed<4>(q, c, n - i, out + i);
}

// ---------------------------------------------------------------- AVX-512 helpers (F + BW).

__attribute__((target("avx512f,avx512bw"))) inline __m512i load512(const uint64_t* p) {
    return _mm512_loadu_si512((const void*)p);
}

// Per-lane popcount without VPOPCNTQ: nibble look-up + VPSADBW, as popcount_lanes256.
__attribute__((target("avx512f,avx512bw"))) inline __m512i popcount_lanes512_bw(__m512i v) {
    const __m512i lut = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4));
    const __m512i nib = _mm512_set1_epi8(0x0f);
    __m512i lo = _mm512_and_si512(v, nib);
    __m512i hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), nib);
    __m512i b = _mm512_add_epi8(_mm512_shuffle_epi8(lut, lo), _mm512_shuffle_epi8(lut, hi));
    return _mm512_sad_epu8(b, _mm512_setzero_si512());
}

// v0..v3: counts of 32 consecutive codes, v_s lane l = code 8s + l. Stores 32 uint16 in order:
// the shifts fill the four 16-bit slots of each lane, VPERMW puts slot s of lane l (element
// 4l + s) at position 8s + l.
__attribute__((target("avx512f,avx512bw"))) inline void store32_counts512(__m512i v0, __m512i v1, __m512i v2,
                                                                         __m512i v3, uint16_t* out) {
    alignas(64) static const uint16_t kOrder[32] = {0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29,
                                                    2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31};
    __m512i x = _mm512_or_si512(_mm512_or_si512(v0, _mm512_slli_epi64(v1, 16)),
                                _mm512_or_si512(_mm512_slli_epi64(v2, 32), _mm512_slli_epi64(v3, 48)));
    x = _mm512_permutexvar_epi16(_mm512_load_si512((const void*)kOrder), x);
    _mm512_storeu_si512((void*)out, x);
}

// Sums adjacent lane pairs of s and t: returns [s0+s1, s2+s3, s4+s5, s6+s7, t0+t1, ..., t6+t7].
__attribute__((target("avx512f,avx512bw"))) inline __m512i sum_adjacent512(__m512i s, __m512i t) {
    const __m512i even = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
    const __m512i odd = _mm512_setr_epi64(1, 3, 5, 7, 9, 11, 13, 15);
    return _mm512_add_epi64(_mm512_permutex2var_epi64(s, even, t), _mm512_permutex2var_epi64(s, odd, t));
}

// ---------------------------------------------------------------- AVX-512BW kernels.

__attribute__((target("avx512f,avx512bw,avx2,popcnt"))) void avx512bw_w1(const uint64_t* q, const uint64_t* c,
                                                                        size_t n, uint16_t* out) {
    const __m512i qv = _mm512_set1_epi64((long long)q[0]);
    size_t i = 0;
    for (; i + 32 <= n; i += 32, c += 32) {
        __m512i v0 = popcount_lanes512_bw(_mm512_xor_si512(qv, load512(c)));
        __m512i v1 = popcount_lanes512_bw(_mm512_xor_si512(qv, load512(c + 8)));
        __m512i v2 = popcount_lanes512_bw(_mm512_xor_si512(qv, load512(c + 16)));
        __m512i v3 = popcount_lanes512_bw(_mm512_xor_si512(qv, load512(c + 24)));
        store32_counts512(v0, v1, v2, v3, out + i);
    }
    popcnt_fixed<1>(q, c, n - i, out + i);
}

__attribute__((target("avx512f,avx512bw,avx2,popcnt"))) void avx512bw_w2(const uint64_t* q, const uint64_t* c,
                                                                        size_t n, uint16_t* out) {
    const __m512i qv = _mm512_broadcast_i32x4(_mm_set_epi64x((long long)q[1], (long long)q[0]));
    size_t i = 0;
    for (; i + 32 <= n; i += 32, c += 64) {
        __m512i v[4];
        for (int j = 0; j < 4; ++j) {  // codes 8j .. 8j+7
            const uint64_t* p = c + 16 * j;
            v[j] = sum_adjacent512(popcount_lanes512_bw(_mm512_xor_si512(qv, load512(p))),
                                   popcount_lanes512_bw(_mm512_xor_si512(qv, load512(p + 8))));
        }
        store32_counts512(v[0], v[1], v[2], v[3], out + i);
    }
    popcnt_fixed<2>(q, c, n - i, out + i);
}

__attribute__((target("avx512f,avx512bw,avx2,popcnt"))) void avx512bw_w4(const uint64_t* q, const uint64_t* c,
                                                                        size_t n, uint16_t* out) {
    const __m512i qv = _mm512_broadcast_i64x4(load256(q));
    size_t i = 0;
    for (; i + 32 <= n; i += 32, c += 128) {
        __m512i v[4];
        for (int j = 0; j < 4; ++j) {  // codes 8j .. 8j+7, two per register
            const uint64_t* p = c + 32 * j;
            __m512i u0 = sum_adjacent512(popcount_lanes512_bw(_mm512_xor_si512(qv, load512(p))),
                                         popcount_lanes512_bw(_mm512_xor_si512(qv, load512(p + 8))));
            __m512i u1 = sum_adjacent512(popcount_lanes512_bw(_mm512_xor_si512(qv, load512(p + 16))),
                                         popcount_lanes512_bw(_mm512_xor_si512(qv, load512(p + 24))));
            v[j] = sum_adjacent512(u0, u1);
        }
        store32_counts512(v[0], v[1], v[2], v[3], out + i);
    }
    popcnt_fixed<4>(q, c, n - i, out + i);
}

// ---------------------------------------------------------------- AVX-512 VPOPCNTDQ kernels.
// The same loops as the AVX-512BW ones with VPOPCNTQ as the lane count. They cannot be run on a
// CPU without VPOPCNTDQ (the tests say so when they skip them).

__attribute__((target("avx512f,avx512bw,avx512vpopcntdq,avx2,popcnt"))) void vpop_w1(const uint64_t* q,
                                                                                    const uint64_t* c, size_t n,
                                                                                    uint16_t* out) {
    const __m512i qv = _mm512_set1_epi64((long long)q[0]);
    size_t i = 0;
    for (; i + 32 <= n; i += 32, c += 32) {
        __m512i v0 = _mm512_popcnt_epi64(_mm512_xor_si512(qv, load512(c)));
        __m512i v1 = _mm512_popcnt_epi64(_mm512_xor_si512(qv, load512(c + 8)));
        __m512i v2 = _mm512_popcnt_epi64(_mm512_xor_si512(qv, load512(c + 16)));
        __m512i v3 = _mm512_popcnt_epi64(_mm512_xor_si512(qv, load512(c + 24)));
        store32_counts512(v0, v1, v2, v3, out + i);
    }
    popcnt_fixed<1>(q, c, n - i, out + i);
}

__attribute__((target("avx512f,avx512bw,avx512vpopcntdq,avx2,popcnt"))) void vpop_w2(const uint64_t* q,
                                                                                    const uint64_t* c, size_t n,
                                                                                    uint16_t* out) {
    const __m512i qv = _mm512_broadcast_i32x4(_mm_set_epi64x((long long)q[1], (long long)q[0]));
    size_t i = 0;
    for (; i + 32 <= n; i += 32, c += 64) {
        __m512i v[4];
        for (int j = 0; j < 4; ++j) {
            const uint64_t* p = c + 16 * j;
            v[j] = sum_adjacent512(_mm512_popcnt_epi64(_mm512_xor_si512(qv, load512(p))),
                                   _mm512_popcnt_epi64(_mm512_xor_si512(qv, load512(p + 8))));
        }
        store32_counts512(v[0], v[1], v[2], v[3], out + i);
    }
    popcnt_fixed<2>(q, c, n - i, out + i);
}

__attribute__((target("avx512f,avx512bw,avx512vpopcntdq,avx2,popcnt"))) void vpop_w4(const uint64_t* q,
                                                                                    const uint64_t* c, size_t n,
                                                                                    uint16_t* out) {
    const __m512i qv = _mm512_broadcast_i64x4(load256(q));
    size_t i = 0;
    for (; i + 32 <= n; i += 32, c += 128) {
        __m512i v[4];
        for (int j = 0; j < 4; ++j) {
            const uint64_t* p = c + 32 * j;
            __m512i u0 = sum_adjacent512(_mm512_popcnt_epi64(_mm512_xor_si512(qv, load512(p))),
                                         _mm512_popcnt_epi64(_mm512_xor_si512(qv, load512(p + 8))));
            __m512i u1 = sum_adjacent512(_mm512_popcnt_epi64(_mm512_xor_si512(qv, load512(p + 16))),
                                         _mm512_popcnt_epi64(_mm512_xor_si512(qv, load512(p + 24))));
            v[j] = sum_adjacent512(u0, u1);
        }
        store32_counts512(v[0], v[1], v[2], v[3], out + i);
    }
    popcnt_fixed<4>(q, c, n - i, out + i);
}

}  // namespace

// ---------------------------------------------------------------- entry points.

int hamming_one_popcnt(const uint64_t* a, const uint64_t* b, int words) {
    uint16_t d;
    popcnt_any(a, b, 1, words, &d);
    return d;
}

void hamming_batch_popcnt(const uint64_t* q, const uint64_t* codes, size_t n, int words, uint16_t* out) {
    switch (words) {
    case 1: popcnt_fixed<1>(q, codes, n, out); break;
    case 2: popcnt_fixed<2>(q, codes, n, out); break;
    case 3: popcnt_fixed<3>(q, codes, n, out); break;
    case 4: popcnt_fixed<4>(q, codes, n, out); break;
    default: popcnt_any(q, codes, n, words, out);
    }
}

void hamming_batch_avx2(const uint64_t* q, const uint64_t* codes, size_t n, int words, uint16_t* out) {
    switch (words) {
    case 1: avx2_w1(q, codes, n, out); break;
    case 2: avx2_w2(q, codes, n, out); break;
    case 3: popcnt_fixed<3>(q, codes, n, out); break;
    case 4: avx2_w4(q, codes, n, out); break;
    default: avx2_any(q, codes, n, words, out);
    }
}

void hamming_batch_avx512bw(const uint64_t* q, const uint64_t* codes, size_t n, int words, uint16_t* out) {
    switch (words) {
    case 1: avx512bw_w1(q, codes, n, out); break;
    case 2: avx512bw_w2(q, codes, n, out); break;
    case 4: avx512bw_w4(q, codes, n, out); break;
    default: hamming_batch_avx2(q, codes, n, words, out);
    }
}

void hamming_batch_avx512vpopcnt(const uint64_t* q, const uint64_t* codes, size_t n, int words, uint16_t* out) {
    switch (words) {
    case 1: vpop_w1(q, codes, n, out); break;
    case 2: vpop_w2(q, codes, n, out); break;
    case 4: vpop_w4(q, codes, n, out); break;
    default: hamming_batch_avx2(q, codes, n, words, out);
    }
}

}  // namespace detail
}  // namespace dlbhc
#endif  // __x86_64__
