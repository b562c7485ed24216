// formats/caffe_spec.h -- a Caffe NetParameter (.prototxt) read into typed structs: the layers, their
// settings and wiring, before any Net is built (formats/net_builder.h builds one).
//
// Covered: the subset of caffe.proto used by the deploy and train/test nets of LeNet, CaffeNet,
// AlexNet, the DLBHC nets of Lin et al. (caffe-cvprw15) and their SSDH net (Caffe-DeepBinaryCode:
// propagate_down, loss_weight on every loss), in both layouts Caffe reads:
//   V2  `layer { type: "Convolution" ... param { lr_mult decay_mult } }`
//   V1  `layers { type: CONVOLUTION ... blobs_lr weight_decay }` (the enum is mapped to the V2
//       type string, so both read into the same LayerSpec).
// Net inputs: `input` + `input_shape { dim }` or `input_dim` (4 per input), or Input layers
// (`input_param { shape { dim } }`), or the tops of a Data / ImageData layer.
// Layer types: the rows of formats/layer_registry.cpp (Convolution, Pooling, InnerProduct, LRN,
// Dropout, ReLU, Sigmoid, Softmax, SoftmaxWithLoss, Accuracy, K1_EuclideanLoss, K2_EuclideanLoss,
// Reshape, Input, Data, ImageData). The
// per-type settings are the layers' own structs (ConvParam, PoolingParam, ...; see
// LayerSpec::settings); only the data-layer settings (source, batch, transform_param) have
// structs of their own here, for the data code to use.
//
// Strictness: an unknown field anywhere, a known field on a layer it does not apply to
// (pooling_param on a Convolution), an unknown or unsupported layer type, a setting dlbhc does not
// implement (dilation 2, STOCHASTIC pooling, WITHIN_CHANNEL LRN, msra filler, NetStateRule
// levels/stages) or a value out of range (num_output 0, kernel 0, num_output not divisible by
// group, dropout_ratio 1) is a std::runtime_error "file:line:col: ..." naming the token.
// Nothing is silently ignored, except `engine` (a Caffe/cuDNN implementation choice) and the
// net-level `force_backward` / `debug_info` flags. Checks that need the input shape (channels
// divisible by group, kernel larger than the input) happen when the net is built.
#pragma once
#include <any>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "formats/prototxt.h"
#include "nn/layer.h"

namespace dlbhc {

// Caffe's NetStateRule, phase only (min_level / max_level / stage / not_stage are rejected).
// A rule without a phase matches every phase.
struct PhaseRule {
    bool has_phase = false;
    Phase phase = Phase::Train;
};

// Caffe's TransformationParameter (transform_param of a data layer).
struct TransformSpec {
    bool present = false;           // whether the layer had a transform_param block
    int crop_size = 0;              // 0: no crop
    bool mirror = false;            // random horizontal flip at TRAIN time
    std::string mean_file;          // as written in the prototxt ("" = none)
    std::vector<float> mean_value;  // per channel (one value: the same for every channel)
    float scale = 1.0f;             // applied after mean subtraction
    bool force_color = false, force_gray = false;
};

// The source settings of a Data (data_param) or ImageData (image_data_param) layer.
struct DataSourceSpec {
    std::string source;   // LMDB/LevelDB folder (Data) or list file "path label" (ImageData), as written
    int batch_size = 0;
    int rand_skip = 0;
    std::string backend = "LEVELDB";  // Data only: LEVELDB or LMDB (Caffe's default is LEVELDB)
    // ImageData only:
    int new_height = 0, new_width = 0;  // 0: no resize
    bool shuffle = false;
    bool is_color = true;
    std::string root_folder;
};

struct LayerSpec {
    std::string name;
    std::string type;  // V2 type string ("Convolution"); V1 enums are mapped to it
    std::vector<std::string> bottom, top;
    std::vector<ParamSpec> param;          // per learnable blob, in order (weight, bias)
    std::vector<std::string> param_name;   // `param { name }` / V1 `param: "name"`, "" when unnamed
    std::vector<float> loss_weight;        // per top; empty = Caffe's default
    // Per bottom: false stops the gradient to that bottom (Caffe's propagate_down); empty = every
    // bottom that needs a gradient gets one. Given, it has one entry per bottom.
    std::vector<bool> propagate_down;
    std::vector<PhaseRule> include, exclude;

    // The settings of an nn/ layer type: the layer's own struct, as its row's reader fills it
    // (ConvParam for a Convolution, PoolingParam for a Pooling, ...; none for Sigmoid). Held
    // without a field per type, so that a new layer type needs no change here.
    std::any type_settings;
    // The net's inputs, which the builder turns into Net inputs rather than nn/ layers:
    DataSourceSpec data;                             // Data, ImageData
    TransformSpec transform;                         // Data, ImageData
    std::vector<std::vector<int64_t>> input_shapes;  // Input: one shape per top (or one for all)

    PtxLocation loc;  // where the layer { / layers { block starts

    // Caffe's StateMeetsRule: with include rules, the layer is in a phase when one of them matches;
    // with exclude rules, when none matches; with neither, always.
    bool in_phase(Phase p) const;

    // The settings as P (l.settings<ConvParam>().group); std::logic_error when the layer holds
    // settings of another type (callers check `type` first).
    template <class P>
    P& settings() {
        if (P* p = std::any_cast<P>(&type_settings)) return *p;
        throw std::logic_error("layer '" + name + "' (" + type + ") holds no settings of the type asked for");
    }
    template <class P>
    const P& settings() const {
        return const_cast<LayerSpec*>(this)->settings<P>();
    }
};

// A net-level input (`input` with `input_shape` or `input_dim`).
struct NetInputSpec {
    std::string name;
    std::vector<int64_t> dims;  // 1 to 4 dims, (N, C, H, W) order
    PtxLocation loc;
};

struct NetSpec {
    std::string name;  // the `name` field ("" when absent)
    std::string file;  // the name given to the parser
    bool v1 = false;   // the layers were written as V1 `layers { }`
    std::vector<NetInputSpec> inputs;
    std::vector<LayerSpec> layers;  // in file order, every phase

    // The layers active in phase p, in file order.
    std::vector<const LayerSpec*> layers_in(Phase p) const;
    // The Data / ImageData layer active in phase p, or null. (Several: an error naming both.)
    const LayerSpec* data_layer(Phase p) const;
};

// Maps a parsed NetParameter onto a NetSpec (see the top of this file for what is checked).
NetSpec net_spec_from_ptx(const PtxMessage& root);
// Parses `text` (`name` is used in error messages, like a file name).
NetSpec parse_net_spec(const std::string& text, const std::string& name);
// Reads and parses the file at `path`.
NetSpec load_net_spec(const std::string& path);

// A canonical one-line description of a layer: type, wiring, multipliers, phase rules and every
// setting of its type. Two layers with the same description build the same layer (used to check
// that a V1 file and a V2 file describe the same net, and by `dlbhc net`).
std::string describe_layer(const LayerSpec& l);
// "Phase::Train" -> "TRAIN".
const char* phase_name(Phase p);

}  // namespace dlbhc
