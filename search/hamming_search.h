// search/hamming_search.h -- exact linear search by Hamming distance: k-NN and radius search.
//
// Conventions (all functions):
//   - results are sorted by (distance, database index): ties keep database order, so results are
//     reproducible and equal to the authors' stable sort;
//   - a database of N codes must have N < 2^32 (indices are uint32);
//   - queries and database must have the same bit count (std::invalid_argument otherwise);
//   - codes keep their unused high bits zero (hash/code.h; IndexFile::open checks it). A code that
//     does not has a distance above B: hamming_rank_all throws std::invalid_argument, k-NN and
//     radius search never return it (their filter bound is at most B + 1); no histogram of
//     distances is ever indexed beyond B + 1.
// Batch versions run queries in parallel with OpenMP when the work (Q * N * W words) reaches
// SearchOptions::parallel_min_words, and give the same results with any number of threads.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "hash/code.h"
#include "search/hamming_topk.h"

namespace dlbhc {

struct SearchOptions {
    int threads = 0;                      // OpenMP threads for batches; 0 = OpenMP's default
    size_t parallel_min_words = 1u << 20;  // below this much work (Q*N*W words) stay serial
};

// Radius conventions: LessThan keeps d < r, AtMost keeps d <= r ("within Hamming radius r" in most
// hashing papers means AtMost; the paper's coarse threshold is stated as "below": LessThan).
enum class RadiusRule { LessThan, AtMost };

// The k nearest codes to `query` (W words), min(k, N) hits (any k: SIZE_MAX gives all N).
std::vector<HammingHit> hamming_knn(const CodeView& db, const uint64_t* query, size_t k);
// The same for every query code; result[q] belongs to queries.code(q).
std::vector<std::vector<HammingHit>> hamming_knn_batch(const CodeView& db, const CodeView& queries, size_t k,
                                                       const SearchOptions& opt = {});

// Every code with distance < r (LessThan) or <= r (AtMost). Any int r: the bound is computed in
// 64 bits and clamped to [0, B + 1] (INT_MAX gives every code; a negative r gives none).
std::vector<HammingHit> hamming_radius(const CodeView& db, const uint64_t* query, int r, RadiusRule rule);
std::vector<std::vector<HammingHit>> hamming_radius_batch(const CodeView& db, const CodeView& queries, int r,
                                                          RadiusRule rule, const SearchOptions& opt = {});

// The whole database ranked by (distance, index): the authors' full stable sort, used by the
// evaluation. N hits.
std::vector<HammingHit> hamming_rank_all(const CodeView& db, const uint64_t* query);

// Checks that queries can be searched in db (same bit count, N < 2^32); throws otherwise.
// `what` names the caller in the message.
void check_searchable(const CodeView& db, int query_bits, const char* what);

// Number of codes per database block: a block is scanned by a group of queries while it sits in
// the L1/L2 cache (about 64 KiB of codes).
size_t hamming_block_codes(int words);

}  // namespace dlbhc
