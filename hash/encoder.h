// hash/encoder.h -- turning images into hash codes and features with a trained net.
//
// The paper's step 3 (docs/method.md, "Binary codes and features"): run the net in the TEST phase
// (dropout off), read the latent layer's sigmoid outputs (blob "fc8_kevin_encode", h values per
// image) and set bit i when output i > 0.5, strictly; keep the feature blob ("fc7", after ReLU;
// 4096 values for CaffeNet) for the fine re-ranking. Which blobs play these roles is found from
// the net's structure (find_latent_blob / find_feature_blob) so nets with other names work too.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "hash/code.h"
#include "nn/net.h"

namespace dlbhc {

// The top of the (last) Sigmoid layer: the latent code activations.
std::string find_latent_blob(Net& net);
// The blob the latent layer (the InnerProduct feeding that Sigmoid) reads: fc7 in the paper.
std::string find_feature_blob(Net& net);

class Encoder {
public:
    // Empty names: found with the functions above. The net is switched to the TEST phase.
    Encoder(Net& net, std::string latent_blob = "", std::string feature_blob = "", bool keep_features = true);

    int bits() const { return bits_; }
    int feature_dim() const { return dim_; }
    const std::string& latent_blob() const { return latent_; }
    const std::string& feature_blob() const { return feature_; }

    // Runs the net on whatever its "data" input holds and appends the codes (and features) of
    // the first `valid` items of the batch (a last, partial batch has fewer valid items).
    void encode_batch(size_t valid);

    CodeSet& codes() { return codes_; }
    std::vector<float>& features() { return features_; }  // (N, D) row-major
    // Sigmoid outputs of the items encoded so far, kept for binariness statistics (N, bits).
    const std::vector<float>& activations() const { return acts_; }

private:
    Net& net_;
    std::string latent_, feature_;
    bool keep_features_;
    int bits_ = 0, dim_ = 0;
    CodeSet codes_;
    std::vector<float> features_, acts_;
};

}  // namespace dlbhc
