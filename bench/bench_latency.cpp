// bench/bench_latency.cpp -- `make bench`: the latency of one query image.
//
// A retrieval user's query is one image, and its CNN forward is nearly all of the query's time.
// This program prints, in one run:
//   1. Memory bandwidth, STREAM style (McCalpin's copy, scale, add, triad on arrays of 2^25 floats,
//      128 MiB each, far beyond the caches; bytes counted as STREAM counts them: 2 words per
//      element for copy and scale, 3 for add and triad), plus `read` (the sum of one array: what a
//      matrix-vector product does with its weights), on all threads and on 1 thread.
//   2. CaffeNet-DLBHC at batch 1 (build_caffenet_dlbhc, Test phase, 227x227): the forward's median
//      latency and each layer's, on all threads and on 1 thread, beside PyTorch's
//      (bench/torch_bench.py --infer1-only under /usr/bin/python3, the same net, eval and
//      no_grad), the runs alternating over --rounds rounds.
//   3. fc6 and fc7 at batch 1 are matrix-vector products bound by reading their weights (151 MB
//      and 67 MB of float32): their GB/s (weight bytes / layer time) beside STREAM's.
//   4. Every GEMV kernel this CPU runs (nn/gemv.h) on fc6's shape alone, taking turns.
//
//   usage: bench_latency [--quick] [--repeats R] [--rounds N] [--no-torch] [--python PATH]
//                        [--torch-script PATH]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <unistd.h>
#include <vector>

#include "bench/bench_util.h"
#include "nn/gemv.h"
#include "nn/models.h"
#include "nn/rng.h"

#ifdef _OPENMP
#include <omp.h>
#endif

using namespace dlbhc;

namespace {

using bench::cpu_model;
using bench::load_average;
using bench::median;
using bench::now;

int max_threads() {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

void set_threads(int t) {
#ifdef _OPENMP
    omp_set_num_threads(t);
#else
    (void)t;
#endif
}

// ---- 1. STREAM ------------------------------------------------------------------------------------

struct Stream {
    double copy = 0, scale = 0, add = 0, triad = 0, read = 0;  // GB/s (10^9 bytes/s), medians
};

volatile float g_sink;  // keeps the read kernel's sum alive

// Sum of a[0..n) in 64 independent partial sums, so that neither the add latency nor the vector
// width (this program is built for the baseline x86-64, SSE2) holds the read back: compiled for
// AVX2 too and chosen at run time, like the kernels it is compared with.
__attribute__((always_inline)) inline float sum64_impl(const float* a, size_t n) {
    float acc[64] = {};
    size_t i = 0;
    for (; i + 64 <= n; i += 64)
        for (int k = 0; k < 64; ++k) acc[k] += a[i + k];
    float s = 0;
    for (; i < n; ++i) s += a[i];
    for (float v : acc) s += v;
    return s;
}
#if defined(__x86_64__)
__attribute__((target("avx2"))) float sum64_avx2(const float* a, size_t n) { return sum64_impl(a, n); }
#endif
float sum64_base(const float* a, size_t n) { return sum64_impl(a, n); }

float sum64(const float* a, size_t n) {
#if defined(__x86_64__)
    static const bool avx2 = __builtin_cpu_supports("avx2");
    if (avx2) return sum64_avx2(a, n);
#endif
    return sum64_base(a, n);
}

Stream measure_stream(int threads, int repeats) {
    const size_t n = size_t(1) << 25;
    std::vector<float> a(n), b(n), c(n);
    set_threads(threads);
    // First touch by the threads that use the arrays (as STREAM does).
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; ++i) a[i] = 1.0f, b[i] = 2.0f, c[i] = 0.0f;
    const float q = 3.0f;
    std::vector<double> t[5];
    for (int r = 0; r < repeats + 1; ++r) {  // the first round warms up and is dropped
        double t0 = now();
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; ++i) c[i] = a[i];
        double t1 = now();
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; ++i) b[i] = q * c[i];
        double t2 = now();
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; ++i) c[i] = a[i] + b[i];
        double t3 = now();
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; ++i) a[i] = b[i] + q * c[i];
        double t4 = now();
        float s = 0;
#pragma omp parallel reduction(+ : s)
        {
            int k = 0, T = 1;
#ifdef _OPENMP
            k = omp_get_thread_num(), T = omp_get_num_threads();
#endif
            const size_t lo = n * k / T, hi = n * (k + 1) / T;
            s += sum64(a.data() + lo, hi - lo);
        }
        g_sink = s;
        double t5 = now();
        if (r == 0) continue;
        t[0].push_back(t1 - t0), t[1].push_back(t2 - t1), t[2].push_back(t3 - t2), t[3].push_back(t4 - t3);
        t[4].push_back(t5 - t4);
    }
    const double w = 4.0 * n / 1e9;  // GB per array pass
    Stream st;
    st.copy = 2 * w / median(t[0]), st.scale = 2 * w / median(t[1]), st.add = 3 * w / median(t[2]);
    st.triad = 3 * w / median(t[3]), st.read = w / median(t[4]);
    return st;
}

// ---- 2. the net at batch 1 ------------------------------------------------------------------------

struct Latency {
    std::vector<double> total_ms;                 // one median per round
    std::vector<std::string> names;               // layer names (ours) or module names (PyTorch)
    std::vector<std::vector<double>> layer_ms;    // [layer] one median per round
};

void add_round(Latency& L, double total_ms, const std::vector<std::string>& names, const std::vector<double>& ms) {
    L.total_ms.push_back(total_ms);
    if (L.names.empty()) L.names = names, L.layer_ms.resize(names.size());
    for (size_t i = 0; i < ms.size() && i < L.layer_ms.size(); ++i) L.layer_ms[i].push_back(ms[i]);
}

// Our forward at batch 1 on `threads` threads: median latency and per-layer medians of `reps` runs.
void time_ours(Net& net, int threads, int reps, Latency& L) {
    set_threads(threads);
    for (int i = 0; i < 3; ++i) net.forward();  // warm up: scratch, thread pool, caches
    const size_t n = net.layers().size();
    std::vector<double> totals;
    std::vector<std::vector<double>> per(n);
    std::vector<double> secs;
    for (int r = 0; r < reps; ++r) {
        const double t0 = now();
        net.forward(&secs);
        totals.push_back(now() - t0);
        for (size_t l = 0; l < n; ++l) per[l].push_back(secs[l]);
    }
    std::vector<std::string> names;
    std::vector<double> ms;
    for (size_t l = 0; l < n; ++l) names.push_back(net.layers()[l]->name()), ms.push_back(median(per[l]) * 1e3);
    add_round(L, median(totals) * 1e3, names, ms);
}

// PyTorch's run: "infer1_ips X" and "layer1 <index> <module> <ms>" lines (Flatten dropped, so that
// the modules line up with our layers).
bool time_torch(const std::string& python, const std::string& script, int threads, int repeats, Latency& L) {
    const std::string cmd = python + " " + script + " --net caffenet --infer1-only --threads " + std::to_string(threads) +
                            " --repeats " + std::to_string(repeats) + " 2>/dev/null";
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) return false;
    char buf[512];
    double ips = NAN;
    std::vector<std::string> names;
    std::vector<double> ms;
    while (std::fgets(buf, sizeof buf, p)) {
        char name[128];
        int idx = 0;
        double v = 0;
        if (std::sscanf(buf, "infer1_ips %lf", &v) == 1) ips = v;
        else if (std::sscanf(buf, "layer1 %d %127s %lf", &idx, name, &v) == 3 && std::strcmp(name, "Flatten") != 0)
            names.push_back(name), ms.push_back(v);
    }
    if (pclose(p) != 0 || !std::isfinite(ips)) return false;
    add_round(L, 1e3 / ips, names, ms);
    return true;
}

std::string fmt(double v, const char* f = "%.2f") {
    if (!std::isfinite(v)) return "-";
    char b[64];
    std::snprintf(b, sizeof b, f, v);
    return b;
}

double layer_median(const Latency& L, size_t i) { return i < L.layer_ms.size() ? median(L.layer_ms[i]) : NAN; }

int run(int argc, char** argv) {
    bool quick = false, torch = true;
    int repeats = 0, rounds = 0;
    std::string python = "/usr/bin/python3", script = "bench/torch_bench.py";
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
            return argv[++i];
        };
        if (a == "--help" || a == "-h") {
            std::printf(
                "usage: bench_latency [--quick] [--repeats R] [--rounds N] [--no-torch] [--python PATH] [--torch-script PATH]\n"
                "Batch-1 latency of CaffeNet-DLBHC beside PyTorch (all threads and 1 thread, per layer), STREAM\n"
                "memory bandwidth, and the GB/s of fc6/fc7 at batch 1.\n"
                "  --quick        5 runs per figure, 1 round (about 30 s); default 20 runs, 3 rounds\n"
                "  --repeats R    runs per figure and round; --rounds N alternations of dlbhc and PyTorch\n"
                "  --no-torch     leave out PyTorch; --python, --torch-script: its interpreter and script\n");
            return 0;
        }
        if (a == "--quick") quick = true;
        else if (a == "--no-torch") torch = false;
        else if (a == "--repeats") repeats = std::atoi(value().c_str());
        else if (a == "--rounds") rounds = std::atoi(value().c_str());
        else if (a == "--python") python = value();
        else if (a == "--torch-script") script = value();
        else throw std::invalid_argument("unknown option '" + a + "' (see --help)");
    }
    if (repeats < 1) repeats = quick ? 5 : 20;
    if (rounds < 1) rounds = quick ? 1 : 3;
    const int T = max_threads();
    std::printf("## dlbhc batch-1 latency report (bench/bench_latency%s)\n\n", quick ? " --quick" : "");
    std::printf("CPU: %s, %ld logical CPUs, %d OpenMP threads, GEMV kernel %s.\n", cpu_model().c_str(),
                sysconf(_SC_NPROCESSORS_ONLN), T, sgemv_kernels().front().c_str());
    std::printf("Load average at the start: %s.\n", load_average().c_str());
    std::fflush(stdout);

    // 1. STREAM.
    const int stream_reps = quick ? 3 : 10;
    std::vector<int> thread_counts = {T};
    if (T > 1) thread_counts.push_back(1);
    std::map<int, Stream> stream;
    for (int t : thread_counts) stream[t] = measure_stream(t, stream_reps);
    std::printf("\n### Memory bandwidth (STREAM kernels, arrays of 2^25 floats, GB/s, medians of %d)\n\n", stream_reps);
    std::printf("| threads | copy | scale | add | triad | read |\n|---:|---:|---:|---:|---:|---:|\n");
    for (int t : thread_counts) {
        const Stream& s = stream[t];
        std::printf("| %d | %.1f | %.1f | %.1f | %.1f | %.1f |\n", t, s.copy, s.scale, s.add, s.triad, s.read);
    }
    std::fflush(stdout);

    // 2. The net, ours and PyTorch's, alternating.
    bool have_torch = false;
    if (torch) {
        const std::string probe = python + " -c 'import torch' >/dev/null 2>&1";
        have_torch = access(script.c_str(), R_OK) == 0 && std::system(probe.c_str()) == 0;
        if (!have_torch)
            std::printf("\n(PyTorch reference skipped: %s cannot import torch, or %s is missing)\n", python.c_str(),
                        script.c_str());
    }
    DlbhcNetConfig cfg;
    cfg.batch = 1;
    cfg.with_loss = false;
    auto net = build_caffenet_dlbhc(cfg);
    Rng rng(1);
    net->init_params(rng);
    Blob* data = net->blob("data");
    for (size_t i = 0; i < data->count(); ++i) data->data[i] = rng.uniform(-100, 100);
    net->set_phase(Phase::Test);
    std::map<int, Latency> ours, ref;
    const int torch_repeats = std::max(1, repeats / 4);  // torch_bench.py runs max(5, 4 R) times
    for (int r = 0; r < rounds; ++r)
        for (int k = 0; k < 2; ++k) {
            const bool ours_now = (k == 0) == (r % 2 == 0);
            for (int t : thread_counts) {
                if (ours_now) time_ours(*net, t, repeats, ours[t]);
                else if (have_torch && !time_torch(python, script, t, torch_repeats, ref[t]))
                    std::printf("\n(PyTorch run on %d threads failed)\n", t);
            }
        }
    set_threads(T);

    std::printf("\n### CaffeNet-DLBHC forward at batch 1 (ms; medians over %d rounds of medians of %d runs)\n\n", rounds,
                repeats);
    std::printf("| threads | dlbhc | PyTorch | PyTorch / dlbhc |\n|---:|---:|---:|---:|\n");
    for (int t : thread_counts) {
        const double o = median(ours[t].total_ms), p = have_torch ? median(ref[t].total_ms) : NAN;
        std::printf("| %d | %s | %s | %s |\n", t, fmt(o).c_str(), fmt(p).c_str(), fmt(p / o, "%.2fx").c_str());
    }
    if (T > 1) {
        const double o1 = median(ours[1].total_ms), oT = median(ours[T].total_ms);
        const double p1 = have_torch ? median(ref[1].total_ms) : NAN, pT = have_torch ? median(ref[T].total_ms) : NAN;
        std::printf("\nSpeed-up from 1 to %d threads inside one image: dlbhc %.2fx, PyTorch %s.\n", T, o1 / oT,
                    fmt(p1 / pT, "%.2fx").c_str());
    }

    const Latency& oT = ours[T];
    const Latency* o1 = T > 1 ? &ours[1] : nullptr;
    const bool torch_layers = have_torch && ref[T].names.size() == oT.names.size();
    std::printf("\n### Per layer at batch 1 (ms, medians; PyTorch's modules each timed alone on its input)\n\n");
    std::printf("| layer | dlbhc, %d threads | dlbhc, 1 thread | PyTorch, %d threads | PyTorch, 1 thread |\n"
                "|---|---:|---:|---:|---:|\n", T, T);
    for (size_t i = 0; i < oT.names.size(); ++i) {
        const double a = layer_median(oT, i), b = o1 ? layer_median(*o1, i) : NAN;
        const double c = torch_layers ? layer_median(ref[T], i) : NAN;
        const double d = torch_layers && T > 1 ? layer_median(ref[1], i) : NAN;
        std::printf("| %s | %s | %s | %s | %s |\n", oT.names[i].c_str(), fmt(a, "%.3f").c_str(), fmt(b, "%.3f").c_str(),
                    fmt(c, "%.3f").c_str(), fmt(d, "%.3f").c_str());
    }

    // 3. fc6 and fc7 against the bandwidth.
    std::printf("\n### fc6 and fc7 at batch 1 against the memory bandwidth (GB/s = weight bytes / layer time)\n\n");
    std::printf("| layer | weights (MB) | threads | dlbhc ms | dlbhc GB/s | STREAM read | STREAM triad | of read |\n"
                "|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for (const char* name : {"fc6", "fc7"}) {
        Layer* layer = nullptr;
        size_t idx = 0;
        for (size_t i = 0; i < net->layers().size(); ++i)
            if (net->layers()[i]->name() == name) layer = net->layers()[i].get(), idx = i;
        if (!layer) continue;
        const double mb = layer->params()[0].value.count() * 4.0 / 1e6;
        for (int t : thread_counts) {
            const double ms = layer_median(ours[t], idx), gbs = mb / ms;  // MB / ms = GB/s
            std::printf("| %s | %.1f | %d | %.3f | %.1f | %.1f | %.1f | %.0f%% |\n", name, mb, t, ms, gbs, stream[t].read,
                        stream[t].triad, 100.0 * gbs / stream[t].read);
        }
    }
    // 4. Every GEMV kernel on fc6's shape, alone (their order in gemv.cpp comes from this table).
    {
        const int I = 9216, O = 4096;
        std::vector<float> w((size_t)O * I), x(I), y(O);
        Rng wr(3);
        for (float& v : w) v = wr.uniform(-1, 1);
        for (float& v : x) v = wr.uniform(-1, 1);
        const std::vector<std::string> ks = sgemv_kernels();
        std::printf("\n### GEMV kernels on fc6's shape alone (4096 x 9216, batch 1; GB/s, medians of %d, kernels "
                    "taking turns)\n\n| threads |", 3 * repeats);
        for (const std::string& k : ks) std::printf(" %s |", k.c_str());
        std::printf("\n|---:|");
        for (size_t k = 0; k < ks.size(); ++k) std::printf("---:|");
        std::printf("\n");
        for (int t : thread_counts) {
            set_threads(t);
            std::vector<std::vector<double>> secs(ks.size());
            for (int r = 0; r < 3 * repeats; ++r)
                for (size_t k0 = 0; k0 < ks.size(); ++k0) {
                    const size_t k = (k0 + r) % ks.size();  // each kernel follows each other one in turn
                    const double t0 = now();
                    sgemv_rows_using(ks[k], y.data(), x.data(), w.data(), nullptr, 1, I, O);
                    secs[k].push_back(now() - t0);
                }
            std::printf("| %d |", t);
            for (size_t k = 0; k < ks.size(); ++k) std::printf(" %.1f |", w.size() * 4.0 / 1e9 / median(secs[k]));
            std::printf("\n");
        }
        set_threads(T);
    }

    std::printf("\nLoad average at the end: %s (the machine is shared; a high load makes every figure noisy).\n",
                load_average().c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_latency: %s\n", e.what());
        return 1;
    }
}
