// nn/inner_product.h -- fully connected layer, as Caffe's InnerProduct.
//
//   x is (N, C, H, W), read as a matrix (N, I) with I = C*H*W in (C, H, W) order (so fc6 reads
//   pool5 exactly as Caffe flattens it); w is (O, I, 1, 1), one row per output, as Caffe stores
//   it; b is (O, 1, 1, 1); y is (N, O, 1, 1):
//     y = x w^T + b                      y[n][o] = b[o] + sum_i x[n][i] w[o][i]
// Backward, with dy = dL/dy (N, O):
//     dw += dy^T x     (O, I)            dw[o][i] += sum_n dy[n][o] x[n][i]
//     db += sum_n dy   (O)
//     dx += dy w       (N, I)            dx[n][i] += sum_o dy[n][o] w[o][i]
// Each product is one sgemm, except the forward pass of a batch of at most 4 items (inference),
// which is sgemv_rows (gemv.h) so that the weights are read only once; the naive
// kernels are the sums above as plain loops.
#pragma once
#include "nn/layer.h"

namespace dlbhc {

// Caffe's inner_product_param (axis 1, no transpose).
struct InnerProductParam {
    int num_output = 0;
    bool bias_term = true;
    FillerParam weight_filler;  // Caffe's default: constant 0
    FillerParam bias_filler;    // Caffe's default: constant 0
};

// out (N, O) is overwritten; inp (N, I); weight (O, I); bias (O) or null for none.
void inner_product_forward(float* out, const float* inp, const float* weight, const float* bias, int N, int I, int O);
// ACCUMULATES into dinp (N, I), dweight (O, I), dbias (O); each may be null to skip it.
// dout (N, O), inp (N, I), weight (O, I).
void inner_product_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                            const float* weight, int N, int I, int O);

// Reference kernels: the same contracts, plain loops (sums in double). Slow; for tests. T is float
// (against the fast kernels) or double (the reference of the finite-difference gradient checks).
template <class T>
void inner_product_forward_naive(T* out, const T* inp, const T* weight, const Same<T>* bias, int N, int I, int O);
template <class T>
void inner_product_backward_naive(Same<T>* dinp, Same<T>* dweight, Same<T>* dbias, const T* dout, const T* inp,
                                  const T* weight, int N, int I, int O);

// Layer "InnerProduct": bottom[0] x, top[0] y; params weight, then bias when bias_term.
class InnerProductLayer : public Layer {
public:
    static constexpr BlobCounts kBlobs = {1, 1, 1, 1};
    InnerProductLayer(std::string name, InnerProductParam p) : Layer(std::move(name)), p_(p) {}
    const char* type() const override { return "InnerProduct"; }
    // num_output > 0 and 1 .. 2^31-1 inputs per item; top (N, O), weight (O, I), bias (O).
    LayerShapes shapes(const std::vector<Shape>& bottom) const override;
    void reshape(const Blobs& bottom, const Blobs& top) override;
    void forward(const Blobs& bottom, const Blobs& top) override;
    void backward(const Blobs& top, const Blobs& bottom) override;
    const InnerProductParam& inner_product_param() const { return p_; }

private:
    InnerProductParam p_;
};

}  // namespace dlbhc
