// nn/filler.cpp -- constant, gaussian, uniform and xavier fillers.
#include "nn/filler.h"

#include <cmath>
#include <stdexcept>

namespace dlbhc {

void fill(const FillerParam& p, Tensor& t, Rng& rng) {
    size_t n = t.count();
    float* x = t.data();
    if (p.type == "constant") {
        t.fill(p.value);
    } else if (p.type == "gaussian") {
        for (size_t i = 0; i < n; ++i) x[i] = rng.gaussian(p.mean, p.std);
    } else if (p.type == "uniform") {
        for (size_t i = 0; i < n; ++i) x[i] = rng.uniform(p.min, p.max);
    } else if (p.type == "xavier") {
        if (n == 0) return;
        // Caffe: fan_in = count / num, fan_out = count / channels.
        double fan_in = (double)n / t.shape().n, fan_out = (double)n / t.shape().c, fan;
        if (p.variance_norm == "FAN_IN") fan = fan_in;
        else if (p.variance_norm == "FAN_OUT") fan = fan_out;
        else if (p.variance_norm == "AVERAGE") fan = (fan_in + fan_out) / 2;
        else throw std::invalid_argument("filler: unknown variance_norm '" + p.variance_norm + "' (expected FAN_IN, FAN_OUT or AVERAGE)");
        float s = (float)std::sqrt(3.0 / fan);
        for (size_t i = 0; i < n; ++i) x[i] = rng.uniform(-s, s);
    } else {
        throw std::invalid_argument("filler: unknown type '" + p.type + "' (expected constant, gaussian, uniform or xavier)");
    }
}

}  // namespace dlbhc
