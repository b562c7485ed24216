// nn/tensor.h -- the float32 tensor every layer reads and writes.
//
// Glossary of the letters used in shape comments across nn/:
//   N  batch size              C  input channels        H, W  input height, width
//   OC output channels (num_output)                     OH, OW output height, width
//   G  groups (convolution)    KH, KW kernel size       O, I  outputs, inputs (inner product)
//   K  classes (softmax)
// Layout is always (N, C, H, W), row-major, W fastest. A vector is (N, C, 1, 1).
// Storage is 64-byte aligned so SIMD loads of whole cache lines never straddle.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace dlbhc {

// A 4-D shape. Lower-rank tensors leave trailing dimensions at 1 (a bias is (OC, 1, 1, 1)).
struct Shape {
    int n = 0, c = 1, h = 1, w = 1;
    Shape() = default;
    Shape(int n_, int c_ = 1, int h_ = 1, int w_ = 1) : n(n_), c(c_), h(h_), w(w_) {}
    size_t count() const { return (size_t)n * c * h * w; }
    size_t chw() const { return (size_t)c * h * w; }  // items per batch element
    bool operator==(const Shape& o) const { return n == o.n && c == o.c && h == o.h && w == o.w; }
    bool operator!=(const Shape& o) const { return !(*this == o); }
    std::string str() const;  // "(N, C, H, W)"
};

class Tensor {
public:
    Tensor() = default;
    explicit Tensor(Shape s) { reshape(s); }
    Tensor(const Tensor& o);             // deep copy
    Tensor& operator=(const Tensor& o);  // deep copy
    // A moved-from tensor is empty (shape (0, 1, 1, 1), no storage), so it stays usable.
    Tensor(Tensor&& o) noexcept { *this = std::move(o); }
    Tensor& operator=(Tensor&& o) noexcept;

    // Sets the shape. Memory is reallocated only when the new count exceeds the capacity, so a
    // training loop that reshapes to the same size never allocates. New memory is zeroed.
    void reshape(Shape s);

    const Shape& shape() const { return shape_; }
    size_t count() const { return shape_.count(); }
    float* data() { return buf_.get(); }
    const float* data() const { return buf_.get(); }
    float& operator[](size_t i) { return buf_.get()[i]; }
    float operator[](size_t i) const { return buf_.get()[i]; }
    float& at(int n, int c, int h, int w) {
        return buf_.get()[(((size_t)n * shape_.c + c) * shape_.h + h) * shape_.w + w];
    }
    float at(int n, int c, int h, int w) const {
        return buf_.get()[(((size_t)n * shape_.c + c) * shape_.h + h) * shape_.w + w];
    }

    void fill(float v);
    void zero() { fill(0.0f); }

private:
    struct AlignedFree { void operator()(float* p) const; };
    Shape shape_{0};
    size_t cap_ = 0;
    std::unique_ptr<float[], AlignedFree> buf_;
};

// T itself, in a form a template does not deduce from: lets the naive kernels take nullptr for a
// gradient or bias they skip (conv_forward_naive(y, x, w, nullptr, ...) deduces T from y, x, w).
template <class T>
using Same = typename std::common_type<T>::type;

// Allocates `count` floats aligned to 64 bytes, zeroed; freed with aligned_free_floats.
float* aligned_alloc_floats(size_t count);
void aligned_free_floats(float* p);

}  // namespace dlbhc
