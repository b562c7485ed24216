// formats/net_builder.cpp -- NetSpec -> Net for one phase, with run-time overrides. See net_builder.h.
#include "formats/net_builder.h"

#include <cstdio>
#include <map>
#include <set>
#include <stdexcept>

#include "nn/accuracy.h"
#include "nn/sigmoid.h"
#include "nn/softmax.h"

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

// The index of the InnerProduct that produced `blob` as layers[reader] sees it: the latest earlier
// layer writing `blob`, skipping layers that rewrite it in place (ReLU, Dropout). -1 when that
// producer is not an InnerProduct (or there is none: a net input).
int producing_inner_product(const std::vector<LayerSpec>& layers, size_t reader, const std::string& blob) {
    for (size_t i = reader; i-- > 0;) {
        const LayerSpec& l = layers[i];
        if (!contains(l.top, blob)) continue;
        if (contains(l.bottom, blob)) continue;  // in place: keep looking for the real producer
        return l.type == "InnerProduct" ? (int)i : -1;
    }
    return -1;
}

// The InnerProducts whose outputs layers of `reader_types` read as bottom[0].
std::vector<size_t> inner_products_read_by(const std::vector<LayerSpec>& layers, const std::set<std::string>& reader_types) {
    std::set<size_t> found;
    for (size_t i = 0; i < layers.size(); ++i) {
        if (!reader_types.count(layers[i].type) || layers[i].bottom.empty()) continue;
        int p = producing_inner_product(layers, i, layers[i].bottom[0]);
        if (p >= 0) found.insert((size_t)p);
    }
    return std::vector<size_t>(found.begin(), found.end());
}

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

std::string base_name(const std::string& path) {
    size_t s = path.find_last_of('/');
    return s == std::string::npos ? path : path.substr(s + 1);
}

class Builder {
public:
    Builder(const NetSpec& spec, Phase phase, const NetBuildOptions& opt) : spec_(spec), phase_(phase), opt_(opt) {}

    std::unique_ptr<Net> build() {
        check_options();
        layers_ = layers_for(spec_, phase_);
        apply_override(opt_.latent_bits, kLatentReaders, "latent", "latent_bits (a Sigmoid reading an InnerProduct)");
        apply_override(opt_.num_classes, kClassifierReaders, "classifier",
                       "num_classes (SoftmaxWithLoss / Softmax / Accuracy reading an InnerProduct)");
        check_names();
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
        layers_[(size_t)t].inner_product.num_output = value;
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

    // Adds an input; the first one is the image input and takes the channels/height/width overrides.
    void add_input(const std::string& name, std::vector<int64_t> dims, const std::string& where) {
        if (opt_.batch > 0) dims[0] = opt_.batch;
        if (!image_done_) {
            image_done_ = true;
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
        Shape s((int)dims[0], dims.size() > 1 ? (int)dims[1] : 1, dims.size() > 2 ? (int)dims[2] : 1,
                dims.size() > 3 ? (int)dims[3] : 1);
        if (net_->has_blob(name)) throw std::invalid_argument(where + ": blob '" + name + "' already exists");
        net_->add_input(name, s);
    }

    void add_data_layer(const LayerSpec& l) {
        const std::string where = l.loc.str() + ": layer '" + l.name + "'";
        const DataSourceSpec& d = l.data;
        int64_t c = (l.type == "ImageData" && !d.is_color) || l.transform.force_gray ? 1 : 3;
        int64_t h = 0, w = 0;
        if (l.transform.crop_size > 0) h = w = l.transform.crop_size;
        else if (l.type == "ImageData" && d.new_height > 0) h = d.new_height, w = d.new_width;
        add_input(l.top[0], {d.batch_size, c, h, w}, where);
        if (l.top.size() > 1) add_input(l.top[1], {net_->blob(l.top[0])->shape().n}, where);
    }

    // Tensor sizes of a layer about to be added, checked before its reshape allocates them.
    void check_layer_sizes(const LayerSpec& l, const std::string& where) const {
        if (l.bottom.empty() || !net_->has_blob(l.bottom[0])) return;  // Net::add reports the missing bottom
        const Shape in = net_->blob(l.bottom[0])->shape();
        const double n = in.n;
        if (l.type == "Convolution") {
            if (!conv_check(in, l.conv).empty()) return;  // the layer reports it
            const ConvParam& p = l.conv;
            const Shape out = conv_output_shape(in, p);
            check_size((double)p.num_output * (in.c / p.group) * p.kernel_h * p.kernel_w, where, "the weight");
            check_size(n * out.c * out.h * out.w, where, "the output");
            check_size((double)in.c * p.kernel_h * p.kernel_w * out.h * out.w, where, "the column buffer");
        } else if (l.type == "InnerProduct") {
            check_size((double)l.inner_product.num_output * in.c * in.h * in.w, where, "the weight");
            check_size(n * l.inner_product.num_output, where, "the output");
        } else if (l.type == "Pooling" && !l.pool.global_pooling) {
            const PoolingParam& p = l.pool;
            if (p.kernel_h < 1 || p.kernel_w < 1 || p.stride_h < 1 || p.stride_w < 1 || p.pad_h >= p.kernel_h ||
                p.pad_w >= p.kernel_w)
                return;
            const int oh = pooled_size(in.h, p.kernel_h, p.stride_h, p.pad_h);
            const int ow = pooled_size(in.w, p.kernel_w, p.stride_w, p.pad_w);
            check_size(n * in.c * (double)oh * ow, where, "the output");
        }
    }

    std::unique_ptr<Layer> make_layer(const LayerSpec& l) {
        const std::string& t = l.type;
        std::unique_ptr<Layer> layer;
        if (t == "Convolution") layer = std::make_unique<ConvolutionLayer>(l.name, l.conv);
        else if (t == "Pooling") layer = std::make_unique<PoolingLayer>(l.name, l.pool);
        else if (t == "InnerProduct") layer = std::make_unique<InnerProductLayer>(l.name, l.inner_product);
        else if (t == "LRN") layer = std::make_unique<LRNLayer>(l.name, l.lrn);
        else if (t == "ReLU") layer = std::make_unique<ReLULayer>(l.name, l.relu);
        else if (t == "Sigmoid") layer = std::make_unique<SigmoidLayer>(l.name);
        else if (t == "Softmax") layer = std::make_unique<SoftmaxLayer>(l.name);
        else if (t == "SoftmaxWithLoss") layer = std::make_unique<SoftmaxWithLossLayer>(l.name, l.loss);
        else if (t == "Accuracy") layer = std::make_unique<AccuracyLayer>(l.name, l.accuracy_top_k);
        else if (t == "Dropout") {
            DropoutParam p = l.dropout;
            p.seed = opt_.dropout_seed + dropout_count_++;
            layer = std::make_unique<DropoutLayer>(l.name, p);
        } else {
            fail_layer(l, "internal: no constructor for type " + t);
        }
        layer->set_param_specs(l.param);
        return layer;
    }

    void add_layer(const LayerSpec& l) {
        const std::string where = l.loc.str() + ": layer '" + l.name + "'";
        if (l.type == "Input") {
            for (size_t i = 0; i < l.top.size(); ++i)
                add_input(l.top[i], l.input_shapes.size() == 1 ? l.input_shapes[0] : l.input_shapes[i], where);
            return;
        }
        if (l.type == "Data" || l.type == "ImageData") {
            add_data_layer(l);
            return;
        }
        for (size_t i = 1; i < l.loss_weight.size(); ++i)
            if (l.loss_weight[i] != 0)
                fail_layer(l, "a nonzero loss_weight on top " + std::to_string(i) + " is not supported (only on the first top)");
        std::vector<std::string> tops = l.top;
        if (tops.empty()) tops.push_back(l.name);  // a loss layer without a top: Caffe adds one
        check_layer_sizes(l, where);
        std::unique_ptr<Layer> layer = make_layer(l);
        try {
            net_->add(std::move(layer), l.bottom, tops, l.loss_weight.empty() ? -1.0f : l.loss_weight[0]);
        } catch (const std::exception& e) {
            throw std::invalid_argument(l.loc.str() + ": " + e.what());
        }
    }

    const NetSpec& spec_;
    Phase phase_;
    NetBuildOptions opt_;
    std::vector<LayerSpec> layers_;
    std::unique_ptr<Net> net_;
    bool image_done_ = false;
    uint64_t dropout_count_ = 0;
};

}  // namespace

std::unique_ptr<Net> build_net(const NetSpec& spec, Phase phase, const NetBuildOptions& opt) {
    return Builder(spec, phase, opt).build();
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
