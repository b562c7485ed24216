// search/float16.h -- IEEE 754 binary16 ("half") conversion, our own code.
//
// Features can be stored as float16 to halve the memory of a large index (4096-d fc7: 8 KiB per
// item instead of 16 KiB). float -> half rounds to nearest, ties to even, overflows to infinity,
// keeps subnormals, and turns NaN into a quiet NaN (as the F16C instruction VCVTPS2PH with
// rounding mode 0). half -> float is exact (NaNs come out quiet, as VCVTPH2PS).
// The bulk converters use F16C when the CPU has it (run-time check) and the portable code
// otherwise; the tests hold the two against each other.
#pragma once
#include <cstddef>
#include <cstdint>

namespace dlbhc {

// The smallest magnitude float_to_half turns into infinity: halfway between the largest half
// (65504) and 2^16, where ties to even round up. A float below it in magnitude stays finite.
constexpr float kHalfOverflow = 65520.0f;

uint16_t float_to_half(float f);
float half_to_float(uint16_t h);

// out[i] = float_to_half(in[i]) for i < n.
void floats_to_halves(const float* in, size_t n, uint16_t* out);
// out[i] = half_to_float(in[i]) for i < n.
void halves_to_floats(const uint16_t* in, size_t n, float* out);

// True when the CPU has F16C (and AVX), i.e. the bulk converters use it.
bool f16c_supported();

namespace detail {
void floats_to_halves_portable(const float* in, size_t n, uint16_t* out);
void halves_to_floats_portable(const uint16_t* in, size_t n, float* out);
#if defined(__x86_64__)
void floats_to_halves_f16c(const float* in, size_t n, uint16_t* out);
void halves_to_floats_f16c(const uint16_t* in, size_t n, float* out);
#endif
}  // namespace detail

}  // namespace dlbhc
