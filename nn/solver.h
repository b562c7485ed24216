// nn/solver.h -- stochastic gradient descent with momentum, as Caffe's SGDSolver.
//
// Per iteration, with rate = learning_rate(iter) and for each parameter w with gradient g:
//   g += weight_decay * decay_mult * w            (L2; L1 uses sign(w))
//   v  = momentum * v + rate * lr_mult * g        (v: the history, one per parameter)
//   w -= v
// This is Caffe's update (sgd_solver.cpp): the learning rate multiplies into the history, so a
// change of rate takes effect gradually through the momentum, exactly as there.
// Learning-rate policies (Caffe's names), iter counted from 0:
//   fixed      base_lr
//   step       base_lr * gamma ^ floor(iter / stepsize)
//   multistep  base_lr * gamma ^ (number of stepvalue entries <= iter)
//   inv        base_lr * (1 + gamma * iter) ^ (-power)
//   exp        base_lr * gamma ^ iter
//   poly       base_lr * (1 - iter / max_iter) ^ power
//   sigmoid    base_lr / (1 + exp(-gamma * (iter - stepsize)))
#pragma once
#include <string>
#include <vector>

#include "nn/net.h"

namespace dlbhc {

struct SolverParam {
    double base_lr = 0.01;
    std::string lr_policy = "fixed";
    double gamma = 0.1, power = 1.0;
    int stepsize = 1;
    std::vector<int> stepvalue;  // ascending
    int max_iter = 1;
    double momentum = 0.0;
    double weight_decay = 0.0;
    std::string regularization_type = "L2";  // or "L1"
    double clip_gradients = -1;  // > 0: scale all gradients down to this global L2 norm
};

// Throws std::invalid_argument for an unknown policy or an invalid setting.
double learning_rate(const SolverParam& p, int iter);

class SGDSolver {
public:
    SGDSolver(Net& net, SolverParam p);

    // One training iteration on whatever the net's inputs hold: zero grads, forward, backward,
    // update. Returns the loss of that forward pass.
    double step();
    // Applies the update to the gradients currently in the net (regularise, momentum, w -= v)
    // and advances the iteration counter.
    void apply_update();

    int iter() const { return iter_; }
    void set_iter(int it) { iter_ = it; }
    const SolverParam& param() const { return p_; }
    // Momentum history, one tensor per net parameter in Net::params() order (for snapshots).
    std::vector<Tensor>& history() { return history_; }

private:
    Net& net_;
    SolverParam p_;
    int iter_ = 0;
    std::vector<Tensor> history_;
};

}  // namespace dlbhc
