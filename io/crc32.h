// io/crc32.h -- CRC-32 as used by gzip (RFC 1952 section 8), PNG and zlib.
//
// Polynomial 0x04C11DB7 in its reflected form 0xEDB88320, initial value and final XOR
// 0xFFFFFFFF. Known answer: crc32("123456789") = 0xCBF43926. Computed eight bytes at a time
// ("slicing-by-8") so checking a 47 MB MNIST image file costs tens of milliseconds.
#pragma once
#include <cstddef>
#include <cstdint>

namespace dlbhc {

// CRC-32 of n bytes at p. To checksum data in pieces, pass the previous result as `crc`
// (start with 0): crc32(b, nb, crc32(a, na)) == crc32 of a followed by b.
uint32_t crc32(const void* p, size_t n, uint32_t crc = 0);

}  // namespace dlbhc
