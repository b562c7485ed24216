// tests/reference_double.cpp -- see reference_double.h.
#include "tests/reference_double.h"

#include <algorithm>
#include <cmath>

namespace dlbhc {
namespace refd {

Vec to_double(const Tensor& t) { return Vec(t.data(), t.data() + t.count()); }

Vec conv(const Vec& x, Shape in, const Vec& w, const Vec& b, const ConvParam& p) {
    const int OH = (in.h + 2 * p.pad_h - p.kernel_h) / p.stride_h + 1;
    const int OW = (in.w + 2 * p.pad_w - p.kernel_w) / p.stride_w + 1;
    const int Cg = in.c / p.group, OCg = p.num_output / p.group;
    Vec y((size_t)in.n * p.num_output * OH * OW);
    for (int n = 0; n < in.n; ++n)
        for (int o = 0; o < p.num_output; ++o)
            for (int oh = 0; oh < OH; ++oh)
                for (int ow = 0; ow < OW; ++ow) {
                    double s = b.empty() ? 0.0 : b[o];
                    for (int ci = 0; ci < Cg; ++ci)
                        for (int kh = 0; kh < p.kernel_h; ++kh)
                            for (int kw = 0; kw < p.kernel_w; ++kw) {
                                int ih = oh * p.stride_h - p.pad_h + kh, iw = ow * p.stride_w - p.pad_w + kw;
                                if (ih < 0 || ih >= in.h || iw < 0 || iw >= in.w) continue;
                                int c = (o / OCg) * Cg + ci;
                                s += x[(((size_t)n * in.c + c) * in.h + ih) * in.w + iw] *
                                     w[(((size_t)o * Cg + ci) * p.kernel_h + kh) * p.kernel_w + kw];
                            }
                    y[(((size_t)n * p.num_output + o) * OH + oh) * OW + ow] = s;
                }
    return y;
}

Vec inner_product(const Vec& x, int N, int I, const Vec& w, const Vec& b, int O) {
    Vec y((size_t)N * O);
    for (int n = 0; n < N; ++n)
        for (int o = 0; o < O; ++o) {
            double s = b.empty() ? 0.0 : b[o];
            for (int i = 0; i < I; ++i) s += x[(size_t)n * I + i] * w[(size_t)o * I + i];
            y[(size_t)n * O + o] = s;
        }
    return y;
}

static int pooled(int in, int k, int s, int pad) {
    int out = (int)std::ceil((double)(in + 2 * pad - k) / s) + 1;
    if ((out - 1) * s >= in + pad) --out;
    return out;
}

Vec pool(const Vec& x, Shape in, const PoolingParam& p, Shape* out) {
    int KH = p.kernel_h, KW = p.kernel_w, SH = p.stride_h, SW = p.stride_w, PH = p.pad_h, PW = p.pad_w;
    if (p.global_pooling) KH = in.h, KW = in.w, SH = SW = 1, PH = PW = 0;
    const int OH = pooled(in.h, KH, SH, PH), OW = pooled(in.w, KW, SW, PW);
    *out = Shape(in.n, in.c, OH, OW);
    Vec y(out->count());
    for (int n = 0; n < in.n; ++n)
        for (int c = 0; c < in.c; ++c)
            for (int oh = 0; oh < OH; ++oh)
                for (int ow = 0; ow < OW; ++ow) {
                    int h0 = oh * SH - PH, w0 = ow * SW - PW;
                    int h1 = std::min(h0 + KH, in.h + PH), w1 = std::min(w0 + KW, in.w + PW);
                    double size = (double)(h1 - h0) * (w1 - w0);
                    double best = -INFINITY, sum = 0;
                    for (int h = std::max(h0, 0); h < std::min(h1, in.h); ++h)
                        for (int w = std::max(w0, 0); w < std::min(w1, in.w); ++w) {
                            double v = x[(((size_t)n * in.c + c) * in.h + h) * in.w + w];
                            best = std::max(best, v);
                            sum += v;
                        }
                    y[(((size_t)n * in.c + c) * OH + oh) * OW + ow] = p.pool == PoolingParam::MAX ? best : sum / size;
                }
    return y;
}

Vec lrn(const Vec& x, Shape in, const LRNParam& p) {
    Vec y(x.size());
    const int half = (p.local_size - 1) / 2;
    const size_t HW = (size_t)in.h * in.w;
    for (int n = 0; n < in.n; ++n)
        for (int c = 0; c < in.c; ++c)
            for (size_t i = 0; i < HW; ++i) {
                double sum = 0;
                for (int j = std::max(0, c - half); j <= std::min(in.c - 1, c + half); ++j) {
                    double v = x[((size_t)n * in.c + j) * HW + i];
                    sum += v * v;
                }
                size_t at = ((size_t)n * in.c + c) * HW + i;
                y[at] = x[at] * std::pow(p.k + p.alpha / p.local_size * sum, -(double)p.beta);
            }
    return y;
}

Vec relu(const Vec& x, double slope) {
    Vec y(x.size());
    for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] > 0 ? x[i] : slope * x[i];
    return y;
}

Vec sigmoid(const Vec& x) {
    Vec y(x.size());
    for (size_t i = 0; i < x.size(); ++i) y[i] = 1.0 / (1.0 + std::exp(-x[i]));
    return y;
}

Vec softmax(const Vec& x, Shape in) {
    Vec y(x.size());
    const size_t S = (size_t)in.h * in.w;
    for (int n = 0; n < in.n; ++n)
        for (size_t s = 0; s < S; ++s) {
            double m = -INFINITY, z = 0;
            for (int k = 0; k < in.c; ++k) m = std::max(m, x[((size_t)n * in.c + k) * S + s]);
            for (int k = 0; k < in.c; ++k) z += std::exp(x[((size_t)n * in.c + k) * S + s] - m);
            for (int k = 0; k < in.c; ++k) {
                size_t at = ((size_t)n * in.c + k) * S + s;
                y[at] = std::exp(x[at] - m) / z;
            }
        }
    return y;
}

double softmax_loss(const Vec& x, Shape in, const std::vector<float>& labels) {
    Vec p = softmax(x, in);
    const size_t S = (size_t)in.h * in.w;
    double loss = 0;
    for (int n = 0; n < in.n; ++n)
        for (size_t s = 0; s < S; ++s) loss -= std::log(p[((size_t)n * in.c + (int)labels[n * S + s]) * S + s]);
    return loss / (in.n * (double)S);
}

Vec dropout(const Vec& x, const std::vector<uint8_t>& mask, double p) {
    Vec y(x.size());
    for (size_t i = 0; i < x.size(); ++i) y[i] = mask[i] ? x[i] / (1.0 - p) : 0.0;
    return y;
}

}  // namespace refd
}  // namespace dlbhc
