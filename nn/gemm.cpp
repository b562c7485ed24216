// nn/gemm.cpp -- see gemm.h.
//
// Blocking scheme (after Goto & van de Geijn, "Anatomy of high-performance matrix multiplication",
// ACM TOMS 2008, and the BLIS papers). C is cut into tasks of at most (MC, NC); a task runs
//
//   for each K block p0 of at most KC:
//       pack op(B)[p0:p0+kc, j0:j0+nc] into NR-wide micro-panels   Bp  (kc x nc, 512 KB: fits L2)
//       pack op(A)[i0:i0+mc, p0:p0+kc] into MR-tall micro-panels   Ap
//       for each MR-row micro-panel of Ap                          (kc x MR, 8 KB: stays in L1)
//           for each NR-column micro-panel of Bp                   (streamed from L2)
//               C[MR x NR tile] (+)= alpha * Ap_panel * Bp_panel   (the micro-kernel)
//
// Why: the micro-kernel keeps its MR x NR tile of C in vector registers for the whole kc loop, so
// per step it does MR*NR multiply-adds for MR + NR loads; packing makes those loads contiguous and
// aligned whatever the transposition and leading dimension, and zero-pads the ragged edges so the
// kernel never branches inside its loop. C is read and written once per K block (1/KC of the work).
// The A micro-panel is the one held in L1 (so the inner loop runs over B panels, not over A panels
// as BLIS does) because with NR = 32 a B micro-panel of depth 256 is 32 KB, the whole L1, while an
// A micro-panel is 8 KB. The B block is reused by every A micro-panel of the task, from L2; the A
// block is used once per B block and needs no cache of its own, so MC is large: every extra task
// row would pack the B block again (MC = 768 instead of 192 was 20% faster on 1024^3).
//
// The micro-kernel is one plain C++ loop nest, instantiated for several tile sizes and compiled
// for several instruction sets with GCC's target attribute: AVX-512 (32 registers of 16 floats),
// AVX2+FMA (16 of 8) and the build's baseline (SSE2 on x86-64, or whatever another architecture
// offers). The best one the CPU supports is chosen once at run time, so one portable binary (no
// -march) still uses the wide units. The compiler vectorises the column loop of the tile.
//
// Threads: tasks are independent (disjoint tiles of C), so OpenMP runs them in parallel, each
// thread packing into its own buffers. Small products stay serial (below kParallelMacs
// multiply-adds the fork/join costs more than it saves).
#include "nn/gemm.h"

#include <algorithm>
#include <memory>
#include <stdexcept>

#include "nn/tensor.h"

#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace dlbhc {

namespace {

constexpr int kKC = 256;                    // depth of a packed block (K direction)
constexpr int kNC = 512;                    // columns of C per task (B block kKC x kNC = 512 KB)
constexpr int kMC = 768;                    // rows of C per task (rounded to a multiple of MR)
constexpr double kParallelMacs = 1 << 21;   // M*N*K below this: one thread

// The micro-kernel streams its B micro-panel from L2 (a panel of depth 256 is the whole L1), so
// it asks for B kPrefetchB steps ahead: 5-12% more GFLOPS on CaffeNet's shapes on this machine
// (bench_gemm, 2 threads, e.g. square 1024 188 -> 203-212, conv3 166 -> 187-191; distances 4, 8
// and 16 were within noise of each other; prefetching the C tile as well gained nothing).
constexpr int kPrefetchB = 4;
// A micro-kernel: C[m x n tile] = alpha * Ap * Bp + beta * C (beta == 0: C is not read).
// Ap is (kc, MR) packed k-major, Bp is (kc, NR) packed k-major, both zero-padded; m <= MR and
// n <= NR give the valid part of the tile at the edges of C.
using KernelFn = void (*)(int kc, const float* Ap, const float* Bp, float* C, int ldc, int m, int n,
                          float alpha, float beta);

// Packs rows [r0, r0+rn) and depth [p0, p0+kc) of an operand into R-wide micro-panels (see
// pack_panels below); compiled once per instruction set, like the micro-kernels.
using PackFn = void (*)(const float* X, int ld, bool k_major, int r0, int rn, int p0, int kc, int R, float* dst);

struct KernelSet {
    const char* name;
    int mr, nr;
    KernelFn fn;
    PackFn pack;
};

// The loop nest every micro-kernel shares. Always inlined into the target-specific wrappers below,
// so each wrapper compiles it for its own instruction set.
template <int MR, int NR>
__attribute__((always_inline)) inline void micro_kernel(int kc, const float* __restrict Ap,
                                                        const float* __restrict Bp, float* __restrict C,
                                                        int ldc, int m, int n, float alpha, float beta) {
    float acc[MR][NR] = {};
    for (int p = 0; p < kc; ++p) {
        const float* a = Ap + (size_t)p * MR;
        const float* b = Bp + (size_t)p * NR;
        __builtin_prefetch(b + kPrefetchB * NR);
        if (NR >= 32) __builtin_prefetch(b + kPrefetchB * NR + 16);
        for (int i = 0; i < MR; ++i)
            for (int j = 0; j < NR; ++j) acc[i][j] += a[i] * b[j];
    }
    if (m == MR && n == NR) {  // a full tile: loops of constant length, vectorised
        if (beta == 0.0f) {
            for (int i = 0; i < MR; ++i)
                for (int j = 0; j < NR; ++j) C[(size_t)i * ldc + j] = alpha * acc[i][j];
        } else {
            for (int i = 0; i < MR; ++i)
                for (int j = 0; j < NR; ++j) C[(size_t)i * ldc + j] = alpha * acc[i][j] + beta * C[(size_t)i * ldc + j];
        }
    } else {
        for (int i = 0; i < m; ++i)
            for (int j = 0; j < n; ++j) {
                float& c = C[(size_t)i * ldc + j];
                c = beta == 0.0f ? alpha * acc[i][j] : alpha * acc[i][j] + beta * c;
            }
    }
}

// The tile of each kernel (MR rows x NR columns of C), chosen to fill the vector registers:
// AVX-512, 8 x 32: 16 zmm accumulators (enough to hide FMA latency on two ports), 2 B loads and 8
//   broadcasts per 16 FMAs; MR = 8 divides the batch sizes and the per-group channel counts of the
//   net, so few tiles are ragged. (12 x 32 and 14 x 32 measured no faster.)
// AVX2, 4 x 24: 12 ymm accumulators + 3 for B + 1 broadcast = the 16 registers. (GCC 12
//   vectorises the more usual 6 x 16 with 128-bit vectors and spills; 4 x 24 comes out clean.)
// Generic, 4 x 8: 8 accumulators of 4 floats (SSE2 / NEON-sized registers).
constexpr int kAvx512MR = 8, kAvx512NR = 32;
constexpr int kAvx2MR = 4, kAvx2NR = 24;
constexpr int kGenericMR = 4, kGenericNR = 8;

#if defined(__x86_64__)
__attribute__((target("avx512f,avx2,fma"))) void kernel_avx512(int kc, const float* Ap, const float* Bp,
                                                                float* C, int ldc, int m, int n, float alpha,
                                                                float beta) {
    micro_kernel<kAvx512MR, kAvx512NR>(kc, Ap, Bp, C, ldc, m, n, alpha, beta);
}

__attribute__((target("avx2,fma"))) void kernel_avx2(int kc, const float* Ap, const float* Bp, float* C, int ldc,
                                                     int m, int n, float alpha, float beta) {
    micro_kernel<kAvx2MR, kAvx2NR>(kc, Ap, Bp, C, ldc, m, n, alpha, beta);
}
#endif

void kernel_generic(int kc, const float* Ap, const float* Bp, float* C, int ldc, int m, int n, float alpha,
                    float beta) {
    micro_kernel<kGenericMR, kGenericNR>(kc, Ap, Bp, C, ldc, m, n, alpha, beta);
}

// Packs rows [r0, r0+rn) and depth [p0, p0+kc) of an operand into ceil(rn/R) micro-panels, each
// (kc, R) with element (p, r) at [p * R + r]; rows past rn are zero. dst holds
// ceil(rn/R) * R * kc floats. "Rows" are the rows of op(A) (R = MR) or the columns of op(B)
// (R = NR), so one routine packs both:
//   k_major: element (p, r) is X[(p0 + p) * ld + r0 + r]  (A transposed, or B not transposed);
//   else:    element (p, r) is X[(r0 + r) * ld + p0 + p]  (A not transposed, or B transposed).
// The transposing case works on 8 x 8 blocks: block8 transposes one block (8 source rows of 8
// floats at src, row stride ld, into 8 rows of 8 at dst, row stride R); null means element by
// element. Like the micro-kernels, packing is compiled once per instruction set (pack_avx512,
// pack_avx2, pack_generic): the copies vectorise to the CPU's width, and the AVX ones transpose
// in registers (with the scalar version, packing was 17% of a single-thread profile of
// CaffeNet's conv layers, more than half of it in the element-by-element transposes).
using Block8 = void (*)(const float* src, size_t ld, float* dst, size_t R);

__attribute__((always_inline)) inline void pack_panels_impl(const float* X, int ld, bool k_major, int r0, int rn,
                                                            int p0, int kc, int R, float* dst, Block8 block8) {
    const size_t panel = (size_t)kc * R;  // floats per micro-panel
    if (k_major) {
        // Walk each source row once, left to right, dealing R-wide pieces to the panels. (Filling
        // one panel at a time instead reads kc rows that may lie a power-of-two stride apart,
        // which all map to the same L1 sets and thrash.)
        for (int p = 0; p < kc; ++p) {
            const float* src = X + (size_t)(p0 + p) * ld + r0;
            float* d = dst + (size_t)p * R;
            int r = 0;
            for (; r + R <= rn; r += R, d += panel)
                for (int j = 0; j < R; ++j) d[j] = src[r + j];
            if (r < rn) {
                for (int j = 0; j < rn - r; ++j) d[j] = src[r + j];
                for (int j = rn - r; j < R; ++j) d[j] = 0.0f;
            }
        }
        return;
    }
    // A transpose. Per panel, 8 x 8 blocks (8 source rows, 8 consecutive depths each): the writes
    // land in an 8 x R block that stays in L1, and every source row is still read sequentially.
    // (Whole rows at a time, or one column across all R rows, packed the transposed fc6 weights
    // 1.2x to 1.7x slower.) Ragged rows and depths go element by element.
    constexpr int kStep = 8;
    for (int r = 0; r < rn; r += R, dst += panel) {
        const int n = std::min(R, rn - r);
        const float* src = X + (size_t)(r0 + r) * ld + p0;
        const int n8 = block8 ? n / kStep * kStep : 0;
        int p = 0;
        for (; p + kStep <= kc; p += kStep) {
            for (int j = 0; j < n8; j += kStep) block8(src + (size_t)j * ld + p, ld, dst + (size_t)p * R + j, R);
            for (int j = n8; j < n; ++j)
                for (int q = 0; q < kStep; ++q) dst[(size_t)(p + q) * R + j] = src[(size_t)j * ld + p + q];
        }
        for (; p < kc; ++p)
            for (int j = 0; j < n; ++j) dst[(size_t)p * R + j] = src[(size_t)j * ld + p];
        for (int q = 0; q < kc; ++q)
            for (int j = n; j < R; ++j) dst[(size_t)q * R + j] = 0.0f;
    }
}


#if defined(__x86_64__)
// An 8 x 8 transpose in AVX registers (three rounds of shuffles: pairs, quads, 128-bit halves).
__attribute__((target("avx2,fma"))) void transpose8x8_avx(const float* src, size_t ld, float* dst, size_t R) {
    __m256 r[8], t[8], s[8];
    for (int j = 0; j < 8; ++j) r[j] = _mm256_loadu_ps(src + j * ld);
    for (int j = 0; j < 8; j += 2) {
        t[j] = _mm256_unpacklo_ps(r[j], r[j + 1]);      // r_j[0] r_j+1[0] r_j[1] r_j+1[1] | same for 4, 5
        t[j + 1] = _mm256_unpackhi_ps(r[j], r[j + 1]);  // ... elements 2, 3 | 6, 7
    }
    for (int j = 0; j < 8; j += 4) {
        s[j] = _mm256_shuffle_ps(t[j], t[j + 2], _MM_SHUFFLE(1, 0, 1, 0));      // column 0 | 4 of rows j..j+3
        s[j + 1] = _mm256_shuffle_ps(t[j], t[j + 2], _MM_SHUFFLE(3, 2, 3, 2));  // column 1 | 5
        s[j + 2] = _mm256_shuffle_ps(t[j + 1], t[j + 3], _MM_SHUFFLE(1, 0, 1, 0));  // column 2 | 6
        s[j + 3] = _mm256_shuffle_ps(t[j + 1], t[j + 3], _MM_SHUFFLE(3, 2, 3, 2));  // column 3 | 7
    }
    for (int q = 0; q < 4; ++q) {
        _mm256_storeu_ps(dst + q * R, _mm256_permute2f128_ps(s[q], s[q + 4], 0x20));
        _mm256_storeu_ps(dst + (q + 4) * R, _mm256_permute2f128_ps(s[q], s[q + 4], 0x31));
    }
}

__attribute__((target("avx512f,avx2,fma"))) void pack_avx512(const float* X, int ld, bool k_major, int r0, int rn,
                                                              int p0, int kc, int R, float* dst) {
    pack_panels_impl(X, ld, k_major, r0, rn, p0, kc, R, dst, transpose8x8_avx);
}

__attribute__((target("avx2,fma"))) void pack_avx2(const float* X, int ld, bool k_major, int r0, int rn, int p0,
                                                   int kc, int R, float* dst) {
    pack_panels_impl(X, ld, k_major, r0, rn, p0, kc, R, dst, transpose8x8_avx);
}
#endif

void pack_generic(const float* X, int ld, bool k_major, int r0, int rn, int p0, int kc, int R, float* dst) {
    pack_panels_impl(X, ld, k_major, r0, rn, p0, kc, R, dst, nullptr);
}

// Kernels this CPU supports, best first. (__builtin_cpu_supports also checks that the operating
// system saves the wide registers.)
const std::vector<KernelSet>& available_kernels() {
    static const std::vector<KernelSet> sets = [] {
        std::vector<KernelSet> v;
#if defined(__x86_64__)
        __builtin_cpu_init();
        const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
        if (avx2 && __builtin_cpu_supports("avx512f"))
            v.push_back({"avx512", kAvx512MR, kAvx512NR, kernel_avx512, pack_avx512});
        if (avx2) v.push_back({"avx2", kAvx2MR, kAvx2NR, kernel_avx2, pack_avx2});
#endif
        v.push_back({"generic", kGenericMR, kGenericNR, kernel_generic, pack_generic});
        return v;
    }();
    return sets;
}

// Packing buffers, one pair per thread, grown on demand and kept for the thread's lifetime, so a
// training loop does not allocate inside GEMM.
struct PackBuffer {
    struct Free { void operator()(float* p) const { aligned_free_floats(p); } };
    std::unique_ptr<float[], Free> buf;
    size_t cap = 0;
    float* get(size_t n) {
        if (n > cap) {
            buf.reset(aligned_alloc_floats(n));
            cap = n;
        }
        return buf.get();
    }
};

// C (M, N) *= beta, with beta == 0 writing zeros without reading C.
void scale_c(int M, int N, float beta, float* C, int ldc) {
    if (beta == 1.0f) return;
    for (int i = 0; i < M; ++i) {
        float* c = C + (size_t)i * ldc;
        if (beta == 0.0f)
            std::fill(c, c + N, 0.0f);
        else
            for (int j = 0; j < N; ++j) c[j] *= beta;
    }
}

void check_args(const char* fn, bool trans_a, bool trans_b, int M, int N, int K, const float* A, int lda,
                const float* B, int ldb, const float* C, int ldc) {
    auto bad = [&](const std::string& what) { throw std::invalid_argument(std::string(fn) + ": " + what); };
    if (M < 0 || N < 0 || K < 0)
        bad("negative size M=" + std::to_string(M) + " N=" + std::to_string(N) + " K=" + std::to_string(K));
    if (lda < std::max(1, trans_a ? M : K)) bad("lda=" + std::to_string(lda) + " is smaller than a row of A");
    if (ldb < std::max(1, trans_b ? K : N)) bad("ldb=" + std::to_string(ldb) + " is smaller than a row of B");
    if (ldc < std::max(1, N)) bad("ldc=" + std::to_string(ldc) + " is smaller than N=" + std::to_string(N));
    if (M > 0 && N > 0 && !C) bad("C is null");
    if (M > 0 && N > 0 && K > 0 && (!A || !B)) bad("A or B is null");
}

int ceil_div(int x, int d) { return (x + d - 1) / d; }
int round_up(int x, int m) { return ceil_div(x, m) * m; }

void sgemm_blocked(const KernelSet& ks, bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                   const float* A, int lda, const float* B, int ldb, float beta, float* C, int ldc) {
    check_args("sgemm", trans_a, trans_b, M, N, K, A, lda, B, ldb, C, ldc);
    if (M == 0 || N == 0) return;
    if (K == 0 || alpha == 0.0f) {
        scale_c(M, N, beta, C, ldc);
        return;
    }
    const int MR = ks.mr, NR = ks.nr;
    // Task tiles: C split into m_parts x n_parts nearly equal tiles of at most about (MC, NC),
    // each a whole number of micro-tiles so that the micro-tile grid, and with it the summation
    // order of every entry, is the same however C is split (results repeat bit for bit).
    int m_parts = ceil_div(M, kMC), n_parts = ceil_div(N, kNC);
    bool parallel = false;
    int threads = 1;
#ifdef _OPENMP
    threads = omp_in_parallel() ? 1 : omp_get_max_threads();
    parallel = threads > 1 && (double)M * N * K >= kParallelMacs;
#endif
    if (parallel) {
        // Every thread needs a task, and while tasks are few their number should be a multiple
        // of the thread count, or one thread finishes alone (3 equal tasks on 2 threads: 67%).
        // Split further the side whose tiles hold more micro-tiles; stop at tiny tiles.
        auto unbalanced = [&] {
            int t = m_parts * n_parts;
            return t < threads || (t % threads != 0 && t < 4 * threads);
        };
        while (unbalanced()) {
            const int m_tiles = ceil_div(M, m_parts * MR), n_tiles = ceil_div(N, n_parts * NR);
            const bool can_m = m_tiles >= 2, can_n = n_tiles >= 4;
            if (can_n && (!can_m || n_tiles >= m_tiles))
                ++n_parts;
            else if (can_m)
                ++m_parts;
            else
                break;
        }
    }
    const int mc_blk = round_up(ceil_div(M, m_parts), MR), nc_blk = round_up(ceil_div(N, n_parts), NR);
    const int m_tasks = ceil_div(M, mc_blk), n_tasks = ceil_div(N, nc_blk);
    const int tasks = m_tasks * n_tasks;
    const size_t a_size = (size_t)mc_blk * kKC, b_size = (size_t)nc_blk * kKC;  // packed blocks, floats

#pragma omp parallel for schedule(dynamic, 1) if (parallel)
    for (int t = 0; t < tasks; ++t) {
        static thread_local PackBuffer abuf, bbuf;
        float* Ap = abuf.get(a_size);
        float* Bp = bbuf.get(b_size);
        const int i0 = (t / n_tasks) * mc_blk, j0 = (t % n_tasks) * nc_blk;
        const int mc = std::min(mc_blk, M - i0), nc = std::min(nc_blk, N - j0);
        for (int p0 = 0; p0 < K; p0 += kKC) {
            const int kc = std::min(kKC, K - p0);
            const float beta_k = p0 == 0 ? beta : 1.0f;  // later K blocks add to the first
            ks.pack(B, ldb, !trans_b, j0, nc, p0, kc, NR, Bp);  // op(B) block (kc, nc)
            ks.pack(A, lda, trans_a, i0, mc, p0, kc, MR, Ap);   // op(A) block (mc, kc)
            for (int ir = 0; ir < mc; ir += MR) {
                const float* a = Ap + (size_t)ir * kc;
                for (int jr = 0; jr < nc; jr += NR)
                    ks.fn(kc, a, Bp + (size_t)jr * kc, C + (size_t)(i0 + ir) * ldc + j0 + jr, ldc,
                          std::min(MR, mc - ir), std::min(NR, nc - jr), alpha, beta_k);
            }
        }
    }
}

}  // namespace

void sgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda,
           const float* B, int ldb, float beta, float* C, int ldc) {
    sgemm_blocked(available_kernels().front(), trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

std::vector<std::string> sgemm_kernels() {
    std::vector<std::string> names;
    for (const auto& k : available_kernels()) names.push_back(k.name);
    return names;
}

void sgemm_using(const std::string& kernel, bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                 const float* A, int lda, const float* B, int ldb, float beta, float* C, int ldc) {
    for (const auto& k : available_kernels())
        if (kernel == k.name) {
            sgemm_blocked(k, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
            return;
        }
    throw std::invalid_argument("sgemm_using: kernel '" + kernel + "' is unknown or not supported by this CPU");
}

void sgemm_naive(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda,
                 const float* B, int ldb, float beta, float* C, int ldc) {
    check_args("sgemm_naive", trans_a, trans_b, M, N, K, A, lda, B, ldb, C, ldc);
    for (int i = 0; i < M; ++i)
        for (int j = 0; j < N; ++j) {
            double s = 0;
            if (alpha != 0.0f)
                for (int p = 0; p < K; ++p) {
                    float a = trans_a ? A[(size_t)p * lda + i] : A[(size_t)i * lda + p];
                    float b = trans_b ? B[(size_t)j * ldb + p] : B[(size_t)p * ldb + j];
                    s += (double)a * b;
                }
            float& c = C[(size_t)i * ldc + j];
            c = beta == 0.0f ? (float)(alpha * s) : (float)(alpha * s + (double)beta * c);
        }
}

}  // namespace dlbhc
