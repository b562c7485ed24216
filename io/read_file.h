// io/read_file.h -- reading a whole (small or medium) file into memory, with a size limit.
//
// Every dataset reader starts here: the file is opened as an InputFile (io/file_io.h: never
// blocks on a FIFO, refuses anything but a regular file), its size is taken from the open file and
// checked against `max_bytes` before anything is allocated, so a wrong path (a device, a huge
// file) gives a clear error instead of an attempt to allocate or read without bound.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace dlbhc {

// 4 GiB: larger than any dataset file this project reads in one piece (MNIST images 47 MB,
// a CIFAR-10 batch 30 MB).
constexpr uint64_t kMaxReadFileBytes = 4ull << 30;

// Reads all bytes of `path`. `what` names the file's kind in error messages ("MNIST image file").
// Throws std::runtime_error "<what> '<path>': ..." when the file cannot be opened, is not a
// regular file ("expected a regular file, found a FIFO"), is larger than max_bytes, or a read fails.
std::vector<uint8_t> read_file_bytes(const std::string& path, const std::string& what,
                                     uint64_t max_bytes = kMaxReadFileBytes);

}  // namespace dlbhc
