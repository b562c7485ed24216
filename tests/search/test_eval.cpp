// tests/search/test_eval.cpp -- every metric against small hand-computed cases.
#include <doctest/doctest.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "hash/code.h"
#include "search/eval.h"

using namespace dlbhc;

TEST_CASE("AP@K as precision.m: divided by the relevant items within the top K") {
    const uint8_t rel[] = {1, 0, 1, 0, 0, 1};
    // Top 5: relevant at ranks 1 and 3: (1/1 + 2/3) / 2.
    CHECK(average_precision_at_k_precision_m(rel, 6, 5) == doctest::Approx((1.0 + 2.0 / 3.0) / 2.0));
    // Top 2: only rank 1 is relevant: 1/1 / 1 = 1 (not divided by all relevant items).
    CHECK(average_precision_at_k_precision_m(rel, 6, 2) == doctest::Approx(1.0));
    // K past the end of the ranking: all of it.
    CHECK(average_precision_at_k_precision_m(rel, 6, 1000) == doctest::Approx((1.0 + 2.0 / 3.0 + 3.0 / 6.0) / 3.0));
    const uint8_t none[] = {0, 0, 0};
    CHECK(average_precision_at_k_precision_m(none, 3, 3) == 0.0);  // no relevant item: 0
    const uint8_t late[] = {0, 0, 0, 1};
    CHECK(average_precision_at_k_precision_m(late, 4, 3) == 0.0);  // relevant only past K: 0
}

TEST_CASE("AP over the whole ranking divides by all relevant items") {
    const uint8_t rel[] = {0, 1, 0, 1};
    CHECK(average_precision_whole_ranking(rel, 4, 2) == doctest::Approx((1.0 / 2.0 + 2.0 / 4.0) / 2.0));
    // With relevant items the ranking does not reach (e.g. a partial ranking), they count as misses.
    CHECK(average_precision_whole_ranking(rel, 4, 4) == doctest::Approx((1.0 / 2.0 + 2.0 / 4.0) / 4.0));
    CHECK(average_precision_whole_ranking(rel, 4, 0) == 0.0);
    CHECK(relevant_in_top(rel, 4, 3) == 1);
    CHECK(relevant_in_top(rel, 4, 10) == 2);
}

TEST_CASE("counts within a Hamming radius, < and <=") {
    const uint8_t rel[] = {1, 0, 1, 1, 0};
    const uint32_t dist[] = {0, 1, 2, 2, 3};
    auto le = count_within_radius(rel, dist, 5, 2, RadiusRule::AtMost);
    auto lt = count_within_radius(rel, dist, 5, 2, RadiusRule::LessThan);
    CHECK(le.retrieved == 4);
    CHECK(le.relevant_retrieved == 3);
    CHECK(lt.retrieved == 2);
    CHECK(lt.relevant_retrieved == 1);
}

TEST_CASE("RetrievalEval: two queries by hand, one without any relevant item") {
    EvalConfig cfg;
    cfg.K = 3;
    cfg.precision_ks = {1, 2, 4};
    cfg.radius = 1;
    RetrievalEval ev(cfg, 4);
    const uint8_t r1[] = {1, 0, 1, 0};
    const uint32_t d1[] = {0, 1, 1, 3};
    ev.add_query(r1, d1, 4, 2);
    const uint8_t r2[] = {0, 0, 0, 0};
    const uint32_t d2[] = {2, 2, 3, 4};
    ev.add_query(r2, d2, 4, 0);
    EvalReport R = ev.report();
    CHECK(R.queries == 2);
    CHECK(R.queries_without_relevant == 1);
    CHECK(R.map_at_k_precision_m == doctest::Approx(((1.0 + 2.0 / 3.0) / 2.0 + 0.0) / 2.0));
    CHECK(R.map_whole_ranking == doctest::Approx(((1.0 + 2.0 / 3.0) / 2.0 + 0.0) / 2.0));
    REQUIRE(R.precision_at_k.size() == 3);
    CHECK(R.precision_at_k[0] == doctest::Approx(1.0 / (1 * 2)));  // (1 + 0) / (k*Q)
    CHECK(R.precision_at_k[1] == doctest::Approx(1.0 / (2 * 2)));
    CHECK(R.precision_at_k[2] == doctest::Approx(2.0 / (4 * 2)));
    // d <= 1: q1 retrieves 3 (2 relevant), q2 retrieves nothing (precision 0).
    CHECK(R.within_radius_le.precision == doctest::Approx((2.0 / 3.0 + 0.0) / 2.0));
    CHECK(R.within_radius_le.queries_retrieving_nothing == 1);
    CHECK(R.within_radius_le.recall == doctest::Approx(1.0));  // q2 has no relevant: left out
    // d < 1: q1 retrieves 1 (relevant).
    CHECK(R.within_radius_lt.precision == doctest::Approx((1.0 + 0.0) / 2.0));
    CHECK(R.within_radius_lt.recall == doctest::Approx(0.5));
    // PR curve r = 0..4 (<=): r = 0 is the "< 1" case above, r = 4 retrieves everything.
    REQUIRE(R.pr_curve_le.size() == 5);
    CHECK(R.pr_curve_le[0].precision == doctest::Approx(R.within_radius_lt.precision));
    CHECK(R.pr_curve_le[4].precision == doctest::Approx((2.0 / 4.0 + 0.0) / 2.0));
    CHECK(R.pr_curve_le[4].recall == doctest::Approx(1.0));
    CHECK(R.str().find("precision.m") != std::string::npos);
}

TEST_CASE("evaluate_hamming_ranking: ties are decided by database order (stable sort)") {
    // Query 0b00; database: item 0 at distance 1 (irrelevant), item 1 at distance 1 (relevant),
    // item 2 at distance 2 (relevant). Stable ranking: 0, 1, 2.
    CodeSet db(2), q(2);
    for (uint64_t c : {0b01ull, 0b10ull, 0b11ull}) db.add(&c);
    uint64_t qc = 0;
    q.add(&qc);
    const int32_t labels[] = {7, 3, 3}, ql[] = {3};
    EvalConfig cfg;
    cfg.K = 2;
    cfg.precision_ks = {1};
    cfg.radius = 1;
    EvalReport R = evaluate_hamming_ranking(db.view(), labels, q.view(), ql, cfg);
    CHECK(R.map_at_k_precision_m == doctest::Approx(0.5));  // relevant at rank 2 only: (1/2)/1
    CHECK(R.precision_at_k[0] == 0.0);
    // Swap the two tied items in the database: now the relevant one comes first.
    CodeSet db2(2);
    for (uint64_t c : {0b10ull, 0b01ull, 0b11ull}) db2.add(&c);
    const int32_t labels2[] = {3, 7, 3};
    EvalReport R2 = evaluate_hamming_ranking(db2.view(), labels2, q.view(), ql, cfg);
    CHECK(R2.map_at_k_precision_m == doctest::Approx(1.0));
    CHECK(R2.precision_at_k[0] == 1.0);
    CHECK(R2.within_radius_le.precision == doctest::Approx(0.5));  // d <= 1 retrieves both tied items
    CHECK(R2.within_radius_lt.queries_retrieving_nothing == 1);     // d < 1 retrieves nothing
}

TEST_CASE("evaluate_hamming_ranking does not depend on the thread count") {
    CodeSet db(12), q(12);
    std::vector<int32_t> dl, ql;
    uint64_t x = 12345;
    for (int i = 0; i < 3000; ++i) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t c = (x >> 20) & 0xfff;
        db.add(&c);
        dl.push_back((int32_t)((x >> 50) % 4));
    }
    for (int i = 0; i < 70; ++i) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t c = (x >> 20) & 0xfff;
        q.add(&c);
        ql.push_back((int32_t)((x >> 50) % 4));
    }
    EvalConfig cfg;
    EvalReport a = evaluate_hamming_ranking(db.view(), dl.data(), q.view(), ql.data(), cfg, SearchOptions{1, 0});
    EvalReport b = evaluate_hamming_ranking(db.view(), dl.data(), q.view(), ql.data(), cfg, SearchOptions{2, 0});
    CHECK(a.map_at_k_precision_m == b.map_at_k_precision_m);
    CHECK(a.map_whole_ranking == b.map_whole_ranking);
    CHECK(a.precision_at_k == b.precision_at_k);
}

TEST_CASE("evaluate_ranked_lists: the fine stage's short lists by hand") {
    // Database labels by index; two queries of labels 1 and 2 with re-ranked lists of 3 and 2.
    const int32_t db_labels[] = {1, 2, 1, 0, 2};
    const int32_t query_labels[] = {1, 2};
    const std::vector<std::vector<uint32_t>> lists = {{3, 0, 2}, {4, 0}};
    EvalConfig cfg;
    cfg.K = 2;
    cfg.precision_ks = {1, 2, 5};
    EvalReport R = evaluate_ranked_lists(lists, db_labels, query_labels, cfg);
    CHECK(R.queries == 2);
    CHECK(R.K == 2);
    CHECK(R.precision_ks == std::vector<size_t>{1, 2, 5});
    // q1: rel 0 1 1; within the top K = 2 only rank 2 is relevant: AP = (1/2) / 1.
    // q2: rel 1 0: AP = 1 / 1.
    CHECK(R.map_at_k_precision_m == doctest::Approx((0.5 + 1.0) / 2.0));
    REQUIRE(R.precision_at_k.size() == 3);
    CHECK(R.precision_at_k[0] == doctest::Approx((0 + 1) / (1.0 * 2)));
    CHECK(R.precision_at_k[1] == doctest::Approx((1 + 1) / (2.0 * 2)));
    CHECK(R.precision_at_k[2] == doctest::Approx((2 + 1) / (5.0 * 2)));  // past a list's end: not relevant
    // Nothing that needs the whole ranking.
    CHECK(R.map_whole_ranking == 0);
    CHECK(R.queries_without_relevant == 0);
    CHECK(R.within_radius_le.precision == 0);
    CHECK(R.pr_curve_le.empty());
    // An empty list counts as AP 0.
    EvalReport E = evaluate_ranked_lists({{}, {4}}, db_labels, query_labels, cfg);
    CHECK(E.map_at_k_precision_m == doctest::Approx(0.5));
}

TEST_CASE("precision_at: the P@k for one k, or -1 when it was not measured") {
    const std::vector<size_t> ks = {1, 10, 100};
    const std::vector<double> ps = {0.5, 0.25, 0.125};
    CHECK(precision_at(ks, ps, 1) == 0.5);
    CHECK(precision_at(ks, ps, 100) == 0.125);
    CHECK(precision_at(ks, ps, 1000) == -1);
    CHECK(precision_at({}, {}, 1) == -1);
}

namespace {

// A brute-force exhaustive ranking, written independently of search/: squared distances in
// double, sorted by (distance, database index).
std::vector<uint32_t> brute_force_ranking(const std::vector<float>& db, size_t dim, const float* q, int64_t own) {
    const size_t n = db.size() / dim;
    std::vector<std::pair<double, uint32_t>> d;
    for (size_t i = 0; i < n; ++i) {
        if (int64_t(i) == own) continue;
        double s = 0;
        for (size_t j = 0; j < dim; ++j) s += (double(db[i * dim + j]) - q[j]) * (double(db[i * dim + j]) - q[j]);
        d.emplace_back(s, uint32_t(i));
    }
    std::sort(d.begin(), d.end());
    std::vector<uint32_t> r;
    for (const auto& p : d) r.push_back(p.second);
    return r;
}

// The hand-made dataset: 2-D integer points (exact in float) on a small grid, so that many
// distances tie; labels 0..2.
struct GridData {
    std::vector<float> db, queries;
    std::vector<int32_t> db_labels, query_labels;
    GridData() {
        for (int i = 0; i < 24; ++i) {
            db.push_back(float(i % 5));
            db.push_back(float((i * 7) % 4));
            db_labels.push_back(int32_t((i * 5) % 3));
        }
        for (int i = 0; i < 6; ++i) {
            queries.push_back(float((i * 3) % 5));
            queries.push_back(float(i % 3));
            query_labels.push_back(int32_t(i % 3));
        }
    }
    FeatureView view() const { return FeatureView{db.data(), db_labels.size(), 2, FeatureType::F32}; }
};

}  // namespace

TEST_CASE("evaluate_exhaustive (ES) is exact: its P@k and mAP@K equal a brute-force ranking's, ties in database order") {
    const GridData g;
    EvalConfig cfg;
    cfg.K = 10;
    cfg.precision_ks = {1, 2, 3, 5, 8, 10};
    const size_t nq = g.query_labels.size();
    for (bool own : {false, true}) {
        CAPTURE(own);
        // With `own`, query i plays database item 2 i (whose point it is not: only the item
        // number matters).
        std::vector<int64_t> owns;
        for (size_t q = 0; q < nq; ++q) owns.push_back(own ? int64_t(2 * q) : kNoOwnItem);
        const EvalReport R = evaluate_exhaustive(g.view(), g.db_labels.data(), g.queries.data(), nq, g.query_labels.data(), cfg,
                                                 own ? owns.data() : nullptr);
        std::vector<double> hits(cfg.precision_ks.size(), 0.0);
        double ap = 0;
        for (size_t q = 0; q < nq; ++q) {
            const std::vector<uint32_t> r = brute_force_ranking(g.db, 2, &g.queries[2 * q], owns[q]);
            size_t found = 0;
            double sum = 0;
            for (size_t j = 0; j < cfg.K; ++j)
                if (g.db_labels[r[j]] == g.query_labels[q]) sum += double(++found) / double(j + 1);
            ap += found ? sum / double(found) : 0.0;
            for (size_t i = 0; i < cfg.precision_ks.size(); ++i)
                for (size_t j = 0; j < cfg.precision_ks[i]; ++j) hits[i] += g.db_labels[r[j]] == g.query_labels[q];
        }
        REQUIRE(R.precision_at_k.size() == hits.size());
        for (size_t i = 0; i < hits.size(); ++i)
            CHECK(R.precision_at_k[i] == doctest::Approx(hits[i] / double(cfg.precision_ks[i] * nq)));
        CHECK(R.map_at_k_precision_m == doctest::Approx(ap / double(nq)));
    }
}

TEST_CASE("a query's own database item is left out of its ranking: BCS and ES never return it at rank 1") {
    // Item 0 is the query itself (label 0); item 1 is another item, far away (label 0); item 2 is
    // near (label 1). Left out, the query's rank 1 is item 2, irrelevant: P@1 = 0, not 1.
    CodeSet db(8), q(8);
    for (uint64_t c : {0x0full, 0xf0ull, 0x0eull}) db.add(&c);
    uint64_t qc = 0x0f;
    q.add(&qc);
    const int32_t labels[] = {0, 0, 1}, ql[] = {0};
    const std::vector<float> feats = {0, 0, 9, 9, 1, 0}, qf = {0, 0};
    const FeatureView fv{feats.data(), 3, 2, FeatureType::F32};
    EvalConfig cfg;
    cfg.K = 2;
    cfg.precision_ks = {1, 2};
    const int64_t own[] = {0};
    CHECK(evaluate_hamming_ranking(db.view(), labels, q.view(), ql, cfg).precision_at_k[0] == 1.0);
    CHECK(evaluate_exhaustive(fv, labels, qf.data(), 1, ql, cfg).precision_at_k[0] == 1.0);
    const EvalReport bcs = evaluate_hamming_ranking(db.view(), labels, q.view(), ql, cfg, {}, own);
    const EvalReport es = evaluate_exhaustive(fv, labels, qf.data(), 1, ql, cfg, own);
    for (const EvalReport* r : {&bcs, &es}) {
        CHECK(r->precision_at_k[0] == 0.0);
        CHECK(r->precision_at_k[1] == 0.5);  // item 1 at rank 2: K items remain after the own one
    }
    // Whole-ranking metrics count the 2 other items only: one relevant, at rank 2.
    CHECK(bcs.map_whole_ranking == doctest::Approx(0.5));
    // A copy of the query stored as another item is not its own item: it stays, at rank 1.
    CodeSet db2(8);
    for (uint64_t c : {0x0full, 0x0full, 0x0eull}) db2.add(&c);
    CHECK(evaluate_hamming_ranking(db2.view(), labels, q.view(), ql, cfg, {}, own).precision_at_k[0] == 1.0);
    std::vector<uint32_t> list = {0, 2, 1};
    drop_own_item(list, 0, 2);
    CHECK(list == std::vector<uint32_t>{2, 1});
    list = {3, 1, 2};
    drop_own_item(list, kNoOwnItem, 2);
    CHECK(list == std::vector<uint32_t>{3, 1});
}

namespace {

// Two reports of the same queries, summed in other orders: equal up to rounding.
void check_same_report(const EvalReport& a, const EvalReport& b) {
    CHECK(a.queries == b.queries);
    CHECK(a.queries_without_relevant == b.queries_without_relevant);
    CHECK(a.map_at_k_precision_m == doctest::Approx(b.map_at_k_precision_m).epsilon(1e-12));
    CHECK(a.map_whole_ranking == doctest::Approx(b.map_whole_ranking).epsilon(1e-12));
    REQUIRE(a.precision_at_k.size() == b.precision_at_k.size());
    for (size_t i = 0; i < a.precision_at_k.size(); ++i)
        CHECK(a.precision_at_k[i] == doctest::Approx(b.precision_at_k[i]).epsilon(1e-12));
    CHECK(a.within_radius_le.precision == doctest::Approx(b.within_radius_le.precision).epsilon(1e-12));
    CHECK(a.within_radius_lt.recall == doctest::Approx(b.within_radius_lt.recall).epsilon(1e-12));
    CHECK(a.within_radius_le.queries_retrieving_nothing == b.within_radius_le.queries_retrieving_nothing);
    REQUIRE(a.pr_curve_le.size() == b.pr_curve_le.size());
    for (size_t r = 0; r < a.pr_curve_le.size(); ++r)
        CHECK(a.pr_curve_le[r].precision == doctest::Approx(b.pr_curve_le[r].precision).epsilon(1e-12));
}

}  // namespace

TEST_CASE("eval a chunk of queries at a time: the sums of add_hamming_ranking and add_exhaustive equal one evaluation of all") {
    // 400 database items, 90 queries, the first 30 of them database items (their own item left out).
    CodeSet db(12), q(12);
    std::vector<int32_t> dl, ql;
    std::vector<float> dbf, qf;
    std::vector<int64_t> own;
    uint64_t x = 777;
    auto next = [&] { return x = x * 6364136223846793005ull + 1442695040888963407ull; };
    for (int i = 0; i < 400; ++i) {
        uint64_t c = (next() >> 20) & 0xfff;
        db.add(&c);
        dl.push_back((int32_t)((x >> 50) % 5));
        for (int j = 0; j < 3; ++j) dbf.push_back(float((next() >> 40) % 7));  // small integers: many ties
    }
    for (int i = 0; i < 90; ++i) {
        const bool item = i < 30;
        uint64_t c = item ? db.code(size_t(i))[0] : (next() >> 20) & 0xfff;
        q.add(&c);
        ql.push_back(item ? dl[size_t(i)] : (int32_t)((next() >> 50) % 5));
        for (int j = 0; j < 3; ++j) qf.push_back(item ? dbf[size_t(i) * 3 + size_t(j)] : float((next() >> 40) % 7));
        own.push_back(item ? i : kNoOwnItem);
    }
    EvalConfig cfg;
    cfg.K = 50;
    cfg.precision_ks = {1, 10, 50};
    const FeatureView dbv{dbf.data(), 400, 3, FeatureType::F32};
    const EvalReport coarse = evaluate_hamming_ranking(db.view(), dl.data(), q.view(), ql.data(), cfg, {}, own.data());
    const EvalReport es = evaluate_exhaustive(dbv, dl.data(), qf.data(), 90, ql.data(), cfg, own.data());
    for (size_t chunk : {1, 7, 64, 90}) {
        CAPTURE(chunk);
        RetrievalEval c = hamming_ranking_eval(cfg, 12), e = ranked_lists_eval(cfg);
        for (size_t at = 0; at < 90; at += chunk) {
            const size_t n = std::min(chunk, 90 - at);
            const CodeView part{q.code(at), n, 12, q.view().words};
            add_hamming_ranking(c, db.view(), dl.data(), part, ql.data() + at, {}, own.data() + at);
            add_exhaustive(e, dbv, dl.data(), qf.data() + at * 3, n, ql.data() + at, cfg.K, own.data() + at);
        }
        check_same_report(c.report(), coarse);
        check_same_report(ranked_lists_report(e), es);
    }
}

TEST_CASE("tie-aware AP@K and P@k: worked by hand") {
    // Distances 0 0 | 1 1 1, relevant 1 0 | 0 1 1.
    const uint8_t rel[] = {1, 0, 0, 1, 1};
    const uint32_t dist[] = {0, 0, 1, 1, 1};
    // K = 2, the first level: [1 0] gives AP 1, [0 1] gives 1/2: expected 3/4.
    CHECK(tie_aware_ap_at_k(rel, dist, 5, 2) == doctest::Approx(0.75));
    CHECK(tie_aware_relevant_in_top(rel, dist, 5, 1) == doctest::Approx(0.5));
    // K = 3 cuts the second level (2 of its 3 relevant): its first place is relevant with chance 2/3.
    // With it: the level-0 orders give (1 + 2/3)/2 or (1/2 + 2/3)/2; without it, 1 or 1/2.
    const double with = ((1 + 2.0 / 3) / 2 + (0.5 + 2.0 / 3) / 2) / 2, without = (1 + 0.5) / 2;
    CHECK(tie_aware_ap_at_k(rel, dist, 5, 3) == doctest::Approx(2.0 / 3 * with + 1.0 / 3 * without));
    CHECK(tie_aware_relevant_in_top(rel, dist, 5, 3) == doctest::Approx(1 + 2.0 / 3));
    // No ties: the plain metrics.
    const uint32_t apart[] = {0, 1, 2, 3, 4};
    CHECK(tie_aware_ap_at_k(rel, apart, 5, 4) == doctest::Approx(average_precision_at_k_precision_m(rel, 5, 4)));
    CHECK(tie_aware_relevant_in_top(rel, apart, 5, 4) == doctest::Approx(2.0));
    // Nothing relevant in any order of the top K: 0.
    const uint8_t none[] = {0, 0, 1};
    const uint32_t d3[] = {0, 0, 1};
    CHECK(tie_aware_ap_at_k(none, d3, 3, 2) == 0.0);
}

TEST_CASE("tie-aware AP@K and P@k equal the average over every order of the tied items (brute force)") {
    uint64_t x = 99;
    auto next = [&] { return (x = x * 6364136223846793005ull + 1442695040888963407ull) >> 33; };
    for (int trial = 0; trial < 60; ++trial) {
        const size_t n = 1 + next() % 8;
        std::vector<uint32_t> dist(n);
        std::vector<uint8_t> rel(n);
        for (size_t i = 0; i < n; ++i) dist[i] = uint32_t(next() % 3), rel[i] = uint8_t(next() % 2);
        std::sort(dist.begin(), dist.end());
        for (size_t K = 1; K <= n + 1; ++K) {
            CAPTURE(trial);
            CAPTURE(K);
            // Every order of the items within each level: permute the relevance flags of each level.
            double ap = 0, hits = 0;
            size_t orders = 0;
            std::vector<uint8_t> r = rel;
            std::vector<std::pair<size_t, size_t>> levels;
            for (size_t b = 0; b < n;) {
                size_t e = b;
                while (e < n && dist[e] == dist[b]) ++e;
                std::sort(r.begin() + long(b), r.begin() + long(e));
                levels.push_back({b, e});
                b = e;
            }
            // Odometer over the levels' permutations (next_permutation of each, in turn).
            while (true) {
                ap += average_precision_at_k_precision_m(r.data(), n, K);
                hits += double(relevant_in_top(r.data(), n, K));
                ++orders;
                size_t l = 0;
                for (; l < levels.size(); ++l)
                    if (std::next_permutation(r.begin() + long(levels[l].first), r.begin() + long(levels[l].second))) break;
                if (l == levels.size()) break;
            }
            // next_permutation over 0/1 flags visits each distinct arrangement once: every
            // arrangement of a level's flags is equally likely under a random order of its items.
            CHECK(tie_aware_ap_at_k(rel.data(), dist.data(), n, K) == doctest::Approx(ap / double(orders)).epsilon(1e-9));
            CHECK(tie_aware_relevant_in_top(rel.data(), dist.data(), n, K) == doctest::Approx(hits / double(orders)).epsilon(1e-9));
        }
    }
}
