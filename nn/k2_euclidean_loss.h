// nn/k2_euclidean_loss.h -- K2_EuclideanLoss, SSDH's "50%-fire-rate" loss (Yang, Lin, Chen,
// TPAMI 2018; the layer of the authors' Caffe fork, newest revision).
//   bottom[0] x, the mean of each code's K latent outputs, (N, 1, 1, 1) in the authors' net (a
//             Reshape to (N, 1, 1, K) and an AVE pooling with a 1 x K kernel in front of it);
//             any shape; M = its count
//   bottom[1] the same count; not read (the authors' net gives the same blob twice, the layer being
//             written on top of Caffe's two-input EuclideanLoss)
//   top[0]    loss (1, 1, 1, 1) = (1 / (2 M)) sum_i (x_i - 0.5)^2
// Backward: dx += (x - 0.5) / M * dtop (dtop: the loss weight); bottom[1] never gets a gradient.
// Minimising it asks each code to have half of its bits on, so that every bucket of the code space
// can be used.
#pragma once
#include "nn/layer.h"

namespace dlbhc {

// Reference: the loss above from its definition, over the n values of x. T is float or double
// (the reference of the finite-difference gradient checks).
template <class T>
T k2_euclidean_loss_naive(const T* x, size_t n);

class K2EuclideanLossLayer : public Layer {
public:
    static constexpr BlobCounts kBlobs = {2, 2, 1, 1};  // (x, x) -> (loss)
    explicit K2EuclideanLossLayer(std::string name) : Layer(std::move(name)) {}
    const char* type() const override { return "K2_EuclideanLoss"; }
    bool is_loss() const override { return true; }
    bool differentiable_bottom(int i) const override { return i == 0; }
    // The bottoms hold the same number of values (Caffe's EuclideanLoss rule), at least one; the
    // top is (1, 1, 1, 1).
    LayerShapes shapes(const std::vector<Shape>& bottom) const override;
    void reshape(const Blobs& bottom, const Blobs& top) override;
    void forward(const Blobs& bottom, const Blobs& top) override;
    void backward(const Blobs& top, const Blobs& bottom) override;
};

}  // namespace dlbhc
