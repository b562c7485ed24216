// bench/bench_speed.cpp -- `make bench`: dlbhc's speed against OpenBLAS and PyTorch.
//
// One program prints one report (markdown tables), each line with our figure, the reference's
// and the ratio, every time a median of several runs:
//   1. GEMM GFLOPS on the shapes CaffeNet-DLBHC runs at batch 64 -- conv1-5 per group as our
//      convolution calls them (forward, data gradient, weight gradient), fc6/fc7 forward and
//      backward, square 1024/2048 -- beside OpenBLAS's cblas_sgemm when the program was built
//      with it (the Makefile does so when libopenblas-dev is installed). OpenBLAS 0.3.21 does not
//      recognise this CPU and falls back to old SSE3 kernels, so the program sets
//      OPENBLAS_CORETYPE=SkylakeX (re-executing itself, since OpenBLAS reads it when it loads)
//      unless the variable is already set; the report says which core type was used.
//      Then conv3-5 at batch 64 on both convolution routes (im2col + GEMM, Winograd).
//   2. Per-layer forward and backward time of CaffeNet-DLBHC at batch 64 and each layer's share of
//      a training step.
//   3. Training images/s (batch 64), inference images/s (batch 64 and 1), peak memory, for
//      CaffeNet-DLBHC at 227x227 and the small 28x28 net, beside bench/torch_bench.py (PyTorch,
//      same nets, same thread count) when /usr/bin/python3 can import torch.
// Each net runs in a child process of its own (this program with --child, or the PyTorch script)
// so that the peak memory (VmHWM) of one does not include the other.
//
//   usage: bench_speed [--quick] [--repeats R] [--rounds N] [--no-torch] [--no-gemm] [--no-nets]
//                      [--python PATH] [--torch-script PATH]
//   --quick: 2 repeats, 1 round, fewer GEMM shapes (about a minute); default 5 repeats, 2 rounds.
//          bench_speed --child caffenet|small [--repeats R] [--layers]    (one net; key value lines)
//          bench_speed --train-steps N    (N timed CaffeNet training steps, to run under a profiler)
// References are used only here: the product never links OpenBLAS or PyTorch.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include "bench/bench_util.h"
#include "nn/accuracy.h"
#include "nn/conv.h"
#include "nn/gemm.h"
#include "nn/inner_product.h"
#include "nn/lrn.h"
#include "nn/models.h"
#include "nn/pooling.h"
#include "nn/relu.h"
#include "nn/rng.h"
#include "nn/sigmoid.h"
#include "nn/softmax_loss.h"
#include "nn/solver.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#ifdef DLBHC_BENCH_OPENBLAS
#include <cblas.h>
#endif

using namespace dlbhc;

namespace {

using bench::cpu_model;
using bench::load_average;
using bench::median;
using bench::now;

// Median wall time of f over `repeats` runs after `warmup` runs.
template <class F>
double median_seconds(int repeats, int warmup, F f) {
    for (int i = 0; i < warmup; ++i) f();
    std::vector<double> t;
    for (int i = 0; i < repeats; ++i) {
        const double t0 = now();
        f();
        t.push_back(now() - t0);
    }
    return median(t);
}

int max_threads() {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

// A field of /proc/self/status in MiB (VmRSS, VmHWM); 0 if unreadable.
double status_mb(const char* key) {
    std::ifstream f("/proc/self/status");
    std::string line;
    const std::string k = std::string(key) + ":";
    while (std::getline(f, line))
        if (line.compare(0, k.size(), k) == 0) return std::atof(line.c_str() + k.size()) / 1024.0;
    return 0;
}

// ---- child: one net in this process ------------------------------------------------------------

// The small net these figures were measured on and bench/torch_bench.py builds: LeNet-style, conv1
// 20 5x5 -> max 2x2/2 -> conv2 50 5x5 -> max 2x2/2 -> ip1 500 + ReLU -> fc8_kevin (h) -> Sigmoid ->
// fc8_pascal -> loss, accuracy. (The demo's small net, nn/models.h, has 32/64 channels, more ReLUs and a
// dropout; this one stays so that the figures in docs/performance.md can be repeated.)
std::unique_ptr<Net> build_lenet_dlbhc(const DlbhcNetConfig& cfg) {
    auto net = std::make_unique<Net>("LeNet-DLBHC");
    net->add_input("data", Shape(cfg.batch, 1, 28, 28));
    if (cfg.with_loss) net->add_input("label", Shape(cfg.batch));
    auto conv = [&](const char* name, const char* bottom, int outputs) {
        ConvParam p = ConvParam::square(outputs, 5, 1, 0, 1);
        p.weight_filler = FillerParam::xavier();
        net->add(std::make_unique<ConvolutionLayer>(name, p), {bottom}, {name});
    };
    auto fc = [&](const char* name, const char* bottom, int outputs) {
        InnerProductParam p;
        p.num_output = outputs;
        p.weight_filler = FillerParam::xavier();
        net->add(std::make_unique<InnerProductLayer>(name, p), {bottom}, {name});
    };
    auto maxpool = [&](const char* name, const char* bottom) {
        net->add(std::make_unique<PoolingLayer>(name, PoolingParam::square(PoolingParam::MAX, 2, 2)), {bottom}, {name});
    };
    conv("conv1", "data", 20);
    maxpool("pool1", "conv1");
    conv("conv2", "pool1", 50);
    maxpool("pool2", "conv2");
    fc("ip1", "pool2", 500);
    net->add(std::make_unique<ReLULayer>("relu1"), {"ip1"}, {"ip1"});
    fc("fc8_kevin", "ip1", cfg.latent_bits);
    net->add(std::make_unique<SigmoidLayer>("fc8_kevin_encode"), {"fc8_kevin"}, {"fc8_kevin_encode"});
    fc("fc8_pascal", "fc8_kevin_encode", cfg.num_classes);
    if (cfg.with_loss) {
        net->add(std::make_unique<SoftmaxWithLossLayer>("loss"), {"fc8_pascal", "label"}, {"loss"});
        net->add(std::make_unique<AccuracyLayer>("accuracy"), {"fc8_pascal", "label"}, {"accuracy"}, 0.0f);
    }
    return net;
}

std::unique_ptr<Net> build(const std::string& which, int batch, bool with_loss) {
    DlbhcNetConfig cfg;
    cfg.batch = batch;
    cfg.with_loss = with_loss;
    auto net = which == "caffenet" ? build_caffenet_dlbhc(cfg) : build_lenet_dlbhc(cfg);
    Rng rng(1);
    net->init_params(rng);
    Blob* data = net->blob("data");
    for (size_t i = 0; i < data->count(); ++i) data->data[i] = rng.uniform(-100, 100);
    if (net->has_blob("label"))
        for (size_t i = 0; i < net->blob("label")->count(); ++i)
            net->blob("label")->data[i] = (float)rng.below(cfg.num_classes);
    return net;
}

// Prints "key value" lines: train_ips, step_ms, peak_mb, infer_ips, infer1_ips, lrn_ms and, with
// layers, "layer <name> <type> <fwd ms> <bwd ms>" per layer.
int run_child(const std::string& which, int repeats, bool layers) {
    if (which != "caffenet" && which != "small") {
        std::fprintf(stderr, "bench_speed: --child expects caffenet or small, got '%s'\n", which.c_str());
        return 2;
    }
    const int batch = 64;
    std::printf("threads %d\nbase_mb %.1f\n", max_threads(), status_mb("VmRSS"));
    {
        auto net = build(which, batch, true);
        SolverParam sp;
        sp.base_lr = 1e-4;
        sp.momentum = 0.9;
        sp.weight_decay = 5e-4;
        SGDSolver solver(*net, sp);
        const double step = median_seconds(repeats, 1, [&] { solver.step(); });
        std::printf("train_ips %.3f\nstep_ms %.3f\n", batch / step, step * 1e3);
        if (layers) {
            // The same steps as SGDSolver::step, timed per layer; layer_step_ms is the median of
            // these steps, so that the layers' shares come from the same runs.
            const size_t L = net->layers().size();
            std::vector<std::vector<double>> f(L), b(L);
            std::vector<double> fs, bs, steps;
            for (int r = 0; r < repeats; ++r) {
                const double t0 = now();
                net->zero_param_grads();
                net->forward(&fs);
                net->backward(&bs);
                solver.apply_update();
                steps.push_back(now() - t0);
                for (size_t l = 0; l < L; ++l) f[l].push_back(fs[l]), b[l].push_back(bs[l]);
            }
            for (size_t l = 0; l < L; ++l)
                std::printf("layer %s %s %.3f %.3f\n", net->layers()[l]->name().c_str(), net->layers()[l]->type(),
                            median(f[l]) * 1e3, median(b[l]) * 1e3);
            std::printf("layer_step_ms %.3f\n", median(steps) * 1e3);
        }
        std::printf("peak_mb %.1f\n", status_mb("VmHWM"));
    }
    {
        auto net = build(which, batch, false);
        net->set_phase(Phase::Test);
        const double t = median_seconds(repeats, 1, [&] { net->forward(); });
        std::printf("infer_ips %.3f\n", batch / t);
    }
    {
        auto net = build(which, 1, false);
        net->set_phase(Phase::Test);
        const double t = median_seconds(std::max(5, 4 * repeats), 3, [&] { net->forward(); });
        std::printf("infer1_ips %.3f\n", 1.0 / t);
    }
    if (which == "caffenet") {  // the two LRN layers alone, as torch_bench.py times them
        LRNParam p;
        p.local_size = 5, p.alpha = 1e-4f, p.beta = 0.75f, p.k = 1.0f;
        LRNLayer n1("norm1", p), n2("norm2", p);
        Blob x1("x1", Shape(batch, 96, 27, 27)), y1("y1"), x2("x2", Shape(batch, 256, 13, 13)), y2("y2");
        Rng rng(2);
        for (Blob* b : {&x1, &x2})
            for (size_t i = 0; i < b->count(); ++i) b->data[i] = rng.gaussian(0, 1), b->diff[i] = 0;
        n1.reshape({&x1}, {&y1});
        n2.reshape({&x2}, {&y2});
        for (Blob* b : {&y1, &y2})
            for (size_t i = 0; i < b->count(); ++i) b->diff[i] = rng.gaussian(0, 1);
        const double t = median_seconds(repeats, 1, [&] {
            n1.forward({&x1}, {&y1});
            n1.backward({&y1}, {&x1});
            n2.forward({&x2}, {&y2});
            n2.backward({&y2}, {&x2});
        });
        std::printf("lrn_ms %.3f\n", t * 1e3);
    }
    return 0;
}

// ---- parent: the report -------------------------------------------------------------------------

// Every value of each figure, one per run (the report shows their median).
using Figures = std::map<std::string, std::vector<double>>;

// Runs a command and parses its "key value" lines (appending each value to its key);
// "layer ..." lines go to `layer_lines`.
bool run_and_parse(const std::string& cmd, Figures& out, std::vector<std::string>* layer_lines = nullptr) {
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) return false;
    char buf[1024];
    while (std::fgets(buf, sizeof buf, p)) {
        std::string line(buf);
        while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
        if (line.rfind("layer ", 0) == 0) {
            if (layer_lines) layer_lines->push_back(line.substr(6));
            continue;
        }
        const size_t sp = line.find(' ');
        if (sp == std::string::npos) continue;
        char* end = nullptr;
        const double v = std::strtod(line.c_str() + sp + 1, &end);
        if (end != line.c_str() + sp + 1) out[line.substr(0, sp)].push_back(v);
    }
    return pclose(p) == 0;
}

std::string fmt(double v, const char* f = "%.1f") {
    if (!std::isfinite(v)) return "-";
    char b[64];
    std::snprintf(b, sizeof b, f, v);
    return b;
}

// "ours / reference" for figures where larger is better; the reverse when smaller is better.
std::string ratio(double ours, double ref, bool larger_is_better = true) {
    if (!std::isfinite(ours) || !std::isfinite(ref) || ours <= 0 || ref <= 0) return "-";
    return fmt(larger_is_better ? ours / ref : ref / ours, "%.2fx");
}

double get(const Figures& f, const char* k) {
    auto it = f.find(k);
    return it == f.end() ? NAN : median(it->second);
}

struct GemmCase {
    std::string name;
    bool ta, tb;
    int M, N, K;
};

// The GEMMs CaffeNet-DLBHC runs at batch 64 on `threads` threads, as nn/conv.cpp and
// nn/inner_product.cpp call them (conv3-5: the GEMMs of their Winograd route).
std::vector<GemmCase> alexnet_gemms(int threads, bool quick) {
    struct ConvCase {
        const char* name;
        Shape in;
        ConvParam p;
    };
    const int N = 64;
    const ConvCase convs[] = {
        {"conv1", Shape(N, 3, 227, 227), ConvParam::square(96, 11, 4, 0, 1)},
        {"conv2", Shape(N, 96, 27, 27), ConvParam::square(256, 5, 1, 2, 2)},
        {"conv3", Shape(N, 256, 13, 13), ConvParam::square(384, 3, 1, 1, 1)},
        {"conv4", Shape(N, 384, 13, 13), ConvParam::square(384, 3, 1, 1, 2)},
        {"conv5", Shape(N, 384, 13, 13), ConvParam::square(256, 3, 1, 1, 2)},
    };
    std::vector<GemmCase> v;
    for (const ConvCase& c : convs) {
        const ConvPlan plan = conv_plan(c.in, c.p, threads);
        const Shape out = conv_output_shape(c.in, c.p);
        const int OCg = c.p.num_output / c.p.group, Kg = c.in.c / c.p.group * c.p.kernel_h * c.p.kernel_w;
        const std::string imgs = std::to_string(plan.chunk) + (plan.chunk == 1 ? " image" : " images");
        if (plan.winograd) {  // 16 GEMMs per chunk and group (nn/winograd.h), one of them here
            const int T = plan.chunk * ((out.h + 1) / 2) * ((out.w + 1) / 2), Cg = c.in.c / c.p.group;
            const std::string what = " (Winograd, " + imgs + ")";
            v.push_back({std::string(c.name) + " forward" + what, false, false, OCg, T, Cg});
            v.push_back({std::string(c.name) + " data grad" + what, true, false, Cg, T, OCg});
            v.push_back({std::string(c.name) + " weight grad" + what, false, true, OCg, Cg, T});
            continue;
        }
        const int cols = plan.chunk * out.h * out.w;
        v.push_back({std::string(c.name) + " forward (" + imgs + ")", false, false, OCg, cols, Kg});
        if (std::string(c.name) != "conv1")  // conv1 needs no data gradient
            v.push_back({std::string(c.name) + " data grad (" + imgs + ")", true, false, Kg, cols, OCg});
        v.push_back({std::string(c.name) + " weight grad (" + imgs + ")", false, true, OCg, Kg, cols});
        if (quick) break;
    }
    v.push_back({"fc6 forward, batch 64", false, true, 64, 4096, 9216});
    v.push_back({"fc6 weight grad, batch 64", true, false, 4096, 9216, 64});
    v.push_back({"fc6 data grad, batch 64", false, false, 64, 9216, 4096});
    if (!quick) {
        v.push_back({"fc7 forward, batch 64", false, true, 64, 4096, 4096});
        v.push_back({"fc7 weight grad, batch 64", true, false, 4096, 4096, 64});
        v.push_back({"fc7 data grad, batch 64", false, false, 64, 4096, 4096});
    }
    v.push_back({"square 1024", false, false, 1024, 1024, 1024});
    if (!quick) v.push_back({"square 2048", false, false, 2048, 2048, 2048});
    return v;
}

// conv3-5 of CaffeNet-DLBHC at batch 64 on both convolution routes (im2col + GEMM, and Winograd
// F(2x2, 3x3)): forward and backward (all three gradients) ms, medians, the samples alternating.
void conv_route_table(int repeats) {
    struct Case {
        const char* name;
        Shape in;
        ConvParam p;
    };
    const Case cases[] = {
        {"conv3", Shape(64, 256, 13, 13), ConvParam::square(384, 3, 1, 1, 1)},
        {"conv4", Shape(64, 384, 13, 13), ConvParam::square(384, 3, 1, 1, 2)},
        {"conv5", Shape(64, 384, 13, 13), ConvParam::square(256, 3, 1, 1, 2)},
    };
    const int threads = max_threads();
    std::printf("\n### conv3-5 by route, batch 64, %d threads (ms, medians of %d)\n\n", threads, repeats);
    std::printf("| layer | GEMM forward | Winograd forward | ratio | GEMM backward | Winograd backward | ratio |\n"
                "|---|---:|---:|---:|---:|---:|---:|\n");
    for (const Case& c : cases) {
        const Shape out = conv_output_shape(c.in, c.p);
        Rng rng(3);
        std::vector<float> x(c.in.count()), w((size_t)c.p.num_output * c.in.c / c.p.group * 9), b(c.p.num_output),
            y(out.count()), dy(out.count()), dx(x.size()), dw(w.size()), db(b.size());
        for (auto* v : {&x, &w, &b, &dy})
            for (float& f : *v) f = rng.uniform(-1, 1);
        const ConvPlan plans[2] = {conv_plan(c.in, c.p, threads, 0, ConvAlgo::Gemm),
                                   conv_plan(c.in, c.p, threads, 0, ConvAlgo::Winograd)};
        std::vector<float> work[2] = {std::vector<float>(plans[0].workspace_floats()),
                                      std::vector<float>(plans[1].workspace_floats())};
        std::vector<double> fwd[2], bwd[2];
        for (int r = 0; r <= repeats; ++r)  // round 0 warms up
            for (int k = 0; k < 2; ++k) {
                const double t0 = now();
                conv_forward(y.data(), x.data(), w.data(), b.data(), c.in, c.p, plans[k], work[k].data());
                const double t1 = now();
                conv_backward(dx.data(), dw.data(), db.data(), dy.data(), x.data(), w.data(), c.in, c.p, plans[k],
                              work[k].data());
                const double t2 = now();
                if (r > 0) fwd[k].push_back(t1 - t0), bwd[k].push_back(t2 - t1);
            }
        const double f0 = median(fwd[0]) * 1e3, f1 = median(fwd[1]) * 1e3, b0 = median(bwd[0]) * 1e3,
                     b1 = median(bwd[1]) * 1e3;
        std::printf("| %s | %.1f | %.1f | %.2fx | %.1f | %.1f | %.2fx |\n", c.name, f0, f1, f0 / f1, b0, b1, b0 / b1);
    }
    std::fflush(stdout);
}

// Times a GEMM: one sample is `per` calls, with `per` chosen so that a sample lasts at least
// 20 ms; the samples of the two libraries alternate (see gemm_table).
struct GemmTimer {
    explicit GemmTimer(std::function<void()> f) : call(std::move(f)) {}
    std::function<void()> call;
    int per = 1;
    std::vector<double> samples;  // seconds per call
    void calibrate() {
        call();
        for (double t = 0; (t = median_seconds(1, 0, [&] { for (int i = 0; i < per; ++i) call(); })) < 0.02;)
            per = std::max(per + 1, (int)(per * 0.025 / std::max(t, 1e-6)));
    }
    void sample() { samples.push_back(median_seconds(1, 0, [&] { for (int i = 0; i < per; ++i) call(); }) / per); }
    double gflops(const GemmCase& c) const { return 2.0 * c.M * c.N * c.K / median(samples) / 1e9; }
};

void gemm_table(int repeats, bool quick) {
    const int threads = max_threads();
#ifdef DLBHC_BENCH_OPENBLAS
    openblas_set_num_threads(threads);
    const char* core = std::getenv("OPENBLAS_CORETYPE");
    std::printf("\n### GEMM, %d threads, GFLOPS = 2MNK / median time (%d samples)\n\n", threads, repeats);
    std::printf("OpenBLAS %s, core %s (OPENBLAS_CORETYPE=%s), %d threads.\n\n", openblas_get_config(),
                openblas_get_corename(), core ? core : "unset", openblas_get_num_threads());
#else
    std::printf("\n### GEMM, %d threads, GFLOPS = 2MNK / median time (%d samples)\n\n", threads, repeats);
    std::printf("(built without OpenBLAS: install libopenblas-dev and rebuild for the reference column)\n\n");
#endif
    std::printf("| shape | M x N x K | trans | dlbhc (%s) | OpenBLAS | ratio |\n|---|---|---|---:|---:|---:|\n",
                sgemm_kernels().front().c_str());
    Rng rng(7);
    for (const GemmCase& c : alexnet_gemms(threads, quick)) {
        std::vector<float> A((size_t)c.M * c.K), B((size_t)c.K * c.N), C((size_t)c.M * c.N);
        for (float& v : A) v = rng.uniform(-1, 1);
        for (float& v : B) v = rng.uniform(-1, 1);
        const int lda = c.ta ? c.M : c.K, ldb = c.tb ? c.K : c.N;
        std::vector<GemmTimer> timers;
        timers.emplace_back([&] {
            sgemm(c.ta, c.tb, c.M, c.N, c.K, 1.0f, A.data(), lda, B.data(), ldb, 0.0f, C.data(), c.N);
        });
#ifdef DLBHC_BENCH_OPENBLAS
        timers.emplace_back([&] {
            cblas_sgemm(CblasRowMajor, c.ta ? CblasTrans : CblasNoTrans, c.tb ? CblasTrans : CblasNoTrans, c.M, c.N,
                        c.K, 1.0f, A.data(), lda, B.data(), ldb, 0.0f, C.data(), c.N);
        });
#endif
        // Samples alternate (ours, OpenBLAS, ours, ...) so that both see the same load, with a
        // pause before each: after a call, OpenBLAS's worker threads spin for 2^28 cycles (0.1 s
        // here) before sleeping, and libgomp's for a while too, so without it the sample after
        // an OpenBLAS one ran with one core taken (ours fell to 30-70 GFLOPS at random).
        auto settle = [] { std::this_thread::sleep_for(std::chrono::milliseconds(150)); };
        for (GemmTimer& t : timers) settle(), t.calibrate();
        for (int r = 0; r < repeats; ++r)
            for (GemmTimer& t : timers) settle(), t.sample();
        const double ours = timers[0].gflops(c), ref = timers.size() > 1 ? timers[1].gflops(c) : NAN;
        std::printf("| %s | %d x %d x %d | %s%s | %s | %s | %s |\n", c.name.c_str(), c.M, c.N, c.K, c.ta ? "A^T" : "",
                    c.tb ? "B^T" : (c.ta ? "" : "-"), fmt(ours).c_str(), fmt(ref).c_str(), ratio(ours, ref).c_str());
        std::fflush(stdout);
    }
}

// `lines` holds "name type fwd_ms bwd_ms" for every layer of every run; each layer's row shows
// the medians over the runs, in the order the layers first appear.
void layer_table(const std::vector<std::string>& lines, double step_ms) {
    std::printf("\n### CaffeNet-DLBHC per layer, batch 64 (medians; share of one training step of %.0f ms)\n\n",
                step_ms);
    std::printf("| layer | type | forward ms | backward ms | share |\n|---|---|---:|---:|---:|\n");
    std::vector<std::string> order;
    std::map<std::string, std::string> types;
    std::map<std::string, std::vector<double>> fwd, bwd;
    for (const std::string& l : lines) {
        char name[128], type[64];
        double f = 0, b = 0;
        if (std::sscanf(l.c_str(), "%127s %63s %lf %lf", name, type, &f, &b) != 4) continue;
        if (!types.count(name)) order.push_back(name), types[name] = type;
        fwd[name].push_back(f);
        bwd[name].push_back(b);
    }
    double sum = 0;
    for (const std::string& name : order) {
        const double f = median(fwd[name]), b = median(bwd[name]);
        sum += f + b;
        std::printf("| %s | %s | %.2f | %.2f | %.1f%% |\n", name.c_str(), types[name].c_str(), f, b,
                    100.0 * (f + b) / step_ms);
    }
    const double rest = std::max(0.0, step_ms - sum);
    std::printf("| (rest: zeroing diffs, SGD update) | | | | %.1f%% |\n", 100.0 * rest / step_ms);
}

int run_report(int argc, char** argv) {
    bool quick = false, torch = true, gemm = true, nets = true;
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
                "usage: bench_speed [--quick] [--repeats R] [--rounds N] [--no-torch] [--no-gemm] [--no-nets]\n"
                "                   [--python PATH] [--torch-script PATH]\n"
                "Prints the speed report (markdown): GEMM GFLOPS beside OpenBLAS, CaffeNet-DLBHC per\n"
                "layer, training/inference images/s and peak memory of CaffeNet-DLBHC and the small net beside\n"
                "PyTorch (bench/torch_bench.py under /usr/bin/python3).\n"
                "  --quick         2 repeats, 1 round, fewer GEMM shapes (about a minute)\n"
                "  --repeats R     runs per figure and round (default 5); --rounds N alternations (default 2)\n"
                "  --no-torch, --no-gemm, --no-nets   leave out the PyTorch runs, the GEMM table, the nets\n"
                "  --python, --torch-script           the interpreter and script of the PyTorch reference\n"
                "bench_speed --train-steps N: N timed CaffeNet-DLBHC training steps at batch 64 after the setup,\n"
                "  to run under a profiler, e.g. perf record -D 8000 bench_speed --train-steps 10\n");
            return 0;
        }
        if (a == "--quick") quick = true;
        else if (a == "--no-torch") torch = false;
        else if (a == "--no-gemm") gemm = false;
        else if (a == "--no-nets") nets = false;
        else if (a == "--repeats") repeats = std::atoi(value().c_str());
        else if (a == "--rounds") rounds = std::atoi(value().c_str());
        else if (a == "--python") python = value();
        else if (a == "--torch-script") script = value();
        else throw std::invalid_argument("unknown option '" + a + "' (see the top of bench/bench_speed.cpp)");
    }
    if (repeats < 1) repeats = quick ? 2 : 5;
    if (rounds < 1) rounds = quick ? 1 : 2;
    const int threads = max_threads();
    std::printf("## dlbhc speed report (bench/bench_speed%s)\n\n", quick ? " --quick" : "");
    std::printf("CPU: %s, %ld logical CPUs, %d OpenMP threads, GEMM kernel %s.\n", cpu_model().c_str(),
                sysconf(_SC_NPROCESSORS_ONLN), threads, sgemm_kernels().front().c_str());
    std::printf("Load average at the start: %s.\n", load_average().c_str());
    std::fflush(stdout);
    if (gemm) gemm_table(std::max(3, repeats), quick);
    if (gemm && !quick) conv_route_table(std::max(3, repeats));
    if (!nets) return 0;

    char self[4096];
    const ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) throw std::runtime_error("cannot read /proc/self/exe to start the child runs");
    self[len] = 0;
    bool have_torch = false;
    if (torch) {
        const std::string probe = python + " -c 'import torch' >/dev/null 2>&1";
        have_torch = access(script.c_str(), R_OK) == 0 && std::system(probe.c_str()) == 0;
        if (!have_torch)
            std::printf("\n(PyTorch reference skipped: %s cannot import torch, or %s is missing)\n", python.c_str(),
                        script.c_str());
    }
    struct NetRun {
        const char* key;
        const char* title;
        Figures ours, ref;
        std::vector<std::string> layers;
    };
    NetRun runs[] = {{"caffenet", "CaffeNet-DLBHC 227x227", {}, {}, {}}, {"small", "small net 28x28", {}, {}, {}}};
    // Rounds alternate which of the two goes first, so that a change in the machine's load
    // during the run falls on both; each figure is the median over the rounds.
    for (int round = 0; round < rounds; ++round)
        for (NetRun& r : runs) {
            const std::string reps = std::to_string(r.key == std::string("small") ? repeats * 4 : repeats);
            const std::string ours_cmd = std::string("OPENBLAS_NUM_THREADS=1 '") + self + "' --child " + r.key +
                                         " --repeats " + reps + (r.key == std::string("caffenet") ? " --layers" : "");
            const std::string ref_cmd = python + " " + script + " --net " + r.key + " --batch 64 --threads " +
                                        std::to_string(threads) + " --repeats " + reps;
            for (int k = 0; k < 2; ++k) {
                if ((k == 0) == (round % 2 == 0)) {
                    if (!run_and_parse(ours_cmd, r.ours, &r.layers))
                        throw std::runtime_error(std::string("the child run failed: ") + ours_cmd);
                } else if (have_torch && !run_and_parse(ref_cmd, r.ref)) {
                    std::printf("\n(PyTorch run failed: %s)\n", ref_cmd.c_str());
                }
            }
        }
    if (!runs[0].layers.empty()) layer_table(runs[0].layers, get(runs[0].ours, "layer_step_ms"));

    std::printf("\n### Nets, %d threads (dlbhc vs PyTorch %s; medians over %d rounds of medians of %d runs)\n\n",
                threads, have_torch ? "(bench/torch_bench.py)" : "(not available)", rounds, repeats);
    std::printf("| figure | dlbhc | PyTorch | ratio |\n|---|---:|---:|---:|\n");
    for (NetRun& r : runs) {
        auto row = [&](const char* what, const char* key, bool larger_is_better, const char* f) {
            const double o = get(r.ours, key), t = get(r.ref, key);
            std::printf("| %s: %s | %s | %s | %s |\n", r.title, what, fmt(o, f).c_str(), fmt(t, f).c_str(),
                        ratio(o, t, larger_is_better).c_str());
        };
        row("training, batch 64 (images/s)", "train_ips", true, "%.1f");
        row("inference, batch 64 (images/s)", "infer_ips", true, "%.1f");
        row("inference, batch 1 (images/s)", "infer1_ips", true, "%.1f");
        row("peak memory, training (MiB, VmHWM)", "peak_mb", false, "%.0f");
        row("memory before the net (MiB, VmRSS)", "base_mb", false, "%.0f");
        if (r.key == std::string("caffenet")) row("norm1 + norm2 forward+backward (ms)", "lrn_ms", false, "%.1f");
    }
    std::printf("\nRatios: dlbhc / PyTorch for images/s, PyTorch / dlbhc for times and memory (> 1: dlbhc better).\n");
    std::printf("Load average at the end: %s (the machine is shared; a high load makes every figure noisy).\n",
                load_average().c_str());
    return 0;
}

#ifdef DLBHC_BENCH_OPENBLAS
// OpenBLAS reads OPENBLAS_CORETYPE when the library loads, before main: set it and start again.
void ensure_openblas_coretype(char** argv) {
    if (std::getenv("OPENBLAS_CORETYPE")) return;
    setenv("OPENBLAS_CORETYPE", "SkylakeX", 1);
    char self[4096];
    const ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) return;  // carry on with OpenBLAS's own choice; the report names the core
    self[len] = 0;
    execv(self, argv);
}
#endif

}  // namespace

int main(int argc, char** argv) {
    try {
        if (argc >= 3 && std::string(argv[1]) == "--child") {
            int repeats = 5;
            bool layers = false;
            for (int i = 3; i < argc; ++i) {
                if (std::string(argv[i]) == "--repeats" && i + 1 < argc) repeats = std::max(1, std::atoi(argv[++i]));
                else if (std::string(argv[i]) == "--layers") layers = true;
            }
            return run_child(argv[2], repeats, layers);
        }
        if (argc == 3 && std::string(argv[1]) == "--train-steps") {
            // For a profiler: CaffeNet-DLBHC at batch 64, setup (mostly weight initialisation)
            // first, then N training steps, each timed, e.g.
            //   perf record -D 8000 build/release/bench/bench_speed --train-steps 10
            // (-D: start recording after the setup; the program prints when its steps begin).
            const int steps = std::max(1, std::atoi(argv[2]));
            auto net = build("caffenet", 64, true);
            SolverParam sp;
            sp.base_lr = 1e-4, sp.momentum = 0.9, sp.weight_decay = 5e-4;
            SGDSolver solver(*net, sp);
            std::printf("setup done; %d training steps of CaffeNet-DLBHC at batch 64\n", steps);
            std::fflush(stdout);
            for (int i = 0; i < steps; ++i)
                std::printf("step %d: %.1f ms\n", i, median_seconds(1, 0, [&] { solver.step(); }) * 1e3);
            return 0;
        }
#ifdef DLBHC_BENCH_OPENBLAS
        ensure_openblas_coretype(argv);
#endif
        return run_report(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_speed: %s\n", e.what());
        return 1;
    }
}
