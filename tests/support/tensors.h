// tests/support/tensors.h -- tensors for the tests: filled at random, compared.
#pragma once
#include <algorithm>
#include <cmath>

#include "nn/rng.h"
#include "nn/tensor.h"

namespace dlbhc {

inline void fill_uniform(Tensor& t, Rng& rng, float lo, float hi) {
    for (size_t i = 0; i < t.count(); ++i) t[i] = rng.uniform(lo, hi);
}

// Uniform in [-1, -gap] U [gap, 1]: keeps values away from a kink at 0.
inline void fill_away_from_zero(Tensor& t, Rng& rng, float gap) {
    for (size_t i = 0; i < t.count(); ++i) {
        float v = rng.uniform(gap, 1.0f);
        t[i] = rng.uniform() < 0.5f ? -v : v;
    }
}

// max(m, d) for "largest error" accumulations, except that a NaN d gives +infinity: std::fmax
// would drop the NaN, and a comparison with NaN is always false, so a NaN output or gradient
// would otherwise pass every "error < tolerance" check.
inline double worst(double m, double d) { return std::isnan(d) ? INFINITY : std::fmax(m, d); }

// Largest |a - b| over two equally sized tensors; +infinity if any entry differs by NaN.
inline double max_abs_diff(const Tensor& a, const Tensor& b) {
    double m = 0;
    for (size_t i = 0; i < a.count(); ++i) m = worst(m, std::fabs((double)a[i] - (double)b[i]));
    return m;
}

// max |a - b| relative to the larger magnitude of b (at least 1); +infinity if any entry differs by NaN.
inline double rel_err(const Tensor& a, const Tensor& b) {
    double scale = 1;
    // std::max (same result: scale is never NaN): g++ 12.2 for aarch64 crashes vectorising an
    // std::fmax reduction over floats widened to double (internal compiler error).
    for (size_t i = 0; i < b.count(); ++i) scale = std::max(scale, (double)std::fabs(b[i]));
    return max_abs_diff(a, b) / scale;
}

}  // namespace dlbhc
