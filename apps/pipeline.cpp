// apps/pipeline.cpp -- see pipeline.h.
#include "apps/pipeline.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

#include "apps/args.h"
#include "data/resize.h"
#include "formats/caffe_params.h"
#include "formats/net_builder.h"
#include "hash/encoder.h"
#include "nn/conv.h"
#include "nn/inner_product.h"
#include "nn/pooling.h"
#include "search/index_file.h"

namespace dlbhc {

size_t count_params(Net& net) {
    size_t n = 0;
    for (Param* p : net.params()) n += p->value.count();
    return n;
}

void print_load_report(const WeightsLoadReport& rep, const std::string& file) {
    std::printf("weights %s: %zu parameters loaded", file.c_str(), rep.loaded.size());
    if (!rep.missing.empty()) {
        std::printf("; not in the file, so starting from their fillers:");
        for (const auto& m : rep.missing) std::printf(" %s", m.c_str());
    }
    std::printf("\n");
    for (const auto& r : rep.reshaped) std::printf("  reshaped %s\n", r.c_str());
    // A snapshot's solver state ("conv1.weight@momentum") is expected beside the weights, so it
    // is neither listed nor counted: the count printed is the count of names that follow.
    std::vector<std::string> unused;
    for (const auto& u : rep.unused)
        if (u.find('@') == std::string::npos) unused.push_back(u);
    if (unused.empty()) return;
    std::printf("  tensors of the file this net does not use (%zu):", unused.size());
    for (size_t i = 0; i < unused.size() && i < 20; ++i) std::printf(" %s", unused[i].c_str());
    if (unused.size() > 20) std::printf(" ...");
    std::printf("\n");
}

std::string dir_of(const std::string& path) {
    size_t slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

void ensure_parent_dir(const std::string& path) { make_parent_folders(path); }

PageFolder page_folder(const std::string& html) {
    PageFolder f;
    f.dir = dir_of(html);
    const std::string files = page_files_path(html);
    f.files = files.substr(files.rfind('/') + 1);  // made by HtmlPageWriter, whole or not at all
    return f;
}

std::string page_files_path(const std::string& html) {
    std::string stem = html.substr(html.rfind('/') == std::string::npos ? 0 : html.rfind('/') + 1);
    if (stem.size() > 5 && stem.substr(stem.size() - 5) == ".html") stem.resize(stem.size() - 5);
    return dir_of(html) + "/" + stem + "_files";
}

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

namespace {

// A data layer source as written in the prototxt: as given, or relative to the prototxt's folder.
std::string resolve_source(const std::string& source, const std::string& base_dir) {
    struct stat st;
    if (source.empty() || source[0] == '/' || ::stat(source.c_str(), &st) == 0) return source;
    std::string alt = base_dir + "/" + source;
    if (::stat(alt.c_str(), &st) == 0) return alt;
    // An idx/CIFAR split "DIR/train" does not exist as a path itself; try its folder.
    std::string d = dir_of(source);
    if (::stat(d.c_str(), &st) != 0 && ::stat(dir_of(alt).c_str(), &st) == 0) return alt;
    return source;
}

// The dataset spec a data layer reads (`override_spec` when given, else the layer's source) and
// the source options for it (the layer's root_folder unless --root); "" when there is neither.
std::string layer_source(const std::string& override_spec, const LayerSpec* layer, const std::string& base_dir,
                         const PipelineOptions& po, SourceOptions& so) {
    so = source_options(po);
    if (!override_spec.empty() || !layer) return override_spec;
    if (!layer->data.root_folder.empty() && so.root.empty()) so.root = resolve_source(layer->data.root_folder, base_dir);
    return resolve_source(layer->data.source, base_dir);
}

std::unique_ptr<Dataset> open_for_layer(const std::string& override_spec, const LayerSpec* layer,
                                        const std::string& base_dir, const PipelineOptions& po, std::string& name) {
    SourceOptions so;
    const std::string spec = layer_source(override_spec, layer, base_dir, po, so);
    if (spec.empty()) return nullptr;
    name = spec;
    LoadReport rep;
    auto ds = open_dataset(spec, so, &rep);
    if (rep.skipped > 0) {
        for (size_t i = 0; i < rep.messages.size() && i < 10; ++i) std::fprintf(stderr, "skipped: %s\n", rep.messages[i].c_str());
        std::fprintf(stderr, "%s: %zu unreadable images skipped (--strict makes this an error)\n", spec.c_str(), rep.skipped);
    }
    return ds;
}

// A colour mean image needs colour input: grey images (MNIST) are copied to three channels, as
// the authors did for grey images. `channels`: those of the images the transform will get.
void colour_for_mean(TransformParam& tp, int channels) {
    if (tp.mean_c == 3 && channels == 1) tp.force_color = true;
}

TransformParam transform_for(const LayerSpec* layer, Phase phase, const std::string& base_dir, const PipelineOptions& po,
                             int channels) {
    TransformSpec t;
    if (layer) t = layer->transform;
    if (!po.mean_file.empty()) t.mean_file = po.mean_file, t.mean_value.clear();
    TransformParam tp = transform_from_spec(t, phase, po.mean_file.empty() ? base_dir : "");
    if (layer && layer->type == "ImageData" && layer->data.new_height > 0) {
        if (layer->data.new_height != layer->data.new_width)
            throw std::invalid_argument(layer->loc.str() + ": new_height and new_width must be equal (square resize only)");
        tp.resize = layer->data.new_height;
    }
    colour_for_mean(tp, channels);
    tp.phase = phase;
    tp.upscale_small = true;
    return tp;
}

// Net build options sized to what the transform makes of the dataset's items.
NetBuildOptions build_options(const PipelineOptions& po, const Transformer& tf, const Dataset& ds, int batch) {
    NetBuildOptions bo;
    bo.batch = batch;
    bo.latent_bits = po.latent_bits;
    bo.num_classes = po.num_classes;
    bo.dropout_seed = po.seed * 1000003ull + 17;
    int c = ds.channels(), h = ds.height(), w = ds.width();
    if (c <= 0 || h <= 0 || w <= 0) {
        // Images of different sizes: the transform's resize/crop fixes the output size.
        const int s = tf.param().crop > 0 ? tf.param().crop : tf.param().resize;
        if (s <= 0) throw std::invalid_argument("the images differ in size: the data layer needs crop_size (or a resize)");
        c = 3, h = w = s;
    }
    int oc, oh, ow;
    tf.output_dims(c, h, w, oc, oh, ow);
    bo.channels = oc, bo.height = oh, bo.width = ow;
    return bo;
}

int data_batch(const LayerSpec* layer, int override_batch, int fallback) {
    if (override_batch > 0) return override_batch;
    if (layer && layer->data.batch_size > 0) return layer->data.batch_size;
    return fallback;
}

}  // namespace

void add_dataset_inputs(std::vector<NamedPath>& inputs, const std::string& label, const std::string& spec,
                        const SourceOptions& so) {
    for (auto& f : dataset_files(spec, so)) inputs.push_back({label + " " + spec + ", which reads", std::move(f)});
}

void add_net_data_inputs(std::vector<NamedPath>& inputs, const PipelineOptions& po, bool training,
                         const std::string& train_data, const std::string& test_data) {
    NetSpec spec;
    try {
        spec = load_net_spec(po.net_path);
    } catch (const std::exception&) {
        return;  // reported when the net is built
    }
    const std::string base = dir_of(po.net_path);
    const LayerSpec* train = spec.data_layer(Phase::Train);
    const LayerSpec* test = spec.data_layer(Phase::Test);
    auto name = [&](const LayerSpec* l) { return std::string("the ") + (l == test ? "TEST" : "TRAIN") + " data layer's "; };
    // The layers whose transform_param preprocesses: as make_training_setup and make_encode_setup.
    std::vector<const LayerSpec*> used = {test ? test : train};
    if (training) used.insert(used.begin(), train);
    for (const LayerSpec* l : used) {
        if (!l || !po.mean_file.empty()) continue;
        const std::string mean = mean_file_path(l->transform, base);
        if (!mean.empty()) inputs.push_back({name(l) + "mean_file", mean});
    }
    if (!training) return;
    const std::pair<const LayerSpec*, std::string> sources[] = {{train, train_data}, {test, test_data}};
    for (const auto& [layer, override_spec] : sources) {
        if (!override_spec.empty() || !layer) continue;  // the override is the command's own input
        SourceOptions so;
        const std::string src = layer_source("", layer, base, po, so);
        add_dataset_inputs(inputs, name(layer) + "source", src, so);
    }
}

namespace {

// Refuses a latent layer larger than a hash code can be (hash/code.h), before the data is read
// and the net is built and trained: such a net would train for hours and then fail to encode.
void check_latent_size(const NetSpec& spec, Phase phase, int override_bits) {
    if (override_bits > kMaxCodeBits)
        throw std::invalid_argument("--bits " + std::to_string(override_bits) + ": a hash code holds at most " +
                                    std::to_string(kMaxCodeBits) + " bits");
    if (override_bits > 0) return;
    std::string latent;
    try {
        latent = find_latent_layer(spec, phase);
    } catch (const std::exception&) {
        return;  // ambiguous: the builder reports it when an override needs the layer
    }
    for (const LayerSpec* l : spec.layers_in(phase))
        if (l->name == latent && l->settings<InnerProductParam>().num_output > kMaxCodeBits)
            throw std::invalid_argument(l->loc.str() + ": latent layer '" + latent + "' has num_output " +
                                        std::to_string(l->settings<InnerProductParam>().num_output) + " but a hash code holds at most " +
                                        std::to_string(kMaxCodeBits) + " bits (--bits H overrides it)");
}

}  // namespace

TrainingSetup make_training_setup(const PipelineOptions& po, const std::string& train_data,
                                  const std::string& test_data, int test_iter) {
    TrainingSetup s;
    s.spec = load_net_spec(po.net_path);
    check_latent_size(s.spec, Phase::Train, po.latent_bits);
    const std::string base = dir_of(po.net_path);
    const LayerSpec* train_layer = s.spec.data_layer(Phase::Train);
    const LayerSpec* test_layer = s.spec.data_layer(Phase::Test);
    auto train_ds = open_for_layer(train_data, train_layer, base, po, s.train_name);
    if (!train_ds)
        throw std::invalid_argument(po.net_path + ": no TRAIN data layer and no --train-data: nothing to train on");
    s.train_size = train_ds->size();
    TransformParam ttp = transform_for(train_layer, Phase::Train, base, po, train_ds->channels());
    const int batch = data_batch(train_layer, po.batch, 32);
    Transformer tf(ttp);
    NetBuildOptions nbo = build_options(po, tf, *train_ds, batch);
    s.net = build_net(s.spec, Phase::Train, nbo);

    BatcherOptions bo;
    bo.batch_size = batch;
    bo.shuffle = true;
    bo.seed = po.seed;
    bo.prefetch = po.prefetch;
    // The background thread prepares batches with one thread while training uses every core
    // (two OpenMP teams on the same cores slow both down badly).
    bo.threads = po.prefetch ? 1 : 0;
    s.train = std::make_unique<BatcherSource>(std::move(train_ds), ttp, bo);
    if (s.train->data_shape() != s.net->blob("data")->shape())
        throw std::logic_error("training batches and the net's input differ in shape");

    if (test_data != "none") {
        auto test_ds = open_for_layer(test_data, test_layer, base, po, s.test_name);
        if (test_ds) {
            TransformParam etp =
                transform_for(test_layer ? test_layer : train_layer, Phase::Test, base, po, test_ds->channels());
            BatcherOptions eo = bo;
            eo.shuffle = false;
            eo.seed = po.seed + 1;
            const int test_bs = data_batch(test_layer, 0, batch);
            const int iters = test_iter > 0 ? test_iter : int((test_ds->size() + size_t(test_bs) - 1) / size_t(test_bs));
            s.test_batches = int((int64_t(iters) * test_bs + batch - 1) / batch);
            s.test = std::make_unique<BatcherSource>(std::move(test_ds), etp, eo);
            if (s.test->data_shape() != s.net->blob("data")->shape())
                throw std::invalid_argument("test images (" + s.test_name + ") come out in another shape than the training images");
        }
    }
    return s;
}

namespace {

// The data layer that describes the input of a net that encodes: the TEST phase's, else TRAIN's.
const LayerSpec* encode_data_layer(const NetSpec& spec) {
    const LayerSpec* layer = spec.data_layer(Phase::Test);
    return layer ? layer : spec.data_layer(Phase::Train);
}

// The layers a weights file has tensors of ("conv1.weight", "conv1.weight@momentum" -> conv1),
// in file order.
std::vector<std::string> weights_layers(const WeightsFile& w) {
    std::vector<std::string> v;
    for (const NamedTensor& t : w.tensors) {
        const std::string name = t.name.substr(0, t.name.find('@'));
        const std::string layer = name.substr(0, name.rfind('.'));
        if (std::find(v.begin(), v.end(), layer) == v.end()) v.push_back(layer);
    }
    return v;
}

std::string joined(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return s;
}

// Before the mean file is read and the net is built (either of which fails first, and puzzlingly,
// when the net is not the one the weights were trained for): every layer of the net that holds
// parameters has tensors in the weights.
void check_weights_cover_net(const NetSpec& spec, const std::string& net_path, const WeightsFile& w) {
    const std::vector<std::string> have = weights_layers(w);
    std::vector<std::string> lacking;
    for (const std::string& l : layers_with_params(spec, Phase::Test))
        if (std::find(have.begin(), have.end(), l) == have.end()) lacking.push_back(l);
    if (lacking.empty()) return;
    std::string msg = "--net '" + net_path + "' (net '" + spec.name + "') and --weights '" + w.source +
                      "' do not belong together: the weights have no tensors for layer" +
                      (lacking.size() == 1 ? " " : "s ") + joined(lacking) + " of the net; they hold layers " +
                      joined(have);
    if (!recorded_net(w).empty()) msg += " and were written for " + recorded_net(w);
    throw std::runtime_error(msg);
}

// The first steps of every encode setup: the net description and the weights, read and checked
// against each other.
WeightsFile open_net_and_weights(EncodeSetup& e, const PipelineOptions& po, const std::string& weights_path) {
    if (weights_path.empty()) throw std::invalid_argument("--weights is required: the trained net's weights file");
    e.spec = load_net_spec(po.net_path);
    check_latent_size(e.spec, Phase::Test, po.latent_bits);
    WeightsFile w = read_weights(weights_path);
    check_weights_cover_net(e.spec, po.net_path, w);
    const LayerSpec* layer = encode_data_layer(e.spec);
    e.mean_file = !po.mean_file.empty() ? po.mean_file : layer ? layer->transform.mean_file : "";  // provenance
    return w;
}

// The last steps: the net built for what e.transform makes of ds's items, the weights loaded.
void build_and_load(EncodeSetup& e, const PipelineOptions& po, const WeightsFile& w, const std::string& weights_path,
                    const Dataset& ds, bool quiet) {
    Transformer tf(e.transform);
    const int batch = po.batch > 0 ? po.batch : 100;
    e.net = build_net(e.spec, Phase::Test, build_options(po, tf, ds, batch));
    Rng init(po.seed);
    e.net->init_params(init);
    WeightsLoadReport rep = load_weights(*e.net, w);
    if (!rep.missing.empty())
        throw std::runtime_error("weights '" + weights_path + "' lack parameters of this net: " + joined(rep.missing) +
                                 " (encoding needs a trained net: check --net and --weights belong together)");
    if (!quiet) print_load_report(rep, weights_path);
    e.latent_blob = find_latent_blob(*e.net);
    e.feature_blob = find_feature_blob(*e.net);
    e.net->set_phase(Phase::Test);
}

}  // namespace

EncodeSetup make_encode_setup(const PipelineOptions& po, const std::string& weights_path, const Dataset& ds, bool quiet) {
    EncodeSetup e;
    const WeightsFile w = open_net_and_weights(e, po, weights_path);
    e.transform = transform_for(encode_data_layer(e.spec), Phase::Test, dir_of(po.net_path), po, ds.channels());
    build_and_load(e, po, w, weights_path, ds, quiet);
    return e;
}

EncodeSetup make_image_encode_setup(const PipelineOptions& po, const std::string& weights_path, Image& img,
                                    const std::string& name, bool strict) {
    EncodeSetup e;
    const WeightsFile w = open_net_and_weights(e, po, weights_path);
    e.transform = transform_for(encode_data_layer(e.spec), Phase::Test, dir_of(po.net_path), po, img.c);
    img = fit_image_to_net(img, name, trained_net_input(e.spec, po, w, e.transform, img), strict);
    colour_for_mean(e.transform, img.c);
    MemoryDataset one(img.c, img.h, img.w, "image", 1);
    one.add(img.pixels.data(), 0);
    build_and_load(e, po, w, weights_path, one, true);
    return e;
}

void check_net_fits_index(const EncodeSetup& es, const IndexFile& db, bool features) {
    const size_t batch = size_t(es.net->blob("data")->shape().n);
    const int bits = int(es.net->blob(es.latent_blob)->count() / batch);
    if (bits != db.bits())
        throw std::invalid_argument("the net makes " + std::to_string(bits) + "-bit codes (" + es.latent_blob +
                                    ") but index '" + db.path() + "' holds " + std::to_string(db.bits()) +
                                    "-bit codes (check --net, --weights and --bits)");
    const int dim = int(es.net->blob(es.feature_blob)->count() / batch);
    if (features && dim != db.feature_dim())
        throw std::invalid_argument("the net's features (" + es.feature_blob + ") have " + std::to_string(dim) +
                                    " dimensions but index '" + db.path() + "' stores " +
                                    std::to_string(db.feature_dim()));
}

namespace {

// Copies labels into the net's label input (if any), replacing the -1 of padding rows by 0, which
// every loss layer accepts; padding rows are not kept.
void set_labels(Net& net, const Tensor& label) {
    if (!net.has_blob("label")) return;
    Tensor& dst = net.blob("label")->data;
    for (size_t i = 0; i < dst.count(); ++i) dst.data()[i] = label.data()[i] < 0 ? 0.0f : label.data()[i];
}

}  // namespace

EncodedSet encode_dataset(EncodeSetup& es, const Dataset& ds, bool keep_features, bool progress) {
    Encoder enc(*es.net, es.latent_blob, es.feature_blob, keep_features);
    EncodedSet out;
    out.labels.reserve(ds.size());
    out.names.reserve(ds.size());
    const int batch = es.net->blob("data")->shape().n;
    const auto t0 = std::chrono::steady_clock::now();
    size_t done = 0, last_print = 0;
    const bool on_terminal = progress && ::isatty(::fileno(stderr));
    for_each_batch(ds, es.transform, batch, [&](const Tensor& data, const Tensor& label, size_t first, int valid) {
        Tensor& dst = es.net->blob("data")->data;
        if (dst.count() != data.count()) throw std::logic_error("encode: batch shape differs from the net's input");
        std::copy(data.data(), data.data() + data.count(), dst.data());
        set_labels(*es.net, label);
        enc.encode_batch(size_t(valid));
        for (int i = 0; i < valid; ++i) {
            out.labels.push_back(ds.label(first + size_t(i)));
            out.names.push_back(ds.name(first + size_t(i)));
        }
        done += size_t(valid);
        if (progress && (done - last_print >= 5000 || done == ds.size())) {
            double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            // On a terminal each update overwrites the last; in a log file each is a line of its own.
            std::fprintf(stderr, "%sencoded %zu/%zu images  %.0f img/s", on_terminal ? "\r" : "", done, ds.size(),
                         s > 0 ? done / s : 0.0);
            if (done == ds.size() || !on_terminal) std::fprintf(stderr, "\n");
            last_print = done;
        }
    });
    out.codes = std::move(enc.codes());
    out.features = std::move(enc.features());
    out.feature_dim = enc.feature_dim();
    out.activations = enc.activations();
    return out;
}

EncodedSet encode_image(EncodeSetup& es, const Image& img, const std::string& name) {
    Transformer tf(es.transform);
    Blob* data = es.net->blob("data");
    const Shape s = data->shape();
    int oc, oh, ow;
    tf.output_dims(img.c, img.h, img.w, oc, oh, ow);
    if (oc != s.c || oh != s.h || ow != s.w)
        throw std::invalid_argument("image '" + name + "' becomes (" + std::to_string(oc) + ", " + std::to_string(oh) + ", " +
                                    std::to_string(ow) + ") after preprocessing but the net expects (" + std::to_string(s.c) +
                                    ", " + std::to_string(s.h) + ", " + std::to_string(s.w) + ")");
    Rng unused(1);
    Image scratch;
    std::fill(data->data.data(), data->data.data() + data->count(), 0.0f);
    tf.apply(img, unused, data->data.data(), scratch);
    if (es.net->has_blob("label")) std::fill(es.net->blob("label")->data.data(), es.net->blob("label")->data.data() + es.net->blob("label")->count(), 0.0f);
    Encoder enc(*es.net, es.latent_blob, es.feature_blob, true);
    enc.encode_batch(1);
    EncodedSet out;
    out.codes = std::move(enc.codes());
    out.features = std::move(enc.features());
    out.feature_dim = enc.feature_dim();
    out.activations = enc.activations();
    out.labels.push_back(-1);
    out.names.push_back(name);
    return out;
}

void data_source_dims(const NetSpec& spec, Phase phase, const PipelineOptions& po, int dims[3], std::string* source) {
    const LayerSpec* layer = spec.data_layer(phase);
    if (!layer) throw std::invalid_argument(std::string("the net has no data layer in phase ") + phase_name(phase));
    const std::string base = dir_of(po.net_path);
    auto ds = open_for_layer("", layer, base, po, *source);
    if (ds->channels() <= 0 || ds->height() <= 0 || ds->width() <= 0)
        throw std::invalid_argument("the images of '" + *source + "' differ in size");
    const Transformer tf(transform_for(layer, phase, base, po, ds->channels()));
    tf.output_dims(ds->channels(), ds->height(), ds->width(), dims[0], dims[1], dims[2]);
}

namespace {

// The name of the image input of `phase` (the first input the builder creates), "" when none.
std::string image_input_name(const NetSpec& spec, Phase phase) {
    if (!spec.inputs.empty()) return spec.inputs[0].name;
    for (const LayerSpec* l : spec.layers_in(phase))
        if ((l->type == "Input" || l->type == "Data" || l->type == "ImageData") && !l->top.empty()) return l->top[0];
    return "";
}

// The channels the weights give the image input: the first Convolution reading it holds
// (OC, C / group, KH, KW). 0 when there is no such layer or the weights lack it.
int weights_channels(const NetSpec& spec, const WeightsFile& w, std::string* layer) {
    const std::string input = image_input_name(spec, Phase::Test);
    for (const LayerSpec* l : spec.layers_in(Phase::Test)) {
        if (l->type != "Convolution" || l->bottom.empty() || l->bottom[0] != input) continue;
        const NamedTensor* t = w.find(l->name + ".weight");
        if (!t || t->dims.size() != 4) return 0;
        *layer = l->name;
        return int(t->dims[1]) * l->settings<ConvParam>().group;
    }
    return 0;
}

// True when every Convolution and Pooling window of the net fed `shapes` ends exactly at the end
// of its (padded) input: no row or column left over (convolution rounds down) and no window
// running past the edge (pooling rounds up). Of the sizes the weights allow, the one a net was
// designed for (28 for the demo net, where 27 gives the same shapes too).
bool windows_fit(const NetSpec& spec, const std::map<std::string, Shape>& shapes) {
    for (const LayerSpec* l : spec.layers_in(Phase::Test)) {
        const bool conv = l->type == "Convolution";
        const bool pool = l->type == "Pooling" && !l->settings<PoolingParam>().global_pooling;
        if ((!conv && !pool) || l->bottom.empty() || l->top.empty()) continue;
        const auto in = shapes.find(l->bottom[0]), out = shapes.find(l->top[0]);
        if (in == shapes.end() || out == shapes.end()) continue;
        int kh, kw, sh, sw, ph, pw;
        auto window = [&](const auto& p) {
            kh = p.kernel_h, kw = p.kernel_w, sh = p.stride_h, sw = p.stride_w, ph = p.pad_h, pw = p.pad_w;
        };
        if (conv) window(l->settings<ConvParam>());
        else window(l->settings<PoolingParam>());
        if ((out->second.h - 1) * sh + kh != in->second.h + 2 * ph ||
            (out->second.w - 1) * sw + kw != in->second.w + 2 * pw)
            return false;
    }
    return true;
}

// The square image sizes s for which the net fed (c, s, s) gives its first InnerProduct the input
// its weights were trained on (weight (O, K): K = C' x H' x W' of its input), ascending; `exact`
// receives those where windows_fit. Empty when the net has no InnerProduct or the weights lack it.
// The input size grows with s (every layer's output size is non-decreasing in its input's), so a
// binary search finds the first s that reaches K and the candidates follow it.
std::vector<int> weights_sizes(const NetSpec& spec, const WeightsFile& w, int c, std::string* layer,
                               std::vector<int>* exact) {
    const LayerSpec* ip = nullptr;
    for (const LayerSpec* l : spec.layers_in(Phase::Test))
        if (l->type == "InnerProduct" && !l->bottom.empty()) {
            ip = l;
            break;
        }
    const NamedTensor* t = ip ? w.find(ip->name + ".weight") : nullptr;
    if (!t || t->dims.empty() || t->dims[0] <= 0) return {};
    const uint64_t k = t->count() / uint64_t(t->dims[0]);
    *layer = ip->name;
    // The flattened input of the InnerProduct at size s; 0 when the net cannot take s.
    auto input_floats = [&](int s, std::map<std::string, Shape>* shapes) -> uint64_t {
        NetBuildOptions bo;
        bo.batch = 1, bo.channels = c, bo.height = bo.width = s;
        try {
            *shapes = blob_shapes(spec, Phase::Test, bo);
        } catch (const std::exception&) {
            return ~uint64_t(0);  // a tensor above the size limits: s is far too large
        }
        const auto it = shapes->find(ip->bottom[0]);
        return it == shapes->end() ? 0 : uint64_t(it->second.c) * uint64_t(it->second.h) * uint64_t(it->second.w);
    };
    std::map<std::string, Shape> shapes;
    int lo = 1, hi = 1 << 14;  // the first s with input_floats(s) >= k lies in [lo, hi]
    while (lo < hi) {
        const int mid = lo + (hi - lo) / 2;
        if (input_floats(mid, &shapes) >= k) hi = mid;
        else lo = mid + 1;
    }
    std::vector<int> sizes;
    for (int s = lo; s <= (1 << 14) && input_floats(s, &shapes) == k; ++s) {
        sizes.push_back(s);
        if (windows_fit(spec, shapes)) exact->push_back(s);
    }
    return sizes;
}

// data_source_dims, false when it cannot tell.
bool source_dims(const NetSpec& spec, Phase phase, const PipelineOptions& po, int dims[3], std::string* name) {
    try {
        data_source_dims(spec, phase, po, dims, name);
        return true;
    } catch (const std::exception&) {
        return false;
    }
}

std::string chw(int c, int h, int w) { return std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w); }

}  // namespace

NetInput trained_net_input(const NetSpec& spec, const PipelineOptions& po, const WeightsFile& w,
                           const TransformParam& tp, const Image& img) {
    NetInput in;
    const int image_channels = img.c;
    const std::vector<int64_t> stated = image_input_dims(spec, Phase::Test);
    const bool shape_stated = encode_data_layer(spec) == nullptr && stated.size() == 4;  // a net-level input or Input layer
    std::string conv, ip, source;  // what told: the layers whose weights, the data layer's source
    in.c = weights_channels(spec, w, &conv);
    if (in.c <= 0 && shape_stated) in.c = int(stated[1]);
    // Only when the data layer's transform does not bring every image to the net's size (crop, resize).
    if (tp.crop <= 0 && tp.resize <= 0) {
        if (shape_stated && stated[2] > 0 && stated[3] > 0) {
            in.h = int(stated[2]), in.w = int(stated[3]);
        } else {
            // The prototxt leaves the size to the data (a Data layer without crop_size): the
            // weights of the first InnerProduct tell it, being made for one input shape, once the
            // channels are known (from the first convolution, else the image's own count or the
            // other of grey and colour).
            std::vector<int> sizes, exact;
            for (int c : {in.c, image_channels, image_channels == 1 ? 3 : 1}) {
                if (c <= 0 || !sizes.empty() || (in.c > 0 && c != in.c)) continue;
                sizes = weights_sizes(spec, w, c, &ip, &exact);
                if (!sizes.empty()) in.c = c;
            }
            // Several sizes give the same shapes: an image of one of them is taken as it is; else
            // it becomes the size of the training data when the source can be opened, else the
            // size every window fits exactly (the one a net was designed for), else the largest.
            auto allowed = [&](int s) { return std::find(sizes.begin(), sizes.end(), s) != sizes.end(); };
            int dims[3];
            std::string name;
            if (img.h == img.w && allowed(img.h)) in.h = in.w = img.h;
            else if (sizes.size() > 1 && source_dims(spec, Phase::Test, po, dims, &name) && dims[0] == in.c &&
                     dims[1] == dims[2] && allowed(dims[1]))
                in.h = in.w = dims[1], source = name;
            else if (!sizes.empty())
                in.h = in.w = !exact.empty() ? exact.back() : sizes.back();
        }
    }
    std::vector<std::string> from;
    if (!conv.empty() || !ip.empty())
        from.push_back("the weights of " + conv + (conv.empty() || ip.empty() ? "" : " and ") + ip);
    if (shape_stated) from.push_back("the net's input shape");
    if (!source.empty()) from.push_back("the data layer's source " + source);
    for (const std::string& f : from) in.from += (in.from.empty() ? "" : " and ") + f;
    return in;
}

Image fit_image_to_net(const Image& img, const std::string& name, const NetInput& in, bool strict) {
    const bool channels = in.c > 0 && in.c != img.c, size = in.h > 0 && (in.h != img.h || in.w != img.w);
    if (!channels && !size) return img;
    const std::string takes = in.h > 0 ? chw(in.c > 0 ? in.c : img.c, in.h, in.w) : std::to_string(in.c) + "-channel";
    const std::string why = "this net takes " + takes + " images; " + name + " is " + chw(img.c, img.h, img.w) +
                            " (learned from " + in.from + ")";
    if (strict) throw std::invalid_argument(why + "; without --no-resize it would be converted");
    if (channels && !((in.c == 1 && img.c == 3) || (in.c == 3 && img.c == 1)))
        throw std::invalid_argument(why + "; only grey and colour images convert into each other");
    Image out = img;
    std::string done;
    if (channels && in.c == 1) out = to_grey(out), done = "grey";
    if (channels && in.c == 3) {
        out = Image(3, img.h, img.w);
        for (int c = 0; c < 3; ++c) std::copy(img.pixels.begin(), img.pixels.end(), out.pixels.begin() + c * img.pixels.size());
        done = "colour";
    }
    if (size) {
        Image resized;
        resize_bilinear(out, in.h, in.w, resized);  // as the data layer's transform resizes (data/resize.h)
        out = std::move(resized);
        done += done.empty() ? "resized" : ", resized";
    }
    std::fprintf(stderr, "%s: %s converted to %s (%s) as the net expects\n", name.c_str(), chw(img.c, img.h, img.w).c_str(),
                 chw(out.c, out.h, out.w).c_str(), done.c_str());
    return out;
}

int trained_input_channels(const std::string& net_path, const std::string& weights_path) {
    std::string layer;
    return weights_channels(load_net_spec(net_path), read_weights(weights_path), &layer);
}

Image to_grey(const Image& img) {
    if (img.c != 3) return img;
    Image g(1, img.h, img.w);
    const size_t n = g.pixels.size();
    for (size_t p = 0; p < n; ++p) g.pixels[p] = uint8_t((img.pixels[p] + img.pixels[p + n] + img.pixels[p + 2 * n]) / 3);
    return g;
}

Binariness binariness(const std::vector<float>& acts, int bits) {
    Binariness b;
    b.ones.assign(size_t(bits), 0.0);
    if (bits <= 0 || acts.empty()) return b;
    const size_t n = acts.size() / size_t(bits);
    size_t near = 0;
    for (size_t i = 0; i < n; ++i)
        for (int j = 0; j < bits; ++j) {
            float v = acts[i * size_t(bits) + size_t(j)];
            near += (v < 0.1f || v > 0.9f);
            b.ones[size_t(j)] += v > 0.5f;
        }
    b.near_binary = double(near) / double(n * size_t(bits));
    for (auto& o : b.ones) {
        o /= double(n);
        b.mean_balance_gap += std::fabs(o - 0.5);
    }
    b.mean_balance_gap /= bits;
    return b;
}

}  // namespace dlbhc
