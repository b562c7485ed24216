// apps/encode.cpp -- see encode.h.
#include "apps/encode.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <unistd.h>

#include "apps/net_input.h"
#include "apps/net_setup.h"
#include "apps/progress.h"
#include "data/batcher.h"
#include "formats/caffe_params.h"
#include "formats/net_builder.h"
#include "formats/weights_file.h"
#include "nn/rng.h"
#include "io/path.h"
#include "search/index_file.h"

namespace dlbhc {

namespace {

// Index of the last layer of the given type, or -1.
int last_layer_of_type(Net& net, const char* type) {
    int found = -1;
    for (size_t i = 0; i < net.layers().size(); ++i)
        if (std::string(net.layers()[i]->type()) == type) found = int(i);
    return found;
}

}  // namespace

std::string find_latent_blob(Net& net) {
    int s = last_layer_of_type(net, "Sigmoid");
    if (s < 0) throw std::invalid_argument("net '" + net.name() + "' has no Sigmoid layer: no latent (hash) layer to encode with");
    return net.tops(size_t(s)).at(0)->name;
}

std::string find_feature_blob(Net& net) {
    int s = last_layer_of_type(net, "Sigmoid");
    if (s < 0) throw std::invalid_argument("net '" + net.name() + "' has no Sigmoid layer: no latent (hash) layer to encode with");
    const std::string latent_in = net.bottoms(size_t(s)).at(0)->name;
    // The InnerProduct layer that produced the sigmoid's input: its bottom is the feature.
    for (size_t i = 0; i < net.layers().size(); ++i)
        if (std::string(net.layers()[i]->type()) == "InnerProduct" && net.tops(i).at(0)->name == latent_in)
            return net.bottoms(i).at(0)->name;
    throw std::invalid_argument("net '" + net.name() + "': the Sigmoid layer does not read an InnerProduct layer's output");
}

std::string find_classifier_feature_blob(Net& net) {
    const int ip = last_layer_of_type(net, "InnerProduct");
    if (ip < 0) throw std::invalid_argument("net '" + net.name() + "' has no InnerProduct layer: no feature to search by");
    return net.bottoms(size_t(ip)).at(0)->name;
}

namespace {

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
                      (lacking.size() == 1 ? " " : "s ") + caffe::join(lacking) + " of the net; they hold layers " +
                      caffe::join(have);
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

// Values per item (per image) of blob `name` of the built net: the code length of the latent
// blob, the dimension of the feature blob.
int values_per_item(Net& net, const std::string& name) {
    const Blob* b = net.blob(name);
    return int(b->count() / size_t(b->shape().n));
}

// The last steps: the net built for what e.transform makes of ds's items, the weights loaded.
// `features_only`: a net without a latent layer is taken too (latent_blob "", bits 0).
void build_and_load(EncodeSetup& e, const PipelineOptions& po, const WeightsFile& w, const std::string& weights_path,
                    const Dataset& ds, bool quiet, bool features_only = false) {
    Transformer tf(e.transform);
    const int batch = po.batch > 0 ? po.batch : 100;
    e.net = build_net(e.spec, Phase::Test, build_options(po, tf, ds, batch));
    Rng init(po.seed);
    e.net->init_params(init);
    WeightsLoadReport rep = load_weights(*e.net, w);
    if (!rep.missing.empty())
        throw std::runtime_error("weights '" + weights_path + "' lack parameters of this net: " + caffe::join(rep.missing) +
                                 " (encoding needs a trained net: check --net and --weights belong together)");
    if (!quiet) print_load_report(rep, weights_path);
    const bool latent = !features_only || last_layer_of_type(*e.net, "Sigmoid") >= 0;
    e.latent_blob = latent ? find_latent_blob(*e.net) : "";
    e.feature_blob = latent ? find_feature_blob(*e.net) : find_classifier_feature_blob(*e.net);
    e.net->set_phase(Phase::Test);
    e.bits = latent ? values_per_item(*e.net, e.latent_blob) : 0;
    e.feature_dim = values_per_item(*e.net, e.feature_blob);
}

}  // namespace

EncodeSetup make_encode_setup(const PipelineOptions& po, const std::string& weights_path, const Dataset& ds, bool quiet) {
    EncodeSetup e;
    const WeightsFile w = open_net_and_weights(e, po, weights_path);
    e.transform = transform_for(encode_data_layer(e.spec), Phase::Test, parent_folder(po.net_path), po, ds.channels());
    build_and_load(e, po, w, weights_path, ds, quiet);
    return e;
}

EncodeSetup make_feature_setup(const PipelineOptions& po, const std::string& weights_path, const Dataset& ds, bool quiet) {
    EncodeSetup e;
    const WeightsFile w = open_net_and_weights(e, po, weights_path);
    e.transform = transform_for(encode_data_layer(e.spec), Phase::Test, parent_folder(po.net_path), po, ds.channels());
    build_and_load(e, po, w, weights_path, ds, quiet, true);
    return e;
}

EncodeSetup make_image_encode_setup(const PipelineOptions& po, const std::string& weights_path, Image& img,
                                    const std::string& name, bool strict) {
    EncodeSetup e;
    const WeightsFile w = open_net_and_weights(e, po, weights_path);
    e.transform = transform_for(encode_data_layer(e.spec), Phase::Test, parent_folder(po.net_path), po, img.c);
    img = fit_image_to_net(img, name, trained_net_input(e.spec, po, w, e.transform, img), strict);
    colour_for_mean(e.transform, img.c);
    MemoryDataset one(img.c, img.h, img.w, "image", 1);
    one.add(img.pixels.data(), 0);
    build_and_load(e, po, w, weights_path, one, true);
    return e;
}

void check_net_fits_index(const EncodeSetup& es, const IndexFile& db, bool features) {
    if (es.bits != db.bits())
        throw std::invalid_argument("the net makes " + std::to_string(es.bits) + "-bit codes (" + es.latent_blob +
                                    ") but index '" + db.path() + "' holds " + std::to_string(db.bits()) +
                                    "-bit codes (check --net, --weights and --bits)");
    if (features && es.feature_dim != db.feature_dim())
        throw std::invalid_argument("the net's features (" + es.feature_blob + ") have " + std::to_string(es.feature_dim) +
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

// An empty set with the net's code length, and its feature dimension when `keep_features`.
EncodedSet empty_set(const EncodeSetup& es, bool keep_features) {
    EncodedSet out;
    if (es.bits > 0) out.codes = CodeSet(es.bits);  // 0: a net without latent layer, features only
    out.feature_dim = keep_features ? es.feature_dim : 0;
    return out;
}

// What a batch holds: items first, first + 1, ... of a dataset, or one image (label -1, its name).
struct BatchItems {
    const Dataset* ds = nullptr;
    size_t first = 0;
    std::string image_name;
    int32_t label(size_t i) const { return ds ? ds->label(first + i) : -1; }
    std::string name(size_t i) const { return ds ? ds->name(first + i) : image_name; }
};

// The step every encoding takes: runs the net on whatever its "data" input holds and appends to
// `out` the codes, latent outputs, (when `keep_features`) features, labels and names of the first
// `valid` items of the batch (a last, partial batch has fewer valid items).
void encode_batch(EncodeSetup& es, const BatchItems& items, size_t valid, bool keep_features, EncodedSet& out) {
    const size_t n = size_t(es.net->blob("data")->shape().n);
    if (valid > n) throw std::invalid_argument("encoder: " + std::to_string(valid) + " valid items in a batch of " + std::to_string(n));
    es.net->forward();
    if (!es.latent_blob.empty()) {  // empty: a net without a latent layer (make_feature_setup)
        const float* a = es.net->blob(es.latent_blob)->data.data();
        out.codes.add_activations(a, valid, 0.5f);
        out.activations.insert(out.activations.end(), a, a + valid * size_t(es.bits));
    }
    if (keep_features) {
        const float* f = es.net->blob(es.feature_blob)->data.data();
        out.features.insert(out.features.end(), f, f + valid * size_t(es.feature_dim));
    }
    for (size_t i = 0; i < valid; ++i) {
        out.labels.push_back(items.label(i));
        out.names.push_back(items.name(i));
    }
}

// Puts `img`, preprocessed by the setup's transform, into the net's input as item 0 (the other
// items and the labels zero). Throws naming the image when it does not come out in the net's shape.
void feed_image(EncodeSetup& es, const Image& img, const std::string& name) {
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
    if (es.net->has_blob("label")) {
        Blob* label = es.net->blob("label");
        std::fill(label->data.data(), label->data.data() + label->count(), 0.0f);
    }
}

}  // namespace

namespace {

// encode_batches, except that an empty dataset is an error (data/batcher.h).
void run_batches(EncodeSetup& es, const Dataset& ds, bool keep_features, bool progress,
                 const std::function<void(const EncodedSet&, size_t)>& sink) {
    EncodedSet out = empty_set(es, keep_features);
    Progress shown("encoded", "images", "img", ds.size(), progress);
    const int batch = es.net->blob("data")->shape().n;
    for_each_batch(ds, es.transform, batch, [&](const Tensor& data, const Tensor& label, size_t first, int valid) {
        Tensor& dst = es.net->blob("data")->data;
        if (dst.count() != data.count()) throw std::logic_error("encode: batch shape differs from the net's input");
        std::copy(data.data(), data.data() + data.count(), dst.data());
        set_labels(*es.net, label);
        BatchItems items;
        items.ds = &ds, items.first = first;
        out = empty_set(es, keep_features);  // this batch's items only
        encode_batch(es, items, size_t(valid), keep_features, out);
        sink(out, first);
        shown.add(size_t(valid));
    });
}

}  // namespace

void encode_batches(EncodeSetup& es, const Dataset& ds, bool keep_features, bool progress,
                    const std::function<void(const EncodedSet&, size_t)>& sink) {
    if (ds.size() > 0) run_batches(es, ds, keep_features, progress, sink);
}

void append_items(EncodedSet& all, const EncodedSet& b) {
    for (size_t i = 0; i < b.codes.size(); ++i) all.codes.add(b.codes.code(i));
    all.activations.insert(all.activations.end(), b.activations.begin(), b.activations.end());
    all.features.insert(all.features.end(), b.features.begin(), b.features.end());
    all.labels.insert(all.labels.end(), b.labels.begin(), b.labels.end());
    all.names.insert(all.names.end(), b.names.begin(), b.names.end());
}

EncodedSet encode_dataset(EncodeSetup& es, const Dataset& ds, bool keep_features, bool progress) {
    EncodedSet all = empty_set(es, keep_features);
    all.labels.reserve(ds.size());
    all.names.reserve(ds.size());
    run_batches(es, ds, keep_features, progress, [&](const EncodedSet& b, size_t) { append_items(all, b); });
    return all;
}

EncodedSet encode_maybe_empty(EncodeSetup& es, const Dataset& ds, bool keep_features, bool progress) {
    if (ds.size() > 0) return encode_dataset(es, ds, keep_features, progress);
    return empty_set(es, keep_features);
}

EncodedSet encode_image(EncodeSetup& es, const Image& img, const std::string& name) {
    feed_image(es, img, name);
    EncodedSet out = empty_set(es, true);
    BatchItems items;
    items.image_name = name;
    encode_batch(es, items, 1, true, out);
    return out;
}

BinarinessSum::BinarinessSum(int bits) : bits_(bits), ones_(size_t(std::max(bits, 0)), 0) {}

void BinarinessSum::add(const float* acts, size_t n) {
    for (size_t i = 0; i < n; ++i)
        for (int j = 0; j < bits_; ++j) {
            float v = acts[i * size_t(bits_) + size_t(j)];
            near_ += (v < 0.1f || v > 0.9f);
            ones_[size_t(j)] += v > 0.5f;
        }
    n_ += n;
}

Binariness BinarinessSum::result() const {
    Binariness b;
    b.ones.assign(size_t(std::max(bits_, 0)), 0.0);
    if (bits_ <= 0 || n_ == 0) return b;
    b.near_binary = double(near_) / double(n_ * size_t(bits_));
    for (size_t j = 0; j < b.ones.size(); ++j) {
        b.ones[j] = double(ones_[j]) / double(n_);
        b.mean_balance_gap += std::fabs(b.ones[j] - 0.5);
    }
    b.mean_balance_gap /= bits_;
    return b;
}

Binariness binariness(const std::vector<float>& acts, int bits) {
    BinarinessSum sum(bits);
    if (bits > 0) sum.add(acts.data(), acts.size() / size_t(bits));
    return sum.result();
}

}  // namespace dlbhc
