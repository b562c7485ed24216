// tests/reference_double.h -- every layer's forward pass once more, in double precision, written
// straight from the formulas (independently of nn/). They serve the double-precision gradient
// check: central differences of these functions with a tiny step give numeric gradients accurate
// to about 1e-9, against which the float32 backward passes of nn/ are held to float accuracy.
// Shapes as in nn/: x (N, C, H, W) row-major; weights as Caffe.
#pragma once
#include <vector>

#include "nn/conv.h"
#include "nn/inner_product.h"
#include "nn/lrn.h"
#include "nn/pooling.h"
#include "nn/tensor.h"

namespace dlbhc {
namespace refd {

using Vec = std::vector<double>;

// y (N, OC, OH, OW); w (OC, C/G, KH, KW); b (OC) or empty.
Vec conv(const Vec& x, Shape in, const Vec& w, const Vec& b, const ConvParam& p);
// y (N, O); x flattened (N, I); w (O, I); b (O) or empty.
Vec inner_product(const Vec& x, int N, int I, const Vec& w, const Vec& b, int O);
// Caffe's pooling (ceil rounding, clip rule, AVE divisor counting the padding); out shape in *out.
Vec pool(const Vec& x, Shape in, const PoolingParam& p, Shape* out);
Vec lrn(const Vec& x, Shape in, const LRNParam& p);
Vec relu(const Vec& x, double slope);
Vec sigmoid(const Vec& x);
Vec softmax(const Vec& x, Shape in);  // over channels
// Mean over labelled positions of -log softmax(x)[label]; labels (N, 1, H, W).
double softmax_loss(const Vec& x, Shape in, const std::vector<float>& labels);
// x * mask / (1 - p).
Vec dropout(const Vec& x, const std::vector<uint8_t>& mask, double p);

Vec to_double(const Tensor& t);

}  // namespace refd
}  // namespace dlbhc
