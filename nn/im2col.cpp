// nn/im2col.cpp -- see im2col.h.
#include "nn/im2col.h"

#include <algorithm>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace dlbhc {

namespace {

// Below this many column entries one thread is faster than waking the others.
constexpr long kParallelEntries = 1L << 16;

[[maybe_unused]] bool use_threads(const Im2ColGeom& g) {  // unused without OpenMP
#ifdef _OPENMP
    return !omp_in_parallel() && omp_get_max_threads() > 1 &&
           (long)g.c * g.kh * g.kw * g.out_h() * g.out_w() >= kParallelEntries;
#else
    (void)g;
    return false;
#endif
}

// The output columns ow whose input column iw = ow * S - P + k lies inside [0, W): ow in [lo, hi).
// Computed once per kernel offset so that the copy loops carry no bounds test.
void valid_range(int W, int OW, int S, int P, int k, int& lo, int& hi) {
    int off = k - P;  // iw = ow * S + off
    lo = off >= 0 ? 0 : std::min(OW, (-off + S - 1) / S);
    hi = off >= W ? 0 : std::min(OW, (W - 1 - off) / S + 1);
    if (hi < lo) hi = lo;
}

// The KW rows of col for channel c and kernel row kh, output rows [oh0, oh1).
void im2col_rows(const Im2ColGeom& g, const float* x, float* col, size_t ld, int c, int kh, int oh0, int oh1) {
    const int OW = g.out_w();
    for (int kw = 0; kw < g.kw; ++kw) {
        float* row = col + ((size_t)(c * g.kh + kh) * g.kw + kw) * ld + (size_t)oh0 * OW;
        int lo, hi;
        valid_range(g.w, OW, g.sw, g.pw, kw, lo, hi);
        for (int oh = oh0; oh < oh1; ++oh, row += OW) {
            const int ih = oh * g.sh - g.ph + kh;
            if (ih < 0 || ih >= g.h) {
                std::fill(row, row + OW, 0.0f);
                continue;
            }
            std::fill(row, row + lo, 0.0f);
            // x[c][ih][iw] for ow = lo .. hi-1, iw = ow * sw - pw + kw
            const float* src = x + ((size_t)c * g.h + ih) * g.w + (lo * g.sw - g.pw + kw);
            if (g.sw == 1)
                std::copy(src, src + (hi - lo), row + lo);
            else
                for (int ow = lo; ow < hi; ++ow) row[ow] = src[(size_t)(ow - lo) * g.sw];
            std::fill(row + hi, row + OW, 0.0f);
        }
    }
}

}  // namespace

void im2col(const Im2ColGeom& g, const float* x, float* col) { im2col(g, x, col, (size_t)g.out_h() * g.out_w()); }

void im2col(const Im2ColGeom& g, const float* x, float* col, size_t ld) {
    // (channel, kernel row) pairs write disjoint rows of col, so they can run in any order.
    const int pairs = g.c * g.kh;
#pragma omp parallel for schedule(static) if (use_threads(g))
    for (int t = 0; t < pairs; ++t) im2col_rows(g, x, col, ld, t / g.kh, t % g.kh, 0, g.out_h());
}

void im2col_band(const Im2ColGeom& g, const float* x, float* col, size_t ld, int oh0, int oh1) {
    for (int c = 0; c < g.c; ++c)
        for (int kh = 0; kh < g.kh; ++kh) im2col_rows(g, x, col, ld, c, kh, oh0, oh1);
}

void col2im(const Im2ColGeom& g, const float* col, float* x) { col2im(g, col, (size_t)g.out_h() * g.out_w(), x); }

void col2im(const Im2ColGeom& g, const float* col, size_t ld, float* x) {
    const int OH = g.out_h(), OW = g.out_w();
    // Kernel offsets of one channel add into the same pixels; channels never share, so threads
    // take whole channels (each pixel's terms are then added in the same order on any thread count).
#pragma omp parallel for schedule(static) if (use_threads(g) && g.c > 1)
    for (int c = 0; c < g.c; ++c)
        for (int kh = 0; kh < g.kh; ++kh)
            for (int kw = 0; kw < g.kw; ++kw) {
                const float* row = col + ((size_t)(c * g.kh + kh) * g.kw + kw) * ld;
                int lo, hi;
                valid_range(g.w, OW, g.sw, g.pw, kw, lo, hi);
                if (lo >= hi) continue;
                for (int oh = 0; oh < OH; ++oh, row += OW) {
                    const int ih = oh * g.sh - g.ph + kh;
                    if (ih < 0 || ih >= g.h) continue;
                    float* dst = x + ((size_t)c * g.h + ih) * g.w + (lo * g.sw - g.pw + kw);
                    if (g.sw == 1)
                        for (int ow = lo; ow < hi; ++ow) dst[ow - lo] += row[ow];
                    else
                        for (int ow = lo; ow < hi; ++ow) dst[(size_t)(ow - lo) * g.sw] += row[ow];
                }
            }
}

void im2col_naive(const Im2ColGeom& g, const float* x, float* col, size_t ld) {
    const int OH = g.out_h(), OW = g.out_w();
    for (int c = 0; c < g.c; ++c)
        for (int kh = 0; kh < g.kh; ++kh)
            for (int kw = 0; kw < g.kw; ++kw)
                for (int oh = 0; oh < OH; ++oh)
                    for (int ow = 0; ow < OW; ++ow) {
                        const int ih = oh * g.sh - g.ph + kh, iw = ow * g.sw - g.pw + kw;
                        const bool inside = ih >= 0 && ih < g.h && iw >= 0 && iw < g.w;
                        col[((size_t)(c * g.kh + kh) * g.kw + kw) * ld + (size_t)oh * OW + ow] =
                            inside ? x[((size_t)c * g.h + ih) * g.w + iw] : 0.0f;
                    }
}

void col2im_naive(const Im2ColGeom& g, const float* col, size_t ld, float* x) {
    const int OH = g.out_h(), OW = g.out_w();
    for (int c = 0; c < g.c; ++c)
        for (int kh = 0; kh < g.kh; ++kh)
            for (int kw = 0; kw < g.kw; ++kw)
                for (int oh = 0; oh < OH; ++oh)
                    for (int ow = 0; ow < OW; ++ow) {
                        const int ih = oh * g.sh - g.ph + kh, iw = ow * g.sw - g.pw + kw;
                        if (ih >= 0 && ih < g.h && iw >= 0 && iw < g.w)
                            x[((size_t)c * g.h + ih) * g.w + iw] +=
                                col[((size_t)(c * g.kh + kh) * g.kw + kw) * ld + (size_t)oh * OW + ow];
                    }
}

}  // namespace dlbhc
