// tests/formats/test_protowire.cpp -- the protobuf wire-format reader (formats/protowire.h): every wire type,
// varints up to 10 bytes, packed and unpacked repeated scalars, and each malformed-input error
// with its message and byte offset.
#include <doctest/doctest.h>

#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "formats/protowire.h"
#include "tests/support/test_files.h"

using namespace dlbhc;
using dlbhc::test::has;
using namespace dlbhc::pb;

namespace {

const uint8_t* bytes(const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); }

// Reads every field of `msg` (name "f.pb") and returns the error message; "" if none.
std::string read_all_error(const std::string& msg, size_t base = 0) {
    try {
        Reader r(bytes(msg), msg.size(), "f.pb", base);
        Field f;
        while (r.next(f)) {
        }
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    return "";
}


std::string raw(std::initializer_list<int> v) {
    std::string s;
    for (int b : v) s.push_back(char(b));
    return s;
}

}  // namespace

TEST_CASE("protowire: varints of 1, 2 and 10 bytes and negative int64") {
    // field 1 = 1 (one byte), field 2 = 300 (0xac 0x02), field 3 = 2^64-1 (ten bytes), field 4 = -1
    std::string m = raw({0x08, 0x01, 0x10, 0xac, 0x02});
    put_key(m, 3, kVarint);
    put_varint(m, ~uint64_t(0));
    put_key(m, 4, kVarint);
    put_varint(m, uint64_t(int64_t(-1)));
    CHECK(m.size() == 5 + 1 + 10 + 1 + 10);
    Reader r(bytes(m), m.size(), "f.pb");
    Field f;
    REQUIRE(r.next(f));
    CHECK(f.number == 1);
    CHECK(f.type == kVarint);
    CHECK(r.as_uint(f) == 1);
    CHECK(f.offset == 0);
    REQUIRE(r.next(f));
    CHECK(f.number == 2);
    CHECK(r.as_uint(f) == 300);
    CHECK(f.offset == 2);
    REQUIRE(r.next(f));
    CHECK(r.as_uint(f) == ~uint64_t(0));
    REQUIRE(r.next(f));
    CHECK(r.as_int(f) == -1);
    CHECK_FALSE(r.next(f));
}

TEST_CASE("protowire: a varint past 64 bits is an error at its offset") {
    // Ten bytes whose last carries more than bit 63.
    std::string m = raw({0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02});
    std::string e = read_all_error(m);
    CHECK(has(e, "f.pb: byte 1: varint overflows 64 bits"));
    // Eleven bytes (the tenth still has its continuation bit).
    m = raw({0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x81, 0x00});
    e = read_all_error(m);
    CHECK(has(e, "byte 1: varint overflows 64 bits"));
    // The largest legal ten-byte varint is fine.
    m = raw({0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01});
    CHECK(read_all_error(m) == "");
}

TEST_CASE("protowire: truncated key and truncated value") {
    CHECK(has(read_all_error(raw({0x80})), "f.pb: byte 0: truncated varint (message ends after 1 bytes of it)"));
    // A good field, then a key cut off: the offset is the key's.
    CHECK(has(read_all_error(raw({0x08, 0x05, 0xf8})), "byte 2: truncated varint"));
    // The value of a varint field cut off.
    CHECK(has(read_all_error(raw({0x08, 0x80, 0x80})), "byte 1: truncated varint (message ends after 2 bytes"));
    // A length prefix cut off.
    CHECK(has(read_all_error(raw({0x12, 0x80})), "byte 1: truncated varint"));
}

TEST_CASE("protowire: fixed32, fixed64 and length-delimited fields") {
    std::string m;
    put_fixed32(m, 1, 1.5f);
    put_key(m, 2, kFixed64);
    double d = -2.25;
    uint64_t bits;
    std::memcpy(&bits, &d, 8);
    for (int i = 0; i < 8; ++i) m.push_back(char(bits >> (8 * i)));
    put_len(m, 3, "hello");
    std::string sub;
    put_key(sub, 1, kVarint);
    put_varint(sub, 7);
    put_len(m, 4, sub);
    Reader r(bytes(m), m.size(), "f.pb", 100);
    Field f;
    REQUIRE(r.next(f));
    CHECK(f.type == kFixed32);
    CHECK(r.as_float(f) == 1.5f);
    CHECK(f.offset == 100);
    REQUIRE(r.next(f));
    CHECK(f.type == kFixed64);
    CHECK(r.as_double(f) == -2.25);
    REQUIRE(r.next(f));
    CHECK(f.type == kLen);
    CHECK(r.as_string(f) == "hello");
    REQUIRE(r.next(f));
    const size_t sub_key_offset = f.offset;
    Reader s = r.sub(f);
    Field g;
    REQUIRE(s.next(g));
    CHECK(g.number == 1);
    CHECK(s.as_uint(g) == 7);
    // Offsets inside a sub-message count from the start of the file: key + 1-byte length.
    CHECK(g.offset == sub_key_offset + 2);
    CHECK_FALSE(s.next(g));
    CHECK_FALSE(r.next(f));
}

TEST_CASE("protowire: fixed values cut off") {
    CHECK(has(read_all_error(raw({0x0d, 0x00, 0x00})), "byte 0: field 1: fixed32 value cut off (2 bytes left)"));
    CHECK(has(read_all_error(raw({0x09, 1, 2, 3, 4, 5, 6, 7})), "byte 0: field 1: fixed64 value cut off (7 bytes left)"));
}

TEST_CASE("protowire: a length prefix beyond the end of its message") {
    std::string e = read_all_error(raw({0x08, 0x01, 0x12, 0x05, 'a', 'b'}));
    CHECK(has(e, "f.pb: byte 3: field 2: length prefix 5 goes beyond the end of its message (2 bytes left)"));
    // Inside a sub-message the limit is the sub-message, not the file.
    std::string inner = raw({0x0a, 0x03, 'x'});  // claims 3 bytes, has 1
    std::string m;
    put_len(m, 1, inner);
    m += "trailing bytes that belong to the outer message";
    Reader r(bytes(m), m.size(), "f.pb");
    Field f;
    REQUIRE(r.next(f));
    Reader s = r.sub(f);
    Field g;
    CHECK_THROWS_WITH_AS(s.next(g), "f.pb: byte 3: field 1: length prefix 3 goes beyond the end of its message (1 bytes left)",
                         std::runtime_error);
    // A length that does not fit in size_t arithmetic is still just "beyond the end".
    std::string huge = raw({0x12});
    put_varint(huge, ~uint64_t(0) >> 1);
    CHECK(has(read_all_error(huge), "goes beyond the end of its message (0 bytes left)"));
}

TEST_CASE("protowire: field number 0, too large, and the group / undefined wire types") {
    CHECK(has(read_all_error(raw({0x00, 0x01})), "byte 0: field number 0"));
    CHECK(has(read_all_error(raw({0x08, 0x01, 0x02})), "byte 2: field number 0"));
    std::string big;
    put_varint(big, (uint64_t(1) << 29) << 3);
    big.push_back(0);
    CHECK(has(read_all_error(big), "field number above 2^29-1"));
    CHECK(has(read_all_error(raw({0x0b})), "byte 0: field 1: wire type 3 (groups) is not used by Caffe or ONNX files"));
    CHECK(has(read_all_error(raw({0x0c})), "field 1: wire type 4 (groups)"));
    CHECK(has(read_all_error(raw({0x0e})), "field 1: wire type 6 does not exist (corrupt file)"));
    CHECK(has(read_all_error(raw({0x0f})), "field 1: wire type 7 does not exist"));
}

TEST_CASE("protowire: typed views reject the wrong wire type") {
    std::string m = raw({0x08, 0x01});
    Reader r(bytes(m), m.size(), "f.pb");
    Field f;
    REQUIRE(r.next(f));
    CHECK_THROWS_WITH_AS(r.as_float(f), "f.pb: byte 0: field 1: expected a float (wire type 5), found wire type 0",
                         std::runtime_error);
    CHECK_THROWS_WITH_AS(r.as_double(f), "f.pb: byte 0: field 1: expected a double (wire type 1), found wire type 0",
                         std::runtime_error);
    CHECK_THROWS_WITH_AS(r.as_string(f), "f.pb: byte 0: field 1: expected a string (wire type 2), found wire type 0",
                         std::runtime_error);
    CHECK_THROWS_WITH_AS(r.sub(f), "f.pb: byte 0: field 1: expected a sub-message (wire type 2), found wire type 0",
                         std::runtime_error);
    std::string s;
    put_len(s, 2, "ab");
    Reader r2(bytes(s), s.size(), "f.pb");
    REQUIRE(r2.next(f));
    CHECK_THROWS_WITH_AS(r2.as_uint(f), "f.pb: byte 0: field 2: expected a varint (wire type 0), found wire type 2",
                         std::runtime_error);
}

TEST_CASE("protowire: repeated floats packed and unpacked append in order") {
    std::string packed;
    const float a[3] = {1.0f, -2.5f, 3.25f};
    packed.append(reinterpret_cast<const char*>(a), sizeof a);
    std::string m;
    put_len(m, 5, packed);         // packed: one field
    put_fixed32(m, 5, 4.0f);       // unpacked: one field per value
    put_fixed32(m, 5, -0.5f);
    Reader r(bytes(m), m.size(), "f.pb");
    std::vector<float> out;
    Field f;
    while (r.next(f)) r.append_floats(f, out);
    CHECK(out == std::vector<float>{1.0f, -2.5f, 3.25f, 4.0f, -0.5f});

    std::string bad;
    put_len(bad, 5, "abcdef");
    Reader rb(bytes(bad), bad.size(), "f.pb");
    REQUIRE(rb.next(f));
    CHECK_THROWS_WITH_AS(rb.append_floats(f, out), "f.pb: byte 0: field 5: packed floats: 6 bytes is not a multiple of 4",
                         std::runtime_error);
    std::string v = raw({0x28, 0x01});
    Reader rv(bytes(v), v.size(), "f.pb");
    REQUIRE(rv.next(f));
    CHECK_THROWS_WITH_AS(rv.append_floats(f, out),
                         "f.pb: byte 0: field 5: expected floats (packed or fixed32), found wire type 0", std::runtime_error);
}

TEST_CASE("protowire: repeated doubles packed and unpacked") {
    const double a[2] = {0.125, -8.0};
    std::string m;
    put_len(m, 8, std::string(reinterpret_cast<const char*>(a), sizeof a));
    put_key(m, 8, kFixed64);
    double d = 3.5;
    uint64_t bits;
    std::memcpy(&bits, &d, 8);
    for (int i = 0; i < 8; ++i) m.push_back(char(bits >> (8 * i)));
    Reader r(bytes(m), m.size(), "f.pb");
    std::vector<double> out;
    Field f;
    while (r.next(f)) r.append_doubles(f, out);
    CHECK(out == std::vector<double>{0.125, -8.0, 3.5});
    std::string bad;
    put_len(bad, 8, "abcd");
    Reader rb(bytes(bad), bad.size(), "f.pb");
    REQUIRE(rb.next(f));
    CHECK_THROWS_WITH_AS(rb.append_doubles(f, out), "f.pb: byte 0: field 8: packed doubles: 4 bytes is not a multiple of 8",
                         std::runtime_error);
}

TEST_CASE("protowire: repeated ints packed and unpacked, and a packed varint cut off") {
    std::string packed;
    put_varint(packed, 96);
    put_varint(packed, 300);
    put_varint(packed, uint64_t(int64_t(-3)));
    std::string m;
    put_len(m, 1, packed);
    put_key(m, 1, kVarint);
    put_varint(m, 11);
    Reader r(bytes(m), m.size(), "f.pb");
    std::vector<int64_t> out;
    Field f;
    while (r.next(f)) r.append_ints(f, out);
    CHECK(out == std::vector<int64_t>{96, 300, -3, 11});

    // The packed payload ends inside a varint: the error names its offset in the file.
    std::string cut = raw({0x0a, 0x03, 0x05, 0x80, 0x80});
    Reader rc(bytes(cut), cut.size(), "f.pb");
    REQUIRE(rc.next(f));
    CHECK_THROWS_WITH_AS(rc.append_ints(f, out), "f.pb: byte 3: truncated varint (message ends after 2 bytes of it)",
                         std::runtime_error);
    std::string wrong;
    put_fixed32(wrong, 1, 1.0f);
    Reader rw(bytes(wrong), wrong.size(), "f.pb");
    REQUIRE(rw.next(f));
    CHECK_THROWS_WITH_AS(rw.append_ints(f, out),
                         "f.pb: byte 0: field 1: expected integers (packed or varint), found wire type 5", std::runtime_error);
}

TEST_CASE("protowire: unknown fields of every type are skipped") {
    std::string m;
    put_key(m, 20, kVarint);
    put_varint(m, 123456789);
    put_fixed32(m, 21, 1.0f);
    put_key(m, 22, kFixed64);
    m.append(8, '\0');
    put_len(m, 23, std::string(1000, 'z'));
    put_key(m, 1, kVarint);
    put_varint(m, 42);
    Reader r(bytes(m), m.size(), "f.pb");
    Field f;
    uint64_t found = 0;
    int n = 0;
    while (r.next(f)) {
        ++n;
        if (f.number == 1) found = r.as_uint(f);
    }
    CHECK(n == 5);
    CHECK(found == 42);
}

TEST_CASE("protowire: empty packed fields append nothing") {
    // Legal protobuf (a writer may emit a zero-length packed field); under UBSan this also checks
    // that no null pointer reaches memcpy.
    std::string m;
    put_len(m, 5, "");
    put_len(m, 8, "");
    put_len(m, 1, "");
    Reader r(bytes(m), m.size(), "f.pb");
    std::vector<float> fl;
    std::vector<double> db;
    std::vector<int64_t> in;
    Field f;
    REQUIRE(r.next(f));
    r.append_floats(f, fl);
    REQUIRE(r.next(f));
    r.append_doubles(f, db);
    REQUIRE(r.next(f));
    r.append_ints(f, in);
    CHECK(fl.empty());
    CHECK(db.empty());
    CHECK(in.empty());
}
