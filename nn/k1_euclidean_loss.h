// nn/k1_euclidean_loss.h -- K1_EuclideanLoss, SSDH's "forcing-binary" loss (Yang, Lin, Chen,
// "Supervised Learning of Semantics-Preserving Hash via Deep Convolutional Neural Networks",
// TPAMI 2018; the layer of the authors' Caffe fork, newest revision).
//   bottom[0] a, the latent sigmoid outputs, any shape; M = its count (N * K for N codes of K bits)
//   bottom[1] the same count; not read: the authors' net gives the same blob twice, since the
//             layer is written on top of Caffe's two-input EuclideanLoss
//   top[0]    loss (1, 1, 1, 1) = -(1 / (2 M)) sum_i (a_i - 0.5)^2
// Backward: da += -(a - 0.5) / M * dtop (dtop: the loss weight); bottom[1] never gets a gradient.
// Minimising it pushes every output away from 0.5, towards 0 or 1, so that thresholding the
// latent outputs at 0.5 loses little. Its minimum is -1/8 (every output exactly 0 or 1).
#pragma once
#include "nn/layer.h"

namespace dlbhc {

// Reference: the loss above from its definition, over the n values of a. T is float or double
// (the reference of the finite-difference gradient checks).
template <class T>
T k1_euclidean_loss_naive(const T* a, size_t n);

class K1EuclideanLossLayer : public Layer {
public:
    static constexpr BlobCounts kBlobs = {2, 2, 1, 1};  // (a, a) -> (loss)
    explicit K1EuclideanLossLayer(std::string name) : Layer(std::move(name)) {}
    const char* type() const override { return "K1_EuclideanLoss"; }
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
