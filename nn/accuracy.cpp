// nn/accuracy.cpp
#include "nn/accuracy.h"

namespace dlbhc {

LayerShapes AccuracyLayer::shapes(const std::vector<Shape>& bottom) const {
    LayerShapes r;
    const Shape& s = bottom.at(0);
    if (bottom.at(1).count() != (size_t)s.n || s.h * s.w != 1)
        r.error = "expects scores (N, K, 1, 1) and N labels, got " + s.str() + " and " + bottom[1].str();
    else if (top_k_ < 1)
        r.error = "top_k must be >= 1";
    else
        r.top = {Shape(1, 1, 1, 1)};
    return r;
}

void AccuracyLayer::reshape(const Blobs& bottom, const Blobs& top) {
    check_counts(bottom, top, kBlobs);
    reshape_tops(bottom, top);
}

template <class T>
T accuracy_naive(const T* scores, const T* labels, int N, int K, int top_k) {
    int correct = 0;
    for (int n = 0; n < N; ++n) {
        const int y = (int)labels[n];
        int others = 0;  // classes other than y scoring at least as high (a tie counts against y)
        for (int k = 0; k < K; ++k) others += k != y && scores[(size_t)n * K + k] >= scores[(size_t)n * K + y];
        correct += others < top_k;
    }
    return N ? (T)correct / N : (T)0;
}
template float accuracy_naive(const float*, const float*, int, int, int);
template double accuracy_naive(const double*, const double*, int, int, int);

void AccuracyLayer::forward(const Blobs& bottom, const Blobs& top) {
    const int N = bottom[0]->shape().n, K = bottom[0]->shape().c;
    int correct = 0;
    for (int n = 0; n < N; ++n) {
        const float* x = bottom[0]->data.data() + (size_t)n * K;
        const float lf = bottom[1]->data[n];
        if (!(lf >= 0 && lf < (float)K) || lf != (float)(int)lf)
            fail("label " + std::to_string(lf) + " at item " + std::to_string(n) + " is not a class index in [0, " +
                 std::to_string(K) + ")");
        const int y = (int)lf;
        int better = -1;  // the label itself is counted by the loop
        for (int k = 0; k < K; ++k) better += x[k] >= x[y];
        correct += better < top_k_;
    }
    top[0]->data[0] = N ? (float)correct / N : 0.0f;
}

}  // namespace dlbhc
