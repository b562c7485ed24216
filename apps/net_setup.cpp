// apps/net_setup.cpp -- see net_setup.h.
#include "apps/net_setup.h"

#include <cstdio>
#include <stdexcept>

#include "hash/code.h"
#include "io/path.h"
#include "nn/inner_product.h"

namespace dlbhc {

namespace {

// A data layer source as written in the prototxt: as given, or relative to the prototxt's folder.
std::string resolve_source(const std::string& source, const std::string& base_dir) {
    if (source.empty() || source[0] == '/' || path_exists(source)) return source;
    const std::string alt = base_dir + "/" + source;
    if (path_exists(alt)) return alt;
    // An idx/CIFAR split "DIR/train" does not exist as a path itself; try its folder.
    if (!path_exists(parent_folder(source)) && path_exists(parent_folder(alt))) return alt;
    return source;
}

}  // namespace

const LayerSpec* encode_data_layer(const NetSpec& spec) {
    const LayerSpec* layer = spec.data_layer(Phase::Test);
    return layer ? layer : spec.data_layer(Phase::Train);
}

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

void add_net_data_inputs(std::vector<NamedPath>& inputs, const PipelineOptions& po, bool training,
                         const std::string& train_data, const std::string& test_data) {
    NetSpec spec;
    try {
        spec = load_net_spec(po.net_path);
    } catch (const std::exception&) {
        return;  // reported when the net is built
    }
    const std::string base = parent_folder(po.net_path);
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

void data_source_dims(const NetSpec& spec, Phase phase, const PipelineOptions& po, int dims[3], std::string* source) {
    const LayerSpec* layer = spec.data_layer(phase);
    if (!layer) throw std::invalid_argument(std::string("the net has no data layer in phase ") + phase_name(phase));
    const std::string base = parent_folder(po.net_path);
    auto ds = open_for_layer("", layer, base, po, *source);
    if (ds->channels() <= 0 || ds->height() <= 0 || ds->width() <= 0)
        throw std::invalid_argument("the images of '" + *source + "' differ in size");
    const Transformer tf(transform_for(layer, phase, base, po, ds->channels()));
    tf.output_dims(ds->channels(), ds->height(), ds->width(), dims[0], dims[1], dims[2]);
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

}  // namespace dlbhc
