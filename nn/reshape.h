// nn/reshape.h -- Reshape (Caffe's ReshapeLayer, reshape_param { shape { dim } }): the same values
// under another shape.
//   bottom[0] x, any shape (N, C, H, W); top[0] y, the shape the dims give, with the same count.
// The dims (1 to 4; missing trailing ones are 1, as a Caffe blob of fewer axes is here):
//   d > 0   the size of that axis;
//   d = 0   copy the bottom's size on the same axis ("dim: 0" keeps the batch);
//   d = -1  inferred so that the count stays the same (at most one).
// Caffe's axis / num_axes (reshaping a range of axes) are not implemented: the dims describe the
// whole blob. Forward copies the values (Caffe shares the memory; a copy keeps the layer contract
// simple and costs nothing at the sizes it is used at); backward adds dy to dx.
// In SSDH the latent outputs (N, K) become (N, 1, 1, K), so that a 1 x K AVE pooling gives each
// code's mean output.
#pragma once
#include <string>
#include <vector>

#include "nn/layer.h"

namespace dlbhc {

struct ReshapeParam {
    std::vector<int> dims;  // 1 to 4 values, each > 0, 0 or -1 (see above)
};

// What is wrong with `p` whatever the input (no dims, more than 4, a dim below -1, two -1), or "".
std::string reshape_param_check(const ReshapeParam& p);

class ReshapeLayer : public Layer {
public:
    static constexpr BlobCounts kBlobs = {1, 1, 1, 1};
    ReshapeLayer(std::string name, ReshapeParam p) : Layer(std::move(name)), p_(std::move(p)) {}
    const char* type() const override { return "Reshape"; }
    // reshape_param_check; a -1 that does not divide the count, or fixed dims whose product is not
    // the bottom's count, are errors naming both shapes.
    LayerShapes shapes(const std::vector<Shape>& bottom) const override;
    void reshape(const Blobs& bottom, const Blobs& top) override;
    void forward(const Blobs& bottom, const Blobs& top) override;   // y = x
    void backward(const Blobs& top, const Blobs& bottom) override;  // dx += dy

private:
    ReshapeParam p_;
};

}  // namespace dlbhc
