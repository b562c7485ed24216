// search/provenance.h -- what an index records about where its codes came from: the net, the
// weights, the preprocessing, the blobs read, the data sources and the dlbhc version, as ordered
// key/value pairs (the keys and the byte layout of the section are in docs/formats.md,
// "Provenance"). apps/provenance.h works the values out from a net; this file holds the
// section's encoding and the rules for combining two indexes' provenance (append, merge).
//
// Nothing here depends on time or on the machine: the same inputs give the same bytes, so the
// shards of one `dlbhc index --shard` run record the same provenance and merge byte for byte into
// the unsharded index.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace dlbhc {

// The keys dlbhc writes (values are text). "Compared" keys describe how the codes were computed:
// two indexes, or an index and a net, whose compared keys differ hold codes that cannot be
// compared. The others are informational.
namespace provenance_key {
inline constexpr const char* kVersion = "dlbhc.version";        // informational
inline constexpr const char* kNetName = "net.name";             // informational
inline constexpr const char* kNetHash = "net.hash";             // compared
inline constexpr const char* kWeightsHash = "weights.hash";     // compared
inline constexpr const char* kWeightsFile = "weights.file";     // informational
inline constexpr const char* kInput = "preprocess.input";       // compared
inline constexpr const char* kResize = "preprocess.resize";     // compared
inline constexpr const char* kCrop = "preprocess.crop";         // compared
inline constexpr const char* kMirror = "preprocess.mirror";     // compared
inline constexpr const char* kScale = "preprocess.scale";       // compared
inline constexpr const char* kMean = "preprocess.mean";         // compared
inline constexpr const char* kMeanFile = "preprocess.mean_file";  // informational
inline constexpr const char* kCodeBlob = "code.blob";           // compared
inline constexpr const char* kFeatureBlob = "feature.blob";     // compared
}  // namespace provenance_key

// One dataset items came from: stored as the keys data.<i>.source, data.<i>.items and (when
// not empty) data.<i>.root, i = 0, 1, ...
struct DataSource {
    std::string source;  // the dataset spec as given to `dlbhc index --data`
    std::string root;    // --root as given ("" when none)
    uint64_t items = 0;  // the whole dataset's item count M (not a shard's)
    bool operator==(const DataSource& o) const { return source == o.source && root == o.root && items == o.items; }
};

struct Provenance {
    std::vector<std::pair<std::string, std::string>> fields;  // every key but data.*, unique, in order
    std::vector<DataSource> sources;                          // in order, no two equal

    bool empty() const { return fields.empty() && sources.empty(); }
    const std::string* get(const std::string& key) const;  // nullptr when absent
    void set(const std::string& key, const std::string& value);  // replaces, or appends at the end
    void add_source(const DataSource& s);                   // unless an equal one is listed
};

// Limits of the section (the reader refuses more; the writer too).
constexpr size_t kMaxProvenanceBytes = size_t(1) << 20;
constexpr size_t kMaxProvenanceKeyBytes = 64;
constexpr size_t kMaxProvenanceValueBytes = 65536;
constexpr size_t kMinProvenanceBytes = 24;  // magic, count, reserved, checksum: no entry

// The section's bytes (docs/formats.md, "Provenance"): "DLBHCPRV", u32 entry count, u32 0, the entries
// (u32 key length, key, u32 value length, value; fields in order, then each data source's keys),
// u64 XXH64 of everything before it. Throws std::invalid_argument naming `where` when a key is
// empty, too long or not [a-z0-9._], a value or the whole section is too long.
std::string encode_provenance(const Provenance& p, const std::string& where);
// Parses a section of n bytes; every length is checked against the bytes left before it is used.
// Throws std::runtime_error "<where>: ..." on a bad magic, checksum, length, key, a duplicate key,
// a data source key out of order or incomplete, trailing bytes.
Provenance decode_provenance(const unsigned char* p, size_t n, const std::string& where);

// True for the keys that must be equal to compare codes (see provenance_key); unknown keys
// (written by a later dlbhc) count as compared; data.* and the informational keys do not.
bool provenance_key_compared(const std::string& key);

// A compared key whose values differ ("" when the key is absent on that side).
struct ProvenanceDifference {
    std::string key, a, b;
};
// The compared keys that differ between a and b: every compared key of either (`keys_of_b_only`:
// only those of b, for checking a net's provenance against an index that may know more keys).
std::vector<ProvenanceDifference> provenance_differences(const Provenance& a, const Provenance& b,
                                                         bool keys_of_b_only = false);
// "net.hash 91c0... (a_name) against 1234... (b_name); weights.hash ..." for those differences.
std::string describe_differences(const std::vector<ProvenanceDifference>& d, const std::string& a_name,
                                 const std::string& b_name);

// The provenance of the items of a followed by those of b (append, merge): the compared keys
// must be equal (else std::invalid_argument "<b_name> was made otherwise than <a_name>: ..."
// naming every differing key and both values); the informational keys are a's (a key only b has
// is added), except dlbhc.version, which lists every version once ("0.1.0, 0.2.0"); the data
// sources are a's followed by those of b that a does not list.
Provenance combine_provenance(const Provenance& a, const std::string& a_name, const Provenance& b,
                              const std::string& b_name);

}  // namespace dlbhc
