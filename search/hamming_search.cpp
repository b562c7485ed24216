// search/hamming_search.cpp -- linear Hamming k-NN and radius search (see hamming_search.h).
//
// Loop order: queries are taken in groups of kGroup; for each database block (~64 KiB of codes)
// every query of the group computes the block's distances into a small buffer and filters them.
// The block is read from memory once per group instead of once per query, which makes the scan
// compute-bound rather than bandwidth-bound.
#include "search/hamming_search.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "hash/hamming.h"
#include "search/parallel.h"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace dlbhc {

static const size_t kGroup = 8;  // queries sharing one pass over the database

void check_searchable(const CodeView& db, int query_bits, const char* what) {
    if (db.bits != query_bits)
        throw std::invalid_argument(std::string(what) + ": expected queries of " + std::to_string(db.bits) +
                                    " bits (the database's), found " + std::to_string(query_bits));
    if (db.n >= (size_t)UINT32_MAX)
        throw std::invalid_argument(std::string(what) + ": expected fewer than 2^32 database codes, found " +
                                    std::to_string(db.n));
    if (db.n && !db.data) throw std::invalid_argument(std::string(what) + ": database view has no data");
}

size_t hamming_block_codes(int words) {
    size_t n = 65536 / (8 * (size_t)words);
    n -= n % 32;  // whole SIMD blocks (32 codes) except at the very end
    return n < 256 ? 256 : n;
}

// Runs body(q0, q1) for the groups of queries [q0, q1) covering [0, nq), in parallel when the
// work is large enough. An exception thrown by body (std::bad_alloc) is rethrown after the
// parallel region (search/parallel.h).
template <class Body>
static void for_each_group(size_t nq, size_t work, const SearchOptions& opt, Body body) {
    const size_t groups = (nq + kGroup - 1) / kGroup;
    const bool parallel = work >= opt.parallel_min_words && groups > 1;
    ParallelErrors errors;
#if defined(_OPENMP)
#pragma omp parallel for schedule(dynamic, 1) if (parallel) num_threads(opt.threads > 0 ? opt.threads : omp_get_max_threads())
    for (long long g = 0; g < (long long)groups; ++g)
        errors.run([&] { body((size_t)g * kGroup, std::min(nq, ((size_t)g + 1) * kGroup)); });
#else
    (void)parallel;
    for (size_t g = 0; g < groups; ++g) errors.run([&] { body(g * kGroup, std::min(nq, (g + 1) * kGroup)); });
#endif
    errors.rethrow();
}

// Scans the whole database for queries [q0, q1): for each block, visit(j, block_dist, n, base)
// is called for each query j in the group.
// fn is chosen by the caller before any parallel region (the choice may throw: DLBHC_HAMMING).
template <class Visit>
static void scan_group(HammingBatchFn fn, const CodeView& db, const CodeView& queries, size_t q0, size_t q1,
                       Visit visit) {
    const size_t block = hamming_block_codes(db.words);
    std::vector<uint16_t> dist(block);
    for (size_t b0 = 0; b0 < db.n; b0 += block) {
        size_t n = std::min(block, db.n - b0);
        const uint64_t* codes = db.code(b0);
        for (size_t q = q0; q < q1; ++q) {
            fn(queries.code(q), codes, n, db.words, dist.data());
            visit(q - q0, dist.data(), n, (uint32_t)b0);
        }
    }
}

std::vector<std::vector<HammingHit>> hamming_knn_batch(const CodeView& db, const CodeView& queries, size_t k,
                                                       const SearchOptions& opt) {
    check_searchable(db, queries.bits, "hamming_knn");
    k = std::min(k, db.n);  // min(k, N) hits: a huge k must not size anything
    const HammingBatchFn fn = hamming_batch_fn(hamming_active_kernel());
    std::vector<std::vector<HammingHit>> out(queries.n);
    for_each_group(queries.n, queries.n * db.n * db.words, opt, [&](size_t q0, size_t q1) {
        std::vector<HammingTopK> topk(q1 - q0, HammingTopK(k, db.bits));
        scan_group(fn, db, queries, q0, q1, [&](size_t j, const uint16_t* d, size_t n, uint32_t base) {
            if (topk[j].bound() > 0) topk[j].add_block(d, n, base);
        });
        for (size_t q = q0; q < q1; ++q) out[q] = topk[q - q0].result();
    });
    return out;
}

std::vector<HammingHit> hamming_knn(const CodeView& db, const uint64_t* query, size_t k) {
    CodeView q{query, 1, db.bits, db.words};
    return std::move(hamming_knn_batch(db, q, k)[0]);
}

std::vector<std::vector<HammingHit>> hamming_radius_batch(const CodeView& db, const CodeView& queries, int r,
                                                          RadiusRule rule, const SearchOptions& opt) {
    check_searchable(db, queries.bits, "hamming_radius");
    // Everything is a `d < bound` filter: <= r is < r + 1, computed in 64 bits (r may be INT_MAX)
    // and clamped to [0, B + 1] (every distance is in [0, B]; a negative r keeps nothing).
    const int64_t bound64 = rule == RadiusRule::LessThan ? (int64_t)r : (int64_t)r + 1;
    const int bound = (int)std::max<int64_t>(0, std::min<int64_t>(bound64, (int64_t)db.bits + 1));
    const HammingBatchFn fn = hamming_batch_fn(hamming_active_kernel());
    std::vector<std::vector<HammingHit>> out(queries.n);
    if (bound == 0) return out;  // nothing can be below 0
    for_each_group(queries.n, queries.n * db.n * db.words, opt, [&](size_t q0, size_t q1) {
        std::vector<std::vector<uint32_t>> idx(q1 - q0);
        std::vector<std::vector<uint16_t>> dist(q1 - q0);
        scan_group(fn, db, queries, q0, q1, [&](size_t j, const uint16_t* d, size_t n, uint32_t base) {
            hamming_filter_append(d, n, base, bound, idx[j], dist[j]);
        });
        for (size_t q = q0; q < q1; ++q) {
            auto& hits = out[q];
            hits.resize(idx[q - q0].size());
            for (size_t i = 0; i < hits.size(); ++i) hits[i] = HammingHit{idx[q - q0][i], dist[q - q0][i]};
            sort_hits_by_distance(hits, db.bits);
        }
    });
    return out;
}

std::vector<HammingHit> hamming_radius(const CodeView& db, const uint64_t* query, int r, RadiusRule rule) {
    CodeView q{query, 1, db.bits, db.words};
    return std::move(hamming_radius_batch(db, q, r, rule)[0]);
}

std::vector<HammingHit> hamming_rank_all(const CodeView& db, const uint64_t* query) {
    check_searchable(db, db.bits, "hamming_rank_all");
    std::vector<uint16_t> dist(db.n);
    HammingComputer hc(query, db.words);
    hc.distances(db.data, db.n, dist.data());
    std::vector<HammingHit> hits(db.n);
    for (size_t i = 0; i < db.n; ++i) hits[i] = HammingHit{(uint32_t)i, dist[i]};
    sort_hits_by_distance(hits, db.bits);
    return hits;
}

}  // namespace dlbhc
