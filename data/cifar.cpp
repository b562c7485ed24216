// data/cifar.cpp -- CIFAR-10 binary batches (see cifar.h).
#include "data/cifar.h"

#include <cstring>
#include <stdexcept>

#include "io/path.h"
#include "io/read_file.h"

namespace dlbhc {

void append_cifar10_batch(const std::string& path, MemoryDataset& ds) {
    if (ds.channels() != 3 || ds.height() != kCifarSide || ds.width() != kCifarSide)
        throw std::invalid_argument("CIFAR-10 batch '" + path + "': the target dataset must hold (3, 32, 32) items");
    const std::vector<uint8_t> bytes = read_file_bytes(path, "CIFAR-10 batch");
    append_cifar10_bytes(bytes.data(), bytes.size(), path, ds);
}

void append_cifar10_bytes(const uint8_t* data, size_t size, const std::string& path, MemoryDataset& ds) {
    if (ds.channels() != 3 || ds.height() != kCifarSide || ds.width() != kCifarSide)
        throw std::invalid_argument("CIFAR-10 batch '" + path + "': the target dataset must hold (3, 32, 32) items");
    if (size == 0 || size % kCifarRecordBytes != 0)
        throw std::runtime_error("CIFAR-10 batch '" + path + "': expected a positive multiple of " +
                                 std::to_string(kCifarRecordBytes) + " bytes (1 label + 3072 pixels per record), found " +
                                 std::to_string(size) + " bytes");
    constexpr size_t plane = kCifarSide * kCifarSide;
    const size_t n = size / kCifarRecordBytes;
    // Every label is checked before anything is added, so a bad file leaves ds unchanged.
    for (size_t r = 0; r < n; ++r) {
        const uint8_t label = data[r * kCifarRecordBytes];
        if (label >= kCifarClasses)
            throw std::runtime_error("CIFAR-10 batch '" + path + "': record " + std::to_string(r) + " (byte " +
                                     std::to_string(r * kCifarRecordBytes) + ") has label " + std::to_string(label) +
                                     ", expected 0..9 (is this a CIFAR-100 file, whose records have 2 label bytes?)");
    }
    ds.reserve(ds.size() + n);
    uint8_t bgr[3 * plane];
    for (size_t r = 0; r < n; ++r) {
        const uint8_t* rec = data + r * kCifarRecordBytes;
        // File planes R, G, B -> our planes B, G, R.
        for (int c = 0; c < 3; ++c) std::memcpy(bgr + c * plane, rec + 1 + (2 - c) * plane, plane);
        ds.add(bgr, rec[0]);
    }
}

std::unique_ptr<MemoryDataset> make_cifar10_dataset(const std::string& split) {
    return std::make_unique<MemoryDataset>(3, kCifarSide, kCifarSide, split, kCifarClasses);
}

std::vector<std::string> cifar10_batch_files(const std::string& dir, const std::string& split) {
    if (split == "test") return {join_path(dir, "test_batch.bin")};
    if (split != "train")
        throw std::invalid_argument("CIFAR-10 folder '" + dir + "': expected the split 'train' or 'test', found '" +
                                    split + "'");
    std::vector<std::string> files;
    for (int b = 1; b <= 5; ++b) files.push_back(join_path(dir, "data_batch_" + std::to_string(b) + ".bin"));
    return files;
}

std::unique_ptr<MemoryDataset> load_cifar10_dir(const std::string& dir, const std::string& split) {
    auto ds = make_cifar10_dataset(split);
    for (const auto& f : cifar10_batch_files(dir, split)) append_cifar10_batch(f, *ds);
    return ds;
}

}  // namespace dlbhc
