// search/hamming_topk.cpp -- counting top-K (see hamming_topk.h).
#include "search/hamming_topk.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "search/hamming_filter.h"

namespace dlbhc {

void hamming_filter_append(const uint16_t* dist_in, size_t n, uint32_t base, int bound,
                           std::vector<uint32_t>& idx, std::vector<uint16_t>& dist) {
    uint32_t idx_buf[kFilterChunk];
    uint16_t dist_buf[kFilterChunk];
    for (size_t s = 0; s < n; s += kFilterChunk) {
        size_t c = hamming_filter_below(dist_in + s, std::min(kFilterChunk, n - s), base + (uint32_t)s, bound, idx_buf,
                                        dist_buf);
        idx.insert(idx.end(), idx_buf, idx_buf + c);
        dist.insert(dist.end(), dist_buf, dist_buf + c);
    }
}

HammingTopK::HammingTopK(size_t k, int bits) : k_(k), bits_(bits), hist_((size_t)bits + 2) { reset(); }

void HammingTopK::reset() {
    idx_.clear();
    dist_.clear();
    std::fill(hist_.begin(), hist_.end(), 0u);
    bound_ = k_ == 0 ? 0 : bits_ + 1;
}

// Sub-blocks between bound updates (kFilterChunk codes): small enough that the first K codes
// tighten the bound quickly, large enough that updating it (a walk over B + 1 counters) costs
// nothing.
static const size_t kStep = kFilterChunk;

void HammingTopK::add_block(const uint16_t* dist, size_t n, uint32_t base) {
    for (size_t s = 0; s < n && bound_ > 0; s += kStep) {
        const size_t before = idx_.size();
        uint32_t idx_buf[kStep];
        uint16_t dist_buf[kStep];
        size_t c = hamming_filter_below(dist + s, std::min(kStep, n - s), base + (uint32_t)s, bound_, idx_buf, dist_buf);
        if (c == 0) continue;
        idx_.insert(idx_.end(), idx_buf, idx_buf + c);
        dist_.insert(dist_.end(), dist_buf, dist_buf + c);
        for (size_t i = before; i < idx_.size(); ++i) ++hist_[dist_[i]];
        if (idx_.size() < k_) continue;
        // Tighten: bound = T, the K-th smallest distance held.
        size_t cum = 0;
        int t = 0;
        while (cum + hist_[t] < k_) cum += hist_[t++];
        bound_ = t;
        // Drop what can no longer be in the result once the list is much longer than K
        // (amortised: each candidate is dropped at most once).
        if (idx_.size() >= 4 * k_ + kStep) shrink();
    }
}

void HammingTopK::shrink() {
    // T = the K-th smallest distance: the first t with count(d <= t) >= K.
    size_t below = 0;  // count(d < t)
    int t = 0;
    while (below + hist_[t] < k_) below += hist_[t++];
    size_t take_at_t = k_ - below;  // the earliest ones at distance T
    size_t out = 0;
    for (size_t i = 0; i < idx_.size(); ++i) {
        int d = dist_[i];
        if (d < t || (d == t && take_at_t > 0)) {
            if (d == t) --take_at_t;
            idx_[out] = idx_[i];
            dist_[out] = dist_[i];
            ++out;
        }
    }
    idx_.resize(out);
    dist_.resize(out);
    hist_[t] = (uint32_t)(k_ - below);  // what is left at distance T
    for (size_t d = (size_t)t + 1; d < hist_.size(); ++d) hist_[d] = 0;
    bound_ = t;
}

std::vector<HammingHit> HammingTopK::result() {
    if (idx_.size() > k_) shrink();
    std::vector<HammingHit> hits(idx_.size());
    for (size_t i = 0; i < idx_.size(); ++i) hits[i] = HammingHit{idx_[i], dist_[i]};
    sort_hits_by_distance(hits, bits_);
    return hits;
}

void sort_hits_by_distance(std::vector<HammingHit>& hits, int bits) {
    // The counters cover distances 0..B: a larger one (a code with its unused high bits set,
    // hash/code.h) is refused before anything is counted, never written past the end.
    for (const auto& h : hits)
        if (bits < 0 || h.distance > (uint32_t)bits)
            throw std::invalid_argument("sort_hits_by_distance: expected Hamming distances of at most " +
                                        std::to_string(bits) + " (the bits per code), found " +
                                        std::to_string(h.distance) + " for database item " + std::to_string(h.index) +
                                        " (a code with its unused high bits set?)");
    if (hits.size() < 2) return;
    std::vector<size_t> start((size_t)bits + 2, 0);
    for (const auto& h : hits) ++start[h.distance + 1];
    for (size_t d = 1; d < start.size(); ++d) start[d] += start[d - 1];
    std::vector<HammingHit> sorted(hits.size());
    for (const auto& h : hits) sorted[start[h.distance]++] = h;
    hits.swap(sorted);
}

}  // namespace dlbhc
