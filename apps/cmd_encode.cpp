// apps/cmd_encode.cpp -- `dlbhc encode`: hash codes (and optionally latent outputs and features)
// of images, without building an index.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "apps/args.h"
#include "apps/commands.h"
#include "apps/encode.h"
#include "apps/net_setup.h"
#include "apps/options.h"
#include "apps/report.h"
#include "apps/sharding.h"
#include "data/image_io.h"
#include "formats/npy.h"
#include "io/file_io.h"

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

// What `encode` writes, a batch at a time as the batches come: the lines (to --out, or printed),
// the latent outputs and the features (.npy: the header knows N before the first row). The files
// are committed together at the end (commit_all): a failure midway leaves every one as it was.
class EncodeOutputs {
public:
    EncodeOutputs(const Args& a, size_t n, int bits, int feature_dim) : n_(n), bits_(bits) {
        if (a.has("out")) out_ = std::make_unique<AtomicFileWriter>(a.get("out", ""), "codes file");
        if (a.has("latent-npy")) latent_ = npy_writer(a.get("latent-npy", ""), {int64_t(n), int64_t(bits)});
        if (a.has("features-npy")) features_ = npy_writer(a.get("features-npy", ""), {int64_t(n), int64_t(feature_dim)});
    }
    void add(const EncodedSet& b) {
        std::string text;
        for (size_t i = 0; i < b.codes.size(); ++i)
            text += line_field_escape(b.names[i]) + "\t" + std::to_string(b.labels[i]) + "\t" + hex_code(b.codes, i) + "\n";
        if (out_) out_->write(text.data(), text.size());
        else std::fputs(text.c_str(), stdout);
        if (latent_) latent_->write(b.activations.data(), b.activations.size() * sizeof(float));
        if (features_) features_->write(b.features.data(), b.features.size() * sizeof(float));
    }
    void commit(const std::string& out_path) {
        std::vector<AtomicFileWriter*> all;
        for (auto* w : {out_.get(), latent_.get(), features_.get()})
            if (w) all.push_back(w);
        commit_all(all);
        if (out_) std::printf("%zu codes of %d bits written to %s\n", n_, bits_, out_path.c_str());
    }

private:
    static std::unique_ptr<AtomicFileWriter> npy_writer(const std::string& path, const std::vector<int64_t>& shape) {
        auto w = std::make_unique<AtomicFileWriter>(path, "npy file");
        const std::string h = npy_header("<f4", shape);
        w->write(h.data(), h.size());
        return w;
    }
    size_t n_;
    int bits_;
    std::unique_ptr<AtomicFileWriter> out_, latent_, features_;
};

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
    if (a.has("data")) {
        auto ds = select_shard(open_dataset(a.get("data", ""), source_options(po)), shard);
        EncodeSetup es = make_encode_setup(po, a.get("weights", ""), *ds, true);
        // Written as the batches come: memory stays that of one batch whatever the dataset's size.
        EncodeOutputs outs(a, ds->size(), es.bits, es.feature_dim);
        encode_batches(es, *ds, a.has("features-npy"), true, [&](const EncodedSet& b, size_t) { outs.add(b); });
        outs.commit(a.get("out", ""));
    } else {
        Image img;
        load_image_as_stored(a.get("image", ""), img, po.max_pixels);
        EncodeSetup es = make_image_encode_setup(po, a.get("weights", ""), img, a.get("image", ""), a.has("no-resize"));
        EncodeOutputs outs(a, 1, es.bits, es.feature_dim);
        outs.add(encode_image(es, img, a.get("image", "")));
        outs.commit(a.get("out", ""));
    }
    return 0;
}

}  // namespace dlbhc
