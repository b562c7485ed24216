// nn/gemv.cpp -- see gemv.h.
#include "nn/gemv.h"

#include <algorithm>
#include <stdexcept>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace dlbhc {

namespace {

// Rows streamed side by side: 4 concurrent read streams per thread (1 or 2 rows at a time read
// fc6's weights more slowly on one core: 19-24 GB/s against 32 GB/s for 4, AVX-512 kernel, in a
// throwaway timing loop on the machine of docs/performance.md).
constexpr int kGemvRows = 4;
// Software prefetch distance per row, in floats (1.5 KiB). In the net at batch 1 on 2 threads
// fc6 took 2.32-2.37 ms with it, 2.62-2.69 ms without (a throwaway timing loop alternating the two
// builds; 256 and 512 floats measured within noise of 384, 1024 and 2048 no better than none).
constexpr int kGemvPrefetch = 384;
// Below this many weights the product stays on one thread (waking the others costs more).
constexpr double kGemvParallelFloats = 65536.0;

// y[n][o0 .. o0+R) for R rows (R <= kGemvRows) of w. L lanes per row and item: the compiler keeps
// acc[n][r][0..L) in vector registers (L / 16 zmm, L / 8 ymm) and vectorises the lane loops.
template <int N, int L>
__attribute__((always_inline)) inline void rows_block(float* y, const float* x, const float* w, const float* b, int I,
                                                      int O, int o0, int R) {
    float acc[N][kGemvRows][L] = {};
    const float* wr[kGemvRows];
    for (int r = 0; r < kGemvRows; ++r) wr[r] = w + (size_t)(o0 + std::min(r, R - 1)) * I;  // short blocks repeat a row
    int i = 0;
    for (; i + L <= I; i += L)
        for (int r = 0; r < kGemvRows; ++r) {
            // Ask for each row kGemvPrefetch floats ahead, two cache lines per step (one step of 32
            // lanes reads two): the hardware prefetchers alone left fc6 at batch 1 at about 86% of
            // STREAM's read.
            __builtin_prefetch(wr[r] + i + kGemvPrefetch);
            __builtin_prefetch(wr[r] + i + kGemvPrefetch + 16);
            for (int n = 0; n < N; ++n)
                for (int l = 0; l < L; ++l) acc[n][r][l] += x[(size_t)n * I + i + l] * wr[r][i + l];
        }
    for (int n = 0; n < N; ++n)
        for (int r = 0; r < R; ++r) {
            float s = 0;
            for (int k = i; k < I; ++k) s += x[(size_t)n * I + k] * wr[r][k];  // the ragged tail
            // Lanes added pairwise (a fixed order, whatever the instruction set's width).
            float t[L];
            for (int l = 0; l < L; ++l) t[l] = acc[n][r][l];
            for (int h = L / 2; h > 0; h /= 2)
                for (int l = 0; l < h; ++l) t[l] += t[l + h];
            y[(size_t)n * O + o0 + r] = t[0] + s + (b ? b[o0 + r] : 0.0f);
        }
}

template <int N, int L>
__attribute__((always_inline)) inline void rows_range(float* y, const float* x, const float* w, const float* b, int I,
                                                      int O, int blk0, int blk1) {
    for (int k = blk0; k < blk1; ++k) {
        const int o0 = k * kGemvRows;
        rows_block<N, L>(y, x, w, b, I, O, o0, std::min(kGemvRows, O - o0));
    }
}

// One instruction set's kernel: row blocks [blk0, blk1) for N items.
using RangeFn = void (*)(float* y, const float* x, const float* w, const float* b, int N, int I, int O, int blk0,
                         int blk1);

// Lanes per row and item: 32 (two AVX-512 registers: two independent add chains per row, which
// measured faster than one at batch 1) while N * kGemvRows * 32 lanes fit the 32 registers (N <= 2),
// else 16. The same for every instruction set, so that every kernel forms the same partial sums in
// the same order (they differ in how many registers hold a lane group, and in whether a
// multiply-add is fused, which changes the last bit).
__attribute__((always_inline)) inline void dispatch_n(float* y, const float* x, const float* w, const float* b, int N,
                                                      int I, int O, int blk0, int blk1) {
    switch (N) {
    case 1: rows_range<1, 32>(y, x, w, b, I, O, blk0, blk1); break;
    case 2: rows_range<2, 32>(y, x, w, b, I, O, blk0, blk1); break;
    case 3: rows_range<3, 16>(y, x, w, b, I, O, blk0, blk1); break;
    default: rows_range<4, 16>(y, x, w, b, I, O, blk0, blk1); break;
    }
}

#if defined(__x86_64__)
__attribute__((target("avx512f,avx2,fma"))) void range_avx512(float* y, const float* x, const float* w, const float* b,
                                                               int N, int I, int O, int blk0, int blk1) {
    dispatch_n(y, x, w, b, N, I, O, blk0, blk1);
}
__attribute__((target("avx2,fma"))) void range_avx2(float* y, const float* x, const float* w, const float* b, int N,
                                                    int I, int O, int blk0, int blk1) {
    dispatch_n(y, x, w, b, N, I, O, blk0, blk1);
}
#endif
void range_generic(float* y, const float* x, const float* w, const float* b, int N, int I, int O, int blk0, int blk1) {
    dispatch_n(y, x, w, b, N, I, O, blk0, blk1);
}

struct GemvKernel {
    const char* name;
    RangeFn fn;
};

const std::vector<GemvKernel>& kernels() {
    static const std::vector<GemvKernel> v = [] {
        std::vector<GemvKernel> k;
#if defined(__x86_64__)
        __builtin_cpu_init();
        const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
        // AVX2 first even where AVX-512 runs: the loop is bound by memory, and on the AMD EPYC
        // (Zen 4) this was measured on, the AVX2 kernel read faster (bench_latency's GEMV table).
        if (avx2) k.push_back({"avx2", range_avx2});
        if (avx2 && __builtin_cpu_supports("avx512f")) k.push_back({"avx512", range_avx512});
#endif
        k.push_back({"generic", range_generic});
        return k;
    }();
    return v;
}

void run(RangeFn fn, float* y, const float* x, const float* w, const float* b, int N, int I, int O) {
    if (N < 1 || N > kGemvMaxBatch || I < 0 || O < 0)
        throw std::invalid_argument("sgemv_rows: expected 1 <= N <= " + std::to_string(kGemvMaxBatch) +
                                    " and I, O >= 0, got N=" + std::to_string(N) + " I=" + std::to_string(I) +
                                    " O=" + std::to_string(O));
    if (O == 0) return;
    const int blocks = (O + kGemvRows - 1) / kGemvRows;
    int threads = 1;
#ifdef _OPENMP
    if (!omp_in_parallel() && (double)O * I >= kGemvParallelFloats) threads = std::min(omp_get_max_threads(), blocks);
#endif
    // One contiguous range of row blocks per thread: each thread streams its own part of w.
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        int t = 0, T = 1;
#ifdef _OPENMP
        t = omp_get_thread_num(), T = omp_get_num_threads();
#endif
        fn(y, x, w, b, N, I, O, (int)((long)blocks * t / T), (int)((long)blocks * (t + 1) / T));
    }
}

}  // namespace

void sgemv_rows(float* y, const float* x, const float* w, const float* b, int N, int I, int O) {
    run(kernels().front().fn, y, x, w, b, N, I, O);
}

std::vector<std::string> sgemv_kernels() {
    std::vector<std::string> names;
    for (const auto& k : kernels()) names.push_back(k.name);
    return names;
}

void sgemv_rows_using(const std::string& kernel, float* y, const float* x, const float* w, const float* b, int N,
                      int I, int O) {
    for (const auto& k : kernels())
        if (kernel == k.name) {
            run(k.fn, y, x, w, b, N, I, O);
            return;
        }
    throw std::invalid_argument("sgemv_rows_using: kernel '" + kernel + "' is unknown or not supported by this CPU");
}

}  // namespace dlbhc
