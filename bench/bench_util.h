// bench/bench_util.h -- small helpers shared by the benchmark programs (bench_search, bench_mih).
// A header, not a .cpp: the Makefile turns every bench/*.cpp into a program of its own.
#pragma once
#include <algorithm>
#include <chrono>
#include <vector>

namespace dlbhc::bench {

// The median wall time of `reps` calls of f(), in seconds (the median shrugs off the odd run
// slowed down by another process on the shared machine).
template <class F>
double median_seconds(int reps, F f) {
    using Clock = std::chrono::steady_clock;
    std::vector<double> t;
    for (int r = 0; r < reps; ++r) {
        const auto a = Clock::now();
        f();
        t.push_back(std::chrono::duration<double>(Clock::now() - a).count());
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

}  // namespace dlbhc::bench
