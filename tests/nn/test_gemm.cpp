// tests/nn/test_gemm.cpp -- the blocked sgemm against the naive reference, for every micro-kernel
// this CPU can run, on many shapes, transpositions, leading dimensions and alpha/beta.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "nn/gemm.h"
#include "nn/rng.h"

#ifdef _OPENMP
#include <omp.h>
#endif

using namespace dlbhc;

namespace {

const float kNaN = std::numeric_limits<float>::quiet_NaN();

struct Case {
    bool ta = false, tb = false;
    int M = 1, N = 1, K = 1;
    int pad_a = 0, pad_b = 0, pad_c = 0;  // leading dimension minus the minimal one
    float alpha = 1.0f, beta = 0.0f;
    bool nan_c = false;  // C starts as NaN (only meaningful with beta == 0)
    std::string str() const {
        return std::string(ta ? "T" : "N") + (tb ? "T" : "N") + " M=" + std::to_string(M) + " N=" + std::to_string(N) +
               " K=" + std::to_string(K) + " pads=" + std::to_string(pad_a) + "," + std::to_string(pad_b) + "," +
               std::to_string(pad_c) + " alpha=" + std::to_string(alpha) + " beta=" + std::to_string(beta) +
               (nan_c ? " NaN C" : "");
    }
};

// A row-major matrix (rows, cols) in a buffer with leading dimension ld >= cols. The slack
// columns hold `slack` so that a read of them (NaN) or a write to them (sentinel changed) shows.
std::vector<float> make_matrix(int rows, int cols, int ld, Rng& rng, float slack) {
    std::vector<float> m((size_t)std::max(rows, 1) * ld, slack);
    for (int r = 0; r < rows; ++r)
        for (int c = 0; c < cols; ++c) m[(size_t)r * ld + c] = rng.uniform(-1.0f, 1.0f);
    return m;
}

// Runs one case with the named kernel and the reference; returns the number of bad entries
// (and reports the first few). The bound is the classical one for a dot product of length K in
// any summation order, |fl(s) - s| <= gamma_K * sum |a_p b_p| (Higham, Accuracy and Stability of
// Numerical Algorithms, eq. 3.5), with gamma_K ~ K u, u = 2^-24, plus the scaling and final
// roundings: the bound is tight enough that one missing or doubled term (|a b| ~ 0.25) fails.
int run_case(const std::string& kernel, const Case& c, uint64_t seed) {
    Rng rng(seed);
    const int a_rows = c.ta ? c.K : c.M, a_cols = c.ta ? c.M : c.K;
    const int b_rows = c.tb ? c.N : c.K, b_cols = c.tb ? c.K : c.N;
    const int lda = std::max(a_cols, 1) + c.pad_a, ldb = std::max(b_cols, 1) + c.pad_b, ldc = std::max(c.N, 1) + c.pad_c;
    std::vector<float> A = make_matrix(a_rows, a_cols, lda, rng, kNaN);
    std::vector<float> B = make_matrix(b_rows, b_cols, ldb, rng, kNaN);
    const float sentinel = 12345.0f;
    std::vector<float> C0 = make_matrix(c.M, c.N, ldc, rng, sentinel);
    if (c.nan_c)
        for (int i = 0; i < c.M; ++i)
            for (int j = 0; j < c.N; ++j) C0[(size_t)i * ldc + j] = kNaN;
    std::vector<float> C = C0, R = C0;
    sgemm_using(kernel, c.ta, c.tb, c.M, c.N, c.K, c.alpha, A.data(), lda, B.data(), ldb, c.beta, C.data(), ldc);
    sgemm_naive(c.ta, c.tb, c.M, c.N, c.K, c.alpha, A.data(), lda, B.data(), ldb, c.beta, R.data(), ldc);

    const double u = std::ldexp(1.0, -24), gamma = (c.K + 4) * u;
    int bad = 0;
    for (int i = 0; i < c.M; ++i) {
        for (int j = 0; j < ldc; ++j) {
            size_t at = (size_t)i * ldc + j;
            bool ok;
            if (j >= c.N) {
                ok = C[at] == sentinel;  // slack of C untouched
            } else {
                double abs_sum = 0;
                for (int p = 0; p < c.K; ++p) {
                    float a = c.ta ? A[(size_t)p * lda + i] : A[(size_t)i * lda + p];
                    float b = c.tb ? B[(size_t)j * ldb + p] : B[(size_t)p * ldb + j];
                    abs_sum += std::fabs((double)a * b);
                }
                double c0 = c.beta == 0.0f ? 0.0 : std::fabs((double)C0[at]);
                double tol = gamma * (std::fabs(c.alpha) * abs_sum + std::fabs(c.beta) * c0) + 2 * u * std::fabs(R[at]) + 1e-30;
                ok = std::isfinite(C[at]) && std::fabs((double)C[at] - R[at]) <= tol;
            }
            if (!ok && ++bad <= 3)
                MESSAGE(kernel << " " << c.str() << ": C[" << i << "][" << j << "] = " << C[at] << ", reference "
                               << R[at]);
        }
    }
    return bad;
}

int pick(Rng& rng, const std::vector<int>& v) { return v[rng.below((uint32_t)v.size())]; }

}  // namespace

TEST_CASE("gemm: every kernel is listed, the best first, and a bad name is refused") {
    std::vector<std::string> k = sgemm_kernels();
    REQUIRE(!k.empty());
    CHECK(k.back() == "generic");
    CHECK_THROWS_AS(sgemm_using("no-such-kernel", false, false, 1, 1, 1, 1, nullptr, 1, nullptr, 1, 0, nullptr, 1),
                    std::invalid_argument);
    // The default entry point is the first kernel: bitwise the same result.
    Case c;
    c.M = 37, c.N = 45, c.K = 29, c.alpha = 0.5f, c.beta = -1.5f;
    Rng rng(1);
    std::vector<float> A = make_matrix(c.M, c.K, c.K, rng, 0), B = make_matrix(c.K, c.N, c.N, rng, 0);
    std::vector<float> C1 = make_matrix(c.M, c.N, c.N, rng, 0), C2 = C1;
    sgemm(false, false, c.M, c.N, c.K, c.alpha, A.data(), c.K, B.data(), c.N, c.beta, C1.data(), c.N);
    sgemm_using(k.front(), false, false, c.M, c.N, c.K, c.alpha, A.data(), c.K, B.data(), c.N, c.beta, C2.data(), c.N);
    CHECK(C1 == C2);
}

TEST_CASE("gemm: all small shapes, all transpositions, every kernel") {
    const std::vector<int> sizes = {1, 2, 3, 7, 13, 17, 31, 33};
    uint64_t seed = 100;
    for (const std::string& kernel : sgemm_kernels()) {
        int bad = 0;
        for (int t = 0; t < 4; ++t)
            for (int M : sizes)
                for (int N : sizes)
                    for (int K : sizes) {
                        Case c;
                        c.ta = t & 1, c.tb = t & 2, c.M = M, c.N = N, c.K = K;
                        c.alpha = 1.0f, c.beta = (M + N + K) % 2 ? 0.0f : 1.0f;
                        bad += run_case(kernel, c, seed++) != 0;
                    }
        INFO(kernel);
        CHECK(bad == 0);
    }
}

TEST_CASE("gemm: random shapes with padded leading dimensions, alpha, beta and NaN in C") {
    const std::vector<int> sizes = {1, 2, 3, 7, 13, 17, 31, 33, 64, 65, 127, 257, 300};
    const std::vector<float> alphas = {1.0f, -0.75f, 2.5f}, betas = {0.0f, 1.0f, 0.5f, -1.25f};
    Rng rng(7);
    for (const std::string& kernel : sgemm_kernels()) {
        int bad = 0;
        for (int r = 0; r < 60; ++r) {
            Case c;
            c.ta = rng.below(2), c.tb = rng.below(2);
            c.M = pick(rng, sizes), c.N = pick(rng, sizes), c.K = pick(rng, sizes);
            c.pad_a = (int)rng.below(5), c.pad_b = (int)rng.below(5), c.pad_c = (int)rng.below(5);
            c.alpha = alphas[rng.below((uint32_t)alphas.size())];
            c.beta = betas[rng.below((uint32_t)betas.size())];
            c.nan_c = c.beta == 0.0f && rng.below(2);
            bad += run_case(kernel, c, 1000 + r) != 0;
        }
        INFO(kernel);
        CHECK(bad == 0);
    }
}

TEST_CASE("gemm: large shapes crossing the block sizes and the threading threshold") {
    // KC = 256, NC = 512, MC = 768, MR/NR up to 8/32, threads from 2^21 multiply-adds.
    const Case cases[] = {
        {false, false, 770, 40, 260, 0, 0, 0, 1.0f, 0.0f, true},    // M > MC, K > KC
        {false, true, 20, 1030, 300, 3, 1, 2, -0.5f, 0.25f, false},  // N > 2 NC, ragged
        {true, false, 100, 100, 520, 1, 0, 0, 1.0f, 1.0f, false},    // tasks split for threads
        {true, true, 129, 545, 257, 0, 2, 1, 0.75f, 0.0f, true},
        {false, true, 64, 600, 1100, 0, 0, 0, 1.0f, 0.0f, false},   // fc-like: small M, long K
    };
    uint64_t seed = 5000;
    for (const std::string& kernel : sgemm_kernels())
        for (const Case& c : cases) {
            INFO(kernel << " " << c.str());
            CHECK(run_case(kernel, c, seed++) == 0);
        }
}

TEST_CASE("gemm: degenerate sizes and alpha == 0 follow BLAS") {
    Rng rng(9);
    std::vector<float> A(64, kNaN), B(64, kNaN);  // never read
    std::vector<float> C = make_matrix(3, 4, 5, rng, 7.0f), C0 = C;
    // K == 0: C = beta * C.
    sgemm(false, false, 3, 4, 0, 1.0f, A.data(), 1, B.data(), 4, 2.0f, C.data(), 5);
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 5; ++j) CHECK(C[i * 5 + j] == (j < 4 ? 2.0f * C0[i * 5 + j] : 7.0f));
    // alpha == 0 with NaN inputs: C = beta * C, no NaN.
    C = C0;
    sgemm(true, true, 3, 4, 6, 0.0f, A.data(), 3, B.data(), 6, -1.0f, C.data(), 5);
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 4; ++j) CHECK(C[i * 5 + j] == -C0[i * 5 + j]);
    // alpha == 0, beta == 0 over a NaN C: zeros.
    std::vector<float> Cn(15, kNaN);
    sgemm(false, false, 3, 4, 6, 0.0f, A.data(), 6, B.data(), 4, 0.0f, Cn.data(), 5);
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 4; ++j) CHECK(Cn[i * 5 + j] == 0.0f);
    // M == 0 or N == 0: nothing is touched (null C allowed).
    CHECK_NOTHROW(sgemm(false, false, 0, 4, 6, 1.0f, A.data(), 6, B.data(), 4, 0.0f, nullptr, 4));
    CHECK_NOTHROW(sgemm(false, false, 3, 0, 6, 1.0f, A.data(), 6, B.data(), 1, 0.0f, nullptr, 1));
}

TEST_CASE("gemm: bad arguments are refused with a message") {
    std::vector<float> A(100), B(100), C(100);
    CHECK_THROWS_AS(sgemm(false, false, -1, 2, 2, 1, A.data(), 2, B.data(), 2, 0, C.data(), 2), std::invalid_argument);
    CHECK_THROWS_AS(sgemm(false, false, 2, 2, 3, 1, A.data(), 2, B.data(), 2, 0, C.data(), 2), std::invalid_argument);  // lda < K
    CHECK_THROWS_AS(sgemm(true, false, 4, 2, 3, 1, A.data(), 3, B.data(), 2, 0, C.data(), 2), std::invalid_argument);   // lda < M
    CHECK_THROWS_AS(sgemm(false, true, 2, 4, 3, 1, A.data(), 3, B.data(), 2, 0, C.data(), 4), std::invalid_argument);   // ldb < K
    CHECK_THROWS_AS(sgemm(false, false, 2, 4, 3, 1, A.data(), 3, B.data(), 4, 0, C.data(), 3), std::invalid_argument);  // ldc < N
    CHECK_THROWS_WITH_AS(sgemm_naive(false, false, 2, 4, 3, 1, A.data(), 3, B.data(), 3, 0, C.data(), 4),
                         doctest::Contains("ldb"), std::invalid_argument);
}

#ifdef _OPENMP
TEST_CASE("gemm: the result does not depend on the number of threads (bit for bit)") {
    // Each entry of C is summed in the same order whatever the task tiling, so runs repeat exactly.
    const int M = 200, N = 700, K = 600;
    Rng rng(11);
    std::vector<float> A = make_matrix(M, K, K, rng, 0), B = make_matrix(N, K, K, rng, 0);
    std::vector<float> C1((size_t)M * N), C2((size_t)M * N);
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    sgemm(false, true, M, N, K, 1.0f, A.data(), K, B.data(), K, 0.0f, C1.data(), N);
    omp_set_num_threads(3);  // more threads than cores is fine and splits the tasks differently
    sgemm(false, true, M, N, K, 1.0f, A.data(), K, B.data(), K, 0.0f, C2.data(), N);
    omp_set_num_threads(saved);
    CHECK(C1 == C2);
}
#endif

