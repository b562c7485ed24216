// nn/pooling.h -- spatial pooling (Caffe's PoolingLayer, pooling_param): MAX and AVE.
//
// x is (N, C, H, W), y is (N, C, OH, OW); every (n, c) plane is pooled on its own.
// A KH x KW window starts at (oh * SH - PH, ow * SW - PW) in x (PH, PW: zero padding).
//
// Output size, as Caffe (pooling_layer.cpp), rounding UP so that the last partial window is kept:
//     OH = ceil((H + 2*PH - KH) / SH) + 1
//     if (OH - 1) * SH >= H + PH:  OH -= 1     (the last window must start inside the input)
// and the same for W. Caffe applies the second rule only when a pad is set; with no pad it can only
// fire when SH > KH, where Caffe would make a window that lies wholly past the input (and read a
// max-pool index of -1), so here it is applied always. Every geometry Caffe handles gets the same
// output size. pad < kernel is required (Caffe's check), so no window lies wholly in the padding.
//
// MAX: y = max of x over the window clipped to the input (padding never wins). The index of the
//      maximum (first one in row-major order on ties) is kept per output, and backward sends the
//      whole gradient to that one input.
// AVE: as Caffe, the divisor counts the padding but not the part of a window that hangs past the
//      padded border:
//          hstart = oh*SH - PH,  hend = min(hstart + KH, H + PH),  likewise w;
//          pool_size = (hend - hstart) * (wend - wstart)          (before clipping)
//          y = sum of x over [max(hstart,0), min(hend,H)) x [max(wstart,0), min(wend,W)) / pool_size
//      and backward spreads dy / pool_size over the same clipped window.
// global_pooling: the window is the whole plane (KH = H, KW = W), stride 1, pad 0; y is (N, C, 1, 1).
#pragma once
#include <string>
#include <vector>

#include "nn/layer.h"

namespace dlbhc {

struct PoolingParam {
    // Caffe's enum and numbering; STOCHASTIC exists so that a parsed prototxt can name it, and is
    // rejected by reshape (not implemented).
    enum Method { MAX, AVE, STOCHASTIC } pool = MAX;
    int kernel_h = 0, kernel_w = 0;
    int stride_h = 1, stride_w = 1;
    int pad_h = 0, pad_w = 0;
    bool global_pooling = false;

    // Caffe's square form (kernel_size, stride, pad).
    static PoolingParam square(Method m, int kernel, int stride = 1, int pad = 0) {
        PoolingParam p;
        p.pool = m;
        p.kernel_h = p.kernel_w = kernel;
        p.stride_h = p.stride_w = stride;
        p.pad_h = p.pad_w = pad;
        return p;
    }
};

// The resolved geometry of one pooling: input (N, C, H, W), window KH x KW, stride SH, SW,
// padding PH, PW, output (N, C, OH, OW).
struct PoolGeom {
    int N = 0, C = 0, H = 0, W = 0;
    int KH = 0, KW = 0, SH = 1, SW = 1, PH = 0, PW = 0;
    int OH = 0, OW = 0;
};

// Caffe's output length along one axis (see the top of this file); returns a value < 1 when no
// window fits (input plus padding shorter than the kernel by a stride or more).
// Requires kernel >= 1, stride >= 1, 0 <= pad < kernel.
int pooled_size(int in, int kernel, int stride, int pad);

// The rules of pooling, stated once (the layer, the prototxt reader and the net builder ask them):
// what is wrong with `p` whatever the input (STOCHASTIC, a kernel below 1, a stride below 1, a
// negative pad, pad >= kernel, global pooling with a kernel, stride or pad), or "" when nothing is.
std::string pooling_param_check(const PoolingParam& p);
// The same, and what is wrong with an input of shape `in` (an empty dimension, too small for one
// window).
std::string pooling_check(Shape in, const PoolingParam& p);
// The geometry for an input `in` that passes pooling_check.
PoolGeom pooling_geometry(Shape in, const PoolingParam& p);

// Plain kernels. Sizes: inp and dinp hold N*C*H*W floats, out and dout N*C*OH*OW, argmax
// N*C*OH*OW ints (each an index h*W + w inside its own (n, c) plane).
void maxpool_forward(float* out, int* argmax, const float* inp, const PoolGeom& g);
// dinp[argmax] += dout.
void maxpool_backward(float* dinp, const float* dout, const int* argmax, const PoolGeom& g);
void avepool_forward(float* out, const float* inp, const PoolGeom& g);
// dinp += dout / pool_size over each output's clipped window.
void avepool_backward(float* dinp, const float* dout, const PoolGeom& g);

// Reference kernels: the definitions above as plain loops over every kernel offset, apart from the
// fast kernels' window clipping. A MAX output is the first largest input of its window in
// row-major order; an AVE output is the sum of the window's inputs over the number of its offsets
// inside the padded border. g comes from pooling_geometry. T is float (the fast kernels are held
// to these) or double (the reference of the finite-difference gradient checks). Slow; for tests.
template <class T>
void pooling_forward_naive(T* out, const T* inp, const PoolGeom& g, PoolingParam::Method method);
// dinp += the gradient: MAX sends each dout to its window's first largest input (found again from
// inp), AVE spreads dout / divisor over the window's inputs.
template <class T>
void pooling_backward_naive(T* dinp, const T* dout, const T* inp, const PoolGeom& g, PoolingParam::Method method);

class PoolingLayer : public Layer {
public:
    static constexpr BlobCounts kBlobs = {1, 1, 1, 1};
    PoolingLayer(std::string name, PoolingParam p) : Layer(std::move(name)), p_(p) {}
    const char* type() const override { return "Pooling"; }
    // pooling_check on bottom[0] (N, C, H, W); top[0] (N, C, OH, OW).
    LayerShapes shapes(const std::vector<Shape>& bottom) const override;
    // MAX: one int index per output.
    double buffer_floats(const std::vector<Shape>& bottom) const override;
    // Checks the parameters against bottom[0], sets top[0] and sizes the argmax buffer (MAX only).
    void reshape(const Blobs& bottom, const Blobs& top) override;
    void forward(const Blobs& bottom, const Blobs& top) override;
    void backward(const Blobs& top, const Blobs& bottom) override;

    const PoolingParam& param_spec() const { return p_; }
    // The geometry fixed by the last reshape.
    const PoolGeom& geometry() const { return g_; }
    // MAX: per output, the in-plane index of the winning input (from the last forward).
    const std::vector<int>& argmax() const { return argmax_; }

private:
    PoolingParam p_;
    PoolGeom g_;
    std::vector<int> argmax_;  // MAX: per output, the in-plane index of the winning input
};

}  // namespace dlbhc
