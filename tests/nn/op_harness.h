// tests/nn/op_harness.h -- one harness for every layer (after ggml's test-backend-ops). A row (OpCase)
// names a layer on given bottoms, the one reference forward of its type (the nn/ naive kernel, in
// double) and an input generator that keeps clear of the layer's kinks (no ReLU input near 0, no
// max-pool ties). run_op checks, and reports every failure rather than asserting, so that a test
// can show that a wrong layer fails it:
//   shapes    the layer's own answer (Layer::shapes) is what its reshape makes: top and parameter
//             shapes and names;
//   forward   every top against the reference: |y - ref| <= fwd_atol + fwd_rtol |ref|;
//   backward  with L = sum over tops of r . top (r fixed, random in [-1, 1]), the float backward
//             of the layer against central differences of the double reference with a step of
//             eps = 1e-6 (accurate to about 1e-9), for every differentiable bottom and every
//             parameter:  |analytic - numeric| <= atol + rtol max(|analytic|, |numeric|)
//             -- float accuracy, tight enough to see a missing term of 1e-4 of the gradient;
//   +=        backward adds to the gradients already there (an in-place layer rewrites its
//             bottom's), and leaves a bottom without a gradient (labels) alone.
// A row whose layer has no gradient at all (Accuracy) gets the shape and forward checks only.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "nn/layer.h"
#include "nn/rng.h"

namespace dlbhc {

using Vec = std::vector<double>;

// A double copy of a tensor's values.
Vec to_double(const Tensor& t);

struct OpCase {
    std::string name;                               // says which layer and configuration
    std::function<std::unique_ptr<Layer>()> make;   // the layer under test
    std::vector<Shape> bottom;                      // its bottoms' shapes
    // Fills bottom i: the generator that avoids the layer's kinks. Unset: uniform in [-1, 1].
    std::function<void(size_t i, Tensor& t, Rng& rng)> fill;
    // The values of every top from the values of the bottoms and the parameters, in double.
    // `layer` is the one under test, after its forward: for state the reference shares with it
    // (the dropout mask, the phase).
    std::function<std::vector<Vec>(const Layer& layer, const std::vector<Vec>& bottom, const std::vector<Vec>& param)>
        reference;
    size_t tops = 1;        // how many tops the layer is given
    // Whether backward reads each top's gradient; empty: every top does. A top that does not gets
    // a random gradient that must change nothing (r = 0 for it in L).
    std::vector<bool> top_has_gradient;
    bool in_place = false;  // top 0 is bottom 0
    Phase phase = Phase::Train;
    float param_range = 0.5f;  // parameters uniform in [-range, range]
    double fwd_rtol = 1e-4, fwd_atol = 1e-5;
    double rtol = 1e-4, atol = 1e-5, eps = 1e-6;
    uint64_t seed = 1;
};

struct OpReport {
    size_t forward_checked = 0, forward_failed = 0;
    size_t gradient_checked = 0, gradient_failed = 0;
    size_t other_failed = 0;            // shapes, accumulation, a throwing layer
    std::vector<std::string> failures;  // the first few, each naming the check, tensor and index
    bool ok() const { return forward_checked > 0 && forward_failed + gradient_failed + other_failed == 0; }
    std::string summary() const;
};

OpReport run_op(const OpCase& c);

// Generators.
// Uniform in [lo, hi].
std::function<void(size_t, Tensor&, Rng&)> uniform_in(float lo, float hi);
// Uniform in [-hi, -gap] U [gap, hi]: no value within `gap` of a kink at 0.
std::function<void(size_t, Tensor&, Rng&)> away_from_zero(float gap, float hi = 1.0f);
// A shuffled ramp of distinct values `gap` apart around 0: no two inputs tie (max pooling).
std::function<void(size_t, Tensor&, Rng&)> distinct(float gap);

}  // namespace dlbhc
