// nn/softmax.cpp -- see softmax.h. Items of the batch are independent: threaded over n when large.
#include "nn/softmax.h"

#include <algorithm>
#include <cmath>

namespace dlbhc {

void softmax_forward(float* out, const float* inp, int N, int K, int S) {
#pragma omp parallel for if ((size_t)N * K * S > 65536) schedule(static)
    for (int n = 0; n < N; ++n) {
        for (int s = 0; s < S; ++s) {
            const float* x = inp + (size_t)n * K * S + s;
            float* y = out + (size_t)n * K * S + s;
            float m = x[0];
            for (int k = 1; k < K; ++k) m = std::fmax(m, x[(size_t)k * S]);
            double sum = 0;
            for (int k = 0; k < K; ++k) {
                float e = std::exp(x[(size_t)k * S] - m);
                y[(size_t)k * S] = e;
                sum += e;
            }
            float inv = (float)(1.0 / sum);
            for (int k = 0; k < K; ++k) y[(size_t)k * S] *= inv;
        }
    }
}

void softmax_backward(float* dinp, const float* dout, const float* out, int N, int K, int S) {
#pragma omp parallel for if ((size_t)N * K * S > 65536) schedule(static)
    for (int n = 0; n < N; ++n) {
        for (int s = 0; s < S; ++s) {
            size_t base = (size_t)n * K * S + s;
            double dot = 0;
            for (int k = 0; k < K; ++k) dot += (double)dout[base + (size_t)k * S] * out[base + (size_t)k * S];
            for (int k = 0; k < K; ++k) {
                size_t i = base + (size_t)k * S;
                dinp[i] += out[i] * (dout[i] - (float)dot);
            }
        }
    }
}

template <class T>
void softmax_forward_naive(T* out, const T* inp, Shape s) {
    const size_t S = (size_t)s.h * s.w;
    for (int n = 0; n < s.n; ++n)
        for (size_t i = 0; i < S; ++i) {
            auto at = [&](int k) { return ((size_t)n * s.c + k) * S + i; };
            double m = inp[at(0)], z = 0;
            for (int k = 1; k < s.c; ++k) m = std::max(m, (double)inp[at(k)]);
            for (int k = 0; k < s.c; ++k) z += std::exp(inp[at(k)] - m);
            for (int k = 0; k < s.c; ++k) out[at(k)] = (T)(std::exp(inp[at(k)] - m) / z);
        }
}
template void softmax_forward_naive(float*, const float*, Shape);
template void softmax_forward_naive(double*, const double*, Shape);

void SoftmaxLayer::reshape(const Blobs& bottom, const Blobs& top) {
    check_counts(bottom, top, kBlobs);
    reshape_tops(bottom, top);
}

void SoftmaxLayer::forward(const Blobs& bottom, const Blobs& top) {
    const Shape& s = bottom[0]->shape();
    softmax_forward(top[0]->data.data(), bottom[0]->data.data(), s.n, s.c, s.h * s.w);
}

void SoftmaxLayer::backward(const Blobs& top, const Blobs& bottom) {
    if (!propagate_down(0)) return;
    const Shape& s = bottom[0]->shape();
    softmax_backward(bottom[0]->diff.data(), top[0]->diff.data(), top[0]->data.data(), s.n, s.c, s.h * s.w);
}

}  // namespace dlbhc
