// data/shard.h -- a deterministic split of a dataset into N shards, so that N workers (any batch
// scheduler: one job per shard) can encode or index it and `dlbhc merge` can join the results.
//
// Shard I of N holds the contiguous items [floor(I*M/N), floor((I+1)*M/N)) of a dataset of M
// items, in the dataset's stored order. Contiguous ranges (rather than item k -> shard k mod N)
// make shards 0..N-1 concatenated in order equal the whole dataset in its order, so merging the
// shard indexes reproduces the unsharded index item for item (byte for byte). The shards
// partition 0..M-1 with no gap and no overlap for every M >= 0 and N >= 1; their sizes differ by
// at most one; with N > M some shards are empty.
#pragma once
#include <cstddef>
#include <memory>
#include <string>

#include "data/dataset.h"

namespace dlbhc {

struct ShardSpec {
    size_t index = 0;  // I, 0 <= I < N
    size_t count = 1;  // N >= 1
};

// Parses a count or an item number written as decimal digits only (no sign, no spaces, no
// other text) into `out`; false when `text` is anything else or exceeds SIZE_MAX.
bool parse_size(const std::string& text, size_t& out);

// Parses "I/N" (decimal, no sign, no spaces; 0 <= I < N). Throws std::invalid_argument naming
// `what` (e.g. "--shard"), the expected form and the text found.
ShardSpec parse_shard(const std::string& text, const std::string& what);

// [begin, end) of shard s of a dataset of `items` items (see the file comment). Exact for every
// size_t (the products are computed in 128 bits).
struct ItemRange {
    size_t begin = 0, end = 0;
    size_t size() const { return end - begin; }
};
ItemRange shard_range(size_t items, const ShardSpec& s);

// The items [r.begin, r.end) of another dataset, renumbered from 0 (item i is base item
// r.begin + i, with its label and its name unchanged). Item sizes and the class count are the
// base dataset's, so a net built for a shard is the net built for the whole dataset.
class RangeDataset : public Dataset {
public:
    // Throws std::out_of_range unless r.begin <= r.end <= base->size().
    RangeDataset(std::unique_ptr<Dataset> base, ItemRange r);

    size_t size() const override { return range_.size(); }
    int num_classes() const override { return base_->num_classes(); }
    int channels() const override { return base_->channels(); }
    int height() const override { return base_->height(); }
    int width() const override { return base_->width(); }
    void item(size_t i, Image& out) const override;
    int label(size_t i) const override;
    std::string name(size_t i) const override;

private:
    size_t at(size_t i) const;
    std::unique_ptr<Dataset> base_;
    ItemRange range_;
};

}  // namespace dlbhc
