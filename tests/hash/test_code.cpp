// tests/hash/test_code.cpp -- binarisation and LSB-first packing against a bit-by-bit reference.
#include <doctest/doctest.h>

#include <stdexcept>
#include <vector>

#include "hash/code.h"
#include "nn/rng.h"

using namespace dlbhc;

static const int kBitCounts[] = {1, 12, 32, 48, 63, 64, 65, 100, 128, 130, 192, 200, 256, 257, 300, 520};

TEST_CASE("code_words is ceil(bits / 64) and rejects impossible lengths") {
    CHECK(code_words(1) == 1);
    CHECK(code_words(12) == 1);
    CHECK(code_words(64) == 1);
    CHECK(code_words(65) == 2);
    CHECK(code_words(128) == 2);
    CHECK(code_words(129) == 3);
    CHECK(code_words(256) == 4);
    CHECK_THROWS_AS(code_words(0), std::invalid_argument);
    CHECK_THROWS_AS(code_words(kMaxCodeBits + 1), std::invalid_argument);
}

TEST_CASE("binarize: bit i = a[i] > threshold, LSB first, padding bits zero") {
    Rng rng(11);
    for (int bits : kBitCounts) {
        CAPTURE(bits);
        std::vector<float> a(bits);
        for (int i = 0; i < bits; ++i) {
            a[i] = rng.uniform();
            if (rng.below(8) == 0) a[i] = 0.5f;  // exactly on the threshold: must give 0
        }
        int words = code_words(bits);
        std::vector<uint64_t> code(words, ~0ull);  // garbage that binarize must overwrite
        binarize(a.data(), bits, 0.5f, code.data());
        for (int i = 0; i < bits; ++i) {
            bool want = a[i] > 0.5f;
            CHECK(code_bit(code.data(), i) == want);
            CHECK((((code[i / 64] >> (i % 64)) & 1u) != 0) == want);
        }
        if (bits % 64) CHECK((code[words - 1] >> (bits % 64)) == 0);
    }
}

TEST_CASE("binarize: the threshold is a parameter and strictly greater") {
    const float a[4] = {0.0f, 0.25f, 0.3f, 0.9f};
    uint64_t code = 0;
    binarize(a, 4, 0.25f, &code);
    CHECK(code == 0b1100u);  // 0.25 is not > 0.25
    binarize(a, 4, 0.5f, &code);
    CHECK(code == 0b1000u);
    binarize(a, 4, -1.0f, &code);
    CHECK(code == 0b1111u);
}

TEST_CASE("binarize_rows and CodeSet agree with binarize row by row") {
    Rng rng(12);
    const int bits = 100;
    const size_t n = 7;
    std::vector<float> a(n * bits);
    for (auto& v : a) v = rng.uniform();
    CodeSet set(bits);
    set.add_activations(a.data(), 3);
    set.add_activations(a.data() + 3 * bits, n - 3);
    REQUIRE(set.size() == n);
    CHECK(set.words() == 2);
    for (size_t r = 0; r < n; ++r) {
        uint64_t want[2];
        binarize(a.data() + r * bits, bits, 0.5f, want);
        CHECK(set.code(r)[0] == want[0]);
        CHECK(set.code(r)[1] == want[1]);
    }
    CodeView v = set.view();
    CHECK(v.n == n);
    CHECK(v.code(4) == set.code(4));
    CodeSet empty;
    uint64_t w = 0;
    CHECK_THROWS_AS(empty.add(&w), std::logic_error);
}

TEST_CASE("CodeSet::add clears the unused high bits; first_code_with_padding finds a code that has them set") {
    for (int bits : kBitCounts) {
        CAPTURE(bits);
        CodeSet set(bits);
        const int W = set.words();
        std::vector<uint64_t> ones((size_t)W, ~0ull);
        set.add(ones.data());
        for (int w = 0; w + 1 < W; ++w) CHECK(set.code(0)[w] == ~0ull);
        CHECK(set.code(0)[W - 1] == ~code_padding_mask(bits));  // bits 0..B-1 kept, the rest cleared
        CHECK(code_padding_mask(bits) == (bits % 64 ? ~0ull << (bits % 64) : 0));
        set.add(ones.data());
        CHECK(first_code_with_padding(set.view()) == 2);  // none: n
        std::vector<uint64_t> raw = set.raw();
        raw[(size_t)W + W - 1] = ~0ull;  // code 1, all 64 bits of its last word
        const CodeView dirty{raw.data(), 2, bits, W};
        CHECK(first_code_with_padding(dirty) == (bits % 64 ? 1u : 2u));
    }
    CHECK(first_code_with_padding(CodeView{nullptr, 0, 12, 1}) == 0);
}
