// nn/k2_euclidean_loss.cpp -- see k2_euclidean_loss.h.
#include "nn/k2_euclidean_loss.h"

namespace dlbhc {

LayerShapes K2EuclideanLossLayer::shapes(const std::vector<Shape>& bottom) const {
    LayerShapes r;
    const Shape &x = bottom.at(0), &y = bottom.at(1);
    if (x.count() == 0) r.error = "bottom[0] " + x.str() + " is empty";
    else if (x.count() != y.count())
        r.error = "the bottoms must hold the same number of values, got " + x.str() + " and " + y.str();
    else r.top = {Shape(1, 1, 1, 1)};
    return r;
}

template <class T>
T k2_euclidean_loss_naive(const T* x, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; ++i) s += ((double)x[i] - 0.5) * ((double)x[i] - 0.5);
    return (T)(s / (2.0 * (double)n));
}
template float k2_euclidean_loss_naive(const float*, size_t);
template double k2_euclidean_loss_naive(const double*, size_t);

void K2EuclideanLossLayer::reshape(const Blobs& bottom, const Blobs& top) {
    check_counts(bottom, top, kBlobs);
    reshape_tops(bottom, top);
}

void K2EuclideanLossLayer::forward(const Blobs& bottom, const Blobs& top) {
    top[0]->data[0] = k2_euclidean_loss_naive(bottom[0]->data.data(), bottom[0]->count());
}

void K2EuclideanLossLayer::backward(const Blobs& top, const Blobs& bottom) {
    if (!propagate_down(0)) return;
    const size_t n = bottom[0]->count();
    const float scale = top[0]->diff[0] / (float)n;  // loss_weight / M
    const float* x = bottom[0]->data.data();
    float* dx = bottom[0]->diff.data();
    for (size_t i = 0; i < n; ++i) dx[i] += scale * (x[i] - 0.5f);
}

}  // namespace dlbhc
