// search/euclid_search.h -- exhaustive k-NN by Euclidean distance over the stored features: the
// baseline the paper compares the hierarchical search against.
//
// Every database row is compared with every query (squared L2, l2.h); the k smallest are kept,
// sorted by (distance, database index), ties in database order. Distances returned are
// Euclidean (the square root of the squared distance that is ranked). The squared distance is
// computed as ||x||^2 + ||q||^2 - 2 x.q in chunks of 256 dimensions (as FAISS's IndexFlatL2), so
// it may differ from l2sq_row() (the direct sum of squared differences) in the last bits:
// rankings agree except between near-equal distances.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "search/features.h"
#include "search/hamming_search.h"

namespace dlbhc {

struct EuclidHit {
    uint32_t index;
    float distance;  // Euclidean, not squared
};

// queries is (Q, D) float32 row-major, D = db.dim. result[q] has min(k, N) hits (any k, SIZE_MAX
// included: k is clamped to N before anything is allocated).
// Work is split over groups of 16 queries (OpenMP); within a group a block of rows is read once
// and compared with all of the group's queries, four at a time, chunk of dimensions by chunk.
std::vector<std::vector<EuclidHit>> euclidean_knn_batch(const FeatureView& db, const float* queries, size_t nq,
                                                        size_t k, const SearchOptions& opt = {});
std::vector<EuclidHit> euclidean_knn(const FeatureView& db, const float* query, size_t k);

// Keeps the k smallest (squared distance, index) pairs offered in increasing index order.
class EuclidTopK {
public:
    // Memory grows with the items held, not with k (k may be huge: SIZE_MAX keeps everything).
    explicit EuclidTopK(size_t k) : k_(k) { heap_.reserve(std::min<size_t>(k, 1024)); }
    // The k-th smallest squared distance so far (+inf while fewer than k are held; -inf when
    // k = 0). A row with a larger distance, or an equal one (it comes later in database order),
    // cannot enter.
    float bound() const { return k_ == 0 ? -kInf : heap_.size() < k_ ? kInf : heap_.front().d; }
    void add(float d2, uint32_t index);
    // Sorted by (distance, index), distances converted to Euclidean.
    std::vector<EuclidHit> result() const;

private:
    struct Item {
        float d;
        uint32_t i;
        bool operator<(const Item& o) const { return d < o.d || (d == o.d && i < o.i); }
    };
    static constexpr float kInf = __builtin_huge_valf();
    size_t k_;
    std::vector<Item> heap_;  // max-heap on (d, i)
};

}  // namespace dlbhc
