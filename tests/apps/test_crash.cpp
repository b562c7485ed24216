// tests/apps/test_crash.cpp -- files that survive a crash and readers that see whole files (never a
// torn or half-written one), tested on the real `dlbhc` program run as a separate process:
//   - `dlbhc index` (replacing and appending) killed with SIGKILL at random points: the index at
//     the path is always the previous one or the complete new one, byte for byte;
//   - `dlbhc train` with snapshots killed the same way: every snapshot and the --out weights
//     present are whole (checksums verified) and equal one of two complete runs;
//   - after the next successful run no temporary file is left (io/file_io.h removes those of
//     dead writers);
//   - a process opening the index in a loop (full verification) while `dlbhc index` replaces and
//     appends to it sees only complete indexes of the expected sizes and contents.
// Half of the index kills and two thirds of the train kills wait for the writer to create a
// temporary file (inotify) and kill it a random fraction of a millisecond later, so the write
// itself is hit, not only the computing before it; the others land anywhere in the run (a uniform
// delay up to 1.25 times a measured run). Seeded, but timing is random by nature: the checks of
// the files hold for every timing; only the checks that the test exercised what it means to
// depend on it (at least one kill hit a write in progress; the reader made at least 50 opens
// while a writer ran and saw at least two sizes). In 60 runs of the release build on a busy
// machine they always held: 8-12 of the 16 index kills and 5-11 of the 12 train kills left a
// temporary file behind; the reader makes about 1,000 opens, nearly all during a writer's run.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "formats/snapshot.h"
#include "formats/weights_file.h"
#include "search/index_file.h"
#include "tests/support/child_process.h"
#include "tests/support/test_files.h"
#include "tests/support/tiny_net.h"

using namespace dlbhc;
using namespace dlbhc::test;

namespace {

// A tiny DLBHC-shaped net: 28x28 grey input, 4x4 average pooling (7x7), fc7 256 (the features
// the index stores: 1 KB per item), latent 16 + sigmoid, 4 classes. No convolution: the
// sanitizer build runs it too, and each of the some 60 runs here must take a fraction of a second
// there (release: 20-100 ms).
const std::string kNet = tiny_net_prototxt({"CrashNet", "a/train", 16, 100, 256, 16, 4});

// 24 iterations of batch 16, a snapshot every 4 and one at the end: six snapshots (140 KB each,
// weights and momentum) and the --out weights per run, seven atomic writes.
const char* kSolver = R"(net: "net.prototxt"
base_lr: 0.01
lr_policy: "fixed"
momentum: 0.9
weight_decay: 0.0005
max_iter: 24
display: 0
snapshot: 4
snapshot_prefix: "snap/crash"
random_seed: 1
)";

const size_t kItemsA = 600, kItemsB = 300;

// Replaces `path` with `bytes` without the product's writer (whose clean-up of stale temporaries
// would hide what a killed run left behind): a plain file, then rename.
void put_bytes(const std::string& path, const std::string& bytes) {
    const std::string tmp = path + ".restore";
    {
        std::ofstream f(tmp, std::ios::binary);
        f.write(bytes.data(), std::streamsize(bytes.size()));
        if (!f) throw std::runtime_error("cannot write '" + tmp + "'");
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) throw std::runtime_error("cannot rename '" + tmp + "'");
}

// MNIST-format idx files DIR/<split>-{images-idx3,labels-idx1}-ubyte: n random 28x28 images with
// random labels 0..3 (the test needs a deterministic program, not a learnable dataset).
void write_random_idx(const std::string& dir, const std::string& split, size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<uint8_t> pixels(n * 784), labels(n);
    for (auto& p : pixels) p = uint8_t(rng() & 255);
    for (auto& l : labels) l = uint8_t(rng() % 4);
    write_bytes(dir + "/" + split + "-images-idx3-ubyte", make_idx({uint32_t(n), 28, 28}, pixels));
    write_bytes(dir + "/" + split + "-labels-idx1-ubyte", make_idx({uint32_t(n)}, labels));
}

// Files of `folder` whose name contains ".tmp." (the atomic writer's temporaries).
std::vector<std::string> temporaries(const std::string& folder) {
    std::vector<std::string> t;
    for (const auto& n : list_folder(folder))
        if (n.find(".tmp.") != std::string::npos) t.push_back(n);
    return t;
}

void sleep_us(double us) { std::this_thread::sleep_for(std::chrono::microseconds(int64_t(us))); }

// Shared by the test cases, built once: the dlbhc program, two datasets (A: 600 images, B: 300),
// the net, the solver and weights trained by `dlbhc train` on A.
struct Fixture {
    TempDir dir;
    std::string bin, net, solver, data_a, data_b, weights, log;
    double train_seconds = 0;
    Fixture() {
        bin = dlbhc_binary();
        write_random_idx(dir.mkdir("a"), "train", kItemsA, 11);
        write_random_idx(dir.mkdir("b"), "train", kItemsB, 12);
        data_a = dir.file("a/train");
        data_b = dir.file("b/train");
        net = dir.file("net.prototxt");
        solver = dir.file("solver.prototxt");
        write_text(net, kNet);
        write_text(solver, kSolver);
        weights = dir.file("trained.weights");
        log = dir.file("stderr.log");
        train_seconds = run_process(bin, {"train", "--solver", solver, "--train-data", data_a, "--test-data", "none",
                                          "--snapshot-prefix", dir.file("snap/crash"), "--out", weights},
                                    log);
    }
    std::vector<std::string> index_args(const std::string& data, const std::string& out, bool append) const {
        std::vector<std::string> a = {"index", "--net", net, "--weights", weights, "--data", data, "--out", out};
        if (append) a.push_back("--append");
        return a;
    }
};

const Fixture& fixture() {
    static Fixture f;
    return f;
}

// Kills `pid` at a random point: either after a uniform delay in [0, max_delay_s), or (on_write)
// 0 to 1 ms after the nth creation of one of its temporary files in `watch`'s folder.
// Returns how the child ended.
ChildExit kill_at_random(pid_t pid, FolderWatch& watch, bool on_write, int nth, double max_delay_s,
                         std::mt19937_64& rng) {
    std::uniform_real_distribution<double> u(0, 1);
    if (on_write) {
        watch.wait_for_creation(".tmp." + std::to_string(pid) + ".", nth, 30, pid);
        const double x = u(rng);
        sleep_us(1000 * x * x);  // skewed towards 0: a small file's write and fsync take well under 1 ms
    } else {
        sleep_us(1e6 * max_delay_s * u(rng));
    }
    ::kill(pid, SIGKILL);  // a child that already exited is a zombie until reaped: no effect
    return wait_process(pid);
}

// How the killed runs ended, for the report and for the check that the write itself was hit.
struct KillTally {
    int killed = 0, completed = 0, left_temporary = 0, became_new = 0;
    std::string str() const {
        return std::to_string(killed) + " killed (" + std::to_string(left_temporary) +
               " mid-write, leaving a temporary file), " + std::to_string(completed) + " finished before the kill, " +
               std::to_string(became_new) + " left the new file";
    }
};

}  // namespace

TEST_CASE("crash: `dlbhc index` killed at random points leaves the previous index or the complete new one") {
    const Fixture& fx = fixture();
    TempDir work;
    const std::string out = work.file("db.idx"), log = work.file("stderr.log");
    const auto replace_args = fx.index_args(fx.data_b, out, false), append_args = fx.index_args(fx.data_b, out, true);

    // The previous index (dataset A) and the two possible new ones: B alone, and A + B appended.
    run_process(fx.bin, fx.index_args(fx.data_a, out, false), log);
    const std::string prev = read_all(out);
    const double t_replace = run_process(fx.bin, fx.index_args(fx.data_b, work.file("ref_new.idx"), false), log);
    put_bytes(work.file("ref_app.idx"), prev);
    const double t_append = run_process(fx.bin, fx.index_args(fx.data_b, work.file("ref_app.idx"), true), log);
    const std::string replaced = read_all(work.file("ref_new.idx")), appended = read_all(work.file("ref_app.idx"));
    REQUIRE(IndexFile::open(work.file("ref_app.idx")).size() == kItemsA + kItemsB);
    REQUIRE(prev != replaced);
    REQUIRE(prev != appended);
    const double run_s = std::max(t_replace, t_append);

    std::mt19937_64 rng(20240607);
    KillTally tally;
    const int kTrials = 16;
    for (int t = 0; t < kTrials; ++t) {
        const bool append = t % 2 == 1, on_write = (t / 2) % 2 == 1;
        CAPTURE(t);
        CAPTURE(append);
        CAPTURE(on_write);
        FolderWatch watch(work.path);
        const pid_t pid = spawn_process(fx.bin, append ? append_args : replace_args, log);
        const ChildExit e = kill_at_random(pid, watch, on_write, 1, 1.25 * run_s, rng);
        REQUIRE_MESSAGE((e.signalled || (e.exited && e.code == 0)), "dlbhc index failed: " << file_tail(log));
        tally.killed += e.signalled;
        tally.completed += !e.signalled;

        const std::string now = read_all(out);
        CHECK_NOTHROW(IndexFile::open(out));  // full verification of every section
        const std::string& complete = append ? appended : replaced;
        CHECK_MESSAGE((now == prev || now == complete), "the index is neither the previous nor the new one");
        tally.became_new += now == complete;
        for (const auto& n : temporaries(work.path))
            tally.left_temporary += n.find("db.idx.tmp." + std::to_string(pid) + ".") == 0;
        // A run that finished removed the temporaries earlier kills left (file_io.h).
        if (!e.signalled) CHECK(temporaries(work.path).empty());
        if (now != prev) put_bytes(out, prev);
    }
    MESSAGE("dlbhc index, " << kTrials << " runs of about " << int(run_s * 1000) << " ms: " << tally.str());
    // At least one kill must have hit a write in progress, or the test did not test the writer.
    CHECK(tally.left_temporary >= 1);

    // The next successful run replaces the index and removes every temporary the kills left.
    MESSAGE(temporaries(work.path).size() << " temporaries left before the final run");
    run_process(fx.bin, replace_args, log);
    CHECK(read_all(out) == replaced);
    CHECK(temporaries(work.path).empty());
}

TEST_CASE("crash: `dlbhc train` killed at random points leaves every snapshot and the weights whole") {
    const Fixture& fx = fixture();
    TempDir work;
    const std::string log = work.file("stderr.log");
    auto train_args = [&](const std::string& folder, int seed) {
        return std::vector<std::string>{"train", "--solver", fx.solver, "--train-data", fx.data_a, "--test-data", "none",
                                        "--snapshot-prefix", folder + "/crash", "--out", folder + "/final.weights",
                                        "--seed", std::to_string(seed)};
    };
    // Two complete runs with different seeds: every file of the folder must always be one of theirs.
    std::map<std::string, std::string> ref[2];
    double run_s = 0;
    for (int s = 0; s < 2; ++s) {
        const std::string folder = work.mkdir("ref" + std::to_string(s + 1));
        run_s = std::max(run_s, run_process(fx.bin, train_args(folder, s + 1), log));
        for (const auto& n : list_folder(folder)) ref[s][n] = read_all(folder + "/" + n);
    }
    REQUIRE(ref[0].size() == 7);  // crash_iter_{4,8,...,24}.weights and final.weights
    for (const auto& kv : ref[0]) {
        REQUIRE(ref[1].count(kv.first) == 1);
        REQUIRE(ref[1][kv.first] != kv.second);
    }

    // The previous files: a complete run with seed 1.
    const std::string snap = work.mkdir("snap");
    run_process(fx.bin, train_args(snap, 1), log);

    std::mt19937_64 rng(77);
    KillTally tally;
    std::set<std::string> killed_tags;  // ".tmp.<pid>." of every run started here
    const int kTrials = 12;
    for (int t = 0; t < kTrials; ++t) {
        const int seed = t % 2 == 0 ? 2 : 1;  // each run replaces the files with the other run's
        const bool on_write = t % 3 != 0;
        const int nth = 1 + int(rng() % 7);
        CAPTURE(t);
        CAPTURE(on_write);
        FolderWatch watch(snap);
        const pid_t pid = spawn_process(fx.bin, train_args(snap, seed), log);
        const std::string tag = ".tmp." + std::to_string(pid) + ".";
        killed_tags.insert(tag);
        const ChildExit e = kill_at_random(pid, watch, on_write, nth, 1.25 * run_s, rng);
        REQUIRE_MESSAGE((e.signalled || (e.exited && e.code == 0)), "dlbhc train failed: " << file_tail(log));
        tally.killed += e.signalled;
        tally.completed += !e.signalled;

        bool all_new = true;
        for (const auto& n : list_folder(snap)) {
            CAPTURE(n);
            if (n.find(".tmp.") != std::string::npos) {
                // Left by this run or an earlier killed one (kept until its target is written again).
                const size_t at = n.find(".tmp."), end = n.find('.', at + 5);
                CHECK(killed_tags.count(n.substr(at, end + 1 - at)) == 1);
                tally.left_temporary += n.find(tag) != std::string::npos;
                continue;
            }
            REQUIRE(ref[0].count(n) == 1);
            const std::string path = snap + "/" + n;
            CHECK_NOTHROW(read_weights(path));  // checksums verified
            if (n != "final.weights") CHECK_NOTHROW(load_train_state(path));
            const std::string now = read_all(path);
            CHECK_MESSAGE((now == ref[0][n] || now == ref[1][n]), "neither run's complete file");
            all_new = all_new && now == ref[seed - 1][n];
        }
        tally.became_new += all_new;
        // A run that finished rewrote every file, removing the temporaries earlier kills left.
        if (!e.signalled) CHECK(temporaries(snap).empty());
    }
    MESSAGE("dlbhc train, " << kTrials << " runs of about " << int(run_s * 1000) << " ms: " << tally.str());
    CHECK(tally.left_temporary >= 1);

    // A final successful run: its files everywhere, no temporary left.
    MESSAGE(temporaries(snap).size() << " temporaries left before the final run");
    run_process(fx.bin, train_args(snap, 1), log);
    CHECK(temporaries(snap).empty());
    for (const auto& kv : ref[0]) CHECK(read_all(snap + "/" + kv.first) == kv.second);
}

namespace {

// Checks that `f` is A's items followed by k copies of B's items (k = 0, 1 or 2): returns "" or
// what differs.
std::string compare_items(const IndexFile& f, const IndexFile& a, const IndexFile& b) {
    const size_t n = f.size();
    if (n != a.size() && n != a.size() + b.size() && n != a.size() + 2 * b.size())
        return "unexpected size " + std::to_string(n);
    if (f.bits() != a.bits() || f.feature_dim() != a.feature_dim() || f.feature_type() != a.feature_type())
        return "unexpected bits, feature dimension or type";
    const size_t row = size_t(f.feature_dim()) * sizeof(float);
    for (size_t i = 0; i < n; ++i) {
        const IndexFile& r = i < a.size() ? a : b;
        const size_t j = i < a.size() ? i : (i - a.size()) % b.size();
        if (std::memcmp(f.codes().code(i), r.codes().code(j), sizeof(uint64_t) * size_t(f.words())) != 0 ||
            f.label(i) != r.label(j) || f.name(i) != r.name(j) ||
            std::memcmp(f.features().row(i), r.features().row(j), row) != 0)
            return "item " + std::to_string(i) + " of " + std::to_string(n) + " differs";
    }
    return "";
}

ino_t inode_of(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

}  // namespace

TEST_CASE("crash: a reader sees whole indexes while another process replaces and appends to the index") {
    const Fixture& fx = fixture();
    TempDir work;
    const std::string out = work.file("db.idx"), log = work.file("stderr.log");
    run_process(fx.bin, fx.index_args(fx.data_a, work.file("a.idx"), false), log);
    run_process(fx.bin, fx.index_args(fx.data_b, work.file("b.idx"), false), log);
    const IndexFile ref_a = IndexFile::open(work.file("a.idx")), ref_b = IndexFile::open(work.file("b.idx"));
    REQUIRE(ref_a.size() == kItemsA);
    REQUIRE(ref_b.size() == kItemsB);
    run_process(fx.bin, fx.index_args(fx.data_a, out, false), log);

    // The writer: another process (`dlbhc index`) cycling through A, A + B, A + B + B, started one
    // after the other from a thread of this process.
    std::atomic<uint64_t> started{0}, finished{0};
    std::atomic<bool> done{false};
    std::string writer_error;
    const int kCycles = 8;
    std::thread writer([&] {
        try {
            for (int c = 0; c < kCycles; ++c) {
                for (int step = 0; step < 3; ++step) {
                    ++started;
                    run_process(fx.bin, fx.index_args(step == 0 ? fx.data_a : fx.data_b, out, step > 0), log);
                    ++finished;
                }
            }
        } catch (const std::exception& e) {
            writer_error = e.what();
        }
        done = true;
    });

    // The reader: open with full verification, check the contents, again.
    size_t opens = 0, overlapped = 0, raced = 0, bad = 0;
    std::string first_bad;
    std::set<size_t> sizes;
    while (!done) {
        const uint64_t finished_before = finished.load();
        const ino_t ino_before = inode_of(out);
        std::string problem;
        try {
            IndexFile f = IndexFile::open(out);
            const uint64_t started_after = started.load();
            const ino_t ino_after = inode_of(out);
            problem = compare_items(f, ref_a, ref_b);
            sizes.insert(f.size());
            overlapped += started_after > finished_before;  // a writer was running during the open
            raced += ino_after != ino_before;               // the file was replaced during the open
        } catch (const std::exception& e) {
            problem = e.what();
        }
        ++opens;
        if (!problem.empty() && bad++ == 0) first_bad = problem;
        sleep_us(100);
    }
    writer.join();
    REQUIRE_MESSAGE(writer_error.empty(), writer_error);
    MESSAGE("reader: " << opens << " opens, " << overlapped << " while a writer ran, " << raced
                       << " with the file replaced during the open; sizes seen: " << sizes.size());
    CHECK_MESSAGE(bad == 0, bad << " bad opens; the first: " << first_bad);
    CHECK(overlapped >= 50);
    CHECK(sizes.size() >= 2);
    // The last state the writer left: A + B + B.
    CHECK(compare_items(IndexFile::open(out), ref_a, ref_b).empty());
    CHECK(IndexFile::open(out).size() == kItemsA + 2 * kItemsB);
    CHECK(temporaries(work.path).empty());
}

namespace {

// Sets DLBHC_TEST_APPEND_DELAY_MS for the children started while it lives (search/index_file.cpp:
// an append then sleeps that long between reading the old index and writing the new one).
struct AppendDelay {
    explicit AppendDelay(int ms) { ::setenv("DLBHC_TEST_APPEND_DELAY_MS", std::to_string(ms).c_str(), 1); }
    ~AppendDelay() { ::unsetenv("DLBHC_TEST_APPEND_DELAY_MS"); }
};

// True once another process holds the update lock of the index at `path` (an exclusive flock
// on the file it names), polled every millisecond for up to `timeout_s` seconds.
bool wait_until_locked(const std::string& path, double timeout_s) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    while (std::chrono::steady_clock::now() < end) {
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            const bool held = ::flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
            ::close(fd);  // releases the lock if we took it
            if (held) return true;
        }
        sleep_us(1000);
    }
    return false;
}

void require_success(const ChildExit& e, const std::string& log) {
    REQUIRE_MESSAGE((e.exited && e.code == 0), "dlbhc index failed: " << file_tail(log));
}

}  // namespace

TEST_CASE("concurrency: two `dlbhc index --append` at once to one index both land (none is lost)") {
    // Each append sleeps 500 ms between reading the old index and renaming the new one over it.
    // Before the update lock both read A, and the later rename dropped the other's items: A + B.
    const Fixture& fx = fixture();
    TempDir work;
    const std::string out = work.file("db.idx"), log = work.file("stderr.log");
    run_process(fx.bin, fx.index_args(fx.data_a, work.file("a.idx"), false), log);
    run_process(fx.bin, fx.index_args(fx.data_b, work.file("b.idx"), false), log);
    const IndexFile ref_a = IndexFile::open(work.file("a.idx")), ref_b = IndexFile::open(work.file("b.idx"));
    run_process(fx.bin, fx.index_args(fx.data_a, out, false), log);
    pid_t first, second;
    {
        AppendDelay delay(500);
        first = spawn_process(fx.bin, fx.index_args(fx.data_b, out, true), log);
        second = spawn_process(fx.bin, fx.index_args(fx.data_b, out, true), log);
    }
    require_success(wait_process(first), log);
    require_success(wait_process(second), log);
    const IndexFile f = IndexFile::open(out);
    CHECK(f.size() == kItemsA + 2 * kItemsB);
    CHECK(compare_items(f, ref_a, ref_b).empty());
    CHECK(temporaries(work.path).empty());
}

TEST_CASE("concurrency: `dlbhc index` replacing an index waits for an append in progress") {
    // The append (A + B, sleeping 500 ms before its rename) holds the update lock when the
    // replacement (B) starts: the replacement must come second and win. Without the lock in the
    // replacing writer, the append's later rename put back A + B: the replacement was lost.
    const Fixture& fx = fixture();
    TempDir work;
    const std::string out = work.file("db.idx"), log = work.file("stderr.log");
    run_process(fx.bin, fx.index_args(fx.data_b, work.file("b.idx"), false), log);
    const std::string replaced = read_all(work.file("b.idx"));
    run_process(fx.bin, fx.index_args(fx.data_a, out, false), log);
    pid_t append;
    {
        AppendDelay delay(500);
        append = spawn_process(fx.bin, fx.index_args(fx.data_b, out, true), log);
    }
    const bool locked = wait_until_locked(out, 30);
    const pid_t replace = spawn_process(fx.bin, fx.index_args(fx.data_b, out, false), log);
    require_success(wait_process(append), log);
    require_success(wait_process(replace), log);
    REQUIRE(locked);
    CHECK(IndexFile::open(out).size() == kItemsB);
    CHECK(read_all(out) == replaced);
    CHECK(temporaries(work.path).empty());
}
