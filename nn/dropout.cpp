// nn/dropout.cpp -- see dropout.h.
//
// The mask is drawn serially from the layer's one generator, so it does not depend on the thread
// count; applying it (and the backward pass) is a branch-free multiply by 0 or 1/(1-p), threaded.
#include "nn/dropout.h"

namespace dlbhc {

namespace {
constexpr size_t kParallelElements = 65536;  // below this one thread is faster
}

LayerShapes DropoutLayer::shapes(const std::vector<Shape>& bottom) const {
    LayerShapes s;
    if (!(p_.dropout_ratio >= 0.0f && p_.dropout_ratio < 1.0f))
        s.error = "dropout_ratio must be in [0, 1), got " + std::to_string(p_.dropout_ratio);
    else
        s.top = {bottom.at(0)};
    return s;
}

double DropoutLayer::buffer_floats(const std::vector<Shape>& bottom) const { return (double)bottom.at(0).count() / 4; }

void DropoutLayer::reshape(const Blobs& bottom, const Blobs& top) {
    check_counts(bottom, top, kBlobs);
    reshape_tops(bottom, top);
    mask_.resize(bottom[0]->count());
}

template <class T>
void dropout_forward_naive(T* out, const T* inp, const uint8_t* mask, size_t n, float ratio) {
    for (size_t i = 0; i < n; ++i) out[i] = mask[i] ? (T)(inp[i] / (1.0 - ratio)) : (T)0;
}
template void dropout_forward_naive(float*, const float*, const uint8_t*, size_t, float);
template void dropout_forward_naive(double*, const double*, const uint8_t*, size_t, float);

void DropoutLayer::forward(const Blobs& bottom, const Blobs& top) {
    const size_t n = bottom[0]->count();
    const float* x = bottom[0]->data.data();
    float* y = top[0]->data.data();
    if (phase() == Phase::Test) {
        if (y != x)
            for (size_t i = 0; i < n; ++i) y[i] = x[i];
        return;
    }
    const float scale = 1.0f / (1.0f - p_.dropout_ratio);
    uint8_t* __restrict mask = mask_.data();
    for (size_t i = 0; i < n; ++i) mask[i] = rng_.uniform() >= p_.dropout_ratio;
#pragma omp parallel for if (n > kParallelElements) schedule(static)
    for (size_t i = 0; i < n; ++i) {
        const float m = mask[i] ? scale : 0.0f;
        y[i] = x[i] * m;
    }
}

void DropoutLayer::backward(const Blobs& top, const Blobs& bottom) {
    if (!propagate_down(0)) return;
    const size_t n = top[0]->count();
    const float* dy = top[0]->diff.data();
    float* dx = bottom[0]->diff.data();
    if (phase() == Phase::Test) {  // the identity
        if (dx != dy)
            for (size_t i = 0; i < n; ++i) dx[i] += dy[i];
        return;
    }
    const float scale = 1.0f / (1.0f - p_.dropout_ratio);
    const uint8_t* __restrict mask = mask_.data();
    if (dx == dy) {
#pragma omp parallel for if (n > kParallelElements) schedule(static)
        for (size_t i = 0; i < n; ++i) {
            const float m = mask[i] ? scale : 0.0f;
            dx[i] = dy[i] * m;
        }
    } else {
#pragma omp parallel for if (n > kParallelElements) schedule(static)
        for (size_t i = 0; i < n; ++i) {
            const float m = mask[i] ? scale : 0.0f;
            dx[i] += dy[i] * m;
        }
    }
}

}  // namespace dlbhc
