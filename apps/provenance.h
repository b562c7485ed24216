// apps/provenance.h -- where an index's codes came from (search/provenance.h), worked out from a
// net ready to encode; the checks `query`, `eval` and `index --append` make against an index
// before encoding; the net `dlbhc train` records in its weights files; and the recorded data
// source as the pictures of --html pages.
//
// The hashes (16 lowercase hex digits of an XXH64, seed 0; docs/formats.md, "Provenance"):
//   net.hash      of code_path(spec, TEST, --bits).description (formats/net_builder.h): the
//                 layers that make the codes and features, as parsed, without training-only
//                 settings; comments, spacing, V1/V2 layout, train_val or deploy file do not matter
//   weights.hash  of the parameters of those layers as loaded into the net, in layer order, each
//                 as u32 name length, name, u32 dim count, the dims (u64 each; dims of size 1
//                 left out, as load_weights matches shapes), the float32 values: the same values
//                 from a snapshot, `train --out` or a converted file give the same hash
//   preprocess.mean  "image CxHxW <XXH64 of the float32 mean image>", "values v0 v1 v2" or "none"
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "apps/encode.h"
#include "data/dataset.h"
#include "data/source.h"
#include "formats/caffe_spec.h"
#include "formats/weights_file.h"
#include "search/provenance.h"

namespace dlbhc {

class IndexFile;

// A 64-bit hash as the provenance writes it: 16 lowercase hex digits.
std::string hash_hex(uint64_t h);
// net.hash of the net `spec` describes, built with --bits latent_bits (0: as in the file).
std::string net_hash(const NetSpec& spec, int latent_bits);
// The net `dlbhc train` records in its snapshots and --out file: its name (as the built net names
// itself), net_hash and the prototxt path as given.
TrainedNet trained_net_record(const NetSpec& spec, const std::string& net_name, int latent_bits,
                              const std::string& net_path);

// What the codes `es` makes record (weights loaded): the dlbhc version, the net, the weights, the
// preprocessing, the latent and feature blobs. No data source (the caller adds it).
Provenance codes_provenance(const EncodeSetup& es, int latent_bits, const std::string& weights_path);

// Before encoding: throws std::invalid_argument when `db` was built with another net, weights or
// preprocessing than `run` (codes_provenance of --net and --weights), naming every differing
// field, both values and both sources, e.g. "index 'db.idx' was built with weights 3f2a...
// ('a.weights', net 'TinyNet' 91c0...); --weights 'b.weights' are 77b1...: the codes are not
// comparable; ...". An index that records no provenance (format version 1): a warning on
// stderr naming the file (warn_no_provenance), and nothing is checked.
void check_index_provenance(const IndexFile& db, const Provenance& run, const std::string& net_path,
                            const std::string& weights_path);
// "warning: index 'X' records no provenance (...): <consequence>; re-index it to record them".
void warn_no_provenance(const IndexFile& db, const std::string& consequence);

// --html without --db-data: the dataset `db` records it was built from, when there is one, it
// opens here (relative specs from the current folder, the recorded --root unless `so` gives one),
// has the index's item count and agrees with the index's names and labels on its first, middle
// and last items. Otherwise nullptr, and `why` says why it cannot be used.
std::unique_ptr<Dataset> recorded_db_data(const IndexFile& db, const SourceOptions& so, std::string& why);

// True when the dataset `spec` is the data `db` was built from, so that its item i is database
// item i (eval's training-set queries, which leave their own item out): the index records one data
// source, holds all of its items (not a shard, nothing appended), and `spec` resolves to the same
// dataset files (data/source.h dataset_files, compared with symbolic links and "." / ".."
// resolved) as the recorded source (relative to the current folder, with the recorded --root
// unless `so` gives one). Opens no image.
bool queries_are_index_items(const IndexFile& db, const std::string& spec, const SourceOptions& so);

}  // namespace dlbhc
