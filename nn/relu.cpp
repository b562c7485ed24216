// nn/relu.cpp -- see relu.h.
//
// Both loops are branch-free so that the compiler vectorises them: with a branch on the sign, the
// half-negative activations of a conv layer mispredict about every other element, which made
// relu1 of CaffeNet (18.6 M elements at batch 64) five times slower than a memory pass.
#include "nn/relu.h"

#include <algorithm>

namespace dlbhc {

namespace {
constexpr size_t kParallelElements = 65536;  // below this one thread is faster
}

void relu_forward(float* out, const float* inp, size_t n, float slope) {
    // Caffe's formula: max(x, 0) + slope * min(x, 0).
#pragma omp parallel for if (n > kParallelElements) schedule(static)
    for (size_t i = 0; i < n; ++i) {
        const float x = inp[i];
        out[i] = std::max(x, 0.0f) + slope * std::min(x, 0.0f);
    }
}

void relu_backward(float* dinp, const float* dout, const float* out, size_t n, float slope) {
    // With slope >= 0, out > 0 exactly when the input was > 0, so the output decides the branch
    // and the input may already be overwritten (in place). `out` never aliases the gradients
    // (they are diffs, it is data); saying so lets the compiler turn the select into a blend.
    const float* __restrict o = out;
    if (dinp == dout) {
#pragma omp parallel for if (n > kParallelElements) schedule(static)
        for (size_t i = 0; i < n; ++i) {
            const float m = o[i] > 0 ? 1.0f : slope;
            dinp[i] = dout[i] * m;
        }
    } else {
#pragma omp parallel for if (n > kParallelElements) schedule(static)
        for (size_t i = 0; i < n; ++i) {
            const float m = o[i] > 0 ? 1.0f : slope;
            dinp[i] += dout[i] * m;
        }
    }
}

LayerShapes ReLULayer::shapes(const std::vector<Shape>& bottom) const {
    LayerShapes s;
    if (p_.negative_slope < 0) s.error = "negative_slope must be >= 0 (the backward pass reads the sign of the output)";
    else s.top = {bottom.at(0)};
    return s;
}

void ReLULayer::reshape(const Blobs& bottom, const Blobs& top) {
    check_counts(bottom, top, kBlobs);
    reshape_tops(bottom, top);
}

template <class T>
void relu_forward_naive(T* out, const T* inp, size_t n, float slope) {
    for (size_t i = 0; i < n; ++i) out[i] = inp[i] > 0 ? inp[i] : (T)slope * inp[i];
}
template void relu_forward_naive(float*, const float*, size_t, float);
template void relu_forward_naive(double*, const double*, size_t, float);

void ReLULayer::forward(const Blobs& bottom, const Blobs& top) {
    relu_forward(top[0]->data.data(), bottom[0]->data.data(), bottom[0]->count(), p_.negative_slope);
}

void ReLULayer::backward(const Blobs& top, const Blobs& bottom) {
    if (!propagate_down(0)) return;
    relu_backward(bottom[0]->diff.data(), top[0]->diff.data(), top[0]->data.data(), top[0]->count(),
                  p_.negative_slope);
}

}  // namespace dlbhc
