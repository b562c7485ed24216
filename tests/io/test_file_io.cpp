// tests/io/test_file_io.cpp -- the atomic writers (io/file_io.h): a successful commit() removes
// "<basename>.tmp.<pid>.<n>" files of dead writers, and only those; the folder writer produces a
// whole folder or nothing, replaces an existing one only when complete, and cleans up after dead runs.
// Also the path helpers (io/path.h), the one home of "the folder of a path".
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include "io/file_io.h"
#include "io/path.h"
#include "tests/support/test_files.h"

using namespace dlbhc;
using dlbhc::test::TempDir;
using dlbhc::test::read_all;
using dlbhc::test::write_text;
namespace fs = std::filesystem;

namespace {

// The pid of a process that has exited and been reaped: kill(pid, 0) fails with ESRCH (until the
// kernel reuses the number, which takes a full turn of the pid space).
pid_t dead_pid() {
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) ::_exit(0);  // async-signal-safe only: the parent may have OpenMP threads
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    return child;
}

void commit_text(const std::string& path, const std::string& text) {
    AtomicFileWriter w(path, "test file");
    w.write(text.data(), text.size());
    w.commit();
}

}  // namespace

TEST_CASE("file_io: a commit removes the stale temporaries of dead writers of the same target, only those") {
    TempDir dir;
    const std::string target = dir.file("t.bin");
    const std::string dead = std::to_string(dead_pid());
    const std::string parent = std::to_string(::getppid()), self = std::to_string(::getpid());
    REQUIRE(::kill(::getppid(), 0) == 0);

    const std::vector<std::string> removed = {"t.bin.tmp." + dead + ".0", "t.bin.tmp." + dead + ".17",
                                              "t.bin.tmp." + dead + ".4294967295"};  // the counter's largest
    const std::vector<std::string> kept = {
        "t.bin.tmp." + parent + ".0",   // a live process: it may be writing right now
        "t.bin.tmp." + self + ".99",    // our own process: another thread may be writing
        "t.bin.tmp.1.0",                // pid 1 is always alive
        "u.bin.tmp." + dead + ".0",     // another target
        "xt.bin.tmp." + dead + ".0",    // another target whose name ends like ours
        "t.bin.tmp." + dead,            // not the pattern: no counter
        "t.bin.tmp." + dead + ".",      // empty counter
        "t.bin.tmp." + dead + ".0.bak", // something after the counter
        "t.bin.tmp." + dead + ".x",     // counter not a number
        "t.bin.tmp.0.0",                // pid 0 (kill(0, 0) would mean our own process group)
        "t.bin.tmp.-5.0",               // negative pid
        "t.bin.tmp.99999999999.0",      // pid beyond any pid_t
        "t.bin.tmp." + dead + ".4294967296",  // beyond the writer's counter
        "t.bin",                        // (the target itself, replaced by the commit)
    };
    for (const auto& n : removed) write_text(dir.file(n), "stale");
    for (const auto& n : kept) write_text(dir.file(n), "keep");

    commit_text(target, "new contents");
    CHECK(read_all(target) == "new contents");
    for (const auto& n : removed) CHECK_MESSAGE(!fs::exists(dir.file(n)), n << " should have been removed");
    for (const auto& n : kept) CHECK_MESSAGE(fs::exists(dir.file(n)), n << " should have been kept");
    // Nothing else appeared (the writer's own temporary is gone).
    size_t files = 0;
    for (const auto& e : fs::directory_iterator(dir.path)) {
        (void)e;
        ++files;
    }
    CHECK(files == kept.size());
}

TEST_CASE("file_io: remove_stale_temporaries counts what it removed; a failed write removes nothing else") {
    TempDir dir;
    const std::string target = dir.file("x.idx");
    const std::string dead1 = std::to_string(dead_pid()), dead2 = std::to_string(dead_pid());
    write_text(dir.file("x.idx.tmp." + dead1 + ".0"), "a");
    write_text(dir.file("x.idx.tmp." + dead2 + ".3"), "b");
    CHECK(remove_stale_temporaries(target) == 2);
    CHECK(remove_stale_temporaries(target) == 0);
    CHECK(remove_stale_temporaries(dir.file("missing-folder/x.idx")) == 0);

    // A writer destroyed without commit() removes its own temporary and leaves the others alone.
    write_text(dir.file("x.idx.tmp." + dead1 + ".1"), "c");
    {
        AtomicFileWriter w(target, "test file");
        w.write("abc", 3);
        CHECK(fs::exists(w.temp_path()));
    }
    CHECK(!fs::exists(target));
    CHECK(fs::exists(dir.file("x.idx.tmp." + dead1 + ".1")));
}

TEST_CASE("file_io: a commit leaves a concurrent writer of the same target in this process alone") {
    TempDir dir;
    const std::string target = dir.file("w.weights");
    AtomicFileWriter slow(target, "test file");
    slow.write("slow", 4);
    commit_text(target, "fast");
    REQUIRE(fs::exists(slow.temp_path()));  // our own pid: not stale
    CHECK(read_all(target) == "fast");
    slow.commit();
    CHECK(read_all(target) == "slow");
    size_t files = 0;
    for (const auto& e : fs::directory_iterator(dir.path)) {
        (void)e;
        ++files;
    }
    CHECK(files == 1);
}

namespace {

// The entries of a folder, sorted (hidden ones included).
std::vector<std::string> entries(const std::string& folder) {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(folder)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

void write_folder(const std::string& path, const std::vector<std::string>& files, const std::string& text) {
    AtomicDirWriter w(path, "test folder", {".npy"});
    for (const auto& f : files) commit_text(w.file(f), text);
    w.commit();
}

using Names = std::vector<std::string>;

}  // namespace

TEST_CASE("file_io: AtomicDirWriter makes the folder appear whole at commit, and only then") {
    TempDir dir;
    const std::string out = dir.file("dump");
    {
        AtomicDirWriter w(out + "/", "test folder", {".npy"});  // a trailing slash names the same folder
        CHECK(w.path() == out);
        commit_text(w.file("a.npy"), "A");
        commit_text(w.file("b.npy"), "B");
        CHECK(!fs::exists(out));  // nothing visible before commit
        CHECK(fs::path(w.temp_path()).parent_path() == fs::path(dir.path));  // a sibling: rename works
        w.commit();
    }
    CHECK(entries(dir.path) == Names{"dump"});  // no temporary left beside it
    CHECK(entries(out) == Names{"a.npy", "b.npy"});
    CHECK(read_all(out + "/b.npy") == "B");

    // A second output replaces the first as a whole: files of the old one that the new one does
    // not write are gone, nothing else is left beside it.
    write_folder(out, {"b.npy", "c.npy"}, "new");
    CHECK(entries(dir.path) == Names{"dump"});
    CHECK(entries(out) == Names{"b.npy", "c.npy"});
    CHECK(read_all(out + "/b.npy") == "new");
}

TEST_CASE("file_io: an AtomicDirWriter that fails leaves no folder, and an existing one intact") {
    TempDir dir;
    const std::string out = dir.file("pictures");
    auto fail_midway = [&] {
        AtomicDirWriter w(out, "test folder", {".npy"});
        commit_text(w.file("1.npy"), "half");
        throw std::runtime_error("disk full");  // e.g. the second file cannot be written
    };
    CHECK_THROWS_WITH(fail_midway(), "disk full");
    CHECK(entries(dir.path).empty());

    write_folder(out, {"1.npy", "2.npy"}, "old");
    CHECK_THROWS_WITH(fail_midway(), "disk full");
    CHECK(entries(dir.path) == Names{"pictures"});
    CHECK(entries(out) == Names{"1.npy", "2.npy"});
    CHECK(read_all(out + "/1.npy") == "old");
}

TEST_CASE("file_io: AtomicDirWriter refuses to delete a folder holding what it would not write") {
    TempDir dir;
    const std::string out = dir.mkdir("mine");
    write_text(out + "/notes.txt", "precious");
    CHECK_THROWS_WITH(AtomicDirWriter(out, "dump folder", {".npy"}),
                      test::contains("dump folder '" + out + "': the folder exists and is replaced as a whole, so it may hold "
                                     "only files named *.npy; found 'notes.txt'"));
    fs::remove(out + "/notes.txt");
    fs::create_directory(out + "/sub");
    CHECK_THROWS_WITH(AtomicDirWriter(out, "dump folder", {".npy"}), test::contains("found 'sub (a folder)'"));
    fs::remove(out + "/sub");
    fs::create_symlink(dir.path, out + "/link.npy");  // a link, even with the right name
    CHECK_THROWS_WITH(AtomicDirWriter(out, "dump folder", {".npy"}), test::contains("found 'link.npy'"));
    fs::remove(out + "/link.npy");
    // Not a folder at all, or no folder name.
    write_text(dir.file("file"), "x");
    CHECK_THROWS_WITH(AtomicDirWriter(dir.file("file"), "dump folder"), test::contains("expected a folder to replace, found a file"));
    CHECK_THROWS_WITH(AtomicDirWriter(dir.path + "/.", "dump folder"), test::contains("expected the path of a folder ending with its name"));
    CHECK_THROWS_WITH(AtomicDirWriter(out + "/..", "dump folder"), test::contains("expected the path of a folder ending with its name"));
    CHECK_THROWS_WITH(AtomicDirWriter("/", "dump folder"), test::contains("expected the path of a folder ending with its name"));

    // Checked again at commit: something that appeared meanwhile keeps the old folder, and the
    // new one is dropped.
    write_text(out + "/old.npy", "old");
    {
        AtomicDirWriter w(out, "dump folder", {".npy"});
        commit_text(w.file("new.npy"), "new");
        write_text(out + "/later.txt", "precious");
        CHECK_THROWS_WITH(w.commit(), test::contains("found 'later.txt'"));
    }
    CHECK(entries(dir.path) == Names{"file", "mine"});
    CHECK(entries(out) == Names{"later.txt", "old.npy"});
}

TEST_CASE("file_io: a folder commit removes the stale folders of dead runs, only those, without following links") {
    TempDir dir;
    const std::string dead = std::to_string(dead_pid());
    const std::string parent = std::to_string(::getppid()), self = std::to_string(::getpid());
    // What a run killed mid-write leaves (a temporary folder), and what one killed between its two
    // renames leaves (the previous folder moved away, and the complete new one).
    const Names removed = {".out.tmp." + dead + ".0", ".out.old." + dead + ".3", ".out.tmp." + dead + ".4"};
    const Names kept = {
        ".out.tmp." + parent + ".0",  // a live process: it may be writing right now
        ".out.tmp." + self + ".9",    // our own process: another writer may be busy
        ".out.tmp." + dead,           // not the pattern
        ".xout.tmp." + dead + ".0",   // another target
        "out.tmp." + dead + ".0",     // a file writer's temporary of a file named "out": not ours
        "outside",                    // what a link in a stale folder points to
    };
    for (const auto& n : removed) {
        fs::create_directory(dir.file(n));
        write_text(dir.file(n + "/x.npy"), "stale");
    }
    for (const auto& n : kept) {
        fs::create_directory(dir.file(n));
        write_text(dir.file(n + "/x.npy"), "keep");
    }
    fs::create_directory_symlink(dir.file("outside"), dir.file(removed[0] + "/link"));

    write_folder(dir.file("out"), {"y.npy"}, "new");
    for (const auto& n : removed) CHECK_MESSAGE(!fs::exists(dir.file(n)), n << " should have been removed");
    for (const auto& n : kept) CHECK_MESSAGE(fs::exists(dir.file(n + "/x.npy")), n << " should have been kept");
    Names expect = kept;
    expect.push_back("out");
    std::sort(expect.begin(), expect.end());
    CHECK(entries(dir.path) == expect);
    CHECK(read_all(dir.file("out/y.npy")) == "new");

    fs::create_directory(dir.file(".out.old." + dead + ".7"));
    CHECK(remove_stale_temporary_dirs(dir.file("out")) == 1);
    CHECK(remove_stale_temporary_dirs(dir.file("out")) == 0);
}

TEST_CASE("path: the folder and base name of a path, with \"\" and \"x\" spelled out") {
    // parent_folder: a folder to open; "." for a path without a '/'.
    CHECK(parent_folder("a/b/c") == "a/b");
    CHECK(parent_folder("/x") == "/");
    CHECK(parent_folder("/") == "/");
    CHECK(parent_folder("x") == ".");
    CHECK(parent_folder("") == ".");
    CHECK(parent_folder("a/b/") == "a/b");  // no trailing-slash handling: trim_trailing_slashes first
    CHECK(parent_folder("./x") == ".");
    // folder_part: a prefix for paths read relative to a file; "" keeps them as written.
    CHECK(folder_part("a/b/c") == "a/b");
    CHECK(folder_part("/x") == "/");
    CHECK(folder_part("x") == "");
    CHECK(folder_part("") == "");
    CHECK(join_path(folder_part("net.prototxt"), "data/train") == "data/train");
    CHECK(join_path(folder_part("w/solver.prototxt"), "net.prototxt") == "w/net.prototxt");
    CHECK(join_path(folder_part("/solver.prototxt"), "net.prototxt") == "/net.prototxt");
    CHECK(join_path("w", "/abs/net.prototxt") == "/abs/net.prototxt");
    // base_name and trim_trailing_slashes.
    CHECK(base_name("a/b/c") == "c");
    CHECK(base_name("x") == "x");
    CHECK(base_name("a/") == "");
    CHECK(base_name("") == "");
    CHECK(trim_trailing_slashes("a/b//") == "a/b");
    CHECK(trim_trailing_slashes("/") == "/");
    CHECK(trim_trailing_slashes("//") == "/");
    CHECK(base_name(trim_trailing_slashes("data/mnist/")) == "mnist");
}

TEST_CASE("path: what a path names, following links") {
    TempDir d;
    write_text(d.file("f"), "x");
    fs::create_directory(d.file("dir"));
    fs::create_symlink(d.file("f"), d.file("link"));
    fs::create_symlink(d.file("gone"), d.file("dangling"));
    REQUIRE(::mkfifo(d.file("fifo").c_str(), 0600) == 0);
    CHECK(is_regular_file(d.file("f")));
    CHECK(is_regular_file(d.file("link")));
    CHECK_FALSE(is_regular_file(d.file("dir")));
    CHECK_FALSE(is_regular_file(d.file("fifo")));
    CHECK(is_directory(d.file("dir")));
    CHECK(is_directory(d.path + "/dir/"));
    CHECK_FALSE(is_directory(d.file("f")));
    CHECK(path_exists(d.file("fifo")));
    CHECK_FALSE(path_exists(d.file("gone")));
    CHECK_FALSE(path_exists(d.file("dangling")));
    // Where a file is expected, anything but a folder is there (and then named by InputFile).
    CHECK(exists_as_file(d.file("f")));
    CHECK(exists_as_file(d.file("fifo")));
    CHECK_FALSE(exists_as_file(d.file("dir")));
    CHECK_FALSE(exists_as_file(d.file("gone")));
}
