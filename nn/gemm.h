// nn/gemm.h -- single-precision matrix multiply (GEMM), row-major, no BLAS.
//
//   C = alpha * op(A) * op(B) + beta * C
//
//   op(A) is (M, K): A is stored (M, K) with leading dimension lda >= K, or, when trans_a,
//                    (K, M) with lda >= M.
//   op(B) is (K, N): B is stored (K, N) with ldb >= N, or, when trans_b, (N, K) with ldb >= K.
//   C     is (M, N) with ldc >= N.
// Row-major throughout: element (i, j) of a matrix with leading dimension ld is at [i * ld + j].
// Buffers must hold the last row in full: A needs (rows - 1) * lda + cols floats, and so on.
// C must not overlap A or B.
//
// As in BLAS: beta == 0 overwrites C without reading it (C may hold NaN or garbage), and
// alpha == 0 (or K == 0) leaves A and B unread and only scales C by beta.
//
// sgemm is the fast, cache-blocked version (the blocking scheme is explained at the top of
// gemm.cpp); sgemm_naive is the plain triple loop kept beside it as the reference the tests
// compare against. Threads: a large product (M*N*K >= 2^21) runs on omp_get_max_threads()
// threads; inside an OpenMP parallel region, or below that size, it runs on the calling thread.
// The result is bit for bit the same whatever the number of threads. Bad sizes or leading
// dimensions throw std::invalid_argument.
#pragma once
#include <string>
#include <vector>

namespace dlbhc {

void sgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda,
           const float* B, int ldb, float beta, float* C, int ldc);

// The reference: one dot product per output, accumulated in double. Slow; for tests.
void sgemm_naive(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda,
                 const float* B, int ldb, float beta, float* C, int ldc);

// The micro-kernels this CPU can run, best first, e.g. {"avx512", "avx2", "generic"}; sgemm uses
// the first. Listed so that tests and benchmarks can exercise every code path on one machine.
std::vector<std::string> sgemm_kernels();

// sgemm with a named micro-kernel from sgemm_kernels(); throws std::invalid_argument for a name
// that is unknown or not supported by this CPU.
void sgemm_using(const std::string& kernel, bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                 const float* A, int lda, const float* B, int ldb, float beta, float* C, int ldc);

}  // namespace dlbhc
