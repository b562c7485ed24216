// tests/test_include_rules.cpp -- the include rules, enforced on every `make test`: the folder layering
// of ARCHITECTURE.md, and the tests' folders mirroring it.
//
// Each product folder may include headers only from the folders below it:
//
//   apps/     -> data, search, hash, formats, nn, io
//   data/     -> formats, nn, io          (source.h reads a data layer's settings)
//   search/   -> hash, io                 (codes and Hamming kernels)
//   hash/     -> nothing                  (bits and Hamming kernels: no net, no file)
//   formats/  -> nn, io                   (Caffe / ONNX / dlbhc files -> nets and tensors)
//   nn/       -> io                       (the CNN alone)
//   io/       -> nothing                  (atomic writer, mmap, read_file, checksums, byte order)
//
// A new include that breaks this (a cycle, or the CNN reaching up into a file format) fails the
// test with the file, line and edge. Includes are written from the repository root ("nn/net.h");
// a relative one ("../x.h") or a bare one naming a project header would hide an edge, so those
// fail too.
//
// The tests mirror the product: tests/<folder>/ holds the tests of <folder>/ (tests/apps/ runs the
// commands end to end) and the helpers only they use, tests/support/ the helpers the test folders
// share, and no test_*.cpp lies loose in tests/ but this one. A test file may include any product
// header, tests/support/ and its own folder; tests/support/ only the product and itself. So a
// helper that a second folder's tests need moves to tests/support/ instead of being copied, and
// the product never includes a test header (tests is no product folder's allowed edge).
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <unistd.h>

#include "tests/support/test_files.h"

namespace fs = std::filesystem;
namespace test = dlbhc::test;

namespace {

const std::map<std::string, std::set<std::string>>& allowed_edges() {
    static const std::map<std::string, std::set<std::string>> rules = {
        {"io", {}},
        {"nn", {"io"}},
        {"formats", {"nn", "io"}},
        {"hash", {}},
        {"search", {"hash", "io"}},
        {"data", {"formats", "nn", "io"}},
        {"apps", {"data", "search", "hash", "formats", "nn", "io"}},
    };
    return rules;
}

// The quoted target of an `#include "..."` line, or "" for any other line (<...> includes are
// system and third-party headers: stb, doctest, the standard library).
std::string quoted_include(const std::string& line) {
    size_t i = line.find_first_not_of(" \t");
    if (i == std::string::npos || line[i] != '#') return "";
    i = line.find_first_not_of(" \t", i + 1);
    if (i == std::string::npos || line.compare(i, 7, "include") != 0) return "";
    const size_t open = line.find('"', i + 7);
    if (open == std::string::npos) return "";
    const size_t close = line.find('"', open + 1);
    return close == std::string::npos ? "" : line.substr(open + 1, close - open - 1);
}

// Every include under `root` that the rules forbid, as "<file>:<line>: <folder> -> <target>".
std::vector<std::string> layering_violations(const fs::path& root, size_t* files_scanned = nullptr) {
    std::vector<std::string> bad;
    size_t files = 0;
    for (const auto& [folder, may_use] : allowed_edges()) {
        const fs::path dir = root / folder;
        if (!fs::is_directory(dir)) continue;
        for (const auto& e : fs::directory_iterator(dir)) {
            const std::string ext = e.path().extension().string();
            if (!e.is_regular_file() || (ext != ".h" && ext != ".cpp")) continue;
            ++files;
            std::ifstream in(e.path());
            std::string line;
            for (int n = 1; std::getline(in, line); ++n) {
                const std::string target = quoted_include(line);
                if (target.empty()) continue;
                const std::string where = folder + "/" + e.path().filename().string() + ":" + std::to_string(n) + ": ";
                const size_t slash = target.find('/');
                if (target.find("..") != std::string::npos || slash == std::string::npos) {
                    bad.push_back(where + "include \"" + target + "\" is not written from the repository root");
                    continue;
                }
                const std::string to = target.substr(0, slash);
                if (to != folder && !may_use.count(to))
                    bad.push_back(where + folder + " -> " + to + " (\"" + target + "\") is not an allowed edge");
            }
        }
    }
    if (files_scanned) *files_scanned = files;
    return bad;
}

// Why a file of the test folder `folder` ("tests", "tests/nn", "tests/support", ...) may not
// include `target`, or "" when it may.
std::string test_include_error(const std::string& folder, const std::string& target) {
    const size_t slash = target.find('/');
    if (target.find("..") != std::string::npos || slash == std::string::npos)
        return "include \"" + target + "\" is not written from the repository root";
    const std::string to = target.substr(0, slash);
    if (allowed_edges().count(to)) return "";  // any product header
    const size_t slash2 = target.find('/', slash + 1);
    const std::string sub = to == "tests" && slash2 != std::string::npos ? target.substr(0, slash2) : to;
    if (sub == "tests/support" || sub == folder) return "";
    return folder + " -> " + sub + " (\"" + target + "\"): " +
           (sub.rfind("tests/", 0) == 0 ? "a helper of another test folder; shared helpers belong in tests/support/"
                                        : "not a product folder or tests/support/");
}

// Every include of tests/ and its folders that the rules above forbid, and every test_*.cpp
// loose in tests/ (but this file), as "<file>:<line>: <why>".
std::vector<std::string> test_violations(const fs::path& root, size_t* files_scanned) {
    std::vector<std::string> bad;
    if (!fs::is_directory(root / "tests")) return bad;
    std::vector<std::string> folders = {"tests"};
    for (const auto& e : fs::directory_iterator(root / "tests"))
        if (e.is_directory()) folders.push_back("tests/" + e.path().filename().string());
    for (const std::string& folder : folders)
        for (const auto& e : fs::directory_iterator(root / folder)) {
            const std::string ext = e.path().extension().string(), name = e.path().filename().string();
            if (!e.is_regular_file() || (ext != ".h" && ext != ".cpp")) continue;
            ++*files_scanned;
            if (folder == "tests" && name.rfind("test_", 0) == 0 && name != "test_include_rules.cpp")
                bad.push_back(folder + "/" + name + ": a test belongs in tests/<folder>/ of the product folder it tests");
            std::ifstream in(e.path());
            std::string line;
            for (int n = 1; std::getline(in, line); ++n) {
                const std::string target = quoted_include(line);
                const std::string why = target.empty() ? "" : test_include_error(folder, target);
                if (!why.empty()) bad.push_back(folder + "/" + name + ":" + std::to_string(n) + ": " + why);
            }
        }
    return bad;
}

// The product's violations, then the tests'.
std::vector<std::string> include_violations(const fs::path& root, size_t* files_scanned) {
    size_t product = 0, tests = 0;
    std::vector<std::string> bad = layering_violations(root, &product);
    for (const auto& b : test_violations(root, &tests)) bad.push_back(b);
    *files_scanned = product + tests;
    return bad;
}

void write(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
}

}  // namespace

TEST_CASE("include rules: the product folders include only what ARCHITECTURE.md allows; the tests mirror them") {
    size_t files = 0;
    const std::vector<std::string> bad = include_violations(test::repo_path("."), &files);
    for (const auto& b : bad) MESSAGE(b);
    CHECK(bad.empty());
    // Scanning nothing (the test run from the wrong folder) must not pass as "no violations".
    CHECK(files > 150);
    // Each product folder has its tests' folder.
    for (const auto& rule : allowed_edges())
        CHECK_MESSAGE(fs::is_directory(test::repo_path("tests/" + rule.first)), "no folder tests/", rule.first);
}

TEST_CASE("include rules: the check reports forbidden, relative and bare includes, and tests out of place") {
    const fs::path root = fs::temp_directory_path() / ("dlbhc_layers_" + std::to_string(::getpid()));
    fs::remove_all(root);
    write(root / "io/ok.cpp", "#include \"io/file_io.h\"\n#include <vector>\n");
    write(root / "nn/up.cpp", "#include \"nn/net.h\"\n// comment\n  #  include \"formats/weights_file.h\"\n");
    write(root / "search/rel.h", "#include \"../hash/code.h\"\n");
    write(root / "hash/bare.cpp", "#include \"code.h\"\n");
    write(root / "hash/net.cpp", "#include \"hash/code.h\"\n#include \"nn/net.h\"\n");  // hash/ knows no net: the encoder is in apps/
    write(root / "apps/all.cpp", "#include \"data/source.h\"\n#include \"search/eval.h\"\n");
    write(root / "io/down.h", "#include \"apps/args.h\"\n");
    write(root / "data/uses_test.cpp", "#include \"tests/support/test_files.h\"\n");
    // The tests: allowed, then one of each kind of violation.
    write(root / "tests/main.cpp", "#include <doctest/doctest.h>\n");
    write(root / "tests/nn/test_ok.cpp",
          "#include \"apps/commands.h\"\n#include \"tests/support/tensors.h\"\n#include \"tests/nn/gradcheck.h\"\n");
    write(root / "tests/support/helper.h", "#include \"io/file_io.h\"\n#include \"tests/support/test_files.h\"\n");
    write(root / "tests/formats/test_cross.cpp", "#include \"formats/npy.h\"\n#include \"tests/nn/gradcheck.h\"\n");
    write(root / "tests/support/up.h", "#include \"tests/apps/fixture.h\"\n");
    write(root / "tests/data/test_rel.cpp", "#include \"../support/test_files.h\"\n");
    write(root / "tests/apps/test_bare.cpp", "#include \"test_files.h\"\n");
    write(root / "tests/io/test_bench.cpp", "#include \"bench/bench_util.h\"\n");
    write(root / "tests/test_stray.cpp", "#include \"nn/net.h\"\n");

    size_t files = 0;
    const std::vector<std::string> bad = include_violations(root, &files);
    fs::remove_all(root);
    CHECK(files == 17);
    std::string all;
    for (const auto& b : bad) all += b + "\n";
    INFO(all);
    REQUIRE(bad.size() == 12);
    CHECK(test::has(all, "nn/up.cpp:3: nn -> formats (\"formats/weights_file.h\")"));
    CHECK(test::has(all, "io/down.h:1: io -> apps"));
    CHECK(test::has(all, "search/rel.h:1: include \"../hash/code.h\" is not written from the repository root"));
    CHECK(test::has(all, "hash/bare.cpp:1: include \"code.h\""));
    CHECK(test::has(all, "hash/net.cpp:2: hash -> nn (\"nn/net.h\") is not an allowed edge"));
    CHECK(test::has(all, "data/uses_test.cpp:1: data -> tests (\"tests/support/test_files.h\") is not an allowed edge"));
    CHECK(test::has(all, "tests/formats/test_cross.cpp:2: tests/formats -> tests/nn (\"tests/nn/gradcheck.h\"): a helper "
                         "of another test folder; shared helpers belong in tests/support/"));
    CHECK(test::has(all, "tests/support/up.h:1: tests/support -> tests/apps"));
    CHECK(test::has(all, "tests/data/test_rel.cpp:1: include \"../support/test_files.h\" is not written from the repository root"));
    CHECK(test::has(all, "tests/apps/test_bare.cpp:1: include \"test_files.h\""));
    CHECK(test::has(all, "tests/io/test_bench.cpp:1: tests/io -> bench (\"bench/bench_util.h\"): not a product folder"));
    CHECK(test::has(all, "tests/test_stray.cpp: a test belongs in tests/<folder>/ of the product folder it tests"));
}
