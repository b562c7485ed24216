// tests/search/test_hamming_search.cpp -- Hamming k-NN and radius search against brute force.
#include <doctest/doctest.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "hash/code.h"
#include "hash/hamming.h"
#include "search/hamming_filter.h"
#include "search/hamming_search.h"
#include "search/parallel.h"
#include "nn/rng.h"

using namespace dlbhc;

namespace {

// n codes of `bits` bits; with `centers` > 0 every code is one of a few centres with a few bits
// flipped, which gives many equal distances (ties).
CodeSet make_codes(Rng& rng, size_t n, int bits, int centers) {
    CodeSet s(bits);
    s.resize(n);
    const int W = s.words();
    std::vector<uint64_t> c((size_t)std::max(centers, 1) * W);
    for (auto& w : c) w = rng.next_u64();
    for (size_t i = 0; i < n; ++i) {
        uint64_t* code = s.code(i);
        const uint64_t* base = &c[(size_t)(centers ? rng.below((uint32_t)centers) : 0) * W];
        for (int w = 0; w < W; ++w) code[w] = centers ? base[w] : rng.next_u64();
        if (centers)
            for (int f = (int)rng.below(4); f > 0; --f) {
                int b = (int)rng.below((uint32_t)bits);
                code[b / 64] ^= 1ull << (b % 64);
            }
        if (bits % 64) code[W - 1] &= (1ull << (bits % 64)) - 1;
    }
    return s;
}

// The reference: every distance by the portable function, a stable sort, the first k.
std::vector<HammingHit> brute_knn(const CodeView& db, const uint64_t* q, size_t k) {
    std::vector<HammingHit> all(db.n);
    for (size_t i = 0; i < db.n; ++i) all[i] = HammingHit{(uint32_t)i, (uint32_t)hamming_distance(q, db.code(i), db.words)};
    std::stable_sort(all.begin(), all.end(), [](const HammingHit& a, const HammingHit& b) { return a.distance < b.distance; });
    if (all.size() > k) all.resize(k);
    return all;
}

std::vector<HammingHit> brute_radius(const CodeView& db, const uint64_t* q, int r, RadiusRule rule) {
    auto all = brute_knn(db, q, db.n);
    std::vector<HammingHit> out;
    for (auto& h : all)
        if (rule == RadiusRule::AtMost ? (int)h.distance <= r : (int)h.distance < r) out.push_back(h);
    return out;
}

struct KernelGuard {  // restores the active kernel after a test forces one
    HammingKernel saved = hamming_active_kernel();
    ~KernelGuard() { hamming_force_kernel(saved); }
};

}  // namespace

TEST_CASE("hamming_knn equals a stable brute-force sort (ties by database order)") {
    Rng rng(31);
    struct Case {
        int bits;
        size_t n;
        int centers;
    };
    // 12 bits: only 13 possible distances, ties everywhere; 20000 codes span several blocks.
    const Case cases[] = {{12, 20000, 0}, {48, 9000, 5}, {64, 17000, 3}, {100, 3000, 4},
                          {128, 9000, 0}, {130, 2000, 2}, {256, 5000, 6}, {520, 700, 2}};
    for (const auto& c : cases) {
        CAPTURE(c.bits);
        CodeSet db = make_codes(rng, c.n, c.bits, c.centers);
        CodeSet qs = make_codes(rng, 5, c.bits, c.centers);
        for (size_t k : {(size_t)0, (size_t)1, (size_t)7, (size_t)100, (size_t)1000, c.n, c.n + 3}) {
            CAPTURE(k);
            auto batch = hamming_knn_batch(db.view(), qs.view(), k);
            for (size_t q = 0; q < qs.size(); ++q) {
                auto want = brute_knn(db.view(), qs.code(q), k);
                CHECK(batch[q] == want);
                if (q == 0) CHECK(hamming_knn(db.view(), qs.code(q), k) == want);
            }
        }
    }
}

TEST_CASE("hamming_knn: the same answer with every kernel and any number of threads") {
    KernelGuard guard;
    Rng rng(32);
    CodeSet db = make_codes(rng, 12000, 64, 4);
    CodeSet qs = make_codes(rng, 37, 64, 4);  // not a multiple of the query group
    auto want = hamming_knn_batch(db.view(), qs.view(), 50, SearchOptions{1, 0});
    for (int ki = 0; ki < kHammingKernelCount; ++ki) {
        if (!hamming_kernel_supported((HammingKernel)ki)) continue;
        hamming_force_kernel((HammingKernel)ki);
        for (int threads : {1, 2, 3}) {
            std::string kernel = hamming_kernel_name((HammingKernel)ki);
            CAPTURE(kernel);
            CAPTURE(threads);
            CHECK(hamming_knn_batch(db.view(), qs.view(), 50, SearchOptions{threads, 0}) == want);
        }
    }
}

TEST_CASE("hamming_radius: d < r and d <= r against brute force") {
    Rng rng(33);
    for (int bits : {12, 64, 130}) {
        CodeSet db = make_codes(rng, 10000, bits, 3);
        CodeSet qs = make_codes(rng, 4, bits, 3);
        for (int r : {0, 1, 3, 6, bits}) {
            for (RadiusRule rule : {RadiusRule::LessThan, RadiusRule::AtMost}) {
                CAPTURE(bits);
                CAPTURE(r);
                auto batch = hamming_radius_batch(db.view(), qs.view(), r, rule);
                for (size_t q = 0; q < qs.size(); ++q) {
                    auto want = brute_radius(db.view(), qs.code(q), r, rule);
                    CHECK(batch[q] == want);
                    CHECK(hamming_radius(db.view(), qs.code(q), r, rule) == want);
                }
            }
        }
        // The two rules differ exactly by the shell d == r.
        auto lt = hamming_radius(db.view(), qs.code(0), 4, RadiusRule::LessThan);
        auto le = hamming_radius(db.view(), qs.code(0), 4, RadiusRule::AtMost);
        auto lt5 = hamming_radius(db.view(), qs.code(0), 5, RadiusRule::LessThan);
        CHECK(le == lt5);
        for (auto& h : lt) CHECK(h.distance < 4);
    }
}

TEST_CASE("hamming_radius: r = INT_MAX, bits, bits + 1, 0 and negative, both rules (review: r + 1 overflowed)") {
    // The reviewer's case (/tmp/review-search/exp/ek.cpp): AtMost with r = INT_MAX computed
    // r + 1 (signed overflow) and returned nothing.
    CodeSet small(8);
    for (uint64_t c : {1ull, 3ull, 255ull}) small.add(&c);
    uint64_t zero = 0;
    CHECK(hamming_radius(small.view(), &zero, 100, RadiusRule::AtMost).size() == 3);
    CHECK(hamming_radius(small.view(), &zero, INT_MAX, RadiusRule::AtMost).size() == 3);

    // Negative radii are defined: no distance is negative, so the result is empty (both rules).
    Rng rng(36);
    for (int bits : {8, 64, 130, 1000}) {
        CodeSet db = make_codes(rng, 3000, bits, 3);
        CodeSet qs = make_codes(rng, 10, bits, 3);
        // The complement of query 0 is at distance B, so d == B, d <= B and d < B all differ.
        std::vector<uint64_t> comp(qs.code(0), qs.code(0) + qs.words());
        for (auto& w : comp) w = ~w;
        if (bits % 64) comp.back() &= (1ull << (bits % 64)) - 1;
        db.add(comp.data());
        const int radii[] = {INT_MAX, INT_MAX - 1, bits + 1, bits, bits - 1, 65535, 65536, 1, 0, -1, -2, INT_MIN + 1, INT_MIN};
        for (int r : radii) {
            for (RadiusRule rule : {RadiusRule::LessThan, RadiusRule::AtMost}) {
                CAPTURE(bits);
                CAPTURE(r);
                CAPTURE((int)rule);
                auto batch = hamming_radius_batch(db.view(), qs.view(), r, rule, SearchOptions{2, 0});
                REQUIRE(batch.size() == qs.size());
                for (size_t q = 0; q < qs.size(); ++q) {
                    auto want = brute_radius(db.view(), qs.code(q), r, rule);
                    CHECK(batch[q] == want);
                    CHECK(hamming_radius(db.view(), qs.code(q), r, rule) == want);
                }
                const size_t n0 = hamming_radius(db.view(), qs.code(0), r, rule).size();
                if (r < 0) CHECK(n0 == 0);
                if (r > bits || (r == bits && rule == RadiusRule::AtMost)) CHECK(n0 == db.size());
                if (r == bits && rule == RadiusRule::LessThan) {  // all but the complement(s)
                    size_t at_b = 0;
                    for (const auto& h : brute_knn(db.view(), qs.code(0), db.size())) at_b += h.distance == (uint32_t)bits;
                    CHECK(at_b >= 1);
                    CHECK(n0 == db.size() - at_b);
                }
            }
        }
    }
}

TEST_CASE("hamming_knn: a huge k gives every code, sorted (k = SIZE_MAX, 1 << 40)") {
    Rng rng(37);
    for (size_t n : {(size_t)10, (size_t)3000}) {
        CodeSet db = make_codes(rng, n, 64, 3);
        CodeSet qs = make_codes(rng, 20, 64, 3);
        for (size_t k : {SIZE_MAX, SIZE_MAX / 4 + 1, (size_t)1 << 62, (size_t)1 << 40, n + 1}) {
            CAPTURE(n);
            CAPTURE(k);
            auto batch = hamming_knn_batch(db.view(), qs.view(), k, SearchOptions{2, 0});
            for (size_t q = 0; q < qs.size(); ++q) {
                auto want = brute_knn(db.view(), qs.code(q), n);
                REQUIRE(want.size() == n);
                CHECK(batch[q] == want);
                CHECK(hamming_knn(db.view(), qs.code(q), k) == want);
            }
        }
    }
}

TEST_CASE("ParallelErrors: an exception thrown inside an OpenMP loop is rethrown after it") {
    // Without it the exception would leave the parallel region: std::terminate.
    for (bool parallel : {true, false}) {
        ParallelErrors errors;
        std::vector<int> done(64, 0);
#if defined(_OPENMP)
#pragma omp parallel for schedule(dynamic, 1) num_threads(2) if (parallel)
#endif
        for (long long i = 0; i < 64; ++i) errors.run([&] {
            if (i == 5) throw std::length_error("iteration 5");
            done[(size_t)i] = 1;
        });
        CAPTURE(parallel);
        CHECK_THROWS_WITH_AS(errors.rethrow(), "iteration 5", std::length_error);
        CHECK(done[5] == 0);
    }
    ParallelErrors none;
    none.run([] {});
    CHECK_NOTHROW(none.rethrow());
}

TEST_CASE("hamming_rank_all is the full stable ranking") {
    Rng rng(34);
    CodeSet db = make_codes(rng, 3000, 12, 0);
    CodeSet qs = make_codes(rng, 1, 12, 0);
    CHECK(hamming_rank_all(db.view(), qs.code(0)) == brute_knn(db.view(), qs.code(0), db.size()));
}

TEST_CASE("Hamming ranking: codes with unused high bits set never write past the distance counters") {
    // 48-bit codes whose unused bits 48..63 are all set: distance 16 + (the true one) from a clean
    // query, up to 64 > B. Before the fix the counting sort indexed its B + 2 counters with such a
    // distance: a heap overflow (AddressSanitizer: heap-buffer-overflow in sort_hits_by_distance),
    // and `dlbhc eval` went on with distances 16 too high.
    Rng rng(35);
    CodeSet clean = make_codes(rng, 300, 48, 0);
    std::vector<uint64_t> raw = clean.raw();
    for (size_t i = 5; i < raw.size(); i += 7) raw[i] |= code_padding_mask(48);
    const CodeView db{raw.data(), clean.size(), 48, 1};
    REQUIRE(first_code_with_padding(db) == 5);
    const uint64_t q = 0xFFFFFFFFFFFFull;  // 48 ones: item 5 is at distance 64 from it
    CHECK_THROWS_WITH_AS(hamming_rank_all(db, &q), doctest::Contains("expected Hamming distances of at most 48 (the bits per code), found"),
                         std::invalid_argument);
    std::vector<HammingHit> hits = {{0, 3}, {1, 49}, {2, 0}};
    CHECK_THROWS_WITH_AS(sort_hits_by_distance(hits, 48), "sort_hits_by_distance: expected Hamming distances of at most 48 (the bits per code), "
                                                          "found 49 for database item 1 (a code with its unused high bits set?)",
                         std::invalid_argument);
    std::vector<HammingHit> one = {{0, 1000}};
    CHECK_THROWS_AS(sort_hits_by_distance(one, 48), std::invalid_argument);
    // k-NN and radius search filter with a bound of at most B + 1: the bad codes are never
    // returned, nothing is counted beyond B.
    for (const auto& h : hamming_knn(db, &q, db.n)) CHECK(h.distance <= 48);
    for (const auto& h : hamming_radius(db, &q, INT_MAX, RadiusRule::AtMost)) CHECK(h.distance <= 48);
    // The clean codes rank as before.
    CHECK(hamming_rank_all(clean.view(), &q) == brute_knn(clean.view(), &q, clean.size()));
}

TEST_CASE("Hamming search: hand-made ties and an empty database") {
    // Codes 0..5 at distances 2, 1, 1, 0, 2, 1 from the query 0b0000.
    CodeSet db(4);
    for (uint64_t c : {0b0011ull, 0b0100ull, 0b1000ull, 0b0000ull, 0b1010ull, 0b0001ull}) db.add(&c);
    uint64_t q = 0;
    auto hits = hamming_knn(db.view(), &q, 4);
    REQUIRE(hits.size() == 4);
    CHECK(hits[0] == HammingHit{3, 0});
    CHECK(hits[1] == HammingHit{1, 1});  // the three at distance 1 in database order
    CHECK(hits[2] == HammingHit{2, 1});
    CHECK(hits[3] == HammingHit{5, 1});
    auto top2 = hamming_knn(db.view(), &q, 2);
    CHECK(top2.back() == HammingHit{1, 1});
    CodeSet empty(4);
    CHECK(hamming_knn(empty.view(), &q, 3).empty());
    CHECK(hamming_radius(empty.view(), &q, 3, RadiusRule::AtMost).empty());
}

TEST_CASE("Hamming search rejects queries of another bit count") {
    CodeSet db(64), qs(48);
    uint64_t c = 1;
    db.add(&c);
    qs.add(&c);
    CHECK_THROWS_AS(hamming_knn_batch(db.view(), qs.view(), 1), std::invalid_argument);
    CHECK_THROWS_AS(hamming_radius_batch(db.view(), qs.view(), 1, RadiusRule::AtMost), std::invalid_argument);
}

TEST_CASE("the bound filter: AVX2 version against the portable one") {
    Rng rng(35);
    const size_t sizes[] = {0, 1, 63, 64, 65, 200, 1024};
    for (size_t n : sizes) {
        std::vector<uint16_t> d(n);
        for (auto& v : d) v = (uint16_t)(rng.below(8) == 0 ? rng.below(70000) : 20 + rng.below(40));
        for (int bound : {-1, 0, 1, 21, 30, 59, 65535, 65536, 70000}) {
            CAPTURE(n);
            CAPTURE(bound);
            std::vector<uint32_t> i1(n + 1), i2(n + 1);
            std::vector<uint16_t> d1(n + 1), d2(n + 1);
            size_t c1 = detail::hamming_filter_portable(d.data(), n, 1000, bound, i1.data(), d1.data());
            size_t want = 0;
            for (size_t i = 0; i < n; ++i) want += (int)d[i] < bound;
            CHECK(c1 == want);
#if defined(__x86_64__)  // the AVX2 filter exists only in x86-64 builds
            if (!detail::hamming_filter_avx2_supported()) continue;
            size_t c2 = detail::hamming_filter_avx2(d.data(), n, 1000, bound, i2.data(), d2.data());
            REQUIRE(c2 == c1);
            for (size_t i = 0; i < c1; ++i) {
                CHECK(i1[i] == i2[i]);
                CHECK(d1[i] == d2[i]);
            }
#endif
        }
    }
    if (!detail::hamming_filter_avx2_supported())
        MESSAGE("AVX2 filter skipped: not an x86-64 build, or not supported by this CPU");
}

TEST_CASE("HammingTopK: decreasing distances force the list to be cut mid-scan") {
    // Every new distance beats the bound, so candidates pile up and shrink() runs many times.
    const int bits = 1000;
    const size_t n = 30000;
    std::vector<uint16_t> d(n);
    for (size_t i = 0; i < n; ++i) d[i] = (uint16_t)(bits - i / 40);  // runs of 40 equal values
    for (size_t k : {(size_t)1, (size_t)5, (size_t)64, (size_t)300}) {
        HammingTopK topk(k, bits);
        for (size_t b = 0; b < n; b += 777) topk.add_block(&d[b], std::min<size_t>(777, n - b), (uint32_t)b);
        std::vector<HammingHit> want(n);
        for (size_t i = 0; i < n; ++i) want[i] = HammingHit{(uint32_t)i, d[i]};
        std::stable_sort(want.begin(), want.end(), [](const HammingHit& a, const HammingHit& b) { return a.distance < b.distance; });
        want.resize(k);
        CAPTURE(k);
        CHECK(topk.result() == want);
    }
}
