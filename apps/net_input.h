// apps/net_input.h -- the image a trained net takes, learned from its prototxt and its weights
// (never from the image), and an image fitted to it (channels converted, resized) as the data
// layer would, for the commands that run a net on one image (encode and query --image, audit).
#pragma once
#include <string>

#include "apps/options.h"
#include "data/image.h"
#include "data/transform.h"
#include "formats/caffe_spec.h"
#include "formats/weights_file.h"

namespace dlbhc {

// What one image must be for a trained net: its image input (C, H, W), learned from the prototxt
// and the weights, never from the image. 0 where any value fits: h = w = 0 when the data layer's
// transform brings every image to the net's size (crop_size, a resize) or nothing fixes the size.
// In this order: C from the weights of the first convolution, else a net-level input shape; H and
// W from a net-level input shape, else from the weights of the first InnerProduct, which fit the
// few input sizes that give its input the same shape (worked out over the layers' shapes). Of
// several, `img`'s own size when it is one of them; else the size of the data layer's source when
// it can be opened; else the one every convolution and pooling window fits exactly; else the
// largest. The weights come before the source because a net may be trained on other data than its
// prototxt names (`train --train-data`): they are what the net was trained on.
struct NetInput {
    int c = 0, h = 0, w = 0;
    std::string from;  // where that was learned, for messages ("the weights of conv1 and fc7")
};
NetInput trained_net_input(const NetSpec& spec, const PipelineOptions& po, const WeightsFile& w,
                           const TransformParam& tp, const Image& img);

// `img` as the net takes it (`in`): colour -> grey (to_grey) or grey -> three equal channels, and
// resized (bilinear, as the data layer's resize, data/resize.h) to in.h x in.w. Prints on stderr
// what was done ("x.png: 3x32x32 converted to 1x28x28 (grey, resized) as the net expects"). With
// `strict` (--no-resize) a difference is an error instead: "this net takes 1x28x28 images; x.png
// is 3x32x32 (...)". `name` names the image in both.
Image fit_image_to_net(const Image& img, const std::string& name, const NetInput& in, bool strict);

// The channel count the net's first layer was trained for, read from the weights: the first
// Convolution reading the image input holds (OC, C / group, KH, KW). 0 when it cannot be told (no
// such layer, or the weights lack it). Lets a lone colour image be fed to a grey net (audit).
int trained_input_channels(const NetSpec& spec, const WeightsFile& w);

// A colour (B, G, R) image as one grey channel, the mean of the three; a grey image unchanged.
Image to_grey(const Image& img);

}  // namespace dlbhc
