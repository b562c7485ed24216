// nn/filler.h -- parameter initialisation, as Caffe's weight_filler / bias_filler.
#pragma once
#include <string>

#include "nn/rng.h"
#include "nn/tensor.h"

namespace dlbhc {

struct FillerParam {
    // constant: every value = `value`.
    // gaussian: Normal(mean, std).
    // uniform:  Uniform[min, max).
    // xavier:   Uniform[-s, s), s = sqrt(3 / n), n = fan_in (count / shape.n) by default,
    //           fan_out (count / shape.c) or their average, as Caffe's variance_norm.
    std::string type = "constant";
    float value = 0.0f;
    float mean = 0.0f, std = 1.0f;
    float min = 0.0f, max = 1.0f;
    std::string variance_norm = "FAN_IN";  // FAN_IN, FAN_OUT or AVERAGE

    static FillerParam constant(float v) { FillerParam f; f.value = v; return f; }
    static FillerParam gaussian(float std_, float mean_ = 0.0f) {
        FillerParam f; f.type = "gaussian"; f.std = std_; f.mean = mean_; return f;
    }
    static FillerParam uniform(float lo, float hi) {
        FillerParam f; f.type = "uniform"; f.min = lo; f.max = hi; return f;
    }
    static FillerParam xavier() { FillerParam f; f.type = "xavier"; return f; }
};

// Fills t according to p; throws std::invalid_argument for an unknown type or variance_norm.
void fill(const FillerParam& p, Tensor& t, Rng& rng);

}  // namespace dlbhc
