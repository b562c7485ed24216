// nn/lrn.cpp -- LRN across channels; the maths is in lrn.h.
#include "nn/lrn.h"

#include <algorithm>
#include <cmath>

namespace dlbhc {

// The fast kernels walk the channels of a tile of kTile pixels at a time: the pixels are the
// contiguous (vectorisable) axis, and a tile's running sums fit on the stack, so no buffer is
// allocated and threads can take (image, tile) pairs even when N is 1.
static const int kTile = 256;
static const long kParallelWork = 65536;  // elements; below this one thread is faster

// The running sums are kept in double: a large x_j^2 leaving the window would otherwise take the
// low bits of the small ones that stay with it (float add-then-subtract), and Caffe's float
// version can even go slightly negative.

void lrn_forward(float* y, float* scale, const float* x, Shape s, const LRNParam& p) {
    const int C = s.c, HW = s.h * s.w, half = (p.local_size - 1) / 2;
    const size_t chw = s.chw();
    const double alpha_n = (double)p.alpha / p.local_size;
    const int tiles = (HW + kTile - 1) / kTile;
    const long tasks = (long)s.n * tiles;
#pragma omp parallel for if ((long)s.count() > kParallelWork) schedule(static)
    for (long t = 0; t < tasks; ++t) {
        const size_t base = (size_t)(t / tiles) * chw;
        const int p0 = (int)(t % tiles) * kTile, len = std::min(kTile, HW - p0);
        const float* xn = x + base + p0;
        float* yn = y + base + p0;
        float* sn = scale + base + p0;
        double acc[kTile];
        for (int i = 0; i < len; ++i) acc[i] = 0;
        // Channels 0 .. half-1 are in channel 0's window before the loop adds channel half.
        for (int j = 0; j < std::min(half, C); ++j) {
            const float* xj = xn + (size_t)j * HW;
            for (int i = 0; i < len; ++i) acc[i] += (double)xj[i] * xj[i];
        }
        for (int c = 0; c < C; ++c) {
            if (c + half < C) {  // channel entering the window
                const float* xj = xn + (size_t)(c + half) * HW;
                for (int i = 0; i < len; ++i) acc[i] += (double)xj[i] * xj[i];
            }
            const float* xc = xn + (size_t)c * HW;
            float* yc = yn + (size_t)c * HW;
            float* sc = sn + (size_t)c * HW;
            for (int i = 0; i < len; ++i) {
                float sv = (float)(p.k + alpha_n * acc[i]);
                sc[i] = sv;
                yc[i] = xc[i] * std::pow(sv, -p.beta);
            }
            if (c - half >= 0) {  // channel leaving before the next one's window
                const float* xj = xn + (size_t)(c - half) * HW;
                for (int i = 0; i < len; ++i) acc[i] -= (double)xj[i] * xj[i];
            }
        }
    }
}

void lrn_backward(float* dx, const float* dy, const float* x, const float* y, const float* scale, Shape s,
                  const LRNParam& p) {
    const int C = s.c, HW = s.h * s.w, half = (p.local_size - 1) / 2;
    const size_t chw = s.chw();
    const double factor = 2.0 * p.alpha * p.beta / p.local_size;
    const int tiles = (HW + kTile - 1) / kTile;
    const long tasks = (long)s.n * tiles;
#pragma omp parallel for if ((long)s.count() > kParallelWork) schedule(static)
    for (long t = 0; t < tasks; ++t) {
        const size_t base = (size_t)(t / tiles) * chw;
        const int p0 = (int)(t % tiles) * kTile, len = std::min(kTile, HW - p0);
        const size_t off = base + p0;
        // acc = sum over the window of r_j = dy_j * y_j / scale_j, slid as in the forward.
        auto add_ratio = [&](double* acc, int j, double sign) {
            const size_t o = off + (size_t)j * HW;
            for (int i = 0; i < len; ++i) acc[i] += sign * ((double)dy[o + i] * y[o + i] / scale[o + i]);
        };
        double acc[kTile];
        for (int i = 0; i < len; ++i) acc[i] = 0;
        for (int j = 0; j < std::min(half, C); ++j) add_ratio(acc, j, 1.0);
        for (int c = 0; c < C; ++c) {
            if (c + half < C) add_ratio(acc, c + half, 1.0);
            const size_t o = off + (size_t)c * HW;
            for (int i = 0; i < len; ++i)
                dx[o + i] += (float)((double)dy[o + i] * std::pow(scale[o + i], -p.beta) - factor * x[o + i] * acc[i]);
            if (c - half >= 0) add_ratio(acc, c - half, -1.0);
        }
    }
}

// Naive: scale of channel c at pixel i of image n, straight from the definition.
static double naive_scale(const float* x, Shape s, const LRNParam& p, int n, int c, int i) {
    const int half = (p.local_size - 1) / 2, HW = s.h * s.w;
    double sum = 0;
    for (int j = c - half; j <= c + half; ++j) {
        if (j < 0 || j >= s.c) continue;
        double v = x[((size_t)n * s.c + j) * HW + i];
        sum += v * v;
    }
    return p.k + (double)p.alpha / p.local_size * sum;
}

void lrn_forward_naive(float* y, float* scale, const float* x, Shape s, const LRNParam& p) {
    const int HW = s.h * s.w;
    for (int n = 0; n < s.n; ++n)
        for (int c = 0; c < s.c; ++c)
            for (int i = 0; i < HW; ++i) {
                size_t o = ((size_t)n * s.c + c) * HW + i;
                double sc = naive_scale(x, s, p, n, c, i);
                scale[o] = (float)sc;
                y[o] = (float)(x[o] * std::pow(sc, -(double)p.beta));
            }
}

void lrn_backward_naive(float* dx, const float* dy, const float* x, Shape s, const LRNParam& p) {
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
                dx[oi] += (float)g;
            }
}

void LRNLayer::reshape(const Blobs& bottom, const Blobs& top) {
    check_counts(bottom, top, 1, 1);
    if (p_.norm_region != LRNParam::ACROSS_CHANNELS)
        fail("norm_region WITHIN_CHANNEL is not implemented (only ACROSS_CHANNELS, as AlexNet/CaffeNet use)");
    if (p_.local_size < 1 || p_.local_size % 2 == 0)
        fail("local_size must be a positive odd number (got " + std::to_string(p_.local_size) +
             "); the window is centred on its channel");
    // scale must stay positive for scale^(-beta): k > 0 and alpha >= 0 guarantee scale >= k.
    if (!(p_.k > 0)) fail("k must be > 0");
    if (!(p_.alpha >= 0)) fail("alpha must be >= 0");
    if (top[0] == bottom[0]) fail("cannot run in place (backward needs both x and y)");
    top[0]->reshape(bottom[0]->shape());
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
