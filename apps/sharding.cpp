// apps/sharding.cpp -- see sharding.h.
#include "apps/sharding.h"

#include <cstdio>

#include "apps/args.h"

namespace dlbhc {

const char* const kShardHelp =
    "  --shard I/N      process only shard I of N (0 <= I < N) of the dataset: its items\n"
    "                   [floor(I*M/N), floor((I+1)*M/N)) of M, in the dataset's order. Run shards\n"
    "                   0..N-1 anywhere (one job each); `dlbhc merge` of their indexes in order\n"
    "                   (or the concatenation of their outputs) equals the unsharded run exactly.\n"
    "                   Every worker must see the same dataset (same files, same --root). A shard\n"
    "                   may be empty (N > M): the index of an empty shard still records the code\n"
    "                   length and the feature storage, so merge and --append take it as any other\n";

ShardOption shard_option(const Args& a) {
    ShardOption o;
    if (!a.has("shard")) return o;
    o.has = true;
    o.spec = parse_shard(a.get("shard", ""), "--shard");
    return o;
}

std::unique_ptr<Dataset> select_shard(std::unique_ptr<Dataset> ds, ShardOption& opt) {
    if (!opt.has) return ds;
    opt.total = ds->size();
    opt.range = shard_range(opt.total, opt.spec);
    std::fprintf(stderr, "shard %zu/%zu: %zu items, [%zu, %zu) of %zu\n", opt.spec.index, opt.spec.count,
                 opt.range.size(), opt.range.begin, opt.range.end, opt.total);
    return std::make_unique<RangeDataset>(std::move(ds), opt.range);
}

}  // namespace dlbhc
