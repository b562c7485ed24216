// tests/apps/test_output_names.cpp -- outputs are checked before the work for what would make them
// fail after it: names that do not fit the file system once the writer adds its temporary suffix
// (NAME_MAX, PATH_MAX), and an --html page whose picture folder cannot be replaced or would hold
// another output. Each case gives a dataset that does not exist: had the command started its work,
// it would have failed on the dataset instead. Nothing may be created.
#include <doctest/doctest.h>

#include <climits>
#include <cstdio>
#include <string>
#include <vector>

#include "apps/args.h"
#include "apps/commands.h"
#include "io/file_io.h"
#include "tests/support/child_process.h"
#include "tests/support/test_files.h"
#include "tests/support/tiny_net.h"

using namespace dlbhc;
using dlbhc::test::error_of;
using dlbhc::test::has;
using dlbhc::test::TempDir;

namespace {

const char* kSolver = R"(net: "net.prototxt"
base_lr: 0.01
lr_policy: "fixed"
max_iter: 8
snapshot: 4
)";

struct Setup {
    TempDir d;
    std::string net, solver, missing;
    Setup() {
        net = d.file("net.prototxt");
        test::write_text(net, test::tiny_net_prototxt({}));
        solver = d.file("solver.prototxt");
        test::write_text(solver, kSolver);
        missing = d.file("nothing/train");
    }
    // The entries of the scratch folder: the setup's files and whatever a command left.
    std::vector<std::string> entries() const { return test::list_folder(d.path); }
};

const std::vector<std::string> kSetupFiles = {"net.prototxt", "solver.prototxt"};

}  // namespace

TEST_CASE("io: temp_name_extra_bytes is the longest suffix the writers add (widest pid and counter)") {
    // "<name>.tmp.<pid>.<n>": ".tmp." + 10 digits (INT_MAX) + "." + 10 digits (UINT_MAX).
    CHECK(temp_name_extra_bytes(false) == 5 + 10 + 1 + 10);
    // ".<name>.tmp.<pid>.<n>" and ".<name>.old.<pid>.<n>": one more for the leading dot.
    CHECK(temp_name_extra_bytes(true) == 1 + 5 + 10 + 1 + 10);
    TempDir d;
    AtomicFileWriter w(d.file("x"), "file");
    CHECK(w.temp_path().size() - d.file("x").size() <= temp_name_extra_bytes(false));
    AtomicDirWriter f(d.file("y"), "folder");
    CHECK(f.temp_path().size() - d.file("y").size() <= temp_name_extra_bytes(true));
}

TEST_CASE("output names: a name that fits only without the temporary suffix is refused before the work") {
    Setup s;
    const std::string a230(230, 'a'), a240(240, 'b');
    // train --snapshot-prefix: the last snapshot "<prefix>_iter_8.weights" (245 bytes) plus the
    // writer's ".tmp.<pid>.<n>" passes NAME_MAX (255): refused before training, not after.
    std::string e = error_of([&] {
        cmd_train({"--solver", s.solver, "--net", s.net, "--train-data", s.missing, "--test-data", "none",
                   "--snapshot-prefix", s.d.file("snap/" + a230)});
    });
    CHECK_MESSAGE(has(e, "--snapshot-prefix '"), e);
    CHECK_MESSAGE(has(e, "has 245 bytes; with the 26 bytes its temporary name <name>.tmp.<pid>.<n> adds, it must fit "
                         "in 255 bytes (NAME_MAX): choose a name of at most 229 bytes"),
                  e);
    e = error_of([&] {
        cmd_train({"--solver", s.solver, "--net", s.net, "--train-data", s.missing, "--test-data", "none", "--out",
                   s.d.file("w/" + a240)});
    });
    CHECK_MESSAGE((has(e, "--out '") && has(e, "has 240 bytes") && has(e, "NAME_MAX")), e);
    e = error_of([&] { cmd_index({"--net", s.net, "--weights", s.net, "--data", s.missing, "--out", s.d.file("i/" + a240)}); });
    CHECK_MESSAGE((has(e, "--out '") && has(e, "has 240 bytes") && has(e, "NAME_MAX")), e);
    // eval --html: the page's name fits with its temporary suffix (228 + 26), its picture folder's
    // temporary ".<stem>_files.tmp.<pid>.<n>" (1 + 229 + 26) does not.
    const std::string stem(223, 'c');
    e = error_of([&] {
        cmd_eval({"--net", s.net, "--weights", s.net, "--index", s.d.file("db.idx"), "--queries", s.missing, "--html",
                  s.d.file("h/" + stem + ".html")});
    });
    CHECK_MESSAGE((has(e, "--html's picture folder '") && has(e, "ccc_files' has 229 bytes") &&
                   has(e, ".<name>.tmp.<pid>.<n>") && has(e, "NAME_MAX")),
                  e);
    CHECK(s.entries() == kSetupFiles);  // no folder made (snap/, w/, i/, h/)
}

TEST_CASE("output names: a path that passes PATH_MAX with the temporary suffix is refused, and no folder is made") {
    Setup s;
    // About 4,088 bytes of 19 new folders of 200 bytes each and a file: the folders could all be
    // made, the temporary file not.
    std::string out = s.d.path;
    while (out.size() + 201 <= 4088 - 20) out += "/" + std::string(200, 'f');
    out += "/" + std::string(4088 - out.size() - 1, 'x');
    REQUIRE(out.size() == 4088);
    for (const char* cmd : {"index", "merge"}) {
        CAPTURE(cmd);
        const std::string e = error_of([&] {
            if (std::string(cmd) == "index") cmd_index({"--net", s.net, "--weights", s.net, "--data", s.missing, "--out", out});
            else cmd_merge({out, s.d.file("a.idx")});
        });
        CHECK_MESSAGE(has(e, "the path has 4088 bytes; with the 26 bytes the writer adds (temporary names) it must stay "
                             "below 4096 bytes (PATH_MAX)"),
                      e);
        CHECK_MESSAGE(e.size() < 400, e);  // the path is shortened in the message
    }
    CHECK(s.entries() == kSetupFiles);
    // The real program too: exit 1, and nothing made.
    const std::string log = s.d.file("run.log");
    const test::ChildExit ex = test::run_with_timeout(test::dlbhc_binary(),
                                                      {"index", "--net", s.net, "--weights", s.net, "--data", s.missing, "--out", out},
                                                      log, 30);
    CHECK((ex.exited && ex.code == 1));
    CHECK_MESSAGE(has(test::file_tail(log), "PATH_MAX"), test::file_tail(log));
    std::remove(log.c_str());  // the only entry it adds
    CHECK(s.entries() == kSetupFiles);
}

TEST_CASE("html pages: a picture folder that cannot be replaced, or another output inside it, is refused before the work") {
    Setup s;
    const std::string html = s.d.file("ev.html"), json = s.d.file("ev.json"), db = s.d.file("db.idx");
    auto eval = [&](const std::vector<std::string>& more) {
        std::vector<std::string> args = {"--net", s.net, "--weights", s.net, "--index", db, "--queries", s.missing,
                                         "--html", html};
        args.insert(args.end(), more.begin(), more.end());
        return error_of([&] { cmd_eval(args); });
    };
    // `touch ev_files`: a file where the picture folder goes.
    test::write_text(s.d.file("ev_files"), "mine");
    std::string e = eval({"--json", json});
    CHECK_MESSAGE(has(e, "--html's picture folder '" + s.d.file("ev_files") + "': expected a folder to replace, found a file"), e);
    CHECK(test::read_all(s.d.file("ev_files")) == "mine");
    // A folder holding something the page would not write.
    std::remove(s.d.file("ev_files").c_str());
    s.d.mkdir("ev_files");
    test::write_text(s.d.file("ev_files/notes.txt"), "mine");
    e = eval({"--json", json});
    CHECK_MESSAGE(has(e, "--html's picture folder '" + s.d.file("ev_files") + "': the folder exists and is replaced as a whole"), e);
    CHECK_MESSAGE(has(e, "found 'notes.txt'"), e);
    std::remove(s.d.file("ev_files/notes.txt").c_str());
    // --json or --svg inside the picture folder (existing or not yet).
    e = eval({"--json", s.d.file("ev_files/m.json")});
    CHECK_MESSAGE(has(e, "--json " + s.d.file("ev_files/m.json") + " lies inside --html's picture folder " + s.d.file("ev_files") +
                             ", which is replaced as a whole"),
                  e);
    std::remove(s.d.file("ev_files").c_str());
    e = eval({"--svg", s.d.path + "/./ev_files/../ev_files/p.svg"});
    CHECK_MESSAGE(has(e, "lies inside --html's picture folder"), e);
    CHECK(s.entries() == kSetupFiles);  // no ev.json written, nothing made
    // query --html the same.
    test::write_text(s.d.file("q_files"), "mine");
    e = error_of([&] {
        cmd_query({"--net", s.net, "--weights", s.net, "--index", db, "--item", s.missing + ":0", "--html", s.d.file("q.html")});
    });
    CHECK_MESSAGE(has(e, "--html's picture folder '" + s.d.file("q_files") + "': expected a folder to replace, found a file"), e);
    std::remove(s.d.file("q_files").c_str());
    // audit --dump: a folder holding more than .npy files is refused before the net is read.
    s.d.mkdir("dump");
    test::write_text(s.d.file("dump/keep.txt"), "mine");
    e = error_of([&] { cmd_audit({"--net", s.d.file("missing.prototxt"), "--npy", s.d.file("x.npy"), "--dump", s.d.file("dump")}); });
    CHECK_MESSAGE((has(e, "--dump '" + s.d.file("dump") + "': the folder exists and is replaced as a whole") && has(e, "keep.txt")),
                  e);
}
