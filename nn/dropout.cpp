// nn/dropout.cpp
#include "nn/dropout.h"

namespace dlbhc {

void DropoutLayer::reshape(const Blobs& bottom, const Blobs& top) {
    check_counts(bottom, top, 1, 1);
    if (!(p_.dropout_ratio >= 0.0f && p_.dropout_ratio < 1.0f))
        fail("dropout_ratio must be in [0, 1), got " + std::to_string(p_.dropout_ratio));
    if (top[0] != bottom[0]) top[0]->reshape(bottom[0]->shape());
    mask_.resize(bottom[0]->count());
}

void DropoutLayer::forward(const Blobs& bottom, const Blobs& top) {
    const size_t n = bottom[0]->count();
    const float* x = bottom[0]->data.data();
    float* y = top[0]->data.data();
    if (phase() == Phase::Test) {
        if (y != x)
            for (size_t i = 0; i < n; ++i) y[i] = x[i];
        return;
    }
    // The mask is drawn serially from one generator so it does not depend on the thread count.
    const float scale = 1.0f / (1.0f - p_.dropout_ratio);
    for (size_t i = 0; i < n; ++i) mask_[i] = rng_.uniform() >= p_.dropout_ratio;
    for (size_t i = 0; i < n; ++i) y[i] = mask_[i] ? x[i] * scale : 0.0f;
}

void DropoutLayer::backward(const Blobs& top, const Blobs& bottom) {
    if (!propagate_down(0)) return;
    const size_t n = top[0]->count();
    const float* dy = top[0]->diff.data();
    float* dx = bottom[0]->diff.data();
    const bool in_place = dx == dy;
    const float scale = phase() == Phase::Test ? 1.0f : 1.0f / (1.0f - p_.dropout_ratio);
    for (size_t i = 0; i < n; ++i) {
        float g = (phase() == Phase::Test || mask_[i]) ? dy[i] * scale : 0.0f;
        dx[i] = in_place ? g : dx[i] + g;
    }
}

}  // namespace dlbhc
