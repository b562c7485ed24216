// tests/data/test_cifar.cpp -- CIFAR-10 binary batches: RGB planes to BGR, labels, folder loading,
// and bad files.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "data/cifar.h"
#include "tests/support/test_files.h"

using namespace dlbhc;
using namespace dlbhc::test;

namespace {

// Record r of a test batch: label (first + r) % 10; plane p (0 R, 1 G, 2 B), pixel j holds
// (first + r) * 3 + p * 50 + j % 7 (mod 256).
std::vector<uint8_t> make_batch(int first, int n) {
    std::vector<uint8_t> v;
    for (int r = 0; r < n; ++r) {
        v.push_back((uint8_t)((first + r) % 10));
        for (int p = 0; p < 3; ++p)
            for (int j = 0; j < 1024; ++j) v.push_back((uint8_t)((first + r) * 3 + p * 50 + j % 7));
    }
    return v;
}

uint8_t expect_px(int item, int file_plane, int j) { return (uint8_t)(item * 3 + file_plane * 50 + j % 7); }

}  // namespace

TEST_CASE("data/cifar: records become BGR planes with their labels") {
    TempDir d;
    write_bytes(d.file("b.bin"), make_batch(0, 3));
    auto ds = make_cifar10_dataset("train");
    append_cifar10_batch(d.file("b.bin"), *ds);
    REQUIRE(ds->size() == 3);
    CHECK(ds->num_classes() == 10);
    CHECK(ds->channels() == 3);
    CHECK(ds->height() == 32);
    Image im;
    for (int i = 0; i < 3; ++i) {
        ds->item(i, im);
        CHECK(ds->label(i) == i);
        for (int j : {0, 1, 33, 1023}) {
            const int y = j / 32, x = j % 32;
            CHECK(im.at(0, y, x) == expect_px(i, 2, j));  // B from the file's third plane
            CHECK(im.at(1, y, x) == expect_px(i, 1, j));
            CHECK(im.at(2, y, x) == expect_px(i, 0, j));  // R from the first
        }
    }
    CHECK(ds->name(2) == "train[2]");
}

TEST_CASE("data/cifar: a folder of batches, train and test") {
    TempDir d;
    for (int b = 1; b <= 5; ++b) write_bytes(d.file("data_batch_" + std::to_string(b) + ".bin"), make_batch(b * 10, 2));
    write_bytes(d.file("test_batch.bin"), make_batch(100, 4));
    auto tr = load_cifar10_dir(d.path, "train");
    auto te = load_cifar10_dir(d.path, "test");
    REQUIRE(tr->size() == 10);
    REQUIRE(te->size() == 4);
    Image im;
    tr->item(9, im);  // batch 5, record 1 -> item 51 in the pattern
    CHECK(tr->label(9) == 51 % 10);
    CHECK(im.at(0, 0, 5) == expect_px(51, 2, 5));
    te->item(3, im);
    CHECK(te->label(3) == 103 % 10);
    CHECK(im.at(2, 1, 0) == expect_px(103, 0, 32));
    CHECK_THROWS_WITH_AS(load_cifar10_dir(d.path, "val"), contains("expected the split 'train' or 'test'"), std::invalid_argument);
}

TEST_CASE("data/cifar: bad batch files") {
    TempDir d;
    std::vector<uint8_t> b = make_batch(0, 2);
    b.pop_back();
    write_bytes(d.file("short.bin"), b);
    write_bytes(d.file("empty.bin"), {});
    b = make_batch(0, 3);
    b[2 * kCifarRecordBytes] = 10;  // record 2's label
    write_bytes(d.file("label.bin"), b);
    auto ds = make_cifar10_dataset("x");
    CHECK_THROWS_WITH_AS(append_cifar10_batch(d.file("short.bin"), *ds), contains("CIFAR-10 batch '" + d.file("short.bin") + "': expected a positive multiple of 3073 bytes (1 label + 3072 pixels per record), found 6145 bytes"), std::runtime_error);
    CHECK_THROWS_WITH_AS(append_cifar10_batch(d.file("empty.bin"), *ds), contains("found 0 bytes"), std::runtime_error);
    CHECK_THROWS_WITH_AS(append_cifar10_batch(d.file("label.bin"), *ds), contains("record 2 (byte 6146) has label 10, expected 0..9"), std::runtime_error);
    CHECK(ds->size() == 0);  // nothing of the bad file was added
    CHECK_THROWS_WITH_AS(load_cifar10_dir(d.path, "train"), contains("data_batch_1.bin': cannot open"), std::runtime_error);
}
