// apps/encode.h -- turning images into hash codes and features with a trained net: the one encode
// path of every command that encodes (encode, index, query, eval).
//
// The paper's step 3 (docs/method.md, "Binary codes and features"): run the net in the TEST phase
// (dropout off), read the latent layer's sigmoid outputs (blob "fc8_kevin_encode", h values per
// image) and set bit i when output i > 0.5, strictly; keep the feature blob ("fc7", after ReLU;
// 4096 values for CaffeNet) for the fine re-ranking. Which blobs play these roles is found from
// the net's structure (find_latent_blob / find_feature_blob) so nets with other names work too.
//
// A setup (make_encode_setup for a dataset, make_image_encode_setup for one image) reads the
// prototxt and the weights file once each, checks them against each other before anything else is
// read, builds the net for the data and loads the weights. encode_dataset and encode_image then
// run it through the same batch step, which assembles the EncodedSet: codes, latent outputs,
// features, labels and names.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "apps/options.h"
#include "data/dataset.h"
#include "data/image.h"
#include "data/transform.h"
#include "formats/caffe_spec.h"
#include "hash/code.h"
#include "nn/net.h"

namespace dlbhc {

// The top of the (last) Sigmoid layer: the latent code activations.
std::string find_latent_blob(Net& net);
// The blob the latent layer (the InnerProduct feeding that Sigmoid) reads: fc7 in the paper.
std::string find_feature_blob(Net& net);

// The feature of a net without a latent layer (a plain classifier, as the paper's pre-trained
// AlexNet): the blob its last InnerProduct layer (the classifier) reads, fc7 in CaffeNet.
std::string find_classifier_feature_blob(Net& net);

// A net ready to encode (TEST phase, weights loaded) and the transform of its input.
struct EncodeSetup {
    NetSpec spec;
    std::unique_ptr<Net> net;
    TransformParam transform;
    std::string mean_file;  // --mean, or the data layer's mean_file as written ("" when none)
    std::string latent_blob, feature_blob;
    int bits = 0, feature_dim = 0;  // values per item of the latent and feature blobs
};

// `ds` fixes the input shape (channels, size) for nets whose data layer has no crop. Before the
// mean file is read and the net is built, every layer of the net that holds parameters must have
// tensors in the weights (else an error naming the layers each side has and the net the weights
// record, formats/weights_file.h recorded_net); after loading, every parameter. `quiet`: no load
// report on stdout.
EncodeSetup make_encode_setup(const PipelineOptions& po, const std::string& weights_path, const Dataset& ds,
                              bool quiet = false);

// make_encode_setup for a net whose features alone are wanted (eval's --baseline-net): a net with
// a latent layer gives its codes and features as above; one without (a plain classifier) gives
// latent_blob "", bits 0 and the features of find_classifier_feature_blob, and encoding it keeps
// no codes (an empty CodeSet) and no activations.
EncodeSetup make_feature_setup(const PipelineOptions& po, const std::string& weights_path, const Dataset& ds,
                               bool quiet = false);

// make_encode_setup for one image (encode and query --image, query --item): `img` is replaced by
// fit_image_to_net's result (apps/net_input.h) before the net is built for it; batch 1, quiet.
EncodeSetup make_image_encode_setup(const PipelineOptions& po, const std::string& weights_path, Image& img,
                                    const std::string& name, bool strict);

class IndexFile;
// Before encoding: the code length the net makes (and, when `features`, its feature dimension)
// against an index its codes will be searched in or appended to. Throws std::invalid_argument
// naming the index, both values and the blob.
void check_net_fits_index(const EncodeSetup& es, const IndexFile& db, bool features);

struct EncodedSet {
    CodeSet codes;
    std::vector<float> features;   // (N, D); empty without features
    int feature_dim = 0;           // D; 0 without features
    std::vector<int32_t> labels;
    std::vector<std::string> names;
    std::vector<float> activations;  // latent sigmoid outputs (N, bits)
};

// Runs the net over every item of ds (in order), a batch at a time, handing `sink` each batch's
// items (an EncodedSet of that batch alone) and the index of its first item: memory stays that of
// one batch whatever ds.size(), for the commands that write as they go (index, encode). A progress
// line on stderr (apps/progress.h) when `progress`. An empty dataset gives no batch.
void encode_batches(EncodeSetup& es, const Dataset& ds, bool keep_features, bool progress,
                    const std::function<void(const EncodedSet&, size_t)>& sink);

// Appends b's items after all's (the same code length and feature dimension).
void append_items(EncodedSet& all, const EncodedSet& b);

// encode_batches gathered into one set. Throws for an empty dataset.
EncodedSet encode_dataset(EncodeSetup& es, const Dataset& ds, bool keep_features, bool progress);

// encode_dataset, except that an empty dataset (a shard of a dataset smaller than N,
// apps/sharding.h) gives an empty set with the net's code length and feature dimension instead of
// an error.
EncodedSet encode_maybe_empty(EncodeSetup& es, const Dataset& ds, bool keep_features, bool progress);

// Encodes one image (already decoded and fitted to the net) as item 0 of a batch: label -1, name
// `name`, with features.
EncodedSet encode_image(EncodeSetup& es, const Image& img, const std::string& name);

// Share of latent outputs within 0.1 of 0 or 1, and per-bit balance (share of ones), from
// activations (n, bits).
struct Binariness {
    double near_binary = 0;
    std::vector<double> ones;  // per bit
    double mean_balance_gap = 0;  // mean over bits of |ones - 0.5|
};
Binariness binariness(const std::vector<float>& acts, int bits);
// The same summed a batch at a time (no need to keep every activation).
class BinarinessSum {
public:
    explicit BinarinessSum(int bits);
    void add(const float* acts, size_t n);  // n items of `bits` activations
    Binariness result() const;

private:
    int bits_;
    size_t n_ = 0, near_ = 0;
    std::vector<size_t> ones_;
};

}  // namespace dlbhc
