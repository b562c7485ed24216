// tests/search/test_mih.cpp -- multi-index hashing (search/mih.h) against the linear scan: the same hits
// in the same (distance, index) order, ties included.
#include <doctest/doctest.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>

#include "apps/commands.h"
#include "formats/caffe_spec.h"
#include "formats/net_builder.h"
#include "formats/weights_file.h"
#include "hash/code.h"
#include "nn/rng.h"
#include "search/hamming_search.h"
#include "search/hierarchical.h"
#include "search/mih.h"
#include "tests/support/commands.h"
#include "tests/support/test_files.h"
#include "tests/support/tiny_net.h"

using namespace dlbhc;

namespace {

// n codes of `bits` bits; clustered: each is one of 5 centres with 0-3 bits flipped, so there are
// many duplicates and equal distances (ties).
CodeSet random_codes(Rng& rng, size_t n, int bits, bool clustered) {
    CodeSet s(bits);
    const int W = s.words();
    std::vector<uint64_t> centres(5 * size_t(W)), c = std::vector<uint64_t>(size_t(W));
    for (auto& w : centres) w = rng.next_u64();
    for (size_t i = 0; i < n; ++i) {
        const uint64_t* base = &centres[rng.below(5) * size_t(W)];
        for (int w = 0; w < W; ++w) c[size_t(w)] = clustered ? base[w] : rng.next_u64();
        if (clustered)
            for (int f = (int)rng.below(4); f > 0; --f) {
                const int b = (int)rng.below(uint32_t(bits));
                c[size_t(b / 64)] ^= 1ull << (b % 64);
            }
        s.add(c.data());  // clears the unused high bits
    }
    return s;
}

// Queries: random codes, and database codes with 0-4 bits flipped (near and exact duplicates).
CodeSet make_queries(Rng& rng, const CodeSet& db, int count) {
    CodeSet q(db.bits());
    std::vector<uint64_t> c(size_t(db.words()));
    for (int i = 0; i < count; ++i) {
        for (auto& w : c) w = rng.next_u64();
        if (db.size() && i % 2) {
            const uint64_t* src = db.code(rng.below(uint32_t(db.size())));
            std::copy(src, src + db.words(), c.begin());
            for (int f = (int)rng.below(5); f > 0; --f) {
                const int b = (int)rng.below(uint32_t(db.bits()));
                c[size_t(b / 64)] ^= 1ull << (b % 64);
            }
        }
        q.add(c.data());
    }
    return q;
}

int longest_substring(const MultiIndex& mih) { return (mih.codes().bits + mih.substrings() - 1) / mih.substrings(); }

// Every k-NN and radius search of mih equals the linear scan for every query.
void check_same_as_linear(const MultiIndex& mih, const CodeSet& queries, const std::vector<int>& radii) {
    const CodeView db = mih.codes();
    for (size_t qi = 0; qi < queries.size(); ++qi) {
        const uint64_t* q = queries.code(qi);
        for (size_t k : {size_t(1), size_t(10), db.n + 5}) {
            CAPTURE(k);
            REQUIRE(mih.knn(q, k) == hamming_knn(db, q, k));
        }
        for (int r : radii)
            for (RadiusRule rule : {RadiusRule::LessThan, RadiusRule::AtMost}) {
                CAPTURE(r);
                REQUIRE(mih.radius(q, r, rule) == hamming_radius(db, q, r, rule));
            }
    }
}

}  // namespace

TEST_CASE("mih: k-NN and radius search identical to the linear scan (default m, random and clustered codes)") {
    Rng rng(1412);
    for (int B : {8, 32, 48, 64, 128, 130})
        for (size_t N : {size_t(0), size_t(1), size_t(100), size_t(5000)})
            for (bool clustered : {false, true}) {
                CAPTURE(B);
                CAPTURE(N);
                CAPTURE(clustered);
                const CodeSet db = random_codes(rng, N, B, clustered);
                const CodeSet queries = make_queries(rng, db, N >= 5000 ? 10 : 20);
                const std::vector<int> radii = {0, 1, 3, B};
                for (bool fallback : {true, false}) {
                    CAPTURE(fallback);
                    MihOptions o;
                    o.linear_fallback = fallback;
                    const MultiIndex mih(db.view(), o);
                    CHECK(mih.substrings() == MultiIndex::default_substrings(N, B));
                    // Without the fallback every search probes up to 2^len values per table: only
                    // where that stays small (long substrings are the fallback's job).
                    if (!fallback && longest_substring(mih) > 16) continue;
                    check_same_as_linear(mih, queries, radii);
                }
            }
}

TEST_CASE("mih: any explicit m from 1 to 8 gives the linear scan's results") {
    Rng rng(77);
    for (int B : {8, 32, 64})
        for (bool clustered : {false, true}) {
            const CodeSet db = random_codes(rng, 2000, B, clustered);
            const CodeSet queries = make_queries(rng, db, 12);
            for (int m = 1; m <= 8; ++m) {
                CAPTURE(B);
                CAPTURE(clustered);
                CAPTURE(m);
                MihOptions o;
                o.m = m;
                if ((B + m - 1) / m > 32) {  // a substring of more than 32 bits: refused
                    CHECK_THROWS_AS(MultiIndex(db.view(), o), std::invalid_argument);
                    continue;
                }
                for (bool fallback : {true, false}) {
                    o.linear_fallback = fallback;
                    const MultiIndex mih(db.view(), o);
                    REQUIRE(mih.substrings() == m);
                    if (!fallback && longest_substring(mih) > 16) continue;
                    check_same_as_linear(mih, queries, {0, 1, 3, 5, B});
                }
            }
        }
}

TEST_CASE("mih: substring count, bad m and out-of-range radii") {
    CHECK(MultiIndex::default_substrings(1000000, 64) == 3);   // 64 / 19.93
    CHECK(MultiIndex::default_substrings(1000000, 128) == 6);  // 128 / 19.93
    CHECK(MultiIndex::default_substrings(0, 64) == 2);         // N < 2: the fewest substrings of <= 32 bits
    CHECK(MultiIndex::default_substrings(2, 8) == 8);          // log2 N = 1: one bit each
    CHECK(MultiIndex::default_substrings(1u << 20, 4096) == 205);
    Rng rng(5);
    const CodeSet db = random_codes(rng, 300, 40, true);
    MihOptions o;
    o.m = 41;
    CHECK_THROWS_AS(MultiIndex(db.view(), o), std::invalid_argument);
    o.m = -1;
    CHECK_THROWS_AS(MultiIndex(db.view(), o), std::invalid_argument);
    o.m = 0;
    o.linear_fallback = false;
    const MultiIndex mih(db.view(), o);
    const uint64_t* q = db.code(7);
    for (int r : {INT_MIN, -1, 0, 41, 1000, INT_MAX})
        for (RadiusRule rule : {RadiusRule::LessThan, RadiusRule::AtMost})
            CHECK(mih.radius(q, r, rule) == hamming_radius(db.view(), q, r, rule));
    CHECK(mih.knn(q, 0).empty());
    CHECK(mih.knn(q, SIZE_MAX) == hamming_knn(db.view(), q, SIZE_MAX));
}

TEST_CASE("mih: sublinear -- small radii on 100,000 random 64-bit codes verify far fewer than N codes") {
    Rng rng(2012);
    const size_t N = 100000;
    const CodeSet db = random_codes(rng, N, 64, false);
    const MultiIndex mih(db.view());
    REQUIRE(mih.substrings() == 4);  // round(64 / log2 1e5) = round(3.85): 16-bit substrings
    const CodeSet queries = make_queries(rng, db, 20);
    size_t most = 0;
    for (size_t qi = 0; qi < queries.size(); ++qi)
        for (int r : {0, 1, 3, 7}) {
            MihStats st;
            REQUIRE(mih.radius(queries.code(qi), r, RadiusRule::AtMost, &st) ==
                    hamming_radius(db.view(), queries.code(qi), r, RadiusRule::AtMost));
            CHECK_FALSE(st.linear);
            most = std::max(most, st.candidates);
        }
    // r <= 7 probes radius <= 1 in each 16-bit table: about 4 * 17 * N / 2^16 ~ 100 candidates.
    CHECK(most < N / 100);
    MESSAGE("most candidates verified for r <= 7: " << most << " of " << N);
    // 1-NN (pure MIH, no switch to the scan): the nearest of 100,000 random codes is ~13 bits away,
    // which probes radius <= 3 per table: thousands of candidates, not N.
    MihOptions pure;
    pure.linear_fallback = false;
    const MultiIndex mih_pure(db.view(), pure);
    for (size_t qi = 0; qi < 4; ++qi) {
        MihStats st;
        REQUIRE(mih_pure.knn(queries.code(qi), 1, &st) == hamming_knn(db.view(), queries.code(qi), 1));
        CHECK(st.candidates < N / 8);
    }
}

namespace {

// The tiny net (tests/support/tiny_net.h): 8-bit codes (many ties among 300 items), 16-d features.
const std::string kMihNet = dlbhc::test::tiny_net_prototxt({"Tiny", "train", 4, 4, 16, 8, 4});

}  // namespace

TEST_CASE("mih: `dlbhc query --mih` prints exactly what the linear search prints (coarse and coarse + fine)") {
    using dlbhc::test::TempDir;
    TempDir d;
    const std::string net = d.file("net.prototxt"), weights = d.file("w.weights"), idx = d.file("db.idx");
    dlbhc::test::write_text(net, kMihNet);
    dlbhc::test::write_filler_weights(net, weights, 3);
    const uint32_t N = 300;
    std::vector<uint8_t> pixels(size_t(N) * 784), labels(N);
    Rng rng(3);
    for (auto& p : pixels) p = uint8_t(rng.below(256));
    for (uint32_t i = 0; i < N; ++i) labels[i] = uint8_t(i % 3);
    d.mkdir("mnist");
    dlbhc::test::write_bytes(d.file("mnist/train-images-idx3-ubyte"), dlbhc::test::make_idx({N, 28, 28}, pixels));
    dlbhc::test::write_bytes(d.file("mnist/train-labels-idx1-ubyte"), dlbhc::test::make_idx({N}, labels));
    const std::string data = d.file("mnist/train");
    REQUIRE(dlbhc::test::stdout_of(d.file("o.txt"), [&] {
                REQUIRE(cmd_index({"--net", net, "--weights", weights, "--data", data, "--out", idx}) == 0);
            }).size() > 0);
    for (int item : {0, 17, 123})
        for (bool coarse : {true, false}) {
            CAPTURE(item);
            CAPTURE(coarse);
            std::vector<std::string> args = {"--net", net, "--weights", weights, "--index", idx, "--item",
                                             data + ":" + std::to_string(item), "--k", coarse ? "120" : "40",
                                             "--threshold", "2", "--json"};
            if (coarse) args.push_back("--coarse-only");
            const std::string linear = dlbhc::test::stdout_of(d.file("linear.json"), [&] { REQUIRE(cmd_query(args) == 0); });
            args.push_back("--mih");
            const std::string mih = dlbhc::test::stdout_of(d.file("mih.json"), [&] { REQUIRE(cmd_query(args) == 0); });
            CHECK(linear.find("\"index\"") != std::string::npos);
            CHECK(mih == linear);
        }
}

TEST_CASE("mih: hierarchical search with a multi-index gives the same pools and results, and refuses another index") {
    Rng rng(99);
    const size_t N = 3000, D = 8;
    const CodeSet db = random_codes(rng, N, 32, true);
    std::vector<float> feat(N * D);
    for (auto& f : feat) f = rng.uniform();
    const FeatureView fv{feat.data(), N, int(D), FeatureType::F32};
    const CodeSet queries = make_queries(rng, db, 10);
    std::vector<float> qf(queries.size() * D);
    for (auto& f : qf) f = rng.uniform();
    MihOptions mo;
    mo.linear_fallback = false;
    const MultiIndex mih(db.view(), mo);
    for (auto pool : {HierarchicalOptions::Pool::Radius, HierarchicalOptions::Pool::TopM})
        for (size_t min_pool : {size_t(1), size_t(200)}) {
            HierarchicalOptions ho;
            ho.pool = pool, ho.threshold = 2, ho.min_pool = min_pool, ho.m = 50;
            const auto want = hierarchical_search_batch(db.view(), fv, queries.view(), qf.data(), 20, ho);
            ho.mih = &mih;
            const auto got = hierarchical_search_batch(db.view(), fv, queries.view(), qf.data(), 20, ho);
            REQUIRE(got.size() == want.size());
            for (size_t q = 0; q < got.size(); ++q) {
                CHECK(got[q].pool_size == want[q].pool_size);
                CHECK(got[q].threshold_used == want[q].threshold_used);
                CHECK(got[q].widened == want[q].widened);
                REQUIRE(got[q].hits.size() == want[q].hits.size());
                for (size_t i = 0; i < got[q].hits.size(); ++i) {
                    CHECK(got[q].hits[i].index == want[q].hits[i].index);
                    CHECK(got[q].hits[i].hamming == want[q].hits[i].hamming);
                }
            }
        }
    const CodeSet other = random_codes(rng, N, 32, false);
    const MultiIndex wrong(other.view());
    HierarchicalOptions ho;
    ho.mih = &wrong;
    CHECK_THROWS_WITH_AS(hierarchical_search_batch(db.view(), fv, queries.view(), qf.data(), 5, ho),
                         doctest::Contains("multi-index of the searched codes"), std::invalid_argument);
}
