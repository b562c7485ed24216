// Tests for data/stb_guard: the JPEG Huffman-table bound and the PNG chunk-length check run
// before stb_image parses a file.
#include <doctest/doctest.h>

#include "data/image_io.h"
#include "io/read_file.h"
#include "data/stb_guard.h"
#include "tests/support/test_files.h"

using namespace dlbhc;
using dlbhc::test::write_bytes;

namespace {

using Bytes = std::vector<uint8_t>;

// A DHT segment with one table whose 16 counts are all `each` (so 16 * each codes) and whose
// symbols are zeros.
Bytes dht(int each) {
    const size_t codes = 16 * (size_t)each, len = 2 + 17 + codes;
    Bytes b = {0xFF, 0xC4, (uint8_t)(len >> 8), (uint8_t)len, 0x00};
    for (int i = 0; i < 16; ++i) b.push_back((uint8_t)each);
    b.insert(b.end(), codes, 0);
    return b;
}

Bytes cat(std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

const Bytes kSoi = {0xFF, 0xD8};
// A baseline frame header: 8 x 8, one component.
const Bytes kSof = {0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x00, 0x08, 0x00, 0x08, 0x01, 0x01, 0x11, 0x00};

bool safe(const Bytes& b, std::string* why = nullptr) {
    std::string w;
    const bool ok = jpeg_tables_safe(b.data(), b.size(), w);
    if (why) *why = w;
    return ok;
}

}  // namespace

TEST_CASE("jpeg check: a Huffman table with more than 256 codes is refused wherever stb could parse it") {
    std::string why;
    // 16 x 16 = 256 codes: the JPEG maximum, accepted; 16 x 17 = 272 refused.
    CHECK(safe(cat({kSoi, dht(16), kSof})));
    CHECK_FALSE(safe(cat({kSoi, dht(17), kSof}), &why));
    CHECK(why == "Huffman table (DHT segment at byte 2) declares 272 codes, the JPEG limit is 256 (corrupt or crafted file)");
    // After the frame header, after junk bytes (stb scans past them), after fill bytes.
    CHECK_FALSE(safe(cat({kSoi, kSof, dht(17)})));
    CHECK_FALSE(safe(cat({kSoi, {0x12, 0x34}, dht(255)})));
    CHECK_FALSE(safe(cat({kSoi, {0xFF, 0xFF}, dht(17)})));
    // A second table in the same segment: the first is fine (stb goes on to the next).
    Bytes two = cat({kSoi, dht(1)});
    const Bytes second = dht(17);
    two.insert(two.end(), second.begin() + 4, second.end());  // append the table without a marker
    const size_t len = two.size() - 4;
    two[4] = (uint8_t)(len >> 8), two[5] = (uint8_t)len;
    CHECK_FALSE(safe(two));
    // Anywhere after the first scan header (stb resynchronises on markers in entropy data).
    const Bytes sos = {0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00};
    CHECK_FALSE(safe(cat({kSoi, kSof, sos, {0x55, 0x66, 0xFF, 0x00}, dht(20)})));
    // Inside an APPn or COM body before the first scan, stb skips the bytes unread: not a DHT.
    Bytes app = {0xFF, 0xE1, 0x00, 0x00};
    const Bytes fake = dht(17);
    app.insert(app.end(), fake.begin(), fake.end());
    app[2] = (uint8_t)((app.size() - 2) >> 8), app[3] = (uint8_t)(app.size() - 2);
    CHECK(safe(cat({kSoi, app, dht(16), kSof})));
    // A table whose class/id byte stb refuses is never filled: no overflow, nothing to refuse.
    Bytes bad_class = dht(17);
    bad_class[4] = 0x25;
    CHECK(safe(cat({kSoi, bad_class})));
    // Fill bytes before SOI: stb still reads a JPEG (found by fuzzing; tests/fuzz/regress/image/).
    CHECK_FALSE(safe(cat({{0xFF, 0xFF, 0xFF}, kSoi, dht(17)})));
    CHECK(looks_like_jpeg(Bytes{0xFF, 0xFF, 0xD8}.data(), 3));
    CHECK_FALSE(looks_like_jpeg(Bytes{0x00, 0xFF, 0xD8}.data(), 3));
    // Not a JPEG: nothing to check.
    CHECK(safe(Bytes{0x89, 'P', 'N', 'G', 0xFF, 0xC4, 0x00, 0xFF, 0x00}));
    CHECK(safe(Bytes{}));
}

TEST_CASE("png check: every chunk up to IEND must fit in the file") {
    dlbhc::test::TempDir d;
    Image src(1, 5, 6);
    save_png(d.file("ok.png"), src);
    const Bytes ok = read_file_bytes(d.file("ok.png"), "png");
    std::string why;
    CHECK(png_chunks_fit(ok.data(), ok.size(), why));
    // Bytes after IEND are not stb's business.
    Bytes tail = ok;
    tail.insert(tail.end(), {0xFF, 0xFF, 0xFF, 0xFF, 'I', 'D', 'A', 'T'});
    CHECK(png_chunks_fit(tail.data(), tail.size(), why));
    // The chunk after IHDR (byte 33) claims 0x4C000000 bytes: refused before stb reallocs for it.
    Bytes big = ok;
    big[33] = 0x4C, big[34] = big[35] = big[36] = 0;
    CHECK_FALSE(png_chunks_fit(big.data(), big.size(), why));
    CHECK(why.find("PNG chunk 'IDAT' at byte 33 declares 1275068416 data bytes, but only") == 0);
    Image img;
    CHECK_THROWS_WITH_AS(decode_image(big.data(), big.size(), "big.png", img),
                         doctest::Contains("image file 'big.png': PNG chunk 'IDAT' at byte 33"), std::runtime_error);
    // One byte short of its CRC.
    Bytes cut(ok.begin(), ok.end() - 13);  // IEND (12 bytes) and one CRC byte of IDAT gone
    CHECK_FALSE(png_chunks_fit(cut.data(), cut.size(), why));
    // Not a PNG: nothing to check.
    CHECK(png_chunks_fit(kSoi.data(), kSoi.size(), why));

    // Found by tests/fuzz (target image): libFuzzer's malloc limit caught stb asking for 1.2 GB.
    const Bytes fuzz = read_file_bytes("tests/fuzz/regress/image/png_idat_length_beyond_file", "regression input");
    REQUIRE(fuzz.size() > 8);
    CHECK_FALSE(stb_input_safe(fuzz.data(), fuzz.size(), why));
    CHECK_THROWS_WITH_AS(decode_image(fuzz.data(), fuzz.size(), "f.png", img), doctest::Contains("PNG chunk"),
                         std::runtime_error);
}

TEST_CASE("jpeg check: header length as stbi_info needs it") {
    CHECK(jpeg_header_bytes(kSoi.data(), kSoi.size()) == 0);
    const Bytes b = cat({kSoi, dht(1), kSof, {0xFF, 0xD9}});
    CHECK(jpeg_header_bytes(b.data(), b.size()) == 2 + dht(1).size() + kSof.size());
    const Bytes png = {0x89, 'P', 'N', 'G'};
    CHECK(jpeg_header_bytes(png.data(), png.size()) == 0);
}

TEST_CASE("jpeg check: decode and probe refuse the fuzzer's input, and still read valid JPEGs") {
    // Found by tests/fuzz (target image): stb_image 2.27 wrote past its Huffman arrays.
    const Bytes bad = read_file_bytes("tests/fuzz/regress/image/jpeg_dht_over_256_codes", "regression input");
    REQUIRE(bad.size() > 100);
    Image img;
    CHECK_THROWS_WITH_AS(decode_image(bad.data(), bad.size(), "crash.jpg", img), doctest::Contains("image file 'crash.jpg': Huffman table"),
                         std::runtime_error);
    dlbhc::test::TempDir d;
    write_bytes(d.file("crash.jpg"), bad);
    ImageInfo info;
    std::string why;
    CHECK_FALSE(probe_image_file(d.file("crash.jpg"), info, why));
    CHECK(why.find("Huffman table") != std::string::npos);

    // A valid JPEG written by stb_image_write: accepted by the check, probed and decoded.
    Image src(3, 16, 24);
    for (size_t i = 0; i < src.pixels.size(); ++i) src.pixels[i] = (uint8_t)(i * 7);
    save_jpeg(d.file("ok.jpg"), src, 90);
    REQUIRE(probe_image_file(d.file("ok.jpg"), info, why));
    CHECK(info.width == 24);
    CHECK(info.height == 16);
    load_image(d.file("ok.jpg"), img);
    CHECK(img.w == 24);

    // A header longer than the probe's first read (256 KiB): five 64 KB APP1 segments before the
    // tables and the frame header; the probe reads on and still finds the size.
    const Bytes ok = read_file_bytes(d.file("ok.jpg"), "jpeg");
    Bytes big(ok.begin(), ok.begin() + 2);
    for (int i = 0; i < 5; ++i) {
        big.insert(big.end(), {0xFF, 0xE1, 0xFF, 0xFF});
        big.insert(big.end(), 0xFFFF - 2, (uint8_t)0x11);
    }
    big.insert(big.end(), ok.begin() + 2, ok.end());
    write_bytes(d.file("big_header.jpg"), big);
    REQUIRE(probe_image_file(d.file("big_header.jpg"), info, why));
    CHECK(info.width == 24);
    load_image(d.file("big_header.jpg"), img);
    CHECK(img.h == 16);
}
