// search/mih.cpp -- multi-index hashing (see mih.h for the method and its guarantees).
#include "search/mih.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "hash/hamming.h"

namespace dlbhc {

namespace {

// C(n, k) for n <= 32 (exact in uint64: C(32, 16) ~ 6e8).
uint64_t binomial(int n, int k) {
    if (k < 0 || k > n) return 0;
    uint64_t c = 1;
    for (int i = 1; i <= k; ++i) c = c * uint64_t(n - k + i) / uint64_t(i);
    return c;
}

// Calls f(mask) for every len-bit mask with exactly s bits set (Gosper's hack; s <= len <= 32).
template <class F>
void for_each_mask(int len, int s, F&& f) {
    if (s < 0 || s > len) return;
    if (s == 0) {
        f(uint32_t(0));
        return;
    }
    const uint64_t end = 1ull << len;
    for (uint64_t mask = (1ull << s) - 1; mask < end;) {
        f(uint32_t(mask));
        const uint64_t low = mask & (~mask + 1), ripple = mask + low;
        mask = (((ripple ^ mask) >> 2) / low) | ripple;
    }
}

// Per-thread "seen in this query" marks: stamp[id] == epoch means seen. One pass of zeroing per
// 2^32 queries instead of clearing a bitset for every query.
struct SeenMarks {
    std::vector<uint32_t> stamp;
    uint32_t epoch = 0;
    void start(size_t n) {
        if (stamp.size() < n) stamp.assign(n, 0), epoch = 0;
        if (++epoch == 0) std::fill(stamp.begin(), stamp.end(), 0u), epoch = 1;
    }
    // True the first time id is offered in this query.
    bool first(uint32_t id) {
        if (stamp[id] == epoch) return false;
        stamp[id] = epoch;
        return true;
    }
};

SeenMarks& seen_marks() {
    static thread_local SeenMarks marks;
    return marks;
}

// The switch to the linear scan: a table probe or a verified candidate (a random memory access)
// costs about as much as scanning a few hundred codes sequentially with the SIMD kernels
// (bench_mih, 1M 64-bit codes: ~60 ns per probe or candidate against ~0.13 ns per code for the
// batched scan), so the search gives up after N * W / 256 of them: at worst about twice the scan.
size_t linear_budget(const CodeView& db) { return db.n * size_t(db.words) / 256; }

bool by_distance_then_index(const HammingHit& a, const HammingHit& b) {
    return a.distance != b.distance ? a.distance < b.distance : a.index < b.index;
}

}  // namespace

int MultiIndex::default_substrings(size_t n, int bits) {
    const int lo = std::max(1, (bits + 31) / 32);
    if (n < 2) return lo;
    const long m = std::lround(double(bits) / std::log2(double(n)));
    return (int)std::clamp<long>(m, lo, std::max(lo, bits));
}

MultiIndex::MultiIndex(const CodeView& db, const MihOptions& opt) : db_(db), fallback_(opt.linear_fallback) {
    if (db.bits < 1 || db.bits > kMaxCodeBits)
        throw std::invalid_argument("MultiIndex: expected codes of 1 to " + std::to_string(kMaxCodeBits) + " bits, found " +
                                    std::to_string(db.bits));
    check_searchable(db, db.bits, "MultiIndex");
    const int lo = (db.bits + 31) / 32;
    const int m = opt.m ? opt.m : default_substrings(db.n, db.bits);
    if (m < lo || m > db.bits)
        throw std::invalid_argument("MultiIndex: expected " + std::to_string(lo) + " to " + std::to_string(db.bits) +
                                    " substrings for " + std::to_string(db.bits) + "-bit codes (each at most 32 bits), found " +
                                    std::to_string(m));
    tables_.resize(size_t(m));
    int offset = 0;
    for (int j = 0; j < m; ++j) {
        Table& t = tables_[size_t(j)];
        t.offset = offset;
        t.len = db.bits / m + (j < db.bits % m ? 1 : 0);  // the first B mod m are one bit longer
        offset += t.len;
        build_table(t);
    }
}

uint32_t MultiIndex::substring(const uint64_t* code, const Table& t) const {
    const int w = t.offset >> 6, sh = t.offset & 63;
    uint64_t v = code[w] >> sh;
    if (sh + t.len > 64) v |= code[w + 1] << (64 - sh);  // the substring spans two words
    return uint32_t(v & ((1ull << t.len) - 1));
}

// Direct tables (offsets indexed by the key) while 2^len stays within a few times N; beyond that
// the distinct keys are found through an open-addressing hash of their rank.
void MultiIndex::build_table(Table& t) const {
    const size_t n = db_.n;
    const uint64_t values = 1ull << t.len;
    t.direct = values <= std::max<uint64_t>(4 * uint64_t(n), 4096);
    t.ids.resize(n);
    if (t.direct) {
        // Counting sort by key; ids are placed in increasing order, so each bucket is sorted.
        t.offs.assign(size_t(values) + 1, 0);
        std::vector<uint32_t> keys(n);
        for (size_t i = 0; i < n; ++i) ++t.offs[(keys[i] = substring(db_.code(i), t)) + 1];
        for (uint64_t v = 0; v < values; ++v) t.offs[v + 1] += t.offs[v];
        std::vector<uint32_t> next(t.offs.begin(), t.offs.end() - 1);
        for (size_t i = 0; i < n; ++i) t.ids[next[keys[i]]++] = uint32_t(i);
        return;
    }
    // (key, id) pairs sorted: ids ascending within a key; offs[r] .. offs[r+1] for the r-th key.
    std::vector<uint64_t> pairs(n);
    for (size_t i = 0; i < n; ++i) pairs[i] = uint64_t(substring(db_.code(i), t)) << 32 | uint64_t(i);
    std::sort(pairs.begin(), pairs.end());
    for (size_t i = 0; i < n; ++i) {
        const uint32_t key = uint32_t(pairs[i] >> 32);
        if (t.keys.empty() || t.keys.back() != key) t.keys.push_back(key), t.offs.push_back(uint32_t(i));
        t.ids[i] = uint32_t(pairs[i]);
    }
    t.offs.push_back(uint32_t(n));
    size_t cap = 2;
    while (cap < 2 * t.keys.size()) cap *= 2;
    t.slots.assign(cap, kEmpty);
    for (uint32_t r = 0; r < t.keys.size(); ++r) {
        size_t i = size_t((uint64_t(t.keys[r]) * 0x9E3779B97F4A7C15ull) >> 32) & (cap - 1);
        while (t.slots[i] != kEmpty) i = (i + 1) & (cap - 1);
        t.slots[i] = r;
    }
}

void MultiIndex::bucket(const Table& t, uint32_t key, const uint32_t** begin, const uint32_t** end) const {
    if (t.direct) {
        *begin = t.ids.data() + t.offs[key];
        *end = t.ids.data() + t.offs[size_t(key) + 1];
        return;
    }
    const size_t cap = t.slots.size();
    for (size_t i = size_t((uint64_t(key) * 0x9E3779B97F4A7C15ull) >> 32) & (cap - 1); t.slots[i] != kEmpty;
         i = (i + 1) & (cap - 1)) {
        const uint32_t r = t.slots[i];
        if (t.keys[r] == key) {
            *begin = t.ids.data() + t.offs[r];
            *end = t.ids.data() + t.offs[r + 1];
            return;
        }
    }
    *begin = *end = nullptr;
}

size_t MultiIndex::memory_bytes() const {
    size_t b = 0;
    for (const Table& t : tables_) b += 4 * (t.ids.size() + t.offs.size() + t.slots.size() + t.keys.size());
    return b;
}

// Radius: every code with d <= D, D = r - 1 (LessThan) or r (AtMost). Table j is probed within
// s = floor(D/m) when j <= a = D - m*s, within s - 1 otherwise (mih.h: the pigeonhole bound).
std::vector<HammingHit> MultiIndex::radius(const uint64_t* query, int r, RadiusRule rule, MihStats* stats) const {
    MihStats local;
    MihStats& st = stats ? *stats : local;
    st = MihStats{};
    const int64_t D64 = std::min<int64_t>(rule == RadiusRule::LessThan ? int64_t(r) - 1 : int64_t(r), db_.bits);
    if (D64 < 0 || db_.n == 0) return {};
    const int D = int(D64), m = substrings(), s = D / m, a = D - m * s;
    auto radius_of = [&](int j) { return std::min(j <= a ? s : s - 1, tables_[size_t(j)].len); };
    const size_t budget = linear_budget(db_);
    if (fallback_) {
        uint64_t probes = 0;
        for (int j = 0; j < m; ++j)
            for (int i = 0; i <= radius_of(j); ++i) probes += binomial(tables_[size_t(j)].len, i);
        if (probes > budget) {
            st.linear = true;
            return hamming_radius(db_, query, r, rule);
        }
    }
    const HammingComputer hc(query, db_.words);
    SeenMarks& seen = seen_marks();
    seen.start(db_.n);
    std::vector<HammingHit> hits;
    for (int j = 0; j < m; ++j) {
        const Table& t = tables_[size_t(j)];
        const uint32_t qkey = substring(query, t);
        for (int i = 0; i <= radius_of(j); ++i) {
            if (fallback_ && st.probes + st.candidates > budget) {  // dense buckets: scanning is cheaper
                st.linear = true;
                return hamming_radius(db_, query, r, rule);
            }
            for_each_mask(t.len, i, [&](uint32_t mask) {
                const uint32_t *b, *e;
                bucket(t, qkey ^ mask, &b, &e);
                ++st.probes;
                for (; b != e; ++b) {
                    if (!seen.first(*b)) continue;
                    ++st.candidates;
                    const int d = hc.distance(db_.code(*b));
                    if (d <= D) hits.push_back(HammingHit{*b, uint32_t(d)});
                }
            });
        }
    }
    std::sort(hits.begin(), hits.end(), by_distance_then_index);
    return hits;
}

// k-NN: substring radius s = 0, 1, ... one table at a time. After radius s in tables 0..j (s - 1 in
// the others) every code with d <= D = m*s + j has been seen; `within` counts the seen codes with
// d <= D (hist[d] counts seen codes at distance d). Once within >= k, the k-th distance T <= D and
// every code with d <= T has been seen: the k smallest by (d, index) are the linear scan's.
std::vector<HammingHit> MultiIndex::knn(const uint64_t* query, size_t k, MihStats* stats) const {
    MihStats local;
    MihStats& st = stats ? *stats : local;
    st = MihStats{};
    k = std::min(k, db_.n);
    if (k == 0) return {};
    const size_t budget = linear_budget(db_);
    if (fallback_ && k > budget) {
        st.linear = true;
        return hamming_knn(db_, query, k);
    }
    const int m = substrings(), B = db_.bits, max_len = tables_[0].len;
    std::vector<uint32_t> qkeys = std::vector<uint32_t>(size_t(m));
    for (int j = 0; j < m; ++j) qkeys[size_t(j)] = substring(query, tables_[size_t(j)]);
    const HammingComputer hc(query, db_.words);
    SeenMarks& seen = seen_marks();
    seen.start(db_.n);
    std::vector<HammingHit> hits;
    std::vector<size_t> hist(size_t(B) + 1, 0);
    size_t within = 0;
    int64_t D = -1;
    for (int s = 0; s <= max_len && within < k; ++s) {
        for (int j = 0; j < m && within < k; ++j) {
            const Table& t = tables_[size_t(j)];
            if (fallback_ && st.probes + st.candidates + binomial(t.len, s) > budget) {
                st.linear = true;
                return hamming_knn(db_, query, k);
            }
            for_each_mask(t.len, s, [&](uint32_t mask) {
                const uint32_t *b, *e;
                bucket(t, qkeys[size_t(j)] ^ mask, &b, &e);
                ++st.probes;
                for (; b != e; ++b) {
                    if (!seen.first(*b)) continue;
                    ++st.candidates;
                    const int d = hc.distance(db_.code(*b));
                    if (d > B) continue;  // unused high bits set: never a result (hamming_search.h)
                    hits.push_back(HammingHit{*b, uint32_t(d)});
                    ++hist[size_t(d)];
                    if (d <= D) ++within;
                }
            });
            ++D;  // = m*s + j
            if (D <= B) within += hist[size_t(D)];
        }
    }
    // The k-th distance T; keep the hits with d <= T, sorted, the first k.
    size_t cum = 0;
    int T = 0;
    while (T < B && cum + hist[size_t(T)] < k) cum += hist[size_t(T++)];
    hits.erase(std::remove_if(hits.begin(), hits.end(), [&](const HammingHit& h) { return int(h.distance) > T; }),
               hits.end());
    std::sort(hits.begin(), hits.end(), by_distance_then_index);
    if (hits.size() > k) hits.resize(k);
    return hits;
}

}  // namespace dlbhc
