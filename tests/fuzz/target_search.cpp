// tests/fuzz/target_search.cpp -- fuzz target for the index file (search/index_file): the bytes
// are written to a scratch file (the reader maps files, it has no in-memory entry point), opened
// with full and with header-only verification, and every item is read and searched, as `dlbhc
// query` and `dlbhc eval` do.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "search/float16.h"
#include "search/hierarchical.h"
#include "search/index_file.h"
#include "tests/fuzz/targets.h"

namespace dlbhc::fuzz {
namespace {

// One scratch file per process, in memory when /dev/shm exists; its name contains kFuzzName so
// that the reader's errors (which name the path) name the input.
const std::string& scratch_path() {
    static const std::string path = [] {
        const char* dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : (std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp");
        std::string p = std::string(dir) + "/" + kFuzzName + "." + std::to_string((long)getpid()) + ".idx";
        std::atexit([] { std::remove(scratch_path().c_str()); });
        return p;
    }();
    return path;
}

void write_scratch(const uint8_t* data, size_t size) {
    std::FILE* f = std::fopen(scratch_path().c_str(), "wb");
    if (!f) contract_violation("index: cannot write the scratch file " + scratch_path());
    if (size && std::fwrite(data, 1, size, f) != size) contract_violation("index: short write to " + scratch_path());
    std::fclose(f);
}

// Reads everything a search reads.
void use_index(const IndexFile& idx, bool verified) {
    const CodeView codes = idx.codes();
    unsigned long long acc = 0;
    for (size_t i = 0; i < idx.size(); ++i) {
        for (int w = 0; w < codes.words; ++w) acc += (unsigned long long)__builtin_popcountll(codes.code(i)[w]);
        acc += (unsigned)idx.label(i);
        if (verified) {
            acc += idx.name(i).size();  // offsets were checked by open()
        } else {
            try {
                acc += idx.name(i).size();
            } catch (const std::out_of_range&) {  // documented for damaged offsets without verification
            }
        }
    }
    const FeatureView fv = idx.features();
    // Sized only when there are rows: the header's D alone is not backed by file bytes.
    std::vector<float> row(fv.n ? (size_t)fv.dim : 0);
    for (size_t i = 0; i < fv.n; ++i) {
        if (fv.type == FeatureType::F16)
            halves_to_floats(static_cast<const uint16_t*>(fv.row(i)), (size_t)fv.dim, row.data());
        else
            std::memcpy(row.data(), fv.row(i), row.size() * sizeof(float));
    }
    // The provenance, as `dlbhc info` and the commands' checks read it.
    for (const auto& kv : idx.provenance().fields) acc += kv.first.size() + kv.second.size();
    for (const auto& src : idx.provenance().sources) acc += src.source.size() + src.root.size() + src.items;
    (void)acc;
    // One coarse-to-fine query: item 0 searched against the whole index.
    if (idx.size() > 0 && idx.has_features()) {
        HierarchicalOptions opt;
        (void)hierarchical_search(codes, fv, codes.code(0), row.data(), 5, opt);
    }
}

}  // namespace

void fuzz_index(const uint8_t* data, size_t size) {
    write_scratch(data, size);
    using V = IndexOpenOptions::Verify;
    for (V v : {V::Full, V::HeaderOnly}) {
        IndexOpenOptions opt;
        opt.verify = v;
        expect_clean_errors([&] {
            const IndexFile idx = IndexFile::open(scratch_path(), opt);
            use_index(idx, v == V::Full);
        });
    }
}

}  // namespace dlbhc::fuzz
