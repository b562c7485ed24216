// apps/cmd_encode.cpp -- `dlbhc encode`: hash codes (and optionally latent outputs and features)
// of images, without building an index.
#include <cstdio>
#include <string>

#include "apps/args.h"
#include "apps/commands.h"
#include "apps/encode.h"
#include "apps/net_setup.h"
#include "apps/options.h"
#include "apps/report.h"
#include "apps/sharding.h"
#include "data/image_io.h"
#include "formats/npy.h"

namespace dlbhc {

static const char* kHelp =
    "usage: dlbhc encode --net NET.prototxt --weights W.weights (--data SPEC | --image FILE) [options]\n"
    "Runs the trained net (TEST phase) and prints one line per image: its name, label and hash code\n"
    "(hex, bit 0 rightmost; bit i = latent sigmoid output i > 0.5), separated by tabs.\n"
    "  --data SPEC          a dataset (as for `dlbhc index`)     --image FILE   one JPEG/PNG\n"
    "  --no-resize          refuse an --image of another size or channel count than the net takes\n"
    "                       (by default it is converted, as the data layer would, and a line says so)\n"
    "  --out FILE           write the lines to FILE instead of printing them\n"
    "  --latent-npy FILE    also write the latent sigmoid outputs, (N, bits) float32 .npy\n"
    "  --features-npy FILE  also write the features (the layer before the latent layer), (N, D) .npy\n"
    "  --bits H, --classes K, --batch N, --mean FILE, --root DIR, --strict   as for `dlbhc index`\n";

static const char* kShardNote =
    "With --shard (and --data), the outputs of shards 0..N-1 concatenated in order (the text files\n"
    "with cat, the .npy files along axis 0) equal the outputs of the unsharded run.\n";

namespace {

std::string hex_code(const CodeSet& cs, size_t i) {
    std::string h;
    for (int w = cs.words() - 1; w >= 0; --w) {
        char b[20];
        std::snprintf(b, sizeof b, "%016llx", (unsigned long long)cs.code(i)[w]);
        h += b;
    }
    return h.substr(h.size() - size_t((cs.bits() + 3) / 4));
}

}  // namespace

// The end of --help: command lines to start from (a test runs each with --help to check its options).
static const char* kExamples =
    "examples:\n"
    "  dlbhc encode --net weights/small_dlbhc_train_val.prototxt --weights "
        "demo/small_dlbhc.weights --image shoe.png\n"
    "  dlbhc encode --net weights/small_dlbhc_train_val.prototxt --weights "
        "demo/small_dlbhc.weights --data /usr/share/datasets/fashion-mnist/t10k --out codes.txt "
        "--latent-npy latent.npy\n";

int cmd_encode(const std::vector<std::string>& argv) {
    Args a(argv, {"mean", "net", "weights", "data", "image", "out", "latent-npy", "features-npy", "bits", "classes", "batch", "root", "max-pixels", "shard"},
           {"strict", "no-resize", "help"});
    if (print_help(a, {kHelp, kLineEscapeHelp, kShardHelp, kMaxPixelsHelp, kShardNote, kExamples})) return 0;
    a.expect_no_positional();
    a.require({"net", "weights"});
    if (a.has("data") == a.has("image")) throw std::invalid_argument("give exactly one of --data SPEC and --image FILE");
    if (a.has("shard") && !a.has("data")) throw std::invalid_argument("--shard I/N splits a dataset: it needs --data SPEC");
    ShardOption shard = shard_option(a);
    const PipelineOptions po = pipeline_options(a, a.has("image") ? 1 : 100);
    std::vector<NamedPath> inputs = option_paths(a, {"net", "weights", "data", "image", "mean"});
    add_dataset_inputs(inputs, "--data", a.get("data", ""), source_options(po));
    add_net_data_inputs(inputs, po, false);
    refuse_overwriting_inputs(option_paths(a, {"out", "latent-npy", "features-npy"}), inputs);
    // The outputs are checked before the images are read and encoded.
    std::vector<std::pair<std::string, std::string>> outputs;
    for (const char* o : {"out", "latent-npy", "features-npy"})
        if (a.has(o)) {
            check_output_path(a.get(o, ""), std::string("--") + o);
            outputs.emplace_back(std::string("--") + o, a.get(o, ""));
        }
    check_distinct_outputs(outputs);
    EncodedSet enc;
    if (a.has("data")) {
        auto ds = select_shard(open_dataset(a.get("data", ""), source_options(po)), shard);
        EncodeSetup es = make_encode_setup(po, a.get("weights", ""), *ds, true);
        enc = encode_maybe_empty(es, *ds, a.has("features-npy"), true);
    } else {
        Image img;
        load_image_as_stored(a.get("image", ""), img, po.max_pixels);
        EncodeSetup es = make_image_encode_setup(po, a.get("weights", ""), img, a.get("image", ""), a.has("no-resize"));
        enc = encode_image(es, img, a.get("image", ""));
    }
    std::string text;
    for (size_t i = 0; i < enc.codes.size(); ++i)
        text += line_field_escape(enc.names[i]) + "\t" + std::to_string(enc.labels[i]) + "\t" + hex_code(enc.codes, i) + "\n";
    if (a.has("out")) {
        write_text_atomic(a.get("out", ""), text, "codes file");
        std::printf("%zu codes of %d bits written to %s\n", enc.codes.size(), enc.codes.bits(), a.get("out", "").c_str());
    } else {
        std::fputs(text.c_str(), stdout);
    }
    const int64_t n = int64_t(enc.codes.size());
    if (a.has("latent-npy")) write_npy(a.get("latent-npy", ""), enc.activations.data(), {n, int64_t(enc.codes.bits())});
    if (a.has("features-npy")) write_npy(a.get("features-npy", ""), enc.features.data(), {n, int64_t(enc.feature_dim)});
    return 0;
}

}  // namespace dlbhc
