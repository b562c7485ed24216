// tests/nn/gradcheck.h -- finite-difference gradient checker for layers and nets (after Caffe's
// test_gradient_check_util.hpp, written anew).
//
// The objective is L = sum over tops t, items i of r_t[i] * top_t[i], with fixed random weights r
// in [-1, 1], accumulated in double. The analytic gradient comes from one backward pass with
// top diffs = r; the numeric one from central differences (L(x+eps) - L(x-eps)) / (2 eps), each
// L evaluated by a full forward pass from restored inputs. A value passes when
//     |analytic - numeric| <= atol + rtol * max(|analytic|, |numeric|).
// Non-differentiable points (the ReLU kink at 0, max-pool ties) are avoided on purpose by the
// tests' inputs; for nets where they cannot be placed by hand, skip_kinks drops a point whose
// one-sided slopes disagree (a kink inside [x-eps, x+eps]) and counts it, and the check fails if
// more than max_skip_fraction of the points were dropped.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "nn/layer.h"
#include "nn/net.h"

namespace dlbhc {

struct GradCheckOptions {
    double eps = 1e-2;
    double rtol = 2e-2;
    double atol = 2e-3;
    bool skip_kinks = false;
    double max_skip_fraction = 0.1;
    size_t max_points_per_tensor = 0;  // 0: every element; else a seeded random sample
    uint64_t seed = 1234;
    std::vector<bool> check_bottom;  // empty: every differentiable bottom
    bool check_params = true;
    std::function<void()> before_forward;  // e.g. reset a dropout generator
};

struct GradCheckReport {
    size_t checked = 0, skipped = 0, failed = 0;
    double worst_err = 0;      // largest |a - n| - (atol + rtol * scale), negative when all pass
    std::string worst_where;   // "bottom 0 [17]: analytic .. numeric .."
    std::vector<std::string> failures;  // first few failures
    bool ok(double max_skip_fraction) const;
    std::string summary() const;
};

// Checks a layer whose bottoms hold the inputs (kept unchanged) and whose params hold values.
GradCheckReport check_layer_gradients(Layer& layer, const Blobs& bottom, const Blobs& top,
                                      const GradCheckOptions& opt = {});

// Checks a whole net: the objective is the net's loss (from forward()); checks the gradient with
// respect to every parameter and to the named input blobs.
GradCheckReport check_net_gradients(Net& net, const std::vector<std::string>& inputs,
                                    const GradCheckOptions& opt = {});

namespace detail {
// One tensor whose entries are perturbed: its live storage, the analytic gradient copied out of
// the backward pass, and a label for messages.
struct Target {
    float* value;
    std::vector<float> analytic;
    size_t count;
    std::string label;
};
// Compares analytic and central-difference gradients for every (sampled) entry of the targets.
void compare(std::vector<Target>& targets, const std::function<double()>& objective,
             const GradCheckOptions& opt, GradCheckReport& rep);
}  // namespace detail

}  // namespace dlbhc
