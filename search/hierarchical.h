// search/hierarchical.h -- the paper's coarse-to-fine retrieval (Lin et al. 2015, section 3.3).
//
//   coarse: the candidate pool P = database items whose Hamming distance to the query code is
//           below a threshold t (Pool::Radius), or the m nearest codes (Pool::TopM);
//   fine:   the pool is ranked by Euclidean distance between the stored fc7 features and the
//           query's fc7 feature; the top k are returned with both distances.
// The paper does not give t (unverified), hence a parameter. With Pool::Radius the threshold is
// widened when the pool would hold fewer than min(min_pool, N) items (by default: when it would be
// empty): the pool becomes every item within the Hamming distance of the min(min_pool, N)-th
// nearest code (whole distance shells, so the widened pool does not depend on database order).
// A pool that already holds every item is never widened. Any int threshold is valid (as for
// hamming_radius: a negative one gives an empty pool before widening).
// The fine ranking is by (Euclidean distance, database index); ties keep database order.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "hash/code.h"
#include "search/features.h"
#include "search/hamming_search.h"
#include "search/mih.h"

namespace dlbhc {

struct HierarchicalOptions {
    enum class Pool { Radius, TopM };
    Pool pool = Pool::Radius;
    int threshold = 8;                       // Radius: Hamming threshold t (unverified in the paper)
    RadiusRule rule = RadiusRule::LessThan;  // Radius: d < t (the paper's "below") or d <= t
    size_t min_pool = 1;                     // Radius: widen t until the pool has min(this, N) (0: never)
    size_t m = 1000;                         // TopM: pool size
    // Coarse stage by multi-index hashing (search/mih.h) instead of the linear scan: the same
    // pools, found sublinearly. Must index the `codes` searched (same view); nullptr = linear.
    const MultiIndex* mih = nullptr;
};

struct HierarchicalHit {
    uint32_t index;
    uint32_t hamming;  // coarse distance
    float euclidean;   // fine distance (not squared)
};

struct HierarchicalResult {
    std::vector<HierarchicalHit> hits;  // min(k, pool) items, by (euclidean, index)
    size_t pool_size = 0;               // candidates ranked by the fine stage
    int threshold_used = 0;             // Radius: t after widening (same rule; never below the requested
                                        // t, equal to it when not widened); TopM: distance of the m-th
    bool widened = false;               // Radius: true when t had to be widened (the pool grew)
};

// codes: (N, W) database codes; features: (N, D) database features (N must match);
// query_codes: Q codes; query_features: (Q, D) float32. result[q] for query q.
std::vector<HierarchicalResult> hierarchical_search_batch(const CodeView& codes, const FeatureView& features,
                                                          const CodeView& query_codes, const float* query_features,
                                                          size_t k, const HierarchicalOptions& opt,
                                                          const SearchOptions& sopt = {});
HierarchicalResult hierarchical_search(const CodeView& codes, const FeatureView& features, const uint64_t* query_code,
                                       const float* query_feature, size_t k, const HierarchicalOptions& opt);

}  // namespace dlbhc
