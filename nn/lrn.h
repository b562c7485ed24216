// nn/lrn.h -- local response normalisation across channels (Caffe's LRNLayer, ACROSS_CHANNELS;
// Krizhevsky, Sutskever & Hinton 2012, section 3.3).
//
// x, y, scale are (N, C, H, W). At each pixel, channel i is divided by a power of the energy of the
// n = local_size channels centred on it (the window is clipped at the first and last channel, i.e.
// zero-padded, and the divisor stays n as in Caffe):
//     scale_i = k + (alpha / n) * sum_{j = i-(n-1)/2 .. i+(n-1)/2, 0 <= j < C} x_j^2
//     y_i     = x_i * scale_i^(-beta)
// Krizhevsky writes alpha without the 1/n; Caffe (and so the trained AlexNet/CaffeNet weights,
// alpha = 1e-4) divides by n.
//
// Backward (Caffe's lrn_layer.cpp). The window is symmetric, so j's window holds i exactly when
// i's window holds j, and
//     dx_i = dy_i * scale_i^(-beta)
//          - (2 * alpha * beta / n) * x_i * sum_{j in window(i)} dy_j * y_j / scale_j .
// The fast kernels work on tiles of pixels (the contiguous, vectorised axis), one image at a
// time, threads taking (image, tile) pairs. The window sums are taken directly over the at most n
// channels (a float sum of n positive terms, so no cancellation, unlike a sliding add/subtract);
// backward keeps the last n ratios dy_j y_j / scale_j of a tile in a ring, so each is divided
// once. scale^(-beta) is the costly part: for Caffe's beta = 0.75 it is computed as
// 1 / (sqrt(s) * sqrt(sqrt(s))) with SIMD square roots (AVX-512 or SSE, chosen at run time; about
// 2 ulp), for any other beta with std::pow. The naive kernels evaluate the formulas directly, in
// double, and are kept for the tests.
#pragma once
#include "nn/layer.h"

namespace dlbhc {

struct LRNParam {
    int local_size = 5;  // n, odd
    float alpha = 1.0f;
    float beta = 0.75f;
    float k = 1.0f;
    // Caffe's norm_region. Only ACROSS_CHANNELS (the default, used by AlexNet/CaffeNet) is
    // implemented; WITHIN_CHANNEL is rejected by reshape.
    enum NormRegion { ACROSS_CHANNELS, WITHIN_CHANNEL } norm_region = ACROSS_CHANNELS;
};

// s^(-0.75) for n values: out[i] = 1 / (sqrt(s[i]) * sqrt(sqrt(s[i]))), s[i] > 0. The fast
// kernels' path for beta = 0.75; exposed for the tests. out may equal s.
void lrn_pow_m075(float* out, const float* s, int n);

// Fast kernels. s is the shape of x; x, y, scale, dx, dy each hold s.count() floats.
// Writes y and scale.
void lrn_forward(float* y, float* scale, const float* x, Shape s, const LRNParam& p);
// dx += gradient (see above), from the forward's x, y and scale.
void lrn_backward(float* dx, const float* dy, const float* x, const float* y, const float* scale, Shape s,
                  const LRNParam& p);

// Naive references: explicit loops over the window for every channel, in double. T is float
// (against the fast kernels) or double (the reference of the finite-difference gradient checks).
template <class T>
void lrn_forward_naive(T* y, T* scale, const T* x, Shape s, const LRNParam& p);
// dx += gradient. Recomputes scale and y from x itself, so it shares nothing with the fast path,
// and sums over every j with |i - j| <= (n-1)/2 (the "i in window(j)" condition, written out).
template <class T>
void lrn_backward_naive(T* dx, const T* dy, const T* x, Shape s, const LRNParam& p);

class LRNLayer : public Layer {
public:
    static constexpr BlobCounts kBlobs = {1, 1, 1, 1};
    LRNLayer(std::string name, LRNParam p = {}) : Layer(std::move(name)), p_(p) {}
    const char* type() const override { return "LRN"; }
    // ACROSS_CHANNELS, odd local_size, k > 0, alpha >= 0; top[0] has bottom[0]'s shape.
    LayerShapes shapes(const std::vector<Shape>& bottom) const override;
    // The scale, one per input.
    double buffer_floats(const std::vector<Shape>& bottom) const override;
    // Checks the parameters, sets top[0] to bottom[0]'s shape and sizes the scale buffer.
    void reshape(const Blobs& bottom, const Blobs& top) override;
    void forward(const Blobs& bottom, const Blobs& top) override;
    void backward(const Blobs& top, const Blobs& bottom) override;

    const LRNParam& param_spec() const { return p_; }
    // scale_i from the last forward, (N, C, H, W).
    const Tensor& scale() const { return scale_; }

private:
    LRNParam p_;
    Tensor scale_;  // kept from forward for backward
};

}  // namespace dlbhc
