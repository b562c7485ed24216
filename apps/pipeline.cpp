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
#include "formats/caffe_params.h"
#include "formats/net_builder.h"
#include "hash/encoder.h"
#include "nn/conv.h"
#include "nn/inner_product.h"
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
    if (!rep.unused.empty()) {
        size_t shown = 0;
        std::printf("  tensors of the file this net does not use (%zu):", rep.unused.size());
        for (const auto& u : rep.unused) {
            if (u.find('@') != std::string::npos) continue;  // a snapshot's solver state
            if (shown++ < 20) std::printf(" %s", u.c_str());
        }
        if (shown > 20) std::printf(" ...");
        std::printf("\n");
    }
}

std::string dir_of(const std::string& path) {
    size_t slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

void ensure_parent_dir(const std::string& path) {
    std::string dir = dir_of(path);
    if (dir == "." || dir == "/") return;
    for (size_t i = 1; i <= dir.size(); ++i) {
        if (i < dir.size() && dir[i] != '/') continue;
        std::string part = dir.substr(0, i);
        if (::mkdir(part.c_str(), 0777) != 0 && errno != EEXIST)
            throw std::runtime_error("cannot create folder '" + part + "': " + std::strerror(errno));
    }
}

PageFolder page_folder(const std::string& html) {
    ensure_parent_dir(html);
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
    struct stat st;
    if (::stat(path.c_str(), &st) != 0)
        throw std::invalid_argument(what + " '" + path + "': cannot open it (" + std::strerror(errno) + ")");
    if (S_ISDIR(st.st_mode)) throw std::invalid_argument(what + " '" + path + "': expected a file, found a folder");
    if (::access(path.c_str(), R_OK) != 0)
        throw std::invalid_argument(what + " '" + path + "': cannot read it (" + std::strerror(errno) + ")");
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

std::unique_ptr<Dataset> open_for_layer(const std::string& override_spec, const LayerSpec* layer,
                                        const std::string& base_dir, const PipelineOptions& po, std::string& name) {
    std::string spec = override_spec;
    SourceOptions so = source_options(po);
    if (spec.empty()) {
        if (!layer) return nullptr;
        spec = resolve_source(layer->data.source, base_dir);
        if (!layer->data.root_folder.empty() && so.root.empty()) so.root = resolve_source(layer->data.root_folder, base_dir);
    }
    name = spec;
    LoadReport rep;
    auto ds = open_dataset(spec, so, &rep);
    if (rep.skipped > 0) {
        for (size_t i = 0; i < rep.messages.size() && i < 10; ++i) std::fprintf(stderr, "skipped: %s\n", rep.messages[i].c_str());
        std::fprintf(stderr, "%s: %zu unreadable images skipped (--strict makes this an error)\n", spec.c_str(), rep.skipped);
    }
    return ds;
}

TransformParam transform_for(const LayerSpec* layer, Phase phase, const std::string& base_dir, const PipelineOptions& po,
                             const Dataset& ds) {
    TransformSpec t;
    if (layer) t = layer->transform;
    if (!po.mean_file.empty()) t.mean_file = po.mean_file, t.mean_value.clear();
    TransformParam tp = transform_from_spec(t, phase, po.mean_file.empty() ? base_dir : "");
    if (layer && layer->type == "ImageData" && layer->data.new_height > 0) {
        if (layer->data.new_height != layer->data.new_width)
            throw std::invalid_argument(layer->loc.str() + ": new_height and new_width must be equal (square resize only)");
        tp.resize = layer->data.new_height;
    }
    // A colour mean image needs colour input: grey images (MNIST) are copied to three channels,
    // as the authors did for grey images.
    if (tp.mean_c == 3 && ds.channels() == 1) tp.force_color = true;
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
    TransformParam ttp = transform_for(train_layer, Phase::Train, base, po, *train_ds);
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
            TransformParam etp = transform_for(test_layer ? test_layer : train_layer, Phase::Test, base, po, *test_ds);
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

EncodeSetup make_encode_setup(const PipelineOptions& po, const std::string& weights_path, const Dataset& ds, bool quiet) {
    EncodeSetup e;
    e.spec = load_net_spec(po.net_path);
    check_latent_size(e.spec, Phase::Test, po.latent_bits);
    const std::string base = dir_of(po.net_path);
    const LayerSpec* layer = e.spec.data_layer(Phase::Test);
    if (!layer) layer = e.spec.data_layer(Phase::Train);
    e.transform = transform_for(layer, Phase::Test, base, po, ds);
    Transformer tf(e.transform);
    const int batch = po.batch > 0 ? po.batch : 100;
    e.net = build_net(e.spec, Phase::Test, build_options(po, tf, ds, batch));
    Rng init(po.seed);
    e.net->init_params(init);
    if (weights_path.empty()) throw std::invalid_argument("--weights is required: the trained net's weights file");
    WeightsLoadReport rep = load_weights(*e.net, read_weights(weights_path));
    if (!rep.missing.empty()) {
        std::string m;
        for (const auto& x : rep.missing) m += " " + x;
        throw std::runtime_error("weights '" + weights_path + "' lack parameters of this net:" + m +
                                 " (encoding needs a trained net: check --net and --weights belong together)");
    }
    if (!quiet) print_load_report(rep, weights_path);
    e.latent_blob = find_latent_blob(*e.net);
    e.feature_blob = find_feature_blob(*e.net);
    e.net->set_phase(Phase::Test);
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
            std::fprintf(stderr, "\rencoded %zu/%zu images  %.0f img/s", done, ds.size(), s > 0 ? done / s : 0.0);
            if (done == ds.size()) std::fprintf(stderr, "\n");
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

int trained_input_channels(const std::string& net_path, const std::string& weights_path) {
    const NetSpec spec = load_net_spec(net_path);
    for (const LayerSpec* l : spec.layers_in(Phase::Test)) {
        if (l->type != "Convolution" || l->bottom.empty() || l->bottom[0] != "data") continue;
        const WeightsFile w = read_weights(weights_path);
        const NamedTensor* t = w.find(l->name + ".weight");
        if (!t || t->dims.size() != 4) return 0;
        return int(t->dims[1]) * l->settings<ConvParam>().group;
    }
    return 0;
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
