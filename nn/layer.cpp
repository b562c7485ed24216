// nn/layer.cpp -- shared helpers of the layer contract.
#include "nn/layer.h"

#include <stdexcept>

namespace dlbhc {

void Layer::set_param_specs(const std::vector<ParamSpec>& specs) {
    pending_specs_ = specs;
    for (size_t i = 0; i < params_.size() && i < specs.size(); ++i) {
        params_[i].lr_mult = specs[i].lr_mult;
        params_[i].decay_mult = specs[i].decay_mult;
    }
}

bool Layer::ensure_param(size_t index, const std::string& suffix, Shape s, const FillerParam& f) {
    if (index < params_.size()) {
        if (params_[index].value.shape() != s)
            fail("parameter " + params_[index].name + " has shape " + params_[index].value.shape().str() +
                 " but the input now needs " + s.str() + " (input shape changed after setup)");
        return false;
    }
    if (index != params_.size()) fail("internal: parameters must be created in order");
    Param p;
    p.name = name_ + "." + suffix;
    p.reshape(s);
    p.filler = f;
    if (index < pending_specs_.size()) {
        p.lr_mult = pending_specs_[index].lr_mult;
        p.decay_mult = pending_specs_[index].decay_mult;
    }
    params_.push_back(std::move(p));
    return true;
}

void Layer::fail(const std::string& msg) const {
    throw std::invalid_argument(std::string(type()) + " layer '" + name_ + "': " + msg);
}

void Layer::check_counts(const Blobs& bottom, const Blobs& top, const BlobCounts& k) const {
    auto range = [](int lo, int hi) { return lo == hi ? std::to_string(lo) : std::to_string(lo) + " to " + std::to_string(hi); };
    if ((int)bottom.size() < k.min_bottom || (int)bottom.size() > k.max_bottom || (int)top.size() < k.min_top ||
        (int)top.size() > k.max_top)
        fail("expects " + range(k.min_bottom, k.max_bottom) + " bottom and " + range(k.min_top, k.max_top) +
             " top blobs, got " + std::to_string(bottom.size()) + " and " + std::to_string(top.size()));
}

LayerShapes Layer::reshape_tops(const Blobs& bottom, const Blobs& top) {
    std::vector<Shape> in;
    for (const Blob* b : bottom) in.push_back(b->shape());
    LayerShapes s = shapes(in);
    if (!s.error.empty()) fail(s.error);
    if (s.top.size() < top.size()) fail("internal: shapes() gives " + std::to_string(s.top.size()) + " tops");
    for (size_t i = 0; i < top.size(); ++i)
        if (i >= bottom.size() || top[i] != bottom[i]) top[i]->reshape(s.top[i]);
    return s;
}

}  // namespace dlbhc
