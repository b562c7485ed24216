// data/stb_guard.cpp -- the checks before stb_image (see stb_guard.h).
#include "data/stb_guard.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace dlbhc {

namespace {

// stb reads 0 past the end of its buffer; so do we, so that we simulate what it would do.
uint8_t at(const uint8_t* p, size_t n, size_t i) { return i < n ? p[i] : 0; }
size_t be16(const uint8_t* p, size_t n, size_t i) { return (size_t)at(p, n, i) << 8 | at(p, n, i + 1); }

bool is_app_or_com(uint8_t m) { return (m >= 0xE0 && m <= 0xEF) || m == 0xFE; }
bool is_sof(uint8_t m) { return m == 0xC0 || m == 0xC1 || m == 0xC2; }  // the frames stb decodes

// Walks the segments before the first scan as stbi__decode_jpeg_header / stbi__get_marker do.
// Calls seg(marker, offset of the length field, length) for each length-prefixed segment; stops
// at SOS (returning its offset), at the end of the data, or when seg returns false.
// Where SOI ends, 0 when there is none. stb reads the first marker as any other: one FF, any
// number of FF fill bytes, then D8 (found by fuzzing: "FF FF D8" is a JPEG to stb).
size_t soi_end(const uint8_t* p, size_t n) {
    if (n < 2 || p[0] != 0xFF) return 0;
    size_t pos = 1;
    while (pos < n && p[pos] == 0xFF) ++pos;
    return pos < n && p[pos] == 0xD8 ? pos + 1 : 0;
}

template <class F>
size_t walk_header(const uint8_t* p, size_t n, F&& seg) {
    size_t pos = soi_end(p, n);
    while (pos < n) {
        if (p[pos++] != 0xFF) continue;               // junk between segments: stb scans on
        while (pos < n && p[pos] == 0xFF) ++pos;      // fill bytes
        if (pos >= n) break;
        const uint8_t m = p[pos++];
        if (m == 0xDA) return pos - 2;                // SOS: entropy-coded data follows
        if (m == 0xD8 || m == 0xD9 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) continue;  // no length
        const size_t len = be16(p, n, pos);
        if (!seg(m, pos, len)) break;
        if (len < 2) break;                           // stb refuses the file here
        pos += len;
    }
    return n;
}

}  // namespace

bool looks_like_jpeg(const uint8_t* data, size_t n) { return soi_end(data, n) != 0; }

bool jpeg_tables_safe(const uint8_t* p, size_t n, std::string& why) {
    if (!looks_like_jpeg(p, n)) return true;
    // Bodies stb skips unread (APPn, COM) before the first scan.
    std::vector<std::pair<size_t, size_t>> skipped;
    size_t next_skip = 0;
    walk_header(p, n, [&](uint8_t m, size_t at_len, size_t len) {
        if (is_app_or_com(m) && len >= 2) skipped.push_back({at_len + 2, at_len + len});
        return true;
    });
    for (size_t i = 0; i + 1 < n; ++i) {
        while (next_skip < skipped.size() && skipped[next_skip].second <= i) ++next_skip;
        if (next_skip < skipped.size() && i >= skipped[next_skip].first) {
            i = skipped[next_skip].second - 1;  // jump over the body (loop adds 1)
            continue;
        }
        if (p[i] != 0xFF || p[i + 1] != 0xC4) continue;
        // Simulate stb's DHT loop from here: L = length - 2; per table: class/id byte, 16 counts,
        // then the symbols; stb stops on a bad class/id (an error, no write).
        long L = (long)be16(p, n, i + 2) - 2;
        size_t pos = i + 4;
        while (L > 0) {
            const uint8_t q = at(p, n, pos);
            if ((q >> 4) > 1 || (q & 15) > 3) break;
            size_t codes = 0;
            for (int k = 0; k < 16; ++k) codes += at(p, n, pos + 1 + k);
            if (codes > 256) {
                why = "Huffman table (DHT segment at byte " + std::to_string(i) + ") declares " + std::to_string(codes) +
                      " codes, the JPEG limit is 256 (corrupt or crafted file)";
                return false;
            }
            pos += 17 + codes;
            L -= 17 + (long)codes;
        }
    }
    return true;
}

bool png_chunks_fit(const uint8_t* p, size_t n, std::string& why) {
    static const uint8_t kSig[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
    if (n < 8 || !std::equal(kSig, kSig + 8, p)) return true;
    size_t pos = 8;
    while (pos + 8 <= n) {
        const uint64_t len = (uint64_t)p[pos] << 24 | (uint64_t)p[pos + 1] << 16 | (uint64_t)p[pos + 2] << 8 | p[pos + 3];
        const std::string type(reinterpret_cast<const char*>(p) + pos + 4, 4);
        const uint64_t left = n - pos - 8;  // after the length and type
        if (len + 4 > left) {
            std::string shown;
            for (char c : type) shown += (c >= 32 && c < 127) ? c : '?';
            why = "PNG chunk '" + shown + "' at byte " + std::to_string(pos) + " declares " + std::to_string(len) +
                  " data bytes, but only " + std::to_string(left < 4 ? 0 : left - 4) +
                  " remain before its CRC (truncated or crafted file)";
            return false;
        }
        if (type == "IEND") break;
        pos += 8 + (size_t)len + 4;
    }
    return true;
}

bool stb_input_safe(const uint8_t* data, size_t n, std::string& why) {
    return jpeg_tables_safe(data, n, why) && png_chunks_fit(data, n, why);
}

size_t jpeg_header_bytes(const uint8_t* p, size_t n) {
    if (!looks_like_jpeg(p, n)) return 0;
    size_t end = 0;
    walk_header(p, n, [&](uint8_t m, size_t at_len, size_t len) {
        if (is_sof(m)) {
            end = at_len + len;
            return false;
        }
        return true;
    });
    return end <= n ? end : 0;
}

}  // namespace dlbhc
