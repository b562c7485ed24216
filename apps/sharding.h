// apps/sharding.h -- `--shard I/N` for `dlbhc encode` and `dlbhc index` (data/shard.h): the
// option and the shard of the opened dataset (a shard that may be empty is encoded with
// encode_maybe_empty, apps/encode.h).
#pragma once
#include <memory>
#include <string>

#include "data/dataset.h"
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

}  // namespace dlbhc
