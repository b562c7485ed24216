// nn/k1_euclidean_loss.cpp -- see k1_euclidean_loss.h.
#include "nn/k1_euclidean_loss.h"

namespace dlbhc {

LayerShapes K1EuclideanLossLayer::shapes(const std::vector<Shape>& bottom) const {
    LayerShapes r;
    const Shape &a = bottom.at(0), &b = bottom.at(1);
    if (a.count() == 0) r.error = "bottom[0] " + a.str() + " is empty";
    else if (a.count() != b.count())
        r.error = "the bottoms must hold the same number of values, got " + a.str() + " and " + b.str();
    else r.top = {Shape(1, 1, 1, 1)};
    return r;
}

template <class T>
T k1_euclidean_loss_naive(const T* a, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; ++i) s += ((double)a[i] - 0.5) * ((double)a[i] - 0.5);
    return (T)(-s / (2.0 * (double)n));
}
template float k1_euclidean_loss_naive(const float*, size_t);
template double k1_euclidean_loss_naive(const double*, size_t);

void K1EuclideanLossLayer::reshape(const Blobs& bottom, const Blobs& top) {
    check_counts(bottom, top, kBlobs);
    reshape_tops(bottom, top);
}

void K1EuclideanLossLayer::forward(const Blobs& bottom, const Blobs& top) {
    top[0]->data[0] = k1_euclidean_loss_naive(bottom[0]->data.data(), bottom[0]->count());
}

void K1EuclideanLossLayer::backward(const Blobs& top, const Blobs& bottom) {
    if (!propagate_down(0)) return;
    const size_t n = bottom[0]->count();
    const float scale = -top[0]->diff[0] / (float)n;  // -loss_weight / M
    const float* a = bottom[0]->data.data();
    float* da = bottom[0]->diff.data();
    for (size_t i = 0; i < n; ++i) da[i] += scale * (a[i] - 0.5f);
}

}  // namespace dlbhc
