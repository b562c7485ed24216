// hash/encoder.cpp -- see encoder.h.
#include "hash/encoder.h"

#include <stdexcept>

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

Encoder::Encoder(Net& net, std::string latent_blob, std::string feature_blob, bool keep_features)
    : net_(net), latent_(std::move(latent_blob)), feature_(std::move(feature_blob)), keep_features_(keep_features) {
    if (latent_.empty()) latent_ = find_latent_blob(net_);
    if (keep_features_ && feature_.empty()) feature_ = find_feature_blob(net_);
    net_.set_phase(Phase::Test);
    const Blob* l = net_.blob(latent_);
    bits_ = int(l->count() / size_t(l->shape().n));
    codes_ = CodeSet(bits_);
    if (keep_features_) {
        const Blob* f = net_.blob(feature_);
        dim_ = int(f->count() / size_t(f->shape().n));
    }
}

void Encoder::encode_batch(size_t valid) {
    const size_t n = size_t(net_.blob("data")->shape().n);
    if (valid > n) throw std::invalid_argument("encoder: " + std::to_string(valid) + " valid items in a batch of " + std::to_string(n));
    net_.forward();
    const float* a = net_.blob(latent_)->data.data();
    codes_.add_activations(a, valid, 0.5f);
    acts_.insert(acts_.end(), a, a + valid * size_t(bits_));
    if (keep_features_) {
        const float* f = net_.blob(feature_)->data.data();
        features_.insert(features_.end(), f, f + valid * size_t(dim_));
    }
}

}  // namespace dlbhc
