// nn/pooling.cpp -- MAX and AVE pooling; the maths and Caffe's rounding rules are in pooling.h.
// The naive kernels at the end are the reference the tests hold the fast ones to.
#include "nn/pooling.h"

#include <algorithm>

namespace dlbhc {

// Planes are independent, so threads take whole (n, c) planes. Below this many window reads the
// thread start-up costs more than it saves.
static const long kParallelWork = 32768;

static inline bool worth_threads(const PoolGeom& g) {
    return (long)g.N * g.C * g.OH * g.OW * g.KH * g.KW > kParallelWork;
}

int pooled_size(int in, int kernel, int stride, int pad) {
    // ceil(num / stride) in integers; C++ division truncates toward zero, which is already the
    // ceiling for a negative num.
    int num = in + 2 * pad - kernel;
    int out = (num >= 0 ? (num + stride - 1) / stride : num / stride) + 1;
    if (out >= 1 && (out - 1) * stride >= in + pad) --out;
    return out;
}

namespace {

// The max of one window [h0, h1) x [w0, w1) of plane x (row length W) and the in-plane index of
// its first maximum in row-major order (strict >, as Caffe). Written without a data-dependent
// branch (the compiler turns the selects into conditional moves): with random activations a
// branch mispredicts on about a third of the comparisons. Starts from the window's first input
// rather than -FLT_MAX: the clipped window is never empty (pad < kernel, last window starts
// inside), so the index is always valid, even when every input is -inf.
inline float window_max(const float* x, int W, int h0, int h1, int w0, int w1, int& best) {
    int b = h0 * W + w0;
    float m = x[b];
    for (int h = h0; h < h1; ++h)
        for (int w = w0; w < w1; ++w) {
            const int i = h * W + w;
            const float v = x[i];
            const bool gt = v > m;
            m = gt ? v : m;
            b = gt ? i : b;
        }
    best = b;
    return m;
}

// Outputs ow0 .. ow1-1 of one row whose KH x KW windows (stride SW) all lie inside the input,
// the first starting at row h0: the same selects as window_max, one output per vector lane (the
// loop over ow vectorises; the window loops unroll).
template <int KH, int KW, int SW>
void interior_row(const float* __restrict x, int W, int h0, int PW, int ow0, int ow1, float* __restrict y,
                  int* __restrict am) {
    for (int ow = ow0; ow < ow1; ++ow) {
        const int base = h0 * W + ow * SW - PW;
        float m = x[base];
        int b = base;
        for (int kh = 0; kh < KH; ++kh)
            for (int kw = 0; kw < KW; ++kw) {
                const int i = base + kh * W + kw;
                const float v = x[i];
                const bool gt = v > m;
                m = gt ? v : m;
                b = gt ? i : b;
            }
        y[ow] = m;
        am[ow] = b;
    }
}

// One (n, c) plane. With a compile-time window (KH > 0: AlexNet's 3x3 and LeNet's 2x2, stride 2),
// the windows wholly inside the input take interior_row; the clipped ones at the borders, and
// every window of other geometries, the general loop.
template <int KH, int KW, int SW>
void maxpool_plane(float* y, int* am, const float* x, const PoolGeom& g) {
    // Outputs whose window lies inside horizontally: ow * SW - PW >= 0 and ow * SW - PW + KW <= W.
    int in0 = 0, in1 = 0;
    if (KH) {
        in0 = std::min(g.OW, (g.PW + SW - 1) / SW);
        in1 = g.W + g.PW - KW >= 0 ? std::min(g.OW, (g.W + g.PW - KW) / SW + 1) : 0;
        in1 = std::max(in0, in1);
    }
    for (int oh = 0; oh < g.OH; ++oh) {
        const int hs = oh * g.SH - g.PH;
        const int h0 = std::max(hs, 0), h1 = std::min(hs + g.KH, g.H);
        const bool rows_full = h0 == hs && h1 == hs + g.KH;
        float* yr = y + (size_t)oh * g.OW;
        int* ar = am + (size_t)oh * g.OW;
        const int a = rows_full ? in0 : g.OW, b = rows_full ? in1 : g.OW;  // [a, b): interior_row
        for (int ow = 0; ow < g.OW; ++ow) {
            if (ow == a && a < b) {
                interior_row<KH, KW, SW>(x, g.W, h0, g.PW, a, b, yr, ar);
                ow = b - 1;
                continue;
            }
            const int ws = ow * g.SW - g.PW;
            const int w0 = std::max(ws, 0), w1 = std::min(ws + g.KW, g.W);
            int best;
            yr[ow] = window_max(x, g.W, h0, h1, w0, w1, best);
            ar[ow] = best;
        }
    }
}

}  // namespace

void maxpool_forward(float* out, int* argmax, const float* inp, const PoolGeom& g) {
    const long planes = (long)g.N * g.C;
    const size_t in_plane = (size_t)g.H * g.W, out_plane = (size_t)g.OH * g.OW;
    // AlexNet's 3x3 and LeNet's 2x2 windows at stride 2 get the vectorised interior.
    auto plane = g.KH == 3 && g.KW == 3 && g.SW == 2   ? maxpool_plane<3, 3, 2>
                 : g.KH == 2 && g.KW == 2 && g.SW == 2 ? maxpool_plane<2, 2, 2>
                                                       : maxpool_plane<0, 0, 1>;
#pragma omp parallel for if (worth_threads(g)) schedule(static)
    for (long p = 0; p < planes; ++p) plane(out + p * out_plane, argmax + p * out_plane, inp + p * in_plane, g);
}

void maxpool_backward(float* dinp, const float* dout, const int* argmax, const PoolGeom& g) {
    const long planes = (long)g.N * g.C;
    const size_t in_plane = (size_t)g.H * g.W, out_plane = (size_t)g.OH * g.OW;
    // Overlapping windows (3x3 stride 2) can share a winner, so outputs of one plane are summed
    // serially; planes never share inputs.
#pragma omp parallel for if ((long)(planes * out_plane) > kParallelWork) schedule(static)
    for (long p = 0; p < planes; ++p) {
        float* dx = dinp + p * in_plane;
        const float* dy = dout + p * out_plane;
        const int* am = argmax + p * out_plane;
        for (size_t o = 0; o < out_plane; ++o) dx[am[o]] += dy[o];
    }
}

// Caffe's average window: the divisor is taken before clipping to the input, so it counts the
// padding but not what lies past the padded border (hend is capped at H + PH first).
struct AveWindow {
    int h0, h1, w0, w1;
    float inv_size;
};

static inline AveWindow ave_window(const PoolGeom& g, int oh, int ow) {
    int hs = oh * g.SH - g.PH, ws = ow * g.SW - g.PW;
    int he = std::min(hs + g.KH, g.H + g.PH), we = std::min(ws + g.KW, g.W + g.PW);
    int size = (he - hs) * (we - ws);
    return {std::max(hs, 0), std::min(he, g.H), std::max(ws, 0), std::min(we, g.W), 1.0f / (float)size};
}

void avepool_forward(float* out, const float* inp, const PoolGeom& g) {
    const long planes = (long)g.N * g.C;
    const size_t in_plane = (size_t)g.H * g.W, out_plane = (size_t)g.OH * g.OW;
#pragma omp parallel for if (worth_threads(g)) schedule(static)
    for (long p = 0; p < planes; ++p) {
        const float* x = inp + p * in_plane;
        float* y = out + p * out_plane;
        for (int oh = 0; oh < g.OH; ++oh)
            for (int ow = 0; ow < g.OW; ++ow) {
                AveWindow win = ave_window(g, oh, ow);
                float s = 0;
                for (int h = win.h0; h < win.h1; ++h)
                    for (int w = win.w0; w < win.w1; ++w) s += x[h * g.W + w];
                y[oh * g.OW + ow] = s * win.inv_size;
            }
    }
}

void avepool_backward(float* dinp, const float* dout, const PoolGeom& g) {
    const long planes = (long)g.N * g.C;
    const size_t in_plane = (size_t)g.H * g.W, out_plane = (size_t)g.OH * g.OW;
#pragma omp parallel for if (worth_threads(g)) schedule(static)
    for (long p = 0; p < planes; ++p) {
        float* dx = dinp + p * in_plane;
        const float* dy = dout + p * out_plane;
        for (int oh = 0; oh < g.OH; ++oh)
            for (int ow = 0; ow < g.OW; ++ow) {
                AveWindow win = ave_window(g, oh, ow);
                float d = dy[oh * g.OW + ow] * win.inv_size;
                for (int h = win.h0; h < win.h1; ++h)
                    for (int w = win.w0; w < win.w1; ++w) dx[h * g.W + w] += d;
            }
    }
}

namespace {

// One output's window in plane x, offset by offset as the definition reads: the in-plane index of
// its first largest input, the sum of its inputs, and its AVE divisor (the offsets inside the
// padded border; a window never starts before -pad, so only its far side can overhang the border).
template <class T>
struct NaiveWindow {
    int best = -1;
    T max = 0;
    double sum = 0;
    int divisor = 0;
};

template <class T>
NaiveWindow<T> naive_window(const T* x, const PoolGeom& g, int oh, int ow) {
    NaiveWindow<T> win;
    for (int kh = 0; kh < g.KH; ++kh)
        for (int kw = 0; kw < g.KW; ++kw) {
            const int ih = oh * g.SH - g.PH + kh, iw = ow * g.SW - g.PW + kw;
            if (ih < g.H + g.PH && iw < g.W + g.PW) ++win.divisor;
            if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
            const T v = x[ih * g.W + iw];
            win.sum += v;
            if (win.best < 0 || v > win.max) win.max = v, win.best = ih * g.W + iw;
        }
    return win;
}

}  // namespace

template <class T>
void pooling_forward_naive(T* out, const T* inp, const PoolGeom& g, PoolingParam::Method method) {
    for (long p = 0; p < (long)g.N * g.C; ++p)
        for (int oh = 0; oh < g.OH; ++oh)
            for (int ow = 0; ow < g.OW; ++ow) {
                const NaiveWindow<T> win = naive_window(inp + p * g.H * g.W, g, oh, ow);
                out[(p * g.OH + oh) * g.OW + ow] = method == PoolingParam::MAX ? win.max : (T)(win.sum / win.divisor);
            }
}

template <class T>
void pooling_backward_naive(T* dinp, const T* dout, const T* inp, const PoolGeom& g, PoolingParam::Method method) {
    for (long p = 0; p < (long)g.N * g.C; ++p) {
        T* dx = dinp + p * g.H * g.W;
        for (int oh = 0; oh < g.OH; ++oh)
            for (int ow = 0; ow < g.OW; ++ow) {
                const T d = dout[(p * g.OH + oh) * g.OW + ow];
                const NaiveWindow<T> win = naive_window(inp + p * g.H * g.W, g, oh, ow);
                if (method == PoolingParam::MAX) {
                    dx[win.best] += d;
                    continue;
                }
                for (int kh = 0; kh < g.KH; ++kh)
                    for (int kw = 0; kw < g.KW; ++kw) {
                        const int ih = oh * g.SH - g.PH + kh, iw = ow * g.SW - g.PW + kw;
                        if (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W) dx[ih * g.W + iw] += (T)(d / win.divisor);
                    }
            }
    }
}

template void pooling_forward_naive(float*, const float*, const PoolGeom&, PoolingParam::Method);
template void pooling_forward_naive(double*, const double*, const PoolGeom&, PoolingParam::Method);
template void pooling_backward_naive(float*, const float*, const float*, const PoolGeom&, PoolingParam::Method);
template void pooling_backward_naive(double*, const double*, const double*, const PoolGeom&, PoolingParam::Method);

std::string pooling_param_check(const PoolingParam& p) {
    if (p.pool != PoolingParam::MAX && p.pool != PoolingParam::AVE)
        return "pool must be MAX or AVE (Caffe's STOCHASTIC is not implemented)";
    if (p.global_pooling) {
        // Caffe: with global_pooling the kernel comes from the input, and stride/pad must stay 1/0.
        if (p.kernel_h != 0 || p.kernel_w != 0)
            return "global_pooling takes the kernel size from the input; do not set kernel_h/kernel_w";
        if (p.stride_h != 1 || p.stride_w != 1 || p.pad_h != 0 || p.pad_w != 0) return "global_pooling needs stride 1 and pad 0";
        return "";
    }
    if (p.kernel_h < 1 || p.kernel_w < 1)
        return "kernel size must be >= 1 (got " + std::to_string(p.kernel_h) + " x " + std::to_string(p.kernel_w) +
               "); set kernel_h/kernel_w or global_pooling";
    if (p.stride_h < 1 || p.stride_w < 1) return "stride must be >= 1";
    if (p.pad_h < 0 || p.pad_w < 0) return "pad must be >= 0";
    // Caffe's check: otherwise a window could lie wholly in the padding.
    if (p.pad_h >= p.kernel_h || p.pad_w >= p.kernel_w)
        return "pad (" + std::to_string(p.pad_h) + ", " + std::to_string(p.pad_w) + ") must be smaller than the kernel (" +
               std::to_string(p.kernel_h) + ", " + std::to_string(p.kernel_w) + ")";
    return "";
}

PoolGeom pooling_geometry(Shape s, const PoolingParam& p) {
    PoolGeom g;
    g.N = s.n; g.C = s.c; g.H = s.h; g.W = s.w;
    if (p.global_pooling) {
        g.KH = s.h; g.KW = s.w;
    } else {
        g.KH = p.kernel_h; g.KW = p.kernel_w;
        g.SH = p.stride_h; g.SW = p.stride_w;
        g.PH = p.pad_h; g.PW = p.pad_w;
    }
    g.OH = pooled_size(g.H, g.KH, g.SH, g.PH);
    g.OW = pooled_size(g.W, g.KW, g.SW, g.PW);
    return g;
}

std::string pooling_check(Shape s, const PoolingParam& p) {
    if (s.n < 1 || s.c < 1 || s.h < 1 || s.w < 1) return "input shape " + s.str() + " has an empty dimension";
    std::string err = pooling_param_check(p);
    if (!err.empty()) return err;
    const PoolGeom g = pooling_geometry(s, p);
    if (g.OH < 1 || g.OW < 1)
        return "input " + s.str() + " with pad (" + std::to_string(g.PH) + ", " + std::to_string(g.PW) +
               ") is too small for a " + std::to_string(g.KH) + " x " + std::to_string(g.KW) + " window";
    return "";
}

LayerShapes PoolingLayer::shapes(const std::vector<Shape>& bottom) const {
    LayerShapes s;
    const Shape in = bottom.at(0);
    s.error = pooling_check(in, p_);
    if (!s.error.empty()) return s;
    const PoolGeom g = pooling_geometry(in, p_);
    s.top = {Shape(g.N, g.C, g.OH, g.OW)};
    return s;
}

double PoolingLayer::buffer_floats(const std::vector<Shape>& bottom) const {
    if (p_.pool != PoolingParam::MAX) return 0;
    const Shape out = shapes(bottom).top.at(0);
    return (double)out.n * out.c * out.h * out.w;  // int indices, as large as floats
}

void PoolingLayer::reshape(const Blobs& bottom, const Blobs& top) {
    check_counts(bottom, top, kBlobs);
    if (top[0] == bottom[0]) fail("cannot run in place (the output has a different shape)");
    reshape_tops(bottom, top);
    g_ = pooling_geometry(bottom[0]->shape(), p_);
    if (p_.pool == PoolingParam::MAX) argmax_.resize(top[0]->count());
}

void PoolingLayer::forward(const Blobs& bottom, const Blobs& top) {
    if (bottom[0]->shape() != Shape(g_.N, g_.C, g_.H, g_.W))
        fail("input shape " + bottom[0]->shape().str() + " changed since reshape; call reshape first");
    if (p_.pool == PoolingParam::MAX)
        maxpool_forward(top[0]->data.data(), argmax_.data(), bottom[0]->data.data(), g_);
    else
        avepool_forward(top[0]->data.data(), bottom[0]->data.data(), g_);
}

void PoolingLayer::backward(const Blobs& top, const Blobs& bottom) {
    if (!propagate_down(0)) return;
    if (p_.pool == PoolingParam::MAX)
        maxpool_backward(bottom[0]->diff.data(), top[0]->diff.data(), argmax_.data(), g_);
    else
        avepool_backward(bottom[0]->diff.data(), top[0]->diff.data(), g_);
}

}  // namespace dlbhc
