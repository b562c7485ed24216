// tests/apps/test_output_guard.cpp -- outputs never destroy inputs, nor one another.
//
// Every file a dataset spec stands for (the idx pair, CIFAR batches, a list file and its images,
// a folder's images, mean files) is an input that no output may replace; export and merge check
// their outputs too (a forgotten merge OUT needs --force); a command's outputs differ from one
// another (train's --out and its snapshots); a symbolic link output is written through, never
// replaced by a file; an output of several files (export's npy pair) appears whole or not at all;
// and a failed command leaves no folder it made.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "apps/args.h"
#include "apps/commands.h"
#include "data/image_io.h"
#include "data/source.h"
#include "formats/net_builder.h"
#include "formats/weights_file.h"
#include "io/file_io.h"
#include "nn/rng.h"
#include "nn/trainer.h"
#include "search/index_file.h"
#include "tests/support/child_process.h"
#include "tests/support/test_files.h"
#include "tests/support/tiny_net.h"

using namespace dlbhc;
using dlbhc::test::error_of;
using dlbhc::test::has;
using dlbhc::test::read_all;
using dlbhc::test::TempDir;
namespace fs = std::filesystem;

namespace {

const std::string kNet = test::tiny_net_prototxt({"GuardNet", "d/t10k", 4, 4, 8, 8, 4});

// A scratch folder holding every kind of dataset, each tiny: d/t10k (an idx pair), g/t10k (the
// same gzipped), imgs/ (a folder of two PNGs), list.txt (a list file of those), c/test (a CIFAR-10
// batch of one record), a mean file, the net (its data layers read d/t10k), weights for grey and
// colour input, and a solver.
struct Data {
    TempDir d;
    std::string net, mean_net, w1, w3, solver, mean;
    Data() {
        const std::vector<uint8_t> pixels(4 * 784, 90), labels = {0, 1, 2, 3};
        const auto images = test::make_idx({4, 28, 28}, pixels), labs = test::make_idx({4}, labels);
        test::write_bytes(d.mkdir("d") + "/t10k-images-idx3-ubyte", images);
        test::write_bytes(d.file("d/t10k-labels-idx1-ubyte"), labs);
        test::write_bytes(d.mkdir("g") + "/t10k-images-idx3-ubyte.gz", test::make_gzip(images));
        test::write_bytes(d.file("g/t10k-labels-idx1-ubyte.gz"), test::make_gzip(labs));
        Image img(3, 28, 28);
        for (size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = uint8_t(i * 5);
        d.mkdir("imgs/cat");
        d.mkdir("imgs/dog");
        save_png(d.file("imgs/cat/a.png"), img);
        save_png(d.file("imgs/dog/b.png"), img);
        test::write_text(d.file("list.txt"), "imgs/cat/a.png 0\nimgs/dog/b.png 1\n");
        test::write_bytes(d.mkdir("c") + "/test_batch.bin", std::vector<uint8_t>(3073, 7));
        net = d.file("net.prototxt");
        test::write_text(net, kNet);
        mean = d.file("mean.weights");
        WeightsFile m;
        m.tensors = {NamedTensor{"mean", {1, 28, 28}, std::vector<float>(784, 1.0f)}};
        write_weights(mean, m);
        std::string with_mean = kNet;
        const std::string scale = "transform_param { scale: 0.00390625 }";
        for (size_t at = with_mean.find(scale); at != std::string::npos; at = with_mean.find(scale, at + 1))
            with_mean.replace(at, scale.size(), "transform_param { scale: 0.00390625 mean_file: \"mean.weights\" }");
        mean_net = d.file("mean_net.prototxt");
        test::write_text(mean_net, with_mean);
        w1 = d.file("w1.weights");
        w3 = d.file("w3.weights");
        test::write_filler_weights(net, w1, 3, 1);
        test::write_filler_weights(net, w3, 3, 3);
        solver = d.file("solver.prototxt");
        test::write_text(solver, "net: \"net.prototxt\"\nbase_lr: 0.01\nlr_policy: \"fixed\"\nmax_iter: 2\nrandom_seed: 1\n");
    }
    std::string f(const std::string& name) const { return d.file(name); }
};

// Runs `run`, which must be refused: an error naming every part, and `input` byte for byte as it
// was. (A damaged input is put back, so that the next check starts from the same files.)
template <class F>
void check_refused(const std::string& input, const std::vector<std::string>& parts, F&& run) {
    const std::string before = read_all(input);
    const std::string e = error_of(run);
    CHECK_MESSAGE(!e.empty(), "not refused; " << input);
    for (const auto& p : parts) CHECK_MESSAGE(has(e, p), "'" << p << "' not in: " << e);
    const bool intact = read_all(input) == before;
    CHECK_MESSAGE(intact, input << " was changed");
    if (!intact) test::write_text(input, before);
}

bool is_symlink(const std::string& p) {
    struct stat st;
    return ::lstat(p.c_str(), &st) == 0 && S_ISLNK(st.st_mode);
}

}  // namespace

TEST_CASE("output guard: dataset_files lists every file a dataset spec resolves to") {
    Data x;
    using V = std::vector<std::string>;
    CHECK(dataset_files(x.f("d/t10k")) == V{x.f("d/t10k-images-idx3-ubyte"), x.f("d/t10k-labels-idx1-ubyte")});
    CHECK(dataset_files(x.f("g/test")) == V{x.f("g/t10k-images-idx3-ubyte.gz"), x.f("g/t10k-labels-idx1-ubyte.gz")});
    CHECK(dataset_files(x.f("c/test")) == V{x.f("c/test_batch.bin")});
    CHECK(dataset_files(x.f("imgs")) == V{x.f("imgs/cat/a.png"), x.f("imgs/dog/b.png")});
    CHECK(dataset_files(x.f("list.txt")) == V{x.f("list.txt"), x.f("imgs/cat/a.png"), x.f("imgs/dog/b.png")});
    SourceOptions rooted;
    rooted.root = x.f("imgs");
    test::write_text(x.f("list2.txt"), "cat/a.png 0\n");
    CHECK(dataset_files(x.f("list2.txt"), rooted) == V{x.f("list2.txt"), x.f("imgs/cat/a.png")});
    test::write_text(x.f("bad.txt"), "no label here\n");
    CHECK(dataset_files(x.f("bad.txt")) == V{x.f("bad.txt")});  // malformed: open_dataset reports it
    CHECK(dataset_files(x.f("none/train")).empty());
    CHECK(dataset_files("").empty());
}

TEST_CASE("output guard: an output that is a file of a dataset spec is refused before any work") {
    Data x;
    const std::string images = x.f("d/t10k-images-idx3-ubyte"), labels = x.f("d/t10k-labels-idx1-ubyte");
    REQUIRE(cmd_index({"--net", x.net, "--weights", x.w1, "--data", x.f("d/t10k"), "--out", x.f("db.idx")}) == 0);
    check_refused(images, {"--out " + images, "--data " + x.f("d/t10k") + ", which reads " + images, "refusing to overwrite an input"},
                  [&] { cmd_index({"--net", x.net, "--weights", x.w1, "--data", x.f("d/t10k"), "--out", images}); });
    check_refused(labels, {"--out " + labels, "--train-data " + x.f("d/t10k") + ", which reads " + labels}, [&] {
        cmd_train({"--solver", x.solver, "--train-data", x.f("d/t10k"), "--test-data", "none", "--out", labels});
    });
    check_refused(images, {"--html " + images, "--item " + x.f("d/t10k") + ", which reads " + images}, [&] {
        cmd_query({"--net", x.net, "--weights", x.w1, "--index", x.f("db.idx"), "--item", x.f("d/t10k") + ":0", "--html", images});
    });
    const std::string png = x.f("imgs/cat/a.png");
    check_refused(png, {"--out " + png, "--data " + x.f("imgs") + ", which reads " + png},
                  [&] { cmd_index({"--net", x.net, "--weights", x.w3, "--data", x.f("imgs"), "--out", png}); });
    // A list file's images, the gzipped idx files, a CIFAR batch.
    check_refused(png, {"--latent-npy " + png, "--data " + x.f("list.txt") + ", which reads " + png}, [&] {
        cmd_encode({"--net", x.net, "--weights", x.w3, "--data", x.f("list.txt"), "--latent-npy", png});
    });
    const std::string gz = x.f("g/t10k-labels-idx1-ubyte.gz");
    check_refused(gz, {"--json " + gz, "--queries " + x.f("g/t10k") + ", which reads " + gz}, [&] {
        cmd_eval({"--net", x.net, "--weights", x.w1, "--index", x.f("db.idx"), "--queries", x.f("g/t10k"), "--json", gz});
    });
    const std::string batch = x.f("c/test_batch.bin");
    check_refused(batch, {"--out " + batch, "--data " + x.f("c/test") + ", which reads " + batch},
                  [&] { cmd_index({"--net", x.net, "--weights", x.w3, "--data", x.f("c/test"), "--out", batch}); });
    // The files a data layer's source stands for, when no --train-data overrides it.
    check_refused(images, {"--out " + images, "the TRAIN data layer's source"}, [&] {
        cmd_train({"--solver", x.solver, "--test-data", "none", "--out", images});
    });
}

TEST_CASE("output guard: mean files and datasets inside a replaced folder are inputs too") {
    Data x;
    // A data layer's mean_file (relative to the prototxt's folder), and --mean.
    check_refused(x.mean, {"--out " + x.mean, "the TEST data layer's mean_file " + x.mean},
                  [&] { cmd_index({"--net", x.mean_net, "--weights", x.w1, "--data", x.f("d/t10k"), "--out", x.mean}); });
    check_refused(x.mean, {"--out " + x.mean, "--mean " + x.mean}, [&] {
        cmd_encode({"--net", x.net, "--weights", x.w1, "--data", x.f("d/t10k"), "--mean", x.mean, "--out", x.mean});
    });
    check_refused(x.mean, {"--out " + x.mean, "the TRAIN data layer's mean_file"}, [&] {
        cmd_train({"--solver", x.solver, "--net", x.mean_net, "--train-data", x.f("d/t10k"), "--test-data", "none", "--out", x.mean});
    });
    // audit --dump replaces its folder as a whole: the net's mean file may not lie in it.
    x.d.mkdir("dump");
    const std::string dumped_mean = x.f("dump/mean.weights");
    fs::copy_file(x.mean, dumped_mean);
    std::string net = read_all(x.mean_net);
    for (size_t at = net.find("\"mean.weights"); at != std::string::npos; at = net.find("\"mean.weights", at + 1))
        net.replace(at + 1, 12, "dump/mean.weights");
    test::write_text(x.f("net2.prototxt"), net);
    check_refused(dumped_mean, {"the TEST data layer's mean_file " + dumped_mean + " lies inside --dump"}, [&] {
        cmd_audit({"--net", x.f("net2.prototxt"), "--image", x.f("imgs/cat/a.png"), "--dump", x.f("dump")});
    });
    // The picture folder of --html: a database image inside it would be deleted with it.
    REQUIRE(cmd_index({"--net", x.net, "--weights", x.w3, "--data", x.f("imgs"), "--out", x.f("db.idx")}) == 0);
    fs::copy(x.f("imgs"), x.f("page_files"), fs::copy_options::recursive);
    check_refused(x.f("page_files/cat/a.png"), {"--db-data " + x.f("page_files") + ", which reads", "lies inside --html's picture folder"},
                  [&] {
                      cmd_query({"--net", x.net, "--weights", x.w3, "--index", x.f("db.idx"), "--image", x.f("imgs/cat/a.png"),
                                 "--db-data", x.f("page_files"), "--html", x.f("page.html")});
                  });
}

TEST_CASE("output guard: export refuses an OUT that is the index (link, npy prefix) or empty, before reading it") {
    TempDir d;
    const std::string idx = d.file("e.idx");
    std::vector<uint64_t> codes = {1, 2, 3};
    IndexItems items;
    items.codes = CodeView{codes.data(), codes.size(), 8, 1};
    write_index(idx, items);
    check_refused(idx, {"OUT " + idx + " is the same file as INDEX " + idx}, [&] { cmd_export({"--format", "faiss", idx, idx}); });
    fs::create_symlink(idx, d.file("link.idx"));
    fs::create_hard_link(idx, d.file("hard.idx"));
    check_refused(idx, {"OUT " + d.file("link.idx"), "INDEX " + idx}, [&] { cmd_export({"--format", "faiss", idx, d.file("link.idx")}); });
    check_refused(idx, {"OUT " + d.file("hard.idx"), "INDEX " + idx}, [&] { cmd_export({"--format", "faiss", idx, d.file("hard.idx")}); });
    CHECK(is_symlink(d.file("link.idx")));
    // The npy prefix form: INDEX x.codes.npy, OUT x.
    fs::copy_file(idx, d.file("x.codes.npy"));
    check_refused(d.file("x.codes.npy"), {"OUT's codes file " + d.file("x.codes.npy"), "INDEX " + d.file("x.codes.npy")},
                  [&] { cmd_export({"--format", "npy", d.file("x.codes.npy"), d.file("x")}); });
    fs::copy_file(idx, d.file("y.labels.npy"));
    check_refused(d.file("y.labels.npy"), {"OUT's labels file", "INDEX"},
                  [&] { cmd_export({"--format", "npy", d.file("y.labels.npy"), d.file("y")}); });
    // Two outputs that are one file: the labels would replace the codes.
    fs::create_symlink(d.file("z.codes.npy"), d.file("z.labels.npy"));
    CHECK(has(error_of([&] { cmd_export({"--format", "npy", idx, d.file("z")}); }), "name the same file"));
    CHECK_FALSE(fs::exists(d.file("z.codes.npy")));
    // An empty OUT would write the hidden ./.codes.npy.
    const fs::path cwd = fs::current_path();
    fs::current_path(d.path);
    const std::string e = error_of([&] { cmd_export({"--format", "npy", idx, ""}); });
    const std::string e2 = error_of([&] { cmd_export({"--format", "faiss", idx, ""}); });
    const bool hidden = fs::exists(".codes.npy") || fs::exists(".labels.npy");
    fs::current_path(cwd);
    CHECK_MESSAGE(has(e, "OUT: expected a file name or a folder, found an empty name"), e);
    CHECK_MESSAGE(has(e2, "OUT: expected"), e2);
    CHECK_FALSE(hidden);
}

TEST_CASE("output guard: export npy with a full disk leaves both previous files; neither is replaced alone") {
    TempDir d;
    // 8-bit codes: codes.npy holds 1 byte per item, labels.npy 8. A file size limit of 8 blocks
    // (4 KiB for dash's 512-byte blocks, 8 KiB for bash's 1 KiB) lets codes (1.6 KB) through and
    // stops labels (12 KB): the write fails with EFBIG (SIGXFSZ ignored).
    const size_t n = 1500;
    std::vector<uint64_t> codes(n);
    for (size_t i = 0; i < n; ++i) codes[i] = i & 255;
    IndexItems items;
    items.codes = CodeView{codes.data(), n, 8, 1};
    const std::string idx = d.file("e.idx");
    write_index(idx, items);
    d.mkdir("out");
    test::write_text(d.file("out/codes.npy"), "the previous codes");
    test::write_text(d.file("out/labels.npy"), "the previous labels");
    const std::string log = d.file("stderr.log");
    const std::vector<std::string> sh = {"-c", "ulimit -f 8; trap '' XFSZ; exec \"$@\"", "sh", test::dlbhc_binary(),
                                         "export", "--format", "npy", idx, d.file("out") + "/"};
    const test::ChildExit e = test::wait_process(test::spawn_process("/bin/sh", sh, log));
    CHECK_MESSAGE((e.exited && e.code != 0), test::file_tail(log));
    CHECK(has(test::file_tail(log), "File too large"));
    CHECK(read_all(d.file("out/codes.npy")) == "the previous codes");
    CHECK(read_all(d.file("out/labels.npy")) == "the previous labels");
    CHECK(test::list_folder(d.file("out")) == std::vector<std::string>{"codes.npy", "labels.npy"});  // no temporary
    // Without the limit both are replaced.
    test::run_process(test::dlbhc_binary(), {"export", "--format", "npy", idx, d.file("out") + "/"}, log);
    CHECK(read_all(d.file("out/codes.npy")).size() == 128 + n);
    CHECK(read_all(d.file("out/labels.npy")).size() == 128 + 8 * n);
}

TEST_CASE("output guard: commit_all prepares every file before publishing any") {
    TempDir d;
    test::write_text(d.file("a"), "old a");
    {
        AtomicFileWriter a(d.file("a"), "test file"), b(d.file("new/sub/b"), "test file");
        a.write("new a", 5);
        b.write("new b", 5);
        a.prepare();
        CHECK(read_all(d.file("a")) == "old a");  // prepared, not yet visible
        b.prepare();
        a.publish();
        b.publish();
        CHECK_THROWS_AS(a.publish(), std::logic_error);
    }
    CHECK(read_all(d.file("a")) == "new a");
    CHECK(read_all(d.file("new/sub/b")) == "new b");
    {
        AtomicFileWriter a(d.file("a"), "test file"), b(d.file("other/b"), "test file");
        a.write("x", 1);
        a.prepare();  // then abandoned: destroyed without publish
    }
    CHECK(read_all(d.file("a")) == "new a");
    CHECK(test::list_folder(d.path) == std::vector<std::string>{"a", "new"});  // no temporary, no "other"
}

TEST_CASE("output guard: merge refuses an existing OUT that is not an input unless --force") {
    TempDir d;
    std::vector<uint64_t> c0 = {1, 2}, c1 = {3};
    IndexItems i0, i1;
    i0.codes = CodeView{c0.data(), 2, 8, 1};
    i1.codes = CodeView{c1.data(), 1, 8, 1};
    const std::string s0 = d.file("s0.idx"), s1 = d.file("s1.idx");
    write_index(s0, i0);
    write_index(s1, i1);
    // The output forgotten: `merge s0.idx s1.idx` would replace shard 0 with shard 1.
    check_refused(s0, {"OUT '" + s0 + "' exists and is not one of the inputs", "--force"}, [&] { cmd_merge({s0, s1}); });
    CHECK(IndexFile::open(s0).size() == 2);
    REQUIRE(cmd_merge({"--force", s0, s1}) == 0);
    CHECK(IndexFile::open(s0).size() == 1);
    // OUT among the inputs needs no --force; a new OUT neither.
    REQUIRE(cmd_merge({s1, s1, s0}) == 0);
    CHECK(IndexFile::open(s1).size() == 2);
    REQUIRE(cmd_merge({d.file("new.idx"), s0, s1}) == 0);
    CHECK(IndexFile::open(d.file("new.idx")).size() == 3);
}

TEST_CASE("output guard: a failed merge leaves no folder it made") {
    TempDir d;
    std::vector<uint64_t> c = {1, 2};
    IndexItems items;
    items.codes = CodeView{c.data(), 2, 8, 1};
    write_index(d.file("a.idx"), items);
    std::string bytes = read_all(d.file("a.idx"));
    bytes[130] ^= 1;  // a code bit: the codes checksum fails
    test::write_text(d.file("damaged.idx"), bytes);
    const std::string e = error_of([&] { cmd_merge({d.file("x/y/z/out.idx"), d.file("a.idx"), d.file("damaged.idx")}); });
    CHECK_MESSAGE(has(e, "checksum mismatch"), e);
    CHECK_FALSE(fs::exists(d.file("x")));
    // An existing folder stays, and a successful merge makes the folders it needs.
    d.mkdir("x");
    CHECK(!error_of([&] { cmd_merge({d.file("x/y/out.idx"), d.file("damaged.idx")}); }).empty());
    CHECK(test::list_folder(d.file("x")).empty());
    REQUIRE(cmd_merge({d.file("x/y/out.idx"), d.file("a.idx")}) == 0);
    CHECK(IndexFile::open(d.file("x/y/out.idx")).size() == 2);
}

TEST_CASE("output guard: merge finds a file given twice among thousands of inputs, quickly") {
    TempDir d;
    // The check runs before any input is opened, so empty files do: 6,000 distinct files, the
    // last naming the 1,501st again. Compared pair by pair (18 million stat calls) this took a
    // minute; sorted by device and inode it is one stat per input.
    std::vector<std::string> args = {d.file("out.idx")};
    for (int i = 0; i < 6000; ++i) {
        args.push_back(d.file("s" + std::to_string(i) + ".idx"));
        test::write_text(args.back(), "");
    }
    args.push_back(d.path + "/./s1500.idx");
    const auto t0 = std::chrono::steady_clock::now();
    const std::string e = error_of([&] { cmd_merge(args); });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    CHECK_MESSAGE(has(e, "index file '" + d.path + "/./s1500.idx': given twice (inputs 1501 and 6001)"), e);
    CHECK_MESSAGE(s < 3.0, "the duplicate check took " << s << " s");
    // The earliest repeat is named when there are several.
    CHECK(has(error_of([&] { cmd_merge({d.file("o.idx"), d.file("s3.idx"), d.file("s1.idx"), d.file("s3.idx"), d.file("s1.idx")}); }),
              "given twice (inputs 1 and 3)"));
}

TEST_CASE("output guard: train's --out may not be a snapshot the run writes") {
    Data x;
    auto train = [&](std::vector<std::string> more) {
        std::vector<std::string> args = {"--solver", x.solver, "--train-data", x.f("d/t10k"), "--test-data", "none",
                                         "--snapshot-prefix", x.f("snap/s")};
        args.insert(args.end(), more.begin(), more.end());
        return error_of([&] { cmd_train(args); });
    };
    // The final snapshot (max_iter 2), also spelled otherwise.
    CHECK(has(train({"--out", x.f("snap/s_iter_2.weights")}), "is the snapshot this run writes at iteration 2"));
    x.d.mkdir("snap");
    CHECK(has(train({"--out", x.f("snap/../snap/s_iter_2.weights")}), "is the snapshot this run writes at iteration 2"));
    // Iteration 1: only with a time limit (the run may stop there with a snapshot).
    CHECK(has(train({"--out", x.f("snap/s_iter_1.weights"), "--time-limit", "100"}), "at iteration 1"));
    CHECK(train({"--out", x.f("snap/s_iter_1.weights")}).empty());
    CHECK(fs::exists(x.f("snap/s_iter_2.weights")));
    CHECK(fs::exists(x.f("snap/s_iter_1.weights")));
    // The predicate itself.
    TrainOptions to;
    to.snapshot_prefix = "p";
    to.snapshot = 3;
    CHECK(may_write_snapshot(to, 0, 10, 3));
    CHECK(may_write_snapshot(to, 0, 10, 9));
    CHECK(may_write_snapshot(to, 0, 10, 10));
    CHECK_FALSE(may_write_snapshot(to, 0, 10, 4));
    CHECK_FALSE(may_write_snapshot(to, 3, 10, 3));  // the snapshot resumed from
    CHECK_FALSE(may_write_snapshot(to, 0, 10, 12));
    to.snapshot_after_train = false;
    CHECK_FALSE(may_write_snapshot(to, 0, 10, 10));
    to.snapshot_after_train = true;
    to.max_seconds = 5;
    CHECK(may_write_snapshot(to, 0, 10, 4));
}

TEST_CASE("output guard: a command's outputs differ from one another, through links too") {
    Data x;
    fs::create_symlink(x.f("codes.txt"), x.f("link.npy"));  // dangling: names the file --out makes
    CHECK(has(error_of([&] {
              cmd_encode({"--net", x.net, "--weights", x.w1, "--data", x.f("d/t10k"), "--out", x.f("codes.txt"), "--latent-npy",
                          x.f("link.npy")});
          }),
              "--out and --latent-npy name the same file"));
    REQUIRE(cmd_index({"--net", x.net, "--weights", x.w1, "--data", x.f("d/t10k"), "--out", x.f("db.idx")}) == 0);
    // eval: --json inside the --html page's picture folder (replaced as a whole) is refused.
    CHECK(has(error_of([&] {
              cmd_eval({"--net", x.net, "--weights", x.w1, "--index", x.f("db.idx"), "--queries", x.f("d/t10k"), "--html",
                        x.f("r.html"), "--json", x.f("r_files/m.json")});
          }),
              "lies inside --html's picture folder"));
    CHECK_FALSE(fs::exists(x.f("r_files")));
    CHECK_FALSE(fs::exists(x.f("r.html")));
}

TEST_CASE("output guard: a symbolic link output stays a link and the file it names gets the new content") {
    Data x;
    x.d.mkdir("real");
    const std::string target = x.f("real/db.idx"), link = x.f("db.idx");
    REQUIRE(cmd_index({"--net", x.net, "--weights", x.w1, "--data", x.f("d/t10k"), "--out", target}) == 0);
    fs::create_symlink("real/db.idx", link);  // relative, as `ln -s` makes them
    // index --append through the link.
    REQUIRE(cmd_index({"--net", x.net, "--weights", x.w1, "--data", x.f("d/t10k"), "--out", link, "--append"}) == 0);
    CHECK(is_symlink(link));
    CHECK(IndexFile::open(target).size() == 8);
    // merge onto the link (one of its inputs), and onto a link to another index (--force).
    REQUIRE(cmd_index({"--net", x.net, "--weights", x.w1, "--data", x.f("d/t10k"), "--out", x.f("four.idx")}) == 0);
    REQUIRE(cmd_merge({link, link, x.f("four.idx")}) == 0);
    CHECK(is_symlink(link));
    CHECK(IndexFile::open(target).size() == 12);
    REQUIRE(cmd_merge({"--force", link, x.f("four.idx")}) == 0);
    CHECK(is_symlink(link));
    CHECK(IndexFile::open(target).size() == 4);
    CHECK(test::list_folder(x.f("real")) == std::vector<std::string>{"db.idx"});  // no temporary beside it
    // A link to a file that does not exist yet (dangling): the file is made, the link kept.
    fs::create_symlink("real/new.idx", x.f("new.idx"));
    REQUIRE(cmd_index({"--net", x.net, "--weights", x.w1, "--data", x.f("d/t10k"), "--out", x.f("new.idx")}) == 0);
    CHECK(is_symlink(x.f("new.idx")));
    CHECK(IndexFile::open(x.f("real/new.idx")).size() == 4);
}

TEST_CASE("output guard: the atomic writer follows a chain of links and refuses a loop") {
    TempDir d;
    d.mkdir("a");
    test::write_text(d.file("a/file"), "old");
    fs::create_symlink("file", d.file("a/l1"));  // relative to its own folder
    fs::create_symlink("a/l1", d.file("l2"));
    CHECK(output_target(d.file("l2")) == d.file("a/file"));
    {
        AtomicFileWriter w(d.file("l2"), "test file");
        w.write("new", 3);
        w.commit();
    }
    CHECK(is_symlink(d.file("l2")));
    CHECK(is_symlink(d.file("a/l1")));
    CHECK(read_all(d.file("a/file")) == "new");
    fs::create_symlink("loop2", d.file("loop1"));
    fs::create_symlink("loop1", d.file("loop2"));
    CHECK(has(error_of([&] { AtomicFileWriter w(d.file("loop1"), "test file"); }), "more than 40 links"));
    CHECK(has(error_of([&] { check_output_path(d.file("loop1"), "--out"); }), "loop of symbolic links"));
}
