// apps/cmd_merge.cpp -- `dlbhc merge`: concatenate indexes (the shards of `dlbhc index --shard`).

#include <cstdio>
#include <string>

#include "apps/args.h"
#include "apps/commands.h"
#include "apps/progress.h"
#include "apps/provenance.h"
#include "io/path.h"
#include "search/index_file.h"

namespace dlbhc {

static const char* kHelp =
    "usage: dlbhc merge [--force] OUT.idx IN1.idx [IN2.idx ...]\n"
    "Writes the items of IN1, IN2, ... in that order (codes, labels, names, features) into one\n"
    "index OUT, atomically. Merging the shard indexes of `dlbhc index --shard I/N` for I = 0..N-1\n"
    "in shard order gives, byte for byte, the index of the unsharded run (the index format does\n"
    "not record shards: the order of the arguments is the order of the items).\n"
    "Every input is fully verified (checksums) and must have the code length, the feature storage\n"
    "(none, float32 or float16) and the feature dimension of IN1, and have been made with the same\n"
    "net, weights and preprocessing (their provenance, `dlbhc info`); a file given twice is refused.\n"
    "OUT records the provenance of IN1 with the data sources of all inputs (each listed once), or\n"
    "none when an input records none (an index written before dlbhc recorded provenance).\n"
    "OUT may be one of the inputs (it is replaced only once the merged index is complete); updates\n"
    "of OUT by other dlbhc processes (index --append) wait for the merge, as for `dlbhc index`.\n"
    "An existing OUT that is not one of the inputs is refused (a forgotten OUT would make the\n"
    "merge replace the first shard), unless:\n"
    "  --force    replace an existing OUT that is not one of the inputs\n"
    "A symbolic link OUT stays a link: the file it names gets the merged index. If the merge fails,\n"
    "OUT is unchanged and no folder made for it is left.\n";

namespace {

// An existing OUT that is none of the inputs is most likely a forgotten OUT ("merge s0.idx
// s1.idx"): replacing it would lose that index.
void refuse_replacing_other_index(const std::string& out, const std::vector<std::string>& inputs) {
    if (!path_exists(out)) return;
    for (const auto& in : inputs)
        if (same_file(out, in)) return;
    throw std::invalid_argument("OUT '" + out + "' exists and is not one of the inputs: the merge would replace it and " +
                                "lose what it holds (did you forget OUT? usage: dlbhc merge OUT.idx IN1.idx ...); " +
                                "pass --force to replace it, or name a new OUT");
}

}  // namespace

// The end of --help: command lines to start from (a test runs each with --help to check its options).
static const char* kExamples =
    "examples:\n"
    "  dlbhc merge demo/fashion_train.idx demo/shard0.idx demo/shard1.idx demo/shard2.idx "
        "demo/shard3.idx\n";

int cmd_merge(const std::vector<std::string>& argv) {
    Args a(argv, {}, {"force", "help"});
    if (print_help(a, {kHelp, kExamples})) return 0;
    const auto& pos = a.positional();
    if (pos.size() < 2)
        throw std::invalid_argument("expected OUT.idx and at least one input index (usage: dlbhc merge OUT.idx IN1.idx "
                                    "[IN2.idx ...]), found " + std::to_string(pos.size()) + " file name" +
                                    (pos.size() == 1 ? "" : "s"));
    const std::string out = pos[0];
    const std::vector<std::string> inputs(pos.begin() + 1, pos.end());
    check_output_path(out, "OUT");
    if (!a.has("force")) refuse_replacing_other_index(out, inputs);
    Progress shown("merged", "items", "items", 0, true, 1);
    const size_t n = merge_indexes(out, inputs, [&](size_t done, size_t total) { shown.set(done, total); });
    const IndexFile merged = IndexFile::open(out, {IndexOpenOptions::Verify::HeaderOnly});
    std::printf("merged %zu indexes (%zu items) into %s: %d-bit codes, %s\n", inputs.size(), n, out.c_str(),
                merged.bits(),
                merged.has_features() ? (std::to_string(merged.feature_dim()) + "-d " +
                                         feature_type_name(merged.feature_type()) + " features").c_str()
                                      : "no features");
    if (!merged.has_provenance())
        warn_no_provenance(merged, "an input records none, so where the merged items came from is not known");
    return 0;
}

}  // namespace dlbhc
