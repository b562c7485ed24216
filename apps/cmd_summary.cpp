// apps/cmd_summary.cpp -- `dlbhc summary`: a built-in net, one row per layer.
#include <climits>
#include <cstdio>
#include <memory>
#include <string>

#include "apps/args.h"
#include "apps/commands.h"
#include "hash/code.h"
#include "formats/caffe_params.h"
#include "nn/models.h"

namespace dlbhc {

static const char* kHelp =
    "usage: dlbhc summary [--net caffenet|alexnet|small] [--bits H] [--classes K] [--batch N]\n"
    "                     [--size S] [--channels C] [--time] [--seed X]\n"
    "Builds a DLBHC net in memory (random weights from its fillers) and prints, per layer: name,\n"
    "type, output shape, parameter count and forward FLOPs (2 x multiply-adds for conv/fc).\n"
    "  --net       caffenet (default; CaffeNet order, the authors' net), alexnet (LRN before pool),\n"
    "              small (the demo's net, weights/small_dlbhc_train_val.prototxt, for 28x28/32x32)\n"
    "  --bits      latent layer size h (default 48)     --classes  classifier outputs (default 10)\n"
    "  --batch     batch size (default 1)               --size, --channels  input of the small net (28, 1)\n"
    "  --time      also run forward and backward once (after one warm-up) and print each layer's time\n";

// The end of --help: command lines to start from (a test runs each with --help to check its options).
static const char* kExamples =
    "examples:\n"
    "  dlbhc summary --net small --time\n"
    "  dlbhc summary --net caffenet --batch 32\n";

int cmd_summary(const std::vector<std::string>& argv) {
    Args a(argv, {"net", "bits", "classes", "batch", "size", "channels", "seed"}, {"time", "help"});
    if (print_help(a, {kHelp, kExamples})) return 0;
    a.expect_no_positional();
    DlbhcNetConfig cfg;
    cfg.batch = a.get_int_in("batch", 1, 1, INT_MAX);
    cfg.latent_bits = a.get_int_in("bits", 48, 1, kMaxCodeBits);
    cfg.num_classes = a.get_int_in("classes", 10, 2, caffe::kMaxOutputs);
    const int seed = a.get_int_in("seed", 1, 0, INT_MAX);
    std::string which = a.get("net", "caffenet");
    std::unique_ptr<Net> net;
    if (which == "caffenet" || which == "alexnet") {
        cfg.alexnet_order = which == "alexnet";
        net = build_caffenet_dlbhc(cfg);
    } else if (which == "small") {
        const int channels = a.get_int("channels", 1), size = a.get_int("size", 28);
        if (channels < 1 || size < 13)
            throw std::invalid_argument("the small net needs --channels >= 1 and --size >= 13, got " +
                                        std::to_string(channels) + " and " + std::to_string(size));
        net = build_small_dlbhc(cfg, channels, size);
    } else {
        throw std::invalid_argument("--net expects caffenet, alexnet or small, got '" + which + "'");
    }
    Rng rng{uint64_t(seed)};
    net->init_params(rng);

    std::vector<double> fwd, bwd;
    const bool timed = a.has("time");
    if (timed) {
        Blob* data = net->blob("data");
        for (size_t i = 0; i < data->count(); ++i) data->data[i] = rng.uniform(-100, 100);
        if (net->has_blob("label"))
            for (size_t i = 0; i < net->blob("label")->count(); ++i)
                net->blob("label")->data[i] = (float)rng.below(cfg.num_classes);
        net->forward();
        net->backward();
        net->forward(&fwd);
        net->backward(&bwd);
    }

    std::printf("%s, batch %d, latent %d bits, %d classes\n", net->name().c_str(), cfg.batch, cfg.latent_bits,
                cfg.num_classes);
    std::printf("%-18s %-16s %-22s %12s %12s", "layer", "type", "top shape", "params", "MFLOPs");
    if (timed) std::printf(" %10s %10s", "fwd ms", "bwd ms");
    std::printf("\n");
    size_t total_params = 0;
    double total_flops = 0, total_f = 0, total_b = 0;
    for (size_t l = 0; l < net->layers().size(); ++l) {
        Layer& layer = *net->layers()[l];
        const Shape& top = net->tops(l).at(0)->shape();
        size_t params = 0;
        for (const Param& p : layer.params()) params += p.value.count();
        // Conv and fc: each weight is used once per output position and batch item.
        double flops = layer.params().empty() ? (double)top.count()
                                               : 2.0 * layer.params()[0].value.count() * top.n * top.h * top.w;
        total_params += params;
        total_flops += flops;
        std::printf("%-18s %-16s %-22s %12zu %12.1f", layer.name().c_str(), layer.type(), top.str().c_str(), params,
                    flops / 1e6);
        if (timed) {
            std::printf(" %10.2f %10.2f", fwd[l] * 1e3, bwd[l] * 1e3);
            total_f += fwd[l];
            total_b += bwd[l];
        }
        std::printf("\n");
    }
    std::printf("%-18s %-16s %-22s %12zu %12.1f", "total", "", "", total_params, total_flops / 1e6);
    if (timed) std::printf(" %10.2f %10.2f", total_f * 1e3, total_b * 1e3);
    std::printf("\n");
    return 0;
}

}  // namespace dlbhc
