// nn/dropout.h -- Dropout (Srivastava et al. 2014, as Caffe implements it: "inverted" dropout).
//   Train: mask_i ~ Bernoulli(1 - p), y_i = x_i * mask_i / (1 - p)   (so E[y] = x)
//   Test:  y = x
// Backward uses the same mask: dx_i = dy_i * mask_i / (1 - p). The mask is drawn from the layer's
// own Rng, seeded explicitly, so a run is repeatable and the generator state can be snapshotted.
// x, y any shape; may run in place.
#pragma once
#include <cstdint>
#include <vector>

#include "nn/layer.h"
#include "nn/rng.h"

namespace dlbhc {

struct DropoutParam {
    float dropout_ratio = 0.5f;  // p, in [0, 1)
    uint64_t seed = 1;
};

// Reference: y_i = x_i / (1 - p) where mask_i is 1, else 0 (n elements). T is float or double (the
// reference of the finite-difference gradient checks).
template <class T>
void dropout_forward_naive(T* out, const T* inp, const uint8_t* mask, size_t n, float ratio);

class DropoutLayer : public Layer {
public:
    static constexpr BlobCounts kBlobs = {1, 1, 1, 1};
    DropoutLayer(std::string name, DropoutParam p = {}) : Layer(std::move(name)), p_(p), rng_(p.seed) {}
    const char* type() const override { return "Dropout"; }
    bool allows_in_place() const override { return true; }
    // dropout_ratio in [0, 1); top[0] has bottom[0]'s shape.
    LayerShapes shapes(const std::vector<Shape>& bottom) const override;
    // The mask, one byte per input.
    double buffer_floats(const std::vector<Shape>& bottom) const override;
    void reshape(const Blobs& bottom, const Blobs& top) override;
    void forward(const Blobs& bottom, const Blobs& top) override;
    void backward(const Blobs& top, const Blobs& bottom) override;
    Rng& rng() { return rng_; }
    const std::vector<uint8_t>& mask() const { return mask_; }

private:
    DropoutParam p_;
    Rng rng_;
    std::vector<uint8_t> mask_;  // one per element, 1 = kept
};

}  // namespace dlbhc
