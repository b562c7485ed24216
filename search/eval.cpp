// search/eval.cpp -- retrieval metrics (conventions in eval.h).
#include "search/eval.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "hash/hamming.h"
#include "search/euclid_search.h"
#include "search/parallel.h"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace dlbhc {

double average_precision_at_k_precision_m(const uint8_t* rel, size_t n, size_t K) {
    size_t top = std::min(n, K), hits = 0;
    double sum = 0;
    for (size_t j = 0; j < top; ++j)
        if (rel[j]) {
            ++hits;
            sum += (double)hits / (double)(j + 1);  // P@(j+1) at a relevant rank
        }
    return hits ? sum / (double)hits : 0.0;
}

double average_precision_whole_ranking(const uint8_t* rel, size_t n, size_t total_relevant) {
    if (total_relevant == 0) return 0.0;
    size_t hits = 0;
    double sum = 0;
    for (size_t j = 0; j < n; ++j)
        if (rel[j]) {
            ++hits;
            sum += (double)hits / (double)(j + 1);
        }
    return sum / (double)total_relevant;
}

size_t relevant_in_top(const uint8_t* rel, size_t n, size_t k) {
    size_t c = 0, top = std::min(n, k);
    for (size_t j = 0; j < top; ++j) c += rel[j] ? 1 : 0;
    return c;
}

RadiusCounts count_within_radius(const uint8_t* rel, const uint32_t* dist, size_t n, int r, RadiusRule rule) {
    RadiusCounts c;
    for (size_t j = 0; j < n; ++j) {
        bool in = rule == RadiusRule::AtMost ? (int64_t)dist[j] <= r : (int64_t)dist[j] < r;
        if (in) {
            ++c.retrieved;
            c.relevant_retrieved += rel[j] ? 1 : 0;
        }
    }
    return c;
}

namespace {

// One distance level of a ranking: the items [begin, end) and the relevant among them.
struct Level {
    size_t begin, end, relevant;
};

// The levels of a ranking from its start until they cover the top k (or the ranking ends): the
// last one may reach past k.
std::vector<Level> levels_to(const uint8_t* rel, const uint32_t* dist, size_t n, size_t k) {
    std::vector<Level> levels;
    for (size_t b = 0; b < n && b < k;) {
        Level l{b, b, 0};
        while (l.end < n && dist[l.end] == dist[b]) l.relevant += rel[l.end++] ? 1 : 0;
        levels.push_back(l);
        b = l.end;
    }
    return levels;
}

// log of the binomial coefficient C(a, b).
double log_choose(size_t a, size_t b) {
    return std::lgamma(double(a) + 1) - std::lgamma(double(b) + 1) - std::lgamma(double(a - b) + 1);
}

double expected_relevant_in_top(const std::vector<Level>& levels, size_t k) {
    double hits = 0;
    for (const Level& l : levels) {
        if (l.begin >= k) break;
        const size_t size = l.end - l.begin, taken = std::min(size, k - l.begin);
        hits += double(taken) * double(l.relevant) / double(size);  // each place relevant with chance r/size
    }
    return hits;
}

double expected_ap_at_k(const std::vector<Level>& levels, size_t K) {
    // Levels wholly within the top K: their expected sum of precision at each relevant rank. At
    // place p of a level of `size` items with r relevant, after b items with R relevant, the item
    // is relevant with chance r/size, and then the expected hits up to it are
    // R + 1 + (p-1)(r-1)/(size-1). The number of relevant items within the top K is then fixed.
    double sum = 0;
    size_t R = 0, i = 0;
    for (; i < levels.size() && levels[i].end <= K; ++i) {
        const Level& l = levels[i];
        const size_t size = l.end - l.begin, b = l.begin;
        const double r = double(l.relevant);
        for (size_t p = 1; p <= size; ++p) {
            const double before = size > 1 ? double(p - 1) * (r - 1) / double(size - 1) : 0.0;
            sum += r / double(size) * (double(R) + 1 + before) / double(b + p);
        }
        R += l.relevant;
    }
    if (i == levels.size() || levels[i].begin >= K) return R ? sum / double(R) : 0.0;
    // The level cut by K: m of its `size` places are in the top K and hold x of its r relevant
    // items, x hypergeometric. Given x, they sit at any x of the m places: the expected sum there is
    // (x/m)(R+1)A + (x/m)((x-1)/(m-1))B with A = sum 1/(b+p), B = sum (p-1)/(b+p), p = 1..m.
    const Level& l = levels[i];
    const size_t size = l.end - l.begin, r = l.relevant, b = l.begin, m = K - b;
    double A = 0, B = 0;
    for (size_t p = 1; p <= m; ++p) A += 1.0 / double(b + p), B += double(p - 1) / double(b + p);
    double ap = 0;
    const size_t lo = m > size - r ? m - (size - r) : 0, hi = std::min(r, m);
    for (size_t x = lo; x <= hi; ++x) {
        if (R + x == 0) continue;  // no relevant item in the top K: AP 0
        const double px = std::exp(log_choose(r, x) + log_choose(size - r, m - x) - log_choose(size, m));
        const double xm = double(x) / double(m);
        const double cut = xm * (double(R) + 1) * A + (m > 1 ? xm * (double(x) - 1) / double(m - 1) * B : 0.0);
        ap += px * (sum + cut) / double(R + x);
    }
    return ap;
}

}  // namespace

double tie_aware_relevant_in_top(const uint8_t* rel, const uint32_t* dist, size_t n, size_t k) {
    return expected_relevant_in_top(levels_to(rel, dist, n, k), k);
}

double tie_aware_ap_at_k(const uint8_t* rel, const uint32_t* dist, size_t n, size_t K) {
    return expected_ap_at_k(levels_to(rel, dist, n, K), K);
}

RetrievalEval::RetrievalEval(const EvalConfig& cfg, int bits)
    : cfg_(cfg), bits_(bits), rel_at_k_(cfg.precision_ks.size(), 0.0), rel_at_k_tie_(cfg.precision_ks.size(), 0.0) {
    if (cfg.pr_curve) curve_.resize((size_t)bits + 1);
}

void RetrievalEval::add_query(const uint8_t* rel, const uint32_t* dist, size_t n, size_t total_relevant) {
    ++q_;
    ap_k_ += average_precision_at_k_precision_m(rel, n, cfg_.K);
    ap_whole_ += average_precision_whole_ranking(rel, n, total_relevant);
    if (total_relevant == 0) ++no_relevant_;
    // Relevant counts at every rank up to the largest k, once: the plot asks for many k.
    size_t kmax = 0;
    for (size_t k : cfg_.precision_ks) kmax = std::max(kmax, std::min(k, n));
    prefix_.assign(kmax + 1, 0);
    for (size_t j = 0; j < kmax; ++j) prefix_[j + 1] = prefix_[j] + (rel[j] ? 1 : 0);
    for (size_t i = 0; i < cfg_.precision_ks.size(); ++i)
        rel_at_k_[i] += (double)prefix_[std::min(cfg_.precision_ks[i], kmax)];
    if (!dist) return;
    ++q_tie_;
    size_t cover = cfg_.K;  // the levels are found once, up to the largest K or k
    for (size_t k : cfg_.precision_ks) cover = std::max(cover, k);
    const std::vector<Level> levels = levels_to(rel, dist, n, cover);
    ap_k_tie_ += expected_ap_at_k(levels, cfg_.K);
    for (size_t i = 0; i < cfg_.precision_ks.size(); ++i)
        rel_at_k_tie_[i] += expected_relevant_in_top(levels, cfg_.precision_ks[i]);
    auto accumulate = [&](PrSum& s, const RadiusCounts& c) {
        if (c.retrieved == 0) ++s.empty;
        else s.precision += (double)c.relevant_retrieved / (double)c.retrieved;
        if (total_relevant) s.recall += (double)c.relevant_retrieved / (double)total_relevant;
    };
    accumulate(le_, count_within_radius(rel, dist, n, cfg_.radius, RadiusRule::AtMost));
    accumulate(lt_, count_within_radius(rel, dist, n, cfg_.radius, RadiusRule::LessThan));
    if (!curve_.empty()) {
        // One pass: histograms of retrieved and relevant by distance, then prefix sums give every r.
        std::vector<size_t> all(curve_.size(), 0), good(curve_.size(), 0);
        for (size_t j = 0; j < n; ++j) {
            size_t d = std::min<size_t>(dist[j], curve_.size() - 1);
            ++all[d];
            good[d] += rel[j] ? 1 : 0;
        }
        RadiusCounts c;
        for (size_t r = 0; r < curve_.size(); ++r) {
            c.retrieved += all[r];
            c.relevant_retrieved += good[r];
            accumulate(curve_[r], c);
        }
    }
}

void RetrievalEval::merge(const RetrievalEval& o) {
    q_ += o.q_;
    no_relevant_ += o.no_relevant_;
    ap_k_ += o.ap_k_;
    ap_whole_ += o.ap_whole_;
    for (size_t i = 0; i < rel_at_k_.size(); ++i) rel_at_k_[i] += o.rel_at_k_[i];
    q_tie_ += o.q_tie_;
    ap_k_tie_ += o.ap_k_tie_;
    for (size_t i = 0; i < rel_at_k_tie_.size(); ++i) rel_at_k_tie_[i] += o.rel_at_k_tie_[i];
    auto add = [](PrSum& a, const PrSum& b) {
        a.precision += b.precision;
        a.recall += b.recall;
        a.empty += b.empty;
    };
    add(le_, o.le_);
    add(lt_, o.lt_);
    for (size_t r = 0; r < curve_.size() && r < o.curve_.size(); ++r) add(curve_[r], o.curve_[r]);
}

EvalReport RetrievalEval::report() const {
    EvalReport R;
    R.queries = q_;
    R.K = cfg_.K;
    R.radius = cfg_.radius;
    R.queries_without_relevant = no_relevant_;
    R.precision_ks = cfg_.precision_ks;
    if (q_ == 0) return R;
    const double Q = (double)q_;
    R.map_at_k_precision_m = ap_k_ / Q;
    R.map_whole_ranking = ap_whole_ / Q;
    for (size_t i = 0; i < rel_at_k_.size(); ++i)
        R.precision_at_k.push_back(rel_at_k_[i] / ((double)cfg_.precision_ks[i] * Q));
    if (q_tie_ == q_) {  // every query had distances
        R.tie_aware = true;
        R.map_at_k_tie_aware = ap_k_tie_ / Q;
        for (size_t i = 0; i < rel_at_k_tie_.size(); ++i)
            R.precision_at_k_tie_aware.push_back(rel_at_k_tie_[i] / ((double)cfg_.precision_ks[i] * Q));
    }
    const double with_rel = (double)(q_ - no_relevant_);
    auto finish = [&](const PrSum& s) {
        PrecisionRecall pr;
        pr.precision = s.precision / Q;
        pr.recall = with_rel > 0 ? s.recall / with_rel : 0.0;
        pr.queries_retrieving_nothing = s.empty;
        pr.queries_without_relevant = no_relevant_;
        return pr;
    };
    R.within_radius_le = finish(le_);
    R.within_radius_lt = finish(lt_);
    for (const auto& s : curve_) R.pr_curve_le.push_back(finish(s));
    return R;
}

std::string EvalReport::str() const {
    std::string s;
    char b[256];
    std::snprintf(b, sizeof b, "queries: %zu (%zu without any relevant item)\n", queries, queries_without_relevant);
    s += b;
    std::snprintf(b, sizeof b, "mAP@%zu (precision.m: AP over relevant within top %zu, 0 when none): %.6f\n", K, K,
                  map_at_k_precision_m);
    s += b;
    std::snprintf(b, sizeof b, "mAP over the whole ranking (no-relevant queries count 0): %.6f\n", map_whole_ranking);
    s += b;
    for (size_t i = 0; i < precision_at_k.size(); ++i) {
        std::snprintf(b, sizeof b, "P@%zu (relevant in top k summed / (k*Q)): %.6f\n", precision_ks[i], precision_at_k[i]);
        s += b;
    }
    std::snprintf(b, sizeof b,
                  "within Hamming radius d<=%d: precision %.6f (%zu queries retrieve nothing: count 0), recall %.6f\n",
                  radius, within_radius_le.precision, within_radius_le.queries_retrieving_nothing, within_radius_le.recall);
    s += b;
    std::snprintf(b, sizeof b,
                  "within Hamming radius d<%d: precision %.6f (%zu queries retrieve nothing: count 0), recall %.6f\n",
                  radius, within_radius_lt.precision, within_radius_lt.queries_retrieving_nothing, within_radius_lt.recall);
    s += b;
    return s;
}

RetrievalEval ranked_lists_eval(const EvalConfig& cfg) {
    EvalConfig c = cfg;
    c.pr_curve = false;
    return RetrievalEval(c, 0);
}

void add_ranked_lists(RetrievalEval& into, const std::vector<std::vector<uint32_t>>& lists, const int32_t* db_labels,
                      const int32_t* query_labels) {
    std::vector<uint8_t> rel;
    for (size_t q = 0; q < lists.size(); ++q) {
        rel.assign(lists[q].size(), 0);
        for (size_t j = 0; j < rel.size(); ++j) rel[j] = db_labels[lists[q][j]] == query_labels[q];
        // No distances (no radius metrics); the total only feeds the whole-ranking AP, unused here.
        into.add_query(rel.data(), nullptr, rel.size(), 0);
    }
}

EvalReport ranked_lists_report(const RetrievalEval& ev) {
    EvalReport r = ev.report();
    r.map_whole_ranking = 0;
    r.queries_without_relevant = 0;
    r.within_radius_le = r.within_radius_lt = PrecisionRecall();
    return r;
}

EvalReport evaluate_ranked_lists(const std::vector<std::vector<uint32_t>>& lists, const int32_t* db_labels,
                                 const int32_t* query_labels, const EvalConfig& cfg) {
    RetrievalEval ev = ranked_lists_eval(cfg);
    add_ranked_lists(ev, lists, db_labels, query_labels);
    return ranked_lists_report(ev);
}

double precision_at(const std::vector<size_t>& ks, const std::vector<double>& ps, size_t k) {
    for (size_t i = 0; i < ks.size() && i < ps.size(); ++i)
        if (ks[i] == k) return ps[i];
    return -1;
}

RetrievalEval hamming_ranking_eval(const EvalConfig& cfg, int bits) { return RetrievalEval(cfg, bits); }

void add_hamming_ranking(RetrievalEval& into, const CodeView& db, const int32_t* db_labels, const CodeView& queries,
                         const int32_t* query_labels, const SearchOptions& opt, const int64_t* own) {
    check_searchable(db, queries.bits, "evaluate_hamming_ranking");
    hamming_active_kernel();  // decided here: it may throw (DLBHC_HAMMING), which must not happen in a thread
    const size_t nq = queries.n;
    // Per-query evaluators, merged in query order afterwards: the sums, and so the report, do
    // not depend on how queries were spread over threads.
    const long long chunks = (long long)std::min<size_t>(nq, 64);
    std::vector<RetrievalEval> parts((size_t)std::max<long long>(chunks, 1), into.empty_copy());
    const bool parallel = chunks > 1 && nq * db.n * db.words >= opt.parallel_min_words;
    (void)parallel;
    ParallelErrors errors;  // no exception (std::bad_alloc) may leave the parallel region
#if defined(_OPENMP)
#pragma omp parallel for schedule(dynamic, 1) if (parallel) num_threads(opt.threads > 0 ? opt.threads : omp_get_max_threads())
#endif
    for (long long c = 0; c < chunks; ++c) errors.run([&] {
        std::vector<uint8_t> rel(db.n);
        std::vector<uint32_t> dist(db.n);
        for (size_t q = (size_t)c * nq / (size_t)chunks; q < ((size_t)c + 1) * nq / (size_t)chunks; ++q) {
            auto ranking = hamming_rank_all(db, queries.code(q));
            size_t total = 0, n = 0;
            for (size_t j = 0; j < db.n; ++j) {
                if (own && int64_t(ranking[j].index) == own[q]) continue;
                rel[n] = db_labels[ranking[j].index] == query_labels[q];
                dist[n] = ranking[j].distance;
                total += rel[n++];
            }
            parts[(size_t)c].add_query(rel.data(), dist.data(), n, total);
        }
    });
    errors.rethrow();
    for (const RetrievalEval& part : parts) into.merge(part);
}

EvalReport evaluate_hamming_ranking(const CodeView& db, const int32_t* db_labels, const CodeView& queries,
                                    const int32_t* query_labels, const EvalConfig& cfg, const SearchOptions& opt,
                                    const int64_t* own) {
    RetrievalEval ev = hamming_ranking_eval(cfg, db.bits);
    add_hamming_ranking(ev, db, db_labels, queries, query_labels, opt, own);
    return ev.report();
}

void drop_own_item(std::vector<uint32_t>& list, int64_t own, size_t k) {
    if (own != kNoOwnItem) list.erase(std::remove(list.begin(), list.end(), uint32_t(own)), list.end());
    if (list.size() > k) list.resize(k);
}

void add_exhaustive(RetrievalEval& into, const FeatureView& db, const int32_t* db_labels, const float* queries, size_t nq,
                    const int32_t* query_labels, size_t K, const int64_t* own) {
    // One more than K, so that K remain when a query's own item is among them.
    const auto hits = euclidean_knn_batch(db, queries, nq, own ? K + 1 : K);
    std::vector<std::vector<uint32_t>> lists(nq);
    for (size_t q = 0; q < nq; ++q) {
        for (const EuclidHit& h : hits[q]) lists[q].push_back(h.index);
        drop_own_item(lists[q], own ? own[q] : kNoOwnItem, K);
    }
    add_ranked_lists(into, lists, db_labels, query_labels);
}

EvalReport evaluate_exhaustive(const FeatureView& db, const int32_t* db_labels, const float* queries, size_t nq,
                               const int32_t* query_labels, const EvalConfig& cfg, const int64_t* own) {
    RetrievalEval ev = ranked_lists_eval(cfg);
    add_exhaustive(ev, db, db_labels, queries, nq, query_labels, cfg.K, own);
    return ranked_lists_report(ev);
}

}  // namespace dlbhc
