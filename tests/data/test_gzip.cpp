// tests/data/test_gzip.cpp -- CRC-32 and the gzip reader: every header flag, a member made by the
// real gzip(1), and damaged files of each kind.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "io/crc32.h"
#include "data/gzip.h"
#include "io/path.h"
#include "nn/rng.h"
#include "tests/support/test_files.h"

using namespace dlbhc;
using namespace dlbhc::test;

namespace {

std::vector<uint8_t> bytes_of(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

std::vector<uint8_t> random_bytes(size_t n, uint64_t seed) {
    Rng rng(seed);
    std::vector<uint8_t> v(n);
    for (auto& b : v) b = (uint8_t)rng.next_u64();
    return v;
}

// Bit-at-a-time CRC-32, written from the definition, to check the table-driven one against.
uint32_t crc32_bitwise(const std::vector<uint8_t>& v) {
    uint32_t c = 0xFFFFFFFFu;
    for (uint8_t b : v) {
        c ^= b;
        for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
    }
    return ~c;
}

std::vector<uint8_t> gunzip_v(const std::vector<uint8_t>& v) { return gunzip(v.data(), v.size(), "t.gz"); }

}  // namespace

TEST_CASE("data/crc32: known answers, pieces, and the bitwise definition") {
    CHECK(crc32("123456789", 9) == 0xCBF43926u);
    CHECK(crc32("", 0) == 0u);
    CHECK(crc32("a", 1) == 0xE8B7BE43u);
    const std::string fox = "The quick brown fox jumps over the lazy dog";
    CHECK(crc32(fox.data(), fox.size()) == 0x414FA339u);
    // Every length 0..40 and odd offsets, against the bit-at-a-time definition.
    const std::vector<uint8_t> r = random_bytes(1000, 7);
    for (size_t n = 0; n <= 40; ++n)
        for (size_t off : {0, 1, 3}) {
            std::vector<uint8_t> part(r.begin() + off, r.begin() + off + n);
            CHECK(crc32(part.data(), part.size()) == crc32_bitwise(part));
        }
    // In pieces: crc(b, crc(a)) == crc(a b).
    CHECK(crc32(r.data() + 333, 667, crc32(r.data(), 333)) == crc32(r.data(), r.size()));
}

TEST_CASE("data/gzip: stored blocks with every optional header field") {
    const std::vector<uint8_t> payload = random_bytes(70000, 3);  // more than one stored block
    for (int flags = 0; flags < 16; ++flags) {
        GzipHeader h;
        h.extra = flags & 1, h.name = flags & 2, h.comment = flags & 4, h.hcrc = flags & 8;
        CAPTURE(flags);
        CHECK(gunzip_v(make_gzip(payload, h)) == payload);
    }
    CHECK(gunzip_v(make_gzip(payload, {}, 1000)) == payload);  // 70 blocks
    CHECK(gunzip_v(make_gzip({})).empty());                     // an empty member
    CHECK(gunzip_v(make_gzip(bytes_of("x"))) == bytes_of("x"));
}

TEST_CASE("data/gzip: a member compressed by the real gzip(1) (dynamic Huffman, FNAME set)") {
    const std::string path = fixture_dir() + "/mnist_tiny/train-labels-idx1-ubyte.gz";
    REQUIRE_MESSAGE(is_regular_file(path), "fixture missing: " << path << " (run from the repository root)");
    const std::vector<uint8_t> v = read_maybe_gzip(path, "fixture");
    // make_fixtures.sh: idx1 header for 6 items, then labels (i * 7) % 10.
    const std::vector<uint8_t> want = {0, 0, 8, 1, 0, 0, 0, 6, 0, 7, 4, 1, 8, 5};
    CHECK(v == want);
}

TEST_CASE("data/gzip: damaged files are rejected with the reason") {
    const std::vector<uint8_t> payload = bytes_of("hello, gzip world; hello, gzip world");
    const std::vector<uint8_t> good = make_gzip(payload);
    REQUIRE(gunzip_v(good) == payload);

    auto with = [&](size_t off, uint8_t val) {
        std::vector<uint8_t> v = good;
        v.at(off) = val;
        return v;
    };
    CHECK_THROWS_WITH_AS(gunzip_v(with(0, 0x1e)), contains("expected the magic bytes 0x1f 0x8b at byte 0, found 0x1e 0x8b"), std::runtime_error);
    CHECK_THROWS_WITH_AS(gunzip_v(with(2, 7)), contains("expected compression method 8 (deflate) at byte 2, found 7"), std::runtime_error);
    CHECK_THROWS_WITH_AS(gunzip_v(with(3, 0x20)), contains("reserved flag bits"), std::runtime_error);
    // The file name starts every message.
    CHECK_THROWS_WITH_AS(gunzip_v(with(0, 0)), contains("gzip file 't.gz'"), std::runtime_error);

    // Bad CRC-32 of the data: flip one payload byte (stored block: the bytes are visible).
    std::vector<uint8_t> v = good;
    v[10 + 5 + 3] ^= 0x01;
    CHECK_THROWS_WITH_AS(gunzip_v(v), contains("CRC-32 mismatch"), std::runtime_error);
    // Bad CRC-32 in the trailer.
    v = good;
    v[v.size() - 8] ^= 0x80;
    CHECK_THROWS_WITH_AS(gunzip_v(v), contains("CRC-32 mismatch: the trailer (byte " + std::to_string(good.size() - 8)), std::runtime_error);
    // ISIZE one too small: the stream overflows the buffer; one too large: the length disagrees.
    v = good;
    v[v.size() - 4] -= 1;
    CHECK_THROWS_WITH_AS(gunzip_v(v), contains("decompresses to more than the trailer's ISIZE"), std::runtime_error);
    v = good;
    v[v.size() - 4] += 1;
    CHECK_THROWS_WITH_AS(gunzip_v(v), contains("but the trailer's ISIZE says"), std::runtime_error);
    // An absurd ISIZE (2^31 - 1 from 40 bytes) is refused before allocating.
    v = good;
    v[v.size() - 4] = 0xff, v[v.size() - 3] = 0xff, v[v.size() - 2] = 0xff, v[v.size() - 1] = 0x7f;
    CHECK_THROWS_WITH_AS(gunzip_v(v), contains("cannot produce"), std::runtime_error);
    // Above the caller's limit.
    CHECK_THROWS_WITH_AS(gunzip(good.data(), good.size(), "t.gz", 10), contains("more than the limit of 10"), std::runtime_error);

    // Truncated: too short for any member, and a member cut in its data.
    CHECK_THROWS_WITH_AS(gunzip(good.data(), 12, "t.gz"), contains("expected at least 18 bytes"), std::runtime_error);
    CHECK_THROWS_AS(gunzip(good.data(), good.size() - 10, "t.gz"), std::runtime_error);
    // A stored block whose NLEN is not the complement of LEN.
    v = good;
    v[13] ^= 0xff;
    CHECK_THROWS_WITH_AS(gunzip_v(v), contains("is corrupt"), std::runtime_error);
}

TEST_CASE("data/gzip: damaged optional header fields") {
    const std::vector<uint8_t> payload = bytes_of("payload");
    GzipHeader h;
    h.hcrc = true, h.name = true;
    std::vector<uint8_t> v = make_gzip(payload, h);
    REQUIRE(gunzip_v(v) == payload);
    const size_t hcrc_at = 10 + h.name_text.size() + 1;
    v[hcrc_at] ^= 1;
    CHECK_THROWS_WITH_AS(gunzip_v(v), contains("header CRC mismatch at byte " + std::to_string(hcrc_at)), std::runtime_error);

    // FEXTRA longer than the file.
    GzipHeader e;
    e.extra = true;
    v = make_gzip(payload, e);
    v[11] = 0x7f;
    CHECK_THROWS_WITH_AS(gunzip_v(v), contains("the FEXTRA field at byte 10 claims"), std::runtime_error);

    // FNAME without its terminator: the flag is set but the header is only the 10 fixed bytes
    // followed by data that contains no zero byte before the trailer.
    std::vector<uint8_t> w = {0x1f, 0x8b, 8, 8, 0, 0, 0, 0, 0, 3};
    for (int i = 0; i < 20; ++i) w.push_back('n');
    for (int i = 0; i < 8; ++i) w.push_back(1);
    CHECK_THROWS_WITH_AS(gunzip_v(w), contains("the FNAME field starting at byte 10 has no terminating zero"), std::runtime_error);
}

TEST_CASE("data/gzip: read_maybe_gzip passes plain files through and checks .gz names") {
    TempDir dir;
    write_text(dir.file("plain.bin"), "not compressed");
    CHECK(read_maybe_gzip(dir.file("plain.bin"), "test file") == bytes_of("not compressed"));
    write_bytes(dir.file("packed.bin"), make_gzip(bytes_of("was compressed")));
    CHECK(read_maybe_gzip(dir.file("packed.bin"), "test file") == bytes_of("was compressed"));
    write_text(dir.file("fake.gz"), "not compressed");
    CHECK_THROWS_WITH_AS(read_maybe_gzip(dir.file("fake.gz"), "test file"), contains("ends in .gz but the file does not start with the gzip magic"), std::runtime_error);
    CHECK_THROWS_WITH_AS(read_maybe_gzip(dir.file("missing"), "test file"), contains("test file '" + dir.file("missing") + "': cannot open"), std::runtime_error);
    CHECK_THROWS_WITH_AS(read_maybe_gzip(dir.path, "test file"), contains("expected a regular file"), std::runtime_error);
}
