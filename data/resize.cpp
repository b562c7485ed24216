// data/resize.cpp -- bilinear resize (see resize.h for the sampling convention).
#include "data/resize.h"

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

namespace dlbhc {

namespace {

// Source index pair and weight of each output position along one axis.
struct Tap {
    int i0, i1;
    float f;  // weight of i1
};

std::vector<Tap> taps(int in, int out) {
    std::vector<Tap> t(out);
    const double ratio = (double)in / out;
    for (int x = 0; x < out; ++x) {
        double s = (x + 0.5) * ratio - 0.5;
        if (s < 0) s = 0;
        if (s > in - 1) s = in - 1;
        const int i0 = (int)s;  // s >= 0, so truncation is floor
        t[x] = {i0, i0 + 1 < in ? i0 + 1 : in - 1, (float)(s - i0)};
    }
    return t;
}

}  // namespace

void resize_bilinear(const Image& in, int out_h, int out_w, Image& out) {
    if (in.c < 1 || in.h < 1 || in.w < 1 || in.pixels.size() != in.count() || out_h < 1 || out_w < 1)
        throw std::invalid_argument("resize_bilinear: expected a non-empty image and an output size >= 1, found (" +
                                    std::to_string(in.c) + ", " + std::to_string(in.h) + ", " + std::to_string(in.w) +
                                    ") -> " + std::to_string(out_h) + " x " + std::to_string(out_w));
    if (&in == &out) throw std::invalid_argument("resize_bilinear: the output must not be the input");
    out.resize(in.c, out_h, out_w);
    if (out_h == in.h && out_w == in.w) {
        out.pixels = in.pixels;
        return;
    }
    const std::vector<Tap> tx = taps(in.w, out_w), ty = taps(in.h, out_h);
    std::vector<float> row0(out_w), row1(out_w);  // the two source rows, already resized along x
    for (int c = 0; c < in.c; ++c) {
        const uint8_t* src = in.pixels.data() + (size_t)c * in.h * in.w;
        uint8_t* dst = out.pixels.data() + (size_t)c * out_h * out_w;
        for (int y = 0; y < out_h; ++y) {
            const uint8_t* r0 = src + (size_t)ty[y].i0 * in.w;
            const uint8_t* r1 = src + (size_t)ty[y].i1 * in.w;
            const float fy = ty[y].f;
            for (int x = 0; x < out_w; ++x) {
                const Tap& t = tx[x];
                row0[x] = r0[t.i0] + t.f * (r0[t.i1] - r0[t.i0]);
                row1[x] = r1[t.i0] + t.f * (r1[t.i1] - r1[t.i0]);
            }
            for (int x = 0; x < out_w; ++x) {
                const float v = row0[x] + fy * (row1[x] - row0[x]);
                const int q = (int)std::floor(v + 0.5f);
                dst[(size_t)y * out_w + x] = (uint8_t)(q < 0 ? 0 : q > 255 ? 255 : q);
            }
        }
    }
}

}  // namespace dlbhc
