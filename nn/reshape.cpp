// nn/reshape.cpp -- see reshape.h.
#include "nn/reshape.h"

#include <cstring>

namespace dlbhc {

std::string reshape_param_check(const ReshapeParam& p) {
    if (p.dims.empty()) return "shape has no dim";
    if (p.dims.size() > 4) return "shape has " + std::to_string(p.dims.size()) + " dims; dlbhc's blobs have at most 4";
    int inferred = 0;
    for (int d : p.dims) {
        if (d < -1) return "dim " + std::to_string(d) + " is below -1 (0 copies, -1 infers)";
        inferred += d == -1;
    }
    if (inferred > 1) return "more than one dim is -1 (at most one can be inferred)";
    return "";
}

namespace {

std::string dims_str(const std::vector<int>& dims) {
    std::string s = "(";
    for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
    return s + ")";
}

}  // namespace

LayerShapes ReshapeLayer::shapes(const std::vector<Shape>& bottom) const {
    LayerShapes r;
    r.error = reshape_param_check(p_);
    if (!r.error.empty()) return r;
    const Shape& in = bottom.at(0);
    const int in_dims[4] = {in.n, in.c, in.h, in.w};
    int64_t out[4] = {1, 1, 1, 1};
    int infer = -1;
    int64_t known = 1;
    for (size_t i = 0; i < p_.dims.size(); ++i) {
        const int d = p_.dims[i];
        if (d == -1) {
            infer = (int)i;
            continue;
        }
        out[i] = d == 0 ? in_dims[i] : d;
        known *= out[i];
    }
    const int64_t count = (int64_t)in.count();
    const std::string what = "shape " + dims_str(p_.dims) + " does not fit the input " + in.str() + " (" +
                             std::to_string(count) + " values)";
    if (infer >= 0) {
        if (known == 0 || count % known != 0) {
            r.error = what + ": the other dims make " + std::to_string(known) + ", which does not divide it";
            return r;
        }
        out[infer] = count / known;
        known *= out[infer];
    }
    if (known != count || out[0] > (1 << 30) || out[1] > (1 << 30) || out[2] > (1 << 30) || out[3] > (1 << 30)) {
        r.error = what + ": the dims make " + std::to_string(known) + " values";
        return r;
    }
    r.top = {Shape((int)out[0], (int)out[1], (int)out[2], (int)out[3])};
    return r;
}

void ReshapeLayer::reshape(const Blobs& bottom, const Blobs& top) {
    check_counts(bottom, top, kBlobs);
    reshape_tops(bottom, top);
}

void ReshapeLayer::forward(const Blobs& bottom, const Blobs& top) {
    std::memcpy(top[0]->data.data(), bottom[0]->data.data(), bottom[0]->count() * sizeof(float));
}

void ReshapeLayer::backward(const Blobs& top, const Blobs& bottom) {
    if (!propagate_down(0)) return;
    float* dx = bottom[0]->diff.data();
    const float* dy = top[0]->diff.data();
    for (size_t i = 0; i < bottom[0]->count(); ++i) dx[i] += dy[i];
}

}  // namespace dlbhc
