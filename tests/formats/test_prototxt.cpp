// tests/formats/test_prototxt.cpp -- the protobuf text-format reader (nn/prototxt): tokens and their
// values, nesting, locations, typed getters and their errors, malformed input and the limits.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>

#include "formats/prototxt.h"

using namespace dlbhc;

namespace {

std::string tmp_file(const std::string& name, const std::string& text) {
    std::string path = "/tmp/dlbhc_test_prototxt_" + name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
}

}  // namespace

TEST_CASE("prototxt: scalars, strings, nesting and locations") {
    const std::string text =
        "# a comment line\n"
        "name: \"net\"  # trailing comment\n"
        "count: 42 neg: -7 hex: 0x1F oct: 017\n"
        "f1: 1e-4 f2: .5 f3: 5. f4: 1.5f f5: -2.5E+3 f6: -inf f7: nan\n"
        "esc: \"a\\tb\\n\\\"q\\\"\\\\ \\x41\\101\" 'single' cat: \"ab\" \"cd\"\n"
        "flag: true enumv: MAX\n"
        "layer {\n"
        "  name: 'conv1'\n"
        "  param: { lr_mult: 1 } param < lr_mult: 2 >\n"
        "  shape: { dim: 1, dim: 3; }\n"
        "}\n"
        "list: [1, 2, 3] empty: [] msgs: [{ x: 1 }, { x: 2 }]\n";
    PtxMessage m = parse_prototxt(text, "t.prototxt");
    CHECK(m.get_string("name", "") == "net");
    CHECK(m.get_int("count", 0) == 42);
    CHECK(m.get_int("neg", 0) == -7);
    CHECK(m.get_int("hex", 0) == 31);
    CHECK(m.get_int("oct", 0) == 15);
    CHECK(m.get_float("f1", 0) == doctest::Approx(1e-4));
    CHECK(m.get_float("f2", 0) == 0.5f);
    CHECK(m.get_float("f3", 0) == 5.0f);
    CHECK(m.get_float("f4", 0) == 1.5f);
    CHECK(m.get_float("f5", 0) == -2500.0f);
    CHECK(std::isinf(m.get_float("f6", 0)));
    CHECK(m.get_float("f6", 0) < 0);
    CHECK(std::isnan(m.get_double("f7", 0)));
    CHECK(m.get_float("count", 0) == 42.0f);  // an integer is a valid float
    CHECK(m.get_string("esc", "") == "a\tb\n\"q\"\\ AAsingle");  // with the adjacent 'single'
    CHECK(m.get_strings("esc").size() == 1);
    CHECK(m.get_string("cat", "") == "abcd");  // adjacent strings concatenate
    CHECK(m.get_bool("flag", false));
    CHECK(m.get_enum("enumv", "") == "MAX");
    CHECK(m.get_int("absent", 9) == 9);
    CHECK(m.get_string("absent", "dflt") == "dflt");
    CHECK(m.get_message("absent") == nullptr);

    const PtxMessage* layer = m.get_message("layer");
    REQUIRE(layer != nullptr);
    CHECK(layer->path == "layer");
    CHECK(layer->get_string("name", "") == "conv1");
    std::vector<const PtxMessage*> params = layer->get_messages("param");
    REQUIRE(params.size() == 2);
    CHECK(params[0]->get_float("lr_mult", 0) == 1.0f);
    CHECK(params[1]->get_float("lr_mult", 0) == 2.0f);  // the <...> form
    CHECK(params[0]->path == "layer.param");
    CHECK(layer->get_message("shape")->get_ints("dim") == std::vector<int>{1, 3});
    CHECK(m.get_ints("list") == std::vector<int>{1, 2, 3});
    CHECK(m.count("empty") == 0);
    REQUIRE(m.get_messages("msgs").size() == 2);
    CHECK(m.get_messages("msgs")[1]->get_int("x", 0) == 2);

    // Locations: 1-based line and column of the field name.
    const PtxField* f = m.find("count");
    CHECK(f->loc.str() == "t.prototxt:3:1");
    CHECK(m.find("neg")->loc.str() == "t.prototxt:3:11");
    CHECK(m.find("layer")->loc.line == 7);
    CHECK(layer->find("name")->loc.str() == "t.prototxt:8:3");
    CHECK(layer->loc.str() == "t.prototxt:7:7");  // the '{'
    // Fields keep file order.
    CHECK(m.fields[0].name == "name");
    CHECK(m.fields[1].name == "count");
}

TEST_CASE("prototxt: typed getters report type errors with file:line:col") {
    PtxMessage m = parse_prototxt(
        "s: \"abc\"\n"
        "i: 1.5\n"
        "big: 3000000000\n"
        "huge: 99999999999999999999\n"
        "fbig: 1e300\n"
        "b: maybe\n"
        "msg { x: 1 }\n"
        "rep: 1 rep: 2\n"
        "e: \"MAX\"\n",
        "types.prototxt");
    CHECK_THROWS_WITH_AS(m.get_int("s", 0), doctest::Contains("types.prototxt:1:1: field 's' expects an integer but holds string \"abc\""),
                         std::runtime_error);
    CHECK_THROWS_WITH_AS(m.get_int("i", 0), doctest::Contains("types.prototxt:2:1: field 'i' expects an integer but holds number 1.5"),
                         std::runtime_error);
    CHECK(m.get_int64("big", 0) == 3000000000LL);
    CHECK_THROWS_WITH_AS(m.get_int("big", 0), doctest::Contains("types.prototxt:3:1: field 'big' expects a 32-bit integer"),
                         std::runtime_error);
    CHECK_THROWS_WITH_AS(m.get_int64("huge", 0), doctest::Contains("types.prototxt:4:1: field 'huge' expects a 64-bit integer"),
                         std::runtime_error);
    CHECK(m.get_double("fbig", 0) == 1e300);
    CHECK_THROWS_WITH_AS(m.get_float("fbig", 0), doctest::Contains("types.prototxt:5:1: field 'fbig' holds 1e300, which is out of the range of a float"),
                         std::runtime_error);
    CHECK_THROWS_WITH_AS(m.get_bool("b", false), doctest::Contains("types.prototxt:6:1: field 'b' expects true or false but holds identifier maybe"),
                         std::runtime_error);
    CHECK_THROWS_WITH_AS(m.get_string("msg", ""), doctest::Contains("types.prototxt:7:1: field 'msg' expects a quoted string but holds a message"),
                         std::runtime_error);
    CHECK_THROWS_WITH_AS(m.get_message("s"), doctest::Contains("types.prototxt:1:1: field 's' expects a message { ... } but holds string"),
                         std::runtime_error);
    CHECK_THROWS_WITH_AS(m.get_int("rep", 0), doctest::Contains("types.prototxt:8:8: field 'rep' is given again (first at 8:1)"),
                         std::runtime_error);
    CHECK(m.get_ints("rep") == std::vector<int>{1, 2});
    CHECK_THROWS_WITH_AS(m.get_enum("e", ""), doctest::Contains("types.prototxt:9:1: field 'e' expects an enum value"),
                         std::runtime_error);
    CHECK_THROWS_WITH_AS(m.check_fields({"s", "i"}, "the test message"),
                         doctest::Contains("types.prototxt:3:1: unknown field 'big' in the test message (known: s, i)"),
                         std::runtime_error);
    CHECK_NOTHROW(m.check_fields({"s", "i", "big", "huge", "fbig", "b", "msg", "rep", "e"}, "x"));
    CHECK_THROWS_WITH_AS(m.check_singular({"s", "rep"}), doctest::Contains("field 'rep' is given again"), std::runtime_error);
    // Enum given as a number (protobuf allows it).
    CHECK(parse_prototxt("pool: 1", "n").get_enum("pool", "") == "1");
}

TEST_CASE("prototxt: malformed text gives file:line:col and the offending token") {
    struct Case {
        const char* text;
        const char* expected;
    };
    const Case cases[] = {
        {"layer {\n  name: \"a\"\n", "bad.prototxt:3:1: expected '}' (to close the message opened at 1:7) but found end of file"},
        {"name: \"abc\n", "bad.prototxt:1:7: unterminated string (no closing \" before the end of the line)"},
        {"name: 'abc", "bad.prototxt:1:7: unterminated string (no closing ' before the end of the file)"},
        {"n: 12x", "bad.prototxt:1:4: bad number '12x'"},
        {"n: 1.2.3", "bad.prototxt:1:4: bad number '1.2.3'"},
        {"n: 1e", "bad.prototxt:1:4: bad number '1e'"},
        {"n: 0x", "bad.prototxt:1:4: bad number '0x'"},
        {"n: -foo", "bad.prototxt:1:4: bad number '-foo'"},
        {"n: - 1", "bad.prototxt:1:4: unexpected character '-' (a number must follow)"},
        {"a: 1\n  @b: 2", "bad.prototxt:2:3: unexpected character '@'"},
        {"a: }", "bad.prototxt:1:4: expected a value for field 'a' but found '}'"},
        {"a 5", "bad.prototxt:1:3: expected ':' or '{' after field name 'a' but found number '5'"},
        {"a { b: 1 ]", "bad.prototxt:1:10: expected a field name or '}' but found ']'"},
        {"}", "bad.prototxt:1:1: expected a field name but found '}'"},
        {"5: 1", "bad.prototxt:1:1: expected a field name but found number '5'"},
        {"[ext.field]: 1", "bad.prototxt:1:1: extension fields ('[...]') are not supported"},
        {"a: [1, 2", "bad.prototxt:1:9: expected ',' or ']' in the list of 'a' but found end of file"},
        {"s: \"\\q\"", "bad.prototxt:1:5: unknown escape '\\q' in string"},
        {"s: \"\\x\"", "bad.prototxt:1:5: bad escape '\\x'"},
        {"a < b: 1 }", "bad.prototxt:1:10: expected a field name or '>' but found '}'"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.expected);
        CHECK_THROWS_WITH_AS(parse_prototxt(c.text, "bad.prototxt"), doctest::Contains(c.expected), std::runtime_error);
    }
    // "09" is not an octal integer (it reads as a float token, which an integer field rejects).
    CHECK_THROWS_WITH_AS(parse_prototxt("n: 09", "bad.prototxt").get_int("n", 0),
                         doctest::Contains("bad.prototxt:1:1: field 'n' expects an integer but holds number 09"), std::runtime_error);
    // The embedded NUL needs the explicit length (the table above stops at it).
    CHECK_THROWS_WITH_AS(parse_prototxt(std::string("a: 1 \0", 6), "bad.prototxt"),
                         doctest::Contains("bad.prototxt:1:6: unexpected character byte 0x00"), std::runtime_error);
}

TEST_CASE("prototxt: limits on nesting depth and size") {
    // 100 levels are fine, 101 are not; the error points at the brace that goes too deep.
    auto nested = [](int n) {
        std::string s;
        for (int i = 0; i < n; ++i) s += "a { ";
        for (int i = 0; i < n; ++i) s += "} ";
        return s;
    };
    CHECK_NOTHROW(parse_prototxt(nested(100), "deep"));
    CHECK_THROWS_WITH_AS(parse_prototxt(nested(101), "deep"),
                         doctest::Contains("deep:1:403: messages nested deeper than 100 levels (field 'a')"), std::runtime_error);
    // A depth bomb far beyond the stack's reach fails at once instead of overflowing it.
    std::string bomb(2000000, '{');
    for (size_t i = 0; i < bomb.size(); i += 2) bomb[i] = 'a';
    CHECK_THROWS_WITH_AS(parse_prototxt(bomb, "bomb"), doctest::Contains("nested deeper than 100"), std::runtime_error);
    // Limits are configurable.
    PrototxtLimits small;
    small.max_depth = 2;
    small.max_bytes = 64;
    CHECK_NOTHROW(parse_prototxt("a { b { } }", "x", small));
    CHECK_THROWS_WITH_AS(parse_prototxt("a { b { c { } } }", "x", small), doctest::Contains("nested deeper than 2 levels"),
                         std::runtime_error);
    CHECK_THROWS_WITH_AS(parse_prototxt(std::string(65, ' '), "x", small),
                         doctest::Contains("x: text is 65 bytes, larger than the limit of 64 bytes"), std::runtime_error);
    // The file size is checked before the file is read.
    const std::string path = tmp_file("big.prototxt", std::string(100, '#'));
    const std::string expected = path + ": file is 100 bytes, larger than the limit of 64 bytes";
    CHECK_THROWS_WITH_AS(load_prototxt(path, small), doctest::Contains(expected.c_str()), std::runtime_error);
    std::remove(path.c_str());
}

TEST_CASE("prototxt: files") {
    const std::string path = tmp_file("ok.prototxt", "a: 1\nb {\n  c: \"x\"\n}\n");
    PtxMessage m = load_prototxt(path);
    CHECK(m.get_int("a", 0) == 1);
    CHECK(m.get_message("b")->find("c")->loc.str() == path + ":3:3");
    std::remove(path.c_str());
    CHECK_THROWS_WITH_AS(load_prototxt("/nonexistent/dir/x.prototxt"),
                         doctest::Contains("/nonexistent/dir/x.prototxt: cannot open"), std::runtime_error);
    // An empty file is an empty message.
    const std::string empty = tmp_file("empty.prototxt", "");
    CHECK(load_prototxt(empty).fields.empty());
    std::remove(empty.c_str());
}
