// hash/hamming.h -- Hamming distance between packed codes: kernels, run-time dispatch, and the
// per-query HammingComputer every search in search/ uses.
//
// distance(a, b) = sum over the W words of popcount(a[w] XOR b[w])   (codes packed as in code.h)
//
// Kernels (all compute exactly the same integers; the tests compare each against the portable one):
//   Portable       plain C++: XOR + SWAR popcount (Hacker's Delight 5-2). Runs everywhere.
//   Popcnt         XOR + the POPCNT instruction, one 64-bit word at a time.
//   Avx2           XOR + nibble look-up popcount with VPSHUFB, summed by VPSADBW (Mula et al.).
//   Avx512Bw       the same look-up on 512-bit registers (AVX-512BW).
//   Avx512Vpopcnt  VPOPCNTQ on 512-bit registers (AVX-512 VPOPCNTDQ: Ice Lake and later).
// The x86 kernels are compiled with per-function target attributes, so the default build needs
// no -march flag: one binary runs on any x86-64, and the best kernel the CPU supports is chosen
// at run time (CPUID via __builtin_cpu_supports). Set the environment variable
// DLBHC_HAMMING=portable|popcnt|avx2|avx512bw|avx512vpopcnt to choose one by hand (read once, at
// the first search), or call hamming_force_kernel() (tests, benchmarks).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace dlbhc {

enum class HammingKernel { Portable, Popcnt, Avx2, Avx512Bw, Avx512Vpopcnt };
constexpr int kHammingKernelCount = 5;

const char* hamming_kernel_name(HammingKernel k);
// Parses a name as printed by hamming_kernel_name; throws std::invalid_argument listing the names.
HammingKernel hamming_kernel_from_name(const std::string& name);
// True when this build contains the kernel and this CPU can run it.
bool hamming_kernel_supported(HammingKernel k);
// The fastest supported kernel (order: Avx512Vpopcnt, Avx512Bw, Avx2, Popcnt, Portable).
HammingKernel hamming_best_kernel();
// The kernel searches use: DLBHC_HAMMING if set, else hamming_best_kernel(); or the forced one.
HammingKernel hamming_active_kernel();
// Makes every later search use k (throws std::runtime_error if unsupported). Not thread-safe
// against searches running at the same time: call it between searches.
void hamming_force_kernel(HammingKernel k);

// The plain reference for one pair (portable popcount). a and b hold `words` words each.
int hamming_distance(const uint64_t* a, const uint64_t* b, int words);

// A batch kernel: out[i] = distance(q, codes + i*words) for i < n. q holds `words` words, codes
// is (n, words), out holds n distances (uint16: a distance is at most kMaxCodeBits).
using HammingBatchFn = void (*)(const uint64_t* q, const uint64_t* codes, size_t n, int words,
                                uint16_t* out);
// The batch kernel k (throws std::runtime_error if unsupported on this CPU).
HammingBatchFn hamming_batch_fn(HammingKernel k);

// A query prepared once (its words copied, the kernel chosen) and then compared with many codes.
class HammingComputer {
public:
    // query holds `words` words; kernel defaults to hamming_active_kernel().
    HammingComputer(const uint64_t* query, int words);
    HammingComputer(const uint64_t* query, int words, HammingKernel kernel);
    int words() const { return words_; }
    const uint64_t* query() const { return q_.data(); }
    // Distance to one code of words() words.
    int distance(const uint64_t* code) const;
    // Distances to n consecutive codes, (n, words()), into out[n].
    void distances(const uint64_t* codes, size_t n, uint16_t* out) const { fn_(q_.data(), codes, n, words_, out); }

private:
    std::vector<uint64_t> q_;
    int words_;
    HammingBatchFn fn_;
};

namespace detail {
// The kernels themselves (hamming.cpp, hamming_x86.cpp); use hamming_batch_fn() instead.
void hamming_batch_portable(const uint64_t* q, const uint64_t* codes, size_t n, int words, uint16_t* out);
#if defined(__x86_64__)
void hamming_batch_popcnt(const uint64_t* q, const uint64_t* codes, size_t n, int words, uint16_t* out);
void hamming_batch_avx2(const uint64_t* q, const uint64_t* codes, size_t n, int words, uint16_t* out);
void hamming_batch_avx512bw(const uint64_t* q, const uint64_t* codes, size_t n, int words, uint16_t* out);
void hamming_batch_avx512vpopcnt(const uint64_t* q, const uint64_t* codes, size_t n, int words, uint16_t* out);
int hamming_one_popcnt(const uint64_t* a, const uint64_t* b, int words);
#endif
}  // namespace detail

}  // namespace dlbhc
