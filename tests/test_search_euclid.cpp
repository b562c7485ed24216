// tests/test_search_euclid.cpp -- squared-L2 kernels and exhaustive Euclidean k-NN.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "nn/rng.h"
#include "search/euclid_search.h"
#include "search/float16.h"
#include "search/l2.h"

using namespace dlbhc;

static double l2sq_double(const float* a, const float* b, int dim) {
    double s = 0;
    for (int d = 0; d < dim; ++d) s += ((double)a[d] - b[d]) * ((double)a[d] - b[d]);
    return s;
}

TEST_CASE("L2 kernels match the double-precision reference, float32 and float16 rows") {
    Rng rng(51);
    for (int dim : {1, 7, 8, 15, 16, 17, 100, 4096}) {
        std::vector<float> x(dim), q(4 * (size_t)dim);
        for (auto& v : x) v = rng.gaussian(0, 1);
        for (auto& v : q) v = rng.gaussian(0, 1);
        std::vector<uint16_t> xh(dim);
        floats_to_halves(x.data(), dim, xh.data());
        std::vector<float> xr(dim);  // the values the half row really holds
        halves_to_floats(xh.data(), dim, xr.data());
        const float* qp[4] = {&q[0], &q[(size_t)dim], &q[2 * (size_t)dim], &q[3 * (size_t)dim]};
        for (int ki = 0; ki < 2; ++ki) {
            L2Kernel k = (L2Kernel)ki;
            if (!l2_kernel_supported(k)) {
                MESSAGE("L2 kernel " << std::string(l2_kernel_name(k)) << " skipped: not supported by this CPU");
                continue;
            }
            for (int nq = 1; nq <= 4; ++nq) {
                float o32[4], o16[4];
                l2_fn(FeatureType::F32, k)(x.data(), qp, nq, dim, o32);
                l2_fn(FeatureType::F16, k)(xh.data(), qp, nq, dim, o16);
                for (int j = 0; j < nq; ++j) {
                    CAPTURE(dim);
                    CAPTURE(nq);
                    CHECK(o32[j] == doctest::Approx(l2sq_double(x.data(), qp[j], dim)).epsilon(1e-5));
                    CHECK(o16[j] == doctest::Approx(l2sq_double(xr.data(), qp[j], dim)).epsilon(1e-5));
                    // A query's distance does not depend on how many queries share the call.
                    float one;
                    l2_fn(FeatureType::F32, k)(x.data(), &qp[j], 1, dim, &one);
                    CHECK(one == o32[j]);
                }
            }
        }
    }
}

TEST_CASE("dot kernels (2 rows x up to 4 queries) match the double-precision reference") {
    Rng rng(53);
    for (int dim : {1, 7, 8, 9, 100, 256, 4096}) {
        std::vector<float> x(2 * (size_t)dim), q(4 * (size_t)dim);
        for (auto& v : x) v = rng.gaussian(0, 1);
        for (auto& v : q) v = rng.gaussian(0, 1);
        std::vector<uint16_t> xh(x.size());
        floats_to_halves(x.data(), x.size(), xh.data());
        std::vector<float> xr(x.size());
        halves_to_floats(xh.data(), xh.size(), xr.data());
        const float* qp[4] = {&q[0], &q[(size_t)dim], &q[2 * (size_t)dim], &q[3 * (size_t)dim]};
        for (int ki = 0; ki < 2; ++ki) {
            L2Kernel k = (L2Kernel)ki;
            if (!l2_kernel_supported(k)) continue;
            for (bool same_row : {false, true}) {
                const void* x32[2] = {x.data(), same_row ? x.data() : x.data() + dim};
                const void* x16[2] = {xh.data(), same_row ? xh.data() : xh.data() + dim};
                for (int nq = 1; nq <= 4; ++nq) {
                    float o32[8], o16[8];
                    dot_fn(FeatureType::F32, k)(x32, qp, nq, dim, o32);
                    dot_fn(FeatureType::F16, k)(x16, qp, nq, dim, o16);
                    for (int r = 0; r < 2; ++r)
                        for (int j = 0; j < nq; ++j) {
                            const size_t row = same_row ? 0 : (size_t)r * dim;
                            double w32 = 0, w16 = 0;
                            for (int d = 0; d < dim; ++d) {
                                w32 += (double)x[row + d] * qp[j][d];
                                w16 += (double)xr[row + d] * qp[j][d];
                            }
                            CAPTURE(dim);
                            CHECK(o32[r * 4 + j] == doctest::Approx(w32).epsilon(1e-4).scale(std::sqrt((double)dim)));
                            CHECK(o16[r * 4 + j] == doctest::Approx(w16).epsilon(1e-4).scale(std::sqrt((double)dim)));
                        }
                }
            }
        }
    }
}

TEST_CASE("euclidean_knn on real-valued data agrees with the direct distances") {
    // ||x||^2 + ||q||^2 - 2 x.q rounds differently from sum (x - q)^2: the distances agree to a
    // relative 1e-4 and the top-10 sets agree except where two distances are that close.
    Rng rng(54);
    const size_t n = 500;
    const int dim = 256;
    std::vector<float> db(n * dim), q(3 * dim);
    for (auto& v : db) v = rng.uniform(0.0f, 1.0f);
    for (auto& v : q) v = rng.uniform(0.0f, 1.0f);
    FeatureView fv{db.data(), n, dim, FeatureType::F32};
    auto got = euclidean_knn_batch(fv, q.data(), 3, 10);
    for (size_t j = 0; j < 3; ++j)
        for (const auto& h : got[j]) CHECK(h.distance * h.distance == doctest::Approx(l2sq_row(fv, h.index, &q[j * dim])).epsilon(1e-4));
}

TEST_CASE("euclidean_knn equals a brute-force sort, float32 and float16, any thread count") {
    Rng rng(52);
    const size_t n = 700, nq = 21;
    const int dim = 37;
    std::vector<float> db(n * dim), qs(nq * dim);
    for (auto& v : db) v = (float)rng.below(3);  // small integers: many exactly equal distances
    for (auto& v : qs) v = (float)rng.below(3);
    std::vector<uint16_t> dbh(db.size());
    floats_to_halves(db.data(), db.size(), dbh.data());
    for (FeatureType t : {FeatureType::F32, FeatureType::F16}) {
        FeatureView fv{t == FeatureType::F32 ? (const void*)db.data() : (const void*)dbh.data(), n, dim, t};
        for (size_t k : {(size_t)1, (size_t)10, n + 1}) {
            auto got = euclidean_knn_batch(fv, qs.data(), nq, k, SearchOptions{2, 0});
            auto got1 = euclidean_knn_batch(fv, qs.data(), nq, k, SearchOptions{1, 0});
            for (size_t q = 0; q < nq; ++q) {
                std::vector<std::pair<float, uint32_t>> all(n);
                for (size_t i = 0; i < n; ++i) all[i] = {l2sq_row(fv, i, &qs[q * dim]), (uint32_t)i};
                std::stable_sort(all.begin(), all.end(),
                                 [](const auto& a, const auto& b) { return a.first < b.first; });
                size_t top = std::min(k, n);
                REQUIRE(got[q].size() == top);
                for (size_t i = 0; i < top; ++i) {
                    CHECK(got[q][i].index == all[i].second);
                    CHECK(got[q][i].distance == std::sqrt(all[i].first));
                    CHECK(got1[q][i].index == got[q][i].index);
                }
            }
        }
    }
    CHECK(euclidean_knn(FeatureView{db.data(), n, dim, FeatureType::F32}, qs.data(), 3).size() == 3);
}
