// formats/net_builder.cpp -- NetSpec -> Net for one phase, with run-time overrides. See net_builder.h.
#include "formats/net_builder.h"

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <stdexcept>
#include <unordered_map>

#include "formats/layer_registry.h"
#include "io/path.h"
#include "nn/conv.h"
#include "nn/inner_product.h"

namespace dlbhc {

namespace {

bool contains(const std::vector<std::string>& v, const std::string& s) {
    for (const auto& x : v)
        if (x == s) return true;
    return false;
}

[[noreturn]] void fail_layer(const LayerSpec& l, const std::string& msg) {
    throw std::invalid_argument(l.loc.str() + ": layer '" + l.name + "': " + msg);
}

// The InnerProducts whose outputs layers of `reader_types` read as bottom[0]. One pass in file
// order: `producer` maps each blob to the InnerProduct that last wrote it (-1: another kind of
// layer or a net input); an in-place layer (top == one of its bottoms: ReLU, Dropout) keeps the
// real producer. O(layers), where a search back from every reader would be O(layers^2).
std::vector<size_t> inner_products_read_by(const std::vector<LayerSpec>& layers, const std::set<std::string>& reader_types) {
    std::set<size_t> found;
    std::unordered_map<std::string, int> producer;
    for (size_t i = 0; i < layers.size(); ++i) {
        const LayerSpec& l = layers[i];
        if (reader_types.count(l.type) && !l.bottom.empty()) {
            auto it = producer.find(l.bottom[0]);
            if (it != producer.end() && it->second >= 0) found.insert((size_t)it->second);
        }
        for (const std::string& t : l.top)
            if (!contains(l.bottom, t)) producer[t] = l.type == "InnerProduct" ? (int)i : -1;
    }
    return std::vector<size_t>(found.begin(), found.end());
}

double floats_of(const Shape& s) { return (double)s.n * s.c * s.h * s.w; }

// The layer types that hold parameters (Param, nn/layer.h): their weights files have tensors
// "<layer>.weight" and "<layer>.bias".
bool has_params(const LayerSpec& l) {
    const LayerType& row = layer_type_of(l);
    return row.learnable_blobs && row.learnable_blobs(l) > 0;
}

std::string human_bytes(double b) {
    const char* unit[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB"};
    int u = 0;
    while (b >= 1024 && u < 5) b /= 1024, ++u;
    char buf[48];
    std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", b, unit[u]);
    return buf;
}

// A limit from the environment: a positive integer, with an optional K, M, G or T suffix (powers
// of 1024) when `suffixes`; `fallback` when the variable is unset or empty.
uint64_t env_limit(const char* var, uint64_t fallback, bool suffixes) {
    const char* v = std::getenv(var);
    if (!v || !*v) return fallback;
    const std::string s = v;
    size_t digits = 0;
    while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') ++digits;
    int shift = 0;
    const std::string rest = s.substr(digits);
    if (suffixes && rest.size() == 1) {
        const char* units = "KMGT";
        const char* u = std::strchr(units, std::toupper((unsigned char)rest[0]));
        shift = u && *u ? 10 * int(u - units + 1) : -1;
    } else if (!rest.empty()) {
        shift = -1;
    }
    uint64_t n = 0;
    bool ok = digits > 0 && digits <= 15 && shift >= 0;
    for (size_t i = 0; ok && i < digits; ++i) n = n * 10 + uint64_t(s[i] - '0');
    if (ok && (n == 0 || n > (~0ull >> shift))) ok = false;
    if (!ok)
        throw std::invalid_argument(std::string("environment variable ") + var + ": expected a positive integer" +
                                    (suffixes ? " (optionally with a K, M, G or T suffix)" : "") + ", found '" + s + "'");
    return n << shift;
}

}  // namespace

std::vector<int64_t> data_layer_dims(const LayerSpec& l) {
    // The layer's registry row states what its tops declare (formats/layer_registry.cpp).
    const LayerType& row = layer_type_of(l);
    if (!row.net_inputs) return {};
    const std::vector<std::vector<int64_t>> dims = row.net_inputs(l);
    return dims.empty() ? std::vector<int64_t>() : dims[0];
}

namespace {

const std::set<std::string> kLatentReaders = {"Sigmoid"};
const std::set<std::string> kClassifierReaders = {"SoftmaxWithLoss", "Softmax", "Accuracy"};

// The single target layer of an override (what: "latent" / "classifier"); -1 when none exists.
int single_target(const std::vector<LayerSpec>& layers, const std::set<std::string>& readers, const std::string& what,
                  const std::string& file) {
    const std::vector<size_t> t = inner_products_read_by(layers, readers);
    if (t.size() > 1) {
        std::string names;
        for (size_t i : t) names += (names.empty() ? "'" : ", '") + layers[i].name + "'";
        throw std::invalid_argument(file + ": several InnerProduct layers qualify as the " + what + " layer (" + names +
                                    "); the override would be ambiguous");
    }
    return t.empty() ? -1 : (int)t[0];
}

std::vector<LayerSpec> layers_for(const NetSpec& spec, Phase phase) {
    std::vector<LayerSpec> v;
    for (const LayerSpec* l : spec.layers_in(phase)) v.push_back(*l);
    return v;
}

class Builder {
public:
    Builder(const NetSpec& spec, Phase phase, const NetBuildOptions& opt) : spec_(spec), phase_(phase), opt_(opt) {
        seeds_.first = opt.dropout_seed;
    }

    // The layers of the phase with the overrides applied, checked, and the memory they will need.
    NetFootprint plan() {
        check_options();
        check_layer_count();
        layers_ = layers_for(spec_, phase_);
        apply_override(opt_.latent_bits, kLatentReaders, "latent", "latent_bits (a Sigmoid reading an InnerProduct)");
        apply_override(opt_.num_classes, kClassifierReaders, "classifier",
                       "num_classes (SoftmaxWithLoss / Softmax / Accuracy reading an InnerProduct)");
        check_names();
        return footprint();
    }

    // The blob shapes the last plan() worked out.
    const std::unordered_map<std::string, Shape>& shapes() const { return shapes_; }

    std::unique_ptr<Net> build() {
        check_net_bytes(plan());
        net_ = std::make_unique<Net>(spec_.name.empty() ? base_name(spec_.file) : spec_.name);
        net_->set_phase(phase_);
        for (const NetInputSpec& in : spec_.inputs) add_input(in.name, in.dims, in.loc.str() + ": input '" + in.name + "'");
        for (const LayerSpec& l : layers_) add_layer(l);
        if (net_->layers().empty() && net_->blob_names().empty())
            throw std::invalid_argument(spec_.file + ": no layer is active in phase " + phase_name(phase_));
        return std::move(net_);
    }

private:
    void check_options() const {
        if (opt_.batch < 0 || opt_.channels < 0 || opt_.height < 0 || opt_.width < 0 || opt_.latent_bits < 0 ||
            opt_.num_classes < 0)
            throw std::invalid_argument("build_net: overrides must be >= 0 (0 keeps the prototxt's value)");
    }

    void apply_override(int value, const std::set<std::string>& readers, const std::string& what, const std::string& rule) {
        if (value <= 0) return;
        int t = single_target(layers_, readers, what, spec_.file);
        if (t < 0)
            throw std::invalid_argument(spec_.file + ": cannot set " + what + " outputs to " + std::to_string(value) +
                                        " in phase " + phase_name(phase_) + ": no layer matches " + rule);
        layers_[(size_t)t].settings<InnerProductParam>().num_output = value;
    }

    // Duplicate layer names within the phase, and parameter sharing, with file positions.
    void check_names() const {
        std::map<std::string, const LayerSpec*> seen;
        std::map<std::string, const LayerSpec*> param_owner;
        for (const LayerSpec& l : layers_) {
            auto it = seen.find(l.name);
            if (it != seen.end())
                fail_layer(l, std::string("a layer with this name is already active in phase ") + phase_name(phase_) +
                                  " (at " + it->second->loc.str() + ")");
            seen[l.name] = &l;
            for (const std::string& p : l.param_name) {
                if (p.empty()) continue;
                auto o = param_owner.find(p);
                if (o != param_owner.end() && o->second != &l)
                    fail_layer(l, "shares parameter '" + p + "' with layer '" + o->second->name +
                                      "'; parameter sharing is not supported by dlbhc");
                param_owner[p] = &l;
            }
        }
    }

    void check_size(double floats, const std::string& where, const std::string& what) const {
        if (floats > (double)opt_.max_tensor_floats) {
            char n[64];
            std::snprintf(n, sizeof n, "%.0f", floats);
            throw std::invalid_argument(where + ": " + what + " would hold " + n + " floats, more than the limit of " +
                                        std::to_string(opt_.max_tensor_floats));
        }
    }

    // The shape of an input, with the overrides: batch for all, channels/height/width for the
    // first one (the image input; *image_done tells whether it was seen).
    Shape input_shape(const std::string& name, std::vector<int64_t> dims, const std::string& where,
                      bool* image_done) const {
        if (opt_.batch > 0) dims[0] = opt_.batch;
        if (!*image_done) {
            *image_done = true;
            if (opt_.channels > 0 || opt_.height > 0 || opt_.width > 0) {
                while (dims.size() < 4) dims.push_back(1);
                if (opt_.channels > 0) dims[1] = opt_.channels;
                if (opt_.height > 0) dims[2] = opt_.height;
                if (opt_.width > 0) dims[3] = opt_.width;
            }
        }
        double count = 1;
        for (int64_t d : dims) {
            if (d < 1)
                throw std::invalid_argument(where + ": the size of input '" + name +
                                            "' is not known from the prototxt (no crop_size or new_height/new_width); "
                                            "give it with the channels/height/width build options");
            if (d > (1 << 24)) throw std::invalid_argument(where + ": input '" + name + "' dimension " + std::to_string(d) + " is too large");
            count *= (double)d;
        }
        check_size(count, where, "input '" + name + "'");
        return Shape((int)dims[0], dims.size() > 1 ? (int)dims[1] : 1, dims.size() > 2 ? (int)dims[2] : 1,
                     dims.size() > 3 ? (int)dims[3] : 1);
    }

    // Adds an input; the first one is the image input and takes the channels/height/width overrides.
    void add_input(const std::string& name, std::vector<int64_t> dims, const std::string& where) {
        const Shape s = input_shape(name, std::move(dims), where, &image_done_);
        if (net_->has_blob(name)) throw std::invalid_argument(where + ": blob '" + name + "' already exists");
        net_->add_input(name, s);
    }

    // The nn/ layer of l, its multipliers set. Dropout layers take their seeds from `seeds`.
    std::unique_ptr<Layer> make_layer(const LayerSpec& l, LayerSeeds& seeds) const {
        const LayerType& row = layer_type_of(l);
        if (!row.make) fail_layer(l, "internal: no factory for type " + l.type);
        std::unique_ptr<Layer> layer = row.make(l, seeds);
        layer->set_param_specs(l.param);
        return layer;
    }

    // The tops l writes: its own, or one named after it (a loss layer without a top, as Caffe).
    static std::vector<std::string> tops_of(const LayerSpec& l) {
        return l.top.empty() ? std::vector<std::string>{l.name} : l.top;
    }

    // What `layer` makes of bottoms of shapes `in` (its own answer, LayerShapes), with every tensor
    // it would allocate checked against max_tensor_floats first. When the layer rejects the
    // bottoms, nothing is checked: its reshape reports it. *buffers receives its buffers' floats.
    LayerShapes ask_layer(const Layer& layer, const LayerSpec& l, const std::vector<Shape>& in, const std::string& where,
                          double* buffers) const {
        LayerShapes s = layer.shapes(in);
        *buffers = 0;
        if (!s.error.empty()) return s;
        for (const ParamShape& p : s.param) check_size(floats_of(p.shape), where, "the " + p.name);
        const std::vector<std::string> tops = tops_of(l);
        for (size_t i = 0; i < tops.size() && i < s.top.size(); ++i)
            check_size(floats_of(s.top[i]), where, i == 0 ? std::string("the output") : "the output '" + tops[i] + "'");
        *buffers = layer.buffer_floats(in);
        check_size(*buffers, where, "its buffers");
        return s;
    }

    void add_layer(const LayerSpec& l) {
        const std::string where = l.loc.str() + ": layer '" + l.name + "'";
        const LayerType& row = layer_type_of(l);
        if (row.net_inputs) {
            const std::vector<std::vector<int64_t>> dims = row.net_inputs(l);
            for (size_t i = 0; i < dims.size(); ++i) add_input(l.top[i], dims[i], where);
            return;
        }
        for (size_t i = 1; i < l.loss_weight.size(); ++i)
            if (l.loss_weight[i] != 0)
                fail_layer(l, "a nonzero loss_weight on top " + std::to_string(i) + " is not supported (only on the first top)");
        std::unique_ptr<Layer> layer = make_layer(l, seeds_);
        std::vector<Shape> in;
        for (const std::string& b : l.bottom)
            if (net_->has_blob(b)) in.push_back(net_->blob(b)->shape());
        double buffers = 0;
        if (in.size() == l.bottom.size()) ask_layer(*layer, l, in, where, &buffers);  // else Net::add reports the missing bottom
        try {
            net_->add(std::move(layer), l.bottom, tops_of(l), l.loss_weight.empty() ? -1.0f : l.loss_weight[0],
                      l.propagate_down);
        } catch (const std::exception& e) {
            throw std::invalid_argument(l.loc.str() + ": " + e.what());
        }
    }

    uint64_t max_net_bytes() const {
        return opt_.max_net_bytes > 0 ? opt_.max_net_bytes : env_limit("DLBHC_MAX_NET_BYTES", kDefaultMaxNetBytes, true);
    }

    void check_layer_count() const {
        const size_t limit = opt_.max_layers > 0 ? opt_.max_layers
                                                 : (size_t)env_limit("DLBHC_MAX_NET_LAYERS", kDefaultMaxNetLayers, false);
        const size_t n = spec_.layers_in(phase_).size();
        if (n > limit)
            throw std::invalid_argument(spec_.file + ": " + std::to_string(n) + " layers are active in phase " +
                                        phase_name(phase_) + ", more than the limit of " + std::to_string(limit) +
                                        "; set DLBHC_MAX_NET_LAYERS to allow more");
    }

    // Walks the layers over their shapes only, as build() will add them, adding up the bytes.
    // Stops at a layer whose shape cannot be worked out: build() reports that layer.
    NetFootprint footprint() {
        std::unordered_map<std::string, Shape>& shapes = shapes_;
        shapes.clear();
        double blobs = 0, params = 0, buffers = 0;
        size_t counted = 0;
        const double limit = (double)max_net_bytes();
        auto total = [&] { return blobs + params + buffers; };
        auto add_blob = [&](const std::string& name, const Shape& s) {
            shapes[name] = s;
            blobs += 2 * sizeof(float) * floats_of(s);  // values and gradients
        };
        auto note = [&](const std::string& where) {
            if (crossed_at_.empty() && total() > limit) crossed_at_ = where;
        };
        bool image = false;
        for (const NetInputSpec& in : spec_.inputs) {
            const std::string where = in.loc.str() + ": input '" + in.name + "'";
            add_blob(in.name, input_shape(in.name, in.dims, where, &image));
            note(where);
        }
        LayerSeeds scratch;  // the layers made here only answer questions
        for (const LayerSpec& l : layers_) {
            const std::string where = l.loc.str() + ": layer '" + l.name + "'";
            const LayerType& row = layer_type_of(l);
            if (row.net_inputs) {
                const std::vector<std::vector<int64_t>> dims = row.net_inputs(l);
                for (size_t i = 0; i < dims.size(); ++i) add_blob(l.top[i], input_shape(l.top[i], dims[i], where, &image));
            } else {
                std::vector<Shape> in;
                for (const std::string& b : l.bottom) {
                    auto it = shapes.find(b);
                    if (it == shapes.end()) break;
                    in.push_back(it->second);
                }
                if (in.size() != l.bottom.size()) break;
                double layer_buffers = 0;
                const LayerShapes s = ask_layer(*make_layer(l, scratch), l, in, where, &layer_buffers);
                if (!s.error.empty()) break;
                for (const ParamShape& p : s.param) params += 2 * sizeof(float) * floats_of(p.shape);  // values and gradients
                buffers += sizeof(float) * layer_buffers;
                const std::vector<std::string> tops = tops_of(l);
                for (size_t i = 0; i < tops.size(); ++i)
                    if (i >= l.bottom.size() || tops[i] != l.bottom[i]) add_blob(tops[i], s.top.at(i));
            }
            ++counted;
            note(where);
        }
        auto bytes = [](double b) { return b < 9.2e18 ? (uint64_t)b : uint64_t(9.2e18); };
        NetFootprint fp;
        fp.blob_bytes = bytes(blobs);
        fp.param_bytes = bytes(params);
        fp.buffer_bytes = bytes(buffers);
        fp.layers = counted;
        return fp;
    }

    void check_net_bytes(const NetFootprint& fp) const {
        const uint64_t limit = max_net_bytes();
        if (fp.total() <= limit) return;
        throw std::invalid_argument(spec_.file + ": the net would need " + human_bytes((double)fp.total()) + " (" +
                                    std::to_string(fp.total()) + " bytes: blobs " + human_bytes((double)fp.blob_bytes) +
                                    ", parameters " + human_bytes((double)fp.param_bytes) + ", layer buffers " +
                                    human_bytes((double)fp.buffer_bytes) + ") in phase " + phase_name(phase_) +
                                    ", more than the limit of " + human_bytes((double)limit) + " (passed at " +
                                    crossed_at_ + "); nothing was allocated. A smaller batch needs less; "
                                    "set DLBHC_MAX_NET_BYTES to allow more");
    }

    const NetSpec& spec_;
    Phase phase_;
    NetBuildOptions opt_;
    std::vector<LayerSpec> layers_;
    std::unique_ptr<Net> net_;
    bool image_done_ = false;
    LayerSeeds seeds_;  // the Dropout layers' seeds: dropout_seed + k for the k-th
    std::string crossed_at_;  // where the footprint first passed max_net_bytes
    std::unordered_map<std::string, Shape> shapes_;  // every blob's shape as footprint() worked it out
};

}  // namespace

std::unique_ptr<Net> build_net(const NetSpec& spec, Phase phase, const NetBuildOptions& opt) {
    return Builder(spec, phase, opt).build();
}

NetFootprint net_footprint(const NetSpec& spec, Phase phase, const NetBuildOptions& opt) {
    return Builder(spec, phase, opt).plan();
}

namespace {

// A layer as the code path describes it: only what changes the function it computes.
LayerSpec without_training_settings(LayerSpec l) {
    l.param.clear();
    l.param_name.clear();
    l.loss_weight.clear();
    l.propagate_down.clear();
    l.include.clear();
    l.exclude.clear();
    if (l.type == "Convolution") {
        ConvParam& p = l.settings<ConvParam>();
        p.weight_filler = p.bias_filler = FillerParam();
    } else if (l.type == "InnerProduct") {
        InnerProductParam& p = l.settings<InnerProductParam>();
        p.weight_filler = p.bias_filler = FillerParam();
    }
    return l;
}

bool is_input_layer(const LayerSpec& l) { return l.type == "Data" || l.type == "ImageData" || l.type == "Input"; }

}  // namespace

CodePath code_path(const NetSpec& spec, Phase phase, int latent_bits) {
    std::vector<LayerSpec> layers = layers_for(spec, phase);
    if (latent_bits > 0) {
        const int t = single_target(layers, kLatentReaders, "latent", spec.file);
        if (t >= 0) layers[(size_t)t].settings<InnerProductParam>().num_output = latent_bits;
    }
    int sigmoid = -1;
    for (size_t i = 0; i < layers.size(); ++i)
        if (layers[i].type == "Sigmoid" && !layers[i].top.empty()) sigmoid = (int)i;
    // Backwards from the latent blob: a layer that writes a needed blob is kept, and the blobs it
    // reads become needed (in-place layers keep their blob needed).
    std::vector<bool> keep(layers.size(), sigmoid < 0);
    if (sigmoid >= 0) {
        std::set<std::string> needed = {layers[(size_t)sigmoid].top[0]};
        for (size_t i = (size_t)sigmoid + 1; i-- > 0;) {
            bool writes = false;
            for (const std::string& t : layers[i].top) writes = writes || needed.count(t) > 0;
            if (!writes) continue;
            keep[i] = true;
            needed.insert(layers[i].bottom.begin(), layers[i].bottom.end());
        }
    }
    CodePath p;
    for (size_t i = 0; i < layers.size(); ++i) {
        if (!keep[i] || is_input_layer(layers[i])) continue;
        p.layers.push_back(layers[i].name);
        p.description += describe_layer(without_training_settings(layers[i])) + "\n";
    }
    return p;
}

std::map<std::string, Shape> blob_shapes(const NetSpec& spec, Phase phase, const NetBuildOptions& opt) {
    Builder b(spec, phase, opt);
    b.plan();
    return std::map<std::string, Shape>(b.shapes().begin(), b.shapes().end());
}

std::vector<int64_t> image_input_dims(const NetSpec& spec, Phase phase) {
    if (!spec.inputs.empty()) return spec.inputs[0].dims;
    for (const LayerSpec* l : spec.layers_in(phase))
        if (layer_type_of(*l).net_inputs) return data_layer_dims(*l);  // Input, Data, ImageData
    return {};
}

std::vector<std::string> layers_with_params(const NetSpec& spec, Phase phase) {
    std::vector<std::string> v;
    for (const LayerSpec* l : spec.layers_in(phase))
        if (has_params(*l)) v.push_back(l->name);
    return v;
}

std::string find_latent_layer(const NetSpec& spec, Phase phase) {
    const std::vector<LayerSpec> layers = layers_for(spec, phase);
    int t = single_target(layers, kLatentReaders, "latent", spec.file);
    return t < 0 ? "" : layers[(size_t)t].name;
}

std::string find_classifier_layer(const NetSpec& spec, Phase phase) {
    const std::vector<LayerSpec> layers = layers_for(spec, phase);
    int t = single_target(layers, kClassifierReaders, "classifier", spec.file);
    return t < 0 ? "" : layers[(size_t)t].name;
}

}  // namespace dlbhc
