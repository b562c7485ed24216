// formats/layer_registry.h -- the Caffe layer types dlbhc reads, one row each (as Caffe's layer
// registry maps a type string to its creator): how a layer of the type is read from a prototxt,
// described, and made into an nn/ layer. formats/caffe_spec.cpp reads every layer through its
// row, and formats/net_builder.cpp builds every layer through it; neither names a type.
//
// The layer's own rules are not here: what it accepts, the shapes of its tops and parameters and
// the size of its buffers are stated once by the nn/ layer (Layer::shapes, Layer::buffer_floats,
// kBlobs), and the builder asks the layer made by the row's factory. ARCHITECTURE.md ("How to add
// a layer") walks through a new row.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "formats/caffe_spec.h"
#include "nn/layer.h"

namespace dlbhc {

// Seeds for the layers of one net that draw random numbers: the k-th layer that asks (in file
// order) gets first + k. NetBuildOptions::dropout_seed is `first`.
struct LayerSeeds {
    uint64_t first = 1;
    uint64_t taken = 0;
    uint64_t next() { return first + taken++; }
};

struct LayerType {
    const char* type;                 // Caffe's type string (V2 `type: "Convolution"`)
    const char* v1;                   // V1LayerParameter's enum (`type: CONVOLUTION`); nullptr: none
    std::vector<std::string> blocks;  // the *_param blocks the layer takes (others are errors)
    BlobCounts blobs;                 // bottoms and tops: the nn/ layer's kBlobs
    bool auto_top;                    // a missing top is named after the layer, as Caffe does for losses

    // Reads the type's settings from the layer block `m` into l (l.type_settings, or for the
    // net's inputs l.data / l.transform / l.input_shapes); `where` names the layer in errors.
    void (*read)(const PtxMessage& m, LayerSpec& l, const std::string& where);
    // How many learnable blobs (param { } blocks) the layer has; nullptr: none.
    size_t (*learnable_blobs)(const LayerSpec& l);
    // Every setting of the type, for describe_layer (" {num_output 20, ...}"); nullptr: none.
    std::string (*describe)(const LayerSpec& l);
    // Makes the nn/ layer (parameter multipliers are set by the caller); nullptr for the types
    // that declare net inputs instead.
    std::unique_ptr<Layer> (*make)(const LayerSpec& l, LayerSeeds& seeds);
    // Input, Data, ImageData: the dims of the net input each top declares (0: not known from the
    // file; the build options must give it). nullptr for every other type.
    std::vector<std::vector<int64_t>> (*net_inputs)(const LayerSpec& l);
};

// Every row, in the order error messages list the types.
const std::vector<LayerType>& layer_types();
// The row of a V2 type string, or nullptr.
const LayerType* find_layer_type(const std::string& type);
// The row of a V1 enum name ("CONVOLUTION"), or nullptr.
const LayerType* find_layer_type_v1(const std::string& v1);
// The row of an existing LayerSpec (its type was checked when it was read); std::logic_error
// otherwise.
const LayerType& layer_type_of(const LayerSpec& l);

}  // namespace dlbhc
