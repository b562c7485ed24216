// data/resize.h -- bilinear resizing of 8-bit planar images (the "resize to 256 x 256" step).
//
// Sampling convention (pixel centres, as OpenCV's INTER_LINEAR, which Caffe's convert_imageset
// uses): output pixel x samples the input at
//     sx = (x + 0.5) * (in_w / out_w) - 0.5,
// clamped to [0, in_w - 1]; with x0 = floor(sx), x1 = min(x0 + 1, in_w - 1), fx = sx - x0 the
// value is (1 - fx) * in[x0] + fx * in[x1]; the same along y, x first. The result is rounded to
// the nearest integer (halves up), as the 8-bit image Caffe would have stored. There is no
// low-pass filter when shrinking (OpenCV's INTER_LINEAR has none either). Resizing to the same size
// returns the input unchanged.
#pragma once
#include "data/image.h"

namespace dlbhc {

// Resizes every channel of `in` to out_h x out_w (each >= 1) into `out` (which must not be `in`).
// Throws std::invalid_argument for an empty input or a non-positive output size.
void resize_bilinear(const Image& in, int out_h, int out_w, Image& out);

}  // namespace dlbhc
