// nn/softmax_loss.cpp
#include "nn/softmax_loss.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "nn/softmax.h"

namespace dlbhc {

LayerShapes SoftmaxWithLossLayer::shapes(const std::vector<Shape>& bottom) const {
    LayerShapes r;
    const Shape& s = bottom.at(0);
    const Shape& l = bottom.at(1);
    if (l.n != s.n || l.c != 1 || l.h != s.h || l.w != s.w)
        r.error = "labels have shape " + l.str() + " but scores " + s.str() + " need labels (N, 1, H, W) = " +
                  Shape(s.n, 1, s.h, s.w).str();
    else
        r.top = {Shape(1, 1, 1, 1), s};
    return r;
}

double SoftmaxWithLossLayer::buffer_floats(const std::vector<Shape>& bottom) const { return (double)bottom.at(0).count(); }

void SoftmaxWithLossLayer::reshape(const Blobs& bottom, const Blobs& top) {
    check_counts(bottom, top, kBlobs);
    reshape_tops(bottom, top);
    prob_.reshape(bottom[0]->shape());
}

template <class T>
T softmax_loss_naive(const T* x, const T* labels, Shape s, const SoftmaxLossParam& p) {
    const size_t S = (size_t)s.h * s.w;
    double loss = 0;
    size_t valid = 0;
    for (int n = 0; n < s.n; ++n)
        for (size_t i = 0; i < S; ++i) {
            const int y = (int)labels[n * S + i];
            if (p.has_ignore_label && y == p.ignore_label) continue;
            auto at = [&](int k) { return ((size_t)n * s.c + k) * S + i; };
            double m = x[at(0)], z = 0;
            for (int k = 1; k < s.c; ++k) m = std::max(m, (double)x[at(k)]);
            for (int k = 0; k < s.c; ++k) z += std::exp(x[at(k)] - m);
            loss -= x[at(y)] - m - std::log(z);  // -log softmax(x)[y]
            ++valid;
        }
    return valid ? (T)(loss / valid) : (T)0;
}
template float softmax_loss_naive(const float*, const float*, Shape, const SoftmaxLossParam&);
template double softmax_loss_naive(const double*, const double*, Shape, const SoftmaxLossParam&);

void SoftmaxWithLossLayer::forward(const Blobs& bottom, const Blobs& top) {
    const Shape& s = bottom[0]->shape();
    const int N = s.n, K = s.c, S = s.h * s.w;
    softmax_forward(prob_.data(), bottom[0]->data.data(), N, K, S);
    const float* label = bottom[1]->data.data();
    double loss = 0;
    valid_ = 0;
    for (int n = 0; n < N; ++n) {
        for (int i = 0; i < S; ++i) {
            const float lf = label[(size_t)n * S + i];
            // Checked before the cast: (int) of NaN or of a huge value is undefined, and 0.7 must
            // not pass as the ignore label 0.
            if (!(lf > -2147483648.0f && lf < 2147483648.0f) || lf != (float)(int)lf)
                fail("label " + std::to_string(lf) + " at item " + std::to_string(n) + " is not an integer");
            const int y = (int)lf;
            if (p_.has_ignore_label && y == p_.ignore_label) continue;
            if (y < 0 || y >= K)
                fail("label " + std::to_string(lf) + " at item " + std::to_string(n) + " is not a class index in [0, " +
                     std::to_string(K) + ")");
            float p = prob_[((size_t)n * K + y) * S + i];
            // log(FLT_MIN) caps the loss of a hopeless prediction, as Caffe does; a NaN stays NaN
            // (fmax would turn it into the cap and hide a diverged net from the trainer).
            loss -= std::log(std::isnan(p) ? p : std::fmax(p, std::numeric_limits<float>::min()));
            ++valid_;
        }
    }
    top[0]->data[0] = valid_ > 0 ? (float)(loss / valid_) : 0.0f;
    if (top.size() == 2) std::memcpy(top[1]->data.data(), prob_.data(), prob_.count() * sizeof(float));
}

void SoftmaxWithLossLayer::backward(const Blobs& top, const Blobs& bottom) {
    if (!propagate_down(0) || valid_ == 0) return;
    const Shape& s = bottom[0]->shape();
    const int N = s.n, K = s.c, S = s.h * s.w;
    const float scale = top[0]->diff[0] / (float)valid_;  // loss_weight / V
    const float* label = bottom[1]->data.data();
    float* dx = bottom[0]->diff.data();
    for (int n = 0; n < N; ++n) {
        for (int i = 0; i < S; ++i) {
            int y = (int)label[(size_t)n * S + i];
            if (p_.has_ignore_label && y == p_.ignore_label) continue;
            for (int k = 0; k < K; ++k) {
                size_t j = ((size_t)n * K + k) * S + i;
                dx[j] += scale * (prob_[j] - (k == y ? 1.0f : 0.0f));
            }
        }
    }
}

}  // namespace dlbhc
