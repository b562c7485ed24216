// tests/fuzz/test_corpus.cpp -- the fuzz targets (tests/fuzz/targets.h) run over the committed seed
// corpus and the regression inputs (tests/fuzz/regress/<target>/, one file per bug the fuzzer
// found), so that `make test` -- and its ASan/UBSan run -- replays every input that ever crashed
// a reader. The fuzzers themselves run with `make fuzz`.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "io/read_file.h"
#include "tests/fuzz/targets.h"

namespace fs = std::filesystem;
using namespace dlbhc::fuzz;

namespace {

std::vector<std::string> files_in(const fs::path& dir) {
    std::vector<std::string> out;
    if (!fs::is_directory(dir)) return out;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.is_regular_file()) out.push_back(e.path().string());
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace

TEST_CASE("fuzz corpus: every target has a seed corpus and every corpus folder a target") {
    std::set<std::string> names;
    for (const auto& t : targets()) {
        CAPTURE(t.name);
        names.insert(t.name);
        CHECK(find_target(t.name) == &t);
        CHECK(files_in(fs::path("tests/fuzz/corpus") / t.name).size() >= 2);
    }
    CHECK(names.size() == targets().size());
    for (const auto& e : fs::directory_iterator("tests/fuzz/corpus")) {
        CAPTURE(e.path().string());
        CHECK(names.count(e.path().filename().string()) == 1);
    }
    if (fs::is_directory("tests/fuzz/regress"))
        for (const auto& e : fs::directory_iterator("tests/fuzz/regress")) {
            CAPTURE(e.path().string());
            CHECK(names.count(e.path().filename().string()) == 1);
        }
    CHECK(find_target("no-such-target") == nullptr);
}

TEST_CASE("fuzz corpus: the seeds and every regression input go through their reader cleanly") {
    size_t inputs = 0;
    for (const auto& t : targets()) {
        for (const char* kind : {"corpus", "regress"}) {
            for (const auto& file : files_in(fs::path("tests/fuzz") / kind / t.name)) {
                CAPTURE(file);
                const std::vector<uint8_t> bytes = dlbhc::read_file_bytes(file, "fuzz input");
                // A contract violation aborts the test binary, naming the reason on stderr.
                t.fn(bytes.data(), bytes.size());
                ++inputs;
            }
        }
    }
    MESSAGE(inputs << " fuzz inputs replayed");
    CHECK(inputs >= 2 * targets().size());
}
