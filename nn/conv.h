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
// The fast kernels lower images to a column matrix (im2col.h) and do one GEMM per group. A
// "chunk" of b images shares one column matrix, its images side by side, so the GEMMs are wide
// even when one image has few output positions (13x13 in conv3-5, 8x8 in a 28x28 net):
//   col   (C * KH * KW, b * OH*OW)     column i * OH*OW + q belongs to image i, position q
//   ycol  (OC, b * OH*OW)              the chunk's outputs (or their gradients) in the same order
//   forward   ycol_g (OC/G, b P)  = w_g (OC/G, Kg) * col_g (Kg, b P),      Kg = C/G * KH * KW, P = OH*OW
//   weights   dw_g (OC/G, Kg)    += dycol_g (OC/G, b P) * col_g^T
//   data      dcol_g (Kg, b P)    = w_g^T * dycol_g, then col2im adds dcol into dx.
// With b = 1 the GEMMs read and write y and dy in place (no copy). Chunks are independent, so
// OpenMP gives each thread whole chunks with its own scratch (im2col, GEMM and col2im all run in
// parallel, and every GEMM is single-threaded inside); a batch with too few chunks runs them one
// after the other with a threaded GEMM and im2col instead (batch-1 inference).
// The weight gradient sums over the whole batch: the chunks are split into a fixed number of
// "slices" (at most kConvMaxSlices, never depending on the thread count), each slice sums its
// chunks into its own partial buffer, and the partials are added in slice order. Results are
// therefore the same bit for bit whatever the number of threads (as the GEMM's are).
// 3x3 stride-1 convolutions with enough channels (CaffeNet's conv3-5) take another route with the
// same chunks, slots and slices: Winograd's F(2x2, 3x3) (winograd.h), 16 GEMMs with K = C/G per
// chunk instead of one with K = 9 C/G, 1.94x fewer multiply-adds at 13x13, forward and both
// backward passes. ConvPlan::winograd says which route a plan takes.
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

// Which fast kernel a plan uses: Auto picks Winograd for the shapes it wins on (see conv_plan).
enum class ConvAlgo { Auto, Gemm, Winograd };
// True when Winograd F(2x2, 3x3) can compute this convolution: a 3x3 kernel with stride 1.
bool conv_winograd_possible(const ConvParam& p);

// How the batched kernels cut a batch of N images (see above). Depends only on the shapes and
// on `threads` (which sizes the scratch, not the arithmetic).
struct ConvPlan {
    bool winograd = false;  // Winograd F(2x2, 3x3) instead of im2col + GEMM
    int chunk = 1;   // b: images per chunk
    int chunks = 0;  // ceil(N / b)
    int slices = 1;  // weight-gradient partial sums; 1 means "accumulate into dweight directly"
    int slots = 1;   // scratch areas (one per thread that can run a chunk at a time)
    // GEMM route:
    //   col_floats      per slot: (C * KH * KW) * b * P; 0 when b = 1 and 1x1/stride 1/pad 0
    //   ycol_floats     per slot: OC * b * P; 0 when b = 1
    //   partial_floats  per slice when slices > 1: OC * C/G * KH * KW + OC (weights, bias)
    // Winograd route (T = b * tiles per image):
    //   col_floats      per slot: V (16, C, T) and a padded input plane
    //   ycol_floats     per slot: M (16, OC, T)
    //   partial_floats  per slice, always: dU (16, OC, C/G) + OC (bias)
    //   u_floats        once: the transformed weights U (16, OC, C/G)
    size_t col_floats = 0;
    size_t ycol_floats = 0;
    size_t partial_floats = 0;
    size_t u_floats = 0;
    // The scratch the batched kernels need: slots * (col + ycol), then the partials, then U.
    size_t workspace_floats() const {
        return slots * (col_floats + ycol_floats) + (slices > 1 || winograd ? slices * partial_floats : 0) + u_floats;
    }
};
// Maximum number of weight-gradient slices (each costs one weight-sized partial buffer).
constexpr int kConvMaxSlices = 4;
// The plan the layer uses for input `in` (which must pass conv_check) on `threads` threads (>= 1).
// chunk > 0 imposes b (clipped to [1, N]) instead of the automatic choice, and algo a route
// (Winograd where conv_winograd_possible is false throws std::invalid_argument); for tests and
// benchmarks.
ConvPlan conv_plan(Shape in, const ConvParam& p, int threads, int chunk = 0, ConvAlgo algo = ConvAlgo::Auto);

// Batched fast forward. out (N, OC, OH, OW) is overwritten; inp (N, C, H, W); weight
// (OC, C/G, KH, KW); bias (OC) or null for none; work is scratch of plan.workspace_floats().
// Threads: across chunks when there are enough of them; otherwise (small batches: chunks of one
// image, batch-1 inference) inside each chunk: the groups' GEMMs side by side, or the im2col and
// GEMM shared out. Either way the result is bit for bit the same on any number of threads.
void conv_forward(float* out, const float* inp, const float* weight, const float* bias, Shape in,
                  const ConvParam& p, const ConvPlan& plan, float* work);
// Batched fast backward; ACCUMULATES into dinp (N, C, H, W), dweight (OC, C/G, KH, KW) and dbias
// (OC); each of the three may be null to skip it. dout (N, OC, OH, OW); work as for forward.
void conv_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                   const float* weight, Shape in, const ConvParam& p, const ConvPlan& plan, float* work);

// The same kernels one image at a time (plan {b = 1, one slot, one slice}), with `col` as scratch
// of conv_col_size(in, p) floats: for callers that hold one image's columns.
void conv_forward(float* out, const float* inp, const float* weight, const float* bias, Shape in,
                  const ConvParam& p, float* col);
void conv_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                   const float* weight, Shape in, const ConvParam& p, float* col);

// Reference kernels: the same contracts, plain loops, no scratch, sums in double. Slow; for
// tests. T is float (the fast kernels are held to these) or double (the reference of the
// finite-difference gradient checks: one reference, in either precision).
template <class T>
void conv_forward_naive(T* out, const T* inp, const T* weight, const Same<T>* bias, Shape in, const ConvParam& p);
template <class T>
void conv_backward_naive(Same<T>* dinp, Same<T>* dweight, Same<T>* dbias, const T* dout, const T* inp,
                         const T* weight, Shape in, const ConvParam& p);

// Layer "Convolution": bottom[0] x, top[0] y; params weight, then bias when bias_term.
class ConvolutionLayer : public Layer {
public:
    static constexpr BlobCounts kBlobs = {1, 1, 1, 1};
    ConvolutionLayer(std::string name, ConvParam p) : Layer(std::move(name)), p_(p) {}
    const char* type() const override { return "Convolution"; }
    // conv_check, conv_output_shape; weight (OC, C/G, KH, KW) and bias (OC) when bias_term.
    LayerShapes shapes(const std::vector<Shape>& bottom) const override;
    // The plan's workspace (ConvPlan::workspace_floats) on the threads OpenMP would start now.
    double buffer_floats(const std::vector<Shape>& bottom) const override;
    void reshape(const Blobs& bottom, const Blobs& top) override;
    void forward(const Blobs& bottom, const Blobs& top) override;
    void backward(const Blobs& top, const Blobs& bottom) override;
    const ConvParam& conv_param() const { return p_; }
    const ConvPlan& plan() const { return plan_; }
    // Imposes a route from the next reshape on (Auto by default); for tests and benchmarks.
    void set_algo(ConvAlgo algo) { algo_ = algo; }

private:
    ConvPlan plan_for(Shape in) const;  // the plan reshape takes for input `in`

    ConvParam p_;
    ConvAlgo algo_ = ConvAlgo::Auto;
    ConvPlan plan_;
    Tensor work_;  // plan_.workspace_floats(): columns, gathered outputs, partials; reused by every call
};

}  // namespace dlbhc
