// tests/hash/test_hamming.cpp -- every Hamming kernel against a bit-by-bit reference.
#include <doctest/doctest.h>

#include <string>
#include <stdexcept>
#include <vector>

#include "hash/code.h"
#include "hash/hamming.h"
#include "nn/rng.h"

using namespace dlbhc;

// The reference the kernels are held to: compare the codes one bit at a time.
static int hamming_bitwise(const uint64_t* a, const uint64_t* b, int bits) {
    int d = 0;
    for (int i = 0; i < bits; ++i) d += code_bit(a, i) != code_bit(b, i);
    return d;
}

// n random codes of `bits` bits with the padding bits clear; every fourth code is biased towards
// the query (few differing bits) so small distances and ties appear too.
static std::vector<uint64_t> random_codes(Rng& rng, size_t n, int bits, const std::vector<uint64_t>* near) {
    int words = code_words(bits);
    std::vector<uint64_t> c(n * words);
    for (size_t i = 0; i < n; ++i)
        for (int w = 0; w < words; ++w) {
            uint64_t v = rng.next_u64();
            if (near && i % 4 == 0) v = (*near)[w] ^ (rng.next_u64() & rng.next_u64() & rng.next_u64());
            int valid = bits - 64 * w;
            if (valid < 64) v &= (1ull << valid) - 1;
            c[i * words + w] = v;
        }
    return c;
}

static const int kBitCounts[] = {12, 32, 48, 64, 65, 100, 128, 130, 192, 200, 256, 257, 300, 512, 520};

TEST_CASE("hamming_distance matches the bit-by-bit reference for every code length") {
    Rng rng(21);
    for (int bits : kBitCounts) {
        CAPTURE(bits);
        auto a = random_codes(rng, 50, bits, nullptr);
        auto b = random_codes(rng, 50, bits, nullptr);
        int words = code_words(bits);
        for (size_t i = 0; i < 50; ++i)
            CHECK(hamming_distance(&a[i * words], &b[i * words], words) ==
                  hamming_bitwise(&a[i * words], &b[i * words], bits));
    }
    // Extremes: identical codes, complementary codes.
    uint64_t z[4] = {0, 0, 0, 0}, o[4] = {~0ull, ~0ull, ~0ull, ~0ull};
    CHECK(hamming_distance(z, z, 4) == 0);
    CHECK(hamming_distance(z, o, 4) == 256);
}

TEST_CASE("every Hamming kernel the CPU supports matches the portable one") {
    Rng rng(22);
    // Lengths around the SIMD block sizes (16 and 32 codes) exercise the vector body and the tail.
    const size_t sizes[] = {0, 1, 15, 16, 17, 31, 32, 33, 64, 100, 257};
    for (int ki = 0; ki < kHammingKernelCount; ++ki) {
        HammingKernel k = (HammingKernel)ki;
        if (!hamming_kernel_supported(k)) {
            MESSAGE("Hamming kernel " << std::string(hamming_kernel_name(k)) << " skipped: not supported by this CPU");
            continue;
        }
        HammingBatchFn fn = hamming_batch_fn(k);
        for (int bits : kBitCounts) {
            int words = code_words(bits);
            std::vector<uint64_t> q = random_codes(rng, 1, bits, nullptr);
            for (size_t n : sizes) {
                std::string kernel = hamming_kernel_name(k);
                CAPTURE(kernel);
                CAPTURE(bits);
                CAPTURE(n);
                auto codes = random_codes(rng, n, bits, &q);
                std::vector<uint16_t> got(n + 1, 0xBEEF), want(n + 1, 0xBEEF);
                fn(q.data(), codes.data(), n, words, got.data());
                detail::hamming_batch_portable(q.data(), codes.data(), n, words, want.data());
                CHECK(got == want);  // includes the sentinel past the end: nothing written there
                for (size_t i = 0; i < n; ++i) REQUIRE(want[i] == hamming_bitwise(q.data(), &codes[i * words], bits));
                HammingComputer hc(q.data(), words, k);
                for (size_t i = 0; i < n; ++i) CHECK(hc.distance(&codes[i * words]) == want[i]);
            }
        }
    }
}

// The comparisons above skip a kernel the CPU lacks; this makes sure a kernel the CPU has is never
// skipped by mistake (a wrong feature test would otherwise leave it untested everywhere): on a CPU
// with AVX-512 VPOPCNTDQ (and BW, which every such CPU but Knights Mill has), the VPOPCNTQ kernel
// must be supported and be the one searches pick. Outside x86-64 only the portable kernel exists.
TEST_CASE("Hamming kernels: the CPU's features decide which kernels are tested") {
#if defined(__x86_64__)
    const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt");
    const bool bw = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
    CHECK(hamming_kernel_supported(HammingKernel::Avx2) == avx2);
    CHECK(hamming_kernel_supported(HammingKernel::Avx512Bw) == bw);
    if (bw && __builtin_cpu_supports("avx512vpopcntdq")) {
        CHECK(hamming_kernel_supported(HammingKernel::Avx512Vpopcnt));
        CHECK(hamming_best_kernel() == HammingKernel::Avx512Vpopcnt);
        MESSAGE("this CPU has AVX-512 VPOPCNTDQ: the avx512vpopcnt kernel is tested");
    } else {
        CHECK_FALSE(hamming_kernel_supported(HammingKernel::Avx512Vpopcnt));
        MESSAGE("Hamming kernel avx512vpopcnt skipped: this CPU lacks AVX-512 VPOPCNTDQ (or BW)");
    }
#else
    for (int ki = 1; ki < kHammingKernelCount; ++ki) CHECK_FALSE(hamming_kernel_supported((HammingKernel)ki));
    CHECK(hamming_best_kernel() == HammingKernel::Portable);
    MESSAGE("not an x86-64 build: only the portable Hamming kernel exists");
#endif
}

TEST_CASE("Hamming kernels: maximal distances do not overflow the packing") {
    // All bits differ: distance = bits, the largest value each packing path must carry.
    for (int ki = 0; ki < kHammingKernelCount; ++ki) {
        HammingKernel k = (HammingKernel)ki;
        if (!hamming_kernel_supported(k)) continue;
        for (int bits : {64, 128, 256, 512}) {
            int words = code_words(bits);
            std::vector<uint64_t> q(words, 0), c(40 * words, ~0ull);
            std::vector<uint16_t> d(40);
            hamming_batch_fn(k)(q.data(), c.data(), 40, words, d.data());
            for (auto v : d) CHECK(v == bits);
        }
    }
}

TEST_CASE("kernel names, selection and forcing") {
    for (int ki = 0; ki < kHammingKernelCount; ++ki)
        CHECK(hamming_kernel_from_name(hamming_kernel_name((HammingKernel)ki)) == (HammingKernel)ki);
    CHECK_THROWS_AS(hamming_kernel_from_name("sse9"), std::invalid_argument);
    CHECK(hamming_kernel_supported(HammingKernel::Portable));
    CHECK(hamming_kernel_supported(hamming_best_kernel()));
    HammingKernel before = hamming_active_kernel();
    hamming_force_kernel(HammingKernel::Portable);
    CHECK(hamming_active_kernel() == HammingKernel::Portable);
    hamming_force_kernel(before);
    for (int ki = 0; ki < kHammingKernelCount; ++ki)
        if (!hamming_kernel_supported((HammingKernel)ki))
            CHECK_THROWS_AS(hamming_force_kernel((HammingKernel)ki), std::runtime_error);
    MESSAGE("best Hamming kernel on this CPU: " << std::string(hamming_kernel_name(hamming_best_kernel())));
}
