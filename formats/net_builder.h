// formats/net_builder.h -- NetSpec (a parsed Caffe prototxt) -> a ready dlbhc::Net for one phase.
//
// This is how one prototxt serves every experiment: the latent size (48, 128, any), the class
// count, the batch and the input size are chosen at build time instead of copying the file.
//
// What the builder does, in file order over the layers active in the phase (LayerSpec::in_phase):
//   - net-level inputs (`input` + shape) and Input layers become Net inputs;
//   - a Data / ImageData layer becomes inputs too: its top[0] "data" is (batch, C, H, W) with
//     batch = data_param.batch_size, C = 3 (1 for ImageData is_color: false), H = W =
//     transform_param.crop_size, or ImageData's new_height x new_width when there is no crop; its
//     top[1] "label" is (batch, 1, 1, 1). The data code reads the layer's settings from
//     NetSpec::data_layer(phase) and fills these blobs;
//   - every other layer is made by its type's factory (formats/layer_registry.h), given its
//     multipliers and added by name. Its sizes are the layer's own answers (Layer::shapes,
//     Layer::buffer_floats): the builder never works out a layer's shapes itself.
// The "image input" is the first input created (a data layer's top[0], or the first declared input).
//
// Overrides (NetBuildOptions; 0 keeps the file's value):
//   batch           dim 0 of every input
//   channels/height/width   of the image input (needed when a 227x227 net is fed 32x32 data, or
//                   a Data layer has no crop_size)
//   latent_bits     num_output of the latent layer: the InnerProduct whose top a Sigmoid reads
//                   (following in-place layers back); exactly one such layer must exist
//   num_classes     num_output of the classifier: the InnerProduct whose top SoftmaxWithLoss,
//                   Softmax or Accuracy reads as scores; exactly one such layer must exist
//   dropout_seed    the k-th Dropout layer of the built net (k = 0, 1, ...) is seeded
//                   dropout_seed + k (as nn/models.cpp: drop6 seed, drop7 seed + 1)
// Parameter values are left zero: call Net::init_params (fillers) or load weights.
//
// Errors (std::invalid_argument, "file:line:col: layer 'name': ..."): a layer rejecting its input
// shape, duplicate layer names within the phase, a missing bottom, parameter sharing (the same
// param name in two layers; not supported), a nonzero loss_weight on a top other than the first,
// an override that matches no layer or several, and any tensor (input, top, parameter or a
// layer's buffers) larger than max_tensor_floats -- checked before it is allocated.
//
// Limits on the whole net, checked before anything is allocated (errors name the net file):
//   max_layers      layers active in the phase; 0: $DLBHC_MAX_NET_LAYERS, else kDefaultMaxNetLayers
//   max_net_bytes   the memory the built net will hold, worked out from the shapes alone:
//                   every blob (values and gradients), every parameter (values and gradients)
//                   and the layers' own buffers (convolution workspace, pooling indices, LRN
//                   scales, softmax probabilities, dropout masks); the solver adds one more copy
//                   of the parameters (momentum) on top. 0: $DLBHC_MAX_NET_BYTES (bytes, or with a
//                   K, M, G or T suffix for KiB ... TiB), else kDefaultMaxNetBytes. CaffeNet-DLBHC
//                   at batch 256 needs 2.9 GiB.
// Building is linear in the number of layers (name lookups by hash, backward flags worked out
// once per added layer).
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "formats/caffe_spec.h"
#include "nn/net.h"

namespace dlbhc {

struct NetBuildOptions {
    int batch = 0;
    int channels = 0, height = 0, width = 0;
    int latent_bits = 0;
    int num_classes = 0;
    uint64_t dropout_seed = 1;
    size_t max_tensor_floats = size_t(1) << 30;  // 4 GiB per tensor
    uint64_t max_net_bytes = 0;  // 0: $DLBHC_MAX_NET_BYTES or kDefaultMaxNetBytes (see above)
    size_t max_layers = 0;       // 0: $DLBHC_MAX_NET_LAYERS or kDefaultMaxNetLayers
};

constexpr uint64_t kDefaultMaxNetBytes = uint64_t(8) << 30;  // 8 GiB
constexpr size_t kDefaultMaxNetLayers = 10000;

// What a net built from `spec` for `phase` will allocate, from the shapes alone (as checked
// against max_net_bytes). Layers after one whose shape cannot be worked out (it would fail to
// build) are not counted.
struct NetFootprint {
    uint64_t blob_bytes = 0, param_bytes = 0, buffer_bytes = 0;
    size_t layers = 0;
    uint64_t total() const { return blob_bytes + param_bytes + buffer_bytes; }
};
NetFootprint net_footprint(const NetSpec& spec, Phase phase, const NetBuildOptions& opt = {});

// Builds the net of `spec` for `phase`. The Net's name is the spec's name (or its file name).
std::unique_ptr<Net> build_net(const NetSpec& spec, Phase phase, const NetBuildOptions& opt = {});

// The part of the net in `phase` that makes the hash codes and the features: the top of the last
// Sigmoid (the latent blob, apps/encode.h) and every layer it depends on by blob name (the
// latent InnerProduct, the feature layer and everything below them; not the classifier or the
// loss), or every layer of the phase when there is no Sigmoid. Data and Input layers are left
// out: the input's size and preprocessing are recorded apart (apps/provenance.h). latent_bits > 0
// sets the latent layer's num_output as build_net does (when the phase has a latent layer).
// `description` holds one line per layer, in file order: describe_layer of the layer without
// what only training uses (phase rules, lr/decay multipliers, parameter names, loss weights,
// fillers). So a train_val file and a deploy file of one net, V1 or V2 layout, with any comments
// or spacing, describe the same code path; any setting that changes the codes changes it.
struct CodePath {
    std::vector<std::string> layers;  // names, in file order
    std::string description;
};
CodePath code_path(const NetSpec& spec, Phase phase, int latent_bits);

// The shape of every blob of the net build_net would build, worked out from the shapes alone
// (nothing is allocated), by blob name. A layer whose shape cannot be worked out (it would fail to
// build) ends the walk: its tops and those after it are absent. Throws as build_net for an input
// whose size is not known or a tensor above the limits.
std::map<std::string, Shape> blob_shapes(const NetSpec& spec, Phase phase, const NetBuildOptions& opt = {});

// The dims (N, C, H, W) a Data / ImageData layer gives its top[0] as the prototxt states them:
// C = 3 (1 for ImageData is_color: false or force_gray), H = W = crop_size, or ImageData's
// new_height x new_width; 0 for a size it does not state (a Data layer without crop_size, whose
// size the data decide).
std::vector<int64_t> data_layer_dims(const LayerSpec& l);
// The dims of the image input of `phase` as the prototxt states them (the first net-level input,
// Input layer or data layer: see the top of this file); empty when the net has none.
std::vector<int64_t> image_input_dims(const NetSpec& spec, Phase phase);
// The layers of `phase` that hold parameters (Convolution, InnerProduct), in file order: the
// layers a weights file must have tensors for ("<layer>.weight", "<layer>.bias").
std::vector<std::string> layers_with_params(const NetSpec& spec, Phase phase);

// The layers the latent_bits / num_classes overrides change in `phase` (names; "" when there is
// none; throws when there are several). Lets a caller report or check them before building.
std::string find_latent_layer(const NetSpec& spec, Phase phase);
std::string find_classifier_layer(const NetSpec& spec, Phase phase);

}  // namespace dlbhc
