// nn/softmax_loss.h -- SoftmaxWithLoss: softmax over channels then multinomial logistic loss,
// averaged over the batch (Caffe's normalization VALID: divided by the number of labelled
// positions, N * H * W minus those equal to ignore_label).
//   bottom[0] scores x (N, K, H, W); bottom[1] labels (N, 1, H, W) holding class indices as floats
//   top[0]    loss (1, 1, 1, 1) = -(1/V) sum_{n,s} log p[n, label[n,s], s]
//   top[1]    optional: the probabilities p (N, K, H, W)
// Backward: dx = loss_weight * (p - onehot(label)) / V; labels get no gradient. As in Caffe, only
// top[0]'s gradient is read: the probabilities are an output to look at, not differentiated.
// Fused, as in Caffe, because p - onehot is exact where the separate chain would divide by p.
#pragma once
#include "nn/layer.h"

namespace dlbhc {

struct SoftmaxLossParam {
    bool has_ignore_label = false;
    int ignore_label = -1;
};

// Reference: the loss above from its definition in double, for scores x of shape s and labels
// (N, 1, H, W) (ignore_label honoured; 0 when no position is labelled). T is float or double (the
// reference of the finite-difference gradient checks).
template <class T>
T softmax_loss_naive(const T* x, const T* labels, Shape s, const SoftmaxLossParam& p);

class SoftmaxWithLossLayer : public Layer {
public:
    static constexpr BlobCounts kBlobs = {2, 2, 1, 2};  // (scores, labels) -> (loss) or (loss, prob)
    SoftmaxWithLossLayer(std::string name, SoftmaxLossParam p = {}) : Layer(std::move(name)), p_(p) {}
    const char* type() const override { return "SoftmaxWithLoss"; }
    bool is_loss() const override { return true; }
    bool differentiable_bottom(int i) const override { return i == 0; }
    // labels (N, 1, H, W) for scores (N, K, H, W); tops (1, 1, 1, 1) and the probabilities.
    LayerShapes shapes(const std::vector<Shape>& bottom) const override;
    // The probabilities, one per score.
    double buffer_floats(const std::vector<Shape>& bottom) const override;
    void reshape(const Blobs& bottom, const Blobs& top) override;
    void forward(const Blobs& bottom, const Blobs& top) override;
    void backward(const Blobs& top, const Blobs& bottom) override;
    const Tensor& prob() const { return prob_; }

private:
    SoftmaxLossParam p_;
    Tensor prob_;  // (N, K, H, W)
    int valid_ = 0;
};

}  // namespace dlbhc
