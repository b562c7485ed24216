// search/l2.cpp -- portable squared-L2 kernels and the dispatcher (see l2.h).
#include "search/l2.h"

#include <cstdlib>
#include <stdexcept>
#include <string>

#include "search/float16.h"

namespace dlbhc {

namespace detail {
void l2sq_f32_portable(const void* xv, const float* const* q, int nq, int dim, float* out) {
    const float* x = (const float*)xv;
    for (int j = 0; j < nq; ++j) {
        float s = 0;
        for (int d = 0; d < dim; ++d) {
            float t = x[d] - q[j][d];
            s += t * t;
        }
        out[j] = s;
    }
}
void l2sq_f16_portable(const void* xv, const float* const* q, int nq, int dim, float* out) {
    const uint16_t* x = (const uint16_t*)xv;
    for (int j = 0; j < nq; ++j) {
        float s = 0;
        for (int d = 0; d < dim; ++d) {
            float t = half_to_float(x[d]) - q[j][d];
            s += t * t;
        }
        out[j] = s;
    }
}
void dot_f32_portable(const void* const* x, const float* const* q, int nq, int dim, float* out) {
    for (int r = 0; r < 2; ++r) {
        const float* row = (const float*)x[r];
        for (int j = 0; j < nq; ++j) {
            float s = 0;
            for (int d = 0; d < dim; ++d) s += row[d] * q[j][d];
            out[r * 4 + j] = s;
        }
    }
}
void dot_f16_portable(const void* const* x, const float* const* q, int nq, int dim, float* out) {
    for (int r = 0; r < 2; ++r) {
        const uint16_t* row = (const uint16_t*)x[r];
        for (int j = 0; j < nq; ++j) {
            float s = 0;
            for (int d = 0; d < dim; ++d) s += half_to_float(row[d]) * q[j][d];
            out[r * 4 + j] = s;
        }
    }
}
}  // namespace detail

const char* l2_kernel_name(L2Kernel k) { return k == L2Kernel::Portable ? "portable" : "avx2fma"; }

bool l2_kernel_supported(L2Kernel k) {
    if (k == L2Kernel::Portable) return true;
#if defined(__x86_64__)
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c_supported();
#else
    return false;
#endif
}

L2Kernel l2_active_kernel() {
    static const L2Kernel k = [] {
        if (const char* env = std::getenv("DLBHC_L2")) {
            std::string s = env;
            if (s == "portable") return L2Kernel::Portable;
            if (s != "avx2fma")
                throw std::invalid_argument("DLBHC_L2: expected portable or avx2fma, found '" + s + "'");
            if (!l2_kernel_supported(L2Kernel::Avx2Fma))
                throw std::runtime_error("DLBHC_L2=avx2fma: this CPU lacks AVX2, FMA or F16C");
            return L2Kernel::Avx2Fma;
        }
        return l2_kernel_supported(L2Kernel::Avx2Fma) ? L2Kernel::Avx2Fma : L2Kernel::Portable;
    }();
    return k;
}

L2Fn l2_fn(FeatureType t, L2Kernel k) {
    if (t != FeatureType::F32 && t != FeatureType::F16)
        throw std::invalid_argument("l2_fn: expected float32 or float16 features, found none");
    if (!l2_kernel_supported(k))
        throw std::runtime_error(std::string("l2_fn: kernel ") + l2_kernel_name(k) + " is not supported on this CPU");
#if defined(__x86_64__)
    if (k == L2Kernel::Avx2Fma) return t == FeatureType::F32 ? detail::l2sq_f32_avx2 : detail::l2sq_f16_avx2;
#endif
    return t == FeatureType::F32 ? detail::l2sq_f32_portable : detail::l2sq_f16_portable;
}

DotFn dot_fn(FeatureType t, L2Kernel k) {
    l2_fn(t, k);  // the same checks
#if defined(__x86_64__)
    if (k == L2Kernel::Avx2Fma) return t == FeatureType::F32 ? detail::dot_f32_avx2 : detail::dot_f16_avx2;
#endif
    return t == FeatureType::F32 ? detail::dot_f32_portable : detail::dot_f16_portable;
}

float l2sq_row(const FeatureView& fv, size_t row, const float* q) {
    float out;
    l2_fn(fv.type, l2_active_kernel())(fv.row(row), &q, 1, fv.dim, &out);
    return out;
}

}  // namespace dlbhc
