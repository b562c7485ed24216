// apps/cmd_audit.cpp -- `dlbhc audit`: run a net on one input and show every layer's output, so
// that any layer can be checked against another framework.
#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <sys/stat.h>

#include "apps/args.h"
#include "apps/commands.h"
#include "apps/encode.h"
#include "apps/net_input.h"
#include "apps/net_setup.h"
#include "apps/options.h"
#include "data/image_io.h"
#include "formats/net_builder.h"
#include "formats/npy.h"
#include "io/file_io.h"
#include "io/path.h"

namespace dlbhc {

static const char* kHelp =
    "usage: dlbhc audit --net NET.prototxt (--image FILE | --npy X.npy) [options]\n"
    "Runs the net once on the input and prints one row per layer: name, type, output shape,\n"
    "parameter count, FLOPs (2 x multiply-adds for convolution and fully connected layers, one per\n"
    "output value otherwise), forward time, and min / mean / max of the layer's output right after\n"
    "it ran (before an in-place layer such as ReLU rewrites it). For the latent Sigmoid layer it\n"
    "also prints how binary the outputs are: the share within 0.1 of 0 or 1, and the per-bit share\n"
    "of ones (0.5 = balanced).\n"
    "  --net FILE        the net (a deploy or train_val prototxt)\n"
    "  --weights FILE    a dlbhc weights file; without it the parameters come from the fillers (--seed)\n"
    "  --image FILE      a JPEG/PNG, preprocessed as the net's TEST data layer says (crop, mean, scale)\n"
    "  --npy FILE        the input tensor itself, float32 (N, C, H, W) or (C, H, W), as numpy saves it\n"
    "  --phase P         test (default) or train (dropout active)\n"
    "  --label L         label for a loss layer (default 0)\n"
    "  --dump DIR        write every layer's output as DIR/<layer>.<top>.npy (taken right after the layer),\n"
    "                    every parameter as DIR/<param>.npy (e.g. conv1.weight.npy) and the input;\n"
    "                    DIR appears complete at the end or not at all, replacing a previous dump\n"
    "                    (a DIR holding anything but .npy files is refused, before the net is read)\n"
    "  --backward        also run backward from the loss and dump every blob gradient as\n"
    "                    DIR/<blob>.diff.npy and every parameter gradient as DIR/<param>.grad.npy\n"
    "  --bits H, --classes K   latent size and classes (as for train)\n"
    "  --seed S          filler seed when no --weights (default 1); weights whose layer declares no\n"
    "                    filler (deploy nets) are drawn from Normal(0, sqrt(2 / fan_in))\n";

namespace {

struct Stats {
    double mn = 0, mean = 0, mx = 0;
    size_t nonfinite = 0;
};

Stats stats_of(const Tensor& t) {
    Stats s;
    if (t.count() == 0) return s;
    s.mn = INFINITY, s.mx = -INFINITY;
    double sum = 0;
    for (size_t i = 0; i < t.count(); ++i) {
        const float v = t.data()[i];
        if (!std::isfinite(v)) {
            ++s.nonfinite;
            continue;
        }
        s.mn = std::min(s.mn, double(v));
        s.mx = std::max(s.mx, double(v));
        sum += v;
    }
    s.mean = sum / double(t.count());
    return s;
}

std::string safe_name(const std::string& n) {
    std::string o = n;
    for (char& c : o)
        if (c == '/' || c == '\\' || c == ' ') c = '_';
    return o;
}

// --weights, read when first needed and then kept: the file is read and decoded once.
using WeightsSource = std::function<const WeightsFile&()>;

// The input given as --npy (as is, a batch of one when 3-d) or --image (preprocessed as the net's
// TEST data layer says, grey for a one-channel net); (N, C, H, W).
Tensor read_input(const Args& a, const NetSpec& spec, const std::string& net_path, const WeightsSource& weights) {
    Tensor input;
    if (a.has("npy")) {
        NamedTensor t = read_npy(a.get("npy", ""));
        std::vector<int64_t> d = t.dims;
        if (d.size() == 3) d.insert(d.begin(), 1);
        if (d.size() != 4)
            throw std::invalid_argument("'" + a.get("npy", "") + "': expected a (N, C, H, W) or (C, H, W) tensor, found " + t.shape_str());
        NamedTensor t4 = t;
        t4.dims = d;
        input = to_tensor(t4);
    } else {
        const LayerSpec* dl = encode_data_layer(spec);
        TransformParam tp = dl ? transform_from_spec(dl->transform, Phase::Test, parent_folder(net_path)) : TransformParam();
        tp.phase = Phase::Test;
        tp.upscale_small = true;
        Image img;
        load_image(a.get("image", ""), img, true, max_pixels_option(a));
        // A net whose input has one channel gets a grey image.
        const bool grey_net = (!spec.inputs.empty() && spec.inputs[0].dims.size() == 4 && spec.inputs[0].dims[1] == 1) ||
                              (a.has("weights") && trained_input_channels(spec, weights()) == 1);
        if (grey_net) img = to_grey(img);
        Transformer tf(tp);
        int oc, oh, ow;
        tf.output_dims(img.c, img.h, img.w, oc, oh, ow);
        input.reshape(Shape(1, oc, oh, ow));
        Rng unused(1);
        Image scratch;
        tf.apply(img, unused, input.data(), scratch);
    }
    return input;
}

// --weights, or the fillers (seeded by `init`).
void init_params(Net& net, const Args& a, Rng& init, const WeightsSource& weights) {
    net.init_params(init);
    if (a.has("weights")) {
        print_load_report(load_weights(net, weights()), a.get("weights", ""));
        return;
    }
    // Deploy nets declare no fillers (Caffe's default is constant 0), which would make every
    // layer output 0: such weights are drawn from Normal(0, sqrt(2 / fan_in)) instead (He et
    // al.), which keeps activations in a readable range through ReLU layers.
    size_t drawn = 0;
    for (const auto& layer : net.layers()) {
        auto& ps = layer->params();
        if (ps.empty() || ps[0].filler.type != "constant" || ps[0].filler.value != 0.0f) continue;
        Param& w = ps[0];
        const double fan_in = double(w.value.count()) / double(w.value.shape().n);
        const float std = float(std::sqrt(2.0 / fan_in));
        for (size_t i = 0; i < w.value.count(); ++i) w.value.data()[i] = init.gaussian(0.0f, std);
        ++drawn;
    }
    std::printf("no --weights: parameters from the fillers (seed %d)%s\n", a.get_int("seed", 1),
                drawn ? (", and " + std::to_string(drawn) +
                         " weight tensors without a filler from Normal(0, sqrt(2/fan_in))").c_str()
                      : "");
}

// Copies the input into the net's input blob (the first input blob the builder made, "data" for
// data layers) and the label into "label" if there is one; returns the input blob.
Blob* feed_input(Net& net, const Tensor& input, int label) {
    const Shape in = input.shape();
    Blob* data = net.has_blob("data") ? net.blob("data") : net.bottoms(0).at(0);
    if (data->shape() != in)
        throw std::invalid_argument("the input is " + in.str() + " but the net's input '" + data->name + "' is " + data->shape().str());
    std::copy(input.data(), input.data() + input.count(), data->data.data());
    if (net.has_blob("label")) {
        Blob* l = net.blob("label");
        std::fill(l->data.data(), l->data.data() + l->count(), float(label));
    }
    return data;
}

// What a dump folder holds (an existing folder holding anything else is never replaced).
const std::vector<std::string> kDumpSuffixes = {".npy"};

// --dump DIR: the .npy files go to a temporary folder renamed into place at the end, so a
// failure midway leaves no partial folder and a previous dump as it was; an existing DIR is
// replaced only if it holds nothing but .npy files.
class Dump {
public:
    explicit Dump(const std::string& dir) {
        if (dir.empty()) return;
        out_ = std::make_unique<AtomicDirWriter>(trim_trailing_slashes(dir), "dump folder", kDumpSuffixes);
    }
    bool on() const { return out_ != nullptr; }
    void write(const std::string& name, const Tensor& t) {
        write_npy(out_->file(name), t);
        ++written_;
    }
    size_t written() const { return written_; }
    void commit() { out_->commit(); }

private:
    std::unique_ptr<AtomicDirWriter> out_;
    size_t written_ = 0;
};

// What one forward pass showed: per layer the output statistics and time, and the lines on the
// latent layer's binariness.
struct ForwardAudit {
    std::vector<Stats> stats;
    std::vector<double> secs;
    std::vector<std::string> binary_lines;
};

std::string binariness_line(const Layer& layer, const Blob& top) {
    const int bits = int(top.count() / size_t(top.shape().n));
    std::vector<float> acts(top.data.data(), top.data.data() + top.count());
    Binariness b = binariness(acts, bits);
    double lo = 1, hi = 0;
    for (double o : b.ones) lo = std::min(lo, o), hi = std::max(hi, o);
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "latent layer %s (%d bits): %.1f%% of outputs within 0.1 of 0 or 1; share of ones per bit %.2f..%.2f "
                  "(mean |share - 0.5| = %.3f)",
                  layer.name().c_str(), bits, 100 * b.near_binary, lo, hi, b.mean_balance_gap);
    return buf;
}

// Runs forward twice (one warm-up pass so the timing does not include first-touch allocation),
// taking each layer's outputs right after it ran (and dumping them).
ForwardAudit run_forward(Net& net, Blob* data, const Tensor& input, Dump& dump) {
    std::string latent;
    try {
        latent = find_latent_blob(net);
    } catch (const std::exception&) {
    }
    ForwardAudit fa;
    fa.stats.resize(net.layers().size());
    net.forward();
    std::copy(input.data(), input.data() + input.count(), data->data.data());
    net.forward(&fa.secs, [&](size_t l) {
        const Blob* top = net.tops(l).at(0);
        fa.stats[l] = stats_of(top->data);
        if (dump.on())
            for (const Blob* t : net.tops(l)) dump.write(safe_name(net.layers()[l]->name()) + "." + safe_name(t->name) + ".npy", t->data);
        if (top->name == latent && std::string(net.layers()[l]->type()) == "Sigmoid")
            fa.binary_lines.push_back(binariness_line(*net.layers()[l], *top));
    });
    return fa;
}

void print_layer_table(Net& net, const ForwardAudit& fa, const std::string& phase, const Shape& in) {
    const auto& st = fa.stats;
    const auto& secs = fa.secs;
    std::printf("%s (%s phase), input %s\n", net.name().c_str(), phase.c_str(), in.str().c_str());
    std::printf("%-18s %-16s %-20s %11s %10s %9s %11s %11s %11s\n", "layer", "type", "top shape", "params", "MFLOPs", "fwd ms",
                "min", "mean", "max");
    size_t tp = 0;
    double tf = 0, tt = 0;
    for (size_t l = 0; l < net.layers().size(); ++l) {
        Layer& layer = *net.layers()[l];
        const Shape& top = net.tops(l).at(0)->shape();
        size_t params = 0;
        for (const Param& p : layer.params()) params += p.value.count();
        const double flops = layer.params().empty() ? double(top.count())
                                                    : 2.0 * double(layer.params()[0].value.count()) * top.n * top.h * top.w;
        tp += params, tf += flops, tt += secs[l];
        std::printf("%-18s %-16s %-20s %11zu %10.1f %9.3f %11.4g %11.4g %11.4g%s\n", layer.name().c_str(), layer.type(),
                    top.str().c_str(), params, flops / 1e6, secs[l] * 1e3, st[l].mn, st[l].mean, st[l].mx,
                    st[l].nonfinite ? (" (" + std::to_string(st[l].nonfinite) + " NaN/Inf)").c_str() : "");
    }
    std::printf("%-18s %-16s %-20s %11zu %10.1f %9.3f\n", "total", "", "", tp, tf / 1e6, tt * 1e3);
    for (const auto& s : fa.binary_lines) std::printf("%s\n", s.c_str());
}

// --backward: from the loss, dumping every blob gradient and parameter gradient.
void run_backward(Net& net, int label, Dump& dump) {
    bool has_loss = false;
    for (const auto& l : net.layers()) has_loss |= l->is_loss();
    if (!has_loss) throw std::invalid_argument("--backward needs a net with a loss layer (e.g. the train_val prototxt)");
    for (Param* p : net.params()) p->grad.zero();
    net.backward();
    std::printf("backward done from the loss (label %d)\n", label);
    if (!dump.on()) return;
    for (const auto& name : net.blob_names()) dump.write(safe_name(name) + ".diff.npy", net.blob(name)->diff);
    for (Param* p : net.params()) dump.write(safe_name(p->name) + ".grad.npy", p->grad);
}

}  // namespace

// The end of --help: command lines to start from (a test runs each with --help to check its options).
static const char* kExamples =
    "examples:\n"
    "  dlbhc audit --net weights/small_dlbhc_train_val.prototxt --weights "
        "demo/small_dlbhc.weights --image shoe.png --dump demo/audit\n";

int cmd_audit(const std::vector<std::string>& argv) {
    Args a(argv, {"net", "weights", "image", "npy", "phase", "label", "dump", "bits", "classes", "seed", "max-pixels"}, {"backward", "help"});
    if (print_help(a, {kHelp, kMaxPixelsHelp, kExamples})) return 0;
    a.expect_no_positional();
    a.require({"net"});
    if (a.has("image") == a.has("npy")) throw std::invalid_argument("give exactly one of --image FILE and --npy FILE");
    const std::string phase_s = a.get("phase", "test");
    if (phase_s != "test" && phase_s != "train") throw std::invalid_argument("--phase expects test or train, got '" + phase_s + "'");
    const Phase phase = phase_s == "train" ? Phase::Train : Phase::Test;
    const std::string net_path = a.get("net", "");
    // The options and the --dump folder are checked before the net is built and run.
    NetBuildOptions bo;
    bo.latent_bits = bits_option(a);
    bo.num_classes = classes_option(a);
    const int seed = a.get_int_in("seed", 1, 0, INT_MAX);
    const int label = a.get_int("label", 0);
    max_pixels_option(a);  // checked now, read by read_input
    const std::string dump = a.get("dump", "");
    if (a.has("dump")) check_output_folder(dump, "--dump");
    if (a.has("weights")) check_input_file(a.get("weights", ""), "--weights");
    std::vector<NamedPath> inputs = option_paths(a, {"net", "weights", "image", "npy"});
    PipelineOptions po;  // the data layer's mean_file preprocesses --image: an input too
    po.net_path = net_path;
    add_net_data_inputs(inputs, po, false);
    refuse_overwriting_inputs(option_paths(a, {"dump"}), inputs);
    // The dump folder is replaced as a whole: an input inside it would be deleted.
    if (a.has("dump")) {
        refuse_inputs_inside_folder({"--dump", dump}, inputs);
        check_replaced_folder(dump, "--dump", kDumpSuffixes, 0);  // its file names come from the net
    }
    NetSpec spec = load_net_spec(net_path);
    std::unique_ptr<WeightsFile> weights_file;
    const WeightsSource weights = [&]() -> const WeightsFile& {
        if (!weights_file) weights_file = std::make_unique<WeightsFile>(read_weights(a.get("weights", "")));
        return *weights_file;
    };

    // The input: a preprocessed image (batch 1) or a tensor given as is.
    const Tensor input = read_input(a, spec, net_path, weights);
    const Shape in = input.shape();
    bo.batch = in.n;
    bo.channels = in.c, bo.height = in.h, bo.width = in.w;
    auto net = build_net(spec, phase, bo);
    Rng init{uint64_t(seed)};
    init_params(*net, a, init, weights);
    net->set_phase(phase);
    Blob* data = feed_input(*net, input, label);

    Dump out(dump);
    if (out.on()) out.write(safe_name(data->name) + ".input.npy", data->data);
    const ForwardAudit fa = run_forward(*net, data, input, out);
    print_layer_table(*net, fa, phase_s, in);
    if (a.has("backward")) run_backward(*net, label, out);
    if (out.on()) {
        for (Param* p : net->params()) out.write(safe_name(p->name) + ".npy", p->value);
        out.commit();
        std::printf("%zu .npy files written to %s/\n", out.written(), dump.c_str());
    }
    return 0;
}

}  // namespace dlbhc
