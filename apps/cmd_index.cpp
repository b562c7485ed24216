// apps/cmd_index.cpp -- `dlbhc index`: encode a dataset with a trained net into a search index.
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "apps/args.h"
#include "apps/commands.h"
#include "apps/encode.h"
#include "apps/net_setup.h"
#include "apps/options.h"
#include "apps/provenance.h"
#include "apps/sharding.h"
#include "search/index_file.h"

namespace dlbhc {

static const char* kHelp =
    "usage: dlbhc index --net NET.prototxt --weights W.weights --data SPEC --out DB.idx [options]\n"
    "Runs the trained net (TEST phase: centre crop, no dropout) over every image of the dataset and\n"
    "writes an index file (docs/formats.md): one hash code per image (latent sigmoid > 0.5), its\n"
    "label, its name and its feature vector (the layer before the latent layer, fc7 in the paper)\n"
    "for the fine re-ranking. The file is written atomically. It also records where the codes came\n"
    "from (its provenance; `dlbhc info DB.idx` prints it): the net's name and the hash of the layers\n"
    "that make the codes, the hash of the weights, the preprocessing, the blobs read, the dataset\n"
    "as given to --data (and --root) with its item count, and the dlbhc version. query, eval and\n"
    "--append refuse a net or weights other than the index's before encoding anything.\n"
    "  --net FILE       the net (its TEST data layer's transform_param gives the preprocessing)\n"
    "  --weights FILE   trained weights (a snapshot or the file `dlbhc train --out` wrote)\n"
    "  --data SPEC      DIR/train or DIR/t10k (MNIST idx), DIR/train|test (CIFAR-10), a list file\n"
    "                   (`path label` lines) or a folder with one subfolder per class\n"
    "  --out FILE       the index to write (not a file of --data, --net, --weights or a mean file;\n"
    "                   a symbolic link stays a link and the file it names is replaced)\n"
    "  --append         add the images to an existing index instead of replacing it. Updates of\n"
    "                   one index (appends, replacements) take a lock on it (flock) and run one\n"
    "                   after the other, so concurrent appends all land; readers never wait.\n"
    "                   The net, weights and preprocessing must be the index's (another\n"
    "                   snapshot's weights are refused, naming both); other data is listed as\n"
    "                   one more data source\n"
    "  --bits H, --classes K   as given to `dlbhc train` (when they differ from the prototxt)\n"
    "  --batch N        images per forward pass (default 100)\n"
    "  --no-features    codes only (no fine re-ranking possible, 4096x smaller for CaffeNet)\n"
    "  --f16            store features as float16 (half the size; distances change by < 0.1%)\n"
    "  --mean FILE      mean image instead of the data layer's mean_file (as for `dlbhc train`)\n"
    "  --root DIR       list files: folder the image paths are relative to\n"
    "  --strict         an unreadable image is an error (default: skipped and counted)\n";

static const char* kShardNote =
    "The index does not record its shard (its provenance names the whole dataset, the same in every\n"
    "shard, so that merging them gives the unsharded index byte for byte): name the files after it\n"
    "(db.0of4.idx) and give them to `dlbhc merge` in shard order.\n";

namespace {

// The index --append adds to, opened (fully verified) before any work, and checked against what
// the options ask for: features or none (--no-features), and their storage (--f16).
IndexFile open_for_append(const std::string& out, bool features, bool f16) {
    IndexFile old = IndexFile::open(out);
    const std::string where = "--append: index file '" + out + "' ";
    if (old.has_features() != features)
        throw std::invalid_argument(where + (old.has_features() ? "holds features: appending needs them too (drop --no-features)"
                                                                : "holds no features: appending needs --no-features"));
    if (f16 && old.feature_type() != FeatureType::F16)
        throw std::invalid_argument(where + "stores float32 features; appended features are stored as the index stores "
                                            "them (drop --f16)");
    return old;
}

// The checks append_to_index makes, before the encoding rather than after it.
void check_append_fits(const IndexFile& old, const EncodeSetup& es, bool features, size_t items) {
    check_net_fits_index(es, old, features);
    if (uint64_t(old.size()) + items >= uint64_t(UINT32_MAX))
        throw std::invalid_argument("--append: index file '" + old.path() + "' holds " + std::to_string(old.size()) +
                                    " items: " + std::to_string(items) + " more would reach the limit of 2^32 - 1");
}

// The bytes of all the item names of `ds`, which the index's layout needs before the first item.
uint64_t name_bytes(const Dataset& ds) {
    uint64_t n = 0;
    for (size_t i = 0; i < ds.size(); ++i) n += ds.name(i).size();
    return n;
}

}  // namespace

// The end of --help: command lines to start from (a test runs each with --help to check its options).
static const char* kExamples =
    "examples:\n"
    "  dlbhc index --net weights/small_dlbhc_train_val.prototxt --weights "
        "demo/small_dlbhc.weights --data /usr/share/datasets/fashion-mnist/train --out "
        "demo/fashion_train.idx\n"
    "  dlbhc index --net weights/small_dlbhc_train_val.prototxt --weights "
        "demo/small_dlbhc.weights --data /usr/share/datasets/fashion-mnist/train --shard 0/4 --out "
        "demo/shard0.idx\n";

int cmd_index(const std::vector<std::string>& argv) {
    Args a(argv, {"mean", "net", "weights", "data", "out", "bits", "classes", "batch", "root", "max-pixels", "shard"},
           {"append", "no-features", "f16", "strict", "help"});
    if (print_help(a, {kHelp, kShardHelp, kMaxPixelsHelp, kShardNote, kExamples})) return 0;
    a.expect_no_positional();
    a.require({"net", "weights", "data", "out"});
    ShardOption shard = shard_option(a);
    // Everything that can be checked is checked before the dataset is read and encoded. Every
    // file the dataset resolves to, and the data layer's mean_file, is an input too.
    const PipelineOptions po = pipeline_options(a, 100);
    const SourceOptions so = source_options(po);
    std::vector<NamedPath> inputs = option_paths(a, {"net", "weights", "data", "mean"});
    add_dataset_inputs(inputs, "--data", a.get("data", ""), so);
    add_net_data_inputs(inputs, po, false);
    refuse_overwriting_inputs(option_paths(a, {"out"}), inputs);
    const std::string out = a.get("out", "");
    const bool features = !a.has("no-features");
    check_output_path(out, "--out");
    std::unique_ptr<IndexFile> old;
    if (a.has("append")) old = std::make_unique<IndexFile>(open_for_append(out, features, a.has("f16")));
    LoadReport rep;
    auto ds = open_dataset(a.get("data", ""), so, &rep);
    if (rep.skipped) std::fprintf(stderr, "%s: %zu unreadable images skipped\n", a.get("data", "").c_str(), rep.skipped);
    // The whole dataset, not the shard: the shards of one run record the same provenance, so
    // their merge is the unsharded index byte for byte.
    const DataSource source{a.get("data", ""), po.root, ds->size()};
    ds = select_shard(std::move(ds), shard);
    EncodeSetup es = make_encode_setup(po, a.get("weights", ""), *ds);
    Provenance prov = codes_provenance(es, po.latent_bits, a.get("weights", ""));
    prov.add_source(source);
    if (old) {
        check_append_fits(*old, es, features, ds->size());
        if (old->has_provenance()) check_index_provenance(*old, prov, po.net_path, a.get("weights", ""));
        else warn_no_provenance(*old, "the new items cannot be checked against it, and it will record none");
    }
    old.reset();  // IndexWriter::append opens and verifies it again, under the update lock
    IndexShape shape;
    shape.n = ds->size();
    shape.bits = es.bits;
    shape.feature_dim = features ? es.feature_dim : 0;
    shape.name_bytes = name_bytes(*ds);
    IndexWriteOptions wo;
    if (a.has("f16")) wo.feature_storage = FeatureType::F16;
    // Each batch goes to its place in the temporary file as it is encoded: memory stays that of
    // a batch whatever the dataset's size. The lock is held from here until the rename.
    IndexWriter w = a.has("append") ? IndexWriter::append(out, shape, &prov) : IndexWriter(out, shape, wo, &prov);
    BinarinessSum sum(es.bits);
    encode_batches(es, *ds, features, true, [&](const EncodedSet& enc, size_t) {
        IndexItems items;
        items.codes = enc.codes.view();
        items.labels = enc.labels.data();
        items.names = &enc.names;
        items.features = features ? enc.features.data() : nullptr;
        items.feature_dim = shape.feature_dim;
        w.add(items);
        sum.add(enc.activations.data(), enc.codes.size());
    });
    w.commit();
    const Binariness b = sum.result();
    std::printf("%s %zu images into %s: %d-bit codes (%s), features %s\n", a.has("append") ? "appended" : "indexed",
                ds->size(), out.c_str(), es.bits, es.latent_blob.c_str(),
                features ? (std::to_string(es.feature_dim) + "-d (" + es.feature_blob + ")").c_str() : "none");
    std::printf("latent outputs within 0.1 of 0 or 1: %.1f%%; mean |share of ones - 0.5| per bit: %.3f\n",
                100 * b.near_binary, b.mean_balance_gap);
    return 0;
}

}  // namespace dlbhc
