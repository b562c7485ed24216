// search/float16.cpp -- binary16 conversion (see float16.h), portable and F16C.
#include "search/float16.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace dlbhc {

static inline uint32_t float_bits(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
}
static inline float bits_float(uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

uint16_t float_to_half(float f) {
    const uint32_t x = float_bits(f);
    const uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    const uint32_t a = x & 0x7fffffffu;
    if (a >= 0x7f800000u)  // infinity, or NaN: quiet it, keep the top 9 payload bits
        return (uint16_t)(sign | 0x7c00u | (a > 0x7f800000u ? 0x200u | ((a >> 13) & 0x3ffu) : 0u));
    // 65520 = halfway between the largest half (65504, odd significand) and 2^16: ties to even
    // go up, so everything from there on is infinity.
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);
    if (a < 0x38800000u) {                   // below 2^-14: a half subnormal (units of 2^-24)
        if (a < 0x33000000u) return sign;    // below 2^-25: rounds to zero (2^-25 itself ties to 0)
        const int e = (int)(a >> 23);        // biased exponent, 102 .. 112
        const uint32_t m = (a & 0x7fffffu) | 0x800000u;
        const int shift = 126 - e;           // value / 2^-24 = m / 2^shift, shift 14 .. 24
        uint32_t r = m >> shift;
        const uint32_t rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (r & 1u))) ++r;  // may carry into the smallest normal
        return (uint16_t)(sign | r);
    }
    // Normal: rebias the exponent (127 -> 15), then round the 23-bit significand to 10 bits, ties
    // to even; a carry out of the significand correctly bumps the exponent.
    uint32_t r = a - 0x38000000u;
    r += 0xfffu + ((r >> 13) & 1u);
    return (uint16_t)(sign | (r >> 13));
}

float half_to_float(uint16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    const uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0) {
        // Zero or subnormal: m * 2^-24, exact in float.
        float v = (float)m * (1.0f / 16777216.0f);
        return bits_float(float_bits(v) | sign);
    }
    if (e == 31) return bits_float(sign | 0x7f800000u | (m << 13) | (m ? 0x400000u : 0u));
    return bits_float(sign | ((e + 112u) << 23) | (m << 13));
}

namespace detail {
void floats_to_halves_portable(const float* in, size_t n, uint16_t* out) {
    for (size_t i = 0; i < n; ++i) out[i] = float_to_half(in[i]);
}
void halves_to_floats_portable(const uint16_t* in, size_t n, float* out) {
    for (size_t i = 0; i < n; ++i) out[i] = half_to_float(in[i]);
}

#if defined(__x86_64__)
__attribute__((target("avx,f16c"))) void floats_to_halves_f16c(const float* in, size_t n, uint16_t* out) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i*)(out + i), _mm256_cvtps_ph(_mm256_loadu_ps(in + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; ++i) {
        __m128i h = _mm_cvtps_ph(_mm_set_ss(in[i]), _MM_FROUND_TO_NEAREST_INT);
        out[i] = (uint16_t)_mm_extract_epi16(h, 0);
    }
}
__attribute__((target("avx,f16c"))) void halves_to_floats_f16c(const uint16_t* in, size_t n, float* out) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(in + i))));
    for (; i < n; ++i) out[i] = _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(in[i])));
}
#endif
}  // namespace detail

bool f16c_supported() {
#if defined(__x86_64__)
    // F16C is CPUID leaf 1, ECX bit 29. Read directly: clang 14's __builtin_cpu_supports does not
    // know "f16c". AVX (which __builtin_cpu_supports also checks is enabled by the OS) is needed
    // for the 256-bit registers.
    static const bool ok = [] {
        unsigned a = 0, b = 0, c = 0, d = 0;
        return __builtin_cpu_supports("avx") && __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29)) != 0;
    }();
    return ok;
#else
    return false;
#endif
}

void floats_to_halves(const float* in, size_t n, uint16_t* out) {
#if defined(__x86_64__)
    if (f16c_supported()) return detail::floats_to_halves_f16c(in, n, out);
#endif
    detail::floats_to_halves_portable(in, n, out);
}

void halves_to_floats(const uint16_t* in, size_t n, float* out) {
#if defined(__x86_64__)
    if (f16c_supported()) return detail::halves_to_floats_f16c(in, n, out);
#endif
    detail::halves_to_floats_portable(in, n, out);
}

}  // namespace dlbhc
