// search/hamming_topk.h -- exact top-K by Hamming distance, by counting.
//
// Distances are integers in [0, B], so the K-th smallest distance is found from a histogram
// instead of a heap or a sort (as FAISS's hammings_knn_mc). The ranking is by (distance, database
// index): ties keep database order, which is what the authors' stable sort in MATLAB gives.
//
// The codes are offered block by block in database order. Once K candidates are held, the K-th
// distance T is a bound: a later code with distance >= T can never enter (those at distance T
// lose the tie to the earlier ones), so each block is filtered with `d < bound()` and only the
// rare survivors are stored. A histogram of the held distances is kept up to date, so T is found
// by walking B + 1 counters after every 1024 codes. When the list grows past 4K + 1024 it is cut
// back to K, keeping all with d < T and the earliest ones with d == T.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace dlbhc {

// One result of a Hamming search: database index and Hamming distance.
struct HammingHit {
    uint32_t index;
    uint32_t distance;
    bool operator==(const HammingHit& o) const { return index == o.index && distance == o.distance; }
};

class HammingTopK {
public:
    // k results wanted; bits = B, the largest possible distance.
    HammingTopK(size_t k, int bits);
    void reset();
    // Offers the distances dist[0..n) of the codes base .. base+n-1 (blocks must come in
    // increasing database order).
    void add_block(const uint16_t* dist, size_t n, uint32_t base);
    // Codes with distance >= bound() cannot enter any more (B + 1 while fewer than K are held).
    int bound() const { return bound_; }
    // The min(K, offered) best, sorted by (distance, index).
    std::vector<HammingHit> result();

private:
    void shrink();  // cuts the candidates back to K (requires at least K held)
    size_t k_;
    int bits_;
    int bound_;
    std::vector<uint32_t> idx_;   // candidates, in database order
    std::vector<uint16_t> dist_;  // their distances
    std::vector<uint32_t> hist_;  // hist_[d] = candidates held at distance d, d = 0 .. B
};

// Codes filtered per call of hamming_filter_below (search/hamming_filter.h).
constexpr size_t kFilterChunk = 1024;

// Appends to (idx, dist) every i < n with dist_in[i] < bound, as base + i, in order.
void hamming_filter_append(const uint16_t* dist_in, size_t n, uint32_t base, int bound,
                           std::vector<uint32_t>& idx, std::vector<uint16_t>& dist);

// Sorts hits by (distance, index) with a counting sort; hits must already be in index order
// (the sort is stable). bits = B bounds the distances: a distance above B (only codes with their
// unused high bits set can give one) throws std::invalid_argument.
void sort_hits_by_distance(std::vector<HammingHit>& hits, int bits);

}  // namespace dlbhc
