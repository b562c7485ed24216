// tests/apps/test_names.cpp -- item names (image paths) holding newlines, tabs, backslashes or other
// control bytes keep encode's "name<TAB>label<TAB>code" lines and query's table one line per item
// (escaped as \n, \t, \\, \xHH) and query's JSON valid (JSON escapes).
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "apps/commands.h"
#include "apps/report.h"
#include "data/image_io.h"
#include "formats/caffe_spec.h"
#include "formats/net_builder.h"
#include "formats/weights_file.h"
#include "nn/rng.h"
#include "tests/support/commands.h"
#include "tests/support/test_files.h"
#include "tests/support/tiny_net.h"

using namespace dlbhc;
using dlbhc::test::has;
using dlbhc::test::read_all;
using dlbhc::test::TempDir;

namespace {

// What fn prints on stdout (stderr goes to /dev/null). fn must not fail a check (doctest reports
// on stdout): it returns the command's result for the caller to check.
template <class F>
std::string stdout_of(const std::string& file, F&& fn) {
    return test::stdout_of(file, fn, "/dev/null");
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> v;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) v.push_back(l);
    return v;
}

size_t count(const std::string& s, char c) { return size_t(std::count(s.begin(), s.end(), c)); }

}  // namespace

TEST_CASE("line_field_escape: backslash, tab, newline, carriage return and control bytes; the rest as is") {
    CHECK(line_field_escape("a\nb\tc\rd\\e") == "a\\nb\\tc\\rd\\\\e");
    CHECK(line_field_escape(std::string("x\x1b[31my\x7f\x01", 9)) == "x\\x1b[31my\\x7f\\x01");
    CHECK(line_field_escape("caf\xc3\xa9 b.png") == "caf\xc3\xa9 b.png");  // UTF-8 and spaces kept
}

TEST_CASE("encode lines and query's table and JSON stay one line per item when names hold newlines and tabs") {
    TempDir d;
    const std::string net = d.file("net.prototxt");
    test::write_text(net, test::tiny_net_prototxt({}));
    const std::string weights = d.file("w.weights");
    test::write_filler_weights(net, weights, 1, 3);  // a folder's PNGs are read in colour
    // An image folder (one class) whose file names hold a newline and a tab, and a backslash.
    const std::string root = d.mkdir("imgs"), cls = d.mkdir("imgs/c");
    const std::vector<std::string> files = {"a\nb\tc.png", "back\\slash.png", "plain.png"};
    Image img(1, 28, 28);
    for (size_t f = 0; f < files.size(); ++f) {
        for (size_t i = 0; i < img.count(); ++i) img.pixels[i] = uint8_t(i * (f + 3));
        save_png(cls + "/" + files[f], img);
    }

    // encode: three lines of three tab-separated fields, the names escaped.
    const std::string codes = d.file("codes.txt");
    int rc = -1;
    const std::string error = test::error_of([&] {
        stdout_of(d.file("o1.txt"), [&] { rc = cmd_encode({"--net", net, "--weights", weights, "--data", root, "--out", codes}); });
    });
    REQUIRE_MESSAGE(rc == 0, error);
    const std::vector<std::string> lines = lines_of(read_all(codes));
    REQUIRE(lines.size() == 3);
    for (const auto& l : lines) CHECK_MESSAGE(count(l, '\t') == 2, l);
    CHECK(lines[0].rfind(cls + "/a\\nb\\tc.png\t0\t", 0) == 0);
    CHECK(lines[1].rfind(cls + "/back\\\\slash.png\t0\t", 0) == 0);
    CHECK(lines[2].rfind(cls + "/plain.png\t0\t", 0) == 0);

    // query over an index of them: the table holds one line per result, the JSON one per result.
    const std::string db = d.file("db.idx");
    stdout_of(d.file("o2.txt"), [&] { rc = cmd_index({"--net", net, "--weights", weights, "--data", root, "--out", db}); });
    REQUIRE(rc == 0);
    const std::string query = cls + "/" + files[0];
    const std::vector<std::string> args = {"--net", net, "--weights", weights, "--index", db, "--image", query, "--k", "3"};
    std::vector<std::string> table = lines_of(stdout_of(d.file("o3.txt"), [&] { rc = cmd_query(args); }));
    REQUIRE(rc == 0);
    REQUIRE(table.size() == 2 + 3);  // the query line, the column heads, 3 results
    CHECK(has(table[0], "query " + cls + "/a\\nb\\tc.png (label -1)"));
    size_t escaped = 0;
    for (size_t i = 2; i < table.size(); ++i) escaped += has(table[i], "/a\\nb\\tc.png") + has(table[i], "/back\\\\slash.png");
    CHECK(escaped == 2);
    std::vector<std::string> args_json = args;
    args_json.push_back("--json");
    const std::string json = stdout_of(d.file("o4.txt"), [&] { rc = cmd_query(args_json); });
    REQUIRE(rc == 0);
    CHECK(lines_of(json).size() == 1 + 3 + 1);  // the head, 3 results, the end
    CHECK(has(json, "/a\\u000ab\\u0009c.png"));
    CHECK(has(json, "/back\\\\slash.png"));
}
