// tests/nn/gradcheck_net.cpp -- the whole-net gradient check (see gradcheck.h); separate from the
// layer checker so layer tests link without the Net.
#include "tests/nn/gradcheck.h"

namespace dlbhc {

GradCheckReport check_net_gradients(Net& net, const std::vector<std::string>& inputs, const GradCheckOptions& opt) {
    GradCheckReport rep;
    auto objective = [&]() {
        if (opt.before_forward) opt.before_forward();
        return net.forward();
    };
    objective();
    net.zero_param_grads();
    net.backward();
    std::vector<detail::Target> targets;
    for (const auto& name : inputs) {
        Blob* b = net.blob(name);
        targets.push_back({b->data.data(), std::vector<float>(b->diff.data(), b->diff.data() + b->count()),
                           b->count(), "input " + name});
    }
    if (opt.check_params)
        for (Param* p : net.params())
            targets.push_back({p->value.data(), std::vector<float>(p->grad.data(), p->grad.data() + p->grad.count()),
                               p->value.count(), "param " + p->name});
    detail::compare(targets, objective, opt, rep);
    return rep;
}

}  // namespace dlbhc
