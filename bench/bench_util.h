// bench/bench_util.h -- small helpers shared by the benchmark programs.
// A header, not a .cpp: the Makefile turns every bench/*.cpp into a program of its own.
#pragma once
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
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

// Seconds on a steady clock (differences only).
inline double now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The median of v (the mean of the two middle values for an even count); NaN when empty.
inline double median(std::vector<double> v) {
    if (v.empty()) return NAN;
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// The CPU's model name from /proc/cpuinfo, or "unknown".
inline std::string cpu_model() {
    std::ifstream f("/proc/cpuinfo");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
    return "unknown";
}

// The three load averages of /proc/loadavg, or "unknown".
inline std::string load_average() {
    std::ifstream f("/proc/loadavg");
    double a = 0, b = 0, c = 0;
    if (!(f >> a >> b >> c)) return "unknown";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.2f %.2f %.2f", a, b, c);
    return buf;
}

}  // namespace dlbhc::bench
