// nn/net.cpp -- wiring, forward/backward order, parameter access.
#include "nn/net.h"

#include <chrono>
#include <stdexcept>

namespace dlbhc {

Blob* Net::get_or_create(const std::string& name) {
    auto it = blob_index_.find(name);
    if (it != blob_index_.end()) return blobs_[it->second].get();
    blobs_.push_back(std::make_unique<Blob>(name));
    blob_index_[name] = blobs_.size() - 1;
    return blobs_.back().get();
}

Blob* Net::add_input(const std::string& name, Shape s) {
    if (has_blob(name)) throw std::invalid_argument("net '" + name_ + "': input blob '" + name + "' already exists");
    Blob* b = get_or_create(name);
    b->reshape(s);
    inputs_.push_back(name);
    input_needs_grad_[name] = false;
    return b;
}

Layer* Net::add(std::unique_ptr<Layer> layer, const std::vector<std::string>& bottoms,
                const std::vector<std::string>& tops, float loss_weight, const std::vector<bool>& propagate_down) {
    const std::string where = "net '" + name_ + "', layer '" + layer->name() + "'";
    if (layer_index_.count(layer->name())) throw std::invalid_argument(where + ": a layer with this name already exists");
    if (!propagate_down.empty() && propagate_down.size() != bottoms.size())
        throw std::invalid_argument(where + ": propagate_down has " + std::to_string(propagate_down.size()) +
                                    " entries for " + std::to_string(bottoms.size()) + " bottoms (none, or one per bottom)");
    Wiring w;
    w.propagate_down = propagate_down;
    for (const auto& b : bottoms) {
        if (!has_blob(b)) throw std::invalid_argument(where + ": bottom blob '" + b + "' is not produced by any earlier layer or input");
        w.bottom.push_back(blob(b));
    }
    for (size_t i = 0; i < tops.size(); ++i) {
        bool in_place = i < bottoms.size() && tops[i] == bottoms[i];
        if (in_place && !layer->allows_in_place())
            throw std::invalid_argument(where + ": " + layer->type() + " cannot run in place (top '" + tops[i] + "' == bottom)");
        if (!in_place && has_blob(tops[i]))
            throw std::invalid_argument(where + ": top blob '" + tops[i] + "' already exists (only in-place layers may reuse a name)");
        for (size_t j = 0; j < i; ++j)
            if (tops[j] == tops[i]) throw std::invalid_argument(where + ": top blob '" + tops[i] + "' is named twice");
    }
    // Shapes are worked out on scratch blobs first, so a layer that rejects its input leaves the
    // net exactly as it was (no orphan top blobs).
    std::vector<std::unique_ptr<Blob>> fresh;
    for (size_t i = 0; i < tops.size(); ++i) {
        bool in_place = i < bottoms.size() && tops[i] == bottoms[i];
        if (in_place) {
            w.top.push_back(w.bottom[i]);
        } else {
            fresh.push_back(std::make_unique<Blob>(tops[i]));
            w.top.push_back(fresh.back().get());
        }
    }
    w.loss_weight = loss_weight >= 0 ? loss_weight : (layer->is_loss() ? 1.0f : 0.0f);
    layer->set_phase(phase_);
    layer->reshape(w.bottom, w.top);
    for (auto& b : fresh) {
        blob_index_[b->name] = blobs_.size();
        blobs_.push_back(std::move(b));
    }
    layer_index_[layer->name()] = layers_.size();
    layers_.push_back(std::move(layer));
    wiring_.push_back(std::move(w));
    propagate_needs(layers_.size() - 1);
    return layers_.back().get();
}

void Net::update_backward_needs() {
    // A blob needs a gradient when a parameter or a requested input lies upstream of it.
    blob_needs_grad_.clear();
    for (const auto& name : inputs_) blob_needs_grad_[blob(name)] = input_needs_grad_[name];
    for (size_t l = 0; l < layers_.size(); ++l) propagate_needs(l);
}

void Net::propagate_needs(size_t l) {
    ++wiring_steps_;
    Wiring& w = wiring_[l];
    std::vector<bool> prop(w.bottom.size());
    bool any = !layers_[l]->params().empty();
    for (size_t i = 0; i < w.bottom.size(); ++i) {
        prop[i] = blob_needs_grad_[w.bottom[i]] && layers_[l]->differentiable_bottom((int)i) &&
                  (w.propagate_down.empty() || w.propagate_down[i]);
        any = any || prop[i];
    }
    layers_[l]->set_propagate_down(prop);
    w.needs_backward = any;
    for (Blob* t : w.top) blob_needs_grad_[t] = blob_needs_grad_[t] || any;
}

void Net::reshape() {
    for (size_t l = 0; l < layers_.size(); ++l) layers_[l]->reshape(wiring_[l].bottom, wiring_[l].top);
}

void Net::init_params(Rng& rng) {
    for (auto& l : layers_)
        for (Param& p : l->params()) fill(p.filler, p.value, rng);
}

static double now_seconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// A weighted top's contribution to the loss, before its weight (Caffe: the sum of its elements).
static double element_sum(const Blob& b) {
    double sum = 0;
    for (size_t i = 0; i < b.count(); ++i) sum += b.data[i];
    return sum;
}

double Net::forward(std::vector<double>* layer_seconds, const std::function<void(size_t)>& after_layer) {
    double loss = 0;
    if (layer_seconds) layer_seconds->assign(layers_.size(), 0.0);
    for (size_t l = 0; l < layers_.size(); ++l) {
        Wiring& w = wiring_[l];
        double t0 = layer_seconds ? now_seconds() : 0;
        layers_[l]->reshape(w.bottom, w.top);
        layers_[l]->forward(w.bottom, w.top);
        if (layer_seconds) (*layer_seconds)[l] = now_seconds() - t0;
        if (after_layer) after_layer(l);
        if (w.loss_weight != 0) {
            // As Caffe: a weighted top adds weight * (sum of its elements) to the loss.
            loss += (double)w.loss_weight * element_sum(*w.top.at(0));
        }
    }
    return loss;
}

void Net::backward(std::vector<double>* layer_seconds) {
    if (layer_seconds) layer_seconds->assign(layers_.size(), 0.0);
    for (auto& b : blobs_) b->diff.zero();
    for (size_t l = 0; l < layers_.size(); ++l)
        if (wiring_[l].loss_weight != 0) wiring_[l].top.at(0)->diff.fill(wiring_[l].loss_weight);
    for (size_t l = layers_.size(); l-- > 0;)
        if (wiring_[l].needs_backward) {
            double t0 = layer_seconds ? now_seconds() : 0;
            layers_[l]->backward(wiring_[l].top, wiring_[l].bottom);
            if (layer_seconds) (*layer_seconds)[l] = now_seconds() - t0;
        }
}

void Net::zero_param_grads() {
    for (auto& l : layers_)
        for (Param& p : l->params()) p.grad.zero();
}

void Net::set_phase(Phase p) {
    phase_ = p;
    for (auto& l : layers_) l->set_phase(p);
}

void Net::set_input_needs_grad(const std::string& name, bool on) {
    if (!input_needs_grad_.count(name)) throw std::out_of_range("net '" + name_ + "': no input blob named '" + name + "'");
    input_needs_grad_[name] = on;
    update_backward_needs();
}

Blob* Net::blob(const std::string& name) {
    auto it = blob_index_.find(name);
    if (it == blob_index_.end()) throw std::out_of_range("net '" + name_ + "': no blob named '" + name + "'");
    return blobs_[it->second].get();
}

Layer* Net::layer(const std::string& name) {
    auto it = layer_index_.find(name);
    if (it != layer_index_.end()) return layers_[it->second].get();
    throw std::out_of_range("net '" + name_ + "': no layer named '" + name + "'");
}

std::vector<std::string> Net::blob_names() const {
    std::vector<std::string> v;
    for (const auto& b : blobs_) v.push_back(b->name);
    return v;
}

std::vector<Param*> Net::params() {
    std::vector<Param*> v;
    for (auto& l : layers_)
        for (Param& p : l->params()) v.push_back(&p);
    return v;
}

Param* Net::param(const std::string& name) {
    for (Param* p : params())
        if (p->name == name) return p;
    throw std::out_of_range("net '" + name_ + "': no parameter named '" + name + "'");
}

std::vector<Net::LossOutput> Net::loss_outputs() const {
    std::vector<LossOutput> v;
    for (size_t l = 0; l < layers_.size(); ++l) {
        const Wiring& w = wiring_[l];
        if (w.loss_weight == 0) continue;
        v.push_back({w.top[0]->name, element_sum(*w.top[0]), w.loss_weight});
    }
    return v;
}

}  // namespace dlbhc
