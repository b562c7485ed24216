// search/index_file.h -- the search index on disk: codes, labels, item names and (optionally)
// features in one binary file, opened with mmap.
//
// The format (version 2) is documented in docs/formats.md, "Index files": a 128-byte little-endian header
// (magic "DLBHCIDX", version, sizes, section offsets, XXH64 checksums of each section and of the
// header), then the sections codes | labels | names | features, each starting on a 64-byte
// boundary (zero padding between them) so that mapped codes and features are aligned for SIMD,
// then (version 2, when the writer was given one) the provenance section: where the codes came
// from (search/provenance.h), with its own checksum, up to the file size the header gives.
// Version 1 files (no provenance) still open: provenance() is then empty.
//
// Writing is atomic (file_io.h): a temporary file in the same folder, fsync, rename. The writer
// (IndexWriter) knows the layout from the item count, code length, feature dimension and name
// bytes alone, so it takes the items a batch at a time and writes each section in place in the
// temporary file: its memory is that of a batch, whatever N. Appending rewrites the whole index
// the same way (old sections copied a piece at a time, followed by the new items, in a new file
// renamed over the old): it costs one copy of the index, and a crash or a failed write leaves the
// old index intact; processes that have the old index mapped keep reading it unchanged.
// Updates (write_index over an existing file, append_to_index) hold an exclusive flock on the
// index from before reading it until after the rename, re-locking if the path was replaced while
// they waited: concurrent updates of one index, in any processes, run one after the other and
// none is lost. Readers take no lock. Codes must keep their unused high bits zero (hash/code.h):
// the writers refuse a code that does not, and so does open (except HeaderOnly, which reads no
// section).
// Opening maps the file and checks the header (every field bounded, the layout recomputed with
// overflow checks and compared field by field, the file size) before reading any section, so a
// crafted header with a valid checksum is refused cleanly; by default it also verifies every
// section's checksum, which reads the whole file once. IndexOpenOptions::verify can skip the
// features (the bulk of a large index) or all sections, for an instant open of a trusted file.
#pragma once
#include <climits>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hash/code.h"
#include "search/features.h"
#include "search/provenance.h"
#include "io/file_io.h"

namespace dlbhc {

constexpr uint32_t kIndexVersion = 2;        // what the writers write
constexpr uint32_t kIndexOldestVersion = 1;  // the oldest the reader opens (no provenance)
constexpr size_t kIndexHeaderBytes = 128;
// The largest feature dimension D an index may declare (FeatureView::dim is an int); a header
// with a larger D is refused.
constexpr int kMaxIndexFeatureDim = INT_MAX;

// What to write (or append): N items. Pointers are borrowed for the duration of the call.
struct IndexItems {
    CodeView codes;                                    // N codes
    const int32_t* labels = nullptr;                   // N class labels; nullptr: all -1 (unknown)
    const std::vector<std::string>* names = nullptr;   // N names (image paths); nullptr: all ""
    const float* features = nullptr;                   // (N, D) float32 (finite), or nullptr
    // D: > 0 when the items have features, 0 when they have none. An empty set (N = 0) of items
    // with features gives D and may leave `features` null: the index then records the feature
    // layout (the shard of an empty range still merges and appends like the others).
    int feature_dim = 0;
    const Provenance* provenance = nullptr;            // where the items came from; nullptr: unknown
};

struct IndexWriteOptions {
    FeatureType feature_storage = FeatureType::F32;  // F16 halves the memory (float16.h rounding)
};

// What an index written a batch at a time holds, known before its first item: with it the place
// of every section is fixed.
struct IndexShape {
    uint64_t n = 0;           // items
    int bits = 0;             // code length
    int feature_dim = 0;      // D; 0: no features
    uint64_t name_bytes = 0;  // the bytes of the N names together
};

// Writes an index a batch at a time (see the file comment): write_index and append_to_index give
// it all their items at once, `dlbhc index` a batch at a time as they are encoded. The bytes, the
// checks of the items, the update lock (held from construction to commit or destruction) and the
// atomic replace are the same either way. Destroyed without commit(), it leaves the index as it was.
class IndexWriter {
public:
    // A new index replacing `path`, of `shape`, features stored as `opt` says.
    IndexWriter(const std::string& path, const IndexShape& shape, const IndexWriteOptions& opt = {},
                const Provenance* provenance = nullptr);
    // Appending `more` (its n, bits, D, name bytes) to the index at `path`, checked as
    // append_to_index checks (same errors), whose items are copied first. `provenance`: the new
    // items'.
    static IndexWriter append(const std::string& path, const IndexShape& more, const Provenance* provenance);
    IndexWriter(IndexWriter&&) noexcept;
    ~IndexWriter();

    // The next items, in order; checked as write_index checks them. `items.provenance` is unused.
    void add(const IndexItems& items);
    size_t added() const;  // items written so far (with the old ones of an append)
    // Throws unless exactly the announced items and name bytes were added; then publishes the file.
    void commit();

    struct State;  // (opaque: search/index_file.cpp)

private:
    explicit IndexWriter(std::unique_ptr<State> s);
    std::unique_ptr<State> s_;
};

// Creates (or atomically replaces) the index at `path`. Waits for an update of the same index
// in progress (see above). Features must be finite (and, stored as float16, below 65520 in
// magnitude): a NaN would hide the item from every fine search; the error names the item and
// the dimension. append_to_index checks the same.
void write_index(const std::string& path, const IndexItems& items, const IndexWriteOptions& opt = {});
// Adds items at the end of an existing index (same bits; features present in both or in
// neither, same D; stored in the index's feature type). The result records provenance when the
// index and `more` both have one (combine_provenance: made with the same net, weights and
// preprocessing, else std::invalid_argument naming the differences), none otherwise. The old file is verified first
// (a damaged index is not copied forward), then rewritten atomically, all under the update lock
// (see above). Test-only: DLBHC_TEST_APPEND_DELAY_MS=<ms> sleeps between reading the old index
// and writing the new one (tests/apps/test_crash.cpp widens the race window with it).
void append_to_index(const std::string& path, const IndexItems& more);

// Writes the concatenation of the indexes `inputs` (in order: item i of the result is item i of
// the first input, then the second's items follow, ...) to `path`, atomically and under the
// update lock of `path` (so `path` may also be one of the inputs). Every input is opened with full
// verification and must have the codes, the feature type (none, float32, float16) and the feature
// dimension of the first, and the same net, weights and preprocessing when they record provenance
// (combine_provenance; the result records none when an input records none); a mismatch, or one
// file given twice, throws std::invalid_argument naming the file, the expected and the found values. Nothing is converted: the result of merging the
// shard indexes 0..N-1 of `dlbhc index --shard` is byte for byte the unsharded index. Returns
// the number of items written. The inputs are copied a piece at a time, their pages let go as
// they are read: memory stays small whatever their size. `progress` (when set) is called with the
// items written and the total after each input.
size_t merge_indexes(const std::string& path, const std::vector<std::string>& inputs,
                     const std::function<void(size_t, size_t)>& progress = {});

struct IndexOpenOptions {
    enum class Verify {
        Full,          // check every section's checksum (reads the whole file once), the codes'
                       // unused high bits (zero) and that every feature is finite
        SkipFeatures,  // check codes (checksum, unused bits), labels and names; trust the features
        HeaderOnly,    // check the header (and the first and last name offsets) only: instant
    };
    Verify verify = Verify::Full;
    int expect_bits = 0;  // nonzero: the index must hold codes of exactly this many bits
};

// A mapped index. Views stay valid while the IndexFile lives (even if the file is replaced).
class IndexFile {
public:
    static IndexFile open(const std::string& path, const IndexOpenOptions& opt = {});

    size_t size() const { return n_; }
    int bits() const { return bits_; }
    int words() const { return words_; }
    int feature_dim() const { return dim_; }
    FeatureType feature_type() const { return ftype_; }
    bool has_features() const { return ftype_ != FeatureType::None; }
    const std::string& path() const { return path_; }
    uint32_t version() const { return version_; }
    // Where the codes came from; empty for a version-1 file or one written without it.
    const Provenance& provenance() const { return provenance_; }
    bool has_provenance() const { return !provenance_.empty(); }

    CodeView codes() const { return CodeView{codes_, n_, bits_, words_}; }
    const int32_t* labels() const { return labels_; }
    int32_t label(size_t i) const { return labels_[i]; }
    // The name of item i; throws std::out_of_range if i >= size() or the offsets are damaged.
    std::string_view name(size_t i) const;
    FeatureView features() const { return FeatureView{features_, has_features() ? n_ : 0, dim_, ftype_}; }

    // Lets the resident pages of [p, p + n) of the mapping go (MappedFile::drop_resident): for a
    // pass over a large index that should not keep it resident.
    void drop_resident(const void* p, size_t n) const { map_.drop_resident(p, n); }
    // Raw section access for append_to_index.
    const uint64_t* name_offsets() const { return name_off_; }
    const char* name_text() const { return name_text_; }
    uint64_t name_bytes() const { return name_bytes_; }

private:
    std::string path_;
    MappedFile map_;
    size_t n_ = 0;
    int bits_ = 0, words_ = 0, dim_ = 0;
    FeatureType ftype_ = FeatureType::None;
    const uint64_t* codes_ = nullptr;
    const int32_t* labels_ = nullptr;
    const uint64_t* name_off_ = nullptr;
    const char* name_text_ = nullptr;
    uint64_t name_bytes_ = 0;
    const void* features_ = nullptr;
    uint32_t version_ = 0;
    Provenance provenance_;
};

}  // namespace dlbhc
