// data/gzip.h -- reading gzip files (RFC 1952) without zlib.
//
// A gzip member is: a 10-byte header (1f 8b, CM = 8 deflate, FLG, MTIME, XFL, OS), then the
// optional fields FLG asks for, in this order: FEXTRA (2-byte little-endian length + bytes),
// FNAME and FCOMMENT (zero-terminated strings), FHCRC (the low 16 bits of the CRC-32 of every
// header byte before it); then the raw deflate stream (RFC 1951); then an 8-byte trailer: CRC-32
// of the uncompressed data and ISIZE, its length mod 2^32, both little-endian.
//
// The deflate stream is inflated by stb_image's zlib decoder (stbi_zlib_decode_noheader_buffer,
// compiled in data/stb_impl.cpp) into a buffer of exactly ISIZE bytes; ISIZE is first checked
// against the caller's limit and against what the compressed size can possibly produce
// (deflate expands at most 1032:1), so a forged trailer cannot make us allocate without bound.
// Then the output length must equal ISIZE and its CRC-32 must equal the trailer's.
//
// Limitation: one member per file (what gzip(1) writes). stb's decoder does not say where the
// deflate stream ended, so a second member appended after the first cannot be found; such a
// file fails the length/CRC check with an error that says so.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace dlbhc {

// The largest output gunzip() produces: stb's decoder counts in int.
constexpr uint64_t kMaxGunzipBytes = 0x7FFFFFFF;

// True when the data starts with the gzip magic bytes 1f 8b.
bool looks_like_gzip(const uint8_t* data, size_t n);

// Decompresses one gzip member held in memory. `name` (usually the file path) starts every error
// message; errors give the byte offset where the problem was found. Throws std::runtime_error for
// a wrong magic, an unknown method or reserved flag, a header running past the end, a bad header
// CRC, corrupt deflate data, an ISIZE above max_bytes (or above what the data could produce), and
// a length or CRC-32 that disagrees with the trailer.
std::vector<uint8_t> gunzip(const uint8_t* data, size_t n, const std::string& name,
                            uint64_t max_bytes = kMaxGunzipBytes);

// Reads a file that may be gzip-compressed: when its first bytes are the gzip magic it is
// decompressed, otherwise returned as is; a name ending in ".gz" without the magic is an error.
// `what` names the file's kind in error messages.
std::vector<uint8_t> read_maybe_gzip(const std::string& path, const std::string& what);

}  // namespace dlbhc
