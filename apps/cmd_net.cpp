// apps/cmd_net.cpp -- `dlbhc net`: read a Caffe net or solver prototxt, build the net for a phase
// (with the run-time overrides) and print it layer by layer, or report the first error with its
// file:line:col. A quick way to check a prototxt before training with it.
#include <climits>
#include <cstdio>
#include <memory>
#include <string>

#include "apps/args.h"
#include "apps/commands.h"
#include "apps/net_setup.h"
#include "formats/caffe_params.h"
#include "formats/caffe_spec.h"
#include "formats/net_builder.h"
#include "formats/solver_spec.h"
#include "hash/code.h"

namespace dlbhc {

static const char* kNetHelp =
    "usage: dlbhc net FILE.prototxt [--phase train|test] [--batch N] [--bits H] [--classes K]\n"
    "                 [--channels C] [--height H] [--width W] [--spec]\n"
    "       dlbhc net --solver SOLVER.prototxt\n"
    "Reads a Caffe net (V1 `layers` or V2 `layer` layout), builds it for the phase and prints one row\n"
    "per layer: name, type, top shape, parameter count and the (lr_mult, decay_mult) of each\n"
    "parameter. Errors name the file, line and column.\n"
    "  --phase     train (default) or test: which include/exclude rules apply\n"
    "  --batch     batch size (default: the file's)      --bits     latent layer size (default: the file's)\n"
    "  --classes   classifier outputs (default: the file's)\n"
    "  --channels, --height, --width   image input size; by default, for a Data layer without\n"
    "              crop_size, the size of the items of its source (opened as for training)\n"
    "  --spec      also print every layer of the file (all phases) with all its settings\n"
    "Limits (environment): DLBHC_MAX_NET_BYTES, the memory a built net may hold (blobs, parameters\n"
    "and layer buffers, worked out from the shapes before anything is allocated; default 8G; K, M,\n"
    "G, T suffixes), and DLBHC_MAX_NET_LAYERS (default 10000). Every command that builds a net\n"
    "obeys them.\n"
    "  --solver    read a solver file instead and print its settings\n";

static int print_solver(const std::string& path) {
    SolverSpec s = load_solver_spec(path);
    const SolverParam& p = s.param;
    std::printf("solver %s\n", path.c_str());
    std::printf("  train net      %s\n", s.train_net_path().c_str());
    for (size_t i = 0; i < s.test_net_paths().size(); ++i)
        std::printf("  test net %zu     %s (%d batches every %d iterations)\n", i, s.test_net_paths()[i].c_str(),
                    i < s.test_iter.size() ? s.test_iter[i] : 0, s.test_interval);
    std::printf("  base_lr %g, lr_policy %s, gamma %g, power %g, stepsize %d, max_iter %d\n", p.base_lr,
                p.lr_policy.c_str(), p.gamma, p.power, p.stepsize, p.max_iter);
    std::printf("  momentum %g, weight_decay %g (%s)", p.momentum, p.weight_decay, p.regularization_type.c_str());
    if (p.clip_gradients > 0) std::printf(", clip_gradients %g", p.clip_gradients);
    std::printf("\n  display %d, snapshot %d to '%s', random_seed %lld\n", s.display, s.snapshot,
                s.snapshot_prefix.c_str(), (long long)s.random_seed);
    for (const auto& n : s.notes) std::printf("  note: %s\n", n.c_str());
    return 0;
}

// The end of --help: command lines to start from (a test runs each with --help to check its options).
static const char* kExamples =
    "examples:\n"
    "  dlbhc net weights/small_dlbhc_train_val.prototxt --phase test\n"
    "  dlbhc net --solver weights/small_dlbhc_solver.prototxt\n";

// A net whose prototxt leaves the input size to the data (a Data layer without crop_size, as the
// demo's) is sized from the data layer's source, as training sizes it; when that cannot be opened
// the error names the options that give the size.
static void size_from_data(const NetSpec& spec, Phase phase, const std::string& path, NetBuildOptions& opt) {
    const std::vector<int64_t> stated = image_input_dims(spec, phase);
    if (stated.size() != 4 || (stated[2] > 0 && stated[3] > 0) || (opt.height > 0 && opt.width > 0)) return;
    PipelineOptions po;
    po.net_path = path;
    int dims[3];
    std::string source;
    try {
        data_source_dims(spec, phase, po, dims, &source);
    } catch (const std::exception& e) {
        const LayerSpec* d = spec.data_layer(phase);
        throw std::invalid_argument(path + ": the data layer" + (d ? " '" + d->name + "'" : std::string()) +
                                    " does not give the image size (no crop_size) and its source cannot tell it (" +
                                    e.what() + "): give it with --channels C --height H --width W");
    }
    std::printf("input size %dx%dx%d, from the data layer's source %s\n", dims[0], dims[1], dims[2], source.c_str());
    if (opt.channels == 0) opt.channels = dims[0];
    if (opt.height == 0) opt.height = dims[1];
    if (opt.width == 0) opt.width = dims[2];
}

int cmd_net(const std::vector<std::string>& argv) {
    Args a(argv, {"phase", "batch", "bits", "classes", "channels", "height", "width", "solver"}, {"spec", "help"});
    if (print_help(a, {kNetHelp, kExamples})) return 0;
    if (a.has("solver")) {
        if (!a.positional().empty()) throw std::invalid_argument("--solver takes the solver file; no other file may be given");
        return print_solver(a.get("solver", ""));
    }
    if (a.positional().size() != 1) throw std::invalid_argument("expects one prototxt file (see --help)");
    const std::string phase_arg = a.get("phase", "train");
    if (phase_arg != "train" && phase_arg != "test")
        throw std::invalid_argument("--phase expects train or test, got '" + phase_arg + "'");
    const Phase phase = phase_arg == "train" ? Phase::Train : Phase::Test;
    NetBuildOptions opt;
    // 0 (absent): as in the file; when given, each must be a sensible size.
    opt.batch = a.get_int_in("batch", 0, 1, INT_MAX);
    opt.latent_bits = a.get_int_in("bits", 0, 1, kMaxCodeBits);
    opt.num_classes = a.get_int_in("classes", 0, 2, caffe::kMaxOutputs);
    opt.channels = a.get_int_in("channels", 0, 1, INT_MAX);
    opt.height = a.get_int_in("height", 0, 1, INT_MAX);
    opt.width = a.get_int_in("width", 0, 1, INT_MAX);

    const std::string& path = a.positional()[0];
    NetSpec spec;
    try {
        spec = load_net_spec(path);
    } catch (const std::exception&) {
        // A solver read as a net fails on its first field ("unknown field 'net'"): say what it is.
        bool solver = false;
        try {
            load_solver_spec(path);
            solver = true;
        } catch (const std::exception&) {
        }
        if (solver) throw std::invalid_argument("'" + path + "' is a solver, not a net: dlbhc net --solver " + path);
        throw;
    }
    std::printf("%s: net '%s', %s layout, %zu layers in the file\n", path.c_str(), spec.name.c_str(),
                spec.v1 ? "V1 (layers)" : "V2 (layer)", spec.layers.size());
    if (a.has("spec"))
        for (const LayerSpec& l : spec.layers) std::printf("  %s: %s\n", l.loc.str().c_str(), describe_layer(l).c_str());
    if (const LayerSpec* d = spec.data_layer(phase))
        std::printf("data layer '%s' (%s): source '%s', batch %d, crop %d, mirror %s, mean '%s'\n", d->name.c_str(),
                    d->type.c_str(), d->data.source.c_str(), d->data.batch_size, d->transform.crop_size,
                    d->transform.mirror ? "yes" : "no", d->transform.mean_file.c_str());
    const std::string latent = find_latent_layer(spec, phase), classifier = find_classifier_layer(spec, phase);
    std::printf("latent layer: %s   classifier: %s\n", latent.empty() ? "(none)" : latent.c_str(),
                classifier.empty() ? "(none)" : classifier.c_str());

    size_from_data(spec, phase, path, opt);
    std::unique_ptr<Net> net = build_net(spec, phase, opt);
    std::printf("phase %s\n%-20s %-16s %-22s %12s  %s\n", phase_name(phase), "layer", "type", "top shape", "params",
                "(lr_mult, decay_mult)");
    size_t total = 0;
    for (size_t l = 0; l < net->layers().size(); ++l) {
        Layer& layer = *net->layers()[l];
        size_t count = 0;
        std::string mults;
        for (const Param& p : layer.params()) {
            count += p.value.count();
            char buf[48];
            std::snprintf(buf, sizeof buf, "(%g, %g) ", p.lr_mult, p.decay_mult);
            mults += buf;
        }
        total += count;
        std::printf("%-20s %-16s %-22s %12zu  %s\n", layer.name().c_str(), layer.type(),
                    net->tops(l).at(0)->shape().str().c_str(), count, mults.c_str());
    }
    std::printf("%-20s %-16s %-22s %12zu\n", "total", "", "", total);
    const NetFootprint fp = net_footprint(spec, phase, opt);
    auto mib = [](uint64_t b) { return double(b) / (1 << 20); };
    std::printf("memory: %.1f MiB (blobs %.1f, parameters %.1f, layer buffers %.1f MiB; the limit, "
                "DLBHC_MAX_NET_BYTES, is checked before building)\n",
                mib(fp.total()), mib(fp.blob_bytes), mib(fp.param_bytes), mib(fp.buffer_bytes));
    return 0;
}

}  // namespace dlbhc
