// nn/net.h -- a Net: layers and named blobs wired bottom -> top, as in Caffe.
//
// Blobs are created by name: a net input (add_input), or the top of a layer. A layer whose top
// names its bottom runs in place (ReLU, Dropout), and later layers see the new values under the
// same name. forward() runs the layers in the order they were added and returns the total loss
// (sum over loss layers of loss_weight * loss); backward() seeds each loss top with its weight and
// runs the layers in reverse, skipping those that no parameter and no requested input depends on.
// As in Caffe, a layer with loss weight w adds w * (sum of the elements of its top[0]) to the loss,
// and backward seeds every element of that top's diff with w. Loss layers have weight 1 by default
// (their top is a scalar); other layers contribute only when given a weight.
// In place: a layer that reads a blob before an in-place layer rewrites it must not need that
// blob's old values in its own backward (Caffe's nets never do this; ReLU after conv/fc is safe).
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "nn/layer.h"
#include "nn/rng.h"

namespace dlbhc {

class Net {
public:
    explicit Net(std::string name = "net") : name_(std::move(name)) {}

    const std::string& name() const { return name_; }

    // Declares an input blob (data, label). Inputs get no gradient unless requested.
    Blob* add_input(const std::string& name, Shape s);
    // Adds a layer reading `bottoms` and writing `tops` (blob names). Tops that do not exist yet
    // are created; a top equal to a bottom means in place (only for layers that allow it).
    // If the layer rejects its input (reshape throws), the net is left unchanged.
    // loss_weight < 0 means the default: 1 for loss layers, 0 otherwise.
    // propagate_down (Caffe's): empty, or one flag per bottom; false keeps the gradient from that
    // bottom even when it needs one (SSDH's losses read one blob twice and differentiate the first).
    Layer* add(std::unique_ptr<Layer> layer, const std::vector<std::string>& bottoms,
               const std::vector<std::string>& tops, float loss_weight = -1.0f,
               const std::vector<bool>& propagate_down = {});

    // Recomputes every layer's output shape (after an input was reshaped); add() already did once.
    void reshape();
    // Fills every parameter from its filler, in layer order, from `rng`.
    void init_params(Rng& rng);

    // layer_seconds, when given, receives each layer's wall time (resized to layers().size()).
    // after_layer, when given, is called with each layer's index right after its forward (outside
    // the timing): `dlbhc audit` reads a layer's output there, before an in-place layer rewrites it.
    double forward(std::vector<double>* layer_seconds = nullptr,
                   const std::function<void(size_t layer_index)>& after_layer = {});
    void backward(std::vector<double>* layer_seconds = nullptr);
    void zero_param_grads();

    void set_phase(Phase p);
    Phase phase() const { return phase_; }
    // Makes backward() compute the gradient of an input blob (used by gradient checks).
    void set_input_needs_grad(const std::string& name, bool on = true);

    Blob* blob(const std::string& name);  // throws std::out_of_range naming the blob
    bool has_blob(const std::string& name) const { return blob_index_.count(name) > 0; }
    Layer* layer(const std::string& name);  // throws std::out_of_range naming the layer
    // The blobs a layer reads and writes (index as in layers()).
    const Blobs& bottoms(size_t layer_index) const { return wiring_.at(layer_index).bottom; }
    const Blobs& tops(size_t layer_index) const { return wiring_.at(layer_index).top; }
    const std::vector<std::unique_ptr<Layer>>& layers() const { return layers_; }
    std::vector<std::string> blob_names() const;
    // Every learnable parameter, in layer order ("conv1.weight", "conv1.bias", ...).
    std::vector<Param*> params();
    Param* param(const std::string& name);  // throws std::out_of_range

    // Steps taken to work out which layers need backward, over the net's life: one per layer
    // added (and one per layer for each set_input_needs_grad). Lets a test check that building
    // is linear in the number of layers.
    size_t wiring_steps() const { return wiring_steps_; }

    // What each weighted top (a loss layer's, or any top given a loss weight) added to the total
    // of the last forward, in layer order: the top's name, the sum of its elements and its weight,
    // so that value * weight summed over them is what forward() returned. Caffe prints these as
    // "Train net output #k: <top> = <value> (* <weight> = <product> loss)".
    struct LossOutput {
        std::string top;
        double value = 0;
        float weight = 0;
    };
    std::vector<LossOutput> loss_outputs() const;

private:
    struct Wiring {
        Blobs bottom, top;
        float loss_weight = 0;
        std::vector<bool> propagate_down;  // from add(); empty: no bottom is held back
        bool needs_backward = false;
    };
    Blob* get_or_create(const std::string& name);
    // Which layers need backward, from scratch (after an input's gradient request changed).
    void update_backward_needs();
    // The same for layer l alone, given the flags of the layers before it: add() runs it for the
    // new layer only, so adding n layers costs O(n) in all, not O(n^2).
    void propagate_needs(size_t l);

    std::string name_;
    Phase phase_ = Phase::Train;
    std::vector<std::unique_ptr<Blob>> blobs_;
    std::map<std::string, size_t> blob_index_;
    std::vector<std::string> inputs_;
    std::map<std::string, bool> input_needs_grad_;
    std::vector<std::unique_ptr<Layer>> layers_;
    std::unordered_map<std::string, size_t> layer_index_;  // name -> index in layers_
    std::vector<Wiring> wiring_;
    // Blobs downstream of a parameter or of an input whose gradient is requested.
    std::unordered_map<const Blob*, bool> blob_needs_grad_;
    size_t wiring_steps_ = 0;
};

}  // namespace dlbhc
