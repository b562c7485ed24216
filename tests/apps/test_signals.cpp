// tests/apps/test_signals.cpp -- the real `dlbhc` under a file size limit and with a mapped index
// truncated under it by another program: an error naming the file and exit status 1, never death
// by SIGXFSZ or SIGBUS, and no temporary file or folder left behind (io/file_io.h,
// install_file_signal_handlers).
#include <doctest/doctest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <string>
#include <thread>
#include <vector>

#include "apps/commands.h"
#include "formats/caffe_spec.h"
#include "formats/net_builder.h"
#include "formats/weights_file.h"
#include "nn/rng.h"
#include "tests/support/child_process.h"
#include "tests/support/test_files.h"
#include "tests/support/tiny_net.h"

using namespace dlbhc;
using dlbhc::test::ChildExit;
using dlbhc::test::has;
using dlbhc::test::read_all;
using dlbhc::test::TempDir;

namespace {

// A folder with the tiny net, its weights (fillers), 40 MNIST-format images and an index of them
// built by the real program.
struct Setup {
    TempDir d;
    std::string bin, net, weights, data, db;
    Setup() {
        bin = test::dlbhc_binary();
        net = d.file("net.prototxt");
        test::write_text(net, test::tiny_net_prototxt({}));
        weights = d.file("w.weights");
        test::write_filler_weights(net, weights, 1);
        std::vector<uint8_t> pixels(40 * 784), labels(40);
        for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = uint8_t(i * 13);
        for (size_t i = 0; i < labels.size(); ++i) labels[i] = uint8_t(i % 4);
        test::write_bytes(d.file("train-images-idx3-ubyte"), test::make_idx({40, 28, 28}, pixels));
        test::write_bytes(d.file("train-labels-idx1-ubyte"), test::make_idx({40}, labels));
        data = d.file("train");
        db = d.file("db.idx");
        test::run_process(bin, index_args(db), d.file("setup.log"));
    }
    std::vector<std::string> index_args(const std::string& out) const {
        return {"index", "--net", net, "--weights", weights, "--data", data, "--out", out};
    }
};

std::string describe(const ChildExit& e) {
    return e.exited ? "exit status " + std::to_string(e.code)
                    : e.signalled ? "killed by signal " + std::to_string(e.signal) : std::string("timed out");
}

// Starts the program with `args` and DLBHC_TEST_PAUSE=<pause> (io/file_io.cpp); once it says it
// paused, truncates `victim` to 0 bytes; returns how the program ended.
ChildExit run_truncating(const Setup& s, const std::vector<std::string>& args, const std::string& pause,
                         const std::string& victim, const std::string& log) {
    ::setenv("DLBHC_TEST_PAUSE", pause.c_str(), 1);
    const pid_t pid = test::spawn_process(s.bin, args, log);
    ::unsetenv("DLBHC_TEST_PAUSE");
    bool paused = false;
    for (int i = 0; i < 4000 && !paused; ++i) {  // at most 20 s (the program waits as long)
        paused = has(test::file_tail(log), "test pause: ");
        if (!paused) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    CHECK_MESSAGE(paused, "the program never paused: " << test::file_tail(log));
    REQUIRE(::truncate(victim.c_str(), 0) == 0);
    return test::wait_process(pid);
}

}  // namespace

TEST_CASE("signals: under a file size limit a writer reports 'File too large', exits 1 and leaves no temporary") {
    Setup s;
    const std::string before = read_all(s.db);  // about 6 KB: 40 items with 32-d features
    REQUIRE(before.size() > 4096);
    const std::string log = s.d.file("fsize.log");
    // The child inherits the limit (as from `ulimit -f 8`); the test process holds it only
    // while it starts the child.
    struct rlimit old;
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &old) == 0);
    struct rlimit small = old;
    small.rlim_cur = 4096;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
    pid_t pid = -1;
    try {
        pid = test::spawn_process(s.bin, s.index_args(s.db), log);
    } catch (...) {
        ::setrlimit(RLIMIT_FSIZE, &old);
        throw;
    }
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &old) == 0);
    const ChildExit e = test::wait_process(pid);
    const std::string err = test::file_tail(log);
    CHECK_MESSAGE((e.exited && e.code == 1), describe(e) << "\n" << err);
    CHECK_MESSAGE(has(err, "dlbhc index: error: index file '" + s.db + "': writing '" + s.db + ".tmp."), err);
    CHECK_MESSAGE(has(err, "failed: File too large (the previous file, if any, is unchanged)"), err);
    CHECK(read_all(s.db) == before);
    for (const auto& f : test::list_folder(s.d.path)) CHECK_MESSAGE(!has(f, ".tmp."), f);
}

TEST_CASE("signals: a mapped index truncated by another program gives an error naming it and exit 1, not SIGBUS") {
    Setup s;
    const std::vector<std::string> query = {"query", "--net", s.net, "--weights", s.weights, "--index", s.db, "--item",
                                            s.data + ":0", "--coarse-only"};
    // While the index is verified (just after mapping it).
    ChildExit e = run_truncating(s, query, "map:" + s.db, s.db, s.d.file("map.log"));
    std::string err = test::file_tail(s.d.file("map.log"));
    CHECK_MESSAGE((e.exited && e.code == 1), describe(e) << "\n" << err);
    CHECK_MESSAGE(has(err, "dlbhc query: error: index file '" + s.db +
                               "' was truncated or changed by another program while mapped (read past its end)"),
                  err);

    // While `merge` copies an input into its output: the temporary output is removed.
    s.d.mkdir("m");
    const std::string a = s.d.file("m/a.idx"), b = s.d.file("m/b.idx"), out = s.d.file("m/out.idx");
    test::run_process(s.bin, s.index_args(a), s.d.file("a.log"));
    test::run_process(s.bin, s.index_args(b), s.d.file("b.log"));
    e = run_truncating(s, {"merge", out, a, b}, "temp:" + b, b, s.d.file("merge.log"));
    err = test::file_tail(s.d.file("merge.log"));
    CHECK_MESSAGE((e.exited && e.code == 1), describe(e) << "\n" << err);
    CHECK_MESSAGE(has(err, "dlbhc merge: error: index file '" + b + "' was truncated"), err);
    CHECK(test::list_folder(s.d.file("m")) == std::vector<std::string>{"a.idx", "b.idx"});  // no temporary, no OUT

    // While `query --html` writes its pictures: the temporary picture folder goes too.
    s.d.mkdir("h");
    const std::string db2 = s.d.file("h/db.idx");
    // Indexed from a copy of the data that is gone by query time, so that the page cannot take
    // its pictures from the data source the index records: it reads the items' names from the
    // mapped index (they are not image files, so no picture is shown).
    s.d.mkdir("gone");
    for (const char* f : {"train-images-idx3-ubyte", "train-labels-idx1-ubyte"})
        test::write_text(s.d.file(std::string("gone/") + f), read_all(s.d.file(f)));
    std::vector<std::string> index2 = s.index_args(db2);
    index2[6] = s.d.file("gone/train");
    test::run_process(s.bin, index2, s.d.file("db2.log"));
    for (const char* f : {"train-images-idx3-ubyte", "train-labels-idx1-ubyte"})
        REQUIRE(::unlink(s.d.file(std::string("gone/") + f).c_str()) == 0);
    std::vector<std::string> html = query;
    html[6] = db2;
    html.insert(html.end(), {"--html", s.d.file("h/page.html")});
    e = run_truncating(s, html, "temp:" + db2, db2, s.d.file("html.log"));
    err = test::file_tail(s.d.file("html.log"));
    CHECK_MESSAGE((e.exited && e.code == 1), describe(e) << "\n" << err);
    CHECK_MESSAGE(has(err, "dlbhc query: error: index file '" + db2 + "' was truncated"), err);
    CHECK(test::list_folder(s.d.file("h")) == std::vector<std::string>{"db.idx"});
}
