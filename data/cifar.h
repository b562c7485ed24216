// data/cifar.h -- CIFAR-10 in its binary distribution ("CIFAR-10 binary version").
//
// A batch file is 10000 records (any whole number is accepted) of 3073 bytes: one label byte
// (0..9), then 3072 pixel bytes: the red plane, the green plane, the blue plane, each 32 x 32
// row-major. Images are stored here as B, G, R planes (data/image.h), as Caffe does. The training
// set is data_batch_1.bin .. data_batch_5.bin (50000 images), the test set test_batch.bin (10000).
// Class names are in batches.meta.txt (airplane, automobile, bird, cat, deer, dog, frog, horse,
// ship, truck), not read here.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace dlbhc {

constexpr int kCifarSide = 32, kCifarClasses = 10;
constexpr size_t kCifarRecordBytes = 1 + 3 * 32 * 32;

// Appends the records of one batch file to `ds` (a (3, 32, 32) dataset with 10 classes, e.g. from
// make_cifar10_dataset). Throws std::runtime_error naming the file when its size is not a
// positive multiple of 3073 or a label byte is above 9 (with the record number and byte offset).
void append_cifar10_batch(const std::string& path, MemoryDataset& ds);
// The same for a batch file's `size` bytes already in memory; `path` names it in error messages.
void append_cifar10_bytes(const uint8_t* data, size_t size, const std::string& path, MemoryDataset& ds);

// An empty (3, 32, 32) dataset with 10 classes whose items are named "<split>[i]".
std::unique_ptr<MemoryDataset> make_cifar10_dataset(const std::string& split);

// The batch files of a split in `dir`: "train" -> data_batch_1.bin .. data_batch_5.bin,
// "test" -> test_batch.bin. Throws std::invalid_argument for another split.
std::vector<std::string> cifar10_batch_files(const std::string& dir, const std::string& split);

// Loads a split from the folder holding the batch files (the "cifar-10-batches-bin" folder).
std::unique_ptr<MemoryDataset> load_cifar10_dir(const std::string& dir, const std::string& split);

}  // namespace dlbhc
