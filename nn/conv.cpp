// nn/conv.cpp -- see conv.h.
#include "nn/conv.h"

#include "nn/gemm.h"
#include "nn/im2col.h"

namespace dlbhc {

namespace {

Im2ColGeom geom_of(Shape in, const ConvParam& p) {
    Im2ColGeom g;
    g.c = in.c, g.h = in.h, g.w = in.w;
    g.kh = p.kernel_h, g.kw = p.kernel_w;
    g.sh = p.stride_h, g.sw = p.stride_w;
    g.ph = p.pad_h, g.pw = p.pad_w;
    return g;
}

// A 1x1 kernel with stride 1 and no padding reads the image as it is: its column matrix is x
// itself, (C, H*W), so im2col and col2im are skipped.
bool is_pointwise(const ConvParam& p) {
    return p.kernel_h == 1 && p.kernel_w == 1 && p.stride_h == 1 && p.stride_w == 1 && p.pad_h == 0 && p.pad_w == 0;
}

}  // namespace

std::string conv_check(Shape in, const ConvParam& p) {
    auto s = [](int v) { return std::to_string(v); };
    if (p.num_output <= 0) return "num_output must be > 0, got " + s(p.num_output);
    if (p.kernel_h <= 0 || p.kernel_w <= 0) return "kernel must be > 0, got " + s(p.kernel_h) + "x" + s(p.kernel_w);
    if (p.stride_h <= 0 || p.stride_w <= 0) return "stride must be > 0, got " + s(p.stride_h) + "x" + s(p.stride_w);
    if (p.pad_h < 0 || p.pad_w < 0) return "pad must be >= 0, got " + s(p.pad_h) + "x" + s(p.pad_w);
    if (p.group <= 0) return "group must be > 0, got " + s(p.group);
    if (in.c % p.group != 0)
        return "input channels " + s(in.c) + " are not divisible by group " + s(p.group);
    if (p.num_output % p.group != 0)
        return "num_output " + s(p.num_output) + " is not divisible by group " + s(p.group);
    if (p.kernel_h > in.h + 2 * p.pad_h || p.kernel_w > in.w + 2 * p.pad_w)
        return "kernel " + s(p.kernel_h) + "x" + s(p.kernel_w) + " is larger than the padded input " +
               s(in.h + 2 * p.pad_h) + "x" + s(in.w + 2 * p.pad_w) + " (input " + in.str() + ", pad " + s(p.pad_h) +
               "x" + s(p.pad_w) + ")";
    return "";
}

Shape conv_output_shape(Shape in, const ConvParam& p) {
    Im2ColGeom g = geom_of(in, p);
    return Shape(in.n, p.num_output, g.out_h(), g.out_w());
}

size_t conv_col_size(Shape in, const ConvParam& p) {
    Im2ColGeom g = geom_of(in, p);
    return (size_t)in.c * p.kernel_h * p.kernel_w * g.out_h() * g.out_w();
}

void conv_forward(float* out, const float* inp, const float* weight, const float* bias, Shape in,
                  const ConvParam& p, float* col) {
    const Im2ColGeom geo = geom_of(in, p);
    const int G = p.group, OCg = p.num_output / G, P = geo.out_h() * geo.out_w();
    const int Kg = in.c / G * p.kernel_h * p.kernel_w;
    const bool pointwise = is_pointwise(p);
    for (int n = 0; n < in.n; ++n) {
        const float* x = inp + (size_t)n * in.chw();
        float* y = out + (size_t)n * p.num_output * P;
        const float* cols = x;  // (C * KH * KW, P)
        if (!pointwise) {
            im2col(geo, x, col);
            cols = col;
        }
        for (int g = 0; g < G; ++g)  // y_g (OCg, P) = w_g (OCg, Kg) * col_g (Kg, P)
            sgemm(false, false, OCg, P, Kg, 1.0f, weight + (size_t)g * OCg * Kg, Kg, cols + (size_t)g * Kg * P, P,
                  0.0f, y + (size_t)g * OCg * P, P);
        if (bias)
            for (int o = 0; o < p.num_output; ++o) {
                float* yo = y + (size_t)o * P;
                for (int i = 0; i < P; ++i) yo[i] += bias[o];
            }
    }
}

void conv_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                   const float* weight, Shape in, const ConvParam& p, float* col) {
    const Im2ColGeom geo = geom_of(in, p);
    const int G = p.group, OCg = p.num_output / G, P = geo.out_h() * geo.out_w();
    const int Kg = in.c / G * p.kernel_h * p.kernel_w;
    const bool pointwise = is_pointwise(p);
    for (int n = 0; n < in.n; ++n) {
        const float* dy = dout + (size_t)n * p.num_output * P;
        if (dbias)
            for (int o = 0; o < p.num_output; ++o) {
                const float* d = dy + (size_t)o * P;
                double s = 0;  // P can be thousands of terms: sum in double
                for (int i = 0; i < P; ++i) s += d[i];
                dbias[o] += (float)s;
            }
        if (dweight) {
            const float* x = inp + (size_t)n * in.chw();
            const float* cols = x;
            if (!pointwise) {
                im2col(geo, x, col);
                cols = col;
            }
            for (int g = 0; g < G; ++g)  // dw_g (OCg, Kg) += dy_g (OCg, P) * col_g^T (P, Kg)
                sgemm(false, true, OCg, Kg, P, 1.0f, dy + (size_t)g * OCg * P, P, cols + (size_t)g * Kg * P, P,
                      1.0f, dweight + (size_t)g * OCg * Kg, Kg);
        }
        if (dinp) {
            float* dx = dinp + (size_t)n * in.chw();
            // dcol_g (Kg, P) = w_g^T (Kg, OCg) * dy_g (OCg, P). Pointwise: dcol is dx, add directly.
            float* dcol = pointwise ? dx : col;
            const float beta = pointwise ? 1.0f : 0.0f;
            for (int g = 0; g < G; ++g)
                sgemm(true, false, Kg, P, OCg, 1.0f, weight + (size_t)g * OCg * Kg, Kg, dy + (size_t)g * OCg * P, P,
                      beta, dcol + (size_t)g * Kg * P, P);
            if (!pointwise) col2im(geo, col, dx);
        }
    }
}

void conv_forward_naive(float* out, const float* inp, const float* weight, const float* bias, Shape in,
                        const ConvParam& p) {
    const Im2ColGeom geo = geom_of(in, p);
    const int OH = geo.out_h(), OW = geo.out_w(), Cg = in.c / p.group, OCg = p.num_output / p.group;
    const int KH = p.kernel_h, KW = p.kernel_w;
    for (int n = 0; n < in.n; ++n)
        for (int o = 0; o < p.num_output; ++o)
            for (int oh = 0; oh < OH; ++oh)
                for (int ow = 0; ow < OW; ++ow) {
                    const int g = o / OCg;
                    double s = bias ? bias[o] : 0.0;
                    for (int ci = 0; ci < Cg; ++ci)
                        for (int kh = 0; kh < KH; ++kh)
                            for (int kw = 0; kw < KW; ++kw) {
                                const int ih = oh * p.stride_h - p.pad_h + kh, iw = ow * p.stride_w - p.pad_w + kw;
                                if (ih < 0 || ih >= in.h || iw < 0 || iw >= in.w) continue;
                                const int c = g * Cg + ci;
                                s += (double)inp[(((size_t)n * in.c + c) * in.h + ih) * in.w + iw] *
                                     weight[(((size_t)o * Cg + ci) * KH + kh) * KW + kw];
                            }
                    out[(((size_t)n * p.num_output + o) * OH + oh) * OW + ow] = (float)s;
                }
}

void conv_backward_naive(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                         const float* weight, Shape in, const ConvParam& p) {
    const Im2ColGeom geo = geom_of(in, p);
    const int OH = geo.out_h(), OW = geo.out_w(), Cg = in.c / p.group, OCg = p.num_output / p.group;
    const int KH = p.kernel_h, KW = p.kernel_w;
    for (int n = 0; n < in.n; ++n)
        for (int o = 0; o < p.num_output; ++o)
            for (int oh = 0; oh < OH; ++oh)
                for (int ow = 0; ow < OW; ++ow) {
                    const int g = o / OCg;
                    const float d = dout[(((size_t)n * p.num_output + o) * OH + oh) * OW + ow];
                    if (dbias) dbias[o] += d;
                    for (int ci = 0; ci < Cg; ++ci)
                        for (int kh = 0; kh < KH; ++kh)
                            for (int kw = 0; kw < KW; ++kw) {
                                const int ih = oh * p.stride_h - p.pad_h + kh, iw = ow * p.stride_w - p.pad_w + kw;
                                if (ih < 0 || ih >= in.h || iw < 0 || iw >= in.w) continue;
                                const size_t xi = (((size_t)n * in.c + g * Cg + ci) * in.h + ih) * in.w + iw;
                                const size_t wi = (((size_t)o * Cg + ci) * KH + kh) * KW + kw;
                                if (dweight) dweight[wi] += d * inp[xi];
                                if (dinp) dinp[xi] += d * weight[wi];
                            }
                }
}

void ConvolutionLayer::reshape(const Blobs& bottom, const Blobs& top) {
    check_counts(bottom, top, 1, 1);
    if (top[0] == bottom[0]) fail("cannot run in place (top and bottom are the same blob)");
    const Shape in = bottom[0]->shape();
    std::string err = conv_check(in, p_);
    if (!err.empty()) fail(err + "; bottom '" + bottom[0]->name + "' is " + in.str());
    top[0]->reshape(conv_output_shape(in, p_));
    ensure_param(0, "weight", Shape(p_.num_output, in.c / p_.group, p_.kernel_h, p_.kernel_w), p_.weight_filler);
    if (p_.bias_term) ensure_param(1, "bias", Shape(p_.num_output), p_.bias_filler);
    // One image's column matrix; allocated once (Tensor::reshape keeps capacity).
    const Shape out = top[0]->shape();
    col_.reshape(is_pointwise(p_) ? Shape(0) : Shape(in.c * p_.kernel_h * p_.kernel_w, out.h * out.w));
}

void ConvolutionLayer::forward(const Blobs& bottom, const Blobs& top) {
    conv_forward(top[0]->data.data(), bottom[0]->data.data(), params_[0].value.data(),
                 p_.bias_term ? params_[1].value.data() : nullptr, bottom[0]->shape(), p_, col_.data());
}

void ConvolutionLayer::backward(const Blobs& top, const Blobs& bottom) {
    conv_backward(propagate_down(0) ? bottom[0]->diff.data() : nullptr, params_[0].grad.data(),
                  p_.bias_term ? params_[1].grad.data() : nullptr, top[0]->diff.data(), bottom[0]->data.data(),
                  params_[0].value.data(), bottom[0]->shape(), p_, col_.data());
}

}  // namespace dlbhc
