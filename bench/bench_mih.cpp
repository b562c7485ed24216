// bench/bench_mih.cpp -- multi-index hashing (search/mih.h) against the linear scan.
//
// N uniformly random codes of 64 and 128 bits (the worst case for MIH: no structure, so the k-th
// neighbour of a random query is far and many substring values must be probed), two kinds of
// query: `random` (uniform codes) and `near` (a database code with 0-4 bits flipped, the case of
// a duplicate search). Searches: k-NN with k = 10 and 100, radius d <= 4 and d <= 8. One thread:
// the linear scan is hamming_knn_batch / hamming_radius_batch with threads = 1 (`linear`: its
// fastest form, 8 queries share each cached block of codes) and hamming_knn / hamming_radius one
// query at a time (`lin 1q`: what a single query, e.g. `dlbhc query`, costs); MIH is one query
// after the other, without (`mih`) and with (`mih+fb`) the switch to the linear scan. Every time
// is the median of --reps runs over all queries; ratio = linear / mih (above 1: MIH faster). The results of every MIH search are
// compared with the linear scan's; any difference is reported and fails the program.
//
//   build/release/bench/bench_mih [--n N] [--queries Q] [--reps R] [--bits 64,128] [--quick]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "hash/code.h"
#include "nn/rng.h"
#include "search/hamming_search.h"
#include "search/mih.h"

using namespace dlbhc;
using Clock = std::chrono::steady_clock;

namespace {

template <class F>
double median_seconds(int reps, F f) {
    std::vector<double> t;
    for (int r = 0; r < reps; ++r) {
        auto a = Clock::now();
        f();
        t.push_back(std::chrono::duration<double>(Clock::now() - a).count());
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

CodeSet random_codes(size_t n, int bits, uint64_t seed) {
    CodeSet s(bits);
    s.resize(n);
    Rng rng(seed);
    for (size_t i = 0; i < n; ++i)
        for (int w = 0; w < s.words(); ++w) {
            uint64_t v = rng.next_u64();
            const int valid = bits - 64 * w;
            if (valid < 64) v &= (1ull << valid) - 1;
            s.code(i)[w] = v;
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

size_t g_differences = 0;

void run_row(const CodeSet& db, const CodeSet& queries, const char* qkind, const Search& s, const MultiIndex& mih,
             const MultiIndex& mih_fb, int reps) {
    const CodeView v = db.view(), qv = queries.view();
    SearchOptions one;
    one.threads = 1;
    std::vector<std::vector<HammingHit>> lin, got(qv.n), got_fb(qv.n);
    const double t_lin = median_seconds(reps, [&] {
        lin = s.knn ? hamming_knn_batch(v, qv, size_t(s.param), one) : hamming_radius_batch(v, qv, s.param, RadiusRule::AtMost, one);
    });
    std::vector<HammingHit> one_q;
    const double t_1q = median_seconds(reps, [&] {
        for (size_t q = 0; q < qv.n; ++q)
            one_q = s.knn ? hamming_knn(v, qv.code(q), size_t(s.param)) : hamming_radius(v, qv.code(q), s.param, RadiusRule::AtMost);
    });
    size_t candidates = 0, probes = 0, linear_used = 0;
    auto run_mih = [&](const MultiIndex& x, std::vector<std::vector<HammingHit>>& out, bool count) {
        for (size_t q = 0; q < qv.n; ++q) {
            MihStats st;
            out[q] = s.knn ? x.knn(qv.code(q), size_t(s.param), &st) : x.radius(qv.code(q), s.param, RadiusRule::AtMost, &st);
            if (count) candidates += st.candidates, probes += st.probes, linear_used += st.linear;
        }
    };
    const double t_mih = median_seconds(reps, [&] { run_mih(mih, got, false); });
    const double t_fb = median_seconds(reps, [&] { run_mih(mih_fb, got_fb, false); });
    run_mih(mih, got, true);  // the statistics of the pure MIH search, once
    size_t diff = 0, hits = 0;
    for (size_t q = 0; q < qv.n; ++q) {
        diff += got[q] != lin[q];
        diff += got_fb[q] != lin[q];
        hits += lin[q].size();
    }
    g_differences += diff;
    const double nq = double(qv.n);
    std::printf("| %4d | %-6s | %-9s | %8.3f | %8.3f | %8.3f | %7.2fx | %8.3f | %7.2fx | %10.0f | %10.0f | %8.1f | %5zu |\n", db.bits(),
                qkind, s.name, t_lin / nq * 1e3, t_1q / nq * 1e3, t_mih / nq * 1e3, t_lin / t_mih, t_fb / nq * 1e3, t_lin / t_fb, probes / nq,
                candidates / nq, hits / nq, diff);
    std::fflush(stdout);
}

std::vector<int> parse_bits(const char* s) {
    std::vector<int> out;
    for (const char* p = s; *p;) {
        out.push_back(std::atoi(p));
        while (*p && *p != ',') ++p;
        if (*p == ',') ++p;
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    size_t n = 1000000, nq = 100;
    int reps = 3;
    std::vector<int> bits = {64, 128};
    for (int i = 1; i < argc; ++i) {
        const bool more = i + 1 < argc;
        if (!std::strcmp(argv[i], "--quick")) n = 20000, nq = 20, reps = 1;
        else if (!std::strcmp(argv[i], "--n") && more) n = std::strtoull(argv[++i], nullptr, 10);
        else if (!std::strcmp(argv[i], "--queries") && more) nq = std::strtoull(argv[++i], nullptr, 10);
        else if (!std::strcmp(argv[i], "--reps") && more) reps = std::atoi(argv[++i]);
        else if (!std::strcmp(argv[i], "--bits") && more) bits = parse_bits(argv[++i]);
        else {
            std::fprintf(stderr, "usage: bench_mih [--n N] [--queries Q] [--reps R] [--bits 64,128] [--quick]\n");
            return 2;
        }
    }
    if (n < 2 || nq < 1 || reps < 1) {
        std::fprintf(stderr, "bench_mih: expected --n >= 2, --queries >= 1, --reps >= 1\n");
        return 2;
    }
    std::printf("# bench_mih: N = %zu uniformly random codes, %zu queries per row, median of %d runs, 1 thread\n", n, nq, reps);
    std::printf("# ms/q = milliseconds per query; ratio = linear / MIH; probes, cand. = table look-ups and codes verified\n");
    std::printf("# per query (pure MIH); diffs = queries whose MIH results differ from the linear scan (must be 0)\n\n");
    const Search searches[] = {{"knn k=10", true, 10}, {"knn k=100", true, 100}, {"radius 4", false, 4}, {"radius 8", false, 8}};
    for (int b : bits) {
        const CodeSet db = random_codes(n, b, 1000 + uint64_t(b));
        MihOptions pure;
        pure.linear_fallback = false;
        const auto t0 = Clock::now();
        const MultiIndex mih(db.view(), pure);
        const double build = std::chrono::duration<double>(Clock::now() - t0).count();
        const MultiIndex mih_fb(db.view());
        std::printf("%d bits: m = %d substrings, tables %.1f MiB (codes %.1f MiB), built in %.3f s\n\n", b, mih.substrings(),
                    mih.memory_bytes() / 1048576.0, n * db.words() * 8 / 1048576.0, build);
        std::printf("| bits | query  | search    | linear ms/q | lin 1q ms/q | mih ms/q | ratio | mih+fb ms/q | ratio | probes | cand. | hits | diffs |\n");
        std::printf("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        const CodeSet rq = random_codes(nq, b, 7 + uint64_t(b)), nearq = near_queries(db, nq, 9 + uint64_t(b));
        for (const Search& s : searches) {
            run_row(db, nearq, "near", s, mih, mih_fb, reps);
            run_row(db, rq, "random", s, mih, mih_fb, reps);
        }
        std::printf("\n");
    }
    if (g_differences) {
        std::printf("FAILED: %zu query results of MIH differ from the linear scan\n", g_differences);
        return 1;
    }
    std::printf("all MIH results identical to the linear scan\n");
    return 0;
}
