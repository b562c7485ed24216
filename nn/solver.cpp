// nn/solver.cpp
#include "nn/solver.h"

#include <cmath>
#include <stdexcept>

namespace dlbhc {

double learning_rate(const SolverParam& p, int iter) {
    const std::string& policy = p.lr_policy;
    if (policy == "fixed") return p.base_lr;
    if (policy == "step") {
        if (p.stepsize <= 0) throw std::invalid_argument("solver: lr_policy step needs stepsize > 0");
        return p.base_lr * std::pow(p.gamma, std::floor((double)iter / p.stepsize));
    }
    if (policy == "multistep") {
        int passed = 0;
        for (size_t i = 0; i < p.stepvalue.size(); ++i) {
            if (i > 0 && p.stepvalue[i] <= p.stepvalue[i - 1])
                throw std::invalid_argument("solver: stepvalue must be strictly increasing");
            passed += iter >= p.stepvalue[i];
        }
        return p.base_lr * std::pow(p.gamma, passed);
    }
    if (policy == "inv") return p.base_lr * std::pow(1.0 + p.gamma * iter, -p.power);
    if (policy == "exp") return p.base_lr * std::pow(p.gamma, iter);
    if (policy == "poly") {
        if (p.max_iter <= 0) throw std::invalid_argument("solver: lr_policy poly needs max_iter > 0");
        return p.base_lr * std::pow(1.0 - (double)iter / p.max_iter, p.power);
    }
    if (policy == "sigmoid") return p.base_lr / (1.0 + std::exp(-p.gamma * (iter - p.stepsize)));
    throw std::invalid_argument("solver: unknown lr_policy '" + policy +
                                "' (expected fixed, step, multistep, inv, exp, poly or sigmoid)");
}

SGDSolver::SGDSolver(Net& net, SolverParam p) : net_(net), p_(std::move(p)) {
    if (p_.regularization_type != "L2" && p_.regularization_type != "L1")
        throw std::invalid_argument("solver: unknown regularization_type '" + p_.regularization_type + "' (expected L2 or L1)");
    learning_rate(p_, 0);  // validates the policy now rather than at the first step
    for (Param* prm : net_.params()) history_.emplace_back(prm->value.shape());
}

double SGDSolver::step() {
    net_.zero_param_grads();
    double loss = net_.forward();
    net_.backward();
    apply_update();
    return loss;
}

void SGDSolver::apply_update() {
    std::vector<Param*> params = net_.params();
    if (params.size() != history_.size()) throw std::logic_error("solver: the net's parameters changed after the solver was made");
    if (p_.clip_gradients > 0) {
        double sumsq = 0;
        for (Param* prm : params)
            for (size_t i = 0; i < prm->grad.count(); ++i) sumsq += (double)prm->grad[i] * prm->grad[i];
        double norm = std::sqrt(sumsq);
        if (norm > p_.clip_gradients) {
            float s = (float)(p_.clip_gradients / norm);
            for (Param* prm : params)
                for (size_t i = 0; i < prm->grad.count(); ++i) prm->grad[i] *= s;
        }
    }
    const float rate = (float)learning_rate(p_, iter_);
    const bool l1 = p_.regularization_type == "L1";
    for (size_t k = 0; k < params.size(); ++k) {
        Param& prm = *params[k];
        const float local_rate = rate * prm.lr_mult;
        const float local_decay = (float)p_.weight_decay * prm.decay_mult;
        const float mom = (float)p_.momentum;
        float* w = prm.value.data();
        float* g = prm.grad.data();
        float* v = history_[k].data();
        const size_t n = prm.value.count();
#pragma omp parallel for if (n > 65536) schedule(static)
        for (size_t i = 0; i < n; ++i) {
            float gi = g[i];
            if (local_decay != 0) gi += local_decay * (l1 ? (w[i] > 0 ? 1.0f : (w[i] < 0 ? -1.0f : 0.0f)) : w[i]);
            v[i] = mom * v[i] + local_rate * gi;
            w[i] -= v[i];
        }
    }
    ++iter_;
}

}  // namespace dlbhc
