// tests/nn/test_gemv.cpp -- the few-items product of the fully connected layer (nn/gemv.h): every
// kernel against the naive layer, ragged sizes, thread independence, bad arguments.
#include <doctest/doctest.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "nn/gemv.h"
#include "nn/inner_product.h"
#include "nn/rng.h"

#ifdef _OPENMP
#include <omp.h>
#endif

using namespace dlbhc;

namespace {

std::vector<float> random_vector(size_t n, Rng& rng) {
    std::vector<float> v(n);
    for (float& x : v) x = rng.uniform(-1, 1);
    return v;
}

// max |a - b| / max(1, max |b|).
double rel_err(const std::vector<float>& a, const std::vector<float>& b) {
    double scale = 1, d = 0;
    for (size_t i = 0; i < b.size(); ++i) {
        scale = std::max(scale, (double)std::fabs(b[i]));
        d = std::max(d, (double)std::fabs(a[i] - b[i]));
    }
    return d / scale;
}

}  // namespace

TEST_CASE("gemv: every kernel matches the naive fully connected layer") {
    const std::vector<std::string> kernels = sgemv_kernels();
    REQUIRE(!kernels.empty());
    CHECK(kernels.back() == "generic");
    Rng rng(5);
    // I around the 32-lane step and the ragged tail; O around the 4-row block.
    for (int N = 1; N <= kGemvMaxBatch; ++N)
        for (int I : {1, 7, 16, 31, 32, 33, 100, 1000})
            for (int O : {1, 3, 4, 5, 9, 37})
                for (bool with_bias : {true, false}) {
                    const std::vector<float> x = random_vector((size_t)N * I, rng), w = random_vector((size_t)O * I, rng),
                                             b = random_vector((size_t)O, rng);
                    const float* bias = with_bias ? b.data() : nullptr;
                    std::vector<float> want((size_t)N * O);
                    inner_product_forward_naive(want.data(), x.data(), w.data(), bias, N, I, O);
                    for (const std::string& k : kernels) {
                        INFO(k << " N=" << N << " I=" << I << " O=" << O << (with_bias ? "" : " no bias"));
                        std::vector<float> y((size_t)N * O, NAN);  // must be overwritten
                        sgemv_rows_using(k, y.data(), x.data(), w.data(), bias, N, I, O);
                        CHECK(rel_err(y, want) < 1e-5);
                    }
                    std::vector<float> y((size_t)N * O, NAN);
                    inner_product_forward(y.data(), x.data(), w.data(), bias, N, I, O);  // the layer's route
                    CHECK(rel_err(y, want) < 1e-5);
                }
}

TEST_CASE("gemv: bad arguments are refused") {
    std::vector<float> x(8), w(8), y(8);
    CHECK_THROWS_AS(sgemv_rows(y.data(), x.data(), w.data(), nullptr, 0, 2, 2), std::invalid_argument);
    CHECK_THROWS_AS(sgemv_rows(y.data(), x.data(), w.data(), nullptr, kGemvMaxBatch + 1, 1, 1), std::invalid_argument);
    CHECK_THROWS_AS(sgemv_rows(y.data(), x.data(), w.data(), nullptr, 1, -1, 2), std::invalid_argument);
    CHECK_THROWS_WITH_AS(sgemv_rows_using("no-such-kernel", y.data(), x.data(), w.data(), nullptr, 1, 2, 2),
                         doctest::Contains("no-such-kernel"), std::invalid_argument);
}

#ifdef _OPENMP
TEST_CASE("gemv: the result does not depend on the number of threads (bit for bit)") {
    // Large enough to be shared out (over 65536 weights); each row's sum is one thread's.
    const int I = 1000, O = 203;
    Rng rng(9);
    const std::vector<float> x = random_vector((size_t)2 * I, rng), w = random_vector((size_t)O * I, rng),
                             b = random_vector(O, rng);
    const int saved = omp_get_max_threads();
    std::vector<std::vector<float>> ys;
    for (int threads : {1, 2, 3}) {
        omp_set_num_threads(threads);
        for (int N : {1, 2}) {
            ys.emplace_back((size_t)N * O);
            sgemv_rows(ys.back().data(), x.data(), w.data(), b.data(), N, I, O);
        }
    }
    omp_set_num_threads(saved);
    CHECK(ys[2] == ys[0]);
    CHECK(ys[4] == ys[0]);
    CHECK(ys[3] == ys[1]);
    CHECK(ys[5] == ys[1]);
}
#endif
