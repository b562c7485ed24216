// apps/options.cpp -- see options.h.
#include "apps/options.h"

#include <climits>
#include <stdexcept>

#include "apps/args.h"
#include "formats/caffe_params.h"
#include "hash/code.h"

namespace dlbhc {

int bits_option(const Args& a) { return a.get_int_in("bits", 0, 1, kMaxCodeBits); }
int classes_option(const Args& a) { return a.get_int_in("classes", 0, 2, caffe::kMaxOutputs); }

void check_input_file(const std::string& path, const std::string& what) {
    // Opened (and closed) as it will be read: a missing or unreadable file, a folder, a FIFO or a
    // device is named as such now.
    try {
        InputFile(path, what + " '" + path + "'");
    } catch (const std::runtime_error& e) {
        throw std::invalid_argument(e.what());
    }
}

PipelineOptions pipeline_options(const Args& a, int batch) {
    PipelineOptions po;
    po.net_path = a.get("net", "");
    po.mean_file = a.get("mean", "");
    po.latent_bits = bits_option(a);
    po.num_classes = classes_option(a);
    po.batch = a.get_int_in("batch", batch, 1, INT_MAX);
    po.root = a.get("root", "");
    po.strict = a.has("strict");
    po.max_pixels = max_pixels_option(a);
    // The files are read after the dataset is opened: a wrong name fails now instead.
    if (a.has("net")) check_input_file(po.net_path, "--net");
    if (a.has("weights")) check_input_file(a.get("weights", ""), "--weights");
    if (!po.mean_file.empty()) check_input_file(po.mean_file, "--mean");
    return po;
}

std::vector<NamedPath> option_paths(const Args& a, std::initializer_list<const char*> names) {
    std::vector<NamedPath> v;
    for (const char* n : names) v.push_back({std::string("--") + n, a.get(n, "")});
    return v;
}

const char* const kMaxPixelsHelp =
    "  --max-pixels N   refuse an image (from its header, before decoding) with more than N pixels\n"
    "                   (default 67108864 = 64 Mpx; stb also refuses a side above 65536)\n";

uint64_t max_pixels_option(const Args& a) {
    if (!a.has("max-pixels")) return kDefaultMaxPixels;
    const std::string v = a.get("max-pixels", "");
    uint64_t n = 0;
    bool ok = !v.empty() && v.size() <= 19;
    for (char c : v) ok = ok && c >= '0' && c <= '9';
    if (ok) n = std::stoull(v);
    if (!ok || n == 0)
        throw std::invalid_argument("--max-pixels: expected a positive whole number of pixels, found '" + v + "'");
    return n;
}

SourceOptions source_options(const PipelineOptions& po) {
    SourceOptions so;
    so.root = po.root;
    so.images.strict = po.strict;
    so.images.max_pixels = po.max_pixels;
    return so;
}

void add_dataset_inputs(std::vector<NamedPath>& inputs, const std::string& label, const std::string& spec,
                        const SourceOptions& so) {
    for (auto& f : dataset_files(spec, so)) inputs.push_back({label + " " + spec + ", which reads", std::move(f)});
}

}  // namespace dlbhc
