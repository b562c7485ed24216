// tests/test_file_io.cpp -- the atomic writer's clean-up of stale temporaries (io/file_io.h):
// a successful commit() removes "<basename>.tmp.<pid>.<n>" files of dead writers, and only those.
#include <doctest/doctest.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "io/file_io.h"
#include "tests/test_data_util.h"

using namespace dlbhc;
using dlbhc::test::TempDir;
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

std::string read_all(const std::string& path) {
    std::string s;
    std::FILE* f = std::fopen(path.c_str(), "rb");
    REQUIRE(f != nullptr);
    char buf[256];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
    std::fclose(f);
    return s;
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
