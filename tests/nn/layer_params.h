// tests/nn/layer_params.h -- layer settings written in one line, for the tests of nn/ layers.
#pragma once
#include "nn/conv.h"

namespace dlbhc {

// A convolution of oc outputs, a kh x kw kernel, strides sh x sw, pads ph x pw, `group` groups.
inline ConvParam conv_param(int oc, int kh, int kw, int sh = 1, int sw = 1, int ph = 0, int pw = 0, int group = 1,
                            bool bias = true) {
    ConvParam p;
    p.num_output = oc;
    p.kernel_h = kh, p.kernel_w = kw;
    p.stride_h = sh, p.stride_w = sw;
    p.pad_h = ph, p.pad_w = pw;
    p.group = group;
    p.bias_term = bias;
    return p;
}

}  // namespace dlbhc
