// bench/bench_gemm.cpp -- GEMM GFLOPS per micro-kernel and thread count on square and AlexNet
// shapes, medians of repeated runs. Part of `make bench`, never of `make test`.
//   usage: bench_gemm [repeats]     (default 5)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "nn/gemm.h"
#include "nn/rng.h"

#ifdef _OPENMP
#include <omp.h>
#endif

using namespace dlbhc;

namespace {

struct Case {
    const char* name;
    bool ta, tb;
    int M, N, K;
};

using bench::median;
using bench::now;

}  // namespace

int main(int argc, char** argv) {
    const int repeats = argc > 1 ? std::max(1, std::atoi(argv[1])) : 5;
    // Forward GEMMs of CaffeNet at batch 64 (conv: one image, per group: (OC/G) x (OH*OW) x (C/G*KH*KW)).
    const Case cases[] = {
        {"square 1024", false, false, 1024, 1024, 1024},
        {"conv1 fwd (1 image)", false, false, 96, 3025, 363},
        {"conv2 fwd (1 image, group)", false, false, 128, 729, 1200},
        {"conv3 fwd (1 image)", false, false, 384, 169, 2304},
        {"fc6 fwd, batch 64", false, true, 64, 4096, 9216},
        {"fc6 dW, batch 64", true, false, 4096, 9216, 64},
        {"fc7 fwd, batch 64", false, true, 64, 4096, 4096},
    };
    std::vector<int> threads = {1};
#ifdef _OPENMP
    if (omp_get_num_procs() > 1) threads.push_back(omp_get_num_procs());
#endif
    std::printf("GEMM GFLOPS, median of %d runs (2*M*N*K / time)\n", repeats);
    std::printf("%-28s %-8s %8s", "shape (M x N x K)", "kernel", "");
    for (int t : threads) std::printf(" %9d thr", t);
    std::printf("\n");
    Rng rng(1);
    for (const Case& c : cases) {
        std::vector<float> A((size_t)c.M * c.K), B((size_t)c.K * c.N), C((size_t)c.M * c.N);
        for (auto& v : A) v = rng.uniform(-1, 1);
        for (auto& v : B) v = rng.uniform(-1, 1);
        const int lda = c.ta ? c.M : c.K, ldb = c.tb ? c.K : c.N;
        for (const std::string& kernel : sgemm_kernels()) {
            std::printf("%-28s %-8s %8s", c.name, kernel.c_str(), "");
            for (int t : threads) {
#ifdef _OPENMP
                omp_set_num_threads(t);
#endif
                std::vector<double> runs;
                sgemm_using(kernel, c.ta, c.tb, c.M, c.N, c.K, 1.0f, A.data(), lda, B.data(), ldb, 0.0f, C.data(), c.N);
                for (int r = 0; r < repeats; ++r) {
                    double t0 = now();
                    sgemm_using(kernel, c.ta, c.tb, c.M, c.N, c.K, 1.0f, A.data(), lda, B.data(), ldb, 0.0f, C.data(), c.N);
                    runs.push_back(now() - t0);
                }
                std::printf(" %13.1f", 2.0 * c.M * c.N * c.K / median(runs) / 1e9);
            }
            std::printf("\n");
        }
    }
    return 0;
}
