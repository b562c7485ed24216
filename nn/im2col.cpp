// nn/im2col.cpp -- see im2col.h.
#include "nn/im2col.h"

#include <algorithm>
#include <cstddef>

namespace dlbhc {

namespace {

// The output columns ow whose input column iw = ow * S - P + k lies inside [0, W): ow in [lo, hi).
// Computed once per kernel offset so that the copy loops carry no bounds test.
void valid_range(int W, int OW, int S, int P, int k, int& lo, int& hi) {
    int off = k - P;  // iw = ow * S + off
    lo = off >= 0 ? 0 : std::min(OW, (-off + S - 1) / S);
    hi = off >= W ? 0 : std::min(OW, (W - 1 - off) / S + 1);
    if (hi < lo) hi = lo;
}

}  // namespace

void im2col(const Im2ColGeom& g, const float* x, float* col) {
    const int OH = g.out_h(), OW = g.out_w();
    for (int c = 0; c < g.c; ++c)
        for (int kh = 0; kh < g.kh; ++kh)
            for (int kw = 0; kw < g.kw; ++kw) {
                float* row = col + ((size_t)(c * g.kh + kh) * g.kw + kw) * OH * OW;
                int lo, hi;
                valid_range(g.w, OW, g.sw, g.pw, kw, lo, hi);
                for (int oh = 0; oh < OH; ++oh, row += OW) {
                    int ih = oh * g.sh - g.ph + kh;
                    if (ih < 0 || ih >= g.h) {
                        std::fill(row, row + OW, 0.0f);
                        continue;
                    }
                    std::fill(row, row + lo, 0.0f);
                    if (lo < hi) {
                        // x[c][ih][iw] for ow = lo .. hi-1, iw = ow * sw - pw + kw
                        const float* src = x + ((size_t)c * g.h + ih) * g.w + (lo * g.sw - g.pw + kw);
                        if (g.sw == 1)
                            std::copy(src, src + (hi - lo), row + lo);
                        else
                            for (int ow = lo; ow < hi; ++ow) row[ow] = src[(size_t)(ow - lo) * g.sw];
                    }
                    std::fill(row + hi, row + OW, 0.0f);
                }
            }
}

void col2im(const Im2ColGeom& g, const float* col, float* x) {
    const int OH = g.out_h(), OW = g.out_w();
    for (int c = 0; c < g.c; ++c)
        for (int kh = 0; kh < g.kh; ++kh)
            for (int kw = 0; kw < g.kw; ++kw) {
                const float* row = col + ((size_t)(c * g.kh + kh) * g.kw + kw) * OH * OW;
                int lo, hi;
                valid_range(g.w, OW, g.sw, g.pw, kw, lo, hi);
                for (int oh = 0; oh < OH; ++oh, row += OW) {
                    int ih = oh * g.sh - g.ph + kh;
                    if (ih < 0 || ih >= g.h) continue;
                    if (lo >= hi) continue;
                    float* dst = x + ((size_t)c * g.h + ih) * g.w + (lo * g.sw - g.pw + kw);
                    for (int ow = lo; ow < hi; ++ow) dst[(size_t)(ow - lo) * g.sw] += row[ow];
                }
            }
}

}  // namespace dlbhc
