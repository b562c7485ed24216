// nn/winograd_avx512.h -- AVX-512 versions of the four F(2x2, 3x3) transforms of winograd.h for
// planes at most 16 floats wide (at most 7 tiles per row, outputs at most 14 wide: CaffeNet's
// 13x13 conv3-5). One zmm register holds a whole padded input row, so a tile row is transformed
// with a few vector operations and lane permutes instead of one scalar tile at a time (the scalar
// transforms were about 30% of conv3-5's time). Same contracts as the winograd.h functions; only
// winograd.cpp calls them, after checking winograd_avx512_fits and the CPU.
#pragma once
#include <cstddef>

#include "nn/winograd.h"

namespace dlbhc {

// True when the geometry fits (tiles_w() <= 7, so the plane is at most 16 wide).
inline bool winograd_avx512_fits(const WinogradGeom& g) { return g.tiles_w() <= 7; }

#if defined(__x86_64__)
void winograd_input_avx512(const WinogradGeom& g, const float* x, int nb, float* V, size_t ld, size_t xs);
void winograd_output_avx512(const WinogradGeom& g, const float* M, size_t ld, size_t xs, const float* bias, int nb,
                            float* y);
void winograd_output_backward_avx512(const WinogradGeom& g, const float* dy, int nb, float* dM, size_t ld, size_t xs);
void winograd_input_backward_avx512(const WinogradGeom& g, const float* dV, size_t ld, size_t xs, int nb, float* dx);
#endif

}  // namespace dlbhc
