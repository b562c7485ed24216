// tests/nn/op_harness.cpp -- see op_harness.h.
#include "tests/nn/op_harness.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

namespace dlbhc {

Vec to_double(const Tensor& t) { return Vec(t.data(), t.data() + t.count()); }

std::string OpReport::summary() const {
    char buf[200];
    std::snprintf(buf, sizeof buf, "forward %zu checked, %zu failed; gradient %zu checked, %zu failed; %zu other failures",
                  forward_checked, forward_failed, gradient_checked, gradient_failed, other_failed);
    std::string s = buf;
    for (const std::string& f : failures) s += "\n  FAIL " + f;
    return s;
}

std::function<void(size_t, Tensor&, Rng&)> uniform_in(float lo, float hi) {
    return [=](size_t, Tensor& t, Rng& rng) {
        for (size_t i = 0; i < t.count(); ++i) t[i] = rng.uniform(lo, hi);
    };
}

std::function<void(size_t, Tensor&, Rng&)> away_from_zero(float gap, float hi) {
    return [=](size_t, Tensor& t, Rng& rng) {
        for (size_t i = 0; i < t.count(); ++i) {
            const float v = rng.uniform(gap, hi);
            t[i] = rng.uniform() < 0.5f ? -v : v;
        }
    };
}

std::function<void(size_t, Tensor&, Rng&)> distinct(float gap) {
    return [=](size_t, Tensor& t, Rng& rng) {
        const size_t n = t.count();
        std::vector<float> v(n);
        for (size_t i = 0; i < n; ++i) v[i] = ((float)i - (float)n / 2) * gap;
        for (size_t i = n; i > 1; --i) std::swap(v[i - 1], v[rng.below((uint32_t)i)]);
        for (size_t i = 0; i < n; ++i) t[i] = v[i];
    };
}

namespace {

// The blobs of one run: bottoms (filled), tops (top 0 is bottom 0 in place).
struct Wiring {
    std::vector<std::unique_ptr<Blob>> own;
    Blobs bottom, top;
};

void note(OpReport& rep, size_t& counter, const std::string& what) {
    ++counter;
    if (rep.failures.size() < 8) rep.failures.push_back(what);
}

std::string at(const char* label, size_t t, size_t i, double got, double want) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "%s %zu [%zu]: got %.9g, want %.9g", label, t, i, got, want);
    return buf;
}

Wiring wire(const OpCase& c, Rng& rng) {
    Wiring w;
    for (size_t i = 0; i < c.bottom.size(); ++i) {
        w.own.push_back(std::make_unique<Blob>("bottom" + std::to_string(i), c.bottom[i]));
        if (c.fill) c.fill(i, w.own.back()->data, rng);
        else uniform_in(-1, 1)(i, w.own.back()->data, rng);
        w.bottom.push_back(w.own.back().get());
    }
    for (size_t t = 0; t < c.tops; ++t) {
        if (t == 0 && c.in_place) {
            w.top.push_back(w.bottom.at(0));
            continue;
        }
        w.own.push_back(std::make_unique<Blob>("top" + std::to_string(t)));
        w.top.push_back(w.own.back().get());
    }
    return w;
}

// The layer's own answer against what its reshape made.
void check_shapes(Layer& layer, const OpCase& c, const Wiring& w, OpReport& rep) {
    const LayerShapes s = layer.shapes(c.bottom);
    if (!s.error.empty()) return note(rep, rep.other_failed, "shapes: the layer rejects the bottoms: " + s.error);
    if (s.top.size() < w.top.size()) return note(rep, rep.other_failed, "shapes: fewer tops than the layer was given");
    for (size_t t = 0; t < w.top.size(); ++t)
        if (s.top[t] != w.top[t]->shape())
            note(rep, rep.other_failed, "shapes: top " + std::to_string(t) + " is " + w.top[t]->shape().str() +
                                            ", shapes() says " + s.top[t].str());
    const std::vector<Param>& ps = layer.params();
    if (s.param.size() != ps.size())
        return note(rep, rep.other_failed, "shapes: " + std::to_string(ps.size()) + " parameters, shapes() says " +
                                               std::to_string(s.param.size()));
    for (size_t i = 0; i < ps.size(); ++i)
        if (s.param[i].shape != ps[i].value.shape() || layer.name() + "." + s.param[i].name != ps[i].name)
            note(rep, rep.other_failed, "shapes: parameter " + ps[i].name + " " + ps[i].value.shape().str() +
                                            ", shapes() says " + s.param[i].name + " " + s.param[i].shape.str());
}

void check_forward(const std::vector<Vec>& ref, const Wiring& w, const OpCase& c, OpReport& rep) {
    if (ref.size() != w.top.size())
        return note(rep, rep.forward_failed, "forward: the reference gives " + std::to_string(ref.size()) + " tops");
    for (size_t t = 0; t < ref.size(); ++t) {
        if (ref[t].size() != w.top[t]->count()) {
            note(rep, rep.forward_failed, "forward: top " + std::to_string(t) + " has " +
                                              std::to_string(w.top[t]->count()) + " values, the reference " +
                                              std::to_string(ref[t].size()));
            continue;
        }
        for (size_t i = 0; i < ref[t].size(); ++i) {
            ++rep.forward_checked;
            const double y = w.top[t]->data[i];
            if (!(std::fabs(y - ref[t][i]) <= c.fwd_atol + c.fwd_rtol * std::fabs(ref[t][i])))  // NaN fails
                note(rep, rep.forward_failed, at("forward: top", t, i, y, ref[t][i]));
        }
    }
}

// Central differences of L = sum r . reference, each entry of `values` in turn, against `analytic`.
void check_gradient(const OpCase& c, const Layer& layer, std::vector<Vec>& bottoms, std::vector<Vec>& params,
                    Vec& values, const std::vector<float>& analytic, const std::string& label,
                    const std::vector<Vec>& r, OpReport& rep) {
    auto objective = [&] {
        const std::vector<Vec> y = c.reference(layer, bottoms, params);
        double L = 0;
        for (size_t t = 0; t < r.size(); ++t) L += std::inner_product(y[t].begin(), y[t].end(), r[t].begin(), 0.0);
        return L;
    };
    for (size_t i = 0; i < values.size(); ++i) {
        const double saved = values[i];
        values[i] = saved + c.eps;
        const double fp = objective();
        values[i] = saved - c.eps;
        const double fm = objective();
        values[i] = saved;
        const double numeric = (fp - fm) / (2 * c.eps), a = analytic[i];
        ++rep.gradient_checked;
        if (!(std::fabs(a - numeric) <= c.atol + c.rtol * std::max(std::fabs(a), std::fabs(numeric))))
            note(rep, rep.gradient_failed, "gradient of " + label + " [" + std::to_string(i) + "]: analytic " +
                                               std::to_string(a) + ", numeric " + std::to_string(numeric));
    }
}

// Runs backward once with top diffs r over gradients that start from random values, and returns
// what it added (what it wrote, for an in-place bottom): one vector per bottom, then per param.
std::vector<std::vector<float>> run_backward(Layer& layer, const Wiring& w, const OpCase& c, const std::vector<Vec>& r,
                                             Rng& rng, OpReport& rep) {
    std::vector<bool> down(w.bottom.size());
    std::vector<Tensor> start;
    for (size_t i = 0; i < w.bottom.size(); ++i) {
        down[i] = layer.differentiable_bottom((int)i);
        uniform_in(-1, 1)(i, w.bottom[i]->diff, rng);
        start.push_back(w.bottom[i]->diff);
    }
    for (Param& p : layer.params()) {
        uniform_in(-1, 1)(0, p.grad, rng);
        start.push_back(p.grad);
    }
    for (size_t t = 0; t < w.top.size(); ++t)
        for (size_t i = 0; i < r[t].size(); ++i) w.top[t]->diff[i] = (float)r[t][i];
    layer.set_propagate_down(down);
    layer.backward(w.top, w.bottom);
    std::vector<std::vector<float>> added;
    for (size_t i = 0; i < w.bottom.size() + layer.params().size(); ++i) {
        const bool is_bottom = i < w.bottom.size();
        const Tensor& now = is_bottom ? w.bottom[i]->diff : layer.params()[i - w.bottom.size()].grad;
        const bool rewritten = is_bottom && c.in_place && i == 0;
        std::vector<float> d(now.count());
        for (size_t j = 0; j < d.size(); ++j) d[j] = rewritten ? now[j] : now[j] - start[i][j];
        if (is_bottom && !down[i] && std::any_of(d.begin(), d.end(), [](float v) { return v != 0; }))
            note(rep, rep.other_failed, "backward wrote the gradient of bottom " + std::to_string(i) + ", which has none");
        added.push_back(std::move(d));
    }
    return added;
}

void check_backward(Layer& layer, const Wiring& w, const OpCase& c, std::vector<Vec>& bottoms,
                    std::vector<Vec>& params, Rng& rng, OpReport& rep) {
    std::vector<Vec> r(w.top.size());
    for (size_t t = 0; t < r.size(); ++t) {
        r[t].resize(w.top[t]->count());
        for (double& v : r[t]) v = rng.uniform(-1, 1);
    }
    const std::vector<std::vector<float>> analytic = run_backward(layer, w, c, r, rng, rep);
    for (size_t t = 0; t < r.size(); ++t)
        if (t < c.top_has_gradient.size() && !c.top_has_gradient[t]) std::fill(r[t].begin(), r[t].end(), 0.0);
    for (size_t i = 0; i < bottoms.size(); ++i)
        if (layer.differentiable_bottom((int)i))
            check_gradient(c, layer, bottoms, params, bottoms[i], analytic[i], "bottom " + std::to_string(i), r, rep);
    for (size_t k = 0; k < params.size(); ++k)
        check_gradient(c, layer, bottoms, params, params[k], analytic[bottoms.size() + k], layer.params()[k].name, r, rep);
}

}  // namespace

OpReport run_op(const OpCase& c) {
    OpReport rep;
    Rng rng(c.seed);
    std::unique_ptr<Layer> layer = c.make();
    layer->set_phase(c.phase);
    Wiring w = wire(c, rng);
    try {
        layer->reshape(w.bottom, w.top);
        check_shapes(*layer, c, w, rep);
        for (Param& p : layer->params()) uniform_in(-c.param_range, c.param_range)(0, p.value, rng);
        std::vector<Vec> bottoms, params;
        for (const Blob* b : w.bottom) bottoms.push_back(to_double(b->data));  // before an in-place forward
        for (const Param& p : layer->params()) params.push_back(to_double(p.value));
        layer->forward(w.bottom, w.top);
        check_forward(c.reference(*layer, bottoms, params), w, c, rep);
        bool differentiable = !params.empty();
        for (size_t i = 0; i < bottoms.size(); ++i) differentiable = differentiable || layer->differentiable_bottom((int)i);
        if (differentiable) check_backward(*layer, w, c, bottoms, params, rng, rep);
    } catch (const std::exception& e) {
        note(rep, rep.other_failed, std::string("the layer threw: ") + e.what());
    }
    return rep;
}

}  // namespace dlbhc
