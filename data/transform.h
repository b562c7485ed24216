// data/transform.h -- turning a dataset image into the float input of the net, as Caffe's
// DataTransformer does (the paper's settings: docs/method.md, "Data preparation").
//
// For an image (C, H, W) of bytes, in this order:
//   1. resize: when resize > 0, to resize x resize (bilinear, data/resize.h, rounded to bytes as
//      the stored 256 x 256 images of the paper were). When resize == 0 and the image is smaller
//      than the crop, it is upscaled to crop x crop if upscale_small, otherwise an error.
//      Call the result the source, (C, SH, SW).
//   2. crop offsets: Train phase: h_off uniform in 0..SH-crop and w_off in 0..SW-crop (inclusive);
//      Test phase: the centre, h_off = (SH-crop)/2, w_off = (SW-crop)/2 (integer division), as Caffe.
//      crop == 0 means the whole source (offsets 0).
//   3. mirror: Train phase with mirror set: flip left-right with probability 1/2. Never in Test
//      (Caffe would also mirror at test time if asked; the paper's test nets never ask).
//   4. out[c][y][x] = (src[c'][h_off + y][w_off + xs] - mean) * scale, xs = mirrored ? OW-1-x : x,
//      c' = 0 for a grey source replicated to 3 channels (force_color), else c. The mean is taken
//      at the *source* position: mean_image[c][h_off + y][w_off + xs], a (C, SH, SW) image
//      subtracted before cropping, as Caffe does; or mean_values[c] (one value per channel, B G R
//      order, or a single value for every channel). At most one of the two may be set.
// Randomness: draw() takes the offsets and the mirror flag from an explicit Rng, in the order
// h_off, w_off, mirror (each drawn only when it can vary), so one Rng state gives one result.
#pragma once
#include <vector>

#include "data/image.h"
#include "nn/layer.h"  // Phase
#include "nn/rng.h"

namespace dlbhc {

struct TransformParam {
    Phase phase = Phase::Test;
    int resize = 0;              // > 0: resize every image to resize x resize first
    int crop = 0;                // > 0: output crop x crop; 0: the whole (resized) image
    bool mirror = false;         // Train phase: random left-right flip
    bool upscale_small = false;  // resize == 0: upscale images smaller than the crop to crop x crop
    bool force_color = false;    // grey (1-channel) images become 3 identical channels
    float scale = 1.0f;          // multiplies (pixel - mean), e.g. 1/255 or 0.00390625
    std::vector<float> mean_values;  // 1 or C values, B G R order
    std::vector<float> mean_image;   // (mean_c, mean_h, mean_w) row-major, e.g. ImageNet's 3x256x256
    int mean_c = 0, mean_h = 0, mean_w = 0;
};

// One draw of the random choices for one image.
struct Augment {
    int h_off = 0, w_off = 0;
    bool mirror = false;
};

class Transformer {
public:
    // Checks the parameters: sizes >= 0, scale finite, the mean image's size equal to
    // mean_c * mean_h * mean_w, not both kinds of mean. Throws std::invalid_argument.
    explicit Transformer(TransformParam p);
    const TransformParam& param() const { return p_; }

    // Output size (oc, oh, ow) for an input image of (c, h, w). Throws std::invalid_argument when
    // the image is smaller than the crop and neither resize nor upscale_small is set.
    void output_dims(int c, int h, int w, int& oc, int& oh, int& ow) const;
    // Source size (after step 1) for an input of h x w.
    void source_dims(int h, int w, int& sh, int& sw) const;

    // The random choices for a source of sh x sw (see the file comment).
    Augment draw(int sh, int sw, Rng& rng) const;

    // Transforms `in` with the given choices into out, which holds oc * oh * ow floats
    // (output_dims). `scratch` is reused for the resized image. Throws std::invalid_argument
    // when the mean does not fit the source (channels or size) or the offsets do not fit.
    void apply(const Image& in, const Augment& a, float* out, Image& scratch) const;
    // draw() then apply().
    void apply(const Image& in, Rng& rng, float* out, Image& scratch) const;

private:
    const Image& source(const Image& in, Image& scratch) const;
    TransformParam p_;
};

}  // namespace dlbhc
