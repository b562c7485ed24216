// data/dataset.h -- the one interface every dataset reader implements, and an in-memory dataset.
//
// A dataset is a numbered list of labelled 8-bit images: item i has pixels (data/image.h:
// planar (C, H, W), B G R for colour), an integer label in 0..num_classes()-1 and a name for
// people (the file path, or "train[123]" for items of a packed file). Every method is const and
// safe to call from several threads at once: the batcher decodes items in parallel.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "data/image.h"

namespace dlbhc {

class Dataset {
public:
    virtual ~Dataset() = default;

    virtual size_t size() const = 0;
    // K: labels are 0..K-1. Datasets that do not know their class list report max label + 1.
    virtual int num_classes() const = 0;
    // The item size when every item has it; 0 when items differ (an image folder).
    virtual int channels() const = 0;
    virtual int height() const = 0;
    virtual int width() const = 0;

    // Writes item i into `out` (resized as needed; reuse one Image per thread to avoid allocating).
    // Throws std::out_of_range for i >= size(), std::runtime_error when the item cannot be read.
    virtual void item(size_t i, Image& out) const = 0;
    virtual int label(size_t i) const = 0;
    virtual std::string name(size_t i) const = 0;
};

// Fixed-size images held in one contiguous buffer: what the MNIST and CIFAR readers return, and a
// convenient dataset for tests. Item names are "<prefix>[i]".
class MemoryDataset : public Dataset {
public:
    // Every item is (c, h, w); each must be >= 1. num_classes = 0 means "max label + 1".
    MemoryDataset(int c, int h, int w, std::string name_prefix, int num_classes = 0);

    // Appends one item: c*h*w bytes of planar pixels and a label >= 0 (and < num_classes when set).
    void add(const uint8_t* pixels, int label);
    void reserve(size_t n);
    // Pixels of item i without a copy (c*h*w bytes).
    const uint8_t* pixels(size_t i) const;

    size_t size() const override { return labels_.size(); }
    int num_classes() const override;
    int channels() const override { return c_; }
    int height() const override { return h_; }
    int width() const override { return w_; }
    void item(size_t i, Image& out) const override;
    int label(size_t i) const override;
    std::string name(size_t i) const override;

private:
    void check_index(size_t i) const;
    int c_, h_, w_;
    size_t item_bytes_;
    std::string prefix_;
    int fixed_classes_;
    int max_label_ = -1;
    std::vector<uint8_t> pixels_;
    std::vector<int> labels_;
};

// "<what>: index i out of range (size n)" as std::out_of_range; shared by the readers.
[[noreturn]] void throw_index_error(const std::string& what, size_t i, size_t n);

}  // namespace dlbhc
