// search/l2.h -- squared Euclidean distances between a stored feature row and query vectors.
//
// l2sq(x, q) = sum over d < D of (x[d] - q[d])^2, x a stored row (float32 or float16, see
// features.h), q a float32 query. A kernel computes one row against nq = 1..4 queries at once,
// so that a row read from memory is used four times by the exhaustive search.
// Kernels: Portable (plain loops, float accumulation; the reference) and Avx2Fma (AVX2 + FMA,
// F16C for float16 rows), chosen at run time; DLBHC_L2=portable forces the portable one.
// For a given kernel the result for one query does not depend on nq (each query has its own
// accumulators in the same order), so single and batched searches agree bit for bit.
#pragma once
#include <cstddef>

#include "search/features.h"

namespace dlbhc {

enum class L2Kernel { Portable, Avx2Fma };

// out[j] = l2sq(x, q[j]) for j < nq, 1 <= nq <= 4; x is one row of `dim` values of its type.
using L2Fn = void (*)(const void* x, const float* const* q, int nq, int dim, float* out);

const char* l2_kernel_name(L2Kernel k);
bool l2_kernel_supported(L2Kernel k);
// DLBHC_L2 if set (portable|avx2fma), else the best supported one.
L2Kernel l2_active_kernel();
// The kernel for rows of type t (F32 or F16); throws std::runtime_error if unsupported.
L2Fn l2_fn(FeatureType t, L2Kernel k);

// One distance with the active kernel.
float l2sq_row(const FeatureView& fv, size_t row, const float* q);

// Dot products of two stored rows with nq = 1..4 queries: out[r * 4 + j] = x_r . q[j], r = 0, 1
// (x[1] may equal x[0] when only one row is left). Used by the exhaustive search through
// ||x - q||^2 = ||x||^2 + ||q||^2 - 2 x.q, which needs one FMA per value instead of a subtraction
// and an FMA, and whose 2 x 4 register tile loads 6 vectors per 8 FMAs.
using DotFn = void (*)(const void* const* x, const float* const* q, int nq, int dim, float* out);
// The dot kernel for rows of type t, same kernels and support rules as l2_fn.
DotFn dot_fn(FeatureType t, L2Kernel k);

namespace detail {
void l2sq_f32_portable(const void* x, const float* const* q, int nq, int dim, float* out);
void l2sq_f16_portable(const void* x, const float* const* q, int nq, int dim, float* out);
void dot_f32_portable(const void* const* x, const float* const* q, int nq, int dim, float* out);
void dot_f16_portable(const void* const* x, const float* const* q, int nq, int dim, float* out);
#if defined(__x86_64__)
void dot_f32_avx2(const void* const* x, const float* const* q, int nq, int dim, float* out);
void dot_f16_avx2(const void* const* x, const float* const* q, int nq, int dim, float* out);
void l2sq_f32_avx2(const void* x, const float* const* q, int nq, int dim, float* out);
void l2sq_f16_avx2(const void* x, const float* const* q, int nq, int dim, float* out);
#endif
}  // namespace detail

}  // namespace dlbhc
