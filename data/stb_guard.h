// data/stb_guard.h -- checks run on image bytes before stb_image sees them.
//
// stb_image has a history of memory bugs on crafted files; the product links Debian's copy
// (libstb-dev), which it cannot patch, so the two problems tests/fuzz found in it are refused
// here, before stb parses anything (tests/fuzz/regress/image/ holds the inputs):
//
// 1. JPEG Huffman tables. stb_image 2.27 (Debian's libstb-dev 0.0~git20220908) trusts the code counts of a Huffman table
// (DHT segment): sixteen counts whose sum n may reach 16 * 255 = 4080, while the tables it fills
// hold 256 symbols (+1). A crafted file with n > 256 makes stbi__build_huffman and the symbol loop
// write past those arrays (found by tests/fuzz, input tests/fuzz/regress/image/; stb 2.28 added
// the same bound). The JPEG standard allows at most 256 symbols per table, so such a file is
// invalid anyway and is refused before stb parses it.
//
// Where stb could parse a DHT: before the first scan (SOS) the segments are walked exactly as stb
// walks them (fill bytes, length-prefixed segments), and the bodies of APPn/COM segments, which
// stb skips unread, are left out; from the first scan on, stb resynchronises on markers in ways
// that depend on how far entropy decoding got, so every FF C4 byte pair there is checked as if it
// were a DHT marker. In a valid file FF C4 occurs after SOS only as a real marker (entropy-coded
// data stuffs every FF with 00), so this conservative rule refuses no valid file.
// 2. PNG chunk lengths. stb allocates the buffer for IDAT chunks from their declared length before
// reading them, so a 60-byte file declaring a 1.2 GB chunk allocates 1.2 GB. Every chunk up to
// IEND must fit in the data (length + type + data + CRC); stb walks the chunks in the same order
// without resynchronising, so the check is exact.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace dlbhc {

// True when data starts with the JPEG SOI marker as stb reads it: FF, any FF fill bytes, D8.
bool looks_like_jpeg(const uint8_t* data, size_t n);

// For JPEG data: false (with the reason and byte offset in `why`) when a Huffman table stb could
// parse declares more than 256 codes. True for anything else, including non-JPEG data.
bool jpeg_tables_safe(const uint8_t* data, size_t n, std::string& why);

// For PNG data: false (with the chunk, its byte offset and the sizes in `why`) when a chunk
// before IEND declares more bytes than remain. True for anything else, including non-PNG data.
bool png_chunks_fit(const uint8_t* data, size_t n, std::string& why);

// Both checks: what decode_image runs before stb.
bool stb_input_safe(const uint8_t* data, size_t n, std::string& why);

// For JPEG data: the offset just past the frame header (SOF0/1/2 segment), walking segments as
// stb does: the bytes stbi_info needs. 0 when no SOF is found within [data, data + n).
size_t jpeg_header_bytes(const uint8_t* data, size_t n);

}  // namespace dlbhc
