// tests/apps/test_args.cpp -- the command line: an option whose value is another option, a repeated
// option, and numbers written with signs, spaces or too many digits are refused with an error
// naming the option and the text, before any work.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "apps/args.h"
#include "apps/commands.h"
#include "data/shard.h"
#include "formats/caffe_spec.h"
#include "formats/net_builder.h"
#include "formats/weights_file.h"
#include "nn/rng.h"
#include "search/index_file.h"
#include "tests/support/test_files.h"
#include "tests/support/tiny_net.h"

using namespace dlbhc;
using dlbhc::test::error_of;
using dlbhc::test::has;
using dlbhc::test::TempDir;

namespace {

Args parse(const std::vector<std::string>& argv) { return Args(argv, {"out", "k", "data"}, {"no-features", "help"}); }

}  // namespace

TEST_CASE("args: a value that is another option is refused; '--', '-1' and ./--x stay values") {
    std::string e = error_of([] { parse({"--out", "--no-features"}); });
    CHECK_MESSAGE(e == "--out expects a value, found the option --no-features", e);
    e = error_of([] { parse({"--out", "--k", "3"}); });
    CHECK_MESSAGE(e == "--out expects a value, found the option --k", e);
    e = error_of([] { parse({"--out", "--nosuch"}); });
    CHECK_MESSAGE(has(e, "--out expects a value, found '--nosuch', which looks like an option"), e);
    CHECK_MESSAGE(has(e, "./--nosuch"), e);
    CHECK(parse({"--out", "--"}).get("out", "") == "--");
    CHECK(parse({"--k", "-1"}).get_int("k", 0) == -1);
    CHECK(parse({"--out", "./--no-features"}).get("out", "") == "./--no-features");
    CHECK(parse({"--out", "-x"}).get("out", "") == "-x");
    CHECK(parse({"--out", "---"}).get("out", "") == "---");
}

TEST_CASE("args: a repeated option or flag is refused, naming it") {
    std::string e = error_of([] { parse({"--out", "a", "--out", "b"}); });
    CHECK_MESSAGE(e == "--out is given twice; give it once", e);
    e = error_of([] { parse({"--no-features", "--out", "a", "--no-features"}); });
    CHECK_MESSAGE(e == "--no-features is given twice; give it once", e);
    CHECK(parse({"--out", "a", "--k", "2"}).get("out", "") == "a");
}

TEST_CASE("args: an option declared repeatable keeps every value in order; the others are still refused twice") {
    const Args a({"--queries", "a", "--out", "o", "--queries", "b=c"}, {"queries", "out"}, {}, {"queries"});
    CHECK(a.get_all("queries") == std::vector<std::string>{"a", "b=c"});
    CHECK(a.get("queries", "") == "a");
    CHECK(a.get_all("out") == std::vector<std::string>{"o"});
    CHECK(a.get_all("k").empty());
    const std::string e = error_of([] { Args({"--out", "a", "--out", "b"}, {"queries", "out"}, {}, {"queries"}); });
    CHECK_MESSAGE(e == "--out is given twice; give it once", e);
}

TEST_CASE("args: integers take an optional '-' and digits only") {
    for (const char* bad : {" 5", "+5", "5 ", "5x", "", "-", "0x10", "99999999999"}) {
        const std::string e = error_of([&] { parse({"--k", bad}).get_int("k", 0); });
        CHECK_MESSAGE(e == "option --k expects an integer, got '" + std::string(bad) + "'", e);
    }
    CHECK(parse({"--k", "007"}).get_int("k", 0) == 7);
    CHECK(parse({"--k", "-2147483648"}).get_int("k", 0) == -2147483648);
}

TEST_CASE("parse_size: decimal digits only, within size_t") {
    size_t v = 0;
    CHECK(parse_size("0", v));
    CHECK(v == 0);
    CHECK(parse_size("18446744073709551615", v));
    CHECK(v == SIZE_MAX);
    for (const char* bad : {"", " 1", "+1", "-1", "1 ", "1.0", "18446744073709551616", "99999999999999999999999"})
        CHECK_MESSAGE(!parse_size(bad, v), bad);
}

TEST_CASE("query --item SPEC:I: digits only, no sign or spaces; an item past the end or an overflow shows the text and the range") {
    TempDir d;
    const std::string net = d.file("net.prototxt");
    test::write_text(net, test::tiny_net_prototxt({}));
    const std::string weights = d.file("w.weights");
    test::write_filler_weights(net, weights, 1);
    d.mkdir("m");
    test::write_bytes(d.file("m/t10k-images-idx3-ubyte"), test::make_idx({3, 28, 28}, std::vector<uint8_t>(3 * 784, 9)));
    test::write_bytes(d.file("m/t10k-labels-idx1-ubyte"), test::make_idx({3}, {0, 1, 2}));
    const std::string spec = d.file("m/t10k");
    auto query = [&](const std::string& item, const std::string& index) {
        return error_of([&] { cmd_query({"--net", net, "--weights", weights, "--index", index, "--item", item, "--coarse-only"}); });
    };
    // The form is checked first, before the index (missing here) is opened.
    const std::string missing = d.file("missing.idx");
    for (const std::string& bad : {spec + ": 1", spec + ":+1", spec + ":-1", spec + ":1 ", spec + ":", spec, std::string(":1"), spec + ":0x1"}) {
        const std::string e = query(bad, missing);
        CHECK_MESSAGE(e == "--item: expected SPEC:I (item I, from 0, of a dataset), e.g. "
                           "/usr/share/datasets/fashion-mnist/t10k:17, found '" + bad + "'",
                      e);
    }
    // The range, once the dataset is open: the text as given, not a wrapped number.
    std::vector<uint64_t> codes = {1, 2};
    IndexItems items;
    items.codes = CodeView{codes.data(), 2, 16, 1};
    const std::string db = d.file("db.idx");
    write_index(db, items);
    for (const std::string& big : {std::string("3"), std::string("99999999999999999999"), std::string("9223372036854775808")}) {
        const std::string e = query(spec + ":" + big, db);
        CHECK_MESSAGE(e == "--item: expected an item number from 0 to 2 (" + spec + " has 3 items), found '" + big + "'", e);
    }
}
