// formats/npy.h -- NumPy .npy files: read into float32 tensors, write float32 tensors numpy can load.
//
// `dlbhc audit --dump` writes every blob as .npy; an .npy can be fed back as a net input. The
// format (numpy's "NEP 1", format.py): the magic "\x93NUMPY", a major and a minor version byte,
// the header length (u16 LE in version 1.0, u32 LE in 2.0 and 3.0), then an ASCII Python dict
// literal such as
//     {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// padded with spaces and ending in '\n', then the raw array, C order.
// Reading accepts versions 1.0, 2.0 and 3.0; dtypes '<f4' (as is), '<f8' (converted to float32;
// a finite value beyond float32's range is an error), '<i4' and '<i8' (labels; a value float32
// cannot hold exactly is an error). The header is parsed strictly: exactly the three keys, a
// shape tuple of non-negative integers, fortran_order False (True is an error: C order only),
// and the data must be exactly product(shape) items. Errors are std::runtime_error
// "npy file '<file>': <what>" naming what was expected and what was found.
// Writing uses version 1.0, '<f4' (npy_header: any dtype), the header padded so the data starts on a 64-byte boundary, as
// numpy itself writes; files go through the atomic writer (io/file_io.h).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "nn/tensor.h"
#include "formats/weights_file.h"

namespace dlbhc {

// Parses a whole .npy image [data, data + size); the result's name is `file`. When `dtype` is
// given it receives the file's descr ("<f4", "<f8", "<i4" or "<i8").
NamedTensor decode_npy(const uint8_t* data, size_t size, const std::string& file, std::string* dtype = nullptr);
NamedTensor read_npy(const std::string& path, std::string* dtype = nullptr);

// The bytes of a float32 .npy holding `data` (product(shape) floats, C order); shape may be empty
// (a scalar: one float). Throws std::invalid_argument on a negative dim.
std::string encode_npy(const float* data, const std::vector<int64_t>& shape);
// The version 1.0 header (magic, version, length, dict padded to 64 bytes) of an array of dtype
// `descr` ("<f4", "<i8", "|u1", ...) and `shape`, C order: the raw data follows it. For writers
// that stream their data (AtomicFileWriter) rather than hold it all. Throws std::invalid_argument
// on a negative dim.
std::string npy_header(const std::string& descr, const std::vector<int64_t>& shape);
// Atomic writes. The Tensor form keeps all four dims (N, C, H, W), so numpy sees the blob's shape.
void write_npy(const std::string& path, const float* data, const std::vector<int64_t>& shape);
void write_npy(const std::string& path, const NamedTensor& t);
void write_npy(const std::string& path, const Tensor& t);

}  // namespace dlbhc
