// search/hierarchical.cpp -- coarse (Hamming) then fine (Euclidean) search; see hierarchical.h.
#include "search/hierarchical.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "search/l2.h"
#include "search/parallel.h"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace dlbhc {

// Ranks the pool by squared L2 and keeps the best k, by (distance, index).
static void fine_stage(const FeatureView& features, const std::vector<HammingHit>& pool, const float* qf, size_t k,
                       L2Fn fn, HierarchicalResult& res) {
    struct Cand {
        float d2;
        uint32_t index, hamming;
        bool operator<(const Cand& o) const { return d2 < o.d2 || (d2 == o.d2 && index < o.index); }
    };
    std::vector<Cand> c(pool.size());
    for (size_t i = 0; i < pool.size(); ++i) {
        fn(features.row(pool[i].index), &qf, 1, features.dim, &c[i].d2);
        c[i].index = pool[i].index;
        c[i].hamming = pool[i].distance;
    }
    size_t top = std::min(k, c.size());
    std::partial_sort(c.begin(), c.begin() + (long)top, c.end());
    res.pool_size = pool.size();
    res.hits.resize(top);
    for (size_t i = 0; i < top; ++i) res.hits[i] = HierarchicalHit{c[i].index, c[i].hamming, std::sqrt(c[i].d2)};
}

// The coarse stage by multi-index hashing, one query after the other.
static std::vector<std::vector<HammingHit>> mih_knn_each(const MultiIndex& mih, const CodeView& queries, size_t k) {
    std::vector<std::vector<HammingHit>> out(queries.n);
    for (size_t q = 0; q < queries.n; ++q) out[q] = mih.knn(queries.code(q), k);
    return out;
}
static std::vector<std::vector<HammingHit>> mih_radius_each(const MultiIndex& mih, const CodeView& queries, int r,
                                                            RadiusRule rule) {
    std::vector<std::vector<HammingHit>> out(queries.n);
    for (size_t q = 0; q < queries.n; ++q) out[q] = mih.radius(queries.code(q), r, rule);
    return out;
}

std::vector<HierarchicalResult> hierarchical_search_batch(const CodeView& codes, const FeatureView& features,
                                                          const CodeView& query_codes, const float* query_features,
                                                          size_t k, const HierarchicalOptions& opt,
                                                          const SearchOptions& sopt) {
    if (features.n != codes.n)
        throw std::invalid_argument("hierarchical_search: expected one feature row per code (" +
                                    std::to_string(codes.n) + "), found " + std::to_string(features.n));
    if (features.dim < 0)
        throw std::invalid_argument("hierarchical_search: expected D >= 0, found D = " + std::to_string(features.dim));
    if (features.n && !features.data)
        throw std::invalid_argument("hierarchical_search: expected feature data, found none");
    if (opt.mih && (opt.mih->codes().data != codes.data || opt.mih->codes().n != codes.n || opt.mih->codes().bits != codes.bits))
        throw std::invalid_argument("hierarchical_search: expected a multi-index of the searched codes, found one of other codes");
    if (opt.mih) check_searchable(codes, query_codes.bits, "hierarchical_search");
    const L2Fn fn = l2_fn(features.type, l2_active_kernel());
    const size_t nq = query_codes.n;
    std::vector<HierarchicalResult> res(nq);

    // Coarse stage for all queries at once (the batch searches share each pass over the codes).
    std::vector<std::vector<HammingHit>> pools;
    if (opt.pool == HierarchicalOptions::Pool::TopM) {
        pools = opt.mih ? mih_knn_each(*opt.mih, query_codes, opt.m) : hamming_knn_batch(codes, query_codes, opt.m, sopt);
        for (size_t q = 0; q < nq; ++q) res[q].threshold_used = pools[q].empty() ? 0 : (int)pools[q].back().distance;
    } else {
        pools = opt.mih ? mih_radius_each(*opt.mih, query_codes, opt.threshold, opt.rule)
                        : hamming_radius_batch(codes, query_codes, opt.threshold, opt.rule, sopt);
        // The pool can never hold more than the N items: widen only while it holds fewer than
        // min(min_pool, N) (with N < min_pool and every item already in, there is nothing to add).
        const size_t want = std::min(opt.min_pool, codes.n);
        for (size_t q = 0; q < nq; ++q) {
            res[q].threshold_used = opt.threshold;
            if (pools[q].size() >= want) continue;
            // Widen: every code within the distance of the want-th nearest one. That code is
            // outside the pool, so the new threshold is above the requested one (the max() only
            // states it).
            auto nearest = opt.mih ? opt.mih->knn(query_codes.code(q), want) : hamming_knn(codes, query_codes.code(q), want);
            const int dmax = (int)nearest.back().distance;
            res[q].threshold_used = std::max(opt.threshold, opt.rule == RadiusRule::LessThan ? dmax + 1 : dmax);
            res[q].widened = true;
            pools[q] = opt.mih ? opt.mih->radius(query_codes.code(q), dmax, RadiusRule::AtMost)
                               : hamming_radius(codes, query_codes.code(q), dmax, RadiusRule::AtMost);
        }
    }

    // Fine stage, one query per iteration.
    const size_t D = (size_t)features.dim;
    size_t work = 0;
    for (const auto& p : pools) work += p.size() * D;
    (void)work;
    ParallelErrors errors;  // no exception may leave the parallel region (search/parallel.h)
#if defined(_OPENMP)
#pragma omp parallel for schedule(dynamic, 4) if (nq > 1 && work >= sopt.parallel_min_words) \
    num_threads(sopt.threads > 0 ? sopt.threads : omp_get_max_threads())
#endif
    for (long long q = 0; q < (long long)nq; ++q)
        errors.run([&] { fine_stage(features, pools[q], query_features + q * D, k, fn, res[q]); });
    errors.rethrow();
    return res;
}

HierarchicalResult hierarchical_search(const CodeView& codes, const FeatureView& features, const uint64_t* query_code,
                                       const float* query_feature, size_t k, const HierarchicalOptions& opt) {
    CodeView q{query_code, 1, codes.bits, codes.words};
    return std::move(hierarchical_search_batch(codes, features, q, query_feature, k, opt)[0]);
}

}  // namespace dlbhc
