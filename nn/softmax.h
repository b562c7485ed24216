// nn/softmax.h -- Softmax over the channel axis, as Caffe's (axis 1):
//   y[n, k, h, w] = exp(x[n, k, h, w] - m) / sum_j exp(x[n, j, h, w] - m),  m = max_j x[n, j, h, w]
// (subtracting the max changes nothing mathematically and keeps exp from overflowing).
// Backward: dx_k = y_k (dy_k - sum_j dy_j y_j).
// x, y are (N, K, H, W); usually H = W = 1.
#pragma once
#include "nn/layer.h"

namespace dlbhc {

class SoftmaxLayer : public Layer {
public:
    static constexpr BlobCounts kBlobs = {1, 1, 1, 1};
    explicit SoftmaxLayer(std::string name) : Layer(std::move(name)) {}
    const char* type() const override { return "Softmax"; }
    // top[0] has bottom[0]'s shape.
    LayerShapes shapes(const std::vector<Shape>& bottom) const override { return {"", {bottom.at(0)}, {}}; }
    void reshape(const Blobs& bottom, const Blobs& top) override;
    void forward(const Blobs& bottom, const Blobs& top) override;
    void backward(const Blobs& top, const Blobs& bottom) override;
};

// out (N, K, S) = softmax over K of inp (N, K, S), S = H * W.
void softmax_forward(float* out, const float* inp, int N, int K, int S);
// dinp (N, K, S) += y * (dout - sum_k dout * y).
void softmax_backward(float* dinp, const float* dout, const float* out, int N, int K, int S);
// Reference: the formula at the top, in double, for x of shape s (over s.c at each (n, h, w)).
// T is float or double (the reference of the finite-difference gradient checks).
template <class T>
void softmax_forward_naive(T* out, const T* inp, Shape s);

}  // namespace dlbhc
