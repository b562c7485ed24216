// nn/tensor.cpp -- aligned storage for Tensor.
#include "nn/tensor.h"

#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>

namespace dlbhc {

std::string Shape::str() const {
    return "(" + std::to_string(n) + ", " + std::to_string(c) + ", " + std::to_string(h) + ", " +
           std::to_string(w) + ")";
}

float* aligned_alloc_floats(size_t count) {
    size_t bytes = (count * sizeof(float) + 63) / 64 * 64;
    if (bytes == 0) bytes = 64;
    void* p = std::aligned_alloc(64, bytes);
    if (!p) throw std::bad_alloc();
    std::memset(p, 0, bytes);
    return static_cast<float*>(p);
}

void aligned_free_floats(float* p) { std::free(p); }

void Tensor::AlignedFree::operator()(float* p) const { aligned_free_floats(p); }

void Tensor::reshape(Shape s) {
    if (s.n < 0 || s.c < 0 || s.h < 0 || s.w < 0) throw std::invalid_argument("Tensor::reshape: negative dimension in " + s.str());
    size_t need = s.count();
    if (need > cap_ || !buf_) {
        buf_.reset(aligned_alloc_floats(need));
        cap_ = need;
    }
    shape_ = s;
}

Tensor::Tensor(const Tensor& o) { *this = o; }

Tensor& Tensor::operator=(const Tensor& o) {
    if (this == &o) return *this;
    reshape(o.shape_);
    if (o.count() && o.buf_) std::memcpy(buf_.get(), o.buf_.get(), o.count() * sizeof(float));
    return *this;
}

Tensor& Tensor::operator=(Tensor&& o) noexcept {
    if (this == &o) return *this;
    buf_ = std::move(o.buf_);
    shape_ = o.shape_;
    cap_ = o.cap_;
    o.shape_ = Shape(0);
    o.cap_ = 0;
    return *this;
}

void Tensor::fill(float v) {
    float* p = buf_.get();
    size_t n = count();
    for (size_t i = 0; i < n; ++i) p[i] = v;
}

}  // namespace dlbhc
