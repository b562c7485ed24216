// bench/bench_mih.cpp -- multi-index hashing (search/mih.h) against the linear scan and FAISS.
//
// Two kinds of database of N codes (64 and 128 bits by default):
//   clustered  noisy copies of --centres random centres (each code picks a centre and flips each
//              bit with probability --flip): the shape of real learned hash codes, whose near
//              neighbours are a few bits away; queries are `near` (a database code with 0-4 bits
//              flipped: a duplicate search) and `fresh` (a new noisy copy of a centre, drawn like
//              the database: an ordinary query);
//   random     uniformly random codes, the worst case for MIH (no structure: the k-th neighbour of
//              a query is far and many substring values must be probed); queries `near` and
//              `random` (uniform codes).
// Searches: k-NN with k = 10 and 100, radius d <= 4 and d <= 8. Everything runs on one thread:
// the linear scan is hamming_knn_batch / hamming_radius_batch with threads = 1 (`linear`: its
// fastest form, 8 queries share each cached block of codes) and hamming_knn / hamming_radius one
// query at a time (`lin 1q`: what a single query, e.g. `dlbhc query`, costs); MIH is one query
// after the other, without (`mih`) and with (`mih+fb`) the switch to the linear scan. When the
// FAISS headers are installed (the FAISS section of the Makefile defines DLBHC_BENCH_FAISS and
// links FAISS into this program only), faiss::IndexBinaryFlat runs the same queries as one batch
// (search() for k-NN, range_search() for radius), with OpenMP limited to 1 thread.
// Every time is the median of --reps runs over all queries. The results of every MIH search and
// of FAISS are checked against the linear scan's; any difference is reported and fails the program.
//
//   build/release/bench/bench_mih [--n N] [--queries Q] [--reps R] [--bits 64,128]
//                                 [--kinds clustered,random] [--centres C] [--flip P] [--quick]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <sys/resource.h>

#include "hash/code.h"
#include "hash/hamming.h"
#include "nn/rng.h"
#include "search/hamming_search.h"
#include "search/mih.h"

#include "bench/bench_util.h"

#if defined(DLBHC_BENCH_FAISS)
#include <faiss/IndexBinaryFlat.h>
#include <faiss/impl/AuxIndexStructures.h>
#include <omp.h>  // FAISS's own OpenMP (linked even when dlbhc is built with OPENMP=0)
#endif

using namespace dlbhc;
using Clock = std::chrono::steady_clock;

namespace {

using bench::median_seconds;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Clears the bits of word w beyond a `bits`-bit code (codes keep their unused high bits at 0).
uint64_t mask_word(uint64_t v, int bits, int w) {
    const int valid = bits - 64 * w;
    return valid < 64 ? v & ((1ull << valid) - 1) : v;
}

CodeSet random_codes(size_t n, int bits, uint64_t seed) {
    CodeSet s(bits);
    s.resize(n);
    Rng rng(seed);
    for (size_t i = 0; i < n; ++i)
        for (int w = 0; w < s.words(); ++w) s.code(i)[w] = mask_word(rng.next_u64(), bits, w);
    return s;
}

// A word whose bits are each set with probability threshold / 65536 (16 random bits per bit).
uint64_t random_flips(Rng& rng, uint32_t threshold) {
    uint64_t m = 0;
    for (int b = 0; b < 64; b += 4) {
        const uint64_t r = rng.next_u64();
        for (int j = 0; j < 4; ++j)
            if (((r >> (16 * j)) & 0xFFFF) < threshold) m |= 1ull << (b + j);
    }
    return m;
}

// n noisy copies of the centres: each picks a centre uniformly and flips each bit with
// probability `flip`.
CodeSet noisy_copies(const CodeSet& centres, size_t n, double flip, uint64_t seed) {
    const int bits = centres.bits();
    CodeSet s(bits);
    s.resize(n);
    Rng rng(seed);
    const uint32_t threshold = uint32_t(flip * 65536.0 + 0.5);
    for (size_t i = 0; i < n; ++i) {
        const uint64_t* c = centres.code(rng.below(uint32_t(centres.size())));
        for (int w = 0; w < s.words(); ++w) s.code(i)[w] = mask_word(c[w] ^ random_flips(rng, threshold), bits, w);
    }
    return s;
}

// Database codes with 0-4 random bits flipped.
CodeSet near_queries(const CodeSet& db, size_t q, uint64_t seed) {
    CodeSet s(db.bits());
    Rng rng(seed);
    std::vector<uint64_t> c(size_t(db.words()));
    for (size_t i = 0; i < q; ++i) {
        const uint64_t* src = db.code(rng.below(uint32_t(db.size())));
        std::copy(src, src + db.words(), c.begin());
        for (int f = (int)rng.below(5); f > 0; --f) {
            const int b = (int)rng.below(uint32_t(db.bits()));
            c[size_t(b / 64)] ^= 1ull << (b % 64);
        }
        s.add(c.data());
    }
    return s;
}

struct Search {
    const char* name;
    bool knn;
    int param;  // k, or r (d <= r)
};

using Results = std::vector<std::vector<HammingHit>>;

size_t g_mih_differences = 0, g_faiss_differences = 0;

// ---- FAISS IndexBinaryFlat, the reference linear scan --------------------------------------------
#if defined(DLBHC_BENCH_FAISS)
using faiss_idx = faiss::IndexBinary::idx_t;

// FAISS binary codes are bits/8 bytes; our codes are little-endian 64-bit words with bit i of the
// code at bit i % 64 of word i / 64, so the first bits/8 bytes of a code are the same bits.
std::vector<uint8_t> to_faiss_bytes(const CodeSet& s) {
    const size_t bytes = (size_t)s.bits() / 8;
    std::vector<uint8_t> out(s.size() * bytes);
    for (size_t i = 0; i < s.size(); ++i) std::memcpy(&out[i * bytes], s.code(i), bytes);
    return out;
}

// What FAISS's range_search radius means, found on three codes at distances 0, 1 and 2 from the
// query: 1 when it returns d < radius (IndexBinary.h documents "strict comparison"), 0 when d <=
// radius. Our radius r (d <= r) is passed to FAISS as r + this.
int faiss_radius_offset() {
    const uint8_t codes[3] = {0x00, 0x01, 0x03}, query = 0x00;
    faiss::IndexBinaryFlat index(8);
    index.add(3, codes);
    faiss::RangeSearchResult res(1);
    index.range_search(1, &query, 1, &res);
    const size_t found = res.lims[1] - res.lims[0];
    if (found == 1) return 1;
    if (found == 2) return 0;
    std::fprintf(stderr, "bench_mih: FAISS range_search(radius 1) returned %zu of the codes at distances 0, 1, 2\n", found);
    std::exit(1);
}

struct FaissRun {
    double seconds = 0;
    size_t failed_queries = 0;
};

// FAISS's k-NN list for one query against ours: the distances must be equal position by position;
// the ids may differ only among ties at the k-th distance, so every returned id must be a distinct
// database code at the returned distance, and every id closer than the k-th distance must be ours.
bool faiss_knn_matches(const CodeSet& db, const uint64_t* query, const std::vector<HammingHit>& ours, size_t k,
                       const int32_t* D, const faiss_idx* I) {
    const size_t kk = ours.size();
    const uint32_t kth = kk ? ours.back().distance : 0;
    std::vector<uint32_t> ours_ids, theirs;
    for (const HammingHit& h : ours) ours_ids.push_back(h.index);
    std::sort(ours_ids.begin(), ours_ids.end());
    for (size_t j = 0; j < k; ++j) {
        if (j >= kk) {  // fewer than k codes: FAISS pads with -1
            if (I[j] != -1) return false;
            continue;
        }
        if (D[j] != int32_t(ours[j].distance) || I[j] < 0 || size_t(I[j]) >= db.size()) return false;
        const uint32_t id = uint32_t(I[j]);
        if (hamming_distance(db.code(id), query, db.words()) != D[j]) return false;
        if (uint32_t(D[j]) < kth && !std::binary_search(ours_ids.begin(), ours_ids.end(), id)) return false;
        theirs.push_back(id);
    }
    std::sort(theirs.begin(), theirs.end());
    return std::adjacent_find(theirs.begin(), theirs.end()) == theirs.end();
}

FaissRun faiss_knn(const faiss::IndexBinaryFlat& index, const CodeSet& db, const CodeSet& queries,
                   const std::vector<uint8_t>& fq, size_t k, const Results& lin, int reps) {
    const size_t nq = queries.size();
    std::vector<int32_t> D(nq * k);
    std::vector<faiss_idx> I(nq * k);
    FaissRun run;
    run.seconds = median_seconds(reps, [&] { index.search(faiss_idx(nq), fq.data(), faiss_idx(k), D.data(), I.data()); });
    for (size_t q = 0; q < nq; ++q)
        run.failed_queries += !faiss_knn_matches(db, queries.code(q), lin[q], k, &D[q * k], &I[q * k]);
    return run;
}

// range_search's hits are unordered: sorted by (distance, index) they must be ours exactly.
FaissRun faiss_radius(const faiss::IndexBinaryFlat& index, const CodeSet& queries, const std::vector<uint8_t>& fq,
                      int r, int radius_offset, const Results& lin, int reps) {
    const size_t nq = queries.size();
    std::unique_ptr<faiss::RangeSearchResult> res;
    FaissRun run;
    run.seconds = median_seconds(reps, [&] {
        res = std::make_unique<faiss::RangeSearchResult>(faiss_idx(nq));
        index.range_search(faiss_idx(nq), fq.data(), r + radius_offset, res.get());
    });
    for (size_t q = 0; q < nq; ++q) {
        std::vector<HammingHit> theirs;
        for (size_t j = res->lims[q]; j < res->lims[q + 1]; ++j)
            theirs.push_back({uint32_t(res->labels[j]), uint32_t(res->distances[j])});
        std::sort(theirs.begin(), theirs.end(), [](const HammingHit& a, const HammingHit& b) {
            return a.distance != b.distance ? a.distance < b.distance : a.index < b.index;
        });
        run.failed_queries += theirs != lin[q];
    }
    return run;
}

// The database as FAISS holds it, and the queries in its byte layout.
struct FaissSide {
    faiss::IndexBinaryFlat index;
    int radius_offset;
    explicit FaissSide(const CodeSet& db, int offset) : index(db.bits()), radius_offset(offset) {
        const std::vector<uint8_t> bytes = to_faiss_bytes(db);
        index.add(faiss_idx(db.size()), bytes.data());
    }
};
#else
struct FaissSide {};  // FAISS not installed: no FAISS columns
#endif
// ---- end of the FAISS part -------------------------------------------------------------------------

struct Row {
    const CodeSet* db;
    const CodeSet* queries;
    const char* qkind;
    const MultiIndex* mih;     // pure MIH
    const MultiIndex* mih_fb;  // with the switch to the linear scan
    const FaissSide* faiss;    // nullptr: not timed
};

void run_row(const Row& row, const Search& s, int reps) {
    const CodeView v = row.db->view(), qv = row.queries->view();
    SearchOptions one;
    one.threads = 1;
    Results lin, got(qv.n), got_fb(qv.n);
    const double t_lin = median_seconds(reps, [&] {
        lin = s.knn ? hamming_knn_batch(v, qv, size_t(s.param), one) : hamming_radius_batch(v, qv, s.param, RadiusRule::AtMost, one);
    });
    std::vector<HammingHit> one_q;
    const double t_1q = median_seconds(reps, [&] {
        for (size_t q = 0; q < qv.n; ++q)
            one_q = s.knn ? hamming_knn(v, qv.code(q), size_t(s.param)) : hamming_radius(v, qv.code(q), s.param, RadiusRule::AtMost);
    });
    size_t candidates = 0, probes = 0;
    auto run_mih = [&](const MultiIndex& x, Results& out, bool count) {
        for (size_t q = 0; q < qv.n; ++q) {
            MihStats st;
            out[q] = s.knn ? x.knn(qv.code(q), size_t(s.param), &st) : x.radius(qv.code(q), s.param, RadiusRule::AtMost, &st);
            if (count) candidates += st.candidates, probes += st.probes;
        }
    };
    const double t_mih = median_seconds(reps, [&] { run_mih(*row.mih, got, false); });
    const double t_fb = median_seconds(reps, [&] { run_mih(*row.mih_fb, got_fb, false); });
    run_mih(*row.mih, got, true);  // the statistics of the pure MIH search, once
    size_t diff = 0, hits = 0;
    for (size_t q = 0; q < qv.n; ++q) {
        diff += got[q] != lin[q];
        diff += got_fb[q] != lin[q];
        hits += lin[q].size();
    }
    g_mih_differences += diff;
    const double nq = double(qv.n);
    std::printf("| %4d | %-6s | %-9s | %8.3f | %8.3f | %8.4f | %7.2fx | %8.4f | %7.2fx |", row.db->bits(), row.qkind, s.name,
                t_lin / nq * 1e3, t_1q / nq * 1e3, t_mih / nq * 1e3, t_lin / t_mih, t_fb / nq * 1e3, t_lin / t_fb);
#if defined(DLBHC_BENCH_FAISS)
    if (row.faiss) {
        const FaissSide& f = *row.faiss;
        const std::vector<uint8_t> fq = to_faiss_bytes(*row.queries);
        const FaissRun fr = s.knn ? faiss_knn(f.index, *row.db, *row.queries, fq, size_t(s.param), lin, reps)
                                  : faiss_radius(f.index, *row.queries, fq, s.param, f.radius_offset, lin, reps);
        g_faiss_differences += fr.failed_queries;
        std::printf(" %8.3f | %7.2fx |", fr.seconds / nq * 1e3, fr.seconds / t_fb);
        std::printf(" %10.0f | %10.0f | %8.1f | %5zu | %5zu |\n", probes / nq, candidates / nq, hits / nq, diff, fr.failed_queries);
        std::fflush(stdout);
        return;
    }
#endif
    std::printf(" %10.0f | %10.0f | %8.1f | %5zu |\n", probes / nq, candidates / nq, hits / nq, diff);
    std::fflush(stdout);
}

std::vector<std::string> split_commas(const char* s) {
    std::vector<std::string> out;
    for (const char* p = s; *p;) {
        const char* e = std::strchr(p, ',');
        out.emplace_back(p, e ? size_t(e - p) : std::strlen(p));
        p = e ? e + 1 : p + std::strlen(p);
    }
    return out;
}

struct Config {
    size_t n = 1000000, nq = 50;
    int reps = 3;
    std::vector<int> bits = {64, 128};
    std::vector<std::string> kinds = {"clustered", "random"};
    size_t centres = 500;
    double flip = 0.08;
};

const char* const kUsage =
    "usage: bench_mih [--n N] [--queries Q] [--reps R] [--bits 64,128] [--kinds clustered,random]\n"
    "                 [--centres C] [--flip P] [--quick]\n";

// Parses the options into c; false (with a message) on a bad one.
bool parse_args(int argc, char** argv, Config& c) {
    for (int i = 1; i < argc; ++i) {
        const bool more = i + 1 < argc;
        if (!std::strcmp(argv[i], "--quick")) c.n = 20000, c.nq = 20, c.reps = 1;
        else if (!std::strcmp(argv[i], "--n") && more) c.n = std::strtoull(argv[++i], nullptr, 10);
        else if (!std::strcmp(argv[i], "--queries") && more) c.nq = std::strtoull(argv[++i], nullptr, 10);
        else if (!std::strcmp(argv[i], "--reps") && more) c.reps = std::atoi(argv[++i]);
        else if (!std::strcmp(argv[i], "--centres") && more) c.centres = std::strtoull(argv[++i], nullptr, 10);
        else if (!std::strcmp(argv[i], "--flip") && more) c.flip = std::atof(argv[++i]);
        else if (!std::strcmp(argv[i], "--bits") && more) {
            c.bits.clear();
            for (const std::string& b : split_commas(argv[++i])) c.bits.push_back(std::atoi(b.c_str()));
        } else if (!std::strcmp(argv[i], "--kinds") && more) c.kinds = split_commas(argv[++i]);
        else {
            std::fprintf(stderr, "bench_mih: unknown option or missing value: %s\n%s", argv[i], kUsage);
            return false;
        }
    }
    bool ok = c.n >= 2 && c.n < (size_t(1) << 32) && c.nq >= 1 && c.reps >= 1 && c.centres >= 1 && c.centres < (size_t(1) << 32) &&
              c.flip >= 0 && c.flip <= 1 && !c.bits.empty() && !c.kinds.empty();
    for (int b : c.bits) ok = ok && b >= 1 && b <= kMaxCodeBits;
    for (const std::string& k : c.kinds) ok = ok && (k == "clustered" || k == "random");
    if (!ok)
        std::fprintf(stderr, "bench_mih: expected 2 <= --n < 2^32, --queries >= 1, --reps >= 1, --centres >= 1, 0 <= --flip <= 1, "
                             "--bits in 1..%d, --kinds among clustered,random\n%s", kMaxCodeBits, kUsage);
    return ok;
}

void print_table_header(bool with_faiss) {
    std::printf("| bits | query  | search    | linear ms/q | lin 1q ms/q | mih ms/q | ratio | mih+fb ms/q | ratio |%s probes | cand. | hits | diffs |%s\n",
                with_faiss ? " FAISS ms/q | FAISS/fb |" : "", with_faiss ? " FAISS diffs |" : "");
    std::printf("|---:|---|---|---:|---:|---:|---:|---:|---:|%s---:|---:|---:|---:|%s\n", with_faiss ? "---:|---:|" : "",
                with_faiss ? "---:|" : "");
}

// One database (kind, bits): builds MIH (and FAISS), then every search for both query kinds.
void run_database(const Config& c, const std::string& kind, int b, int faiss_radius_offset) {
    const bool clustered = kind == "clustered";
    auto t0 = Clock::now();
    const CodeSet centres = random_codes(c.centres, b, 500 + uint64_t(b));
    const CodeSet db = clustered ? noisy_copies(centres, c.n, c.flip, 1000 + uint64_t(b)) : random_codes(c.n, b, 1000 + uint64_t(b));
    const double t_gen = seconds_since(t0);
    MihOptions pure;
    pure.linear_fallback = false;
    t0 = Clock::now();
    const MultiIndex mih(db.view(), pure);
    const double build = seconds_since(t0);
    const MultiIndex mih_fb(db.view());
    const double codes_mib = double(c.n) * db.words() * 8 / 1048576.0;
    if (clustered)
        std::printf("## clustered, %d bits: N = %zu noisy copies of %zu centres (bit flip probability %.3f)\n\n", b, c.n, c.centres, c.flip);
    else
        std::printf("## random, %d bits: N = %zu uniformly random codes\n\n", b, c.n);
    std::printf("codes generated in %.2f s; MIH: m = %d substrings, tables %.1f MiB (codes %.1f MiB), built in %.3f s\n", t_gen,
                mih.substrings(), mih.memory_bytes() / 1048576.0, codes_mib, build);
    std::unique_ptr<FaissSide> faiss;
#if defined(DLBHC_BENCH_FAISS)
    if (b % 8 == 0) {
        t0 = Clock::now();
        faiss = std::make_unique<FaissSide>(db, faiss_radius_offset);
        std::printf("FAISS IndexBinaryFlat: a copy of the codes (%.1f MiB, %d bytes each), added in %.3f s\n", double(c.n) * b / 8 / 1048576.0,
                    b / 8, seconds_since(t0));
    } else {
        std::printf("FAISS IndexBinaryFlat: not run (%d bits is not a whole number of bytes)\n", b);
    }
#else
    (void)faiss_radius_offset;
#endif
    std::printf("\n");
    print_table_header(faiss != nullptr);
    const CodeSet nearq = near_queries(db, c.nq, 9 + uint64_t(b));
    const CodeSet other = clustered ? noisy_copies(centres, c.nq, c.flip, 7 + uint64_t(b)) : random_codes(c.nq, b, 7 + uint64_t(b));
    const Search searches[] = {{"knn k=10", true, 10}, {"knn k=100", true, 100}, {"radius 4", false, 4}, {"radius 8", false, 8}};
    for (const Search& s : searches) {
        run_row({&db, &nearq, "near", &mih, &mih_fb, faiss.get()}, s, c.reps);
        run_row({&db, &other, clustered ? "fresh" : "random", &mih, &mih_fb, faiss.get()}, s, c.reps);
    }
    std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
    Config c;
    if (!parse_args(argc, argv, c)) return 2;
    int radius_offset = 0;
#if defined(DLBHC_BENCH_FAISS)
    omp_set_num_threads(1);  // FAISS on one thread, like every other column
    radius_offset = faiss_radius_offset();
    const bool have_faiss = true;
#else
    const bool have_faiss = false;
#endif
    std::printf("# bench_mih: N = %zu codes, %zu queries per row, median of %d runs, 1 thread\n", c.n, c.nq, c.reps);
    std::printf("# ms/q = milliseconds per query; ratio = linear / MIH (above 1: MIH faster); probes, cand. = table look-ups\n"
                "# and codes verified per query (pure MIH); diffs = queries whose MIH results (mih and mih+fb) differ from\n"
                "# the linear scan (must be 0)\n");
    if (have_faiss)
        std::printf("# FAISS = faiss::IndexBinaryFlat, all queries in one call, OpenMP limited to 1 thread; FAISS/fb = FAISS time /\n"
                    "# mih+fb time (above 1: MIH faster); FAISS diffs = queries whose FAISS results differ from the linear scan\n"
                    "# (k-NN: equal distances, ids differing only among ties at the k-th distance; radius: the same hits)\n"
                    "# FAISS range_search returns d %s radius (checked on 3 codes): radius r + %d is passed for d <= r\n\n",
                    radius_offset ? "<" : "<=", radius_offset);
    else
        std::printf("# FAISS: not available (built without the FAISS headers, libfaiss-dev): no FAISS columns\n\n");
    for (const std::string& kind : c.kinds)
        for (int b : c.bits) run_database(c, kind, b, radius_offset);
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    std::printf("peak resident memory of this run: %.0f MiB\n", ru.ru_maxrss / 1024.0);
    if (g_mih_differences || g_faiss_differences) {
        std::printf("FAILED: %zu query results of MIH and %zu of FAISS differ from the linear scan\n", g_mih_differences,
                    g_faiss_differences);
        return 1;
    }
    std::printf("all MIH%s results identical to the linear scan\n", have_faiss ? " and FAISS" : "");
    return 0;
}
