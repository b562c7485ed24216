// tests/data/test_idx.cpp -- IDX parsing and the MNIST readers: plain and gzip files, the gzip
// fixture, every kind of bad header, and (when installed) the real Fashion-MNIST files.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include "data/idx.h"
#include "io/path.h"
#include "tests/support/test_files.h"

using namespace dlbhc;
using namespace dlbhc::test;

namespace {

// n images of rows x cols with pixel (i, y, x) = (i * 31 + y * 7 + x) % 256, labels i % 10.
void write_mnist(const TempDir& d, const std::string& prefix, uint32_t n, uint32_t rows, uint32_t cols, bool gz) {
    std::vector<uint8_t> px, lab;
    for (uint32_t i = 0; i < n; ++i) {
        lab.push_back((uint8_t)(i % 10));
        for (uint32_t y = 0; y < rows; ++y)
            for (uint32_t x = 0; x < cols; ++x) px.push_back((uint8_t)((i * 31 + y * 7 + x) % 256));
    }
    std::vector<uint8_t> img = make_idx({n, rows, cols}, px), lb = make_idx({n}, lab);
    const std::string ext = gz ? ".gz" : "";
    write_bytes(d.file(prefix + "-images-idx3-ubyte" + ext), gz ? make_gzip(img) : img);
    write_bytes(d.file(prefix + "-labels-idx1-ubyte" + ext), gz ? make_gzip(lb) : lb);
}

IdxArray parse(const std::vector<uint8_t>& v) { return parse_idx_u8(v, "t.idx"); }

}  // namespace

TEST_CASE("data/idx: a known file parses to its dimensions and bytes") {
    IdxArray a = parse(make_idx({2, 3}, {1, 2, 3, 4, 5, 6}));
    CHECK(a.dims == std::vector<uint32_t>{2, 3});
    REQUIRE(a.count() == 6);
    CHECK(a.offset == 12);
    CHECK(a.data()[0] == 1);
    CHECK(a.data()[5] == 6);
}

TEST_CASE("data/idx: bad headers are rejected, before any allocation for absurd sizes") {
    CHECK_THROWS_WITH_AS(parse({0, 0, 8}), contains("expected a 4-byte header, found only 3 bytes"), std::runtime_error);
    CHECK_THROWS_WITH_AS(parse({0, 1, 8, 1, 0, 0, 0, 1, 5}), contains("expected the magic bytes 0x00 0x00 at byte 0, found 0x00 0x01"), std::runtime_error);
    CHECK_THROWS_WITH_AS(parse({0, 0, 0x0D, 1, 0, 0, 0, 1, 0, 0, 0, 0}), contains("expected element type 0x08 (unsigned byte) at byte 2, found 0x0d (float32)"), std::runtime_error);
    CHECK_THROWS_WITH_AS(parse({0, 0, 8, 0}), contains("expected 1 to 4 dimensions at byte 3, found 0"), std::runtime_error);
    CHECK_THROWS_WITH_AS(parse({0, 0, 8, 9}), contains("found 9"), std::runtime_error);
    CHECK_THROWS_WITH_AS(parse({0, 0, 8, 3, 0, 0, 0, 1}), contains("needs 16 bytes, the file has 8 (truncated file?)"), std::runtime_error);
    // Dimensions that disagree with the data: too few bytes (truncated) and too many.
    CHECK_THROWS_WITH_AS(parse(make_idx({2, 3}, {1, 2, 3, 4, 5})), contains("dimensions (2, 3) need 6 bytes of data, but the file has 5 after the 12-byte header (truncated file?)"), std::runtime_error);
    CHECK_THROWS_WITH_AS(parse(make_idx({2, 3}, {1, 2, 3, 4, 5, 6, 7})), contains("need 6 bytes of data, but the file has 7"), std::runtime_error);
    // Absurd sizes: 2^31 images; and a product that overflows 64 bits.
    CHECK_THROWS_WITH_AS(parse(make_idx({0x80000000u, 28, 28}, {1, 2, 3})), contains("need 1683627180032 bytes of data, but the file has 3"), std::runtime_error);
    CHECK_THROWS_WITH_AS(parse(make_idx({0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu}, {})), contains("need more than 2^64 bytes"), std::runtime_error);
    CHECK_THROWS_WITH_AS(parse(make_idx({0, 28, 28}, {})), contains("dimension 0 is 0"), std::runtime_error);
    // The name given starts the message.
    CHECK_THROWS_WITH_AS(parse({}), contains("IDX file 't.idx'"), std::runtime_error);
}

TEST_CASE("data/idx: MNIST plain and gzip files give the same dataset") {
    TempDir d;
    write_mnist(d, "train", 13, 5, 4, false);
    write_mnist(d, "t10k", 13, 5, 4, true);
    auto a = load_mnist_dir(d.path, "train");
    auto b = load_mnist_dir(d.path, "test");  // "test" means t10k
    REQUIRE(a->size() == 13);
    REQUIRE(b->size() == 13);
    CHECK(a->channels() == 1);
    CHECK(a->height() == 5);
    CHECK(a->width() == 4);
    CHECK(a->num_classes() == 10);
    Image im;
    for (size_t i = 0; i < 13; ++i) {
        a->item(i, im);
        CHECK(im.c == 1);
        CHECK(im.at(0, 2, 3) == (uint8_t)((i * 31 + 2 * 7 + 3) % 256));
        CHECK(a->label(i) == (int)(i % 10));
        Image im2;
        b->item(i, im2);
        CHECK(im2.pixels == im.pixels);
        CHECK(b->label(i) == a->label(i));
    }
    CHECK(a->name(12) == "train[12]");
    CHECK(b->name(0) == "test[0]");
    CHECK_THROWS_AS(a->item(13, im), std::out_of_range);
    CHECK_THROWS_WITH_AS(load_mnist_dir(d.path, "valid"), contains("expected the split 'train' or 't10k'"), std::invalid_argument);
    CHECK_THROWS_WITH_AS(load_mnist_dir(d.file("none"), "train"), contains("tried " + d.file("none") + "/train-images-idx3-ubyte"), std::runtime_error);
}

TEST_CASE("data/idx: MNIST files that do not belong together") {
    TempDir d;
    write_bytes(d.file("img"), make_idx({3, 2, 2}, std::vector<uint8_t>(12, 7)));
    write_bytes(d.file("lab"), make_idx({4}, {0, 1, 2, 3}));
    write_bytes(d.file("lab2"), make_idx({3, 1}, {0, 1, 2}));
    CHECK_THROWS_WITH_AS(load_mnist(d.file("img"), d.file("lab")), contains("found 4 labels for 3 images"), std::runtime_error);
    CHECK_THROWS_WITH_AS(load_mnist(d.file("img"), d.file("lab2")), contains("expected an idx1 file (N), found 2 dimensions (3, 1)"), std::runtime_error);
    CHECK_THROWS_WITH_AS(load_mnist(d.file("lab"), d.file("lab")), contains("expected an idx3 file (N, rows, cols), found 1 dimensions (4)"), std::runtime_error);
    // A gzip file whose content is a truncated IDX file: the IDX check still fires.
    std::vector<uint8_t> img = make_idx({3, 2, 2}, std::vector<uint8_t>(11, 7));
    write_bytes(d.file("img.gz"), make_gzip(img));
    CHECK_THROWS_WITH_AS(read_idx_u8(d.file("img.gz")), contains("IDX file '" + d.file("img.gz") + "': the header's dimensions (3, 2, 2) need 12 bytes"), std::runtime_error);
}

TEST_CASE("data/idx: the gzip fixture made by gzip(1) loads as MNIST") {
    const std::string dir = fixture_dir() + "/mnist_tiny";
    REQUIRE_MESSAGE(is_directory(dir), "fixture folder missing: " << dir << " (run from the repository root)");
    auto ds = load_mnist_dir(dir, "train");
    REQUIRE(ds->size() == 6);
    CHECK(ds->height() == 8);
    CHECK(ds->width() == 8);
    Image im;
    for (int i = 0; i < 6; ++i) {  // the formulas of make_fixtures.sh
        ds->item(i, im);
        for (int y = 0; y < 8; ++y)
            for (int x = 0; x < 8; ++x)
                CHECK(im.at(0, y, x) == ((x + y + i) % 2 == 0 ? (i * 40 + y * 8 + x * 3) % 256 : 0));
        CHECK(ds->label(i) == (i * 7) % 10);
    }
}

TEST_CASE("data/idx: the real Fashion-MNIST files, when installed") {
    const std::string dir = "/usr/share/datasets/fashion-mnist";
    if (!is_regular_file(dir + "/t10k-images-idx3-ubyte.gz")) {
        MESSAGE("skipped: " << dir << " is not installed");
        return;
    }
    for (const char* split : {"t10k", "train"}) {
        auto t0 = std::chrono::steady_clock::now();
        auto ds = load_mnist_dir(dir, split);
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        MESSAGE("Fashion-MNIST " << std::string(split) << ": " << ds->size() << " images read in " << s << " s");
        CHECK(ds->size() == (std::string(split) == "train" ? 60000u : 10000u));
        CHECK(ds->channels() == 1);
        CHECK(ds->height() == 28);
        CHECK(ds->width() == 28);
        CHECK(ds->num_classes() == 10);
        std::vector<int> per_class(10, 0);
        for (size_t i = 0; i < ds->size(); ++i) {
            const int l = ds->label(i);
            REQUIRE((l >= 0 && l < 10));
            ++per_class[l];
        }
        for (int c = 0; c < 10; ++c) CHECK(per_class[c] == (int)ds->size() / 10);  // balanced: 6000 / 1000 each
    }
}
