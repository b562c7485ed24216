// nn/layer.h -- the layer contract (after Caffe's layer.hpp, kept small).
//
// A Blob is a named activation with its gradient (data, diff). A Param is a learnable tensor with
// its gradient and Caffe's per-parameter multipliers. A Layer:
//   shapes(bottom shapes)  states the layer's rules once, from shapes alone: whether it accepts
//                          the bottoms, the shapes of its tops and parameters; buffer_floats()
//                          the size of its own buffers. Nothing is allocated, so the net builder
//                          asks them to size a whole net before building it;
//   reshape(bottom, top)   follows shapes(): throws its error, sets the top shapes, allocates its
//                          own buffers and, the first time, its parameters (values zero; the Net
//                          or a test fills them);
//   forward(bottom, top)   computes top->data from bottom->data;
//   backward(top, bottom)  reads top->diff, ACCUMULATES (+=) into param grads and, where
//                          propagate_down(i), into bottom[i]->diff. An in-place layer
//                          (top[0] == bottom[0]) instead rewrites the shared diff in place.
// The Net zeroes blob diffs before a backward pass; the solver zeroes param grads.
#pragma once
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "nn/filler.h"
#include "nn/tensor.h"

namespace dlbhc {

enum class Phase { Train, Test };

struct Blob {
    std::string name;
    Tensor data, diff;
    Blob() = default;
    explicit Blob(std::string n, Shape s = Shape(0)) : name(std::move(n)) { reshape(s); }
    void reshape(Shape s) { data.reshape(s); diff.reshape(s); }
    const Shape& shape() const { return data.shape(); }
    size_t count() const { return data.count(); }
};

struct Param {
    std::string name;    // "<layer>.weight" or "<layer>.bias"
    Tensor value, grad;  // same shape
    float lr_mult = 1.0f, decay_mult = 1.0f;
    FillerParam filler;  // how the Net initialises it
    void reshape(Shape s) { value.reshape(s); grad.reshape(s); }
};

// Per-parameter multipliers, as Caffe's `param { lr_mult decay_mult }`, in the layer's parameter
// order (weight, then bias). Missing entries default to 1.
struct ParamSpec {
    float lr_mult = 1.0f, decay_mult = 1.0f;
};

using Blobs = std::vector<Blob*>;

// How many bottom and top blobs a layer takes (Caffe's Min/MaxBottomBlobs, Min/MaxTopBlobs). Each
// layer class states its own as kBlobs; its reshape and the prototxt reader both check them.
struct BlobCounts {
    int min_bottom, max_bottom, min_top, max_top;
};

// A learnable blob a layer creates: the suffix of its name ("weight" -> "<layer>.weight") and its
// shape.
struct ParamShape {
    std::string name;
    Shape shape;
};

// What a layer makes of the shapes of its bottoms (Layer::shapes).
struct LayerShapes {
    std::string error;              // why the layer rejects these bottoms; "" when it accepts them
    std::vector<Shape> top;         // each top it can write; given fewer tops it writes the first ones
    std::vector<ParamShape> param;  // its learnable blobs, in order (weight, then bias)
};

class Layer {
public:
    explicit Layer(std::string name) : name_(std::move(name)) {}
    virtual ~Layer() = default;
    Layer(const Layer&) = delete;
    Layer& operator=(const Layer&) = delete;

    virtual const char* type() const = 0;  // Caffe's type string, e.g. "Convolution"
    // The layer's rules, from shapes alone (bottom holds one shape per bottom blob, as many as
    // kBlobs allows): see LayerShapes. reshape() follows this answer.
    virtual LayerShapes shapes(const std::vector<Shape>& bottom) const = 0;
    // Floats in the layer's own buffers (workspace, max-pool indices, LRN scales, ...) for bottoms
    // that shapes() accepts: what reshape() allocates besides the tops and parameters. A byte
    // buffer counts a quarter float per byte.
    virtual double buffer_floats(const std::vector<Shape>& bottom) const { return 0; }
    virtual void reshape(const Blobs& bottom, const Blobs& top) = 0;
    virtual void forward(const Blobs& bottom, const Blobs& top) = 0;
    virtual void backward(const Blobs& top, const Blobs& bottom) = 0;
    // Loss layers return true; their top[0] is a (1) scalar whose diff the Net seeds with the loss
    // weight before backward.
    virtual bool is_loss() const { return false; }
    // Layers that may run with top[0] == bottom[0].
    virtual bool allows_in_place() const { return false; }
    // Bottoms that are never differentiated (a label input).
    virtual bool differentiable_bottom(int i) const { return true; }

    const std::string& name() const { return name_; }
    std::vector<Param>& params() { return params_; }
    Param& param(size_t i) { return params_.at(i); }

    Phase phase() const { return phase_; }
    void set_phase(Phase p) { phase_ = p; }

    // Whether backward must compute bottom[i]->diff; default true. The Net turns it off for inputs
    // that need no gradient, which spares e.g. conv1 its data gradient.
    bool propagate_down(size_t i) const { return i >= prop_down_.size() || prop_down_[i]; }
    void set_propagate_down(std::vector<bool> v) { prop_down_ = std::move(v); }

    // Sets lr_mult/decay_mult of the parameters from specs (in order).
    void set_param_specs(const std::vector<ParamSpec>& specs);

protected:
    // Creates the parameters on the first reshape; later calls check the shapes still agree.
    // Returns true when they were just created.
    bool ensure_param(size_t index, const std::string& suffix, Shape s, const FillerParam& f);
    // Throws std::invalid_argument "<type> layer '<name>': <msg>".
    [[noreturn]] void fail(const std::string& msg) const;
    void check_counts(const Blobs& bottom, const Blobs& top, const BlobCounts& counts) const;
    // Asks shapes() about the bottoms, throws its error, and gives every top that is not also its
    // bottom (in place) the shape shapes() gives it. Returns the answer, for the parameters.
    LayerShapes reshape_tops(const Blobs& bottom, const Blobs& top);

    std::string name_;
    std::vector<Param> params_;
    std::vector<ParamSpec> pending_specs_;
    Phase phase_ = Phase::Train;
    std::vector<bool> prop_down_;
};

}  // namespace dlbhc
