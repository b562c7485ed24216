// nn/sigmoid.h -- Sigmoid: y = 1 / (1 + exp(-x)); dy/dx = y (1 - y).
// In DLBHC the sigmoid on the latent layer (fc8_kevin_encode) pushes activations towards {0, 1};
// thresholding them at 0.5 gives the hash bits. x, y any shape, same shape; may run in place.
#pragma once
#include "nn/layer.h"

namespace dlbhc {

class SigmoidLayer : public Layer {
public:
    static constexpr BlobCounts kBlobs = {1, 1, 1, 1};
    explicit SigmoidLayer(std::string name) : Layer(std::move(name)) {}
    const char* type() const override { return "Sigmoid"; }
    bool allows_in_place() const override { return true; }
    // top[0] has bottom[0]'s shape.
    LayerShapes shapes(const std::vector<Shape>& bottom) const override { return {"", {bottom.at(0)}, {}}; }
    void reshape(const Blobs& bottom, const Blobs& top) override;
    void forward(const Blobs& bottom, const Blobs& top) override;
    void backward(const Blobs& top, const Blobs& bottom) override;
};

void sigmoid_forward(float* out, const float* inp, size_t n);  // out may alias inp
// dinp += dout * out * (1 - out); in place (dinp == dout) the product replaces it.
void sigmoid_backward(float* dinp, const float* dout, const float* out, size_t n);
// Reference: the formula in double. T is float or double (the reference of the gradient checks).
template <class T>
void sigmoid_forward_naive(T* out, const T* inp, size_t n);

}  // namespace dlbhc
