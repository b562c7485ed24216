// nn/sigmoid.cpp -- see sigmoid.h. Elementwise; threaded above 65536 elements.
#include "nn/sigmoid.h"

#include <cmath>

namespace dlbhc {

void sigmoid_forward(float* out, const float* inp, size_t n) {
    // 1 / (1 + exp(-x)) overflows gracefully: exp(-x) = inf gives 0, exp(-x) = 0 gives 1.
#pragma omp parallel for if (n > 65536) schedule(static)
    for (size_t i = 0; i < n; ++i) out[i] = 1.0f / (1.0f + std::exp(-inp[i]));
}

void sigmoid_backward(float* dinp, const float* dout, const float* out, size_t n) {
    // out is data and never aliases the gradients.
    const float* __restrict o = out;
    if (dinp == dout) {
#pragma omp parallel for if (n > 65536) schedule(static)
        for (size_t i = 0; i < n; ++i) dinp[i] = dout[i] * o[i] * (1.0f - o[i]);
    } else {
#pragma omp parallel for if (n > 65536) schedule(static)
        for (size_t i = 0; i < n; ++i) dinp[i] += dout[i] * o[i] * (1.0f - o[i]);
    }
}

template <class T>
void sigmoid_forward_naive(T* out, const T* inp, size_t n) {
    for (size_t i = 0; i < n; ++i) out[i] = (T)(1.0 / (1.0 + std::exp(-(double)inp[i])));
}
template void sigmoid_forward_naive(float*, const float*, size_t);
template void sigmoid_forward_naive(double*, const double*, size_t);

void SigmoidLayer::reshape(const Blobs& bottom, const Blobs& top) {
    check_counts(bottom, top, kBlobs);
    reshape_tops(bottom, top);
}

void SigmoidLayer::forward(const Blobs& bottom, const Blobs& top) {
    sigmoid_forward(top[0]->data.data(), bottom[0]->data.data(), bottom[0]->count());
}

void SigmoidLayer::backward(const Blobs& top, const Blobs& bottom) {
    if (!propagate_down(0)) return;
    sigmoid_backward(bottom[0]->diff.data(), top[0]->diff.data(), top[0]->data.data(), top[0]->count());
}

}  // namespace dlbhc
