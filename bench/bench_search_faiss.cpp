// bench/bench_search_faiss.cpp -- FAISS as a reference, on the same data, in the same run.
//
// Built only when the FAISS headers are installed (the marked section at the end of the
// Makefile); FAISS is linked into this benchmark program only, never into the library or the
// dlbhc program. The data generators and timers are bench_search.cpp's (included below), so the
// data are the same as there.
//   1. linear Hamming k-NN: our hamming_knn_batch vs faiss::IndexBinaryFlat, N = 1,000,000,
//      48/64/128 bits, k = 1/100/1000, 1000 queries, 1 and 2 threads; the results are compared
//      (distances must agree exactly; the indices may differ only among equal distances);
//   2. exhaustive Euclidean k-NN: our euclidean_knn_batch vs faiss::IndexFlatL2 (BLAS), N =
//      200,000 x 4096 float32, and the hierarchical search against both.
// Run the default build (OpenMP on): with OPENMP=0 our side is serial but FAISS, which has its
// own OpenMP, still uses every core, and the thread counts are no longer equal.
#define DLBHC_BENCH_SEARCH_NO_MAIN
#pragma GCC diagnostic ignored "-Wunused-function"  // bench_search.cpp's parts this program does not run
#include "bench/bench_search.cpp"

#include <faiss/IndexBinaryFlat.h>
#include <faiss/IndexFlat.h>

namespace {

void set_threads(int t) {
#if defined(_OPENMP)
    omp_set_num_threads(t);
#else
    (void)t;
#endif
}

// FAISS binary codes are bits/8 bytes; our codes are little-endian 64-bit words with bit i of the
// code at bit i % 64 of word i / 64, so the first bits/8 bytes of a code are the same bits.
std::vector<uint8_t> to_faiss_bytes(const CodeSet& s) {
    const size_t bytes = (size_t)s.bits() / 8;
    std::vector<uint8_t> out(s.size() * bytes);
    for (size_t i = 0; i < s.size(); ++i) std::memcpy(&out[i * bytes], s.code(i), bytes);
    return out;
}

void faiss_hamming(size_t n, size_t nq) {
    std::printf("\n## Linear Hamming k-NN, ours vs FAISS IndexBinaryFlat: N = %zu, %zu queries, median of 3\n", n, nq);
    std::printf("ratio = FAISS time / our time (> 1: ours is faster). Results: distance lists must be equal;\n"
                "'index diffs' counts result positions whose index differs (only possible among equal distances).\n");
    std::printf("'popcnt ms/q' is our search forced to the POPCNT kernel (one 64-bit popcount per word, the\n"
                "instruction a FAISS built with -mpopcnt uses). FAISS: 1 run (its times are long); ours: median of 3.\n");
    std::printf("%5s %5s %8s %12s %12s %12s %8s %12s %12s\n", "bits", "k", "threads", "ours ms/q", "popcnt ms/q",
                "FAISS ms/q", "ratio", "dist diffs", "index diffs");
    for (int bits : {48, 64, 128}) {
        CodeSet db = random_codes(n, bits, 100 + bits);  // the same data as bench_search
        CodeSet qs = random_codes(nq, bits, 200 + bits);
        auto fdb = to_faiss_bytes(db), fq = to_faiss_bytes(qs);
        faiss::IndexBinaryFlat index(bits);
        index.add((faiss::Index::idx_t)n, fdb.data());
        for (size_t k : {(size_t)1, (size_t)100, (size_t)1000}) {
            for (int threads : {1, 2}) {
                if (threads > max_threads()) continue;
                set_threads(threads);
                SearchOptions opt{threads, 0};
                std::vector<std::vector<HammingHit>> ours;
                double t_ours = median_seconds(3, [&] { ours = hamming_knn_batch(db.view(), qs.view(), k, opt); });
                const HammingKernel best = hamming_active_kernel();
                hamming_force_kernel(HammingKernel::Popcnt);
                double t_pop = median_seconds(3, [&] { auto r = hamming_knn_batch(db.view(), qs.view(), k, opt); });
                hamming_force_kernel(best);
                std::vector<int32_t> D(nq * k);
                std::vector<faiss::Index::idx_t> I(nq * k);
                double t_faiss = median_seconds(1, [&] { index.search((faiss::Index::idx_t)nq, fq.data(), (faiss::Index::idx_t)k, D.data(), I.data()); });
                size_t dist_diffs = 0, index_diffs = 0;
                for (size_t q = 0; q < nq; ++q)
                    for (size_t j = 0; j < k; ++j) {
                        dist_diffs += (int32_t)ours[q][j].distance != D[q * k + j];
                        index_diffs += (faiss::Index::idx_t)ours[q][j].index != I[q * k + j];
                    }
                std::printf("%5d %5zu %8d %12.4f %12.4f %12.4f %8.2f %12zu %12zu\n", bits, k, threads, t_ours / nq * 1e3,
                            t_pop / nq * 1e3, t_faiss / nq * 1e3, t_faiss / t_ours, dist_diffs, index_diffs);
            }
        }
    }
    set_threads(max_threads());
}

void faiss_euclid(size_t n, size_t nq_exh, size_t nq_hier) {
    const int D = 4096, C = 1000;
    const size_t k = 100;
    std::printf("\n## Exhaustive 4096-d Euclidean k-NN, ours vs FAISS IndexFlatL2 (BLAS: the system's libblas), "
                "N = %zu float32, k = %zu\n"
                "ours: %zu queries, median of 3; FAISS: the same queries, 1 run; hierarchical (d < 8): %zu queries, median of 3\n",
                n, k, nq_exh, nq_hier);
    Clustered cl = make_clusters(C, D, 5);
    std::vector<float> feats(n * (size_t)D);
    CodeSet codes;
    fill_items(cl, 1, n, FeatureType::F32, feats.data(), codes);
    std::vector<float> qf(nq_hier * (size_t)D);
    CodeSet qc;
    fill_items(cl, 2, nq_hier, FeatureType::F32, qf.data(), qc);
    FeatureView fv{feats.data(), n, D, FeatureType::F32};
    faiss::IndexFlatL2 index(D);
    index.add((faiss::Index::idx_t)n, feats.data());
    std::printf("%8s %14s %14s %8s %14s %16s %16s\n", "threads", "ours ms/q", "FAISS ms/q", "ratio", "hier. ms/q",
                "speed-up vs ours", "vs FAISS flat");
    for (int threads : {1, 2}) {
        if (threads > max_threads()) continue;
        set_threads(threads);
        SearchOptions opt{threads, 0};
        double t_ours = median_seconds(3, [&] { auto r = euclidean_knn_batch(fv, qf.data(), nq_exh, k, opt); });
        std::vector<float> Dist(nq_exh * k);
        std::vector<faiss::Index::idx_t> I(nq_exh * k);
        double t_faiss = median_seconds(1, [&] { index.search((faiss::Index::idx_t)nq_exh, qf.data(), (faiss::Index::idx_t)k, Dist.data(), I.data()); });
        HierarchicalOptions ho;  // d < 8, the setting bench_search reports first
        double t_h = median_seconds(3, [&] {
            auto r = hierarchical_search_batch(codes.view(), fv, qc.view(), qf.data(), k, ho, opt);
        });
        double po = t_ours / nq_exh, pf = t_faiss / nq_exh, ph = t_h / nq_hier;
        std::printf("%8d %14.2f %14.2f %8.2f %14.3f %15.1fx %15.1fx\n", threads, po * 1e3, pf * 1e3, pf / po, ph * 1e3,
                    po / ph, pf / ph);
    }
    set_threads(max_threads());
}

}  // namespace

int main(int argc, char** argv) {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress is visible when the output goes to a file
    bool quick = argc > 1 && !std::strcmp(argv[1], "--quick");
    std::printf("# bench_search_faiss%s (FAISS as a reference)\n", quick ? " --quick" : "");
    std::printf("machine: %s, %u hardware threads (OpenMP max %d); our Hamming kernel: %s\n", cpu_model().c_str(),
                std::thread::hardware_concurrency(), max_threads(), hamming_kernel_name(hamming_active_kernel()));
    faiss_hamming(quick ? 100000 : 1000000, quick ? 100 : 1000);
    faiss_euclid(quick ? 20000 : 200000, quick ? 8 : 32, quick ? 100 : 1000);
    return 0;
}
