// nn/winograd.h -- the transforms of Winograd's minimal filtering F(2x2, 3x3), for 3x3 stride-1
// convolutions (CaffeNet's conv3-5), after Lavin & Gray, "Fast Algorithms for Convolutional
// Neural Networks", CVPR 2016.
//
// A 2x2 block of outputs of a 3x3 kernel g over the 4x4 block d of the (zero-padded) input that
// it reads is
//   y (2x2) = A^T [ U (.) V ] A,   U = G g G^T (4x4),   V = B^T d B (4x4),   (.) elementwise
// with
//   B^T = [1  0 -1  0]     G = [1    0    0  ]     A^T = [1  1  1  0]
//         [0  1  1  0]         [1/2  1/2  1/2]           [0  1 -1 -1]
//         [0 -1  1  0]         [1/2 -1/2  1/2]
//         [0  1  0 -1]         [0    0    1  ]
// 16 multiplications per output block instead of 36. Summed over input channels, each of the 16
// positions xi = 4 i + j of the 4x4 transform is a matrix product over the T output blocks
// ("tiles") of a chunk of images:
//   M[xi] (OC, T) = U[xi] (OC, C) * V[xi] (C, T)       (per group: the group's rows and columns)
// and y is A^T M A tile by tile. So a convolution is 16 GEMMs with K = C/G instead of one with
// K = 9 C/G on 2.25x as many columns (for 13x13 outputs, 49 tiles of 2x2 cover 14x14: 1.94x
// fewer multiply-adds).
//
// The backward pass is the same algorithm transposed (the forward is linear in d and in g):
//   dM[xi] = A dy A^T (tile by tile),  dV[xi] = U[xi]^T dM[xi],  dU[xi] = dM[xi] V[xi]^T,
//   dx += B dV B^T (neighbouring tiles overlap by 2: scatter-added),  dg += G^T dU G.
//
// Layouts (the GEMMs of conv.cpp read them as row-major matrices):
//   U, dU   (16, OC, C/G): weights' transform, position-major.
//   V, dV   (16, C, T):    tile t = i * TH * TW + th * TW + tw of image i of the chunk.
//   M, dM   (16, OC, T).
// Each takes its row stride (ld) and its position stride (xs: position xi's matrix starts at
// xi * xs). winograd_stride gives xs: the rows * ld floats of one position, rounded up so that the
// 16 positions start on 16 different cache sets. (With xs = C * T, a multiple of 4096 bytes on
// CaffeNet's shapes, the 16 stores of a tile all hit one L1 set and the transforms ran 3x slower.)
// Tile (th, tw) produces outputs (2 th + a, 2 tw + b), a, b in {0, 1} (those < OH, OW), and reads
// input rows 2 th - PH .. 2 th - PH + 3 and the like for columns; TH = ceil(OH / 2), TW = ceil(OW / 2).
// The transforms hold each input plane in a zero-padded copy ("plane", (2 TH + 2) x (2 TW + 2)
// floats) so that no tile needs a bounds test.
//
// The portable transforms work on one tile at a time in scalar registers; on a CPU with AVX-512
// and planes at most 16 wide (13x13 outputs and smaller), winograd_avx512.cpp does a whole tile
// row with vector operations instead (the plain names below choose; the _portable ones are kept
// callable for the tests to compare). (A version generic over F(m, r),
// with F(2x2, 5x5) for conv2 and F(4x4, 3x3), did the products as vectorised loops over all the
// tiles of a plane; its transforms cost more than they saved: conv3 forward 99 ms against 83 ms
// here, and conv2 374 ms with F(2x2, 5x5) against 207 ms with im2col + GEMM.)
#pragma once
#include <cstddef>

namespace dlbhc {

// The position stride for matrices of `rows` rows of `ld` floats: round_up(rows * ld, 1024) + 16.
inline size_t winograd_stride(size_t rows, size_t ld) { return (rows * ld + 1023) / 1024 * 1024 + 16; }

struct WinogradGeom {
    int c = 0, h = 0, w = 0;  // input channels, height, width of one image
    int oc = 0;               // output channels
    int ph = 0, pw = 0;       // zero padding (kernel 3x3, stride 1)
    int out_h() const { return h + 2 * ph - 2; }
    int out_w() const { return w + 2 * pw - 2; }
    int tiles_h() const { return (out_h() + 1) / 2; }
    int tiles_w() const { return (out_w() + 1) / 2; }
    int tiles() const { return tiles_h() * tiles_w(); }  // per image
    size_t plane_floats() const { return (size_t)(2 * tiles_h() + 2) * (2 * tiles_w() + 2); }
};

// U (16, OC, Cg; row stride Cg, position stride xs) = G g G^T of every filter of w (OC, Cg, 3, 3).
void winograd_weights(const float* w, int oc, int cg, float* U, size_t xs);
// dw (OC, Cg, 3, 3) += G^T dU G, dU laid out as U.
void winograd_weights_backward(const float* dU, size_t xs, int oc, int cg, float* dw);

// V (16, C, T; row stride ld, position stride xs): the input transform of images x[0 .. nb)
// (each (C, H, W)), image i's tiles at columns [i * tiles, (i + 1) * tiles). plane: scratch of
// g.plane_floats().
void winograd_input(const WinogradGeom& g, const float* x, int nb, float* V, size_t ld, size_t xs, float* plane);
// y[0 .. nb) (each (OC, OH, OW)) = A^T M A (+ bias[o] when bias is not null), M (16, OC, T).
void winograd_output(const WinogradGeom& g, const float* M, size_t ld, size_t xs, const float* bias, int nb, float* y);
// dM (16, OC, T) = A dy A^T of images dy[0 .. nb) (each (OC, OH, OW)); outputs past OH, OW are 0.
void winograd_output_backward(const WinogradGeom& g, const float* dy, int nb, float* dM, size_t ld, size_t xs);
// dx[0 .. nb) (each (C, H, W)) += B dV B^T, scatter-added (padding dropped). plane: scratch.
void winograd_input_backward(const WinogradGeom& g, const float* dV, size_t ld, size_t xs, int nb, float* dx,
                             float* plane);

// True when the four functions above take the AVX-512 route for this geometry.
bool winograd_vectorised(const WinogradGeom& g);
// The portable transforms, whatever the CPU.
void winograd_input_portable(const WinogradGeom& g, const float* x, int nb, float* V, size_t ld, size_t xs,
                             float* plane);
void winograd_output_portable(const WinogradGeom& g, const float* M, size_t ld, size_t xs, const float* bias, int nb,
                              float* y);
void winograd_output_backward_portable(const WinogradGeom& g, const float* dy, int nb, float* dM, size_t ld, size_t xs);
void winograd_input_backward_portable(const WinogradGeom& g, const float* dV, size_t ld, size_t xs, int nb, float* dx,
                                      float* plane);

}  // namespace dlbhc
