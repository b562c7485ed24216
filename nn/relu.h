// nn/relu.h -- ReLU: y = max(0, x) (Caffe's negative_slope gives a leaky ReLU: y = slope * x for x <= 0).
// x, y are any shape, same shape; may run in place (y == x).
#pragma once
#include "nn/layer.h"

namespace dlbhc {

struct ReLUParam {
    float negative_slope = 0.0f;
};

class ReLULayer : public Layer {
public:
    static constexpr BlobCounts kBlobs = {1, 1, 1, 1};
    ReLULayer(std::string name, ReLUParam p = {}) : Layer(std::move(name)), p_(p) {}
    const char* type() const override { return "ReLU"; }
    bool allows_in_place() const override { return true; }
    // negative_slope >= 0; top[0] has bottom[0]'s shape.
    LayerShapes shapes(const std::vector<Shape>& bottom) const override;
    void reshape(const Blobs& bottom, const Blobs& top) override;
    void forward(const Blobs& bottom, const Blobs& top) override;
    void backward(const Blobs& top, const Blobs& bottom) override;

private:
    ReLUParam p_;
};

// Plain kernels. out may alias inp.
void relu_forward(float* out, const float* inp, size_t n, float slope);
// dinp += dout * (x > 0 ? 1 : slope), where x is the input; `out` (>0 iff x>0) is used so the
// layer can run in place. When dinp == dout (in place) the product replaces it.
void relu_backward(float* dinp, const float* dout, const float* out, size_t n, float slope);
// Reference: y = x > 0 ? x : slope * x, as written. T is float or double (the reference of the
// finite-difference gradient checks).
template <class T>
void relu_forward_naive(T* out, const T* inp, size_t n, float slope);

}  // namespace dlbhc
