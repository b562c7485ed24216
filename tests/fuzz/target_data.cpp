// tests/fuzz/target_data.cpp -- fuzz targets for the dataset readers in data/: IDX (plain and
// gzip), CIFAR-10 batches, Caffe list files and JPEG/PNG decoding.
#include <algorithm>

#include "data/cifar.h"
#include "data/gzip.h"
#include "data/idx.h"
#include "data/image_folder.h"
#include "data/image_io.h"
#include "tests/fuzz/targets.h"

namespace dlbhc::fuzz {

// What the product's readers accept is bounded by the file; the fuzzer's inputs are at most
// -max_len bytes, so a gzip member may claim at most what deflate can produce from them (the
// reader checks that). 16 MiB also keeps one execution fast.
constexpr uint64_t kFuzzMaxGunzip = 16u << 20;
// Pixel limit for decoding (configurable in the product; default 64 Mpx). 1 Mpx keeps the
// fuzzer fast while still exercising the limit check.
constexpr uint64_t kFuzzMaxPixels = 1u << 20;

void fuzz_idx(const uint8_t* data, size_t size) {
    expect_clean_errors([&] {
        std::vector<uint8_t> bytes =
            looks_like_gzip(data, size) ? gunzip(data, size, kFuzzName, kFuzzMaxGunzip) : std::vector<uint8_t>(data, data + size);
        const IdxArray a = parse_idx_u8(std::move(bytes), kFuzzName);
        // A parsed array's dimensions multiply to exactly its element count.
        uint64_t prod = 1;
        for (uint32_t d : a.dims) prod *= d;
        if (a.dims.empty() || a.dims.size() > 4 || prod != a.count())
            contract_violation("idx: dimensions disagree with the element count");
        unsigned sum = 0;
        for (size_t i = 0; i < a.count(); ++i) sum += a.data()[i];  // every element is readable
        (void)sum;
    });
}

void fuzz_cifar(const uint8_t* data, size_t size) {
    auto ds = make_cifar10_dataset("fuzz");
    const bool ok = expect_clean_errors([&] { append_cifar10_bytes(data, size, kFuzzName, *ds); });
    if (!ok && ds->size() != 0) contract_violation("cifar: a rejected batch left items behind");
    if (ok && ds->size() != size / kCifarRecordBytes) contract_violation("cifar: wrong record count");
    Image img;
    for (size_t i = 0; i < ds->size(); ++i) {
        ds->item(i, img);
        if (ds->label(i) < 0 || ds->label(i) >= kCifarClasses) contract_violation("cifar: label out of range");
    }
}

void fuzz_list(const uint8_t* data, size_t size) {
    LoadReport rep;
    expect_clean_errors([&] {
        const std::vector<ListEntry> lines = parse_image_list(data, size, kFuzzName, "/base", rep);
        if (lines.empty()) contract_violation("list: an accepted list has no entry");
        for (const auto& e : lines)
            if (e.path.empty() || e.label < 0 || e.label > kMaxListLabel) contract_violation("list: bad entry accepted");
    });
}

void fuzz_image(const uint8_t* data, size_t size) {
    for (bool colour : {true, false}) {
        Image img;
        const bool ok = expect_clean_errors([&] { decode_image(data, size, kFuzzName, img, colour, kFuzzMaxPixels); });
        if (!ok) continue;
        if (img.c != (colour ? 3 : 1) || img.h < 1 || img.w < 1 || (uint64_t)img.h * img.w > kFuzzMaxPixels ||
            img.pixels.size() != img.count())
            contract_violation("image: decoded image has an impossible shape");
        // The header probe must agree with the decode.
        unsigned sum = 0;
        for (uint8_t v : img.pixels) sum += v;
        (void)sum;
    }
}

}  // namespace dlbhc::fuzz
