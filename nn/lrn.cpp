// nn/lrn.cpp -- LRN across channels; the maths and the fast kernels' scheme are in lrn.h.
#include "nn/lrn.h"

#include <algorithm>
#include <cmath>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace dlbhc {

namespace {

// Pixels per tile: a tile's sums, powers and ring of ratios stay in L1; threads take (image, tile)
// pairs, so even N = 1 is split.
constexpr int kTile = 256;
constexpr long kParallelWork = 65536;  // elements; below this one thread is faster

void pow_m075_scalar(float* out, const float* s, int n) {
    for (int i = 0; i < n; ++i) {
        const float r = std::sqrt(s[i]);
        out[i] = 1.0f / (r * std::sqrt(r));
    }
}

#if defined(__x86_64__)
// The same arithmetic 16 and 4 lanes at a time: square root and division are correctly rounded
// in every instruction set, so all three give identical results.
__attribute__((target("avx512f"))) void pow_m075_avx512(float* out, const float* s, int n) {
    int i = 0;
    const __m512 one = _mm512_set1_ps(1.0f);
    const __mmask16 all = 0xFFFF;  // maskz_sqrt with every lane: plain _mm512_sqrt_ps trips a GCC 12 warning
    for (; i + 16 <= n; i += 16) {
        const __m512 r = _mm512_maskz_sqrt_ps(all, _mm512_loadu_ps(s + i));
        _mm512_storeu_ps(out + i, _mm512_div_ps(one, _mm512_mul_ps(r, _mm512_maskz_sqrt_ps(all, r))));
    }
    pow_m075_scalar(out + i, s + i, n - i);
}

void pow_m075_sse(float* out, const float* s, int n) {  // SSE2 is part of x86-64
    int i = 0;
    const __m128 one = _mm_set1_ps(1.0f);
    for (; i + 4 <= n; i += 4) {
        const __m128 r = _mm_sqrt_ps(_mm_loadu_ps(s + i));
        _mm_storeu_ps(out + i, _mm_div_ps(one, _mm_mul_ps(r, _mm_sqrt_ps(r))));
    }
    pow_m075_scalar(out + i, s + i, n - i);
}
#endif

using PowFn = void (*)(float*, const float*, int);

PowFn pick_pow_m075() {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") ? pow_m075_avx512 : pow_m075_sse;
#else
    return pow_m075_scalar;
#endif
}

// out[i] = s[i]^(-beta) for one tile.
void scale_pow(float* out, const float* s, int n, float beta) {
    if (beta == 0.75f) {
        lrn_pow_m075(out, s, n);
    } else {
        for (int i = 0; i < n; ++i) out[i] = std::pow(s[i], -beta);
    }
}

// The ring of backward ratios, one per thread, grown once to local_size * kTile floats.
float* ratio_ring(size_t floats) {
    static thread_local std::vector<float> ring;
    if (ring.size() < floats) ring.resize(floats);
    return ring.data();
}

}  // namespace

void lrn_pow_m075(float* out, const float* s, int n) {
    static const PowFn fn = pick_pow_m075();
    fn(out, s, n);
}

void lrn_forward(float* y, float* scale, const float* x, Shape s, const LRNParam& p) {
    const int C = s.c, HW = s.h * s.w, half = (p.local_size - 1) / 2;
    const size_t chw = s.chw();
    const float alpha_n = p.alpha / p.local_size;
    const int tiles = (HW + kTile - 1) / kTile;
    const long tasks = (long)s.n * tiles;
#pragma omp parallel for if ((long)s.count() > kParallelWork) schedule(static)
    for (long t = 0; t < tasks; ++t) {
        const size_t base = (size_t)(t / tiles) * chw;
        const int p0 = (int)(t % tiles) * kTile, len = std::min(kTile, HW - p0);
        const float* xn = x + base + p0;
        float* yn = y + base + p0;
        float* sn = scale + base + p0;
        float acc[kTile], pw[kTile];
        for (int c = 0; c < C; ++c) {
            // acc = sum of x_j^2 over the channels j of c's window (clipped to [0, C)).
            const int j0 = std::max(0, c - half), j1 = std::min(C - 1, c + half);
            for (int i = 0; i < len; ++i) acc[i] = 0.0f;
            for (int j = j0; j <= j1; ++j) {
                const float* xj = xn + (size_t)j * HW;
                for (int i = 0; i < len; ++i) acc[i] += xj[i] * xj[i];
            }
            float* sc = sn + (size_t)c * HW;
            for (int i = 0; i < len; ++i) sc[i] = p.k + alpha_n * acc[i];
            scale_pow(pw, sc, len, p.beta);
            const float* xc = xn + (size_t)c * HW;
            float* yc = yn + (size_t)c * HW;
            for (int i = 0; i < len; ++i) yc[i] = xc[i] * pw[i];
        }
    }
}

void lrn_backward(float* dx, const float* dy, const float* x, const float* y, const float* scale, Shape s,
                  const LRNParam& p) {
    const int C = s.c, HW = s.h * s.w, n = p.local_size, half = (n - 1) / 2;
    const size_t chw = s.chw();
    const float factor = 2.0f * p.alpha * p.beta / n;
    const int tiles = (HW + kTile - 1) / kTile;
    const long tasks = (long)s.n * tiles;
#pragma omp parallel for if ((long)s.count() > kParallelWork) schedule(static)
    for (long t = 0; t < tasks; ++t) {
        const size_t off = (size_t)(t / tiles) * chw + (size_t)(t % tiles) * kTile;
        const int len = std::min(kTile, HW - (int)(t % tiles) * kTile);
        // ring[(j % n) * kTile + i] = dy_j y_j / scale_j: the window of channel c holds the
        // channels c-half .. c+half, which are n consecutive numbers, so their slots differ, and
        // the channel entering takes the slot of the one that just left.
        float* ring = ratio_ring((size_t)n * kTile);
        auto enter = [&](int j) {
            const size_t o = off + (size_t)j * HW;
            float* r = ring + (size_t)(j % n) * kTile;
            for (int i = 0; i < len; ++i) r[i] = dy[o + i] * y[o + i] / scale[o + i];
        };
        for (int j = 0; j < std::min(half, C); ++j) enter(j);
        float acc[kTile], pw[kTile];
        for (int c = 0; c < C; ++c) {
            if (c + half < C) enter(c + half);
            const int j0 = std::max(0, c - half), j1 = std::min(C - 1, c + half);
            for (int i = 0; i < len; ++i) acc[i] = 0.0f;
            for (int j = j0; j <= j1; ++j) {
                const float* r = ring + (size_t)(j % n) * kTile;
                for (int i = 0; i < len; ++i) acc[i] += r[i];
            }
            const size_t o = off + (size_t)c * HW;
            scale_pow(pw, scale + o, len, p.beta);
            for (int i = 0; i < len; ++i) dx[o + i] += dy[o + i] * pw[i] - factor * x[o + i] * acc[i];
        }
    }
}

// Naive: scale of channel c at pixel i of image n, straight from the definition.
template <class T>
static double naive_scale(const T* x, Shape s, const LRNParam& p, int n, int c, int i) {
    const int half = (p.local_size - 1) / 2, HW = s.h * s.w;
    double sum = 0;
    for (int j = c - half; j <= c + half; ++j) {
        if (j < 0 || j >= s.c) continue;
        double v = x[((size_t)n * s.c + j) * HW + i];
        sum += v * v;
    }
    return p.k + (double)p.alpha / p.local_size * sum;
}

template <class T>
void lrn_forward_naive(T* y, T* scale, const T* x, Shape s, const LRNParam& p) {
    const int HW = s.h * s.w;
    for (int n = 0; n < s.n; ++n)
        for (int c = 0; c < s.c; ++c)
            for (int i = 0; i < HW; ++i) {
                size_t o = ((size_t)n * s.c + c) * HW + i;
                double sc = naive_scale(x, s, p, n, c, i);
                scale[o] = (T)sc;
                y[o] = (T)(x[o] * std::pow(sc, -(double)p.beta));
            }
}

template <class T>
void lrn_backward_naive(T* dx, const T* dy, const T* x, Shape s, const LRNParam& p) {
    const int half = (p.local_size - 1) / 2, HW = s.h * s.w;
    for (int n = 0; n < s.n; ++n)
        for (int c = 0; c < s.c; ++c)
            for (int i = 0; i < HW; ++i) {
                size_t oi = ((size_t)n * s.c + c) * HW + i;
                double sci = naive_scale(x, s, p, n, c, i);
                double g = dy[oi] * std::pow(sci, -(double)p.beta);
                double sum = 0;
                for (int j = 0; j < s.c; ++j) {
                    // channel c lies in channel j's window
                    if (c < j - half || c > j + half) continue;
                    size_t oj = ((size_t)n * s.c + j) * HW + i;
                    double scj = naive_scale(x, s, p, n, j, i);
                    double yj = x[oj] * std::pow(scj, -(double)p.beta);
                    sum += dy[oj] * yj / scj;
                }
                g -= 2.0 * p.alpha * p.beta / p.local_size * x[oi] * sum;
                dx[oi] += (T)g;
            }
}

template void lrn_forward_naive(float*, float*, const float*, Shape, const LRNParam&);
template void lrn_forward_naive(double*, double*, const double*, Shape, const LRNParam&);
template void lrn_backward_naive(float*, const float*, const float*, Shape, const LRNParam&);
template void lrn_backward_naive(double*, const double*, const double*, Shape, const LRNParam&);

LayerShapes LRNLayer::shapes(const std::vector<Shape>& bottom) const {
    LayerShapes s;
    if (p_.norm_region != LRNParam::ACROSS_CHANNELS)
        s.error = "norm_region WITHIN_CHANNEL is not implemented (only ACROSS_CHANNELS, as AlexNet/CaffeNet use)";
    else if (p_.local_size < 1 || p_.local_size % 2 == 0)
        s.error = "local_size must be a positive odd number (got " + std::to_string(p_.local_size) +
                  "); the window is centred on its channel";
    // scale must stay positive for scale^(-beta): k > 0 and alpha >= 0 guarantee scale >= k.
    else if (!(p_.k > 0))
        s.error = "k must be > 0";
    else if (!(p_.alpha >= 0))
        s.error = "alpha must be >= 0";
    else
        s.top = {bottom.at(0)};
    return s;
}

double LRNLayer::buffer_floats(const std::vector<Shape>& bottom) const { return (double)bottom.at(0).count(); }

void LRNLayer::reshape(const Blobs& bottom, const Blobs& top) {
    check_counts(bottom, top, kBlobs);
    const LayerShapes s = shapes({bottom[0]->shape()});
    if (!s.error.empty()) fail(s.error);
    if (top[0] == bottom[0]) fail("cannot run in place (backward needs both x and y)");
    top[0]->reshape(s.top[0]);
    scale_.reshape(bottom[0]->shape());
}

void LRNLayer::forward(const Blobs& bottom, const Blobs& top) {
    if (bottom[0]->shape() != scale_.shape())
        fail("input shape " + bottom[0]->shape().str() + " changed since reshape; call reshape first");
    lrn_forward(top[0]->data.data(), scale_.data(), bottom[0]->data.data(), bottom[0]->shape(), p_);
}

void LRNLayer::backward(const Blobs& top, const Blobs& bottom) {
    if (!propagate_down(0)) return;
    lrn_backward(bottom[0]->diff.data(), top[0]->diff.data(), bottom[0]->data.data(), top[0]->data.data(),
                 scale_.data(), bottom[0]->shape(), p_);
}

}  // namespace dlbhc
