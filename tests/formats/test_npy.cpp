// tests/formats/test_npy.cpp -- NumPy .npy reading and writing (formats/npy.h): byte-identical to numpy's own
// files, files numpy wrote (committed fixtures, tests/fixtures/caffemodel/make_fixtures.py), and
// malformed headers, each error checked.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "formats/npy.h"
#include "tests/support/test_files.h"

using namespace dlbhc;
using dlbhc::test::has;

namespace {

// The committed fixtures numpy wrote.
std::string fixture(const std::string& name) { return test::repo_path("tests/fixtures/caffemodel/" + name); }

std::string decode_error(const std::string& bytes) {
    try {
        decode_npy(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "x.npy");
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    return "";
}


// A version 1.0 file with the given header text (padded as numpy does) and data bytes.
std::string npy_with_header(std::string header, const std::string& data) {
    while ((10 + header.size() + 1) % 64) header.push_back(' ');
    header.push_back('\n');
    std::string s("\x93NUMPY\x01\x00", 8);
    s.push_back(char(header.size() & 0xff));
    s.push_back(char(header.size() >> 8));
    return s + header + data;
}

std::string floats(std::initializer_list<float> v) {
    std::string s;
    for (float f : v) s.append(reinterpret_cast<const char*>(&f), 4);
    return s;
}

}  // namespace

TEST_CASE("npy: the writer produces numpy's exact bytes") {
    // expected/conv1.weight.npy was written by numpy.save (float32, shape (4, 1, 3, 3)).
    const std::string path = fixture("expected/conv1.weight.npy");
    NamedTensor t = read_npy(path);
    REQUIRE(t.dims == std::vector<int64_t>{4, 1, 3, 3});
    CHECK(encode_npy(t.data.data(), t.dims) == test::read_all(path));
    // And a 1-D array (numpy writes "(4,)").
    const std::string bias = fixture("expected/conv1.bias.npy");
    NamedTensor b = read_npy(bias);
    REQUIRE(b.dims == std::vector<int64_t>{4});
    CHECK(encode_npy(b.data.data(), b.dims) == test::read_all(bias));
}

TEST_CASE("npy: round trips through a file, 4-D tensor, scalar and empty") {
    char tmpl[] = "/tmp/dlbhc_test_npy_XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    const std::string dir = tmpl;
    Tensor t(Shape(2, 3, 4, 5));
    for (size_t i = 0; i < t.count(); ++i) t[i] = float(i) * 0.5f - 7.0f;
    write_npy(dir + "/t.npy", t);
    std::string dtype;
    NamedTensor r = read_npy(dir + "/t.npy", &dtype);
    CHECK(dtype == "<f4");
    CHECK(r.dims == std::vector<int64_t>{2, 3, 4, 5});
    REQUIRE(r.data.size() == t.count());
    for (size_t i = 0; i < t.count(); ++i) CHECK(r.data[i] == t[i]);
    Tensor back = to_tensor(r);
    CHECK(back.shape() == t.shape());

    const float one = 2.5f;
    write_npy(dir + "/s.npy", &one, {});
    NamedTensor s = read_npy(dir + "/s.npy");
    CHECK(s.dims.empty());
    REQUIRE(s.data.size() == 1);
    CHECK(s.data[0] == 2.5f);

    write_npy(dir + "/e.npy", nullptr, {0, 3});
    NamedTensor e = read_npy(dir + "/e.npy");
    CHECK(e.dims == std::vector<int64_t>{0, 3});
    CHECK(e.data.empty());
    std::remove((dir + "/t.npy").c_str());
    std::remove((dir + "/s.npy").c_str());
    std::remove((dir + "/e.npy").c_str());
    rmdir(dir.c_str());
}

TEST_CASE("npy: files written by numpy in other dtypes and versions") {
    std::string dtype;
    NamedTensor f8 = read_npy(fixture("npy/f8.npy"), &dtype);
    CHECK(dtype == "<f8");
    CHECK(f8.dims == std::vector<int64_t>{2, 3});
    CHECK(f8.data == std::vector<float>{0.5f, -1.5f, 2.25f, 1e-3f, 3.0f, -7.0f});
    NamedTensor i8 = read_npy(fixture("npy/i8.npy"), &dtype);
    CHECK(dtype == "<i8");
    CHECK(i8.data == std::vector<float>{0, 3, 9, -2, 7});
    NamedTensor i4 = read_npy(fixture("npy/i4.npy"), &dtype);
    CHECK(dtype == "<i4");
    CHECK(i4.dims == std::vector<int64_t>{2, 2});
    CHECK(i4.data == std::vector<float>{1, 2, 3, -4});
    NamedTensor s = read_npy(fixture("npy/scalar.npy"));
    CHECK(s.dims.empty());
    CHECK(s.data == std::vector<float>{2.5f});
    NamedTensor e = read_npy(fixture("npy/empty.npy"));
    CHECK(e.dims == std::vector<int64_t>{0, 3});
    NamedTensor v2 = read_npy(fixture("npy/v2.npy"));  // format version 2.0 (u32 header length)
    CHECK(v2.dims == std::vector<int64_t>{3, 2});
    CHECK(v2.data == std::vector<float>{0.0f, 0.25f, 0.5f, 0.75f, 1.0f, 1.25f});
}

TEST_CASE("npy: unsupported arrays numpy wrote are refused with the reason") {
    const std::string fortran = fixture("npy/fortran.npy");
    CHECK_THROWS_WITH_AS(read_npy(fortran),
                         ("npy file '" + fortran + "': fortran_order is True: only C-order arrays are supported "
                                                   "(save with np.ascontiguousarray)").c_str(),
                         std::runtime_error);
    const std::string be = fixture("npy/big_endian.npy");
    CHECK_THROWS_WITH_AS(read_npy(be),
                         ("npy file '" + be + "': unsupported dtype '>f4': big-endian (expected '<f4', '<f8', '<i4' or '<i8')").c_str(),
                         std::runtime_error);
    const std::string u1 = fixture("npy/u1.npy");
    CHECK_THROWS_WITH_AS(read_npy(u1),
                         ("npy file '" + u1 + "': unsupported dtype '|u1' (expected '<f4', '<f8', '<i4' or '<i8')").c_str(),
                         std::runtime_error);
}

TEST_CASE("npy: bad magic, version and truncation") {
    CHECK(has(decode_error("PK\x03\x04 not an npy"), "npy file 'x.npy': expected the magic \"\\x93NUMPY\""));
    CHECK(has(decode_error(std::string("\x93NUM", 4)), "found a file of only 4 bytes"));
    std::string good = npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", floats({1, 2}));
    CHECK(decode_error(good) == "");
    std::string v4 = good;
    v4[6] = 4;
    CHECK(has(decode_error(v4), "expected format version 1.0, 2.0 or 3.0, found 4.0"));
    std::string cut_header = good.substr(0, 40);
    CHECK(has(decode_error(cut_header), "truncated: the header length is 118 bytes, only 30 follow the preamble"));
    std::string cut_data = good.substr(0, good.size() - 1);
    CHECK(has(decode_error(cut_data), "shape (2,) of '<f4' needs 8 data bytes, found 7"));
    CHECK(has(decode_error(good + "x"), "shape (2,) of '<f4' needs 8 data bytes, found 9"));
}

TEST_CASE("npy: malformed headers") {
    auto err = [](const std::string& header) { return decode_error(npy_with_header(header, floats({1, 2}))); };
    CHECK(has(err("{'descr': '<f4', 'shape': (2,), }"), "header: missing key 'fortran_order'"));
    CHECK(has(err("{'descr': '<f4', 'fortran_order': False, }"), "header: missing key 'shape'"));
    CHECK(has(err("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1, }"),
                   "header: unexpected key 'extra'"));
    CHECK(has(err("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,), }"),
                   "key 'descr' appears twice"));
    CHECK(has(err("{'descr': '<f4', 'fortran_order': False, 'shape': (2), }"),
                   "a one-element shape needs a trailing comma: (n,)"));
    CHECK(has(err("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }"),
                   "expected a non-negative integer in the shape"));
    CHECK(has(err("{'descr': '<f4', 'fortran_order': false, 'shape': (2,), }"), "expected True or False"));
    CHECK(has(err("{'descr' '<f4', 'fortran_order': False, 'shape': (2,), }"), "expected ':' at character 9"));
    CHECK(has(err("{'descr': '<f4, 'fortran_order': False, 'shape': (2,), }"), "expected ',' or '}' after the value"));
    CHECK(has(err("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } junk"),
                   "unexpected text after the closing '}'"));
    CHECK(has(err("'descr': '<f4'"), "header: expected '{' at character 0"));
    CHECK(has(err("{'descr': '<f4' 'fortran_order': False, 'shape': (2,), }"),
                   "expected ',' or '}' after the value of 'descr'"));
    CHECK(has(err("{'descr': '<f4', 'fortran_order': False, 'shape': (2 3), }"), "expected ',' or ')' in the shape"));
    CHECK(has(err("{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }"), "unsupported dtype '<f2'"));
    // Double quotes, Python 2 'L' suffixes and no trailing comma are all valid Python.
    CHECK(err("{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2L,)}") == "");
}

TEST_CASE("npy: absurd shapes are refused without allocating") {
    // 2^40 elements declared, 8 bytes present.
    std::string e = decode_error(
        npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (1048576, 1048576), }", floats({1, 2})));
    CHECK(has(e, "shape (1048576, 1048576) of '<f4' needs more than 8 data bytes, found 8"));
    // Products that overflow 64 bits.
    e = decode_error(npy_with_header(
        "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }", floats({1, 2})));
    CHECK(has(e, "needs more than 8 data bytes"));
    e = decode_error(npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", ""));
    CHECK(has(e, "shape entry too large"));
}

TEST_CASE("npy: integers and doubles that float32 cannot hold are refused") {
    int64_t big[1] = {(int64_t(1) << 24) + 1};
    std::string e = decode_error(npy_with_header("{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }",
                                                 std::string(reinterpret_cast<const char*>(big), 8)));
    CHECK(has(e, "integer 16777217 at index 0 cannot be held exactly by float32"));
    double huge[2] = {1.0, 1e300};
    e = decode_error(npy_with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
                                     std::string(reinterpret_cast<const char*>(huge), 16)));
    CHECK(has(e, "at index 1 does not fit in float32"));
}

TEST_CASE("npy: tensors of more than 4 dims do not become a Tensor") {
    NamedTensor t;
    t.name = "five";
    t.dims = {1, 1, 1, 1, 2};
    t.data = {1, 2};
    CHECK_THROWS_WITH_AS(to_tensor(t), "tensor 'five': expected at most 4 dims for an (N, C, H, W) tensor, found (1, 1, 1, 1, 2)",
                         std::invalid_argument);
}
