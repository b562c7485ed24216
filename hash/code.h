// hash/code.h -- binary hash codes: binarisation of latent activations and bit packing.
//
// A code of B bits is stored in W = code_words(B) = ceil(B / 64) uint64 words. Bit i of the code
// (i = 0 .. B-1, the i-th latent unit) is bit (i % 64) of word (i / 64): least-significant bit
// first, as in FAISS, so packing is the same on every little-endian machine and the same words
// can be written to disk unchanged. The unused high bits of the last word are always zero, which
// lets the Hamming kernels XOR and popcount whole words without masking.
//
// Glossary of the letters used in search/ and hash/ comments:
//   B  bits per code       W  words per code = ceil(B / 64)      N  database items
//   Q  queries             D  feature dimension (4096 for fc7)   K  results per query
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace dlbhc {

// Largest code length accepted: distances must fit the uint16 distance buffers of the kernels.
constexpr int kMaxCodeBits = 65535;

// W = ceil(B / 64). Throws std::invalid_argument unless 1 <= bits <= kMaxCodeBits.
int code_words(int bits);

// The paper's binarisation: bit i = (a[i] > threshold), strictly greater (threshold 0.5 on the
// sigmoid outputs of the latent layer). a holds `bits` floats; code receives code_words(bits)
// words (the padding bits are cleared).
void binarize(const float* a, int bits, float threshold, uint64_t* code);

// The same for n rows: a is (n, bits) row-major, codes is (n, W).
void binarize_rows(const float* a, size_t n, int bits, float threshold, uint64_t* codes);

// Bit i of a packed code.
inline bool code_bit(const uint64_t* code, int i) { return (code[i >> 6] >> (i & 63)) & 1u; }

// The unused high bits of the last word of a B-bit code (bits B % 64 .. 63 of word W - 1); 0 when
// B is a multiple of 64 (no unused bits).
inline uint64_t code_padding_mask(int bits) { return bits % 64 ? ~0ull << (bits % 64) : 0; }

// A read-only view of N codes of B bits, (N, W) row-major. The memory belongs to someone else (a
// CodeSet, an mmap-ed index file).
struct CodeView {
    const uint64_t* data = nullptr;
    size_t n = 0;
    int bits = 0;
    int words = 0;
    const uint64_t* code(size_t i) const { return data + i * (size_t)words; }
};

// The first code of `codes` that has an unused high bit set, or codes.n when none has: such a
// code breaks the kernels' no-masking rule (its distances can exceed B), so the index file
// refuses to write or open it. Reads one word per code (nothing when B is a multiple of 64).
size_t first_code_with_padding(const CodeView& codes);

// An owning set of codes that can grow; view() is invalidated by add().
class CodeSet {
public:
    CodeSet() = default;
    explicit CodeSet(int bits);
    int bits() const { return bits_; }
    int words() const { return words_; }
    size_t size() const { return words_ ? data_.size() / (size_t)words_ : 0; }
    const uint64_t* code(size_t i) const { return data_.data() + i * (size_t)words_; }
    uint64_t* code(size_t i) { return data_.data() + i * (size_t)words_; }
    // Appends one code of words() words; its unused high bits are cleared (only bits 0..B-1
    // are the code), so the set keeps them zero whatever the caller's buffer held there.
    void add(const uint64_t* code);
    // Appends the binarised rows of a, (n, bits).
    void add_activations(const float* a, size_t n, float threshold = 0.5f);
    void resize(size_t n) { data_.resize(n * (size_t)words_); }
    CodeView view() const { return CodeView{data_.data(), size(), bits_, words_}; }
    std::vector<uint64_t>& raw() { return data_; }
    const std::vector<uint64_t>& raw() const { return data_; }

private:
    int bits_ = 0, words_ = 0;
    std::vector<uint64_t> data_;
};

}  // namespace dlbhc
