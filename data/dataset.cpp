// data/dataset.cpp -- MemoryDataset (see dataset.h).
#include "data/dataset.h"

#include <cstring>
#include <stdexcept>

namespace dlbhc {

void throw_index_error(const std::string& what, size_t i, size_t n) {
    throw std::out_of_range(what + ": item index " + std::to_string(i) + " out of range (size " +
                            std::to_string(n) + ")");
}

MemoryDataset::MemoryDataset(int c, int h, int w, std::string name_prefix, int num_classes)
    : c_(c), h_(h), w_(w), prefix_(std::move(name_prefix)), fixed_classes_(num_classes) {
    if (c < 1 || h < 1 || w < 1 || num_classes < 0)
        throw std::invalid_argument("MemoryDataset '" + prefix_ + "': expected item dimensions >= 1 and " +
                                    "num_classes >= 0, found (" + std::to_string(c) + ", " + std::to_string(h) +
                                    ", " + std::to_string(w) + "), " + std::to_string(num_classes) + " classes");
    item_bytes_ = (size_t)c * h * w;
}

void MemoryDataset::add(const uint8_t* pixels, int label) {
    if (label < 0 || (fixed_classes_ > 0 && label >= fixed_classes_))
        throw std::invalid_argument("MemoryDataset '" + prefix_ + "': label " + std::to_string(label) +
                                    " of item " + std::to_string(labels_.size()) + " is outside 0.." +
                                    (fixed_classes_ > 0 ? std::to_string(fixed_classes_ - 1) : "2^31-1"));
    pixels_.insert(pixels_.end(), pixels, pixels + item_bytes_);
    labels_.push_back(label);
    if (label > max_label_) max_label_ = label;
}

void MemoryDataset::reserve(size_t n) {
    pixels_.reserve(n * item_bytes_);
    labels_.reserve(n);
}

int MemoryDataset::num_classes() const { return fixed_classes_ > 0 ? fixed_classes_ : max_label_ + 1; }

void MemoryDataset::check_index(size_t i) const {
    if (i >= labels_.size()) throw_index_error("MemoryDataset '" + prefix_ + "'", i, labels_.size());
}

const uint8_t* MemoryDataset::pixels(size_t i) const {
    check_index(i);
    return pixels_.data() + i * item_bytes_;
}

void MemoryDataset::item(size_t i, Image& out) const {
    const uint8_t* p = pixels(i);
    out.resize(c_, h_, w_);
    std::memcpy(out.pixels.data(), p, item_bytes_);
}

int MemoryDataset::label(size_t i) const {
    check_index(i);
    return labels_[i];
}

std::string MemoryDataset::name(size_t i) const {
    check_index(i);
    return prefix_ + "[" + std::to_string(i) + "]";
}

}  // namespace dlbhc
