// apps/cmd_index.cpp -- `dlbhc index`: encode a dataset with a trained net into a search index.
#include <cstdio>
#include <string>

#include "apps/args.h"
#include "apps/commands.h"
#include "apps/pipeline.h"
#include "search/index_file.h"

namespace dlbhc {

static const char* kHelp =
    "usage: dlbhc index --net NET.prototxt --weights W.weights --data SPEC --out DB.idx [options]\n"
    "Runs the trained net (TEST phase: centre crop, no dropout) over every image of the dataset and\n"
    "writes an index file (search/README.md): one hash code per image (latent sigmoid > 0.5), its\n"
    "label, its name and its feature vector (the layer before the latent layer, fc7 in the paper)\n"
    "for the fine re-ranking. The file is written atomically.\n"
    "  --net FILE       the net (its TEST data layer's transform_param gives the preprocessing)\n"
    "  --weights FILE   trained weights (a snapshot or the file `dlbhc train --out` wrote)\n"
    "  --data SPEC      DIR/train or DIR/t10k (MNIST idx), DIR/train|test (CIFAR-10), a list file\n"
    "                   (`path label` lines) or a folder with one subfolder per class\n"
    "  --out FILE       the index to write\n"
    "  --append         add the images to an existing index instead of replacing it\n"
    "  --bits H, --classes K   as given to `dlbhc train` (when they differ from the prototxt)\n"
    "  --batch N        images per forward pass (default 100)\n"
    "  --no-features    codes only (no fine re-ranking possible, 4096x smaller for CaffeNet)\n"
    "  --f16            store features as float16 (half the size; distances change by < 0.1%)\n"
    "  --mean FILE      mean image instead of the data layer's mean_file (as for `dlbhc train`)\n"
    "  --root DIR       list files: folder the image paths are relative to\n"
    "  --strict         an unreadable image is an error (default: skipped and counted)\n";

int cmd_index(const std::vector<std::string>& argv) {
    Args a(argv, {"mean", "net", "weights", "data", "out", "bits", "classes", "batch", "root", "max-pixels"},
           {"append", "no-features", "f16", "strict", "help"});
    if (a.has("help")) {
        std::fputs(kHelp, stdout);
        std::fputs(kMaxPixelsHelp, stdout);
        return 0;
    }
    a.expect_no_positional();
    a.require({"net", "weights", "data", "out"});
    refuse_overwriting_inputs(option_paths(a, {"out"}), option_paths(a, {"net", "weights", "data", "mean"}));
    const PipelineOptions po = pipeline_options(a, 100);
    const SourceOptions so = source_options(po);
    LoadReport rep;
    auto ds = open_dataset(a.get("data", ""), so, &rep);
    if (rep.skipped) std::fprintf(stderr, "%s: %zu unreadable images skipped\n", a.get("data", "").c_str(), rep.skipped);
    EncodeSetup es = make_encode_setup(po, a.get("weights", ""), *ds);
    const bool features = !a.has("no-features");
    EncodedSet enc = encode_dataset(es, *ds, features, true);
    Binariness b = binariness(enc.activations, es.net->blob(es.latent_blob)->count() / size_t(es.net->blob("data")->shape().n));

    IndexItems items;
    items.codes = CodeView{enc.codes.code(0), enc.codes.size(), enc.codes.bits(), enc.codes.words()};
    items.labels = enc.labels.data();
    items.names = &enc.names;
    items.features = features ? enc.features.data() : nullptr;
    items.feature_dim = features ? enc.feature_dim : 0;
    const std::string out = a.get("out", "");
    if (a.has("append")) {
        append_to_index(out, items);
    } else {
        ensure_parent_dir(out);
        IndexWriteOptions wo;
        if (a.has("f16")) wo.feature_storage = FeatureType::F16;
        write_index(out, items, wo);
    }
    std::printf("%s %zu images into %s: %d-bit codes (%s), features %s\n", a.has("append") ? "appended" : "indexed",
                enc.codes.size(), out.c_str(), enc.codes.bits(), es.latent_blob.c_str(),
                features ? (std::to_string(enc.feature_dim) + "-d (" + es.feature_blob + ")").c_str() : "none");
    std::printf("latent outputs within 0.1 of 0 or 1: %.1f%%; mean |share of ones - 0.5| per bit: %.3f\n",
                100 * b.near_binary, b.mean_balance_gap);
    return 0;
}

}  // namespace dlbhc
