// tests/nn/gradcheck.cpp -- see gradcheck.h.
#include "tests/nn/gradcheck.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "nn/rng.h"

namespace dlbhc {

bool GradCheckReport::ok(double max_skip_fraction) const {
    if (failed > 0 || checked == 0) return false;
    return (double)skipped <= max_skip_fraction * (double)(checked + skipped);
}

std::string GradCheckReport::summary() const {
    char buf[256];
    std::snprintf(buf, sizeof buf, "checked %zu, skipped %zu (kinks), failed %zu; worst margin %.3g at ",
                  checked, skipped, failed, worst_err);
    std::string s = buf + worst_where;
    for (const auto& f : failures) s += "\n  FAIL " + f;
    return s;
}

namespace detail {

static std::vector<size_t> pick_points(size_t count, size_t max_points, Rng& rng) {
    std::vector<size_t> idx(count);
    std::iota(idx.begin(), idx.end(), 0);
    if (max_points == 0 || count <= max_points) return idx;
    for (size_t i = 0; i < max_points; ++i) std::swap(idx[i], idx[i + rng.below((uint32_t)(count - i))]);
    idx.resize(max_points);
    std::sort(idx.begin(), idx.end());
    return idx;
}

void compare(std::vector<Target>& targets, const std::function<double()>& objective,
             const GradCheckOptions& opt, GradCheckReport& rep) {
    Rng rng(opt.seed ^ 0x5eed);
    rep.worst_err = -1e300;
    double f0 = opt.skip_kinks ? objective() : 0.0;
    for (auto& t : targets) {
        for (size_t i : pick_points(t.count, opt.max_points_per_tensor, rng)) {
            float saved = t.value[i];
            t.value[i] = saved + (float)opt.eps;
            double fp = objective();
            t.value[i] = saved - (float)opt.eps;
            double fm = objective();
            t.value[i] = saved;
            // The actual step in float may differ slightly from eps; use the real one.
            double h = ((double)(saved + (float)opt.eps) - (double)(saved - (float)opt.eps)) / 2;
            double numeric = (fp - fm) / (2 * h);
            double a = t.analytic[i];
            if (opt.skip_kinks) {
                double left = (f0 - fm) / h, right = (fp - f0) / h;
                if (std::fabs(left - right) > 10 * (opt.atol + opt.rtol * std::max(std::fabs(left), std::fabs(right)))) {
                    rep.skipped++;
                    continue;
                }
            }
            rep.checked++;
            double scale = std::max(std::fabs(a), std::fabs(numeric));
            double margin = std::fabs(a - numeric) - (opt.atol + opt.rtol * scale);
            char where[200];
            std::snprintf(where, sizeof where, "%s [%zu]: analytic %.6g numeric %.6g", t.label.c_str(), i, a, numeric);
            if (!(margin <= rep.worst_err)) { rep.worst_err = margin; rep.worst_where = where; }
            if (!(margin <= 0)) {  // a NaN margin (NaN gradient or loss) fails too
                rep.failed++;
                if (rep.failures.size() < 8) rep.failures.push_back(where);
            }
        }
    }
}

}  // namespace detail

using detail::Target;
using detail::compare;

GradCheckReport check_layer_gradients(Layer& layer, const Blobs& bottom, const Blobs& top,
                                      const GradCheckOptions& opt) {
    GradCheckReport rep;
    layer.reshape(bottom, top);
    // Inputs are restored before every forward, so in-place layers see the same input each time.
    std::vector<Tensor> inputs;
    for (Blob* b : bottom) inputs.push_back(b->data);
    auto run_forward = [&]() {
        for (size_t i = 0; i < bottom.size(); ++i) bottom[i]->data = inputs[i];
        if (opt.before_forward) opt.before_forward();
        layer.forward(bottom, top);
    };
    run_forward();
    Rng rng(opt.seed);
    std::vector<std::vector<double>> r(top.size());
    for (size_t t = 0; t < top.size(); ++t) {
        r[t].resize(top[t]->count());
        for (auto& v : r[t]) v = rng.uniform(-1.0f, 1.0f);
    }
    auto objective = [&]() {
        run_forward();
        double L = 0;
        for (size_t t = 0; t < top.size(); ++t) {
            const float* y = top[t]->data.data();
            for (size_t i = 0; i < r[t].size(); ++i) L += r[t][i] * (double)y[i];
        }
        return L;
    };

    // Analytic gradients: bottoms' diffs zeroed first, then top diffs = r (for an in-place layer
    // the same buffer), param grads zeroed.
    std::vector<bool> check(bottom.size());
    for (size_t i = 0; i < bottom.size(); ++i)
        check[i] = layer.differentiable_bottom((int)i) && (opt.check_bottom.empty() || opt.check_bottom.at(i));
    layer.set_propagate_down(check);
    for (Blob* b : bottom) b->diff.zero();
    for (size_t t = 0; t < top.size(); ++t)
        for (size_t i = 0; i < r[t].size(); ++i) top[t]->diff[i] = (float)r[t][i];
    for (Param& p : layer.params()) p.grad.zero();
    layer.backward(top, bottom);

    std::vector<Target> targets;
    for (size_t i = 0; i < bottom.size(); ++i) {
        if (!check[i]) continue;
        const float* d = bottom[i]->diff.data();
        targets.push_back({inputs[i].data(), std::vector<float>(d, d + bottom[i]->count()), bottom[i]->count(),
                           "bottom " + std::to_string(i) + " (" + bottom[i]->name + ")"});
    }
    if (opt.check_params)
        for (Param& p : layer.params())
            targets.push_back({p.value.data(), std::vector<float>(p.grad.data(), p.grad.data() + p.grad.count()),
                               p.value.count(), "param " + p.name});
    compare(targets, objective, opt, rep);
    run_forward();  // leave the layer's outputs consistent with its unperturbed inputs
    return rep;
}

}  // namespace dlbhc
