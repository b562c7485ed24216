// io/crc32.cpp -- slicing-by-8 CRC-32 (see crc32.h).
//
// T[0] is the classic byte-at-a-time table; T[k][b] is the CRC register after feeding byte b
// followed by k zero bytes, so eight table look-ups advance the register by eight bytes.
#include "io/crc32.h"

#include <cstring>

namespace dlbhc {

namespace {

struct Tables {
    uint32_t t[8][256];
    Tables() {
        for (uint32_t b = 0; b < 256; ++b) {
            uint32_t c = b;
            for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[0][b] = c;
        }
        for (int k = 1; k < 8; ++k)
            for (uint32_t b = 0; b < 256; ++b) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xFF];
    }
};

const Tables& tables() {
    static const Tables tab;  // thread-safe initialisation (C++11 magic statics)
    return tab;
}

}  // namespace

uint32_t crc32(const void* data, size_t n, uint32_t crc) {
    const auto& t = tables().t;
    const unsigned char* p = static_cast<const unsigned char*>(data);
    uint32_t c = ~crc;
    // The 8-byte step reads two little-endian words; on a big-endian host only the byte loop runs.
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    while (n >= 8) {
        uint32_t lo, hi;
        std::memcpy(&lo, p, 4);
        std::memcpy(&hi, p + 4, 4);
        lo ^= c;
        c = t[7][lo & 0xFF] ^ t[6][(lo >> 8) & 0xFF] ^ t[5][(lo >> 16) & 0xFF] ^ t[4][lo >> 24] ^
            t[3][hi & 0xFF] ^ t[2][(hi >> 8) & 0xFF] ^ t[1][(hi >> 16) & 0xFF] ^ t[0][hi >> 24];
        p += 8;
        n -= 8;
    }
#endif
    while (n--) c = t[0][(c ^ *p++) & 0xFF] ^ (c >> 8);
    return ~c;
}

}  // namespace dlbhc
