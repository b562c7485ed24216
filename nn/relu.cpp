// nn/relu.cpp
#include "nn/relu.h"

namespace dlbhc {

void relu_forward(float* out, const float* inp, size_t n, float slope) {
#pragma omp parallel for if (n > 65536) schedule(static)
    for (size_t i = 0; i < n; ++i) out[i] = inp[i] > 0 ? inp[i] : slope * inp[i];
}

void relu_backward(float* dinp, const float* dout, const float* out, size_t n, float slope) {
    // With slope >= 0, out > 0 exactly when the input was > 0, so the output decides the branch
    // and the input may already be overwritten (in place).
    if (dinp == dout) {
#pragma omp parallel for if (n > 65536) schedule(static)
        for (size_t i = 0; i < n; ++i) dinp[i] = out[i] > 0 ? dout[i] : slope * dout[i];
    } else {
#pragma omp parallel for if (n > 65536) schedule(static)
        for (size_t i = 0; i < n; ++i) dinp[i] += out[i] > 0 ? dout[i] : slope * dout[i];
    }
}

void ReLULayer::reshape(const Blobs& bottom, const Blobs& top) {
    check_counts(bottom, top, 1, 1);
    if (p_.negative_slope < 0) fail("negative_slope must be >= 0 (the backward pass reads the sign of the output)");
    if (top[0] != bottom[0]) top[0]->reshape(bottom[0]->shape());
}

void ReLULayer::forward(const Blobs& bottom, const Blobs& top) {
    relu_forward(top[0]->data.data(), bottom[0]->data.data(), bottom[0]->count(), p_.negative_slope);
}

void ReLULayer::backward(const Blobs& top, const Blobs& bottom) {
    if (!propagate_down(0)) return;
    relu_backward(bottom[0]->diff.data(), top[0]->diff.data(), top[0]->data.data(), top[0]->count(),
                  p_.negative_slope);
}

}  // namespace dlbhc
