// tests/test_include_rules.cpp -- the folder layering of ARCHITECTURE.md, enforced on every `make test`.
//
// Each product folder may include headers only from the folders below it:
//
//   apps/     -> data, search, hash, formats, nn, io
//   data/     -> formats, nn, io          (source.h reads a data layer's settings)
//   search/   -> hash, io                 (codes and Hamming kernels)
//   hash/     -> nn, io                   (the encoder runs a net)
//   formats/  -> nn, io                   (Caffe / ONNX / dlbhc files -> nets and tensors)
//   nn/       -> io                       (the CNN alone)
//   io/       -> nothing                  (atomic writer, mmap, read_file, checksums, byte order)
//
// A new include that breaks this (a cycle, or the CNN reaching up into a file format) fails the
// test with the file, line and edge. Includes are written from the repository root ("nn/net.h");
// a relative one ("../x.h") or a bare one naming a project header would hide an edge, so those
// fail too.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <unistd.h>

namespace fs = std::filesystem;

namespace {

const std::map<std::string, std::set<std::string>>& allowed_edges() {
    static const std::map<std::string, std::set<std::string>> rules = {
        {"io", {}},
        {"nn", {"io"}},
        {"formats", {"nn", "io"}},
        {"hash", {"nn", "io"}},
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

fs::path repo_root() {
    const std::string f = __FILE__;  // "tests/test_include_rules.cpp" or an absolute path to it
    const size_t s = f.rfind("tests/");
    return s == std::string::npos || s == 0 ? fs::path(".") : fs::path(f.substr(0, s));
}

void write(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
}

}  // namespace

TEST_CASE("layers: the product folders include only what ARCHITECTURE.md allows") {
    size_t files = 0;
    const std::vector<std::string> bad = layering_violations(repo_root(), &files);
    for (const auto& b : bad) MESSAGE(b);
    CHECK(bad.empty());
    // Scanning nothing (the test run from the wrong folder) must not pass as "no violations".
    CHECK(files > 100);
}

TEST_CASE("layers: the check reports forbidden, relative and bare includes") {
    const fs::path root = fs::temp_directory_path() / ("dlbhc_layers_" + std::to_string(::getpid()));
    fs::remove_all(root);
    write(root / "io/ok.cpp", "#include \"io/file_io.h\"\n#include <vector>\n");
    write(root / "nn/up.cpp", "#include \"nn/net.h\"\n// comment\n  #  include \"formats/weights_file.h\"\n");
    write(root / "search/rel.h", "#include \"../hash/code.h\"\n");
    write(root / "hash/bare.cpp", "#include \"code.h\"\n");
    write(root / "apps/all.cpp", "#include \"data/source.h\"\n#include \"search/eval.h\"\n");
    write(root / "io/down.h", "#include \"apps/args.h\"\n");

    size_t files = 0;
    const std::vector<std::string> bad = layering_violations(root, &files);
    fs::remove_all(root);
    CHECK(files == 6);
    REQUIRE(bad.size() == 4);
    const std::string all = bad[0] + "\n" + bad[1] + "\n" + bad[2] + "\n" + bad[3];
    CHECK(all.find("nn/up.cpp:3: nn -> formats (\"formats/weights_file.h\")") != std::string::npos);
    CHECK(all.find("io/down.h:1: io -> apps") != std::string::npos);
    CHECK(all.find("search/rel.h:1: include \"../hash/code.h\" is not written from the repository root") !=
          std::string::npos);
    CHECK(all.find("hash/bare.cpp:1: include \"code.h\"") != std::string::npos);
}
