// hash/code.cpp -- binarisation and packing (see code.h for the bit order).
#include "hash/code.h"

#include <stdexcept>
#include <string>

namespace dlbhc {

int code_words(int bits) {
    if (bits < 1 || bits > kMaxCodeBits)
        throw std::invalid_argument("code_words: expected 1 <= bits <= " +
                                    std::to_string(kMaxCodeBits) + ", found " +
                                    std::to_string(bits));
    return (bits + 63) / 64;
}

void binarize(const float* a, int bits, float threshold, uint64_t* code) {
    int words = code_words(bits);
    for (int w = 0; w < words; ++w) {
        uint64_t word = 0;
        int lo = w * 64, hi = lo + 64 < bits ? lo + 64 : bits;
        // Strictly greater, as the authors' `>0.5`: an activation of exactly 0.5 gives 0.
        for (int i = lo; i < hi; ++i) word |= (uint64_t)(a[i] > threshold) << (i - lo);
        code[w] = word;
    }
}

void binarize_rows(const float* a, size_t n, int bits, float threshold, uint64_t* codes) {
    int words = code_words(bits);
    for (size_t r = 0; r < n; ++r) binarize(a + r * (size_t)bits, bits, threshold, codes + r * words);
}

size_t first_code_with_padding(const CodeView& codes) {
    const uint64_t mask = code_padding_mask(codes.bits);
    if (mask == 0 || codes.n == 0) return codes.n;
    const uint64_t* last = codes.data + (codes.words - 1);  // the last word of code 0
    for (size_t i = 0; i < codes.n; ++i)
        if (last[i * (size_t)codes.words] & mask) return i;
    return codes.n;
}

CodeSet::CodeSet(int bits) : bits_(bits), words_(code_words(bits)) {}

void CodeSet::add(const uint64_t* code) {
    if (!words_) throw std::logic_error("CodeSet::add: the set has no bit count (default-constructed)");
    data_.insert(data_.end(), code, code + words_);
    data_.back() &= ~code_padding_mask(bits_);
}

void CodeSet::add_activations(const float* a, size_t n, float threshold) {
    if (!words_) throw std::logic_error("CodeSet::add_activations: the set has no bit count");
    size_t old = data_.size();
    data_.resize(old + n * (size_t)words_);
    binarize_rows(a, n, bits_, threshold, data_.data() + old);
}

}  // namespace dlbhc
