// nn/inner_product.cpp -- see inner_product.h.
#include "nn/inner_product.h"

#include <cstdint>
#include <string>

#include "nn/gemm.h"
#include "nn/gemv.h"

namespace dlbhc {

void inner_product_forward(float* out, const float* inp, const float* weight, const float* bias, int N, int I,
                           int O) {
    if (N >= 1 && N <= kGemvMaxBatch) {
        // A few items (batch-1 inference): bound by reading the weights, which the GEMM would read
        // three times (packing, then the packed copy); sgemv_rows reads them once (gemv.h).
        sgemv_rows(out, inp, weight, bias, N, I, O);
        return;
    }
    // y (N, O) = x (N, I) * w^T (I, O)
    sgemm(false, true, N, O, I, 1.0f, inp, I, weight, I, 0.0f, out, O);
    if (bias)
        for (int n = 0; n < N; ++n) {
            float* y = out + (size_t)n * O;
            for (int o = 0; o < O; ++o) y[o] += bias[o];
        }
}

void inner_product_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                            const float* weight, int N, int I, int O) {
    // dw (O, I) += dy^T (O, N) * x (N, I)
    if (dweight) sgemm(true, false, O, I, N, 1.0f, dout, O, inp, I, 1.0f, dweight, I);
    if (dbias)
        for (int n = 0; n < N; ++n) {
            const float* dy = dout + (size_t)n * O;
            for (int o = 0; o < O; ++o) dbias[o] += dy[o];
        }
    // dx (N, I) += dy (N, O) * w (O, I)
    if (dinp) sgemm(false, false, N, I, O, 1.0f, dout, O, weight, I, 1.0f, dinp, I);
}

template <class T>
void inner_product_forward_naive(T* out, const T* inp, const T* weight, const Same<T>* bias, int N, int I, int O) {
    for (int n = 0; n < N; ++n)
        for (int o = 0; o < O; ++o) {
            double s = bias ? bias[o] : 0.0;
            for (int i = 0; i < I; ++i) s += (double)inp[(size_t)n * I + i] * weight[(size_t)o * I + i];
            out[(size_t)n * O + o] = (T)s;
        }
}

template <class T>
void inner_product_backward_naive(Same<T>* dinp, Same<T>* dweight, Same<T>* dbias, const T* dout, const T* inp,
                                  const T* weight, int N, int I, int O) {
    if (dweight)
        for (int o = 0; o < O; ++o)
            for (int i = 0; i < I; ++i) {
                double s = 0;
                for (int n = 0; n < N; ++n) s += (double)dout[(size_t)n * O + o] * inp[(size_t)n * I + i];
                dweight[(size_t)o * I + i] += (T)s;
            }
    if (dbias)
        for (int o = 0; o < O; ++o) {
            double s = 0;
            for (int n = 0; n < N; ++n) s += dout[(size_t)n * O + o];
            dbias[o] += (T)s;
        }
    if (dinp)
        for (int n = 0; n < N; ++n)
            for (int i = 0; i < I; ++i) {
                double s = 0;
                for (int o = 0; o < O; ++o) s += (double)dout[(size_t)n * O + o] * weight[(size_t)o * I + i];
                dinp[(size_t)n * I + i] += (T)s;
            }
}

template void inner_product_forward_naive(float*, const float*, const float*, const float*, int, int, int);
template void inner_product_forward_naive(double*, const double*, const double*, const double*, int, int, int);
template void inner_product_backward_naive(float*, float*, float*, const float*, const float*, const float*, int, int, int);
template void inner_product_backward_naive(double*, double*, double*, const double*, const double*, const double*, int, int,
                                           int);

LayerShapes InnerProductLayer::shapes(const std::vector<Shape>& bottom) const {
    LayerShapes s;
    const Shape in = bottom.at(0);
    if (p_.num_output <= 0) {
        s.error = "num_output must be > 0, got " + std::to_string(p_.num_output);
    } else if (in.chw() == 0 || in.chw() > (size_t)INT32_MAX) {
        s.error = "input " + in.str() + " has " + std::to_string(in.chw()) + " inputs per item; need 1 .. 2^31-1";
    } else {
        s.top = {Shape(in.n, p_.num_output)};
        s.param.push_back({"weight", Shape(p_.num_output, (int)in.chw())});
        if (p_.bias_term) s.param.push_back({"bias", Shape(p_.num_output)});
    }
    return s;
}

void InnerProductLayer::reshape(const Blobs& bottom, const Blobs& top) {
    check_counts(bottom, top, kBlobs);
    if (top[0] == bottom[0]) fail("cannot run in place (top and bottom are the same blob)");
    const Shape in = bottom[0]->shape();
    const LayerShapes s = shapes({in});
    if (!s.error.empty()) fail(s.error);
    const int I = s.param[0].shape.c;
    if (!params_.empty() && params_[0].value.shape().c != I)
        fail("bottom '" + bottom[0]->name + "' " + in.str() + " has " + std::to_string(I) +
             " inputs per item, but the weights were set up for " + std::to_string(params_[0].value.shape().c));
    top[0]->reshape(s.top[0]);
    ensure_param(0, s.param[0].name, s.param[0].shape, p_.weight_filler);
    if (p_.bias_term) ensure_param(1, s.param[1].name, s.param[1].shape, p_.bias_filler);
}

void InnerProductLayer::forward(const Blobs& bottom, const Blobs& top) {
    const Shape in = bottom[0]->shape();
    inner_product_forward(top[0]->data.data(), bottom[0]->data.data(), params_[0].value.data(),
                          p_.bias_term ? params_[1].value.data() : nullptr, in.n, (int)in.chw(), p_.num_output);
}

void InnerProductLayer::backward(const Blobs& top, const Blobs& bottom) {
    const Shape in = bottom[0]->shape();
    inner_product_backward(propagate_down(0) ? bottom[0]->diff.data() : nullptr, params_[0].grad.data(),
                           p_.bias_term ? params_[1].grad.data() : nullptr, top[0]->diff.data(),
                           bottom[0]->data.data(), params_[0].value.data(), in.n, (int)in.chw(), p_.num_output);
}

}  // namespace dlbhc
