// search/faiss_export.h -- dlbhc codes in the layouts other engines read: bytes packed the FAISS
// way, and a FAISS IndexBinaryFlat file (`dlbhc export`). FAISS is never linked: the file is
// written byte by byte after FAISS's serialisation (faiss/impl/index_write.cpp,
// write_index_binary for IndexBinaryFlat):
//
//   offset  size  field
//        0     4  fourcc "IBxF" (ASCII)
//        4     4  d, int32: bits per code, a multiple of 8
//        8     4  code_size, int32: bytes per code = d / 8
//       12     8  ntotal, int64: number of codes
//       20     1  is_trained, bool = 1
//       21     4  metric_type, int32 = 1 (METRIC_L2, the value IndexBinary carries; the binary
//                 indexes always use the Hamming distance)
//       25     8  size of the code vector in bytes, uint64 = ntotal * code_size
//       33     .  the codes, code_size bytes each, item order
//
// all little-endian (FAISS writes its native byte order; x86-64 and aarch64 are little-endian).
//
// Packing: bit j of a B-bit code goes to byte j / 8, bit j % 8 (least-significant first, as
// FAISS's own binary codes and numpy's packbits(bitorder='little')); a code takes ceil(B / 8)
// bytes. dlbhc stores bit j in bit j % 64 of 64-bit word j / 64 (hash/code.h), so the packed
// bytes are the little-endian bytes of the words, cut after ceil(B / 8) bytes. When B is not a
// multiple of 8 the last byte's high bits are zero (dlbhc keeps unused bits zero), which leaves
// every Hamming distance unchanged: FAISS sees codes of d = 8 * ceil(B / 8) bits.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "hash/code.h"

namespace dlbhc {

constexpr size_t kFaissBinaryFlatHeaderBytes = 33;

// Bytes per packed code: ceil(bits / 8).
inline size_t packed_code_bytes(int bits) { return size_t(bits + 7) / 8; }

// Packs code i of `codes` into out[0 .. packed_code_bytes(codes.bits)) (see the file comment).
void pack_code(const CodeView& codes, size_t i, uint8_t* out);

// The 33-byte IndexBinaryFlat header for n codes of `bits` bits (d rounded up to a multiple of 8).
std::string faiss_binary_flat_header(int bits, uint64_t n);

// Writes `codes` as a FAISS IndexBinaryFlat file at `path`, atomically (io/file_io.h); the codes
// are streamed, one at a time, so the file may exceed memory.
void write_faiss_binary_flat(const std::string& path, const CodeView& codes);

}  // namespace dlbhc
