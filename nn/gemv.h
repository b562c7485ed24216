// nn/gemv.h -- the fully connected layer's product for a few items (batch-1 inference), read at the
// speed of memory.
//
//   y (N, O) = x (N, I) * w^T (I, O) + b (O),   N <= kGemvMaxBatch
//   y[n][o] = b[o] + sum_i x[n][i] w[o][i]
//
// Why its own kernel: at batch 1, fc6 of CaffeNet multiplies 4096 x 9216 weights (151 MB) by one
// vector: 2 flops per 4 bytes read, so its speed is the memory's read bandwidth, and the GEMM
// (which packs the weights, then reads the packed copy) would read them three times. Here every
// weight is read once: a block of kGemvRows rows is streamed side by side (several independent
// memory streams per thread, which the hardware prefetchers follow), each row dotted with the N
// inputs in vector accumulators, kept in registers until the row ends.
//
// Threads: the row blocks are split into one contiguous range per thread (static schedule), so
// each thread streams its own part of w; a row's sum never depends on the thread count, so the
// result is bit for bit the same on any number of threads. Below kGemvParallelFloats weights the
// product stays on the calling thread (and always inside an OpenMP parallel region).
//
// As sgemm (gemm.h), the loop is plain C++ compiled once per instruction set with GCC's target
// attribute (AVX-512, AVX2+FMA, the build's baseline) and chosen at run time; AVX2 comes before
// AVX-512 (see gemv.cpp).
#pragma once
#include <string>
#include <vector>

namespace dlbhc {

constexpr int kGemvMaxBatch = 4;

// y (N, O) is overwritten; x (N, I); w (O, I) row-major; b (O) or null. 1 <= N <= kGemvMaxBatch
// (else std::invalid_argument). y must not overlap x or w.
void sgemv_rows(float* y, const float* x, const float* w, const float* b, int N, int I, int O);

// The kernels this CPU can run, best first (e.g. {"avx2", "avx512", "generic"}); sgemv_rows uses
// the first. For tests and benchmarks.
std::vector<std::string> sgemv_kernels();
void sgemv_rows_using(const std::string& kernel, float* y, const float* x, const float* w, const float* b, int N,
                      int I, int O);

}  // namespace dlbhc
