// bench/bench_memory.cpp -- peak resident memory (VmHWM) and time of the commands that stream
// (index, index --shard + merge, encode --features-npy, export) against the number of items:
// Fashion-MNIST's 10,000 test and 60,000 training images and a synthetic set of N random 28x28
// images (default 1,000,000), through the demo's small net (weights/small_dlbhc_train_val.prototxt,
// 500-d features kept) with weights drawn from its fillers. It checks that the N-item index is byte
// for byte the merge of its ten shards. Runs the real dlbhc (build/release/dlbhc beside this
// program's folder, or --bin) with DLBHC_TEST_PEAK_FILE, which makes it report its VmHWM.
// Figures: docs/performance.md, "Memory against N".
//
// usage: bench_memory [--n N] [--quick] [--sets all|fm|n] [--dir DIR] [--bin PATH]
//   --quick: N = 100,000 and Fashion-MNIST's test set only. --sets: Fashion-MNIST only (fm), the
//   N-item set only (n), or both (all, the default). --dir: the scratch folder (default a new one
//   under /tmp, removed at the end; it needs about 7 KB per item of N).
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "data/gzip.h"
#include "formats/caffe_spec.h"
#include "formats/net_builder.h"
#include "formats/weights_file.h"
#include "nn/rng.h"

extern char** environ;

using namespace dlbhc;

namespace {

struct Run {
    double peak_mb = 0, seconds = 0;
};

// Runs `bin args` (stdout and stderr to `log`), returns its VmHWM and wall time; throws unless it
// exits with status 0.
Run run(const std::string& bin, const std::vector<std::string>& args, const std::string& dir) {
    const std::string peak = dir + "/peak", log = dir + "/log";
    ::setenv("DLBHC_TEST_PEAK_FILE", peak.c_str(), 1);
    ::setenv("OMP_NUM_THREADS", "2", 1);
    std::vector<char*> argv = {(char*)bin.c_str()};
    for (const auto& a : args) argv.push_back((char*)a.c_str());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    const double t0 = bench::now();
    pid_t pid;
    if (posix_spawn(&pid, bin.c_str(), &fa, nullptr, argv.data(), environ) != 0)
        throw std::runtime_error("cannot start " + bin);
    posix_spawn_file_actions_destroy(&fa);
    int status = 0;
    ::waitpid(pid, &status, 0);
    Run r;
    r.seconds = bench::now() - t0;
    ::unsetenv("DLBHC_TEST_PEAK_FILE");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw std::runtime_error("dlbhc " + args.front() + " failed: see " + log);
    std::ifstream in(peak);
    std::string key;
    double kb = 0;
    in >> key >> kb;
    r.peak_mb = kb / 1024.0;
    return r;
}

// A plain copy of a (maybe gzip) idx file: plain idx images are read as taken (data/idx.h).
void gunzip_to(const std::string& from, const std::string& to) {
    const std::vector<uint8_t> b = read_maybe_gzip(from, "Fashion-MNIST file");
    std::ofstream(to, std::ios::binary).write((const char*)b.data(), (std::streamsize)b.size());
}

void put_be32(std::ofstream& f, uint32_t v) {
    const char b[4] = {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
    f.write(b, 4);
}

// N random 28x28 images with random labels 0..9, as DIR/train-{images-idx3,labels-idx1}-ubyte,
// written a piece at a time.
void write_synthetic(const std::string& dir, uint32_t n) {
    std::filesystem::create_directories(dir);
    std::mt19937_64 rng(1);
    std::ofstream img(dir + "/train-images-idx3-ubyte", std::ios::binary), lab(dir + "/train-labels-idx1-ubyte", std::ios::binary);
    img.write("\0\0\x08\x03", 4);
    for (uint32_t d : {n, 28u, 28u}) put_be32(img, d);
    lab.write("\0\0\x08\x01", 4);
    put_be32(lab, n);
    std::vector<char> piece(784 * 1000);
    for (uint32_t at = 0; at < n; at += 1000) {
        const uint32_t m = std::min<uint32_t>(1000, n - at);
        for (size_t i = 0; i < m * 784; i += 8) {
            const uint64_t r = rng();
            std::memcpy(&piece[i], &r, 8);
        }
        img.write(piece.data(), m * 784);
        for (uint32_t i = 0; i < m; ++i) lab.put(char(rng() % 10));
    }
}

bool same_bytes(const std::string& a, const std::string& b) {
    std::ifstream fa(a, std::ios::binary), fb(b, std::ios::binary);
    std::vector<char> x(1 << 20), y(1 << 20);
    while (fa && fb) {
        fa.read(x.data(), (std::streamsize)x.size());
        fb.read(y.data(), (std::streamsize)y.size());
        if (fa.gcount() != fb.gcount() || std::memcmp(x.data(), y.data(), (size_t)fa.gcount()) != 0) return false;
    }
    return !fa && !fb;
}

void row(const char* command, const std::string& data, size_t n, const Run& r) {
    std::printf("| `%s` | %s | %zu | %.1f | %.1f | %.0f |\n", command, data.c_str(), n, r.peak_mb, r.seconds,
                n / r.seconds);
    std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
    size_t n = 1000000;
    bool quick = false;
    std::string dir, bin, which = "all";
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--n" && i + 1 < argc) n = std::stoul(argv[++i]);
        else if (a == "--quick") quick = true, n = 100000;
        else if (a == "--dir" && i + 1 < argc) dir = argv[++i];
        else if (a == "--sets" && i + 1 < argc) which = argv[++i];
        else if (a == "--bin" && i + 1 < argc) bin = argv[++i];
        else {
            std::fprintf(stderr, "usage: bench_memory [--n N] [--quick] [--sets all|fm|n] [--dir DIR] [--bin PATH]\n");
            return 2;
        }
    }
    if (bin.empty()) bin = std::filesystem::path(argv[0]).parent_path().parent_path().string() + "/dlbhc";
    const bool own_dir = dir.empty();
    if (own_dir) {
        char tmpl[] = "/tmp/dlbhc_bench_memory_XXXXXX";
        if (!::mkdtemp(tmpl)) throw std::runtime_error("cannot make a scratch folder");
        dir = tmpl;
    }
    std::filesystem::create_directories(dir + "/fm");
    const std::string net = "weights/small_dlbhc_train_val.prototxt", weights = dir + "/small.weights";
    {
        NetBuildOptions bo;
        bo.batch = 1, bo.channels = 1, bo.height = 28, bo.width = 28;
        auto built = build_net(load_net_spec(net), Phase::Test, bo);
        Rng init(1);
        built->init_params(init);
        write_weights(weights, weights_from_net(*built));
    }
    const std::string fm = "/usr/share/datasets/fashion-mnist";
    struct Set {
        std::string name, spec;
        size_t n;
    };
    std::vector<Set> sets;
    std::vector<const char*> splits = {"t10k"};
    if (!quick) splits.push_back("train");
    if (which == "n") splits.clear();
    for (const char* split : splits) {
        for (const char* kind : {"images-idx3", "labels-idx1"})
            gunzip_to(fm + "/" + split + "-" + kind + "-ubyte.gz", dir + "/fm/" + split + "-" + kind + "-ubyte");
        sets.push_back({std::string("Fashion-MNIST ") + split, dir + "/fm/" + split, std::string(split) == "t10k" ? 10000u : 60000u});
    }
    if (which != "fm") {
        write_synthetic(dir + "/syn", (uint32_t)n);
        sets.push_back({"random 28x28", dir + "/syn/train", n});
    }

    std::printf("| command | data | items | peak MB | s | items/s |\n|---|---|---:|---:|---:|---:|\n");
    for (const Set& s : sets) {
        const std::string idx = dir + "/db.idx";
        row("index", s.name, s.n, run(bin, {"index", "--net", net, "--weights", weights, "--data", s.spec, "--out", idx}, dir));
        row("export --format npy", s.name, s.n, run(bin, {"export", "--format", "npy", idx, dir + "/exp"}, dir));
        if (s.spec == dir + "/syn/train") {
            std::vector<std::string> merge = {"merge", dir + "/merged.idx"};
            Run shards;
            for (int i = 0; i < 10; ++i) {
                const std::string shard = dir + "/shard" + std::to_string(i) + ".idx";
                const Run r = run(bin, {"index", "--net", net, "--weights", weights, "--data", s.spec, "--shard",
                                        std::to_string(i) + "/10", "--out", shard}, dir);
                shards.peak_mb = std::max(shards.peak_mb, r.peak_mb);
                shards.seconds += r.seconds;
                merge.push_back(shard);
            }
            row("index --shard I/10 (x10)", s.name, s.n, shards);
            row("merge (10 shards)", s.name, s.n, run(bin, merge, dir));
            const bool same = same_bytes(idx, dir + "/merged.idx");
            std::printf("(%zu-item index byte for byte the merge of its 10 shards: %s)\n", s.n, same ? "yes" : "NO");
            if (!same) return 1;
            for (int i = 0; i < 10; ++i) std::filesystem::remove(dir + "/shard" + std::to_string(i) + ".idx");
            std::filesystem::remove(dir + "/merged.idx");
        }
        row("encode --features-npy", s.name, s.n,
            run(bin, {"encode", "--net", net, "--weights", weights, "--data", s.spec, "--out", dir + "/codes.txt",
                      "--features-npy", dir + "/features.npy"}, dir));
        std::filesystem::remove(dir + "/features.npy");
    }
    if (own_dir) std::filesystem::remove_all(dir);
    return 0;
}
