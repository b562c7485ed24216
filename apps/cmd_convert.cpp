// apps/cmd_convert.cpp -- `dlbhc convert`: Caffe / ONNX weights (and Caffe mean files) to dlbhc's
// weights file, with a table of what was converted. The work is formats/weights_import.h (read and
// check the whole input) and formats/weights_file.h (atomic write), so a failure leaves no output.
#include <cstdio>
#include <memory>
#include <string>

#include "apps/args.h"
#include "apps/commands.h"
#include "formats/caffe_params.h"
#include "formats/weights_file.h"
#include "formats/weights_import.h"
#include "hash/code.h"
#include "io/file_io.h"
#include "nn/models.h"

namespace dlbhc {

static const char* kConvertHelp =
    "usage: dlbhc convert IN OUT [--format auto|caffemodel|binaryproto|onnx|weights] [--net NAME ...]\n"
    "       dlbhc convert IN --list [--format ...] [--net NAME ...]\n"
    "Reads weights from IN and writes them as a dlbhc weights file OUT (see docs/formats.md),\n"
    "printing one row per tensor: name, shape, values, origin.\n"
    "  IN formats (--format auto, the default, goes by the extension):\n"
    "    .caffemodel   Caffe NetParameter, V2 / V1 / V0 layouts: blob 0 -> <layer>.weight,\n"
    "                  blob 1 -> <layer>.bias, old (1,1,O,I) fc shapes unwrapped to (O,I)\n"
    "    .binaryproto  a Caffe mean image (one BlobProto) -> one tensor \"mean\" (C,H,W)\n"
    "    .onnx         an ONNX model's initializers; conv1_w_0 / conv1_W -> conv1.weight,\n"
    "                  conv1_b_0 / conv1_b -> conv1.bias; Gemm transB=0 / MatMul weights\n"
    "                  transposed to (O,I); integer constants skipped\n"
    "    .weights      a dlbhc weights file (useful with --list)\n"
    "  --list    print the table only; write nothing\n"
    "  --net caffenet|alexnet|small   also load the tensors into that built-in DLBHC net (nn/models.h)\n"
    "            and print which parameters were loaded, which keep their filler values (missing)\n"
    "            and which tensors the net does not use; a shape mismatch is an error (no OUT written).\n"
    "            With it: --bits H (48), --classes K (10); for small: --channels C (1), --size S (28)\n"
    "OUT is written atomically: on any error nothing is written and the exit status is 1.\n";

// --net and the options that size it, checked before any input is read.
static void check_net_choice(const Args& a) {
    const std::string which = a.get("net", "");
    if (which != "caffenet" && which != "alexnet" && which != "small")
        throw std::invalid_argument("--net expects caffenet, alexnet or small, got '" + which + "'");
    a.get_int_in("bits", 48, 1, kMaxCodeBits);
    a.get_int_in("classes", 10, 2, caffe::kMaxOutputs);
    a.get_int_in("channels", 1, 1, 4096);
    a.get_int_in("size", 28, 13, 4096);
}

// Loads `w` into a built-in net and prints the report; throws on a shape mismatch.
static void check_against_net(const Args& a, const WeightsFile& w) {
    DlbhcNetConfig cfg;
    cfg.latent_bits = a.get_int_in("bits", 48, 1, kMaxCodeBits);
    cfg.num_classes = a.get_int_in("classes", 10, 2, caffe::kMaxOutputs);
    cfg.with_loss = false;
    const std::string which = a.get("net", "");
    std::unique_ptr<Net> net;
    if (which == "caffenet" || which == "alexnet") {
        cfg.alexnet_order = which == "alexnet";
        net = build_caffenet_dlbhc(cfg);
    } else if (which == "small") {
        const int channels = a.get_int_in("channels", 1, 1, 4096), size = a.get_int_in("size", 28, 13, 4096);
        net = build_small_dlbhc(cfg, channels, size);
    } else {
        throw std::invalid_argument("--net expects caffenet, alexnet or small, got '" + which + "'");
    }
    WeightsLoadReport rep = load_weights(*net, w);
    std::printf("net %s: %zu parameters loaded, %zu missing (keep their filler values), %zu tensors unused\n",
                net->name().c_str(), rep.loaded.size(), rep.missing.size(), rep.unused.size());
    auto line = [](const char* what, const std::vector<std::string>& v) {
        if (v.empty()) return;
        std::printf("  %s:", what);
        for (const std::string& s : v) std::printf(" %s", s.c_str());
        std::printf("\n");
    };
    line("missing", rep.missing);
    line("unused", rep.unused);
    for (const std::string& r : rep.reshaped) std::printf("  reshaped: %s\n", r.c_str());
}

static bool ends_with(const std::string& s, const char* suffix) {
    const std::string x(suffix);
    return s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0;
}

// The end of --help: command lines to start from (a test runs each with --help to check its options).
static const char* kExamples =
    "examples:\n"
    "  dlbhc convert bvlc_reference_caffenet.caffemodel weights/caffenet.weights --net caffenet\n"
    "  dlbhc convert model.onnx --list\n";

int cmd_convert(const std::vector<std::string>& argv) {
    Args a(argv, {"format", "net", "bits", "classes", "channels", "size"}, {"list", "help"});
    if (print_help(a, {kConvertHelp, kExamples})) return 0;
    const auto& pos = a.positional();
    const bool list = a.has("list");
    if (pos.empty() || pos.size() > 2 || (list && pos.size() != 1) || (!list && pos.size() != 2))
        throw std::invalid_argument(list ? "expected one input file with --list (see --help)"
                                         : "expected an input and an output file: dlbhc convert IN OUT (see --help)");
    const std::string in = pos[0];
    const std::string out = list ? "" : pos[1];
    if (!list && (ends_with(out, ".caffemodel") || ends_with(out, ".onnx") || ends_with(out, ".binaryproto")))
        throw std::invalid_argument("refusing to write a dlbhc weights file named '" + out +
                                    "' (that extension belongs to the input formats; use .weights)");
    refuse_overwriting_inputs({{"OUT", out}}, {{"IN", in}});

    // Before reading the input (a CaffeNet model is 240 MB): the output path and the net options.
    if (!list) check_output_path(out, "OUT");
    if (a.has("net")) check_net_choice(a);
    ImportedWeights w = import_weights(in, parse_weights_format(a.get("format", "auto")));

    std::printf("%s: %s\n", in.c_str(), w.format.c_str());
    std::printf("%-28s %-24s %12s  %s\n", "tensor", "shape", "values", "from");
    size_t total = 0;
    for (size_t i = 0; i < w.weights.tensors.size(); ++i) {
        const NamedTensor& t = w.weights.tensors[i];
        total += t.data.size();
        std::printf("%-28s %-24s %12zu  %s\n", t.name.c_str(), t.shape_str().c_str(), t.data.size(),
                    i < w.origin.size() ? w.origin[i].c_str() : "");
    }
    for (const std::string& n : w.notes) std::printf("note: %s\n", n.c_str());
    for (const auto& kv : w.weights.metadata) {
        bool text = kv.second.size() <= 200;
        for (char c : kv.second) text = text && c >= 32 && c < 127;
        if (text) std::printf("metadata: %s = %s\n", kv.first.c_str(), kv.second.c_str());
        else std::printf("metadata: %s = <%zu bytes>\n", kv.first.c_str(), kv.second.size());
    }
    std::printf("%zu tensors, %zu values (%.1f MB float32)\n", w.weights.tensors.size(), total, total * 4.0 / 1e6);
    if (a.has("net")) check_against_net(a, w.weights);
    if (list) return 0;
    write_weights(out, w.weights);
    std::printf("wrote %s\n", out.c_str());
    return 0;
}

}  // namespace dlbhc
