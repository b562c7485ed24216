// hash/hamming.cpp -- the portable kernel, CPU detection and the kernel dispatcher.
#include "hash/hamming.h"

#include <atomic>
#include <cstdlib>
#include <stdexcept>

namespace dlbhc {

// Population count without any special instruction (Hacker's Delight, fig. 5-2): sums of 2, 4,
// 8 bits, then one multiply gathers the eight byte counts into the top byte.
static inline int popcount_portable(uint64_t x) {
    x = x - ((x >> 1) & 0x5555555555555555ull);
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0Full;
    return (int)((x * 0x0101010101010101ull) >> 56);
}

int hamming_distance(const uint64_t* a, const uint64_t* b, int words) {
    int d = 0;
    for (int w = 0; w < words; ++w) d += popcount_portable(a[w] ^ b[w]);
    return d;
}

namespace detail {
void hamming_batch_portable(const uint64_t* q, const uint64_t* codes, size_t n, int words, uint16_t* out) {
    for (size_t i = 0; i < n; ++i) out[i] = (uint16_t)hamming_distance(q, codes + i * (size_t)words, words);
}
}  // namespace detail

static const char* const kNames[kHammingKernelCount] = {"portable", "popcnt", "avx2", "avx512bw",
                                                        "avx512vpopcnt"};

const char* hamming_kernel_name(HammingKernel k) { return kNames[(int)k]; }

HammingKernel hamming_kernel_from_name(const std::string& name) {
    for (int i = 0; i < kHammingKernelCount; ++i)
        if (name == kNames[i]) return (HammingKernel)i;
    throw std::invalid_argument("Hamming kernel: expected one of portable, popcnt, avx2, avx512bw, "
                                "avx512vpopcnt; found '" + name + "'");
}

bool hamming_kernel_supported(HammingKernel k) {
    switch (k) {
    case HammingKernel::Portable: return true;
#if defined(__x86_64__)
    case HammingKernel::Popcnt: return __builtin_cpu_supports("popcnt");
    case HammingKernel::Avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt");
    case HammingKernel::Avx512Bw:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt");
    case HammingKernel::Avx512Vpopcnt:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vpopcntdq") && __builtin_cpu_supports("avx2") &&
               __builtin_cpu_supports("popcnt");
#endif
    default: return false;
    }
}

HammingKernel hamming_best_kernel() {
    for (int i = kHammingKernelCount - 1; i > 0; --i)
        if (hamming_kernel_supported((HammingKernel)i)) return (HammingKernel)i;
    return HammingKernel::Portable;
}

// -1 until the first use decides (environment or CPU); an atomic so concurrent searches that
// start together agree without a lock.
static std::atomic<int> g_active{-1};

HammingKernel hamming_active_kernel() {
    int a = g_active.load(std::memory_order_acquire);
    if (a >= 0) return (HammingKernel)a;
    HammingKernel k = hamming_best_kernel();
    if (const char* env = std::getenv("DLBHC_HAMMING")) {
        k = hamming_kernel_from_name(env);
        if (!hamming_kernel_supported(k))
            throw std::runtime_error(std::string("DLBHC_HAMMING=") + env +
                                     ": expected a kernel this CPU supports; found one it does not "
                                     "(best here: " + hamming_kernel_name(hamming_best_kernel()) + ")");
    }
    g_active.store((int)k, std::memory_order_release);
    return k;
}

void hamming_force_kernel(HammingKernel k) {
    if (!hamming_kernel_supported(k))
        throw std::runtime_error(std::string("hamming_force_kernel: kernel ") + hamming_kernel_name(k) +
                                 " is not supported on this CPU");
    g_active.store((int)k, std::memory_order_release);
}

HammingBatchFn hamming_batch_fn(HammingKernel k) {
    if (!hamming_kernel_supported(k))
        throw std::runtime_error(std::string("hamming_batch_fn: kernel ") + hamming_kernel_name(k) +
                                 " is not supported on this CPU");
    switch (k) {
#if defined(__x86_64__)
    case HammingKernel::Popcnt: return detail::hamming_batch_popcnt;
    case HammingKernel::Avx2: return detail::hamming_batch_avx2;
    case HammingKernel::Avx512Bw: return detail::hamming_batch_avx512bw;
    case HammingKernel::Avx512Vpopcnt: return detail::hamming_batch_avx512vpopcnt;
#endif
    default: return detail::hamming_batch_portable;
    }
}

HammingComputer::HammingComputer(const uint64_t* query, int words)
    : HammingComputer(query, words, hamming_active_kernel()) {}

HammingComputer::HammingComputer(const uint64_t* query, int words, HammingKernel kernel)
    : q_(query, query + words), words_(words), fn_(hamming_batch_fn(kernel)) {}

int HammingComputer::distance(const uint64_t* code) const {
#if defined(__x86_64__)
    if (fn_ != detail::hamming_batch_portable) return detail::hamming_one_popcnt(q_.data(), code, words_);
#endif
    return hamming_distance(q_.data(), code, words_);
}

}  // namespace dlbhc
