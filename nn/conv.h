// nn/conv.h -- 2-D convolution (cross-correlation, as Caffe), with groups.
//
//   x is (N, C, H, W), w is (OC, C/G, KH, KW), b is (OC, 1, 1, 1), y is (N, OC, OH, OW),
//   OH = (H + 2 PH - KH) / SH + 1,  OW = (W + 2 PW - KW) / SW + 1  (floor, as Caffe).
//   Group g (0 <= g < G) joins input channels [g C/G, (g+1) C/G) to output channels
//   [g OC/G, (g+1) OC/G) (Krizhevsky et al. 2012 split AlexNet across two GPUs this way):
//     y[n][o][oh][ow] = b[o] + sum over ci < C/G, kh < KH, kw < KW of
//                       w[o][ci][kh][kw] * x[n][g C/G + ci][oh SH - PH + kh][ow SW - PW + kw],
//   with g = o / (OC/G) and x = 0 outside the image (zero padding).
// Backward, with dy = dL/dy:
//   db[o]            += sum over n, oh, ow of dy[n][o][oh][ow]
//   dw[o][ci][kh][kw] += sum over n, oh, ow of dy[n][o][oh][ow] * x[n][g C/G + ci][ih][iw]
//   dx[n][c][ih][iw]  += sum over the (o, oh, ow, kh, kw) that read it of dy[n][o][oh][ow] * w[o][ci][kh][kw]
//
// The fast kernels lower each image to a column matrix (im2col.h) and do one GEMM per group:
//   forward   y_g (OC/G, OH*OW)  = w_g (OC/G, Kg) * col_g (Kg, OH*OW),      Kg = C/G * KH * KW
//   weights   dw_g (OC/G, Kg)   += dy_g (OC/G, OH*OW) * col_g^T
//   data      dcol_g (Kg, OH*OW) = w_g^T * dy_g, then col2im adds dcol into dx.
// The naive kernels are the formulas above as plain loops; the tests hold the fast ones to them.
#pragma once
#include <string>

#include "nn/layer.h"

namespace dlbhc {

// Caffe's convolution_param (square kernel_size/stride/pad are given here as equal _h and _w).
struct ConvParam {
    int num_output = 0;
    int kernel_h = 0, kernel_w = 0;
    int stride_h = 1, stride_w = 1;
    int pad_h = 0, pad_w = 0;
    int group = 1;
    bool bias_term = true;
    FillerParam weight_filler;  // Caffe's default: constant 0
    FillerParam bias_filler;    // Caffe's default: constant 0

    // Caffe's square form (kernel_size, stride, pad), as PoolingParam::square.
    static ConvParam square(int num_output, int kernel, int stride = 1, int pad = 0, int group = 1) {
        ConvParam p;
        p.num_output = num_output;
        p.kernel_h = p.kernel_w = kernel;
        p.stride_h = p.stride_w = stride;
        p.pad_h = p.pad_w = pad;
        p.group = group;
        return p;
    }
};

// An empty string when `p` can convolve an input of shape `in`, else what is wrong (a zero
// stride, a kernel larger than the padded input, channels not divisible by the groups, ...).
std::string conv_check(Shape in, const ConvParam& p);
// (N, OC, OH, OW) for an input `in` (which must pass conv_check).
Shape conv_output_shape(Shape in, const ConvParam& p);
// Floats in the column buffer of the fast kernels: (C * KH * KW) * (OH * OW), one image.
size_t conv_col_size(Shape in, const ConvParam& p);

// Fast forward. out (N, OC, OH, OW) is overwritten; inp (N, C, H, W); weight (OC, C/G, KH, KW);
// bias (OC) or null for none; col is scratch of conv_col_size(in, p) floats.
void conv_forward(float* out, const float* inp, const float* weight, const float* bias, Shape in,
                  const ConvParam& p, float* col);
// Fast backward; ACCUMULATES into dinp (N, C, H, W), dweight (OC, C/G, KH, KW) and dbias (OC).
// Each of the three may be null to skip it. dout (N, OC, OH, OW); col as for conv_forward.
void conv_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                   const float* weight, Shape in, const ConvParam& p, float* col);

// Reference kernels: the same contracts, plain loops, no scratch. Slow; for tests.
void conv_forward_naive(float* out, const float* inp, const float* weight, const float* bias, Shape in,
                        const ConvParam& p);
void conv_backward_naive(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                         const float* weight, Shape in, const ConvParam& p);

// Layer "Convolution": bottom[0] x, top[0] y; params weight, then bias when bias_term.
class ConvolutionLayer : public Layer {
public:
    ConvolutionLayer(std::string name, ConvParam p) : Layer(std::move(name)), p_(p) {}
    const char* type() const override { return "Convolution"; }
    void reshape(const Blobs& bottom, const Blobs& top) override;
    void forward(const Blobs& bottom, const Blobs& top) override;
    void backward(const Blobs& top, const Blobs& bottom) override;
    const ConvParam& conv_param() const { return p_; }

private:
    ConvParam p_;
    Tensor col_;  // (C * KH * KW, OH * OW): one image's columns, reused by every call
};

}  // namespace dlbhc
