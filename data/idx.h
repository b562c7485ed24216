// data/idx.h -- the IDX file format of MNIST and Fashion-MNIST, and the MNIST dataset readers.
//
// IDX (LeCun's format): bytes 0-1 zero, byte 2 the element type (0x08 unsigned byte; the only
// type read here), byte 3 the number of dimensions D, then D big-endian uint32 sizes, then the
// elements in row-major order. MNIST images are an idx3 file (N, rows, cols) of bytes (0 is
// background, 255 ink), labels an idx1 file (N) of bytes 0..9. Files may be gzip-compressed
// (data/gzip.h). The element count the header claims must equal the bytes that follow it
// exactly; it is checked (with overflow-safe arithmetic) before anything is allocated for it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace dlbhc {

struct IdxArray {
    std::vector<uint32_t> dims;  // D sizes, outermost first
    std::vector<uint8_t> bytes;  // the whole (decompressed) file
    size_t offset = 0;           // where the elements start: 4 + 4 * D
    const uint8_t* data() const { return bytes.data() + offset; }
    size_t count() const { return bytes.size() - offset; }
};

// Parses an IDX file of unsigned bytes (takes ownership of `bytes`). `name` starts error messages.
// Throws std::runtime_error for a short header, a wrong magic or element type, D outside 1..4,
// a zero dimension, or dimensions whose product disagrees with the bytes after the header.
IdxArray parse_idx_u8(std::vector<uint8_t> bytes, const std::string& name);

// Reads and parses a plain or gzip-compressed IDX file.
IdxArray read_idx_u8(const std::string& path);

// MNIST-format images (idx3) and labels (idx1) as a 1-channel dataset of rows x cols images,
// items named "<split>[i]". The two counts must agree. num_classes = max label + 1.
std::unique_ptr<MemoryDataset> load_mnist(const std::string& images_path, const std::string& labels_path,
                                          const std::string& split = "train");

// The names an MNIST file of `kind` ("images": idx3, "labels": idx1) of `split` may have in `dir`,
// in the order they are tried: "<split>-<kind>-idx<D>-ubyte", "<split>-<kind>.idx<D>-ubyte", each
// plain then with ".gz". split is "train" or "t10k" ("test" is read as "t10k").
std::vector<std::string> mnist_file_names(const std::string& dir, const std::string& split, const std::string& kind);
// The first of those that is a regular file: the file load_mnist_dir reads; "" when none is.
std::string find_mnist_file(const std::string& dir, const std::string& split, const std::string& kind);

// Finds "<split>-images-idx3-ubyte" and "<split>-labels-idx1-ubyte" in `dir` (also the variant
// "<split>-images.idx3-ubyte", each plain or with ".gz") and loads them. split is "train" or
// "t10k" ("test" is accepted for "t10k"). Throws std::runtime_error listing the names tried when a
// file is missing.
std::unique_ptr<MemoryDataset> load_mnist_dir(const std::string& dir, const std::string& split);
// load_mnist_dir as a dataset that reads each image from a plain (not gzip) images file when it
// is taken, holding only the labels: memory of one byte per item, so that indexing a large
// dataset does not hold its pixels; the same items, names, labels and errors. A .gz file is
// loaded whole (load_mnist_dir). What `--data DIR/SPLIT` opens (data/source.h).
std::unique_ptr<Dataset> open_mnist_dir(const std::string& dir, const std::string& split);

}  // namespace dlbhc
