// search/eval.h -- retrieval metrics, each with its convention in its name.
//
// Inputs per query are a ranking of the database (best first) given as relevance flags
// rel[j] in {0, 1} for rank j = 0, 1, ..., and, for the Hamming-radius metrics, the Hamming
// distance of each ranked item. "Relevant" is decided by the caller (same class label for
// single-label data sets such as CIFAR-10, as in the authors' code).
//
// Conventions (docs/method.md, "Evaluation protocol"):
//   mAP@K, precision.m: the authors' analysis/precision.m. AP = sum_{j<=K} P@j * rel_j divided
//       by the number of relevant items WITHIN THE TOP K; AP = 0 when there is none. Averaged
//       over all queries (zeros included). Ranking by Hamming distance with a stable sort.
//   mAP over the whole ranking: AP = sum_j P@j * rel_j / (relevant items in the database);
//       queries without any relevant item count as AP = 0 and are reported.
//   P@k (authors'): (relevant items in the top k, summed over queries) / (k * Q).
//   Precision / recall within Hamming radius r, in two variants named by the comparison:
//       "le" retrieves d <= r, "lt" retrieves d < r. Precision = mean over queries of
//       relevant retrieved / retrieved, a query retrieving nothing counts as precision 0;
//       recall = mean over queries that have relevant items of relevant retrieved / relevant.
//   Precision-recall curve: the radius metrics ("le") for r = 0 .. B.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "hash/code.h"
#include "search/features.h"
#include "search/hamming_search.h"

namespace dlbhc {

// AP@K as precision.m. rel holds the first n ranks (n may exceed K; only the top K count).
double average_precision_at_k_precision_m(const uint8_t* rel, size_t n, size_t K);
// AP over the whole ranking; rel covers the whole database (n items), total_relevant = sum(rel)
// unless the caller ranks only part of it. 0 when total_relevant == 0.
double average_precision_whole_ranking(const uint8_t* rel, size_t n, size_t total_relevant);
// Relevant items among the first k ranks (k may exceed n).
size_t relevant_in_top(const uint8_t* rel, size_t n, size_t k);

struct RadiusCounts {
    size_t retrieved = 0, relevant_retrieved = 0;
};
// Items with distance <= r (AtMost) or < r (LessThan) in a ranking with its distances.
RadiusCounts count_within_radius(const uint8_t* rel, const uint32_t* dist, size_t n, int r, RadiusRule rule);

struct PrecisionRecall {
    double precision = 0, recall = 0;
    size_t queries_retrieving_nothing = 0;  // counted with precision 0
    size_t queries_without_relevant = 0;    // left out of the recall mean
};

struct EvalConfig {
    size_t K = 1000;                                    // mAP@K
    std::vector<size_t> precision_ks = {1, 10, 100, 500, 1000};
    int radius = 2;                                     // precision/recall within this radius
    bool pr_curve = true;                               // radius sweep r = 0 .. B
};

// Tie-aware metrics of one ranking: rel and dist of the ranked database, dist ascending. The items
// at one distance (a tie) may come in any order; these are the expected values over all such
// orders, each order equally likely, computed exactly per distance level from the counts of
// relevant and irrelevant items in it (no sampling). The ranking as given (ties in database order,
// as the authors' MATLAB code and evaluate_hamming_ranking do) is one of those orders.
// Expected AP@K as precision.m defines it (0 when the top K hold no relevant item).
double tie_aware_ap_at_k(const uint8_t* rel, const uint32_t* dist, size_t n, size_t K);
// Expected number of relevant items in the top k.
double tie_aware_relevant_in_top(const uint8_t* rel, const uint32_t* dist, size_t n, size_t k);

struct EvalReport {
    size_t queries = 0;
    size_t K = 0;
    double map_at_k_precision_m = 0;
    double map_whole_ranking = 0;            // no-relevant queries count as 0
    size_t queries_without_relevant = 0;
    std::vector<size_t> precision_ks;
    std::vector<double> precision_at_k;      // authors' P@k
    // Tie-aware (rankings with distances only, else empty / 0): the expected mAP@K and P@k over all
    // orders of the items at equal distance (tie_aware_ap_at_k, tie_aware_relevant_in_top).
    bool tie_aware = false;
    double map_at_k_tie_aware = 0;
    std::vector<double> precision_at_k_tie_aware;
    int radius = 0;
    PrecisionRecall within_radius_le;        // d <= radius
    PrecisionRecall within_radius_lt;        // d < radius
    std::vector<PrecisionRecall> pr_curve_le;  // entry r: d <= r, r = 0 .. B
    // Several lines of text, each naming its convention.
    std::string str() const;
};

// Accumulates queries one by one; report() averages. Deterministic: sums in query order.
class RetrievalEval {
public:
    RetrievalEval(const EvalConfig& cfg, int bits);
    // One query: rel and dist of the ranked database (n items, the full ranking), and the number
    // of relevant items in the database. dist may be null when no radius metric is wanted.
    void add_query(const uint8_t* rel, const uint32_t* dist, size_t n, size_t total_relevant);
    // Merges another evaluator's queries after this one's (same config).
    void merge(const RetrievalEval& o);
    // An evaluator of the same config that holds no query yet.
    RetrievalEval empty_copy() const { return RetrievalEval(cfg_, bits_); }
    EvalReport report() const;

private:
    EvalConfig cfg_;
    int bits_;
    size_t q_ = 0, no_relevant_ = 0;
    double ap_k_ = 0, ap_whole_ = 0;
    std::vector<double> rel_at_k_;  // relevant in top k, summed
    double ap_k_tie_ = 0;             // tie-aware sums (queries with distances)
    std::vector<double> rel_at_k_tie_;
    size_t q_tie_ = 0;
    std::vector<size_t> prefix_;    // add_query's scratch: relevant in the top j, j = 0 .. max k
    struct PrSum {
        double precision = 0, recall = 0;
        size_t empty = 0;
    };
    PrSum le_, lt_;
    std::vector<PrSum> curve_;  // B + 1
};

// The metrics of short ranked lists, e.g. the fine stage's re-ranked top K: lists[q] holds the
// database indices shown to query q, best first (any length; ranks past the list count as not
// relevant). relevant = db_labels[index] == query_labels[q]. Fills queries, K, precision_ks,
// map_at_k_precision_m (mAP@cfg.K, precision.m) and precision_at_k (authors' P@k, for
// cfg.precision_ks); the whole-ranking and radius metrics need the whole ranking and stay 0.
EvalReport evaluate_ranked_lists(const std::vector<std::vector<uint32_t>>& lists, const int32_t* db_labels,
                                 const int32_t* query_labels, const EvalConfig& cfg);

// The P@k of a report for one k: ps[i] where ks[i] == k, or -1 when k is not among ks.
double precision_at(const std::vector<size_t>& ks, const std::vector<double>& ps, size_t k);

// Queries taken from the database itself (the paper's training-set queries): own[q] is the
// database index of query q's own item, which its ranking leaves out (a query would otherwise
// find itself at rank 1), or kNoOwnItem. A null `own` leaves nothing out. An identical copy of the
// query stored as another item is not its own item and stays in the ranking.
constexpr int64_t kNoOwnItem = -1;

// The authors' protocol end to end: every query ranks the whole database by Hamming distance
// (stable), relevance = equal labels; the database has N items, or N - 1 for a query whose own
// item is left out. Queries run in parallel; the result does not depend on the number of threads.
EvalReport evaluate_hamming_ranking(const CodeView& db, const int32_t* db_labels, const CodeView& queries,
                                    const int32_t* query_labels, const EvalConfig& cfg,
                                    const SearchOptions& opt = {}, const int64_t* own = nullptr);

// Drops the item `own` (kNoOwnItem: none) from a ranked list and keeps at most k items: for
// searches asked for k + 1 results so that k remain once the query's own item is left out.
void drop_own_item(std::vector<uint32_t>& list, int64_t own, size_t k);

// Exhaustive search, the paper's "ES" (and its "AlexNet" baseline on another net's features):
// every query's top cfg.K by Euclidean distance over all database features (euclid_search.h:
// ties in database order), own items left out as above, evaluated as evaluate_ranked_lists does.
// queries: (nq, db.dim) float32.
EvalReport evaluate_exhaustive(const FeatureView& db, const int32_t* db_labels, const float* queries, size_t nq,
                               const int32_t* query_labels, const EvalConfig& cfg, const int64_t* own = nullptr);

// The same metrics a chunk of queries at a time, so that a caller need not hold every query (its
// features, its ranking) at once: each add_* adds its queries to `into` after those it holds, and
// the report of the sum equals the evaluate_* function's over all queries (up to the order in
// which floating-point sums are taken). `into` is made for the mode it sums:
//   hamming_ranking_eval -> add_hamming_ranking (evaluate_hamming_ranking's metrics);
//   ranked_lists_eval    -> add_ranked_lists, add_exhaustive, and ranked_lists_report.
RetrievalEval hamming_ranking_eval(const EvalConfig& cfg, int bits);
RetrievalEval ranked_lists_eval(const EvalConfig& cfg);
void add_hamming_ranking(RetrievalEval& into, const CodeView& db, const int32_t* db_labels, const CodeView& queries,
                         const int32_t* query_labels, const SearchOptions& opt = {}, const int64_t* own = nullptr);
void add_ranked_lists(RetrievalEval& into, const std::vector<std::vector<uint32_t>>& lists, const int32_t* db_labels,
                      const int32_t* query_labels);
void add_exhaustive(RetrievalEval& into, const FeatureView& db, const int32_t* db_labels, const float* queries, size_t nq,
                    const int32_t* query_labels, size_t K, const int64_t* own = nullptr);
// The report of ranked lists: the whole-ranking and radius metrics, which need the whole
// ranking, stay 0.
EvalReport ranked_lists_report(const RetrievalEval& ev);

}  // namespace dlbhc
