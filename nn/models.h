// nn/models.h -- nets built in code, layer for layer as the Caffe prototxt files describe them.
//
// CaffeNet-DLBHC is the net the authors fine-tune (docs/method.md, "Network the authors
// fine-tune"): CaffeNet (pool before norm) up to fc7, then the latent layer fc8_kevin (h units) with
// a sigmoid (fc8_kevin_encode), the classifier fc8_pascal and SoftmaxWithLoss. Names, fillers and
// lr_mult/decay_mult follow the authors' train_val prototxt, so converted ImageNet weights load by
// name. The small net is the demo's (weights/small_dlbhc_train_val.prototxt, layer for layer): the
// same idea at 28x28 / 32x32.
#pragma once
#include <cstdint>
#include <memory>

#include "nn/net.h"

namespace dlbhc {

struct DlbhcNetConfig {
    int batch = 1;
    int latent_bits = 48;     // h, the hash code length
    int num_classes = 10;
    bool alexnet_order = false;  // BVLC AlexNet puts LRN before pooling; CaffeNet after
    bool with_loss = true;       // adds the "label" input, SoftmaxWithLoss and Accuracy
    uint64_t dropout_seed = 1;
};

// Input blob "data" (batch, 3, 227, 227); blobs "fc7" (features) and "fc8_kevin_encode" (latent).
std::unique_ptr<Net> build_caffenet_dlbhc(const DlbhcNetConfig& cfg);

// weights/small_dlbhc_train_val.prototxt (TEST phase) built in code, named "SmallDLBHC". Input "data"
// (batch, channels, size, size), size >= 13 (conv2 needs a 5x5 input after pool1): conv1 32 5x5
// + ReLU -> max 2x2/2 -> conv2 64 5x5 + ReLU -> max 2x2/2 -> fc7 500 + ReLU + dropout 0.5 ->
// fc8_kevin (h) -> Sigmoid -> fc8_pascal -> loss. The 500-d fc7 is the fine-stage feature.
std::unique_ptr<Net> build_small_dlbhc(const DlbhcNetConfig& cfg, int channels, int size);

}  // namespace dlbhc
