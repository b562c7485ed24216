// search/mih.h -- multi-index hashing: exact Hamming k-NN and radius search, sublinear in N.
//
// Norouzi, Punjani, Fleet, "Fast Search in Hamming Space with Multi-Index Hashing", CVPR 2012.
// Each B-bit code is cut into m disjoint substrings (bits 0.., contiguous; B/m bits each, the first
// B mod m one bit longer, each at most 32 bits); table j maps the value of substring j to the
// sorted ids of the codes having it.
//
// Pigeonhole (the paper's Proposition 1, with a = D - m*s): if d(q, x) <= D and s = floor(D/m),
// then some substring j <= a has d_j <= s, or some substring j > a has d_j <= s - 1 (otherwise the
// substring distances would sum to at least (a+1)(s+1) + (m-a-1)s = D + 1). It holds whatever the
// substring lengths. So a radius search probes, in table j, every value within s (j <= a) or s - 1
// (j > a) of the query's substring (bit-flip enumeration), verifies each new candidate with the
// full distance (hash/hamming.h) and sorts the hits by (distance, index).
// k-NN grows the radius one table at a time: after radius s has been probed in tables 0..j (and
// s - 1 in the rest), every code with d <= m*s + j has been seen; the search stops once k seen codes
// have d <= that bound, so every code tied at the k-th distance has been seen too.
//
// Results are identical to hamming_knn / hamming_radius (search/hamming_search.h): same hits, same
// (distance, index) order, same treatment of codes with unused high bits set (never returned).
// When the probing would cost more than a linear scan (more than N*W/256 probes and verified
// candidates: each is a random memory access), the search switches to the linear scan, which
// gives the same results (MihOptions::linear_fallback); a k-NN search that switches late has
// then cost up to about twice the scan.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "hash/code.h"
#include "search/hamming_search.h"

namespace dlbhc {

struct MihOptions {
    int m = 0;                   // substrings; 0 = round(B / log2 N), clamped to [ceil(B/32), B]
    bool linear_fallback = true;  // switch to the linear scan when probing would cost more
};

// What one search did (for tests and benchmarks).
struct MihStats {
    size_t probes = 0;      // table look-ups (substring values enumerated)
    size_t candidates = 0;  // distinct codes whose full distance was computed
    bool linear = false;    // true when the search fell back to the linear scan
};

class MultiIndex {
public:
    // Builds the m tables over db. The codes are not copied: db's memory must outlive the index.
    // Throws std::invalid_argument when m is outside [ceil(B/32), B] or N >= 2^32.
    explicit MultiIndex(const CodeView& db, const MihOptions& opt = {});

    // The default m for N codes of B bits: round(B / log2 N) clamped to [ceil(B/32), B]
    // (ceil(B/32) when N < 2).
    static int default_substrings(size_t n, int bits);

    int substrings() const { return (int)tables_.size(); }
    const CodeView& codes() const { return db_; }
    // Bytes held by the tables (ids, offsets, hash slots).
    size_t memory_bytes() const;

    // As hamming_knn(codes(), query, k) and hamming_radius(codes(), query, r, rule): the same
    // results. Thread-safe (scratch memory is per thread).
    std::vector<HammingHit> knn(const uint64_t* query, size_t k, MihStats* stats = nullptr) const;
    std::vector<HammingHit> radius(const uint64_t* query, int r, RadiusRule rule, MihStats* stats = nullptr) const;

private:
    struct Table {
        int offset = 0, len = 0;      // bits offset .. offset+len-1 of the code
        bool direct = false;          // offsets indexed by the key itself (2^len + 1 entries)
        std::vector<uint32_t> ids;    // N ids grouped by key, ascending within a key
        std::vector<uint32_t> offs;   // direct: by key; else by rank of the key among keys
        std::vector<uint32_t> slots;  // open addressing (not direct): rank of the key, or kEmpty
        std::vector<uint32_t> keys;   // not direct: the distinct keys, ascending (rank -> key)
    };
    static constexpr uint32_t kEmpty = 0xFFFFFFFFu;

    void build_table(Table& t) const;
    // The ids having key in table t, as [*begin, *end).
    void bucket(const Table& t, uint32_t key, const uint32_t** begin, const uint32_t** end) const;
    uint32_t substring(const uint64_t* code, const Table& t) const;

    CodeView db_;
    bool fallback_;
    std::vector<Table> tables_;
};

}  // namespace dlbhc
