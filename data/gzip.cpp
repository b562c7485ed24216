// data/gzip.cpp -- the gzip member parser around stb_image's inflate (see gzip.h).
#include "data/gzip.h"

#include <stb/stb_image.h>

#include <climits>
#include <stdexcept>

#include "io/crc32.h"
#include "io/xxhash64.h"  // kVerifyChecksums
#include "io/read_file.h"
#include "io/byte_order.h"

namespace dlbhc {

namespace {

// FLG bits, RFC 1952 section 2.3.1.
enum : uint8_t { kFText = 1, kFHcrc = 2, kFExtra = 4, kFName = 8, kFComment = 16, kFReserved = 0xE0 };
constexpr size_t kHeaderBytes = 10, kTrailerBytes = 8;
// Deflate's largest expansion: a 258-byte match coded in 2 bits (1 bit each for length and
// distance in a dynamic block) is 1032 output bytes per input byte.
constexpr uint64_t kMaxInflateRatio = 1032;

std::string hex8(unsigned v) {
    const char* d = "0123456789abcdef";
    return std::string("0x") + d[(v >> 4) & 15] + d[v & 15];
}

std::string hex32(uint32_t v) {
    const char* d = "0123456789abcdef";
    std::string s = "0x";
    for (int k = 28; k >= 0; k -= 4) s += d[(v >> k) & 15];
    return s;
}

[[noreturn]] void fail(const std::string& name, const std::string& msg) {
    throw std::runtime_error("gzip file '" + name + "': " + msg);
}

// Skips a zero-terminated string starting at pos; returns the offset after its terminator.
size_t skip_cstring(const uint8_t* data, size_t end, size_t pos, const std::string& name, const char* field) {
    for (size_t i = pos; i < end; ++i)
        if (data[i] == 0) return i + 1;
    fail(name, std::string("the ") + field + " field starting at byte " + std::to_string(pos) +
                   " has no terminating zero before the trailer (truncated file?)");
}

}  // namespace

bool looks_like_gzip(const uint8_t* data, size_t n) { return n >= 2 && data[0] == 0x1f && data[1] == 0x8b; }

std::vector<uint8_t> gunzip(const uint8_t* data, size_t n, const std::string& name, uint64_t max_bytes) {
    if (n < kHeaderBytes + kTrailerBytes)
        fail(name, "expected at least 18 bytes (10-byte header, 8-byte trailer), found " + std::to_string(n) +
                       " (truncated file?)");
    if (!looks_like_gzip(data, n))
        fail(name, "expected the magic bytes 0x1f 0x8b at byte 0, found " + hex8(data[0]) + " " + hex8(data[1]));
    if (data[2] != 8) fail(name, "expected compression method 8 (deflate) at byte 2, found " + std::to_string(data[2]));
    const uint8_t flg = data[3];
    if (flg & kFReserved) fail(name, "reserved flag bits set in FLG at byte 3: " + hex8(flg));

    // Optional header fields; `end` is where the trailer starts, so nothing of them may reach it.
    const size_t end = n - kTrailerBytes;
    size_t pos = kHeaderBytes;
    if (flg & kFExtra) {
        if (pos + 2 > end) fail(name, "the FEXTRA length at byte 10 runs into the trailer (truncated file?)");
        const size_t xlen = (size_t)data[pos] | (size_t)data[pos + 1] << 8;
        if (pos + 2 + xlen > end)
            fail(name, "the FEXTRA field at byte 10 claims " + std::to_string(xlen) + " bytes, but only " +
                           std::to_string(end - pos - 2) + " remain before the trailer");
        pos += 2 + xlen;
    }
    if (flg & kFName) pos = skip_cstring(data, end, pos, name, "FNAME");
    if (flg & kFComment) pos = skip_cstring(data, end, pos, name, "FCOMMENT");
    if (flg & kFHcrc) {
        if (pos + 2 > end) fail(name, "the FHCRC field at byte " + std::to_string(pos) + " runs into the trailer");
        const uint32_t want = (uint32_t)data[pos] | (uint32_t)data[pos + 1] << 8;
        const uint32_t got = crc32(data, pos) & 0xFFFF;
        if (want != got && kVerifyChecksums)
            fail(name, "header CRC mismatch at byte " + std::to_string(pos) + ": the file says " + hex32(want) +
                           ", the header bytes give " + hex32(got));
        pos += 2;
    }

    const uint8_t* deflate = data + pos;
    const size_t deflate_bytes = end - pos;
    const uint32_t want_crc = load_le32(data + end), isize = load_le32(data + end + 4);
    const uint64_t limit = max_bytes < kMaxGunzipBytes ? max_bytes : kMaxGunzipBytes;
    if (isize > limit)
        fail(name, "the trailer (byte " + std::to_string(end + 4) + ") says the data is " + std::to_string(isize) +
                       " bytes uncompressed, more than the limit of " + std::to_string(limit));
    if (isize > kMaxInflateRatio * deflate_bytes + kMaxInflateRatio)
        fail(name, "the trailer (byte " + std::to_string(end + 4) + ") says the data is " + std::to_string(isize) +
                       " bytes uncompressed, which " + std::to_string(deflate_bytes) +
                       " bytes of deflate data cannot produce (damaged or truncated file?)");
    if (deflate_bytes > (size_t)INT_MAX - kTrailerBytes) fail(name, "more than 2 GiB of compressed data is not supported");

    // The decoder gets exactly ISIZE bytes of room, so a stream longer than ISIZE fails inside it
    // ("output buffer limit") instead of being cut short silently. The spare byte only keeps the
    // pointer valid when ISIZE is 0.
    std::vector<uint8_t> out((size_t)isize + 1);
    // The decoder is also given the 8 trailer bytes: this stb version refuses to decode a Huffman
    // code when fewer than 16 bits are buffered and its input has ended, even if the code is
    // shorter, so a stream ending exactly at the end of its input can fail ("bad huffman code").
    // In a PNG the zlib checksum follows the stream; here the trailer plays that role. The
    // decoder stops at the final block, so the extra bytes are never taken as data.
    const int got = stbi_zlib_decode_noheader_buffer(reinterpret_cast<char*>(out.data()), (int)isize,
                                                     reinterpret_cast<const char*>(deflate),
                                                     (int)(deflate_bytes + kTrailerBytes));
    if (got < 0) {
        const char* why = stbi_failure_reason();
        fail(name, "the deflate data starting at byte " + std::to_string(pos) + " is corrupt or decompresses to more than " +
                       "the trailer's ISIZE of " + std::to_string(isize) + " bytes (decoder: " +
                       (why ? why : "no reason given") + ")");
    }
    if ((uint32_t)got != isize)
        fail(name, "decompressed to " + std::to_string(got) + " bytes, but the trailer's ISIZE says " +
                       std::to_string(isize) + " (truncated file, or several gzip members, which are not supported)");
    out.resize(isize);
    const uint32_t crc = crc32(out.data(), out.size());
    if (crc != want_crc && kVerifyChecksums)
        fail(name, "CRC-32 mismatch: the trailer (byte " + std::to_string(end) + ") says " + hex32(want_crc) +
                       ", the decompressed data gives " + hex32(crc) + " (corrupt file)");
    return out;
}

std::vector<uint8_t> read_maybe_gzip(const std::string& path, const std::string& what) {
    std::vector<uint8_t> raw = read_file_bytes(path, what);
    if (looks_like_gzip(raw.data(), raw.size())) return gunzip(raw.data(), raw.size(), path);
    const bool gz_name = path.size() >= 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
    if (gz_name)
        throw std::runtime_error(what + " '" + path + "': the name ends in .gz but the file does not start with the " +
                                 "gzip magic bytes 0x1f 0x8b");
    return raw;
}

}  // namespace dlbhc
