// nn/im2col.h -- image to columns and back, for convolution as a matrix product.
//
// For one image x (C, H, W), a kernel (KH, KW), stride (SH, SW) and zero padding (PH, PW), with
//   OH = (H + 2 PH - KH) / SH + 1,  OW = (W + 2 PW - KW) / SW + 1  (floor, as Caffe),
// the column matrix col is (C * KH * KW, OH * OW), row-major:
//   col[(c * KH + kh) * KW + kw][oh * OW + ow] = x[c][oh * SH - PH + kh][ow * SW - PW + kw]
// and 0 where that input position falls in the padding. Row r of col therefore lines up with
// column r of a weight matrix (OC, C * KH * KW), so a convolution is one GEMM: y = w * col.
// The caller checks the geometry (kernel within the padded input, strides >= 1).
//
// The `ld` forms take the distance between rows of col (ld >= OH * OW), so that several images
// can share one column matrix side by side: image i written at col + i * OH * OW with
// ld = b * OH * OW gives a (C * KH * KW, b * OH * OW) matrix (see conv.h). Called outside an
// OpenMP parallel region on a large enough image, both spread the channels over the threads;
// inside one (a thread working on its own images) they run serially.
#pragma once
#include <cstddef>

namespace dlbhc {

struct Im2ColGeom {
    int c = 0, h = 0, w = 0;    // input channels, height, width
    int kh = 1, kw = 1;         // kernel
    int sh = 1, sw = 1;         // stride
    int ph = 0, pw = 0;         // zero padding
    int out_h() const { return (h + 2 * ph - kh) / sh + 1; }
    int out_w() const { return (w + 2 * pw - kw) / sw + 1; }
};

// x is (C, H, W); col is (C * KH * KW, OH * OW) and is overwritten.
void im2col(const Im2ColGeom& g, const float* x, float* col);
// The same with row r of col at col + r * ld; entries between OH * OW and ld are not touched.
void im2col(const Im2ColGeom& g, const float* x, float* col, size_t ld);
// Only the columns of output rows [oh0, oh1), i.e. columns [oh0 * OW, oh1 * OW) of every row of
// col (col and ld as above); on the calling thread. For a thread that lowers its own band of an
// image (conv.cpp, batch 1).
void im2col_band(const Im2ColGeom& g, const float* x, float* col, size_t ld, int oh0, int oh1);

// The adjoint of im2col: x (C, H, W) += the sum of the col entries that im2col would have copied
// from each position (entries that came from padding are dropped). Accumulates; does not zero x.
void col2im(const Im2ColGeom& g, const float* col, float* x);
// The same reading row r of col at col + r * ld.
void col2im(const Im2ColGeom& g, const float* col, size_t ld, float* x);

// Plain-loop references of both (every entry through the formula above, with a bounds test);
// slow, for tests.
void im2col_naive(const Im2ColGeom& g, const float* x, float* col, size_t ld);
void col2im_naive(const Im2ColGeom& g, const float* col, size_t ld, float* x);

}  // namespace dlbhc
