// bench/bench_search.cpp -- search benchmarks on synthetic data (`make bench`, not `make test`).
//
//   1. memory bandwidth of this machine (streaming read, 1 and 2 threads);
//   2. Hamming kernels alone (distances only);
//   3. linear Hamming k-NN, N = 1,000,000 codes of 48/64/128 bits, k = 1/100/1000, 1000 queries,
//      1 and 2 threads: queries/s and bytes of codes scanned per second;
//   4. hierarchical (coarse Hamming + fine Euclidean) versus exhaustive 4096-d Euclidean search
//      on clustered data: N = 200,000 float32 and, when memory allows, N = 1,000,000 float16;
//      time per query, speed-up, and overlap of the two top-100 lists.
// Every time is the median of several runs. Options: --quick (smaller N, for a smoke test),
// --no-1m (skip the 1,000,000-item Euclidean part).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include "hash/code.h"
#include "hash/hamming.h"
#include "nn/rng.h"
#include "search/euclid_search.h"
#include "search/float16.h"
#include "search/hamming_search.h"
#include "search/hierarchical.h"
#include "search/l2.h"

#include "bench/bench_util.h"

using namespace dlbhc;
using Clock = std::chrono::steady_clock;

namespace {

using bench::cpu_model;
using bench::median_seconds;

// The machine's thread count, read once before any benchmark changes OpenMP's setting.
int max_threads() {
#if defined(_OPENMP)
    static const int n = omp_get_max_threads();
    return n;
#else
    return 1;
#endif
}

double mem_available_gb() {
    std::ifstream f("/proc/meminfo");
    std::string key;
    double kb;
    std::string unit;
    while (f >> key >> kb >> unit)
        if (key == "MemAvailable:") return kb / 1048576.0;
    return 0;
}

// Streaming read of a large buffer: GB/s with `threads` threads.
double bandwidth_gbs(const std::vector<uint64_t>& buf, int threads) {
    volatile uint64_t sink = 0;
    const size_t n = buf.size();
    double t = median_seconds(5, [&] {
        uint64_t total = 0;
#if defined(_OPENMP)
#pragma omp parallel for num_threads(threads) reduction(+ : total) schedule(static)
#endif
        for (long long c = 0; c < 64; ++c) {  // 64 contiguous chunks
            const uint64_t* p = buf.data() + (size_t)c * (n / 64);
            uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            for (size_t i = 0; i + 4 <= n / 64; i += 4) {
                s0 += p[i];
                s1 += p[i + 1];
                s2 += p[i + 2];
                s3 += p[i + 3];
            }
            total += s0 + s1 + s2 + s3;
        }
        sink = sink + total;
    });
    (void)threads;
    return (double)(n / 64 * 64) * 8 / t / 1e9;
}

// Uniform random codes (the usual setting for a linear-scan benchmark).
CodeSet random_codes(size_t n, int bits, uint64_t seed) {
    CodeSet s(bits);
    s.resize(n);
    Rng rng(seed);
    const int W = s.words();
    for (size_t i = 0; i < n; ++i)
        for (int w = 0; w < W; ++w) {
            uint64_t v = rng.next_u64();
            int valid = bits - 64 * w;
            if (valid < 64) v &= (1ull << valid) - 1;
            s.code(i)[w] = v;
        }
    return s;
}

// ---------------------------------------------------------------- clustered feature data

// C clusters in D dimensions: feature = ReLU(centre + uniform noise), code = the cluster's 48-bit
// code with each bit flipped with probability p_flip (a stand-in for a trained hash layer: items
// of a class share most bits).
struct Clustered {
    int D = 4096, bits = 48, C = 0;
    float noise = 0;
    double p_flip = 0;
    std::vector<float> centres;   // (C, D)
    std::vector<uint64_t> ccode;  // C codes
};

Clustered make_clusters(int C, int D, uint64_t seed) {
    Clustered cl;
    cl.C = C;
    cl.D = D;
    cl.noise = 1.0f;
    cl.p_flip = 0.05;
    cl.centres.resize((size_t)C * D);
    cl.ccode.resize(C);
    Rng rng(seed);
    for (auto& v : cl.centres) v = rng.uniform(0.0f, 1.0f);
    for (auto& c : cl.ccode) c = rng.next_u64() & ((1ull << cl.bits) - 1);
    return cl;
}

// Item i (deterministic from (seed, i), so rows can be made in parallel): its cluster, code and
// feature row.
int make_item(const Clustered& cl, uint64_t seed, size_t i, float* row, uint64_t* code) {
    Rng rng(seed * 0x9E3779B97F4A7C15ull + i);
    int c = (int)rng.below((uint32_t)cl.C);
    const float* ctr = &cl.centres[(size_t)c * cl.D];
    for (int d = 0; d < cl.D; d += 4) {
        uint64_t r = rng.next_u64();
        for (int j = 0; j < 4 && d + j < cl.D; ++j) {
            float u = (float)((r >> (16 * j)) & 0xffff) * (1.0f / 65536.0f) - 0.5f;  // [-0.5, 0.5)
            row[d + j] = std::max(0.0f, ctr[d + j] + cl.noise * u);
        }
    }
    uint64_t flips = 0;
    const uint32_t thresh = (uint32_t)(cl.p_flip * 4294967296.0);
    for (int b = 0; b < cl.bits; ++b)
        if ((uint32_t)(rng.next_u64() >> 32) < thresh) flips |= 1ull << b;
    *code = cl.ccode[c] ^ flips;
    return c;
}

void fill_items(const Clustered& cl, uint64_t seed, size_t n, FeatureType t, void* feats, CodeSet& codes) {
    codes = CodeSet(cl.bits);
    codes.resize(n);
#if defined(_OPENMP)
#pragma omp parallel
#endif
    {
        std::vector<float> row(cl.D);
#if defined(_OPENMP)
#pragma omp for schedule(static)
#endif
        for (long long i = 0; i < (long long)n; ++i) {
            if (t == FeatureType::F32) {
                make_item(cl, seed, (size_t)i, (float*)feats + (size_t)i * cl.D, codes.code((size_t)i));
            } else {
                make_item(cl, seed, (size_t)i, row.data(), codes.code((size_t)i));
                floats_to_halves(row.data(), cl.D, (uint16_t*)feats + (size_t)i * cl.D);
            }
        }
    }
}

// ---------------------------------------------------------------- parts

void bench_hamming_kernels(size_t n) {
    std::printf("\n## Hamming kernels alone: distances from one query to %zu codes (no top-k), 1 thread\n", n);
    std::printf("%-14s %6s %14s %12s\n", "kernel", "bits", "Gcodes/s", "GB/s");
    for (int bits : {48, 64, 128}) {
        CodeSet db = random_codes(n, bits, 7);
        std::vector<uint16_t> out(n);
        for (int ki = 0; ki < kHammingKernelCount; ++ki) {
            HammingKernel k = (HammingKernel)ki;
            if (!hamming_kernel_supported(k)) {
                std::printf("%-14s %6d %14s\n", hamming_kernel_name(k), bits, "(not supported by this CPU)");
                continue;
            }
            HammingComputer hc(db.code(0), db.words(), k);
            // 64 Ki codes at a time, as the search does, so the codes come from the cache.
            const size_t block = 65536;
            double t = median_seconds(5, [&] {
                for (size_t b = 0; b < n; b += block) hc.distances(db.code(b), std::min(block, n - b), out.data() + b);
            });
            std::printf("%-14s %6d %14.2f %12.2f\n", hamming_kernel_name(k), bits, n / t / 1e9, n * db.words() * 8.0 / t / 1e9);
        }
    }
}

void bench_hamming_knn(size_t n, size_t nq, double bw1, double bw2) {
    std::printf("\n## Linear Hamming k-NN: N = %zu codes, %zu queries, kernel %s (median of 3 runs)\n", n, nq,
                hamming_kernel_name(hamming_active_kernel()));
    std::printf("bytes/s = Q * N * bytes per code / time: the code bytes the scan compares; the machine's\n"
                "streaming read bandwidth is %.1f GB/s (1 thread) and %.1f GB/s (2 threads).\n", bw1, bw2);
    std::printf("%5s %5s %8s %10s %12s %12s %10s\n", "bits", "k", "threads", "ms/query", "queries/s", "GB/s", "x bw");
    for (int bits : {48, 64, 128}) {
        CodeSet db = random_codes(n, bits, 100 + bits);
        CodeSet qs = random_codes(nq, bits, 200 + bits);
        for (size_t k : {(size_t)1, (size_t)100, (size_t)1000}) {
            for (int threads : {1, 2}) {
                if (threads > max_threads()) continue;
                SearchOptions opt{threads, 0};
                double t = median_seconds(3, [&] { auto r = hamming_knn_batch(db.view(), qs.view(), k, opt); });
                double bytes = (double)nq * n * db.words() * 8;
                double gbs = bytes / t / 1e9;
                std::printf("%5d %5zu %8d %10.4f %12.0f %12.1f %10.2f\n", bits, k, threads, t / nq * 1e3, nq / t, gbs,
                            gbs / (threads == 1 ? bw1 : bw2));
            }
        }
    }
}

double overlap_at(const std::vector<HierarchicalHit>& a, const std::vector<EuclidHit>& b, size_t k) {
    std::vector<uint32_t> x, y;
    for (size_t i = 0; i < std::min(k, a.size()); ++i) x.push_back(a[i].index);
    for (size_t i = 0; i < std::min(k, b.size()); ++i) y.push_back(b[i].index);
    std::sort(x.begin(), x.end());
    std::sort(y.begin(), y.end());
    std::vector<uint32_t> both;
    std::set_intersection(x.begin(), x.end(), y.begin(), y.end(), std::back_inserter(both));
    return (double)both.size() / (double)k;
}

void bench_hierarchical(size_t n, FeatureType t, size_t nq_exh, size_t nq_hier, int reps_exh) {
    const int D = 4096, C = 1000;
    const size_t k = 100;
    std::printf("\n## Hierarchical vs exhaustive Euclidean search: N = %zu, D = %d (%s features, %.1f GB), "
                "%d clusters, 48-bit codes, k = %zu, L2 kernel %s\n",
                n, D, feature_type_name(t), (double)n * D * feature_type_bytes(t) / 1e9, C, k,
                l2_kernel_name(l2_active_kernel()));
    Clustered cl = make_clusters(C, D, 5);
    auto g0 = Clock::now();
    std::vector<char> feats(n * (size_t)D * feature_type_bytes(t));
    CodeSet codes;
    fill_items(cl, 1, n, t, feats.data(), codes);
    std::vector<float> qf(nq_hier * (size_t)D);
    CodeSet qc;
    fill_items(cl, 2, nq_hier, FeatureType::F32, qf.data(), qc);
    std::printf("(data generated in %.1f s)\n", std::chrono::duration<double>(Clock::now() - g0).count());
    FeatureView fv{feats.data(), n, D, t};

    for (int threads : {1, 2}) {
        if (threads > max_threads()) continue;
        SearchOptions opt{threads, 0};
        std::vector<std::vector<EuclidHit>> exh;
        double t_exh = median_seconds(reps_exh, [&] { exh = euclidean_knn_batch(fv, qf.data(), nq_exh, k, opt); });
        double per_exh = t_exh / nq_exh;
        std::printf("threads %d: exhaustive: %.2f ms/query (%zu queries, median of %d)\n", threads, per_exh * 1e3, nq_exh,
                    reps_exh);
        struct Setting {
            const char* name;
            HierarchicalOptions o;
        };
        std::vector<Setting> settings;
        for (int thr : {6, 8, 10}) {
            HierarchicalOptions o;
            o.threshold = thr;
            o.rule = RadiusRule::LessThan;
            settings.push_back({thr == 6 ? "d<6" : thr == 8 ? "d<8" : "d<10", o});
        }
        HierarchicalOptions m;
        m.pool = HierarchicalOptions::Pool::TopM;
        m.m = 1000;
        settings.push_back({"top-1000", m});
        std::printf("  %-9s %10s %10s %12s %10s %12s\n", "pool", "ms/query", "mean pool", "speed-up", "overlap@100",
                    "widened");
        for (const auto& s : settings) {
            std::vector<HierarchicalResult> hier;
            double t_h = median_seconds(3, [&] {
                hier = hierarchical_search_batch(codes.view(), fv, qc.view(), qf.data(), k, s.o, opt);
            });
            double per_h = t_h / nq_hier, pool = 0, overlap = 0;
            size_t widened = 0;
            for (const auto& r : hier) {
                pool += (double)r.pool_size;
                widened += r.widened;
            }
            for (size_t q = 0; q < nq_exh; ++q) overlap += overlap_at(hier[q].hits, exh[q], k);
            std::printf("  %-9s %10.3f %10.0f %11.1fx %10.1f%% %12zu\n", s.name, per_h * 1e3, pool / nq_hier,
                        per_exh / per_h, 100.0 * overlap / nq_exh, widened);
        }
    }
}

}  // namespace

#ifndef DLBHC_BENCH_SEARCH_NO_MAIN  // bench_search_faiss.cpp reuses this file's data and timers
int main(int argc, char** argv) {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress is visible when the output goes to a file
    bool quick = false, skip_1m = false;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--quick")) quick = true;
        if (!std::strcmp(argv[i], "--no-1m")) skip_1m = true;
    }
    std::printf("# bench_search%s\n", quick ? " --quick" : "");
    std::printf("machine: %s, %u hardware threads (OpenMP max %d), %.1f GB memory available\n", cpu_model().c_str(),
                std::thread::hardware_concurrency(), max_threads(), mem_available_gb());
    std::printf("Hamming kernel: %s (best supported: %s); float16 conversion: %s\n",
                hamming_kernel_name(hamming_active_kernel()), hamming_kernel_name(hamming_best_kernel()),
                f16c_supported() ? "F16C" : "portable");

    std::vector<uint64_t> buf((quick ? 256u : 1024u) << 17, 1);  // 256 MB / 1 GB, touched
    double bw1 = bandwidth_gbs(buf, 1), bw2 = max_threads() >= 2 ? bandwidth_gbs(buf, 2) : bw1;
    std::printf("\n## Memory bandwidth (streaming read of %zu MB, median of 5): %.1f GB/s 1 thread, %.1f GB/s 2 threads\n",
                buf.size() * 8 >> 20, bw1, bw2);
    buf.clear();
    buf.shrink_to_fit();

    const size_t n_codes = quick ? 100000 : 1000000, nq = quick ? 100 : 1000;
    bench_hamming_kernels(n_codes);
    bench_hamming_knn(n_codes, nq, bw1, bw2);
    bench_hierarchical(quick ? 20000 : 200000, FeatureType::F32, quick ? 8 : 32, quick ? 100 : 1000, 3);
    if (!quick && !skip_1m) {
        const double need = 1e6 * 4096 * 2 / 1073741824.0;  // GiB of float16 features
        double avail = mem_available_gb();
        if (avail > need * 1.2 + 2)
            bench_hierarchical(1000000, FeatureType::F16, 32, 1000, 3);
        else
            std::printf("\n(skipping N = 1,000,000 float16: %.1f GB available, about %.1f GB needed)\n", avail, need * 1.2 + 2);
    }
    return 0;
}
#endif  // DLBHC_BENCH_SEARCH_NO_MAIN
