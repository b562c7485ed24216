// tests/search/test_euclid_search.cpp -- squared-L2 kernels and exhaustive Euclidean k-NN.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
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

// The exact reference for real-valued data: squared distances in double precision, ranked by
// (distance, index). `scale` is the sum of magnitudes the float formula adds up,
// ||x||^2 + ||q||^2 + 2|x.q|, which bounds its rounding error (see below).
struct RefDist {
    double d2, scale;
    uint32_t index;
};
static std::vector<RefDist> reference_ranking(const FeatureView& fv, const float* q) {
    std::vector<float> x((size_t)fv.dim);
    std::vector<RefDist> all(fv.n);
    for (size_t i = 0; i < fv.n; ++i) {
        if (fv.type == FeatureType::F32) {
            std::copy((const float*)fv.row(i), (const float*)fv.row(i) + fv.dim, x.begin());
        } else {
            halves_to_floats((const uint16_t*)fv.row(i), (size_t)fv.dim, x.data());
        }
        double d2 = 0, xx = 0, qq = 0, xq = 0;
        for (int d = 0; d < fv.dim; ++d) {
            d2 += ((double)x[d] - q[d]) * ((double)x[d] - q[d]);
            xx += (double)x[d] * x[d];
            qq += (double)q[d] * q[d];
            xq += (double)x[d] * q[d];
        }
        all[i] = RefDist{d2, xx + qq + 2 * std::fabs(xq), (uint32_t)i};
    }
    std::sort(all.begin(), all.end(), [](const RefDist& a, const RefDist& b) {
        return a.d2 < b.d2 || (a.d2 == b.d2 && a.index < b.index);
    });
    return all;
}

TEST_CASE("euclidean_knn on real-valued data: top-k indices and order equal a brute-force ranking, D > 256") {
    // The search computes ||x||^2 + ||q||^2 - 2 x.q in float, chunk by chunk (256 dimensions),
    // which rounds differently from the exact distance. Tolerance rule: the reference is the
    // exact ranking (double precision, ties by index); the float result may misorder two items
    // only when their exact squared distances are within float rounding of each other, taken as
    // tol = 64 * 2^-24 * (||x||^2 + ||q||^2 + 2|x.q|), the larger of the two items' (64 float
    // ulps of the magnitudes the formula sums; the error measured on this data is below 4 ulps
    // with the AVX2 kernel and below 12 with the portable one, while the median gap between
    // neighbouring distances in the top 100 is above 300 ulps). Then, for each rank i:
    //   - the returned item's exact distance is within tol of the i-th exact distance (so the
    //     set and the order are right up to such near ties), and its returned distance too;
    //   - where the i-th exact distance is more than 2 tol away from both neighbours (no near
    //     tie), the returned index must be exactly the reference's;
    // and at least half of the ranks must be of that exact kind, so the check is not vacuous
    // (about 70% are at k = 100 and D = 2053, where the distances are densest; nearly all at k = 10).
    Rng rng(54);
    const size_t n = 1500, nq = 20;  // 20 queries: one full group of 16 and a partial one
    for (int dim : {256, 300, 1000, 2053}) {
        std::vector<float> db(n * dim), qs(nq * dim);
        for (auto& v : db) v = rng.uniform(0.0f, 1.0f);
        for (auto& v : qs) v = rng.uniform(0.0f, 1.0f);
        std::vector<uint16_t> dbh(db.size());
        floats_to_halves(db.data(), db.size(), dbh.data());
        for (FeatureType t : {FeatureType::F32, FeatureType::F16}) {
            FeatureView fv{t == FeatureType::F32 ? (const void*)db.data() : (const void*)dbh.data(), n, dim, t};
            for (size_t k : {(size_t)10, (size_t)100}) {
                auto got = euclidean_knn_batch(fv, qs.data(), nq, k, SearchOptions{2, 0});
                size_t exact = 0, tolerant = 0;
                for (size_t q = 0; q < nq; ++q) {
                    CAPTURE(dim);
                    CAPTURE(k);
                    CAPTURE(q);
                    const auto ref = reference_ranking(fv, &qs[q * dim]);
                    std::vector<const RefDist*> by_index(n);
                    for (const auto& r : ref) by_index[r.index] = &r;
                    REQUIRE(got[q].size() == k);
                    std::vector<uint32_t> seen;
                    for (size_t i = 0; i < k; ++i) {
                        CAPTURE(i);
                        const RefDist& want = ref[i];
                        const RefDist& have = *by_index[got[q][i].index];
                        seen.push_back(got[q][i].index);
                        const double tol = 64 * 0x1p-24 * std::max(want.scale, have.scale);
                        CHECK(std::fabs(have.d2 - want.d2) <= tol);
                        CHECK(std::fabs((double)got[q][i].distance * got[q][i].distance - have.d2) <= tol);
                        const bool alone = (i == 0 || want.d2 - ref[i - 1].d2 > 2 * tol) &&
                                           (i + 1 == n || ref[i + 1].d2 - want.d2 > 2 * tol);
                        if (alone) {
                            CHECK(got[q][i].index == want.index);
                            ++exact;
                        } else {
                            ++tolerant;
                        }
                    }
                    std::sort(seen.begin(), seen.end());
                    CHECK(std::unique(seen.begin(), seen.end()) == seen.end());  // no item twice
                }
                CAPTURE(tolerant);
                CHECK(exact >= (exact + tolerant) / 2);
            }
        }
    }
}

TEST_CASE("euclidean_knn: a huge k gives min(k, N) hits (review: k = SIZE_MAX terminated the process)") {
    std::vector<float> f(10 * 4);
    for (size_t i = 0; i < f.size(); ++i) f[i] = (float)(i % 7);
    FeatureView fv{f.data(), 10, 4, FeatureType::F32};
    std::vector<float> qs(40 * 4, 0.5f);
    for (size_t k : {SIZE_MAX, SIZE_MAX / 2, (size_t)1 << 40, (size_t)1 << 30, (size_t)11}) {
        CAPTURE(k);
        auto one = euclidean_knn(fv, qs.data(), k);
        REQUIRE(one.size() == 10);
        auto all = euclidean_knn(fv, qs.data(), 10);
        for (size_t i = 0; i < 10; ++i) CHECK(one[i].index == all[i].index);
        auto batch = euclidean_knn_batch(fv, qs.data(), 40, k, SearchOptions{2, 0});
        REQUIRE(batch.size() == 40);
        for (const auto& r : batch) CHECK(r.size() == 10);
    }
    CHECK(euclidean_knn(fv, qs.data(), 0).empty());
    FeatureView empty{f.data(), 0, 4, FeatureType::F32};
    CHECK(euclidean_knn(empty, qs.data(), SIZE_MAX).empty());
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
