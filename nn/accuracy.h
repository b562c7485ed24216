// nn/accuracy.h -- Accuracy (no gradient): the fraction of items whose label is among the top_k
// scores. bottom[0] scores (N, K, 1, 1), bottom[1] labels (N, 1, 1, 1); top[0] (1, 1, 1, 1).
// As Caffe's AccuracyLayer, a class whose score equals the label's counts as better than it, so a
// tie is scored wrong: a net that outputs the same score for every class gets accuracy 0, not 1.
#pragma once
#include "nn/layer.h"

namespace dlbhc {

// Caffe's accuracy_param (axis 1; ignore_label is not supported).
struct AccuracyParam {
    int top_k = 1;
};

// Reference: the fraction of the N items whose label (an integer in [0, K)) has fewer than top_k
// other classes scoring at least as high. scores (N, K). T is float or double.
template <class T>
T accuracy_naive(const T* scores, const T* labels, int N, int K, int top_k);

class AccuracyLayer : public Layer {
public:
    static constexpr BlobCounts kBlobs = {2, 2, 1, 1};
    AccuracyLayer(std::string name, int top_k = 1) : Layer(std::move(name)), top_k_(top_k) {}
    AccuracyLayer(std::string name, AccuracyParam p) : AccuracyLayer(std::move(name), p.top_k) {}
    const char* type() const override { return "Accuracy"; }
    bool differentiable_bottom(int) const override { return false; }
    // scores (N, K, 1, 1), N labels, top_k >= 1; top (1, 1, 1, 1).
    LayerShapes shapes(const std::vector<Shape>& bottom) const override;
    void reshape(const Blobs& bottom, const Blobs& top) override;
    void forward(const Blobs& bottom, const Blobs& top) override;
    void backward(const Blobs&, const Blobs&) override {}

private:
    int top_k_;
};

}  // namespace dlbhc
