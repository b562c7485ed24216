// search/l2_x86.cpp -- squared-L2 kernels with AVX2 + FMA (+ F16C for float16 rows).
//
// Per query two 8-lane accumulators (even and odd chunks of 8 values): with four queries that is
// eight independent FMA chains, enough to hide the FMA latency. The row chunk is loaded (and for
// float16 converted) once and used by all nq queries. Reference: detail::l2sq_*_portable.
#if defined(__x86_64__)
#include <immintrin.h>

#include "search/l2.h"

namespace dlbhc {
namespace detail {
namespace {

__attribute__((target("avx2,fma"))) inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma,f16c"))) inline __m256 load8(const float* x) { return _mm256_loadu_ps(x); }
__attribute__((target("avx2,fma,f16c"))) inline __m256 load8(const uint16_t* x) {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)x));
}
inline float scalar(const float* x, int d) { return x[d]; }
__attribute__((target("avx2,fma,f16c"))) inline float scalar(const uint16_t* x, int d) {
    return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(x[d])));
}

template <int NQ, class T>
__attribute__((target("avx2,fma,f16c"))) void l2sq_block(const T* x, const float* const* q, int dim, float* out) {
    __m256 a0[NQ], a1[NQ];
    for (int j = 0; j < NQ; ++j) a0[j] = a1[j] = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= dim; i += 16) {
        __m256 x0 = load8(x + i), x1 = load8(x + i + 8);
        for (int j = 0; j < NQ; ++j) {
            __m256 d0 = _mm256_sub_ps(x0, _mm256_loadu_ps(q[j] + i));
            __m256 d1 = _mm256_sub_ps(x1, _mm256_loadu_ps(q[j] + i + 8));
            a0[j] = _mm256_fmadd_ps(d0, d0, a0[j]);
            a1[j] = _mm256_fmadd_ps(d1, d1, a1[j]);
        }
    }
    if (i + 8 <= dim) {
        __m256 x0 = load8(x + i);
        for (int j = 0; j < NQ; ++j) {
            __m256 d0 = _mm256_sub_ps(x0, _mm256_loadu_ps(q[j] + i));
            a0[j] = _mm256_fmadd_ps(d0, d0, a0[j]);
        }
        i += 8;
    }
    for (int j = 0; j < NQ; ++j) {
        float s = hsum256(_mm256_add_ps(a0[j], a1[j]));
        for (int d = i; d < dim; ++d) {
            float t = scalar(x, d) - q[j][d];
            s += t * t;
        }
        out[j] = s;
    }
}

template <class T>
void l2sq_any(const T* x, const float* const* q, int nq, int dim, float* out) {
    switch (nq) {
    case 1: l2sq_block<1>(x, q, dim, out); break;
    case 2: l2sq_block<2>(x, q, dim, out); break;
    case 3: l2sq_block<3>(x, q, dim, out); break;
    default: l2sq_block<4>(x, q, dim, out); break;
    }
}

// Two rows x NQ queries: 2 * NQ accumulators (8 independent FMA chains for NQ = 4).
template <int NQ, class T>
__attribute__((target("avx2,fma,f16c"))) void dot_tile(const T* x0, const T* x1, const float* const* q, int dim,
                                                       float* out) {
    __m256 a0[NQ], a1[NQ];
    for (int j = 0; j < NQ; ++j) a0[j] = a1[j] = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 <= dim; i += 8) {
        __m256 r0 = load8(x0 + i), r1 = load8(x1 + i);
        for (int j = 0; j < NQ; ++j) {
            __m256 qv = _mm256_loadu_ps(q[j] + i);
            a0[j] = _mm256_fmadd_ps(r0, qv, a0[j]);
            a1[j] = _mm256_fmadd_ps(r1, qv, a1[j]);
        }
    }
    for (int j = 0; j < NQ; ++j) {
        float s0 = hsum256(a0[j]), s1 = hsum256(a1[j]);
        for (int d = i; d < dim; ++d) {
            s0 += scalar(x0, d) * q[j][d];
            s1 += scalar(x1, d) * q[j][d];
        }
        out[j] = s0;
        out[4 + j] = s1;
    }
}

template <class T>
void dot_any(const void* const* x, const float* const* q, int nq, int dim, float* out) {
    const T* x0 = (const T*)x[0];
    const T* x1 = (const T*)x[1];
    switch (nq) {
    case 1: dot_tile<1>(x0, x1, q, dim, out); break;
    case 2: dot_tile<2>(x0, x1, q, dim, out); break;
    case 3: dot_tile<3>(x0, x1, q, dim, out); break;
    default: dot_tile<4>(x0, x1, q, dim, out); break;
    }
}

}  // namespace

void dot_f32_avx2(const void* const* x, const float* const* q, int nq, int dim, float* out) {
    dot_any<float>(x, q, nq, dim, out);
}
void dot_f16_avx2(const void* const* x, const float* const* q, int nq, int dim, float* out) {
    dot_any<uint16_t>(x, q, nq, dim, out);
}

void l2sq_f32_avx2(const void* x, const float* const* q, int nq, int dim, float* out) {
    l2sq_any((const float*)x, q, nq, dim, out);
}
void l2sq_f16_avx2(const void* x, const float* const* q, int nq, int dim, float* out) {
    l2sq_any((const uint16_t*)x, q, nq, dim, out);
}

}  // namespace detail
}  // namespace dlbhc
#endif  // __x86_64__
