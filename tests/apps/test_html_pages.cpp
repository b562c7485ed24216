// tests/apps/test_html_pages.cpp -- the HTML pages of `dlbhc query --html` and `dlbhc eval --html` and
// their folders of pictures (apps/report.h, HtmlPageWriter): a run that fails midway (the disk
// fills up while the pictures are written) or is killed leaves no partial folder and the previous
// page and folder as they were; the next successful run cleans up after a killed one.
// The full disk is a file size limit (sh's `ulimit -f`) on the real `dlbhc` program: each picture
// of the database is a 300 x 300 noise image (about 270 KB as PNG) and the limit is 100 KB (dash
// counts 512-byte blocks) or 200 KB (bash: 1024-byte blocks), while the query's 28 x 28 picture,
// written first, takes about 1 KB.
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "data/image_io.h"
#include "tests/support/child_process.h"
#include "tests/support/test_files.h"
#include "tests/support/tiny_net.h"

using namespace dlbhc;
using namespace dlbhc::test;
namespace fs = std::filesystem;

namespace {

// A tiny DLBHC-shaped net for 28 x 28 grey images (no convolution: fast).
const std::string kNet = tiny_net_prototxt({"PageNet", "a/train", 8, 8, 32, 16, 4});

const char* kSolver = R"(net: "net.prototxt"
base_lr: 0.01
lr_policy: "fixed"
max_iter: 2
display: 0
random_seed: 1
)";

const size_t kItems = 8;

// Built once: the program, a dataset of 8 random images, weights, an index of the dataset, and
// a list file naming 8 large noise pictures for the same items (--db-data), whose PNGs exceed
// the file size limit.
struct Fixture {
    TempDir dir;
    std::string bin, net, weights, index, data, big, log;
    Fixture() {
        bin = dlbhc_binary();
        std::mt19937 rng(5);
        std::vector<uint8_t> pixels(kItems * 784), labels(kItems);
        for (auto& p : pixels) p = uint8_t(rng() & 255);
        for (size_t i = 0; i < kItems; ++i) labels[i] = uint8_t(i % 4);
        write_bytes(dir.mkdir("a") + "/train-images-idx3-ubyte", make_idx({uint32_t(kItems), 28, 28}, pixels));
        write_bytes(dir.file("a/train-labels-idx1-ubyte"), make_idx({uint32_t(kItems)}, labels));
        data = dir.file("a/train");
        std::string list;
        Image noise(3, 300, 300);
        for (size_t i = 0; i < kItems; ++i) {
            for (auto& p : noise.pixels) p = uint8_t(rng() & 255);
            const std::string png = dir.file("big" + std::to_string(i) + ".png");
            save_png(png, noise);
            list += png + " " + std::to_string(i % 4) + "\n";
        }
        big = dir.file("big.txt");
        write_text(big, list);
        net = dir.file("net.prototxt");
        write_text(net, kNet);
        write_text(dir.file("solver.prototxt"), kSolver);
        weights = dir.file("w.weights");
        index = dir.file("db.idx");
        log = dir.file("stderr.log");
        run_process(bin, {"train", "--solver", dir.file("solver.prototxt"), "--train-data", data, "--test-data", "none",
                          "--snapshot-prefix", dir.file("snap/s"), "--out", weights},
                    log);
        run_process(bin, {"index", "--net", net, "--weights", weights, "--data", data, "--out", index}, log);
    }
    std::vector<std::string> query(size_t item, const std::string& html, const std::string& db_data) const {
        return {"query", "--net", net, "--weights", weights, "--index", index, "--item", data + ":" + std::to_string(item),
                "--k", "3", "--html", html, "--db-data", db_data};
    }
    std::vector<std::string> eval(const std::string& html, const std::string& db_data, int k) const {
        return {"eval", "--net", net, "--weights", weights, "--index", index, "--queries", data, "--k", std::to_string(k),
                "--examples", "2", "--html", html, "--db-data", db_data};
    }
};

const Fixture& fixture() {
    static Fixture f;
    return f;
}

// Runs `args` with a file size limit of 200 blocks: the write that passes the limit fails (EFBIG:
// "File too large"; dlbhc ignores SIGXFSZ) and the program reports the error.
ChildExit run_limited(const std::vector<std::string>& args) {
    const Fixture& f = fixture();
    std::vector<std::string> sh = {"-c", "ulimit -f 200; exec \"$@\"", "sh", f.bin};
    sh.insert(sh.end(), args.begin(), args.end());
    return wait_process(spawn_process("/bin/sh", sh, f.log));
}

// Runs `args` until it has created its first temporary file, then kills it (SIGKILL), as a crash
// in the middle of writing would: DLBHC_TEST_PAUSE (io/file_io.cpp) makes it wait there until a
// file becomes empty, here the net, which never does.
ChildExit run_killed_midway(const std::vector<std::string>& args) {
    const Fixture& f = fixture();
    const std::string log = f.dir.file("killed.log");
    std::remove(log.c_str());
    ::setenv("DLBHC_TEST_PAUSE", ("temp:" + f.net).c_str(), 1);
    const pid_t pid = spawn_process(f.bin, args, log);
    ::unsetenv("DLBHC_TEST_PAUSE");
    bool paused = false;
    for (int i = 0; i < 4000 && !paused; ++i) {  // at most 20 s (the program waits as long)
        paused = file_tail(log).find("test pause: ") != std::string::npos;
        if (!paused) ::usleep(5000);
    }
    CHECK_MESSAGE(paused, file_tail(log));
    ::kill(pid, SIGKILL);
    return wait_process(pid);
}

// A page as a whole: the entries of its folder (the page's bytes; any temporary would show) and
// every file of its pictures folder with its bytes.
struct PageState {
    std::map<std::string, std::string> page_dir, pictures;
    bool operator==(const PageState& o) const { return page_dir == o.page_dir && pictures == o.pictures; }
};
PageState page_state(const std::string& dir, const std::string& files) {
    PageState s;
    s.page_dir = test::folder_contents(dir);
    s.pictures = test::folder_contents(dir + "/" + files);
    return s;
}

}  // namespace

TEST_CASE("html pages: `dlbhc query --html` that fails midway leaves no partial folder, and the previous page intact") {
    const Fixture& f = fixture();
    const std::string out = f.dir.mkdir("q");
    // A new page that fails at its first database picture (after the query's): nothing at all.
    ChildExit e = run_limited(f.query(2, out + "/new.html", f.big));
    CHECK_MESSAGE((e.exited && e.code != 0), file_tail(f.log));
    CHECK(file_tail(f.log).find("File too large") != std::string::npos);
    CHECK(list_folder(out).empty());

    // A complete page, then a failing run for another query (every file would change).
    run_process(f.bin, f.query(1, out + "/q.html", f.data), f.log);
    const PageState before = page_state(out, "q_files");
    REQUIRE(before.pictures.size() == 4);  // the query and its top 3
    CHECK(before.page_dir.size() == 2);
    e = run_limited(f.query(2, out + "/q.html", f.big));
    CHECK((e.exited && e.code != 0));
    CHECK(page_state(out, "q_files") == before);

    // Killed midway (while it writes its first picture): the page and its folder are still the
    // previous ones; the temporary folder it leaves is removed by the next successful run.
    e = run_killed_midway(f.query(2, out + "/q.html", f.big));
    CHECK((e.signalled && e.signal == SIGKILL));
    const PageState killed = page_state(out, "q_files");
    CHECK(killed.pictures == before.pictures);
    CHECK(killed.page_dir.at("q.html") == before.page_dir.at("q.html"));
    CHECK(killed.page_dir.size() == 3);  // its temporary folder
    run_process(f.bin, f.query(2, out + "/q.html", f.data), f.log);
    const PageState after = page_state(out, "q_files");
    CHECK(list_folder(out) == std::vector<std::string>{"q.html", "q_files"});
    CHECK(after.pictures.size() == 4);
    CHECK(after.pictures.at("query.png") != before.pictures.at("query.png"));
}

TEST_CASE("html pages: `dlbhc eval --html` that fails midway leaves no partial folder, and the previous report intact") {
    const Fixture& f = fixture();
    const std::string out = f.dir.mkdir("e");
    ChildExit e = run_limited(f.eval(out + "/r.html", f.big, 8));
    CHECK_MESSAGE((e.exited && e.code != 0), file_tail(f.log));
    CHECK(list_folder(out).empty());  // before: r_files/ with the plot and a query's picture

    run_process(f.bin, f.eval(out + "/r.html", f.data, 4), f.log);
    const PageState before = page_state(out, "r_files");
    REQUIRE(before.pictures.count("precision_at_k.svg") == 1);
    REQUIRE(before.pictures.count("examples.png") == 1);
    // Another K: the plot, written first, would differ.
    e = run_limited(f.eval(out + "/r.html", f.big, 8));
    CHECK((e.exited && e.code != 0));
    CHECK(page_state(out, "r_files") == before);
}
