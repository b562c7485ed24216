// apps/sharding.h -- `--shard I/N` for `dlbhc encode` and `dlbhc index` (data/shard.h): the
// option, the shard of the opened dataset, and encoding a shard that may be empty.
#pragma once
#include <memory>
#include <string>

#include "apps/pipeline.h"
#include "data/shard.h"

namespace dlbhc {

class Args;

// The help lines of --shard, shared by encode and index.
extern const char* const kShardHelp;

// --shard I/N when given (has = false when absent). Throws std::invalid_argument naming the option.
struct ShardOption {
    bool has = false;
    ShardSpec spec;
    ItemRange range;     // set by select_shard
    size_t total = 0;    // M, the whole dataset's size; set by select_shard
};
ShardOption shard_option(const Args& a);

// The shard's items of `ds` (ds itself without --shard); records the range and M in `opt` and
// prints "shard I/N: items B..E-1 of M" on stderr so every worker's log says what it did.
std::unique_ptr<Dataset> select_shard(std::unique_ptr<Dataset> ds, ShardOption& opt);

// encode_dataset, except that an empty dataset (a shard of a dataset smaller than N) gives an
// empty set with the net's code length and feature dimension instead of an error.
EncodedSet encode_maybe_empty(EncodeSetup& es, const Dataset& ds, bool keep_features, bool progress);

}  // namespace dlbhc
