// tests/search/test_hierarchical.cpp -- coarse-to-fine search against a brute-force two-step
// reference written with plain loops.
#include <doctest/doctest.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "hash/code.h"
#include "hash/hamming.h"
#include "nn/rng.h"
#include "search/float16.h"
#include "search/hierarchical.h"
#include "search/l2.h"

using namespace dlbhc;

namespace {

struct Data {
    CodeSet codes{16};
    std::vector<float> feats;
    int dim = 24;
    size_t n = 0;
};

// Codes of 16 bits derived from the features (so the two stages are related, as in the paper),
// plus noise; features in a few clusters.
Data make_data(Rng& rng, size_t n, int dim) {
    Data d;
    d.dim = dim;
    d.n = n;
    d.feats.resize(n * dim);
    std::vector<float> act(16);
    for (size_t i = 0; i < n; ++i) {
        int c = (int)rng.below(5);
        for (int j = 0; j < dim; ++j) d.feats[i * dim + j] = (float)((c * 7 + j) % 5) + rng.gaussian(0, 0.5f);
        for (int b = 0; b < 16; ++b) act[b] = d.feats[i * dim + b % dim] / 5.0f + rng.gaussian(0, 0.2f);
        d.codes.add_activations(act.data(), 1);
    }
    return d;
}

// Reference: pool by plain loops, fine ranking by a stable sort on the kernel's distances.
std::vector<HierarchicalHit> reference(const Data& d, const FeatureView& fv, const uint64_t* qc, const float* qf,
                                       size_t k, int t, RadiusRule rule, size_t* pool_size) {
    std::vector<HierarchicalHit> pool;
    for (size_t i = 0; i < d.n; ++i) {
        int h = hamming_distance(qc, d.codes.code(i), 1);
        if (rule == RadiusRule::LessThan ? h < t : h <= t) pool.push_back({(uint32_t)i, (uint32_t)h, l2sq_row(fv, i, qf)});
    }
    *pool_size = pool.size();
    std::stable_sort(pool.begin(), pool.end(), [](const auto& a, const auto& b) { return a.euclidean < b.euclidean; });
    if (pool.size() > k) pool.resize(k);
    for (auto& h : pool) h.euclidean = std::sqrt(h.euclidean);
    return pool;
}

void check_same(const std::vector<HierarchicalHit>& got, const std::vector<HierarchicalHit>& want) {
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < got.size(); ++i) {
        CHECK(got[i].index == want[i].index);
        CHECK(got[i].hamming == want[i].hamming);
        CHECK(got[i].euclidean == want[i].euclidean);
    }
}

}  // namespace

TEST_CASE("hierarchical search (threshold pool) equals the two-step brute force") {
    Rng rng(61);
    Data d = make_data(rng, 3000, 24);
    Data q = make_data(rng, 12, 24);
    std::vector<uint16_t> half(d.feats.size());
    floats_to_halves(d.feats.data(), d.feats.size(), half.data());
    for (FeatureType t : {FeatureType::F32, FeatureType::F16}) {
        FeatureView fv{t == FeatureType::F32 ? (const void*)d.feats.data() : (const void*)half.data(), d.n, d.dim, t};
        for (int thr : {2, 4, 6}) {
            for (RadiusRule rule : {RadiusRule::LessThan, RadiusRule::AtMost}) {
                HierarchicalOptions opt;
                opt.threshold = thr;
                opt.rule = rule;
                opt.min_pool = 0;  // no widening here
                auto res = hierarchical_search_batch(d.codes.view(), fv, q.codes.view(), q.feats.data(), 10, opt,
                                                     SearchOptions{2, 0});
                for (size_t i = 0; i < q.n; ++i) {
                    CAPTURE(thr);
                    size_t pool = 0;
                    auto want = reference(d, fv, q.codes.code(i), &q.feats[i * d.dim], 10, thr, rule, &pool);
                    CHECK(res[i].pool_size == pool);
                    CHECK(!res[i].widened);
                    check_same(res[i].hits, want);
                }
            }
        }
    }
}

TEST_CASE("hierarchical search widens an empty pool to the nearest shell") {
    Rng rng(62);
    Data d = make_data(rng, 500, 24);
    FeatureView fv{d.feats.data(), d.n, d.dim, FeatureType::F32};
    // A query code far from everything: complement of item 0.
    uint64_t qc = ~d.codes.code(0)[0] & 0xffffu;
    int nearest = 99;
    for (size_t i = 0; i < d.n; ++i) nearest = std::min(nearest, hamming_distance(&qc, d.codes.code(i), 1));
    REQUIRE(nearest > 0);
    HierarchicalOptions opt;
    opt.threshold = 0;  // d < 0: always empty
    auto r = hierarchical_search(d.codes.view(), fv, &qc, d.feats.data(), 5, opt);
    CHECK(r.widened);
    CHECK(r.threshold_used == nearest + 1);  // in the LessThan convention
    size_t pool = 0;
    auto want = reference(d, fv, &qc, d.feats.data(), 5, nearest, RadiusRule::AtMost, &pool);
    CHECK(r.pool_size == pool);
    check_same(r.hits, want);
    // min_pool larger than one shell: widened until at least 50 candidates.
    opt.min_pool = 50;
    auto r50 = hierarchical_search(d.codes.view(), fv, &qc, d.feats.data(), 5, opt);
    CHECK(r50.pool_size >= 50);
    auto want50 = reference(d, fv, &qc, d.feats.data(), 5, r50.threshold_used, RadiusRule::LessThan, &pool);
    CHECK(r50.pool_size == pool);
    check_same(r50.hits, want50);
}

TEST_CASE("hierarchical search with a top-m pool") {
    Rng rng(63);
    Data d = make_data(rng, 2000, 24);
    Data q = make_data(rng, 5, 24);
    FeatureView fv{d.feats.data(), d.n, d.dim, FeatureType::F32};
    HierarchicalOptions opt;
    opt.pool = HierarchicalOptions::Pool::TopM;
    opt.m = 100;
    auto res = hierarchical_search_batch(d.codes.view(), fv, q.codes.view(), q.feats.data(), 10, opt);
    for (size_t i = 0; i < q.n; ++i) {
        // Reference pool: the 100 nearest codes by stable sort.
        std::vector<std::pair<int, uint32_t>> all;
        for (size_t j = 0; j < d.n; ++j) all.push_back({hamming_distance(q.codes.code(i), d.codes.code(j), 1), (uint32_t)j});
        std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
        std::vector<HierarchicalHit> pool;
        for (size_t j = 0; j < 100; ++j)
            pool.push_back({all[j].second, (uint32_t)all[j].first, l2sq_row(fv, all[j].second, &q.feats[i * d.dim])});
        std::stable_sort(pool.begin(), pool.end(), [](const auto& a, const auto& b) {
            return a.euclidean < b.euclidean || (a.euclidean == b.euclidean && a.index < b.index);
        });
        pool.resize(10);
        for (auto& h : pool) h.euclidean = std::sqrt(h.euclidean);
        CHECK(res[i].pool_size == 100);
        CHECK(res[i].threshold_used == all[99].first);
        check_same(res[i].hits, pool);
    }
}

TEST_CASE("hierarchical search: no widening when the pool already holds every item (N < min_pool)") {
    // The reviewer's case (/tmp/review-search/exp/ek.cpp): 2 items within the threshold and
    // min_pool = 10. The pool cannot grow, yet it was "widened" and reported threshold_used = 2,
    // below the requested 8.
    CodeSet cs(8);
    for (uint64_t c : {1ull, 3ull}) cs.add(&c);  // distances 1 and 2 from the query 0
    std::vector<float> f(2 * 4, 0.f);
    f[4] = 1;
    FeatureView fv{f.data(), 2, 4, FeatureType::F32};
    uint64_t q = 0;
    float qf[4] = {};
    for (RadiusRule rule : {RadiusRule::LessThan, RadiusRule::AtMost}) {
        CAPTURE((int)rule);
        HierarchicalOptions o;
        o.threshold = 8;
        o.rule = rule;
        o.min_pool = 10;
        auto r = hierarchical_search(cs.view(), fv, &q, qf, 5, o);
        CHECK(r.pool_size == 2);
        CHECK(!r.widened);
        CHECK(r.threshold_used == 8);
        REQUIRE(r.hits.size() == 2);
        CHECK(r.hits[0].index == 0);
        // A threshold that holds only one of the two: widening to both is real; the threshold
        // used grows from the requested one, never shrinks.
        o.threshold = rule == RadiusRule::LessThan ? 2 : 1;
        auto w = hierarchical_search(cs.view(), fv, &q, qf, 5, o);
        CHECK(w.pool_size == 2);
        CHECK(w.widened);
        CHECK(w.threshold_used == (rule == RadiusRule::LessThan ? 3 : 2));
        CHECK(w.threshold_used > o.threshold);
        // min_pool = N exactly, and larger, with every item already in: no widening either.
        o.threshold = 8;
        for (size_t mp : {(size_t)2, (size_t)3, SIZE_MAX}) {
            o.min_pool = mp;
            auto x = hierarchical_search(cs.view(), fv, &q, qf, 5, o);
            CHECK(!x.widened);
            CHECK(x.threshold_used == 8);
            CHECK(x.pool_size == 2);
        }
    }
    // On a larger database, with queries whose pools range from empty to everything: the
    // threshold used is never below the requested one, and "widened" means the pool grew.
    Rng rng(64);
    Data d = make_data(rng, 300, 24);
    Data qd = make_data(rng, 8, 24);
    FeatureView dv{d.feats.data(), d.n, d.dim, FeatureType::F32};
    for (int thr : {-5, 0, 1, 3, 8, 16, 17, 100}) {
        for (RadiusRule rule : {RadiusRule::LessThan, RadiusRule::AtMost}) {
            for (size_t mp : {(size_t)0, (size_t)1, (size_t)50, (size_t)299, (size_t)300, (size_t)301, SIZE_MAX}) {
                CAPTURE(thr);
                CAPTURE((int)rule);
                CAPTURE(mp);
                HierarchicalOptions o;
                o.threshold = thr;
                o.rule = rule;
                o.min_pool = mp;
                auto res = hierarchical_search_batch(d.codes.view(), dv, qd.codes.view(), qd.feats.data(), 7, o,
                                                     SearchOptions{2, 0});
                for (size_t i = 0; i < qd.n; ++i) {
                    size_t plain = 0;
                    reference(d, dv, qd.codes.code(i), &qd.feats[i * d.dim], 7, thr, rule, &plain);
                    CHECK(res[i].threshold_used >= thr);
                    CHECK(res[i].widened == (plain < std::min(mp, d.n)));
                    CHECK(res[i].pool_size >= std::min(mp, d.n));
                    if (!res[i].widened) CHECK(res[i].threshold_used == thr);
                    if (!res[i].widened) CHECK(res[i].pool_size == plain);
                    size_t pool = 0;
                    auto want = reference(d, dv, qd.codes.code(i), &qd.feats[i * d.dim], 7, res[i].threshold_used, rule,
                                          &pool);
                    CHECK(res[i].pool_size == pool);
                    check_same(res[i].hits, want);
                }
            }
        }
    }
}

TEST_CASE("hierarchical search: extreme thresholds, negative thresholds and a huge k or m") {
    Rng rng(65);
    Data d = make_data(rng, 10, 24);
    FeatureView fv{d.feats.data(), d.n, d.dim, FeatureType::F32};
    const uint64_t* qc = d.codes.code(3);
    const float* qf = &d.feats[3 * d.dim];
    size_t all_pool = 0;
    auto all = reference(d, fv, qc, qf, d.n, INT_MAX, RadiusRule::AtMost, &all_pool);
    REQUIRE(all_pool == 10);
    for (RadiusRule rule : {RadiusRule::LessThan, RadiusRule::AtMost}) {
        CAPTURE((int)rule);
        HierarchicalOptions o;
        o.rule = rule;
        o.min_pool = 0;
        // t = INT_MAX (AtMost computed t + 1 and overflowed: an empty pool), t = B, B + 1.
        for (int t : {INT_MAX, INT_MAX - 1, 17, 16}) {
            CAPTURE(t);
            o.threshold = t;
            auto r = hierarchical_search(d.codes.view(), fv, qc, qf, SIZE_MAX, o);
            size_t pool = 0;
            auto want = reference(d, fv, qc, qf, SIZE_MAX, t, rule, &pool);
            CHECK(r.pool_size == pool);
            CHECK(r.threshold_used == t);
            CHECK(!r.widened);
            check_same(r.hits, want);
            if (t > 16) check_same(r.hits, all);
        }
        // A negative threshold: an empty pool (no distance is negative), then widened as usual.
        for (int t : {-1, INT_MIN}) {
            CAPTURE(t);
            o.threshold = t;
            o.min_pool = 0;
            auto r = hierarchical_search(d.codes.view(), fv, qc, qf, 5, o);
            CHECK(r.pool_size == 0);
            CHECK(r.hits.empty());
            CHECK(!r.widened);
            o.min_pool = 1;
            auto w = hierarchical_search(d.codes.view(), fv, qc, qf, 5, o);
            CHECK(w.widened);
            CHECK(w.pool_size >= 1);
            CHECK(w.threshold_used > t);
        }
    }
    // k = SIZE_MAX: every pooled item; m = SIZE_MAX: every item; min_pool = SIZE_MAX: every item.
    HierarchicalOptions o;
    o.threshold = 100;
    auto r = hierarchical_search(d.codes.view(), fv, qc, qf, SIZE_MAX, o);
    CHECK(r.pool_size == 10);
    check_same(r.hits, all);
    o.pool = HierarchicalOptions::Pool::TopM;
    for (size_t m : {SIZE_MAX, (size_t)1 << 40}) {
        o.m = m;
        auto t = hierarchical_search(d.codes.view(), fv, qc, qf, SIZE_MAX, o);
        CHECK(t.pool_size == 10);
        check_same(t.hits, all);
    }
    o.pool = HierarchicalOptions::Pool::Radius;
    o.threshold = 0;
    o.min_pool = SIZE_MAX;
    auto w = hierarchical_search(d.codes.view(), fv, qc, qf, (size_t)1 << 40, o);
    CHECK(w.pool_size == 10);
    CHECK(w.widened);
    check_same(w.hits, all);
}

TEST_CASE("hierarchical search checks its inputs") {
    CodeSet codes(16);
    uint64_t c = 1;
    codes.add(&c);
    std::vector<float> f(2 * 4, 0.0f);
    FeatureView fv{f.data(), 2, 4, FeatureType::F32};  // 2 rows for 1 code
    CHECK_THROWS_AS(hierarchical_search(codes.view(), fv, &c, f.data(), 1, HierarchicalOptions{}), std::invalid_argument);
}
