// data/shard.cpp -- see shard.h.
#include "data/shard.h"

#include <cstdint>
#include <stdexcept>

namespace dlbhc {

bool parse_size(const std::string& s, size_t& out) {
    if (s.empty() || s.size() > 20) return false;
    unsigned __int128 v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + unsigned(c - '0');
    }
    if (v > (unsigned __int128)SIZE_MAX) return false;
    out = size_t(v);
    return true;
}

ShardSpec parse_shard(const std::string& text, const std::string& what) {
    const std::string where = what + ": expected I/N (shard I of N, 0 <= I < N, e.g. 0/4), found '" + text + "'";
    const size_t slash = text.find('/');
    ShardSpec s;
    if (slash == std::string::npos || !parse_size(text.substr(0, slash), s.index) ||
        !parse_size(text.substr(slash + 1), s.count))
        throw std::invalid_argument(where);
    if (s.count == 0) throw std::invalid_argument(where + " (N must be at least 1)");
    if (s.index >= s.count)
        throw std::invalid_argument(where + " (I must be below N: shards are numbered 0.." + std::to_string(s.count - 1) +
                                    ")");
    return s;
}

ItemRange shard_range(size_t items, const ShardSpec& s) {
    if (s.count == 0 || s.index >= s.count)
        throw std::invalid_argument("shard " + std::to_string(s.index) + "/" + std::to_string(s.count) +
                                    ": expected 0 <= I < N");
    using u128 = unsigned __int128;
    ItemRange r;
    r.begin = size_t(u128(s.index) * items / s.count);
    r.end = size_t(u128(s.index + 1) * items / s.count);
    return r;
}

RangeDataset::RangeDataset(std::unique_ptr<Dataset> base, ItemRange r) : base_(std::move(base)), range_(r) {
    if (!base_ || r.begin > r.end || r.end > base_->size())
        throw std::out_of_range("range dataset: expected items [" + std::to_string(r.begin) + ", " +
                                std::to_string(r.end) + ") within a dataset of " +
                                std::to_string(base_ ? base_->size() : 0) + " items");
}

size_t RangeDataset::at(size_t i) const {
    if (i >= range_.size()) throw_index_error("range dataset", i, range_.size());
    return range_.begin + i;
}

void RangeDataset::item(size_t i, Image& out) const { base_->item(at(i), out); }
int RangeDataset::label(size_t i) const { return base_->label(at(i)); }
std::string RangeDataset::name(size_t i) const { return base_->name(at(i)); }

}  // namespace dlbhc
